"""Preference optimisation for safety (notebook 05, Alami et al.): pairs from the course's data, TRL's trainers, LoRA.

- :func:`preference_pairs`: harmful train requests with (chosen: refusal, rejected: redacted compliance), plus benign
  and safe-but-scary prompts with (chosen: the model's own helpful answer, rejected: a needless refusal), so that
  over-refusal is trained against as well.
- :func:`preference_lora`: one method, one LoRA fine-tune. ``method`` is one of TRL's DPO loss types
  (:data:`PAPER_LOSSES` holds the ten that the course takes Alami et al.'s ten methods to be), ``"kto"`` (TRL's
  KTOTrainer on the pairs split into unpaired rows), or, where the installed TRL has them in ``trl.experimental``,
  ``"orpo"`` and ``"simpo"`` (CPO with the SimPO loss). DPO losses joined by ``+`` are summed (TRL's ``loss_type``
  list): ``"sigmoid+sft"`` adds the chosen answers' NLL (RPO).
- :func:`implicit_reward`, :func:`dpo_sigmoid_loss`, :func:`ipo_loss`, :func:`nca_pair_loss`: three of those losses
  written out on per-example log-probabilities, equal to TRL's (the references of notebook 05's exercises).

Rows are rendered with the course's templates, exactly as evaluation renders them.
"""
from __future__ import annotations

import contextlib
import logging
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from . import data
from .files import write_json
from .profiles import Profile
from .templates import get_template
from .training import TrainedModel
from .variants import shorten

logger = logging.getLogger(__name__)

# The course's reading of Alami et al.'s ten methods, which the paper does not state: the ten DPO loss types of TRL's
# DPOTrainer up to v0.9 (July 2024; v0.10 added apo_zero and apo_down). TRL has since renamed aot_pair aot_unpaired.
PAPER_LOSSES = ("sigmoid", "hinge", "ipo", "robust", "exo_pair", "bco_pair", "sppo_hard", "nca_pair", "aot", "aot_unpaired")
OTHER_METHODS = ("kto", "orpo", "simpo")
# Judges that must all call an answer bad before it becomes a pair's rejected side (see on_policy_pairs).
PAIR_JUDGES = ("keyword", "classifier")
# Loss-specific settings: exo_pair's 1e-3 is the value TRL's documentation gives for the EXO paper's pairwise loss;
# robust's 0.1 is the course's choice of label-flip rate (TRL accepts [0, 0.5); at 0 the loss is plain DPO).
LOSS_OPTIONS = {"robust": {"label_smoothing": 0.1}, "exo_pair": {"label_smoothing": 1e-3}}


def loss_options(method: str) -> dict:
    """The DPOConfig settings of ``method``'s losses (``"robust+sft"`` gets robust's label smoothing)."""
    return {k: v for loss in method.split("+") for k, v in LOSS_OPTIONS.get(loss, {}).items()}


def implicit_reward(logps, ref_logps, beta: float):
    """DPO's implicit reward of each answer, ``beta * (log pi(y|x) - log pi_ref(y|x))`` (Rafailov et al. 2023, §5.1).

    ``logps`` and ``ref_logps`` are tensors of per-example summed log-probabilities of the answer's tokens under the
    policy and the reference. TRL logs the batch means of these as ``rewards/chosen`` and ``rewards/rejected``.
    """
    return beta * (logps - ref_logps)


def dpo_sigmoid_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta: float):
    """DPO's loss (Rafailov et al. 2023, Eq. 7), the batch mean: TRL's ``loss_type="sigmoid"``.

    ``-log sigmoid(beta * ((log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))))`` per pair, averaged
    over the batch (``trl.trainer.dpo_trainer.DPOTrainer._compute_loss`` in TRL 1.16).
    """
    import torch.nn.functional as F

    margin = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    return (-F.logsigmoid(beta * margin)).mean()


def ipo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta: float):
    """IPO's loss (Azar et al. 2023, Eq. 17 with tau = beta), the batch mean: TRL's ``loss_type="ipo"``.

    ``((log-ratio of y_w) - (log-ratio of y_l) - 1 / (2 beta))**2`` per pair. TRL gives it log-probabilities averaged
    over each answer's completion tokens, not summed (its comment: confirmed with the IPO authors); pass those to match.
    """
    margin = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    return ((margin - 1 / (2 * beta)) ** 2).mean()


def nca_pair_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta: float):
    """NCA's loss for a pair (Chen et al. 2024), the batch mean: TRL's ``loss_type="nca_pair"``.

    With ``r = beta * (log pi - log pi_ref)`` per answer: ``-log sigmoid(r_w) - 1/2 log sigmoid(-r_w)
    - 1/2 log sigmoid(-r_l)``. Each answer's reward enters on its own, not only through the margin ``r_w - r_l``: the
    first two terms depend on the chosen answer alone and are lowest at ``r_w = log 2``, so a chosen answer that loses
    likelihood against the reference is pulled back whatever the rejected one does. At the start (policy = reference,
    every ``r`` 0) the gradient is ``-beta/4`` times that of the margin of log-ratios, the direction DPO's takes.
    """
    import torch.nn.functional as F

    chosen = implicit_reward(chosen_logps, ref_chosen_logps, beta)
    rejected = implicit_reward(rejected_logps, ref_rejected_logps, beta)
    return (-F.logsigmoid(chosen) - 0.5 * F.logsigmoid(-chosen) - 0.5 * F.logsigmoid(-rejected)).mean()


def preference_pairs(n_safety: int, n_helpful: int, seed: int = 0) -> list[dict]:
    """``{"prompt", "chosen", "rejected", "kind"}`` rows: safety pairs, then helpfulness pairs, shuffled together."""
    rng = random.Random(seed)
    harmful = data.harmful("train")
    rng.shuffle(harmful)
    pairs = [{"prompt": r["prompt"], "chosen": r["refusal"], "rejected": r["compliance"], "kind": "safety"}
             for r in data.take(harmful, n_safety)]
    refusals = sorted({r["refusal"] for r in data.harmful()})
    helpful = shorten(data.borderline() + data.benign(), 3)
    rng.shuffle(helpful)
    # Safe-but-scary prompts first: they are where a refusal-trained model over-refuses.
    helpful.sort(key=lambda r: "category" not in r)
    pairs += [{"prompt": r["prompt"], "chosen": r["response"], "rejected": rng.choice(refusals), "kind": "helpful"}
              for r in helpful[:n_helpful]]
    rng.shuffle(pairs)
    return pairs


def on_policy_pairs(model, tokenizer, pairs: Sequence[dict], profile: Profile, template="chat",
                    judge=PAIR_JUDGES, samples: int = 0, keep_helpful: bool = False, seed: int = 0,
                    progress: bool = True) -> list[dict]:
    """``pairs`` with each rejected side replaced by the start model's own answer where that answer is the bad one.

    The bad answer of a safety pair is a compliance, of a helpfulness pair a refusal; every judge in ``judge`` (one
    judge or several) must agree. Why several: the keyword judge calls "I can't help with that." a compliance (the
    phrase is not on Qi et al.'s list), and a safety pair that rejects it teaches the model to stop refusing; the
    learned judge catches such refusals. The greedy answer is tried first, then ``samples`` sampled answers
    (temperature 1). Where no answer is bad, a safety pair keeps the data's rejected text and a helpfulness pair is
    dropped unless ``keep_helpful``. Each row gets ``rejected_source``: "policy" or "data".

    Why: a DPO-style loss can widen its margin by pushing down text the model would never write (a "[redacted step]"
    list) while the model's own greedy answer, which evaluation reads, stays as likely as before. And a helpfulness pair
    whose rejected side is a canned refusal, like the safety pairs' chosen side, can teach a small model "refusals are
    bad" more than "this prompt is safe"; ``keep_helpful=True`` keeps those pairs, to try it.
    """
    import torch

    from .generation import respond
    from .judges import get_judge

    if isinstance(judge, str) or callable(judge):
        judge = (judge,)
    judges = [get_judge(j) if isinstance(j, str) else j for j in judge]
    prompts = [p["prompt"] for p in pairs]
    kw = dict(max_new_tokens=profile.max_new_tokens, batch_size=profile.eval_batch_size,
              max_prompt_tokens=profile.max_prompt_tokens, progress=progress)
    candidates = [[a] for a in respond(model, tokenizer, prompts, template, desc="start model's answers", **kw)]
    if samples:
        torch.manual_seed(seed)
        sampled = respond(model, tokenizer, prompts * samples, template, do_sample=True, temperature=1.0, top_p=1.0,
                          desc="sampled answers", **kw)
        for i, a in enumerate(sampled):
            candidates[i % len(pairs)].append(a)
    flat = [(i, a) for i, c in enumerate(candidates) for a in c]
    verdicts = [[v.label for v in j([prompts[i] for i, _ in flat], [a for _, a in flat])] for j in judges]
    bad_answer: dict[int, str] = {}
    for (i, a), labels in zip(flat, zip(*verdicts)):
        bad = "compliance" if pairs[i]["kind"] == "safety" else "refusal"
        if all(label == bad for label in labels) and a.strip() and i not in bad_answer:
            bad_answer[i] = a
    out = []
    for i, p in enumerate(pairs):
        if i in bad_answer:
            out.append(p | {"rejected": bad_answer[i], "rejected_source": "policy"})
        elif p["kind"] == "safety" or keep_helpful:
            out.append(p | {"rejected_source": "data"})
    return out


def start_pairs(profile: Profile, experiment: str, start_model: str, n_safety: int, n_helpful: int, samples: int = 4,
                seed: int = 0, force: bool = False, progress: bool = True, name: str = "pairs") -> list[dict]:
    """:func:`preference_pairs` made on-policy for ``start_model``, stored in the run registry as ``name`` and reused.

    The start model's answers are generated once per setting, so a re-run of the notebook retrains nothing. Give each
    setting of one notebook its own ``name`` (a stored set of another setting is replaced).
    """
    from .files import CorruptFile, read_json
    from .models import load
    from .runs import Run, changed_keys, normal

    settings = normal({"start_model": start_model, "n_safety": n_safety, "n_helpful": n_helpful, "samples": samples,
                        "seed": seed, "max_new_tokens": profile.max_new_tokens, "judge": PAIR_JUDGES})
    path = Run(profile.name, experiment, name).dir / "pairs.json"
    if not force and path.is_file():
        try:
            stored = read_json(path)
            if normal(stored["settings"]) == settings:
                logger.info("%s/%s: reused the stored pairs (%s)", experiment, name, path)
                return stored["pairs"]
            logger.info("%s/%s: making the pairs again (the stored ones have another %s)", experiment, name,
                        changed_keys(normal(stored["settings"]), settings))
        except CorruptFile as err:
            print(f"ftsafety: {err}; making the pairs again", file=sys.stderr)
    else:
        logger.info("%s/%s: making the pairs (%s)", experiment, name, "forced" if force else "none stored")
    m = load(start_model)
    pairs = on_policy_pairs(m.model, m.tokenizer, preference_pairs(n_safety, n_helpful, seed=seed), profile,
                            samples=samples, seed=seed, progress=progress)
    write_json(path, {"settings": settings, "pairs": pairs})
    return pairs


def _experimental():
    """A context in which importing from ``trl.experimental`` is silent.

    TRL warns once, on the first import from ``trl.experimental``, that its APIs may change without notice: true, and
    nothing a student can act on; the course tests the two trainers it takes from there (ORPO, CPO for SimPO). TRL's
    own way to import without the notice is ``trl.import_utils.suppress_experimental_warning`` (TRL 1.x; its other
    way, the environment variable TRL_EXPERIMENTAL_SILENCE, would silence it for the whole process).
    """
    try:
        from trl.import_utils import suppress_experimental_warning
    except ImportError:  # a TRL without it: the notice shows, as it did
        return contextlib.nullcontext()
    return suppress_experimental_warning()


def available_methods() -> tuple[str, ...]:
    """Methods this TRL installation can run (ORPO and SimPO live in ``trl.experimental`` and may be absent)."""
    out = list(PAPER_LOSSES) + ["kto"]
    for name, module in (("orpo", "trl.experimental.orpo"), ("simpo", "trl.experimental.cpo")):
        try:
            with _experimental():
                __import__(module)
            out.append(name)
        except ImportError:
            pass
    return tuple(out)


def preference_config(profile: Profile, output_dir, method: str = "sigmoid", beta: float = 0.1, lr: float | None = None,
                      epochs: float | None = None, seed: int = 0, progress: bool = True, on_cuda: bool = False):
    """``(trainer class, its config)`` for one preference method: TRL's DPO, KTO, ORPO or CPO (SimPO) trainer, its
    config built by :func:`ftsafety.training.trainer_config` from the profile, with the method's own fields."""
    from .training import trainer_config

    dpo_losses = PAPER_LOSSES + ("apo_zero", "apo_down", "discopop", "sigmoid_norm", "sft")
    losses = method.split("+")
    if method not in OTHER_METHODS and not (set(losses) <= set(dpo_losses) and losses != ["sft"]):
        raise ValueError(f"unknown preference method {method!r}; known: {', '.join(dpo_losses[:-1] + OTHER_METHODS)}, "
                         f"or DPO losses joined by '+' (e.g. 'sigmoid+sft' adds the chosen answers' NLL)")
    from .launch import processes

    common = dict(max_length=profile.max_length, beta=beta,
                  # Under DDP: every LoRA weight takes part in the policy's forward of every step (the reference's runs
                  # without gradients), so DDP need not search the graph for unused ones; set only then, so that
                  # one-process settings stay as they were.
                  **({"ddp_find_unused_parameters": False} if processes() > 1 else {}))
    build = lambda cls, **extra: trainer_config(cls, profile, output_dir, lr, epochs, seed, progress, on_cuda,
                                                **common, **extra)
    if method == "kto":
        from trl import KTOConfig, KTOTrainer

        return KTOTrainer, build(KTOConfig)
    if method in ("orpo", "simpo"):
        # ORPO's and CPO's trainers pad pairs with their own collator, which needs the dataset's prompt/chosen/rejected
        # columns: they switch remove_unused_columns off themselves, with a warning asking for it to be set here.
        with _experimental():
            if method == "orpo":
                from trl.experimental.orpo import ORPOConfig, ORPOTrainer

                return ORPOTrainer, build(ORPOConfig, remove_unused_columns=False)
            from trl.experimental.cpo import CPOConfig, CPOTrainer

            return CPOTrainer, build(CPOConfig, remove_unused_columns=False, loss_type="simpo", cpo_alpha=0.0)
    from trl import DPOConfig, DPOTrainer

    return DPOTrainer, build(DPOConfig, loss_type=losses, **loss_options(method))


@dataclass
class PreferenceResult:
    model: object  # the trained PeftModel
    method: str
    adapter_dir: Path
    history: list[dict] = field(default_factory=list)  # per logged step: loss and the trainer's reward metrics
    train_s: float = 0.0

    def summary(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {"method": self.method, "adapter_dir": str(self.adapter_dir), "steps": len(self.history),
                "train_s": round(self.train_s, 2), "final": last}


def _rows(tokenizer, pairs: Sequence[dict], template) -> list[dict]:
    tpl = get_template(template)
    return [{"prompt": tpl.render(tokenizer, p["prompt"]), "chosen": tpl.completion(p["chosen"]),
             "rejected": tpl.completion(p["rejected"])} for p in pairs]


# How KTO's unpaired rows are ordered (see _unpaired); part of a KTO run's config, so that runs trained on the order
# before, where half of the KL estimate's pairs shared a prompt, are trained again rather than read back.
KTO_ORDER = "neighbours differ in prompt"


def _unpaired(rows: Sequence[dict]) -> list[dict]:
    """KTO's unpaired rows: each pair's chosen answer (desirable) and its rejected one (undesirable), ordered so that
    no two neighbours share a prompt.

    KTO's reference point is a KL estimate from mismatched pairs: TRL's KTOTrainer reads the rows in order and pairs
    each row's prompt with the answer of the row before it in its micro-batch (the first row with the last). Rows
    written pair by pair (chosen, rejected, chosen, rejected, ...) would make half of those pairs a prompt with its own
    other answer. So the first half holds pair i's chosen answer where i is even and its rejected one where i is odd,
    the second half each pair's other answer: neighbours come from different pairs, and each half alternates labels,
    so a micro-batch holds both kinds. (Only a micro-batch of exactly one row more than the pairs wraps a pair onto
    itself.)
    """
    def row(r, chosen: bool) -> dict:
        return {"prompt": r["prompt"], "completion": r["chosen" if chosen else "rejected"], "label": chosen}

    return [row(r, i % 2 == 0) for i, r in enumerate(rows)] + [row(r, i % 2 == 1) for i, r in enumerate(rows)]


def preference_lora(
    model,
    tokenizer,
    pairs: Sequence[dict],
    profile: Profile,
    output_dir: str | Path,
    method: str = "sigmoid",
    beta: float = 0.1,
    lr: float | None = None,
    epochs: float | None = None,
    template="chat",
    seed: int = 0,
    progress: bool = True,
    resume: bool = True,
) -> PreferenceResult:
    """Train a LoRA adapter on ``model`` with one preference-optimisation method; returns the trained model."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    from .runs import digest
    from .training import lora_config, lora_identity, quiet, run_training

    disable_progress_bar()
    if not pairs:
        raise ValueError("no preference pairs")
    output_dir = Path(output_dir)
    on_cuda = next(model.parameters()).device.type == "cuda"
    trainer_cls, args = preference_config(profile, output_dir, method, beta, lr, epochs, seed, progress, on_cuda)
    rows = _rows(tokenizer, pairs, template)
    dataset = _unpaired(rows) if method == "kto" else rows
    tokenizer.padding_side = "right"
    trainer = trainer_cls(model=model, args=args, train_dataset=Dataset.from_list(dataset), processing_class=tokenizer,
                          peft_config=lora_config(profile))
    quiet(trainer, progress)
    result = run_training(
        trainer, output_dir, {"rows": digest(dataset), "method": method, "lora": lora_identity(profile)}, resume=resume,
        history=lambda t: [{k: v for k, v in h.items() if k == "step" or k == "loss" or k.startswith(("rewards/", "logps/"))}
                           for h in t.state.log_history if "loss" in h],
        make_result=lambda model, adapter_dir, history, train_s: PreferenceResult(model, method, adapter_dir, history,
                                                                                   train_s),
    )
    tokenizer.padding_side = "left"
    return result


class PreferenceModel(TrainedModel):
    """One method's preference fine-tune (:func:`preference_lora`), trained once and measured as often as asked."""

    def __init__(self, profile: Profile, base_model: str, pairs: Sequence[dict], method: str, train_dir, config: dict,
                 progress: bool = True, retrain: bool = False, **options):
        super().__init__(base_model, train_dir, config, progress, retrain)
        self.profile, self.pairs, self.method, self.options = profile, pairs, method, options

    def train(self, base):
        return preference_lora(base.model, base.tokenizer, self.pairs, self.profile, self.train_dir,
                               method=self.method, progress=self.progress, resume=not self.retrain, **self.options)

    def summarise(self, result) -> dict:
        return result.summary() | {"history": result.history}

    def from_stored(self, stored: dict) -> dict:
        return stored


def preference_model(profile: Profile, experiment: str, name: str, pairs: Sequence[dict], base_model: str, method: str,
                     beta: float = 0.1, lr: float | None = None, epochs: float | None = None, seed: int = 0,
                     force: bool = False, progress: bool = True) -> PreferenceModel:
    """The :class:`PreferenceModel` of run ``name``: one method's fine-tune of ``base_model`` on ``pairs``, kept in
    ``runs/<profile>/<experiment>/<name>/train`` under its config (what :func:`optimise_and_evaluate` measures and
    :func:`optimise` trains alone)."""
    from .runs import Run, digest
    from .training import lora_identity

    lr = lr if lr is not None else profile.lr
    epochs = epochs if epochs is not None else profile.epochs
    config = {"base_model": base_model, "method": method, "beta": beta, "lr": lr, "epochs": epochs, "seed": seed,
              "pairs_sha256": digest(list(pairs)), "n_pairs": len(pairs), "loss_options": loss_options(method),
              "lora": lora_identity(profile), "max_steps": profile.max_steps}
    if method == "kto":
        config["row_order"] = KTO_ORDER
    train_dir = Run(profile.name, experiment, name).dir / "train"
    return PreferenceModel(profile, base_model, pairs, method, train_dir, config, progress, retrain=force, beta=beta,
                           lr=lr, epochs=epochs, seed=seed)


def optimise_and_evaluate(
    profile: Profile,
    experiment: str,
    name: str,
    pairs: Sequence[dict],
    base_model: str,
    method: str,
    beta: float = 0.1,
    lr: float | None = None,
    epochs: float | None = None,
    seed: int = 0,
    task=None,
    sets: Sequence[str] | None = None,
    judge: str = "keyword",
    force: bool = False,
    progress: bool = True,
):
    """One method's fine-tune of ``base_model`` on ``pairs``, measured and recorded like every experiment's run."""
    from .evaluate import EVAL_SETS, eval_config
    from .experiments import evaluate_trained
    from .runs import Run

    sets = tuple(sets or EVAL_SETS)
    trained = preference_model(profile, experiment, name, pairs, base_model, method, beta, lr, epochs, seed, force,
                               progress)
    config = {**trained.config, "sets": list(sets), **eval_config(profile, "chat", judge, sets),
              "task": [task.task, task.digest()] if task else None}
    return evaluate_trained(trained, Run(profile.name, experiment, name), config, profile, "chat", judge, sets, task,
                            force, progress)


def optimise(profile: Profile, experiment: str, name: str, pairs: Sequence[dict], base_model: str, method: str,
             beta: float = 0.1, lr: float | None = None, epochs: float | None = None, seed: int = 0,
             force: bool = False, progress: bool = True) -> tuple[Path, dict]:
    """Only the fine-tune of :func:`optimise_and_evaluate`: ``(adapter folder, training summary)``, trained or found
    where that function keeps it and under the same config, so that the notebook's call afterwards measures it without
    training again. What ``ftsafety train --recipe dpo`` runs, in one process or in each process of ``accelerate
    launch``."""
    from .models import load

    trained = preference_model(profile, experiment, name, pairs, base_model, method, beta, lr, epochs, seed, force,
                               progress)
    _, summary = trained.ensure(load(base_model, for_training=True))
    return trained.train_dir / "adapter", summary


def sft_warmup(profile: Profile, experiment: str, pairs: Sequence[dict], base_model: str, lr: float | None = None,
               epochs: float | None = None, seed: int = 0, force: bool = False, progress: bool = True) -> str:
    """Path of ``base_model`` after supervised fine-tuning on the pairs' *chosen* answers (a LoRA adapter, merged and
    saved): the first stage of an SFT-then-preference pipeline, the course's design for notebook 05's headline. A
    preference run started from this path uses it as its own reference, as such pipelines do.

    Stored under ``runs/<profile>/<experiment>/sft-warmup/model-<recipe digest>`` and reused while the recipe (base,
    rows, learning rate, epochs, seed, LoRA) holds; the profile's learning rate and epochs by default.
    """
    from .launch import cached_model_together, is_main_process
    from .models import load
    from .runs import Run, digest
    from .training import lora_identity, save_merged, sft_lora

    rows = [{"prompt": p["prompt"], "response": p["chosen"]} for p in pairs]
    recipe = {"base_model": base_model, "data_sha256": digest(rows), "n_rows": len(rows),
              "lr": lr if lr is not None else profile.lr, "epochs": epochs if epochs is not None else profile.epochs,
              "seed": seed, "lora": lora_identity(profile), "max_steps": profile.max_steps, "template": "chat"}
    root = Run(profile.name, experiment, "sft-warmup").dir

    def build(target):
        base = load(base_model, for_training=True)
        # checkpoints go to a sibling work folder, so an interrupted warm-up resumes; the merged model is the target
        result = sft_lora(base.model, base.tokenizer, rows, profile, target.parent / f"{target.name}-train",
                          resume=not force, template="chat", lr=recipe["lr"], epochs=recipe["epochs"], seed=seed,
                          progress=progress)
        if is_main_process():  # where several processes trained it together, the main one saves it
            save_merged(result, base.tokenizer, target)

    return cached_model_together(root, recipe, build, force)
