import json
import shutil
from pathlib import Path

import pytest

from ftsafety.files import InputError, atomic_path, read_jsonl, write_json
from ftsafety.runs import Run, cached_run, digest, load_runs


def test_read_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"prompt": "a"}\n{"prompt": \n')
    with pytest.raises(InputError, match=r"in.jsonl:2: not valid JSON"):
        read_jsonl(p)
    p.write_text('{"prompt": "a"}\n\n{"text": "b"}\n')
    with pytest.raises(InputError, match=r"in.jsonl:3: missing field 'prompt'"):
        read_jsonl(p)
    p.write_text('["a"]\n')
    with pytest.raises(InputError, match=r"in.jsonl:1: expected a JSON object"):
        read_jsonl(p)
    with pytest.raises(InputError, match="no such file"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_run_registry_round_trip_and_reuse(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"harmful_refusal": {"value": 0.5, "low": 0.2, "high": 0.8, "k": 5, "n": 10}, "steps": 3}, [
            {"prompt": "p", "response": "r"}]

    cfg = {"lr": 1e-4, "targets": ("q", "v")}
    run = cached_run(Run("laptop", "exp", "a", root=tmp_path), cfg, compute)
    again = cached_run(Run("laptop", "exp", "a", root=tmp_path), cfg, compute)
    assert len(calls) == 1 and again.generations() == [{"prompt": "p", "response": "r"}]
    cached_run(Run("laptop", "exp", "a", root=tmp_path), {**cfg, "lr": 2e-4}, compute)  # changed config: recompute
    cached_run(Run("laptop", "exp", "a", root=tmp_path), cfg, compute, force=True)
    assert len(calls) == 3
    cached_run(Run("laptop", "exp", "b", root=tmp_path), cfg, compute)
    df = load_runs("laptop", root=tmp_path)
    assert list(df["run"]) == ["a", "b"]
    assert df.loc[0, "harmful_refusal_low"] == 0.2 and df.loc[0, "config.lr"] == 1e-4 and df.loc[0, "steps"] == 3
    assert run.dir == tmp_path / "laptop" / "exp" / "a"
    with pytest.raises(ValueError, match="plain folder name"):
        Run("laptop", "exp", "../escape")


def test_scoreboard_keeps_runs_with_the_same_template_and_judge_and_measures_the_tradeoff(tmp_path):
    from ftsafety.metrics import rate
    from ftsafety.results import scoreboard, tradeoff

    def save(exp, name, refusal, capability, template="chat", judge="keyword"):
        metrics = {"harmful_refusal": rate([True] * refusal + [False] * (10 - refusal)).as_dict()}
        if capability is not None:
            metrics["capability"] = rate([True] * capability + [False] * (10 - capability)).as_dict()
        Run("laptop", exp, name, root=tmp_path).save({"template": template, "judge": judge}, metrics, [])

    for i in range(6):
        save("01_x", f"m{i}", refusal=9 - i, capability=3 + i)  # safer models are less capable
    save("06_y", "attack", refusal=1, capability=None)
    save("03_z", "other-template", refusal=5, capability=5, template="text:vanilla")
    board = scoreboard("laptop", root=tmp_path)
    assert list(board["run"]) == [f"m{i}" for i in range(6)] + ["attack"]
    assert board.loc[0, "harmful_refusal"] == 0.9 and board["capability"].isna().sum() == 1
    t = tradeoff(board)
    assert t["n"] == 6 and t["rho"] == -1.0 and t["high"] <= 0


def test_cached_model_builds_once_per_recipe_and_names_the_recipe_in_its_path(tmp_path):
    from ftsafety.runs import cached_model

    built = []

    def build(target):
        built.append(target)
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / "model.safetensors").write_bytes(b"x")

    a = cached_model(tmp_path, {"lr": 1e-4}, build)
    assert cached_model(tmp_path, {"lr": 1e-4}, build) == a and len(built) == 1
    b = cached_model(tmp_path, {"lr": 2e-4}, build)
    assert b != a and len(built) == 2 and not Path(a).exists() and Path(b).is_dir()
    with pytest.raises(RuntimeError, match="did not leave a saved model"):
        cached_model(tmp_path, {"lr": 3e-4}, lambda target: None)


def test_the_tradeoff_ranks_ties_as_spearman_defines_them():
    # Tied values get their average rank; ranking them by row order gave 0.21 in one order and 1.0 in the other.
    import pandas as pd

    from ftsafety.results import tradeoff

    x, y = [0.1, 0.1, 0.2, 0.3, 0.3, 0.4], [0.5, 0.6, 0.6, 0.7, 0.9, 0.9]
    forward = tradeoff(pd.DataFrame({"capability": x, "harmful_refusal": y}))
    backward = tradeoff(pd.DataFrame({"capability": x[::-1], "harmful_refusal": y[::-1]}))
    assert forward["rho"] == pytest.approx(backward["rho"]) == pytest.approx(10 / 11, abs=1e-9)  # scipy.stats.spearmanr


def test_a_copied_runs_folder_is_reused_and_its_stored_model_paths_load_there(tmp_path, monkeypatch):
    """A run trained from a model inside the registry names that model relative to the runs root, so the folder copied
    elsewhere (another machine, a teammate's results) matches the configs asked for there and is not recomputed."""
    from ftsafety.models import resolve_model_path

    first, second = tmp_path / "mine", tmp_path / "copied"
    monkeypatch.setenv("FTSAFETY_RUNS", str(first))
    calls = []

    def compute():
        calls.append(1)
        return {"steps": 3}, []

    def config(root):
        return {"base_model": str(root / "laptop" / "models" / "aligned-reference" / "model-abc"), "lr": 1e-4}

    run = cached_run(Run("laptop", "exp", "a"), config(first), compute)
    assert run.config()["base_model"] == "$FTSAFETY_RUNS/laptop/models/aligned-reference/model-abc"
    shutil.copytree(first, second)
    monkeypatch.setenv("FTSAFETY_RUNS", str(second))
    copied = cached_run(Run("laptop", "exp", "a"), config(second), compute)
    assert len(calls) == 1 and copied.dir == second / "laptop" / "exp" / "a"
    # where a stored config names the model, it loads from the copy
    assert resolve_model_path(copied.config()["base_model"]) == str(config(second)["base_model"])
    # a run stored with an absolute path (before paths were stored relative) is reused where it was made
    old = Run("laptop", "exp", "old")
    old.dir.mkdir(parents=True)
    (old.config_path).write_text(json.dumps(config(second)))
    (old.metrics_path).write_text(json.dumps({"steps": 1}))
    (old.done_path).write_text(json.dumps({"config_sha256": digest(config(second))}))
    cached_run(old, config(second), compute)
    assert len(calls) == 1


def test_a_run_in_half_precision_is_not_read_back_as_the_float32_one(tmp_path, monkeypatch):
    """The machine's precision is part of a run's and a built model's identity where it is not float32; float32 (a
    CPU's) adds nothing, so a CPU's stored configs and model folders keep their names."""
    from ftsafety import devices
    from ftsafety.runs import cached_model

    calls, built = [], []

    def compute():
        calls.append(1)
        return {"steps": 1}, []

    def build(target):
        built.append(target)
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / "model.safetensors").write_bytes(b"x")

    cpu = cached_run(Run("laptop", "exp", "a", root=tmp_path), {"lr": 1e-4}, compute)
    assert cpu.config() == {"lr": 1e-4}
    cpu_model = cached_model(tmp_path / "m", {"lr": 1e-4}, build)
    bf16 = devices.Precision("cuda", "bfloat16", True, False, "test")
    monkeypatch.setattr(devices, "precision", lambda *a, **k: bf16)
    gpu = cached_run(Run("laptop", "exp", "a", root=tmp_path), {"lr": 1e-4}, compute)
    assert len(calls) == 2 and gpu.config() == {"lr": 1e-4, "precision": "bfloat16"}
    cached_run(Run("laptop", "exp", "a", root=tmp_path), {"lr": 1e-4}, compute)
    assert len(calls) == 2
    assert cached_model(tmp_path / "m", {"lr": 1e-4}, build) != cpu_model and len(built) == 2


def test_an_adapter_trained_in_float32_is_not_reused_in_half_precision(tmp_path, monkeypatch):
    from ftsafety import devices
    from ftsafety.training import TrainedModel

    (tmp_path / "adapter").mkdir()
    write_json(tmp_path / "train_config.json", {"lr": 1e-4})
    write_json(tmp_path / "train_summary.json", {"steps": 2})
    assert TrainedModel("smoke", tmp_path, {"lr": 1e-4})._stored_summary() == {"steps": 2}
    monkeypatch.setattr(devices, "precision", lambda *a, **k: devices.Precision("cuda", "bfloat16", True, False, "t"))
    bf16 = TrainedModel("smoke", tmp_path, {"lr": 1e-4})
    assert bf16.config == {"lr": 1e-4, "precision": "bfloat16"} and bf16._stored_summary() is None
