"""Runs the notebooks headless with papermill: ``ftsafety course --profile laptop [--only 00] [--set NAME=VALUE]``.

Executed notebooks go to ``runs/<profile>/notebooks/``; each notebook writes its results JSON, and at the end
REPRODUCTION.md is regenerated and the total time printed. On a terminal, a progress bar shows the notebook's current
section, its cells done and the time elapsed; when stdout is not a terminal (a log file, CI), only one line per
notebook is printed.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import re
import sys
import time
from pathlib import Path

from .paths import notebooks_dir, runs_root
from .profiles import ENV_VAR, OVERRIDES_VAR, PROFILES, Profile, resolve
from .results import write_reproduction_md


def list_notebooks(only: list[str] | None = None) -> list[Path]:
    nbs = sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {o.zfill(2) if o.isdigit() else o for o in only}
        nbs = [p for p in nbs if p.name[:2] in wanted or p.stem in wanted]
        if not nbs:
            raise SystemExit(f"no notebook matches --only {' '.join(only)}; have: "
                             + ", ".join(p.stem for p in sorted(notebooks_dir().glob('[0-9][0-9]_*.ipynb'))))
    return nbs


def notebook_parameters(path: Path) -> dict:
    """The literals of a notebook's parameters cell (its first code cell), by name."""
    cell = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    return {t.id: ast.literal_eval(node.value) for node in ast.parse("".join(cell["source"])).body
            for t in node.targets}


def parse_settings(items: list[str]) -> dict:
    """``NAME=VALUE`` strings to a dict; VALUE is a Python literal (``BALANCE=[96]``, ``SEED=1``, ``START='shipped'``).

    A bare word is taken as a string (``START=shipped``), since shells strip the quotes users type."""
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE, e.g. --set BALANCE=[96]")
        try:
            out[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            if not text.isidentifier():
                raise SystemExit(f"--set {item!r}: {text!r} is not a Python literal; quote the whole argument, "
                                 f"e.g. --set \"{name}=[0.1, 0.5]\"") from None
            out[name] = text
    return out


def _example(name: str, default) -> str:
    """A ``--set`` argument of the type of ``default``, quoted where a shell would split or expand it."""
    text = "true" if isinstance(default, bool) else default if isinstance(default, str) else repr(default)
    return f"--set {name}={text}" if re.fullmatch(r"[\w.+-]+", text) else f"--set \"{name}={text}\""


def check_setting(name: str, value, default, notebook: str):
    """``value`` for parameter ``name`` if it has the type of the notebook's ``default``, else a one-line SystemExit.

    Shells strip quotes and papermill injects any literal, so without this ``--set FORCE=false`` would reach the
    notebook as the string "false", which is true. Bools accept true/false in any case; an int may stand for a float;
    a tuple for a list; a None default (the notebook picks) accepts anything.
    """
    if default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if name.endswith("EPOCHS") and isinstance(value, float) and value > 0:
            return value  # trainers take fractional epochs (0.5 = half of the data once)
    elif isinstance(default, list):
        if isinstance(value, (list, tuple)):
            return list(value)
    elif type(value) is type(default):
        return value
    raise SystemExit(f"--set {name}={value!r}: {notebook} expects {type(default).__name__} for {name} (its default is "
                     f"{default!r}), e.g. {_example(name, default)}")


def check_settings(settings: dict, notebooks: list[Path]) -> dict[Path, dict]:
    """Each notebook's share of ``settings`` (the parameters it has), checked against its parameters cell.

    Raises SystemExit, before any notebook runs, for a name no notebook has and for a value of the wrong type.
    """
    own = {nb: notebook_parameters(nb) for nb in notebooks}
    unknown = [k for k in settings if k == "PROFILE" or not any(k in p for p in own.values())]
    if unknown:
        raise SystemExit(f"--set {', '.join(unknown)}: not a parameter of "
                         + ", ".join(nb.stem for nb in notebooks) + " (use --profile for PROFILE); their parameters: "
                         + ", ".join(sorted({k for p in own.values() for k in p} - {"PROFILE"})))
    return {nb: {k: check_setting(k, v, own[nb][k], nb.stem) for k, v in settings.items() if k in own[nb]}
            for nb in notebooks}


def parameters_help(only: list[str] | None = None) -> str:
    """What ``--set`` can change, per notebook: each parameter with its default and the comment beside it.

    Read with papermill's ``inspect_notebook`` (the parameters cell, as papermill will override it); PROFILE is left
    out, since ``--profile`` sets it.
    """
    import papermill

    lines = ["Notebook parameters that --set NAME=VALUE changes (default, then the notebook's comment):"]
    for nb in list_notebooks(only):
        lines += ["", nb.stem]
        for p in papermill.inspect_notebook(nb).values():
            if p["name"] == "PROFILE":
                continue
            entry = f"  {p['name']} = {p['default']}"
            if p["help"]:
                # as papermill's own --help-notebook lays it out: the comment in a column, or below a long default
                entry = f"{entry:<34}{p['help']}" if len(entry) < 34 else f"{entry}\n{'':34}{p['help']}"
            lines.append(entry)
    lines += ["", "PROFILE is chosen with --profile. A name applies to every notebook that has it, e.g. "
                  "ftsafety course --only 05 --set BALANCE=[96]"]
    return "\n".join(lines)


def on_terminal(stream=None) -> bool:
    """True when ``stream`` (default: stdout) is an interactive terminal: progress bars only make sense there."""
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return False


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``: a notebook's time, readable at a glance."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def section_titles(cells) -> list[str]:
    """For each cell, the title of the section it is in: the latest "## " heading above it ("" before the first)."""
    titles, current = [], ""
    for cell in cells:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            current = next((line[3:].strip() for line in source.splitlines() if line.startswith("## ")), current)
        titles.append(current)
    return titles


@functools.cache
def _progress_engine() -> str:
    """The name of a papermill engine whose progress bar names the section being run; registered on first use.

    papermill's own bar counts cells under a fixed "Executing" label (it changes it only for cells that carry a
    ``papermill_description=`` comment); a 20-minute notebook is easier to follow with its section's title. The engine
    is papermill's nbclient engine, with a hook on the execution manager's ``cell_start``.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    class SectionProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            if nb_man.pbar is not None:
                label, titles, start = nb_man.pbar.desc, section_titles(nb_man.nb.cells), nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    start(cell, cell_index, **kw)
                    if cell_index is not None and titles[cell_index]:
                        # a fixed width, so that the bar does not jump from one section to the next
                        nb_man.pbar.set_description_str(f"{label} · {titles[cell_index][:44]:<44}")

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("ftsafety-sections", SectionProgressEngine)
    return "ftsafety-sections"


def _kernel_config():
    """nbclient's config for the notebooks' kernels: encrypted transport where jupyter_client and pyzmq offer it.

    Without it every kernel writes "Kernel is running over TCP without encryption" to the terminal (ipykernel 7);
    jupyter_client's ``KernelManager.transport_encryption = "auto"`` gives the kernel CurveZMQ keys when its
    kernelspec declares support, as ipykernel's does. With an older jupyter_client or a pyzmq built without curve the
    setting is left out (the kernel runs as before, warning included).
    """
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config

    if "transport_encryption" not in KernelManager.class_trait_names() or not zmq.has("curve"):
        return Config()
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def run_notebook(path: Path, profile: str, out_dir: Path, timeout: int | None = None,
                 parameters: dict | None = None, progress: bool | None = None) -> Path:
    """Execute one notebook with papermill; `parameters` override its parameters cell (PROFILE is always `profile`).

    ``progress``: draw a bar with the current section, cells done and time elapsed; None (the default) draws it only
    when stdout is a terminal, so that logs and captured output stay one line per notebook.
    """
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    os.environ["FTSAFETY_HEADLESS"] = "1"
    progress = on_terminal() if progress is None else progress
    # leave=False: the bar is erased when the notebook ends, and run_course's one line with its time stays
    bar = {"desc": f"  {path.name[:2]} · {'starting':<44}", "file": sys.stdout, "leave": False, "dynamic_ncols": True,
           "bar_format": "{desc} |{bar}| {n_fmt}/{total_fmt} cells, {elapsed}"} if progress else False
    papermill.execute_notebook(
        str(path), str(out), parameters={**(parameters or {}), "PROFILE": profile}, cwd=str(path.parent),
        kernel_name="python3", progress_bar=bar, log_output=False, request_save_on_cell_execute=True,
        execution_timeout=timeout, engine_name=_progress_engine() if progress else None, config=_kernel_config(),
    )
    return out


def run_course(profile: "Profile | str | None" = None, only: list[str] | None = None, timeout: int | None = None,
               settings: dict | None = None) -> int:
    """Run the notebooks in order; `settings` override parameters of the notebooks that have them.

    A name or Profile given here wins over $FTSAFETY_PROFILE (None: the variable, else laptop). The notebooks receive
    the profile's name, and the fields in which a Profile object differs from its named profile through
    $FTSAFETY_PROFILE_OVERRIDES.
    """
    chosen = resolve(profile, use_env=profile is None)
    profile = chosen.name
    changed = {k: v for k, v in chosen.as_dict().items() if v != PROFILES[profile].as_dict()[k]} \
        if profile in PROFILES else {}
    nbs = list_notebooks(only)
    per_notebook = check_settings(settings or {}, nbs)
    out_dir = runs_root() / profile / "notebooks"
    t_all = time.perf_counter()
    failed = []
    # The kernels inherit this environment and their notebooks call resolve(PROFILE), where the variable wins: it must
    # name the chosen profile while they run, or an old FTSAFETY_PROFILE would run them on another one.
    previous = os.environ.get(ENV_VAR), os.environ.get(OVERRIDES_VAR)
    os.environ[ENV_VAR] = profile
    if changed:
        os.environ[OVERRIDES_VAR] = json.dumps(changed)
    else:
        os.environ.pop(OVERRIDES_VAR, None)
    from .book import git_commit, write_run_record

    commit = git_commit()  # read once: the code the whole course ran with, recorded for the book
    try:
        for nb in nbs:
            t0 = time.perf_counter()
            print(f"[{profile}] running {nb.name} ...", flush=True)
            try:
                run_notebook(nb, profile, out_dir, timeout, per_notebook[nb])
                print(f"[{profile}] {nb.name} done in {format_duration(time.perf_counter() - t0)}", flush=True)
            except Exception as err:  # papermill raises PapermillExecutionError with the failing cell
                failed.append(nb.name)
                print(f"[{profile}] {nb.name} FAILED after {format_duration(time.perf_counter() - t0)}: {err}",
                      file=sys.stderr)
            write_run_record(runs_root() / profile, profile, [nb.stem], commit=commit)
    finally:
        for var, value in zip((ENV_VAR, OVERRIDES_VAR), previous):
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    md = write_reproduction_md(profile)
    total = time.perf_counter() - t_all
    print(f"[{profile}] executed notebooks in {out_dir}; reproduction table in {md}")
    print(f"[{profile}] total time {total / 60:.1f} min for {len(nbs)} notebook(s)"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
