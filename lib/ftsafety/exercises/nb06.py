"""Notebook 06's exercises: the Gaussian-kernel MMD that RepNoise drives down, and the RepNoise loss from its terms.

Both references are the library's own: :func:`ftsafety.repnoise.mmd` (the estimator the authors' code uses) and
:func:`ftsafety.repnoise.repnoise_objective` (the line of :func:`ftsafety.repnoise.repnoise_loss` that assembles the
loss), so a function that passes here computes what the course's training computes.
"""
from __future__ import annotations

import math
from typing import Callable

from ..repnoise import MMD_KERNELS, MMD_MULTIPLIER, mmd, repnoise_objective
from . import Case, Check, check


def _tensor(rows):
    import torch

    return torch.tensor(rows, dtype=torch.float32)


# --- Exercise 6.1: the Gaussian-kernel MMD ------------------------------------------------------------------------

def _squared_distances(x, y):
    import torch

    total = torch.cat([x, y], dim=0)
    return ((total.unsqueeze(0) - total.unsqueeze(1)) ** 2).sum(-1), x.shape[0]


def _kernel_sum(d, n_kernels, multiplier):
    """The library's kernel sum on a matrix ``d`` of (squared or not) distances: bandwidths around its off-diagonal
    mean."""
    import torch

    n = d.shape[0]
    bandwidth = d.sum() / (n * n - n) / multiplier ** (n_kernels // 2)
    return sum(torch.exp(-d / (bandwidth * multiplier**i)) for i in range(n_kernels))


def _biased(k, b):
    return (k[:b, :b] + k[b:, b:] - k[:b, b:] - k[b:, :b]).mean()


def _single_bandwidth(x, y, n_kernels=MMD_KERNELS, multiplier=MMD_MULTIPLIER):
    """One Gaussian kernel at the mean squared distance, instead of ``n_kernels`` around it."""
    import torch

    d2, b = _squared_distances(x, y)
    n = d2.shape[0]
    return _biased(torch.exp(-d2 / (d2.sum() / (n * n - n))), b)


def _one_cross_term(x, y, n_kernels=MMD_KERNELS, multiplier=MMD_MULTIPLIER):
    """k(x,x) + k(y,y) - k(x,y): the cross term once, not twice."""
    d2, b = _squared_distances(x, y)
    k = _kernel_sum(d2, n_kernels, multiplier)
    return (k[:b, :b] + k[b:, b:] - k[:b, b:]).mean()


def _unsquared(x, y, n_kernels=MMD_KERNELS, multiplier=MMD_MULTIPLIER):
    """Euclidean distances where the library uses squared ones (in the kernel and in the bandwidth)."""
    d2, b = _squared_distances(x, y)
    return _biased(_kernel_sum(d2.sqrt(), n_kernels, multiplier), b)


def _unbiased(x, y, n_kernels=MMD_KERNELS, multiplier=MMD_MULTIPLIER):
    """The unbiased estimator: the within-sample means leave out the diagonal k(x_i, x_i)."""
    import torch

    d2, b = _squared_distances(x, y)
    k = _kernel_sum(d2, n_kernels, multiplier)
    off = ~torch.eye(b, dtype=torch.bool)
    return k[:b, :b][off].mean() + k[b:, b:][off].mean() - 2 * k[:b, b:].mean()


def mmd_cases() -> list[Case]:
    import torch

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g) + 1.0
    return [
        Case({"x": _tensor([[0.0], [1.0]]), "y": _tensor([[0.0], [1.0]])}, "the same two points on both sides (MMD 0)"),
        Case({"x": _tensor([[0.0], [1.0]]), "y": _tensor([[2.0], [3.0]])}, "1-D, y is x shifted by 2"),
        Case({"x": _tensor([[0.0, 0.0], [1.0, 0.0]]), "y": _tensor([[0.0, 1.0], [2.0, 2.0]])}, "2-D"),
        Case({"x": _tensor([[0.0, 0.0], [1.0, 0.0]]), "y": _tensor([[0.0, 1.0], [2.0, 2.0]]), "n_kernels": 3,
              "multiplier": 3.0}, "2-D, 3 kernels 3x apart"),
        Case({"x": _tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [3.0, 1.0, 1.0]]),
              "y": _tensor([[0.5, 0.5, 0.5], [-1.0, 0.0, 1.0], [2.0, 2.0, 0.0]])}, "three rows of 3"),
        Case({"x": x, "y": y}, "four rows of 6: Gaussian vs Gaussian + 1"),
    ]


MMD_MISTAKES = [
    ("a single Gaussian kernel: the library sums n_kernels of them, with bandwidths mean/multiplier^(n_kernels//2) "
     "times multiplier^i for i = 0..n_kernels-1 (here /4, /2, x1, x2, x4 the mean squared distance)", _single_bandwidth),
    ("the cross term counts twice: MMD² = mean k(x,x') + mean k(y,y') - 2·mean k(x,y) (the library subtracts both "
     "off-diagonal blocks, k[:b, b:] and k[b:, :b])", _one_cross_term),
    ("distances must be squared: the kernel is exp(-||a-b||² / h), and the bandwidth h is the mean squared distance",
     _unsquared),
    ("that is the unbiased estimator; the library's (the authors') is the biased one: the within-sample means keep "
     "the diagonal k(x_i, x_i), so two identical samples give exactly 0", _unbiased),
]


def check_mmd(fn: Callable) -> Check:
    """Check ``fn(x, y, n_kernels=5, multiplier=2.0) -> MMD`` against :func:`ftsafety.repnoise.mmd`."""
    return check("the Gaussian-kernel MMD", fn, mmd_cases(), mmd, MMD_MISTAKES, rtol=1e-4, atol=1e-6)


# --- Exercise 6.2: the RepNoise loss from its three terms ---------------------------------------------------------

def _value_and_grads(fn: Callable) -> Callable:
    """``fn`` on scalar tensors that require gradients: ``[loss, dL/d harmless_ce, dL/d noise_mmd, dL/d harmful_ce]``
    (None where no gradient reaches a term). A training loss has to be differentiable in every term."""

    def run(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
        import torch

        terms = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
                 for v in (harmless_ce, noise_mmd, harmful_ce)]
        loss = fn(harmless_ce=terms[0], noise_mmd=terms[1], harmful_ce=terms[2], alpha=alpha, beta=beta)
        if not (hasattr(loss, "requires_grad") and loss.requires_grad):
            return [float(loss), None, None, None]
        grads = torch.autograd.grad(loss, terms, allow_unused=True)
        return [float(loss.detach())] + [None if g is None else float(g) for g in grads]

    return run


def _harmful_sign(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
    return harmless_ce + beta * noise_mmd + alpha * _log(harmful_ce + 1)


def _swapped(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
    return harmless_ce + alpha * noise_mmd - beta * _log(harmful_ce + 1)


def _no_plus_one(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
    return harmless_ce + beta * noise_mmd - alpha * _log(harmful_ce)


def _plain_number(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
    return harmless_ce + beta * noise_mmd - alpha * math.log(harmful_ce.item() + 1)


def _log(t):
    import torch

    return torch.log(t)


OBJECTIVE_CASES = [
    Case({"harmless_ce": 2.0, "noise_mmd": 0.5, "harmful_ce": 1.0, "alpha": 1.0, "beta": 0.001}, "the defaults"),
    Case({"harmless_ce": 2.0, "noise_mmd": 0.5, "harmful_ce": 0.0, "alpha": 1.0, "beta": 0.001},
         "harmful CE 0 (a model that writes the harmful text perfectly)"),
    Case({"harmless_ce": 1.5, "noise_mmd": 2.0, "harmful_ce": 4.0, "alpha": 0.1, "beta": 0.01},
         "alpha 0.1, beta 0.01"),
    Case({"harmless_ce": 0.8, "noise_mmd": 0.1, "harmful_ce": 20.0, "alpha": 1.0, "beta": 0.001},
         "harmful CE driven high"),
    Case({"harmless_ce": 1.0, "noise_mmd": 3.0, "harmful_ce": 5.0, "alpha": 0.0, "beta": 1.0}, "alpha 0, beta 1"),
]

OBJECTIVE_MISTAKES = [
    ("the harmful term has the wrong sign: RepNoise *subtracts* alpha·log(harmful CE + 1), so that minimising the loss "
     "drives the harmful CE up (gradient ascent on harmful text)", _harmful_sign),
    ("alpha and beta are swapped: beta weighs the noise MMD, alpha the -log(harmful CE + 1) term", _swapped),
    ("log(harmful CE) without the +1: the authors' code takes log(harmful CE + 1), which stays finite (0) when the "
     "harmful CE is 0 and is never negative", _no_plus_one),
    ("the harmful term carries no gradient: math.log or .item() turns the harmful CE into a plain number, and "
     "training can no longer push it up; use torch.log on the tensor", _plain_number),
]


def check_repnoise_objective(fn: Callable) -> Check:
    """Check ``fn(harmless_ce, noise_mmd, harmful_ce, alpha, beta) -> loss`` against
    :func:`ftsafety.repnoise.repnoise_objective`, on the value and on its gradient with respect to each term."""
    result = check("the RepNoise loss", _value_and_grads(fn), OBJECTIVE_CASES, _value_and_grads(repnoise_objective),
                   [(message, _value_and_grads(wrong)) for message, wrong in OBJECTIVE_MISTAKES], rtol=1e-6, atol=1e-9)
    if result.status == "failed" and "yours gives [" in result.message:
        result.message += "; each answer is [L, dL/d harmless_ce, dL/d noise_mmd, dL/d harmful_ce]"
    return result
