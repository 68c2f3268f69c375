"""Plots for the notebooks; each function returns a matplotlib Figure (display it, or ``fig.savefig(path)``)."""
from __future__ import annotations

import math
from typing import Sequence

from .metrics import Rate
from .stats import fmt_pct


def _figure(figsize):
    # A bare Figure, not pyplot: nothing is shown twice in notebooks and nothing needs a display on a server.
    from matplotlib.figure import Figure

    show_in_notebooks()
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def show_in_notebooks() -> bool:
    """Make ``display(fig)`` draw a bare Figure as a PNG in a Jupyter kernel (True where there is one).

    IPython learns to draw figures only when pyplot's inline backend starts; the course never imports pyplot, so without
    this a notebook shows ``<Figure size 750x480 with 1 Axes>`` instead of the plot.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))
    return True


def text_colour(rgba) -> str:
    """"white" or "black": the text colour that reads on a cell of colour ``rgba``, chosen from the cell's W3C relative
    luminance with seaborn's threshold (seaborn.matrix's heatmap annotation: dark text above 0.408, white below).

    seaborn is not a dependency of the course, so its rule is written out; matplotlib has no such helper. Choosing by
    the cell's colour rather than by its value works for any colour map and for values clipped at vmin or vmax.
    """
    import numpy as np

    rgb = np.asarray(rgba, dtype=float)[:3]
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return "black" if float(linear @ [0.2126, 0.7152, 0.0722]) > 0.408 else "white"


def _integer_ticks(axis) -> None:
    # layers, steps and row counts are whole numbers: no tick at 0.5 of a layer
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def rate_bars(groups: dict[str, dict[str, Rate | dict]], title: str = "", ylabel: str = "rate", ylim=(0, 1)):
    """Grouped bars with 95% intervals: ``{group: {series: Rate}}`` (e.g. {model: {metric: Rate}})."""
    import numpy as np

    groups = {g: {s: (r if isinstance(r, Rate) else Rate.from_dict(r)) for s, r in ser.items()}
              for g, ser in groups.items()}
    series = list(dict.fromkeys(s for ser in groups.values() for s in ser))
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    fig, ax = _figure((max(5, 1.6 * len(groups) * max(1, len(series)) / 2), 3.6))
    for i, s in enumerate(series):
        vals = [groups[g].get(s) for g in groups]
        v = [r.value if r else np.nan for r in vals]
        err = [[(r.value - r.low) if r else 0 for r in vals], [(r.high - r.value) if r else 0 for r in vals]]
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, v, width, yerr=err, capsize=3, label=s)
        for b, r in zip(bars, vals):
            if r:
                ax.annotate(fmt_pct(r.value), (b.get_x() + b.get_width() / 2, r.high), ha="center",
                            va="bottom", fontsize=8)
    ax.set_xticks(x, list(groups))
    # Headroom above ylim for the percentages written over the tallest intervals, so that a label at 100% sits inside
    # the axes instead of on the title; the ticks stay within ylim.
    lo, hi = ylim
    ax.set_ylim(lo, hi + 0.12 * (hi - lo))
    ax.set_yticks([t for t in ax.get_yticks() if lo - 1e-9 <= t <= hi + 1e-9])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def confusion(labels_a: Sequence[str], labels_b: Sequence[str], name_a: str, name_b: str,
              classes: Sequence[str] = ("refusal", "compliance")):
    """Confusion matrix of two judges on the same responses, with their agreement in the title."""
    import numpy as np

    m = np.zeros((len(classes), len(classes)), dtype=int)
    for a, b in zip(labels_a, labels_b):
        m[classes.index(a), classes.index(b)] += 1
    agree = np.trace(m) / max(1, m.sum())
    fig, ax = _figure((3.8, 3.4))
    im = ax.imshow(m, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color=text_colour(im.cmap(im.norm(m[i, j]))))
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel(name_b)
    ax.set_ylabel(name_a)
    ax.set_title(f"agreement {100 * agree:.0f}% (n={m.sum()})")
    fig.tight_layout()
    return fig


def loss_curve(history: Sequence[dict], title: str = "training loss"):
    fig, ax = _figure((5, 3))
    ax.plot([h["step"] for h in history], [h["loss"] for h in history], marker=".")
    _integer_ticks(ax.xaxis)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def effect_bars(effects: dict[str, tuple[float, float, float]], title: str = "", xlabel: str = "effect"):
    """Horizontal bars of differences with their 95% intervals: ``{name: (d, low, high)}``."""
    fig, ax = _figure((6, 0.45 * len(effects) + 1.2))
    names = list(effects)
    for i, n in enumerate(names):
        d, lo, hi = effects[n]
        ax.barh(i, d, color="tab:red" if hi < 0 else ("tab:blue" if lo > 0 else "tab:gray"))
        ax.errorbar(d, i, xerr=[[d - lo], [hi - d]], color="black", capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def heatmap(values, row_labels: Sequence, col_labels: Sequence, title: str = "", xlabel: str = "", ylabel: str = "",
            fmt: str | None = None, vmin: float = 0.0, vmax: float = 1.0, marks: Sequence[tuple[int, int]] = ()):
    """A labelled grid of values (e.g. refusal rate per learning rate x epochs); ``marks`` outlines cells. Each cell
    is written as a rate (:func:`ftsafety.stats.fmt_pct`) or with the format string ``fmt`` (e.g. ``"{:+.0%}"``)."""
    import numpy as np
    from matplotlib.patches import Rectangle

    v = np.asarray(values, dtype=float)
    fig, ax = _figure((1.2 * len(col_labels) + 2, 0.9 * len(row_labels) + 1.5))
    # viridis: perceptually uniform and readable with the common colour-vision deficiencies (no red-green scale)
    im = ax.imshow(v, cmap="viridis", vmin=vmin, vmax=vmax)
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            # the text colour is read from the colour the cell is drawn in (an empty cell shows the white background)
            colour = "black" if np.isnan(v[i, j]) else text_colour(im.cmap(im.norm(v[i, j])))
            text = "-" if np.isnan(v[i, j]) else fmt.format(v[i, j]) if fmt else fmt_pct(v[i, j])
            ax.text(j, i, text, ha="center", va="center", color=colour)
    for i, j in marks:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.5, edgecolor="black"))
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def dose_curves(curves: dict[str, dict[float, Rate | dict]], title: str = "", xlabel: str = "share of safety examples",
                ylabel: str = "rate", reference: dict[str, float] | None = None, marker_at: float | None = None,
                dose_is_share: bool = True):
    """Measured rates against a dose (e.g. the mixing ratio), one line with 95% bands per series.

    ``curves`` maps a series name to ``{dose: Rate}``; ``reference`` draws horizontal lines (e.g. the aligned
    reference's refusal); ``marker_at`` draws a vertical line at one dose (the slider's position). With
    ``dose_is_share=False`` the doses are counts (e.g. attack rows) and the x axis is not written as a percentage.
    """
    fig, ax = _figure((6.5, 3.8))
    for name, points in curves.items():
        doses = sorted(points)
        rates = [points[d] if isinstance(points[d], Rate) else Rate.from_dict(points[d]) for d in doses]
        line, = ax.plot(doses, [r.value for r in rates], marker="o", label=name)
        ax.fill_between(doses, [r.low for r in rates], [r.high for r in rates], alpha=0.15, color=line.get_color())
    for name, value in (reference or {}).items():
        ax.axhline(value, ls="--", lw=1, color="grey")
        ax.annotate(name, (ax.get_xlim()[1], value), ha="right", va="bottom", fontsize=8, color="grey")
    if marker_at is not None:
        ax.axvline(marker_at, color="black", lw=1)
    ax.set_ylim(0, 1)
    if dose_is_share:
        ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    else:
        _integer_ticks(ax.xaxis)  # counts of rows
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def pareto_scatter(points: dict[str, tuple[Rate, Rate]], xlabel: str = "capability", ylabel: str = "safety",
                   title: str = "", start: tuple[Rate, Rate] | None = None):
    """One point per method with 95% interval bars on both axes; the Pareto front joined by a line."""
    from .metrics import pareto_front

    fig, ax = _figure((6.5, 4.5))
    for name, (x, y) in points.items():
        ax.errorbar(x.value, y.value, xerr=[[x.value - x.low], [x.high - x.value]],
                    yerr=[[y.value - y.low], [y.high - y.value]], fmt="o", capsize=2, alpha=0.8)
        ax.annotate(name, (x.value, y.value), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = pareto_front({n: (x.value, y.value) for n, (x, y) in points.items()})
    ax.plot([points[n][0].value for n in front], [points[n][1].value for n in front], "--", color="black", lw=1,
            label="Pareto front")
    if start is not None:
        ax.plot(start[0].value, start[1].value, "s", color="grey", label="start")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def training_curves(histories: dict[str, Sequence[dict]], key: str = "rewards/margins", title: str = ""):
    """One line per run of a logged training quantity (e.g. TRL's reward margins) against the step."""
    fig, ax = _figure((6.5, 3.8))
    for name, hist in histories.items():
        pts = [(h["step"], h[key]) for h in hist if key in h]
        if pts:
            ax.plot(*zip(*pts), label=name, lw=1.2)
    _integer_ticks(ax.xaxis)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title or key)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def layer_lines(series: dict[str, Sequence[float]], title: str = "", ylabel: str = "probe accuracy",
                chance: float | None = 0.5):
    """One line per model over layer index (0: the embeddings), e.g. a linear probe's accuracy per layer."""
    fig, ax = _figure((6.5, 3.6))
    for name, values in series.items():
        ax.plot(range(len(values)), values, marker=".", label=name)
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", lw=1, label="chance")
    _integer_ticks(ax.xaxis)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def grouped_scatter(board, x: str, y: str, group: str = "notebook", title: str = "", xlabel: str = "",
                    ylabel: str = ""):
    """One point per row of a table (e.g. :func:`ftsafety.results.scoreboard`), one colour per ``group``, with the
    rows' 95% intervals (``<col>_low`` / ``<col>_high``) as error bars where the table has them."""
    fig, ax = _figure((7.5, 4.8))
    rows = board.dropna(subset=[x, y])
    for name, sub in rows.groupby(group):
        xerr = [sub[x] - sub[f"{x}_low"], sub[f"{x}_high"] - sub[x]] if f"{x}_low" in sub else None
        yerr = [sub[y] - sub[f"{y}_low"], sub[f"{y}_high"] - sub[y]] if f"{y}_low" in sub else None
        ax.errorbar(sub[x], sub[y], xerr=xerr, yerr=yerr, fmt="o", ms=5, alpha=0.8, elinewidth=0.6, capsize=0,
                    label=name)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


# Okabe and Ito's colour-blind-safe palette: one colour per model; attack sizes differ by dash and marker as well.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_DASHES, _MARKERS = ("-", "--", "-.", (0, (5, 1, 1, 1, 1, 1))), ("o", "s", "^", "D")  # ":" marks "before"


def attack_loss_lines(after: dict, before: dict, title: str = ""):
    """Held-out completions' per-token loss against the attack's learning rate (a matplotlib Figure).

    ``after`` maps ``(model, attack rows)`` to ``{learning rate: loss}``, one line each: colour by model (Okabe-Ito),
    dash and marker by attack rows. ``before`` maps a model to its loss before any attack, drawn as a dotted line in
    its colour. The learning rates are evenly spaced on the x axis, as the sweep's settings.
    """
    lrs = sorted({lr for points in after.values() for lr in points})
    sizes = sorted({n for _, n in after})
    fig = layer_lines({f"{m}, {n} attack rows": [points.get(lr, math.nan) for lr in lrs]
                       for (m, n), points in after.items()}, title=title, chance=None,
                      ylabel="loss per token (nats; lower = more likely)")
    ax = fig.axes[0]
    models = list(dict.fromkeys([*before, *(m for m, _ in after)]))
    colour = {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(models)}
    for line, (m, n) in zip(ax.get_lines(), after):
        i = sizes.index(n) % len(_DASHES)
        line.set(color=colour[m], linestyle=_DASHES[i], marker=_MARKERS[i])
    for m, value in before.items():
        ax.axhline(value, color=colour[m], ls=":", lw=1.2, label=f"{m}, before any attack")
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_xlabel("attack learning rate")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig
