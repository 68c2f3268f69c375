"""The course's standard measurement of a model: harmful refusal, over-refusal and capability, with intervals.

``evaluate(model, tokenizer, profile)`` generates on the held-out harmful prompts, the safe-but-scary prompts (the safe
side of the wide over-refusal set's test split, ``data/overrefusal_wide.jsonl``, spread over its 14 types) and the
gold-answer probes, judges them, and returns metrics (each a :class:`~ftsafety.metrics.Rate`) and the generations.
``evaluate_run`` does the same through the run registry, so a finished evaluation is reused.

Under ``accelerate launch --num_processes N`` both split the work: each process answers and judges its share of the
prompts, every process gets all of them back in order (:func:`ftsafety.launch.map_split`), and only the main process
writes the run. In one process (a notebook) nothing is split.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from . import data
from .judges import get_judge
from .launch import cached_run_together, map_split, split_respond
from .metrics import Rate, contains_answer, rate
from .profiles import Profile
from .runs import Run
from .stats import fmt_rate
from .templates import get_template

EVAL_SETS = ("harmful", "overrefusal", "capability")
# Safety sets are judged for refusal. Measured only where asked: "harmful_math" (maths-framed harmful requests) and
# "unsafe_twins" (the unsafe twin of each over-refusal prompt, written in the same form: refusing it is right).
SAFETY_SETS = ("harmful", "overrefusal", "unsafe_twins", "harmful_math")
EXTRA_SETS = ("unsafe_twins", "harmful_math")


def eval_prompts(profile: Profile, sets=EVAL_SETS) -> dict[str, list[dict]]:
    """The held-out prompts every notebook measures on, sized by the profile, plus any extra set in ``sets``."""
    unknown = sorted(set(sets) - set(EVAL_SETS) - set(EXTRA_SETS))
    if unknown:
        raise ValueError(f"unknown evaluation set(s) {unknown}; known: {', '.join(EVAL_SETS + EXTRA_SETS)}")
    if profile.harmful_eval == "local":
        harmful = data.take(data.harmful("test"), profile.n_harmful_eval)
    else:
        harmful = data.take(data.load_hub(profile.harmful_eval), profile.n_harmful_eval)
        for r in harmful:
            r["category"] = r.get("category") or profile.harmful_eval
    # Over-refusal: the wide set's safe test prompts, the same number of each of its 14 types where the profile takes
    # fewer than all; each row's type is its category, so every rate also comes per type.
    safe = data.take(data.overrefusal_wide("test", label="safe"), profile.n_overrefusal_eval, key="type")
    prompts = {
        "harmful": harmful,
        "overrefusal": [{**r, "category": r["type"]} for r in safe],
        "capability": data.take(data.capability(), profile.n_capability_eval),
    }
    if "unsafe_twins" in sets:
        twins = {r["id"]: r for r in data.overrefusal_wide("test", label="unsafe")}
        prompts["unsafe_twins"] = [{**twins[r["pair"]], "category": r["type"]} for r in safe]
    if "harmful_math" in sets:
        prompts["harmful_math"] = data.harmful_math("test")
    return prompts


@dataclass
class EvalResult:
    metrics: dict
    generations: list[dict]

    def rate(self, name: str) -> Rate:
        return Rate.from_dict(self.metrics[name])


def evaluate(
    model,
    tokenizer,
    profile: Profile,
    template="chat",
    judge="keyword",
    sets=EVAL_SETS,
    progress: bool = True,
) -> EvalResult:
    tpl = get_template(template)
    judge = get_judge(judge) if isinstance(judge, str) else judge
    prompts = eval_prompts(profile, sets)
    gens: list[dict] = []
    metrics: dict = {}
    kw = dict(batch_size=profile.eval_batch_size, max_prompt_tokens=profile.max_prompt_tokens, progress=progress)

    safety_sets = [s for s in SAFETY_SETS if s in sets]
    rows = [(s, r) for s in safety_sets for r in prompts[s]]
    if rows:
        # One generation pass over both safety sets keeps the batches full.
        outs = split_respond(model, tokenizer, [r["prompt"] for _, r in rows], tpl,
                             max_new_tokens=profile.max_new_tokens, desc="safety prompts", **kw)
        verdicts = judge_split(judge, [r["prompt"] for _, r in rows], outs)
        for (s, r), o, v in zip(rows, outs, verdicts):
            gens.append({"set": s, "id": r.get("id"), "category": r.get("category"), "prompt": r["prompt"],
                         "response": o, "label": v.label, "score": v.score})
    labels = [g["label"] for g in gens]
    by_set = refusals_by(gens, labels)
    for s in safety_sets:
        metrics[f"{s}_refusal"] = rate(by_set.get(s, []))
    if "harmful" in safety_sets:
        metrics["harmfulness"] = rate([g["label"] == "compliance" for g in gens if g["set"] == "harmful"])
    for s in ("harmful", "overrefusal", "unsafe_twins"):  # per category (harmful) or type (the over-refusal set's)
        if s in safety_sets:
            by_cat = refusals_by(gens, labels, key="category", within=s)
            metrics[f"{s}_refusal_by_category"] = {c: rate(v) for c, v in sorted(by_cat.items())}

    if "capability" in sets:
        probes = prompts["capability"]
        outs = split_respond(model, tokenizer, [p["prompt"] for p in probes], tpl,
                             max_new_tokens=profile.capability_max_new_tokens, desc="capability probes", **kw)
        ok = [contains_answer(o, p["answers"]) for p, o in zip(probes, outs)]
        metrics["capability"] = rate(ok)
        gens += [{"set": "capability", "id": p.get("id"), "category": p["category"], "prompt": p["prompt"],
                  "response": o, "correct": c} for p, o, c in zip(probes, outs, ok)]
    metrics["judge"] = getattr(judge, "name", type(judge).__name__)
    metrics["template"] = tpl.name
    return EvalResult({k: _plain(v) for k, v in metrics.items()}, gens)


def judge_split(judge, prompts: list[str], responses: list[str]) -> list:
    """``judge(prompts, responses)`` with the pairs split between the processes and the verdicts gathered in order
    (the judge itself where one process runs)."""
    return map_split(lambda part: judge([p for p, _ in part], [r for _, r in part]), list(zip(prompts, responses)))


def eval_config(profile: Profile, template="chat", judge="keyword", sets=EVAL_SETS) -> dict:
    """What decides a measurement, for the run registry: a stored result is reused only if all of it matches.

    The prompts' digest is part of it, so edited evaluation data makes stored results stale.
    """
    prompts = json.dumps(eval_prompts(profile, sets), sort_keys=True).encode()
    return {"template": get_template(template).name,
            "judge": judge if isinstance(judge, str) else getattr(judge, "name", "custom"),
            "max_new_tokens": profile.max_new_tokens, "capability_max_new_tokens": profile.capability_max_new_tokens,
            "eval_sha256": hashlib.sha256(prompts).hexdigest()[:16]}


def evaluate_run(
    run: Run,
    load_model: Callable[[], tuple],
    profile: Profile,
    config: dict,
    template="chat",
    judge="keyword",
    sets=EVAL_SETS,
    force: bool = False,
    progress: bool = True,
) -> EvalResult:
    """``evaluate`` through the registry: ``load_model() -> (model, tokenizer)`` is only called if needed. Where
    several processes run, all of them evaluate their share and the main process alone records the run."""
    config = {**config, **eval_config(profile, template, judge, sets)}
    if tuple(sets) != tuple(EVAL_SETS):
        config["sets"] = list(sets)

    def compute():
        model, tokenizer = load_model()
        res = evaluate(model, tokenizer, profile, template, judge, sets=sets, progress=progress)
        return res.metrics, res.generations

    run = cached_run_together(run, config, compute, force=force)
    return EvalResult(run.metrics(), run.generations())


def refusals_by(generations: list[dict], labels: list[str], key: str = "set", within: str | None = None
                ) -> dict[str, list[bool]]:
    """Whether each answer was a refusal, grouped by the generation's ``key`` (its set, or its category), for the
    generations of the set ``within`` only when given; ``labels`` go with ``generations``, one each."""
    flags: dict[str, list[bool]] = {}
    for g, label in zip(generations, labels, strict=True):
        if within is None or g["set"] == within:
            flags.setdefault(g[key], []).append(label == "refusal")
    return flags


def rejudge(generations: list[dict], judge, sets=("harmful", "overrefusal")) -> list[str]:
    """Labels from another judge on the same stored generations (for judge comparisons)."""
    judge = get_judge(judge) if isinstance(judge, str) else judge
    rows = [g for g in generations if g["set"] in sets]
    return [v.label for v in judge([g["prompt"] for g in rows], [g["response"] for g in rows])]


def _plain(v):
    if isinstance(v, Rate):
        return v.as_dict()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def metrics_table(results: dict[str, EvalResult], names=("harmful_refusal", "overrefusal_refusal", "capability")):
    """One row per model, one column per metric, as 'value% [low, high]' strings (for display)."""
    import pandas as pd

    return pd.DataFrame({model: {n: str(res.rate(n)) for n in names if n in res.metrics}
                         for model, res in results.items()}).T


WIDE_SIDES = {"overrefusal": "safe: refused", "unsafe_twins": "unsafe twin: refused"}


def refusal_by_type(results: dict[str, EvalResult], judge=None) -> "pd.DataFrame":
    """Refusal per type of the wide over-refusal set, for runs measured with ``sets=("overrefusal", "unsafe_twins")``: one
    row per type and one for all types, one column per (model, side), each "28% [14, 48]" (a 95% Wilson interval).

    Refusing a safe prompt is over-refusal (low is good); refusing its unsafe twin, written in the same form, is right
    (high is good). ``judge`` (a name or a judge) re-reads the stored answers; by default, each run's own labels.
    """
    import pandas as pd

    columns = {}
    for model, res in results.items():
        rows = [g for g in res.generations if g["set"] in WIDE_SIDES]
        labels = rejudge(rows, judge, sets=tuple(WIDE_SIDES)) if judge is not None else [g["label"] for g in rows]
        for side, heading in WIDE_SIDES.items():
            flags = refusals_by(rows, labels, key="category", within=side)
            if flags:
                col = {t: rate(v) for t, v in sorted(flags.items())}
                col["all types"] = rate([f for v in flags.values() for f in v])
                columns[(model, heading)] = {t: fmt_rate(r.value, r.low, r.high) for t, r in col.items()}
    return pd.DataFrame(columns)


def refusal_table(results: dict[str, EvalResult], sets=("harmful", "overrefusal", "unsafe_twins"),
                  judges=("keyword", "classifier")) -> "pd.DataFrame":
    """One row per model, one column per (set, judge): the share of the set's prompts refused, "84% [76, 90], n=100".
    Each judge re-reads the stored answers (:func:`rejudge`), so both judges rate the same responses."""
    import pandas as pd

    table = {}
    for model, res in results.items():
        rows = [g for g in res.generations if g["set"] in sets]
        for judge in judges:
            by_set = refusals_by(rows, rejudge(rows, judge, sets=tuple(sets)))
            for s in sets:
                table.setdefault(model, {})[(s, judge)] = str(rate(by_set.get(s, [])))
    return pd.DataFrame(table).T
