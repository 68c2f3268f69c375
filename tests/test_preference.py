import pytest

from ftsafety import data
from ftsafety.models import load
from ftsafety.preference import PAPER_LOSSES, available_methods, preference_lora, preference_pairs


def test_pairs_prefer_refusal_on_harm_and_help_on_safe_prompts():
    pairs = preference_pairs(6, 6, seed=1)
    assert len(pairs) == 12 and {p["kind"] for p in pairs} == {"safety", "helpful"}
    train = {r["prompt"] for r in data.harmful("train")}
    refusals = {r["refusal"] for r in data.harmful()}
    for p in pairs:
        if p["kind"] == "safety":
            assert p["prompt"] in train and p["chosen"] in refusals and "redact" in p["rejected"].lower()
        else:
            assert p["prompt"] not in train and p["rejected"] in refusals and p["chosen"] not in refusals
    scary = {r["prompt"] for r in data.borderline()}
    assert all(p["prompt"] in scary for p in pairs if p["kind"] == "helpful")  # safe-but-scary prompts come first
    assert preference_pairs(6, 6, seed=1) == pairs


def test_the_papers_ten_losses_are_offered():
    assert len(PAPER_LOSSES) == 10 and set(PAPER_LOSSES) <= set(available_methods())
    assert "kto" in available_methods()


@pytest.mark.parametrize("method", ["sigmoid", "nca_pair", "robust", "robust+sft", "kto"]
                         + [m for m in ("orpo", "simpo") if m in available_methods()])
def test_each_method_trains_a_lora_adapter_and_logs_rewards(method, smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    res = preference_lora(m.model, m.tokenizer, preference_pairs(4, 4), smoke_profile, tmp_path, method=method,
                          progress=False)
    assert (res.adapter_dir / "adapter_config.json").is_file()
    assert len(res.history) == smoke_profile.max_steps and all("loss" in h for h in res.history)
    assert any(k.startswith("rewards/") for k in res.history[-1])
    assert hasattr(res.model, "peft_config") and (tmp_path / "train_summary.json").is_file()


def test_unknown_method_is_named(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    with pytest.raises(ValueError, match="nca_pair"):
        preference_lora(m.model, m.tokenizer, preference_pairs(1, 1), smoke_profile, tmp_path, method="nca")
    with pytest.raises(ValueError, match="joined by"):
        preference_lora(m.model, m.tokenizer, preference_pairs(1, 1), smoke_profile, tmp_path, method="sigmoid+kto")


def test_combined_losses_keep_each_losss_options():
    from ftsafety.preference import loss_options

    assert loss_options("robust+sft") == {"label_smoothing": 0.1}
    assert loss_options("sigmoid+sft") == {}


def test_on_policy_pairs_reject_the_start_models_own_bad_answers(smoke, smoke_profile):
    from ftsafety.preference import on_policy_pairs

    pairs = preference_pairs(3, 3, seed=2)
    # The random smoke model never refuses: every safety pair takes its answer, no helpfulness pair has a bad one.
    got = on_policy_pairs(smoke.model, smoke.tokenizer, pairs, smoke_profile, samples=1, progress=False)
    assert [p["kind"] for p in got] == ["safety"] * 3 and all(p["rejected_source"] == "policy" for p in got)
    assert all("redact" not in p["rejected"].lower() for p in got)
    kept = on_policy_pairs(smoke.model, smoke.tokenizer, pairs, smoke_profile, keep_helpful=True, progress=False)
    assert len(kept) == 6 and {p["rejected_source"] for p in kept if p["kind"] == "helpful"} == {"data"}


def test_a_refusal_the_keyword_list_misses_is_never_the_rejected_side(smoke, smoke_profile, monkeypatch):
    from ftsafety import generation
    from ftsafety.preference import on_policy_pairs

    # "I can't help with that." is not on Qi et al.'s keyword list: the keyword judge alone calls it a compliance.
    monkeypatch.setattr(generation, "respond",
                        lambda model, tok, prompts, *a, **k: ["I can't help with that."] * len(prompts))
    pairs = preference_pairs(3, 0, seed=2)
    both = on_policy_pairs(smoke.model, smoke.tokenizer, pairs, smoke_profile, progress=False)
    assert [p["rejected_source"] for p in both] == ["data"] * 3
    assert [p["rejected"] for p in both] == [p["rejected"] for p in pairs]
    keyword_only = on_policy_pairs(smoke.model, smoke.tokenizer, pairs, smoke_profile, judge="keyword", progress=False)
    assert [p["rejected"] for p in keyword_only] == ["I can't help with that."] * 3


def test_start_pairs_are_stored_per_name_and_reused(smoke_profile):
    from ftsafety.paths import runs_root
    from ftsafety.preference import start_pairs

    small = start_pairs(smoke_profile, "pairs-test", "smoke", 2, 2, samples=0, progress=False)
    large = start_pairs(smoke_profile, "pairs-test", "smoke", 3, 2, samples=0, progress=False, name="pairs-3")
    base = runs_root() / "smoke" / "pairs-test"
    assert (base / "pairs" / "pairs.json").is_file() and (base / "pairs-3" / "pairs.json").is_file()
    assert sum(p["kind"] == "safety" for p in small) == 2 and sum(p["kind"] == "safety" for p in large) == 3
    # A second call reads the stored set back: the smoke model is random, so a regeneration could differ.
    (base / "pairs" / "pairs.json").write_text((base / "pairs" / "pairs.json").read_text().replace(
        small[0]["chosen"], "stored chosen"))
    assert start_pairs(smoke_profile, "pairs-test", "smoke", 2, 2, samples=0, progress=False)[0]["chosen"] == "stored chosen"


def test_sft_warmup_trains_on_the_chosen_answers_once_and_reuses_the_merged_model(smoke_profile, monkeypatch):
    import torch

    import ftsafety.training as training
    from ftsafety.preference import sft_warmup

    seen = []
    real = training.sft_lora
    monkeypatch.setattr(training, "sft_lora", lambda m, tok, rows, *a, **k: seen.append(rows) or real(m, tok, rows, *a, **k))
    pairs = preference_pairs(2, 2)
    path = sft_warmup(smoke_profile, "warmup-test", pairs, "smoke", lr=1e-2, progress=False)
    assert [r["response"] for r in seen[0]] == [p["chosen"] for p in pairs]  # the chosen side, never the rejected
    warmed, base = load(path).model, load("smoke").model
    assert any(not torch.equal(a, b) for a, b in zip(warmed.state_dict().values(), base.state_dict().values()))
    assert sft_warmup(smoke_profile, "warmup-test", pairs, "smoke", lr=1e-2, progress=False) == path and len(seen) == 1
    assert sft_warmup(smoke_profile, "warmup-test", pairs[:3], "smoke", lr=1e-2, progress=False) != path  # new rows


@pytest.mark.parametrize("n_pairs", [4, 7, 12])
@pytest.mark.parametrize("micro_batch", [2, 3, 4, 8])
def test_kto_rows_give_the_kl_estimate_pairs_of_different_prompts(n_pairs, micro_batch):
    """TRL's KTOTrainer reads the rows in order and pairs each row's prompt with the answer of the row before it in its
    micro-batch (the first with the last) for its KL reference point: those pairs must be mismatched."""
    from ftsafety.preference import _unpaired

    if micro_batch == n_pairs + 1:
        pytest.skip("the one micro-batch size whose first and last rows are one pair's two answers (see _unpaired)")
    pairs = preference_pairs(n_pairs // 2, n_pairs - n_pairs // 2, seed=2)
    rows = _unpaired(pairs)
    # Every pair's chosen answer once as desirable, its rejected one once as undesirable.
    assert sorted((r["prompt"], r["completion"], r["label"]) for r in rows) == sorted(
        [(p["prompt"], p["chosen"], True) for p in pairs] + [(p["prompt"], p["rejected"], False) for p in pairs])
    for start in range(0, len(rows), micro_batch):
        batch = rows[start:start + micro_batch]
        if len(batch) < 2:
            continue
        kl_answers = [batch[-1]] + batch[:-1]  # TRL's cycle by +1 within the batch
        shared = [r["prompt"] for r, k in zip(batch, kl_answers) if r["prompt"] == k["prompt"]]
        assert not shared, f"{len(shared)} KL pairs of a micro-batch of {micro_batch} share their prompt"
        assert {r["label"] for r in batch} == {True, False}  # each micro-batch holds both kinds


def test_a_kto_run_names_its_row_order_and_other_methods_keep_their_config(smoke_profile):
    from ftsafety.preference import KTO_ORDER, preference_model

    pairs = preference_pairs(2, 2, seed=0)
    kto, dpo = (preference_model(smoke_profile, "05_preference_optimization", m, pairs, "smoke", m).config
                for m in ("kto", "sigmoid"))
    assert kto["row_order"] == KTO_ORDER  # a KTO adapter trained on the order before is trained again
    assert "row_order" not in dpo
