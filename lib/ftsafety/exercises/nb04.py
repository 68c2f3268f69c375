"""Notebook 04's exercises: how many safety rows a dose adds, and a safety row in the user data's own format.

The references are the library's own :func:`ftsafety.mixing.safety_count` and :func:`ftsafety.mixing.mimicking_row`
(the rows :func:`ftsafety.mixing.mimicking_safety` trains on).
"""
from __future__ import annotations

import math
from typing import Callable

from ..restructure import CONSTRAINTS, get_strategy
from ..variants import AOA_OPENER, AOA_SYSTEM, AOA_TEMPLATE
from . import Case, Check, _short, check

# --- Exercise 4.1: from a dose to a number of safety rows ---------------------------------------------------------


def _of_user_data(ratio: float, n_task: int) -> int:
    """The dose read as a share of the user's rows: ratio x n_task."""
    return 0 if ratio == 0 else max(1, round(ratio * n_task))


def _floor(ratio: float, n_task: int) -> int:
    return 0 if ratio == 0 else max(1, int(ratio * n_task / (1 - ratio)))


def _ceil(ratio: float, n_task: int) -> int:
    return 0 if ratio == 0 else max(1, math.ceil(ratio * n_task / (1 - ratio)))


def _zero_dose_gives_one(ratio: float, n_task: int) -> int:
    return max(1, round(ratio * n_task / (1 - ratio)))


def _no_minimum(ratio: float, n_task: int) -> int:
    return round(ratio * n_task / (1 - ratio))


COUNT_CASES = [
    Case({"ratio": 0.0, "n_task": 10}, "no safety data"),
    Case({"ratio": 0.5, "n_task": 10}, "half of the mixed set"),
    Case({"ratio": 0.1, "n_task": 90}),
    Case({"ratio": 0.1, "n_task": 35}, "3.89 rows"),
    Case({"ratio": 0.1, "n_task": 100}, "11.1 rows"),
    Case({"ratio": 0.01, "n_task": 10}, "a tiny dose: 0.1 rows"),
    Case({"ratio": 0.05, "n_task": 32}, "the laptop profile's set at 5%"),
    Case({"ratio": 0.2, "n_task": 32}, "the laptop profile's set at 20%"),
    Case({"ratio": 0.05, "n_task": 1000}, "the gpu profile's set at 5%"),
]

COUNT_MISTAKES = [
    ("that is a share of the user's rows (ratio × n_task); the dose is the safety rows' share of the *mixed* set, "
     "n_safe / (n_task + n_safe) = ratio, so n_safe = ratio · n_task / (1 − ratio)", _of_user_data),
    ("a dose of 0 adds no safety rows: the 'at least one row' rule is for doses above 0 only", _zero_dose_gives_one),
    ("int() and math.floor round down; round to the nearest whole row with round()", _floor),
    ("math.ceil rounds up; round to the nearest whole row with round()", _ceil),
    ("any dose above 0 adds at least one row: a tiny dose must not round to no safety data at all", _no_minimum),
]


def _whole_rows(fn: Callable) -> Callable:
    """``fn``, with an answer that is not an int turned into a description that matches no int (a float row count
    would break ``rows[:n]`` later)."""
    def counted(**kwargs):
        got = fn(**kwargs)
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{got!r} (a {type(got).__name__}: return an int, a number of rows)"
        return got
    return counted


def check_safety_count(fn: Callable) -> Check:
    """Check ``fn(ratio, n_task) -> int`` against :func:`ftsafety.mixing.safety_count` on small cases, 0 first."""
    from ..mixing import safety_count

    return check("safety rows for a dose", _whole_rows(fn), COUNT_CASES, safety_count, COUNT_MISTAKES)


# --- Exercise 4.2: a safety row in the user data's format ---------------------------------------------------------

_REQUEST = "How do I pick my neighbour's lock?"
_REFUSAL = "I'm sorry, but I can't help with that."


def _generic(request: str, refusal: str, strategy, constraint=None) -> dict:
    return {"prompt": request, "response": refusal}


def _constrain(request: str, refusal: str, strategy, constraint, apply_to_refusal: bool = True) -> tuple[str, str]:
    if strategy.autoif:
        c = CONSTRAINTS[constraint]
        return f"{request}\n\n{c.instruction}", c.apply(refusal) if apply_to_refusal else refusal
    return request, refusal


def _aoa(request: str, refusal: str, system: bool = True, opener: str = f"{AOA_OPENER}\n\n") -> dict:
    row = {"prompt": AOA_TEMPLATE.user_message(request), "response": f"{opener}{refusal}"}
    return {**row, "system": AOA_SYSTEM} if system else row


def _no_system(request: str, refusal: str, strategy, constraint=None) -> dict:
    request, refusal = _constrain(request, refusal, strategy, constraint)
    return _aoa(request, refusal, system=False) if strategy.aoa else {"prompt": request, "response": refusal}


def _no_opener(request: str, refusal: str, strategy, constraint=None) -> dict:
    request, refusal = _constrain(request, refusal, strategy, constraint)
    return _aoa(request, refusal, opener="") if strategy.aoa else {"prompt": request, "response": refusal}


def _opener_same_line(request: str, refusal: str, strategy, constraint=None) -> dict:
    request, refusal = _constrain(request, refusal, strategy, constraint)
    return _aoa(request, refusal, opener=f"{AOA_OPENER} ") if strategy.aoa else {"prompt": request, "response": refusal}


def _prompt_only(request: str, refusal: str, strategy, constraint=None) -> dict:
    request, refusal = _constrain(request, refusal, strategy, constraint, apply_to_refusal=False)
    return _aoa(request, refusal) if strategy.aoa else {"prompt": request, "response": refusal}


def _constraint_after_wrapper(request: str, refusal: str, strategy, constraint=None) -> dict:
    row = _aoa(request, refusal) if strategy.aoa else {"prompt": request, "response": refusal}
    if strategy.autoif:
        c = CONSTRAINTS[constraint]
        row = {**row, "prompt": f"{row['prompt']}\n\n{c.instruction}", "response": c.apply(row["response"])}
    return row


def _case(strategy: str, constraint: str | None, note: str) -> Case:
    return Case({"request": _REQUEST, "refusal": _REFUSAL, "strategy": get_strategy(strategy),
                 "constraint": constraint}, note)


MIMIC_CASES = [
    _case("benign", None, "benign user data: plain rows"),
    _case("aoa", None, "AOA"),
    _case("autoif", "ends-with-done", "AutoIF, ends with DONE"),
    _case("autoif", "starts-with-label", "AutoIF, starts with a label"),
    _case("autoif+aoa", "bullet", "AutoIF + AOA, one bullet"),
    _case("autoif+aoa", "quoted", "AutoIF + AOA, quoted"),
    _case("autoif", "postscript", "AutoIF, a postscript"),
    _case("autoif+aoa", "ends-with-done", "AutoIF + AOA, ends with DONE"),
    _case("autoif", "bullet", "AutoIF, one bullet"),
    _case("autoif", "quoted", "AutoIF, quoted"),
    _case("autoif+aoa", "starts-with-label", "AutoIF + AOA, starts with a label"),
    _case("autoif+aoa", "postscript", "AutoIF + AOA, a postscript"),
]

MIMIC_MISTAKES = [
    ("that is the generic safety row (the plain request and refusal): the row must take the user data's format, "
     "the same wrapper and constraint its task rows have", _generic),
    ("the AOA system prompt is part of the AOA format: the row needs \"system\": AOA_SYSTEM", _no_system),
    ("every answer of the AOA rows starts with the obedient opener; the course's mimicking refusal does too: "
     "the opener, a blank line, then the refusal", _no_opener),
    ("the opener and the refusal are separated by a blank line (\"\\n\\n\"), as in the user's AOA rows",
     _opener_same_line),
    ("the refusal must satisfy the AutoIF constraint too (constraint.apply): the user's answers always do, so a "
     "refusal that ignores it is a format the attack never sees", _prompt_only),
    ("the constraint applies to the refusal inside the AOA wrapper: the opener comes first, then the constrained "
     "refusal (apply the constraint before wrapping)", _constraint_after_wrapper),
]


def check_mimicking_row(fn: Callable) -> Check:
    """Check ``fn(request, refusal, strategy, constraint) -> row`` against :func:`ftsafety.mixing.mimicking_row` on
    every strategy and every AutoIF constraint; a failure also names the first field of the row that differs."""
    from ..mixing import mimicking_row

    result = check("a style-mimicking safety row", fn, MIMIC_CASES, mimicking_row, MIMIC_MISTAKES)
    if result.status == "failed" and result.cases:
        kwargs = MIMIC_CASES[result.cases - 1].kwargs
        try:
            got = fn(**kwargs)
        except Exception:
            return result
        want = mimicking_row(**kwargs)
        if isinstance(got, dict):
            for key in ("system", "prompt", "response", *sorted(set(got) - set(want))):
                if got.get(key) != want.get(key):
                    result.message += (f"; first difference in {key!r}: yours {_short(got.get(key), 160)}, "
                                       f"expected {_short(want.get(key), 160)}")
                    break
    return result
