"""Notebook 08's exercises: Spearman's rank correlation with ties (8.1) and the percentile bootstrap interval (8.2)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import Case, Check, check


def _order_ranks(x, y) -> float:
    """Ranks by position in the sorted order: tied values get different ranks, decided by row order."""
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def _pearson(x, y) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def _squared_rank_differences(x, y) -> float:
    """1 - 6 sum d^2 / (n (n^2 - 1)) on average ranks: exact without ties, not with them."""
    from scipy.stats import rankdata

    d = rankdata(x) - rankdata(y)
    n = len(x)
    return float(1 - 6 * (d ** 2).sum() / (n * (n * n - 1)))


SPEARMAN_CASES = [
    Case({"x": [1, 2, 3, 4], "y": [1, 2, 3, 4]}, "no ties, same order"),
    Case({"x": [1, 2, 3, 4], "y": [10, 20, 40, 1000]}, "no ties, not linear"),
    Case({"x": [0.1, 0.1, 0.2, 0.3], "y": [0.5, 0.6, 0.6, 0.7]}, "ties in both"),
    Case({"x": [0.1, 0.1, 0.2, 0.3, 0.3, 0.4], "y": [0.5, 0.6, 0.6, 0.7, 0.9, 0.9]}, "more ties"),
    Case({"x": [0.4, 0.3, 0.3, 0.2, 0.1, 0.1], "y": [0.9, 0.9, 0.7, 0.6, 0.6, 0.5]}, "the same rows, reversed"),
]

SPEARMAN_MISTAKES = [
    ("tied values need the same (average) rank: ranking by position in sorted order makes the answer depend on row "
     "order", _order_ranks),
    ("that is Pearson's correlation of the values; Spearman's is Pearson's correlation of their ranks", _pearson),
    ("1 - 6·Σd²/(n(n²-1)) holds only without ties; with ties, take Pearson's correlation of the average ranks",
     _squared_rank_differences),
]


def spearman(x, y) -> float:
    """The reference: ``scipy.stats.spearmanr`` (Pearson's correlation of average ranks)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def check_spearman(fn: Callable) -> Check:
    """Check ``fn(x, y) -> rho`` against ``scipy.stats.spearmanr`` on small cases, ties last."""
    return check("Spearman's rho with ties", fn, SPEARMAN_CASES, spearman, SPEARMAN_MISTAKES, rtol=1e-6, atol=1e-9)


# --- Exercise 8.2: a percentile bootstrap interval ----------------------------------------------------------------

class _Stat:
    """A statistic with a short name, so that a failing case reads ``stat=median``, not a function's address."""

    def __init__(self, fn: Callable, name: str):
        self.fn, self.name = fn, name

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self) -> str:
        return self.name


MEAN, MEDIAN, MAX = _Stat(np.mean, "mean"), _Stat(np.median, "median"), _Stat(np.max, "max")


def bootstrap_interval(values, stat: Callable, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """The reference: :func:`ftsafety.metrics.bootstrap_ci` with the exercise's argument names.

    ``(stat(values), 2.5th percentile, 97.5th percentile)`` of ``stat`` over ``n_resamples`` resamples, each drawn with
    ``np.random.default_rng(seed).integers(0, n, n)`` in turn (one call of size ``(n_resamples, n)`` draws the same)."""
    from ..metrics import bootstrap_ci

    return bootstrap_ci(values, stat=stat, n_boot=n_resamples, seed=seed)


def _resample_stats(values, stat, n_resamples, seed, replace=True):
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    if replace:
        return x, np.array([stat(x[rng.integers(0, len(x), len(x))]) for _ in range(n_resamples)])
    return x, np.array([stat(x[rng.permutation(len(x))]) for _ in range(n_resamples)])


def _without_replacement(values, stat, n_resamples, seed):
    """Each resample a permutation of the data: every resample's statistic is the original one."""
    x, boots = _resample_stats(values, stat, n_resamples, seed, replace=False)
    return float(stat(x)), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def _pooled_stat(values, stat, n_resamples, seed):
    """``stat`` applied once to the whole (n_resamples, n) array of resampled values, not to each row."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    pooled = stat(x[rng.integers(0, len(x), size=(n_resamples, len(x)))])
    return float(stat(x)), float(np.quantile(pooled, 0.025)), float(np.quantile(pooled, 0.975))


def _five_ninety_five(values, stat, n_resamples, seed):
    """The 5th and 95th percentiles: a 90% interval."""
    x, boots = _resample_stats(values, stat, n_resamples, seed)
    return float(stat(x)), float(np.quantile(boots, 0.05)), float(np.quantile(boots, 0.95))


def _standard_error(values, stat, n_resamples, seed, ddof=0):
    """point ± 1.96 · the standard deviation of the resamples' statistics (the normal, standard-error interval)."""
    x, boots = _resample_stats(values, stat, n_resamples, seed)
    point, sd = float(stat(x)), float(np.std(boots, ddof=ddof))
    return point, point - 1.959963984540054 * sd, point + 1.959963984540054 * sd


def _standard_error_ddof1(values, stat, n_resamples, seed):
    return _standard_error(values, stat, n_resamples, seed, ddof=1)


BOOTSTRAP_CASES = [
    Case({"values": [1, 2, 3, 4], "stat": MEAN, "n_resamples": 5, "seed": 0}, "four values, five resamples"),
    Case({"values": [3, 1, 4, 1, 5, 9, 2, 6], "stat": MEDIAN, "n_resamples": 200, "seed": 1}, "the median"),
    Case({"values": [0.84, 0.8, 0.9, 0.7, 0.86, 0.82], "stat": MEAN, "n_resamples": 2000, "seed": 0},
         "the library's defaults: 2000 resamples, seed 0"),
    Case({"values": [2, 7, 1, 8, 2, 8, 1], "stat": MAX, "n_resamples": 300, "seed": 7}, "a skewed statistic"),
]

_SE_MESSAGE = ("that is the standard-error interval, point ± 1.96·sd of the resamples' statistics; the percentile "
               "bootstrap takes the 2.5th and 97.5th percentiles of those statistics themselves")

BOOTSTRAP_MISTAKES = [
    ("every resample gives the original statistic, so the interval shrinks to the point: draw each resample WITH "
     "replacement (rng.integers(0, n, n), not a permutation or replace=False), and apply stat to the resample, not to "
     "the original values", _without_replacement),
    ("the 5th and 95th percentiles give a 90% interval; a 95% interval takes the 2.5th and 97.5th",
     _five_ninety_five),
    (_SE_MESSAGE, _standard_error),
    (_SE_MESSAGE, _standard_error_ddof1),
    ("stat was applied once to the whole (n_resamples, n) array of resampled values, so both bounds are one pooled "
     "number: apply it to each resample (each row) and take percentiles of those n_resamples values", _pooled_stat),
]


def check_bootstrap_ci(fn: Callable) -> Check:
    """Check ``fn(values, stat, n_resamples, seed) -> (point, low, high)`` against :func:`ftsafety.metrics.bootstrap_ci`
    with the same seed and the same draws, smallest case first."""
    return check("the percentile bootstrap interval", fn, BOOTSTRAP_CASES, bootstrap_interval, BOOTSTRAP_MISTAKES,
                 rtol=1e-6, atol=1e-9)
