"""One process or several: what the library needs to know when ``accelerate launch`` runs it data-parallel.

``accelerate launch --num_processes N -m ftsafety train ...`` starts N copies of the same program. transformers'
Trainer already trains them as one data-parallel run (it wraps the model in DDP, shards the batches and averages the
gradients); the library's own part is what happens around the Trainer:

- each process holds its model on its own device (:func:`process_device`), not every copy on the first GPU;
- the recipe's global batch stays the recipe's: the rows of one optimiser step are divided between the processes
  (:func:`split_batch`);
- files and registry entries are written by the main process only, the others wait (:func:`is_main_process`,
  :func:`wait_for_everyone`, :func:`main_process_first`);
- an evaluation can be split between the processes and gathered back in order (:func:`map_split`,
  :func:`split_respond`), and what each process recorded gathered (:func:`gather`);
- a model that the processes train together and that the registry keeps merged (RepNoise's defended model, a reward
  model, an SFT warm-up) is recorded by the main process only (:func:`cached_model_together`), and so is an evaluation
  they run together (:func:`cached_run_together`).

In one process (a notebook, ``ftsafety train`` without ``accelerate launch``) every function here is a no-op and
accelerate is not even asked: a process is one of several only when the launcher says so (``WORLD_SIZE`` > 1, set by
``accelerate launch --multi_gpu`` and ``torchrun``), and only then is accelerate's ``PartialState`` consulted.

On CPUs, several processes need ``ACCELERATE_USE_CPU=1`` in the environment (they then talk through gloo): accelerate
1.15's ``accelerate launch --cpu --num_processes N`` starts one process only (without an MPI host file), so the CPU
runs are launched as ``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N``. transformers' Trainer
reads the same variable, so the library and the Trainer agree on the processes.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator, Sequence


def _launched() -> bool:
    """Whether a launcher started this process as one of several (cheap: the environment only)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def _state():
    """accelerate's state of this process, set up as transformers' Trainer sets it up (CPU processes where
    ``ACCELERATE_USE_CPU`` says so); an error where the launcher started several processes but accelerate sees one."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    if state.num_processes == 1:
        raise RuntimeError(f"the launcher started {os.environ['WORLD_SIZE']} processes, but accelerate sees only this "
                           "one (no GPU for each?), so each would train alone and overwrite the others' files; on CPUs "
                           "set ACCELERATE_USE_CPU=1: ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu "
                           "--num_processes N -m ftsafety train ...")
    return state


def processes() -> int:
    """How many processes train together: accelerate's count where a launcher started several, else 1."""
    return _state().num_processes if _launched() else 1


def is_main_process() -> bool:
    """Whether this process writes files and the run registry (the only one in a single-process run)."""
    return _state().is_main_process if _launched() else True


def wait_for_everyone() -> None:
    """Every process waits here until all have arrived (a no-op in one process)."""
    if _launched():
        _state().wait_for_everyone()


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """The block runs in the main process first, then in the others: for work that writes a shared file once (a
    model built or converted into the cache) and is only read by the processes that come after."""
    if not _launched():
        yield
        return
    with _state().main_process_first():
        yield


def process_device() -> str | None:
    """This process's device where several run (``cuda:<local rank>`` on GPUs, ``cpu`` under ``--cpu``); None in
    one process, where :func:`ftsafety.models.pick_device` chooses."""
    if not _launched():
        return None
    device = _state().device
    return "cpu" if device.type == "cpu" else str(device)  # "cpu", as one process names it, not "cpu:0"


def process_record() -> dict:
    """``{"processes": N}`` where N > 1 processes run together, else ``{}``: what a run's training config and summary
    add, so that configs stored by single-process runs keep their digests, and what the done marker of an evaluation
    split between the processes records (:func:`cached_run_together`)."""
    n = processes()
    return {"processes": n} if n > 1 else {}


def split_batch(per_device: int, grad_accum: int, n_processes: int) -> tuple[int, int]:
    """``(per-device batch, gradient accumulation)`` for ``n_processes`` processes that keeps the recipe's global batch
    (``per_device * grad_accum`` rows per optimiser step in one process).

    Each process takes ``1 / n_processes`` of the step's rows; its per-device batch is the largest divisor of that
    share that does not exceed the recipe's (memory per device never grows), the rest by gradient accumulation.
    A step whose rows cannot be shared equally is an error: the Trainer would otherwise train another batch size.
    """
    rows = per_device * grad_accum
    if n_processes == 1:
        return per_device, grad_accum
    if rows % n_processes:
        raise ValueError(f"the recipe's batch of {rows} rows per optimiser step ({per_device} per device x "
                         f"{grad_accum} accumulation steps) cannot be shared equally by {n_processes} processes; "
                         f"launch a number of processes that divides {rows}, or change the batch size")
    share = rows // n_processes
    device_rows = max(d for d in range(1, min(per_device, share) + 1) if share % d == 0)
    return device_rows, share // device_rows


def map_split(fn: Callable[[list], Sequence], items: Sequence) -> list:
    """``fn`` applied to ``items`` split between the processes, gathered back in input order on every process.

    ``fn`` takes a list and returns one result per item. Each process gets a contiguous slice (accelerate's
    ``split_between_processes``, in process order), and ``gather_object`` concatenates the slices' results in the same
    order, so the result equals ``fn(items)`` in one process wherever ``fn`` treats items independently.
    """
    items = list(items)
    if not _launched():
        return list(fn(items))
    from accelerate.utils import gather_object

    with _state().split_between_processes(items) as part:
        out = list(fn(list(part)))
    if len(out) != len(part):
        raise ValueError(f"map_split: fn returned {len(out)} results for {len(part)} items")
    return gather_object(out)


def gather(items: Sequence) -> list:
    """Every process's ``items``, concatenated in process order, on every process (``items`` itself in one process):
    what each process recorded of its own share of the batches, put together."""
    if not _launched():
        return list(items)
    from accelerate.utils import gather_object

    return gather_object(list(items))


def cached_model_together(root, recipe: dict, build: Callable, force: bool = False) -> str:
    """:func:`ftsafety.runs.cached_model` where every process trains the model and the main process alone records it.

    ``build(target)`` runs in every process where the model must be built (they train together, so all must take part);
    it saves the model from the main process only. The decision to build is taken by every process before any of them
    writes, and only the main process calls ``cached_model`` itself, which writes the recipe and removes the models of
    other recipes. In one process it is ``cached_model``.
    """
    from .files import is_saved_model
    from .runs import cached_model, cached_model_dir, normal, with_precision

    if not _launched():
        return cached_model(root, recipe, build, force)
    target = cached_model_dir(root, normal(with_precision(recipe)))
    needed = force or not is_saved_model(target)
    wait_for_everyone()  # every process has looked before the main one changes the folder
    if is_main_process():
        path = cached_model(root, recipe, build, force)
    else:
        if needed:
            build(target)
        path = str(target)
    wait_for_everyone()  # the model and its recipe are on disk before any process reads them
    return path


def cached_run_together(run, config: dict, compute: Callable, force: bool = False):
    """:func:`ftsafety.runs.cached_run` where every process computes its share and the main process alone records it.

    ``compute()`` runs in every process where the run is not stored (each generates its share of the prompts, so all
    must take part) and returns ``(metrics, generations)`` gathered on every process; only the main process writes them.
    Every process decides before any writes, and reads the recorded run after the main process has written it; the
    run's done marker records the process count. In one process it is ``cached_run``.
    """
    from .files import CorruptFile
    from .runs import cached_run, with_precision

    if not _launched():
        return cached_run(run, config, compute, force)
    try:  # the test cached_run makes, so that every process takes the same branch
        needed = force or not run.is_done(with_precision(config))
        if not needed:
            run.check_readable()
    except CorruptFile:
        needed = True  # the main process moves the unreadable files aside and records the run again
    wait_for_everyone()  # every process has looked before the main one changes the run
    if is_main_process():
        run = cached_run(run, config, compute, force, record=process_record())
    elif needed:
        compute()
    wait_for_everyone()  # the run is on disk before any process reads it
    return run


def split_respond(model, tokenizer, prompts: Sequence[str], template="chat", **kwargs) -> list[str]:
    """:func:`ftsafety.generation.respond` with the prompts split between the processes: every process generates its
    share and gets back all answers, in the prompts' order. In one process it is ``respond`` itself.

    Greedy decoding answers each prompt alone, so a split run gives one process's answers wherever a prompt's batch
    does not change its answer (``batch_size=1`` guarantees it; with larger batches the padding differs and a near tie
    between two tokens can break the other way).
    """
    from .generation import respond

    kwargs["progress"] = kwargs.get("progress", True) and is_main_process()  # one bar, the main process's
    return map_split(lambda part: respond(model, tokenizer, part, template, **kwargs), prompts)
