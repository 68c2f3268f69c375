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
