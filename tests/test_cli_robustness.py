"""The command line refuses what would lose work or silently do something else, before doing any work.

--output never names a folder, the repository's own files or a missing folder; a failing write keeps the metrics;
file-system errors are one line with exit code 4; doctor says which folders are writable; counts are >= 1; --only
needs a value; an explicit --profile wins over $FTSAFETY_PROFILE; --set values have the type of the notebook's default.
"""
import errno
import json
import os
from pathlib import Path

import pytest

from ftsafety import cli, course, files, models
from ftsafety.cli import main
from ftsafety.paths import REPO_ROOT
from ftsafety.profiles import Profile


@pytest.fixture
def prompts(tmp_path):
    f = tmp_path / "prompts.jsonl"
    f.write_text("".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(2)))
    return f


def _eval(prompts, *extra):
    return ["eval", "--model", "smoke", "--profile", "smoke", "--prompts", str(prompts), *extra]


@pytest.fixture
def no_work(monkeypatch):
    """Loading a model or writing responses fails the test: a refused --output must cost nothing and write nothing."""
    def forbidden(*args, **kwargs):
        raise AssertionError(f"work done before --output was checked: {args}")

    monkeypatch.setattr(models, "load", forbidden)
    monkeypatch.setattr(files, "write_jsonl", forbidden)


def _one_line_error(capsys, *needles):
    """The error on stderr: one line (after any progress bars), starting with the command, no traceback."""
    out, err = capsys.readouterr()
    *before, line = [part.strip() for part in err.strip().splitlines()]
    assert line.startswith("ftsafety ") and "Traceback" not in err, err
    assert all(not part or part.startswith("generating") for part in before), err  # progress bars only
    for needle in needles:
        assert needle in line, line
    return out, line


# 1. eval --output ---------------------------------------------------------------------------------------------------

def test_eval_output_folder_is_refused_before_any_work(tmp_path, prompts, no_work, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    assert main(_eval(prompts, "--output", str(folder))) == 2
    _one_line_error(capsys, str(folder), "is a folder", "results/out.jsonl")
    assert (folder / "keep.txt").read_text() == "mine"


def test_eval_output_dot_is_refused(tmp_path, prompts, no_work, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    assert main(_eval(prompts, "--output", ".")) == 2
    _one_line_error(capsys, "'.'", "results/out.jsonl")
    assert (work / "notes.txt").read_text() == "mine" and sorted(p.name for p in work.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["absolute", "relative", "symlink", "git file"])
def test_eval_output_inside_the_repository_code_is_refused(where, tmp_path, prompts, no_work, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if where == "absolute":
        path, folder = str(REPO_ROOT / "data" / "out.jsonl"), "data/"
    elif where == "relative":
        monkeypatch.chdir(REPO_ROOT / "lib")
        path, folder = "../tests/out.jsonl", "tests/"
    elif where == "symlink":
        (tmp_path / "link").symlink_to(REPO_ROOT / "notebooks")
        path, folder = "link/out.jsonl", "notebooks/"
    else:
        path, folder = str(REPO_ROOT / ".git" / "HEAD"), ".git/"
    before = Path(path).resolve().read_bytes() if Path(path).resolve().is_file() else None
    assert main(_eval(prompts, "--output", path)) == 2
    _one_line_error(capsys, path, f"repository's {folder} folder", "results/out.jsonl")
    after = Path(path).resolve().read_bytes() if Path(path).resolve().is_file() else None
    assert after == before


def test_eval_output_in_a_missing_folder_is_refused(tmp_path, prompts, no_work, capsys):
    path = tmp_path / "nope" / "out.jsonl"
    assert main(_eval(prompts, "--output", str(path))) == 2
    _one_line_error(capsys, str(path), "does not exist", "results/out.jsonl")
    assert not (tmp_path / "nope").exists()


def test_eval_prints_the_metrics_before_a_failing_write(tmp_path, prompts, monkeypatch, capsys):
    out_file = tmp_path / "out.jsonl"

    def disk_full(path, rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(files, "write_jsonl", disk_full)
    assert main(_eval(prompts, "--output", str(out_file), "--max-new-tokens", "2")) == 4
    out, line = _one_line_error(capsys, str(out_file), "No space left on device")
    assert "refusal_rate" in json.loads(out) and json.loads(out)["n"] == 2


def test_eval_output_is_written_to_a_good_path(tmp_path, prompts, capsys):
    out_file = tmp_path / "out.jsonl"
    assert main(_eval(prompts, "--output", str(out_file), "--max-new-tokens", "2")) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2
    assert [set(r) >= {"prompt", "response", "label"} for r in files.read_jsonl_records(out_file)] == [True, True]


# 2. file-system errors ----------------------------------------------------------------------------------------------

def test_os_error_is_one_line_naming_the_path_with_exit_4(monkeypatch, capsys):
    import ftsafety.doctor

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/ftsafety/runs")

    monkeypatch.setattr(ftsafety.doctor, "environment_report", read_only)
    assert main(["doctor"]) == 4
    _one_line_error(capsys, "/srv/ftsafety/runs", "Permission denied", "writable", "FTSAFETY_RUNS / FTSAFETY_CACHE")


def test_align_into_a_runs_folder_that_cannot_exist_exits_4(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("FTSAFETY_RUNS", str(blocker / "runs"))
    assert main(["align", "--profile", "smoke"]) == 4
    _one_line_error(capsys, str(blocker / "runs"), "check that the folder exists and is writable")
    assert blocker.read_text() == "a file, not a folder"


# 3. doctor: writable folders ----------------------------------------------------------------------------------------

def _doctor(capsys) -> dict:
    assert main(["doctor"]) == 0
    return json.loads(capsys.readouterr().out)["writable"]


def test_doctor_reports_a_runs_folder_under_a_file_as_not_writable(tmp_path, monkeypatch, capsys):
    (tmp_path / "file.txt").write_text("x")
    runs = tmp_path / "file.txt" / "runs"
    monkeypatch.setenv("FTSAFETY_RUNS", str(runs))
    monkeypatch.setenv("FTSAFETY_CACHE", str(tmp_path / "cache"))
    rep = _doctor(capsys)
    assert rep["runs_dir"]["path"] == str(runs) and rep["runs_dir"]["writable"] is False
    assert "Not a directory" in rep["runs_dir"]["error"]
    assert rep["cache_dir"] == {"path": str(tmp_path / "cache"), "writable": True, "error": None}
    assert (tmp_path / "cache").is_dir() and not list((tmp_path / "cache").iterdir())  # its probe file is gone


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder; the test above covers root")
def test_doctor_reports_a_read_only_runs_folder(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    runs.chmod(0o500)
    monkeypatch.setenv("FTSAFETY_RUNS", str(runs))
    try:
        rep = _doctor(capsys)
    finally:
        runs.chmod(0o700)
    assert rep["runs_dir"]["writable"] is False and "Permission denied" in rep["runs_dir"]["error"]


# 4. counts are >= 1 and 5. --only needs a value ---------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["eval", "--model", "smoke", "--prompts", "p.jsonl", "--max-new-tokens", "0"],
    ["eval", "--model", "smoke", "--prompts", "p.jsonl", "--max-new-tokens", "-3"],
    ["bench", "--rows", "0"],
    ["bench", "--prompts", "0"],
    ["bench", "--rows", "many"],
])
def test_counts_below_one_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert f"argument {argv[-2]}" in capsys.readouterr().err


def test_eval_with_zero_new_tokens_does_not_run(prompts, no_work, capsys):
    with pytest.raises(SystemExit) as exc:
        main(_eval(prompts, "--max-new-tokens", "0"))
    assert exc.value.code == 2 and "must be at least 1, got 0" in capsys.readouterr().err


def test_run_bench_refuses_zero_rows_before_measuring(monkeypatch):
    from ftsafety import bench

    monkeypatch.setattr(bench, "_in_child", lambda fn, *a: pytest.fail(f"{fn.__name__} ran with no rows"))
    with pytest.raises(ValueError, match="n_train=0: must be at least 1"):
        bench.run_bench("smoke", n_train=0)


def test_course_only_needs_at_least_one_notebook(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["course", "--only"])
    assert exc.value.code == 2 and "--only" in capsys.readouterr().err
    assert cli.build_parser().parse_args(["course", "--only", "00", "1"]).only == ["00", "1"]


# 6. an explicit --profile wins over $FTSAFETY_PROFILE ---------------------------------------------------------------

def test_explicit_profile_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    assert cli.chosen_profile("laptop").name == "laptop"
    assert cli.chosen_profile(None).name == "smoke"  # no flag: the variable still decides
    monkeypatch.delenv("FTSAFETY_PROFILE")
    assert cli.chosen_profile(None).name == "laptop"


def test_eval_uses_the_profile_flag_not_the_environment(prompts, monkeypatch, capsys):
    monkeypatch.setenv("FTSAFETY_PROFILE", "laptop")
    assert main(_eval(prompts)) == 0  # --profile smoke: smoke's 8 new tokens, not laptop's 32
    assert json.loads(capsys.readouterr().out)["max_new_tokens"] == 8
    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    assert main(["eval", "--model", "smoke", "--prompts", str(prompts)]) == 0  # no flag: the variable wins
    assert json.loads(capsys.readouterr().out)["max_new_tokens"] == 8


def test_course_runs_the_notebooks_on_the_flag_profile(monkeypatch):
    seen = []
    monkeypatch.setattr(course, "run_notebook", lambda nb, profile, out, timeout, params: seen.append(
        (profile, os.environ.get("FTSAFETY_PROFILE"), out)))
    monkeypatch.setattr(course, "write_reproduction_md", lambda profile: "REPRODUCTION.md")
    monkeypatch.setenv("FTSAFETY_PROFILE", "laptop")
    assert main(["course", "--profile", "smoke", "--only", "00"]) == 0
    # the kernel inherits the variable and its notebook resolves PROFILE with it: it must name smoke while it runs
    assert seen == [("smoke", "smoke", Path(os.environ["FTSAFETY_RUNS"]) / "smoke" / "notebooks")]
    assert os.environ["FTSAFETY_PROFILE"] == "laptop"  # restored afterwards
    monkeypatch.delenv("FTSAFETY_PROFILE")
    assert course.run_course("smoke", ["00"]) == 0
    assert seen[-1][1] == "smoke" and "FTSAFETY_PROFILE" not in os.environ


def test_bench_measures_the_flag_profile_in_its_child_processes(monkeypatch, capsys):
    from ftsafety import bench

    received = []

    def fake_child(fn, profile, *args):
        received.append(profile)
        return {"tokens_per_s": 1.0, "train_s": 1.0, "tokens": 1, "peak_rss_mb": 1.0, "batched_s": 1.0, "loop_s": 1.0,
                "same_outputs": True, "unmerged_s": 1.0, "merged_s": 1.0, "n_prompts": 1, "cached_load_s": 1.0,
                "first_load_s": None}

    monkeypatch.setattr(bench, "_in_child", fake_child)
    monkeypatch.setenv("FTSAFETY_PROFILE", "laptop")
    assert main(["bench", "--profile", "smoke", "--rows", "1", "--prompts", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["profile"] == "smoke"
    # a child resolves nothing by name: it gets the Profile, so the variable cannot switch it back to laptop
    assert len(received) == 4 and all(isinstance(p, Profile) and p.name == "smoke" for p in received)


# 7. course --set: the type of the notebook's default ----------------------------------------------------------------

def _checked(only, *items):
    nbs = course.list_notebooks(only)
    return {nb.stem: params for nb, params in course.check_settings(course.parse_settings(list(items)), nbs).items()}


def test_set_bool_words_become_bools():
    assert _checked(["00"], "FORCE=false") == {"00_setup_and_baseline": {"FORCE": False}}
    assert _checked(["00"], "FORCE=TRUE") == {"00_setup_and_baseline": {"FORCE": True}}
    assert _checked(["00"], "FORCE=False", "SHOW_OUTPUTS=True") == {
        "00_setup_and_baseline": {"FORCE": False, "SHOW_OUTPUTS": True}}


def test_set_accepts_ints_for_floats_tuples_for_lists_and_anything_for_none():
    got = _checked(["01", "05"], "LR=1", "BALANCE=(96,)", "SEEDS=[0, 1]", "START=shipped")
    assert got == {"01_benign_degradation": {"SEEDS": [0, 1]},
                   "05_preference_optimization": {"LR": 1.0, "BALANCE": [96], "START": "shipped"}}
    assert isinstance(got["05_preference_optimization"]["LR"], float)


@pytest.mark.parametrize("only, item, needles", [
    (["00"], "FORCE=1", ("FORCE", "00_setup_and_baseline", "expects bool", "--set FORCE=true")),
    (["00"], "FORCE=yes", ("FORCE", "00_setup_and_baseline", "expects bool", "--set FORCE=true")),
    (["02"], "SEED=shipped", ("SEED", "02_malicious_restructuring", "expects int", "--set SEED=0")),
    (["02"], "SEED=True", ("SEED", "expects int",)),
    (["05"], "LR=fast", ("LR", "05_preference_optimization", "expects float", "--set LR=0.0002")),
    (["02"], "TASKS=sql", ("TASKS", "02_malicious_restructuring", "expects list", "--set \"TASKS=['arithmetic'")),
    (["05"], "START=1", ("START", "expects str", "--set START=aligned")),
])
def test_set_rejects_a_value_of_the_wrong_type(only, item, needles):
    with pytest.raises(SystemExit) as exc:
        _checked(only, item)
    message = str(exc.value.code)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_course_hands_the_checked_values_to_the_notebooks(monkeypatch):
    seen = {}
    monkeypatch.setattr(course, "run_notebook",
                        lambda nb, profile, out, timeout, params: seen.update({nb.stem: params}))
    monkeypatch.setattr(course, "write_reproduction_md", lambda profile: "REPRODUCTION.md")
    assert course.run_course("smoke", ["00"], settings=course.parse_settings(["FORCE=false"])) == 0
    assert seen == {"00_setup_and_baseline": {"FORCE": False}}  # the string "false" would be true in the notebook
    seen.clear()
    with pytest.raises(SystemExit, match="FORCE"):
        course.run_course("smoke", ["00", "01"], settings=course.parse_settings(["FORCE=0"]))
    assert seen == {}  # refused before the first notebook ran
