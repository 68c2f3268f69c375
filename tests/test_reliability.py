"""Nothing lost, nothing silently wrong: file writes never delete folders, runs resume only what was asked for, and the
registry repairs what it cannot read."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ftsafety import training
from ftsafety.files import CorruptFile, InputError, atomic_path, read_json, read_jsonl, write_json
from ftsafety.models import load
from ftsafety.paths import PACKAGE_DIR
from ftsafety.runs import Run, cached_run, load_runs

class Killed(BaseException):
    """Stands in for a kill: nothing in the library or the Trainer catches it."""


EXAMPLES = [{"prompt": f"Say the word {w}.", "response": f"{w}."} for w in ("apple", "river", "stone", "cloud")]


# --- file writes ------------------------------------------------------------------------------------------------


def test_a_file_write_never_deletes_a_folder(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="is a directory"):
        write_json(folder, {"a": 1})
    monkeypatch.chdir(folder)
    with pytest.raises(InputError):
        write_json(".", {"a": 1})
    with pytest.raises(InputError, match="not a file name"):
        write_json("/", {"a": 1})
    assert (folder / "keep.txt").read_text() == "mine" and sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_the_library_replaces_its_own_folders_only_when_it_says_so(tmp_path):
    target = tmp_path / "adapter"
    for version in ("old", "new"):
        with atomic_path(target, replace_dir=True) as tmp:
            tmp.mkdir()
            (tmp / "adapter_config.json").write_text(version)
    assert (target / "adapter_config.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]
    # A folder that holds no saved model or adapter is not the library's to replace, even with replace_dir.
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="does not hold a saved model"):
        with atomic_path(mine, replace_dir=True) as tmp:
            tmp.mkdir()
    assert (mine / "notes.txt").read_text() == "mine"


def test_a_killed_write_leaves_no_temporary_folder_behind_for_long(tmp_path):
    # A process killed inside atomic_path leaves its temporary folder; the next write to the same target removes it.
    target = tmp_path / "out.json"
    code = ("import os\nfrom ftsafety.files import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n    tmp.write_text('half')\n    os._exit(9)\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert any(p.name.startswith(".out.json.ftsafety-tmp-") for p in tmp_path.iterdir())
    (tmp_path / ".out.json.my-own-notes").write_text("not ours")  # a user's file with a similar name stays
    write_json(target, {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.json.my-own-notes", "out.json"]


def test_non_utf8_input_names_the_file_and_line(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"prompt": "a"}\n{"prompt": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"in.jsonl:2: not UTF-8"):
        read_jsonl(p)


def test_a_corrupt_json_file_is_named(tmp_path):
    p = tmp_path / "metrics.json"
    p.write_text('{"harmful_refusal": {"val')
    with pytest.raises(CorruptFile, match="metrics.json"):
        read_json(p)


# --- the run registry -------------------------------------------------------------------------------------------


def _compute(calls, value=0.5):
    def compute():
        calls.append(value)
        return {"harmful_refusal": {"value": value, "low": 0.1, "high": 0.9, "k": 1, "n": 2}}, [{"prompt": "p"}]
    return compute


def test_a_run_copied_without_its_file_times_is_still_done(tmp_path):
    run = Run("laptop", "exp", "a", root=tmp_path)
    cached_run(run, {"lr": 1}, _compute([]))
    os.utime(run.metrics_path, ns=(1, 1))  # as a copy that does not keep times may leave them
    calls = []
    cached_run(run, {"lr": 1}, _compute(calls))
    assert calls == []


def test_old_metrics_are_never_read_back_under_a_new_config(tmp_path, monkeypatch):
    run = Run("laptop", "exp", "a", root=tmp_path)
    cached_run(run, {"lr": 1}, _compute([]))
    # A save for a new config is killed after the config is written: the old metrics must not count as its result.
    import ftsafety.runs as runs

    def killed(*a, **k):
        raise Killed

    monkeypatch.setattr(runs, "write_jsonl", killed)
    with pytest.raises(Killed):
        cached_run(run, {"lr": 2}, _compute([], 0.7))
    assert not run.is_done({"lr": 2}) and not run.is_done({"lr": 1}) and not run.is_done()


def test_a_truncated_metrics_file_is_named_moved_aside_and_recomputed(tmp_path, capsys):
    run, calls = Run("laptop", "exp", "a", root=tmp_path), []
    cached_run(run, {"lr": 1}, _compute(calls))
    run.metrics_path.write_text(run.metrics_path.read_text()[:20])
    with pytest.warns(UserWarning, match="metrics.json"):
        assert load_runs("laptop", root=tmp_path).empty  # the table leaves it out, naming it
    again = cached_run(run, {"lr": 1}, _compute(calls))
    assert len(calls) == 2 and again.metrics()["harmful_refusal"]["value"] == 0.5
    err = capsys.readouterr().err
    assert str(run.metrics_path) in err and "computing the run again" in err
    aside = [p for p in run.dir.iterdir() if p.name.startswith(".corrupt-")]
    assert len(aside) == 1 and (aside[0] / "metrics.json").is_file()


def test_truncated_generations_are_recomputed_too(tmp_path, capsys):
    run, calls = Run("laptop", "exp", "a", root=tmp_path), []
    cached_run(run, {"lr": 1}, _compute(calls))
    run.generations_path.write_text('{"prompt": "p"}\n{"prom')
    cached_run(run, {"lr": 1}, _compute(calls))
    assert len(calls) == 2 and run.generations() == [{"prompt": "p"}]
    assert "generations.jsonl" in capsys.readouterr().err


# --- training: resume only what was asked for -------------------------------------------------------------------


def _kill_after_first_checkpoint():
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise Killed

    return Kill()


_BUILD_TRAINER = training.build_trainer


def _long_first_step(trainer):
    """Makes the first step count as 1000 s on the run's clock, as if it had been that slow."""
    from transformers import TrainerCallback

    class Long(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                for cb in trainer.callback_handler.callbacks:
                    if type(cb).__name__ == "ElapsedTime":
                        cb.elapsed_s += 1000

    return Long()


def _train(tmp_path, monkeypatch, lr, kill=False, folder="run", slow=False, perturb=False):
    def build(*a, **k):
        trainer = _BUILD_TRAINER(*a, **k)
        if kill:
            trainer.add_callback(_kill_after_first_checkpoint())
        if slow:
            trainer.add_callback(_long_first_step(trainer))
        return trainer

    monkeypatch.setattr(training, "build_trainer", build)
    m = load("smoke", for_training=True)
    if perturb:  # another base model saved at the same path (e.g. a rebuilt reference)
        with torch.no_grad():
            next(m.model.parameters()).add_(0.01)
    return training.sft_lora(m.model, m.tokenizer, EXAMPLES, _profile(), tmp_path / folder, lr=lr, epochs=3,
                             progress=False)


def _profile():
    from ftsafety.profiles import resolve

    return resolve("smoke", max_steps=-1)


def _weights(result) -> dict:
    return load_file(str(result.adapter_dir / "adapter_model.safetensors"))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_resumed_run_is_the_run_that_was_asked_for(tmp_path, monkeypatch, capsys):
    fresh = _train(tmp_path, monkeypatch, lr=5e-3, folder="fresh")
    # Killed after a checkpoint at one learning rate, rerun at another: the checkpoint must not be resumed.
    with pytest.raises(Killed):
        _train(tmp_path, monkeypatch, lr=1e-3, kill=True)
    assert any((tmp_path / "run").glob("checkpoint-*"))
    rerun = _train(tmp_path, monkeypatch, lr=5e-3)
    assert _same(_weights(rerun), _weights(fresh))
    assert "learning_rate" in capsys.readouterr().err
    assert not any((tmp_path / "run").glob("checkpoint-*"))  # checkpoints only serve resumption


def test_a_run_killed_after_a_checkpoint_resumes_from_it_and_times_the_whole_run(tmp_path, monkeypatch):
    fresh = _train(tmp_path, monkeypatch, lr=5e-3, folder="fresh")
    with pytest.raises(Killed):
        _train(tmp_path, monkeypatch, lr=5e-3, kill=True, slow=True)
    resumed = _train(tmp_path, monkeypatch, lr=5e-3)
    assert _same(_weights(resumed), _weights(fresh))
    assert resumed.loss_history == fresh.loss_history
    # The time covers the (1000-s) step before the kill too, so tokens per second are not inflated by a resume.
    assert resumed.train_s > 1000 > fresh.train_s


def test_a_checkpoint_is_not_resumed_onto_another_base_model(tmp_path, monkeypatch, capsys):
    with pytest.raises(Killed):
        _train(tmp_path, monkeypatch, lr=5e-3, kill=True)
    fresh_other = _train(tmp_path, monkeypatch, lr=5e-3, folder="fresh", perturb=True)
    rerun_other = _train(tmp_path, monkeypatch, lr=5e-3, perturb=True)
    assert _same(_weights(rerun_other), _weights(fresh_other))
    assert "another base model" in capsys.readouterr().err


def test_checkpoints_the_library_did_not_write_are_left_alone(tmp_path, monkeypatch):
    theirs = tmp_path / "run" / "checkpoint-500"
    theirs.mkdir(parents=True)
    (theirs / "trainer_state.json").write_text("{}")
    with pytest.raises(InputError, match="did not write"):
        _train(tmp_path, monkeypatch, lr=5e-3)
    assert (theirs / "trainer_state.json").read_text() == "{}"


def test_a_checkpoint_interrupted_while_written_is_skipped(tmp_path, monkeypatch, capsys):
    fresh = _train(tmp_path, monkeypatch, lr=5e-3, folder="fresh")
    with pytest.raises(Killed):
        _train(tmp_path, monkeypatch, lr=5e-3, kill=True)
    # A kill while the next checkpoint was written: weights on disk, no trainer state yet.
    partial = tmp_path / "run" / "checkpoint-99"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"\0" * 10)
    resumed = _train(tmp_path, monkeypatch, lr=5e-3)
    assert _same(_weights(resumed), _weights(fresh))
    assert "checkpoint-99 was interrupted" in capsys.readouterr().err


# --- code structure ---------------------------------------------------------------------------------------------


def _imports(module: Path):
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            yield node.module, [a.name for a in node.names]


def test_no_module_imports_a_private_name_of_another():
    private = [(m.name, src, n) for m in PACKAGE_DIR.glob("*.py") for src, names in _imports(m)
               for n in names if n.startswith("_")]
    assert private == []


def test_models_and_runs_do_not_import_each_other():
    runs_imports = {src for src, _ in _imports(PACKAGE_DIR / "runs.py")}
    assert "models" not in runs_imports
