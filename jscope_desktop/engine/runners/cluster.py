"""Decisions about a Ray pool that need no Ray: addresses, how many workers, what each actor
asks of the cluster (CPUs, GPUs), what device it loads the model on, and whether the machine can
hold the copies. :mod:`jscope_desktop.engine.runners.ray_pool` runs the pool with them.

Everything here is pure (resources in, numbers out) except :func:`import_ray`,
:func:`check_reachable` and :func:`local_code_path`, so it is unit-tested without a cluster.
"""

from __future__ import annotations

import math
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from ..errors import JScopeError

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


@dataclass(frozen=True)
class ActorPlan:
    """What each of a pool's actors is.

    Attributes:
        options: the ``ray.remote`` resource options (``num_cpus``, and ``num_gpus`` for GPU
            actors).
        device: the ``--device`` each actor loads the model with (``"cuda"`` for GPU actors,
            else the one asked for).
        threads: torch threads per actor (``torch.set_num_threads``).
        memory_here: True when the copies live in this machine's RAM (a local CPU pool), so
            that :func:`check_memory` applies.
    """

    options: dict
    device: str
    threads: int
    memory_here: bool


def actor_plan(resources: dict, workers: int, device: str, local: bool,
               cpu_count: int | None = None) -> ActorPlan:
    """The actors of a pool of ``workers`` on a cluster with ``resources``.

    Args:
        resources: ``ray.cluster_resources()`` (``{"CPU": float, "GPU": float, ...}``).
        workers: the number of actors (at least 1).
        device: the ``--device`` asked for (``auto``, ``cpu``, ``cuda``, ``mps``).
        local: True for a Ray instance on this machine (threads then share its CPUs).
        cpu_count: this machine's CPUs (None: ``os.cpu_count()``).

    Returns:
        GPU actors (``num_gpus`` 1 each when there are at least as many GPUs as workers, else
        an equal fraction that packs whole actors onto each GPU; the model on ``cuda``) when the
        cluster has a GPU and ``device`` is ``auto`` or ``cuda``; else CPU actors, each an equal
        share of the cluster's CPUs, the model on ``device``.
    """
    n = max(1, workers)
    cpus, gpus = float(resources.get("CPU", 1.0)), float(resources.get("GPU", 0.0))
    share = _share(cpus, n)
    threads = max(1, (cpu_count or os.cpu_count() or 1) // n) if local else max(1, int(share))
    if gpus >= 1 and device in ("auto", "cuda"):
        per_gpu = math.ceil(n / math.floor(gpus))  # actors that must share one GPU
        options = {"num_gpus": _share(1.0, per_gpu), "num_cpus": min(1.0, share)}
        return ActorPlan(options, "cuda", threads, False)
    return ActorPlan({"num_cpus": share}, device, threads, local)


def check_workers(workers: int, cpus: int | float, where: str) -> None:
    """Refuse, before any actor starts, more workers than ``where`` ("this machine", "the
    cluster") has CPUs: each is a process holding its own copy of the model, so more than one a
    CPU only divides the same CPUs, and a huge number would start processes for minutes."""
    most = max(1, int(cpus))
    if workers > most:
        raise JScopeError(f"--workers {workers:,} is more than {where} can run: it has {most} "
                          f"CPU{'s' if most > 1 else ''}, one worker each at most; use --workers "
                          f"{most} or fewer.")


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
    """The error of an item whose worker died ``attempts`` times while running it."""
    return (f"The worker running this item died {attempts} times (killed, out of memory or "
            "crashed); the item may need more memory than a worker has.")


def local_code_path() -> str | None:
    """The folder that holds this process's ``jscope_desktop`` when it is a source checkout
    (not an installed package), so that local workers import the same code; else None."""
    root = Path(__file__).resolve().parents[3]  # engine/runners/cluster.py → the checkout
    if root.name in ("site-packages", "dist-packages"):
        return None
    return str(root)


def _share(total: float, n: int) -> float:
    """``total`` / ``n`` rounded down to hundredths (Ray's resource grain), at least 0.01."""
    return max(0.01, math.floor(total / n * 100 + 1e-9) / 100)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``HOST:PORT`` that accepts no connection (Ray itself would retry for minutes)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise JScopeError(f"Could not reach the Ray cluster at {address} "
                          f"({reason(exc)}); is Ray running there?") from None


def reason(exc: BaseException) -> str:
    """The first line of ``exc``'s message (or its type), at most 200 characters, no final dot."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200].rstrip(".")
