"""A run the cost model refuses is refused before torch or transformers is imported (they take
seconds to import on a busy machine; issue 13: refused in under 5 s, before any backward pass),
and the torch-free pieces that make that possible agree with torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from jscope_desktop.cli import main
status = main(sys.argv[1:])
print(repr((status, sorted(m for m in ("torch", "transformers", "numpy") if m in sys.modules))))
"""


def _run(*args: str, env_extra: dict | None = None) -> tuple[tuple, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.stdout.strip(), out.stderr
    return eval(out.stdout.strip().splitlines()[-1]), out.stderr  # noqa: S307 - our own repr


def test_a_refused_folder_run_imports_neither_torch_nor_transformers(model_folder):
    (status, heavy), err = _run("attribute", "the cat sat", "--model", str(model_folder),
                                "--memory-limit", "1MB", "--device", "auto")
    assert status == 1 and heavy == []
    assert err.startswith("jscope: This run needs about") and "memory limit of 1 MB" in err
    assert err.count("\n") == 1  # one sentence, no traceback


def test_the_embedded_model_is_refused_torch_free_once_converted(embedded_model):
    # the embedded .gguf's converted folder exists once the model was loaded (embedded_model)
    (status, heavy), err = _run("attribute", "The cat sat on the mat", "--memory-limit", "1MB")
    assert status == 1 and heavy == [] and "memory limit of 1 MB" in err


def test_a_run_that_fits_still_loads_and_runs(model_folder):
    (status, heavy), err = _run("attribute", "the cat sat", "--model", str(model_folder),
                                "--memory-limit", "64GB", "--json", "-")
    assert status == 0 and "torch" in heavy, err


@pytest.mark.parametrize("env", [{}, {"OMP_NUM_THREADS": "1"}])
def test_default_threads_is_torchs_own_count(env):
    code = ("import json, torch; from jscope_desktop.engine.planning.calibration import default_threads; "
            "print(json.dumps([default_threads(), torch.get_num_threads()]))")
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**clean, "PYTHONPATH": str(ROOT), **env})
    ours, torchs = json.loads(out.stdout)
    assert ours == torchs


def test_auto_is_the_cpu_without_torch_only_where_no_gpu_driver_is(monkeypatch):
    from jscope_desktop.engine.model import devices

    monkeypatch.setattr(devices, "gpu_driver_present", lambda: False)
    assert devices.device_name("auto") == "cpu" and devices.device_name("cpu") == "cpu"
    monkeypatch.setattr(devices, "gpu_driver_present", lambda: True)
    assert devices.device_name("auto") == str(devices.resolve_device("auto"))
    with pytest.raises(Exception, match="Unknown device 'tpu'"):
        devices.device_name("tpu")


def test_gpu_driver_files_say_a_gpu_may_be_there(monkeypatch, tmp_path):
    from jscope_desktop.engine.model import devices

    monkeypatch.setattr(devices.sys, "platform", "linux")
    fake_dev = tmp_path / "dev"
    fake_dev.mkdir()
    real_path = devices.Path

    def path(p):
        if p == "/dev":
            return fake_dev
        if p == "/proc/driver/nvidia":
            return tmp_path / "no-such-driver"
        return real_path(p)

    monkeypatch.setattr(devices, "Path", path)
    assert devices.gpu_driver_present() is False
    assert devices.device_name("auto") == "cpu"
    for name in ("nvidia0", "kfd", "nvhost-ctrl-gpu"):
        (fake_dev / name).touch()
        assert devices.gpu_driver_present() is True
        (fake_dev / name).unlink()
    monkeypatch.setattr(devices.sys, "platform", "darwin")
    assert devices.gpu_driver_present() is True  # MPS may be there
