"""LoRA supervised fine-tuning through TRL's SFTTrainer and PEFT, loss on the completion only.

Every experiment in the course fine-tunes this way: examples are ``{"prompt", "response"}`` rows, rendered with a
:class:`~ftsafety.templates.PromptTemplate` exactly as evaluation renders them, and passed to TRL as
prompt-completion pairs so that prompt tokens carry no loss. Batches are padding-free: the rows of a batch are
concatenated into one sequence whose position ids restart at every row, and attention is masked block by block, so no
compute goes to padding (about a quarter of a padded batch of short chat rows; a test checks that the loss equals the
padded batch's). Training is seeded, shows a progress bar, writes checkpoints and resumes from the last one if it was
interrupted.

Every fine-tune of the course (SFT experiments, the aligned reference, preference methods, RepNoise, reward models)
goes through :func:`run_training`: resume only a complete checkpoint written with the same settings, train, time the
whole run, save the adapter, summarise. :class:`TrainedModel` is the matching protocol on the evaluation side: a
fine-tune trained once, on first use, and handed out merged to every measurement.
"""
from __future__ import annotations

import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .files import CorruptFile, InputError, atomic_path, read_json, write_json
from .profiles import Profile
from .runs import digest, normal
from .templates import get_template

# Written next to a run's checkpoints: the settings they were trained with (see run_training).
SETTINGS_FILE = "train_settings.json"
# TrainingArguments fields that do not change what is trained (where files go, how progress shows).
_NOT_SETTINGS = {"output_dir", "logging_dir", "run_name", "disable_tqdm", "hub_token", "report_to", "logging_steps",
                 "save_strategy", "save_total_limit", "dataloader_pin_memory", "dataloader_num_workers"}


@dataclass
class TrainResult:
    model: object  # the trained PeftModel (LoRA layers on the base model)
    output_dir: Path
    adapter_dir: Path
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
                   progress: bool = True, on_cuda: bool = False) -> dict:
    """The ``TrainingArguments`` every course trainer shares (batching, schedule, seeds, logging, precision), from the
    profile; the precision is :func:`ftsafety.models.precision`'s for the device the model is on."""
    from .models import precision

    return dict(
        output_dir=str(output_dir), per_device_train_batch_size=profile.train_batch_size,
        gradient_accumulation_steps=profile.grad_accum, learning_rate=lr if lr is not None else profile.lr,
        num_train_epochs=epochs if epochs is not None else profile.epochs, max_steps=profile.max_steps,
        # A checkpoint per epoch, so that an interrupted run resumes (see run_training); the last one is removed once
        # the adapter is saved.
        logging_steps=1, save_strategy="epoch", save_total_limit=1, report_to="none", seed=seed, data_seed=seed,
        disable_tqdm=not progress,
        **precision("cuda" if on_cuda else "cpu", profile.dtype).trainer_flags(), dataloader_pin_memory=on_cuda,
    )


def lora_config(profile: Profile, task_type: str = "CAUSAL_LM", **extra):
    """PEFT's ``LoraConfig`` from the profile's LoRA fields; ``extra`` adds or overrides fields (e.g. ``modules_to_save``
    for a reward head)."""
    from peft import LoraConfig

    fields = dict(r=profile.lora_r, lora_alpha=profile.lora_alpha, lora_dropout=profile.lora_dropout,
                  target_modules=list(profile.lora_targets), task_type=task_type, bias="none")
    return LoraConfig(**(fields | extra))


def lora_identity(profile: Profile) -> list:
    """The LoRA settings that name a run in the registry (rank, alpha, target modules): built here and only here."""
    return [profile.lora_r, profile.lora_alpha, list(profile.lora_targets)]


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
    """TRL's SFTTrainer with a LoRA adapter on ``model``, set up the course's way (not yet trained)."""
    import warnings

    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from trl import SFTConfig, SFTTrainer

    from .models import precision

    disable_progress_bar()  # TRL's five dataset-preparation bars; the training bar stays
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    rows = to_prompt_completion(tokenizer, examples, template)
    if not rows:
        raise ValueError("no training examples")
    on_cuda = next(model.parameters()).device.type == "cuda"
    # transformers 5.x renamed gradient_checkpointing; TRL defaults it to on, which only slows a small model down.
    ckpt_field = "activation_checkpointing" if "activation_checkpointing" in SFTConfig.__dataclass_fields__ \
        else "gradient_checkpointing"
    args = SFTConfig(
        **{ckpt_field: profile.gradient_checkpointing},
        output_dir=str(output_dir),
        per_device_train_batch_size=profile.train_batch_size,
        gradient_accumulation_steps=profile.grad_accum,
        learning_rate=lr if lr is not None else profile.lr,
        num_train_epochs=epochs if epochs is not None else profile.epochs,
        max_steps=max_steps if max_steps is not None else profile.max_steps,
        # Padding-free batches do not truncate; rows are cut to max_length below instead.
        padding_free=True,
        max_length=None,
        completion_only_loss=True,
        **precision("cuda" if on_cuda else "cpu", profile.dtype).trainer_flags(),
        logging_steps=1,
        save_strategy="epoch",
        save_total_limit=1,
        report_to="none",
        seed=seed,
        data_seed=seed,
        disable_tqdm=not progress,
        dataloader_pin_memory=on_cuda,
        optim="adamw_torch",
    )
    tokenizer.padding_side = "right"
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        peft_config=lora_config(profile),
    )
    trainer.train_dataset = _truncate(trainer.train_dataset, profile.max_length)
    return quiet(trainer, progress)


def quiet(trainer, progress: bool):
    """Without a progress bar, transformers prints every logged step as a dict; a notebook wants neither then."""
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


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
    - The adapter is saved atomically to ``output_dir/adapter``; checkpoints, which only serve resumption, are removed.
    - ``make_result(model, adapter_dir, history, train_s)`` builds the caller's result object (it has ``summary()``);
      ``history(trainer)`` gives the per-step records (default: the logged steps with a loss). The summary and history
      are written to ``output_dir/train_summary.json``, the history under ``history_key``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    args = {k: v for k, v in trainer.args.to_dict().items() if k not in _NOT_SETTINGS}
    settings = normal({"model": model_identity(trainer.model), "identity": identity, "args": args})
    settings_path = output_dir / SETTINGS_FILE
    if _checkpoints(output_dir):
        if not settings_path.is_file():
            raise InputError(f"{output_dir} holds checkpoints that ftsafety did not write (there is no "
                             f"{SETTINGS_FILE}); move them elsewhere, or train into another folder")
        try:
            stored = read_json(settings_path)
        except CorruptFile:
            stored = None
        if stored != settings:
            print(f"ftsafety: the checkpoints in {output_dir} were trained with {_settings_changes(stored, settings)};"
                  " starting over", file=sys.stderr)
            _discard_checkpoints(output_dir)
        elif not resume:
            _discard_checkpoints(output_dir)
    write_json(settings_path, settings)
    complete = _complete_checkpoints(output_dir)
    last, already = None, 0.0
    if complete:
        last, state = complete[0]
        already = float(state.get("stateful_callbacks", {}).get("ElapsedTime", {}).get("attributes", {})
                        .get("elapsed_s", 0.0))
    clock = _elapsed_callback(already)
    trainer.add_callback(clock)
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    train_s = clock.total()
    adapter_dir = output_dir / "adapter"
    with atomic_path(adapter_dir, replace_dir=True) as tmp:
        trainer.model.save_pretrained(tmp)
    records = history(trainer) if history else [h for h in trainer.state.log_history if "loss" in h]
    result = make_result(trainer.model, adapter_dir, records, train_s)
    write_json(output_dir / "train_summary.json", result.summary() | {history_key: records})
    _discard_checkpoints(output_dir)
    trainer.model.eval()
    return result


class TrainedModel:
    """A fine-tune that is trained once, on first use, and handed out merged to every evaluation of it.

    The protocol every trained artefact that the course measures follows (SFT experiments, preference methods):
    ``config`` is what identifies the fine-tune; :meth:`get` returns ``(merged model, tokenizer, training summary)``.
    A subclass implements :meth:`train` (one call of :func:`run_training` through the method's own function). If
    ``train_dir`` holds an adapter saved under the same config, the model is rebuilt from it in seconds instead.
    """

    def __init__(self, base_model: str, train_dir: str | Path, config: dict, progress: bool = True,
                 retrain: bool = False):
        self.base_model, self.train_dir, self.config = base_model, Path(train_dir), config
        self.progress, self.retrain = progress, retrain  # retrain: FORCE, train again even if an adapter is stored
        self._model = None

    def train(self, base):
        """Train an adapter on ``base`` (a :class:`~ftsafety.models.Loaded`) into ``train_dir``; returns a result
        with ``model`` (the PeftModel) and ``summary()``."""
        raise NotImplementedError

    def _stored_summary(self) -> dict | None:
        adapter, marker = self.train_dir / "adapter", self.train_dir / "train_config.json"
        if self.retrain or not adapter.is_dir() or not marker.is_file():
            return None
        try:
            if read_json(marker) != normal(self.config):
                return None
            stored = read_json(self.train_dir / "train_summary.json")
        except CorruptFile as err:
            print(f"ftsafety: {err}; training again", file=sys.stderr)
            return None
        return self.from_stored(stored)

    def summarise(self, result) -> dict:
        """What a run's metrics keep of the training (``metrics["training"]``)."""
        return result.summary()

    def from_stored(self, stored: dict) -> dict:
        """:meth:`summarise` as read back from ``train_summary.json`` (per-step losses left out)."""
        return {k: v for k, v in stored.items() if k != "loss_history"}

    def get(self):
        if self._model is not None:
            return self._model
        from .models import load

        base = load(self.base_model, for_training=True)
        summary = self._stored_summary()
        if summary is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(base.model, str(self.train_dir / "adapter")).merge_and_unload()
        else:
            (self.train_dir / "train_config.json").unlink(missing_ok=True)  # the adapter is about to change
            result = self.train(base)
            write_json(self.train_dir / "train_config.json", normal(self.config))
            model = merge(result)
            summary = self.summarise(result)
        model.eval()
        base.tokenizer.padding_side = "left"
        self._model = (model, base.tokenizer, summary)
        return self._model


def merge(trained) -> object:
    """Fold LoRA weights into the base model (faster generation, saves as a plain model)."""
    import dataclasses

    model = trained.model if dataclasses.is_dataclass(trained) else trained  # a result (TrainResult, ...) or a model
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_model(model, tokenizer, path: str | Path) -> Path:
    """Save a (merged) model and its tokenizer atomically; a saved model already at ``path`` is replaced (any other
    folder there is an error, see :func:`~ftsafety.files.atomic_path`)."""
    with atomic_path(path, replace_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(path)
