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


def pytest_configure(config):
    """Build the shared model cache (the laptop model's conversion, the smoke model) once, before any test runs and
    before pytest-xdist starts its workers: a first-use conversion prints its progress, which a test reading a
    command's output would see, and the first test to load a model would carry its time."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        from ftsafety import models

        models.smoke_model_dir()  # converts the laptop model first: the smoke model takes its tokenizer


# The longest modules first: with --no-loadscope-reorder (Makefile) xdist hands modules to its workers in this order,
# and one started last would run on alone. The first two are each about a worker's share: the nine smoke runs with the
# book and the student edition's runs, and the gpu and paper profiles' eleven runs.
LONGEST_FIRST = ("test_notebooks.py", "test_hub_profiles.py", "test_multiprocess.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module keeps its own order
