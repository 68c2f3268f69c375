import math

import pytest
import torch

from ftsafety import data
from ftsafety.models import load
from ftsafety.repnoise import (collate_pairs, harmful_mask, mmd, paired_rows, repnoise_lora, repnoise_loss,
                               _mlp_modules)


def _mmd_by_hand(x, y, kernels=5, mul=2.0):
    pts = list(x) + list(y)
    n, b = len(pts), len(x)
    d2 = [[float(((p - q) ** 2).sum()) for q in pts] for p in pts]
    bw = sum(map(sum, d2)) / (n * n - n) / mul ** (kernels // 2)
    k = [[sum(math.exp(-d2[i][j] / (bw * mul**t)) for t in range(kernels)) for j in range(n)] for i in range(n)]
    xx = sum(k[i][j] for i in range(b) for j in range(b))
    yy = sum(k[i][j] for i in range(b, n) for j in range(b, n))
    xy = sum(k[i][j] for i in range(b) for j in range(b, n))
    return (xx + yy - 2 * xy) / (b * b)


def test_mmd_matches_the_formula_and_separates_distributions():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g) + 3.0
    assert float(mmd(x, y)) == pytest.approx(_mmd_by_hand(x, y), rel=1e-5)
    same = torch.randn(4, 6, generator=g)
    assert float(mmd(same, same)) == pytest.approx(0.0, abs=1e-6)
    assert float(mmd(x, y)) > float(mmd(x, torch.randn(4, 6, generator=g))) > 0


def test_mask_keeps_differing_completion_tokens_not_prompt_or_padding():
    harmful = torch.tensor([[5, 6, 7, 8, 0], [5, 6, 9, 0, 0]])
    harmless = torch.tensor([[5, 6, 1, 2, 3], [5, 6, 9, 4, 0]])
    att = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])
    assert harmful_mask(harmful, harmless, att).tolist() == [[False, False, True, True, False], [False] * 5]


def _batch(tokenizer, n=3):
    rows = paired_rows(tokenizer, data.harmful("train")[:n], max_length=64)
    return collate_pairs(rows, tokenizer.pad_token_id or 0)


def _ce_by_hand(logits, ids, mask):
    logp = torch.log_softmax(logits.float(), -1)
    terms = [-logp[b, t - 1, ids[b, t]] for b in range(ids.shape[0]) for t in range(1, ids.shape[1]) if mask[b, t]]
    return torch.stack(terms).mean()


def test_loss_equals_a_direct_computation_on_a_tiny_model(smoke):
    model, tok = smoke.model, smoke.tokenizer
    batch = _batch(tok)
    h, s = batch["harmful"], batch["harmless"]
    alpha, beta = 0.7, 0.5
    got = repnoise_loss(model, h, s, alpha, beta, generator=torch.Generator().manual_seed(3))

    mask = (h["input_ids"] != s["input_ids"]) & (h["attention_mask"] == 1)
    assert mask.any() and not mask[:, :5].any()  # the shared prompt is never in the mask
    acts = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: acts.append(o)) for m in _mlp_modules(model)]
    with torch.no_grad():
        out = model(input_ids=h["input_ids"], attention_mask=h["attention_mask"], output_hidden_states=True)
    for hk in hooks:
        hk.remove()
    g = torch.Generator().manual_seed(3)
    keep = mask.unsqueeze(-1).float()
    noise = []
    for a in acts:
        z = torch.randn(a.shape, generator=g) * keep
        noise.append(_mmd_by_hand((a * keep).reshape(a.shape[0], -1).double(), z.reshape(a.shape[0], -1).double()))
    noise_mmd = sum(noise) / len(noise)
    lens = [_ce_by_hand(out.logits, h["input_ids"], mask)]
    lens += [_ce_by_hand(model.lm_head(model.model.norm(hs)), h["input_ids"], mask) for hs in out.hidden_states]
    harmful_ce = sum(lens) / len(out.hidden_states)
    refusal_mask = s["labels"] != -100
    with torch.no_grad():
        harmless_ce = _ce_by_hand(model(input_ids=s["input_ids"], attention_mask=s["attention_mask"]).logits,
                                  s["input_ids"], refusal_mask)
    want = harmless_ce + beta * noise_mmd - alpha * torch.log(harmful_ce + 1)
    assert float(got.noise_mmd.detach()) == pytest.approx(noise_mmd, rel=1e-3)
    assert float(got.harmful_ce.detach()) == pytest.approx(float(harmful_ce), rel=1e-4)
    assert float(got.harmless_ce.detach()) == pytest.approx(float(harmless_ce), rel=1e-4)
    assert float(got.loss.detach()) == pytest.approx(float(want), rel=1e-3)
    assert all(not m._forward_hooks for m in _mlp_modules(model))  # hooks removed after use


def test_loss_trains_only_lora_weights_of_a_wrapped_model(smoke_profile):
    from peft import get_peft_model

    from ftsafety.training import lora_config

    m = load("smoke", for_training=True)
    peft_model = get_peft_model(m.model, lora_config(smoke_profile))
    batch = _batch(m.tokenizer, 2)
    parts = repnoise_loss(peft_model, batch["harmful"], batch["harmless"])
    parts.loss.backward()
    grads = {n for n, p in peft_model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert grads and all("lora_" in n for n in grads)
    assert all(not mod._forward_hooks for mod in _mlp_modules(peft_model))


def test_repnoise_lora_trains_records_parts_and_saves_an_adapter(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    res = repnoise_lora(m.model, m.tokenizer, data.harmful("train")[:8], smoke_profile, tmp_path, progress=False)
    assert (res.adapter_dir / "adapter_config.json").is_file() and (tmp_path / "train_summary.json").is_file()
    assert len(res.history) == smoke_profile.max_steps
    assert all(math.isfinite(h["loss"]) and h["noise_mmd"] >= 0 for h in res.history)


def test_examples_without_a_refusal_are_named(smoke):
    with pytest.raises(ValueError, match="example 1 lacks \\['refusal'\\]"):
        paired_rows(smoke.tokenizer, [{"prompt": "a", "refusal": "no", "compliance": "yes"},
                                      {"prompt": "b", "compliance": "yes"}])


def test_attack_content_counts_the_content_stand_ins_not_the_opener():
    from ftsafety.repnoise import attack_content_rate

    got = attack_content_rate(["Sure! Here's how:\n1. [redacted step]", "Sure! Here's how:\n1. [1]. [2].",
                               "banana", "I'm sorry, I can't."])
    assert (got.k, got.n) == (1, 4)


def test_logit_lens_reads_float32_states_through_a_half_precision_head(smoke):
    """On a GPU the weights are bf16 while some hidden states stay float32."""
    import copy

    import torch

    from ftsafety.repnoise import lens_ce

    model = copy.deepcopy(smoke.model).to(torch.bfloat16)
    hidden = torch.randn(2, 5, model.config.hidden_size)  # float32
    ids = torch.randint(0, 100, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.bool)
    loss = lens_ce(hidden, ids, mask, model.model.norm, model.lm_head)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


# --- the attack's loss on held-out completions (notebook 06, after the sweep) ----------------------------------------

HELD_OUT = [{"prompt": r["prompt"], "response": r["compliance"]} for r in data.harmful("test")[:4]]


def _attack(profile, name: str, rows, lr: float):
    """Train a smoke attack as finetune_and_evaluate does (adapter and config in <run>/train); returns its Run and the
    merged model it trained."""
    from ftsafety.experiments import Experiment, SFTModel
    from ftsafety.runs import Run

    run = Run(profile.name, "06-attack-loss-test", name)
    model, tokenizer, _ = SFTModel(profile, Experiment(name, rows, lr=lr), "smoke", run.dir / "train",
                                   progress=False).get()
    return run, model, tokenizer


@pytest.fixture(scope="module")
def learned(smoke_profile):
    """An attack trained on the held-out rows themselves (only here: the notebook's attacks never see them)."""
    return _attack(smoke_profile.replace(max_steps=8), "on-held-out", HELD_OUT, lr=1e-2)


def test_attacked_losses_are_the_attacked_models_per_item_losses_and_are_read_back(smoke_profile, learned,
                                                                                    monkeypatch):
    from ftsafety import repnoise
    from ftsafety.representations import response_logps

    run, model, tokenizer = learned
    got = repnoise.attacked_completion_losses(smoke_profile, "06-attack-loss-test", run, HELD_OUT)
    want = response_logps(model, tokenizer, [r["prompt"] for r in HELD_OUT], [r["response"] for r in HELD_OUT],
                          with_counts=True)
    assert list(got.by_prompt()) == [r["prompt"] for r in HELD_OUT]
    assert list(got.by_prompt().values()) == pytest.approx([-s / n for s, n in want], rel=1e-4)
    assert got.mean == pytest.approx(-sum(s for s, _ in want) / sum(n for _, n in want), rel=1e-4)

    def no_model(*_):
        raise AssertionError("the stored losses should have been read back")

    monkeypatch.setattr(repnoise, "attacked_model", no_model)
    again = repnoise.attacked_completion_losses(smoke_profile, "06-attack-loss-test", run, HELD_OUT)
    assert again.items == got.items
    with pytest.raises(AssertionError, match="read back"):  # other rows: the model is needed again
        repnoise.attacked_completion_losses(smoke_profile, "06-attack-loss-test", run, HELD_OUT[:2])


def test_an_attack_on_the_completions_lowers_their_loss_below_the_base_models(smoke_profile, learned):
    from ftsafety.repnoise import attacked_completion_losses, stored_completion_losses

    run, _, _ = learned
    attacked = attacked_completion_losses(smoke_profile, "06-attack-loss-test", run, HELD_OUT)
    base = stored_completion_losses(smoke_profile, "06-attack-loss-test", "smoke", {"model": "smoke"},
                                    lambda: load("smoke"), HELD_OUT)
    lower = [attacked.by_prompt()[p] < loss for p, loss in base.by_prompt().items()]
    assert all(lower) and attacked.mean < base.mean - 0.1


def test_attacked_losses_need_a_trained_attack(smoke_profile):
    from ftsafety.repnoise import attacked_completion_losses
    from ftsafety.runs import Run

    with pytest.raises(FileNotFoundError, match="no trained adapter"):
        attacked_completion_losses(smoke_profile, "06-attack-loss-test", Run("smoke", "x", "never-trained"), HELD_OUT)
