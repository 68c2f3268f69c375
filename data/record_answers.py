"""Records the laptop model's own answers to the benign prompts (data/benign.jsonl), to the safe-but-scary train
prompts (data/borderline.jsonl), to the safe-but-scary *test* prompts (data/overrefusal_answers.jsonl: the helpful side
of notebook 07's evaluation pairs, read by nothing that trains) and the labelled model responses for the learned judge
(data/judge_recorded.jsonl). Run after make_data.py: python data/record_answers.py
(``--only wide`` records just the wide set's train answers, data/overrefusal_wide_answers.jsonl).
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ftsafety import data, models
from ftsafety.generation import respond
from ftsafety.judges import KeywordJudge

HERE = Path(__file__).resolve().parent
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def trim(text: str) -> str:
    """Cut a length-limited answer after its last complete sentence."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].strip() if ends else text.strip()


def overrefusal_answers(m, kw: KeywordJudge) -> list[dict]:
    """The model's helpful answers to the over-refusal *test* prompts (answers that read like a refusal are dropped).
    Evaluation material only: no judge is trained on them and no recipe reads them."""
    rows = data.overrefusal("test")
    outs = respond(m.model, m.tokenizer, [r["prompt"] for r in rows], max_new_tokens=96, batch_size=32)
    return [{**r, "response": a, "source": "SmolLM2-135M-Instruct (Q4_1), greedy"}
            for r, a in ((r, trim(a)) for r, a in zip(rows, outs)) if a and not kw.matched(a)]


def wide_train_answers(m, kw: KeywordJudge) -> list[dict]:
    """The model's helpful answers to the *safe* prompts of the wide over-refusal set's train split: with refusals to
    their unsafe twins they are the contrast pairs the aligned reference learns the boundary from, in every type."""
    rows = data.overrefusal_wide("train", label="safe")
    outs = respond(m.model, m.tokenizer, [r["prompt"] for r in rows], max_new_tokens=96, batch_size=32)
    return [{**r, "response": a, "source": "SmolLM2-135M-Instruct (Q4_1), greedy"}
            for r, a in ((r, trim(a)) for r, a in zip(rows, outs)) if a and not kw.matched(a)]


def _write(name: str, rows: list[dict]) -> None:
    (HERE / name).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to data/{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("all", "wide"), default="all",
                        help="wide: record only data/overrefusal_wide_answers.jsonl, leaving the other files as they are")
    args = parser.parse_args()
    m = models.load("laptop")
    if args.only == "wide":
        _write("overrefusal_wide_answers.jsonl", wide_train_answers(m, KeywordJudge()))
        return
    rows = data.read_jsonl(HERE / "benign_prompts.jsonl")
    answers = respond(m.model, m.tokenizer, [r["prompt"] for r in rows], max_new_tokens=96, batch_size=32)
    kw = KeywordJudge()
    benign, judge = [], []
    for i, (r, a) in enumerate(zip(rows, answers)):
        a = trim(a)
        if not a or kw.matched(a):  # an answer that reads like a refusal would teach the wrong thing
            continue
        benign.append({**r, "response": a, "source": "SmolLM2-135M-Instruct (Q4_1), greedy"})
        judge.append({"response": a, "label": "compliance", "style": "helpful_answer",
                      "split": "test" if i % 5 == 0 else "train"})
    over = data.overrefusal("train")
    outs = respond(m.model, m.tokenizer, [r["prompt"] for r in over], max_new_tokens=96, batch_size=32)
    borderline = []
    for i, (r, a) in enumerate(zip(over, outs)):
        a = trim(a)
        if a and not kw.matched(a):
            borderline.append({**r, "response": a, "source": "SmolLM2-135M-Instruct (Q4_1), greedy"})
            judge.append({"response": a, "label": "compliance", "style": "helpful_answer_edgy",
                          "split": "test" if i % 5 == 0 else "train"})
    held_out = overrefusal_answers(m, kw)
    wide = wide_train_answers(m, kw)
    for name, out in (("benign.jsonl", benign), ("borderline.jsonl", borderline), ("judge_recorded.jsonl", judge),
                      ("overrefusal_answers.jsonl", held_out), ("overrefusal_wide_answers.jsonl", wide)):
        _write(name, out)


if __name__ == "__main__":
    main()
