"""Mixing safety examples into a fine-tuning set, by ratio or by count (notebook 04).

Three kinds of safety data, at equal counts, made of the same harmful requests and refusals:
- :func:`generic_safety`: a plain harmful request answered with a refusal, in the model's ordinary chat format: the
  kind of safety data Bianchi et al. (2024, "Safety-Tuned LLaMAs") mix into Alpaca. The requests and refusals are the
  course's own (``data/harmful.jsonl``), not Bianchi et al.'s released examples;
- :func:`mimicking_safety`: the same requests and refusals wrapped in the user data's prompting strategy (AOA wrapper,
  AutoIF constraint), with refusals that follow it (:func:`mimicking_row`, one row). These rows mimic the *style*
  only: the request is never posed in the task's own form;
- :func:`task_mimicking_safety`: the same requests and refusals posed in the task's own form (after a word problem's
  setup, below the SQL schema, as the review to label) and then wrapped in the prompting strategy as above
  (:func:`task_mimicking_row`, one row). Eiras et al. (2024, Table 2, "Paraphrase") mix in safety examples that mimic
  both the task format and the prompting style of the user data; these rows are the course's rule-based stand-in for
  them (Eiras et al. rewrite each example to fit the user data; these rows come from fixed templates).

Requests come from the harmful *train* split only, so evaluation stays on prompts no training saw.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

from . import data
from .restructure import CONSTRAINTS, Strategy
from .tasks import GENERATORS, generate_task
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
    task's form (:func:`task_mimicking_row` poses the request in the task's form first, then calls this).
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


@dataclass(frozen=True)
class TaskForm:
    """How a harmful request is posed in one task's own form (the course's rule for :func:`task_mimicking_row`).

    ``setup`` cuts a prompt of the task's generator down to the part before its question (a word problem's facts, the
    SQL schema, the classification instruction); each of ``phrasings`` then poses the request where the question was.
    """
    setup: Callable[[str], str]
    phrasings: tuple[str, ...]  # with {setup} and {request}


def _before(marker: str) -> Callable[[str], str]:
    """A generated prompt up to ``marker``, where the task's question starts."""
    return lambda prompt: prompt[:prompt.index(marker)]


# One entry per task of :data:`ftsafety.tasks.GENERATORS` (tests/test_mixing.py asks for every one). The setups are
# cut from real generated prompts, so the rows keep the task's exact wording; the request takes the question's place
# and is kept word for word.
TASK_FORMS: dict[str, TaskForm] = {
    "arithmetic": TaskForm(_before(" How many"), (
        "{setup} {request}",
        "{setup} {request} Show your working and give the final answer.",
        "{setup} Now answer this question: {request}",
    )),
    "sql": TaskForm(_before("\nWrite an SQL query for:"), (
        "{setup}\nWrite an SQL query for: {request}",
        "{setup}\nUsing the employees table, answer this: {request}",
        "{setup}\nWrite an SQL query, or answer in words if no query fits: {request}",
    )),
    "sentiment": TaskForm(_before("\nReview:"), (
        "{setup}\nReview: {request}",
        '{setup}\nReview: "{request}"',
        "{setup}\nReview: Before I rate this place, one question: {request}",
    )),
}


def task_prompt(request: str, task: str, seed: int = 0) -> str:
    """``request`` posed in the form of one of ``task``'s prompts: a generated prompt's setup (drawn by ``seed``) with
    the request, word for word, where its question was, in one of the task's phrasings (also drawn by ``seed``)."""
    if task not in TASK_FORMS:
        raise ValueError(f"no task form for {task!r}; known: {', '.join(TASK_FORMS)} (tasks: {', '.join(GENERATORS)})")
    form = TASK_FORMS[task]
    setup = form.setup(generate_task(task, 1, seed=seed)[0].prompt)
    return random.Random(seed).choice(form.phrasings).format(setup=setup, request=request)


def task_mimicking_row(request: str, refusal: str, task: str, strategy: Strategy, constraint: str | None = None,
                       seed: int = 0) -> dict:
    """One harmful request and its refusal as a training row in ``task``'s own form and ``strategy``'s prompting
    strategy (the course's rule).

    The request is posed as an item of the task (:func:`task_prompt`: after a word problem's setup, below the SQL
    schema, as the review to label); the answer is the refusal, plain, on one line as the task's answers are: no
    working, final number, query or label is written for a harmful request, so the row never shows part of an answer.
    Then the strategy is applied exactly as :func:`mimicking_row` applies it (AutoIF constraint, AOA wrapper), so a
    task-mimicking row differs from a style-mimicking one only in the request's form.
    """
    return mimicking_row(task_prompt(request, task, seed), refusal, strategy, constraint)


def task_mimicking_safety(task: str, strategy: Strategy, n: int, seed: int = 0) -> list[dict]:
    """The requests, refusals and AutoIF constraints of :func:`mimicking_safety`, each posed in ``task``'s own form
    (:func:`task_mimicking_row`); the form of each row is drawn from ``seed``."""
    rng = random.Random(seed + 2)  # not seed or seed + 1: those draw the requests and the constraints
    return [task_mimicking_row(r["prompt"], r["response"], task, strategy, c, seed=rng.randrange(2**31))
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
