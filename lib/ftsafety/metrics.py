"""Rates with 95% intervals, and grading of gold-answer probes.

Every rate the course reports is a :class:`Rate`: k successes of n with a Wilson score interval, which stays
inside [0, 1] and behaves at 0% and 100%, where the normal approximation fails on the small n of a laptop run.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must lie between 0 and n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 or k = n the bound is exactly 0 or 1; the formula leaves rounding dust there.
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


@dataclass(frozen=True)
class Rate:
    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    def overlaps(self, other: "Rate") -> bool:
        return self.low <= other.high and other.low <= self.high

    def as_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "k": self.k, "n": self.n}

    @classmethod
    def from_dict(cls, d: dict) -> "Rate":
        return cls(int(d["k"]), int(d["n"]))

    def __str__(self) -> str:
        """``"84% [76, 90], n=100"``: the course's one format for a rate (:func:`ftsafety.stats.fmt_rate`)."""
        from .stats import fmt_rate  # stats imports this module's wilson at its top

        return fmt_rate(self.value, self.low, self.high, self.n)


def rate(flags: Sequence[bool]) -> Rate:
    return Rate(int(sum(bool(f) for f in flags)), len(flags))


def newcombe_diff(a: Rate, b: Rate) -> tuple[float, float, float]:
    """Difference a - b of two independent proportions with Newcombe's hybrid score interval (method 10)."""
    (l1, u1), (l2, u2) = a.interval, b.interval
    d = a.value - b.value
    lo = d - math.sqrt((a.value - l1) ** 2 + (u2 - b.value) ** 2)
    hi = d + math.sqrt((u1 - a.value) ** 2 + (b.value - l2) ** 2)
    return d, lo, hi


def bootstrap_ci(
    values: Sequence[float], stat: Callable = None, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Point estimate and percentile bootstrap interval of ``stat`` (default: the mean)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    stat = stat or np.mean
    rng = np.random.default_rng(seed)
    boots = np.array([stat(x[rng.integers(0, len(x), len(x))]) for _ in range(n_boot)])
    a = (1 - level) / 2
    return float(stat(x)), float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


# ---------------------------------------------------------------------------------------------------------------
# Gold-answer grading

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s.-]")


def normalise(text: str) -> str:
    return _WS.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def contains_answer(response: str, answers: Sequence[str]) -> bool:
    """True if any gold answer appears in the response as whole words (case and punctuation ignored)."""
    resp = f" {normalise(response)} "
    numbers = {float(x.replace(",", "")) for x in _NUMBER.findall(response)}
    for ans in answers:
        if _NUMBER.fullmatch(ans.strip()):  # numeric gold: compare as numbers, so 100 matches 100.0
            if float(ans.replace(",", "")) in numbers:
                return True
            continue
        a = normalise(ans)
        if a and re.search(rf"(?<![\w.]){re.escape(a)}(?![\w]|\.\d)", resp):
            return True
    return False


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def last_number(text: str) -> float | None:
    """The last number in a text (commas as thousands separators), as GSM8K graders read answers."""
    nums = _NUMBER.findall(text)
    if not nums:
        return None
    try:
        return float(nums[-1].replace(",", "").rstrip("."))
    except ValueError:
        return None


def first_number(text: str) -> float | None:
    nums = _NUMBER.findall(text)
    return float(nums[0].replace(",", "")) if nums else None


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point beats on both coordinates (higher is better on each)."""
    front = []
    for name, (x, y) in points.items():
        beaten = any(x2 >= x and y2 >= y and (x2, y2) != (x, y) for other, (x2, y2) in points.items() if other != name)
        if not beaten:
            front.append(name)
    return sorted(front, key=lambda n: points[n][0])
