import math

import pytest

from ftsafety.metrics import Rate, bootstrap_ci, contains_answer, last_number, newcombe_diff, rate, wilson


def test_wilson_known_values():
    # Reference values from Newcombe (1998), table I, and the closed form at k=0.
    lo, hi = wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-4) and hi == pytest.approx(0.3662, abs=1e-4)
    lo, hi = wilson(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(10, 10)
    assert hi == 1 and lo == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_rate_and_overlap():
    a, b = rate([True] * 8 + [False] * 2), Rate(2, 10)
    assert a.value == 0.8 and a.n == 10 and str(a) == "80% [49, 94], n=10"
    assert a.overlaps(b)  # 8/10 vs 2/10: ten prompts cannot tell them apart at 95%
    assert not Rate(80, 100).overlaps(Rate(20, 100)) and Rate(80, 100).overlaps(Rate(70, 100))
    assert Rate.from_dict(a.as_dict()) == a
    assert math.isnan(Rate(0, 0).value)


def test_newcombe_difference():
    # Newcombe (1998) table II example: 56/70 vs 48/80 -> difference 0.2, interval (0.0524, 0.3339).
    d, lo, hi = newcombe_diff(Rate(56, 70), Rate(48, 80))
    assert d == pytest.approx(0.2) and lo == pytest.approx(0.0524, abs=1e-3) and hi == pytest.approx(0.3339, abs=1e-3)


def test_bootstrap_interval_brackets_the_mean():
    est, lo, hi = bootstrap_ci([0, 1] * 50, seed=1)
    assert est == 0.5 and lo < 0.5 < hi and hi - lo < 0.25


@pytest.mark.parametrize("response,answers,ok", [
    ("The capital of France is Paris.", ["Paris"], True),
    ("paris!", ["Paris"], True),
    ("Parisian food is great", ["Paris"], False),
    ("The boiling point is 100.0 degrees", ["100"], True),
    ("It is 1000 degrees", ["100"], False),
    ("A spider has eight legs", ["eight", "8"], True),
    ("", ["blue"], False),
])
def test_contains_answer(response, answers, ok):
    assert contains_answer(response, answers) is ok


def test_last_number():
    assert last_number("3 x 4 = 12, then 12 + 1,000 = 1,012.") == 1012
    assert last_number("no numbers") is None


def test_plots_return_figures():
    from matplotlib.figure import Figure

    from ftsafety.plots import confusion, effect_bars, heatmap, loss_curve, rate_bars

    figs = [rate_bars({"a": {"refusal": Rate(8, 10)}, "b": {"refusal": Rate(2, 10)}}),
            confusion(["refusal", "compliance"], ["refusal", "refusal"], "kw", "clf"),
            effect_bars({"x": (-0.3, -0.5, -0.1), "y": (0.1, -0.1, 0.3)}),
            heatmap([[0.1, 0.5], [0.9, float("nan")]], ["1e-4", "5e-4"], [1, 3], marks=[(0, 0)]),
            loss_curve([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}])]
    assert all(isinstance(f, Figure) for f in figs)
    assert figs[1].axes[0].get_title().startswith("agreement 50%")


def test_dose_curves_draw_each_series_with_its_band_and_the_slider_renders_headless(monkeypatch, capsys):
    from ftsafety.plots import dose_curves
    from ftsafety.widgets import dose_slider

    curves = {"generic": {0.0: Rate(3, 10), 0.1: Rate(6, 10), 0.2: Rate(9, 10)},
              "mimic": {0.0: Rate(3, 10), 0.1: Rate(8, 10)}}
    fig = dose_curves(curves, reference={"reference": 0.7}, marker_at=0.1)
    ax = fig.axes[0]
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert list(lines["generic"].get_ydata()) == [0.3, 0.6, 0.9] and list(lines["mimic"].get_xdata()) == [0.0, 0.1]
    assert len(ax.collections) == 2  # one interval band per series
    monkeypatch.setenv("FTSAFETY_HEADLESS", "1")
    seen = []
    dose_slider([0.0, 0.2, 0.1], lambda d: seen.append(d) or fig,
                lambda d: (["p"], {"model": ["I'm sorry " + "word " * 20]}, {"model": ["refusal"]}))
    assert seen == [0.2]


def test_pareto_front_and_its_plots():
    from ftsafety.metrics import pareto_front
    from ftsafety.plots import pareto_scatter, training_curves

    pts = {"a": (0.9, 0.2), "b": (0.5, 0.5), "c": (0.4, 0.4), "d": (0.2, 0.95), "e": (0.5, 0.5)}
    assert pareto_front(pts) == ["d", "b", "e", "a"]  # c is beaten by b; equal points both stay
    fig = pareto_scatter({k: (Rate(int(10 * x), 10), Rate(int(10 * y), 10)) for k, (x, y) in pts.items()},
                         start=(Rate(5, 10), Rate(1, 10)))
    assert fig.axes[0].get_xlabel() == "capability"
    curves = training_curves({"dpo": [{"step": 1, "rewards/margins": 0.1}, {"step": 2, "rewards/margins": 0.4}],
                              "kto": [{"step": 1, "loss": 0.5}]})
    assert [list(l.get_ydata()) for l in curves.axes[0].get_lines()] == [[0.1, 0.4]]
