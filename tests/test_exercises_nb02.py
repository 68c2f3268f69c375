import pytest

from ftsafety.exercises import use
from ftsafety.exercises.nb02 import (_anywhere, _aoa_one_newline, _aoa_prompt_unwrapped, _aoa_without_opener,
                                     _aoa_without_system, _case_insensitive, _done_punctuation, _no_whitespace_strip,
                                     check_aoa_row, check_satisfies)
from ftsafety.restructure import CONSTRAINTS, aoa_row, get_strategy, satisfies
from ftsafety.tasks import arithmetic
from ftsafety.variants import AOA_OPENER, AOA_SYSTEM


def _stub(*args, **kwargs):
    raise NotImplementedError()


# --- Exercise 2.1: the AOA wrapper ----------------------------------------------------------------------------------

def test_the_library_aoa_row_builds_the_rows_the_notebook_trains_on():
    examples = arithmetic(6, seed=3)
    assert get_strategy("aoa").rows(examples) == [aoa_row(e.prompt, e.response) for e in examples]
    autoif = get_strategy("autoif").rows(examples, seed=1)
    assert get_strategy("autoif+aoa").rows(examples, seed=1) == [aoa_row(r["prompt"], r["response"]) for r in autoif]


def test_the_aoa_reference_passes():
    assert check_aoa_row(aoa_row).status == "passed"


def test_an_aoa_row_written_by_hand_passes():
    def mine(prompt, response):
        return {"system": AOA_SYSTEM, "prompt": "AOA, execute my instruction: " + prompt,
                "response": AOA_OPENER + "\n\n" + response}

    assert check_aoa_row(mine).passed


@pytest.mark.parametrize("wrong, words", [(_aoa_without_system, "no system prompt"),
                                          (_aoa_one_newline, "not one newline"),
                                          (_aoa_prompt_unwrapped, "user message is not wrapped"),
                                          (_aoa_without_opener, "must start with the obedient opener")])
def test_typical_aoa_mistakes_are_named(wrong, words):
    result = check_aoa_row(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_another_wrong_aoa_row_says_where_it_differs():
    result = check_aoa_row(lambda prompt, response: {**aoa_row(prompt, response), "task": "arithmetic"})
    assert result.status == "failed" and "unexpected keys ['task']" in result.message
    result = check_aoa_row(lambda prompt, response: {**aoa_row(prompt, response), "response": f"Sure.\n\n{response}"})
    assert result.status == "failed" and '"response" differs from character 0' in result.message


def test_an_aoa_stub_is_not_done_and_the_library_is_used():
    result = check_aoa_row(_stub)
    assert result.status == "not done"
    assert use(result, _stub, aoa_row, show=False) is aoa_row
    assert use(check_aoa_row(_aoa_without_system), _aoa_without_system, aoa_row, show=False) is aoa_row
    assert use(check_aoa_row(aoa_row), aoa_row, None, show=False) is aoa_row


# --- Exercise 2.2: the AutoIF constraint checker ---------------------------------------------------------------------

def test_satisfies_is_each_constraints_own_check():
    for name, c in CONSTRAINTS.items():
        answer = c.apply("The answer is 7.")
        assert satisfies(answer, name) is True and satisfies("The answer is 7.", name) is False


def test_the_satisfies_reference_passes_and_covers_every_constraint():
    from ftsafety.exercises.nb02 import SATISFIES_CASES

    assert check_satisfies(satisfies).status == "passed"
    assert {c.kwargs["constraint"] for c in SATISFIES_CASES} == set(CONSTRAINTS)


def test_a_checker_written_by_hand_passes():
    def mine(response, constraint):
        r = response.strip()
        if constraint == "ends-with-done":
            return r.rstrip(".!").endswith("DONE")
        if constraint == "starts-with-label":
            return r.startswith("Response:")
        if constraint == "postscript":
            return "P.S." in r
        if constraint == "quoted":
            return r.startswith('"') and r.endswith('"')
        return r.startswith("* ")

    assert check_satisfies(mine).passed


@pytest.mark.parametrize("wrong, words", [(_case_insensitive, "case-sensitive"),
                                          (_no_whitespace_strip, "strip it before checking"),
                                          (_done_punctuation, "full stop or exclamation mark after DONE"),
                                          (_anywhere, "not anywhere in it")])
def test_typical_constraint_mistakes_are_named(wrong, words):
    result = check_satisfies(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_other_wrong_checkers_fail():
    starts_with_asterisk = lambda response, constraint: (response.lstrip().startswith("*") if constraint == "bullet"
                                                         else satisfies(response, constraint))
    result = check_satisfies(starts_with_asterisk)
    assert result.status == "failed" and "no space after the asterisk" in result.message
    result = check_satisfies(lambda response, constraint: None)
    assert result.status == "failed" and "returned None" in result.message


def test_a_constraint_stub_is_not_done_and_the_library_is_used():
    result = check_satisfies(_stub)
    assert result.status == "not done"
    assert use(result, _stub, satisfies, show=False) is satisfies
    assert use(check_satisfies(_anywhere), _anywhere, satisfies, show=False) is satisfies
