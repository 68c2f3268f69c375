"""What each notebook found: ``runs/<profile>/results/<notebook>.json`` and the generated REPRODUCTION.md.

A notebook records its measurements here and its claims' verdicts through :func:`ftsafety.claims.check`, which reads
the rules from the claims registry. Measurements come from the run; nothing here is typed in by hand.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

from .files import CorruptFile, atomic_path, read_json, write_json
from .paths import runs_root


class NotebookReport:
    def __init__(self, notebook: str, profile: str):
        self.notebook, self.profile = notebook, profile
        self.claims: list[dict] = []  # filled by ftsafety.claims.check
        self.registry_version: int | None = None
        self.measured: dict = {}
        self._t0 = time.perf_counter()

    def measure(self, **values) -> None:
        self.measured.update(values)

    @property
    def path(self) -> Path:
        return runs_root() / self.profile / "results" / f"{self.notebook}.json"

    def save(self) -> Path:
        runtime = round(time.perf_counter() - self._t0, 1)
        # A re-run reuses finished runs and takes a fraction of the time; the longest run recorded is the one that
        # did the work, so it is kept next to this run's time.
        previous = _read_result(self.path) or {}  # a corrupt one is replaced by this run's
        longest = max(runtime, previous.get("longest_runtime_s", 0.0), previous.get("runtime_s", 0.0))
        return write_json(self.path, {
            "notebook": self.notebook, "profile": self.profile, "runtime_s": runtime, "longest_runtime_s": longest,
            "registry_version": self.registry_version, "claims": self.claims, "measured": self.measured,
        })


def _read_result(path: Path) -> dict | None:
    """A notebook's results file, or None if it is missing or cannot be read back (with a warning naming it)."""
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except CorruptFile as err:
        warnings.warn(f"{err}; left out until notebook {path.stem} runs again and rewrites it", stacklevel=3)
        return None


def load_results(profile: str) -> list[dict]:
    """Every notebook's saved results on ``profile`` (an unreadable file is named in a warning and left out)."""
    found = (_read_result(p) for p in sorted((runs_root() / profile / "results").glob("*.json")))
    return [r for r in found if r is not None]


def _cell(text) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def _measured(c: dict, judge: str) -> str:
    """The measured column: the estimate as :class:`~ftsafety.stats.Estimate` prints it ("84% [76, 90], n=100",
    "-35 points [-46, -23], n=100"), never its raw fields."""
    from dataclasses import fields

    from .stats import Estimate

    est = (c.get("estimates") or {}).get(judge)
    if not est:
        return _cell(c.get("error") or "")
    chosen = (c.get("chosen") or {}).get(judge)
    known = {f.name for f in fields(Estimate)}  # a file saved by another version may carry more keys (a rate's k)
    return _cell(str(Estimate(**{k: v for k, v in est.items() if k in known})) + (f" at {chosen}" if chosen else ""))


KIND_LABELS = {"paper": "a paper's finding", "target": "the course's own target or question",
               "sanity": "sanity check (holds by construction)"}


def kind_counts(results: list[dict], judge: str | None = None) -> list[dict]:
    """Verdicts counted apart for each kind of claim (a paper's finding, the course's own target, a sanity check),
    under ``judge`` (the primary one by default), over the saved results of several notebooks."""
    from .claims import CLAIMS, JUDGES, KINDS, VERDICTS

    judge = judge or JUDGES[0]
    registry = {c.id: c.kind for c in CLAIMS}  # today's kind, also for results saved before a claim's kind was fixed
    tested = [c for r in results for c in r["claims"] if "verdicts" in c]
    rows = []
    for kind in KINDS:
        mine = [c for c in tested if registry.get(c["id"], c.get("kind", "paper")) == kind]
        if mine and kind == "sanity":  # a sanity check has no verdict: it holds by construction
            rows.append({"kind": KIND_LABELS[kind], "claims": len(mine), **{v: "—" for v in VERDICTS}})
        elif mine:
            rows.append({"kind": KIND_LABELS[kind], "claims": len(mine),
                         **{v: sum(c["verdicts"].get(judge) == v for c in mine) for v in VERDICTS}})
    return rows


def _kind_table(counts: list[dict], judge: str) -> list[str]:
    if not counts:
        return []
    head = list(counts[0])
    return [f"Verdicts by kind of claim ({judge} judge): only a paper's finding tests the paper.", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(str(r[h]) for h in head) + " |" for r in counts), ""]


def write_reproduction_md(profile: str) -> Path:
    """Every claim tested on ``profile``, one row each: claim, paper, measured (with its 95% interval), test, verdict
    (three-way, under the primary judge), Holm-adjusted verdict, pre-specified, judge-sensitive, runs per side; then the
    registry's changelog, so that every rule changed after seeing data is listed openly."""
    from .claims import CHANGELOG, JUDGES, VERSION, with_seeds
    from .stats import fmt_num

    results = load_results(profile)
    primary, other = JUDGES[0], JUDGES[1]
    lines = [
        f"# Reproduction on the `{profile}` profile", "",
        "Generated by `ftsafety course` from `runs/{0}/results/*.json`; do not edit by hand. The rules are those of the "
        "claims registry (`ftsafety.claims`, version {1}).".format(profile, VERSION), "",
        f"Verdicts are three-way: *reproduced* (the whole 95% interval on the claim's side of its bound), *not "
        f"reproduced* (wholly on the other side), *inconclusive*. The verdict is the {primary} judge's; "
        f"*judge-sensitive* marks a claim whose verdict under the {other} judge differs (shown in brackets). "
        "*Holm-adjusted* applies Holm's correction to each notebook's direction claims. *runs* counts the runs on each "
        "side of a comparison (runs of one seed on several task sets or doses count as several); a verdict resting on "
        "one run per side says *(one seed)*: a second seed could move it.", "",
        *_kind_table(kind_counts(results), primary),
        "| claim | paper | measured (95% interval) | test | verdict | Holm-adjusted | pre-specified | judge-sensitive "
        "| runs |", "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for c in res["claims"]:
            if "verdicts" not in c:  # a results file from before the claims registry
                lines.append(f"| {_cell(c.get('claim'))} | {_cell(c.get('paper'))} | written before the claims "
                             f"registry: run notebook {res['notebook']} again | | | | | | |")
                continue
            verdicts = c["verdicts"]
            sensitive = len(set(verdicts.values())) > 1
            pre = "yes" if c["prespecified"] else f"no ({', '.join(c['changed_after_data'])})"
            runs = ((c.get("estimates") or {}).get(primary) or {}).get("runs", "")
            lines.append(
                f"| {c['id']}: {_cell(c['claim'])} | {_cell(c['paper'])} | {_measured(c, primary)} | {_cell(c['test'])} "
                f"| {with_seeds(verdicts.get(primary, ''), runs)} | {c.get('adjusted') or '—'} | {pre} | "
                f"{'yes (' + str(verdicts.get(other)) + ')' if sensitive else 'no'} | {runs} |")
    lines += ["", "## Changes to the rules and recipes", "",
              "A change is marked *after data* when it changed a claim's rule once that claim's results had been seen, "
              "or changed a recipe because of a result; the claims it touched show its key under *pre-specified*. A "
              "fix found by reading code or data that changed no rule (such as a leak) is listed unmarked.", "",
              "| key | version | date | commit | after data | claims | change | why |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {e['key']} | {e['version']} | {e['date']} | {e['commit'] or 'this version'} | "
              f"{'yes' if e['after_data'] else 'no'} | {_cell(', '.join(e['claims']) + ''.join(f'; withdrawn: {w}' for w in e.get('withdrawn', ())))} | {_cell(e['change'])} | "
              f"{_cell(e['why'])} |" for e in CHANGELOG]
    lines += ["", "| notebook | last run (s) | longest run (s) |", "|---|---|---|"]
    lines += [f"| {r['notebook']} | {fmt_num(r['runtime_s'])} | {fmt_num(r.get('longest_runtime_s', r['runtime_s']))} |"
              for r in results]
    path = runs_root() / profile / "REPRODUCTION.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_result(profile: str, notebook: str) -> dict | None:
    """One notebook's saved results on ``profile``, or None if it has not run there."""
    return _read_result(runs_root() / profile / "results" / f"{notebook}.json")


SCORE_COLUMNS = ("harmful_refusal", "overrefusal_refusal", "capability", "task_accuracy")


def scoreboard(profile: str, template: str = "chat", judge: str = "keyword", root: Path | None = None):
    """Every model the course measured on ``profile`` with the same template and judge: one row per run, from the
    registry (nothing is re-run). Columns: notebook, run, and each of :data:`SCORE_COLUMNS` with ``_low``/``_high``
    where measured; a run that measured only some sets (e.g. an attack measured on harmful prompts) has gaps."""
    import pandas as pd

    from .runs import load_runs

    df = load_runs(profile, root=root)
    if df.empty or "harmful_refusal" not in df:
        return pd.DataFrame(columns=["notebook", "run", *SCORE_COLUMNS])
    same = (df.get("config.template") == template) & (df.get("config.judge") == judge) & df["harmful_refusal"].notna()
    df = df[same].rename(columns={"experiment": "notebook"})
    cols = ["notebook", "run"] + [c for s in SCORE_COLUMNS for c in (s, f"{s}_low", f"{s}_high") if c in df]
    return df[cols].sort_values(["notebook", "run"]).reset_index(drop=True)


def tradeoff(board, x: str = "capability", y: str = "harmful_refusal", seed: int = 0) -> dict:
    """Spearman correlation of ``x`` and ``y`` over the board's complete rows, with a bootstrap 95% interval.

    ``scipy.stats.spearmanr`` ranks ties by their average rank, as Spearman's coefficient is defined; rates measured on
    the same prompts tie often, and bootstrap resamples repeat rows. A resample in which one column has a single value
    carries no ordering and counts as 0.
    """
    import numpy as np
    from scipy.stats import spearmanr

    from .metrics import bootstrap_ci

    rows = board[[x, y]].dropna().to_numpy()
    if len(rows) < 4:
        return {"n": len(rows), "rho": None, "low": None, "high": None}

    def rho(idx):
        sub = rows[idx.astype(int)]
        if np.ptp(sub[:, 0]) == 0 or np.ptp(sub[:, 1]) == 0:
            return 0.0
        return float(spearmanr(sub[:, 0], sub[:, 1]).statistic)

    r, lo, hi = bootstrap_ci(np.arange(len(rows)), stat=rho, seed=seed)
    return {"n": len(rows), "rho": r, "low": lo, "high": hi}
