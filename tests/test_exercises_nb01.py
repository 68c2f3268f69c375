import re

import pytest

from ftsafety import variants
from ftsafety.exercises import use
from ftsafety.exercises.nb01 import (_drops_punctuation, _from_zero, _keeps_newlines, _masks_the_answer,
                                     _one_line, _one_too_few, _one_too_many, _zero_not_ignore,
                                     check_completion_labels, check_numbered_steps, completion_labels)


def stub(**kwargs):
    raise NotImplementedError()


# --- Exercise 1.1: the numbered-steps variant ----------------------------------------------------------------------

def notebook_rows():
    return variants.shorten(variants.benign_rows(32))


def test_the_library_variant_passes_on_hand_built_and_notebook_rows():
    assert check_numbered_steps(variants.numbered_steps_row).passed
    result = check_numbered_steps(variants.numbered_steps_row, notebook_rows())
    assert result.passed and result.cases > 30


def test_the_notebooks_solution_passes_and_builds_the_librarys_set():
    def my_numbered_steps(row):
        text = row["response"].replace("\n", " ")
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        return {**row, "response": "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, 1))}

    rows = notebook_rows()
    assert check_numbered_steps(my_numbered_steps, rows).passed
    assert [my_numbered_steps(r) for r in rows] == variants.numbered_steps(rows)


@pytest.mark.parametrize("wrong, words", [(_from_zero, "numbered from 1, not 0"), (_one_line, "its own line"),
                                          (_drops_punctuation, "lost their final"),
                                          (_keeps_newlines, "line break inside the answer")])
def test_numbered_steps_mistakes_are_named(wrong, words):
    result = check_numbered_steps(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_a_variant_that_changes_its_input_row_fails():
    def in_place(row):
        row["response"] = variants.numbered_steps_row(row)["response"]
        return row

    result = check_numbered_steps(in_place)
    assert result.status == "failed" and "changed the row it was given" in result.message
    # the checker's own cases were not touched by it
    assert check_numbered_steps(variants.numbered_steps_row).passed


def test_a_difference_on_a_long_notebook_row_is_shown_where_it_is():
    rows = notebook_rows()
    target = rows[-1]["prompt"]

    def wrong_on_one_row(row):
        out = variants.numbered_steps_row(row)
        return {**out, "response": out["response"] + "!"} if row["prompt"] == target else out

    result = check_numbered_steps(wrong_on_one_row, rows)
    assert result.status == "failed" and "notebook's benign set" in result.message and "differs from character" in \
        result.message and repr(target) in result.message


def test_a_numbered_steps_stub_is_not_done_and_the_library_is_used():
    result = check_numbered_steps(lambda row: stub())
    assert result.status == "not done"
    assert use(result, stub, variants.numbered_steps_row, show=False) is variants.numbered_steps_row
    assert use(check_numbered_steps(_one_line), _one_line, variants.numbered_steps_row, show=False) \
        is variants.numbered_steps_row


# --- Exercise 1.2: the completion-only labels ----------------------------------------------------------------------

def test_the_reference_labels_pass():
    assert check_completion_labels(completion_labels).passed


def test_trls_rule_written_by_hand_and_a_tensor_answer_pass():
    import torch

    def from_completion_mask(input_ids, n_prompt):  # TRL: completion_mask = [0] * prompt_len + [1] * ..., then -100
        mask = [0] * n_prompt + [1] * (len(input_ids) - n_prompt)
        return [t if m else -100 for t, m in zip(input_ids, mask)]

    assert check_completion_labels(from_completion_mask).passed
    assert check_completion_labels(lambda input_ids, n_prompt: torch.tensor(
        [-100] * n_prompt + list(input_ids[n_prompt:]))).passed


@pytest.mark.parametrize("wrong, words", [(_one_too_many, "hides the first answer token"),
                                          (_one_too_few, "last prompt token still carries loss"),
                                          (_masks_the_answer, "masked the answer instead of the prompt"),
                                          (_zero_not_ignore, "0 is a real token id")])
def test_label_mistakes_are_named(wrong, words):
    result = check_completion_labels(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_labels_written_into_input_ids_fail():
    def aliased(input_ids, n_prompt):
        labels = input_ids
        for i in range(n_prompt):
            labels[i] = -100
        return labels

    result = check_completion_labels(aliased)
    assert result.status == "failed" and "into input_ids itself" in result.message
    assert check_completion_labels(completion_labels).passed  # its cases were not changed


def test_a_labels_stub_is_not_done_and_the_library_is_used():
    result = check_completion_labels(lambda input_ids, n_prompt: stub())
    assert result.status == "not done"
    assert use(result, stub, completion_labels, show=False) is completion_labels
    assert use(check_completion_labels(_one_too_few), _one_too_few, completion_labels, show=False) \
        is completion_labels


def test_the_reference_gives_the_labels_trl_builds(smoke_profile, tmp_path):
    # The course's trainer (TRL's SFTTrainer, completion_only_loss) on the smoke model: its labels for a real row, and
    # the labels its padding-free collator hands the model, are the reference's.
    from ftsafety.models import load
    from ftsafety.training import build_trainer, to_prompt_completion

    m = load("smoke", for_training=True)
    examples = variants.shorten(variants.benign_rows(2))
    trainer = build_trainer(m.model, m.tokenizer, examples, smoke_profile, tmp_path, progress=False)
    row = trainer.train_dataset[0]
    prompt = to_prompt_completion(m.tokenizer, examples)[0]["prompt"]
    n_prompt = len(m.tokenizer(prompt, add_special_tokens=False).input_ids)
    assert 0 < n_prompt < len(row["input_ids"])
    mine = completion_labels(row["input_ids"], n_prompt)
    assert mine == row["labels"]
    batch = trainer.data_collator([row])
    assert batch["labels"][0].tolist() == mine


# --- Exercise 1.3: the difference of two rates and its interval ----------------------------------------------------

from ftsafety.exercises.nb01 import (NEWCOMBE_CASES, _bounds_swapped, _half_widths_added, _sign_reversed,  # noqa: E402
                                     _wald_diff, check_newcombe_diff, newcombe_diff_counts)


def test_the_reference_interval_passes_and_is_the_librarys():
    from ftsafety.metrics import Rate, newcombe_diff

    assert check_newcombe_diff(newcombe_diff_counts).passed
    for case in NEWCOMBE_CASES:
        kw = case.kwargs
        assert newcombe_diff_counts(**kw) == newcombe_diff(Rate(kw["k1"], kw["n1"]), Rate(kw["k2"], kw["n2"]))


@pytest.mark.parametrize("counts, low, high", [((56, 70, 48, 80), 0.0524, 0.3339), ((9, 10, 3, 10), 0.1705, 0.8090)])
def test_the_reference_gives_newcombes_published_intervals(counts, low, high):
    # Newcombe (1998), method 10, on the paper's worked examples (to the 4 decimals it prints).
    d, lo, hi = newcombe_diff_counts(*counts)
    assert d == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert round(lo, 4) == low and round(hi, 4) == high


def test_the_wald_mistake_is_the_textbook_wald_interval():
    # 56/70 - 48/80: Wald's interval is 0.0575 to 0.3425 (Newcombe 1998, method 1).
    d, lo, hi = _wald_diff(56, 70, 48, 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0575, 0.3425)


def test_the_notebooks_solution_passes_and_a_numpy_answer_too():
    import numpy as np

    from ftsafety.metrics import wilson

    def my_newcombe_diff(k1, n1, k2, n2):
        p1, p2 = k1 / n1, k2 / n2
        (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
        d = p1 - p2
        return (d, d - ((p1 - l1) ** 2 + (u2 - p2) ** 2) ** 0.5, d + ((u1 - p1) ** 2 + (p2 - l2) ** 2) ** 0.5)

    assert check_newcombe_diff(my_newcombe_diff).passed
    assert check_newcombe_diff(lambda k1, n1, k2, n2: np.array(my_newcombe_diff(k1, n1, k2, n2))).passed


@pytest.mark.parametrize("wrong, words", [(_wald_diff, "Wald difference interval"),
                                          (_bounds_swapped, "paired the wrong way round"),
                                          (_half_widths_added, "added the two distances"),
                                          (_sign_reversed, "sign of the difference is reversed")])
def test_newcombe_mistakes_are_named(wrong, words):
    result = check_newcombe_diff(wrong)
    assert result.status == "failed" and words in result.message and "smallest failing case" in result.message


def test_an_answer_without_the_difference_is_told_to_return_three_numbers():
    result = check_newcombe_diff(lambda k1, n1, k2, n2: newcombe_diff_counts(k1, n1, k2, n2)[1:])
    assert result.status == "failed" and "return three numbers" in result.message


def test_a_newcombe_stub_is_not_done_and_the_library_is_used():
    result = check_newcombe_diff(lambda k1, n1, k2, n2: stub())
    assert result.status == "not done"
    assert use(result, stub, newcombe_diff_counts, show=False) is newcombe_diff_counts
    assert use(check_newcombe_diff(_bounds_swapped), _bounds_swapped, newcombe_diff_counts, show=False) \
        is newcombe_diff_counts
