"""`jscope faithfulness --workers N` / `--ray local`: the batch runner's Ray workers give the
sequential run's report (bit for bit apart from timings), prompts in input order, the same first
error, nothing lost or doubled when a worker dies; and the actors' plan (GPU or CPU) as a pure
function.

One local Ray instance (2 CPUs) serves the module; the workers are other processes, so they load
the on-disk tiny model folder, and get ``PYTHONPATH`` = this checkout so that they run its code
(checked: every worker reports the package it imported).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run_cli, write_prompts

from jscope_desktop.engine.errors import Cancelled, JScopeError
from jscope_desktop.engine.faithfulness.measure import FaithfulnessConfig, PromptResult
from jscope_desktop.engine.faithfulness.parallel import in_input_order_errors
from jscope_desktop.engine.faithfulness.resume import text_sha
from jscope_desktop.engine.faithfulness.run import ModelAbout, run_faithfulness
from jscope_desktop.engine.runners import ray_pool as batch_ray
from jscope_desktop.engine.runners.cluster import actor_plan

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local test instance needs no token
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")

ROOT = Path(__file__).resolve().parents[2]  # the checkout these tests run in
PROMPTS = ["the dog sat on a mat . the cat sat on the mat . a dog sat on", "a dog sat on",
           "the mat", "the cat sat on the mat .", "cat dog", "on the mat the cat sat"]
TOO_LONG = " ".join(["the cat"] * 40)  # 80 tokens (81 with a BOS): longer than the model's context of 64
OPTIONS = ["--scopes", "temperature,fisher,semantic,random", "--fractions", "0.2,0.5",
           "--loo-n", "3", "--seed", "7"]


def faithfulness(capsys, model_folder, prompts: Path, out: Path, *argv: str):
    return run_cli(capsys, "faithfulness", "--prompts", str(prompts), "--json", str(out),
                   "--model", str(model_folder), "--device", "cpu", *OPTIONS, *argv)


def without_timings(report: dict) -> dict:
    """The report with its timing fields (each prompt's ``seconds``) taken out."""
    return {**report, "per_prompt": [{k: v for k, v in p.items() if k != "seconds"}
                                     for p in report["per_prompt"]]}


def test_workers_and_ray_local_give_the_sequential_report(capsys, model_folder, tmp_path,
                                                          shared_ray, packages, one_thread):
    prompts = write_prompts(tmp_path, PROMPTS)
    reports = {}
    for name, argv in {"sequential": [], "workers": ["--workers", "2"],
                       "ray": ["--ray", "local", "--workers", "2"]}.items():
        out = tmp_path / f"{name}.json"
        status, stdout, err = faithfulness(capsys, model_folder, prompts, out, *argv)
        assert status == 0 and err == "", err
        assert "Δ log p(top-1)" in stdout
        assert not out.with_name(out.name + ".partial.jsonl").exists()
        reports[name] = json.loads(out.read_text(encoding="utf-8"))
    want = reports["sequential"]
    assert [p["index"] for p in want["per_prompt"]] == list(range(len(PROMPTS)))
    assert want["n_prompts"] == len(PROMPTS) and want["loo_spearman"]["fisher"]["kl"]["n"] == 3
    for name in ("workers", "ray"):
        assert without_timings(reports[name]) == without_timings(want), name
        assert [set(p["seconds"]) for p in reports[name]["per_prompt"]] == \
            [set(p["seconds"]) for p in want["per_prompt"]]
    assert packages == [str(ROOT / "jscope_desktop")] * 2  # the workers ran this checkout


def test_the_first_failing_prompt_stops_the_run_as_sequentially(capsys, model_folder, tmp_path,
                                                                shared_ray, one_thread):
    prompts = write_prompts(tmp_path, [PROMPTS[1], PROMPTS[2], TOO_LONG, PROMPTS[3], TOO_LONG])
    errors, sidecars = {}, {}
    for name, argv in {"sequential": [], "workers": ["--workers", "2"]}.items():
        out = tmp_path / f"{name}.json"
        errors[name] = assert_one_line_error(faithfulness(capsys, model_folder, prompts, out,
                                                          *argv))
        assert not out.exists()
        lines = out.with_name(out.name + ".partial.jsonl").read_text().splitlines()
        sidecars[name] = {json.loads(line).get("index") for line in lines[1:]}
    assert errors["workers"] == errors["sequential"]
    assert re.match(r"jscope: Prompt 3 is 8[01] tokens, longer than the model's context of 64",
                    errors["sequential"])
    assert sidecars["sequential"] == {0, 1}
    assert {0, 1} <= sidecars["workers"] <= {0, 1, 3}  # what finished is kept for a resume


class ExitOn:
    """A test-only ``run_item``: the worker process ends (``os._exit(1)``, as a crash would)
    the first time it measures the passages in ``keys`` (counted by files in ``folder``)."""

    def __init__(self, run_item, keys: set[str], folder: Path):
        self.run_item, self.keys, self.folder = run_item, keys, folder

    def __call__(self, lm, passage):
        mark = self.folder / passage.key
        if passage.key in self.keys and not mark.exists():
            mark.touch()
            os._exit(1)
        return self.run_item(lm, passage)


def test_a_worker_that_dies_is_replaced_and_the_report_is_unchanged(
        capsys, model_folder, tmp_path, shared_ray, monkeypatch, one_thread):
    prompts = write_prompts(tmp_path, PROMPTS[:4])
    assert faithfulness(capsys, model_folder, prompts, tmp_path / "s.json")[0] == 0
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    real_init = batch_ray.RayWorkers.__init__

    def init(self, run_item, *args, **kwargs):  # passage 2 kills its worker the first time
        real_init(self, ExitOn(run_item, {"1"}, deaths), *args, **kwargs)

    monkeypatch.setattr(batch_ray.RayWorkers, "__init__", init)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        status, _, err = faithfulness(capsys, model_folder, prompts, tmp_path / "k.json",
                                      "--workers", "2")
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert status == 0, err
    assert [p.name for p in deaths.iterdir()] == ["1"]
    want = json.loads((tmp_path / "s.json").read_text())
    got = json.loads((tmp_path / "k.json").read_text())
    assert without_timings(got) == without_timings(want)


def fake_result(index: int) -> PromptResult:
    return PromptResult(index=index, text_sha=text_sha("a b"), n_tokens=3, n_attributable=2, top1_id=4,
                        top1="x", logp=-float(index), true_id=None, true=None, k={"0.5": 1},
                        deltas={"random": {"0.5": -0.5 * index}}, loo_spearman={},
                        seconds={"ablation": 0.0})


def test_results_arriving_in_any_order_are_reported_in_input_order(tmp_path):
    cfg = FaithfulnessConfig(scopes=["random"], fractions=[0.5], loo=False)
    about = ModelAbout({"name": "m"}, "cpu", "float32")
    order = [3, 0, 4, 1, 2]

    def measure(todo, cancel):
        assert [i for i, _, _ in todo] == list(range(5))
        return (fake_result(i) for i in order)

    partial = tmp_path / "p.jsonl"
    results = run_faithfulness(about, ["a b"] * 5, cfg, partial, measure=measure)
    assert [r.index for r in results] == list(range(5))
    sidecar = [json.loads(line) for line in partial.read_text().splitlines()]
    assert [d["index"] for d in sidecar[1:]] == order  # appended as they arrived

    def nothing_left(todo, cancel):  # a resume finds every prompt in the sidecar
        assert todo == []
        return iter(())

    again = run_faithfulness(about, ["a b"] * 5, cfg, partial, measure=nothing_left)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in results]


def test_the_error_raised_is_the_first_in_input_order_once_those_before_it_arrived():
    todo = [(i, "t", "") for i in range(5)]
    ok = {"index": 0, "result": fake_result(0)}
    lines = [{"index": 3, "error": "three"}, {"index": 1, "result": fake_result(1)},
             {"index": 2, "error": "two"}, ok, {"index": 4, "result": fake_result(4)}]
    got = []
    with pytest.raises(JScopeError, match="^two$"):
        for r in in_input_order_errors(iter(lines), todo):
            got.append(r.index)
    assert got == [1, 0]  # raised when 0 arrived (everything before 2), not waiting for 4
    with pytest.raises(Cancelled):
        list(in_input_order_errors(iter([ok]), todo, cancel=lambda: True))


def gpus_used(plan, workers: int, gpus: int) -> bool:
    """Whether ``workers`` actors of ``plan`` fit on ``gpus`` whole GPUs (first fit, as Ray
    places fractional GPU requests: each actor on one GPU)."""
    free = [1.0] * gpus
    need = plan.options["num_gpus"]
    for _ in range(workers):
        slot = next((i for i, f in enumerate(free) if f + 1e-9 >= need), None)
        if slot is None:
            return False
        free[slot] -= need
    return True


@pytest.mark.parametrize("gpus, workers, want_share", [
    (4, 4, 1.0), (4, 2, 1.0), (8, 3, 1.0), (2, 4, 0.5), (3, 4, 0.5), (2, 5, 0.33), (1, 3, 0.33),
])
def test_gpu_actors_take_a_whole_gpu_each_or_pack_whole_onto_gpus(gpus, workers, want_share):
    plan = actor_plan({"CPU": 32.0, "GPU": float(gpus)}, workers, "auto", local=False)
    assert plan.device == "cuda" and not plan.memory_here
    assert plan.options["num_gpus"] == want_share
    assert plan.options["num_cpus"] == 1.0
    assert gpus_used(plan, workers, gpus)


def test_cpu_clusters_and_cpu_devices_get_cpu_actors():
    plan = actor_plan({"CPU": 2.0}, 2, "auto", local=True, cpu_count=2)
    assert plan.options == {"num_cpus": 1.0} and plan.device == "auto"
    assert plan.threads == 1 and plan.memory_here
    plan = actor_plan({"CPU": 16.0, "GPU": 2.0}, 4, "cpu", local=False)  # GPUs, but cpu asked
    assert plan.options == {"num_cpus": 4.0} and plan.device == "cpu" and plan.threads == 4
    plan = actor_plan({"CPU": 7.0, "GPU": 0.5}, 3, "auto", local=False)  # no whole GPU
    assert plan.options == {"num_cpus": 2.33} and plan.device == "auto" and plan.threads == 2
    plan = actor_plan({"CPU": 1.0}, 3, "cpu", local=True, cpu_count=1)
    assert math.isclose(plan.options["num_cpus"], 0.33) and plan.threads == 1


def test_without_ray_the_options_are_one_sentence(capsys, model_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    prompts = write_prompts(tmp_path, PROMPTS[:2])
    for argv in (["--workers", "2"], ["--ray", "auto"]):
        assert_one_line_error(faithfulness(capsys, model_folder, prompts, tmp_path / "n.json",
                                           *argv),
                              "Ray is not installed; pip install 'jscope-desktop[cluster]'.")
    assert not (tmp_path / "n.json.partial.jsonl").exists()

