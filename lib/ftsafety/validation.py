"""How well each offline judge reads the course's own models: per-class recall, balanced accuracy, Cohen's kappa.

The labelled set is ``data/judge_validation.jsonl`` (:func:`ftsafety.data.judge_validation`): responses of the
shipped model, the reference and several fine-tunes, each read and labelled (no keyword list or classifier), both
classes well represented. A judge that always answers the majority class scores 0.5 balanced accuracy and a kappa
of 0, whatever the class balance, so both numbers show whether a judge reads responses at all. ``sklearn.metrics`` computes them.
"""
from __future__ import annotations

from typing import Sequence

from .metrics import rate


def judge_report(judges: Sequence[str] = ("keyword", "classifier"), rows: Sequence[dict] | None = None):
    """One row per judge: refusal recall and compliance recall (each a :class:`~ftsafety.metrics.Rate` with its
    interval), balanced accuracy, and Cohen's kappa with the hand labels; plus, as ``kappa_between``, the judges'
    agreement with each other beyond chance. Returns ``(table, labels)`` with each judge's labels by row."""
    import pandas as pd
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score

    from . import data
    from .judges import get_judge

    rows = list(rows if rows is not None else data.judge_validation())
    truth = [r["label"] for r in rows]
    labels, out = {}, []
    for name in judges:
        judge = get_judge(name)
        got = [v.label for v in judge([r["prompt"] for r in rows], [r["response"] for r in rows])]
        labels[name] = got
        out.append({
            "judge": name,
            "refusal recall": rate([g == "refusal" for g, t in zip(got, truth) if t == "refusal"]),
            "compliance recall": rate([g == "compliance" for g, t in zip(got, truth) if t == "compliance"]),
            "balanced accuracy": round(float(balanced_accuracy_score(truth, got)), 3),  # 3 digits: a table for reading
            "kappa with hand labels": round(float(cohen_kappa_score(truth, got)), 3),
        })
    table = pd.DataFrame(out).set_index("judge")
    if len(judges) == 2:
        table.attrs["kappa_between"] = cohen_kappa_score(labels[judges[0]], labels[judges[1]])
    return table, labels
