"""Local stand-ins for the hub models of the gpu and paper profiles, laid out as a hub mirror.

The gpu and paper profiles name hub models (the policy, Llama Guard, reward models). CI has no hub, so the tests put a
tiny random model of the same kind under each of those ids in a folder that ``$FTSAFETY_HUB_MIRROR`` points to
(:func:`ftsafety.paths.hub_mirror`); the library then loads them through the very calls the hub path makes. The data
sets' stand-ins are files in ``tests/fixtures/hub`` in each data set's real schema. These models measure nothing: they
prove that the hub profiles' code runs.
"""
from __future__ import annotations

import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hub"

# A chat template of Llama Guard's shape: message contents are lists of {"type": "text", "text": ...} parts.
GUARD_TEMPLATE = (
    "{%- for m in messages -%}{{ m['role'] }}: "
    "{%- if m['content'] is string -%}{{ m['content'] }}"
    "{%- else -%}{%- for part in m['content'] -%}{{ part['text'] }}{%- endfor -%}{%- endif %}\n"
    "{% endfor -%}verdict:"
)


def hub_model_ids(profile) -> dict[str, str]:
    """Every hub model the profile's notebooks load, with the kind of stand-in each needs."""
    from ftsafety.judges import LLAMA_GUARD
    from ftsafety.rewards import HUB_REWARD_MODELS

    ids = {profile.model: "causal", profile.aligned_model: "causal", LLAMA_GUARD: "guard"}
    for rm in HUB_REWARD_MODELS.get(profile.name, ()):
        # OpenAssistant's DeBERTa reads a (question, answer) text pair; Skywork's Llama RM reads a chat.
        ids[rm] = "reward-chat" if "llama" in rm.lower() else "reward-pair"
    return {k: v for k, v in ids.items() if k and "/" in k}


def build_mirror(root: Path, profiles) -> Path:
    """Write a stand-in under ``root/<owner>/<name>`` for every hub model of ``profiles``; returns ``root``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from ftsafety.models import smoke_model_dir

    smoke = smoke_model_dir()
    for profile in profiles:
        for repo, kind in hub_model_ids(profile).items():
            target = root / repo
            if target.exists():
                continue
            if kind in ("causal", "guard"):
                shutil.copytree(smoke, target)
                if kind == "guard":
                    tok = AutoTokenizer.from_pretrained(target)
                    tok.chat_template = GUARD_TEMPLATE
                    tok.save_pretrained(target)
                continue
            tok = AutoTokenizer.from_pretrained(smoke)
            if kind == "reward-pair":
                tok.chat_template = None
            config = LlamaConfig.from_pretrained(smoke, num_labels=1)
            torch.manual_seed(0)
            LlamaForSequenceClassification(config).save_pretrained(target)
            tok.save_pretrained(target)
    return root


def mirror_path(models_root: Path) -> str:
    """``$FTSAFETY_HUB_MIRROR`` for the stand-ins: the data set fixtures, then the model stand-ins."""
    import os

    return os.pathsep.join([str(FIXTURES), str(models_root)])
