import json

import pytest

import ftsafety.experiments as experiments
from ftsafety.experiments import Experiment, TaskEval, finetune_and_evaluate, finetune_and_evaluate_each
from ftsafety.tasks import arithmetic


def test_finetune_and_evaluate_records_and_reuses(smoke_profile, tmp_path, monkeypatch):
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    rows = [{"prompt": f"Add {i} and 1.", "response": f"The answer is {i + 1}."} for i in range(4)]
    task = TaskEval("arithmetic", arithmetic(3, seed=9), max_new_tokens=4)
    exp = Experiment("plain", rows, meta={"variant": "test"})
    res = finetune_and_evaluate(smoke_profile, "exp01", exp, "smoke", task=task, progress=False)
    assert res.rate("task_accuracy").n == 3 and res.rate("harmful_refusal").n == 8
    assert res.metrics["training"]["steps"] == smoke_profile.max_steps
    run_dir = tmp_path / "smoke" / "exp01" / "plain"
    assert (run_dir / "train" / "adapter" / "adapter_config.json").is_file()
    assert not list((run_dir / "train").glob("checkpoint-*"))
    mtime = (run_dir / "metrics.json").stat().st_mtime
    again = finetune_and_evaluate(smoke_profile, "exp01", exp, "smoke", task=task, progress=False)
    assert again.metrics == res.metrics and (run_dir / "metrics.json").stat().st_mtime == mtime
    other = finetune_and_evaluate(smoke_profile, "exp01", Experiment("plain", rows, lr=1e-4), "smoke",
                                  task=task, sets=("harmful",), progress=False)
    assert "capability" not in other.metrics and (run_dir / "metrics.json").stat().st_mtime > mtime
    longer = Experiment("plain", rows, lr=1e-4, eval_overrides={"capability_max_new_tokens": 9})
    res3 = finetune_and_evaluate(smoke_profile, "exp01", longer, "smoke", sets=("capability",), progress=False)
    assert res3.rate("capability").n == 6
    assert json.loads((run_dir / "config.json").read_text())["capability_max_new_tokens"] == 9


ROWS = [{"prompt": f"Add {i} and 1.", "response": f"The answer is {i + 1}."} for i in range(4)]


@pytest.fixture
def trainings(tmp_path, monkeypatch):
    """Runs go to tmp_path; the list grows by one per LoRA training."""
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    count = []
    real = experiments.sft_lora
    monkeypatch.setattr(experiments, "sft_lora", lambda *a, **k: count.append(1) or real(*a, **k))
    return count


def test_finetune_once_evaluate_under_each_template(smoke_profile, trainings, tmp_path):
    rows = ROWS
    exp = Experiment("arith", rows, template="chat:vanilla")
    res = finetune_and_evaluate_each(smoke_profile, "exp03", exp, "smoke", ["chat:vanilla", "chat:llama"],
                                     sets=("harmful", "harmful_math"), progress=False)
    assert trainings == [1] and set(res) == {"chat:vanilla", "chat:llama"}
    assert res["chat:llama"].metrics["template"] == "chat:llama"
    assert res["chat:llama"].rate("harmful_math_refusal").n == 40 and res["chat:llama"].rate("harmful_refusal").n == 8
    assert (tmp_path / "smoke" / "exp03" / "arith@chat-llama" / "metrics.json").is_file()
    # A template added later is measured on the stored adapter: no second training, same training record.
    more = finetune_and_evaluate_each(smoke_profile, "exp03", exp, "smoke", ["chat:vanilla", "chat:alpaca"],
                                      sets=("harmful", "harmful_math"), progress=False)
    assert trainings == [1] and more["chat:vanilla"].metrics == res["chat:vanilla"].metrics
    assert more["chat:alpaca"].metrics["training"] == res["chat:vanilla"].metrics["training"]
    # Other data is another fine-tune.
    finetune_and_evaluate_each(smoke_profile, "exp03", Experiment("arith", rows[:3], template="chat:vanilla"), "smoke",
                               ["chat:vanilla"], sets=("harmful",), progress=False)
    assert trainings == [1, 1]


def test_force_trains_again_instead_of_reusing_the_adapter(smoke_profile, trainings):
    rows = ROWS
    exp = Experiment("arith", rows)
    finetune_and_evaluate_each(smoke_profile, "exp", exp, "smoke", ["chat"], sets=("harmful",), progress=False)
    finetune_and_evaluate_each(smoke_profile, "exp", exp, "smoke", ["chat:llama"], sets=("harmful",), progress=False)
    assert trainings == [1]
    finetune_and_evaluate_each(smoke_profile, "exp", exp, "smoke", ["chat"], sets=("harmful",), force=True,
                               progress=False)
    assert trainings == [1, 1]


def test_an_experiments_batch_size_is_trained_with_and_is_part_of_its_identity(smoke_profile, tmp_path, monkeypatch):
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    seen = []
    real = experiments.sft_lora
    monkeypatch.setattr(experiments, "sft_lora", lambda model, tok, rows, profile, *a, **k:
                        seen.append((profile.train_batch_size, profile.grad_accum)) or real(model, tok, rows, profile, *a, **k))
    plain = Experiment("b", ROWS)
    assert "batch_size" not in experiments.train_config(smoke_profile, plain, "smoke")  # stored runs keep their identity
    finetune_and_evaluate(smoke_profile, "exp", plain, "smoke", sets=("harmful",), progress=False)
    small = Experiment("b", ROWS, batch_size=2)
    assert experiments.train_config(smoke_profile, small, "smoke")["batch_size"] == 2
    finetune_and_evaluate(smoke_profile, "exp", small, "smoke", sets=("harmful",), progress=False)
    finetune_and_evaluate(smoke_profile, "exp", small, "smoke", sets=("harmful",), progress=False)  # reused
    assert seen == [(smoke_profile.train_batch_size, smoke_profile.grad_accum), (2, 1)]
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        experiments.training_profile(smoke_profile, Experiment("b", ROWS, batch_size=0))
    # a batch larger than the profile's per-device batch is reached by accumulation, never by more memory
    big = experiments.training_profile(smoke_profile.replace(train_batch_size=10), Experiment("b", ROWS, batch_size=16))
    assert (big.train_batch_size, big.grad_accum) == (8, 2)
