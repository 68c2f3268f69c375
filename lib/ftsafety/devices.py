"""Which device this process computes on, and in which precision: one decision for the whole library.

Kept apart from :mod:`ftsafety.models` (which loads models) so that the run registry (:mod:`ftsafety.runs`) can name a
run's precision without importing the model loader; ``ftsafety.models`` re-exports both names.
"""
from __future__ import annotations

from dataclasses import dataclass


def pick_device() -> str:
    """The device this process holds its model on: where ``accelerate launch`` runs several processes, the one
    accelerate gives this process (``cuda:<local rank>``, or ``cpu`` under ``--cpu``), so that N copies of a model do
    not all land on the first GPU; in one process, a GPU if there is one, else Apple's MPS, else the CPU."""
    from .launch import process_device

    device = process_device()
    if device is not None:
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@dataclass(frozen=True)
class Precision:
    """How a model is held and trained on one device: chosen by :func:`precision`, in one place for the library."""

    device: str
    weights: str  # torch dtype name the weights are loaded in
    bf16: bool  # the Trainer's bf16 mixed precision
    fp16: bool  # the Trainer's fp16 mixed precision (with a loss scaler)
    why: str

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.weights)

    def trainer_flags(self) -> dict:
        """``bf16``/``fp16`` for transformers' TrainingArguments (and TRL's configs built on it)."""
        return {"bf16": self.bf16, "fp16": self.fp16}

    def line(self) -> str:
        mixed = "bf16" if self.bf16 else "fp16 with a loss scaler" if self.fp16 else "none"
        return f"{self.device}: {self.weights} weights, mixed precision {mixed} ({self.why})"


def precision(device: str | None = None, requested: str = "auto", bf16_supported: bool | None = None) -> Precision:
    """The precision for ``device`` (default: :func:`pick_device`). ``requested`` is a profile's ``dtype``.

    ``auto``: bfloat16 weights and bf16 training on a GPU that supports it (Ampere and later: A100, H100, RTX 30xx+);
    float16 weights with fp16 mixed precision and a loss scaler on older GPUs (a T4, a V100), where bf16 is emulated
    or missing; float32 on a CPU or Apple's MPS, where half precision is slower or unsupported for training. LoRA
    adapters stay float32 in every case (PEFT keeps adapter weights in float32 by default), so fp16's scaler only
    ever unscales float32 gradients. An explicit ``requested`` ("float32", "bfloat16", "float16") is obeyed.
    ``bf16_supported`` is asked of torch when None; tests pass it to check each branch without a GPU.
    """
    device = device or pick_device()
    if requested not in ("auto", "float32", "bfloat16", "float16"):
        raise ValueError(f"dtype {requested!r}: choose auto, float32, bfloat16 or float16")
    on_cuda = device.startswith("cuda")
    if on_cuda and bf16_supported is None:
        import torch

        bf16_supported = torch.cuda.is_bf16_supported()
    if requested == "float32":
        return Precision(device, "float32", False, False, "asked for float32")
    if requested in ("bfloat16", "float16") and not on_cuda:
        raise ValueError(f"dtype {requested!r} needs a CUDA GPU; this device is {device!r}: use auto or float32")
    if requested == "bfloat16" or (requested == "auto" and on_cuda and bf16_supported):
        if not bf16_supported:
            raise ValueError("dtype 'bfloat16' asked for, but this GPU does not support it; use auto or float16")
        return Precision(device, "bfloat16", True, False, "bf16 is supported here")
    if on_cuda:
        why = "asked for float16" if requested == "float16" else "this GPU has no bf16"
        return Precision(device, "float16", False, True, why)
    return Precision(device, "float32", False, False, f"half precision does not pay on {device}")


_ANNOUNCED: set = set()
