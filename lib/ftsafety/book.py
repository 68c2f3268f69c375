"""The rendered course: ``make book`` (``python -m ftsafety.book``) turns a run's executed notebooks into static HTML.

``ftsafety course`` writes executed notebooks to ``runs/<profile>/notebooks/`` and the reproduction table to
``runs/<profile>/REPRODUCTION.md`` (``runs/`` moves with ``$FTSAFETY_RUNS``). :func:`build` makes, in
``runs/<profile>/book/``: ``index.html`` (the run's profile, date and commit, each notebook with its question, a link
to the reproduction table), one page per notebook with its figures embedded, and ``reproduction.html``. Open
``index.html`` in a browser: every page works from the disk, without a network.

Why nbconvert, and not Jupyter Book or MyST: nbconvert is maintained by Jupyter, already installed with the course
(jupyter_server and nbgrader depend on it) and renders a notebook's saved outputs as they are, without executing
anything. Jupyter Book 2 is built on mystmd, a Node.js program that downloads its site theme from the internet on the
first build; Jupyter Book 1 (Sphinx) is in maintenance and loads MathJax and its theme's scripts from CDNs. Both add a
toolchain for what one exporter does.

What nbconvert's ``lab`` template loads from CDNs, and what this module does instead:

- require.js, the Jupyter widgets' HTML manager (unpkg) and mermaid: left out. Widgets are not live in a static
  page. A widget view shows the static ``text/html`` rendering its output holds beside it; without one, a widget that
  only displays things (boxes, HTML, labels, progress bars such as tqdm's) is drawn from the notebook's saved widget
  state, and any other gets a note saying that it is interactive.
- MathJax: left out. The TeX in markdown cells (``$...$``, ``$$...$$``) is converted when the book is built to MathML,
  which browsers draw natively (Chrome and Edge since 109, Firefox, Safari), by ``latex2mathml`` (pure Python, no
  network). An expression it cannot convert is shown as its TeX source.
- CSS, code highlighting and figures (PNG as base64 ``data:`` URIs, SVG inline) are in the page already.

The run's commit and date come from ``runs/<profile>/run.json`` (:func:`write_run_record`, written by the course run);
a run without one shows each notebook's own finishing time (papermill records it in the executed notebook) and says
that its commit was not recorded.
"""
from __future__ import annotations

import argparse
import html
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .paths import REPO_ROOT, notebooks_dir, runs_root

COURSE_TITLE = "Fine-tuning safety, step by step"
RUN_RECORD = "run.json"  # in runs/<profile>/: the commit and time each notebook was run at
MANIFEST = ".book-files.json"  # in the book folder: the files the last build wrote; a rebuild removes only those
INDEX, REPRODUCTION_PAGE = "index.html", "reproduction.html"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p><em>An interactive widget: it works when you run the notebook in JupyterLab; "
               "this page has no saved view of it.</em></p>")
# nbconvert's default order less what needs a script the page does not load (widget views, JavaScript written for
# the classic notebook's require.js and jQuery, mermaid) or MathJax (text/latex): what remains renders from the disk.
OFFLINE_PRIORITY = ["text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "text/plain"]
# The lab template with every block that loads a script from a CDN emptied, and the book's navigation added.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
nav.book { display: flex; gap: 1.5em; justify-content: space-between; padding: 0.6em 1em; margin: 0 0 1em 0;
  border-bottom: 1px solid #ccc; font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1); }
nav.book.bottom { border-bottom: none; border-top: 1px solid #ccc; margin: 1em 0 0 0; }
.jp-RenderedMarkdown table { display: block; overflow-x: auto; }
.jp-RenderedMarkdown math[display="block"] { margin: 0.6em 0; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.book_nav | default('') }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.book_nav_bottom | default('') }}{{ super() }}{%- endblock body_footer -%}
"""


class NoExecutedNotebooks(FileNotFoundError):
    """The run folder holds no executed notebook to render."""


def _exporter():
    """nbconvert's HTML exporter, set to render offline: the book's template, no CDN script, math as MathML."""
    from jinja2 import DictLoader, pass_context
    from latex2mathml.converter import convert
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
    from traitlets.config import Config

    def mathml(tex: str, display: str) -> str:
        try:
            # latex2mathml keeps the backslash of an escaped underscore in \text{...}; MathJax drops it.
            return convert(tex, display=display).replace("\\_", "_")
        except Exception:  # latex2mathml raises its own errors and plain ones alike on TeX it does not know
            return f"<code>{html.escape(tex)}</code>"

    class MathMLRenderer(IPythonRenderer):
        # nbconvert leaves TeX in the page for MathJax to typeset in the browser; converting it here needs no script.
        def block_math(self, body: str) -> str:
            return mathml(body, "block")

        def inline_math(self, body: str) -> str:
            return mathml(body, "inline")

        def latex_environment(self, name: str, body: str) -> str:
            return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")

    class BookExporter(HTMLExporter):
        @pass_context  # the filter needs the cell it renders (its attachments), as nbconvert's own does
        def markdown2html(self, context, source):
            # HTMLExporter.markdown2html with the renderer swapped; same arguments as nbconvert 7's.
            cell = context.get("cell", {})
            renderer = MathMLRenderer(
                escape=False, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options)
            return MarkdownWithMath(renderer=renderer).render(source)

    config = Config({"NbConvertBase": {"display_data_priority": OFFLINE_PRIORITY}})
    # nbconvert warns "Alternative text is missing" for every matplotlib figure (a PNG carries no description) and
    # gives it a placeholder itself; once per page, it drowns the one line `make book` prints. Its own logger, so that
    # the shared "traitlets" one (papermill's, nbclient's) keeps its level.
    log = logging.getLogger("ftsafety.book.nbconvert")
    log.setLevel(logging.ERROR)
    return BookExporter(config=config, template_name="lab", template_file="book.html.j2",
                        extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})], log=log)


def _widget_html(model_id: str, state: dict, depth: int = 0) -> str | None:
    """Static HTML for a widget from the notebook's saved widget state, for the widgets that only display things
    (boxes, HTML, labels, progress bars: what tqdm draws); None for any other widget, or one not saved.

    ipywidgets' own static renderer (@jupyter-widgets/html-manager) is a JavaScript bundle loaded from a CDN, which a
    page opened offline cannot use; these few models are drawn with plain HTML instead, as the browser would.
    """
    model = state.get(model_id.removeprefix("IPY_MODEL_"))
    if model is None or depth > 20:
        return None
    name, values = model.get("model_name", ""), model.get("state", {})
    label = html.escape(values.get("description") or "")
    label = f"<span>{label}</span> " if label else ""
    if name.endswith("BoxModel"):
        parts = [_widget_html(child, state, depth + 1) for child in values.get("children", [])]
        if not parts or None in parts:
            return None
        row = "display:flex;gap:0.5em;align-items:center" if name == "HBoxModel" else ""
        return f'<div style="{row}">' + "".join(parts) + "</div>"
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{label}{values.get('value', '')}</div>"  # an HTML widget shows its value as HTML, as in Lab
    if name == "LabelModel":
        return f"<div>{label}{html.escape(str(values.get('value', '')))}</div>"
    if name in ("FloatProgressModel", "IntProgressModel"):
        low, high, value = values.get("min", 0), values.get("max", 100), values.get("value", 0)
        return f'<div>{label}<progress value="{value - low}" max="{high - low}"></progress></div>'
    return None


def static_outputs(nb) -> int:
    """Make ``nb``'s outputs render without a kernel or a script; returns how many widget views had no static view.

    A widget view's output keeps its other representations (``text/html`` is shown by the book's order of mimetypes).
    One that has nothing but the widget and its ``text/plain`` repr (``VBox(children=...)``, or a progress bar's
    first state) is drawn from the notebook's saved widget state where it only displays things, else replaced by a
    note. nbconvert's preprocessors (checked: ClearOutput, ClearMetadata, TagRemove, RegexRemove, ExtractOutput,
    CoalesceStreams) have none that does this. The saved widget state is then dropped: nothing in the page uses it.
    """
    saved = nb.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    bare = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and not set(data) & set(OFFLINE_PRIORITY[:-1]):
                drawn = _widget_html(data[WIDGET_VIEW].get("model_id", ""), saved)
                data.clear()
                data["text/html"] = drawn if drawn is not None else WIDGET_NOTE
                bare += drawn is None
    return bare


def _first_markdown(nb) -> str:
    return next((c.source for c in nb.cells if c.cell_type == "markdown"), "")


def title_and_question(nb, fallback: str) -> tuple[str, str]:
    """A notebook's title (its first heading) and its question (the paragraph after "**The question.**", else the
    first paragraph after the title), both as markdown."""
    text = _first_markdown(nb)
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    title = heading.group(1).strip() if heading else fallback
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text[heading.end():] if heading else text) if p.strip()]
    asked = next((p for p in paragraphs if p.startswith("**The question.**")), None)
    if asked is not None:
        question = asked[len("**The question.**"):].strip()
    else:
        question = paragraphs[0] if paragraphs else ""
    return title, " ".join(question.split())


def figure_count(nb) -> int:
    """Outputs of ``nb`` that hold a figure (PNG, JPEG or SVG image)."""
    return sum(1 for c in nb.cells for o in c.get("outputs", [])
               if set(o.get("data", {})) & {"image/png", "image/jpeg", "image/svg+xml"})


def embedded_figures(page: str) -> int:
    """Figures embedded in a book page: images as ``data:`` URIs and inline SVG outputs."""
    return (len(re.findall(r'<img\b[^>]*\bsrc="data:image/(?:png|jpeg);base64,', page))
            + page.count('class="jp-RenderedSVG'))


def _executed(nb) -> bool:
    return any(c.get("execution_count") is not None or c.get("outputs") for c in nb.cells if c.cell_type == "code")


def executed_notebooks(run_dir: str | os.PathLike) -> list[Path]:
    """The executed notebooks of a run folder (``<run_dir>/notebooks/NN_*.ipynb``), in course order.

    Raises :class:`NoExecutedNotebooks`, naming the folder, when there are none.
    """
    folder = Path(run_dir) / "notebooks"
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        profile = Path(run_dir).name
        raise NoExecutedNotebooks(
            f"no executed notebooks in {folder}: run the course first (`make course PROFILE={profile}`, or "
            f"`ftsafety course --profile {profile}`), then `make book PROFILE={profile}`")
    return found


# ---- the run's record: commit and time -------------------------------------------------------------------------

def git_commit(repo: str | os.PathLike = REPO_ROOT) -> dict | None:
    """The checked-out commit of ``repo`` and whether it has uncommitted changes; None outside a git clone."""
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30,
                                  check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        # Changes to tracked files only: runs/, .venv/ and student/ are ignored, an untracked scratch file is not code.
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def write_run_record(run_dir: str | os.PathLike, profile: str, notebooks: list[str], commit: dict | None = None,
                     finished: float | None = None) -> Path:
    """Record in ``<run_dir>/run.json`` the commit (default: the repository's now) and the finishing time (default:
    now) of each notebook in ``notebooks`` (their stems); the other notebooks' entries are kept. The book reads it."""
    from .files import CorruptFile, read_json, write_json

    path = Path(run_dir) / RUN_RECORD
    try:
        record = read_json(path) if path.is_file() else {}
    except CorruptFile:
        record = {}  # rewritten whole below; the notebooks run again are the ones it then knows
    commit = commit if commit is not None else git_commit()
    when = datetime.fromtimestamp(finished if finished is not None else time.time(), timezone.utc)
    entries = record.get("notebooks", {})
    for stem in notebooks:
        entries[stem] = {**(commit or {"commit": None, "dirty": None}), "finished": when.isoformat(timespec="seconds")}
    return write_json(path, {"profile": profile, "notebooks": entries})


def read_run_record(run_dir: str | os.PathLike) -> dict:
    """Each notebook's recorded commit and finishing time, by stem ({} if the run has no readable record)."""
    from .files import CorruptFile, read_json

    path = Path(run_dir) / RUN_RECORD
    try:
        return (read_json(path) if path.is_file() else {}).get("notebooks", {})
    except CorruptFile:
        return {}


def _when(iso: str | None) -> str:
    if not iso:
        return "unknown"
    stamp = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if stamp.tzinfo is None:  # papermill writes UTC times without a zone
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _commit_text(entry: dict | None) -> str:
    if not entry or not entry.get("commit"):
        return "not recorded"
    return f"`{entry['commit'][:12]}`" + (" with uncommitted changes" if entry.get("dirty") else "")


# ---- pages -----------------------------------------------------------------------------------------------------

def _nav(links: list[tuple[str, str]], bottom: bool = False) -> str:
    items = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for href, text in links if href)
    if not items:
        return ""
    return f'<nav class="book{" bottom" if bottom else ""}">{items}</nav>'


def _markdown_page(source: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(source))
    return nb


def _render(exporter, nb, title: str, nav: list[tuple[str, str]]) -> str:
    resources = {"metadata": {"name": title}, "book_nav": _nav(nav), "book_nav_bottom": _nav(nav, bottom=True)}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def build(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Render the executed notebooks of ``run_dir`` (e.g. ``runs/laptop``) as a static, offline HTML book.

    Writes ``index.html``, one page per notebook (``<notebook>.html``) and ``reproduction.html`` (when the run has a
    REPRODUCTION.md) to ``out_dir`` (default ``<run_dir>/book``) and returns the index's path. Everything is rendered
    in a temporary folder first and then moved in, so a failed build leaves the previous book whole; a rebuild
    removes only pages that the previous build wrote and this one does not (listed in ``.book-files.json``).
    """
    import nbconvert
    import nbformat

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "book"
    sources = executed_notebooks(run_dir)
    record = read_run_record(run_dir)
    exporter = _exporter()
    notebooks = []
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        title, question = title_and_question(nb, path.stem)
        paper = nb.metadata.get("papermill", {})
        notebooks.append({"stem": path.stem, "path": path, "title": title, "question": question,
                          "executed": _executed(nb), "failed": bool(paper.get("exception")),
                          # papermill's end time, else the file's (nbclient and Lab record none)
                          "finished": (record.get(path.stem) or {}).get("finished") or paper.get("end_time")
                          or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(),
                          "profile": (paper.get("parameters") or {}).get("PROFILE"),
                          "duration": paper.get("duration"), "commit": record.get(path.stem)})
    # The profile papermill passed to the notebooks; a run folder is named after it too (runs/<profile>/).
    profile = next((n["profile"] for n in notebooks if n["profile"]), run_dir.name)
    if not any(n["executed"] for n in notebooks):
        raise NoExecutedNotebooks(f"the notebooks in {sources[0].parent} have no outputs: they were not executed; "
                                  f"run `make course PROFILE={run_dir.name}` first")
    reproduction = run_dir / "REPRODUCTION.md"
    pages: dict[str, str] = {}
    contents = (INDEX, "Contents")
    for i, n in enumerate(notebooks):
        nb = nbformat.read(n["path"], as_version=4)  # read again: one notebook in memory at a time
        static_outputs(nb)
        before = notebooks[i - 1] if i else None
        after = notebooks[i + 1] if i + 1 < len(notebooks) else None
        nav = [contents, (before and f"{before['stem']}.html", before and f"← {before['title']}"),
               (after and f"{after['stem']}.html", after and f"{after['title']} →")]
        pages[f"{n['stem']}.html"] = _render(exporter, nb, n["title"], nav)
    if reproduction.is_file():
        pages[REPRODUCTION_PAGE] = _render(exporter, _markdown_page(reproduction.read_text(encoding="utf-8")),
                                           f"Reproduction on the {profile} profile", [contents])
    index = _index_markdown(run_dir, profile, notebooks, reproduction.is_file(), nbconvert.__version__)
    pages[INDEX] = _render(exporter, _markdown_page(index), COURSE_TITLE, [])
    _move_in(pages, out_dir)
    return out_dir / INDEX


def _index_markdown(run_dir: Path, profile: str, notebooks: list[dict], has_reproduction: bool,
                    nbconvert_version: str) -> str:
    finished = sorted(n["finished"] for n in notebooks if n["finished"])
    dates = sorted({_when(f)[:10] for f in finished})
    commits = {_commit_text(n["commit"]) for n in notebooks}
    try:
        shown = run_dir.resolve().relative_to(REPO_ROOT)  # runs/laptop, not a path of the machine that built it
    except ValueError:
        shown = run_dir
    lines = [f"# {COURSE_TITLE}", "",
             f"The course as run on the **{profile}** profile: the executed notebooks of `{shown}`, with every "
             "output and figure as the run left it. Read a notebook here to see what each cell should show before "
             "you run it yourself.", "",
             f"- **Profile:** {profile}",
             f"- **Run:** {' to '.join(dict.fromkeys([dates[0], dates[-1]])) if dates else 'date unknown'}"
             + (f" (last notebook finished {_when(finished[-1])})" if finished else ""),
             f"- **Commit:** {commits.pop() if len(commits) == 1 else 'differs between notebooks (listed below)'}"]
    if any(not (n["commit"] or {}).get("commit") for n in notebooks):
        lines.append(f"  (`ftsafety course` records each notebook's commit in `{shown / RUN_RECORD}`; it holds none "
                     "for some notebooks of this run)")
    lines += ["- **Reproduction table:** " + (f"[every claim, its paper, what was measured and the verdict]"
                                                f"({REPRODUCTION_PAGE})" if has_reproduction else
                                                f"none yet: `{shown / 'REPRODUCTION.md'}` is written when "
                                                "`ftsafety course` (or notebook 08) finishes"), "",
              "## Notebooks", ""]
    several = len({_commit_text(n["commit"]) for n in notebooks}) > 1
    for n in notebooks:
        facts = [f"finished {_when(n['finished'])}" if n["finished"] else None,
                 f"ran {n['duration'] / 60:.1f} min" if n.get("duration") else None,
                 f"commit {_commit_text(n['commit'])}" if several else None,
                 "**stopped with an error** (its page shows where)" if n["failed"] else None,
                 "**not executed**" if not n["executed"] else None]
        lines += [f"- [{n['title']}]({n['stem']}.html)", "", f"  {n['question']}", "",
                  f"  *{'; '.join(f for f in facts if f)}*" if any(facts) else "", ""]
    ran = {n["stem"] for n in notebooks}
    missing = [p.stem for p in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")) if p.stem not in ran]
    if missing:
        lines += [f"Not in this run: {', '.join(missing)} (`make course PROFILE={profile}` runs every notebook).", ""]
    lines += ["---", "", f"Built {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} with nbconvert "
                         f"{nbconvert_version}; `make book PROFILE={profile}` rebuilds it. The pages need no network: "
                         "formulas are MathML, and widgets show their last static view."]
    return "\n".join(lines)


def _move_in(pages: dict[str, str], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    try:
        previous = set(json.loads(manifest.read_text(encoding="utf-8"))) if manifest.is_file() else set()
    except (ValueError, TypeError):
        previous = set()
    # The temporary folder sits next to the book so that os.replace is a rename on one file system.
    with tempfile.TemporaryDirectory(prefix=".book-build-", dir=out_dir.parent) as tmp:
        for name, text in pages.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        for name in pages:
            os.replace(Path(tmp) / name, out_dir / name)
    for name in previous - set(pages):
        if name == Path(name).name and name.endswith(".html"):  # only a page of ours, never a path elsewhere
            (out_dir / name).unlink(missing_ok=True)
    manifest.write_text(json.dumps(sorted(pages)) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    from .profiles import DEFAULT, ENV_VAR, PROFILES

    p = argparse.ArgumentParser(prog="python -m ftsafety.book", description="Render a run's executed notebooks as a "
                                "static HTML book that opens offline (make book).")
    p.add_argument("--profile", choices=list(PROFILES), default=None,
                   help=f"the run to render, runs/<profile>/ (default: ${ENV_VAR} if set, else {DEFAULT}; this flag "
                        "wins over the variable)")
    p.add_argument("--run", default=None,
                   help="a run folder to render instead (holding notebooks/ and REPRODUCTION.md)")
    p.add_argument("--out", default=None, help="folder for the book (default: <run>/book)")
    args = p.parse_args(argv)
    run_dir = Path(args.run) if args.run else runs_root() / (args.profile or os.environ.get(ENV_VAR) or DEFAULT)
    t0 = time.perf_counter()
    try:
        index = build(run_dir, args.out)
    except NoExecutedNotebooks as err:
        print(f"make book: {err}", file=sys.stderr)
        return 1
    pages = json.loads((index.parent / MANIFEST).read_text())
    print(f"wrote {len(pages)} pages in {time.perf_counter() - t0:.1f} s; open {index} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
