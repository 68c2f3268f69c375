import os

import pytest

from ftsafety.exercises import Check, grade, use
from ftsafety.exercises.nb00 import (_wald, _wilson_4n, _wilson_no_denominator, _wilson_uncentred, check_refusal_detector,
                                     check_wilson)
from ftsafety.metrics import wilson


def test_the_library_wilson_passes():
    assert check_wilson(wilson).passed


@pytest.mark.parametrize("wrong, words", [(_wald, "Wald"), (_wilson_no_denominator, "divided by 1 + z²/n"),
                                          (_wilson_4n, "z²/(4n²), not z²/(4n)"), (_wilson_uncentred, "not on p")])
def test_typical_mistakes_are_named_with_the_smallest_case(wrong, words):
    result = check_wilson(wrong)
    assert result.status == "failed" and words in result.message and "k=0, n=10" in result.message


def test_a_stub_falls_back_to_the_library_and_grading_raises_only_under_the_autograder(monkeypatch, capsys):
    def stub(k, n, z=1.96):
        raise NotImplementedError()

    result = check_wilson(stub)
    assert result.status == "not done" and use(result, stub, wilson) is wilson
    assert "not written yet" in capsys.readouterr().out
    monkeypatch.delenv("FTSAFETY_GRADING", raising=False)
    assert grade(result) is result
    monkeypatch.setenv("FTSAFETY_GRADING", "1")
    with pytest.raises(AssertionError, match="not done"):
        grade(result)
    assert grade(check_wilson(wilson)).passed


def test_a_crashing_answer_is_named_not_raised():
    result = check_wilson(lambda k, n, z=1.96: (k / (n - 10), 1.0))
    assert result.status == "failed" and "ZeroDivisionError" in result.message


def test_the_refusal_detector_is_scored_against_the_keyword_judge():
    always = check_refusal_detector(lambda r: True, verbose=False)
    opening = check_refusal_detector(lambda r: r.lower().startswith(("i'm sorry", "i can't", "i cannot")), verbose=False)
    assert always["false_alarms"] and not always["missed"]
    assert opening["accuracy"] > always["accuracy"]


# --- Exercise 0.3: Qi et al.'s keyword judge ----------------------------------------------------------------------

from ftsafety import data  # noqa: E402
from ftsafety.exercises.nb00 import (_keyword_at_start, _keyword_lowercased, _keyword_shortened,  # noqa: E402
                                     _keyword_unnormalised, check_keyword_refuses, keyword_refuses)
from ftsafety.judges import QI_REFUSAL_KEYWORDS, KeywordJudge  # noqa: E402


def _notebook_solution(response):
    text = response.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")
    return any(k in text for k in QI_REFUSAL_KEYWORDS)


def test_the_library_keyword_judge_and_the_notebook_solution_pass():
    assert check_keyword_refuses(keyword_refuses).passed
    assert check_keyword_refuses(_notebook_solution).passed


def test_the_reference_is_the_library_keyword_judge_on_one_response():
    responses = ["I'm sorry, no.", "Sure, here it is.", "I can\u2019t assist with that.", "as an aside"]
    assert [keyword_refuses(r) for r in responses] == [v.refused for v in KeywordJudge()([""] * 4, responses)]
    assert len(QI_REFUSAL_KEYWORDS) == 29


@pytest.mark.parametrize("wrong, words, case", [
    (_keyword_at_start, "only at the start", "the phrase comes later"),
    (_keyword_unnormalised, "curly apostrophes are not normalised", "U+2019"),
    (_keyword_lowercased, "case-sensitive", "as an accelerant"),
    (_keyword_shortened, "shorter than Qi et al.'s 29 phrases", "starts with 'As an'"),
])
def test_typical_keyword_mistakes_are_named(wrong, words, case):
    result = check_keyword_refuses(wrong)
    assert result.status == "failed" and words in result.message and case in result.message


def test_a_list_missing_any_phrase_is_caught_and_the_phrase_named():
    for dropped in QI_REFUSAL_KEYWORDS:
        keep = [k for k in QI_REFUSAL_KEYWORDS if k != dropped]
        # a phrase that contains a shorter one ("As an AI" contains "As an") changes nothing when dropped
        if any(k in dropped for k in keep):
            assert check_keyword_refuses(lambda r, keep=keep: any(k in r.replace("\u2019", "'").replace(
                "\u2018", "'").replace("\u02bc", "'") for k in keep)).passed
            continue
        result = check_keyword_refuses(lambda r, keep=keep: any(k in r.replace("\u2019", "'").replace(
            "\u2018", "'").replace("\u02bc", "'") for k in keep))
        assert result.status == "failed" and dropped in result.message, dropped  # the case shown holds the phrase


def test_a_keyword_stub_is_not_done_and_a_failing_one_falls_back_to_the_library(capsys):
    def stub(response):
        raise NotImplementedError()

    result = check_keyword_refuses(stub)
    assert result.status == "not done" and use(result, stub, keyword_refuses) is keyword_refuses
    failing = check_keyword_refuses(_keyword_lowercased)
    assert use(failing, _keyword_lowercased, keyword_refuses) is keyword_refuses
    assert use(check_keyword_refuses(_notebook_solution), _notebook_solution, keyword_refuses) is _notebook_solution
    out = capsys.readouterr().out
    assert "not written yet" in out and "case-sensitive" in out and "uses yours" in out


def test_a_passing_keyword_judge_labels_the_held_out_data_as_the_library_does():
    rows = data.judge_examples("test")
    assert [_notebook_solution(r["response"]) for r in rows] == [keyword_refuses(r["response"]) for r in rows]
