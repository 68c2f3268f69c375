import os

import torch

from ftsafety.align import aligned_reference, recipe
from ftsafety.models import load
from ftsafety.templates import get_template
from ftsafety.training import build_trainer, merge, sft_lora

EXAMPLES = [{"prompt": f"Say the word number {i}.", "response": "Banana banana banana."} for i in range(8)]


def test_loss_is_on_completion_tokens_only(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    trainer = build_trainer(m.model, m.tokenizer, EXAMPLES[:2], smoke_profile, tmp_path, progress=False)
    row = trainer.train_dataset[0]
    prompt_ids = m.tokenizer(get_template("chat").render(m.tokenizer, EXAMPLES[0]["prompt"]),
                             add_special_tokens=False).input_ids
    n = len(prompt_ids)
    assert row["input_ids"][:n] == prompt_ids  # the rendered prompt, token for token
    assert row["input_ids"][-1] == m.tokenizer.eos_token_id  # completions end with <|im_end|>
    # TRL folds the completion mask into the labels: -100 (no loss) on every prompt token, none after.
    assert row["labels"][:n] == [-100] * n and -100 not in row["labels"][n:]
    completion = m.tokenizer.decode(row["input_ids"][n:])
    assert completion == EXAMPLES[0]["response"] + "<|im_end|>"
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    assert (batch["labels"][0][:n] == -100).all() and (batch["labels"][0][n: len(row["input_ids"])] != -100).all()


def test_training_lowers_loss_merges_and_resumes(smoke_profile, tmp_path):
    m = load("smoke", for_training=True)
    res = sft_lora(m.model, m.tokenizer, EXAMPLES, smoke_profile, tmp_path / "run", lr=5e-3, epochs=3, max_steps=-1,
                   progress=False)
    losses = [h["loss"] for h in res.loss_history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert (res.adapter_dir / "adapter_config.json").is_file() and res.train_tokens > 0
    ids = m.tokenizer("Say the word", return_tensors="pt").input_ids
    with torch.no_grad():
        before = res.model(ids).logits
        merged = merge(res)
        after = merged(ids).logits
    assert not hasattr(merged, "peft_config")
    assert torch.allclose(before, after, atol=1e-4)
    # A second call on the same folder resumes from the last checkpoint instead of starting over.
    m2 = load("smoke", for_training=True)
    again = sft_lora(m2.model, m2.tokenizer, EXAMPLES, smoke_profile, tmp_path / "run", lr=5e-3, epochs=3,
                     max_steps=-1, progress=False)
    assert again.loss_history == res.loss_history  # the history comes back from the checkpoint; no new steps
    assert again.train_s < res.train_s


def test_aligned_reference_is_built_once_and_reused(smoke_profile):
    path = aligned_reference(smoke_profile)
    built_at = os.path.getmtime(os.path.join(path, "config.json"))
    assert aligned_reference(smoke_profile) == path
    assert os.path.getmtime(os.path.join(path, "config.json")) == built_at
    assert recipe(smoke_profile)["n_harmful"] == smoke_profile.align_n_harmful
    assert load("smoke-aligned").path == path
