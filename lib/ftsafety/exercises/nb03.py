"""Notebook 03's exercises: rendering a request under a prompt template, and the PTST cells of a train x test grid."""
from __future__ import annotations

from typing import Callable

from ..templates import PLACEHOLDER, PromptTemplate, get_template, grid_cells, has_safety_prompt, render
from . import Case, Check, check

# --- Exercise 3.1: rendering a request under a template ------------------------------------------------------------


class StubTokenizer:
    """A stand-in for a tokenizer with a chat template, so that renders are checked without loading a model.

    ``style="chatml"`` writes SmolLM2's format (``<|im_start|>role\\n...<|im_end|>``, and the assistant header only
    when ``add_generation_prompt=True``); ``style="llama2"`` writes Llama 2-Chat's (``[INST] <<SYS>>...<</SYS>> ...
    [/INST]``, which ends where the answer starts whatever ``add_generation_prompt`` says). As with a real tokenizer,
    ``tokenize=True`` (the default) returns token ids, here one per character.
    """

    chat_template = "stub"  # a real tokenizer keeps its Jinja template here; None means "no chat template"

    def __init__(self, style: str = "chatml"):
        if style not in ("chatml", "llama2"):
            raise ValueError(style)
        self.style = style

    def __repr__(self) -> str:
        return f"<{self.style} tokenizer>"

    def apply_chat_template(self, conversation, tokenize: bool = True, add_generation_prompt: bool = False, **kwargs):
        if self.style == "chatml":
            text = self._chatml(conversation, add_generation_prompt)
        else:
            text = self._llama2(conversation)
        return [ord(c) for c in text] if tokenize else text

    @staticmethod
    def _chatml(messages, add_generation_prompt):
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    @staticmethod
    def _llama2(messages):
        messages = list(messages)
        system = messages.pop(0)["content"] if messages and messages[0]["role"] == "system" else None
        if [m["role"] for m in messages] != ["user"]:
            raise ValueError("this Llama 2 template takes an optional system message, then one user message")
        head = f"<<SYS>>\n{system}\n<</SYS>>\n\n" if system is not None else ""
        return f"<s>[INST] {head}{messages[0]['content'].strip()} [/INST]"


def _messages(template: PromptTemplate, prompt: str, with_system: bool = True, wraps: int = 1) -> list[dict]:
    user = prompt
    for _ in range(wraps):
        user = template.user.replace(PLACEHOLDER, user)
    system = [{"role": "system", "content": template.system}] if with_system and template.system is not None else []
    return system + [{"role": "user", "content": user}]


def _text(template: PromptTemplate, prompt: str, with_system: bool = True, wraps: int = 1) -> str:
    user = prompt
    for _ in range(wraps):
        user = template.user.replace(PLACEHOLDER, user)
    return (f"{template.system}\n\n" if with_system and template.system else "") + user


def _render_without_system(template, tokenizer, prompt):
    if not template.chat:
        return _text(template, prompt, with_system=False)
    return tokenizer.apply_chat_template(_messages(template, prompt, with_system=False), tokenize=False,
                                         add_generation_prompt=True)


def _render_wrapped_twice(template, tokenizer, prompt):
    if not template.chat:
        return _text(template, prompt, wraps=2)
    return tokenizer.apply_chat_template(_messages(template, prompt, wraps=2), tokenize=False,
                                         add_generation_prompt=True)


def _render_without_generation_prompt(template, tokenizer, prompt):
    if not template.chat:
        return _text(template, prompt)
    return tokenizer.apply_chat_template(_messages(template, prompt), tokenize=False)


def _render_text_through_chat(template, tokenizer, prompt):
    return tokenizer.apply_chat_template(_messages(template, prompt), tokenize=False, add_generation_prompt=True)


CHATML, LLAMA2 = StubTokenizer("chatml"), StubTokenizer("llama2")
RENDER_CASES = [
    Case({"template": PromptTemplate("q", user="Q: {prompt}", chat=False), "tokenizer": CHATML, "prompt": "2+2?"},
         "plain text, no system prompt"),
    Case({"template": PromptTemplate("sys-q", user="Q: {prompt}", system="Be safe.", chat=False), "tokenizer": CHATML,
          "prompt": "2+2?"}, "plain text with a system prompt"),
    Case({"template": get_template("chat"), "tokenizer": CHATML, "prompt": "2+2?"},
         "the chat template around the bare request"),
    Case({"template": PromptTemplate("sys-chat", user="Q: {prompt}", system="Be safe."), "tokenizer": CHATML,
          "prompt": "2+2?"}, "chat, a short system prompt"),
    Case({"template": get_template("text:vanilla"), "tokenizer": CHATML, "prompt": "What is 7 times 6?"},
         "text:vanilla"),
    Case({"template": get_template("chat:vanilla"), "tokenizer": CHATML, "prompt": "What is 7 times 6?"},
         "chat:vanilla"),
    Case({"template": get_template("chat:alpaca"), "tokenizer": CHATML, "prompt": "Add 2 and 2."}, "chat:alpaca"),
    Case({"template": get_template("chat:llama"), "tokenizer": CHATML, "prompt": "What is 7 times 6?"},
         "chat:llama, SmolLM2's format"),
    Case({"template": get_template("chat:llama-short"), "tokenizer": LLAMA2, "prompt": "What is 7 times 6?"},
         "chat:llama-short, Llama 2-Chat's format"),
    Case({"template": get_template("text:alpaca"), "tokenizer": LLAMA2, "prompt": "Add 2 and 2."}, "text:alpaca"),
]

RENDER_MISTAKES = [
    ("the system prompt is dropped: a template is a system prompt times a wrapper, and the system prompt (Llama 2's "
     "safety prompt in chat:llama) is the part PTST is about; in plain text it goes first, followed by a blank line",
     _render_without_system),
    ("the wrapper is applied twice: put the request into template.user once (replace {prompt} with it)",
     _render_wrapped_twice),
    ("the generation prompt is missing: pass add_generation_prompt=True, so the text ends with the assistant header "
     "where the model's answer starts", _render_without_generation_prompt),
    ("text: templates (template.chat is False) skip the chat template: plain text is the system prompt, a blank line, "
     "and the wrapped request", _render_text_through_chat),
]


def check_render(fn: Callable) -> Check:
    """Check ``fn(template, tokenizer, prompt) -> str`` against :func:`ftsafety.templates.render`.

    The cases use :class:`StubTokenizer` (SmolLM2's and Llama 2-Chat's formats, no model loaded), plain-text
    templates first, then the chat templates of Lyu et al.'s family.
    """
    return check("rendering a request under a template", fn, RENDER_CASES, render, RENDER_MISTAKES)


# --- Exercise 3.2: the same-template and PTST cells of a train x test grid --------------------------------------

def _ptst_with_the_safety_row(grid, safety="chat:llama"):
    same = {t: row[t] for t, row in grid.items() if t in row}
    return same, {t: row[safety] for t, row in grid.items() if safety in row}


def _ptst_excluding_only_the_safety_name(grid, safety="chat:llama"):
    same = {t: row[t] for t, row in grid.items() if t in row}
    return same, {t: row[safety] for t, row in grid.items() if safety in row and t != safety}


def _transposed(grid, safety="chat:llama"):
    same = {t: row[t] for t, row in grid.items() if t in row}
    return same, {t: grid[safety][t] for t in grid.get(safety, {}) if not has_safety_prompt(t)}


CV, CA, CL, CLS, TV = "chat:vanilla", "chat:alpaca", "chat:llama", "chat:llama-short", "text:vanilla"
GRID_CASES = [
    Case({"grid": {CV: {CV: 0.5}}}, "one cell, no safety-prompt column"),
    Case({"grid": {CV: {CV: 0.5, CL: 0.9}, CL: {CV: 0.2, CL: 0.3}}}, "2 x 2"),
    Case({"grid": {CV: {CV: 0.5, CL: 0.9}}}, "one row"),
    Case({"grid": {CV: {TV: 0.1, CL: 0.9}, CA: {TV: 0.2, CL: 0.8}}}, "no training template is a test template"),
    Case({"grid": {CV: {CV: 0.5, CL: 0.9, CLS: 0.7}, CLS: {CV: 0.4, CL: 0.6, CLS: 0.2},
                   CL: {CV: 0.3, CL: 0.35, CLS: 0.25}}}, "a chat:llama-short row"),
    Case({"grid": {CV: {CV: 0.5, CL: 0.9, CLS: 0.7}, CLS: {CV: 0.4, CL: 0.6, CLS: 0.2},
                   CL: {CV: 0.3, CL: 0.35, CLS: 0.25}}, "safety": CLS}, "safety='chat:llama-short'"),
    Case({"grid": {tr: {te: round(0.1 * i + 0.01 * j, 2) for j, te in enumerate(
        [TV, "text:alpaca", CV, CA, CL, CLS])} for i, tr in enumerate([CV, CA, CL])}}, "the notebook's 3 x 6 grid"),
]

GRID_MISTAKES = [
    ("train chat:llama / test chat:llama is a same-template cell, not PTST: PTST trains WITHOUT the safety prompt "
     "and adds it only at test time, so rows trained with it have no PTST cell", _ptst_with_the_safety_row),
    ("chat:llama-short carries Llama 2's safety prompt too (a shorter one): a row trained with any safety prompt is "
     "not 'pure tuning'; test the row's template with has_safety_prompt, not its name",
     _ptst_excluding_only_the_safety_name),
    ("the grid is {train: {test: rate}}: the PTST cell of training template t is grid[t][safety] (trained under t, "
     "tested with the safety prompt); you read grid[safety][t]", _transposed),
]


def check_grid_cells(fn: Callable) -> Check:
    """Check ``fn(grid, safety="chat:llama") -> (same, ptst)`` against :func:`ftsafety.templates.grid_cells`."""
    return check("the same-template and PTST cells", fn, GRID_CASES, grid_cells, GRID_MISTAKES)
