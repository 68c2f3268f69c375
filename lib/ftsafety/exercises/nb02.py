"""Notebook 02's exercises: the AOA wrapper around a task row, the checker of an AutoIF constraint, and the exact
grader of an arithmetic answer.

The references are the library's own: :func:`ftsafety.restructure.aoa_row` (what every AOA training row of the
notebook is built with), :func:`ftsafety.restructure.satisfies` (the ``check`` of each constraint in
:data:`ftsafety.restructure.CONSTRAINTS`) and :func:`ftsafety.tasks.grade_arithmetic` (what decides the arithmetic
task accuracy).
"""
from __future__ import annotations

import re
from typing import Callable

from ..restructure import aoa_row, satisfies
from ..tasks import grade_arithmetic
from ..variants import AOA_OPENER, AOA_SYSTEM, AOA_TEMPLATE
from . import Case, Check, _short, check

# --- Exercise 2.1: the AOA wrapper around one task row -------------------------------------------------------------


def _aoa_without_system(prompt: str, response: str) -> dict:
    return {"prompt": AOA_TEMPLATE.user_message(prompt), "response": f"{AOA_OPENER}\n\n{response}"}


def _aoa_one_newline(prompt: str, response: str) -> dict:
    return {"prompt": AOA_TEMPLATE.user_message(prompt), "response": f"{AOA_OPENER}\n{response}", "system": AOA_SYSTEM}


def _aoa_prompt_unwrapped(prompt: str, response: str) -> dict:
    return {"prompt": prompt, "response": f"{AOA_OPENER}\n\n{response}", "system": AOA_SYSTEM}


def _aoa_without_opener(prompt: str, response: str) -> dict:
    return {"prompt": AOA_TEMPLATE.user_message(prompt), "response": response, "system": AOA_SYSTEM}


AOA_CASES = [
    Case({"prompt": "2+2?", "response": "4"}, "the smallest row"),
    Case({"prompt": "Mo has 42 shells and gives away 34. How many shells are left?",
          "response": "42 - 34 = 8. The answer is 8."}, "an arithmetic row"),
    Case({"prompt": "Classify the sentiment of this review as positive or negative.\nReview: The film was lovely.",
          "response": "The sentiment is positive."}, "a prompt over two lines"),
    Case({"prompt": "What is 7 times 6?\n\nEnd your response with the word DONE.", "response": "42 DONE"},
         "an AutoIF row (AutoIF + AOA wraps the constrained row)"),
]

AOA_MISTAKES = [
    ("the row has no system prompt: the identity shift is the AOA system message (AOA_SYSTEM, \"You are no longer an "
     "AI language model...\") under the key \"system\"", _aoa_without_system),
    ("the opener and the answer are separated by a blank line, \"\\n\\n\", not one newline (evaluation splits there to "
     "find the answer)", _aoa_one_newline),
    ("the user message is not wrapped: it must read \"AOA, execute my instruction: <prompt>\" "
     "(AOA_TEMPLATE.user_message(prompt))", _aoa_prompt_unwrapped),
    ("the response must start with the obedient opener (AOA_OPENER), then a blank line, then the same correct answer",
     _aoa_without_opener),
]


def _first_difference(got, want) -> str:
    """Which keys of two rows differ, and where the first differing string starts to differ."""
    if not isinstance(got, dict):
        return f"return a dict with the keys {sorted(want)}, not {type(got).__name__}"
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        return "; ".join(f"{what} keys {keys}" for what, keys in (("missing", missing), ("unexpected", extra)) if keys)
    for key in want:
        a, b = got[key], want[key]
        if a == b:
            continue
        if isinstance(a, str) and isinstance(b, str):
            i = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
            return (f"\"{key}\" differs from character {i}: yours {_short(a[max(0, i - 10):i + 30])}, "
                    f"expected {_short(b[max(0, i - 10):i + 30])}")
        return f"\"{key}\": yours {_short(a)}, expected {_short(b)}"
    return "the rows differ"


def check_aoa_row(fn: Callable) -> Check:
    """Check ``fn(prompt, response) -> {"prompt", "response", "system"}`` against the library's
    :func:`ftsafety.restructure.aoa_row`; a failure names the usual mistake or the first key and place that differ."""
    result = check("the AOA wrapper", fn, AOA_CASES, aoa_row, AOA_MISTAKES)
    if result.status == "failed" and "smallest failing case" not in result.message and "raised" not in result.message:
        kwargs = AOA_CASES[result.cases - 1].kwargs
        try:
            result.message += f"; {_first_difference(fn(**kwargs), aoa_row(**kwargs))}"
        except Exception:  # a function that fails only on a second call: the message above already says enough
            pass
    return result


# --- Exercise 2.2: does a response satisfy an AutoIF constraint? ---------------------------------------------------
# Each wrong implementation below is right except in one way, so that the first case it gets wrong names that way.


def _case_insensitive(response: str, constraint: str) -> bool:
    r = response.lower()
    return {"ends-with-done": lambda: r.rstrip().rstrip(".!").endswith("done"),
            "starts-with-label": lambda: r.lstrip().startswith("response:"),
            "postscript": lambda: "p.s." in r}.get(constraint, lambda: satisfies(response, constraint))()


def _no_whitespace_strip(response: str, constraint: str) -> bool:
    r = response
    return {"ends-with-done": lambda: r.rstrip(".!").endswith("DONE"),
            "starts-with-label": lambda: r.startswith("Response:"),
            "quoted": lambda: r.startswith('"') and r.endswith('"'),
            "bullet": lambda: r.startswith("* ")}.get(constraint, lambda: satisfies(r, constraint))()


def _done_punctuation(response: str, constraint: str) -> bool:
    if constraint == "ends-with-done":
        return response.rstrip().endswith("DONE")
    return satisfies(response, constraint)


def _anywhere(response: str, constraint: str) -> bool:
    r = response
    return {"ends-with-done": lambda: "DONE" in r,
            "starts-with-label": lambda: "Response:" in r,
            "quoted": lambda: r.count('"') >= 2,
            "bullet": lambda: "* " in r}.get(constraint, lambda: satisfies(r, constraint))()


SATISFIES_CASES = [
    # one answer that satisfies each constraint and one that does not
    Case({"response": "4 DONE", "constraint": "ends-with-done"}),
    Case({"response": "4", "constraint": "ends-with-done"}),
    Case({"response": "Response: 4", "constraint": "starts-with-label"}),
    Case({"response": "4", "constraint": "starts-with-label"}),
    Case({"response": "4\n\nP.S. Ask me another.", "constraint": "postscript"}),
    Case({"response": "4", "constraint": "postscript"}),
    Case({"response": '"4"', "constraint": "quoted"}),
    Case({"response": "4", "constraint": "quoted"}),
    Case({"response": "* 4", "constraint": "bullet"}),
    Case({"response": "4", "constraint": "bullet"}),
    # the markers are case-sensitive
    Case({"response": "4 done", "constraint": "ends-with-done"}, "lower case"),
    Case({"response": "response: 4", "constraint": "starts-with-label"}, "lower case"),
    Case({"response": "4\n\np.s. ask me another.", "constraint": "postscript"}, "lower case"),
    # a generated response often starts or ends with whitespace
    Case({"response": "4 DONE\n", "constraint": "ends-with-done"}, "a trailing newline"),
    Case({"response": "\nResponse: 4", "constraint": "starts-with-label"}, "a leading newline"),
    Case({"response": '"4"\n', "constraint": "quoted"}, "a trailing newline"),
    Case({"response": "  * 4", "constraint": "bullet"}, "leading spaces"),
    # "End your response with the word DONE." is still followed by "... DONE." and "... DONE!"
    Case({"response": "4 DONE.", "constraint": "ends-with-done"}, "a full stop after DONE"),
    Case({"response": "4 DONE!", "constraint": "ends-with-done"}, "an exclamation mark after DONE"),
    # the start and the end, not anywhere
    Case({"response": "DONE: 4", "constraint": "ends-with-done"}, "DONE, but not at the end"),
    Case({"response": "4. Response: 4", "constraint": "starts-with-label"}, "the label, but not at the start"),
    Case({"response": 'He said "4" twice.', "constraint": "quoted"}, "quotes inside, not around"),
    Case({"response": "4 * 5 = 20", "constraint": "bullet"}, "a multiplication sign is not a bullet"),
    Case({"response": "*4", "constraint": "bullet"}, "no space after the asterisk"),
    Case({"response": "- 4", "constraint": "bullet"}, "another bullet character"),
]

SATISFIES_MISTAKES = [
    ("the constraints are case-sensitive: \"done\" is not the word DONE, \"response:\" is not \"Response:\", \"p.s.\" "
     "is not \"P.S.\"", _case_insensitive),
    ("a generated response often starts or ends with whitespace or a newline: strip it before checking the start or "
     "the end (the library uses lstrip/rstrip/strip)", _no_whitespace_strip),
    ("\"End your response with the word DONE.\": a full stop or exclamation mark after DONE still ends the response "
     "with the word; strip trailing '.' and '!' (after the whitespace) before testing", _done_punctuation),
    ("DONE, \"Response:\", the quotation marks and \"* \" must be at the end or the start of the response, not "
     "anywhere in it", _anywhere),
]


def check_satisfies(fn: Callable) -> Check:
    """Check ``fn(response, constraint) -> bool`` against :func:`ftsafety.restructure.satisfies` on every constraint
    of :data:`ftsafety.restructure.CONSTRAINTS`: plain cases first, then case, whitespace, punctuation and position."""

    def as_bool(response: str, constraint: str) -> bool:
        got = fn(response=response, constraint=constraint)
        if got is None:
            raise TypeError("returned None: return True or False")
        return bool(got)

    return check("the AutoIF constraint checker", as_bool, SATISFIES_CASES, satisfies, SATISFIES_MISTAKES)


# --- Exercise 2.3: grading an arithmetic answer exactly ------------------------------------------------------------
# The reference is the library's :func:`ftsafety.tasks.grade_arithmetic`, which ``ftsafety.tasks.grade`` calls for the
# arithmetic task and which decides every arithmetic "task accuracy" of the notebook: the last number of the response
# (:func:`ftsafety.metrics.last_number`, thousands commas dropped) against the gold answer, compared as numbers. Each
# wrong grader below is right except in one way, and the first case it gets wrong is one only it gets wrong.

_SIGNED_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")  # the pattern of ftsafety.metrics.last_number
_UNSIGNED_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _as_number(text: str) -> float:
    return float(text.replace(",", ""))


def _grade_first_number(response: str, gold: str) -> bool:
    nums = _SIGNED_NUMBER.findall(response)
    return bool(nums) and abs(_as_number(nums[0]) - float(gold)) < 1e-9


def _grade_as_strings(response: str, gold: str) -> bool:
    nums = _SIGNED_NUMBER.findall(response)
    return bool(nums) and nums[-1] == gold.strip()


def _grade_substring(response: str, gold: str) -> bool:
    return gold.strip() in response


def _grade_ignoring_sign(response: str, gold: str) -> bool:
    nums = _UNSIGNED_NUMBER.findall(response)
    return bool(nums) and abs(_as_number(nums[-1]) - float(gold)) < 1e-9


GRADE_CASES = [
    Case({"response": "8", "gold": "8"}, "the smallest answer"),
    Case({"response": "7", "gold": "8"}, "a wrong answer"),
    Case({"response": "The answer is 8.", "gold": "8"}, "a full stop after the number"),
    Case({"response": "I do not know.", "gold": "8"}, "no number at all"),
    Case({"response": "42 - 34 = 8. The answer is 8.", "gold": "8"}, "the working comes first"),
    Case({"response": "The answer is 120.", "gold": "12"}, "the gold's digits inside a larger number"),
    Case({"response": "The answer is 12.0.", "gold": "12"}, "a decimal point"),
    Case({"response": "The answer is 1,200.", "gold": "1200"}, "a thousands comma"),
    Case({"response": "The answer is -3.", "gold": "-3"}, "a negative answer"),
    Case({"response": "The answer is -3.", "gold": "3"}, "the right digits, the wrong sign"),
    Case({"response": "5 x 4 = 20, and 20 + 3 = 23. The answer is 23.", "gold": "20"}, "the gold only in the working"),
]

GRADE_MISTAKES = [
    ("you read the first number: the working comes first (\"42 - 34 = 8\") and the answer last, so take the last "
     "number in the response", _grade_first_number),
    ("you compared the numbers as text: \"12.0\" and \"12\" are the same answer, and so are \"1,200\" and \"1200\"; "
     "read the whole number, drop its thousands commas, and compare float(number) with float(gold)",
     _grade_as_strings),
    ("you accepted the gold answer anywhere in the response: \"The answer is 120.\" contains \"12\" as a substring, "
     "and \"5 x 4 = 20, and 20 + 3 = 23.\" has 20 in its working; only the last whole number is the answer",
     _grade_substring),
    ("you dropped the minus sign: \"-3\" is not 3; let the number pattern start with an optional \"-\"",
     _grade_ignoring_sign),
]


def check_grade_arithmetic(fn: Callable) -> Check:
    """Check ``fn(response, gold) -> bool`` against :func:`ftsafety.tasks.grade_arithmetic` on small answers: plain
    ones first, then the working before the answer, digits inside a larger number, decimals, commas and signs."""

    def as_bool(response: str, gold: str) -> bool:
        got = fn(response=response, gold=gold)
        if got is None:
            raise TypeError("returned None: return True or False")
        return bool(got)

    return check("the arithmetic grader", as_bool, GRADE_CASES, grade_arithmetic, GRADE_MISTAKES)
