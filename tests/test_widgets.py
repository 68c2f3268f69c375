"""The notebooks' widgets survive a reopen: a notebook executed in a Jupyter kernel and saved without widget state
(JupyterLab's default) still shows every view as escaped static HTML, and leaves no progress bar as a widget view."""
import html
import json
import os
import re
import sys
import time

import nbclient  # papermill's executor
import nbformat
import pytest

WIDGET = "application/vnd.jupyter.widget-view+json"
SCRIPT = "<script>alert(1)</script>"
PROMPTS = [f"prompt {i} & <b>co</b>" for i in range(7)]  # two pages of five

CELLS = [
    # A stub model: respond() is what chat_box calls; it records what the conversation showed while it ran.
    f"""
import json
from IPython import get_ipython
import ftsafety.generation as generation
from ftsafety.widgets import chat_box, compare_responses, dose_slider, headless
assert not headless(), "the test needs the interactive path"
published = []
_publish = get_ipython().display_pub.publish
def spy(data, *args, **kwargs):
    published.append(data)
    return _publish(data, *args, **kwargs)
get_ipython().display_pub.publish = spy
def stub_respond(model, tokenizer, prompts, template="chat", **kwargs):
    shown_while_thinking.append(published[-1].get("text/plain", ""))
    return ["Sure. {SCRIPT} " + p for p in prompts]
shown_while_thinking = []
generation.respond = stub_respond
""",
    f"compare_responses({PROMPTS!r}, {{'model': ['{SCRIPT} answer ' + p for p in {PROMPTS!r}]}}, "
    f"labels={{'model': ['refusal'] * {len(PROMPTS)}}})",
    # The student turns to page 2 (the frontend sets the slider's value). The functions return None, so that a cell
    # shows them once; the cells find the controls where ipywidgets keeps every open widget.
    "import ipywidgets as W\n"
    "[s for s in W.widgets.widget._instances.values() if getattr(s, 'description', '') == 'page'][-1].value = 2",
    """
from matplotlib.figure import Figure
from ftsafety.plots import show_in_notebooks
show_in_notebooks()
drawn = []
def figure_at(d):
    drawn.append(d)
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, d])
    return fig
dose_slider([0.0, 0.1, 0.2], figure_at, lambda d: (["dose prompt"], {"m": [f"answer at {d}"]}, {"m": ["refusal"]}))
""",
    "chat_box(None, None)",
    # The student types a question and presses Enter.
    "box = [t for t in W.widgets.widget._instances.values() if isinstance(t, W.Text)][-1]\n"
    "box.value = 'how are you <i>today</i>?'\n"
    "[b for b in W.widgets.widget._instances.values() if isinstance(b, W.Button)][-1].click()  # Send, once more\n"
    "print(json.dumps({'box': box.value, 'thinking': shown_while_thinking}))",
    """
from ftsafety.generation import progress_bar
with progress_bar(6, "generating", unit="prompts") as bar:
    for _ in range(3):
        bar.update(2)
with progress_bar(4, "judging") as bar:
    bar.update(4)
""",
    # The student moves the dose slider to 10%.
    "[s for s in W.widgets.widget._instances.values() if isinstance(s, W.SelectionSlider)][-1].value = 0.1\n"
    "print(drawn)",
]


def _outputs(cell, mime):
    return [o["data"][mime] for o in cell.get("outputs", []) if mime in o.get("data", {})]


@pytest.fixture(scope="module")
def saved():
    """The notebook executed in a fresh kernel, then saved as JupyterLab saves it by default: no widget state."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.strip()) for c in CELLS])
    env = {k: v for k, v in os.environ.items() if k != "FTSAFETY_HEADLESS"}  # headless() is False in the kernel
    start = time.monotonic()
    nbclient.NotebookClient(nb, timeout=300, startup_timeout=300, kernel_name="python3").execute(env=env)
    print(f"executed in {time.monotonic() - start:.1f} s", file=sys.stderr)
    nb.metadata.pop("widgets", None)
    return nbformat.reads(nbformat.writes(nb), as_version=4)


def test_every_widget_view_keeps_its_current_view_as_escaped_html(saved):
    cells = saved.cells
    with_widgets = [i for i, c in enumerate(cells) if _outputs(c, WIDGET)]
    assert with_widgets == [1, 3, 4]  # pager, dose slider, chat box (the other cells only drive them)
    pager = "".join(_outputs(cells[1], "text/html"))
    # the page the student turned to, not the first one
    assert "page 2 of 2 (prompts 6-7 of 7)" in pager and html.escape(PROMPTS[5]) in pager
    assert html.escape(PROMPTS[0]) not in pager and "page 0" not in pager
    assert html.escape(SCRIPT) in pager and "<script" not in pager and "<b>co</b>" not in pager
    dose = cells[3]
    assert "safety share 10%" in "".join(_outputs(dose, "text/html")) and "answer at 0.1" in "".join(
        _outputs(dose, "text/html"))
    assert len(_outputs(dose, "image/png")) == 1  # the figure at 10%, drawn in place of the one at 20%
    assert saved.cells[7].outputs[0]["text"].strip() == "[0.2, 0.1]"
    chat = "".join(_outputs(cells[4], "text/html"))
    assert html.escape("how are you <i>today</i>?") in chat and html.escape(SCRIPT) in chat and "<script" not in chat
    assert "<i>today</i>" not in chat and "thinking" not in chat
    assert "(1 question asked)" in chat  # Send after Enter asks nothing more: the box was cleared


def test_the_chat_box_shows_once_clears_its_input_and_shows_that_it_is_working(saved):
    chat = saved.cells[4]
    assert len(_outputs(chat, WIDGET)) == 1 and not any(o["output_type"] == "execute_result" for o in chat.outputs)
    state = json.loads("".join(o.get("text", "") for o in saved.cells[5].outputs if o["output_type"] == "stream"))
    assert state["box"] == ""
    assert len(state["thinking"]) == 1 and state["thinking"][0].endswith("thinking...")


def test_finished_progress_bars_leave_one_line_of_text(saved):
    bars = saved.cells[6]
    assert not _outputs(bars, WIDGET)
    [line] = _outputs(bars, "text/plain")  # both bars drew into one output
    assert re.fullmatch(r"judging: 4 items in 00:0\d \(the last of 2 progress bars in this cell, 00:0\d in all\)", line)


def test_slider_style_and_pager_range(monkeypatch):
    """Without a kernel: the widgets built are what the notebook sees (1-based pager, label in full)."""
    W = pytest.importorskip("ipywidgets")
    import IPython.display

    from ftsafety import widgets

    shown = []
    monkeypatch.setattr(widgets, "headless", lambda: False)
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a[0]) or _Handle())
    widgets.compare_responses(PROMPTS, {"m": PROMPTS})
    slider = shown[0].children[0]
    assert (slider.min, slider.max, slider.value, shown[0].children[1].value) == (1, 2, 1, "of 2")
    shown.clear()
    widgets.dose_slider([0.1, 0.2], lambda d: "figure", lambda d: (["p"], {"m": ["r"]}, {"m": ["l"]}))
    assert isinstance(shown[0], W.SelectionSlider) and shown[0].style.description_width == "initial"


class _Handle:
    def update(self, *a, **k):
        pass


def test_make_lab_turns_on_saved_widget_state_and_keeps_other_settings(tmp_path):
    import json

    from ftsafety.widgets import WIDGET_MANAGER_PLUGIN, save_widget_state

    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                WIDGET_MANAGER_PLUGIN: {"saveState": False, "other": 1}}))
    assert save_widget_state(str(tmp_path)) == path
    assert json.loads(path.read_text()) == {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                            WIDGET_MANAGER_PLUGIN: {"saveState": True, "other": 1}}
    fresh = tmp_path / "fresh"
    assert json.loads(save_widget_state(str(fresh)).read_text()) == {WIDGET_MANAGER_PLUGIN: {"saveState": True}}
    path.write_text("{not json")
    with pytest.raises(ValueError, match="overrides.json: not valid JSON"):
        save_widget_state(str(tmp_path))
    assert path.read_text() == "{not json"  # nothing overwritten that the user wrote
