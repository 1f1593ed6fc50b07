"""`jscope batch`: attribute a whole data set, in this process or on Ray workers.

By default the items run in this process, one after another. ``--workers N`` (N > 1) runs them
on N local Ray actors and ``--ray local|auto|HOST:PORT`` on a Ray instance started here or a
cluster joined (see :mod:`jscope_desktop.engine.runners.ray_pool`); either way this process alone
writes the output, each line as it arrives.

Each item's line is appended to the output as soon as it is done (flushed and synced), so a
stopped run loses at most the item it was on. ``--resume`` continues such a run: items with a
result line are done; items with an error line are run again (their old line is dropped, so a
fixed input or a smaller ``--dtype`` gets another chance), and a truncated last line is
dropped. The kept lines stay byte for byte as they were; lines are in the order the items
finished, so match them by ``id``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import os
import sys
import time
from collections.abc import Iterable

from ..engine.errors import JScopeError, finite_or_none, is_out_of_memory
from ..engine.explain.attribute import attribute
from ..engine.io import check_distinct, check_writable, could_not_write, user_path
from ..engine.runners.batch import BatchItem, OutState, read_items, read_out, result_settings
from .options import add_model_options, load_model, oom_sentence, positive_integer
from .requests import add_request_options, build_request, request_from_args

__all__ = ["add_parser", "add_worker_options", "attribute", "item_line", "json_line", "load_model",
           "run", "wants_workers"]


def add_parser(sub) -> None:
    """Register ``batch`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "batch", help="attribute every item of a data set (JSON Lines, JSON or CSV)",
        description="Attribute every item of a data set, one after another, writing one JSON "
        "line per item to --out as soon as it is done. Items: {\"id\", \"prompt\", \"target\", "
        "\"foil\", \"position\", \"chat\"} (only prompt required); an item's own fields "
        "override the options.",
    )
    p.add_argument("input", metavar="INPUT", help="the data set: .jsonl (one JSON object a "
                   "line), .json (a list of objects) or .csv (a header row naming the columns)")
    p.add_argument("--out", required=True, metavar="OUT.jsonl",
                   help="write one JSON line per item here (a result, or the item's error)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run into --out: "
                   "items with a result are skipped, items with an error line are run again")
    add_worker_options(p, "items")
    add_request_options(p)
    add_model_options(p)
    p.set_defaults(run=run, usage_error=p.error)


def add_worker_options(p, what: str) -> None:
    """``--workers N`` and ``--ray local|auto|HOST:PORT`` (shared by batch and faithfulness:
    one runner, :mod:`jscope_desktop.engine.runners.ray_pool`); ``what`` names what the workers run."""
    p.add_argument("--workers", type=positive_integer, metavar="N",
                   help=f"run the {what} on N worker processes, each loading the model once "
                   "(Ray; default 1: in this process; with --ray: the cluster's GPUs, else half "
                   "its CPUs, at most 8 locally)")
    p.add_argument("--ray", type=_ray_address, metavar="local|auto|HOST:PORT",
                   help="run the workers as Ray actors: local starts Ray on this machine, auto or "
                   "HOST:PORT joins a running cluster (every node needs jscope-desktop and the "
                   "model; GPU actors when the cluster has GPUs)")


def wants_workers(args) -> bool:
    """True when the options ask for Ray workers (``--ray``, or ``--workers`` above 1)."""
    return args.ray is not None or (args.workers or 1) > 1


def _ray_address(text: str) -> str:
    from ..engine.runners.ray_pool import is_address

    if not is_address(text):
        raise argparse.ArgumentTypeError(f"must be local, auto or HOST:PORT, not {text!r}")
    return text


def run(args) -> int:
    """Check everything that can be checked, load the model (here, or once in each worker),
    run every item, summarise.

    Returns 0 when every item has a result, 1 when any has an error line.
    """
    request_from_args(args, "x")  # the options alone must make a request (else exit 2)
    if args.out == "-":
        raise JScopeError("--out needs a file name: it is written line by line so that "
                          "--resume can continue a stopped run.")
    out = user_path(args.out)
    check_distinct([args.out], [args.input])
    check_writable(args.out)
    if not args.resume and out.exists() and out.stat().st_size > 0:
        raise JScopeError(f"{args.out} already holds lines; add --resume to continue that run, "
                          "or choose another --out file.")
    items = read_items(args.input)
    state = read_out(out, {item.key for item in items}) if args.resume else OutState()
    _check_scope(state, args)
    todo = [item for item in items if item.key not in state.done]
    runnable = [item for item in todo if item.error is None]
    if wants_workers(args) and runnable:
        from ..engine.runners.ray_pool import import_ray

        import_ray()  # before any work: one sentence when Ray is missing
        from ..engine.planning.calibration import source_note

        note = source_note(args.model)  # the workers load the model: said here, once
        if note:
            print(f"jscope: {note}", file=sys.stderr)
        failed, seconds = _run_on_ray(state, todo, runnable, args, out)
    else:
        lm = None
        if runnable:
            lm = load_model(args.model, args.device, args.dtype)
            _check_model(state, lm.info.to_dict(), lm.dtype_name, args)
        state.rewrite(out)
        failed, seconds = _write_lines((item_line(lm, item, args) for item in todo), len(todo),
                                       out)
    _summary(len(items), len(todo), failed, seconds)
    if failed:
        print(f"jscope: {failed} of {len(items)} items failed; see their error lines in "
              f"{args.out}.", file=sys.stderr)
        return 1
    return 0


def item_line(lm, item: BatchItem, args) -> dict:
    """The output line of ``item``: its result with its ``id``, or ``{"id", "error"}``.

    Raises only for a bug: every error a user can cause (a bad field, an impossible request,
    running out of memory) becomes the item's error line.
    """
    if item.error is not None:
        return {"id": item.id, "error": item.error}
    try:
        request = build_request(args, item.fields["prompt"], **item.overrides)
        result = attribute(lm, request, refuse_unused=True)
    except JScopeError as exc:
        return {"id": item.id, "error": str(exc)}
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        _free_memory()
        return {"id": item.id, "error": oom_sentence(args)}
    return {"id": item.id, **finite_or_none(result.to_dict())}


def _run_on_ray(state: OutState, todo: list[BatchItem], runnable: list[BatchItem], args,
                out) -> tuple[int, float]:
    """Run ``runnable`` on Ray workers, writing the lines of ``todo`` as they arrive (those of
    items that cannot run first); returns (how many failed, seconds once the first worker
    holds the model)."""
    from ..engine.runners.ray_pool import RayWorkers

    options = argparse.Namespace(**{k: v for k, v in vars(args).items()
                                    if k not in ("run", "usage_error")})  # picklable
    run_item = functools.partial(item_line, args=options)
    with RayWorkers(run_item, args.model, args.device, args.dtype, address=args.ray or "local",
                    workers=args.workers) as pool:
        _check_model(state, pool.info["model"], pool.info["dtype"], args)
        state.rewrite(out)
        unrunnable = [{"id": item.id, "error": item.error} for item in todo if item.error]
        return _write_lines(itertools.chain(unrunnable, pool.lines(runnable)), len(todo), out)


def _write_lines(lines: Iterable[dict], total: int, out) -> tuple[int, float]:
    """Append each of ``lines`` to ``out`` as it comes (flushed, synced); returns (how many are
    errors, seconds taken)."""
    failed, start = 0, time.perf_counter()
    try:  # backslashreplace: a lone surrogate becomes its JSON escape, never a crash
        f = open(out, "a", encoding="utf-8", errors="backslashreplace", newline="\n")
    except OSError as exc:
        raise could_not_write(out, exc) from exc
    with f, _Progress(total) as advance:
        for line in lines:
            failed += "error" in line
            text = json_line(line)
            try:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            except OSError as exc:
                raise could_not_write(out, exc) from exc
            advance()
    return failed, time.perf_counter() - start


# characters that end a line for some readers (Python's str.splitlines) though JSON allows them
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(obj: dict) -> str:
    """``obj`` as one line of JSON Lines (UTF-8 text; NEL and the Unicode line and paragraph
    separators escaped, so that every reader sees one line)."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)  # these occur only inside strings
    return text + "\n"


def _check_scope(state: OutState, args) -> None:
    scopes = {s[0] for s in state.settings} - {args.scope}
    if scopes:
        other = sorted(map(str, scopes))[0]
        raise JScopeError(f"{args.out} holds results of the {other} scope; resume with --scope "
                          f"{other}, or choose another --out file.")


def _check_model(state: OutState, model: dict, dtype: str, args) -> None:
    """Refuse to resume into results of another model or dtype (before anything is written);
    ``model`` is the result contract's ``model`` object, ``dtype`` its ``dtype``."""
    if not state.settings:
        return
    mine = result_settings({"scope": args.scope, "model": model, "dtype": dtype})
    mine = tuple(json.loads(json.dumps(list(mine))))  # as the lines hold it
    if state.settings - {mine}:
        raise JScopeError(f"{args.out} holds results of another model or dtype; resume with the "
                          "--model and --dtype of that run, or choose another --out file.")


def _free_memory() -> None:
    """After running out of memory: release what the failed item held before the next one."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Progress:
    """A progress bar with rate and time left on stderr, when stderr is a terminal; calling
    the context's value marks one item done."""

    def __init__(self, total: int):
        self.total = total

    def __enter__(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task):
                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{speed * 60:.1f} items/min")

        console = Console(file=sys.stderr)
        self.bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(), Rate(),
                            TimeRemainingColumn(), console=console, transient=True,
                            disable=not console.is_terminal)
        self.bar.__enter__()
        task = self.bar.add_task("items", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def _summary(n_items: int, ran: int, failed: int, seconds: float) -> None:
    """One line on stdout: items, failures, seconds, items per minute."""
    rate = ran / seconds * 60 if seconds > 0 else 0.0
    skipped = f", {n_items - ran} already done" if ran < n_items else ""
    print(f"{n_items} items ({ran} run{skipped}), {failed} failed, {seconds:.1f} s, "
          f"{rate:.1f} items per minute.")

