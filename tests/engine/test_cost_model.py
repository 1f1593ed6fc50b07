"""The cost model: predicted peak memory against the process's measured peak, the batch plan
against the batches the engine really runs, calibration kept and a corrupt cache ignored,
remaining time, and sizes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_model

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model import memory
from jscope_desktop.engine.planning import calibration
from jscope_desktop.engine.planning.cost_model import (
    ModelShape,
    estimate_run,
    format_seconds,
    format_size,
    parse_size,
    plan,
    vjp_batch_cap,
)
from jscope_desktop.engine.progress import TimedProgress

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCOPE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("text, value", [("8GB", 8 * 2**30), ("512MB", 512 * 2**20),
                                         ("1.5g", int(1.5 * 2**30)), ("2 GiB", 2 * 2**30),
                                         ("4194304", 4 * 2**20), ("1t", 2**40)])
def test_sizes(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "8XB", "-1GB", "GB", "1e9", "nan", "100", "8 G B"])
def test_bad_sizes_are_one_sentence(text):
    with pytest.raises(JScopeError) as info:
        parse_size(text)
    assert str(info.value).count(".") >= 1 and "\n" not in str(info.value)
    assert "8GB" in str(info.value)


def test_figures():
    assert format_size(3.4 * 2**30) == "3.4 GB" and format_size(512 * 2**20) == "512 MB"
    assert format_seconds(0.42) == "0.4 s" and format_seconds(12.4) == "12 s"
    assert format_seconds(180) == "3 min" and format_seconds(7200) == "2.0 h"


# The measurement runs in a fresh interpreter: inside the test process, pages the allocator kept
# from earlier tests are reused without raising the high-water mark, so the measured peak there
# depends on which tests ran before (1.27–2.5× over-prediction seen, against 0.99–1.15 alone).
PEAK_RUN = """
import ctypes, gc, json, sys
import torch
from tiny_models import tiny_model
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model import memory
from jscope_desktop.engine.planning import calibration

torch.set_num_threads(1)
lm = tiny_model("LlamaConfig", "LlamaForCausalLM", vocab_size=512, hidden_size=256,
                intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=False)
ids = [3 + (i * 7) % 500 for i in range(1024)]
req = AttributionRequest(token_ids=ids, scope=sys.argv[1])
attribute(lm, req.but(token_ids=ids[:64]))  # warm-up and calibration out of the way
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed pages back: the peak is this run's own
est = calibration.estimate_loaded(lm, req, len(ids))  # what the process holds counted as now
base = memory.resident_bytes()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM: the kernel's own count of the peak from here on
attribute(lm, req, force=True)
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({"predicted": est.peak_bytes - base, "measured": hwm - base}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
@pytest.mark.parametrize("scope", ["temperature", "fisher"])
def test_predicted_peak_memory_is_never_25_percent_short(scope, tmp_path):
    """A 4-layer random Llama (d 256, f 1024, sdpa) at 1,024 tokens: big enough that its graph
    (~75 MB) stands out of the allocator's noise."""
    env = {**os.environ, "JSCOPE_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    run = subprocess.run([sys.executable, "-c", PEAK_RUN, scope], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    predicted, measured = out["predicted"], out["measured"]
    assert measured > 20 * 2**20  # the run itself is measurable
    # Under-prediction is what would let a run that cannot fit start: it must stay within 25 %.
    # Over-prediction is the safe side, bounded loosely (benchmarks/bench_scale.py measures the
    # ±25 % target).
    assert 0.75 <= predicted / measured <= 1.6, (predicted / 2**20, measured / 2**20)


def test_plan_batch_is_the_engines_largest_batch(tiny_llama, monkeypatch, one_thread):
    from jscope_desktop.engine.compute import forward

    seen = []
    real = forward._batched_vjp
    monkeypatch.setattr(forward, "_batched_vjp",
                        lambda g, v, c=None: seen.append(v.shape[0]) or real(g, v, c))
    ids = [3 + i % 100 for i in range(200)]
    shape = calibration.shape_of(tiny_llama)
    # probes given: a fixed plan (the default's rank check is counted by its mean, tested apart)
    for method, rank, probes in (("fast", None, 5), ("exact", None, None), ("lowrank", 3, None)):
        seen.clear()
        req = AttributionRequest(token_ids=ids, scope="fisher", fisher_method=method,
                                 fisher_rank=rank, fisher_probes=probes)
        out = attribute(tiny_llama, req, force=True)
        p = plan(shape, len(ids), req)
        assert max(seen) <= p.batch and sum(seen) == p.directions == out.fisher.rank + out.fisher.probes


def test_batch_cap_counts_elements():
    assert vjp_batch_cap(1024, 2048) == 16 and vjp_batch_cap(10**6, 10**4) == 1


def test_refused_before_any_backward_pass_and_fast(monkeypatch):
    lm = tiny_model("LlamaConfig", "LlamaForCausalLM", vocab_size=128, hidden_size=32,
               intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=256)
    calls = []
    real_grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or real_grad(*a, **k))
    req = AttributionRequest(prompt="x" * 200, scope="fisher")
    import time

    t0 = time.perf_counter()
    with pytest.raises(JScopeError, match=r"needs about .* more than the memory limit of 1 MB.*"
                       r"shorter prompt.*fewer Fisher directions.*--force"):
        attribute(lm, req, memory_limit=2**20)
    assert time.perf_counter() - t0 < 5 and calls == [] and not lm.warmed
    attribute(lm, req, memory_limit=2**20, force=True)  # --force runs it anyway
    assert calls


def test_over_available_memory_is_refused(tiny_llama, monkeypatch):
    monkeypatch.setattr(memory, "free_bytes", lambda: 0)
    with pytest.raises(JScopeError, match="more than the available"):
        attribute(tiny_llama, AttributionRequest(prompt="abc"))


def test_calibration_is_kept_per_model_and_a_corrupt_cache_is_ignored(model_folder, tmp_path):
    from jscope_desktop.engine.model.load import load_model

    lm = load_model(str(model_folder), "cpu")
    attribute(lm, AttributionRequest(prompt="the cat sat"))
    calibration.flush()  # written off the run's path, and at exit
    data = json.loads(calibration.cache_file().read_text())
    (key, entry), = data.items()
    assert str(model_folder.resolve()) in key and "cpu/" in key and key.endswith("float32")
    # the warm-up's calibration pass (one size: the context is 64 tokens) and the run
    assert len(entry["graph"]) == 2
    again = load_model(str(model_folder), "cpu")
    assert calibration.has_calibration(again)  # read back from the cache
    calibration.cache_file().write_text("{not json")
    fresh = load_model(str(model_folder), "cpu")
    assert not calibration.has_calibration(fresh)
    assert attribute(fresh, AttributionRequest(prompt="the cat sat")).scores
    calibration.flush()
    assert json.loads(calibration.cache_file().read_text())  # rewritten whole


def test_throughput_is_total_work_over_total_time_of_the_newest_runs():
    rate, kinds = calibration.throughputs({"graph": [(10.0, 1.0), (30.0, 1.0)],
                                           "batched": [(5.0, 5.0)]})
    assert rate == 20.0 and kinds["batched"] == 1.0
    busy = [(100.0, 50.0)] * 6  # an hour on a busy machine, then four quiet runs
    quiet = [(10.0, 1.0), (30.0, 1.0), (20.0, 1.0), (40.0, 1.0)]
    assert calibration.RECENT == len(quiet)
    assert calibration.throughputs({"graph": busy + quiet})[0] == 25.0


def test_estimate_scales_with_length_and_directions():
    shape = ModelShape(1_000_000_000, 2048, 16, 8192, 32, 8, 64, 49152)
    t = AttributionRequest(scope="temperature")
    f = AttributionRequest(scope="fisher")
    e = [estimate_run(shape, n, t, dtype="float32", base_bytes=0, available_bytes=2**40,
                      throughput=1e11) for n in (512, 1024)]
    ratio = (e[1].peak_bytes / e[0].peak_bytes)
    assert 1.9 < ratio < 2.1  # the graph is linear in the tokens under sdpa
    fe = estimate_run(shape, 512, f, dtype="float32", base_bytes=0, available_bytes=2**40,
                      throughput=1e11)
    assert fe.seconds > 8 * e[0].seconds and fe.peak_bytes > e[0].peak_bytes
    half = estimate_run(shape, 512, t, dtype="bfloat16", base_bytes=0, available_bytes=2**40,
                        throughput=1e11)
    assert half.peak_bytes < 0.75 * e[0].peak_bytes
    assert set(fe.to_dict()) == {"peak_bytes", "seconds", "available_bytes", "fits"}


def test_remaining_time_from_the_estimate_then_the_measured_rate():
    now = [0.0]
    seen = []
    p = TimedProgress(lambda f, m, r: seen.append(r), clock=lambda: now[0])
    p(0.0, "before any estimate")
    assert seen == [None]
    p.expect(10.0)
    p(0.0, "start")
    now[0] = 2.0
    p(0.02, "early: the estimate")
    assert seen[-1] == pytest.approx(8.0)
    now[0] = 30.0  # slower than predicted: half done after 30 s
    p(0.5, "half")
    # by half-way the measured rate has taken over: 30 s for half, 30 s left
    assert seen[-1] == pytest.approx(30.0)
    now[0] = 31.0
    p(1.0, "done")
    assert seen[-1] == 0.0
    assert not math.isnan(seen[-2])
