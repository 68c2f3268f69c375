import pytest

from ftsafety.templates import LLAMA2_SAFETY_SYSTEM, TEMPLATES, PromptTemplate, get_template
from ftsafety.training import to_prompt_completion


def test_ptst_family_is_expressible():
    for name in ["text:vanilla", "text:alpaca", "chat:vanilla", "chat:alpaca", "chat:llama", "chat:llama-short"]:
        assert name in TEMPLATES


def test_chat_templates_render_through_the_model_template(smoke):
    tok = smoke.tokenizer
    s = get_template("chat:llama").render(tok, "What is 2 + 2?")
    assert s.startswith("<|im_start|>system\n" + LLAMA2_SAFETY_SYSTEM)
    assert "<|im_start|>user\nQuestion: What is 2 + 2?<|im_end|>" in s
    assert s.endswith("<|im_start|>assistant\n")
    alpaca = get_template("chat:alpaca").render(tok, "Add 2 and 2.")
    assert "### Instruction:\nAdd 2 and 2.\n\n### Response:" in alpaca and "Below is an instruction" in alpaca


def test_text_templates_skip_the_chat_template(smoke):
    t = get_template("text:vanilla")
    assert t.render(smoke.tokenizer, "What is 2 + 2?") == "Question: What is 2 + 2?\nAnswer:"
    assert t.completion("4") == " 4"


def test_training_rows_use_the_same_rendering_as_evaluation(smoke):
    tok = smoke.tokenizer
    for name in ["chat", "chat:llama", "text:alpaca"]:
        tpl = get_template(name)
        (row,) = to_prompt_completion(tok, [{"prompt": "Hi there", "response": "Hello!"}], name)
        assert row["prompt"] == tpl.render(tok, "Hi there")
        assert row["completion"] == tpl.completion("Hello!")


def test_bad_templates_are_explained():
    with pytest.raises(ValueError, match=r"must contain \{prompt\}"):
        PromptTemplate("broken", user="no placeholder")
    with pytest.raises(ValueError, match="unknown template 'chat:nope'; known: chat, "):
        get_template("chat:nope")


def test_rows_may_carry_their_own_system_prompt(smoke):
    (row,) = to_prompt_completion(smoke.tokenizer, [{"prompt": "Hi", "response": "Arr!", "system": "You are a pirate."}])
    assert row["prompt"].startswith("<|im_start|>system\nYou are a pirate.<|im_end|>")
    assert row["prompt"] == get_template("chat").with_system("You are a pirate.").render(smoke.tokenizer, "Hi")
