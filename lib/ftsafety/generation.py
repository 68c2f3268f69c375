"""Batched generation: left-padded, grouped by length, greedy by default; never one prompt at a time.

Two guards keep one long prompt (a pasted document) from costing the whole run: a prompt longer than the limit is
cut to it, with one warning per call, and a batch is capped in padded tokens as well as in rows, so the long prompts
that remain go in small batches of their own instead of padding every short prompt to their length.
"""
from __future__ import annotations

import html
import statistics
import time
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
    with progress_bar(len(texts), desc, unit="prompts", enabled=progress) as bar:
        for idx in length_batches([len(x) for x in ids], batch_size):
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
            bar.update(len(idx))
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


# --- progress bars -------------------------------------------------------------------------------------------------
# In a Jupyter kernel, tqdm.auto draws an ipywidgets bar: its output is a widget view, which JupyterLab cannot draw
# once the notebook is reopened without saved widget state ("Error displaying widget: model not found"; closing the
# bar with leave=False only hides the view while the kernel lives, the view stays in the saved output). So in a
# kernel the bar is transformers' NotebookProgressBar (the HTML bar its Trainer draws through an IPython display
# handle, no widget), drawn into one output per cell and ended as a line of text. Elsewhere (a terminal, pytest) it
# is tqdm's text bar on stderr, erased when done.

def _in_jupyter_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


def progress_bar(total: int, desc: str = "", unit: str = "items", enabled: bool = True):
    """A progress bar over ``total`` items, used as ``with progress_bar(n, "generating") as bar: ... bar.update(k)``.

    In a notebook it is plain HTML, no widget, so a saved notebook shows it without a kernel: every bar of a cell
    shares one output, which ends as one line of text (what ran, how many, how long). In a terminal it is tqdm's
    text bar, erased when done. ``enabled=False`` draws nothing.
    """
    if enabled and _in_jupyter_kernel():
        return _CellProgress(total, desc, unit)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=f" {unit}", leave=False, disable=not enabled)


_CELL: dict = {"key": None}  # the output the current cell's bars share


def _cell_output() -> dict:
    """The state of the current cell's progress output, new for each cell (the kernel request it answers)."""
    from IPython import get_ipython

    shell = get_ipython()
    parent = getattr(getattr(shell, "display_pub", None), "parent_header", None) or {}
    key = parent.get("header", {}).get("msg_id") or getattr(shell, "execution_count", None)
    if _CELL["key"] != key:
        _CELL.clear()
        _CELL.update(key=key, handle=None, bars=0, seconds=0.0)
    return _CELL


def _show_in_cell(text_html: str, text_plain: str) -> None:
    from IPython.display import display

    cell = _cell_output()
    bundle = {"text/html": text_html, "text/plain": text_plain}
    if cell["handle"] is None:
        cell["handle"] = display(bundle, raw=True, display_id=True)
    else:
        cell["handle"].update(bundle, raw=True)


def _html_bar_class():
    from transformers.utils.notebook import NotebookProgressBar, html_progress_bar

    class HtmlBar(NotebookProgressBar):
        """transformers' bar (its timing, rate and throttling), drawn into the cell's shared output."""

        def __init__(self, total, desc):
            super().__init__(max(total, 1), prefix=html.escape(desc))
            self.desc = desc

        def display(self):
            self.html_code = html_progress_bar(self.value, self.total, self.prefix, html.escape(self.label), self.width)
            _show_in_cell(self.html_code, f"{self.desc} {self.label}")

    return HtmlBar


class _CellProgress:
    """tqdm's ``update(n)`` / ``close()`` / context-manager interface over the HTML bar."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.desc, self.unit, self.n = total, desc or "progress", unit, 0
        self._bar = _html_bar_class()(total, self.desc)
        self.start = time.monotonic()
        self._bar.update(0)

    def update(self, n: int = 1) -> None:
        self.n += n
        self._bar.update(min(self.n, self._bar.total))

    def close(self, stopped: bool = False) -> None:
        """Replace the bar by one line: this bar's count and time, and how many bars the cell has drawn."""
        from transformers.utils.notebook import format_time

        seconds = time.monotonic() - self.start
        cell = _cell_output()
        cell["bars"] += 1
        cell["seconds"] += seconds
        what = (f"{self.desc}: stopped at {self.n} of {self.total} {self.unit}" if stopped
                else f"{self.desc}: {self.n} {self.unit}")
        line = f"{what} in {format_time(seconds)}"
        if cell["bars"] > 1:
            line += f" (the last of {cell['bars']} progress bars in this cell, {format_time(cell['seconds'])} in all)"
        _show_in_cell(f"<pre>{html.escape(line)}</pre>", line)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        self.close(stopped=exc_type is not None)
        return False
