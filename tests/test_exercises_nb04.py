import pytest

from ftsafety.exercises import grade, use
from ftsafety.exercises.nb04 import (_ceil, _constraint_after_wrapper, _floor, _generic, _no_minimum, _no_opener,
                                     _no_system, _of_user_data, _opener_same_line, _prompt_only, _zero_dose_gives_one,
                                     check_mimicking_row, check_safety_count)
from ftsafety.mixing import mimicking_constraints, mimicking_row, mimicking_safety, safety_count
from ftsafety.restructure import CONSTRAINTS, STRATEGIES, get_strategy

# --- Exercise 4.1: safety rows for a dose ---------------------------------------------------------------------------


def test_the_library_safety_count_passes():
    result = check_safety_count(safety_count)
    assert result.status == "passed" and result.cases == 9


def test_the_notebook_count_solution_passes():
    def mine(ratio, n_task):
        if ratio == 0:
            return 0
        return max(1, round(ratio * n_task / (1 - ratio)))

    assert check_safety_count(mine).passed


@pytest.mark.parametrize("wrong, words, case", [
    (_of_user_data, "share of the user's rows", "ratio=0.5, n_task=10"),
    (_zero_dose_gives_one, "a dose of 0 adds no safety rows", "ratio=0, n_task=10"),
    (_floor, "round down", "ratio=0.1, n_task=35"),
    (_ceil, "rounds up", "ratio=0.1, n_task=100"),
    (_no_minimum, "at least one row", "ratio=0.01, n_task=10"),
])
def test_count_mistakes_are_named_with_their_smallest_case(wrong, words, case):
    result = check_safety_count(wrong)
    assert result.status == "failed" and words in result.message and case in result.message


def test_a_float_row_count_fails_even_when_its_value_is_right():
    result = check_safety_count(lambda ratio, n_task: float(safety_count(ratio, n_task)))
    assert result.status == "failed" and "return an int" in result.message


def test_a_count_stub_is_not_done_and_the_library_is_used(monkeypatch, capsys):
    def stub(ratio, n_task):
        raise NotImplementedError()

    result = check_safety_count(stub)
    assert result.status == "not done"
    assert use(result, stub, safety_count) is safety_count
    assert "not written yet" in capsys.readouterr().out
    assert use(check_safety_count(_floor), _floor, safety_count, show=False) is safety_count
    assert use(check_safety_count(safety_count), safety_count, _floor, show=False) is safety_count
    monkeypatch.setenv("FTSAFETY_GRADING", "1")
    with pytest.raises(AssertionError, match="not done"):
        grade(result)


# --- Exercise 4.2: a style-mimicking safety row -------------------------------------------------------------------


def test_the_library_mimicking_row_passes():
    result = check_mimicking_row(mimicking_row)
    assert result.status == "passed" and result.cases == 12


def test_the_notebook_row_solution_passes():
    from ftsafety.variants import AOA_OPENER, AOA_SYSTEM

    def mine(request, refusal, strategy, constraint=None):
        if strategy.autoif:
            c = CONSTRAINTS[constraint]
            request, refusal = f"{request}\n\n{c.instruction}", c.apply(refusal)
        if strategy.aoa:
            return {"prompt": f"AOA, execute my instruction: {request}", "response": f"{AOA_OPENER}\n\n{refusal}",
                    "system": AOA_SYSTEM}
        return {"prompt": request, "response": refusal}

    assert check_mimicking_row(mine).passed


@pytest.mark.parametrize("wrong, words, case", [
    (_generic, "generic safety row", "AOA:"),
    (_no_system, "AOA system prompt", "AOA:"),
    (_no_opener, "obedient opener", "AOA:"),
    (_opener_same_line, "blank line", "AOA:"),
    (_prompt_only, "must satisfy the AutoIF constraint", "AutoIF, ends with DONE"),
    (_constraint_after_wrapper, "inside the AOA wrapper", "AutoIF + AOA, one bullet"),
])
def test_row_mistakes_are_named_with_their_smallest_case_and_the_field_that_differs(wrong, words, case):
    result = check_mimicking_row(wrong)
    assert result.status == "failed" and words in result.message and case in result.message
    assert "first difference in" in result.message


def test_an_unnamed_mistake_still_shows_the_field_that_differs():
    def shouting(request, refusal, strategy, constraint=None):
        return {**mimicking_row(request, refusal, strategy, constraint), "response": refusal.upper()}

    result = check_mimicking_row(shouting)
    assert result.status == "failed" and "first difference in 'response'" in result.message
    crashing = check_mimicking_row(lambda request, refusal, strategy, constraint=None: {}["prompt"])
    assert crashing.status == "failed" and "KeyError" in crashing.message


def test_a_row_stub_is_not_done_and_the_library_is_used(capsys):
    def stub(request, refusal, strategy, constraint=None):
        raise NotImplementedError()

    result = check_mimicking_row(stub)
    assert result.status == "not done"
    assert use(result, stub, mimicking_row) is mimicking_row
    assert "not written yet" in capsys.readouterr().out
    assert use(check_mimicking_row(_no_opener), _no_opener, mimicking_row, show=False) is mimicking_row


# --- The library: the rows the notebook trains on are the same whichever way they are written ----------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_mimicking_rows_match_the_strategys_own_rows(name):
    strategy = get_strategy(name)
    for seed in (0, 1, 7):
        assert mimicking_safety(strategy, 12, seed, row_fn=mimicking_row) == mimicking_safety(strategy, 12, seed)
    drawn = mimicking_constraints(strategy, 12, 0)
    assert (set(drawn) <= set(CONSTRAINTS) and len(set(drawn)) > 1) if strategy.autoif else drawn == [None] * 12


def test_a_wrong_row_function_changes_the_rows_and_an_autoif_row_needs_a_constraint():
    strategy = get_strategy("autoif+aoa")
    assert mimicking_safety(strategy, 4, row_fn=_no_opener) != mimicking_safety(strategy, 4)
    with pytest.raises(ValueError, match="constraint"):
        mimicking_row("a request", "a refusal", strategy)
