"""Estimates with intervals and p-values for the claims: rates, paired differences, clustered pools, Holm.

One way to reach each number (the claims in :mod:`ftsafety.claims` use nothing else):

- **one model's rate** over items scored once each: a Wilson score interval (:func:`ftsafety.metrics.wilson`) and an
  exact binomial test against the claim's bound (``scipy.stats.binomtest``);
- **anything pooled** (several seeds or tasks of one model on the same prompts) and **any difference of two models
  on the same prompts**: every item (a prompt, or a prompt and its task) gives one value per side, the mean over the
  side's runs, so no generation counts twice and a prompt answered by three seeds weighs as one prompt. The interval is
  a percentile bootstrap that resamples items (paired: both sides of an item move together); the p-value is an exact
  sign test on the items whose two sides differ, which for one run per side is McNemar's exact test.

Checked libraries: ``scipy.stats.bootstrap`` (``paired=True``, ``method="percentile"``) computes the same kind of
interval; the few numpy lines below do it with one fixed generator, so an interval does not move with the scipy
version. scipy has no Holm step-down (``false_discovery_control`` is Benjamini-Hochberg); ``statsmodels`` has
``multipletests(method="holm")`` but is not a dependency of the course, so :func:`holm` is written out below.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from .metrics import wilson

N_BOOT = 4000  # resamples per interval; a seed fixes them, so a re-run prints the same interval
SEED = 20261201


@dataclass(frozen=True)
class Estimate:
    """A measured quantity: its value, a 95% interval, the two-sided p-value of its test (None where it has none),
    the number of items it rests on, how it was computed, and the runs per side."""
    value: float
    low: float
    high: float
    p: float | None = None
    n: int = 0
    method: str = ""
    runs: str = ""
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        if self.method == "rho":
            return f"{self.value:+.2f} [{self.low:+.2f}, {self.high:+.2f}] (n={self.n})"
        pct = lambda x: f"{100 * x:+.1f}" if self.method.startswith(("paired", "spread")) else f"{100 * x:.1f}"
        return f"{pct(self.value)}% [{pct(self.low)}, {pct(self.high)}] (n={self.n})"


def half_of(key) -> int:
    """0 or 1: which half of the held-out items ``key`` falls in. A best-of-many choice is made on half 0 and tested on
    half 1. The split hashes the item's key, so it does not depend on the order of the items or on any result."""
    return hashlib.sha256(repr(key).encode()).digest()[0] & 1


def rate_estimate(values: Mapping[object, Sequence[float]], bound: float = 0.0, runs: int = 1) -> Estimate:
    """Share of successes over items; ``values`` maps each item to its 0/1 outcome in each run of the model."""
    if not values:
        raise ValueError("no items to estimate a rate from")
    means = [sum(v) / len(v) for v in values.values()]
    n = len(means)
    if all(len(v) == 1 for v in values.values()):
        from scipy.stats import binomtest

        k = int(round(sum(means)))
        lo, hi = wilson(k, n)
        p = binomtest(k, n, bound).pvalue if 0 < bound < 1 else None
        return Estimate(k / n, lo, hi, p, n, "wilson", str(runs))
    lo, hi = _bootstrap(means)
    return Estimate(sum(means) / n, lo, hi, None, n, "bootstrap over items", str(runs))


def paired_difference(a: Mapping[object, Sequence[float]], b: Mapping[object, Sequence[float]],
                      runs: str = "1 vs 1") -> Estimate:
    """Mean over shared items of (a's mean over its runs) - (b's mean over its runs), paired by item."""
    keys = [k for k in a if k in b]
    if not keys:
        raise ValueError("the two sides share no items: a paired difference needs both measured on the same prompts")
    d = [sum(a[k]) / len(a[k]) - sum(b[k]) / len(b[k]) for k in keys]
    lo, hi = _bootstrap(d)
    return Estimate(sum(d) / len(d), lo, hi, sign_test(d), len(d), "paired bootstrap over items", runs)


def sign_test(differences: Sequence[float]) -> float:
    """Two-sided exact sign test of per-item differences (ties dropped); McNemar's exact test for 0/1 outcomes."""
    from scipy.stats import binomtest

    up = sum(1 for x in differences if x > 0)
    down = sum(1 for x in differences if x < 0)
    return 1.0 if up + down == 0 else float(binomtest(up, up + down, 0.5).pvalue)


def _bootstrap(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    import numpy as np

    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(SEED)
    means = x[rng.integers(0, len(x), (N_BOOT, len(x)))].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (Holm, 1979); entries that are None stay None and do not count."""
    idx = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out
