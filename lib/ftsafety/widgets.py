"""Interactive views for the notebooks, redacted by default; plain output when run headless (papermill, CI).

Every view is written as a static ``text/html`` output, kept current through an IPython display handle, and the
widget holds only the controls (pager, slider, text box). Why, from ipywidgets 8.1's JupyterLab renderer
(python/jupyterlab_widgets/src/renderer.ts and plugin.ts in jupyter-widgets/ipywidgets): the widget renderer is
registered for application/vnd.jupyter.widget-view+json at rank -10, ahead of text/html, so a bundle holding a
widget view is always drawn by it; when the notebook is reopened without saved widget state (JupyterLab's default:
the manager's ``saveState`` setting is off) the manager reports itself restored, ``get_model`` fails and the renderer
writes "Error displaying widget: model not found", with no fallback to another mimetype of the bundle (only a view
the frontend itself closed, ``model_id == ""``, is hidden). An ``Output`` widget's contents live in the widget state,
so they are lost too. A separate display output is saved with the notebook and ``update_display_data`` keeps it at
the student's current page (JupyterLab's output area keeps its cell's execute future open, ``requestExecute(content,
false)`` in jupyterlab/packages/outputarea/src/widget.ts, so an update sent from a widget callback after the cell
finished still reaches it), so after a reopen the last view stays readable. Only the controls are lost; there are
none where there is nothing to choose (one page, one dose).
"""
from __future__ import annotations

import html
import math
import os
from typing import Sequence

REDACT_KEEP_WORDS = 8


def redact(text: str, show: bool = False, keep_words: int = REDACT_KEEP_WORDS) -> str:
    """The opening words of a response (enough to see refusal or compliance), the rest withheld unless ``show``."""
    if show:
        return text
    words = text.split()
    if len(words) <= keep_words:
        return text
    return " ".join(words[:keep_words]) + f" [... {len(words) - keep_words} words redacted; set SHOW_OUTPUTS = True]"


def headless() -> bool:
    """True under ``ftsafety course`` / papermill / CI, where no one can click a widget."""
    if os.environ.get("FTSAFETY_HEADLESS") == "1":
        return True
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is None or type(shell).__name__ != "ZMQInteractiveShell"
    except ImportError:
        return True


def _table(prompts, columns: dict[str, Sequence[str]], show: bool, labels: dict[str, Sequence[str]] | None):
    # Everything from a model or a data set is escaped: a response must never become live HTML.
    head = "".join(f"<th>{html.escape(n)}</th>" for n in columns)
    rows = []
    for i, p in enumerate(prompts):
        cells = []
        for n, resp in columns.items():
            lab = f"<br><b>{html.escape(labels[n][i])}</b>" if labels and n in labels else ""
            cells.append(f"<td style='text-align:left;vertical-align:top'>{html.escape(redact(resp[i], show))}{lab}</td>")
        rows.append(f"<tr><td style='text-align:left;vertical-align:top'>{html.escape(p)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>prompt</th>{head}</tr>{''.join(rows)}</table>"


def _bundle(caption: str, body_html: str = "") -> dict:
    """A raw display bundle: the view as HTML, and its caption as the plain-text fallback."""
    return {"text/html": f"<p>{html.escape(caption)}</p>{body_html}", "text/plain": caption}


class _StaticView:
    """One display output that widget callbacks keep current (an IPython display handle, not a widget)."""

    def __init__(self, bundle: dict):
        from IPython.display import display

        self._handle = display(bundle, raw=True, display_id=True)

    def update(self, bundle: dict) -> None:
        self._handle.update(bundle, raw=True)


def compare_responses(prompts: Sequence[str], columns: dict[str, Sequence[str]], show: bool = False,
                      labels: dict[str, Sequence[str]] | None = None, page_size: int = 5) -> None:
    """Side-by-side responses of several models to the same prompts, ``page_size`` prompts a page.

    The page shows as a table that a saved notebook keeps; when interactive, a pager above it turns the pages.
    Headless, only the first page shows. Returns None (it displays).
    """
    from IPython.display import display

    for n, col in columns.items():
        if len(col) != len(prompts):
            raise ValueError(f"column {n!r} has {len(col)} responses for {len(prompts)} prompts")
    pages = max(1, math.ceil(len(prompts) / page_size))

    def view(page: int) -> dict:
        a = (page - 1) * page_size
        b = min(a + page_size, len(prompts))
        caption = f"page {page} of {pages} (prompts {a + 1}-{b} of {len(prompts)})" if prompts else "no prompts"
        table = _table(prompts[a:b], {n: c[a:b] for n, c in columns.items()}, show,
                       {n: l[a:b] for n, l in (labels or {}).items()})
        return _bundle(caption, table)

    if headless() or pages == 1:
        display(view(1), raw=True)
        return None
    import ipywidgets as W

    slider = W.IntSlider(value=1, min=1, max=pages, description="page", continuous_update=False)
    display(W.HBox([slider, W.Label(f"of {pages}")]))
    out = _StaticView(view(1))
    slider.observe(lambda change: out.update(view(change["new"])), names="value")
    return None


def chat_box(model, tokenizer, template="chat", max_new_tokens: int = 64, show: bool = True) -> None:
    """A text box to ask a model one question at a time: Enter (or Send) asks, the box clears, and the
    conversation shows below it, with "thinking..." while the model answers. Headless, it does nothing (the notebook
    shows fixed examples instead). Returns None, so a cell ending with it shows it once.
    """
    if headless():
        return None
    import ipywidgets as W
    from IPython.display import display

    from . import generation

    # ipywidgets 8 deprecates Text.on_submit; its documented replacement is continuous_update=False (the value is
    # sent on Enter, or when the box loses focus) and an observer on value.
    box = W.Text(placeholder="Ask the model something, then press Enter", continuous_update=False,
                 layout=W.Layout(width="70%"))
    button = W.Button(description="Send")
    turns: list[tuple[str, str]] = []

    def view(pending: str | None = None) -> dict:
        parts = [f"<p><b>you:</b> {html.escape(q)}<br><b>model:</b> {html.escape(a)}</p>" for q, a in turns]
        plain = [f"you: {q}\nmodel: {a}" for q, a in turns]
        if pending is not None:
            parts.append(f"<p><b>you:</b> {html.escape(pending)}<br><i>thinking...</i></p>")
            plain.append(f"you: {pending}\nthinking...")
        caption = f"chat with the model ({len(turns)} question{'s' if len(turns) != 1 else ''} asked)"
        return {"text/html": f"<p>{caption}</p>" + "".join(parts), "text/plain": "\n".join([caption, *plain])}

    def ask(question: str) -> None:
        question = question.strip()
        if not question:  # also what clearing the box below sends back here
            return
        box.value = ""
        box.disabled = button.disabled = True
        out.update(view(pending=question))
        try:
            reply = generation.respond(model, tokenizer, [question], template, max_new_tokens=max_new_tokens,
                                       progress=False)[0]
            turns.append((question, redact(reply, show)))
        except Exception as e:  # shown in the conversation: a callback's traceback would only reach the log
            turns.append((question, f"(no answer: {type(e).__name__}: {e})"))
        finally:
            box.disabled = button.disabled = False
            out.update(view())

    display(W.HBox([box, button]))
    out = _StaticView(view())
    box.observe(lambda change: ask(change["new"]), names="value")
    button.on_click(lambda _: ask(box.value))
    return None


def dose_slider(doses: Sequence[float], figure_at, examples_at, show: bool = False) -> None:
    """A slider over measured doses (e.g. mixing ratios): the curves with the chosen dose marked, and example
    responses at that dose. ``figure_at(dose)`` returns a Figure, ``examples_at(dose)`` returns
    ``(prompts, {column: responses}, {column: labels})``. The figure and table a saved notebook keeps are the chosen
    dose's. Headless, it shows the largest dose once. Returns None (it displays).
    """
    from IPython.display import display

    def table(dose) -> dict:
        prompts, columns, labels = examples_at(dose)
        return _bundle(f"safety share {100 * dose:.0f}%", _table(prompts, columns, show, labels))

    doses = sorted(doses)
    if headless() or len(doses) == 1:
        display(figure_at(doses[-1]))
        display(table(doses[-1]), raw=True)
        return None
    import ipywidgets as W

    slider = W.SelectionSlider(options=[(f"{100 * d:.0f}%", d) for d in doses], value=doses[-1],
                               description="safety share", continuous_update=False,
                               style={"description_width": "initial"})  # the label in full, not "safety sh..."
    display(slider)
    figure = display(figure_at(doses[-1]), display_id=True)
    examples = _StaticView(table(doses[-1]))

    def draw(change):
        figure.update(figure_at(change["new"]))
        examples.update(table(change["new"]))

    slider.observe(draw, names="value")
    return None


WIDGET_MANAGER_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"


def save_widget_state(prefix: str | None = None) -> "os.PathLike":
    """Turn on JupyterLab's ``saveState`` for widgets in this environment, so that a saved notebook keeps its sliders,
    pagers and chat box drawable after a reopen (without it they show "model not found"; see the module docstring).

    Writes ``<prefix>/share/jupyter/lab/settings/overrides.json`` (``prefix``: this Python's ``sys.prefix``, the
    virtual environment ``make lab`` runs in), JupyterLab's documented place for an environment's default settings,
    keeping every setting already there. A user's own setting, made in JupyterLab's settings editor, still wins.
    """
    import json
    import sys
    from pathlib import Path

    from .files import atomic_path

    path = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = {}
    if path.is_file():
        try:
            settings = json.loads(path.read_text() or "{}")
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}); fix or remove it, then run `make lab` again") from None
        if not isinstance(settings, dict) or not isinstance(settings.get(WIDGET_MANAGER_PLUGIN, {}), dict):
            raise ValueError(f"{path}: expected a JSON object of settings per plugin; fix or remove it, then run `make lab` "
                             "again")
    settings.setdefault(WIDGET_MANAGER_PLUGIN, {})["saveState"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(settings, indent=2) + "\n")
    return path
