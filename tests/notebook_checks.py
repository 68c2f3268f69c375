"""Checks on an executed notebook's outputs, for the tests that execute the course's notebooks.

- No cell writes more than :data:`MAX_OUTPUTS` outputs. JupyterLab 4 shows a cell's first 50 outputs and hides the
  rest behind "Show more outputs" (its ``maxNumberOutputs`` setting); the course stays well under that, so a cell's
  results are never hidden and a cell that trains a dozen runs still reads as one progress line and one table.
- No cell writes to stderr. A library warning, a deprecation or a logged notice shows as a pink block the student
  cannot act on; a cell that means to report a problem raises, or prints it to stdout.

Checked against nbformat's output types (``stream``, ``display_data``, ``update_display_data``, ``execute_result``,
``error``): papermill and nbclient store a display updated through its handle as one output, and a run of prints to
one stream as one ``stream`` output, so the count is what JupyterLab draws.
"""
from __future__ import annotations

import json
from pathlib import Path

MAX_OUTPUTS = 20


def output_problems(notebook, max_outputs: int = MAX_OUTPUTS) -> list[str]:
    """What breaks the output rules in an executed notebook (a path or the notebook's JSON as a dict), one line per
    problem naming the cell by its index and id; empty when all is well."""
    book = json.loads(Path(notebook).read_text()) if not isinstance(notebook, dict) else notebook
    problems = []
    for i, cell in enumerate(book["cells"]):
        if cell["cell_type"] != "code":
            continue
        outputs = cell.get("outputs", [])
        where = f"cell {i} (id {cell.get('id')})"
        if len(outputs) > max_outputs:
            problems.append(f"{where} writes {len(outputs)} outputs, more than {max_outputs}")
        for out in outputs:
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", ""))
                problems.append(f"{where} writes to stderr: {text.strip()[:300]!r}")
    return problems


def check_outputs(notebook, max_outputs: int = MAX_OUTPUTS) -> None:
    """Assert :func:`output_problems` finds nothing (the message lists every problem)."""
    problems = output_problems(notebook, max_outputs)
    assert not problems, "\n".join(problems)
