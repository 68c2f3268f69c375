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
