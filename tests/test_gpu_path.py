"""The hub profiles' code paths without a GPU or a hub: precision choice, profile overrides, hub mirrors."""
import json

import pytest

from ftsafety import models
from ftsafety.profiles import resolve


@pytest.mark.parametrize("device, requested, bf16, weights, flags", [
    ("cpu", "auto", None, "float32", {"bf16": False, "fp16": False}),
    ("mps", "auto", None, "float32", {"bf16": False, "fp16": False}),
    ("cuda", "auto", True, "bfloat16", {"bf16": True, "fp16": False}),  # A100, H100
    ("cuda", "auto", False, "float16", {"bf16": False, "fp16": True}),  # T4, V100: fp16 with a loss scaler
    ("cuda", "float32", True, "float32", {"bf16": False, "fp16": False}),
    ("cuda", "float16", True, "float16", {"bf16": False, "fp16": True}),
])
def test_precision_is_chosen_from_the_device(device, requested, bf16, weights, flags):
    p = models.precision(device, requested, bf16_supported=bf16)
    assert p.weights == weights and p.trainer_flags() == flags
    assert p.line().startswith(f"{device}: {weights} weights")


def test_impossible_precisions_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="needs a CUDA GPU.*auto or float32"):
        models.precision("cpu", "bfloat16")
    with pytest.raises(ValueError, match="does not support it; use auto or float16"):
        models.precision("cuda", "bfloat16", bf16_supported=False)
    with pytest.raises(ValueError, match="choose auto, float32"):
        models.precision("cpu", "half")


def test_trainer_arguments_follow_the_precision(monkeypatch):
    from ftsafety import training

    monkeypatch.setattr("torch.cuda.is_bf16_supported", lambda *a, **k: False)
    kw = training.trainer_kwargs(resolve("gpu"), "/tmp/x", on_cuda=True)
    assert (kw["bf16"], kw["fp16"]) == (False, True)
    kw = training.trainer_kwargs(resolve("gpu"), "/tmp/x", on_cuda=False)
    assert (kw["bf16"], kw["fp16"]) == (False, False)


def test_profile_overrides_from_the_environment(monkeypatch):
    monkeypatch.setenv("FTSAFETY_PROFILE", "gpu")
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", json.dumps({"n_finetune": 4, "seeds": [0]}))
    p = resolve("laptop")
    assert (p.name, p.n_finetune, p.seeds, p.max_length) == ("gpu", 4, (0,), 512)
    assert resolve("laptop", n_finetune=7).n_finetune == 7  # arguments apply last
    assert resolve("laptop", use_env=False).n_finetune == 4  # an explicit --profile still takes the overrides
    assert resolve("laptop", use_env=False).name == "laptop"
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", '{"n_fintune": 4}')
    with pytest.raises(TypeError, match=r"\$FTSAFETY_PROFILE_OVERRIDES: unknown profile field.*n_fintune"):
        resolve()
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", "n_finetune=4")
    with pytest.raises(ValueError, match="not valid JSON"):
        resolve()
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", "[4]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        resolve()


def test_run_course_hands_a_changed_profile_to_the_notebooks(monkeypatch, tmp_path):
    from ftsafety import course

    seen = []
    monkeypatch.delenv("FTSAFETY_PROFILE_OVERRIDES", raising=False)
    monkeypatch.setattr(course, "run_notebook", lambda *a, **k: seen.append(resolve()))
    monkeypatch.setattr(course, "write_reproduction_md", lambda name: tmp_path / "R.md")
    assert course.run_course(resolve("smoke", n_finetune=3), only=["00"]) == 0
    assert [(p.name, p.n_finetune) for p in seen] == [("smoke", 3)]
    assert "FTSAFETY_PROFILE_OVERRIDES" not in __import__("os").environ  # restored afterwards


def test_a_hub_id_loads_from_a_mirror(monkeypatch, tmp_path, smoke):
    import shutil

    shutil.copytree(smoke.path, tmp_path / "Qwen" / "Qwen2.5-1.5B-Instruct")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelUnavailable, match="neither a local directory nor reachable"):
        models.load("Qwen/Qwen2.5-1.5B-Instruct")
    monkeypatch.setenv("FTSAFETY_HUB_MIRROR", f"{tmp_path / 'empty'}:{tmp_path}")
    m = models.load("Qwen/Qwen2.5-1.5B-Instruct")
    assert m.path == str(tmp_path / "Qwen" / "Qwen2.5-1.5B-Instruct")
    assert m.model.config.num_hidden_layers == 2
    (tmp_path / "local" / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FTSAFETY_HUB_MIRROR", str(tmp_path / "Qwen"))  # holds a folder named like the local one
    (tmp_path / "Qwen" / "local" / "model").mkdir(parents=True)
    assert models.resolve_model_path("local/model") == "local/model"  # an existing local path is never redirected
