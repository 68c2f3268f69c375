"""Notebook 05's checkers, and the library's losses against TRL's own ``DPOTrainer`` loss on made-up log-probs."""
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from ftsafety.exercises import use
from ftsafety.exercises import nb05
from ftsafety.preference import dpo_sigmoid_loss, implicit_reward, ipo_loss, nca_pair_loss

CHECKERS = [
    (nb05.check_implicit_reward, implicit_reward, nb05.REWARD_MISTAKES),
    (nb05.check_dpo_loss, dpo_sigmoid_loss, nb05.DPO_MISTAKES),
    (nb05.check_ipo_loss, ipo_loss, nb05.IPO_MISTAKES),
    (nb05.check_nca_loss, nca_pair_loss, nb05.NCA_MISTAKES),
]
MISTAKES = [(checker, wrong, message) for checker, _, mistakes in CHECKERS for message, wrong in mistakes]


@pytest.mark.parametrize("checker, reference", [(c, r) for c, r, _ in CHECKERS])
def test_the_reference_passes(checker, reference):
    result = checker(reference)
    assert result.status == "passed" and result.cases >= 3


def test_losses_written_by_hand_pass():
    import torch.nn.functional as F

    def dpo(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
        chosen = beta * (chosen_logps - ref_chosen_logps)
        rejected = beta * (rejected_logps - ref_rejected_logps)
        return torch.log1p(torch.exp(-(chosen - rejected))).mean()  # -log sigmoid(x) = log(1 + e^-x)

    def nca(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
        rw, rl = beta * (chosen_logps - ref_chosen_logps), beta * (rejected_logps - ref_rejected_logps)
        return (-F.logsigmoid(rw) - (F.logsigmoid(-rw) + F.logsigmoid(-rl)) / 2).mean()

    assert nb05.check_dpo_loss(dpo).passed
    assert nb05.check_nca_loss(nca).passed


@pytest.mark.parametrize("checker, wrong, message", MISTAKES)
def test_typical_mistakes_are_named(checker, wrong, message):
    result = checker(wrong)
    assert result.status == "failed"
    assert result.message.startswith(message) and "smallest failing case" in result.message


@pytest.mark.parametrize("checker, words", [
    (nb05.check_dpo_loss, ["beta applied twice", "you averaged before the log-sigmoid",
                           "sign flipped: chosen and rejected swapped"]),
    (nb05.check_ipo_loss, ["IPO's target is 1/(2β)", "sign flipped: chosen and rejected swapped"]),
    (nb05.check_nca_loss, ["NCA uses each log-ratio on its own, not only the margin", "beta applied twice",
                           "sign flipped: chosen and rejected swapped"]),
])
def test_the_mistakes_the_course_names_are_there(checker, words):
    messages = " | ".join(m for c, _, mistakes in CHECKERS if c is checker for m, _ in mistakes)
    for w in words:
        assert w in messages


def test_a_stub_is_not_done_and_the_library_is_used():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for checker, reference, mistakes in CHECKERS:
        result = checker(stub)
        assert result.status == "not done"
        assert use(result, stub, reference, show=False) is reference
        wrong = mistakes[0][1]
        assert use(checker(wrong), wrong, reference, show=False) is reference


def test_a_crash_is_a_failure_not_an_error():
    result = nb05.check_dpo_loss(lambda **kw: kw["chosen_logps"] @ torch.ones(7))
    assert result.status == "failed" and "raised" in result.message


# --- TRL's own loss ---------------------------------------------------------------------------------------------------
# TRL 1.16 computes every DPO loss inside DPOTrainer._compute_loss (trl/trainer/dpo_trainer.py), reached through the
# public Trainer hook DPOTrainer.compute_loss(model, inputs); there is no standalone dpo_loss method any more. We call
# that code itself, unbound, on a stand-in trainer (only the attributes it reads) and a stand-in model that returns
# chosen per-token log-probs, with the reference log-probs given as precomputed (precompute_ref_log_probs), so no
# language model is built.

class _Accelerator:
    device = torch.device("cpu")

    def gather_for_metrics(self, x):
        return x

    def gather(self, x):
        return x

    def unwrap_model(self, model):
        return model


class _Model:
    """Returns the per-token log-probs it was given, and zeros for the metrics TRL logs."""

    training = True

    def __init__(self, per_token_logps):
        self.per_token_logps = per_token_logps

    def __call__(self, **kwargs):
        n, t = self.per_token_logps.shape
        return SimpleNamespace(log_probs=self.per_token_logps, entropy=torch.zeros(n, t),
                               mean_logits=torch.zeros(n, t), is_top1=torch.zeros(n, t, dtype=torch.bool))


def trl_loss(loss_type, chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta,
             chosen_tokens=None, rejected_tokens=None):
    """TRL's loss of ``loss_type`` on a batch of summed log-probs; each answer's log-prob is spread evenly over its
    ``*_tokens`` completion tokens (1 by default: then IPO's per-token average is the sum)."""
    from trl import DPOTrainer

    n = len(chosen_logps)
    tokens = list(chosen_tokens or [1] * n) + list(rejected_tokens or [1] * n)
    width = max(tokens) + 2  # one prompt token first; TRL's shifted tensors are one shorter
    completion_mask = torch.zeros(2 * n, width, dtype=torch.long)
    per_token = torch.zeros(2 * n, width - 1)
    for i, (logp, k) in enumerate(zip(torch.cat([chosen_logps, rejected_logps]), tokens)):
        completion_mask[i, 1:1 + k] = 1
        per_token[i, :k] = logp / k
    model = _Model(per_token)
    trainer = SimpleNamespace(
        loss_types=[loss_type], loss_weights=[1.0], beta=beta, label_smoothing=0.0, model=model,
        accelerator=_Accelerator(), precompute_ref_logps=True, ld_alpha=None, f_divergence_type="reverse_kl",
        use_weighting=False, aux_loss_enabled=False, args=SimpleNamespace(),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1)
    trainer._compute_loss = lambda *a: DPOTrainer._compute_loss(trainer, *a)
    inputs = {"input_ids": torch.zeros(2 * n, width, dtype=torch.long),
              "attention_mask": torch.ones(2 * n, width, dtype=torch.long), "completion_mask": completion_mask,
              "ref_chosen_logps": ref_chosen_logps, "ref_rejected_logps": ref_rejected_logps}
    loss = DPOTrainer.compute_loss(trainer, model, inputs)
    return loss, trainer._metrics["train"]


BATCH = dict(chosen_logps=torch.tensor([-10.0, -20.0, -5.0, -41.0]),
             rejected_logps=torch.tensor([-12.0, -15.0, -9.0, -30.0]),
             ref_chosen_logps=torch.tensor([-11.0, -18.0, -6.0, -40.0]),
             ref_rejected_logps=torch.tensor([-11.0, -16.0, -8.0, -33.0]))


@pytest.mark.parametrize("beta", [0.1, 0.5])
@pytest.mark.parametrize("loss_type, ours", [("sigmoid", dpo_sigmoid_loss), ("nca_pair", nca_pair_loss)])
def test_the_library_losses_are_trls(loss_type, ours, beta):
    theirs, _ = trl_loss(loss_type, **BATCH, beta=beta)
    assert torch.allclose(theirs, ours(**BATCH, beta=beta), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_ipo_is_trls_on_per_token_averages(beta):
    chosen_tokens, rejected_tokens = [2, 5, 3, 7], [4, 1, 3, 6]
    theirs, _ = trl_loss("ipo", **BATCH, beta=beta, chosen_tokens=chosen_tokens, rejected_tokens=rejected_tokens)
    c, r = torch.tensor(chosen_tokens, dtype=torch.float32), torch.tensor(rejected_tokens, dtype=torch.float32)
    averaged = dict(chosen_logps=BATCH["chosen_logps"] / c, rejected_logps=BATCH["rejected_logps"] / r,
                    ref_chosen_logps=BATCH["ref_chosen_logps"] / c, ref_rejected_logps=BATCH["ref_rejected_logps"] / r)
    assert torch.allclose(theirs, ipo_loss(**averaged, beta=beta), rtol=1e-6, atol=1e-6)
    # on sums it is another number: TRL's IPO is length-normalised
    assert not torch.allclose(theirs, ipo_loss(**BATCH, beta=beta), rtol=1e-3)


def test_one_token_answers_make_trls_ipo_the_formula_on_sums():
    theirs, _ = trl_loss("ipo", **BATCH, beta=0.1)
    assert torch.allclose(theirs, ipo_loss(**BATCH, beta=0.1), rtol=1e-6)


def test_the_implicit_rewards_are_trls_logged_rewards():
    _, metrics = trl_loss("sigmoid", **BATCH, beta=0.1)
    chosen = implicit_reward(BATCH["chosen_logps"], BATCH["ref_chosen_logps"], 0.1)
    rejected = implicit_reward(BATCH["rejected_logps"], BATCH["ref_rejected_logps"], 0.1)
    assert metrics["rewards/chosen"][-1] == pytest.approx(chosen.mean().item(), rel=1e-6)
    assert metrics["rewards/rejected"][-1] == pytest.approx(rejected.mean().item(), rel=1e-6)
    assert metrics["rewards/margins"][-1] == pytest.approx((chosen - rejected).mean().item(), rel=1e-6)


@pytest.mark.parametrize("loss_type, checker", [("sigmoid", nb05.check_dpo_loss), ("nca_pair", nb05.check_nca_loss),
                                                ("ipo", nb05.check_ipo_loss)])
def test_trls_own_loss_passes_the_checker(loss_type, checker):
    """With one-token answers TRL's loss is a function of the four log-probs and beta: hand it to the checker."""
    def theirs(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
        return trl_loss(loss_type, chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)[0]

    assert checker(theirs).passed


@pytest.mark.parametrize("loss_type, mistake", [("sigmoid", nb05._dpo_swapped), ("nca_pair", nb05._nca_margin_only),
                                                ("ipo", nb05._ipo_half_beta)])
def test_trl_disagrees_with_the_typical_mistakes(loss_type, mistake):
    theirs, _ = trl_loss(loss_type, **BATCH, beta=0.1)
    assert not torch.allclose(theirs, mistake(**BATCH, beta=0.1), rtol=1e-3)


# --- Exercise 5.5: the Pareto front -----------------------------------------------------------------------------------

def test_the_library_pareto_front_passes():
    from ftsafety.metrics import pareto_front

    result = nb05.check_pareto_front(pareto_front)
    assert result.status == "passed" and result.cases >= 5


def test_a_pareto_front_written_by_hand_passes():
    def mine(points):
        def beaten(name):
            x, y = points[name]
            return any(x2 >= x and y2 >= y and (x2 > x or y2 > y) for other, (x2, y2) in points.items()
                       if other != name)
        return sorted((n for n in points if not beaten(n)), key=lambda n: points[n][0])

    result = nb05.check_pareto_front(mine)
    assert result.passed
    assert use(result, mine, None, show=False) is mine


@pytest.mark.parametrize("message, wrong", nb05.PARETO_MISTAKES)
def test_pareto_mistakes_are_named(message, wrong):
    result = nb05.check_pareto_front(wrong)
    assert result.status == "failed"
    assert result.message.startswith(message) and "smallest failing case" in result.message


@pytest.mark.parametrize("wrong, words", [
    (nb05._pareto_either, "beaten on one coordinate only is not dominated"),
    (nb05._pareto_strict, "tied on one coordinate and worse on the other is beaten"),
    (nb05._pareto_self, "each point dominated itself"),
    (nb05._pareto_identical_removed, "identical points removed each other"),
    (nb05._pareto_lower_second, "treats lower as better"),
    (nb05._pareto_lower_first, "treats lower as better"),
    (nb05._pareto_unsorted, "not sorted"),
    (nb05._pareto_ties_by_name, "identical points come in the order they have"),
])
def test_the_pareto_mistakes_the_course_names_are_there(wrong, words):
    assert words in nb05.check_pareto_front(wrong).message


def test_the_pareto_messages_say_what_the_library_does():
    """The messages state the library's rule on ties and identical points: pin it, so they cannot drift apart."""
    from ftsafety.metrics import pareto_front

    assert pareto_front({"b": (0.6, 0.6), "a": (0.6, 0.6)}) == ["b", "a"]  # identical: both stay, in the order given
    assert pareto_front({"a": (0.5, 0.8), "b": (0.5, 0.6)}) == ["a"]  # tied on x, worse on y: beaten
    assert pareto_front({"a": (0.9, 0.1), "b": (0.7, 0.1)}) == ["a"]  # tied on y, worse on x: beaten
    assert pareto_front({"a": (0.8, 0.2), "b": (0.3, 0.9)}) == ["b", "a"]  # sorted by the first coordinate


def test_a_pareto_stub_is_not_done_and_the_library_is_used():
    from ftsafety.metrics import pareto_front

    def stub(points):
        raise NotImplementedError()

    result = nb05.check_pareto_front(stub)
    assert result.status == "not done"
    assert use(result, stub, pareto_front, show=False) is pareto_front
    wrong = nb05._pareto_identical_removed
    assert use(nb05.check_pareto_front(wrong), wrong, pareto_front, show=False) is pareto_front


def test_a_pareto_crash_is_a_failure_not_an_error():
    result = nb05.check_pareto_front(lambda points: max(points))
    assert result.status == "failed" and "raised ValueError" in result.message
