"""The student edition (`make student`): nbgrader replaces every exercise's solution with a stub, and the notebooks still
run top to bottom, each stub falling back to the library."""
import json
import os
from pathlib import Path

import pytest

from ftsafety.student import count_stubs, make_student_edition

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISED = [nb for nb in NOTEBOOKS if "01" <= nb.name[:2] <= "07"]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return make_student_edition(tmp_path_factory.mktemp("student"))


def test_every_notebook_has_a_student_edition_with_its_stubs(edition):
    assert [p.name for p in edition] == [nb.name for nb in NOTEBOOKS]
    stubs = {p.name[:2]: count_stubs(p) for p in edition}
    assert sum(stubs.values()) >= 24, stubs
    assert all(stubs[nb.name[:2]] >= 2 for nb in EXERCISED), stubs


def test_the_course_edition_keeps_the_solutions():
    for nb in NOTEBOOKS:
        assert count_stubs(nb) == 0
        for cell in json.loads(nb.read_text())["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                source = "".join(cell["source"])
                assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source, nb.name


def test_the_graded_edition_drops_the_collapsed_solutions(tmp_path):
    graded = make_student_edition(tmp_path, graded=True)
    for path in graded:
        cells = json.loads(path.read_text())["cells"]
        assert not any("solution" in c.get("metadata", {}).get("tags", []) for c in cells)
        assert not any("<summary>Solution</summary>" in "".join(c["source"]) for c in cells), path.name


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(NOTEBOOKS)), ids=[nb.stem for nb in NOTEBOOKS])
def test_the_student_edition_runs_top_to_bottom_on_smoke(edition, index, tmp_path, monkeypatch):
    from ftsafety.course import run_notebook

    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    out = run_notebook(edition[index], "smoke", tmp_path, timeout=600)
    book = json.loads(out.read_text())
    outputs = [o for c in book["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if count_stubs(edition[index]):
        text = "".join("".join(o.get("text", "")) for o in outputs)
        assert text.count("not written yet; the notebook uses the library's") >= count_stubs(edition[index])
