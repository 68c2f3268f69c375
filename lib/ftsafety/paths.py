"""Where things live: the repository's data, the run registry, the model cache.

Each can be moved with an environment variable (FTSAFETY_DATA, FTSAFETY_RUNS, FTSAFETY_CACHE), which is how
tests keep their files out of a user's runs.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The library is installed editable from the repository (make install); data/, notebooks/ and runs/ sit at its root.
REPO_ROOT = PACKAGE_DIR.parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("FTSAFETY_DATA", REPO_ROOT / "data"))


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def runs_root() -> Path:
    return Path(os.environ.get("FTSAFETY_RUNS", REPO_ROOT / "runs"))


# How a stored config names a path inside the run registry: relative to its root, so that a copied or moved runs
# folder (another machine, a teammate's results) still matches the configs asked for there, and its runs are reused.
RUNS_MARK = "$FTSAFETY_RUNS"


def portable(obj):
    """``obj`` (JSON-like) with every path inside :func:`runs_root` written as ``$FTSAFETY_RUNS/<relative path>``."""
    if isinstance(obj, dict):
        return {k: portable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [portable(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/"):
        root = runs_root()
        for base in dict.fromkeys((str(root), str(root.resolve()))):
            if obj == base or obj.startswith(base.rstrip("/") + "/"):
                return RUNS_MARK + obj[len(base.rstrip("/")):]
    return obj


def local_path(name: str) -> str:
    """The path on this machine of a name :func:`portable` wrote (other names are returned as they are)."""
    if name == RUNS_MARK or name.startswith(RUNS_MARK + "/"):
        return str(runs_root()) + name[len(RUNS_MARK):]
    return name


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ftsafety"
    return Path(os.environ.get("FTSAFETY_CACHE", default))


MIRROR_VAR = "FTSAFETY_HUB_MIRROR"


def hub_mirror(repo_id: str) -> Path | None:
    """The local copy of hub repository ``repo_id`` (a model or a data set) under ``$FTSAFETY_HUB_MIRROR``, else None.

    The variable names one or more folders (separated like PATH) laid out as ``<folder>/<owner>/<name>/`` with the
    repository's files as the hub holds them. A machine without internet (a cluster node, this course's tests) then
    runs the hub profiles' code unchanged: models load with ``from_pretrained(folder)`` and data sets with
    ``datasets.load_dataset(folder, config, split=...)``, the calls the hub path makes. An id with no copy in any
    folder returns None, so the hub is used for it as usual.
    """
    roots = [r for r in os.environ.get(MIRROR_VAR, "").split(os.pathsep) if r]
    if "/" not in repo_id or repo_id.startswith(("/", ".")) or not roots:
        return None
    for root in roots:
        candidate = Path(root) / repo_id
        if candidate.is_dir():
            return candidate
    return None
