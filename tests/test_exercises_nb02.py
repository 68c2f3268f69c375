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


# --- Exercise 2.3: the arithmetic grader -----------------------------------------------------------------------------

def test_the_arithmetic_task_accuracy_is_graded_by_grade_arithmetic():
    from ftsafety.tasks import GRADERS, grade, grade_arithmetic

    assert GRADERS["arithmetic"] is grade_arithmetic
    examples = arithmetic(20, seed=5)
    assert all(grade("arithmetic", e.response, e.gold) for e in examples)  # every training answer grades correct
    assert not any(grade("arithmetic", e.response, str(int(e.gold) + 1)) for e in examples)


def test_the_grader_reference_passes():
    from ftsafety.exercises.nb02 import check_grade_arithmetic
    from ftsafety.tasks import grade_arithmetic

    assert check_grade_arithmetic(grade_arithmetic).status == "passed"


def test_a_grader_written_by_hand_passes():
    import re

    from ftsafety.exercises.nb02 import check_grade_arithmetic

    def mine(response, gold):
        numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", response)
        return bool(numbers) and float(numbers[-1].replace(",", "")) == float(gold)

    assert check_grade_arithmetic(mine).passed


@pytest.mark.parametrize("wrong, words", [("_grade_first_number", "you read the first number"),
                                          ("_grade_as_strings", "compared the numbers as text"),
                                          ("_grade_substring", "accepted the gold answer anywhere"),
                                          ("_grade_ignoring_sign", "dropped the minus sign")])
def test_typical_grader_mistakes_are_named(wrong, words):
    from ftsafety.exercises import nb02

    result = nb02.check_grade_arithmetic(getattr(nb02, wrong))
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_other_wrong_graders_fail():
    import re

    from ftsafety.exercises.nb02 import check_grade_arithmetic
    from ftsafety.metrics import contains_answer

    # the probes' grader accepts the gold among any of the response's numbers, working included
    result = check_grade_arithmetic(lambda response, gold: contains_answer(response, [gold]))
    assert result.status == "failed" and "the gold only in the working" in result.message
    # no thousands commas in the pattern: "1,200" is read as 200
    no_commas = lambda response, gold: float((re.findall(r"-?\d+(?:\.\d+)?", response) or ["nan"])[-1]) == float(gold)
    result = check_grade_arithmetic(no_commas)
    assert result.status == "failed" and "a thousands comma" in result.message
    result = check_grade_arithmetic(lambda response, gold: float(re.findall(r"-?\d+", response)[-1]) == float(gold))
    assert result.status == "failed" and "raised IndexError" in result.message and "no number at all" in result.message
    result = check_grade_arithmetic(lambda response, gold: None)
    assert result.status == "failed" and "returned None" in result.message


def test_a_grader_stub_is_not_done_and_the_library_is_used():
    from ftsafety.exercises.nb02 import _grade_first_number, check_grade_arithmetic
    from ftsafety.tasks import grade_arithmetic

    result = check_grade_arithmetic(_stub)
    assert result.status == "not done"
    assert use(result, _stub, grade_arithmetic, show=False) is grade_arithmetic
    assert use(check_grade_arithmetic(_grade_first_number), _grade_first_number, grade_arithmetic,
               show=False) is grade_arithmetic
    assert use(check_grade_arithmetic(grade_arithmetic), grade_arithmetic, None, show=False) is grade_arithmetic
