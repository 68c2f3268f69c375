import json
import subprocess
import sys

import pytest

from ftsafety.cli import main
from ftsafety.results import NotebookReport


def test_judge_cli_labels_each_line(tmp_path, capsys):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"prompt": "p", "response": "I'm sorry, I can't."}) + "\n"
                 + json.dumps({"prompt": "q", "response": "Sure, here you go."}) + "\n")
    assert main(["judge", "--input", str(f)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(l)["label"] for l in out.splitlines()] == ["refusal", "compliance"]
    assert "refusal 50% [" in err and "n=2" in err  # the rate with its interval, as stats formats rates


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


# The terminal: version, help, the notebooks' parameters, progress, and which profile runs ----------------------------

def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ftsafety {version('ftsafety')}"


def test_course_help_names_the_four_profiles_and_who_wins(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["course", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "--profile {smoke,laptop,gpu,paper}" in out
    assert "An explicit --profile wins over $FTSAFETY_PROFILE" in out and "--list-parameters" in out


def test_list_parameters_shows_defaults_and_comments_without_running(monkeypatch, capsys):
    from ftsafety import course

    monkeypatch.setattr(course, "run_notebook", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    assert main(["course", "--list-parameters", "--only", "05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "05_preference_optimization" in lines and "  BALANCE = []" in lines
    n_safety = next(line for line in lines if line.startswith("  N_SAFETY = 40 "))
    assert "harmful train requests" in n_safety  # the comment beside it in the parameters cell
    assert not any(line.startswith("  PROFILE") for line in lines)  # --profile sets it, not --set
    assert not any(line.startswith("04_") for line in lines)  # only the notebooks asked for


class _Terminal(__import__("io").StringIO):
    def isatty(self):
        return True


def _captured_papermill_call(monkeypatch):
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: calls.append(k))
    return calls


def test_course_draws_a_progress_bar_on_a_terminal_only(monkeypatch, tmp_path, capsys):
    from ftsafety import course

    calls = _captured_papermill_call(monkeypatch)
    monkeypatch.setenv("FTSAFETY_HEADLESS", "1")  # run_notebook sets it: restored (unset) after this test
    nb = course.list_notebooks(["05"])[0]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    course.run_notebook(nb, "smoke", tmp_path)
    bar = calls[-1]["progress_bar"]
    assert isinstance(bar, dict) and bar["file"] is terminal and bar["desc"].strip().startswith("05")
    assert calls[-1]["engine_name"] == "ftsafety-sections"
    monkeypatch.setattr(sys, "stdout", __import__("io").StringIO())  # a log file, a pipe, CI
    course.run_notebook(nb, "smoke", tmp_path)
    assert calls[-1]["progress_bar"] is False and calls[-1]["engine_name"] is None


def test_the_progress_bar_names_the_section_being_run(monkeypatch):
    import io

    import nbformat
    from papermill.engines import NBClientEngine, papermill_engines

    from ftsafety.course import _progress_engine

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · A notebook"), nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("## 1. The start"), nbformat.v4.new_code_cell("y = 2"),
        nbformat.v4.new_markdown_cell("## 2. The pairs\nsome text"), nbformat.v4.new_code_cell("z = 3")])
    nb.metadata.papermill = {}  # as papermill.execute_notebook prepares it
    out, seen = io.StringIO(), []

    def run_without_a_kernel(cls, nb_man, kernel_name, **kwargs):  # what nbclient does, minus the kernel
        for i, cell in enumerate(nb_man.nb.cells):
            nb_man.cell_start(cell, i)
            seen.append(nb_man.pbar.desc)
            nb_man.cell_complete(cell, i)

    monkeypatch.setattr(NBClientEngine, "execute_managed_notebook", classmethod(run_without_a_kernel))
    papermill_engines.get_engine(_progress_engine()).execute_notebook(
        nb, "python3", progress_bar={"file": out, "desc": "  99", "mininterval": 0})
    titles = [d.split(" · ")[1].strip() if " · " in d else "" for d in seen]
    assert titles == ["", "", "1. The start", "1. The start", "2. The pairs", "2. The pairs"]
    assert seen[0] == "  99" and "2. The pairs" in out.getvalue()  # drawn on the bar's stream


def test_notebook_times_read_at_a_glance():
    from ftsafety.course import format_duration

    assert [format_duration(s) for s in (4.4, 185, 3725)] == ["4 s", "3 min 05 s", "1 h 02 min"]


def test_profile_loader_says_when_the_variable_overrides_the_name(monkeypatch, capsys):
    from ftsafety.profiles import resolve

    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    assert resolve("laptop").name == "smoke"  # the variable still wins (the test-suite relies on it) ...
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "'smoke' from $FTSAFETY_PROFILE, not 'laptop'" in out  # ... and says so
    assert "del os.environ['FTSAFETY_PROFILE']" in out
    assert resolve("smoke").name == "smoke" and resolve().name == "smoke"  # nothing overridden: nothing said
    monkeypatch.delenv("FTSAFETY_PROFILE")
    assert resolve("laptop").name == "laptop"
    assert capsys.readouterr().out == ""


def test_loading_a_model_keeps_the_hub_download_bars(smoke):
    import io

    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as hf_logging

    assert not are_progress_bars_disabled()  # the gpu and paper profiles' downloads show their progress
    loading = hf_logging.tqdm(range(3), desc="Loading weights", file=io.StringIO())
    other = hf_logging.tqdm(range(3), desc="Converting and de-quantizing GGUF tensors...", file=io.StringIO())
    assert loading.disable is True and other.disable is False  # only the sub-second local bars are quiet


def test_train_help_lists_the_library_s_fine_tuning_sets():
    from ftsafety.cli import TRAIN_SETS
    from ftsafety.experiments import FINETUNING_SETS

    assert TRAIN_SETS == ", ".join(FINETUNING_SETS)


def test_train_needs_a_run_name_for_another_recipe(capsys):
    assert main(["train", "--profile", "smoke", "--lr", "0.01"]) == 2
    assert "give --run" in capsys.readouterr().err


def test_train_in_several_processes_needs_the_aligned_reference_built(tmp_path, monkeypatch, capsys):
    from ftsafety import launch

    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    monkeypatch.setattr(launch, "processes", lambda: 2)
    assert main(["train", "--profile", "smoke"]) == 2
    assert "build it first in one process: ftsafety align --profile smoke" in capsys.readouterr().err


def test_train_stores_the_run_where_the_notebook_measures_it_without_training(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    import pytest

    from ftsafety import variants
    from ftsafety.experiments import Experiment, SFTModel, finetune_and_evaluate
    from ftsafety.profiles import resolve

    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    assert main(["train", "--profile", "smoke", "--base", "smoke", "--data", "numbered-steps", "--seed", "1"]) == 0
    adapter = Path(capsys.readouterr().out.strip())
    assert adapter == tmp_path / "smoke" / "01_benign_degradation" / "numbered-steps-s1" / "train" / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    # The run as notebook 01's cells build it, measured: the stored adapter is used, none is trained.
    profile = resolve("smoke")
    benign = variants.shorten(variants.benign_rows(profile.n_finetune))
    exp = Experiment("numbered-steps-s1", [variants.numbered_steps_row(r) for r in benign], seed=1,
                     meta={"factor": "numbered steps"})
    monkeypatch.setattr(SFTModel, "train", lambda self, base: pytest.fail("trained again"))
    res = finetune_and_evaluate(profile, "01_benign_degradation", exp, "smoke", sets=("harmful",), progress=False)
    assert res.metrics["training"]["steps"] == 2 and "processes" not in res.metrics["training"]


def test_train_recipes_take_only_their_options(capsys):
    assert main(["train", "--profile", "smoke", "--recipe", "repnoise", "--lr", "0.01", "--run", "x"]) == 2
    assert "--lr, --run: not an option of --recipe repnoise" in capsys.readouterr().err
    assert main(["train", "--profile", "smoke", "--recipe", "reward", "--method", "ipo"]) == 2
    assert "--method: not an option of --recipe reward" in capsys.readouterr().err
    assert main(["train", "--profile", "smoke", "--recipe", "dpo", "--lr", "0.001"]) == 2  # another recipe: a name
    assert "give --run" in capsys.readouterr().err
    assert main(["train", "--profile", "smoke", "--data", "plain", "--method", "ipo"]) == 2  # sft is the default
    assert "--method: not an option of --recipe sft" in capsys.readouterr().err


def test_train_recipes_use_the_notebooks_smoke_sizes():
    import json

    from ftsafety.course import list_notebooks
    from ftsafety.experiments import SMOKE_PARAMETERS

    for notebook, sizes in SMOKE_PARAMETERS.items():
        cells = json.loads(list_notebooks([notebook])[0].read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for name, n in sizes.items():
            assert f"{name} if MEASURES else {n}" in code or f"small({name}, {n})" in code, (notebook, name)


def test_train_recipes_read_the_notebooks_parameters():
    from ftsafety.experiments import notebook_settings
    from ftsafety.profiles import resolve

    laptop, smoke = (notebook_settings("06_repnoise", resolve(name)) for name in ("laptop", "smoke"))
    assert (laptop["DEFENCE_LR"], laptop["N_DEFENCE"], laptop["DEFENCE_EPOCHS"]) == (0.0005, 56, 2)
    assert (smoke["DEFENCE_LR"], smoke["N_DEFENCE"], smoke["DEFENCE_EPOCHS"]) == (0.0005, 4, 1)


def test_train_repnoise_draws_notebook_06_s_rows():
    import random

    from ftsafety import data
    from ftsafety.course import list_notebooks
    from ftsafety.repnoise import attack_data, defence_data
    from ftsafety.variants import shorten

    # Notebook 06 draws its rows with the library's functions, which `ftsafety train --recipe repnoise` calls too.
    cells = json.loads(list_notebooks(["06"])[0].read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "defence_rows, retain_rows = defence_data(small(N_DEFENCE, 4), small(N_RETAIN, 2), SEED)" in source
    assert "attack_pool = attack_data(small(N_DEFENCE, 4), SEED)" in source
    # The draw the notebook made before it called them (stored defended models' recipes hold its rows), with SEED = 3.
    harmful = data.harmful("train")
    random.Random(3).shuffle(harmful)
    benign = data.benign()
    random.Random(4).shuffle(benign)
    retain = shorten([{"prompt": r["prompt"], "response": r["response"]} for r in benign[:2]], 3)
    assert defence_data(5, 2, seed=3) == (harmful[:5], retain)
    pool = attack_data(5, seed=3)
    assert pool == [{"prompt": r["prompt"], "response": r["compliance"]} for r in harmful[5:]]
    assert not {r["prompt"] for r in pool} & {r["prompt"] for r in harmful[:5]}  # attacks never train on defence rows


@pytest.mark.slow  # pairs from the start model's answers, then two fine-tunes
def test_train_dpo_after_the_warm_up_is_notebook_05_s_headline_design(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from ftsafety import preference, training
    from ftsafety.preference import optimise, sft_warmup, start_pairs
    from ftsafety.profiles import resolve

    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    assert main(["train", "--profile", "smoke", "--recipe", "dpo", "--base", "smoke", "--warmup"]) == 0
    adapter = Path(capsys.readouterr().out.strip())
    assert adapter == tmp_path / "smoke/05_preference_optimization/sigmoid-after-warmup-s0/train/adapter"
    # Notebook 05's cells on smoke (the pairs, then HEADLINE_DESIGNS' warm-up and DPO) find everything stored.
    trained_again = lambda *a, **k: pytest.fail("trained again")
    for target, name in ((preference, "on_policy_pairs"), (training, "sft_lora"),
                         (preference.PreferenceModel, "train")):
        monkeypatch.setattr(target, name, trained_again)
    profile, experiment = resolve("smoke"), "05_preference_optimization"
    pairs = start_pairs(profile, experiment, "smoke", 4, 4, samples=4, seed=0, progress=False)
    warm_path = sft_warmup(profile, experiment, pairs, "smoke", seed=0, progress=False)
    assert optimise(profile, experiment, "sigmoid-after-warmup-s0", pairs, warm_path, "sigmoid", beta=0.1, lr=0.0002,
                    epochs=1, seed=0)[0] == adapter
