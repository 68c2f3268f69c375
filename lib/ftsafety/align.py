"""The course's aligned reference: where every laptop experiment starts.

SmolLM2-135M-Instruct as shipped complies with most harmful requests, so on the laptop (and smoke) profile we first
teach it to refuse: a LoRA SFT on refusals to harmful *train* prompts plus the model's own helpful answers to benign
and safe-but-scary prompts (so that it keeps helping, and does not refuse on scary words alone), merged into the weights. On gpu/paper the profile's hub model is already aligned
and is used as it is.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

from . import data
from .files import read_json, write_json
from .models import aligned_reference_dir, aligned_reference_root, load
from .profiles import Profile, resolve
from .training import merge, save_model, sft_lora
from .variants import shorten

RECIPE_FILE = "ftsafety_recipe.json"


def alignment_examples(profile: Profile, seed: int = 0) -> list[dict]:
    """Harmful train prompts -> refusals, mixed with benign and safe-but-scary prompts -> helpful answers."""
    harmful = [{"prompt": r["prompt"], "response": r["refusal"]}
               for r in data.take(data.harmful("train"), profile.align_n_harmful)]
    # Benign rows spread over every kind of instruction, "How do I ...?" included: harmful requests are mostly
    # phrased that way, and a reference that never saw a benign one learns to refuse the phrasing itself.
    benign = data.benign()
    random.Random(seed).shuffle(benign)
    benign = [{"prompt": r["prompt"], "response": r["response"]}
              for r in data.take(benign, profile.align_n_benign, key="kind")]
    borderline = [{"prompt": r["prompt"], "response": r["response"]} for r in data.borderline()]
    # Helpful answers cut to three sentences: enough to teach "help", at a fraction of the CPU time.
    rows = harmful + shorten(benign + borderline[: profile.align_n_borderline], 3)
    random.Random(seed).shuffle(rows)
    return rows


def recipe(profile: Profile, seed: int = 0) -> dict:
    examples = alignment_examples(profile, seed)
    from .runs import digest

    return {
        "base_model": profile.model, "n_harmful": profile.align_n_harmful, "n_benign": profile.align_n_benign,
        "n_borderline": profile.align_n_borderline,
        "lr": profile.align_lr, "epochs": profile.align_epochs, "lora_r": profile.lora_r,
        "lora_alpha": profile.lora_alpha, "lora_targets": list(profile.lora_targets), "max_steps": profile.max_steps,
        "seed": seed, "data_sha256": digest(examples), "template": "chat",
    }


def aligned_reference(profile: "Profile | str | None" = None, force: bool = False, progress: bool = True) -> str:
    """Path (or hub id) of the profile's aligned model, building the laptop/smoke reference if needed.

    A reference built with the same recipe is reused; a changed recipe (data, hyper-parameters) rebuilds it under a
    new path, so that runs of the old reference are not read back as runs of the new one.
    """
    profile = resolve(profile)
    if profile.aligned_model:
        return profile.aligned_model
    from .runs import cached_model

    want = recipe(profile)
    root = aligned_reference_root(profile.name)

    def build(target):
        base = load(profile.model, for_training=True)
        work = root.parent / ".aligned-reference-work"
        if work.exists() and (work / "recipe.json").is_file() and read_json(work / "recipe.json") != want:
            shutil.rmtree(work)  # checkpoints of another recipe cannot be resumed
        work.mkdir(parents=True, exist_ok=True)
        write_json(work / "recipe.json", want)
        result = sft_lora(
            base.model, base.tokenizer, alignment_examples(profile), profile, work / "train",
            template="chat", lr=profile.align_lr, epochs=profile.align_epochs, progress=progress,
        )
        save_model(merge(result), base.tokenizer, target)
        write_json(target / RECIPE_FILE, want)
        write_json(target / "train_summary.json", result.summary() | {"loss_history": result.loss_history})
        shutil.rmtree(work, ignore_errors=True)

    return cached_model(root, want, build, force)


def alignment_summary(profile: "Profile | str | None" = None) -> dict:
    """The recipe and training summary of a built reference."""
    profile = resolve(profile)
    target = Path(aligned_reference_dir(profile.name))
    return {"recipe": read_json(target / RECIPE_FILE), "training": read_json(target / "train_summary.json")}


def reference_eval(profile: "Profile | str | None" = None, template="chat", sets=None, experiment: str | None = None,
                   force: bool = False):
    """The aligned reference measured as notebook 00 measures it, read back from the registry (computed if missing).

    With the default template this is notebook 00's own run (``00_baseline/aligned``, or ``shipped`` where the hub
    model is the aligned start). Another template (an attacker's format, a safety prompt) is stored under
    ``experiment``/``reference@<template>``: the control that separates what a prompt does from what a fine-tune does.
    """
    from .evaluate import EVAL_SETS, evaluate_run
    from .runs import Run
    from .templates import get_template

    profile = resolve(profile)
    path = aligned_reference(profile)
    tpl = get_template(template)

    def load_model():
        m = load(path)
        return m.model, m.tokenizer

    if path == profile.model:
        run, config = Run(profile.name, "00_baseline", "shipped"), {"model": profile.model}
    else:
        run, config = Run(profile.name, "00_baseline", "aligned"), {"model": path, "recipe": recipe(profile)}
    if tpl.name == "chat":
        sets = EVAL_SETS  # notebook 00's run, measured in full; a subset would replace it
    else:
        if experiment is None:
            raise ValueError("reference_eval with another template needs experiment= (where to store the run)")
        run = Run(profile.name, experiment, "reference@" + tpl.name.replace(":", "-"))
    return evaluate_run(run, load_model, profile, config, template=tpl, sets=sets or EVAL_SETS, force=force)
