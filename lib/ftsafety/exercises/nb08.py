"""Notebook 08's exercise: Spearman's rank correlation with ties."""
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
