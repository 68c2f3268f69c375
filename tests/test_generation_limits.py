"""Long prompts: cut to the limit with a warning, kept inside the model's context, and batched apart from short ones."""
import statistics

import pytest

from ftsafety.generation import generate, respond
from ftsafety.templates import get_template

ORDINARY = ["Hi", "What is 2+2?", "Name a colour.", "Tell me a joke.",
            "Explain, step by step and with a worked example for a beginner, how compound interest on a savings "
            "account grows over ten years, why the rate matters more than the deposit, and what inflation does to the "
            "result."]


@pytest.fixture
def calls(smoke, monkeypatch):
    """Every model.generate call as (input_ids, max_new_tokens, output width), recorded while it runs as usual."""
    recorded = []
    real = smoke.model.generate

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        recorded.append((kwargs["input_ids"].clone(), kwargs["max_new_tokens"], out.shape[1]))
        return out

    monkeypatch.setattr(smoke.model, "generate", spy)
    return recorded


def _ids(tok, prompt):
    return tok(get_template("chat").render(tok, prompt), add_special_tokens=False).input_ids


def test_a_long_prompt_is_cut_with_one_warning_and_batched_alone(smoke, smoke_profile, calls):
    tok, limit = smoke.tokenizer, smoke_profile.max_prompt_tokens
    long = "Summarise this report. " + "The committee met again and discussed the budget. " * 400  # 20,023 characters
    prompts = ["Hi", long, "What is 2+2?", "Name a colour.", "Tell me a joke."]
    cut_message = rf"1 of 5 prompts were longer than {limit} tokens and were cut to {limit}"
    with pytest.warns(UserWarning, match=cut_message) as w:
        out = respond(smoke.model, tok, prompts, max_new_tokens=4, batch_size=4, max_prompt_tokens=limit,
                      progress=False)
    assert len(out) == 5
    cut_warnings = [x for x in w if "were cut" in str(x.message)]
    assert len(cut_warnings) == 1 and "max_prompt_tokens" in str(cut_warnings[0].message)
    assert all(ids.shape[1] <= limit for ids, _, _ in calls)
    # The long prompt goes alone; the short ones are padded to the longest short one, not to the long prompt.
    short = max(len(_ids(tok, p)) for p in prompts if p is not long)
    assert sorted((ids.shape[0], ids.shape[1]) for ids, _, _ in calls) == [(1, limit), (4, short)]
    # The cut keeps both ends of the template: the system prompt and the assistant header the answer follows.
    full = _ids(tok, long)
    kept = next(ids[0].tolist() for ids, _, _ in calls if ids.shape[0] == 1)
    assert kept[: limit // 2] == full[: limit // 2] and kept[limit // 2 :] == full[-(limit - limit // 2) :]
    assert tok.decode(kept).endswith("<|im_start|>assistant\n")


def test_b_prompt_and_new_tokens_stay_within_the_context(smoke, calls):
    tok, model = smoke.tokenizer, smoke.model
    texts = [get_template("chat").render(tok, p) for p in ORDINARY]  # the longest is over 48 tokens, the rest under
    assert max(len(_ids(tok, p)) for p in ORDINARY) > 48 > min(len(_ids(tok, p)) for p in ORDINARY)
    old = model.config.max_position_embeddings
    model.config.max_position_embeddings = 64
    try:
        with pytest.warns(UserWarning, match="context of 64 tokens"):
            generate(model, tok, texts, max_new_tokens=16, progress=False)
        # A max_prompt_tokens above what the context leaves does not win over the context.
        with pytest.warns(UserWarning, match="context of 64 tokens"):
            generate(model, tok, texts, max_new_tokens=16, max_prompt_tokens=256, progress=False)
        assert calls
        for ids, max_new, width in calls:
            assert max_new == 16  # the prompt is cut, never the answer
            assert ids.shape[1] + max_new <= 64 and width <= 64
        with pytest.raises(ValueError, match="max_new_tokens=64 leaves no room"):
            generate(model, tok, texts, max_new_tokens=64, progress=False)
    finally:
        model.config.max_position_embeddings = old


def test_c_ordinary_prompts_match_one_at_a_time_and_batches_keep_to_the_token_budget(smoke, smoke_profile, calls,
                                                                                    recwarn):
    tok, model = smoke.tokenizer, smoke.model
    texts = [get_template("chat").render(tok, p) for p in ORDINARY]
    kw = dict(max_new_tokens=6, max_prompt_tokens=smoke_profile.max_prompt_tokens, progress=False)
    batched = generate(model, tok, texts, batch_size=4, **kw)
    batches = [ids.shape for ids, _, _ in calls]
    single = [generate(model, tok, [t], batch_size=1, **kw)[0] for t in texts]
    assert batched == single
    assert not [w for w in recwarn if "were cut" in str(w.message)]
    budget = 2 * 4 * statistics.median(len(_ids(tok, p)) for p in ORDINARY)
    assert sum(rows for rows, _ in batches) == len(texts)
    assert all(rows <= 4 and (rows == 1 or rows * width <= budget) for rows, width in batches)


def test_length_batches_cover_every_prompt_once_within_rows_and_budget():
    from ftsafety.generation import length_batches

    lengths = [30, 31, 400, 29, 35, 33, 2000, 30, 32, 34]
    batches = length_batches(lengths, batch_size=4)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    budget = 2 * 4 * statistics.median(lengths)
    for b in batches:
        assert len(b) <= 4 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= budget)
    assert [2000] in [[lengths[i] for i in b] for b in batches] and [400] in [[lengths[i] for i in b] for b in batches]


def test_evaluate_passes_the_profiles_prompt_limit(smoke_profile, monkeypatch):
    from ftsafety import evaluate as ev
    from ftsafety import generation

    seen = []

    def fake_respond(model, tokenizer, prompts, template="chat", **kwargs):
        seen.append(kwargs)
        return ["I cannot help with that."] * len(prompts)

    monkeypatch.setattr(generation, "respond", fake_respond)  # what launch.split_respond calls in each process
    ev.evaluate(None, None, smoke_profile.replace(max_prompt_tokens=77), progress=False)
    assert seen and all(kw["max_prompt_tokens"] == 77 for kw in seen)
