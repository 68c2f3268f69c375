"""The notebooks on the `gpu` and `paper` profiles, top to bottom, with stand-ins for the hub's models and data
sets."""
import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# The hub profiles with stand-ins: the profile's own code paths (hub data sets in their real schemas from
# tests/fixtures/hub, hub model ids, Llama Guard, hub reward models, batch and sequence settings, gradient
# checkpointing) with tiny random models under the hub ids, and smoke-sized counts so that it fits in CI.
STANDIN_SIZES = dict(n_harmful_eval=8, n_overrefusal_eval=6, n_capability_eval=6, max_new_tokens=8,
                     capability_max_new_tokens=6, epochs=1, max_steps=2, n_finetune=4, seeds=[0], measures=False)
HUB_PROFILE_RUNS = [("gpu", nb) for nb in NOTEBOOKS] + [("paper", nb) for nb in NOTEBOOKS[:2]]
# The smoke runs (test_notebooks.py) train every grid point and every preference method; here the smallest grids that still take
# each code path (one task and one malicious strategy, two doses, one attack learning rate, one preference method of
# each kind: reference model, unpaired, reference-free) cover the hub profiles' code in a fraction of the time.
STANDIN_PARAMS = {
    "02_malicious_restructuring": {"TASKS": ["arithmetic"], "STRATEGIES": ["benign", "aoa"]},
    "04_safety_mixing": {"DOSES": [0.0, 0.1], "MALICIOUS_DOSES": [0.0, 0.1], "MIMIC_DOSES": [0.1]},
    "05_preference_optimization": {"METHODS": ["sigmoid", "kto", "orpo"], "HEADLINE_DESIGNS": False},
    "06_repnoise": {"ATTACK_LRS": [0.0005], "ATTACK_ROWS": [16]},
}


@pytest.fixture(scope="session")
def hub_mirror(tmp_path_factory):
    from hub_standins import build_mirror, mirror_path

    from ftsafety.profiles import PROFILES

    return mirror_path(build_mirror(tmp_path_factory.mktemp("hub-models"), [PROFILES["gpu"], PROFILES["paper"]]))


@pytest.mark.slow
@pytest.mark.parametrize("profile, nb", HUB_PROFILE_RUNS, ids=lambda x: getattr(x, "stem", x))
def test_runs_top_to_bottom_on_hub_profiles_with_standins(profile, nb, tmp_path, monkeypatch, hub_mirror):
    from ftsafety.course import run_notebook

    monkeypatch.setenv("FTSAFETY_PROFILE", profile)
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", json.dumps(STANDIN_SIZES))
    monkeypatch.setenv("FTSAFETY_HUB_MIRROR", hub_mirror)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = run_notebook(nb, profile, tmp_path, timeout=600, parameters=STANDIN_PARAMS.get(nb.stem))
    book = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for c in book["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    assert f"profile {profile}" in text
    results = json.loads((Path(os.environ["FTSAFETY_RUNS"]) / profile / "results" / f"{nb.stem}.json").read_text())
    assert results["claims"]
    if nb.stem.startswith("00"):
        assert "no harmful help by llamaguard" in text  # the hub profiles' LLM judge ran
