"""Reading JSONL with errors that name the file and line, and writing results atomically."""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence


class InputError(ValueError):
    """Bad user input; the message names the file, line or field and says how to fix it."""


def read_jsonl(path: str | os.PathLike, required: Sequence[str] = ("prompt",)) -> list[dict]:
    """Rows of a JSONL file, each a JSON object holding every field in ``required``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (expected JSON Lines, one object per line)")
    rows = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"{path}:{lineno}: not UTF-8 text (byte {err.start + 1} of the line); "
                                 "save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(
                    f"{path}:{lineno}: not valid JSON ({err.msg} at column {err.colno}); "
                    "each line must be one JSON object such as {\"prompt\": \"...\"}"
                ) from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in required if k not in row]
            if missing:
                raise InputError(
                    f"{path}:{lineno}: missing field {', '.join(repr(m) for m in missing)}; "
                    f"every line needs {', '.join(repr(r) for r in required)}"
                )
            for k in required:
                if not isinstance(row[k], str) or not row[k].strip():
                    raise InputError(f"{path}:{lineno}: field {k!r} must be a non-empty string")
            rows.append(row)
    if not rows:
        raise InputError(f"{path}: the file has no rows")
    return rows


class CorruptFile(InputError):
    """A file the library wrote earlier cannot be read back (truncated by a kill, edited by hand, a full disk)."""


# Temporary folders of atomic_path are named ".<target>.ftsafety-tmp-<pid>-<random>", so that a later write can tell its
# own leftovers (from a process that was killed) from anything a user keeps next to the target.
_TMP_MARK = ".ftsafety-tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, replace_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; it replaces ``path`` only if the block finishes.

    Works for files and directories, so a crash never leaves a half-written result behind. An existing directory at
    ``path`` is replaced only with ``replace_dir=True`` (the library's model and adapter folders), and only if it is
    empty or holds a saved model or adapter; any other directory is an :class:`InputError`, raised before the block
    runs, and nothing is deleted. Temporary folders that a killed process left next to ``path`` are removed; nothing
    else around it is touched.
    """
    path = Path(path).absolute()
    if path.name in ("", ".", "..") or path == path.parent:
        raise InputError(f"{path}: not a file name; give a path such as results/out.json")
    _check_replaceable(path, replace_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}{_TMP_MARK}{os.getpid()}-", dir=path.parent))
    tmp = work / path.name
    try:
        yield tmp
        _check_replaceable(path, replace_dir)  # a folder may have appeared there while the block ran
        old = work / ".replaced"
        if path.is_dir() and not path.is_symlink():
            # Move the old folder into our temporary one (one rename) before the new one takes its name; it is
            # removed with the temporary folder below, or put back if the new one cannot take its place.
            os.replace(path, old)
        try:
            os.replace(tmp, path)
        except OSError:
            if old.exists():
                os.replace(old, path)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_replaceable(path: Path, replace_dir: bool) -> None:
    if not path.is_dir() or path.is_symlink():
        return
    if not replace_dir:
        raise InputError(f"{path} is a directory; give a file path inside it (e.g. {path / 'out.json'}), "
                         "nothing was written or deleted")
    if any(path.iterdir()) and not (is_saved_model(path) or (path / "adapter_config.json").is_file()):
        raise InputError(f"{path} is a folder that does not hold a saved model or adapter; the library will not "
                         "replace it. Choose another path, or move the folder away")


def _remove_stale_temporaries(path: Path) -> None:
    """Remove ``atomic_path``'s temporary siblings of ``path`` whose process no longer runs (it was killed)."""
    prefix = f".{path.name}{_TMP_MARK}"
    for leftover in path.parent.glob(f"{glob.escape(prefix)}*"):
        pid = leftover.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def is_saved_model(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a model as ``save_pretrained`` writes it (a config and safetensors weights)."""
    path = Path(path)
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically (a reader sees the old file or the new one, never a part)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=jsonable) + "\n", encoding="utf-8")
    return Path(path)


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    """Write one JSON object per line, atomically."""
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=jsonable) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike):
    """The JSON in ``path``; a file that does not parse raises :class:`CorruptFile` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: cannot be read back ({err}); it was cut short or edited") from None


def read_jsonl_records(path: str | os.PathLike) -> list:
    """Every line of a JSON Lines file the library wrote; a line that does not parse raises :class:`CorruptFile`."""
    path = Path(path)
    rows, lineno = [], 1
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    rows.append(json.loads(line))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}:{lineno}: cannot be read back ({err}); it was cut short or edited") from None
    return rows


def jsonable(obj):
    """The JSON form of what ``json`` cannot write itself: results with ``as_dict``, numpy and torch scalars, sets, paths."""
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
