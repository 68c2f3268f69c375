"""Batched generation: left-padded, grouped by length, greedy by default; never one prompt at a time."""
from __future__ import annotations

from typing import Sequence

from .templates import get_template


def generate(
    model,
    tokenizer,
    texts: Sequence[str],
    max_new_tokens: int = 48,
    batch_size: int = 32,
    do_sample: bool = False,
    progress: bool = True,
    desc: str = "generating",
    **gen_kwargs,
) -> list[str]:
    """Continue each already-rendered text; returns the new text only, in input order."""
    import torch
    from tqdm.auto import tqdm

    if not texts:
        return []
    # Sorting by length keeps padding (wasted compute) small within each batch.
    lengths = [len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    outputs: list[str | None] = [None] * len(texts)
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # so every prompt ends where generation starts
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = next(model.parameters()).device
    try:
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in tqdm(batches, desc=desc, disable=not progress, leave=False):
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.inference_mode():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=do_sample,
                    pad_token_id=tokenizer.pad_token_id,
                    **({} if do_sample else {"temperature": None, "top_p": None, "top_k": None}),
                    **gen_kwargs,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True)):
                outputs[i] = text.strip()
    finally:
        tokenizer.padding_side = old_side
    return outputs  # type: ignore[return-value]


def respond(model, tokenizer, prompts: Sequence[str], template="chat", **kwargs) -> list[str]:
    """Render each request with ``template`` and generate the model's answers."""
    tpl = get_template(template)
    return generate(model, tokenizer, [tpl.render(tokenizer, p) for p in prompts], **kwargs)
