import pytest

from ftsafety import data
from ftsafety.rewards import (DISCLAIMER, ImplicitRewardScorer, JudgeScorer, RewardModelScorer, agreement,
                              helpfulness_preferences, judgement_pairs, mixed_preferences, response_logps,
                              score_pairs, train_reward_model)


def test_judgement_pairs_cross_styles_on_held_out_requests():
    pairs = judgement_pairs(3, 2)
    safety = [p for p in pairs if p["kind"] == "safety"]
    assert len(safety) == 12 and len([p for p in pairs if p["kind"] == "helpful"]) == 2
    test = {r["prompt"] for r in data.harmful("test")}
    assert all(p["prompt"] in test for p in safety)
    assert len({p["style"] for p in safety}) == 4
    assert sum(p["worse"].startswith(DISCLAIMER) for p in safety) == 6
    assert all("sorry" not in p["better"].lower() and "apolog" not in p["better"].lower()
               for p in safety if "(no apology)" in p["style"])


def test_keyword_judge_as_scorer_fails_where_li_et_al_say_judges_fail():
    scored = score_pairs(JudgeScorer("keyword"), judgement_pairs(5, 5))
    by_style = agreement(scored, "style")
    # Qi et al.'s keywords are apologies and "I cannot"-phrases: "I can't help with that." has none of them.
    for style, r in by_style.items():
        if style.startswith("refusal (apology)"):
            assert r.value == 1.0, style
        elif style.startswith("refusal (no apology)"):
            assert r.value == 0.0, style
    assert by_style["helpful answer vs needless refusal"].value == 0.0  # it calls the needless refusal safer
    assert agreement(scored).n == len(scored) == 25


def test_ties_count_as_disagreement():
    constant = lambda prompts, responses: [0.0] * len(prompts)
    assert agreement(score_pairs(constant, judgement_pairs(2, 2))).value == 0.0


def test_helpfulness_preferences_reject_refusals_and_off_topic_answers():
    rows = helpfulness_preferences(6)
    benign = {r["prompt"]: r["response"] for r in data.benign()}
    assert all(benign[r["prompt"]] == r["chosen"] != r["rejected"] for r in rows)
    assert sum(r["rejected"] in benign.values() for r in rows) == 3


def test_mixed_preferences_hold_helpful_and_harmless_rows_in_about_equal_numbers():
    rows = mixed_preferences(120)
    harmless = [r for r in rows if r["kind"] == "harmless"]
    helpful = [r for r in rows if r["kind"] == "helpful"]
    assert len(rows) == 120 and len(harmless) == len(helpful) == 60
    reused = [r | {"kind": "helpful"} for r in helpfulness_preferences(60)]  # the helpful rows, in another order
    assert sorted(helpful, key=str) == sorted(reused, key=str)
    # Interleaved: both kinds in each half of the rows, and the order is the seed's.
    assert {r["kind"] for r in rows[:60]} == {r["kind"] for r in rows[60:]} == {"helpful", "harmless"}
    assert mixed_preferences(120) == rows and mixed_preferences(120, seed=1) != rows
    assert len(mixed_preferences(7)) == 7


@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_preferences_prefer_a_refusal_of_a_harmful_train_request(seed):
    from ftsafety.rewards import RM_COMPLIANCES, RM_REFUSALS

    harmless = [r for r in mixed_preferences(2 * len(data.harmful("train")), seed=seed) if r["kind"] == "harmless"]
    train = {r["prompt"] for r in data.harmful("train")}
    assert len(harmless) == len(train) and all(r["prompt"] in train for r in harmless)
    assert all(r["chosen"] in RM_REFUSALS and r["rejected"] in RM_COMPLIANCES for r in harmless)
    benign = {r["prompt"] for r in data.benign()}
    assert not any(r["prompt"] in benign for r in harmless)


def _sentences(text: str) -> set[str]:
    import re

    return {" ".join(x.split()) for x in re.split(r"[.;:!?\n]+", text.lower()) if len(x.split()) >= 2}


def _opening(text: str, words: int = 3) -> str:
    import re

    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split()[:words])


@pytest.mark.parametrize("seed", [0, 1])
def test_reward_model_never_trains_on_the_evaluation_pairs_responses_or_refusal_phrasings(seed):
    """The helpfulness reward model's rows share no response string with the evaluation pairs, and its refusals share
    no sentence and no opening (three words) with the evaluation refusals' family: otherwise "the RM prefers the
    compliance" would hold by construction (it was trained to score those very refusals low)."""
    from ftsafety.rewards import PLAIN_REFUSALS, RM_REFUSALS

    pairs = judgement_pairs(None, None, seed=seed)
    rows = helpfulness_preferences(len(data.benign()), seed=seed)
    trained = [t for r in rows for t in (r["prompt"], r["chosen"], r["rejected"])]
    responses = {p[side] for p in pairs for side in ("better", "worse")}
    seen = [t for t in responses if any(t in x for x in trained)]
    assert not seen, f"evaluation responses in the reward model's training rows: {seen[:3]}"
    # The refusal phrasing families: every refusal an evaluation pair can hold, and every refusal the RM trains on.
    eval_refusals = ({r["refusal"] for r in data.harmful()} | set(PLAIN_REFUSALS)
                     | {p["better"] for p in pairs if p["kind"] == "safety"}
                     | {p["worse"] for p in pairs if p["kind"] == "helpful"})
    trained_sentences = set().union(*map(_sentences, trained))
    shared = set().union(*map(_sentences, eval_refusals)) & trained_sentences
    assert not shared, f"evaluation refusal sentences in the reward model's training rows: {sorted(shared)[:3]}"
    openings = {_opening(t) for r in rows for t in (r["chosen"], r["rejected"])}
    shared = {_opening(t) for t in eval_refusals} & openings
    assert not shared, f"evaluation refusal openings in the reward model's training rows: {sorted(shared)}"
    assert {r["rejected"] for r in rows} & set(RM_REFUSALS)  # it does train on needless refusals, of its own family


@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_reward_model_never_trains_on_the_evaluation_pairs_responses_or_their_phrasings(seed):
    """The mixed reward model's rows (every harmful train request, every benign request) share no response with the
    evaluation pairs, nor a four-word opening; its refusals and compliances share no sentence and no three-word
    opening with the evaluation refusals and compliances, nor with data/harmful.jsonl's refusals and compliances
    (notebook 05 trains on those, and the pairs are kept apart from them). Otherwise its agreement on the safety pairs
    would hold by construction."""
    from ftsafety.rewards import RM_COMPLIANCES

    pairs = judgement_pairs(None, None, seed=seed)
    rows = mixed_preferences(2 * len(data.benign()), seed=seed)
    assert {r["kind"] for r in rows} == {"helpful", "harmless"}
    trained = {r[side] for r in rows for side in ("chosen", "rejected")}
    responses = {p[side] for p in pairs for side in ("better", "worse")}
    shared = trained & responses
    assert not shared, f"evaluation responses in the reward model's rows: {sorted(shared)[:3]}"
    shared = {_opening(t, 4) for t in trained} & {_opening(t, 4) for t in responses}
    assert not shared, f"evaluation response openings in the reward model's rows: {sorted(shared)}"
    # The safety side's phrasing families: what the harmless rows train on against what the pairs hold.
    rm_safety = {t for r in rows if r["kind"] == "harmless" for t in (r["chosen"], r["rejected"])}
    assert rm_safety & set(RM_COMPLIANCES)  # it does train on compliances, of its own family
    eval_safety = ({p[side] for p in pairs if p["kind"] == "safety" for side in ("better", "worse")}
                   | {p["worse"] for p in pairs if p["kind"] == "helpful"} | {DISCLAIMER}
                   | {r[k] for r in data.harmful() for k in ("refusal", "compliance")})
    shared = set().union(*map(_sentences, rm_safety)) & set().union(*map(_sentences, eval_safety))
    assert not shared, f"evaluation refusal or compliance sentences in the harmless rows: {sorted(shared)[:3]}"
    shared = {_opening(t) for t in rm_safety} & {_opening(t) for t in eval_safety}
    assert not shared, f"evaluation refusal or compliance openings in the harmless rows: {sorted(shared)}"


def test_claim_rows_cluster_the_pairs_of_a_prompt_and_count_ties_as_not_correct():
    from ftsafety.rewards import claim_rows

    pairs = judgement_pairs(2, 2)
    rows = claim_rows(score_pairs(lambda prompts, responses: [0.0] * len(prompts), pairs))
    assert [r["set"] for r in rows] == ["pairs:safety"] * 8 + ["pairs:helpful"] * 2
    assert len({r["id"] for r in rows if r["set"] == "pairs:safety"}) == 2 and not any(r["correct"] for r in rows)
    scored = score_pairs(JudgeScorer("keyword"), pairs)
    assert [r["correct"] for r in claim_rows(scored)] == [s["agrees"] for s in scored]


def test_response_logps_and_implicit_reward_of_a_model_against_itself(smoke):
    prompts, responses = ["Say hi.", "Say hi."], ["Hi!", "Hi! How are you today?"]
    lp = response_logps(smoke.model, smoke.tokenizer, prompts, responses)
    assert lp[0] < 0 and lp[1] < lp[0]  # more tokens, less probability
    same = ImplicitRewardScorer(smoke.model, smoke.model, smoke.tokenizer)(prompts, responses)
    assert same == pytest.approx([0.0, 0.0], abs=1e-4)


def test_response_logps_batches_by_length_and_returns_the_order_given(smoke):
    # Lengths out of order, several batches: each sum equals the sequence scored alone (no padding, nothing cut).
    prompts = ["Say hi.", "Name a colour, please, and say why you like it.", "Count.", "Say hi."]
    responses = ["Hi! How are you today? I hope well.", "Blue.", "One two three four five six seven.", "Hi!"]
    alone = [response_logps(smoke.model, smoke.tokenizer, [p], [r], batch_size=1)[0]
             for p, r in zip(prompts, responses)]
    assert response_logps(smoke.model, smoke.tokenizer, prompts, responses, batch_size=3) == pytest.approx(alone,
                                                                                                          abs=1e-4)


def test_implicit_scorers_sharing_a_reference_read_each_response_through_it_once(smoke):
    import copy

    calls = []
    reference = copy.deepcopy(smoke.model)
    reference.register_forward_hook(lambda module, args, kwargs, out: calls.append(kwargs["input_ids"].shape[0]),
                                    with_kwargs=True)
    prompts, responses = ["Say hi.", "Say hi.", "Count."], ["Hi!", "Hi! How are you?", "One, two."]
    memo: dict = {}
    first = ImplicitRewardScorer(smoke.model, reference, smoke.tokenizer, reference_memo=memo)(prompts, responses)
    assert sum(calls) == 3
    second = ImplicitRewardScorer(smoke.model, reference, smoke.tokenizer, reference_memo=memo)(prompts, responses)
    assert sum(calls) == 3 and second == pytest.approx(first, abs=1e-6)
    assert first == pytest.approx([0.0] * 3, abs=1e-4)  # the same weights on both sides


def test_a_trained_reward_model_saves_loads_and_scores(smoke_profile, tmp_path):
    res = train_reward_model("smoke", helpfulness_preferences(8), smoke_profile, tmp_path, progress=False)
    assert (res.path / "config.json").is_file() and len(res.history) == smoke_profile.max_steps
    scorer = RewardModelScorer(str(res.path))
    scores = scorer(["Say hi.", "Name a colour."], ["Hi!", "Blue."])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores) and scores[0] != scores[1]
    again = RewardModelScorer(str(res.path))(["Say hi."], ["Hi!"])
    assert again[0] == pytest.approx(scores[0], abs=1e-4)  # the saved head, not a fresh random one


def test_completion_loss_is_the_models_own_loss_on_the_response_tokens(smoke):
    import torch

    from ftsafety.representations import completion_loss
    from ftsafety.templates import get_template

    tpl, tok = get_template("chat"), smoke.tokenizer
    row = {"prompt": "Name a colour.", "response": "Blue is a colour."}
    prompt = tpl.render(tok, row["prompt"])
    ids = tok(prompt + tpl.completion(row["response"]), add_special_tokens=False, return_tensors="pt").input_ids
    labels = ids.clone()
    labels[:, : len(tok(prompt, add_special_tokens=False).input_ids)] = -100
    with torch.no_grad():
        want = smoke.model(input_ids=ids, labels=labels).loss.item()
    assert completion_loss(smoke.model, tok, [row]) == pytest.approx(want, rel=1e-4)


def test_stored_scores_build_the_scorer_only_when_the_scores_are_missing(smoke_profile):
    from ftsafety.rewards import stored_scores

    pairs = judgement_pairs(2, 2, seed=3)
    built = []

    def make():
        built.append(1)
        return JudgeScorer("keyword")

    first = stored_scores(smoke_profile, "scores-test", "judge: keyword", {"judge": "keyword"}, make, pairs)
    again = stored_scores(smoke_profile, "scores-test", "judge: keyword", {"judge": "keyword"}, make, pairs)
    assert built == [1] and again == first == score_pairs(JudgeScorer("keyword"), pairs)
    stored_scores(smoke_profile, "scores-test", "judge: keyword", {"judge": "keyword"}, make, pairs[:2])
    assert built == [1, 1]  # other pairs: scored again


@pytest.mark.parametrize("seed", [0, 1])
def test_evaluation_pairs_share_nothing_with_what_any_course_model_trains_on(seed):
    """Notebook 07 reads notebook 05's preference-optimised models as implicit reward models, and the reference is
    trained on data.harmful()'s refusals and the safe-but-scary train answers: the pairs' refusals share no sentence
    or opening with any of those, and the helpful pairs' prompts and answers are held out."""
    from ftsafety.preference import preference_pairs
    from ftsafety.rewards import EVAL_REFUSALS, PLAIN_REFUSALS, RM_COMPLIANCES, RM_REFUSALS

    pairs = judgement_pairs(None, None, seed=seed)
    trained = preference_pairs(len(data.harmful("train")), len(data.borderline()) + len(data.benign()), seed=seed)
    train_texts = ([t for r in trained for t in (r["chosen"], r["rejected"])] + [r["refusal"] for r in data.harmful()]
                   + list(RM_REFUSALS + RM_COMPLIANCES) + [r["response"] for r in data.borderline() + data.benign()])
    train_texts += [r["compliance"] for r in data.harmful()]
    eval_refusals = ({p["better"] for p in pairs if p["kind"] == "safety"}
                     | {p["worse"] for p in pairs if p["kind"] == "helpful"})
    assert eval_refusals <= set(EVAL_REFUSALS) | set(PLAIN_REFUSALS)
    compliances = {p["worse"] for p in pairs if p["kind"] == "safety"}
    shared = set().union(*map(_sentences, compliances)) & set().union(*map(_sentences, train_texts))
    assert not shared, f"evaluation compliance sentences that a course model trains on: {sorted(shared)[:3]}"
    assert not {_opening(t) for t in compliances} & {_opening(t) for t in train_texts}
    shared = set().union(*map(_sentences, eval_refusals)) & set().union(*map(_sentences, train_texts))
    assert not shared, f"evaluation refusal sentences that a course model trains on: {sorted(shared)[:3]}"
    shared = {_opening(t) for t in eval_refusals} & {_opening(t) for t in train_texts}
    assert not shared, f"evaluation refusal openings that a course model trains on: {sorted(shared)}"
    helpful = [p for p in pairs if p["kind"] == "helpful"]
    train_prompts = {r["prompt"] for r in trained} | {r["prompt"] for r in data.borderline() + data.benign()}
    assert helpful and not {p["prompt"] for p in helpful} & train_prompts
    assert not {p["better"] for p in helpful} & set(train_texts)
    # Each apology refusal carries one of Qi et al.'s keywords, so "apology" vs "no apology" is what the style says.
    from ftsafety.judges import KeywordJudge
    assert all(KeywordJudge().matched(t) for t in EVAL_REFUSALS)
    assert not any(KeywordJudge().matched(t) for t in PLAIN_REFUSALS)


def test_score_pairs_scores_each_distinct_response_once():
    calls = []

    def scorer(prompts, responses):
        calls.extend(zip(prompts, responses))
        return [float(len(r)) for r in responses]

    pairs = judgement_pairs(3, 2)
    scored = score_pairs(scorer, pairs)
    assert len(calls) == len(set(calls)) < 2 * len(pairs)  # the four styles of a request share their responses
    assert all(s["better_score"] == len(s["better"]) and s["worse_score"] == len(s["worse"]) for s in scored)
    assert [s["agrees"] for s in scored] == [len(s["better"]) > len(s["worse"]) for s in scored]
