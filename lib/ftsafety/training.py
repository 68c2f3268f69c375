"""LoRA supervised fine-tuning through TRL's SFTTrainer and PEFT, loss on the completion only.

Every experiment in the course fine-tunes this way: examples are ``{"prompt", "response"}`` rows, rendered with a
:class:`~ftsafety.templates.PromptTemplate` exactly as evaluation renders them, and passed to TRL as
prompt-completion pairs so that prompt tokens carry no loss. Batches are padding-free: the rows of a batch are
concatenated into one sequence whose position ids restart at every row, and attention is masked block by block, so no
compute goes to padding (about a quarter of a padded batch of short chat rows; a test checks that the loss equals the
padded batch's). Training is seeded, shows a progress bar, writes checkpoints and resumes from the last one if it was
interrupted.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .files import atomic_path, write_json
from .profiles import Profile
from .templates import get_template


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
    """The ``TrainingArguments`` every course trainer shares (batching, schedule, seeds, logging), from the profile."""
    import torch

    return dict(
        output_dir=str(output_dir), per_device_train_batch_size=profile.train_batch_size,
        gradient_accumulation_steps=profile.grad_accum, learning_rate=lr if lr is not None else profile.lr,
        num_train_epochs=epochs if epochs is not None else profile.epochs, max_steps=profile.max_steps,
        logging_steps=1, save_strategy="no", report_to="none", seed=seed, data_seed=seed, disable_tqdm=not progress,
        bf16=on_cuda and torch.cuda.is_bf16_supported(), dataloader_pin_memory=on_cuda,
    )


def lora_config(profile: Profile):
    from peft import LoraConfig

    return LoraConfig(
        r=profile.lora_r, lora_alpha=profile.lora_alpha, lora_dropout=profile.lora_dropout,
        target_modules=list(profile.lora_targets), task_type="CAUSAL_LM", bias="none",
    )


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

    import torch
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from trl import SFTConfig, SFTTrainer

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
        bf16=on_cuda and torch.cuda.is_bf16_supported(),
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
    profile's by default), ``progress``. If ``output_dir`` holds checkpoints of an interrupted run, training
    resumes from the last one.
    """
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(model, tokenizer, examples, profile, output_dir, **options)
    last = get_last_checkpoint(str(output_dir)) if resume else None
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    train_s = time.perf_counter() - t0
    tokenizer.padding_side = "left"
    per_epoch = sum(len(x) for x in trainer.train_dataset["input_ids"])
    adapter_dir = output_dir / "adapter"
    with atomic_path(adapter_dir) as tmp:
        trainer.model.save_pretrained(tmp)
    history = [
        {"step": h["step"], "epoch": h.get("epoch"), "loss": h["loss"]}
        for h in trainer.state.log_history
        if "loss" in h
    ]
    result = TrainResult(trainer.model, output_dir, adapter_dir, history,
                         int(per_epoch * (trainer.state.epoch or 0.0)), train_s)
    write_json(output_dir / "train_summary.json", result.summary() | {"loss_history": history})
    trainer.model.eval()
    return result


def merge(trained) -> object:
    """Fold LoRA weights into the base model (faster generation, saves as a plain model)."""
    model = trained.model if isinstance(trained, TrainResult) else trained
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_model(model, tokenizer, path: str | Path) -> Path:
    """Save a (merged) model and its tokenizer atomically."""
    with atomic_path(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(path)
