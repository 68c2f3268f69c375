"""Notebook hygiene, and every notebook executed top to bottom on the smoke profile."""
import ast
import json
import os
from pathlib import Path

import pytest
from notebook_checks import check_outputs

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_hygiene(nb):
    book = json.loads(nb.read_text())
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit with outputs stripped"
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be tagged 'parameters'"
    assert book["metadata"]["kernelspec"]["name"] == "python3"
    assert book["cells"][0]["cell_type"] == "markdown"
    # nbformat 4.5 requires a unique id per cell; papermill warns now and a later nbformat will refuse the file
    ids = [c.get("id") for c in book["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), "every cell needs a unique 'id'"
    # the parameters cell holds plain literal assignments only, so papermill can override them
    for node in ast.parse("".join(code[0]["source"])).body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)


# Sections the laptop profile skips for time; CI switches them on for smoke so that turning one on never breaks a
# notebook. Each comes with what its results must then show.
OPTIONAL_SECTIONS = {
    "00_setup_and_baseline": ({"REFERENCE_DESIGNS": True}, lambda r: len(r["measured"]["designs"]) == 5),
    "04_safety_mixing": ({"MALICIOUS_TASK": "sql", "MALICIOUS_STRATEGY": "aoa", "CONTRAST_STRATEGY": "autoif"},
                         lambda r: "04.mimicking_restores_contrast" in [c["id"] for c in r["claims"]]),
    "05_preference_optimization": ({"BALANCE": [96]}, lambda r: len(r["measured"]["balance"]) == 2),
}


def test_optional_sections_name_real_parameters():
    from ftsafety.course import notebook_parameters

    for stem, (params, _) in OPTIONAL_SECTIONS.items():
        names = set(notebook_parameters(NOTEBOOKS[0].parent / f"{stem}.ipynb"))
        assert set(params) <= names, f"{stem}: {set(params) - names} not in its parameters cell"


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom_on_smoke(nb, tmp_path, monkeypatch):
    from ftsafety.course import run_notebook

    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    params, ran = OPTIONAL_SECTIONS.get(nb.stem, ({}, None))
    # Into the smoke run's own notebooks folder, where `make book` looks (the book test below reads them).
    out = run_notebook(nb, "smoke", Path(os.environ["FTSAFETY_RUNS"]) / "smoke" / "notebooks", timeout=600,
                       parameters=params)
    check_outputs(out)  # at most 20 outputs per cell, nothing on stderr (tests/notebook_checks.py says why)
    book = json.loads(out.read_text())
    errors = [o for c in book["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    results = Path(os.environ["FTSAFETY_RUNS"]) / "smoke" / "results" / f"{nb.stem}.json"
    results = json.loads(results.read_text())
    assert results["claims"]
    assert ran is None or ran(results), f"the optional section switched on by {params} did not run"


@pytest.mark.slow
def test_book_of_the_smoke_run(tmp_path):
    """`make book` on the smoke run above: an index and one page per notebook, each with its figures."""
    from test_book import check_book  # tests/ is on sys.path, as for hub_standins

    run = Path(os.environ["FTSAFETY_RUNS"]) / "smoke"
    if len(list((run / "notebooks").glob("*.ipynb"))) < len(NOTEBOOKS):
        pytest.skip("needs the nine smoke runs above, in this session")
    check_book(run, tmp_path / "book", expected=[p.stem for p in NOTEBOOKS])


# The hub profiles with stand-ins: the profile's own code paths (hub data sets in their real schemas from
# tests/fixtures/hub, hub model ids, Llama Guard, hub reward models, batch and sequence settings, gradient
# checkpointing) with tiny random models under the hub ids, and smoke-sized counts so that it fits in CI.
STANDIN_SIZES = dict(n_harmful_eval=8, n_overrefusal_eval=6, n_capability_eval=6, max_new_tokens=8,
                     capability_max_new_tokens=6, epochs=1, max_steps=2, n_finetune=4, seeds=[0], measures=False)
HUB_PROFILE_RUNS = [("gpu", nb) for nb in NOTEBOOKS] + [("paper", nb) for nb in NOTEBOOKS[:2]]
# The smoke runs above train every grid point and every preference method; here the smallest grids that still take
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
