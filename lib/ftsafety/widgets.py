"""Interactive views for the notebooks, redacted by default; plain output when run headless (papermill, CI)."""
from __future__ import annotations

import html
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
    head = "".join(f"<th>{html.escape(n)}</th>" for n in columns)
    rows = []
    for i, p in enumerate(prompts):
        cells = []
        for n, resp in columns.items():
            lab = f"<br><b>{html.escape(labels[n][i])}</b>" if labels and n in labels else ""
            cells.append(f"<td style='text-align:left;vertical-align:top'>{html.escape(redact(resp[i], show))}{lab}</td>")
        rows.append(f"<tr><td style='text-align:left;vertical-align:top'>{html.escape(p)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>prompt</th>{head}</tr>{''.join(rows)}</table>"


def compare_responses(prompts: Sequence[str], columns: dict[str, Sequence[str]], show: bool = False,
                      labels: dict[str, Sequence[str]] | None = None, page_size: int = 5):
    """Side-by-side responses of several models to the same prompts; a pager widget when interactive."""
    from IPython.display import HTML, display

    for n, col in columns.items():
        if len(col) != len(prompts):
            raise ValueError(f"column {n!r} has {len(col)} responses for {len(prompts)} prompts")
    if headless():
        display(HTML(_table(prompts[:page_size], {n: c[:page_size] for n, c in columns.items()}, show,
                            {n: l[:page_size] for n, l in (labels or {}).items()})))
        return None
    import ipywidgets as W

    out = W.Output()
    slider = W.IntSlider(0, 0, max(0, (len(prompts) - 1) // page_size), description="page")

    def draw(change=None):
        a = slider.value * page_size
        out.clear_output()
        with out:
            display(HTML(_table(prompts[a : a + page_size], {n: c[a : a + page_size] for n, c in columns.items()},
                                show, {n: l[a : a + page_size] for n, l in (labels or {}).items()})))

    slider.observe(draw, names="value")
    draw()
    box = W.VBox([slider, out])
    display(box)
    return box


def chat_box(model, tokenizer, template="chat", max_new_tokens: int = 64, show: bool = True):
    """A text box to chat with a model; headless, it does nothing (the notebook shows fixed examples instead)."""
    if headless():
        return None
    import ipywidgets as W
    from IPython.display import display

    from .generation import respond

    box, button, out = W.Text(placeholder="Ask the model something", layout=W.Layout(width="70%")), W.Button(
        description="Send"), W.Output()

    def send(_):
        with out:
            reply = respond(model, tokenizer, [box.value], template, max_new_tokens=max_new_tokens, progress=False)[0]
            print(f"> {box.value}\n{redact(reply, show)}\n")

    button.on_click(send)
    ui = W.VBox([W.HBox([box, button]), out])
    display(ui)
    return ui


def dose_slider(doses: Sequence[float], figure_at, examples_at, show: bool = False):
    """A slider over measured doses (e.g. mixing ratios): the curves with the chosen dose marked, and example
    responses at that dose. ``figure_at(dose)`` returns a Figure, ``examples_at(dose)`` returns
    ``(prompts, {column: responses}, {column: labels})``. Headless, it shows the largest dose once.
    """
    from IPython.display import HTML, display

    def render(dose):
        display(figure_at(dose))
        prompts, columns, labels = examples_at(dose)
        display(HTML(_table(prompts, columns, show, labels)))

    doses = sorted(doses)
    if headless():
        render(doses[-1])
        return None
    import ipywidgets as W

    out = W.Output()
    slider = W.SelectionSlider(options=[(f"{100 * d:.0f}%", d) for d in doses], value=doses[-1],
                               description="safety share", continuous_update=False)

    def draw(change=None):
        out.clear_output(wait=True)
        with out:
            render(slider.value)

    slider.observe(draw, names="value")
    draw()
    box = W.VBox([slider, out])
    display(box)
    return box
