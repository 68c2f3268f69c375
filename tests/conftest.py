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
