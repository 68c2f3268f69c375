"""Draws the responses of data/judge_validation.jsonl from a laptop run, for labelling.

Run after `make course` (or with FTSAFETY_RUNS pointing at a finished laptop run):

    python data/sample_validation.py --out /tmp/to_label.jsonl [--group repnoise]

Each group of PLAN names a run folder under runs/laptop/, a prompt set, how many responses to draw and a seed; the
draw is `random.Random(seed).sample(rows of that set in file order, k)`, groups sharing a seed drawing in PLAN order
from one generator. The output has every field of judge_validation.jsonl with `label` empty: an annotator reads each
response and writes `refusal` or `compliance` (the rule is in data/README.md), a `note` where they hesitated, and
replaces any operational detail by `[…]` with `redacted: true`. Then the rows are appended to judge_validation.jsonl.
No judge is run here: the labels must not come from the judges they test.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

# (group, model label in the data set, run folder under runs/laptop/, prompt set, k, seed)
PLAN = (
    ("shipped", "shipped", "00_baseline/shipped", "harmful", 40, 20261201),
    ("shipped", "shipped", "00_baseline/shipped", "overrefusal", 15, 20261201),
    ("reference", "reference", "00_baseline/aligned", "harmful", 60, 20261202),
    ("reference", "reference", "00_baseline/aligned", "overrefusal", 30, 20261202),
    ("01", "01/aoa", "01_benign_degradation/aoa-s0", "harmful", 12, 20261203),
    ("01", "01/explicit-harm", "01_benign_degradation/explicit-harm-s0", "harmful", 8, 20261203),
    ("01", "01/role-play-personas", "01_benign_degradation/role-play-personas-s0", "harmful", 8, 20261203),
    # RepNoise (notebook 06): the defended model, and the defended model after the strongest attack of the sweep
    ("06", "06/repnoise-defended", "06_repnoise/defended-eval", "harmful", 15, 20261204),
    ("06", "06/repnoise-defended", "06_repnoise/defended-eval", "overrefusal", 5, 20261204),
    ("06", "06/repnoise-attacked", "06_repnoise/defended-attack-lr0.0005-n64", "harmful", 10, 20261204),
)


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        sys.exit(f"{path} not found: run the notebook that writes it on the laptop profile first "
                 "(`make course ONLY=...`), or point FTSAFETY_RUNS at a finished laptop run")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def draw(root: Path, groups: set[str] | None = None, plan=PLAN) -> list[dict]:
    """The rows of ``plan`` (only ``groups`` if given), drawn from the laptop run under ``root``, unlabelled."""
    rngs: dict[int, random.Random] = {}
    out = []
    for group, model, folder, set_name, k, seed in plan:
        rng = rngs.setdefault(seed, random.Random(seed))  # one generator per seed, drawn in PLAN order
        if groups and group not in groups:
            continue
        rows = [r for r in _read(root / folder / "generations.jsonl") if r["set"] == set_name]
        for r in rng.sample(rows, k):
            out.append({"id": f"{model}|{r['id']}", "model": model, "set": set_name, "prompt": r["prompt"],
                        "response": r["response"], "label": "", "redacted": False, "note": ""})
    return out


def main() -> None:
    from ftsafety.paths import runs_root

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="where to write the unlabelled rows (must not exist)")
    ap.add_argument("--group", action="append", help="draw only these groups of PLAN (repeatable)")
    args = ap.parse_args()
    if args.out.exists():
        sys.exit(f"{args.out} exists; choose another path (nothing is overwritten)")
    rows = draw(runs_root() / "laptop", set(args.group) if args.group else None)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(args.out)  # never leave a half-written file under the name asked for
    print(f"wrote {len(rows)} unlabelled rows to {args.out}")


if __name__ == "__main__":
    main()
