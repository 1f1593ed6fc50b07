"""The work the worker runs. The engine (torch, transformers) is imported here, lazily and on the
worker's thread, so the window appears before torch has loaded."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...engine.errors import JScopeError


@dataclass
class EngineInfo:
    """What the panels need from the engine: scopes, devices, dtypes, methods, licence."""

    scopes: list  # engine.scopes.Scope, every registered one (plugins included)
    devices: list[str]  # present on this machine, plus "auto"
    all_devices: list[str]
    dtypes: list[str]
    fisher_methods: list[str]
    embedded_name: str
    embedded_license: str
    versions: dict[str, str] = field(default_factory=dict)
    matrix_scopes: list[str] = field(default_factory=list)  # scopes the generation matrix takes
    series_scopes: list[str] = field(default_factory=list)
    plugin_problems: list[str] = field(default_factory=list)  # one sentence per broken plugin


class ModelHolder:
    """The loaded model, read and written only by jobs on the worker thread (so a run queued
    behind a load sees the model that load produced)."""

    def __init__(self, lm=None):
        self.lm = lm

    def require(self):
        """The loaded model, or a one-sentence error when there is none."""
        if self.lm is None:
            raise JScopeError("No model is loaded yet; wait for it or open one (Ctrl+O).")
        return self.lm


def engine_info(progress, cancel) -> EngineInfo:
    """Import the engine and describe it (the first job; it pays torch's import time)."""
    progress(0.0, "Starting the engine")
    import platform

    import pyqtgraph
    import PySide6
    import torch
    import transformers

    from ... import __version__
    from ...engine.compute.fisher_config import FISHER_METHODS
    from ...engine.model.dtype import DTYPE_CHOICES
    from ...engine.model.load import (
        DEVICES,
        EMBEDDED_LICENSE,
        EMBEDDED_NAME,
        available_devices,
    )
    from ...engine.scopes import all_scopes, plugin_problems, scope_names

    scopes = all_scopes()
    versions = {"jscope-desktop": __version__, "Python": platform.python_version(),
                "torch": torch.__version__, "transformers": transformers.__version__,
                "PySide6": PySide6.__version__, "pyqtgraph": pyqtgraph.__version__}
    return EngineInfo(scopes, ["auto", *available_devices()], list(DEVICES), list(DTYPE_CHOICES),
                      list(FISHER_METHODS), EMBEDDED_NAME, EMBEDDED_LICENSE, versions,
                      scope_names("matrix"), scope_names("series"), plugin_problems())


def load_job(holder: ModelHolder, source: str | None, device: str, dtype: str):
    """A job loading ``source`` (None: the embedded model) into ``holder``; returns the model.

    The load stops between its steps once ``cancel()`` is True (``holder`` keeps its model).
    """

    def run(progress, cancel):
        from ...engine.model.load import load_model
        from ...engine.progress import check_cancel

        lm = load_model(source, device, dtype, progress=progress, cancel=cancel)
        check_cancel(cancel)  # superseded while its last step ran: the newer load decides
        holder.lm = lm
        return lm

    return run


def attribute_job(holder: ModelHolder, request, memory_limit: int | None = None,
                  force: bool = False):
    """A job running one attribution of ``request`` (an ``AttributionRequest``); a run the
    cost model says will not fit (the available memory, or ``memory_limit`` bytes) is refused
    unless ``force``. Progress messages end with the time left (" · 12 s left")."""

    def run(progress, cancel):
        from ...engine.explain.attribute import attribute

        return attribute(holder.require(), request, timed_progress(progress), cancel,
                         memory_limit=memory_limit, force=force, refuse_unused=True)

    return run


def timed_progress(progress):
    """``progress`` with the time left appended to each message (from the cost model's
    estimate, then the measured rate)."""
    from ...engine.progress import TimedProgress
    from .countdown import with_time_left

    def sink(fraction, message, left):
        progress(fraction, message if left is None or fraction >= 1
                 else with_time_left(message, left))

    return TimedProgress(sink)


def estimate_job(holder: ModelHolder, request, memory_limit: int | None = None):
    """A job estimating ``request`` on the loaded model (None when none is loaded or the
    prompt is empty): tokenizes, measures the model's throughput once (its warm-up), and
    returns a ``cost_model.Estimate``, or the one-line note of a model whose runs cannot be
    estimated (``cost_model.NO_ESTIMATE``)."""

    def run(progress, cancel):
        from ...engine.model.tokens import encode_prompt
        from ...engine.planning.calibration import estimate_loaded, estimate_note, warm_up

        lm = holder.lm
        if lm is None or not (request.prompt or "").strip():
            return None
        ids = encode_prompt(lm.tokenizer, request.prompt, request.chat).token_ids
        if len(ids) > lm.info.context_length:
            return None
        warm_up(lm, ids)  # calibrates the time once per model and device
        return estimate_loaded(lm, request, len(ids), memory_limit) or estimate_note(lm)

    return run


def pair_job(holder: ModelHolder, first, second):
    """A job running two attributions of the same prompt; returns (first, second) results.

    Used by the cost panel's measurement (two runs).
    """

    def run(progress, cancel):
        from ...engine.explain.attribute import attribute

        lm = holder.require()
        a = attribute(lm, first, lambda f, m: progress(f / 2, m), cancel, measure_forward=True)
        b = attribute(lm, second, lambda f, m: progress(0.5 + f / 2, m), cancel,
                      measure_forward=True)
        return a, b

    return run


def multi_job(holder: ModelHolder, request, scopes: list[str]):
    """A job running ``scopes`` (names) on ``request``'s prompt in one pass (one forward graph,
    one batched backward pass); returns an ``engine.multi_result.MultiScopeResult``."""

    def run(progress, cancel):
        from ...engine.explain.multi import attribute_many

        return attribute_many(holder.require(), request, scopes, progress, cancel,
                              refuse_unused=True)

    return run


def generate_job(holder: ModelHolder, prompt: str, n_tokens: int, scope: str, chat: bool):
    """A job generating ``n_tokens`` and attributing each generated token (a matrix result)."""

    def run(progress, cancel):
        from ...engine.explain.generation import generate_attribution

        return generate_attribution(holder.require(), prompt, n_tokens, scope=scope, chat=chat,
                                    progress=progress, cancel=cancel)

    return run
