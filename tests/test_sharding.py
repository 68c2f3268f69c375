"""Past one GPU, sharded: the accelerate configs shipped in configs/accelerate, the save through the trainer (which
gathers sharded weights), and a full fine-tune in 2 CPU processes against 1.

ZeRO and FSDP themselves cannot run here: DeepSpeed is not installed, and accelerate 1.15 makes CPU processes
(ACCELERATE_USE_CPU=1, gloo) data-parallel whatever the config says (docs/gpu.md, section 6).
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ftsafety.models import load
from ftsafety.paths import REPO_ROOT
from ftsafety.training import build_trainer, save_adapter

CONFIGS = REPO_ROOT / "configs" / "accelerate"
EXAMPLES = [{"prompt": f"Say the word number {i}.", "response": "Banana banana banana."} for i in range(8)]


@pytest.mark.parametrize("name, distributed_type, plugin", [
    ("multi_gpu", "MULTI_GPU", {}),
    ("zero2", "DEEPSPEED", {"zero_stage": 2}),
    ("zero3", "DEEPSPEED", {"zero_stage": 3, "zero3_save_16bit_model": True}),
    ("fsdp2", "FSDP", {"fsdp_version": 2, "fsdp_state_dict_type": "FULL_STATE_DICT"}),
])
def test_each_accelerate_config_parses_and_names_its_distributed_type(name, distributed_type, plugin):
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser

    config = ClusterConfig.from_yaml_file(str(CONFIGS / f"{name}.yaml"))  # unknown top-level keys are an error there
    assert config.distributed_type.value == distributed_type
    # The trainers choose bf16/fp16 themselves (ftsafety.models.precision), on a CPU none.
    assert config.mixed_precision == "no" and config.num_machines == 1
    nested = {**config.deepspeed_config, **config.fsdp_config}
    assert nested.items() >= plugin.items()
    # accelerate launch copies each nested key onto its own argument of that name; a misspelt key would be dropped.
    launch_args = {a.dest for a in launch_command_parser()._actions}
    assert set(nested) <= launch_args, sorted(set(nested) - launch_args)


def test_the_shipped_configs_are_the_four_the_docs_name():
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == ["fsdp2", "multi_gpu", "zero2", "zero3"]
    docs = (REPO_ROOT / "docs" / "gpu.md").read_text()
    assert "configs/accelerate/" in docs and all(f"`{p.name}`" in docs for p in CONFIGS.glob("*.yaml"))
    assert all(yaml.safe_load(p.read_text())["num_processes"] == 2 for p in CONFIGS.glob("*.yaml"))


def test_the_adapter_is_saved_by_the_trainer_as_save_pretrained_would_save_it(smoke_profile, tmp_path):
    # trainer.save_model gathers sharded weights under ZeRO-3 and FSDP; in one process the folder it leaves must be the
    # one model.save_pretrained wrote before (no tokenizer, no pickled training arguments beside an adapter).
    m = load("smoke", for_training=True)
    trainer = build_trainer(m.model, m.tokenizer, EXAMPLES[:4], smoke_profile, tmp_path / "work", progress=False)
    calls, real = [], trainer.save_model
    trainer.save_model = lambda output_dir=None, **kw: calls.append(output_dir) or real(output_dir, **kw)
    save_adapter(trainer, tmp_path / "through-trainer")
    trainer.model.save_pretrained(tmp_path / "save-pretrained")
    assert len(calls) == 1
    files = lambda d: {p.name: p.read_bytes() for p in sorted(d.iterdir())}
    assert sorted(files(tmp_path / "through-trainer")) == ["README.md", "adapter_config.json",
                                                            "adapter_model.safetensors"]
    assert files(tmp_path / "through-trainer") == files(tmp_path / "save-pretrained")
    assert trainer.processing_class is m.tokenizer and trainer.data_collator is not None  # put back


# A full fine-tune in 2 processes against 1: the smoke profile on 8 rows, two steps of 4 (as test_multiprocess.py).
FULL = json.dumps({"n_finetune": 8, "finetune": "full"})
RUN = Path("smoke") / "01_benign_degradation" / "plain-s0" / "train" / "adapter"
# Largest difference allowed between a weight trained in 2 processes and in 1. As for LoRA, both sum the same float32
# gradients in another order; Adam divides each gradient by its own running size, so on weights whose gradient is tiny
# the last bits' difference grows: 2.3e-6 measured, against 1.5e-3 that two steps at lr 1e-3 move every weight.
FULL_TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def full_runs(tmp_path_factory):
    """The smoke profile's full fine-tune of notebook 01's plain set, in 2 CPU processes through the shipped DDP config
    and in 1, each into its own run registry."""
    root = tmp_path_factory.mktemp("full")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FTSAFETY_PROFILE_OVERRIDES": FULL, "OMP_NUM_THREADS": "1"}
    train = ["-m", "ftsafety", "train", "--profile", "smoke", "--base", "smoke"]
    two = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / "multi_gpu.yaml"),
         "--num_processes", "2", "--main_process_port", str(_free_port()), *train],
        capture_output=True, text=True, timeout=900,
        env={**env, "FTSAFETY_RUNS": str(root / "two"), "ACCELERATE_USE_CPU": "1"})
    one = subprocess.run([sys.executable, *train], capture_output=True, text=True, timeout=900,
                         env={**env, "FTSAFETY_RUNS": str(root / "one")})
    return {"two": two, "one": one, "root": root}


@pytest.mark.slow
def test_a_full_fine_tune_in_two_processes_saves_one_model_equal_to_one_process(full_runs):
    from safetensors.torch import load_file

    for key in ("two", "one"):
        assert full_runs[key].returncode == 0, full_runs[key].stderr[-3000:]
    assert "trained in 2 process(es)" in full_runs["two"].stderr
    two, one = full_runs["root"] / "two" / RUN, full_runs["root"] / "one" / RUN
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    assert not (two / "adapter_config.json").exists() and not (two / "training_args.bin").exists()
    a, b = load_file(two / "model.safetensors"), load_file(one / "model.safetensors")
    base = load("smoke").model.state_dict()
    assert sorted(a) == sorted(b)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= FULL_TOLERANCE, f"2-process weights differ from 1-process ones by up to {worst:.3g}"
    assert min(float((b[k] - base[k]).abs().max()) for k in b) > 100 * FULL_TOLERANCE  # every tensor moved
