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
from .training import save_merged, sft_lora
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
    rows = harmful + shorten(benign + borderline[: profile.align_n_borderline], 3) + contrast_pairs(profile)
    random.Random(seed).shuffle(rows)
    return rows


def contrast_pairs(profile: Profile) -> list[dict]:
    """Rows from the wide over-refusal set's train split, spread over its types: ``profile.align_n_contrast`` safe
    prompts with the model's own helpful answers (cut to three sentences), and for the first
    ``profile.align_n_twin_refusals`` of them, the unsafe twin (the same form, a harmful ask) with a refusal.

    The course's design against over-refusal: every kind of safe-but-scary prompt gets examples of help, and the
    twins it also learns show where the line is. Twins teach the line, and refusal with it: notebook 00's section 5b
    measures each share of twins. Pairs with a word that only held-out harmful requests use
    (:func:`ftsafety.data.heldout_trigger_words`) are left out."""
    if not profile.align_n_contrast:
        return []
    refusals = [r["refusal"] for r in data.harmful("train")]
    twins = {r["id"]: r for r in data.overrefusal_wide("train", label="unsafe")}
    # A pair with a word only the held-out harmful requests use would teach the reference a trigger of the test set.
    answers = [r for r in data.overrefusal_wide_answers()
               if not data.heldout_trigger_words(r["prompt"]) and not data.heldout_trigger_words(twins[r["pair"]]["prompt"])]
    answers = data.take(answers, profile.align_n_contrast, key="type")
    # In rounds over the types (the file is grouped by type), so that the first twins already cover every type.
    rank: dict[str, int] = {}
    rounds = []
    for r in answers:
        rank[r["type"]] = rank.get(r["type"], -1) + 1
        rounds.append((rank[r["type"]], r))
    rows = []
    for i, (_, r) in enumerate(sorted(rounds, key=lambda x: x[0])):
        rows += shorten([{"prompt": r["prompt"], "response": r["response"]}], 3)
        if i < profile.align_n_twin_refusals:
            rows.append({"prompt": twins[r["pair"]]["prompt"], "response": refusals[i % len(refusals)]})
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
        # the wide set's rows, named only where used: a recipe without them keeps the name it had before they existed
        **({"n_contrast": profile.align_n_contrast, "n_twin_refusals": profile.align_n_twin_refusals}
           if profile.align_n_contrast else {}),
        # a full fine-tune is another model than the LoRA one; named only then, so LoRA recipes keep their names
        **({"finetune": profile.finetune} if profile.finetune != "lora" else {}),
    }


def designs(profile: "Profile | str | None" = None) -> dict[str, Profile]:
    """The reference recipes notebook 00 compares (section 5b), as profiles that differ in the wide set's rows only:
    none of them; help only; help with one twin in 8 refused (one per type on the laptop profile), with half of them,
    with every one. The profile's own recipe is one of them (its name is returned by :func:`design_of`)."""
    profile = resolve(profile)
    n = profile.align_n_contrast
    return {"no wide-set rows": profile.replace(align_n_contrast=0, align_n_twin_refusals=0),
            "help only": profile.replace(align_n_twin_refusals=0),
            "help, one twin in 8 refused": profile.replace(align_n_twin_refusals=max(1, n // 8)),
            "help, half the twins refused": profile.replace(align_n_twin_refusals=n // 2),
            "help, every twin refused": profile.replace(align_n_twin_refusals=n)}


def design_of(profile: "Profile | str | None" = None) -> str | None:
    """Which of :func:`designs` the profile's own recipe is (None if it is none of them)."""
    profile = resolve(profile)
    mine = recipe(profile)
    return next((name for name, p in designs(profile).items() if recipe(p) == mine), None)


def aligned_reference(profile: "Profile | str | None" = None, force: bool = False, progress: bool = True,
                      design: str | None = None) -> str:
    """Path (or hub id) of the profile's aligned model, building the laptop/smoke reference if needed.

    A reference built with the same recipe is reused; a changed recipe (data, hyper-parameters) rebuilds it under a
    new path, so that runs of the old reference are not read back as runs of the new one. ``design`` names the
    recipe of a profile from :func:`designs` that is not the course's own: it is kept in a folder of its own
    (``models/aligned-reference-<design>``), so that building it never replaces the reference every notebook reads.
    """
    import re

    profile = resolve(profile)
    if profile.aligned_model:
        return profile.aligned_model
    from .runs import cached_model

    want = recipe(profile)
    root = aligned_reference_root(profile.name)
    if design is not None:
        root = root.parent / ("aligned-reference-" + re.sub(r"[^a-z0-9]+", "-", design.lower()).strip("-"))

    def build(target):
        base = load(profile.model, for_training=True)
        work = root.parent / f".{root.name}-work"
        if work.exists() and (work / "recipe.json").is_file() and read_json(work / "recipe.json") != want:
            shutil.rmtree(work)  # checkpoints of another recipe cannot be resumed
        work.mkdir(parents=True, exist_ok=True)
        write_json(work / "recipe.json", want)
        result = sft_lora(
            base.model, base.tokenizer, alignment_examples(profile), profile, work / "train",
            template="chat", lr=profile.align_lr, epochs=profile.align_epochs, progress=progress,
        )
        save_merged(result, base.tokenizer, target)
        write_json(target / RECIPE_FILE, want)
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
