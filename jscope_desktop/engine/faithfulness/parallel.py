"""The faithfulness benchmark and the sanity check on the batch runner's Ray workers
(``--workers N`` / ``--ray``).

Each worker loads the model once (:class:`~jscope_desktop.engine.runners.ray_pool.RayWorkers`, the
runner of ``jscope batch``) and measures one passage at a time with the same
:func:`~.measure.evaluate_prompt` (or :func:`~.sanity.sanity_prompt`) as the sequential run; a
passage's numbers depend only on its
text, its index and the settings (``random`` and Fisher are seeded by them), so they equal the
sequential run's (bit for bit on the same device, dtype and thread count per process).

What differs from the sequential run is only when things happen: results arrive in the order
they finish and each is appended to the sidecar as it arrives (so a stopped run resumes the same),
the report lists them in input order, and a passage that fails (one sentence) stops the run with
the error of the *first* failing passage in input order, once every passage before it has
finished, as the sequential run would stop there. A worker that dies running a passage is
replaced and the passage run again (at most ``MAX_ATTEMPTS`` times, then that passage fails).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..compute.forward import CancelCheck
from ..errors import Cancelled, JScopeError
from .measure import FaithfulnessConfig, PromptResult, evaluate_prompt
from .prompts import check_last_word
from .resume import MeasureFn, PromptProgressFn, Todo
from .run import ModelAbout, run_faithfulness


@dataclass(frozen=True)
class Passage:
    """One prompt to measure on a worker: its 0-based ``index``, ``text`` and ``sha``."""

    index: int
    text: str
    sha: str

    @property
    def key(self) -> str:
        """Its id as text (what the runner counts lines by)."""
        return str(self.index)


def measure_passage(lm, passage: Passage, cfg: FaithfulnessConfig) -> dict:
    """A worker's line for ``passage``: ``{"index", "result": PromptResult}`` or
    ``{"index", "error": sentence}`` (a :class:`JScopeError` of the passage)."""
    try:
        result = evaluate_prompt(lm, passage.text, passage.index, cfg, None, passage.sha)
    except JScopeError as exc:
        return {"index": passage.index, "error": str(exc)}
    return {"index": passage.index, "result": result}


def died_line(passage: Passage, attempts: int) -> dict:
    """The line of a passage whose worker died ``attempts`` times while measuring it."""
    return {"index": passage.index,
            "error": f"The worker measuring prompt {passage.index + 1} died {attempts} times "
                     "(killed, out of memory or crashed); it may need more memory than a worker "
                     "has."}


def in_input_order_errors(lines, todo: Todo,
                          cancel: CancelCheck | None = None) -> Iterator[PromptResult]:
    """The results of ``lines`` (a worker's lines, in any order) as they come; raises the error
    of the first failing passage in input order once every passage before it has arrived, and
    :class:`Cancelled` when ``cancel()`` says so between lines."""
    pending = {i for i, _, _ in todo}
    first: tuple[int, str] | None = None  # (index, sentence) of the first failure in order
    for line in lines:
        index = line["index"]
        pending.discard(index)
        if "error" in line:
            if first is None or index < first[0]:
                first = (index, line["error"])
        else:
            yield line["result"]
        if first is not None and all(i > first[0] for i in pending):
            raise JScopeError(first[1])
        if cancel and cancel():
            raise Cancelled()
    if first is not None:
        raise JScopeError(first[1])


def pool_measure(pool) -> MeasureFn:
    """The ``measure`` of a resumable run (:mod:`.resume`) on a worker ``pool``: every passage
    of ``todo`` sent to the workers, the results yielded as they finish, the first failing
    passage's sentence raised in input order."""
    def measure(todo: Todo, cancel: CancelCheck | None) -> Iterator:
        passages = [Passage(i, text, sha) for i, text, sha in todo]
        return in_input_order_errors(pool.lines(passages), todo, cancel)
    return measure


def run_faithfulness_on_workers(
    prompts: list[str], cfg: FaithfulnessConfig, model: str | None, device: str, dtype: str,
    address: str = "local", workers: int | None = None, partial: str | Path | None = None,
    progress: PromptProgressFn | None = None, cancel: CancelCheck | None = None,
    ready: Callable[[], None] | None = None,
) -> tuple[list[PromptResult], ModelAbout]:
    """:func:`~.run.run_faithfulness` with the passages on a pool of Ray workers.

    Args:
        prompts, cfg, partial, progress, cancel: as :func:`~.run.run_faithfulness`.
        model, device, dtype: what each worker loads (``load_model``'s arguments; on a cluster
            with GPUs the workers are GPU actors with the model on ``cuda``).
        address, workers: as :class:`~jscope_desktop.engine.runners.ray_pool.RayWorkers`.
        ready: called once the first worker holds the model, before any passage (timing).

    Returns:
        The results in input order and what the report records of the workers' model.

    Raises:
        JScopeError: bad settings (before Ray starts), Ray missing or unreachable, a model that
            does not load, or the first failing passage's sentence.
    """
    from ..runners.ray_pool import RayWorkers

    cfg.check()  # everything that needs no model, before Ray starts
    if cfg.explain == "last":
        for i, text in enumerate(prompts):
            check_last_word(text, i)
    run_item = functools.partial(measure_passage, cfg=cfg)
    with RayWorkers(run_item, model, device, dtype, address=address, workers=workers,
                    died_line=died_line) as pool:
        info = ModelAbout(pool.info["model"], pool.info["device"], pool.info["dtype"])
        if ready:
            ready()

        results = run_faithfulness(info, prompts, cfg, partial, progress, cancel,
                                   pool_measure(pool))
    return results, info


def sanity_passage(lm, passage: Passage, cfg) -> dict:
    """A worker's line for one passage of the sanity check: ``{"index", "result":
    SanityPrompt}`` or ``{"index", "error": sentence}``."""
    from .sanity import sanity_prompt

    try:
        return {"index": passage.index,
                "result": sanity_prompt(lm, passage.text, passage.index, cfg, None, passage.sha)}
    except JScopeError as exc:
        return {"index": passage.index, "error": str(exc)}


def run_sanity_on_workers(
    prompts: list[str], cfg, model: str | None, device: str, dtype: str,
    address: str = "local", workers: int | None = None, partial: str | Path | None = None,
    progress: PromptProgressFn | None = None, cancel: CancelCheck | None = None,
) -> tuple[list, ModelAbout]:
    """:func:`~.sanity.run_sanity` with the passages on a pool of Ray workers (each holds the
    model and makes its own copy of the blocks per passage): the same numbers, in input order,
    the same sidecar ``partial``, and the first failing passage's sentence (as
    :func:`run_faithfulness_on_workers`).

    Returns:
        The :class:`~.sanity.SanityPrompt` of every prompt in input order, and the model's
        :class:`~.run.ModelAbout`.
    """
    from ..runners.ray_pool import RayWorkers
    from .sanity import run_sanity

    cfg.check()
    run_item = functools.partial(sanity_passage, cfg=cfg)
    with RayWorkers(run_item, model, device, dtype, address=address, workers=workers,
                    died_line=died_line) as pool:
        info = ModelAbout(pool.info["model"], pool.info["device"], pool.info["dtype"])

        results = run_sanity(info, prompts, cfg, progress, cancel, partial, pool_measure(pool))
    return results, info
