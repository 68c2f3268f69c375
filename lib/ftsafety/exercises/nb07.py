"""Notebook 07's exercises: a DPO model's implicit reward read as a judge, and a scorer's pairwise agreement."""
from __future__ import annotations

from typing import Callable

import torch

from ..metrics import Rate
from . import Case, Check, check

# --- Exercise 7.1: the implicit reward of a DPO model --------------------------------------------------------------
# Per-token log-probabilities [batch, length] of a policy and its reference, and the completion mask (1 on the answer's
# tokens). Prompt tokens and padding have log-probabilities that differ between the two models, so that summing them
# in gives another answer.


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


IMPLICIT_CASES = [
    Case({"policy_logps": _t([[-2.0, -1.0, -0.5, -0.25]]), "reference_logps": _t([[-1.0, -3.0, -1.5, -1.0]]),
          "completion_mask": torch.tensor([[0, 0, 1, 1]]), "beta": 0.1},
         "one sequence: two prompt tokens, two answer tokens"),
    Case({"policy_logps": _t([[-1.0, -0.5, -2.0, -0.5, -4.0], [-2.0, -1.0, -0.2, -3.0, -3.0]]),
          "reference_logps": _t([[-2.0, -1.5, -1.0, -1.5, -1.0], [-1.0, -2.5, -1.2, -1.0, -1.0]]),
          "completion_mask": torch.tensor([[0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]), "beta": 0.1},
         "two answers of different lengths, right-padded"),
    Case({"policy_logps": _t([[-0.3, -2.0, -1.0, -0.7], [-1.1, -0.4, -0.9, -2.2]]),
          "reference_logps": _t([[-0.9, -1.0, -0.5, -1.7], [-0.1, -1.4, -0.3, -0.2]]),
          "completion_mask": torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]]), "beta": 0.5},
         "another beta, prompts of different lengths"),
]


def _all_tokens(policy_logps, reference_logps, completion_mask, beta):
    return beta * (policy_logps - reference_logps).sum(-1)


def _mean(policy_logps, reference_logps, completion_mask, beta):
    m = completion_mask.float()
    return beta * ((policy_logps - reference_logps) * m).sum(-1) / m.sum(-1)


def _no_beta(policy_logps, reference_logps, completion_mask, beta):
    return ((policy_logps - reference_logps) * completion_mask.float()).sum(-1)


def _swapped(policy_logps, reference_logps, completion_mask, beta):
    return beta * ((reference_logps - policy_logps) * completion_mask.float()).sum(-1)


IMPLICIT_MISTAKES = [
    ("prompt tokens included: the sum runs over the answer's tokens only (where completion_mask is 1); the prompt is "
     "the same for both answers of a pair and padding is no text at all", _all_tokens),
    ("mean instead of sum: log pi(y|x) is the SUM of the answer's token log-probabilities; dividing by the answer's "
     "length gives a per-token average, which is not DPO's reward", _mean),
    ("beta missing: r(x, y) = beta * (log pi(y|x) - log pi_ref(y|x)), and DPO trained with that beta", _no_beta),
    ("reference and policy swapped: r = beta * (log pi_policy - log pi_ref); yours has the opposite sign, so it "
     "prefers what the policy learnt to avoid", _swapped),
]


def check_implicit_reward(fn: Callable) -> Check:
    """Check ``fn(policy_logps, reference_logps, completion_mask, beta) -> [batch]`` against
    :func:`ftsafety.rewards.implicit_reward` (the per-token form of :class:`~ftsafety.rewards.ImplicitRewardScorer`)."""
    from ..rewards import implicit_reward

    return check("the implicit reward", fn, IMPLICIT_CASES, implicit_reward, IMPLICIT_MISTAKES, rtol=1e-5, atol=1e-6)


# --- Exercise 7.2: pairwise agreement with the labels --------------------------------------------------------------

def pair_agreement(better_scores, worse_scores) -> Rate:
    """The reference: the library's own path, :func:`ftsafety.rewards.score_pairs` then
    :func:`ftsafety.rewards.agreement`, with a scorer that returns the given scores."""
    from ..rewards import agreement, score_pairs

    pairs = [{"prompt": f"prompt {i}", "better": f"better {i}", "worse": f"worse {i}"} for i in range(len(better_scores))]
    table = {(p["prompt"], p["better"]): float(b) for p, b in zip(pairs, better_scores)}
    table |= {(p["prompt"], p["worse"]): float(w) for p, w in zip(pairs, worse_scores)}

    def scorer(prompts, responses):
        return [table[(p, r)] for p, r in zip(prompts, responses)]

    return agreement(score_pairs(scorer, pairs))


AGREEMENT_CASES = [
    Case({"better_scores": [1.0], "worse_scores": [0.0]}, "one pair"),
    Case({"better_scores": [0.2, 0.9, 0.4], "worse_scores": [0.1, 0.3, 0.6]}, "three pairs, no ties"),
    Case({"better_scores": [1.0, 0.0, 1.0, 1.0], "worse_scores": [0.0, 0.0, 1.0, 0.0]},
         "a judge's 0/1 scores: two ties"),
    Case({"better_scores": [-1.2, 0.3, 2.0, -0.5, 0.0], "worse_scores": [-1.5, 0.3, 2.5, -0.7, 0.1]},
         "reward-model logits, one tie"),
]


def _ties_agree(better_scores, worse_scores) -> Rate:
    return Rate(sum(b >= w for b, w in zip(better_scores, worse_scores)), len(better_scores))


def _ties_dropped(better_scores, worse_scores) -> Rate:
    pairs = [(b, w) for b, w in zip(better_scores, worse_scores) if b != w]
    return Rate(sum(b > w for b, w in pairs), len(pairs))


def _ties_half(better_scores, worse_scores) -> Rate:
    return Rate(sum(1.0 if b > w else 0.5 if b == w else 0.0 for b, w in zip(better_scores, worse_scores)),
                len(better_scores))


def _reversed(better_scores, worse_scores) -> Rate:
    return Rate(sum(w > b for b, w in zip(better_scores, worse_scores)), len(better_scores))


def _share(better_scores, worse_scores) -> float:
    return sum(b > w for b, w in zip(better_scores, worse_scores)) / len(better_scores)


AGREEMENT_MISTAKES = [
    ("a tie is not an agreement: a scorer that gives both responses the same score has not preferred the better one "
     "(count better > worse, strictly)", _ties_agree),
    ("a tie is not an agreement, and it still counts in n: dropping tied pairs from the denominator flatters a scorer "
     "that cannot tell the two responses apart", _ties_dropped),
    ("a tie is not an agreement, not even half of one: count it as a disagreement", _ties_half),
    ("agreement counts the pairs where the BETTER response scores higher; yours counts the worse one", _reversed),
    ("return a Rate(k, n), not the share k / n: the Rate carries the count and its Wilson interval", _share),
]


def check_agreement(fn: Callable) -> Check:
    """Check ``fn(better_scores, worse_scores) -> Rate`` against the library's ``agreement(score_pairs(...))``."""
    return check("pairwise agreement", fn, AGREEMENT_CASES, pair_agreement, AGREEMENT_MISTAKES)


# --- Exercise 7.3: the reward model's loss (Bradley-Terry, as TRL's RewardTrainer minimises it) -------------------
# The reference is written here, not in ``ftsafety.rewards``: the library trains its reward model with TRL's
# ``RewardTrainer`` and has no standalone loss function. It is TRL 1.16's ``RewardTrainer.compute_loss`` term for term
# (tests/test_exercises_nb07.py runs TRL's own ``compute_loss`` on every case below): ``-logsigmoid(r_chosen -
# r_rejected [- margin]).mean()``; TRL subtracts a margin only when the data carry a "margin" column, and adds the
# centering term only when ``center_rewards_coefficient`` is set (the course's ``RewardConfig`` leaves it None).

def reward_model_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor,
                      margin: torch.Tensor | None = None) -> torch.Tensor:
    """The Bradley-Terry loss of a reward model on a batch of pairs, as TRL's ``RewardTrainer`` computes it:
    ``-log sigmoid(r_chosen - r_rejected - margin)`` averaged over the pairs (no margin term when ``margin`` is None).
    ``[n]`` tensors in, a scalar tensor out."""
    diff = chosen_rewards - rejected_rewards
    if margin is not None:
        diff = diff - margin
    return -torch.nn.functional.logsigmoid(diff).mean()


REWARD_LOSS_CASES = [
    Case({"chosen_rewards": _t([1.0]), "rejected_rewards": _t([0.0])}, "one pair, the chosen one scored higher"),
    Case({"chosen_rewards": _t([0.5, -0.25, 2.0]), "rejected_rewards": _t([-0.5, 0.25, 1.0])},
         "three pairs, one of them scored the wrong way round"),
    Case({"chosen_rewards": _t([1.0, 0.0, 2.5]), "rejected_rewards": _t([0.0, 0.5, 0.5]),
          "margin": _t([0.5, 0.0, 3.0])}, "with a margin per pair (a dataset with a \"margin\" column)"),
    Case({"chosen_rewards": _t([2.0, -60.0, 0.0]), "rejected_rewards": _t([2.0, 60.0, 0.5])},
         "a tie and a pair the model gets badly wrong (difference -120)"),
]


def _rm_flipped(chosen_rewards, rejected_rewards, margin=None):
    return reward_model_loss(rejected_rewards, chosen_rewards, margin)


def _rm_no_log(chosen_rewards, rejected_rewards, margin=None):
    diff = chosen_rewards - rejected_rewards - (0 if margin is None else margin)
    return -torch.sigmoid(diff).mean()


def _rm_one_minus_sigmoid(chosen_rewards, rejected_rewards, margin=None):
    diff = chosen_rewards - rejected_rewards - (0 if margin is None else margin)
    return (1 - torch.sigmoid(diff)).mean()


def _rm_sum(chosen_rewards, rejected_rewards, margin=None):
    diff = chosen_rewards - rejected_rewards - (0 if margin is None else margin)
    return -torch.nn.functional.logsigmoid(diff).sum()


def _rm_margin_ignored(chosen_rewards, rejected_rewards, margin=None):
    return reward_model_loss(chosen_rewards, rejected_rewards)


def _rm_margin_added(chosen_rewards, rejected_rewards, margin=None):
    return reward_model_loss(chosen_rewards, rejected_rewards, None if margin is None else -margin)


def _rm_centered(chosen_rewards, rejected_rewards, margin=None):
    return (reward_model_loss(chosen_rewards, rejected_rewards, margin)
            + 0.01 * torch.mean((chosen_rewards + rejected_rewards) ** 2))


def _rm_log_of_sigmoid(chosen_rewards, rejected_rewards, margin=None):
    diff = chosen_rewards - rejected_rewards - (0 if margin is None else margin)
    return -torch.log(torch.sigmoid(diff)).mean()


REWARD_LOSS_MISTAKES = [
    ("sign flipped: the loss is -log sigmoid(r_chosen - r_rejected); yours uses rejected minus chosen, so minimising it "
     "would teach the reward model to prefer the rejected answer", _rm_flipped),
    ("sigmoid without the log: sigmoid(r_chosen - r_rejected) is Bradley-Terry's probability that the chosen answer "
     "is preferred, and the loss is its negative LOG-likelihood, -log sigmoid(...)", _rm_no_log),
    ("sigmoid without the log: 1 - sigmoid(d) is not the loss; the loss is the negative log-likelihood, "
     "-log sigmoid(r_chosen - r_rejected)", _rm_one_minus_sigmoid),
    ("sum instead of mean: TRL averages the per-pair losses over the batch (.mean()), so the loss does not grow with "
     "the number of pairs", _rm_sum),
    ("margin missing: when the data give a margin, TRL subtracts it inside the sigmoid, "
     "-log sigmoid(r_chosen - r_rejected - margin)", _rm_margin_ignored),
    ("margin with the wrong sign: TRL subtracts the margin, -log sigmoid(r_chosen - r_rejected - margin), so the chosen "
     "answer must beat the rejected one BY the margin", _rm_margin_added),
    ("a centering term TRL does not add here: 0.01 * mean((r_chosen + r_rejected)^2) is added only when "
     "center_rewards_coefficient is set, and the course's RewardConfig leaves it None", _rm_centered),
    ("-log(sigmoid(d)) becomes inf when d is very negative (sigmoid(-120) is 0 in float32): use "
     "torch.nn.functional.logsigmoid, which TRL uses and which stays finite", _rm_log_of_sigmoid),
]


def check_reward_loss(fn: Callable) -> Check:
    """Check ``fn(chosen_rewards, rejected_rewards, margin=None) -> scalar`` against :func:`reward_model_loss` (TRL
    1.16's ``RewardTrainer.compute_loss``, written out)."""
    return check("the reward model's loss", fn, REWARD_LOSS_CASES, reward_model_loss, REWARD_LOSS_MISTAKES,
                 rtol=1e-5, atol=1e-6)
