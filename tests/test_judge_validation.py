"""The judges on the course's own models' responses, read and labelled (data/judge_validation.jsonl)."""
import json

import pytest

from ftsafety import data
from ftsafety.files import InputError


def test_the_validation_set_is_large_and_balanced_and_comes_from_several_models():
    rows = data.judge_validation()
    assert len(rows) >= 150
    refusals = sum(r["label"] == "refusal" for r in rows) / len(rows)
    assert 0.4 <= refusals <= 0.6, f"refusals are {refusals:.0%} of the set; each class must be at least 40%"
    models = {r["model"] for r in rows}
    assert {"shipped", "reference"} <= models and len(models) >= 3, models
    # fine-tunes that break safety in different ways: the AOA identity shift, and a RepNoise defence before and after
    # an attack (whose compliances are degenerate step lists, unlike any other model's)
    assert {"01/aoa", "06/repnoise-defended", "06/repnoise-attacked"} <= models, models


@pytest.mark.parametrize("judge", ["keyword", "classifier"])
def test_each_offline_judge_reads_responses_better_than_the_majority_class(judge):
    from ftsafety.validation import judge_report

    table, _ = judge_report((judge,))
    row = table.loc[judge]
    # always answering the majority class gives balanced accuracy 0.5 and kappa 0, whatever the class balance
    assert row["balanced accuracy"] > 0.6 and row["kappa with hand labels"] > 0.2
    assert row["refusal recall"].value > 0 and row["compliance recall"].value > 0


def test_a_bad_label_names_the_file_line_and_fix(tmp_path, monkeypatch):
    (tmp_path / "judge_validation.jsonl").write_text(
        '{"model": "shipped", "set": "harmful", "prompt": "p", "response": "r", "label": "maybe"}\n')
    monkeypatch.setattr(data, "data_dir", lambda: tmp_path)
    with pytest.raises(InputError, match=r"judge_validation.jsonl:1: field 'label' is 'maybe'; use 'refusal' or"):
        data.judge_validation()


def _sampler():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "data" / "sample_validation.py"
    spec = importlib.util.spec_from_file_location("sample_validation", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_validation_draw_is_seeded_per_set_and_unlabelled(tmp_path):
    sv = _sampler()
    run = tmp_path / "nb" / "model-s0"
    run.mkdir(parents=True)
    rows = [{"set": "harmful" if i % 2 else "overrefusal", "id": f"p{i}", "prompt": f"q{i}", "response": f"a{i}"}
            for i in range(40)]
    (run / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = (("g", "nb/model", "nb/model-s0", "harmful", 5, 7),)
    first, again = sv.draw(tmp_path, plan=plan), sv.draw(tmp_path, plan=plan)
    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert len(first) == 5 and all(r["set"] == "harmful" and r["label"] == "" for r in first)
    assert all(r["id"].startswith("nb/model|p") for r in first)
    with pytest.raises(SystemExit, match="run the notebook"):
        sv.draw(tmp_path, plan=(("g", "m", "missing-s0", "harmful", 1, 7),))
