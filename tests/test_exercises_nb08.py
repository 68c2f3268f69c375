import numpy as np
import pytest

from ftsafety.exercises import use
from ftsafety.exercises.nb08 import (BOOTSTRAP_CASES, _five_ninety_five, _order_ranks, _pearson, _pooled_stat,
                                     _squared_rank_differences, _standard_error, _standard_error_ddof1,
                                     _without_replacement, bootstrap_interval, check_bootstrap_ci, check_spearman,
                                     spearman)
from ftsafety.metrics import bootstrap_ci


def test_the_reference_passes():
    assert check_spearman(spearman).passed


def test_average_ranks_written_by_hand_pass():
    import numpy as np
    from scipy.stats import rankdata

    assert check_spearman(lambda x, y: float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])).passed


@pytest.mark.parametrize("wrong, words", [(_order_ranks, "average) rank"), (_pearson, "Pearson's correlation of the values"),
                                          (_squared_rank_differences, "only without ties")])
def test_typical_mistakes_are_named(wrong, words):
    result = check_spearman(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_a_stub_is_not_done_and_the_library_is_used():
    def stub(x, y):
        raise NotImplementedError()

    result = check_spearman(stub)
    assert result.status == "not done"
    assert use(result, stub, spearman, show=False) is spearman
    assert use(check_spearman(_pearson), _pearson, spearman, show=False) is spearman


# --- Exercise 8.2: the percentile bootstrap interval --------------------------------------------------------------

def _one_matrix(values, stat, n_resamples, seed):
    """The notebook's solution: one (n_resamples, n) draw, stat row by row, np.percentile."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_resamples, len(x)))
    stats = np.array([stat(x[row]) for row in idx])
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(stat(x)), float(low), float(high)


def _with_choice(values, stat, n_resamples, seed):
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    stats = [stat(rng.choice(x, size=len(x))) for _ in range(n_resamples)]
    return float(stat(x)), float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975))


def _stat_of_the_original(values, stat, n_resamples, seed):
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_resamples):
        rng.integers(0, len(x), len(x))
        stats.append(stat(x))  # the resample is drawn, then ignored
    return float(stat(x)), float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975))


def _mean_of_resamples_as_point(values, stat, n_resamples, seed):
    point, low, high = bootstrap_interval(values, stat, n_resamples, seed)
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    return float(np.mean([stat(x[rng.integers(0, len(x), len(x))]) for _ in range(n_resamples)])), low, high


def test_the_bootstrap_reference_is_the_librarys_and_passes():
    assert check_bootstrap_ci(bootstrap_interval).passed
    for case in BOOTSTRAP_CASES:
        kw = case.kwargs
        assert bootstrap_interval(**kw) == bootstrap_ci(kw["values"], stat=kw["stat"], n_boot=kw["n_resamples"],
                                                        seed=kw["seed"])


@pytest.mark.parametrize("right", [_one_matrix, _with_choice])
def test_other_correct_bootstraps_pass(right):
    assert check_bootstrap_ci(right).passed


@pytest.mark.parametrize("wrong, words", [
    (_without_replacement, "WITH replacement"), (_stat_of_the_original, "apply stat to the resample"),
    (_five_ninety_five, "90% interval"), (_standard_error, "standard-error interval"),
    (_standard_error_ddof1, "standard-error interval"), (_pooled_stat, "whole (n_resamples, n) array")])
def test_typical_bootstrap_mistakes_are_named(wrong, words):
    result = check_bootstrap_ci(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message
    assert result.cases == 1  # the smallest case already catches each of them


def test_a_wrong_point_estimate_fails():
    result = check_bootstrap_ci(_mean_of_resamples_as_point)
    assert result.status == "failed" and "expected" in result.message


def test_a_bootstrap_stub_is_not_done_and_the_library_is_used():
    def stub(values, stat, n_resamples, seed):
        raise NotImplementedError()

    result = check_bootstrap_ci(stub)
    assert result.status == "not done"
    assert use(result, stub, bootstrap_interval, show=False) is bootstrap_interval
    assert use(check_bootstrap_ci(_five_ninety_five), _five_ninety_five, bootstrap_interval,
               show=False) is bootstrap_interval
    assert use(check_bootstrap_ci(_one_matrix), _one_matrix, bootstrap_interval, show=False) is _one_matrix
