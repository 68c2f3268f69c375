"""The run registry: every experiment writes ``runs/<profile>/<experiment>/<run>/``.

A run directory holds ``config.json`` (what was run, resolved), ``metrics.json`` and ``generations.jsonl``, each
written atomically. A run whose metrics exist for the same config is reused, not recomputed, unless forced;
:func:`load_runs` turns any set of runs into one pandas table.

The files are one unit: saving a run first removes its old metrics and its ``done.json`` marker, then writes the config,
the generations, the metrics, and last the marker, which holds the config's digest; so a run counts as done only when
its metrics belong to the config beside them, even if a save is killed half-way. A
file that cannot be read back (cut short, edited) is reported by name, the run's files are moved aside into a
``.corrupt-<time>`` folder inside the run, and the run is recomputed.
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

from .files import CorruptFile, is_saved_model, jsonable, read_json, read_jsonl_records, write_json, write_jsonl
from .paths import portable, runs_root

# Every reuse and every recomputation, with its reason, as INFO records of the "ftsafety" loggers: silent unless the
# user turns them on (e.g. logging.basicConfig(level=logging.INFO), or logging.getLogger("ftsafety") with a handler).
logger = logging.getLogger(__name__)


def digest(obj, length: int = 16) -> str:
    """The short SHA-256 of ``obj`` as sorted JSON: how configs name their data, so a changed input is never reused."""
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


def normal(obj):
    """Config as it reads back from JSON (tuples become lists), so stored and fresh configs compare equal; paths inside
    the runs root are written relative to it (:func:`ftsafety.paths.portable`), so a copied runs folder is reused."""
    return portable(json.loads(json.dumps(obj, default=jsonable)))


def changed_keys(stored, wanted: dict) -> str:
    """What differs between a stored config and the one asked for, as a log line names it: ``"lr, epochs"`` (nested
    keys dotted: ``"lora"``, ``"training.steps"``)."""
    if not isinstance(stored, dict):
        return "config (the stored one is not a JSON object)"
    a, b = _flatten(stored), _flatten(wanted)
    keys = [k for k in dict.fromkeys([*b, *a]) if a.get(k) != b.get(k)]
    return ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "") if keys else "config"


class Run:
    def __init__(self, profile: str, experiment: str, name: str, root: Path | None = None):
        for part, value in (("experiment", experiment), ("run name", name)):
            if not value or "/" in value or value.startswith("."):
                raise ValueError(f"{part} {value!r} must be a plain folder name (no '/', not starting with '.')")
        self.profile, self.experiment, self.name = profile, experiment, name
        self.dir = Path(root or runs_root()) / profile / experiment / name

    config_path = property(lambda self: self.dir / "config.json")
    metrics_path = property(lambda self: self.dir / "metrics.json")
    generations_path = property(lambda self: self.dir / "generations.jsonl")
    done_path = property(lambda self: self.dir / "done.json")

    def is_done(self, config: dict | None = None) -> bool:
        """Whether the run finished, with ``config`` if given. Raises :class:`CorruptFile` for an unreadable file.

        A finished run has ``done.json``, written after everything else, holding its config's digest; a run saved
        before the library wrote that marker counts if its metrics are not older than its config.
        """
        if not self.metrics_path.is_file():
            return False
        if self.done_path.is_file():
            marker = read_json(self.done_path)
            if config is None:
                return True
            # The marker belongs to the stored config; the stored config, read from any runs root (and written
            # with absolute paths before they were stored relative), matches the one asked for.
            stored = read_json(self.config_path)
            return marker.get("config_sha256") == digest(stored) and portable(stored) == normal(config)
        if config is None:
            return True
        if not self.config_path.is_file() or portable(read_json(self.config_path)) != normal(config):
            return False
        if self.metrics_path.stat().st_mtime_ns < self.config_path.stat().st_mtime_ns:
            print(f"ftsafety: {self.dir}: its metrics are older than its config (a save was interrupted, or the files "
                  "were copied without their times); computing the run again", file=sys.stderr)
            return False
        return True

    def check_readable(self) -> None:
        """Read every file of the run once; raises :class:`CorruptFile` naming the first that does not parse."""
        for path in (self.config_path, self.metrics_path, self.done_path):
            if path.is_file():
                read_json(path)
        if self.generations_path.is_file():
            read_jsonl_records(self.generations_path)

    def save(self, config: dict, metrics: dict, generations: list[dict] | None = None, record: dict | None = None
             ) -> "Run":
        """Write the run. ``record`` goes into the done marker beside the config's digest: how the run was made where
        that does not decide reuse (``{"processes": N}`` for an evaluation split between N processes)."""
        # The marker and the old metrics go first, the new metrics and the marker last: a run is done only when its
        # metrics belong to the config beside them.
        self.done_path.unlink(missing_ok=True)
        self.metrics_path.unlink(missing_ok=True)
        write_json(self.config_path, normal(config))
        if generations is not None:
            write_jsonl(self.generations_path, generations)
        else:
            self.generations_path.unlink(missing_ok=True)  # another config's answers
        write_json(self.metrics_path, normal(metrics))
        write_json(self.done_path, {"config_sha256": digest(normal(config)), **(record or {})})
        return self

    def record(self) -> dict:
        """The finished run's done marker: its config's digest and the ``record`` it was saved with (``{}`` for a run
        stored before the library wrote the marker)."""
        return read_json(self.done_path) if self.done_path.is_file() else {}

    def move_aside(self) -> Path:
        """Move the run's registry files into ``.corrupt-<time>/`` inside the run (kept for a look, never read)."""
        aside = self.dir / f".corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        aside.mkdir(parents=True, exist_ok=True)
        for path in (self.config_path, self.metrics_path, self.generations_path, self.done_path):
            if path.exists():
                path.replace(aside / path.name)
        return aside

    def config(self) -> dict:
        return read_json(self.config_path)

    def metrics(self) -> dict:
        return read_json(self.metrics_path)

    def generations(self) -> list[dict]:
        if not self.generations_path.is_file():
            return []
        return read_jsonl_records(self.generations_path)

    def __repr__(self) -> str:
        return f"Run({self.profile!r}, {self.experiment!r}, {self.name!r})"


def with_precision(config: dict) -> dict:
    """``config`` with the precision models are held in on this machine, where it is not float32: a run computed in
    bfloat16 on a GPU is another run than the float32 one of a CPU, and is never read back as it (or the other way).
    float32, every CPU's, adds nothing, so configs stored on a CPU keep their digests."""
    from .devices import precision

    weights = precision().weights
    return config if weights == "float32" else {**config, "precision": weights}


def cached_run(
    run: Run, config: dict, compute: Callable[[], tuple[dict, list[dict]]], force: bool = False,
    record: dict | None = None,
) -> Run:
    """Reuse ``run`` if it finished with this ``config``; otherwise call ``compute() -> (metrics, generations)`` and
    save the run with ``record`` (see :meth:`Run.save`).

    The config is completed with the machine's precision (:func:`with_precision`). A stored file that cannot be read
    back is named in a message, the run's files are moved aside, and the run is recomputed.
    """
    config = with_precision(config)
    label = f"{run.experiment}/{run.name}"
    if not force:
        try:
            if run.is_done(config):
                run.check_readable()
                logger.info("%s: reused from the run registry (%s)", label, run.dir)
                return run
            logger.info("%s: computing: %s", label, _why_not_done(run, config))
        except CorruptFile as err:
            aside = run.move_aside()
            print(f"ftsafety: {err}; moved the run's files to {aside} and computing the run again", file=sys.stderr)
    else:
        logger.info("%s: computing again (forced)", label)
    metrics, generations = compute()
    return run.save(config, metrics, generations, record)


def _why_not_done(run: Run, config: dict) -> str:
    """Why :meth:`Run.is_done` said no, for the log."""
    if not run.config_path.is_file():
        return "no stored run"
    stored = portable(read_json(run.config_path))
    if stored != normal(config):
        return f"the stored run has another {changed_keys(stored, normal(config))}"
    return "the stored run did not finish"


def _why_build(root: Path, recipe: dict) -> str:
    """Why :func:`cached_model` builds, for the log: root/recipe.json names the last model built there."""
    try:
        stored = normal(read_json(root / "recipe.json")) if (root / "recipe.json").is_file() else None
    except CorruptFile:
        return "its recipe.json cannot be read"
    if stored is None:
        return "no stored model"
    if stored != recipe:
        return f"the stored model has another {changed_keys(stored, recipe)}"
    return "the stored model is incomplete"


def iter_runs(profile: str | None = None, experiment: str | None = None, root: Path | None = None):
    root = Path(root or runs_root())
    for metrics in sorted(root.glob(f"{profile or '*'}/{experiment or '*'}/*/metrics.json")):
        d = metrics.parent
        yield Run(d.parent.parent.name, d.parent.name, d.name, root=root)


def load_runs(profile: str | None = None, experiment: str | None = None, root: Path | None = None):
    """One row per finished run: profile, experiment, run, ``config.*`` and metrics (``m`` / ``m_low`` / ``m_high``)."""
    import pandas as pd

    rows = []
    for run in iter_runs(profile, experiment, root):
        row = {"profile": run.profile, "experiment": run.experiment, "run": run.name}
        try:
            cfg = run.config() if run.config_path.is_file() else {}
            metrics = run.metrics()
        except CorruptFile as err:
            warnings.warn(f"{err}; left out of the table (the notebook that made it computes it again)", stacklevel=2)
            continue
        row.update({f"config.{k}": v for k, v in _flatten(cfg).items()})
        for k, v in metrics.items():
            if isinstance(v, dict) and {"value", "low", "high"} <= set(v):
                row[k], row[f"{k}_low"], row[f"{k}_high"], row[f"{k}_n"] = v["value"], v["low"], v["high"], v.get("n")
            elif not isinstance(v, (dict, list)):
                row[k] = v
        rows.append(row)
    return pd.DataFrame(rows)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if not isinstance(v, list) else json.dumps(v)
    return out


def cached_model_dir(root: Path, recipe: dict) -> Path:
    """Where :func:`cached_model` keeps the model of ``recipe``: ``root/model-<recipe digest>``."""
    return root / f"model-{digest(normal(recipe), 12)}"


def cached_model(root: Path, recipe: dict, build: Callable[[Path], object], force: bool = False) -> str:
    """``root/model-<recipe digest>``, built by ``build(target)`` unless a complete one is stored.

    The digest in the path makes every run trained or measured on the model name its recipe: a changed recipe gives a
    new path, so stale downstream runs are never reused. Models of other recipes are removed once the new one is saved.
    The recipe is completed with the machine's precision (:func:`with_precision`).
    """
    recipe = normal(with_precision(recipe))
    target = cached_model_dir(root, recipe)
    if force or not is_saved_model(target):
        logger.info("%s: building %s (%s)", root.name, target.name, "forced" if force else _why_build(root, recipe))
        build(target)
        if not is_saved_model(target):
            raise RuntimeError(f"building {target} did not leave a saved model there")
    else:
        logger.info("%s: reused %s (same recipe)", root.name, target)
    # root/recipe.json names the current model (models.aligned_reference_dir finds the reference by it)
    if not (root / "recipe.json").is_file() or normal(read_json(root / "recipe.json")) != recipe:
        write_json(root / "recipe.json", recipe)
    for old in root.glob("model-*"):
        if old != target and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    if is_saved_model(root):  # a model saved in root itself: the layout before recipe digests, read by nothing now
        for leftover in root.iterdir():
            if leftover.is_file() and leftover.name != "recipe.json":
                leftover.unlink()
    return str(target)
