"""Exercises: the student writes a mechanism the notebook then uses; a checker says what is wrong with it.

The shape of every exercise (ARENA's, with nbgrader's markers so that an instructor can autograde):

1. a markdown header (difficulty, importance, minutes), what the student will be able to do, the equation;
2. a code cell tagged as an nbgrader solution cell, whose body sits between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION`` (the student edition, ``make student``, replaces it with ``raise NotImplementedError()``);
3. a code cell that checks it and picks what the notebook uses next::

       mask_fn = use(check_completion_mask(completion_mask), completion_mask, library_mask)

   A passing function is used; a failing one or a stub is named in one line, and the library's is used instead, so
   the notebook still runs top to bottom and its measurements stay right;
4. an nbgrader test cell, ``grade(check_completion_mask(completion_mask))``: it raises only under the autograder
   (``FTSAFETY_GRADING=1``), so a student's run never stops there;
5. hints, and the solution in a collapsed ``<details>`` block.

Each notebook's checkers live in ``nbXX.py`` beside this file. A checker runs the student's function on hand-built
cases (smallest first) against the library's own implementation (and TRL's or PEFT's where one exists), and where
they differ it names the usual mistake: the first typical wrong implementation that gives the student's answer.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

GRADING_ENV = "FTSAFETY_GRADING"


@dataclass
class Check:
    """What a checker found: ``status`` is "passed", "failed" or "not done" (the stub still raises)."""

    exercise: str
    status: str
    message: str
    cases: int = 0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __str__(self) -> str:
        return f"{self.exercise}: {self.status} ({self.message})"


@dataclass
class Case:
    """One input to a checker: keyword arguments for the function, and a short description for messages."""

    kwargs: dict
    note: str = ""

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items())
        return f"{self.note}: {shown}" if self.note else shown


def check(exercise: str, fn: Callable, cases: Sequence[Case], reference: Callable,
          mistakes: Sequence[tuple[str, Callable]] = (), rtol: float = 1e-5, atol: float = 1e-6) -> Check:
    """Run ``fn`` on ``cases`` in order against ``reference``; the first case where they differ decides the message.

    ``mistakes`` are ``(message, wrong_fn)`` pairs: typical wrong implementations. If the student's answer on the
    failing case equals a wrong implementation's answer, that mistake's message is given ("the mask also hides the
    first answer token"); otherwise the message shows the case, the answer and the expected answer.
    """
    for n, case in enumerate(cases, 1):
        want = reference(**case.kwargs)
        try:
            got = fn(**case.kwargs)
        except NotImplementedError:
            return Check(exercise, "not done", "the stub still raises NotImplementedError")
        except Exception as err:  # a student's bug: name it, do not stop the notebook
            return Check(exercise, "failed", f"raised {type(err).__name__}: {err} on {case.describe()}", n)
        if close(got, want, rtol, atol):
            continue
        for message, wrong in mistakes:
            try:
                if close(got, wrong(**case.kwargs), rtol, atol):
                    return Check(exercise, "failed", f"{message} (smallest failing case: {case.describe()}; "
                                                     f"yours gives {_short(got)}, expected {_short(want)})", n)
            except Exception:
                continue
        return Check(exercise, "failed",
                     f"on {case.describe()} yours gives {_short(got)}, expected {_short(want)}", n)
    return Check(exercise, "passed", f"all {len(cases)} checks pass", len(cases))


def use(result: Check, mine: Callable, library: Callable, show: bool = True) -> Callable:
    """``mine`` if it passed its checker, else ``library``; says which in one line."""
    if show:
        if result.passed:
            print(f"✔ {result.exercise}: {result.message}; the notebook uses yours from here on.")
        elif result.status == "not done":
            print(f"· {result.exercise}: not written yet; the notebook uses the library's.")
        else:
            print(f"✘ {result.exercise}: {result.message}. The notebook uses the library's until yours passes.")
    return mine if result.passed else library


def grade(result: Check) -> Check:
    """An nbgrader test cell's body: raises only under the autograder (``FTSAFETY_GRADING=1``), where a raise is what
    marks the cell as failed; a student's own run goes on, as :func:`use` has already said what is wrong."""
    if os.environ.get(GRADING_ENV) == "1" and not result.passed:
        raise AssertionError(str(result))
    return result


def close(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Equal, with a tolerance for floats, in nested lists, tuples, dicts, numpy arrays and torch tensors."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    if hasattr(b, "detach"):
        b = b.detach().cpu().numpy()
    if hasattr(a, "tolist") and not isinstance(a, (str, bytes)):
        a = a.tolist()
    if hasattr(b, "tolist") and not isinstance(b, (str, bytes)):
        b = b.tolist()
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rtol, atol) for k in a)
    return a == b


def _short(value: Any, limit: int = 80) -> str:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
