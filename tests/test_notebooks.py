"""Notebook hygiene, and every notebook executed top to bottom on the smoke profile."""
import ast
import json
import os
from pathlib import Path

import pytest

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
    "04_safety_mixing": ({"MALICIOUS_TASK": "sql", "MALICIOUS_STRATEGY": "aoa", "CONTRAST_STRATEGY": "autoif"},
                         lambda r: any("autoif" in c["claim"] for c in r["claims"])),
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
    out = run_notebook(nb, "smoke", tmp_path, timeout=600, parameters=params)
    book = json.loads(out.read_text())
    errors = [o for c in book["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    results = Path(os.environ["FTSAFETY_RUNS"]) / "smoke" / "results" / f"{nb.stem}.json"
    results = json.loads(results.read_text())
    assert results["claims"]
    assert ran is None or ran(results), f"the optional section switched on by {params} did not run"
