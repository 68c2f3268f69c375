import pytest

from ftsafety.exercises import use
from ftsafety.exercises.nb08 import (_order_ranks, _pearson, _squared_rank_differences, check_spearman,
                                     spearman)


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
