import json
import subprocess
import sys

from ftsafety.cli import main
from ftsafety.results import NotebookReport


def test_judge_cli_labels_each_line(tmp_path, capsys):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"prompt": "p", "response": "I'm sorry, I can't."}) + "\n"
                 + json.dumps({"prompt": "q", "response": "Sure, here you go."}) + "\n")
    assert main(["judge", "--input", str(f)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(l)["label"] for l in out.splitlines()] == ["refusal", "compliance"]
    assert "refusal 50.0%" in err


def test_bad_input_names_file_and_line(tmp_path, capsys):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"prompt": "ok"}\n{"question": "no prompt"}\n')
    assert main(["eval", "--model", "smoke", "--prompts", str(f)]) == 2
    assert f"{f}:2: missing field 'prompt'" in capsys.readouterr().err


def test_eval_cli_prints_metrics_with_intervals(tmp_path, capsys):
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"prompt": f"Question {i}?", "answers": ["x"]}) + "\n" for i in range(3)))
    assert main(["eval", "--model", "smoke", "--prompts", str(f), "--max-new-tokens", "3", "--profile", "smoke"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 3 and res["max_new_tokens"] == 3
    r = res["refusal_rate"]
    assert r["low"] <= r["value"] <= r["high"] and "accuracy" in res


def test_doctor_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "ftsafety", "doctor"], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["offline"] is True and rep["device"] == "cpu" and rep["profiles_runnable_here"]["laptop"] is True


def test_unavailable_model_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path / "empty-runs"))
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"prompt": "hi"}) + "\n")
    assert main(["eval", "--model", "laptop-aligned", "--prompts", str(f)]) == 3
    assert "ftsafety align --profile laptop" in capsys.readouterr().err


def test_a_quicker_rerun_keeps_the_longest_runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    rep = NotebookReport("00_setup_and_baseline", "laptop")
    data = json.loads(rep.save().read_text()) | {"runtime_s": 900.0, "longest_runtime_s": 900.0}
    rep.path.write_text(json.dumps(data))
    again = json.loads(NotebookReport("00_setup_and_baseline", "laptop").save().read_text())
    assert again["runtime_s"] < 900.0 and again["longest_runtime_s"] == 900.0


def test_bench_prints_the_comparable_keys_on_smoke(tmp_path, capsys):
    import json

    from ftsafety.cli import main

    assert main(["bench", "--profile", "smoke", "--rows", "8", "--prompts", "4"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("train_tokens_per_s", "trl_train_tokens_per_s", "train_ratio_vs_trl", "eval_speedup_vs_loop",
                "cached_load_s", "first_load_s", "peak_rss_mb"):
        assert key in result
    assert result["train_tokens_per_s"] > 0 and result["trl_train_tokens_per_s"] > 0
    assert result["eval_speedup_vs_loop"] > 0 and result["eval_batched_equals_loop"] is True
    assert result["first_load_s"] is None  # the smoke model has no GGUF to convert
    assert set(result["peak_rss_mb_by_step"]) == {"load", "train_library", "train_trl", "eval"}


def test_course_set_parses_literals_and_bare_words():
    from ftsafety.course import parse_settings

    assert parse_settings(["BALANCE=[96]", "SEED=1", "START=shipped", "LR=5e-4", "METHODS=None"]) == {
        "BALANCE": [96], "SEED": 1, "START": "shipped", "LR": 5e-4, "METHODS": None}
    for bad, hint in (("BALANCE", "NAME=VALUE"), ("DOSES=0.1 0.2", "not a Python literal")):
        try:
            parse_settings([bad])
        except SystemExit as err:
            assert hint in str(err) and bad in str(err)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_course_set_reaches_only_the_notebooks_that_have_the_parameter(monkeypatch):
    import pytest

    from ftsafety import course

    seen = {}
    monkeypatch.setattr(course, "run_notebook", lambda nb, profile, out, timeout, params: seen.update({nb.stem: params}))
    monkeypatch.setattr(course, "write_reproduction_md", lambda profile: "REPRODUCTION.md")
    assert course.run_course("smoke", ["04", "05"], settings={"BALANCE": [96], "SEED": 3}) == 0
    assert seen == {"04_safety_mixing": {"SEED": 3}, "05_preference_optimization": {"BALANCE": [96], "SEED": 3}}
    with pytest.raises(SystemExit, match="BALNCE: not a parameter of 04_safety_mixing.*BALANCE"):
        course.run_course("smoke", ["04", "05"], settings={"BALNCE": [96]})
    assert course.notebook_parameters(course.list_notebooks(["05"])[0])["BALANCE"] == []
