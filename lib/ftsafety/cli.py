"""The ``ftsafety`` command (also ``python -m ftsafety``): doctor, align, train, eval, judge, course, bench."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .files import InputError, read_jsonl

# Folders of the repository that hold the course itself: an --output there would overwrite its code, data or history.
PROTECTED_DIRS = ("lib", "notebooks", "data", "tests", ".ci", ".git", ".venv")
# The project's own files at the repository's top level (an --output beside them, e.g. out.jsonl, is fine).
PROJECT_FILES = ("README.md", "Makefile", "pyproject.toml", "environment.yml", ".gitignore", "LICENSE")


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (0 tokens, rows or prompts would measure nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def chosen_profile(name: str | None):
    """The profile to use: an explicit ``--profile`` wins over $FTSAFETY_PROFILE; without one, the variable decides."""
    from .profiles import resolve

    return resolve(name, use_env=name is None)


def check_output_path(path: str) -> Path:
    """``path`` as a file that ``eval`` may write; an :class:`InputError` when writing there would fail or do harm.

    Checked before any model is loaded, so that a mistyped ``--output`` costs nothing and never touches a folder.
    """
    from .paths import REPO_ROOT

    hint = "give a file path such as results/out.jsonl"
    full = Path(path).resolve()  # symlinks and ".." resolved: a link into lib/ is still lib/
    if path.endswith(("/", os.sep)) or full.is_dir():
        raise InputError(f"--output {path!r} is a folder; {hint} (nothing was written)")
    for name in PROTECTED_DIRS:
        folder = (REPO_ROOT / name).resolve()
        if full == folder or folder in full.parents:
            raise InputError(f"--output {path!r} is inside the repository's {name}/ folder; {hint} outside "
                             f"{', '.join(d + '/' for d in PROTECTED_DIRS)}")
    if full.parent == REPO_ROOT.resolve() and full.name in PROJECT_FILES:
        raise InputError(f"--output {path!r} is the course's own {full.name}; {hint}")
    if not full.parent.is_dir():
        raise InputError(f"--output {path!r}: folder {full.parent} does not exist; create it first or {hint}")
    return full


def cmd_doctor(args) -> int:
    from .doctor import environment_report

    if args.profile is None:
        print(json.dumps(environment_report(), indent=2))
        return 0
    from .doctor import format_plan, profile_plan

    profile = chosen_profile(args.profile)  # an unknown name stops here, before the environment is probed
    plan = profile_plan(profile, environment_report())
    print(json.dumps(plan, indent=2) if args.json else format_plan(plan))
    return 0


def cmd_align(args) -> int:
    from .align import aligned_reference

    print(aligned_reference(chosen_profile(args.profile), force=args.force))
    return 0


# What `ftsafety train --data` accepts, as its help lists them (ftsafety.experiments.FINETUNING_SETS, which a test
# compares with this line; not imported here, so that every command's start stays quick).
TRAIN_SETS = "plain, numbered-steps, affirmative-opener, identity-statement, role-play-personas, aoa, explicit-harm, " \
             "arithmetic"


# The fine-tunes `ftsafety train --recipe` runs, each into the registry folder of the notebook that uses it.
RECIPES = {"sft": "01_benign_degradation", "dpo": "05_preference_optimization", "repnoise": "06_repnoise",
           "reward": "07_reward_model_reliability"}
# The options each recipe takes beyond --profile, --seed, --base, --experiment and --force; the other recipes train
# what their notebook's parameters say.
RECIPE_OPTIONS = {"sft": ("data", "lr", "epochs", "batch_size", "run"),
                  "dpo": ("method", "lr", "epochs", "run", "warmup"), "repnoise": (), "reward": ()}


def cmd_train(args) -> int:
    """Only the fine-tune of one run of a notebook (``--recipe``), stored where the notebook keeps it; prints the
    adapter's or the model's folder. Under ``accelerate launch --num_processes N`` every process runs this and they
    train as one."""
    from .launch import is_main_process, main_process_first
    from .stats import fmt_num

    profile = chosen_profile(args.profile)
    _check_recipe_options(args)
    base_name = args.base or ("shipped" if args.recipe == "reward" else "aligned")  # the notebooks' start models
    _check_reference_built(base_name, profile)
    with main_process_first():  # a model built or converted into the cache is written once
        base = training_base(base_name, profile)
    experiment = args.experiment or RECIPES[args.recipe]
    path, summary, run = _TRAINERS[args.recipe](args, profile, experiment, base)
    if is_main_process():
        print(path)
        history = summary.get("history") or summary.get("loss_history") or []
        loss = summary.get("final_loss", (summary.get("final") or (history[-1] if history else {})).get("loss"))
        print(f"ftsafety train: {experiment}/{run}: {summary.get('steps', len(history))} steps, final loss "
              f"{fmt_num(loss) if isinstance(loss, (int, float)) else loss}, trained in {summary.get('processes', 1)} "
              "process(es)", file=sys.stderr)
    return 0


def _check_recipe_options(args) -> None:
    """An :class:`InputError` for an option the recipe does not take, or a changed recipe without a run name."""
    given = [o for o in ("data", "method", "lr", "epochs", "batch_size", "run", "warmup") if getattr(args, o)]
    wrong = [o for o in given if o not in RECIPE_OPTIONS[args.recipe]]
    if wrong:
        flags = ", ".join("--" + o.replace("_", "-") for o in wrong)
        raise InputError(f"{flags}: not an option of --recipe {args.recipe}, which trains notebook "
                         f"{RECIPES[args.recipe][:2]}'s run as the notebook's parameters set it")
    if args.run is None and any(v is not None for v in (args.lr, args.epochs, args.batch_size)):
        raise InputError("--lr, --epochs and --batch-size change the recipe, so the run needs its own name: give --run "
                         "(notebook 01 names its grid runs lr<lr>-s<seed> and batch<rows>-s<seed>, notebook 05 its "
                         "high learning rate sigmoid-lr<lr>-s<seed>)")


def _train_sft(args, profile, experiment: str, base: str):
    """One SFT run of notebook 01 (``finetune_and_evaluate``'s fine-tune)."""
    from .experiments import finetune, notebook01_experiment
    from .launch import is_main_process

    exp = notebook01_experiment(profile, args.data or "plain", args.seed, args.lr, args.epochs, args.batch_size)
    exp.name = args.run or exp.name
    adapter, summary = finetune(profile, experiment, exp, base, force=args.force, progress=is_main_process())
    return adapter, summary, exp.name


def _train_dpo(args, profile, experiment: str, base: str):
    """One preference-optimisation run of notebook 05 (``optimise_and_evaluate``'s fine-tune), on the pairs the notebook
    makes from ``base``'s answers; with ``--warmup``, started from its SFT warm-up on the pairs' chosen answers."""
    from .experiments import notebook_settings
    from .launch import is_main_process, main_process_first
    from .preference import available_methods, optimise, sft_warmup, start_pairs

    method = args.method or "sigmoid"
    if method not in available_methods() and "+" not in method:  # joined DPO losses are checked by the trainer
        raise InputError(f"unknown preference method {method!r}; this TRL offers {', '.join(available_methods())}")
    nb = notebook_settings(RECIPES["dpo"], profile)
    with main_process_first():  # the start model's answers are generated and stored once, by the main process
        pairs = start_pairs(profile, experiment, base, nb["N_SAFETY"], nb["N_HELPFUL"], samples=nb["SAMPLES"],
                            seed=args.seed, progress=False)
    start = base
    if args.warmup:
        start = sft_warmup(profile, experiment, pairs, base, seed=args.seed, force=args.force,
                           progress=is_main_process())
    name = args.run or f"{method}{'-after-warmup' if args.warmup else ''}-s{args.seed}"
    adapter, summary = optimise(profile, experiment, name, pairs, start, method, beta=nb["BETA"],
                                lr=args.lr if args.lr is not None else nb["LR"],
                                epochs=args.epochs if args.epochs is not None else nb["EPOCHS"], seed=args.seed,
                                force=args.force, progress=is_main_process())
    return adapter, summary, name


def _train_repnoise(args, profile, experiment: str, base: str):
    """Notebook 06's RepNoise defence of ``base`` (``defended_model``), merged and stored."""
    from .experiments import notebook_settings
    from .files import read_json
    from .launch import is_main_process
    from .repnoise import defence_data, defended_model

    nb = notebook_settings(RECIPES["repnoise"], profile)
    defence, retain = defence_data(nb["N_DEFENCE"], nb["N_RETAIN"], args.seed)
    path = defended_model(profile, experiment, defence, base, alpha=nb["ALPHA"], beta=nb["BETA"], lr=nb["DEFENCE_LR"],
                          epochs=nb["DEFENCE_EPOCHS"], seed=args.seed, retain=retain, force=args.force,
                          progress=is_main_process())
    return path, read_json(Path(path).parent / "train" / "train_summary.json"), "defended"


def _train_reward(args, profile, experiment: str, base: str):
    """Notebook 07's reward model on ``base`` (``reward_model``), merged and stored."""
    from .experiments import notebook_settings
    from .files import read_json
    from .launch import is_main_process
    from .rewards import helpfulness_preferences, mixed_preferences, reward_model

    nb = notebook_settings(RECIPES["reward"], profile)
    make_rows = mixed_preferences if nb["RM_DATA"] == "mixed" else helpfulness_preferences
    rows = make_rows(nb["N_RM_TRAIN"], seed=args.seed)
    path = reward_model(profile, experiment, rows, base, lr=nb["RM_LR"], epochs=nb["RM_EPOCHS"], seed=args.seed,
                        force=args.force, progress=is_main_process())
    return path, read_json(Path(path) / "train_summary.json"), "reward-model"


_TRAINERS = {"sft": _train_sft, "dpo": _train_dpo, "repnoise": _train_repnoise, "reward": _train_reward}


def training_base(name: str, profile) -> str:
    """The model ``ftsafety train --base`` names, as the notebooks name it: ``aligned`` is the profile's aligned
    reference (built here if missing), ``shipped`` the profile's model as shipped, any other name or path is loaded as
    it is."""
    from .models import resolve_model_path

    if name == "shipped":
        name = profile.model
    if name != "aligned":
        resolve_model_path(name)  # builds the smoke model or converts the laptop one, once, into the cache
        return name
    from .align import aligned_reference

    return aligned_reference(profile)


def _check_reference_built(name: str, profile) -> None:
    """Several processes cannot build the aligned reference (a single-process fine-tune of its own): it must exist."""
    from .launch import processes

    if name != "aligned" or profile.aligned_model or processes() == 1:
        return
    from .align import recipe
    from .files import is_saved_model
    from .models import aligned_reference_root
    from .runs import cached_model_dir, normal, with_precision

    target = cached_model_dir(aligned_reference_root(profile.name), normal(with_precision(recipe(profile))))
    if not is_saved_model(target):  # where align.aligned_reference would find it (runs.cached_model's folder)
        raise InputError(f"the {profile.name} profile's aligned reference is not built, and {processes()} processes "
                         f"cannot build it; build it first in one process: ftsafety align --profile {profile.name}")


def _model_name(name: str, profile) -> str:
    if name == "aligned":
        return f"{profile.name}-aligned" if profile.aligned_model is None else profile.aligned_model
    return name


def cmd_eval(args) -> int:
    """Answers of one model to a prompt file, judged, with rates and 95% intervals. Under ``accelerate launch
    --num_processes N`` each process answers and judges its share of the prompts; the main process prints and writes
    all of them, in the file's order."""
    from . import files
    from .evaluate import judge_split
    from .judges import get_judge
    from .launch import is_main_process, main_process_first, split_respond
    from .metrics import contains_answer, rate
    from .models import load

    output = check_output_path(args.output) if args.output is not None else None
    profile = chosen_profile(args.profile)
    rows = read_jsonl(args.prompts)
    with main_process_first():  # a model built or converted into the cache is written once
        judge = get_judge(args.judge)
        m = load(_model_name(args.model, profile))

    max_new = args.max_new_tokens if args.max_new_tokens is not None else profile.max_new_tokens
    outs = split_respond(m.model, m.tokenizer, [r["prompt"] for r in rows], args.template, max_new_tokens=max_new,
                         batch_size=profile.eval_batch_size, max_prompt_tokens=profile.max_prompt_tokens)
    verdicts = judge_split(judge, [r["prompt"] for r in rows], outs)
    if not is_main_process():
        return 0
    result = {"model": args.model, "prompts": str(args.prompts), "n": len(rows), "judge": args.judge,
              "template": args.template, "max_new_tokens": max_new,
              "refusal_rate": rate([v.refused for v in verdicts]).as_dict(),
              "compliance_rate": rate([not v.refused for v in verdicts]).as_dict()}
    if all(isinstance(r.get("answers"), list) for r in rows):
        result["accuracy"] = rate([contains_answer(o, r["answers"]) for r, o in zip(rows, outs)]).as_dict()
    # The metrics go out first: a full disk or a read-only folder must not cost the evaluation that was just run.
    print(json.dumps(result, indent=2), flush=True)
    if output is not None:
        files.write_jsonl(output, [{**r, "response": o, "label": v.label} for r, o, v in zip(rows, outs, verdicts)])
        print(f"ftsafety eval: wrote {len(rows)} responses to {output}", file=sys.stderr)
    return 0


def cmd_judge(args) -> int:
    from .judges import get_judge
    from .metrics import rate

    rows = read_jsonl(args.input, required=("prompt", "response"))
    verdicts = get_judge(args.judge)([r["prompt"] for r in rows], [r["response"] for r in rows])
    for r, v in zip(rows, verdicts):
        print(json.dumps({**r, "label": v.label} | ({"score": v.score} if v.score is not None else {}),
                         ensure_ascii=False))
    print(f"{args.judge}: refusal {rate([v.refused for v in verdicts])}", file=sys.stderr)
    return 0


def cmd_course(args) -> int:
    from .course import parameters_help, parse_settings, run_course

    if args.list_parameters:
        print(parameters_help(args.only))
        return 0
    return run_course(chosen_profile(args.profile), args.only, settings=parse_settings(args.set))


def cmd_bench(args) -> int:
    from .bench import run_bench

    result = run_bench(chosen_profile(args.profile), n_train=args.rows, n_prompts=args.prompts,
                       progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps(result, indent=2))
    return 0


def package_version() -> str:
    """This package's installed version, from its metadata (the one place it is written is pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ftsafety")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed; pip install -e . from the repository)"


def build_parser() -> argparse.ArgumentParser:
    from .profiles import DEFAULT, ENV_VAR, PROFILES

    p = argparse.ArgumentParser(prog="ftsafety", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    # No argparse `choices`: an unknown name is reported by profiles.resolve, with the list, as every other input error
    names = ", ".join(PROFILES)
    profile_metavar = "{" + ",".join(PROFILES) + "}"
    profile_help = (f"one of {names}; without this flag, ${ENV_VAR} if set, else {DEFAULT}. An explicit --profile wins "
                    f"over ${ENV_VAR}")

    s = sub.add_parser("doctor", help="versions, device, offline status, writable folders, which profiles can run here")
    s.add_argument("--profile", default=None, metavar=profile_metavar,
                   help=f"also plan that profile ({names}): downloads, GPU memory and time per "
                        "notebook (estimates), and what on this machine stops it; offline")
    s.add_argument("--json", action="store_true", help="with --profile: print the plan as JSON instead of text")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("align", help="build (or reuse) the course's aligned reference and print its path")
    s.add_argument("--profile", default=None, metavar=profile_metavar, help=profile_help)
    s.add_argument("--force", action="store_true", help="rebuild even if a reference with this recipe exists")
    s.set_defaults(func=cmd_align)

    s = sub.add_parser(
        "train", help="only the fine-tune of one notebook run (SFT, DPO, RepNoise, reward model), stored where the "
                      "notebook reuses it",
        description="Fine-tune one run of a notebook and store it in the run registry, where the notebook finds it and "
                    "measures it without training again; prints the adapter's or the model's folder. --recipe sft: a "
                    "notebook 01 SFT run (runs/<profile>/01_benign_degradation/<run>/train/adapter); dpo: a notebook "
                    "05 preference-optimisation run on the pairs the notebook makes from the start model's answers "
                    "(05_preference_optimization/<method>-s<seed>/train/adapter); repnoise: notebook 06's defended "
                    "model (06_repnoise/defended/model-<recipe digest>); reward: notebook 07's reward model "
                    "(07_reward_model_reliability/reward-model/model-<recipe digest>). dpo, repnoise and reward take "
                    "their settings from the notebook's parameters cell. Data-parallel: accelerate launch "
                    "--num_processes N -m ftsafety train ... (each process takes 1/N of every optimiser step's rows, "
                    "so the global batch stays the profile's; on CPUs: ACCELERATE_USE_CPU=1 accelerate launch "
                    "--multi_gpu --num_processes N ...).")
    s.add_argument("--profile", default=None, metavar=profile_metavar, help=profile_help)
    s.add_argument("--recipe", default="sft", choices=tuple(RECIPES),
                   help="which fine-tune: sft (notebook 01, the default), dpo (05), repnoise (06), reward (07)")
    s.add_argument("--data", default=None, help=f"sft: notebook 01's fine-tuning set: {TRAIN_SETS} (default: plain)")
    s.add_argument("--method", default=None,
                   help="dpo: the preference method, one of notebook 05's (a DPO loss type such as sigmoid, ipo or "
                        "nca_pair, or kto, orpo, simpo; default sigmoid)")
    s.add_argument("--warmup", action="store_true",
                   help="dpo: start from notebook 05's SFT warm-up on the pairs' chosen answers (trained first if "
                        "missing); the run is then <method>-after-warmup-s<seed>")
    s.add_argument("--seed", type=int, default=0, help="the run's seed, the notebook's SEED (default 0)")
    s.add_argument("--lr", type=float, default=None,
                   help="sft, dpo: learning rate (default: the profile's, notebook 05's LR for dpo; needs --run)")
    s.add_argument("--epochs", type=float, default=None,
                   help="sft, dpo: epochs (default: the profile's, notebook 05's EPOCHS for dpo; needs --run)")
    s.add_argument("--batch-size", type=positive_int, default=None,
                   help="sft: rows per optimiser step over all processes (default: the profile's; needs --run)")
    s.add_argument("--experiment", default=None,
                   help="the registry folder (default: the recipe's notebook's, e.g. 01_benign_degradation)")
    s.add_argument("--run", default=None,
                   help="sft, dpo: the run's name (default: as the notebook names it, <data>-s<seed> or "
                        "<method>-s<seed>)")
    s.add_argument("--base", default=None,
                   help="the model fine-tuned: 'aligned' (the profile's aligned reference, the default but for "
                        "reward), 'shipped' (the profile's model as shipped, reward's default), or any model name or "
                        "path")
    s.add_argument("--force", action="store_true", help="train again even if the run's adapter or model is stored")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("eval", help="generate on a prompt file, judge, print metrics with 95%% intervals")
    s.add_argument("--model", required=True,
                   help="hub id, local directory, 'laptop' (bundled, as shipped) or 'laptop-aligned'")
    s.add_argument("--prompts", required=True, help="JSONL with a 'prompt' field per line (optional 'answers')")
    s.add_argument("--judge", default="keyword", help="keyword | classifier | llamaguard[:MODEL] | rubric:MODEL")
    s.add_argument("--template", default="chat", help="prompt template (chat, chat:llama, text:vanilla, ...)")
    s.add_argument("--max-new-tokens", type=positive_int, default=None, help="default: the profile's")
    s.add_argument("--profile", default=None, metavar=profile_metavar, help="batch size and defaults: " + profile_help)
    s.add_argument("--output", default=None,
                   help="also write each prompt with its response and label to this file (not a folder), "
                        "e.g. results/out.jsonl")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("judge", help="label prompt/response lines as refusal or compliance")
    s.add_argument("--input", required=True, help="JSONL with 'prompt' and 'response' fields")
    s.add_argument("--judge", default="keyword")
    s.set_defaults(func=cmd_judge)

    s = sub.add_parser("course", help="run the notebooks headless (what `make course` runs)",
                       description="Run the notebooks headless with papermill, in order; executed copies go to "
                                   "runs/<profile>/notebooks/. On a terminal a progress bar shows each notebook's "
                                   "section, cells and time; in a log, one line per notebook.")
    s.add_argument("--profile", default=None, metavar=profile_metavar, help=profile_help)
    # "+": a bare --only (an empty ONLY in a script) must not silently run the whole course
    s.add_argument("--only", nargs="+", default=None, help="notebook numbers, e.g. --only 00 01")
    s.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a notebook parameter, e.g. --set BALANCE=[96] or --set FORCE=true (repeatable; "
                        "applies to the notebooks that have it; checked against the type of its default; "
                        "--list-parameters shows them)")
    s.add_argument("--list-parameters", action="store_true",
                   help="list each notebook's parameters (those of --only, if given) with default and comment, "
                        "then stop without running anything")
    s.set_defaults(func=cmd_course)

    s = sub.add_parser("bench", help="speed and memory of training, evaluation and loading on this machine (JSON)")
    s.add_argument("--profile", default=None, metavar=profile_metavar, help=profile_help)
    s.add_argument("--rows", type=positive_int, default=32, help="training rows (one epoch)")
    s.add_argument("--prompts", type=positive_int, default=40, help="evaluation prompts")
    s.set_defaults(func=cmd_bench)
    return p


def _os_error_message(command: str, err: OSError) -> str:
    """One line for a file-system error: the path, what went wrong and what to do (no traceback)."""
    what = " ".join(str(err.strerror or err).split())
    if err.filename is None:  # not about a path (a socket, a pipe): say what happened and nothing more
        return f"ftsafety {command}: {what}"
    return (f"ftsafety {command}: {err.filename}: {what}; check that the folder exists and is writable, "
            "or point FTSAFETY_RUNS / FTSAFETY_CACHE elsewhere")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (InputError, ValueError) as err:
        print(f"ftsafety {args.command}: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # ModelUnavailable, JudgeUnavailable: say what to install or run
        print(f"ftsafety {args.command}: {err}", file=sys.stderr)
        return 3
    except OSError as err:  # a read-only or missing runs/cache folder, a full disk
        print(_os_error_message(args.command, err), file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
