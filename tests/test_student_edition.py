"""The student edition (`make student`): nbgrader replaces every exercise's solution with a stub. That the notebooks
still run top to bottom, each stub falling back to the library, is tested with the smoke runs in test_notebooks.py."""
import json
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
