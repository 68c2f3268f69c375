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


# --- Exercise 1.3: the difference of two rates and its interval (Newcombe 1998, method 10) -------------------------

Z95 = 1.959963984540054  # the 97.5% point of the standard normal, as in ftsafety.metrics


def newcombe_diff_counts(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """``(difference, low, high)`` of p1 - p2 = k1/n1 - k2/n2: :func:`ftsafety.metrics.newcombe_diff` on counts.

    The reference of Exercise 1.3 (the library's function takes two :class:`~ftsafety.metrics.Rate` objects).
    """
    from ..metrics import Rate, newcombe_diff

    return newcombe_diff(Rate(int(k1), int(n1)), Rate(int(k2), int(n2)))


def _wilson_parts(k1, n1, k2, n2):
    from ..metrics import wilson

    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
    return p1, p2, l1, u1, l2, u2


def _wald_diff(k1, n1, k2, n2):
    p1, p2 = k1 / n1, k2 / n2
    half = Z95 * (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) ** 0.5
    return (p1 - p2, p1 - p2 - half, p1 - p2 + half)


def _bounds_swapped(k1, n1, k2, n2):
    p1, p2, l1, u1, l2, u2 = _wilson_parts(k1, n1, k2, n2)
    d = p1 - p2
    return (d, d - ((u1 - p1) ** 2 + (p2 - l2) ** 2) ** 0.5, d + ((p1 - l1) ** 2 + (u2 - p2) ** 2) ** 0.5)


def _half_widths_added(k1, n1, k2, n2):
    p1, p2, l1, u1, l2, u2 = _wilson_parts(k1, n1, k2, n2)
    d = p1 - p2
    return (d, d - ((p1 - l1) + (u2 - p2)), d + ((u1 - p1) + (p2 - l2)))


def _sign_reversed(k1, n1, k2, n2):
    return newcombe_diff_counts(k2, n2, k1, n1)


NEWCOMBE_CASES = [
    Case({"k1": 0, "n1": 10, "k2": 0, "n2": 10}, "0 of 10 against 0 of 10: the difference is 0, yet not known to be 0"),
    Case({"k1": 10, "n1": 10, "k2": 0, "n2": 10}, "10 of 10 against 0 of 10"),
    Case({"k1": 3, "n1": 10, "k2": 7, "n2": 10}, "a negative difference"),
    Case({"k1": 1, "n1": 3, "k2": 2, "n2": 5}, "two different n"),
    Case({"k1": 9, "n1": 10, "k2": 3, "n2": 10}, "Newcombe's (1998) example, 0.1705 to 0.8090"),
    Case({"k1": 56, "n1": 70, "k2": 48, "n2": 80}, "Newcombe's (1998) example, 0.0524 to 0.3339"),
    Case({"k1": 30, "n1": 100, "k2": 84, "n2": 100}, "100 prompts each, refusal fell"),
]

NEWCOMBE_MISTAKES = [
    ("that is the Wald difference interval d ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2): it collapses to the single point 0 "
     "when both rates are 0% (or both 100%) and can leave [-1, 1]; Newcombe's interval is built from the two Wilson "
     "intervals", _wald_diff),
    ("the Wilson bounds are paired the wrong way round: the lower bound of p1 - p2 is reached when p1 is low and p2 is "
     "high, so low = d - sqrt((p1-l1)² + (u2-p2)²) and high = d + sqrt((u1-p1)² + (p2-l2)²)", _bounds_swapped),
    ("you added the two distances: the interval takes the root of their squares, sqrt(a² + b²), the way the "
     "variances of two independent estimates add; adding them makes the interval too wide", _half_widths_added),
    ("the sign of the difference is reversed: it is p1 - p2, the first rate minus the second (k1/n1 - k2/n2)",
     _sign_reversed),
]


def check_newcombe_diff(fn: Callable) -> Check:
    """Check ``fn(k1, n1, k2, n2) -> (difference, low, high)`` against :func:`ftsafety.metrics.newcombe_diff`
    (through :func:`newcombe_diff_counts`), smallest first; two cases are Newcombe's (1998) own examples."""
    result = check("the Newcombe difference interval", fn, NEWCOMBE_CASES, newcombe_diff_counts, NEWCOMBE_MISTAKES,
                   rtol=1e-6, atol=1e-6)
    if result.status == "failed" and "smallest failing case" not in result.message:
        try:
            got = fn(**NEWCOMBE_CASES[result.cases - 1].kwargs)
            size = len(got)
        except Exception:
            return result
        if size != 3:
            return Check(result.exercise, "failed", f"return three numbers, (difference, low, high); yours returns "
                                                    f"{size} ({result.message})", result.cases)
    return result
