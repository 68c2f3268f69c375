"""Data-parallel fine-tunes: `ftsafety train` launched in 2 CPU processes (gloo) through accelerate, against 1 process.

accelerate 1.15's `accelerate launch --cpu --num_processes 2` starts one process only (without an MPI host file), so CPU
processes are launched as the docs say: `ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2`.
The smoke profile trains on 8 rows here, two steps of 4: one global batch is half the data, so a run whose global
batch doubled (each process taking the profile's 4 rows) trains on other rows in each step, and its weights differ.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ftsafety import data, launch
from ftsafety.cli import main
from ftsafety.judges import get_judge
from ftsafety.launch import map_split, split_batch, split_respond
from ftsafety.templates import PromptTemplate

OVERRIDES = json.dumps({"n_finetune": 8})  # two optimiser steps of 4 rows (smoke: batch 4, max_steps 2)
RUN = Path("smoke") / "01_benign_degradation" / "plain-s0"
# The largest difference allowed between a weight trained in 2 processes and in 1. Both compute the same float32 sums
# in another order (each process sums its half of the tokens, gloo adds the halves), which moves the last bits of a
# weight (about 1e-8 measured, on LoRA B weights of about 1.5e-3 after two Adam steps at lr 1e-3); a run that trains
# on other rows moves them by the order of the learning rate. 1e-6 sits between the two, and the test checks that
# training moved the weights a hundred times further than that.
TOLERANCE = 1e-6


def _free_port() -> int:
    """A port for the processes' rendezvous: accelerate's default (29500) may be taken by another launch."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_launch(args: list, runs: Path, processes: int = 2) -> subprocess.CompletedProcess:
    """``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N <args>`` with the registry in ``runs``."""
    env = {**os.environ, "FTSAFETY_RUNS": str(runs), "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "1",
           "FTSAFETY_PROFILE_OVERRIDES": OVERRIDES, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The smoke profile's plain benign SFT of notebook 01, trained in 2 processes and in 1 (same seed and global
    batch), each into its own run registry."""
    root = tmp_path_factory.mktemp("multiprocess")
    two = accelerate_launch(["-m", "ftsafety", "train", "--profile", "smoke", "--base", "smoke"], root / "two")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTSAFETY_RUNS", str(root / "one"))
        mp.setenv("FTSAFETY_PROFILE_OVERRIDES", OVERRIDES)
        assert main(["train", "--profile", "smoke", "--base", "smoke"]) == 0
    return {"two": two, "runs2": root / "two", "runs1": root / "one"}


def _weights(runs: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(runs / RUN / "train" / "adapter" / "adapter_model.safetensors")


@pytest.mark.slow
def test_two_processes_finish_and_write_one_adapter(trained):
    two = trained["two"]
    assert two.returncode == 0, two.stderr[-3000:]
    train = trained["runs2"] / RUN / "train"
    assert two.stdout.splitlines() == [str(train / "adapter")]  # printed once, by the main process
    assert "trained in 2 process(es)" in two.stderr
    assert sorted(p.name for p in (train / "adapter").iterdir()) == [
        "README.md", "adapter_config.json", "adapter_model.safetensors"]
    # No checkpoint and no temporary folder of a second writer is left beside it.
    assert sorted(p.name for p in train.iterdir()) == [
        "README.md", "adapter", "train_config.json", "train_settings.json", "train_summary.json"]


@pytest.mark.slow
def test_two_process_weights_match_one_process_at_the_same_global_batch(trained):
    assert trained["two"].returncode == 0, trained["two"].stderr[-3000:]
    one, two = _weights(trained["runs1"]), _weights(trained["runs2"])
    assert sorted(one) == sorted(two)
    worst = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert worst <= TOLERANCE, f"2-process weights differ from 1-process ones by up to {worst:.3g}"
    moved = max(float(one[k].abs().max()) for k in one if "lora_B" in k)  # LoRA B starts at zero
    assert moved > 100 * TOLERANCE
    settings = json.loads((trained["runs2"] / RUN / "train" / "train_settings.json").read_text())["args"]
    assert (settings["per_device_train_batch_size"], settings["gradient_accumulation_steps"]) == (2, 1)  # 2 x 2 = 4


@pytest.mark.slow
def test_the_registry_holds_one_run_that_the_notebook_reuses(trained, monkeypatch):
    from ftsafety.experiments import SFTModel, finetune, notebook01_experiment
    from ftsafety.profiles import resolve

    assert trained["two"].returncode == 0, trained["two"].stderr[-3000:]
    runs = trained["runs2"]
    assert [p.relative_to(runs) for p in runs.glob("*/*/*")] == [RUN]
    train = runs / RUN / "train"
    config = json.loads((train / "train_config.json").read_text())
    one_config = json.loads((trained["runs1"] / RUN / "train" / "train_config.json").read_text())
    assert config == one_config | {"processes": 2}  # recorded only where > 1: one process's config is unchanged
    assert json.loads((train / "train_summary.json").read_text())["processes"] == 2
    # The notebook, in one process, finds the adapter and does not train again.
    monkeypatch.setenv("FTSAFETY_RUNS", str(runs))
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", OVERRIDES)
    monkeypatch.setattr(SFTModel, "train", lambda self, base: pytest.fail("trained again"))
    profile = resolve("smoke")
    adapter, summary = finetune(profile, "01_benign_degradation", notebook01_experiment(profile), "smoke")
    assert adapter == train / "adapter" and summary["processes"] == 2


_SPLIT_EVAL = """
import json, sys
from ftsafety import launch, models
sys.path.insert(0, {tests!r})
from test_multiprocess import evaluation

m = models.load("smoke")
answers, labels = evaluation(m.model, m.tokenizer)
if launch.is_main_process():
    with open({out!r}, "w") as fh:
        json.dump({{"processes": launch.processes(), "answers": answers, "labels": labels}}, fh)
"""


def evaluation(model, tokenizer) -> tuple[list, list]:
    """What the split-evaluation test runs in each process: greedy answers of ``model`` to 7 harmful *train* prompts
    (7: the 2 processes get 4 and 3), and the keyword judge's labels of 7 known answers, helpful answers and refusals
    alternating, each split between the processes and gathered."""
    harmful = data.harmful("train")[:7]
    # The prompts as plain text: under the chat template the random smoke model answers every one alike.
    answers = split_respond(model, tokenizer, [r["prompt"] for r in harmful], PromptTemplate("plain", chat=False),
                            max_new_tokens=4, batch_size=1)
    helpful = data.benign()
    pairs = [(r["prompt"], r["refusal"] if i % 2 else helpful[i]["response"]) for i, r in enumerate(harmful)]
    judge = get_judge("keyword")
    labels = map_split(lambda part: [v.label for v in judge([p for p, _ in part], [a for _, a in part])], pairs)
    return answers, labels


@pytest.mark.slow
def test_an_evaluation_split_over_two_processes_gives_one_process_labels(tmp_path, smoke):
    script, out = tmp_path / "split_eval.py", tmp_path / "split.json"
    script.write_text(_SPLIT_EVAL.format(tests=str(Path(__file__).parent), out=str(out)))
    res = accelerate_launch([str(script)], tmp_path / "runs")
    assert res.returncode == 0, res.stderr[-3000:]
    split = json.loads(out.read_text())
    answers, labels = evaluation(smoke.model, smoke.tokenizer)  # one process: no split
    assert split["processes"] == 2
    assert split["answers"] == answers and len(answers) == 7 and len(set(answers)) > 1
    assert split["labels"] == labels and set(labels) == {"refusal", "compliance"}


def test_split_batch_keeps_the_global_batch():
    assert split_batch(4, 1, 1) == (4, 1)
    assert split_batch(4, 1, 2) == (2, 1)
    assert split_batch(10, 1, 5) == (2, 1)
    assert split_batch(1, 4, 2) == (1, 2)  # the per-device batch never grows: accumulation takes the rest
    assert split_batch(4, 4, 8) == (2, 1)
    with pytest.raises(ValueError, match="batch of 10 rows .* cannot be shared equally by 4 processes"):
        split_batch(10, 1, 4)


def test_trainer_arguments_divide_the_batch_between_processes(monkeypatch, tmp_path):
    from ftsafety.profiles import resolve
    from ftsafety.training import trainer_kwargs

    profile = resolve("smoke").replace(train_batch_size=4, grad_accum=2)
    one = trainer_kwargs(profile, tmp_path)
    monkeypatch.setattr(launch, "processes", lambda: 2)
    two = trainer_kwargs(profile, tmp_path)
    assert (one["per_device_train_batch_size"], one["gradient_accumulation_steps"]) == (4, 2)
    assert (two["per_device_train_batch_size"], two["gradient_accumulation_steps"]) == (4, 1)  # 2 x 4 x 1 = 8 rows


def test_one_process_leaves_accelerate_alone_and_writes(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert (launch.processes(), launch.is_main_process(), launch.process_device(), launch.process_record()) == \
        (1, True, None, {})
    assert map_split(lambda part: [x * 2 for x in part], [1, 2, 3]) == [2, 4, 6]


def test_several_launched_processes_that_accelerate_cannot_see_are_an_error(monkeypatch):
    from accelerate.state import PartialState

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    PartialState._reset_state()
    try:
        with pytest.raises(RuntimeError, match="ACCELERATE_USE_CPU=1"):
            launch.processes()
    finally:
        PartialState._reset_state()  # the Trainer sets up its own state


def test_each_process_loads_its_model_onto_its_own_device(monkeypatch):
    from ftsafety import models

    monkeypatch.setattr(launch, "process_device", lambda: "cuda:1")  # what accelerate gives the second of 2 GPUs
    assert models.pick_device() == "cuda:1"


def test_a_process_that_is_not_the_main_one_trains_but_writes_nothing(monkeypatch, tmp_path, smoke_profile):
    from ftsafety import models
    from ftsafety.experiments import SFTModel, notebook01_experiment

    monkeypatch.setattr(launch, "is_main_process", lambda: False)
    trained = SFTModel(smoke_profile, notebook01_experiment(smoke_profile), "smoke", tmp_path / "train", progress=False)
    result, summary = trained.ensure(models.load("smoke", for_training=True))
    assert result is not None and summary["steps"] == 2
    # The main process writes these; the Trainer's own checkpoints are its business (under DDP, the main's too).
    written = {"adapter", "train_config.json", "train_summary.json", "train_settings.json"}
    assert written.isdisjoint(p.name for p in (tmp_path / "train").iterdir())
