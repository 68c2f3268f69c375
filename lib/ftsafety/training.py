"""LoRA supervised fine-tuning through TRL's SFTTrainer and PEFT, loss on the completion only; or, where the profile
asks for it (``finetune="full"``), every parameter of the model.

Every experiment in the course fine-tunes this way: examples are ``{"prompt", "response"}`` rows, rendered with a
:class:`~ftsafety.templates.PromptTemplate` exactly as evaluation renders them, and passed to TRL as
prompt-completion pairs so that prompt tokens carry no loss. Batches are padding-free: the rows of a batch are
concatenated into one sequence whose position ids restart at every row, and attention is masked block by block, so no
compute goes to padding (about a quarter of a padded batch of short chat rows; a test checks that the loss equals the
padded batch's). Training is seeded, shows a progress bar, writes checkpoints and resumes from the last one if it was
interrupted.

Every fine-tune of the course (SFT experiments, the aligned reference, preference methods, RepNoise, reward models)
goes through :func:`run_training`: resume only a complete checkpoint written with the same settings, train, time the
whole run, save the adapter (or the whole model), summarise. :class:`TrainedModel` is the matching protocol on the
evaluation side: a fine-tune trained once, on first use, and handed out merged to every measurement.
"""
from __future__ import annotations

import logging
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .files import CorruptFile, InputError, atomic_path, read_json, write_json
from .profiles import Profile
from .runs import changed_keys, digest, normal, with_precision
from .templates import get_template

# What was reused and what was trained again, and why: INFO records, shown only where the user configures logging.
logger = logging.getLogger(__name__)
# Written next to a run's checkpoints: the settings they were trained with (see run_training).
SETTINGS_FILE = "train_settings.json"
# TrainingArguments fields that do not change what is trained (where files go, how progress shows).
_NOT_SETTINGS = {"output_dir", "logging_dir", "run_name", "disable_tqdm", "hub_token", "report_to", "logging_steps",
                 "save_strategy", "save_total_limit", "dataloader_pin_memory", "dataloader_num_workers"}


@dataclass
class TrainResult:
    model: object  # the trained PeftModel (LoRA layers on the base model), or the model itself under a full fine-tune
    output_dir: Path
    adapter_dir: Path  # the saved adapter, or the whole model under a full fine-tune
    loss_history: list[dict] = field(default_factory=list)  # [{"step", "epoch", "loss"}]
    train_tokens: int = 0  # tokens the model was trained on (prompt + completion, all epochs)
    train_s: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.train_tokens / self.train_s if self.train_s else float("nan")

    def summary(self) -> dict:
        losses = [h["loss"] for h in self.loss_history]
        return {
            "adapter_dir": str(self.adapter_dir), "steps": len(losses), "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None, "train_tokens": self.train_tokens,
            "train_s": round(self.train_s, 2), "tokens_per_s": round(self.tokens_per_s, 1),
        }


def to_prompt_completion(tokenizer, examples: Sequence, template="chat") -> list[dict]:
    """Rows for TRL: the rendered prompt and the completion, exactly what generation will see.

    A row may carry its own ``system`` prompt (e.g. a role-play persona); it replaces the template's.
    """
    tpl = get_template(template)
    rows = []
    for i, ex in enumerate(examples):
        ex = ex.as_dict() if hasattr(ex, "as_dict") else ex
        if "prompt" not in ex or "response" not in ex:
            raise ValueError(f"training example {i} needs 'prompt' and 'response' fields, has {sorted(ex)}")
        t = tpl.with_system(ex["system"]) if ex.get("system") else tpl
        rows.append({"prompt": t.render(tokenizer, ex["prompt"]), "completion": t.completion(ex["response"])})
    return rows


def trainer_kwargs(profile: Profile, output_dir, lr: float | None = None, epochs: float | None = None, seed: int = 0,
                   progress: bool = True, on_cuda: bool = False, max_steps: int | None = None) -> dict:
    """The ``TrainingArguments`` fields every course trainer shares (batching, schedule, seeds, logging, precision,
    activation checkpointing), from the profile: the one place they are set. The precision is
    :func:`ftsafety.models.precision`'s for the device the model is on.

    Activation checkpointing is on only on a GPU, and only where the profile asks for it (``gradient_checkpointing``,
    the paper profile's 7B model): on a CPU it saves memory no course model needs and costs about a fifth of the
    training time. It is always given explicitly, under transformers' current name (:func:`checkpointing_field`):
    TRL's configs default the old name to true, which transformers then turns into a FutureWarning.

    ``progress`` is kept for the callers' signatures: the progress bar is the library's own (:func:`quiet`), so
    transformers' bars and its per-step tables are always off here.

    Where ``accelerate launch`` runs several processes, each takes its share of the profile's rows per optimiser step
    (:func:`ftsafety.launch.split_batch`), so the global batch is the profile's whatever the process count.
    """
    from .launch import processes, split_batch
    from .models import precision

    per_device, grad_accum = split_batch(profile.train_batch_size, profile.grad_accum, processes())
    return dict(
        output_dir=str(output_dir), per_device_train_batch_size=per_device,
        gradient_accumulation_steps=grad_accum, learning_rate=lr if lr is not None else profile.lr,
        num_train_epochs=epochs if epochs is not None else profile.epochs,
        max_steps=max_steps if max_steps is not None else profile.max_steps,
        # A checkpoint per epoch, so that an interrupted run resumes (see run_training); the last one is removed once
        # the adapter is saved.
        logging_steps=1, save_strategy="epoch", save_total_limit=1, report_to="none", seed=seed, data_seed=seed,
        disable_tqdm=True, **{checkpointing_field(): bool(on_cuda and profile.gradient_checkpointing)},
        **precision("cuda" if on_cuda else "cpu", profile.dtype).trainer_flags(), dataloader_pin_memory=on_cuda,
    )


def checkpointing_field() -> str:
    """The ``TrainingArguments`` field that switches activation checkpointing: ``activation_checkpointing`` where
    transformers has it (5.24 does; its ``gradient_checkpointing`` is a deprecated alias, to be removed in v6), else
    ``gradient_checkpointing``, the only name up to 5.18, the oldest release the course supports."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


def _ignore_library_deprecations() -> None:
    """Hide one FutureWarning that the libraries the course trains with raise, not the course's code.

    transformers 5 renamed ``model.is_gradient_checkpointing`` to ``is_activation_checkpointing`` and warns on every
    read of the old name; PEFT reads it when it wraps a model in LoRA (``peft_model.py``, PEFT 0.21) and TRL around
    its reference and generation passes (``trl/models/utils.py``, TRL 1.16). A student can do nothing about it. The
    filter matches that message only, so every other FutureWarning still shows; it is set again before each trainer
    is built because test runners and ``warnings.catch_warnings`` restore the filters they found.
    """
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)


_ignore_library_deprecations()


class _NoMtimeNotice(logging.Filter):
    """transformers orders checkpoints by modification time and, when two were saved within a second (tiny runs on the
    smoke profile), warns that "mtime may not be reliable" and orders them by step number instead, which is right.
    The notice is about a fallback that works; this filter drops that one message and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mtime may not be reliable" not in record.getMessage()


logging.getLogger("transformers.trainer_utils").addFilter(_NoMtimeNotice())


def trainer_config(config_cls, profile: Profile, output_dir, lr: float | None = None, epochs: float | None = None,
                   seed: int = 0, progress: bool = True, on_cuda: bool = False, max_steps: int | None = None, **extra):
    """``config_cls`` (``TrainingArguments`` or one of TRL's configs) from :func:`trainer_kwargs`; ``extra`` adds the
    trainer's own fields (a loss type, ``max_length`` ...). Every trainer of the course is configured here."""
    _ignore_library_deprecations()
    return config_cls(**(trainer_kwargs(profile, output_dir, lr, epochs, seed, progress, on_cuda, max_steps) | extra))


def sft_config(profile: Profile, output_dir, lr: float | None = None, epochs: float | None = None, seed: int = 0,
               max_steps: int | None = None, progress: bool = True, on_cuda: bool = False):
    """TRL's ``SFTConfig`` for :func:`build_trainer`: the shared fields, completion-only loss, padding-free batches."""
    from trl import SFTConfig

    from .launch import processes

    return trainer_config(
        SFTConfig, profile, output_dir, lr, epochs, seed, progress, on_cuda, max_steps,
        # Padding-free batches do not truncate; rows are cut to max_length in build_trainer instead.
        padding_free=True, max_length=None, completion_only_loss=True, optim="adamw_torch",
        # Under DDP: every LoRA weight takes part in every step, so DDP need not search the graph for unused ones (the
        # Trainer's default does, and warns that it found none). Set only then: one-process settings stay as they were.
        **({"ddp_find_unused_parameters": False} if processes() > 1 else {}),
    )


def training_budget(profile: Profile, lr: float | None = None, epochs: float | None = None) -> str:
    """The training budget as a notebook's header states it: ``"LoRA r=16, lr 0.0002, 3 epochs"`` (``"full fine-tune,
    lr 5e-05, 5 epochs"`` where the profile trains every parameter).

    Where the profile caps training at ``max_steps`` (smoke: 2 steps, to check that the code runs), that cap replaces
    the epochs, as it does in transformers' Trainer, and the header says so instead of naming epochs that do not apply.
    """
    lr = lr if lr is not None else profile.lr
    epochs = epochs if epochs is not None else profile.epochs
    if profile.max_steps > 0:
        length = f"{_plural(profile.max_steps, 'step')} (the {profile.name} profile's max_steps, in place of epochs)"
    else:
        length = _plural(epochs, "epoch")
    what = "full fine-tune" if full_finetune(profile) else f"LoRA r={profile.lora_r}"
    return f"{what}, lr {lr:g}, {length}"


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def full_finetune(profile: Profile) -> bool:
    """Whether ``profile`` trains every parameter (``finetune="full"``) instead of a LoRA adapter."""
    return profile.finetune == "full"


def lora_config(profile: Profile, task_type: str = "CAUSAL_LM", **extra):
    """PEFT's ``LoraConfig`` from the profile's LoRA fields; ``extra`` adds or overrides fields (e.g. ``modules_to_save``
    for a reward head).

    A profile that fine-tunes every parameter has no LoRA settings: an :class:`InputError`, raised for the trainers
    that train LoRA only (preference methods, RepNoise, reward models), rather than a LoRA run stored under the full
    fine-tune's name. The SFT fine-tunes (:func:`build_trainer`) do not ask for a config then.
    """
    if full_finetune(profile):
        raise InputError(f"profile {profile.name!r} asks for a full fine-tune (finetune='full'), which the course's "
                         "SFT fine-tunes support; this trainer trains a LoRA adapter only: set finetune='lora' for it")
    from peft import LoraConfig

    fields = dict(r=profile.lora_r, lora_alpha=profile.lora_alpha, lora_dropout=profile.lora_dropout,
                  target_modules=list(profile.lora_targets), task_type=task_type, bias="none")
    return LoraConfig(**(fields | extra))


def lora_identity(profile: Profile) -> list | str:
    """The LoRA settings that name a run in the registry (rank, alpha, target modules): built here and only here.

    A full fine-tune has none and is named ``"full"`` instead, so that it never reads back a LoRA run of the same
    recipe, while every LoRA run keeps the identity (and digest) it was stored under.
    """
    if full_finetune(profile):
        return "full"
    return [profile.lora_r, profile.lora_alpha, list(profile.lora_targets)]


def trainable_precision(model) -> None:
    """Make a full fine-tune's weights float32 where they were loaded in 16 bits (on a GPU; a CPU loads float32).

    transformers' Trainer updates the parameters in their own dtype: bf16 weights keep 8 bits of mantissa, so an
    update smaller than about 1/256 of a weight (a learning rate of 5e-5 makes many of them smaller) is rounded away,
    and fp16 weights cannot be trained under fp16 mixed precision at all (the loss scaler refuses 16-bit gradients).
    float32 weights under the profile's bf16/fp16 autocast are mixed-precision training proper. LoRA needs none of
    this: PEFT keeps the adapters in float32. DeepSpeed casts the weights to 16 bits again and keeps its own float32
    copy; FSDP with mixed precision keeps them float32, as here.
    """
    import torch

    if any(p.dtype in (torch.bfloat16, torch.float16) for p in model.parameters()):
        model.float()


def build_trainer(
    model,
    tokenizer,
    examples: Sequence,
    profile: Profile,
    output_dir: str | Path,
    template="chat",
    seed: int = 0,
    lr: float | None = None,
    epochs: float | None = None,
    max_steps: int | None = None,
    progress: bool = True,
):
    """TRL's SFTTrainer with a LoRA adapter on ``model``, set up the course's way (not yet trained); where the
    profile asks for a full fine-tune (``finetune="full"``), no adapter: every parameter of ``model`` is trained, in
    float32 (:func:`trainable_precision`)."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from trl import SFTTrainer

    disable_progress_bar()  # TRL's five dataset-preparation bars; the training bar stays
    rows = to_prompt_completion(tokenizer, examples, template)
    if not rows:
        raise ValueError("no training examples")
    on_cuda = next(model.parameters()).device.type == "cuda"
    if full_finetune(profile):
        trainable_precision(model)
    args = sft_config(profile, output_dir, lr=lr, epochs=epochs, seed=seed, max_steps=max_steps,
                      progress=progress, on_cuda=on_cuda)
    tokenizer.padding_side = "right"
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        peft_config=None if full_finetune(profile) else lora_config(profile),
    )
    trainer.train_dataset = _truncate(trainer.train_dataset, profile.max_length)
    return quiet(trainer, progress)


def quiet(trainer, progress: bool):
    """The course's progress display on ``trainer``, in place of transformers' own.

    transformers draws, in a notebook, a bar with a table of every logged step beneath it (one table per run, over a
    thousand pixels for a cell that trains a dozen runs) and, in a terminal, prints every logged step as a dict. The
    per-step losses are kept in each run's ``train_summary.json`` instead; here a run shows one bar that ends as one
    line (what was trained, how many steps, how long), sharing the cell's one progress output with the evaluation's
    bars (:func:`ftsafety.generation.progress_bar`). ``progress=False`` shows nothing.
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    for cb in (PrinterCallback, ProgressCallback, NotebookProgressCallback):
        trainer.remove_callback(cb)
    if progress:
        trainer.add_callback(_progress_callback())
    return trainer


def run_label(output_dir) -> str:
    """The run a training folder belongs to, as progress lines and logs name it: ``.../05_.../kto-s0/train`` is
    ``kto-s0``, a work folder ``.../reward-model/model-<digest>-train`` is ``reward-model``."""
    parts = [p for p in Path(output_dir).parts if p != "train"]
    for name in reversed(parts):
        name = name.lstrip(".").removesuffix("-train").removesuffix("-work")
        if name and not name.startswith("model-"):
            return name
    return str(output_dir)


def _progress_callback():
    from transformers import TrainerCallback

    from .generation import progress_bar

    class TrainingProgress(TrainerCallback):
        """One bar per training run, counted in optimizer steps (a resumed run starts at its checkpoint's step)."""

        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = progress_bar(state.max_steps, f"training {run_label(args.output_dir)}", unit="steps")
            self.done = state.global_step
            if self.done:
                self.bar.update(self.done)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None and state.global_step > self.done:
                self.bar.update(state.global_step - self.done)
                self.done = state.global_step

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TrainingProgress()


def _truncate(dataset, max_length: int):
    """Cut every tokenized row to ``max_length`` tokens (its start, as TRL's own truncation keeps)."""
    if max(len(x) for x in dataset["input_ids"]) <= max_length:
        return dataset
    per_token = [c for c in dataset.column_names
                 if c in ("input_ids", "labels", "completion_mask", "attention_mask", "assistant_masks")]
    return dataset.map(lambda row: {c: row[c][:max_length] for c in per_token})


def sft_lora(
    model,
    tokenizer,
    examples: Sequence,
    profile: Profile,
    output_dir: str | Path,
    resume: bool = True,
    **options,
) -> TrainResult:
    """Fine-tune ``model`` (a transformers causal LM) with LoRA on ``examples``; returns the trained PeftModel.
    Where the profile asks for a full fine-tune (``finetune="full"``), every parameter of ``model`` itself is trained
    instead, and the whole model is saved where the adapter would be.

    ``options`` are :func:`build_trainer`'s: ``template``, ``seed``, and ``lr``, ``epochs``, ``max_steps`` (the
    profile's by default), ``progress``. If ``output_dir`` holds checkpoints of an interrupted run with the same
    settings, training resumes from the last complete one (see :func:`run_training`).
    """
    output_dir = Path(output_dir)
    trainer = build_trainer(model, tokenizer, examples, profile, output_dir, **options)
    identity = {"rows": digest(to_prompt_completion(tokenizer, examples, options.get("template", "chat"))),
                "max_length": profile.max_length, "lora": lora_identity(profile)}
    per_epoch = sum(len(x) for x in trainer.train_dataset["input_ids"])
    result = run_training(
        trainer, output_dir, identity, resume=resume, history_key="loss_history",
        history=lambda t: [{"step": h["step"], "epoch": h.get("epoch"), "loss": h["loss"]}
                           for h in t.state.log_history if "loss" in h],
        make_result=lambda model, adapter_dir, history, train_s: TrainResult(
            model, output_dir, adapter_dir, history, int(per_epoch * (trainer.state.epoch or 0.0)), train_s),
    )
    tokenizer.padding_side = "left"
    return result


def _elapsed_callback(already: float):
    """A callback that stores the run's training time (``already`` seconds before this process) in every checkpoint's
    ``trainer_state.json``, so that a resumed run's time, and its tokens per second, cover the whole run."""
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState

    class ElapsedTime(TrainerCallback, ExportableState):
        def __init__(self, elapsed_s: float = 0.0):
            self.elapsed_s, self._t0 = elapsed_s, time.perf_counter()

        def total(self) -> float:
            return self.elapsed_s + time.perf_counter() - self._t0

        def state(self) -> dict:
            return {"args": {}, "attributes": {"elapsed_s": self.total()}}

    return ElapsedTime(already)


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _checkpoints(output_dir: Path) -> list[Path]:
    """The Trainer's checkpoint folders in ``output_dir`` (``checkpoint-<step>``), newest first."""
    found = [p for p in output_dir.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name)]
    return sorted(found, key=lambda p: -int(_CHECKPOINT.match(p.name).group(1)))


def _complete_checkpoints(output_dir: Path) -> list[tuple[Path, dict]]:
    """``(checkpoint, trainer state)`` of every complete checkpoint, newest first.

    The Trainer writes ``trainer_state.json`` after the weights, optimizer and scheduler, so a checkpoint whose state
    file is missing or does not parse was interrupted while it was written. Such a folder is removed (run_training
    looks here only in a folder whose settings file says the library wrote it) and the previous checkpoint, if any,
    is used instead.
    """
    found = []
    for ckpt in _checkpoints(output_dir):
        try:
            state = read_json(ckpt / "trainer_state.json") if (ckpt / "trainer_state.json").is_file() else None
        except CorruptFile:
            state = None
        if state is None or "global_step" not in state:
            print(f"ftsafety: {ckpt} was interrupted while it was written; removed, resuming from an earlier one "
                  "if there is one", file=sys.stderr)
            shutil.rmtree(ckpt, ignore_errors=True)
            continue
        found.append((ckpt, state))
    return found


def _discard_checkpoints(output_dir: Path) -> None:
    for ckpt in _checkpoints(output_dir):
        shutil.rmtree(ckpt, ignore_errors=True)


def model_identity(model) -> dict:
    """What identifies the weights a trainer starts from: the folder or hub id they were loaded from, and a checksum of
    the base weights (LoRA layers left out), so that a checkpoint is never resumed onto another model, even one saved
    at the same path. The checksum is rounded: summation order may differ between machines in the last digits."""
    import torch

    config = getattr(model, "config", None)
    total = 0.0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" not in name and "modules_to_save" not in name:
                total += float(p.detach().double().sum())
    return {"name_or_path": getattr(config, "_name_or_path", None), "weights_sum": float(f"{total:.6g}")}


def _settings_changes(stored, settings: dict) -> str:
    if not isinstance(stored, dict):
        return "settings it cannot read back"
    if stored.get("model") != settings["model"]:
        return "another base model"
    if stored.get("identity") != settings["identity"]:
        return "other data or LoRA settings"
    changed = sorted(k for k in set(stored.get("args", {})) | set(settings["args"])
                     if stored.get("args", {}).get(k) != settings["args"].get(k))
    return "another " + ", ".join(changed)


def run_training(trainer, output_dir: str | Path, identity: dict, make_result: Callable, *, resume: bool = True,
                 history: Callable | None = None, history_key: str = "history"):
    """Train ``trainer`` the course's one way: resume or start, time, save the adapter, summarise.

    - A checkpoint in ``output_dir`` is resumed only if it was written with the same settings: the base model (its
      path and a checksum of its weights, :func:`model_identity`), ``identity`` (what the caller knows decides the
      run: data digest, LoRA, method options) and the trainer's own arguments (learning rate, epochs, batch, seed,
      loss ...). Checkpoints of other settings are discarded with a message, and training starts over, so a rerun at
      another learning rate is the run that was asked for. ``resume=False`` always starts over. Checkpoints that the
      library did not write (no settings file next to them) are never touched: that is an :class:`InputError`.
    - A checkpoint interrupted while it was written is skipped (see :func:`_complete_checkpoints`).
    - The training time covers the whole run, across interruptions.
    - The adapter (the whole model, under a full fine-tune) is saved atomically to ``output_dir/adapter``, through
      the trainer's own save (:func:`save_adapter`); checkpoints, which only serve resumption, are removed.
    - ``make_result(model, adapter_dir, history, train_s)`` builds the caller's result object (it has ``summary()``);
      ``history(trainer)`` gives the per-step records (default: the logged steps with a loss). The summary and history
      are written to ``output_dir/train_summary.json``, the history under ``history_key``; where several processes
      trained together, the summary also holds their number (``processes``).
    - Under ``accelerate launch`` every process calls this, and every process trains; only the main process removes
      checkpoints and writes files (the Trainer's own checkpoints included), and the others wait for it where they
      read what it wrote, so all of them resume from the same checkpoint. Every process takes part in the save,
      which gathers sharded weights (ZeRO-3, FSDP) from all of them.
    """
    from .launch import is_main_process, process_record, wait_for_everyone

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    args = {k: v for k, v in trainer.args.to_dict().items() if k not in _NOT_SETTINGS}
    settings = normal({"model": model_identity(trainer.model), "identity": identity, "args": args})
    settings_path = output_dir / SETTINGS_FILE
    # Every process reads the folder before any of them changes it, so that all take the same decision.
    discard = _stale_checkpoints(output_dir, settings_path, settings, resume)
    wait_for_everyone()
    if is_main_process():
        if discard:
            _discard_checkpoints(output_dir)
        write_json(settings_path, settings)
        _complete_checkpoints(output_dir)  # removes the checkpoints that were cut short while written
    wait_for_everyone()
    complete = _complete_checkpoints(output_dir)
    last, already = None, 0.0
    if complete:
        last, state = complete[0]
        already = float(state.get("stateful_callbacks", {}).get("ElapsedTime", {}).get("attributes", {})
                        .get("elapsed_s", 0.0))
        logger.info("%s: resuming from %s (step %s of an interrupted run with the same settings)",
                    run_label(output_dir), last.name, state.get("global_step"))
    else:
        logger.info("%s: training from the start in %s", run_label(output_dir), output_dir)
    clock = _elapsed_callback(already)
    trainer.add_callback(clock)
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    train_s = clock.total()
    wait_for_everyone()  # every process has written its part of the last checkpoint before the main one removes it
    adapter_dir = output_dir / "adapter"
    records = history(trainer) if history else [h for h in trainer.state.log_history if "loss" in h]
    result = make_result(trainer.model, adapter_dir, records, train_s)
    save_adapter(trainer, adapter_dir)  # in every process: a collective gather where the weights are sharded
    if is_main_process():
        write_json(output_dir / "train_summary.json", result.summary() | process_record() | {history_key: records})
        _discard_checkpoints(output_dir)
    wait_for_everyone()  # the adapter is on disk before any process reads it back
    trainer.model.eval()
    return result


def _stale_checkpoints(output_dir: Path, settings_path: Path, settings: dict, resume: bool) -> bool:
    """Whether the checkpoints in ``output_dir`` must go before training (read-only: :func:`run_training` removes
    them): they were written with other settings (said in a message), or ``resume`` is off. Checkpoints without the
    settings file beside them were not written by the library: an :class:`InputError`."""
    if not _checkpoints(output_dir):
        return False
    if not settings_path.is_file():
        raise InputError(f"{output_dir} holds checkpoints that ftsafety did not write (there is no "
                         f"{SETTINGS_FILE}); move them elsewhere, or train into another folder")
    try:
        stored = normal(read_json(settings_path))  # written before paths were stored relative, too
    except CorruptFile:
        stored = None
    if stored != settings:
        from .launch import is_main_process

        if is_main_process():  # one message, not one per process
            print(f"ftsafety: the checkpoints in {output_dir} were trained with {_settings_changes(stored, settings)};"
                  " starting over", file=sys.stderr)
        return True
    return not resume


def save_adapter(trainer, adapter_dir: Path) -> Path:
    """Save what ``trainer`` trained atomically to ``adapter_dir``: the LoRA adapter, or the whole model with its
    tokenizer under a full fine-tune (a folder that loads with ``from_pretrained``). Every process calls it; the main
    one writes.

    The save is the trainer's own ``save_model``, which transformers makes correct wherever the weights live: under
    DDP (and in one process) it saves the main process's copy, under ZeRO-3 and FSDP it first gathers the shards from
    every process (a collective, so the other processes take part and write nothing; ``args.should_save`` is false
    there). What ``save_model`` adds beside the weights is left out, so that an adapter folder holds what
    ``save_pretrained`` writes and no more: the pickled training arguments, and the tokenizer (megabytes per run that
    the registry does not need beside an adapter; a whole model keeps it).
    """
    from .launch import is_main_process

    if not is_main_process():
        # Sharded weights: join the gather, which writes nothing here. Under DDP every process holds the whole model
        # and the main one saves it alone.
        if getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False):
            trainer.save_model(str(adapter_dir))
        return adapter_dir
    with atomic_path(adapter_dir, replace_dir=True) as tmp:
        _save_trained(trainer, tmp)
    return adapter_dir


def _save_trained(trainer, folder: Path) -> None:
    """``trainer.save_model(folder)`` without the training arguments, and without the tokenizer beside an adapter."""
    from transformers.trainer import TRAINING_ARGS_NAME

    model = trainer.accelerator.unwrap_model(trainer.model)
    keep = (trainer.processing_class, trainer.data_collator)
    if hasattr(model, "peft_config"):  # an adapter: _save writes the tokenizer from either attribute
        trainer.processing_class = trainer.data_collator = None
    try:
        trainer.save_model(str(folder))
    finally:
        trainer.processing_class, trainer.data_collator = keep
    (Path(folder) / TRAINING_ARGS_NAME).unlink(missing_ok=True)


class TrainedModel:
    """A fine-tune that is trained once, on first use, and handed out merged to every evaluation of it.

    The protocol every trained artefact that the course measures follows (SFT experiments, preference methods):
    ``config`` is what identifies the fine-tune; :meth:`get` returns ``(merged model, tokenizer, training summary)``.
    A subclass implements :meth:`train` (one call of :func:`run_training` through the method's own function). If
    ``train_dir`` holds an adapter (or, from a full fine-tune, a whole model) saved under the same config, the model is
    rebuilt from it in seconds instead.
    :meth:`ensure` trains (or finds) the adapter without merging it: what ``ftsafety train`` runs, in one process or
    in each of the processes of ``accelerate launch``.
    """

    def __init__(self, base_model: str, train_dir: str | Path, config: dict, progress: bool = True,
                 retrain: bool = False):
        # The machine's precision where it is not float32 (runs.with_precision): an adapter trained in bf16 on a GPU
        # is not reused as a CPU's float32 one, nor the other way; CPU configs stay as they were.
        self.base_model, self.train_dir, self.config = base_model, Path(train_dir), with_precision(config)
        self.progress, self.retrain = progress, retrain  # retrain: FORCE, train again even if an adapter is stored
        self._model = None

    def train(self, base):
        """Train an adapter on ``base`` (a :class:`~ftsafety.models.Loaded`) into ``train_dir``; returns a result
        with ``model`` (the PeftModel) and ``summary()``."""
        raise NotImplementedError

    def _stored_summary(self) -> dict | None:
        adapter, marker = self.train_dir / "adapter", self.train_dir / "train_config.json"
        label = run_label(self.train_dir)
        if self.retrain or not adapter.is_dir() or not marker.is_file():
            why = "asked to train again" if self.retrain else "no adapter stored"
            logger.info("%s: training the adapter (%s)", label, why)
            return None
        try:
            # normal(): configs written before paths were stored relative read back as the same config
            stored_config = _without_process_count(normal(read_json(marker)))
            if stored_config != _without_process_count(normal(self.config)):
                logger.info("%s: training the adapter again (the stored one was trained with another %s)", label,
                            changed_keys(stored_config, _without_process_count(normal(self.config))))
                return None
            stored = read_json(self.train_dir / "train_summary.json")
        except CorruptFile as err:
            print(f"ftsafety: {err}; training again", file=sys.stderr)
            return None
        logger.info("%s: reusing the adapter stored in %s", label, adapter)
        return self.from_stored(stored)

    def summarise(self, result) -> dict:
        """What a run's metrics keep of the training (``metrics["training"]``)."""
        return result.summary()

    def from_stored(self, stored: dict) -> dict:
        """:meth:`summarise` as read back from ``train_summary.json`` (per-step losses left out)."""
        return {k: v for k, v in stored.items() if k != "loss_history"}

    def ensure(self, base) -> tuple[object | None, dict]:
        """``(result, summary)``: the adapter trained on ``base`` into ``train_dir`` if none is stored under this config
        (``result`` is :meth:`train`'s), else ``(None, the stored summary)``.

        ``train_dir/train_config.json`` records the config once the adapter is saved, and the process count where
        several processes trained together (:func:`ftsafety.launch.process_record`). The count does not decide reuse:
        their global batch is the recipe's, so it is the same fine-tune, and a notebook in one process reuses it.
        Under ``accelerate launch`` every process calls this; only the main process writes.
        """
        from .launch import is_main_process, process_record, wait_for_everyone

        summary = self._stored_summary()
        wait_for_everyone()  # every process has decided before the main one changes the folder
        if summary is not None:
            return None, summary
        marker = self.train_dir / "train_config.json"
        if is_main_process():
            marker.unlink(missing_ok=True)  # the adapter is about to change
        result = self.train(base)
        if is_main_process():
            write_json(marker, normal(self.config | process_record()))
        wait_for_everyone()
        return result, self.summarise(result) | process_record()

    def get(self):
        if self._model is not None:
            return self._model
        from .models import load

        base = load(self.base_model, for_training=True)
        # A full fine-tune trains float32 weights (trainable_precision); measured, as reloaded, in the loaded dtype.
        dtype = base.model.dtype
        result, summary = self.ensure(base)
        model = merged_adapter(base.model, self.train_dir / "adapter") if result is None else merge(result)
        if model.dtype != dtype:
            model = model.to(dtype)
        model.eval()
        base.tokenizer.padding_side = "left"
        self._model = (model, base.tokenizer, summary)
        return self._model


def _without_process_count(config: dict) -> dict:
    """A stored training config without the process count (see :meth:`TrainedModel.ensure`)."""
    return {k: v for k, v in config.items() if k != "processes"} if isinstance(config, dict) else config


def merged_adapter(model, adapter_dir) -> object:
    """``model`` with the LoRA adapter saved in ``adapter_dir`` folded into its weights (a plain model again): how a
    stored fine-tune is rebuilt without training it again.

    Where a full fine-tune saved the whole model there (no ``adapter_config.json``), that model is loaded instead, in
    ``model``'s dtype and on its device, and ``model`` is not used.
    """
    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        from transformers import AutoModelForCausalLM

        trained = AutoModelForCausalLM.from_pretrained(str(adapter_dir), dtype=model.dtype, trust_remote_code=False)
        return trained.to(model.device)
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()


def merge(trained) -> object:
    """Fold LoRA weights into the base model (faster generation, saves as a plain model); a fully fine-tuned model is
    returned as it is."""
    import dataclasses

    model = trained.model if dataclasses.is_dataclass(trained) else trained  # a result (TrainResult, ...) or a model
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_merged(result, tokenizer, path: str | Path) -> Path:
    """An SFT result's LoRA merged into its model and saved at ``path`` (:func:`save_model`), with its training summary
    and loss history beside the weights (``train_summary.json``, with the process count where several trained it): how
    a fine-tune that later runs start from is kept."""
    from .launch import process_record

    save_model(merge(result), tokenizer, path)
    write_json(Path(path) / "train_summary.json",
               result.summary() | process_record() | {"loss_history": result.loss_history})
    return Path(path)


def save_model(model, tokenizer, path: str | Path) -> Path:
    """Save a (merged) model and its tokenizer atomically; a saved model already at ``path`` is replaced (any other
    folder there is an error, see :func:`~ftsafety.files.atomic_path`)."""
    with atomic_path(path, replace_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(path)
