"""`jscope batch --workers N` / `--ray local`: Ray actors give the lines of the sequential run,
each id exactly once, also when an actor dies mid-batch, and resume as the sequential run does.

The workers are other processes, so they load a real model folder from disk (a 1-layer random
Llama and a word tokenizer, as in test_models_errors.py). The first test lets the command start
and stop Ray itself; the others share one local Ray instance (the command uses a Ray that the
process already started), so that the module takes about a minute on two cores. The workers get
``PYTHONPATH`` = this checkout (the command sets it when it starts Ray itself, the fixture does
for the shared instance), so that they run this checkout's code, not another installed copy.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run_cli

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.runners import ray_pool as batch_ray
from jscope_desktop.engine.runners.batch import BatchItem

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local test instance needs no token
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")

ITEMS = [{"id": f"i{n}", "prompt": text} for n, text in enumerate([
    "the cat sat on", "a dog sat on the", "the mat", "the cat sat on a mat .", "dog dog",
    "a cat on the mat", "on the", "the dog sat"])]
BAD = [{"id": "empty", "prompt": "  "}, {"id": "two", "prompt": "the cat", "target": "mat dog"},
       {"id": "far", "prompt": "the cat", "position": 40}]
IDS = [i["id"] for i in ITEMS + BAD]
ROOT = Path(__file__).resolve().parents[2]  # the checkout these tests run in


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in ITEMS + BAD), encoding="utf-8")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def batch(capsys, model_folder, inp: Path, out: Path, *argv: str):
    return run_cli(capsys, "batch", str(inp), "--out", str(out), "--model", str(model_folder),
                   "--device", "cpu", "--scope", "semantic", *argv)


def sequential(capsys, model_folder, inp: Path, out: Path) -> dict:
    status, _, _ = batch(capsys, model_folder, inp, out)
    assert status == 1  # the bad items
    return {d["id"]: d for d in lines(out)}


def assert_same_lines(got: list[dict], want: dict) -> None:
    """Every id once, and each line equal to the sequential run's (scores to float noise)."""
    assert sorted(d["id"] for d in got) == sorted(want)
    for d in got:
        w = want[d["id"]]
        assert set(d) == set(w), d["id"]
        if "error" in w:
            assert d == w
            continue
        assert d["scores"] == pytest.approx(w["scores"], rel=1e-5, abs=1e-9), d["id"]
        for key in ("token_ids", "target", "position", "scope", "model", "dtype", "topk"):
            if key == "topk":
                assert [t["id"] for t in d[key]] == [t["id"] for t in w[key]]
            else:
                assert d[key] == w[key], (d["id"], key)


def test_workers_start_ray_and_equal_the_sequential_run(capsys, model_folder, data, tmp_path,
                                                        one_thread, monkeypatch):
    ray_before = ray.is_initialized()  # False unless the tests run in another order
    packages, enter = [], batch_ray.RayWorkers.__enter__

    def record(self):  # the jscope_desktop folder the first worker imported
        pool = enter(self)
        packages.append(pool.info["package"])
        return pool

    monkeypatch.setattr(batch_ray.RayWorkers, "__enter__", record)
    monkeypatch.delenv("PYTHONPATH", raising=False)  # as under pytest: the command sets it
    want = sequential(capsys, model_folder, data, tmp_path / "seq.jsonl")
    status, out, err = batch(capsys, model_folder, data, tmp_path / "w.jsonl", "--workers", "2")
    assert status == 1 and "3 of 11 items failed" in err and "Traceback" not in err
    assert out.startswith("11 items (11 run), 3 failed, ")
    got = lines(tmp_path / "w.jsonl")
    assert_same_lines(got, want)
    errors = {d["id"]: d["error"] for d in got if "error" in d}
    assert errors["empty"] == "The prompt is empty; type some text to explain."
    assert "2 tokens ('mat' | 'dog')" in errors["two"]
    assert errors["far"].startswith("Position 40 is out of range")
    assert ray.is_initialized() == ray_before  # the command shut down the Ray it started
    assert packages == [str(ROOT / "jscope_desktop")]  # this checkout's code, not main's
    assert "PYTHONPATH" not in os.environ  # set only while Ray started


class ExitOn:
    """A test-only ``run_item``: the worker process ends (``os._exit(1)``, as a crash or the
    kernel's out-of-memory killer would end it) on the items ``exits`` names, the first
    ``exits[id]`` times each (counted by files in ``folder``, which outlive the process)."""

    def __init__(self, run_item, exits: dict, folder: Path):
        self.run_item, self.exits, self.folder = run_item, exits, folder

    def __call__(self, lm, item):
        runs = len(list(self.folder.glob(f"{item.key}.*")))
        if runs < self.exits.get(item.key, 0):
            (self.folder / f"{item.key}.{runs}").touch()
            os._exit(1)
        return self.run_item(lm, item)


def test_a_worker_that_dies_is_replaced_and_nothing_is_lost_or_doubled(
        capsys, model_folder, data, tmp_path, shared_ray, monkeypatch, one_thread):
    want = sequential(capsys, model_folder, data, tmp_path / "seq.jsonl")
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    real_init = batch_ray.RayWorkers.__init__

    def init(self, run_item, *args, **kwargs):  # i3 kills its worker the first time it runs
        real_init(self, ExitOn(run_item, {"i3": 1}, deaths), *args, **kwargs)

    monkeypatch.setattr(batch_ray.RayWorkers, "__init__", init)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # ExitOn goes by value
    try:
        status, _, err = batch(capsys, model_folder, data, tmp_path / "k.jsonl", "--ray",
                               "local", "--workers", "2")
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    got = lines(tmp_path / "k.jsonl")
    assert status == 1 and "3 of 11 items failed" in err  # the bad items only
    assert [p.name for p in deaths.iterdir()] == ["i3.0"]  # it died once, then ran
    assert sorted(d["id"] for d in got) == sorted(IDS)  # every id exactly once
    assert_same_lines(got, want)
    assert shared_ray.is_initialized()  # a Ray the process started is left running


def test_an_item_whose_worker_keeps_dying_gets_an_error_line(monkeypatch):
    pool = batch_ray.RayWorkers.__new__(batch_ray.RayWorkers)  # no Ray: only the bookkeeping
    replaced = []
    monkeypatch.setattr(pool, "_replace", lambda slot, actor: replaced.append(slot), raising=False)
    item, queue = BatchItem(5, "x", {"prompt": "the"}), deque()
    for attempt in range(1, batch_ray.MAX_ATTEMPTS):
        assert pool._died(batch_ray._Task(1, "actor", item, attempt), queue) is None
        assert queue.popleft() == (item, attempt + 1)  # first in line again
    last = batch_ray._Task(1, "actor", item, batch_ray.MAX_ATTEMPTS)
    assert pool._died(last, queue) == {"id": "x", "error": batch_ray.died_sentence(3)}
    assert not queue and replaced == [1] * batch_ray.MAX_ATTEMPTS


def test_resume_with_ray_runs_only_the_missing_items(capsys, model_folder, data, tmp_path,
                                                     shared_ray, one_thread):
    out = tmp_path / "o.jsonl"
    want = sequential(capsys, model_folder, data, out)
    full = out.read_bytes().splitlines(keepends=True)
    kept = b"".join(full[:4])
    out.write_bytes(kept + full[4][: len(full[4]) // 2])  # killed while writing the fifth
    status, stdout, _ = batch(capsys, model_folder, data, out, "--ray", "local", "--workers",
                              "2", "--resume")
    assert status == 1 and stdout.startswith("11 items (7 run, 4 already done), 3 failed")
    assert out.read_bytes().startswith(kept)
    assert_same_lines(lines(out), want)


def test_too_little_memory_is_refused_before_any_line(capsys, model_folder, data, tmp_path,
                                                      shared_ray, monkeypatch):
    answer = {"model": {}, "dtype": "float32", "weight_bytes": 2**40}  # a 1 TB model
    monkeypatch.setattr(batch_ray.RayWorkers, "_get_load", lambda self, actor: answer)
    monkeypatch.setattr(batch_ray, "physical_memory", lambda: 64 * 2**30)
    out = tmp_path / "m.jsonl"
    out.write_bytes(b'{"id": "empty", "error": "x"}\n{"id": "i0"')  # would be rewritten
    assert_one_line_error(batch(capsys, model_folder, data, out, "--workers", "2", "--resume"),
                          "2 workers need about 6,144.0 GB (2 × 3 × the model's 1,024.00 GB of "
                          "weights), but this machine has 64.0 GB; use --workers 1 or fewer.")
    assert out.read_bytes() == b'{"id": "empty", "error": "x"}\n{"id": "i0"'


def test_memory_check_and_default_workers():
    with pytest.raises(JScopeError, match=r"^4 workers need about 12\.0 GB .* this machine has "
                                          r"8\.0 GB; use --workers 2 or fewer\.$"):
        batch_ray.check_memory(4, 2**30, 8 * 2**30)
    batch_ray.check_memory(2, 2**30, 8 * 2**30)
    batch_ray.check_memory(64, 2**30, None)  # unknown memory: nothing refused
    assert batch_ray.default_workers("auto", {"CPU": 32.0, "GPU": 4.0}) == 4
    assert batch_ray.default_workers("1.2.3.4:6379", {"CPU": 7.0}) == 3
    assert 1 <= batch_ray.default_workers("local") <= batch_ray.LOCAL_CAP


def test_without_ray_workers_and_ray_are_one_sentence(capsys, model_folder, data, tmp_path,
                                                      monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    for argv in (["--workers", "2"], ["--ray", "auto"]):
        assert_one_line_error(batch(capsys, model_folder, data, tmp_path / "n.jsonl", *argv),
                              "Ray is not installed; pip install 'jscope-desktop[cluster]'.")
    assert not (tmp_path / "n.jsonl").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--workers", "0"], "--workers: must be at least 1"),
    (["--ray", "somewhere"], "--ray: must be local, auto or HOST:PORT"),
])
def test_bad_worker_options_are_usage_errors(capsys, model_folder, data, tmp_path, argv, needle):
    assert_one_line_error(batch(capsys, model_folder, data, tmp_path / "u.jsonl", *argv), needle,
                          code=2)
