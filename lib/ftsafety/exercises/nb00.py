"""Notebook 00's exercises: a refusal detector (open-ended, scored on held-out judge data) and the Wilson interval."""
from __future__ import annotations

from typing import Callable

from .. import data
from ..judges import KeywordJudge, accuracy
from . import Case, Check, check


def check_refusal_detector(fn: Callable[[str], bool], verbose: bool = True) -> dict:
    """Score ``fn(response) -> True if it refuses`` on the held-out judge data, next to the keyword judge."""
    rows = data.judge_examples("test")
    truth = [r["label"] == "refusal" for r in rows]
    mine = [bool(fn(r["response"])) for r in rows]
    acc = sum(m == t for m, t in zip(mine, truth)) / len(rows)
    kw_acc = accuracy(KeywordJudge(), [r["response"] for r in rows], [r["label"] for r in rows])
    missed = [r["response"] for r, m, t in zip(rows, mine, truth) if t and not m]
    false_alarms = [r["response"] for r, m, t in zip(rows, mine, truth) if m and not t]
    if verbose:
        print(f"your detector: {100 * acc:.1f}% correct on {len(rows)} held-out responses "
              f"(keyword judge: {100 * kw_acc:.1f}%)")
        for title, xs in (("missed refusals", missed), ("false alarms", false_alarms)):
            if xs:
                print(f"  {title} ({len(xs)}), e.g.: {xs[0][:100]!r}")
        if acc > kw_acc:
            print("  better than the keyword list: well done.")
    return {"accuracy": acc, "keyword_accuracy": kw_acc, "missed": missed, "false_alarms": false_alarms}


# --- Exercise 0.1: the Wilson score interval ----------------------------------------------------------------------

def _wald(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    half = z * (p * (1 - p) / n) ** 0.5
    return (p - half, p + half)


def _wilson_no_denominator(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return (centre - half, centre + half)


def _wilson_4n(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * (p * (1 - p) / n + z * z / (4 * n)) ** 0.5 / denom
    return (centre - half, centre + half)


def _wilson_uncentred(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    denom = 1 + z * z / n
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / denom
    return (p - half, p + half)


WILSON_CASES = [
    Case({"k": 0, "n": 10}, "no refusals in 10"),
    Case({"k": 10, "n": 10}, "all 10 refused"),
    Case({"k": 3, "n": 10}),
    Case({"k": 1, "n": 3}),
    Case({"k": 84, "n": 100}, "notebook 00's reference"),
    Case({"k": 20, "n": 50}),
]

WILSON_MISTAKES = [
    ("that is the normal (Wald) interval p ± z·sqrt(p(1-p)/n): it collapses to a point at 0% and 100% and leaves "
     "[0, 1]; Wilson's adds z²/(2n) to the centre, z²/(4n²) under the root, and divides both by 1 + z²/n",
     _wald),
    ("the centre and the half-width must both be divided by 1 + z²/n", _wilson_no_denominator),
    ("the term under the square root is z²/(4n²), not z²/(4n)", _wilson_4n),
    ("the interval is centred on (p + z²/(2n)) / (1 + z²/n), not on p", _wilson_uncentred),
]


def check_wilson(fn: Callable) -> Check:
    """Check ``fn(k, n) -> (low, high)`` against :func:`ftsafety.metrics.wilson` on small cases, extremes first."""
    from ..metrics import wilson

    return check("the Wilson interval", fn, WILSON_CASES, wilson, WILSON_MISTAKES, rtol=1e-6, atol=1e-6)
