"""Every trainer config the library builds, on every profile: no deprecation noise, no activation checkpointing on a CPU.

The configs are built without a model (fast); the two trainers whose construction used to warn (ORPO, CPO/SimPO) and
the reward model's load are built on the smoke model.
"""
import logging
import subprocess
import sys
import warnings

import pytest

from ftsafety.preference import OTHER_METHODS, PAPER_LOSSES, preference_config
from ftsafety.profiles import PROFILES
from ftsafety.repnoise import repnoise_args
from ftsafety.rewards import reward_config
from ftsafety.training import checkpointing_field, sft_config, trainer_kwargs


def every_config(profile, out):
    """(what, config) for every trainer the library makes: SFT, each preference method, reward model, RepNoise."""
    yield "sft", sft_config(profile, out)
    for method in PAPER_LOSSES + OTHER_METHODS + ("sigmoid+sft",):
        yield method, preference_config(profile, out, method)[1]
    yield "reward model", reward_config(profile, out)
    yield "repnoise", repnoise_args(profile, out)


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_trainer_config_builds_without_deprecation_warnings_and_without_checkpointing_on_a_cpu(name, tmp_path):
    profile = PROFILES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        configs = dict(every_config(profile, tmp_path))
    assert len(configs) == 1 + len(PAPER_LOSSES) + len(OTHER_METHODS) + 1 + 2
    for what, args in configs.items():
        # On a CPU (the laptop and smoke profiles always; gpu and paper when no GPU is there) nothing checkpoints, the
        # reward model included, whose TRL config defaults to checkpointing on.
        assert getattr(args, checkpointing_field()) is False, what
        assert args.gradient_checkpointing is False, what  # where it is the deprecated alias, it mirrors the new field
        assert args.learning_rate == profile.lr and args.per_device_train_batch_size == profile.train_batch_size, what


@pytest.mark.parametrize("name", list(PROFILES))
def test_checkpointing_is_on_only_on_a_gpu_and_only_where_the_profile_asks(name, tmp_path):
    profile = PROFILES[name]
    field = checkpointing_field()
    assert trainer_kwargs(profile, tmp_path, on_cuda=False)[field] is False
    assert trainer_kwargs(profile, tmp_path, on_cuda=True)[field] is profile.gradient_checkpointing
    assert (name == "paper") is profile.gradient_checkpointing  # the 7B model is the one that needs the memory


def test_experimental_trainers_are_imported_without_trls_notice():
    # In a fresh interpreter: TRL warns only on the first import from trl.experimental.
    code = ("import warnings\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    from ftsafety.preference import available_methods\n"
            "    methods = available_methods()\n"
            "print('orpo' in methods and 'simpo' in methods)\n"
            "print([str(w.message)[:80] for w in caught if 'experimental' in str(w.message)])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["True", "[]"], out


@pytest.mark.parametrize("method", ["orpo", "simpo"])
def test_pair_trainers_are_configured_as_their_collator_needs(method, smoke_profile, tmp_path, caplog):
    # ORPO's and CPO's trainers switch remove_unused_columns off themselves, with a logged warning, when the config
    # leaves it on; the course sets it as they need.
    from datasets import Dataset

    from ftsafety.models import load
    from ftsafety.training import lora_config

    m = load("smoke", for_training=True)
    trainer_cls, args = preference_config(smoke_profile, tmp_path, method)
    rows = [{"prompt": "Hi.", "chosen": " Hello!", "rejected": " No."}] * 2
    with caplog.at_level(logging.WARNING):
        trainer_cls(model=m.model, args=args, train_dataset=Dataset.from_list(rows), processing_class=m.tokenizer,
                    peft_config=lora_config(smoke_profile))
    assert args.remove_unused_columns is False
    assert not [r for r in caplog.records if "remove_unused_columns" in r.getMessage()]


def test_the_reward_model_loads_with_its_new_head_and_without_a_load_report():
    from ftsafety.models import resolve_model_path
    from ftsafety.rewards import _with_new_head

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    keep = Keep(level=logging.WARNING)
    logging.getLogger("transformers").addHandler(keep)  # transformers' loggers do not propagate to the root
    try:
        model = _with_new_head(resolve_model_path("smoke"))
    finally:
        logging.getLogger("transformers").removeHandler(keep)
    assert model.score.weight.shape[0] == 1  # the scalar reward head, new
    assert not records, records
