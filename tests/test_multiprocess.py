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


def accelerate_launch(args: list, runs: Path, processes: int = 2,
                      overrides: str = OVERRIDES) -> subprocess.CompletedProcess:
    """``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N <args>`` with the registry in ``runs``."""
    env = {**os.environ, "FTSAFETY_RUNS": str(runs), "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "1",
           "FTSAFETY_PROFILE_OVERRIDES": overrides, "OMP_NUM_THREADS": "1"}
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


_SPLIT_STANDARD_EVAL = """
import json, sys
from ftsafety import generation, launch, models, runs
from ftsafety.cli import main
from ftsafety.evaluate import evaluate_run
from ftsafety.profiles import resolve
from ftsafety.runs import Run

generated = []  # how many prompts this process answered
_generate = generation.generate
generation.generate = lambda model, tokenizer, texts, **kw: generated.append(len(texts)) or _generate(
    model, tokenizer, texts, **kw)
saves = []  # the runs this process wrote into the registry
_save = runs.Run.save
runs.Run.save = lambda self, *a, **kw: saves.append(self.name) or _save(self, *a, **kw)
m = models.load("smoke")
res = evaluate_run(Run("smoke", "split-eval", "smoke"), lambda: (m.model, m.tokenizer), resolve("smoke"),
                   {{"model": "smoke"}}, template="text:vanilla")
assert main(["eval", "--profile", "smoke", "--model", "smoke", "--prompts", {prompts!r}, "--template", "text:vanilla",
             "--output", {cli_out!r}]) == 0
with open({out!r} + f".{{launch.processes()}}-{{int(launch.is_main_process())}}", "w") as fh:
    json.dump({{"generated": sum(generated), "saves": saves, "metrics": res.metrics, "generations": res.generations}},
              fh)
"""
# The smoke profile's answers one prompt at a time (greedy answers then do not depend on the split, see
# split_respond), and as plain text, where the random smoke model's answers differ from prompt to prompt.
EVAL_OVERRIDES = json.dumps({"eval_batch_size": 1})


@pytest.mark.slow
def test_the_standard_evaluation_and_ftsafety_eval_split_over_two_processes(tmp_path, monkeypatch, capsys):
    """``evaluate_run`` and ``ftsafety eval`` in 2 processes: each process answers about half of the prompts, both get
    one process's answers and labels back in order, and the main process alone writes the run and the output file."""
    from ftsafety.evaluate import eval_prompts, evaluate_run
    from ftsafety.profiles import resolve
    from ftsafety.runs import Run

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": r["prompt"]}) + "\n" for r in data.harmful("train")[:5]))
    script, out = tmp_path / "split_standard_eval.py", tmp_path / "result"
    script.write_text(_SPLIT_STANDARD_EVAL.format(prompts=str(prompts), cli_out=str(tmp_path / "cli2.jsonl"),
                                                  out=str(out)))
    res = accelerate_launch([str(script)], tmp_path / "runs2", overrides=EVAL_OVERRIDES)
    assert res.returncode == 0, res.stderr[-3000:]
    main_, other = (json.loads((tmp_path / f"result.2-{i}").read_text()) for i in (1, 0))
    assert json.loads(res.stdout)["n"] == 5  # the metrics printed once, by the main process
    # One process's evaluation and ftsafety eval, in their own registry.
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path / "runs1"))
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", EVAL_OVERRIDES)
    profile = resolve("smoke")
    from ftsafety import models

    m = models.load("smoke")
    one = evaluate_run(Run("smoke", "split-eval", "smoke"), lambda: (m.model, m.tokenizer), profile,
                       {"model": "smoke"}, template="text:vanilla")
    assert main(["eval", "--profile", "smoke", "--model", "smoke", "--prompts", str(prompts), "--template",
                 "text:vanilla", "--output", str(tmp_path / "cli1.jsonl")]) == 0
    # Each process answered its share: the standard set (8 + 6 + 6) and the file's 5, 25 prompts in all.
    total = sum(len(v) for v in eval_prompts(profile).values()) + 5
    assert main_["generated"] + other["generated"] == total and 0 < other["generated"] < total
    assert (main_["saves"], other["saves"]) == (["smoke"], [])  # the run is written by the main process alone
    for result in (main_, other):  # both processes hold every answer, in one process's order
        assert result["generations"] == one.generations and result["metrics"] == one.metrics
    assert len({g["response"] for g in one.generations}) > 1
    assert (tmp_path / "cli2.jsonl").read_text() == (tmp_path / "cli1.jsonl").read_text()
    assert [p.relative_to(tmp_path / "runs2") for p in (tmp_path / "runs2").glob("*/*/*")] == [
        Path("smoke/split-eval/smoke")]
    # The run records that 2 processes computed it; one process's run records nothing more than its config's digest.
    split_run, one_run = (Run("smoke", "split-eval", "smoke", root=tmp_path / r) for r in ("runs2", "runs1"))
    assert split_run.record() == one_run.record() | {"processes": 2} and "processes" not in one_run.record()


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


# The other fine-tunes of the course through `ftsafety train --recipe`: notebook 05's DPO, notebook 06's RepNoise
# defence, notebook 07's reward model, each in 2 processes and in 1 at the same global batch and seed.
# - dpo: notebook 05's 4 smoke pairs, two steps of 2 (the global batch set to 2, so that one step is half the data).
# - repnoise: notebook 06's 4 defence and 2 retain rows, two steps of 2. Its loss is a statistic of each micro-batch
#   (the noise MMD compares the micro-batch's rows with noise, its cross-entropies are means over the micro-batch's
#   tokens), as under gradient accumulation in one process: the 1-process run trains the same micro-batches, one row
#   each, two per step by accumulation. Training with 2-row micro-batches is another loss, and its weights differ.
# - reward: notebook 07's 8 smoke rows, of which TRL keeps the 6 within smoke's 128 tokens, two steps of 2. Every step
#   is a full global batch: where the last step has fewer rows, accelerate fills the idle process's share with rows
#   from the start of the data (its even_batches), and the runs differ.
# - dpo-kto, dpo-orpo, dpo-simpo, dpo-warmup: `--recipe dpo` with notebook 05's other methods and its SFT warm-up ("args", the
#   options added to the command).
#   KTO's 4 pairs are 8 unpaired rows, two steps of 4 (smoke's batch): TRL's KTOTrainer refuses 1-row micro-batches (its
#   KL estimate pairs each prompt with the answer of the row before it in the micro-batch), so each process takes 2,
#   and the 1-process run accumulates the same 2-row micro-batches. The two do not train quite the same loss: TRL
#   averages the (detached) KL estimate over the processes' micro-batches of a step, one process uses each
#   micro-batch's own (smoke, step 2: 1.5e-3 in 2 processes, 5.0e-3 and a negative one clamped to 0 in one process).
#   That estimate only shifts KTO's reference point, and moves the weights here by about 1e-8, far below TOLERANCE; so
#   this run checks which rows each process trains in each step, not the KL estimate (one process with 4-row
#   micro-batches, other KL pairs, agrees as closely).
#   ORPO's NLL term is a token mean over each micro-batch, as RepNoise's cross-entropies are: 1-row micro-batches, two
#   per step by accumulation in one process (2-row micro-batches in one process differ by 4e-5).
#   SimPO (TRL's CPOTrainer, SimPO loss, no NLL term: cpo_alpha 0) averages a per-pair loss over the rows, as
#   sigmoid DPO does: two steps of 2, one row per process.
#   The warm-up (SFT on the pairs' chosen answers, trained by both processes through launch.cached_model_together and
#   merged) and the sigmoid DPO from it: two steps of 2 each, both models compared.
# The same TOLERANCE as the SFT runs: the processes compute the same float32 sums in another order.
NB05 = Path("smoke/05_preference_optimization")  # notebook 05's registry folder
RECIPES = {
    "dpo": {"overrides": {"train_batch_size": 2}, "one": {"train_batch_size": 2}, "device_batch": (1, 1),
            "adapter": NB05 / "sigmoid-s0/train/adapter"},
    "dpo-kto": {"args": ["--method", "kto"], "overrides": {}, "one": {"train_batch_size": 2, "grad_accum": 2},
                "device_batch": (2, 1), "adapter": NB05 / "kto-s0/train/adapter"},
    "dpo-orpo": {"args": ["--method", "orpo"], "overrides": {"train_batch_size": 2},
                 "one": {"train_batch_size": 1, "grad_accum": 2}, "device_batch": (1, 1),
                 "adapter": NB05 / "orpo-s0/train/adapter"},
    "dpo-simpo": {"args": ["--method", "simpo"], "overrides": {"train_batch_size": 2}, "one": {"train_batch_size": 2},
                  "device_batch": (1, 1), "adapter": NB05 / "simpo-s0/train/adapter"},
    "dpo-warmup": {"args": ["--warmup"], "overrides": {"train_batch_size": 2}, "one": {"train_batch_size": 2},
                   "device_batch": (1, 1), "adapter": NB05 / "sigmoid-after-warmup-s0/train/adapter"},
    "repnoise": {"overrides": {"train_batch_size": 2}, "one": {"train_batch_size": 1, "grad_accum": 2},
                 "device_batch": (1, 1), "adapter": Path("smoke/06_repnoise/defended/train/adapter")},
    "reward": {"overrides": {"train_batch_size": 2}, "one": {"train_batch_size": 2}, "device_batch": (1, 1),
               "adapter": None},
}


@pytest.fixture(scope="module", params=list(RECIPES))
def recipe_run(request, tmp_path_factory):
    """One recipe trained by `ftsafety train --recipe <recipe> --base smoke <args>` in 2 processes and in 1, each into
    its own run registry (notebook 05's pairs, made by the 2-process run, are copied to the 1-process one: the start
    model's answers are made once). The recipe is the key's first part (``dpo-kto``: ``--recipe dpo --method kto``)."""
    import shutil

    name, spec = request.param, RECIPES[request.param]
    recipe = name.split("-")[0]
    root = tmp_path_factory.mktemp(name)
    args = ["train", "--profile", "smoke", "--recipe", recipe, "--base", "smoke", *spec.get("args", [])]
    two = accelerate_launch(["-m", "ftsafety", *args], root / "two", overrides=json.dumps(spec["overrides"]))
    if (root / "two" / NB05 / "pairs").is_dir():
        shutil.copytree(root / "two" / NB05 / "pairs", root / "one" / NB05 / "pairs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FTSAFETY_RUNS", str(root / "one"))
        mp.setenv("FTSAFETY_PROFILE_OVERRIDES", json.dumps(spec["one"]))
        assert main(args) == 0
    return {"name": name, "recipe": recipe, "two": two, "runs2": root / "two", "runs1": root / "one", "args": [],
            **spec}


def _warmup_dir(runs: Path) -> Path:
    """The merged SFT warm-up that `--warmup` trains before DPO (``preference.sft_warmup``'s model)."""
    return next((runs / NB05 / "sft-warmup").glob("model-*"))


def _model_dir(run: dict, runs: Path) -> Path:
    """The folder `ftsafety train` printed: an adapter (dpo) or a merged model (repnoise, reward)."""
    if run["recipe"] == "dpo":
        return runs / run["adapter"]
    root = {"repnoise": "06_repnoise/defended", "reward": "07_reward_model_reliability/reward-model"}[run["recipe"]]
    return next((runs / "smoke" / root).glob("model-*"))


def _trained_weights(run: dict, runs: Path) -> dict:
    """The weights training changed: the LoRA adapter where one is kept, else the merged reward model; with the merged
    SFT warm-up's weights (prefixed ``warmup.``) where DPO started from one."""
    from safetensors.torch import load_file

    if run["adapter"] is None:
        return load_file(_model_dir(run, runs) / "model.safetensors")
    weights = load_file(runs / run["adapter"] / "adapter_model.safetensors")
    if "--warmup" in run["args"]:
        weights |= {f"warmup.{k}": v for k, v in load_file(_warmup_dir(runs) / "model.safetensors").items()}
    return weights


@pytest.mark.slow
def test_each_recipe_finishes_in_two_processes_and_writes_one_model(recipe_run):
    two, runs = recipe_run["two"], recipe_run["runs2"]
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.splitlines() == [str(_model_dir(recipe_run, runs))]  # printed once, by the main process
    assert "trained in 2 process(es)" in two.stderr
    tree = sorted(p.relative_to(runs) for p in runs.glob("smoke/*/*"))
    if recipe_run["recipe"] == "dpo":
        train = runs / recipe_run["adapter"].parent
        warmup = ["sft-warmup"] if "--warmup" in recipe_run["args"] else []
        assert tree == sorted(NB05 / p for p in ["pairs", train.parent.name, *warmup])
        if warmup:  # one merged warm-up and its recipe; its work folder (checkpoints, adapter) is gone
            model = _warmup_dir(runs)
            assert sorted(p.name for p in model.parent.iterdir()) == [model.name, "recipe.json"]
            assert {"model.safetensors", "train_summary.json"} <= {p.name for p in model.iterdir()}
        assert sorted(p.name for p in train.iterdir()) == [
            "README.md", "adapter", "train_config.json", "train_settings.json", "train_summary.json"]
        assert sorted(p.name for p in (train / "adapter").iterdir()) == [
            "README.md", "adapter_config.json", "adapter_model.safetensors"]
    elif recipe_run["recipe"] == "repnoise":
        assert tree == [Path("smoke/06_repnoise/defended")]
        model = _model_dir(recipe_run, runs)
        # One merged model, its recipe, and the training folder: its adapter, no checkpoint of a second writer.
        assert sorted(p.name for p in model.parent.iterdir()) == [model.name, "recipe.json", "train"]
        assert sorted(p.name for p in (model.parent / "train").iterdir()) == [
            "adapter", "train_settings.json", "train_summary.json"]
        assert (model / "model.safetensors").is_file()
    else:
        assert tree == [Path("smoke/07_reward_model_reliability/reward-model")]
        model = _model_dir(recipe_run, runs)
        # One merged model and its recipe; the work folder (checkpoints, adapter) is gone.
        assert sorted(p.name for p in model.parent.iterdir()) == [model.name, "recipe.json"]
        assert {"model.safetensors", "train_summary.json"} <= {p.name for p in model.iterdir()}


@pytest.mark.slow
def test_each_recipe_s_two_process_weights_match_one_process_at_the_same_global_batch(recipe_run):
    from safetensors.torch import load_file

    from ftsafety.models import resolve_model_path

    assert recipe_run["two"].returncode == 0, recipe_run["two"].stderr[-3000:]
    one, two = _trained_weights(recipe_run, recipe_run["runs1"]), _trained_weights(recipe_run, recipe_run["runs2"])
    assert sorted(one) == sorted(two)
    worst = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert worst <= TOLERANCE, f"{recipe_run['name']}: 2-process weights differ from 1-process ones by {worst:.3g}"
    base = load_file(Path(resolve_model_path("smoke")) / "model.safetensors")
    if recipe_run["adapter"] is not None:
        moved = max(float(one[k].abs().max()) for k in one if "lora_B" in k)  # LoRA B starts at zero
    else:  # the merged reward model against the base model's weights it started from
        moved = max(float((one[k] - base[k]).abs().max()) for k in base if k in one and "proj" in k)
    assert moved > 100 * TOLERANCE
    if "--warmup" in recipe_run["args"]:  # the merged warm-up against the base model
        assert max(float((one[f"warmup.{k}"] - base[k]).abs().max()) for k in base if "proj" in k) > 100 * TOLERANCE
    if recipe_run["recipe"] != "reward":  # the reward model's work folder, with its settings, is removed
        settings = json.loads((recipe_run["runs2"] / recipe_run["adapter"].parent / "train_settings.json")
                              .read_text())["args"]
        assert (settings["per_device_train_batch_size"], settings["gradient_accumulation_steps"]) == \
            recipe_run["device_batch"]


@pytest.mark.slow
def test_each_recipe_s_registry_holds_one_model_that_the_notebook_reuses(recipe_run, monkeypatch):
    from ftsafety import preference, repnoise, rewards
    from ftsafety.files import read_json
    from ftsafety.profiles import resolve

    assert recipe_run["two"].returncode == 0, recipe_run["two"].stderr[-3000:]
    runs, recipe = recipe_run["runs2"], recipe_run["recipe"]
    monkeypatch.setenv("FTSAFETY_RUNS", str(runs))
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", json.dumps(recipe_run["overrides"]))
    profile = resolve("smoke")
    trained_again = lambda *a, **k: pytest.fail("trained again")
    model = _model_dir(recipe_run, runs)
    # The notebook's own calls, in one process, with its parameters' values on smoke: nothing is trained again.
    if recipe == "dpo":
        from ftsafety import training

        train = model.parent
        args = recipe_run["args"]
        method = args[args.index("--method") + 1] if "--method" in args else "sigmoid"
        config, one_config = (read_json(r / recipe_run["adapter"].parent / "train_config.json")
                              for r in (runs, recipe_run["runs1"]))
        start = "smoke"
        if "--warmup" in args:  # DPO started from the warm-up, named by its recipe digest, alike in both registries
            start = str(_warmup_dir(runs))
            assert config["base_model"] == f"$FTSAFETY_RUNS/{NB05}/sft-warmup/{_warmup_dir(runs).name}"
        assert config == one_config | {"processes": 2}  # recorded only where > 1
        monkeypatch.setattr(preference, "on_policy_pairs", trained_again)
        monkeypatch.setattr(preference.PreferenceModel, "train", trained_again)
        monkeypatch.setattr(training, "sft_lora", trained_again)
        pairs = preference.start_pairs(profile, "05_preference_optimization", "smoke", 4, 4, samples=4, seed=0,
                                       progress=False)
        if "--warmup" in args:
            assert preference.sft_warmup(profile, "05_preference_optimization", pairs, "smoke", seed=0,
                                         progress=False) == start
            assert read_json(Path(start) / "train_summary.json")["processes"] == 2  # the merged warm-up says so
        adapter, summary = preference.optimise(profile, "05_preference_optimization", train.parent.name, pairs, start,
                                               method, beta=0.1, lr=0.0002, epochs=1, seed=0)
        assert adapter == train / "adapter" and summary["processes"] == 2
    elif recipe == "repnoise":
        import random

        from ftsafety import data
        from ftsafety.variants import shorten

        harmful_train = data.harmful("train")
        random.Random(0).shuffle(harmful_train)
        benign = data.benign()
        random.Random(1).shuffle(benign)
        retain_rows = shorten([{"prompt": r["prompt"], "response": r["response"]} for r in benign[:2]], 3)
        monkeypatch.setattr(repnoise, "repnoise_lora", trained_again)
        path = repnoise.defended_model(profile, "06_repnoise", harmful_train[:4], "smoke", alpha=1.0, beta=0.001,
                                       lr=0.0005, epochs=1, seed=0, retain=retain_rows)
        assert Path(path) == model
        summary = read_json(model.parent / "train" / "train_summary.json")
        one = read_json(recipe_run["runs1"] / "smoke/06_repnoise/defended/train/train_summary.json")
        assert summary["processes"] == 2 and "processes" not in one
        # One record per optimiser step, its loss parts averaged over the step's micro-batches in both processes:
        # the 1-process run's, which accumulated the same micro-batches.
        assert [h["step"] for h in summary["history"]] == [h["step"] for h in one["history"]] == [1, 2]
        for two_step, one_step in zip(summary["history"], one["history"]):
            assert two_step == pytest.approx(one_step, rel=1e-5)
    else:
        monkeypatch.setattr(rewards, "train_reward_model", trained_again)
        path = rewards.reward_model(profile, "07_reward_model_reliability", rewards.mixed_preferences(8, seed=0),
                                    profile.model, lr=0.0002, epochs=1, seed=0)
        assert Path(path) == model and read_json(model / "train_summary.json")["processes"] == 2


def test_repnoise_noise_of_a_row_does_not_depend_on_its_batch():
    import torch

    from ftsafety.repnoise import _row_noise, noise_seed

    def noise(lengths, rows, width=3, padded=6):
        generators = [torch.Generator().manual_seed(noise_seed(0, 1, r)) for r in rows]
        return _row_noise(torch.zeros(len(rows), padded, width), lengths, generators)

    alone = noise([4], [7], padded=4)
    in_batch = noise([2, 4], [3, 7], padded=6)  # another row beside it, padded further
    assert torch.equal(in_batch[1, :4], alone[0]) and not in_batch[1, 4:].any()
    assert not torch.equal(noise([4], [8], padded=4), alone)  # another row, other noise


def test_repnoise_refuses_fsdp_and_deepspeed(monkeypatch, tmp_path, smoke_profile):
    from ftsafety import models, repnoise

    trainer_cls = repnoise._trainer_cls()

    class Sharded(trainer_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.is_fsdp_enabled = True  # what the Trainer sets under an FSDP config (on GPUs only)

    monkeypatch.setattr(repnoise, "_trainer_cls", lambda: Sharded)
    m = models.load("smoke", for_training=True)
    with pytest.raises(NotImplementedError, match="one process or data-parallel"):
        repnoise.repnoise_lora(m.model, m.tokenizer, data.harmful("train")[:2], smoke_profile, tmp_path / "train")
    assert not (tmp_path / "train" / "adapter").exists()


def test_repnoise_loss_of_a_batch_depends_only_on_its_rows_and_step(tmp_path, smoke_profile):
    """What lets N processes compute one process's RepNoise loss: the noise a row meets is drawn from (seed, step,
    row), not from the global generator, whose state differs between processes and micro-batches. (The 2-process test
    cannot show it on smoke: the noise MMD of a 1-row micro-batch moves its weights by less than TOLERANCE.)"""
    import torch
    from peft import get_peft_model

    from ftsafety import models, repnoise
    from ftsafety.training import lora_config

    m = models.load("smoke", for_training=True)
    rows = repnoise.paired_rows(m.tokenizer, data.harmful("train")[:2], max_length=smoke_profile.max_length)
    batch = repnoise.collate_pairs([r | {"row": i} for i, r in enumerate(rows)], m.tokenizer.pad_token_id)
    trainer = repnoise.RepNoiseTrainer(model=get_peft_model(m.model, lora_config(smoke_profile)),
                                       args=repnoise.repnoise_args(smoke_profile, tmp_path, progress=False))
    with torch.no_grad():
        first = trainer.compute_loss(trainer.model, batch)
        torch.randn(100)  # the global generator moves on, as another micro-batch or process would move it
        again = trainer.compute_loss(trainer.model, batch)
        trainer.state.global_step = 1
        next_step = trainer.compute_loss(trainer.model, batch)
    assert float(first) == float(again)
    assert float(next_step) != float(first)  # another step: other noise
    assert trainer.parts_history[0]["noise_mmd"] > 0
