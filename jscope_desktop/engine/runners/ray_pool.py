"""Items attributed by a pool of Ray actors, one model each; lines stream back.

The one runner of ``jscope batch --workers/--ray`` and ``jscope faithfulness --workers/--ray``.
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
picklable: a module-level function or a ``functools.partial`` of one), and an item is any
picklable object with a ``key`` (its id as text), so this module knows nothing of the command
line. What each actor asks of the cluster is :func:`~.batch_cluster.actor_plan`'s (GPU actors
with the model on ``cuda`` when the cluster has GPUs). On a cluster, every node needs
jscope-desktop installed and the model at the same path (or the embedded model); a local
instance started here imports this process's own ``jscope_desktop`` (a source checkout too).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import JScopeError
from ..model.memory import physical_memory
from .cluster import (
    LOCAL_CAP,
    MAX_ATTEMPTS,
    MEMORY_FACTOR,
    NOT_INSTALLED,
    actor_plan,
    check_memory,
    check_reachable,
    check_workers,
    default_workers,
    died_sentence,
    import_ray,
    is_address,
    local_code_path,
    reason,
)

__all__ = ["LOCAL_CAP", "MAX_ATTEMPTS", "MEMORY_FACTOR", "NOT_INSTALLED", "RayWorkers", "Worker",
           "check_memory", "default_workers", "died_sentence", "import_ray", "is_address",
           "physical_memory"]


class _Task(NamedTuple):
    """An item submitted to the actor in ``slot``, for the ``attempt``-th time."""

    slot: int
    actor: Any
    item: Any
    attempt: int


class Worker:
    """The body of one actor: a model loaded once, then items one after another."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.lm = None
        self.run_item = None

    def load(self, model: str | None, device: str, dtype: str, run_item: Callable) -> dict:
        """Load the model; returns what the driver checks, or ``{"error": sentence}``
        (``package``: the folder of the ``jscope_desktop`` this actor runs)."""
        from ..model.load import load_model

        try:
            self.lm = load_model(model, device, dtype)
        except JScopeError as exc:
            return {"error": str(exc)}
        self.run_item = run_item
        weights = [*self.lm.model.parameters(), *self.lm.model.buffers()]
        return {"model": self.lm.info.to_dict(), "dtype": self.lm.dtype_name,
                "device": str(self.lm.device), "pid": os.getpid(),
                "package": str(Path(__file__).resolve().parents[2]),  # the jscope_desktop folder
                "weight_bytes": sum(t.numel() * t.element_size() for t in weights)}

    def run(self, item: Any) -> dict:
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
        died_line: ``died_line(item, attempts) -> dict``, the line of an item whose worker died
            :data:`MAX_ATTEMPTS` times (None: :meth:`died_line`, a ``jscope batch`` error line).

    Entering starts the actors, loads the model in the first one, checks that ``workers``
    copies fit in memory (a local instance only) and then loads it in the others while the
    first already runs items. :attr:`info` is the first actor's ``Worker.load`` answer.
    """

    def __init__(self, run_item: Callable, model: str | None, device: str, dtype: str,
                 address: str = "local", workers: int | None = None,
                 died_line: Callable[[Any, int], dict] | None = None):
        self.ray = import_ray()
        if died_line is not None:
            self.died_line = died_line
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
        if local:  # before Ray starts that many processes
            check_workers(self.workers, os.cpu_count() or 1, "this machine")
        if not ray.is_initialized():
            options = dict(include_dashboard=False, log_to_driver=False, namespace="jscope",
                           logging_level=logging.WARNING)
            if not local:
                check_reachable(self.address)
            try:
                if local:  # "local": a new instance even where RAY_ADDRESS names a cluster
                    with _LocalCode():
                        ray.init(address="local", num_cpus=self.workers, **options)
                else:
                    ray.init(address=self.address, **options)
            except Exception as exc:  # Ray raises many types here; each is one sentence
                where = "start Ray on this machine" if local else \
                    f"join the Ray cluster at {self.address}"
                raise JScopeError(f"Could not {where} ({reason(exc)}).") from None
            self.started = True
        resources = ray.cluster_resources()
        if self.workers is None:
            self.workers = default_workers(self.address, resources)
        model, device, dtype, run_item = self.load_args
        self.plan = actor_plan(resources, self.workers, device, local)
        if "num_gpus" not in self.plan.options:  # GPU actors share the GPUs, not the CPUs
            check_workers(self.workers, resources.get("CPU", 1), "this machine" if local else
                          "the cluster")
        self.load_args = (model, self.plan.device, dtype, run_item)

    def _new_actor(self):
        if self.remote is None:
            self.remote = self.ray.remote(max_restarts=0, **self.plan.options)(Worker)
        return self.remote.remote(self.plan.threads)

    def _start(self) -> None:
        self.actors = [self._new_actor() for _ in range(self.workers)]
        self.ready = [False] * self.workers
        self.info = self._loaded(self._get_load(self.actors[0]))
        model, device, _dtype, run_item = self.load_args  # --dtype auto: every actor loads
        self.load_args = (model, device, self.info["dtype"], run_item)  # what the first chose
        if self.plan.memory_here:
            check_memory(self.workers, self.info["weight_bytes"], physical_memory())
        self.ready[0] = True
        for slot, actor in enumerate(self.actors[1:], 1):
            self.loading[actor.load.remote(*self.load_args)] = slot

    def _get_load(self, actor) -> dict:
        try:
            return self.ray.get(actor.load.remote(*self.load_args))
        except self.ray.exceptions.RayActorError as exc:
            raise JScopeError(f"A worker died while loading the model ({reason(exc)}).") from None

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

    def lines(self, items: Iterable[Any]) -> Iterator[dict]:
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

    def died_line(self, item: Any, attempts: int) -> dict:
        """The line of ``item`` (a batch item) whose worker died ``attempts`` times."""
        return {"id": item.id, "error": died_sentence(attempts)}

    def _loaded_in(self, slot: int, ref) -> None:
        """The actor in ``slot`` answered its load: ready, or the batch stops with why."""
        try:
            self._loaded(self.ray.get(ref))
        except self.ray.exceptions.RayActorError as exc:
            raise JScopeError(f"A worker died while loading the model ({reason(exc)}).") from None
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
        return self.died_line(task.item, task.attempt)

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


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class _LocalCode:
    """While Ray starts on this machine: ``PYTHONPATH`` begins with the folder of this
    process's ``jscope_desktop`` (a source checkout), so that the workers Ray starts later
    (from that environment) import the same code, not another installed copy."""

    def __enter__(self):
        self.before = os.environ.get("PYTHONPATH")
        path = local_code_path()
        if path:
            _set_env("PYTHONPATH", os.pathsep.join(p for p in (path, self.before) if p))

    def __exit__(self, *exc):
        _set_env("PYTHONPATH", self.before)
