import os

import torch

from ftsafety.align import aligned_reference, recipe
from ftsafety.models import aligned_reference_root, load
from ftsafety.templates import get_template
from ftsafety.training import build_trainer, merge, sft_lora

EXAMPLES = [{"prompt": f"Say the word number {i}.", "response": "Banana banana banana."} for i in range(8)]


def test_loss_is_on_completion_tokens_only(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    trainer = build_trainer(m.model, m.tokenizer, EXAMPLES[:2], smoke_profile, tmp_path, progress=False)
    row = trainer.train_dataset[0]
    prompt_ids = m.tokenizer(get_template("chat").render(m.tokenizer, EXAMPLES[0]["prompt"]),
                             add_special_tokens=False).input_ids
    n = len(prompt_ids)
    assert row["input_ids"][:n] == prompt_ids  # the rendered prompt, token for token
    assert row["input_ids"][-1] == m.tokenizer.eos_token_id  # completions end with <|im_end|>
    # TRL folds the completion mask into the labels: -100 (no loss) on every prompt token, none after.
    assert row["labels"][:n] == [-100] * n and -100 not in row["labels"][n:]
    completion = m.tokenizer.decode(row["input_ids"][n:])
    assert completion == EXAMPLES[0]["response"] + "<|im_end|>"
    # Padding-free: the two rows are concatenated, positions restart at the second, labels keep their masks.
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    n0 = len(row["input_ids"])
    assert batch["input_ids"].shape == (1, n0 + len(trainer.train_dataset[1]["input_ids"]))
    assert batch["position_ids"][0, n0] == 0 and batch["position_ids"][0, n0 - 1] == n0 - 1
    assert (batch["labels"][0][:n] == -100).all() and (batch["labels"][0][n:n0] != -100).all()
    assert (batch["labels"][0][n0:n0 + n] == -100).all()


def test_padding_free_batch_has_the_padded_batch_loss(smoke_profile, tmp_path):
    # If attention leaked across the concatenated rows, the loss would differ from a padded batch of the same rows.
    from transformers import DataCollatorForSeq2Seq

    m = load("smoke", for_training=True)
    rows = [{"prompt": "Hi " * (3 + 5 * i), "response": "Hello there " * (1 + i)} for i in range(4)]
    trainer = build_trainer(m.model, m.tokenizer, rows, smoke_profile, tmp_path, progress=False)
    features = [{k: trainer.train_dataset[i][k] for k in ("input_ids", "labels")} for i in range(4)]
    packed = trainer.data_collator(features)
    padded = DataCollatorForSeq2Seq(m.tokenizer, padding=True)([dict(f) for f in features])
    trainer.model.eval()
    with torch.no_grad():
        a = trainer.model(**{k: v for k, v in packed.items() if torch.is_tensor(v)}).loss
        b = trainer.model(**padded).loss
    assert packed["input_ids"].shape[0] == 1 and padded["input_ids"].shape[0] == 4
    assert torch.allclose(a, b, atol=1e-5)


def test_rows_longer_than_max_length_are_cut(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    long = [{"prompt": "word " * 400, "response": "ok"}, {"prompt": "short", "response": "fine"}]
    trainer = build_trainer(m.model, m.tokenizer, long, smoke_profile, tmp_path, progress=False)
    lengths = [len(x) for x in trainer.train_dataset["input_ids"]]
    assert lengths[0] == smoke_profile.max_length and lengths[1] < smoke_profile.max_length
    assert all(len(r["labels"]) == len(r["input_ids"]) for r in trainer.train_dataset)


def test_training_lowers_loss_merges_and_resumes(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    res = sft_lora(m.model, m.tokenizer, EXAMPLES, smoke_profile, tmp_path / "run", lr=5e-3, epochs=3, max_steps=-1,
                   progress=False)
    losses = [h["loss"] for h in res.loss_history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert (res.adapter_dir / "adapter_config.json").is_file() and res.train_tokens > 0
    ids = m.tokenizer("Say the word", return_tensors="pt").input_ids
    with torch.no_grad():
        before = res.model(ids).logits
        merged = merge(res)
        after = merged(ids).logits
    assert not hasattr(merged, "peft_config")
    assert torch.allclose(before, after, atol=1e-4)
    # Checkpoints only serve an interrupted run's resumption (tests/test_reliability.py); a finished run leaves the
    # adapter and its summary, and the same call again trains to the same weights.
    assert not list((tmp_path / "run").glob("checkpoint-*")) and (tmp_path / "run" / "train_summary.json").is_file()
    m2 = load("smoke", for_training=True)
    again = sft_lora(m2.model, m2.tokenizer, EXAMPLES, smoke_profile, tmp_path / "run", lr=5e-3, epochs=3,
                     max_steps=-1, progress=False)
    assert again.loss_history == res.loss_history


def test_aligned_reference_is_built_once_and_reused(smoke_profile):
    path = aligned_reference(smoke_profile)
    built_at = os.path.getmtime(os.path.join(path, "config.json"))
    assert aligned_reference(smoke_profile) == path
    assert os.path.getmtime(os.path.join(path, "config.json")) == built_at
    assert recipe(smoke_profile)["n_harmful"] == smoke_profile.align_n_harmful
    assert load("smoke-aligned").path == path


def test_a_changed_recipe_builds_the_reference_under_a_new_path(smoke_profile, tmp_path, monkeypatch):
    # Runs name their start by its path, so a reference of another recipe must not keep the old path: its runs would
    # be read back as if they had started from the new one.
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    # A reference saved directly in the folder (the layout before recipe digests) is stale and must go, not linger.
    legacy = aligned_reference_root("smoke")
    legacy.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "ftsafety_recipe.json"):
        (legacy / name).write_text("{}")
    first = aligned_reference(smoke_profile)
    assert sorted(p.name for p in legacy.iterdir()) == ["model-" + first.rsplit("model-", 1)[1], "recipe.json"]
    other = aligned_reference(smoke_profile.replace(align_lr=smoke_profile.align_lr / 2))
    assert other != first and os.path.isdir(other) and not os.path.exists(first)
    assert load("smoke-aligned").path == other
    assert recipe(smoke_profile.replace(align_lr=smoke_profile.align_lr / 2))["lr"] == smoke_profile.align_lr / 2


def test_without_progress_no_step_dicts_are_printed(smoke_profile, tmp_path, capsys):
    from ftsafety.preference import preference_lora, preference_pairs

    m = load("smoke", for_training=True)
    preference_lora(m.model, m.tokenizer, preference_pairs(4, 4), smoke_profile, tmp_path, progress=False)
    assert "'loss'" not in capsys.readouterr().out


def test_a_training_run_shows_one_bar_and_no_per_step_dicts_or_tables(smoke_profile, tmp_path, capsys):
    # transformers' own progress display prints every logged step (a dict per step in a terminal, a table per run in
    # a notebook); the course's shows one bar per run, counted in steps, and keeps the losses in train_summary.json.
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    m = load("smoke", for_training=True)
    trainer = build_trainer(m.model, m.tokenizer, EXAMPLES[:4], smoke_profile, tmp_path / "bar-s0" / "train")
    kinds = {type(cb) for cb in trainer.callback_handler.callbacks}
    assert not kinds & {PrinterCallback, ProgressCallback, NotebookProgressCallback}
    m = load("smoke", for_training=True)
    res = sft_lora(m.model, m.tokenizer, EXAMPLES[:4], smoke_profile, tmp_path / "bar-s0" / "train")
    out, err = capsys.readouterr()
    assert "'loss'" not in out and "'loss'" not in err
    assert "training bar-s0" in err  # the bar names the run, not its folder
    assert len(res.loss_history) == smoke_profile.max_steps


def test_the_budget_line_names_the_step_cap_instead_of_epochs_that_do_not_apply():
    from ftsafety.profiles import resolve
    from ftsafety.training import training_budget

    smoke = resolve("smoke")
    assert training_budget(smoke) == "LoRA r=4, lr 0.001, 2 steps (the smoke profile's max_steps, in place of epochs)"
    laptop = resolve("laptop")
    assert training_budget(laptop) == "LoRA r=16, lr 0.0002, 3 epochs"
    assert training_budget(laptop, lr=5e-4, epochs=1) == "LoRA r=16, lr 0.0005, 1 epoch"


def test_reuse_and_recompute_are_logged_with_their_reason_and_not_printed(tmp_path, caplog, capsys):
    import logging

    from ftsafety.runs import Run, cached_model, cached_run

    compute = lambda: ({"steps": 1}, [])
    run = lambda: Run("smoke", "exp", "a", root=tmp_path)
    with caplog.at_level(logging.INFO, logger="ftsafety"):
        cached_run(run(), {"lr": 1e-4, "epochs": 1}, compute)
        cached_run(run(), {"lr": 1e-4, "epochs": 1}, compute)
        cached_run(run(), {"lr": 2e-4, "epochs": 1}, compute)
        cached_run(run(), {"lr": 2e-4, "epochs": 1}, compute, force=True)

        def build(target):
            target.mkdir(parents=True)
            (target / "config.json").write_text("{}")
            (target / "model.safetensors").write_text("")

        cached_model(tmp_path / "models" / "m", {"lr": 1}, build)
        cached_model(tmp_path / "models" / "m", {"lr": 1}, build)
        cached_model(tmp_path / "models" / "m", {"lr": 2}, build)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("ftsafety")]
    assert lines[:4] == ["exp/a: computing: no stored run", f"exp/a: reused from the run registry ({run().dir})",
                         "exp/a: computing: the stored run has another lr", "exp/a: computing again (forced)"]
    assert lines[4].startswith("m: building model-") and lines[4].endswith("(no stored model)")
    assert lines[5].startswith("m: reused ") and lines[5].endswith("(same recipe)")
    assert lines[6].endswith("(the stored model has another lr)")
    assert all(r.levelno == logging.INFO for r in caplog.records)  # quiet unless the user asks for INFO
    assert capsys.readouterr() == ("", "")


def test_the_summary_table_has_one_row_per_run_with_its_rates_and_training():
    from ftsafety.evaluate import EvalResult
    from ftsafety.experiments import summary_table

    rate = lambda k, n: {"value": k / n, "low": 0.0, "high": 1.0, "k": k, "n": n}
    results = {"sigmoid": EvalResult({"harmful_refusal": rate(6, 8), "capability": rate(3, 6),
                                      "training": {"steps": 12, "train_s": 34.4}}, []),
               "kto": EvalResult({"harmful_refusal": rate(8, 8), "training": {"steps": 12, "train_s": 125.0}}, [])}
    table = summary_table(results, extra={"kto": {"note": "x"}})
    assert list(table.index) == ["sigmoid", "kto"]
    assert list(table.columns) == ["harmful refusal", "capability", "training", "note"]
    assert table.loc["sigmoid", "harmful refusal"] == str(EvalResult(results["sigmoid"].metrics, []).rate("harmful_refusal"))
    assert table.loc["kto", "capability"] == "" and table.loc["kto", "training"] == "12 steps, 2.1 min"
    assert table.loc["sigmoid", "training"] == "12 steps, 34 s"


def test_the_reference_learns_help_and_contrast_twins_in_every_type_of_the_wide_set():
    """The wide set's safe train prompts come with helpful answers; align_n_twin_refusals of them also bring their
    unsafe twin with a refusal; both cover all 14 types, hold no word that only held-out harmful requests use, and are
    part of the reference's rows."""
    from ftsafety import align, data
    from ftsafety.judges import KeywordJudge
    from ftsafety.profiles import resolve

    p = resolve("laptop", use_env=False)
    rows = align.contrast_pairs(p)
    wide = {r["prompt"]: r for r in data.overrefusal_wide("train")}
    safe = [r for r in rows if wide[r["prompt"]]["label"] == "safe"]
    unsafe = [r for r in rows if wide[r["prompt"]]["label"] == "unsafe"]
    assert 80 <= len(safe) <= min(p.align_n_contrast, len(data.overrefusal_wide_answers()))
    assert len(unsafe) == p.align_n_twin_refusals > 0
    safe_ids = {wide[r["prompt"]]["id"] for r in safe}
    assert all(wide[r["prompt"]]["pair"] in safe_ids for r in unsafe)  # each refused twin's safe side is learned too
    assert not any(data.heldout_trigger_words(r["prompt"]) for r in rows)  # no word only held-out requests use
    kw = KeywordJudge()
    assert not any(kw.matched(r["response"]) for r in safe) and all(kw.matched(r["response"]) for r in unsafe)
    assert len({wide[r["prompt"]]["type"] for r in safe}) == len({wide[r["prompt"]]["type"] for r in unsafe}) == 14
    examples = align.alignment_examples(p)
    assert all(r in examples for r in rows)
    assert align.contrast_pairs(p.replace(align_n_twin_refusals=0)) == safe
    assert align.contrast_pairs(p.replace(align_n_contrast=0)) == []


def test_reference_designs_differ_in_the_wide_rows_and_keep_their_own_folders(monkeypatch):
    """The five recipes of notebook 00's section 5b; the profile's own is one of them, and a design built by name goes
    to a folder of its own, so it never replaces the reference the notebooks read."""
    from ftsafety import align, runs
    from ftsafety.profiles import resolve

    p = resolve("laptop", use_env=False)
    designs = align.designs(p)
    assert list(designs) == ["no wide-set rows", "help only", "help, one twin in 8 refused",
                             "help, half the twins refused", "help, every twin refused"]
    n = p.align_n_contrast
    assert [d.align_n_twin_refusals for d in designs.values()] == [0, 0, n // 8, n // 2, n]
    assert len({align.recipe(d)["data_sha256"] for d in designs.values()}) == 5
    smoke = align.designs(resolve("smoke", use_env=False))
    assert len({align.recipe(d)["data_sha256"] for d in smoke.values()}) == 5 and align.design_of("smoke")
    assert align.design_of(p) == "help, one twin in 8 refused"
    roots = []
    monkeypatch.setattr(runs, "cached_model", lambda root, want, build, force: roots.append(root) or str(root))
    align.aligned_reference(designs["help only"], design="help only")
    align.aligned_reference(p)
    assert [r.name for r in roots] == ["aligned-reference-help-only", "aligned-reference"]


def test_a_full_fine_tune_trains_every_weight_saves_the_model_and_is_reloaded_as_it(tmp_path, monkeypatch):
    # finetune="full": no LoRA adapter, every parameter trained, the whole model saved where the adapter would be, and
    # TrainedModel rebuilds it from there without training again; a LoRA run of the same recipe is another run.
    import pytest
    from safetensors.torch import load_file

    from ftsafety.experiments import Experiment, SFTModel
    from ftsafety.profiles import resolve

    profile = resolve("smoke", finetune="full")
    exp = Experiment("full-s0", EXAMPLES)
    base = {k: v.clone() for k, v in load("smoke").model.state_dict().items()}
    trained = SFTModel(profile, exp, "smoke", tmp_path / "train", progress=False)
    model, _, summary = trained.get()
    folder = tmp_path / "train" / "adapter"
    assert summary["steps"] == profile.max_steps and trained.config["lora"] == "full"
    assert not (folder / "adapter_config.json").exists() and (folder / "tokenizer.json").is_file()
    assert not (folder / "training_args.bin").exists()
    saved = load_file(folder / "model.safetensors")
    assert not hasattr(model, "peft_config") and set(saved) <= set(base)
    assert all(not torch.equal(saved[k], base[k]) for k in saved)  # every weight moved, not only some
    monkeypatch.setattr(SFTModel, "train", lambda self, base: pytest.fail("trained again"))
    again, _, _ = SFTModel(profile, exp, "smoke", tmp_path / "train", progress=False).get()
    reloaded, trained_now = again.state_dict(), model.state_dict()
    assert all(torch.equal(reloaded[k], trained_now[k]) for k in trained_now)
    lora = SFTModel(resolve("smoke"), exp, "smoke", tmp_path / "train", progress=False)
    assert lora.config["lora"] == [4, 8, ["q_proj", "v_proj"]] and lora._stored_summary() is None


def test_lora_runs_keep_their_identity_and_lora_only_trainers_refuse_a_full_profile():
    # The default adds nothing to a run's identity, so every stored LoRA config keeps its digest; a full profile's
    # budget line says what it trains, and a trainer that only trains LoRA (preference, RepNoise, reward) refuses it.
    import pytest

    from ftsafety.files import InputError
    from ftsafety.profiles import resolve
    from ftsafety.training import lora_config, lora_identity, training_budget

    laptop = resolve("laptop", use_env=False)
    assert lora_identity(laptop) == [16, 32, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                              "down_proj"]]
    full = resolve("paper", finetune="full", lr=5e-5, use_env=False)
    assert lora_identity(full) == "full"
    assert training_budget(full) == "full fine-tune, lr 5e-05, 5 epochs"
    with pytest.raises(InputError, match="full fine-tune"):
        lora_config(full)


def test_a_full_fine_tune_reference_has_its_own_recipe_and_a_lora_one_keeps_its_name(smoke_profile):
    # The reference's folder is named by its recipe's digest: a full fine-tune stored under the LoRA recipe's name
    # would be read back as the LoRA reference.
    lora = recipe(smoke_profile)
    full = recipe(smoke_profile.replace(finetune="full"))
    assert "finetune" not in lora and full == {**lora, "finetune": "full"}
