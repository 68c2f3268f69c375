"""The student edition: ``make student`` (``python -m ftsafety.student``) writes ``student/`` from ``notebooks/``.

The notebooks in ``notebooks/`` are the one source: they hold the solutions, marked as nbgrader marks them. nbgrader's
own ``generate_assignment`` makes the edition (stubs in place of solutions, outputs cleared, grading cells locked), so
an instructor can autograde it with nbgrader as it is. ``--graded`` also removes the collapsed solutions that the
self-study edition keeps (cells tagged :data:`SOLUTION_TAG`).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .paths import REPO_ROOT, notebooks_dir

ASSIGNMENT = "ftsafety"  # nbgrader's name for the assignment (one folder of notebooks)
SOLUTION_TAG = "solution"  # a markdown cell with a collapsed solution, kept for self-study, removed for grading


def make_student_edition(out_dir: str | Path | None = None, graded: bool = False) -> list[Path]:
    """Write the student edition of every notebook to ``out_dir`` (default ``student/``); returns the notebooks."""
    import nbformat
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    out_dir = Path(out_dir) if out_dir is not None else REPO_ROOT / "student"
    # nbgrader runs its database migrations with the `alembic` command, installed next to this Python; a venv that is
    # not activated does not have that folder on PATH.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    sources = sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="ftsafety-nbgrader-") as root:
        source = Path(root) / "source" / ASSIGNMENT
        source.mkdir(parents=True)
        for nb in sources:
            shutil.copy2(nb, source / nb.name)
        config = Config()
        config.CourseDirectory.root = root
        config.CourseDirectory.db_url = f"sqlite:///{root}/gradebook.db"
        api = NbGraderAPI(config=config)
        result = api.generate_assignment(ASSIGNMENT, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{result['error']}\n{result['log']}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for nb in sources:
            edition = nbformat.read(Path(root) / "release" / ASSIGNMENT / nb.name, as_version=4)
            if graded:
                edition.cells = [c for c in edition.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
            nbformat.write(edition, out_dir / nb.name)
            written.append(out_dir / nb.name)
    return written


def count_stubs(path: str | Path) -> int:
    """Solution cells of a notebook that hold nbgrader's stub (``raise NotImplementedError()``)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")
               and "raise NotImplementedError()" in c.source)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ftsafety.student", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="folder for the student edition (default: student/)")
    p.add_argument("--graded", action="store_true", help="also remove the collapsed solutions (for autograding)")
    args = p.parse_args(argv)
    written = make_student_edition(args.out, graded=args.graded)
    stubs = {nb.name: count_stubs(nb) for nb in written}
    for name, n in stubs.items():
        print(f"{name}: {n} exercise stub(s)")
    print(f"wrote {len(written)} student notebooks ({sum(stubs.values())} stubs) to {written[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
