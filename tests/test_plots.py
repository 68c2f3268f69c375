from ftsafety.metrics import Rate
from ftsafety.plots import rate_bars, show_in_notebooks


def test_figures_display_as_png_in_an_ipython_kernel():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        fig = rate_bars({"model": {"refusal": Rate(3, 10)}}, title="t")
        data, _ = shell.display_formatter.format(fig)
        assert data["image/png"][:4] == b"\x89PNG"
    finally:
        InteractiveShell.clear_instance()


def test_outside_a_kernel_nothing_is_registered():
    assert show_in_notebooks() is False


def test_heatmap_uses_a_colour_blind_safe_map_and_counts_are_not_percentages():
    from ftsafety.metrics import Rate
    from ftsafety.plots import dose_curves, heatmap

    fig = heatmap([[0.1, 0.9]], ["row"], ["a", "b"])
    assert fig.axes[0].images[0].get_cmap().name == "viridis"
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours == ["white", "black"]  # readable on the dark and the light end
    fig = dose_curves({"s": {0: Rate(1, 10), 16: Rate(5, 10)}}, dose_is_share=False)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels and not any(l.endswith("%") for l in labels)
    fig = dose_curves({"s": {0: Rate(1, 10), 0.5: Rate(5, 10)}})
    fig.canvas.draw()
    assert any(t.get_text() == "50%" for t in fig.axes[0].get_xticklabels())


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_heatmap_text_is_white_on_dark_cells_and_black_on_light_ones():
    from ftsafety.plots import heatmap

    # viridis at 0.65 is a dark green (relative luminance 0.35): black text on it was hard to read
    fig = heatmap([[0.0, 0.3, 0.65, 0.8, 1.0]], ["row"], list("abcde"))
    assert [t.get_text() for t in fig.axes[0].texts] == ["0%", "30%", "65%", "80%", "100%"]
    assert [t.get_color() for t in fig.axes[0].texts] == ["white", "white", "white", "black", "black"]
    # a change clipped at vmin/vmax is drawn in the end colour, and its text follows the colour, not the value
    fig = heatmap([[-0.9, 0.9]], ["row"], ["a", "b"], fmt="{:+.0%}", vmin=-0.5, vmax=0.5)
    assert [t.get_color() for t in fig.axes[0].texts] == ["white", "black"]


def test_bar_labels_at_100_percent_do_not_touch_the_title():
    fig = rate_bars({"reward model": {"all pairs": Rate(10, 10), "safety": Rate(5, 5)},
                     "judge": {"all pairs": Rate(3, 10), "safety": Rate(1, 5)}},
                    title="agreement with the labelled preference (95% intervals)", ylabel="agreement")
    renderer = _drawn(fig)
    ax = fig.axes[0]
    title = ax.title.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text() == "100%"]
    assert len(labels) == 2 and not any(t.get_window_extent(renderer).overlaps(title) for t in labels)
    assert max(ax.get_yticks()) == 1.0  # the headroom has no tick above 100%


def test_layer_and_step_axes_have_whole_number_ticks():
    from ftsafety.plots import layer_lines, training_curves

    fig = layer_lines({"reference": [0.5, 0.7, 0.9], "defended": [0.5, 0.6, 0.6]})
    _drawn(fig)
    lo, hi = fig.axes[0].get_xlim()
    ticks = [t for t in fig.axes[0].get_xticks() if lo <= t <= hi]
    assert ticks == [0, 1, 2]
    fig = training_curves({"run": [{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.6}, {"step": 3, "loss": 0.5}]},
                          key="loss")
    _drawn(fig)
    lo, hi = fig.axes[0].get_xlim()
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks() if lo <= t <= hi)
