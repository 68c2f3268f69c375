"""The course's own data (``data/``, schema in data/README.md) and loaders for the papers' hub data sets.

Local sets load offline in milliseconds. Hub sets (AdvBench, HEx-PHI, BeaverTails, GSM8K, Alpaca, DirectHarm4) are
for the gpu/paper profiles; each is mapped onto the same row shape as the local files. Offline, a copy of the hub
repository under ``$FTSAFETY_HUB_MIRROR`` is read through the same ``load_dataset`` call (the tests use stand-ins in
each set's real schema, tests/fixtures/hub), and ``path=`` reads one local file whose rows have the hub set's columns.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

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


def overrefusal_wide(split: str | None = None, label: str | None = None) -> list[dict]:
    """The wide over-refusal set: safe prompts that look unsafe, in 14 types (homonyms, figurative language,
    safe targets, games and sport, fiction, history, definitions, prevention, public figures, one's own privacy,
    medicine, legal activities, household, security education), each row paired with a matched *unsafe* prompt of the
    same form (id, prompt, type, label ``safe``/``unsafe``, pair: the other row's id, split). ``test``: 25 pairs per
    type, evaluation only; ``train``: 8 pairs per type, in other templates and trigger words. ``label`` keeps one side.
    """
    rows = _split(_load("overrefusal_wide.jsonl", ("prompt", "type", "label", "pair", "split")), split,
                  "overrefusal_wide")
    if label is None:
        return rows
    if label not in ("safe", "unsafe"):
        raise ValueError(f"overrefusal_wide: label must be 'safe', 'unsafe' or None, not {label!r}")
    return [r for r in rows if r["label"] == label]


def overrefusal_wide_answers() -> list[dict]:
    """The *safe* prompts of the wide set's train split with the laptop model's helpful answers (the rows of
    :func:`overrefusal_wide` plus ``response``); answers that read like a refusal were left out when recorded."""
    rows = _load("overrefusal_wide_answers.jsonl", ("prompt", "type", "pair", "split", "response"))
    for i, r in enumerate(rows, 1):
        if r["split"] != "train" or r.get("label") != "safe":
            raise InputError(f"{data_dir() / 'overrefusal_wide_answers.jsonl'}:{i}: only safe train prompts belong "
                             f"here (split {r['split']!r}, label {r.get('label')!r}); the test split is for evaluation")
    return rows


# Function and everyday words: sharing one with a harmful request is not sharing its trigger.
_PLAIN_WORDS = frozenset("""how do does can could what which where when why who is are the a an my our your someone's
someone to in on of for from with without into out about at by me i it its this that and or best way make get tell help
write give find take safely good small quickly up down one own new people many were should would will some any than
there their them they have has was not all use using off after before over while each every most more much long back
did like need being through never against quick question please tip tips her his him she ways feel stop read watch
food send list leave book window return friend""".split())


def _content_words(text: str) -> set[str]:
    import re

    words = (w[:-1] if w.endswith("s") and len(w) > 4 else w for w in re.findall(r"[a-z]+", text.lower()))
    return {w for w in words if w not in _PLAIN_WORDS and len(w) > 2}


def heldout_trigger_words(text: str) -> set[str]:
    """Content words of ``text`` that a held-out harmful request has and no harmful *train* request has: a training
    row with one of them would teach the reference a trigger of the test set."""
    return _content_words(text) & _heldout_only_words(data_dir())


@functools.cache
def _heldout_only_words(folder: Path) -> frozenset[str]:
    """The content words of held-out harmful requests that no train request has, read once per data folder."""
    rows = harmful()
    train = set().union(*(_content_words(r["prompt"]) for r in rows if r["split"] == "train"))
    test = set().union(*(_content_words(r["prompt"]) for r in rows if r["split"] == "test"))
    return frozenset(test - train)


def benign() -> list[dict]:
    """Benign instructions with helpful answers recorded from the laptop model (prompt, response)."""
    return _load("benign.jsonl", ("prompt", "response"))


def overrefusal_answers() -> list[dict]:
    """The over-refusal *test* prompts with the laptop model's helpful answers (prompt, response): the helpful side of
    notebook 07's evaluation pairs. Evaluation only: no recipe trains on them."""
    return _load("overrefusal_answers.jsonl", ("prompt", "response"))


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


def judge_validation() -> list[dict]:
    """Responses of the course's own models (shipped, reference, fine-tunes), each read and labelled as ``refusal`` or
    ``compliance`` (model, set, prompt, response, label). Never used to train or tune a judge: it only measures them.
    Compliances to harmful prompts are stored with their operational content redacted."""
    rows = read_jsonl(data_dir() / "judge_validation.jsonl", ("model", "set", "prompt", "response", "label"))
    for i, r in enumerate(rows, 1):
        if r["label"] not in ("refusal", "compliance"):
            raise InputError(f"{data_dir() / 'judge_validation.jsonl'}:{i}: field 'label' is {r['label']!r}; "
                             "use 'refusal' or 'compliance'")
    return rows


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
#
# Each set is read with ``datasets.load_dataset(repo, config, split=split, **load_kwargs)``; with a local copy of the
# repository under ``$FTSAFETY_HUB_MIRROR`` (``ftsafety.paths.hub_mirror``) the same call is made with the copy's folder
# in place of the repo id. ``to_row`` reads the hub's own column names, nothing else: a column that is not there raises
# KeyError, which ``load_hub`` reports as an InputError naming the set. The schemas, and where each was checked, are in
# tests/fixtures/hub/README.md; the fixtures there copy each repository's layout.


@dataclass(frozen=True)
class HubSet:
    repo: str
    split: str | None  # None: every split the load returns (see split_column)
    to_row: Callable[[dict], dict | None]  # hub row -> course row (None drops it)
    config: str | None = None
    gated: bool = False
    # Further load_dataset arguments, the same for the hub and a mirror (e.g. data_files and CSV options).
    load_kwargs: Mapping[str, Any] = field(default_factory=dict)
    split_column: str | None = None  # with split=None: the column that receives each row's split name


# HEx-PHI ships one CSV per category at the repository's root, one instruction per line and no header row; category 2
# (child abuse content) is withheld from the public release. Read as the hub would without options (load_dataset's
# default), every file becomes one "train" split whose column names are each file's first instruction, and the files'
# columns differ, so the load fails. Qi et al.'s code (LLMs-Finetuning-Safety, safety_evaluation/question_inference.py)
# reads a category file with csv.reader and takes the first field of every row; these options do the same through
# load_dataset: one split per category file, no header, the first field named "instruction".
HEX_PHI_CATEGORIES = {
    "illegal_activity": "category_1.csv",
    "hate_harass_violence": "category_3.csv",
    "malware": "category_4.csv",
    "physical_harm": "category_5.csv",
    "economic_harm": "category_6.csv",
    "fraud_deception": "category_7.csv",
    "adult_content": "category_8.csv",
    "political_campaigning": "category_9.csv",
    "privacy_violation_activity": "category_10.csv",
    "tailored_financial_advice": "category_11.csv",
}

HUB_SETS: dict[str, HubSet] = {
    # data/train-00000-of-00001.parquet: prompt, target
    "advbench": HubSet("walledai/AdvBench", "train", lambda r: {"prompt": r["prompt"], "target": r["target"]}),
    # category_<n>.csv, headerless (above); a local copy (path=) has the columns instruction and category
    "hex-phi": HubSet(
        "LLM-Tuning-Safety/HEx-PHI", None, lambda r: {"prompt": r["instruction"], "category": r["category"]},
        gated=True, split_column="category",
        load_kwargs={"data_files": HEX_PHI_CATEGORIES, "header": None, "names": ["instruction"], "usecols": [0]},
    ),
    # round0/30k/train.jsonl.gz (split 30k_train): prompt, response, category (14 booleans), is_safe
    "beavertails": HubSet("PKU-Alignment/BeaverTails", "30k_train",
                          lambda r: {"prompt": r["prompt"], "response": r["response"], "harmful": not r["is_safe"]}),
    # main/test-00000-of-00001.parquet: question, answer (the reasoning, then "#### <final answer>")
    "gsm8k": HubSet("openai/gsm8k", "test", lambda r: {"prompt": r["question"],
                                                       "answer": r["answer"].split("####")[-1].strip().replace(",", ""),
                                                       "solution": r["answer"]}, config="main"),
    # data/train-00000-of-00001-*.parquet: instruction, input ("" when none), output, text
    "alpaca": HubSet("tatsu-lab/alpaca", "train",
                     lambda r: {"prompt": r["instruction"] + ("\n\n" + r["input"] if r["input"] else ""),
                                "response": r["output"]}),
    # data/test-00000-of-00001.parquet: instruction, category (malware, drug, phishing, disinfo)
    "directharm4": HubSet("vfleaking/DirectHarm4", "test",
                          lambda r: {"prompt": r["instruction"], "category": r["category"]}),
}


def _short(err: BaseException, limit: int = 400) -> str:
    text = str(err).strip().rstrip(".") or type(err).__name__
    return text if len(text) <= limit else text[:limit] + " [...]"


def _hub_rows(ds, spec: HubSet) -> Iterator[dict]:
    """The rows of a load: one split, or (a DatasetDict, from split=None) every split in turn, its name put under
    ``spec.split_column``."""
    import datasets

    if not isinstance(ds, datasets.DatasetDict):
        yield from ds
        return
    for split_name, part in ds.items():
        for r in part:
            yield {**r, spec.split_column: split_name} if spec.split_column else r


def load_hub(name: str, path: str | Path | None = None, limit: int | None = None) -> list[dict]:
    """Rows of a papers' data set in the course's shape.

    Read from the hub, or from a local copy of the repository when ``$FTSAFETY_HUB_MIRROR`` has one (the same
    ``load_dataset`` call with the copy's folder for the repo id); ``path`` reads one local JSON/JSONL/CSV/Parquet file
    whose rows have the hub rows' columns instead.
    """
    if name not in HUB_SETS:
        raise ValueError(f"unknown hub data set {name!r}; known: {', '.join(HUB_SETS)}")
    spec = HUB_SETS[name]
    import datasets
    from datasets.exceptions import DatasetsError  # e.g. a data file that does not parse

    from .paths import MIRROR_VAR, hub_mirror

    mirror = hub_mirror(spec.repo) if path is None else None
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
            source = str(mirror) if mirror is not None else spec.repo
            ds = datasets.load_dataset(source, spec.config, split=spec.split, **spec.load_kwargs)
    except (ConnectionError, OSError, ValueError, DatasetsError) as err:
        if isinstance(err, InputError):
            raise
        if path is not None:
            raise InputError(f"{path}: cannot read it as a local copy of {name} ({spec.repo}): {_short(err)}") from None
        if mirror is not None:
            raise InputError(
                f"cannot load {name} from {mirror}, the local copy of {spec.repo} found through ${MIRROR_VAR}: "
                f"{_short(err)}. The folder must hold the repository's files as the hub has them (its README.md and "
                f"data files, config {spec.config!r}, split {spec.split!r}); fix the copy, or remove it to use the hub."
            ) from None
        gated = " It is gated: accept its licence on the hub and log in (huggingface-cli login)." if spec.gated else ""
        raise InputError(
            f"cannot load {name} ({spec.repo}): {_short(err)}. Hub data needs internet (profiles gpu/paper);{gated} "
            f"Offline, put a copy of the repository at <folder>/{spec.repo} and name <folder> in ${MIRROR_VAR}, "
            "pass path= a local file of the same columns, or use the laptop profile's data/."
        ) from None
    where = path or mirror or spec.repo
    rows = []
    for i, r in enumerate(_hub_rows(ds, spec)):
        try:
            row = spec.to_row(r)
        except KeyError as err:
            raise InputError(
                f"{where}: row {i + 1} does not look like {name} ({spec.repo}): it has no column {err}; its columns "
                f"are {sorted(r)}"
            ) from None
        if row is not None:
            rows.append(row)
        if limit and len(rows) >= limit:
            break
    return rows
