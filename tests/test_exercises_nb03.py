import pytest

from ftsafety.exercises import use
from ftsafety.exercises.nb03 import (CHATML, LLAMA2, _ptst_excluding_only_the_safety_name, _ptst_with_the_safety_row,
                                     _render_text_through_chat, _render_without_generation_prompt,
                                     _render_without_system, _render_wrapped_twice, _transposed, check_grid_cells,
                                     check_render)
from ftsafety.templates import LLAMA2_SAFETY_SYSTEM, get_template, grid_cells, has_safety_prompt, render


def _stub(*args, **kwargs):
    raise NotImplementedError()


# --- Exercise 3.1 ---------------------------------------------------------------------------------------------------

def test_the_library_render_passes():
    assert check_render(render).status == "passed"


def test_a_render_written_from_the_fields_passes():
    def mine(template, tokenizer, prompt):
        user = template.user.replace("{prompt}", prompt)
        if not template.chat:
            return (template.system + "\n\n" if template.system else "") + user
        msgs = ([{"role": "system", "content": template.system}] if template.system is not None else [])
        return tokenizer.apply_chat_template(msgs + [{"role": "user", "content": user}], tokenize=False,
                                             add_generation_prompt=True)

    assert check_render(mine).passed


def test_the_stub_tokenizers_match_their_formats():
    text = render("chat:llama", CHATML, "What is 2 + 2?")
    assert text.startswith("<|im_start|>system\n" + LLAMA2_SAFETY_SYSTEM)
    assert text.endswith("<|im_start|>user\nQuestion: What is 2 + 2?<|im_end|>\n<|im_start|>assistant\n")
    assert render("chat:vanilla", LLAMA2, "Hi") == "<s>[INST] Question: Hi [/INST]"
    assert render("chat:llama-short", LLAMA2, "Hi").startswith("<s>[INST] <<SYS>>\nYou are a helpful")
    assert CHATML.apply_chat_template([{"role": "user", "content": "a"}]) == [ord(c) for c in
                                                                             "<|im_start|>user\na<|im_end|>\n"]


@pytest.mark.parametrize("wrong, words", [
    (_render_without_system, "system prompt is dropped"),
    (_render_wrapped_twice, "wrapper is applied twice"),
    (_render_without_generation_prompt, "generation prompt is missing"),
    (_render_text_through_chat, "skip the chat template"),
])
def test_typical_render_mistakes_are_named(wrong, words):
    result = check_render(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_token_ids_instead_of_text_fail():
    def ids(template, tokenizer, prompt):
        return tokenizer.apply_chat_template(get_template(template).messages(prompt), add_generation_prompt=True)

    assert check_render(ids).status == "failed"


def test_a_render_stub_is_not_done_and_the_library_is_used():
    result = check_render(_stub)
    assert result.status == "not done"
    assert use(result, _stub, render, show=False) is render
    assert use(check_render(_render_wrapped_twice), _render_wrapped_twice, render, show=False) is render


# --- Exercise 3.2 ---------------------------------------------------------------------------------------------------

def test_the_library_grid_cells_pass_and_read_the_grid_right():
    assert check_grid_cells(grid_cells).status == "passed"
    grid = {"chat:vanilla": {"chat:vanilla": 0.5, "chat:llama": 0.9}, "chat:llama": {"chat:vanilla": 0.2,
                                                                                     "chat:llama": 0.3}}
    assert grid_cells(grid) == ({"chat:vanilla": 0.5, "chat:llama": 0.3}, {"chat:vanilla": 0.9})
    assert has_safety_prompt("chat:llama-short") and not has_safety_prompt("chat:alpaca")


@pytest.mark.parametrize("wrong, words", [
    (_ptst_with_the_safety_row, "same-template cell, not PTST"),
    (_ptst_excluding_only_the_safety_name, "chat:llama-short carries Llama 2's safety prompt"),
    (_transposed, "you read grid[safety][t]"),
])
def test_typical_grid_mistakes_are_named(wrong, words):
    result = check_grid_cells(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_a_grid_stub_is_not_done_and_the_library_is_used():
    result = check_grid_cells(_stub)
    assert result.status == "not done"
    assert use(result, _stub, grid_cells, show=False) is grid_cells
    assert use(check_grid_cells(_transposed), _transposed, grid_cells, show=False) is grid_cells
