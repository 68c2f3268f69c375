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


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ftsafety"
    return Path(os.environ.get("FTSAFETY_CACHE", default))
