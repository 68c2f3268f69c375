"""The rendered course (`make book`): a run's executed notebooks become static HTML pages that work offline.

The notebooks here are small ones made and executed (by papermill, as `ftsafety course` does) in the test, with a
figure, a formula, a display widget and a progress bar; :func:`check_book` is also what the smoke run's check calls.
"""
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from ftsafety import book

FAKE_COMMIT = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True}
TITLES = {"00_first": "00 · First: does a figure survive?", "01_second": "01 · Second: and a widget?"}
QUESTION = "Does the book embed the figure, and draw $\\hat p \\pm z\\sqrt{\\hat p(1-\\hat p)/n}$ as MathML?"
FIGURE = """import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
%matplotlib inline
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot([0, 1], [1, 0])
plt.show()"""
WIDGETS = """import ipywidgets
from IPython.display import display
from tqdm.auto import tqdm
for _ in tqdm(range(3), desc="steps"):
    pass
live = ipywidgets.HTML("<b>live</b>")
# a widget view with its own static rendering beside it, as the course's response browsers leave
display({"application/vnd.jupyter.widget-view+json": {"model_id": live.model_id, "version_major": 2,
                                                      "version_minor": 0},
         "text/html": "<i>static twin</i>", "text/plain": "HTML(value='<b>live</b>')"}, raw=True)
ipywidgets.VBox([ipywidgets.HTML("<b>saved view</b>")])"""
REPRODUCTION = """# Reproduction on the `smoke` profile

| claim | measured (95% interval) | verdict |
|---|---|---|
| 00.demo: a claim | 84% [76, 90], n=100 | reproduced |
"""


def _source_notebook(title: str):
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                  "language": "python"}})
    nb.cells = [v4.new_markdown_cell(f"# {title}\n\n**The question.** *{QUESTION}*\n\n"
                                     "**What the papers say.** Nothing; this is a test.\n\n$$\\frac{k}{n}$$"),
                v4.new_code_cell('PROFILE = "laptop"', metadata={"tags": ["parameters"]}),
                v4.new_code_cell(FIGURE), v4.new_code_cell(WIDGETS), v4.new_code_cell("print('done')")]
    return nb


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as `ftsafety course --profile smoke` leaves it: executed notebooks, REPRODUCTION.md, run.json."""
    import papermill

    root = tmp_path_factory.mktemp("runs") / "smoke"
    source = tmp_path_factory.mktemp("sources")
    (root / "notebooks").mkdir(parents=True)
    first = source / "00_first.ipynb"
    nbformat.write(_source_notebook(TITLES["00_first"]), first)
    papermill.execute_notebook(str(first), str(root / "notebooks" / first.name), parameters={"PROFILE": "smoke"},
                               kernel_name="python3", progress_bar=False, cwd=str(source))
    # The second notebook is the first executed one retitled: one kernel start is enough for the test.
    second = nbformat.read(root / "notebooks" / first.name, as_version=4)
    second.cells[0].source = second.cells[0].source.replace(TITLES["00_first"], TITLES["01_second"])
    nbformat.write(second, root / "notebooks" / "01_second.ipynb")
    (root / "REPRODUCTION.md").write_text(REPRODUCTION, encoding="utf-8")
    book.write_run_record(root, "smoke", list(TITLES), commit=FAKE_COMMIT)
    return root


def remote_assets(page: str) -> list[str]:
    """Every script, style sheet, image or frame a page would fetch over the network (links to read are fine)."""
    tags = re.findall(r"<(?:script|link|img|iframe|source|video|audio|embed)\b[^>]*>", page)
    fetched = [t for t in tags if re.search(r"""\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", t)]
    imports = re.findall(r"""(?:@import|import\(|url\()\s*["']?(?:https?:)?//[^"')\s]+""", page)
    return fetched + imports


def check_book(run_dir, out_dir=None, expected=None, min_figures: int = 1) -> Path:
    """Build the book of ``run_dir`` (a folder holding ``notebooks/`` of executed notebooks) and check it.

    Checks: the index exists and links one page per executed notebook (and, with ``expected``, exactly those notebook
    stems); each page holds every figure of its notebook as an embedded image, and at least ``min_figures``; no page
    fetches anything from the network. Returns the index's path. Used after the nine smoke runs in
    tests/test_notebooks.py.
    """
    run_dir = Path(run_dir)
    index = book.build(run_dir, out_dir)
    executed = sorted((run_dir / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if expected is not None:
        assert [p.stem for p in executed] == sorted(expected), "the run lacks executed notebooks"
    front = index.read_text(encoding="utf-8")
    assert not remote_assets(front), remote_assets(front)
    for path in executed:
        page = index.parent / f"{path.stem}.html"
        assert page.is_file(), f"no page for {path.name}"
        assert f'href="{page.name}"' in front, f"the index does not link {page.name}"
        html = page.read_text(encoding="utf-8")
        figures = book.figure_count(nbformat.read(path, as_version=4))
        assert book.embedded_figures(html) == figures >= min_figures, \
            f"{page.name}: {book.embedded_figures(html)} embedded figures, its notebook has {figures}"
        assert not remote_assets(html), f"{page.name} fetches {remote_assets(html)}"
    return index


@pytest.fixture(scope="module")
def built(run_dir, tmp_path_factory):
    """The book of the run, built once and checked by :func:`check_book`; the tests below read it."""
    return check_book(run_dir, tmp_path_factory.mktemp("book"), expected=list(TITLES)).parent


def test_the_book_has_an_index_and_a_page_per_notebook_with_its_figure(built):
    front = (built / "index.html").read_text(encoding="utf-8")
    for stem, title in TITLES.items():
        assert f'<a href="{stem}.html">{title}</a>' in front
    assert FAKE_COMMIT["commit"][:12] in front and "with uncommitted changes" in front
    assert "<strong>Profile:</strong> smoke" in front
    assert "Does the book embed the figure" in front  # each notebook's question
    assert '<a href="reproduction.html">' in front
    page = (built / "00_first.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<img\b[^>]*\bsrc="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', page)) == 1
    assert '<a href="01_second.html">01 · Second: and a widget? →</a>' in page  # the next notebook
    assert '<a href="index.html">Contents</a>' in page


def test_the_reproduction_table_is_rendered_as_a_table(built):
    page = (built / "reproduction.html").read_text(encoding="utf-8")
    assert re.search(r"<td>84% \[76, 90\], n=100</td>\s*<td>reproduced</td>", page)


def test_pages_need_no_network_formulas_are_mathml(built):
    assert len(list(built.glob("*.html"))) == 4
    for page in built.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script src" not in html and "cdnjs" not in html and "unpkg" not in html, page.name
        assert not remote_assets(html), page.name
    html = (built / "00_first.html").read_text(encoding="utf-8")
    assert html.count("<math ") == 2 and '<math display="block"' in html
    assert "\\hat p" not in html and "\\frac" not in html  # no TeX left for a MathJax that is not there


def test_widgets_leave_their_saved_view_not_an_error(built):
    html = (built / "00_first.html").read_text(encoding="utf-8")
    assert "<b>saved view</b>" in html  # the HTML widget, drawn from the saved widget state
    assert "<i>static twin</i>" in html and "<b>live</b>" not in html  # a view's own text/html wins
    assert re.search(r'<progress max="3(\.0)?" value="3(\.0)?">', html)  # tqdm's finished bar: 3 of 3
    assert "steps" in html and "3/3" in html
    assert "VBox(children=" not in html and "0/3 [00:00<?" not in html  # no repr, no stale first state
    assert 'type="application/vnd.jupyter.widget-view+json"' not in html  # no view left for a widget manager


def test_a_widget_with_no_saved_view_gets_a_note():
    nb = nbformat.v4.new_notebook()
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "gone", "version_major": 2, "version_minor": 0},
            "text/plain": "IntSlider(value=3)"}
    nb.cells = [nbformat.v4.new_code_cell("s", outputs=[nbformat.v4.new_output("display_data", data=view)])]
    assert book.static_outputs(nb) == 1
    assert nb.cells[0].outputs[0]["data"] == {"text/html": book.WIDGET_NOTE}


def test_no_executed_notebooks_names_the_folder_and_says_to_run_the_course(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    with pytest.raises(book.NoExecutedNotebooks, match=r"no executed notebooks in .*laptop/notebooks.*make course"):
        book.build(tmp_path / "laptop")
    assert book.main(["--profile", "gpu"]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "gpu" / "notebooks") in err and "make course PROFILE=gpu" in err
    assert not (tmp_path / "gpu" / "book").exists()  # nothing written


def test_unexecuted_notebooks_are_refused(tmp_path):
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_source_notebook(TITLES["00_first"]), tmp_path / "notebooks" / "00_first.ipynb")
    with pytest.raises(book.NoExecutedNotebooks, match="not executed"):
        book.build(tmp_path)


def test_main_renders_the_profile_under_ftsafety_runs(run_dir, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(run_dir, runs / "smoke")
    monkeypatch.setenv("FTSAFETY_RUNS", str(runs))
    monkeypatch.setenv("FTSAFETY_PROFILE", "laptop")  # the explicit flag wins
    assert book.main(["--profile", "smoke"]) == 0
    assert str(runs / "smoke" / "book" / "index.html") in capsys.readouterr().out
    assert sorted(json.loads((runs / "smoke" / "book" / book.MANIFEST).read_text())) == \
        ["00_first.html", "01_second.html", "index.html", "reproduction.html"]


def test_a_rebuild_replaces_only_its_own_pages(run_dir, tmp_path):
    run = tmp_path / "smoke"
    shutil.copytree(run_dir, run)
    out = run / "book"
    book.build(run, out)
    (out / "notes.txt").write_text("mine")
    (out / "other.html").write_text("mine too")
    (run / "notebooks" / "01_second.ipynb").unlink()
    book.build(run, out)
    assert not (out / "01_second.html").exists()  # the previous build's page of a notebook no longer in the run
    assert (out / "notes.txt").read_text() == "mine" and (out / "other.html").read_text() == "mine too"
    assert "01_second.html" not in (out / "index.html").read_text(encoding="utf-8")
    assert not list(run.glob(".book-build-*"))  # the temporary folder is gone


def test_the_run_record_keeps_each_notebooks_commit(tmp_path):
    book.write_run_record(tmp_path, "smoke", ["00_first"], commit={"commit": "a" * 40, "dirty": False}, finished=0)
    book.write_run_record(tmp_path, "smoke", ["01_second"], commit={"commit": "b" * 40, "dirty": True})
    record = book.read_run_record(tmp_path)
    assert record["00_first"] == {"commit": "a" * 40, "dirty": False, "finished": "1970-01-01T00:00:00+00:00"}
    assert record["01_second"]["commit"] == "b" * 40 and record["01_second"]["dirty"] is True


def test_git_commit_reads_the_clone():
    found = book.git_commit()
    if not (book.REPO_ROOT / ".git").exists():
        assert found is None
    else:
        assert re.fullmatch(r"[0-9a-f]{40}", found["commit"]) and isinstance(found["dirty"], bool)
