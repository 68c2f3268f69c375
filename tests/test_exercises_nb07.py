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
