import atexit
import os
import shutil
import tempfile

import pytest

# Tests never touch a user's runs/: every run, result and aligned reference goes to a throw-away folder.
# The model cache (~/.cache/ftsafety) is shared on purpose: converting the bundled model once is enough.
os.environ["FTSAFETY_RUNS"] = tempfile.mkdtemp(prefix="ftsafety-test-runs-")
atexit.register(shutil.rmtree, os.environ["FTSAFETY_RUNS"], ignore_errors=True)  # one folder per test run, removed
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# `make test` runs pytest-xdist workers (Makefile, TEST_WORKERS), each with its own run registry (above): each
# worker's torch, and the notebook kernels and processes it starts, share the cores out instead of each starting a
# thread per core. Set before torch is imported.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))
for _var in ("FTSAFETY_PROFILE", "FTSAFETY_PROFILE_OVERRIDES", "FTSAFETY_HUB_MIRROR"):  # a user's settings stay out
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def smoke():
    from ftsafety import models

    return models.load("smoke")


@pytest.fixture(scope="session")
def smoke_profile():
    from ftsafety.profiles import resolve

    return resolve("smoke")


# The longest modules first: xdist hands modules to its workers in this order, and one started last would run on alone.
# Each is one worker's unit: the nine smoke runs with the book and the student edition (about half of the whole suite),
# and the gpu and paper profiles' eleven runs.
LONGEST_FIRST = ("test_notebooks.py", "test_hub_profiles.py", "test_multiprocess.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module keeps its own order
