import pytest

from ftsafety.profiles import PROFILES, resolve


def test_default_is_laptop_and_all_profiles_exist():
    assert resolve().name == "laptop"
    assert set(PROFILES) == {"smoke", "laptop", "gpu", "paper"}
    assert resolve("paper").model == "meta-llama/Llama-2-7b-chat-hf"


def test_environment_variable_wins(monkeypatch):
    monkeypatch.setenv("FTSAFETY_PROFILE", "smoke")
    assert resolve("laptop").name == "smoke"
    monkeypatch.setenv("FTSAFETY_PROFILE", "nope")
    with pytest.raises(ValueError, match=r"FTSAFETY_PROFILE.*smoke, laptop, gpu, paper"):
        resolve("laptop")


def test_overrides_and_errors():
    p = resolve("laptop", lr=1e-5, lora_targets=["q_proj"])
    assert p.lr == 1e-5 and p.lora_targets == ("q_proj",) and p.name == "laptop"
    with pytest.raises(TypeError, match="unknown profile field"):
        resolve("laptop", learning_rate=1)
    with pytest.raises(ValueError, match="unknown profile 'big'"):
        resolve("big")


def test_any_model_id_becomes_the_aligned_start():
    p = resolve("gpu", model="/models/my-chat-model")
    assert p.model == p.aligned_model == "/models/my-chat-model"
    assert resolve("laptop").aligned_model is None  # built by `ftsafety align`


def test_every_profile_trains_lora_unless_asked_for_a_full_fine_tune(monkeypatch):
    assert {p.finetune for p in PROFILES.values()} == {"lora"}
    assert resolve("paper", finetune="full").finetune == "full"
    monkeypatch.setenv("FTSAFETY_PROFILE_OVERRIDES", '{"finetune": "full", "lr": 5e-5}')
    p = resolve("paper")
    assert (p.finetune, p.lr) == ("full", 5e-5)
    with pytest.raises(ValueError, match="finetune must be one of lora, full, not 'qlora'"):
        resolve("paper", finetune="qlora")
