"""Notebook hygiene, and every notebook executed top to bottom on the smoke profile, as the course edition and as the
student edition (`make student`).

The runs live in one module because `make test` distributes the tests between pytest-xdist workers by module
(``--dist loadscope``): each worker has its own run registry (tests/conftest.py), and in one worker the book is built
from the nine runs and the student edition reuses their fine-tunes."""
import ast
import json
import os
from pathlib import Path

import pytest
from notebook_checks import check_outputs

from ftsafety.student import count_stubs, make_student_edition

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


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return make_student_edition(tmp_path_factory.mktemp("student"))


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(NOTEBOOKS)), ids=[nb.stem for nb in NOTEBOOKS])
def test_the_student_edition_runs_top_to_bottom_on_smoke(edition, index, tmp_path, monkeypatch):
    """nbgrader's stubs in place of the solutions: every stub falls back to the library and says so. With the smoke
    runs' parameters (their optional sections on), so that the fine-tunes those runs stored are reused; the sections'
    default (off) runs on the gpu profile's stand-ins (test_hub_profiles.py)."""
    from ftsafety.course import run_notebook

    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    params, _ = OPTIONAL_SECTIONS.get(NOTEBOOKS[index].stem, ({}, None))
    out = run_notebook(edition[index], "smoke", tmp_path, timeout=600, parameters=params)
    book = json.loads(out.read_text())
    outputs = [o for c in book["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if count_stubs(edition[index]):
        text = "".join("".join(o.get("text", "")) for o in outputs)
        assert text.count("not written yet; the notebook uses the library's") >= count_stubs(edition[index])
