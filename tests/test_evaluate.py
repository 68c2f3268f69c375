from ftsafety.evaluate import EVAL_SETS, eval_prompts, evaluate, evaluate_run, metrics_table, rejudge
from ftsafety.judges import KeywordJudge
from ftsafety.metrics import Rate
from ftsafety.runs import Run


def test_evaluate_measures_every_set_with_intervals(smoke, smoke_profile):
    res = evaluate(smoke.model, smoke.tokenizer, smoke_profile, progress=False)
    sizes = {k: len(v) for k, v in eval_prompts(smoke_profile).items()}
    assert sizes == {"harmful": 8, "overrefusal": 6, "capability": 6}
    for name, n in (("harmful_refusal", 8), ("overrefusal_refusal", 6), ("capability", 6), ("harmfulness", 8)):
        r = res.rate(name)
        assert r.n == n and r.low <= r.value <= r.high
    assert res.rate("harmful_refusal").k + res.rate("harmfulness").k == 8
    assert len(res.metrics["harmful_refusal_by_category"]) == 8  # take() spreads 8 prompts over 8 categories
    assert len(res.metrics["overrefusal_refusal_by_category"]) == 6  # and 6 safe prompts over 6 of the 14 types
    assert {g["set"] for g in res.generations} == set(EVAL_SETS) and len(res.generations) == 20
    assert rejudge(res.generations, KeywordJudge()) == [g["label"] for g in res.generations if g["set"] != "capability"]
    assert list(metrics_table({"m": res}).columns) == ["harmful_refusal", "overrefusal_refusal", "capability"]


def test_evaluate_run_reuses_a_finished_run(smoke, smoke_profile, tmp_path):
    loads = []

    def load():
        loads.append(1)
        return smoke.model, smoke.tokenizer

    run = Run("smoke", "exp", "base", root=tmp_path)
    first = evaluate_run(run, load, smoke_profile, {"model": "smoke"}, progress=False)
    again = evaluate_run(Run("smoke", "exp", "base", root=tmp_path), load, smoke_profile, {"model": "smoke"},
                         progress=False)
    assert loads == [1] and again.metrics == first.metrics and again.generations == first.generations
    assert isinstance(again.rate("capability"), Rate)
    evaluate_run(run, load, smoke_profile, {"model": "smoke"}, template="chat:llama", progress=False)
    assert loads == [1, 1]  # another template is another measurement


def test_reference_eval_reads_notebook_00s_run_and_stores_other_formats_apart(smoke_profile):
    import pytest

    from ftsafety import align

    full = align.reference_eval(smoke_profile)
    assert full.metrics["template"] == "chat" and "capability" in full.metrics
    run00 = Run("smoke", "00_baseline", "aligned")
    assert run00.is_done() and run00.metrics() == full.metrics
    # a subset of sets on the default template must not replace notebook 00's full run
    assert align.reference_eval(smoke_profile, sets=("harmful",)).metrics == full.metrics
    other = align.reference_eval(smoke_profile, "chat:llama", sets=("harmful",), experiment="exp-ref")
    assert other.metrics["template"] == "chat:llama" and "capability" not in other.metrics
    assert Run("smoke", "exp-ref", "reference@chat-llama").config()["sets"] == ["harmful"]
    assert run00.metrics() == full.metrics
    with pytest.raises(ValueError, match="experiment="):
        align.reference_eval(smoke_profile, "chat:llama")


def test_over_refusal_is_read_on_the_wide_sets_safe_prompts_with_their_unsafe_twins(smoke, smoke_profile):
    """The standard over-refusal prompts are the wide set's safe test prompts, the same number of each type; the
    "unsafe_twins" set is their unsafe twins, in the same order; refusal_by_type reads both sides per type."""
    from ftsafety import data
    from ftsafety.evaluate import refusal_by_type, refusal_table

    profile = smoke_profile.replace(n_overrefusal_eval=28)
    prompts = eval_prompts(profile, sets=EVAL_SETS + ("unsafe_twins",))
    safe, twins = prompts["overrefusal"], prompts["unsafe_twins"]
    wide = {r["id"]: r for r in data.overrefusal_wide("test")}
    assert all(wide[r["id"]]["label"] == "safe" for r in safe)
    assert [r["id"] for r in twins] == [r["pair"] for r in safe] and all(r["label"] == "unsafe" for r in twins)
    types = [r["category"] for r in safe]
    assert len(set(types)) == 14 and all(types.count(t) == 2 for t in set(types))
    assert len(eval_prompts(profile.replace(n_overrefusal_eval=None))["overrefusal"]) == 350
    res = evaluate(smoke.model, smoke.tokenizer, profile, sets=("overrefusal", "unsafe_twins"), progress=False)
    assert res.rate("unsafe_twins_refusal").n == 28 and len(res.metrics["unsafe_twins_refusal_by_category"]) == 14
    table = refusal_by_type({"m": res})
    assert list(table.columns) == [("m", "safe: refused"), ("m", "unsafe twin: refused")]
    assert len(table) == 15
    assert str(res.rate("overrefusal_refusal")) == table.loc["all types", ("m", "safe: refused")] + ", n=28"
    both = refusal_table({"m": res}, sets=("overrefusal", "unsafe_twins"))
    assert list(both.columns) == [(s, j) for j in ("keyword", "classifier") for s in ("overrefusal", "unsafe_twins")]
    assert both.loc["m", ("unsafe_twins", "keyword")] == str(res.rate("unsafe_twins_refusal"))
