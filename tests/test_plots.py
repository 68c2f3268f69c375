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
