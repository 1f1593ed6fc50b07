"""The estimate before any calibration exists: the process's resident baseline is measured, the
first throughput and the fixed time of a pass come from the warm-up, a batched direction's cost
is measured and applied, runs refine it, and the cache is written off the run's path."""

from __future__ import annotations

import json

import pytest
from tiny_models import tiny_model

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model import memory
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.engine.model.shape import ModelShape
from jscope_desktop.engine.planning import cache, calibration, measure
from jscope_desktop.engine.planning.cost_model import (
    BACKWARD_PER_FORWARD,
    RUN_OVERHEAD_S,
    estimate_run,
    forward_work,
    passes,
    work,
)

MB = 2**20
TEMPERATURE = AttributionRequest(scope="temperature")
FISHER = AttributionRequest(scope="fisher", fisher_method="fast")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    yield
    cache.flush()


def small_llama():
    """A fresh model (the session's tiny models keep what their warm-ups measured)."""
    return tiny_model("LlamaConfig", "LlamaForCausalLM", vocab_size=128, hidden_size=32,
                      intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=256)


def test_the_baseline_is_the_resident_memory_measured_at_the_warm_up(monkeypatch, one_thread):
    lm = small_llama()
    monkeypatch.setattr(memory, "memory_now", lambda device: (100 * MB, 64 * 2**30))
    for resident in (900 * MB, 1700 * MB):
        lm.warmed, lm._cost_records = False, {}
        monkeypatch.setattr(memory, "resident_bytes", lambda r=resident: r)
        calibration.warm_up(lm, list(range(3, 20)))
        est = calibration.estimate_loaded(lm, TEMPERATURE, 200)
        assert lm._baseline_bytes == resident
        # the run starts from the warm process, not from what it holds while the estimate is made
        assert resident < est.peak_bytes < resident + 100 * MB


def test_before_the_warm_up_the_weights_count_whole(monkeypatch):
    lm = small_llama()
    monkeypatch.setattr(memory, "memory_now", lambda device: (300 * MB, 64 * 2**30))
    cold = calibration.estimate_loaded(lm, TEMPERATURE, 50)
    weights = lm.info.n_params * 4
    assert cold.peak_bytes >= 300 * MB + weights


def test_a_folder_is_estimated_from_the_baseline_an_earlier_process_measured(
        model_folder, monkeypatch, one_thread):
    lm = load_model(str(model_folder), "cpu")
    monkeypatch.setattr(memory, "resident_bytes", lambda: 1234 * MB)
    attribute(lm, AttributionRequest(prompt="the cat sat"))
    cache.flush()
    monkeypatch.setattr(memory, "memory_now", lambda device: (50 * MB, 64 * 2**30))
    est = calibration.estimate_folder(model_folder, str(model_folder), 5, TEMPERATURE, "cpu",
                                      "float32")
    assert 1234 * MB < est.peak_bytes < 1300 * MB  # not the 50 MB this process holds


def test_the_first_throughput_and_fixed_pass_time_come_from_the_warm_up(monkeypatch, one_thread):
    lm = small_llama()
    shape = calibration.shape_of(lm)
    # a machine where a pass costs 0.1 s whatever its length and 1e6 units take a second
    fake = {}

    def timed(lm_, ids):
        fake.setdefault("lengths", []).append(len(ids))
        return 2 * 0.1 + work(shape, len(ids), TEMPERATURE) / 1e6

    monkeypatch.setattr(measure, "_timed_pass", timed)
    calibration.warm_up(lm, list(range(3, 40)))
    recs = measure.lm_records(lm)
    assert min(fake["lengths"]) == measure.SHORT_TOKENS and max(fake["lengths"]) >= 16
    assert measure.pass_seconds(recs) == pytest.approx(0.1)
    assert calibration.throughputs(recs)[0] == pytest.approx(1e6)
    est = calibration.estimate_loaded(lm, TEMPERATURE, 100)
    assert est.seconds == pytest.approx(2 * 0.1 + work(shape, 100, TEMPERATURE) / 1e6
                                        + RUN_OVERHEAD_S)


def test_the_direction_cost_is_applied_to_batched_plans_only():
    shape = ModelShape(134_515_008, 576, 30, 1536, 9, 3, 64, 49152)
    F = forward_work(shape, 256)
    from jscope_desktop.engine.planning.cost_model import plan

    p = plan(shape, 256, FISHER)
    gap = work(shape, 256, FISHER, direction_cost=1.0) - work(shape, 256, FISHER, direction_cost=0.5)
    assert gap == pytest.approx(0.5 * p.directions * BACKWARD_PER_FORWARD * F)
    assert work(shape, 256, TEMPERATURE, direction_cost=0.5) == work(shape, 256, TEMPERATURE)

    def seconds(cost):
        return estimate_run(shape, 256, FISHER, dtype="float32", base_bytes=0,
                            available_bytes=2**40, throughput=1e10, pass_seconds=0.1,
                            direction_cost=cost).seconds

    assert seconds(0.6) < seconds(1.0)
    assert seconds(1.0) - seconds(0.6) == pytest.approx(
        0.4 * p.directions * BACKWARD_PER_FORWARD * F / 1e10)
    assert passes(shape, 256, FISHER) > passes(shape, 256, TEMPERATURE) == 2


def test_a_batched_direction_is_measured_before_the_first_batched_estimate(one_thread):
    lm = small_llama()
    calibration.warm_up(lm, list(range(3, 40)))
    assert "direction" not in measure.lm_records(lm)
    before = calibration.estimate_loaded(lm, TEMPERATURE, 30)
    assert "direction" not in measure.lm_records(lm)  # a graph plan needs none
    calibration.estimate_loaded(lm, FISHER, 30)
    (_, ratio), = measure.lm_records(lm)["direction"]
    assert 0.1 <= ratio <= 3.0 and before is not None


def test_the_throughput_follows_the_length_and_runs_refine_it():
    lm = small_llama()
    shape = calibration.shape_of(lm)
    lm.warmed, lm._cost_records = True, {"graph": [(1e6, 1.0), (1e8, 200.0)], "pass": [(2, 0.2)]}
    assert measure.rate_at(lm._cost_records, 1e5) == 1e6  # the nearest beyond the ends
    assert measure.rate_at(lm._cost_records, 1e9) == 5e5
    assert measure.rate_at(lm._cost_records, 1e7) == pytest.approx(1e6 / 2**0.5)
    n = 60
    units = work(shape, n, TEMPERATURE)
    before = measure.rate_at(lm._cost_records, units)
    # a run at that length 3× slower than the interpolation says, its passes' fixed time on top
    calibration.record_run(lm, TEMPERATURE, n, 3 * units / before + 2 * 0.1)
    assert measure.rate_at(lm._cost_records, units) == pytest.approx(before / 3)


def test_the_cache_is_written_after_the_run_and_read_back_before(model_folder, one_thread):
    lm = load_model(str(model_folder), "cpu")
    attribute(lm, AttributionRequest(prompt="the cat sat"))
    key = cache.source_key(str(model_folder))
    dev = cache.device_key("cpu", "float32")
    # a process that asks before the writer ran sees this process's measurements
    assert cache.stored(key, dev).get("graph")
    cache.flush()
    data = json.loads(cache.cache_file().read_text())
    entry = data[f"{key}#{dev}"]
    assert {"graph", "baseline"} <= set(entry)
    assert not cache.records_of({"graph": [[1, "x"], [True, 2]], "baseline": "no"})
