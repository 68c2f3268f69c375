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

**How the numbers print**, in every table, plot label and line of text: a rate as "84% [76, 90], n=100"
(:func:`fmt_rate`), a difference of rates in percentage points as "-35 points [-46, -23], n=100" (:func:`fmt_diff`),
a correlation as "+0.45 [+0.10, +0.80], n=12" (:func:`fmt_corr`), any other number with at most 3 significant digits
(:func:`fmt_num`, :func:`fmt_record`, :func:`fmt_table`).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from .metrics import wilson

# ---------------------------------------------------------------------------------------------------------------
# How numbers are printed: every rate, difference, correlation and table number the course shows goes through these.
# Checked: Python's format mini-language has no "round to d significant digits without an exponent", and pandas'
# display.float_format / Styler.format only apply one format to a whole table; neither knows that a rate of 0.3% must
# not print as "0%". So the few rules are written here, once.

_DASH = "—"


def _bad(x) -> bool:
    """None or NaN (a Python, numpy or pandas float): no value to print."""
    try:
        return x is None or math.isnan(x)
    except TypeError:
        return False


def _decimals(points: Sequence[float], edges: tuple[float, ...]) -> int:
    """Fewest decimals (0, 1 or 2) at which no value that differs from an edge (0, or 0 and 100 for a rate) prints
    as that edge: a 0.3% rate is not "0%", a +0.4-point interval bound is not "0"."""
    for d in (0, 1, 2):
        if all(round(p, d) not in edges or p in edges for p in points):
            return d
    return 2


def _points(x: float) -> float:
    # 100 * 0.9999999999999999 is 99.99999999999999: the float error of a mean is dust, not a digit to print
    return round(100 * x, 9) + 0.0  # + 0.0 turns -0.0 into 0.0


def _signed(p: float, d: int) -> str:
    s = f"{p:+.{d}f}"
    return s[1:] if float(s) == 0 else s  # "0", never "+0" or "-0"


def fmt_rate(value: float, low: float, high: float, n: int | None = None) -> str:
    """A rate with its 95% interval in percent: ``fmt_rate(0.84, 0.755, 0.9, 100)`` -> ``"84% [76, 90], n=100"``.

    Whole percents, or one or two decimals where a value that is not 0 or 100% would otherwise print as 0 or 100.
    """
    tail = f", n={n}" if n is not None else ""
    if _bad(value):
        return f"{_DASH}{tail}"
    p = [_points(x) for x in (value, low, high)]
    d = _decimals(p, (0.0, 100.0))
    return f"{p[0]:.{d}f}% [{p[1]:.{d}f}, {p[2]:.{d}f}]{tail}"


def fmt_diff(value: float, low: float, high: float, n: int | None = None) -> str:
    """A difference of two rates in percentage points with its 95% interval, signed: ``fmt_diff(-0.35, -0.46, -0.23,
    100)`` -> ``"-35 points [-46, -23], n=100"``."""
    tail = f", n={n}" if n is not None else ""
    if _bad(value):
        return f"{_DASH}{tail}"
    p = [_points(x) for x in (value, low, high)]
    d = _decimals(p[1:], (0.0,))  # the bounds decide: an interval above 0 never prints a bound of "0"
    return f"{_signed(p[0], d)} points [{_signed(p[1], d)}, {_signed(p[2], d)}]{tail}"


def fmt_corr(value: float | None, low: float | None, high: float | None, n: int | None = None) -> str:
    """A correlation with its 95% interval, two decimals, signed: ``"+0.45 [+0.10, +0.80], n=12"``."""
    tail = f", n={n}" if n is not None else ""
    if _bad(value):
        return f"{_DASH}{tail}"
    c = lambda x: _DASH if _bad(x) else _signed(round(x, 9), 2)
    return f"{c(value)} [{c(low)}, {c(high)}]{tail}"


def fmt_num(x, digits: int = 3) -> str:
    """A number for a table or a line of text: at most ``digits`` significant digits (0.693, 2.35e-05, 12.3), whole
    numbers of ``10**digits`` or more without an exponent (1235), integers and text unchanged, None as a dash."""
    import numbers

    if x is None:
        return _DASH
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return str(x)
    if isinstance(x, numbers.Integral):  # a count (also a numpy integer) is exact: every digit is kept
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    s = f"{x:.{digits}g}"
    return "0" if float(s) == 0 else s


def fmt_record(record: Mapping) -> str:
    """A flat dict (a logged training step, a summary) as one line, numbers through :func:`fmt_num`:
    ``{"step": 4, "loss": 0.69314718}`` -> ``"step 4, loss 0.693"``."""
    return ", ".join(f"{k} {fmt_num(v)}" for k, v in record.items())


def fmt_pct(x) -> str:
    """One rate in whole percents ("84%"), with a decimal where a rate that is not 0 or 100% would print as one of
    them ("0.3%"); a missing one as a dash."""
    if _bad(x):
        return _DASH
    p = _points(x)
    return f"{p:.{_decimals([p], (0.0, 100.0))}f}%"


def fmt_table(df, percent: Sequence[str] = ()):
    """A copy of a pandas table for display: the ``percent`` columns (rates in [0, 1]) as :func:`fmt_pct`, every
    other float column with at most 3 significant digits (:func:`fmt_num`). The cells become text, so every renderer
    (a notebook, a terminal, a static page) shows the same digits."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if col in percent:
            out[col] = out[col].map(fmt_pct)
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(fmt_num)
    return out


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
    # A quantity that is neither a rate nor a difference of rates names its unit ("nats" for a loss); "" lets the
    # method decide (a rate in %, a paired or spread difference of rates in points, "rho" a correlation).
    unit: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        """As the tables print it: a rate "84% [76, 90], n=100", a difference "-35 points [-46, -23], n=100", a
        correlation "+0.45 [+0.10, +0.80], n=12", a quantity with its own unit "+0.153 nats [+0.08, +0.22], n=40"."""
        if self.unit:
            tail = f", n={self.n}" if self.n is not None else ""
            sign = lambda x: fmt_num(x) if _bad(x) or x <= 0 else "+" + fmt_num(x)
            return f"{sign(self.value)} {self.unit} [{sign(self.low)}, {sign(self.high)}]{tail}"
        if self.method == "rho":
            return fmt_corr(self.value, self.low, self.high, self.n)
        if self.method.startswith(("paired", "spread")):
            return fmt_diff(self.value, self.low, self.high, self.n)
        return fmt_rate(self.value, self.low, self.high, self.n)


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
                      runs: str = "1 vs 1", unit: str = "") -> Estimate:
    """Mean over shared items of (a's mean over its runs) - (b's mean over its runs), paired by item. ``unit``: the
    values' unit where they are not 0/1 outcomes (a loss in nats); by default the difference prints in points."""
    keys = [k for k in a if k in b]
    if not keys:
        raise ValueError("the two sides share no items: a paired difference needs both measured on the same prompts")
    d = [sum(a[k]) / len(a[k]) - sum(b[k]) / len(b[k]) for k in keys]
    lo, hi = _bootstrap(d)
    return Estimate(sum(d) / len(d), lo, hi, sign_test(d), len(d), "paired bootstrap over items", runs, unit=unit)


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
