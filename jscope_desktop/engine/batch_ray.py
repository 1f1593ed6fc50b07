"""Items of a data set attributed by a pool of Ray actors, one model each; lines stream back.

:class:`RayWorkers` starts (``"local"``) or joins (``"auto"``, ``"HOST:PORT"``) a Ray instance
and creates one actor per worker, each loading the model once; Ray places the actors, runs and
watches their processes and carries items and lines. Each actor holds one item at a time (its
next one is submitted as soon as its line arrives, before the line is written), so an actor
that dies (killed, out of memory, a crash in native code) died running that item: the actor is
replaced and the item run again, at most :data:`MAX_ATTEMPTS` times, after which it gets an
error line, so that one poisonous item cannot stop a data set. :meth:`RayWorkers.lines` yields
one line per item in the order they finish, each exactly once; the caller (the driver) alone
writes them.

Ray is optional (``pip install 'jscope-desktop[cluster]'``) and imported only here, only when a
pool is made. The work of one item is a callable given by the caller (``run_item(lm, item)``,
picklable: a module-level function or a ``functools.partial`` of one), so this module knows
nothing of the command line. On a cluster, every node needs jscope-desktop installed and the
model at the same path (or the embedded model).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from .batch import BatchItem
from .errors import JScopeError
from .model_checks import physical_memory

MAX_ATTEMPTS = 3  # runs of one item whose worker died, before it gets an error line
MEMORY_FACTOR = 3  # a worker needs about this many times its model's weights in RAM
LOCAL_CAP = 8  # the default number of local workers is at most this
NOT_INSTALLED = "Ray is not installed; pip install 'jscope-desktop[cluster]'."
_ADDRESS = re.compile(r"(ray://)?[^\s:/]+:[0-9]{1,5}")


def import_ray():
    """The ``ray`` module, or one sentence saying how to install it."""
    try:
        import ray
    except ImportError:
        raise JScopeError(NOT_INSTALLED) from None
    return ray


def is_address(text: str) -> bool:
    """True for what ``--ray`` takes: ``local``, ``auto`` or ``HOST:PORT`` (``ray://`` too)."""
    return text in ("local", "auto") or bool(_ADDRESS.fullmatch(text))


def default_workers(address: str, resources: dict | None = None) -> int:
    """Workers when none are asked for: one per GPU of a cluster that has GPUs, else half its
    CPUs (this machine's CPUs for ``local``, at most :data:`LOCAL_CAP`), at least one."""
    if address == "local":
        return max(1, min(LOCAL_CAP, (os.cpu_count() or 2) // 2))
    resources = resources or {}
    if resources.get("GPU", 0) >= 1:
        return int(resources["GPU"])
    return max(1, int(resources.get("CPU", 2)) // 2)


def check_memory(workers: int, weight_bytes: int, memory: int | None) -> None:
    """Refuse ``workers`` copies of a model of ``weight_bytes`` that this machine cannot hold.

    Raises:
        JScopeError: ``workers`` × :data:`MEMORY_FACTOR` × ``weight_bytes`` exceeds ``memory``
            (the physical memory; None: not known, nothing is refused).
    """
    need = workers * MEMORY_FACTOR * weight_bytes
    if memory and need > memory:
        fit = max(1, memory // (MEMORY_FACTOR * weight_bytes))
        many = f"{workers} workers need" if workers > 1 else "1 worker needs"
        raise JScopeError(f"{many} about {need / 2**30:,.1f} GB ({workers} × {MEMORY_FACTOR} × "
                          f"the model's {weight_bytes / 2**30:,.2f} GB of weights), but this "
                          f"machine has {memory / 2**30:,.1f} GB; use --workers {fit} or fewer.")


def died_sentence(attempts: int) -> str:
    """The error line of an item whose worker died ``attempts`` times while running it."""
    return (f"The worker running this item died {attempts} times (killed, out of memory or "
            "crashed); the item may need more memory than a worker has.")


class _Task(NamedTuple):
    """An item submitted to the actor in ``slot``, for the ``attempt``-th time."""

    slot: int
    actor: Any
    item: BatchItem
    attempt: int


class Worker:
    """The body of one actor: a model loaded once, then items one after another."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.lm = None
        self.run_item = None

    def load(self, model: str | None, device: str, dtype: str, run_item: Callable) -> dict:
        """Load the model; returns what the driver checks, or ``{"error": sentence}``."""
        from .models import load_model

        try:
            self.lm = load_model(model, device, dtype)
        except JScopeError as exc:
            return {"error": str(exc)}
        self.run_item = run_item
        weights = [*self.lm.model.parameters(), *self.lm.model.buffers()]
        return {"model": self.lm.info.to_dict(), "dtype": self.lm.dtype_name,
                "device": str(self.lm.device), "pid": os.getpid(),
                "weight_bytes": sum(t.numel() * t.element_size() for t in weights)}

    def run(self, item: BatchItem) -> dict:
        """The line of ``item`` (``run_item`` catches every error a user can cause)."""
        return self.run_item(self.lm, item)


class RayWorkers:
    """A pool of Ray actors, each holding the model; use it as a context manager.

    Args:
        run_item: ``run_item(lm, item) -> dict``, the line of one item (picklable).
        model, device, dtype: what each actor loads (``load_model``'s arguments).
        address: ``"local"`` (start a Ray instance on this machine with ``workers`` CPUs, or use
            the one this process already started), ``"auto"`` or ``"HOST:PORT"`` (join a
            cluster).
        workers: the number of actors; None: :func:`default_workers`.

    Entering starts the actors, loads the model in the first one, checks that ``workers``
    copies fit in memory (a local instance only) and then loads it in the others while the
    first already runs items. :attr:`info` is the first actor's ``Worker.load`` answer.
    """

    def __init__(self, run_item: Callable, model: str | None, device: str, dtype: str,
                 address: str = "local", workers: int | None = None):
        self.ray = import_ray()
        self.load_args = (model, device, dtype, run_item)
        self.address, self.workers = address, workers
        self.started = False  # True when this pool started Ray (and so shuts it down)
        self.actors: list = []
        self.ready: list[bool] = []
        self.loading: dict = {}  # load ObjectRef -> slot
        self.info: dict = {}
        self.replaced = 0  # actors that died and were replaced
        self.remote = None  # the Ray actor class, made once the resources are known

    def __enter__(self) -> RayWorkers:
        try:
            self._connect()
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> None:
        ray, local = self.ray, self.address == "local"
        if local and self.workers is None:
            self.workers = default_workers("local")
        if not ray.is_initialized():
            options = dict(include_dashboard=False, log_to_driver=False, namespace="jscope",
                           logging_level=logging.WARNING)
            if not local:
                _check_reachable(self.address)
            try:
                if local:  # "local": a new instance even where RAY_ADDRESS names a cluster
                    ray.init(address="local", num_cpus=self.workers, **options)
                else:
                    ray.init(address=self.address, **options)
            except Exception as exc:  # Ray raises many types here; each is one sentence
                where = "start Ray on this machine" if local else \
                    f"join the Ray cluster at {self.address}"
                raise JScopeError(f"Could not {where} ({_reason(exc)}).") from None
            self.started = True
        resources = ray.cluster_resources()
        if self.workers is None:
            self.workers = default_workers(self.address, resources)
        n = self.workers
        cpus, gpus = resources.get("CPU", 1.0), resources.get("GPU", 0.0)
        use_gpu = gpus >= 1 and self.load_args[1] in ("auto", "cuda")
        share = _share(cpus, n)
        if use_gpu:
            self.options = {"num_gpus": _share(gpus, n, cap=1.0), "num_cpus": min(1.0, share)}
        else:
            self.options = {"num_cpus": share}
        self.threads = max(1, (os.cpu_count() or 1) // n) if local else max(1, int(share))
        self.memory_here = local and not use_gpu  # GPU actors hold their weights on the GPU

    def _new_actor(self):
        if self.remote is None:
            self.remote = self.ray.remote(max_restarts=0, **self.options)(Worker)
        return self.remote.remote(self.threads)

    def _start(self) -> None:
        self.actors = [self._new_actor() for _ in range(self.workers)]
        self.ready = [False] * self.workers
        self.info = self._loaded(self._get_load(self.actors[0]))
        if self.memory_here:
            check_memory(self.workers, self.info["weight_bytes"], physical_memory())
        self.ready[0] = True
        for slot, actor in enumerate(self.actors[1:], 1):
            self.loading[actor.load.remote(*self.load_args)] = slot

    def _get_load(self, actor) -> dict:
        try:
            return self.ray.get(actor.load.remote(*self.load_args))
        except self.ray.exceptions.RayActorError as exc:
            raise JScopeError(f"A worker died while loading the model ({_reason(exc)}).") from None

    @staticmethod
    def _loaded(answer: dict) -> dict:
        if "error" in answer:
            raise JScopeError(answer["error"])
        return answer

    def close(self) -> None:
        """Stop the actors; shut Ray down when this pool started it (idempotent)."""
        ray = self.ray
        for actor in self.actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone, or Ray is shutting down
                pass
        self.actors, self.loading = [], {}
        if self.started:
            ray.shutdown()
            self.started = False

    def lines(self, items: Iterable[BatchItem]) -> Iterator[dict]:
        """The line of every item, each exactly once, in the order they finish."""
        ray = self.ray
        queue = deque((item, 1) for item in items)
        inflight: dict = {}  # ObjectRef -> _Task
        written: set[str] = set()
        while queue or inflight:
            self._fill(queue, inflight)
            (ref,), _ = ray.wait([*self.loading, *inflight], num_returns=1)
            if ref in self.loading:
                self._loaded_in(self.loading.pop(ref), ref)
                continue
            task = inflight.pop(ref)
            try:
                line = ray.get(ref)
            except ray.exceptions.RayActorError:
                line = self._died(task, queue)
                if line is None:
                    continue
            self._fill(queue, inflight)  # the actor's next item, before this line is written
            if task.item.key not in written:
                written.add(task.item.key)
                yield line

    def _loaded_in(self, slot: int, ref) -> None:
        """The actor in ``slot`` answered its load: ready, or the batch stops with why."""
        try:
            self._loaded(self.ray.get(ref))
        except self.ray.exceptions.RayActorError as exc:
            raise JScopeError(f"A worker died while loading the model ({_reason(exc)}).") from None
        self.ready[slot] = True

    def _fill(self, queue: deque, inflight: dict) -> None:
        """Give every ready actor that holds no item the next one."""
        busy = {id(task.actor) for task in inflight.values()}
        for slot, actor in enumerate(self.actors):
            if queue and self.ready[slot] and id(actor) not in busy:
                item, attempt = queue.popleft()
                inflight[actor.run.remote(item)] = _Task(slot, actor, item, attempt)

    def _died(self, task: _Task, queue: deque) -> dict | None:
        """``task``'s actor died while running it: replace the actor, and put the item back at
        the front of the queue; after :data:`MAX_ATTEMPTS` returns its error line instead."""
        self._replace(task.slot, task.actor)
        if task.attempt < MAX_ATTEMPTS:
            queue.appendleft((task.item, task.attempt + 1))
            return None
        return {"id": task.item.id, "error": died_sentence(task.attempt)}

    def _replace(self, slot: int, actor) -> None:
        """A new actor in ``slot`` for the dead ``actor`` (once, whichever item saw it die)."""
        if self.actors[slot] is not actor:
            return
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # it is dead already
            pass
        self.replaced += 1
        new = self._new_actor()
        self.actors[slot], self.ready[slot] = new, False
        self.loading[new.load.remote(*self.load_args)] = slot


def _share(total: float, n: int, cap: float | None = None) -> float:
    """``total`` / ``n`` rounded down to hundredths (Ray's resource grain), at least 0.01."""
    share = max(0.01, math.floor(total / n * 100) / 100)
    return min(share, cap) if cap is not None else share


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``HOST:PORT`` that accepts no connection (Ray itself would retry for minutes)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise JScopeError(f"Could not reach the Ray cluster at {address} "
                          f"({_reason(exc)}); is Ray running there?") from None


def _reason(exc: BaseException) -> str:
    """The first line of ``exc``'s message (or its type), at most 200 characters, no final dot."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200].rstrip(".")
