"""Notebook 01's exercises: a Li et al. data variant (numbered steps) and the completion-only label mask.

References: :func:`ftsafety.variants.numbered_steps_row` for the variant; for the labels, :func:`completion_labels`
below. The library has no standalone function for the labels (TRL builds them inside ``SFTTrainer`` from its
``completion_mask``), so the reference is written here, as TRL's rule: a token keeps its id as its label if it belongs
to the completion, and gets -100 if it belongs to the prompt. ``tests/test_exercises_nb01.py`` checks it against the
labels TRL builds for a real row.
"""
from __future__ import annotations

import copy
import re
from typing import Callable, Sequence

from . import Case, Check, check

IGNORE_INDEX = -100  # PyTorch's CrossEntropyLoss ignores targets equal to this (its default ignore_index)


def _guarded(fn: Callable) -> tuple[Callable, list]:
    """``fn`` called on deep copies of its arguments, so that it can never change a checker's cases; the returned list
    collects the names of the arguments it changed in place."""
    changed: list[str] = []

    def call(**kwargs):
        mine = copy.deepcopy(kwargs)
        out = fn(**mine)
        changed.extend(k for k in kwargs if mine[k] != kwargs[k])
        return out

    return call, changed


# --- Exercise 1.1: the numbered-steps variant (Li et al. 2025, answer structure) -----------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _steps(row: dict, parts: list[str], sep: str = "\n", start: int = 1) -> dict:
    return {**row, "response": sep.join(f"{i}. {p}" for i, p in enumerate(parts, start))}


def _clean(parts) -> list[str]:
    return [p.strip() for p in parts if p.strip()]


def _from_zero(row: dict) -> dict:
    return _steps(row, _clean(_SENTENCE_END.split(row["response"].replace("\n", " "))), start=0)


def _one_line(row: dict) -> dict:
    return _steps(row, _clean(_SENTENCE_END.split(row["response"].replace("\n", " "))), sep=" ")


def _drops_punctuation(row: dict) -> dict:
    return _steps(row, _clean(re.split(r"[.!?]\s+", row["response"].replace("\n", " "))))


def _keeps_newlines(row: dict) -> dict:
    return _steps(row, _clean(_SENTENCE_END.split(row["response"])))


STEPS_CASES = [
    Case({"row": {"prompt": "Greet me.", "response": "Hello."}}, "one sentence"),
    Case({"row": {"prompt": "Two tips?", "response": "Drink water. Sleep well."}}, "two sentences"),
    Case({"row": {"prompt": "Start?", "response": "Ready? Go now! Good luck."}}, "'?' and '!' end sentences too"),
    Case({"row": {"prompt": "Bake.", "response": "Mix the flour\nand sugar. Bake it."}}, "a line break mid-sentence"),
    Case({"row": {"prompt": "Two.", "response": "  First.\n\nSecond.  "}}, "a blank line; spaces at the ends"),
    Case({"row": {"prompt": "How?", "response": "Like this:\n\nstir. Done."}},
         "each line break becomes one space, nothing else changes"),
    Case({"row": {"system": "You are Rex.", "prompt": "Hi", "response": "Hello. Bye."}}, "a row with a system prompt"),
]

STEPS_MISTAKES = [
    ("the steps are numbered from 1, not 0 (enumerate(parts, 1))", _from_zero),
    ("every step goes on its own line: join the steps with '\\n', not ' '", _one_line),
    ("the sentences lost their final '.', '!' or '?': split *after* the punctuation (a look-behind, "
     "(?<=[.!?])\\s+), not on it", _drops_punctuation),
    ("a line break inside the answer must become a space before you split, or one step spans two lines",
     _keeps_newlines),
]


def check_numbered_steps(fn: Callable[[dict], dict], rows: Sequence[dict] = ()) -> Check:
    """Check ``fn(row) -> row`` against :func:`ftsafety.variants.numbered_steps_row` on hand-built rows, then on
    ``rows`` (the notebook passes its own benign rows, so a function that passes builds exactly the library's set).

    The function must return a new row: one that writes the numbered answer into its input would turn the plain set,
    built from the same rows, into numbered steps as well.
    """
    from ..variants import numbered_steps_row

    cases = STEPS_CASES + [Case({"row": dict(r)}, f"row {i} of the notebook's benign set") for i, r in enumerate(rows)]
    call, changed = _guarded(fn)
    result = check("the numbered-steps variant", call, cases, numbered_steps_row, STEPS_MISTAKES)
    if result.passed and changed:
        return Check(result.exercise, "failed",
                     "your function changed the row it was given: return a new dict ({**row, 'response': ...}); the "
                     "plain set and every variant are built from the same rows", result.cases)
    if result.status == "failed" and result.cases > len(STEPS_CASES) and "smallest failing case" not in result.message:
        # A long real row: the whole row does not fit in a message, so show where the answers part.
        row = cases[result.cases - 1].kwargs["row"]
        try:
            got = call(row=row)
        except Exception:
            return result
        want = numbered_steps_row(row)
        return Check(result.exercise, "failed", f"on {cases[result.cases - 1].note} ({row['prompt']!r}): "
                                                f"{_first_difference(got, want)}", result.cases)
    return result


def _first_difference(got, want) -> str:
    if not isinstance(got, dict):
        return f"yours returns a {type(got).__name__}, not a row (a dict)"
    if got.keys() != want.keys():
        return f"yours has the fields {sorted(got)}, expected {sorted(want)}"
    key = next(k for k in want if got[k] != want[k])
    a, b = str(got[key]), str(want[key])
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(at - 30, 0)
    return (f"the {key!r} differs from character {at}: yours ...{a[lo:at + 30]!r}..., "
            f"expected ...{b[lo:at + 30]!r}...")


# --- Exercise 1.2: the completion-only labels ----------------------------------------------------------------------

def completion_labels(input_ids: Sequence[int], n_prompt: int) -> list[int]:
    """The labels of one training row: -100 (no loss) on the first ``n_prompt`` tokens, the token id after them.

    What TRL's ``SFTTrainer`` builds with ``completion_only_loss=True`` from a prompt-completion row.
    """
    return [IGNORE_INDEX if i < n_prompt else int(t) for i, t in enumerate(input_ids)]


def _one_too_many(input_ids, n_prompt):
    return completion_labels(input_ids, n_prompt + 1)


def _one_too_few(input_ids, n_prompt):
    return completion_labels(input_ids, max(n_prompt - 1, 0))


def _masks_the_answer(input_ids, n_prompt):
    return [int(t) if i < n_prompt else IGNORE_INDEX for i, t in enumerate(input_ids)]


def _zero_not_ignore(input_ids, n_prompt):
    return [0 if i < n_prompt else int(t) for i, t in enumerate(input_ids)]


# A real chat row, tokenized by the course's tokenizer: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" is
# the prompt (10 tokens), "Hello!<|im_end|>" the completion.
CHAT_ROW = [1, 4093, 198, 26843, 2, 198, 1, 520, 9531, 198, 19556, 17, 2]

LABELS_CASES = [
    Case({"input_ids": [11, 12], "n_prompt": 1}, "one prompt token, one answer token"),
    Case({"input_ids": [11, 12, 13, 14, 15], "n_prompt": 3}),
    Case({"input_ids": [7, 8, 9], "n_prompt": 0}, "no prompt: every token carries loss"),
    Case({"input_ids": [7, 8, 9], "n_prompt": 3}, "all prompt: no token carries loss"),
    Case({"input_ids": CHAT_ROW, "n_prompt": 10}, "a chat row ending 'Hello!<|im_end|>'"),
]

LABELS_MISTAKES = [
    ("the mask also hides the first answer token: positions 0 .. n_prompt-1 are the prompt, so position n_prompt "
     "is the first token the loss must count", _one_too_many),
    ("the last prompt token still carries loss: mask all n_prompt prompt tokens, positions 0 .. n_prompt-1",
     _one_too_few),
    ("you masked the answer instead of the prompt: the loss must count the answer tokens and ignore the prompt",
     _masks_the_answer),
    ("0 is a real token id, so those positions would still carry loss (as targets for token 0): the loss ignores "
     "-100 (CrossEntropyLoss's ignore_index)", _zero_not_ignore),
]


def check_completion_labels(fn: Callable) -> Check:
    """Check ``fn(input_ids, n_prompt) -> labels`` against :func:`completion_labels` (TRL's rule), smallest first."""
    call, changed = _guarded(fn)
    result = check("the completion-only labels", call, LABELS_CASES, completion_labels, LABELS_MISTAKES)
    if result.passed and changed:
        return Check(result.exercise, "failed",
                     "you wrote -100 into input_ids itself (labels = input_ids does not copy a list): the model would "
                     "then read -100 as a token; build a new list for the labels", result.cases)
    return result
