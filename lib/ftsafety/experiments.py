"""One experiment = fine-tune a model on some rows, then measure it; recorded in the run registry and reused.

``finetune_and_evaluate`` is the unit every notebook's grid is made of. A finished run with the same config (base
model, data digest, hyper-parameters, templates, seed) is read back instead of retrained; an interrupted training
resumes from its last checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from . import variants
from .evaluate import EVAL_SETS, EvalResult, eval_config, evaluate
from .launch import cached_run_together, split_respond
from .metrics import rate
from .models import load
from .profiles import Profile
from .runs import Run, digest
from .tasks import TaskExample, arithmetic, grade
from .templates import get_template
from .training import TrainedModel, lora_identity, sft_lora


@dataclass
class TaskEval:
    """Held-out task examples graded exactly after fine-tuning (e.g. arithmetic accuracy)."""

    task: str
    examples: Sequence[TaskExample]
    max_new_tokens: int = 48

    def digest(self) -> str:
        return digest([e.as_dict() for e in self.examples])


@dataclass
class Experiment:
    name: str
    examples: list[dict]
    template: str = "chat"  # used for training
    eval_template: str | None = None  # default: the training template
    lr: float | None = None
    epochs: float | None = None
    # Rows per optimiser step; None: the profile's (train_batch_size x grad_accum). Qi et al. 2023, §4.4, vary it:
    # smaller batches, more and noisier steps.
    batch_size: int | None = None
    seed: int = 0
    # Profile fields changed for the evaluation only, e.g. longer generation budgets for a model trained to open
    # every answer with a long fixed phrase (AOA), so that its answers are not cut off before they start.
    eval_overrides: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # anything to keep with the run (variant, factor, ...)


def train_config(profile: Profile, exp: Experiment, base_model: str) -> dict:
    """What identifies an experiment's fine-tune in the registry (every run measured on it carries this)."""
    return {
        "base_model": base_model, "data_sha256": digest(exp.examples), "n_examples": len(exp.examples),
        "train_template": get_template(exp.template).name,
        "lr": exp.lr if exp.lr is not None else profile.lr,
        "epochs": exp.epochs if exp.epochs is not None else profile.epochs, "seed": exp.seed,
        "lora": lora_identity(profile), "max_steps": profile.max_steps,
        # only when set, so that every run stored before the field existed keeps its identity
        **({"batch_size": exp.batch_size} if exp.batch_size is not None else {}),
    }


def training_profile(profile: Profile, exp: Experiment) -> Profile:
    """The profile an experiment trains with: ``exp.batch_size``, when set, as rows per optimiser step. The per-device
    batch never grows past the profile's (the largest divisor of the batch size that fits it, the rest by gradient
    accumulation), so a larger batch costs steps, not memory."""
    if exp.batch_size is None:
        return profile
    if exp.batch_size < 1:
        raise ValueError(f"experiment {exp.name!r}: batch_size must be a positive number of rows, not {exp.batch_size}")
    per_device = max(d for d in range(1, min(exp.batch_size, profile.train_batch_size) + 1) if exp.batch_size % d == 0)
    return profile.replace(train_batch_size=per_device, grad_accum=exp.batch_size // per_device)


class SFTModel(TrainedModel):
    """An experiment's LoRA SFT (:func:`~ftsafety.training.sft_lora`), trained once and measured as often as asked."""

    def __init__(self, profile: Profile, exp: Experiment, base_model: str, train_dir, progress: bool = True,
                 retrain: bool = False):
        super().__init__(base_model, train_dir, train_config(profile, exp, base_model), progress, retrain)
        self.profile, self.exp = training_profile(profile, exp), exp

    def train(self, base):
        return sft_lora(base.model, base.tokenizer, self.exp.examples, self.profile, self.train_dir,
                        resume=not self.retrain, template=self.exp.template, seed=self.exp.seed,
                        lr=self.config["lr"], epochs=self.config["epochs"], progress=self.progress)


def _measure(trained: SFTModel, run: Run, exp: Experiment, eval_profile: Profile, template, judge, sets,
             task: "TaskEval | None", force: bool, progress: bool) -> EvalResult:
    """One registry run: the fine-tune's config plus what decides the measurement."""
    config = {**trained.config, "sets": list(sets), **eval_config(eval_profile, template, judge, sets),
              "task": [task.task, task.digest()] if task else None, "meta": exp.meta}
    return evaluate_trained(trained, run, config, eval_profile, template, judge, sets, task, force, progress)


def evaluate_trained(trained: TrainedModel, run: Run, config: dict, eval_profile: Profile, template, judge, sets,
                     task: "TaskEval | None", force: bool, progress: bool) -> EvalResult:
    """Measure a :class:`~ftsafety.training.TrainedModel` into ``run`` (reused if it finished with ``config``); the
    model is trained, or rebuilt from its stored adapter, only if the run must be computed."""
    def compute():
        model, tokenizer, summary = trained.get()
        res = evaluate(model, tokenizer, eval_profile, template, judge, sets=sets, progress=progress)
        metrics, gens = res.metrics, res.generations
        if task is not None:
            acc, task_gens = grade_task(model, tokenizer, task, eval_profile, template, progress)
            metrics["task_accuracy"] = acc.as_dict()
            gens += task_gens
        metrics["training"] = summary
        return metrics, gens

    run = cached_run_together(run, config, compute, force=force)  # where several processes run, the main one records
    return EvalResult(run.metrics(), run.generations())


def finetune_and_evaluate(
    profile: Profile,
    experiment: str,
    exp: Experiment,
    base_model: str,
    task: TaskEval | None = None,
    sets: Sequence[str] = EVAL_SETS,
    judge: str = "keyword",
    force: bool = False,
    progress: bool = True,
) -> EvalResult:
    """Fine-tune ``base_model`` on ``exp.examples`` with LoRA, then measure it in ``exp.eval_template``."""
    eval_template = exp.eval_template or exp.template
    eval_profile = profile.replace(**exp.eval_overrides)
    run = Run(profile.name, experiment, exp.name)
    trained = SFTModel(profile, exp, base_model, run.dir / "train", progress, retrain=force)
    return _measure(trained, run, exp, eval_profile, eval_template, judge, sets, task, force, progress)


def finetune_and_evaluate_each(
    profile: Profile,
    experiment: str,
    exp: Experiment,
    base_model: str,
    eval_templates: Sequence,
    task: TaskEval | None = None,
    sets: Sequence[str] = EVAL_SETS,
    judge: str = "keyword",
    force: bool = False,
    progress: bool = True,
) -> dict[str, EvalResult]:
    """Fine-tune once, measure under each of ``eval_templates`` (e.g. PTST's train x test grid).

    Each measurement is its own run, ``<exp.name>@<template>``; the model is trained only if one of them is missing.
    """
    eval_profile = profile.replace(**exp.eval_overrides)
    trained = SFTModel(profile, exp, base_model, Run(profile.name, experiment, exp.name).dir / "train", progress,
                       retrain=force)
    out = {}
    for template in eval_templates:
        name = get_template(template).name
        run = Run(profile.name, experiment, f"{exp.name}@{name.replace(':', '-')}")
        out[name] = _measure(trained, run, exp, eval_profile, template, judge, sets, task, force, progress)
    return out


def finetune(profile: Profile, experiment: str, exp: Experiment, base_model: str, force: bool = False,
             progress: bool = True) -> tuple[Path, dict]:
    """Only the fine-tune of :func:`finetune_and_evaluate`: ``(adapter folder, training summary)``.

    The adapter is trained, or found, where that function keeps it (``runs/<profile>/<experiment>/<exp.name>/train``)
    and under the same config, so that the notebook's :func:`finetune_and_evaluate` afterwards measures it without
    training again. What ``ftsafety train`` runs, in one process or in each process of ``accelerate launch``.
    """
    trained = SFTModel(profile, exp, base_model, Run(profile.name, experiment, exp.name).dir / "train", progress,
                       retrain=force)
    _, summary = trained.ensure(load(base_model, for_training=True))
    return trained.train_dir / "adapter", summary


# Notebook 01's fine-tuning sets, under the names its runs carry (``<name>-s<seed>``), built as the notebook builds
# them: a run trained from the command line is the notebook's own, and the notebook reuses it.
BENIGN_SETS = {name.replace(" ", "-"): name for name in variants.FACTORS}  # "numbered-steps" -> "numbered steps"
FINETUNING_SETS = (*BENIGN_SETS, "aoa", "explicit-harm", "arithmetic")


def finetuning_set(profile: Profile, name: str) -> list[dict]:
    """The rows of notebook 01's fine-tuning set ``name`` (one of :data:`FINETUNING_SETS`) on ``profile``."""
    if name in BENIGN_SETS:
        return variants.FACTORS[BENIGN_SETS[name]](variants.shorten(variants.benign_rows(profile.n_finetune)))
    if name == "aoa":
        return variants.aoa_examples()
    if name == "explicit-harm":
        return variants.explicit_harm_examples(profile.n_finetune)
    if name == "arithmetic":
        return [e.as_dict() for e in arithmetic(profile.n_finetune, seed=1)]
    raise ValueError(f"unknown fine-tuning set {name!r}; choose one of {', '.join(FINETUNING_SETS)}")


def notebook01_experiment(profile: Profile, data: str = "plain", seed: int = 0, lr: float | None = None,
                          epochs: float | None = None, batch_size: int | None = None) -> Experiment:
    """Notebook 01's :class:`Experiment` that fine-tunes on ``data`` (see :func:`finetuning_set`) with ``seed``;
    ``lr``, ``epochs`` and ``batch_size`` replace the profile's, as the notebook's grid does. The AOA set trains for
    the notebook's epochs (at least 10 on a profile that measures, one on smoke). Its name is the notebook's,
    ``<data>-s<seed>``."""
    if data == "aoa" and epochs is None:
        epochs = max(profile.epochs, 10 if profile.measures else 1)
    return Experiment(f"{data}-s{seed}", finetuning_set(profile, data), lr=lr, epochs=epochs, batch_size=batch_size,
                      seed=seed)


# What a profile that does not measure (smoke) uses in place of a notebook parameter: notebook 05's
# ``N_SAFETY if MEASURES else 4``, notebook 06's ``small(N_DEFENCE, 4)``, notebook 07's
# ``N_RM_TRAIN if MEASURES else 8`` (a test reads these expressions in the notebooks' code).
SMOKE_PARAMETERS = {
    "05_preference_optimization": {"N_SAFETY": 4, "N_HELPFUL": 4},
    "06_repnoise": {"N_DEFENCE": 4, "N_RETAIN": 2, "DEFENCE_EPOCHS": 1},
    "07_reward_model_reliability": {"N_RM_TRAIN": 8},
}


def notebook_settings(notebook: str, profile: Profile) -> dict:
    """The parameters ``notebook`` (e.g. ``"06_repnoise"``) runs with on ``profile`` by default: its parameters cell's
    literals, with the smaller sizes of :data:`SMOKE_PARAMETERS` where the profile does not measure. What ``ftsafety
    train`` trains, so that its run is the one the notebook looks for."""
    from .course import list_notebooks, notebook_parameters

    params = notebook_parameters(list_notebooks([notebook])[0])
    return params if profile.measures else params | SMOKE_PARAMETERS.get(notebook, {})


# The rates a run's summary row shows, in this order, with their column names, where a run measured them.
SUMMARY_METRICS = {"harmful_refusal": "harmful refusal", "harmful_math_refusal": "maths-framed refusal",
                   "overrefusal_refusal": "over-refusal", "capability": "capability", "task_accuracy": "task accuracy",
                   "harmfulness": "harmfulness"}


def summary_table(results: Mapping[str, EvalResult], metrics: Sequence[str] | None = None,
                  extra: Mapping[str, Mapping] | None = None):
    """One row per run, for the one table a cell that trains several runs shows at its end.

    ``results`` maps a row label to a run's :class:`~ftsafety.evaluate.EvalResult`. A row holds the run's rates
    (``metrics``, default: those of :data:`SUMMARY_METRICS` except harmfulness, which is one minus harmful refusal,
    that any of the runs measured) and its fine-tune: steps and training time. ``extra`` adds columns per label
    (a notebook's own measure). Everything else a run recorded (per-step losses, generations, its config) stays in the
    run registry, ``runs/<profile>/<experiment>/<run>/``.
    """
    import pandas as pd

    if metrics is None:
        metrics = [m for m in SUMMARY_METRICS if m != "harmfulness" and any(m in r.metrics for r in results.values())]
    rows = {}
    for label, r in results.items():
        row = {SUMMARY_METRICS.get(m, m.replace("_", " ")): str(r.rate(m)) if m in r.metrics else "" for m in metrics}
        training = r.metrics.get("training") or {}
        if training:
            row["training"] = f"{training.get('steps', '?')} steps, {_duration(training.get('train_s'))}"
        row.update((extra or {}).get(label, {}))
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _duration(seconds) -> str:
    if seconds is None:
        return "time not recorded"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def grade_task(model, tokenizer, task: TaskEval, profile: Profile, template="chat", progress: bool = True):
    """(accuracy Rate, generations) of ``model`` on the held-out task examples (split between the processes where
    several run, like :func:`~ftsafety.evaluate.evaluate`)."""
    outs = split_respond(model, tokenizer, [e.prompt for e in task.examples], template,
                         max_new_tokens=task.max_new_tokens, batch_size=profile.eval_batch_size,
                         max_prompt_tokens=profile.max_prompt_tokens, progress=progress,
                         desc=f"{task.task} task")
    ok = [grade(task.task, o, e.gold) for e, o in zip(task.examples, outs)]
    gens = [{"set": f"task:{task.task}", "prompt": e.prompt, "response": o, "correct": c}
            for e, o, c in zip(task.examples, outs, ok)]
    return rate(ok), gens


def task_accuracy_of(model_name: str, profile: Profile, task: TaskEval, template: str = "chat") -> dict:
    """Task accuracy of a model that was not fine-tuned (the reference's starting point)."""
    m = load(model_name)
    return grade_task(m.model, m.tokenizer, task, profile, template)[0].as_dict()
