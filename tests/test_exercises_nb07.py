import pytest
import torch

from ftsafety.exercises import use
from ftsafety.exercises.nb07 import (_all_tokens, _mean, _no_beta, _reversed, _share, _swapped, _ties_agree,
                                     _ties_dropped, _ties_half, check_agreement, check_implicit_reward,
                                     pair_agreement)
from ftsafety.metrics import Rate, rate
from ftsafety.rewards import (ImplicitRewardScorer, answer_token_logps, implicit_reward, response_logps,
                              score_pairs)


# --- Exercise 7.1: the implicit reward ------------------------------------------------------------------------------

def test_the_library_implicit_reward_passes():
    assert check_implicit_reward(implicit_reward).status == "passed"


def test_a_masked_sum_written_by_hand_passes():
    def mine(policy_logps, reference_logps, completion_mask, beta):
        return beta * ((policy_logps - reference_logps) * completion_mask).sum(dim=1)

    assert check_implicit_reward(mine).passed


@pytest.mark.parametrize("wrong, words", [(_all_tokens, "prompt tokens included"), (_mean, "mean instead of sum"),
                                          (_no_beta, "beta missing"), (_swapped, "reference and policy swapped")])
def test_implicit_reward_mistakes_are_named(wrong, words):
    result = check_implicit_reward(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_implicit_reward_stub_is_not_done_and_the_library_is_used():
    def stub(policy_logps, reference_logps, completion_mask, beta):
        raise NotImplementedError()

    result = check_implicit_reward(stub)
    assert result.status == "not done"
    assert use(result, stub, implicit_reward, show=False) is implicit_reward
    assert use(check_implicit_reward(_mean), _mean, implicit_reward, show=False) is implicit_reward


def test_implicit_reward_ignores_what_the_mask_hides_even_if_it_is_infinite():
    pol = torch.tensor([[-float("inf"), -1.0, -2.0]])
    ref = torch.tensor([[-1.0, -1.5, -1.0]])
    assert implicit_reward(pol, ref, torch.tensor([[0, 1, 1]]), 0.1).tolist() == pytest.approx([-0.05])


def test_token_logps_and_the_implicit_reward_give_the_library_scorer(smoke):
    """The per-token form (the exercise's reference) and ImplicitRewardScorer (what the notebook stores) agree."""
    from ftsafety import models

    policy = models.load("smoke").model
    torch.manual_seed(0)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    prompts = ["How do I pick a lock?", "Say hi."]
    responses = ["I can't help with that.", "Hi! How are you today?"]
    pol, mask = answer_token_logps(policy, smoke.tokenizer, prompts, responses)
    ref, mask_ref = answer_token_logps(smoke.model, smoke.tokenizer, prompts, responses)
    assert torch.equal(mask, mask_ref) and mask.shape == pol.shape
    assert (pol * mask).sum(-1).tolist() == pytest.approx(response_logps(policy, smoke.tokenizer, prompts, responses),
                                                          rel=1e-4, abs=1e-4)
    ours = implicit_reward(pol, ref, mask, 0.1).tolist()
    library = ImplicitRewardScorer(policy, smoke.model, smoke.tokenizer, beta=0.1)(prompts, responses)
    assert ours == pytest.approx(library, rel=1e-4, abs=1e-4) and abs(library[0]) > 1e-3
    assert _all_tokens(pol, ref, mask, 0.1).tolist() != pytest.approx(library, rel=1e-4, abs=1e-4)


def test_the_completion_mask_covers_the_answer_tokens_only(smoke):
    from ftsafety.templates import get_template

    tpl = get_template("chat")
    _, mask = answer_token_logps(smoke.model, smoke.tokenizer, ["Say hi.", "Say hi."], ["Hi!", "Hi! How are you?"])
    answer_lengths = [len(smoke.tokenizer(tpl.render(smoke.tokenizer, "Say hi.") + tpl.completion(r),
                                          add_special_tokens=False).input_ids)
                      - len(smoke.tokenizer(tpl.render(smoke.tokenizer, "Say hi."), add_special_tokens=False).input_ids)
                      for r in ("Hi!", "Hi! How are you?")]
    assert mask.sum(-1).tolist() == answer_lengths and mask[0, -1] == 0  # the shorter one is padded


# --- Exercise 7.2: pairwise agreement -------------------------------------------------------------------------------

def test_the_library_agreement_passes():
    assert check_agreement(pair_agreement).status == "passed"


def test_the_reference_is_the_library_path_with_ties_as_disagreements():
    assert pair_agreement([1.0, 0.0, 0.5], [0.0, 0.0, 0.7]) == Rate(1, 3)
    constant = lambda prompts, responses: [0.0] * len(prompts)
    pairs = [{"prompt": "p", "better": "b", "worse": "w"}] * 3
    assert pair_agreement([0.0] * 3, [0.0] * 3) == rate([s["agrees"] for s in score_pairs(constant, pairs)])


def test_a_strict_comparison_written_by_hand_passes():
    assert check_agreement(lambda better_scores, worse_scores: rate(
        [b > w for b, w in zip(better_scores, worse_scores)])).passed


@pytest.mark.parametrize("wrong, words", [(_ties_agree, "a tie is not an agreement"),
                                          (_ties_dropped, "still counts in n"),
                                          (_ties_half, "not even half of one"),
                                          (_reversed, "BETTER response scores higher"),
                                          (_share, "not the share")])
def test_agreement_mistakes_are_named(wrong, words):
    result = check_agreement(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_counting_a_tie_as_an_agreement_names_the_tie():
    result = check_agreement(_ties_agree)
    assert result.message.startswith("a tie is not an agreement:") and "two ties" in result.message


def test_agreement_stub_is_not_done_and_the_library_is_used():
    def stub(better_scores, worse_scores):
        raise NotImplementedError()

    result = check_agreement(stub)
    assert result.status == "not done"
    assert use(result, stub, pair_agreement, show=False) is pair_agreement
    assert use(check_agreement(_ties_agree), _ties_agree, pair_agreement, show=False) is pair_agreement


# --- Exercise 7.3: the reward model's loss --------------------------------------------------------------------------

from collections import defaultdict  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from ftsafety.exercises.nb07 import (REWARD_LOSS_CASES, _rm_centered, _rm_flipped, _rm_log_of_sigmoid,  # noqa: E402
                                     _rm_margin_added, _rm_margin_ignored, _rm_no_log, _rm_one_minus_sigmoid,
                                     _rm_sum, check_reward_loss, reward_model_loss)


def trl_reward_loss(chosen_rewards, rejected_rewards, margin=None, center_rewards_coefficient=None):
    """TRL's own ``RewardTrainer.compute_loss`` on the given rewards: a stand-in model returns them as its logits
    (chosen first, then rejected, as TRL's collator stacks them), and a stand-in trainer holds what the method reads."""
    from trl import RewardTrainer

    logits = torch.cat([chosen_rewards, rejected_rewards])[:, None]
    model = lambda **inputs: SimpleNamespace(logits=logits)
    trainer = SimpleNamespace(model=SimpleNamespace(training=False),
                              args=SimpleNamespace(center_rewards_coefficient=center_rewards_coefficient),
                              accelerator=SimpleNamespace(gather=lambda x: x, gather_for_metrics=lambda x: x),
                              _metrics=defaultdict(lambda: defaultdict(list)), _total_train_tokens=0)
    inputs = {"input_ids": torch.zeros(len(logits), 1, dtype=torch.long)}
    if margin is not None:
        inputs["margin"] = margin
    return RewardTrainer.compute_loss(trainer, model, inputs)


def test_the_reference_is_trls_reward_trainer_loss_on_every_case():
    for case in REWARD_LOSS_CASES:
        assert reward_model_loss(**case.kwargs).item() == pytest.approx(trl_reward_loss(**case.kwargs).item(),
                                                                       rel=1e-6), case.note


def test_trls_own_loss_passes_the_checker():
    assert check_reward_loss(lambda chosen_rewards, rejected_rewards, margin=None:
                             trl_reward_loss(chosen_rewards, rejected_rewards, margin)).status == "passed"


def test_the_library_reward_loss_passes_and_is_stable():
    assert check_reward_loss(reward_model_loss).status == "passed"
    assert reward_model_loss(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(0.6931472)  # ln 2
    assert torch.isfinite(reward_model_loss(torch.tensor([-500.0]), torch.tensor([500.0])))


def test_the_centering_mistake_is_what_trl_adds_when_the_coefficient_is_set():
    c, r = torch.tensor([1.0, -0.5]), torch.tensor([0.25, 0.75])
    assert _rm_centered(c, r).item() == pytest.approx(trl_reward_loss(c, r, center_rewards_coefficient=0.01).item())


@pytest.mark.parametrize("wrong, words", [(_rm_flipped, "sign flipped"), (_rm_no_log, "sigmoid without the log"),
                                          (_rm_one_minus_sigmoid, "sigmoid without the log"),
                                          (_rm_sum, "sum instead of mean"), (_rm_margin_ignored, "margin missing"),
                                          (_rm_margin_added, "margin with the wrong sign"),
                                          (_rm_centered, "centering term"),
                                          (_rm_log_of_sigmoid, "logsigmoid")])
def test_reward_loss_mistakes_are_named(wrong, words):
    result = check_reward_loss(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_reward_loss_stub_is_not_done_and_the_library_is_used():
    def stub(chosen_rewards, rejected_rewards, margin=None):
        raise NotImplementedError()

    result = check_reward_loss(stub)
    assert result.status == "not done"
    assert use(result, stub, reward_model_loss, show=False) is reward_model_loss
    assert use(check_reward_loss(_rm_flipped), _rm_flipped, reward_model_loss, show=False) is reward_model_loss
    mine = lambda chosen_rewards, rejected_rewards, margin=None: reward_model_loss(chosen_rewards, rejected_rewards,
                                                                                   margin)
    assert use(check_reward_loss(mine), mine, reward_model_loss, show=False) is mine


def test_a_function_without_the_margin_argument_fails_on_the_margin_case():
    result = check_reward_loss(lambda chosen_rewards, rejected_rewards:
                               reward_model_loss(chosen_rewards, rejected_rewards))
    assert result.status == "failed" and "TypeError" in result.message and "margin" in result.message
