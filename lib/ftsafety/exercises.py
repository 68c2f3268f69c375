"""Checkers for the notebooks' exercises: each runs a learner's function on labelled cases and says how it did.

Exercises are optional: the notebooks ship a working default, so a top-to-bottom run never breaks.
"""
from __future__ import annotations

from typing import Callable

from . import data
from .judges import KeywordJudge, accuracy


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
