"""Many items: `jscope batch` and the Ray pool of batch and faithfulness."""

import os
from pathlib import Path

import pytest

from jscope_desktop.engine.runners import ray_pool as batch_ray

ROOT = Path(__file__).resolve().parents[2]  # the checkout these tests run in


@pytest.fixture(scope="module")
def shared_ray():
    """One local Ray instance for the rest of the module, its workers importing this checkout's
    code, always shut down."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), before) if p)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 namespace="jscope-tests", logging_level="ERROR")
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def packages(monkeypatch) -> list[str]:
    """The ``jscope_desktop`` folder each pool's first worker imported (recorded on entry)."""
    seen: list[str] = []
    enter = batch_ray.RayWorkers.__enter__

    def record(self):
        pool = enter(self)
        seen.append(pool.info["package"])
        return pool

    monkeypatch.setattr(batch_ray.RayWorkers, "__enter__", record)
    return seen
