"""Batched generation: left-padded, grouped by length, greedy by default; never one prompt at a time.

Two guards keep one long prompt (a pasted document) from costing the whole run: a prompt longer than the limit is
cut to it, with one warning per call, and a batch is capped in padded tokens as well as in rows, so the long prompts
that remain go in small batches of their own instead of padding every short prompt to their length.
"""
from __future__ import annotations

import statistics
import warnings
from typing import Sequence

from .templates import get_template


class PromptCutWarning(UserWarning):
    """Some prompts were longer than the limit and were cut (shown every time: each call cuts other prompts)."""


warnings.simplefilter("always", PromptCutWarning)


def generate(
    model,
    tokenizer,
    texts: Sequence[str],
    max_new_tokens: int = 48,
    batch_size: int = 32,
    do_sample: bool = False,
    progress: bool = True,
    desc: str = "generating",
    max_prompt_tokens: int | None = None,
    **gen_kwargs,
) -> list[str]:
    """Continue each already-rendered text; returns the new text only, in input order.

    A text longer than ``max_prompt_tokens`` tokens is cut to that many (see :func:`cut_middle`), with a warning.
    Whatever ``max_prompt_tokens`` says, a prompt is cut so that it and ``max_new_tokens`` fit the model's context
    (``model.config.max_position_embeddings``); ``max_new_tokens`` itself is never lowered.
    """
    import torch
    from tqdm.auto import tqdm

    if not texts:
        return []
    limit, profile_limit = prompt_limit(model, max_new_tokens, max_prompt_tokens)
    # Prompts stay token ids from here on, padded by hand below: decoding a cut prompt and encoding it again could
    # merge tokens across the cut and end over the limit.
    ids = tokenizer(list(texts), add_special_tokens=False).input_ids
    long = [i for i, x in enumerate(ids) if limit is not None and len(x) > limit]
    if long:
        if profile_limit:
            how = ("raise the profile's max_prompt_tokens (profile.replace(max_prompt_tokens=...)) "
                   "or pass max_prompt_tokens= to generate/respond to keep more of them")
        else:
            context = model.config.max_position_embeddings
            how = (f"that is what the model's context of {context} tokens leaves after "
                   f"max_new_tokens={max_new_tokens}, so only fewer new tokens keep more of them")
        warnings.warn(f"{len(long)} of {len(texts)} prompts were longer than {limit} tokens and were cut to {limit} "
                      f"(their middle dropped, their start and the template's closing assistant header kept); {how}",
                      PromptCutWarning, stacklevel=2)
        for i in long:
            ids[i] = cut_middle(ids[i], limit)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    outputs: list[str | None] = [None] * len(texts)
    for idx in tqdm(length_batches([len(x) for x in ids], batch_size), desc=desc, disable=not progress, leave=False):
        # Left padding, so every prompt ends where generation starts; the mask keeps the padding out of attention.
        width = max(len(ids[i]) for i in idx)
        input_ids = torch.tensor([[pad_id] * (width - len(ids[i])) + ids[i] for i in idx], device=device)
        mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in idx], device=device)
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                pad_token_id=pad_id,
                **({} if do_sample else {"temperature": None, "top_p": None, "top_k": None}),
                **gen_kwargs,
            )
        for i, text in zip(idx, tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)):
            outputs[i] = text.strip()
    return outputs  # type: ignore[return-value]


def prompt_limit(model, max_new_tokens: int, max_prompt_tokens: int | None = None) -> tuple[int | None, bool]:
    """The most prompt tokens ``generate`` keeps, and whether ``max_prompt_tokens`` (not the context) set it.

    None means no limit: neither ``max_prompt_tokens`` nor a context length in the model's config.
    """
    if max_prompt_tokens is not None and max_prompt_tokens < 1:
        raise ValueError(f"max_prompt_tokens must be at least 1, not {max_prompt_tokens}")
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if context is None:
        return max_prompt_tokens, max_prompt_tokens is not None
    room = context - max_new_tokens
    if room < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's context of "
                         f"{context} tokens; ask for fewer new tokens")
    if max_prompt_tokens is not None and max_prompt_tokens <= room:
        return max_prompt_tokens, True
    return room, False


def cut_middle(ids: list[int], limit: int) -> list[int]:
    """The first ``limit // 2`` and the last ``limit - limit // 2`` of ``ids``: a long prompt loses its middle.

    Both ends of a rendered prompt are the template: its start holds the system prompt and the opening of the
    request, its end the close of the request and the assistant header the answer must follow. Keeping only the last
    tokens would cut the system prompt (the safety prompts of chat:llama included) and so measure another template;
    keeping only the first would drop the assistant header. An even split also keeps a request's wording whether
    it comes before the pasted text ("Summarise this: ...") or after it ("... What does it say about X?").
    """
    if len(ids) <= limit:
        return ids
    head = limit // 2
    return ids[:head] + ids[len(ids) - (limit - head):]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of prompts in batches of similar length, longest first.

    A batch holds at most ``batch_size`` rows and at most 2 x ``batch_size`` x (median length) padded tokens (rows x
    its longest prompt): a full batch of prompts up to twice the median fits, so the course's evaluation sets (prompts
    of similar length) are batched exactly as without the budget, while a prompt many times the median goes alone or
    with few others instead of padding ``batch_size`` rows to its length.
    """
    # Longest first, so a batch's first prompt is its longest and sets its padded width.
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    budget = 2 * batch_size * max(1, statistics.median(lengths))
    batches: list[list[int]] = []
    for i in order:
        last = batches[-1] if batches else None
        if last and len(last) < batch_size and (len(last) + 1) * lengths[last[0]] <= budget:
            last.append(i)
        else:
            batches.append([i])
    return batches


def respond(model, tokenizer, prompts: Sequence[str], template="chat", **kwargs) -> list[str]:
    """Render each request with ``template`` and generate the model's answers (``kwargs`` go to :func:`generate`)."""
    tpl = get_template(template)
    return generate(model, tokenizer, [tpl.render(tokenizer, p) for p in prompts], **kwargs)
