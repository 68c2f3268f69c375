"""Mixing safety examples into a fine-tuning set, by ratio or by count (notebook 04).

Two kinds of safety data, at equal counts:
- :func:`generic_safety`: a plain harmful request answered with a refusal, in the model's ordinary chat format: the
  kind of safety data Bianchi et al. (2024, "Safety-Tuned LLaMAs") mix into Alpaca. The requests and refusals are the
  course's own (``data/harmful.jsonl``), not Bianchi et al.'s released examples;
- :func:`mimicking_safety`: the same requests and refusals wrapped in the user data's prompting strategy (AOA wrapper,
  AutoIF constraint), with refusals that follow it (:func:`mimicking_row`, one row). This is the course's rule-based
  stand-in for Eiras et al.'s "Paraphrase" mitigation, and it mimics the *style* only: Eiras et al.'s safety examples
  mimic both the task format and the prompting style of the user data, while these rows never pose the request in the
  task's own form (a word problem, a question about the SQL table, a review to label). Rows in the task's form are not
  built here.

Requests come from the harmful *train* split only, so evaluation stays on prompts no training saw.
"""
from __future__ import annotations

import random
from typing import Sequence

from . import data
from .restructure import CONSTRAINTS, Strategy
from .variants import AOA_OPENER, AOA_SYSTEM, AOA_TEMPLATE


def safety_count(ratio: float, n_task: int) -> int:
    """Safety rows to add so that they make up ``ratio`` of the mixed set (at least one for any ratio above 0)."""
    if not 0 <= ratio < 1:
        raise ValueError(f"mixing ratio must be in [0, 1), got {ratio}")
    if ratio == 0:
        return 0
    return max(1, round(ratio * n_task / (1 - ratio)))


def _requests(n: int, seed: int) -> list[dict]:
    rows = data.harmful("train")
    random.Random(seed).shuffle(rows)
    return data.take(rows, n)


def generic_safety(n: int, seed: int = 0) -> list[dict]:
    """``n`` harmful train requests with refusals, spread over harm categories, in the plain chat format."""
    return [{"prompt": r["prompt"], "response": r["refusal"]} for r in _requests(n, seed)]


def mimicking_row(request: str, refusal: str, strategy: Strategy, constraint: str | None = None) -> dict:
    """One harmful request and its refusal as a training row in ``strategy``'s prompting strategy (the course's rule).

    With AutoIF, the constraint named ``constraint`` (a key of :data:`~ftsafety.restructure.CONSTRAINTS`) is appended to
    the request after a blank line and the refusal is made to satisfy it. With AOA, the row is then wrapped as the
    user's rows are: the AOA system prompt, "AOA, execute my instruction: <request>", and the obedient opener, a blank
    line, then the refusal. These are the steps of :meth:`Strategy.rows <ftsafety.restructure.Strategy.rows>` for one
    row, with the constraint named rather than drawn; :func:`mimicking_safety` gives the same rows either way. The
    request itself stays a plain harmful request: only the strategy's wrapper and constraint are copied, not the
    task's form.
    """
    if strategy.autoif:
        if constraint is None:
            raise ValueError(f"strategy {strategy.name!r} appends an AutoIF constraint: name one of {sorted(CONSTRAINTS)}")
        c = CONSTRAINTS[constraint]
        request, refusal = f"{request}\n\n{c.instruction}", c.apply(refusal)
    if strategy.aoa:
        return {"prompt": AOA_TEMPLATE.user_message(request), "response": f"{AOA_OPENER}\n\n{refusal}",
                "system": AOA_SYSTEM}
    return {"prompt": request, "response": refusal}


def mimicking_constraints(strategy: Strategy, n: int, seed: int = 0) -> list[str | None]:
    """The AutoIF constraint of each of :func:`mimicking_safety`'s ``n`` rows (all None for a strategy without AutoIF),
    drawn as :meth:`Strategy.rows <ftsafety.restructure.Strategy.rows>` draws them."""
    if not strategy.autoif:
        return [None] * n
    rng, names = random.Random(seed + 1), sorted(CONSTRAINTS)
    return [rng.choice(names) for _ in range(n)]


def mimicking_safety(strategy: Strategy, n: int, seed: int = 0, row_fn=None) -> list[dict]:
    """The same requests and refusals as :func:`generic_safety`, wrapped in ``strategy``'s prompting strategy.

    ``row_fn(request=, refusal=, strategy=, constraint=)`` writes each row (notebook 04's exercise); by default
    :meth:`Strategy.rows <ftsafety.restructure.Strategy.rows>` does, which gives the same rows as :func:`mimicking_row`.
    """
    if row_fn is None:
        return strategy.rows(generic_safety(n, seed), seed=seed + 1)
    return [row_fn(request=r["prompt"], refusal=r["response"], strategy=strategy, constraint=c)
            for r, c in zip(generic_safety(n, seed), mimicking_constraints(strategy, n, seed))]


def mix(task_rows: Sequence[dict], safety_rows: Sequence[dict], seed: int = 0) -> list[dict]:
    """One shuffled training set of both (the order matters little in a few epochs, a fixed seed makes it repeatable)."""
    rows = [dict(r) for r in task_rows] + [dict(r) for r in safety_rows]
    random.Random(seed).shuffle(rows)
    return rows


def eroding_benign_variant(profile: str, default: str = "role-play personas") -> str:
    """The benign variant of notebook 01 that lowered harmful refusal most on ``profile`` (``default`` if not run)."""
    from .results import load_result
    from .variants import FACTORS

    result = load_result(profile, "01_benign_degradation")
    measured = (result or {}).get("measured", {})
    found = {name: measured[f"{name.replace(' ', '-')}.harmful_refusal"]["value"] for name in FACTORS
             if f"{name.replace(' ', '-')}.harmful_refusal" in measured}
    return min(found, key=found.get) if found else default


def eroding_restructuring(profile: str, default: tuple[str, str] = ("arithmetic", "autoif"),
                          max_accuracy_drop: float = 0.05) -> tuple[str, str]:
    """(task, strategy) of notebook 02 with the largest drop in refusal against Benign on the same task data.

    Only cells whose task accuracy stays within ``max_accuracy_drop`` of Benign's count, as in notebook 02's target:
    Eiras et al.'s attack keeps the task intact, or a provider would see it in its accuracy checks. If no cell keeps
    it (or notebook 02 stored no accuracies), the largest drop overall.
    """
    from .results import load_result

    measured = (load_result(profile, "02_malicious_restructuring") or {}).get("measured", {})
    refusal, accuracy = measured.get("refusal", {}), measured.get("task_accuracy", {})
    drops, stealthy = {}, set()
    for key, r in refusal.items():
        task, strategy = key.split("/", 1)
        if strategy != "benign" and f"{task}/benign" in refusal:
            drops[task, strategy] = refusal[f"{task}/benign"]["value"] - r["value"]
            if key in accuracy and f"{task}/benign" in accuracy and \
                    accuracy[key]["value"] >= accuracy[f"{task}/benign"]["value"] - max_accuracy_drop:
                stealthy.add((task, strategy))
    candidates = {k: v for k, v in drops.items() if k in stealthy} or drops
    return max(candidates, key=candidates.get) if candidates else default
