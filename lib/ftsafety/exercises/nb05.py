"""Notebook 05's exercises: DPO's implicit reward, and the DPO (sigmoid), IPO and NCA losses, on log-probabilities.

Every function takes tensors of per-example summed log-probabilities of the answers (chosen ``y_w``, rejected ``y_l``)
under the policy and the reference, as TRL computes them, and ``beta``. The references are the library's
(:mod:`ftsafety.preference`), which ``tests/test_exercises_nb05.py`` checks against TRL's own ``DPOTrainer`` loss.
"""
from __future__ import annotations

from typing import Callable

from . import Case, Check, check


def _t(*values):
    import torch

    return torch.tensor(values, dtype=torch.float32)


def _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps):
    return (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)


# --- Exercise 5.1: the implicit reward ------------------------------------------------------------------------------

def _reward_flipped(logps, ref_logps, beta):
    return beta * (ref_logps - logps)


def _reward_no_beta(logps, ref_logps, beta):
    return logps - ref_logps


def _reward_divided(logps, ref_logps, beta):
    return (logps - ref_logps) / beta


def _reward_ratio(logps, ref_logps, beta):
    return beta * (logps - ref_logps).exp()


def reward_cases() -> list[Case]:
    return [
        Case({"logps": _t(-5.0), "ref_logps": _t(-5.0), "beta": 0.1}, "policy = reference"),
        Case({"logps": _t(-4.0), "ref_logps": _t(-6.0), "beta": 0.1},
             "one answer, more likely than under the reference"),
        Case({"logps": _t(-4.0, -9.0, -20.0), "ref_logps": _t(-6.0, -8.0, -20.0), "beta": 0.5}, "three answers"),
    ]


REWARD_MISTAKES = [
    ("sign flipped: the reward is β·(log π − log π_ref), policy minus reference", _reward_flipped),
    ("β is missing: the reward is β times the log-ratio", _reward_no_beta),
    ("β multiplies the log-ratio, it does not divide it", _reward_divided),
    ("the reward is β times the log of the probability ratio, not the ratio itself", _reward_ratio),
]


def check_implicit_reward(fn: Callable) -> Check:
    """Check ``fn(logps, ref_logps, beta) -> per-example rewards`` against
    :func:`ftsafety.preference.implicit_reward`."""
    from ..preference import implicit_reward

    return check("the implicit reward", fn, reward_cases(), implicit_reward, REWARD_MISTAKES)


# --- Exercise 5.2: DPO's sigmoid loss -------------------------------------------------------------------------------

def _dpo_beta_twice(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    import torch.nn.functional as F

    rewards = beta * _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps)
    return (-F.logsigmoid(beta * rewards)).mean()


def _dpo_mean_first(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    import torch.nn.functional as F

    margin = _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps).mean()
    return -F.logsigmoid(beta * margin)


def _dpo_swapped(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    import torch.nn.functional as F

    margin = _margin(rejected_logps, chosen_logps, ref_rejected_logps, ref_chosen_logps)
    return (-F.logsigmoid(beta * margin)).mean()


def _dpo_per_pair(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    import torch.nn.functional as F

    return -F.logsigmoid(beta * _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps))


def pair_cases(betas=(0.1, 0.1, 0.1, 0.5)) -> list[Case]:
    """Four batches, smallest first: policy = reference; one pair; three pairs; two pairs at another beta."""
    names = ("chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
    batches = [
        ((-10.0,), (-12.0,), (-10.0,), (-12.0,), "policy = reference: every log-ratio is 0"),
        ((-10.0,), (-14.0,), (-11.0,), (-12.0,), "one pair: chosen up by 1, rejected down by 2"),
        ((-10.0, -30.0, -8.0), (-14.0, -25.0, -20.0), (-11.0, -29.0, -9.0), (-12.0, -26.0, -12.0), "three pairs"),
        ((-12.0, -5.0), (-14.0, -7.0), (-10.0, -6.0), (-12.0, -6.5), "two pairs"),
    ]
    return [Case({**dict(zip(names, (_t(*v) for v in b[:4]))), "beta": beta}, b[4]) for b, beta in zip(batches, betas)]


DPO_MISTAKES = [
    ("beta applied twice: β multiplies the margin of log-ratios once (if you formed the rewards β·log-ratio first, "
     "their difference goes into the log-sigmoid as is)", _dpo_beta_twice),
    ("you averaged before the log-sigmoid: take −log σ(β·margin) for each pair, then the mean over pairs",
     _dpo_mean_first),
    ("sign flipped: chosen and rejected swapped (the margin is chosen's log-ratio minus rejected's, each policy minus "
     "reference)", _dpo_swapped),
    ("return the batch's loss, the mean of the per-pair losses (TRL averages them), not one loss per pair",
     _dpo_per_pair),
]


def check_dpo_loss(fn: Callable) -> Check:
    """Check ``fn(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta) -> mean loss`` against
    :func:`ftsafety.preference.dpo_sigmoid_loss` (TRL's ``loss_type="sigmoid"``)."""
    from ..preference import dpo_sigmoid_loss

    return check("DPO's sigmoid loss", fn, pair_cases(), dpo_sigmoid_loss, DPO_MISTAKES)


# --- Exercise 5.3: IPO ----------------------------------------------------------------------------------------------

def _ipo_half_beta(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    margin = _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps)
    return ((margin - 1 / 2 * beta) ** 2).mean()


def _ipo_beta_margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    margin = _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps)
    return ((beta * margin - 1 / (2 * beta)) ** 2).mean()


def _ipo_swapped(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    margin = _margin(rejected_logps, chosen_logps, ref_rejected_logps, ref_chosen_logps)
    return ((margin - 1 / (2 * beta)) ** 2).mean()


def _ipo_mean_first(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    margin = _margin(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps).mean()
    return (margin - 1 / (2 * beta)) ** 2


IPO_MISTAKES = [
    ("IPO's target is 1/(2β) (Azar et al.'s τ⁻¹/2 with τ = β); yours is β/2: in Python `1 / 2 * beta` is β/2, "
     "write `1 / (2 * beta)`", _ipo_half_beta),
    ("IPO's β appears only in its target 1/(2β): the margin of log-ratios is not multiplied by β (that is DPO's "
     "form)", _ipo_beta_margin),
    ("sign flipped: chosen and rejected swapped (the margin is chosen's log-ratio minus rejected's)", _ipo_swapped),
    ("you averaged the margins before squaring: square each pair's (margin − 1/(2β)), then take the mean",
     _ipo_mean_first),
]


def check_ipo_loss(fn: Callable) -> Check:
    """Check ``fn(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta) -> mean loss`` against
    :func:`ftsafety.preference.ipo_loss` (TRL's ``loss_type="ipo"`` on per-token averaged log-probabilities)."""
    from ..preference import ipo_loss

    return check("IPO's loss", fn, pair_cases(betas=(0.1, 0.1, 0.5, 0.25)), ipo_loss, IPO_MISTAKES, rtol=1e-5,
                 atol=1e-5)


# --- Exercise 5.4: NCA ----------------------------------------------------------------------------------------------

def _nca_margin_only(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    from ..preference import dpo_sigmoid_loss

    return dpo_sigmoid_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)


def _nca(chosen, rejected):
    import torch.nn.functional as F

    return (-F.logsigmoid(chosen) - 0.5 * F.logsigmoid(-chosen) - 0.5 * F.logsigmoid(-rejected)).mean()


def _nca_swapped(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    return _nca(beta * (rejected_logps - ref_rejected_logps), beta * (chosen_logps - ref_chosen_logps))


def _nca_beta_twice(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    return _nca(beta * beta * (chosen_logps - ref_chosen_logps), beta * beta * (rejected_logps - ref_rejected_logps))


def _nca_no_halves(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    import torch.nn.functional as F

    chosen, rejected = beta * (chosen_logps - ref_chosen_logps), beta * (rejected_logps - ref_rejected_logps)
    return (-F.logsigmoid(chosen) - F.logsigmoid(-chosen) - F.logsigmoid(-rejected)).mean()


def nca_cases() -> list[Case]:
    """As :func:`pair_cases`, with a pair whose margin is 0 while both answers moved (DPO's loss cannot see it)."""
    cases = pair_cases()
    both_down = Case({"chosen_logps": _t(-12.0), "rejected_logps": _t(-14.0), "ref_chosen_logps": _t(-10.0),
                      "ref_rejected_logps": _t(-12.0), "beta": 0.1},
                     "one pair: both answers 2 less likely than under the reference, margin 0")
    return cases[:1] + [both_down] + cases[1:]


NCA_MISTAKES = [
    ("NCA uses each log-ratio on its own, not only the margin: yours is DPO's loss, −log σ(r_w − r_l)",
     _nca_margin_only),
    ("sign flipped: chosen and rejected swapped (−log σ(r) pulls the chosen answer up; the two −½ log σ(−r) "
     "terms push both down)", _nca_swapped),
    ("beta applied twice: r = β·(log π − log π_ref) already has its β", _nca_beta_twice),
    ("the two push-down terms −log σ(−r_w) and −log σ(−r_l) have weight ½ each (an average over the pair's "
     "two answers)", _nca_no_halves),
]


def check_nca_loss(fn: Callable) -> Check:
    """Check ``fn(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta) -> mean loss`` against
    :func:`ftsafety.preference.nca_pair_loss` (TRL's ``loss_type="nca_pair"``)."""
    from ..preference import nca_pair_loss

    return check("NCA's pair loss", fn, nca_cases(), nca_pair_loss, NCA_MISTAKES)


# --- Exercise 5.5: the Pareto front ---------------------------------------------------------------------------------
# The library's rule (ftsafety.metrics.pareto_front): q beats p when q is at least as good on both coordinates and is
# not the same pair of numbers, so a point tied on one coordinate and worse on the other is beaten, and two identical
# points both stay (neither beats the other). The front is sorted by the first coordinate, lowest first; Python's sort
# is stable, so identical points keep the order they have in ``points``.

def _front(points, beats):
    """The names no other name's point ``beats``, sorted by the first coordinate (stable)."""
    kept = [n for n, p in points.items() if not any(beats(q, p) for m, q in points.items() if m != n)]
    return sorted(kept, key=lambda n: points[n][0])


def _pareto_either(points):
    return _front(points, lambda q, p: q[0] > p[0] or q[1] > p[1])


def _pareto_strict(points):
    return _front(points, lambda q, p: q[0] > p[0] and q[1] > p[1])


def _pareto_self(points):
    kept = [n for n, (x, y) in points.items() if not any(x2 >= x and y2 >= y for x2, y2 in points.values())]
    return sorted(kept, key=lambda n: points[n][0])


def _pareto_identical_removed(points):
    return _front(points, lambda q, p: q[0] >= p[0] and q[1] >= p[1])


def _pareto_lower_second(points):
    return _front(points, lambda q, p: q[0] >= p[0] and q[1] <= p[1] and q != p)


def _pareto_lower_first(points):
    return _front(points, lambda q, p: q[0] <= p[0] and q[1] >= p[1] and q != p)


def _pareto_lower_both(points):
    return _front(points, lambda q, p: q[0] <= p[0] and q[1] <= p[1] and q != p)


_LOWER = "higher is better on each coordinate (capability and refusal); yours treats lower as better on one or both"


def _pareto_unsorted(points):
    return [n for n, p in points.items()
            if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for m, q in points.items() if m != n)]


def _pareto_by_name(points):
    return sorted(_pareto_unsorted(points))


def _pareto_ties_by_name(points):
    return sorted(_pareto_unsorted(points), key=lambda n: (points[n][0], n))


PARETO_CASES = [
    Case({"points": {}}, "no points"),
    Case({"points": {"a": (0.5, 0.5)}}, "one point"),
    Case({"points": {"a": (0.2, 0.3), "b": (0.6, 0.7)}}, "b beats a on both"),
    Case({"points": {"b": (0.8, 0.2), "c": (0.3, 0.9), "a": (0.5, 0.5)}}, "a trade-off: no point beats another"),
    Case({"points": {"a": (0.5, 0.8), "b": (0.5, 0.6), "c": (0.9, 0.1), "d": (0.7, 0.1)}},
         "ties on one coordinate: a beats b, c beats d"),
    Case({"points": {"b": (0.6, 0.6), "a": (0.6, 0.6), "c": (0.2, 0.9)}},
         "two identical points (both stay, in the order given) and a third"),
    Case({"points": {"sigmoid": (0.40, 0.75), "ipo": (0.45, 0.70), "hinge": (0.40, 0.75), "nca_pair": (0.50, 0.65),
                     "kto": (0.35, 0.60), "orpo": (0.45, 0.55), "simpo": (0.30, 0.90)}},
         "seven methods as (capability, refusal)"),
]

PARETO_MISTAKES = [
    ("a point beaten on one coordinate only is not dominated: another point beats it only if it is at least as good "
     "on BOTH coordinates (and better on one); yours removes every point some other point beats on either",
     _pareto_either),
    ("a point tied on one coordinate and worse on the other is beaten: 'beats' means at least as good on both and "
     "strictly better on at least one; yours asks for strictly better on both", _pareto_strict),
    ("every point was removed: each point dominated itself. Compare a point only with the OTHER points",
     _pareto_self),
    ("two identical points removed each other: a point beats another only if it is strictly better on at least one "
     "coordinate, so identical points both stay on the front (as the library's does)", _pareto_identical_removed),
    (_LOWER, _pareto_lower_second),
    (_LOWER, _pareto_lower_first),
    (_LOWER, _pareto_lower_both),
    ("the right points, not sorted: return them sorted by the first coordinate, lowest first", _pareto_unsorted),
    ("the right points, sorted by name: sort them by the first coordinate, lowest first", _pareto_by_name),
    ("identical points come in the order they have in `points` (sort by the first coordinate alone: Python's sort "
     "is stable), not by name", _pareto_ties_by_name),
]


def check_pareto_front(fn: Callable) -> Check:
    """Check ``fn(points) -> list of names`` against :func:`ftsafety.metrics.pareto_front`."""
    from ..metrics import pareto_front

    return check("the Pareto front", fn, PARETO_CASES, pareto_front, PARETO_MISTAKES)
