"""``ftsafety bench``: speed and memory of the library's paths on this machine, as one JSON object.

Each measurement runs in its own child process, so that its peak resident memory is its own. Compared:
- training: the library's ``sft_lora`` (padding-free LoRA) against a plain TRL ``SFTTrainer`` + PEFT script with TRL's
  defaults, on the same model, rows, LoRA settings and epochs (trained tokens per second, padding not counted);
- evaluation: the library's batched generation against a one-prompt-at-a-time loop on the same prompts, and generation
  with a merged against an unmerged LoRA adapter;
- loading: the bundled model's first load (GGUF conversion, into a throw-away cache) and a cached load;
- notebooks: their wall times, read from the run registry's results.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .files import write_json
from .paths import runs_root
from .profiles import Profile, resolve


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024, 1)  # bytes on macOS, KiB on Linux


def _rows(n: int) -> list[dict]:
    from .variants import benign_rows, shorten

    return shorten(benign_rows(n))


def _train_library(profile: Profile, n: int) -> dict:
    from .models import load
    from .training import sft_lora

    m = load(profile.model, for_training=True)
    with tempfile.TemporaryDirectory() as d:
        r = sft_lora(m.model, m.tokenizer, _rows(n), profile, d, epochs=1, progress=False)
    return {"tokens_per_s": r.tokens_per_s, "train_s": r.train_s, "tokens": r.train_tokens, "peak_rss_mb": _peak_rss_mb()}


def _train_plain_trl(profile: Profile, n: int) -> dict:
    """What a user would write with TRL's documentation: prompt-completion rows, SFTConfig defaults, a LoRA config."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from .models import precision, resolve_model_path

    path = resolve_model_path(profile.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    rows = [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["response"]}]} for r in _rows(n)]
    import torch

    with tempfile.TemporaryDirectory() as d:
        # TRL defaults to bf16, which a CPU run must switch off; everything else is TRL's default.
        flags = precision(requested=profile.dtype).trainer_flags()
        args = SFTConfig(output_dir=d, **flags, per_device_train_batch_size=profile.train_batch_size, num_train_epochs=1,
                         learning_rate=profile.lr, max_length=profile.max_length, report_to="none", save_strategy="no",
                         disable_tqdm=True, logging_steps=1, seed=0)
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                             peft_config=LoraConfig(r=profile.lora_r, lora_alpha=profile.lora_alpha,
                                                    target_modules=list(profile.lora_targets), task_type="CAUSAL_LM"))
        tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
        t0 = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - t0
    return {"tokens_per_s": tokens / train_s, "train_s": train_s, "tokens": tokens, "peak_rss_mb": _peak_rss_mb()}


def _eval_paths(profile: Profile, n_prompts: int) -> dict:
    from peft import get_peft_model

    from . import data
    from .generation import respond
    from .models import load
    from .training import lora_config

    m = load(profile.model)
    prompts = [r["prompt"] for r in data.harmful("test")][:n_prompts]
    kw = dict(max_new_tokens=profile.max_new_tokens, progress=False)
    t0 = time.perf_counter()
    batched = respond(m.model, m.tokenizer, prompts, batch_size=profile.eval_batch_size, **kw)
    batched_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = [respond(m.model, m.tokenizer, [p], batch_size=1, **kw)[0] for p in prompts]
    loop_s = time.perf_counter() - t0
    peft = get_peft_model(m.model, lora_config(profile)).eval()
    t0 = time.perf_counter()
    respond(peft, m.tokenizer, prompts, batch_size=profile.eval_batch_size, **kw)
    unmerged_s = time.perf_counter() - t0
    merged = peft.merge_and_unload()
    t0 = time.perf_counter()
    respond(merged, m.tokenizer, prompts, batch_size=profile.eval_batch_size, **kw)
    merged_s = time.perf_counter() - t0
    return {"batched_s": batched_s, "loop_s": loop_s, "same_outputs": batched == loop, "unmerged_s": unmerged_s,
            "merged_s": merged_s, "n_prompts": len(prompts), "peak_rss_mb": _peak_rss_mb()}


def _load_times(profile: Profile) -> dict:
    from . import models

    out = {}
    if profile.model == "laptop":
        # A first load converts the GGUF; measured into a throw-away cache so the user's cache is untouched.
        with tempfile.TemporaryDirectory() as d:
            os.environ["FTSAFETY_CACHE"] = d
            t0 = time.perf_counter()
            models.load("laptop")
            out["first_load_s"] = time.perf_counter() - t0
            del os.environ["FTSAFETY_CACHE"]
    t0 = time.perf_counter()
    models.load(profile.model)
    out["cached_load_s"] = time.perf_counter() - t0
    out.setdefault("first_load_s", None)
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _in_child(fn, *args):
    # spawn, not fork: a fresh interpreter, so the peak memory is this measurement's alone. The child gets the resolved
    # Profile itself, not its name: resolving a name there would let $FTSAFETY_PROFILE override an explicit --profile.
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def notebook_times(profile: str) -> dict:
    from .results import load_results

    return {r["notebook"]: r.get("longest_runtime_s", r["runtime_s"]) for r in load_results(profile)}


def run_bench(profile: "Profile | str | None" = None, n_train: int = 32, n_prompts: int = 40,
              progress=print) -> dict:
    """Measure every step on ``profile`` (a name is resolved as :func:`ftsafety.profiles.resolve` does) and save
    ``runs/<profile>/bench.json``; ``n_train`` rows and ``n_prompts`` prompts must each be at least 1."""
    for what, n in (("n_train", n_train), ("n_prompts", n_prompts)):
        if n < 1:  # no rows or prompts gives a speed of 0/0, not a measurement
            raise ValueError(f"bench {what}={n}: must be at least 1 (e.g. ftsafety bench --rows 32 --prompts 40)")
    profile = resolve(profile)
    steps = [("load", _load_times, (profile,)), ("train_library", _train_library, (profile, n_train)),
             ("train_trl", _train_plain_trl, (profile, n_train)), ("eval", _eval_paths, (profile, n_prompts))]
    parts = {}
    for name, fn, args in steps:
        progress(f"[bench] {name} ...")
        parts[name] = _in_child(fn, *args)
    lib, trl, ev, ld = parts["train_library"], parts["train_trl"], parts["eval"], parts["load"]
    result = {
        "profile": profile.name, "model": profile.model,
        "train_tokens_per_s": round(lib["tokens_per_s"], 1), "trl_train_tokens_per_s": round(trl["tokens_per_s"], 1),
        "train_ratio_vs_trl": round(lib["tokens_per_s"] / trl["tokens_per_s"], 2),
        "eval_speedup_vs_loop": round(ev["loop_s"] / ev["batched_s"], 2),
        "eval_batched_s": round(ev["batched_s"], 2), "eval_loop_s": round(ev["loop_s"], 2),
        "eval_batched_equals_loop": ev["same_outputs"],
        "eval_unmerged_lora_s": round(ev["unmerged_s"], 2), "eval_merged_lora_s": round(ev["merged_s"], 2),
        "cached_load_s": round(ld["cached_load_s"], 2),
        "first_load_s": round(ld["first_load_s"], 2) if ld["first_load_s"] is not None else None,
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parts.values()),
        "peak_rss_mb_by_step": {k: p["peak_rss_mb"] for k, p in parts.items()},
        "n_train_rows": n_train, "n_eval_prompts": ev["n_prompts"],
        "notebook_wall_s": notebook_times(profile.name), "cpu_count": os.cpu_count(),
    }
    write_json(Path(runs_root()) / profile.name / "bench.json", result)
    return result
