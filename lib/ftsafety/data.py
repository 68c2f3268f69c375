"""The course's own data (``data/``, schema in data/README.md) and loaders for the papers' hub data sets.

Local sets load offline in milliseconds. Hub sets (AdvBench, HEx-PHI, BeaverTails, GSM8K, Alpaca, DirectHarm4) are
for the gpu/paper profiles; each is mapped onto the same row shape as the local files, and every loader also accepts
a local file of the hub set's shape (``path=``), which is how the tests check them offline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .files import InputError, read_jsonl
from .paths import data_dir

SPLITS = ("train", "test")


def _load(name: str, required=("prompt",)) -> list[dict]:
    return read_jsonl(data_dir() / name, required=required)


def _split(rows: list[dict], split: str | None, name: str) -> list[dict]:
    if split is None:
        return rows
    if split not in SPLITS:
        raise ValueError(f"{name}: split must be one of {SPLITS} or None, not {split!r}")
    return [r for r in rows if r.get("split") == split]


def harmful(split: str | None = None) -> list[dict]:
    """Harmful requests (prompt, category, split) with a refusal and a redacted compliance for each."""
    return _split(_load("harmful.jsonl", ("prompt", "category", "refusal", "compliance")), split, "harmful")


def harmful_math(split: str | None = None) -> list[dict]:
    """Harmful requests framed as maths word problems (GSM-Danger-like; evaluation only)."""
    return _split(_load("harmful_math.jsonl", ("prompt", "category")), split, "harmful_math")


def overrefusal(split: str | None = None) -> list[dict]:
    """Safe prompts that look unsafe; the right behaviour is to help."""
    return _split(_load("overrefusal.jsonl", ("prompt", "category")), split, "overrefusal")


def benign() -> list[dict]:
    """Benign instructions with helpful answers recorded from the laptop model (prompt, response)."""
    return _load("benign.jsonl", ("prompt", "response"))


def borderline() -> list[dict]:
    """Safe-but-scary *train* prompts with the laptop model's helpful answers (prompt, response): they teach
    the aligned reference not to refuse on scary words alone. Disjoint from the over-refusal test prompts."""
    return _load("borderline.jsonl", ("prompt", "response"))


def capability() -> list[dict]:
    """Gold-answer probes (prompt, answers, category)."""
    rows = _load("capability.jsonl", ("prompt", "category"))
    for i, r in enumerate(rows, 1):
        if not isinstance(r.get("answers"), list) or not r["answers"]:
            raise InputError(f"{data_dir() / 'capability.jsonl'}:{i}: field 'answers' must be a non-empty list")
    return rows


def judge_examples(split: str | None = None) -> list[dict]:
    """Labelled responses for the learned judge: hand-written rows plus recorded model answers."""
    rows = read_jsonl(data_dir() / "judge_handwritten.jsonl", ("response", "label"))
    path = data_dir() / "judge_recorded.jsonl"
    if path.exists():
        rows += read_jsonl(path, ("response", "label"))
    return _split(rows, split, "judge")


def take(rows: list[dict], n: int | None, key: str = "category") -> list[dict]:
    """The first ``n`` rows, spread over the values of ``key`` in turn so that a small n still covers them all."""
    if n is None or n >= len(rows):
        return list(rows)
    by_cat: dict[str, list[dict]] = {}
    for r in rows:
        by_cat.setdefault(r.get(key, ""), []).append(r)
    out, queues = [], list(by_cat.values())
    while len(out) < n:
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Hub data sets (gpu / paper profiles)


@dataclass(frozen=True)
class HubSet:
    repo: str
    split: str
    to_row: Callable[[dict], dict | None]  # hub row -> course row (None drops it)
    config: str | None = None
    gated: bool = False


def _first(row: dict, *keys: str) -> str:
    for k in keys:
        if row.get(k):
            return row[k]
    raise KeyError(f"none of {keys} in row with fields {sorted(row)}")


HUB_SETS: dict[str, HubSet] = {
    "advbench": HubSet("walledai/AdvBench", "train", lambda r: {"prompt": _first(r, "prompt", "goal"),
                                                                 "target": r.get("target", "")}),
    "hex-phi": HubSet("LLM-Tuning-Safety/HEx-PHI", "train",
                      lambda r: {"prompt": _first(r, "prompt", "instruction", "text"), "category": r.get("category", "")},
                      gated=True),
    "beavertails": HubSet("PKU-Alignment/BeaverTails", "30k_train",
                          lambda r: {"prompt": r["prompt"], "response": r["response"],
                                     "harmful": not r["is_safe"]}),
    "gsm8k": HubSet("openai/gsm8k", "test", lambda r: {"prompt": r["question"],
                                                       "answer": r["answer"].split("####")[-1].strip().replace(",", ""),
                                                       "solution": r["answer"]}, config="main"),
    "alpaca": HubSet("tatsu-lab/alpaca", "train",
                     lambda r: {"prompt": (r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")),
                                "response": r["output"]}),
    "directharm4": HubSet("vfleaking/DirectHarm4", "test",
                          lambda r: {"prompt": _first(r, "instruction", "prompt"), "category": r.get("category", "")}),
}


def load_hub(name: str, path: str | Path | None = None, limit: int | None = None) -> list[dict]:
    """Rows of a papers' data set in the course's shape; ``path`` reads a local JSON/JSONL/CSV/Parquet copy instead."""
    if name not in HUB_SETS:
        raise ValueError(f"unknown hub data set {name!r}; known: {', '.join(HUB_SETS)}")
    spec = HUB_SETS[name]
    import datasets

    try:
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise InputError(f"{path}: no such file (a local copy of {spec.repo})")
            kind = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(path.suffix)
            if kind is None:
                raise InputError(f"{path}: use a .jsonl, .json, .csv or .parquet file")
            ds = datasets.load_dataset(kind, data_files=str(path), split="train")
        else:
            ds = datasets.load_dataset(spec.repo, spec.config, split=spec.split)
    except (ConnectionError, OSError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        gated = " It is gated: accept its licence on the hub and log in (huggingface-cli login)." if spec.gated else ""
        raise InputError(
            f"cannot load {name} ({spec.repo}): {err}. Hub data needs internet (profiles gpu/paper);"
            f"{gated} Offline, pass path= a local copy, or use the laptop profile's data/."
        ) from None
    rows = []
    for i, r in enumerate(ds):
        try:
            row = spec.to_row(r)
        except KeyError as err:
            where = path or spec.repo
            raise InputError(f"{where}: row {i + 1} does not look like {name}: {err}") from None
        if row is not None:
            rows.append(row)
        if limit and len(rows) >= limit:
            break
    return rows
