import math

import pytest
import torch

from ftsafety.exercises import use
from ftsafety.exercises.nb06 import (_harmful_sign, _no_plus_one, _one_cross_term, _plain_number, _single_bandwidth,
                                     _swapped, _unbiased, _unsquared, check_mmd, check_repnoise_objective)
from ftsafety.repnoise import mmd, repnoise_objective


# --- Exercise 6.1: the Gaussian-kernel MMD ------------------------------------------------------------------------

def test_the_library_mmd_passes():
    assert check_mmd(mmd).status == "passed"


def test_an_mmd_written_another_way_passes():
    def by_blocks(x, y, n_kernels=5, multiplier=2.0):
        total = torch.cat([x, y]).double()
        d2 = torch.cdist(total, total) ** 2
        n, b = total.shape[0], x.shape[0]
        h = d2.sum() / (n * n - n) / multiplier ** (n_kernels // 2)
        k = sum(torch.exp(-d2 / (h * multiplier**i)) for i in range(n_kernels))
        return k[:b, :b].mean() + k[b:, b:].mean() - 2 * k[:b, b:].mean()

    assert check_mmd(by_blocks).status == "passed"


@pytest.mark.parametrize("wrong, words", [
    (_single_bandwidth, "a single Gaussian kernel"),
    (_one_cross_term, "the cross term counts twice"),
    (_unsquared, "distances must be squared"),
    (_unbiased, "unbiased estimator"),
])
def test_typical_mmd_mistakes_are_named(wrong, words):
    result = check_mmd(wrong)
    assert result.status == "failed"
    assert words in result.message and "smallest failing case" in result.message


def test_an_mmd_stub_is_not_done_and_the_library_is_used():
    def stub(x, y, n_kernels=5, multiplier=2.0):
        raise NotImplementedError()

    result = check_mmd(stub)
    assert result.status == "not done"
    assert use(result, stub, mmd, show=False) is mmd
    assert use(check_mmd(_unbiased), _unbiased, mmd, show=False) is mmd


def test_mmd_defaults_are_not_hard_wired():
    def fixed(x, y, n_kernels=5, multiplier=2.0):
        return mmd(x, y)  # ignores the arguments

    result = check_mmd(fixed)
    assert result.status == "failed" and "3 kernels" in result.message


# --- Exercise 6.2: the RepNoise loss from its three terms -----------------------------------------------------------

def test_the_library_objective_passes_and_is_the_training_loss():
    assert check_repnoise_objective(repnoise_objective).status == "passed"
    assert repnoise_objective(2.0, 0.5, 1.0, alpha=1.0, beta=0.001) == pytest.approx(2.0005 - math.log(2))


def test_an_objective_written_another_way_passes():
    def mine(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
        return harmless_ce - alpha * torch.log1p(harmful_ce) + beta * noise_mmd

    assert check_repnoise_objective(mine).status == "passed"


@pytest.mark.parametrize("wrong, words", [
    (_harmful_sign, "wrong sign"),
    (_swapped, "alpha and beta are swapped"),
    (_no_plus_one, "without the +1"),
    (_plain_number, "carries no gradient"),
])
def test_typical_objective_mistakes_are_named(wrong, words):
    result = check_repnoise_objective(wrong)
    assert result.status == "failed"
    assert words in result.message and "smallest failing case" in result.message


def test_an_objective_stub_is_not_done_and_the_library_is_used():
    def stub(harmless_ce, noise_mmd, harmful_ce, alpha, beta):
        raise NotImplementedError()

    result = check_repnoise_objective(stub)
    assert result.status == "not done"
    assert use(result, stub, repnoise_objective, show=False) is repnoise_objective
    assert use(check_repnoise_objective(_swapped), _swapped, repnoise_objective, show=False) is repnoise_objective


def test_an_unnamed_wrong_objective_shows_the_answers():
    result = check_repnoise_objective(lambda harmless_ce, noise_mmd, harmful_ce, alpha, beta: harmless_ce)
    assert result.status == "failed" and "expected [" in result.message and "dL/d harmful_ce" in result.message
