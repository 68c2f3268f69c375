from ftsafety.generation import generate, respond
from ftsafety.templates import get_template


def test_batched_generation_matches_one_at_a_time(smoke):
    """Left padding and length grouping must not change greedy outputs, nor their order."""
    tok, model = smoke.tokenizer, smoke.model
    prompts = ["Hi", "Tell me a long story about a dragon and a knight", "What is 2+2?", "Name a colour."]
    texts = [get_template("chat").render(tok, p) for p in prompts]
    batched = generate(model, tok, texts, max_new_tokens=6, batch_size=4, progress=False)
    single = [generate(model, tok, [t], max_new_tokens=6, batch_size=1, progress=False)[0] for t in texts]
    assert batched == single
    assert len(batched) == 4


def test_respond_renders_with_the_template(smoke):
    out = respond(smoke.model, smoke.tokenizer, ["Hi", "Hello"], "text:vanilla", max_new_tokens=3, progress=False)
    assert len(out) == 2 and all(isinstance(o, str) for o in out)
    assert generate(smoke.model, smoke.tokenizer, [], progress=False) == []
    assert smoke.tokenizer.padding_side == "left"
