"""The benchmarks run end to end at tiny sizes on the tiny model and write JSON (and PNG)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from benchmarks import bench_cost, bench_faithfulness, bench_fisher, bench_generation, run_all
from benchmarks.common import PeakMemory, lambada_ids, median_seconds

HAS_MPL = importlib.util.find_spec("matplotlib") is not None


pytestmark = pytest.mark.usefixtures("one_thread")


def _quiet(*a, **k):
    pass


def _written(tmp_path, name) -> dict:
    if HAS_MPL:
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_cost_measures_every_method_and_skips_past_the_limit(tiny_llama, tmp_path):
    bench_cost.run(tiny_llama, tmp_path, lengths=(16, 32), repeats=1, limit_s=60, log=_quiet)
    d = _written(tmp_path, "cost")
    assert set(d["methods"]) == set(bench_cost.METHODS)
    assert d["methods"]["temperature"]["32"]["ratio_to_temperature"] == 1.0
    assert all(v["seconds"] > 0 for rows in d["methods"].values() for v in rows.values())
    skipped = bench_cost.measure(tiny_llama, (8, 16, 32), repeats=1, limit_s=1e-9,
                                 methods=("forward",), log=_quiet)["forward"]
    assert "seconds" in skipped["8"] and "skipped" in skipped["32"]
    assert len(lambada_ids(tiny_llama, 300)) == 300


def test_fisher_grid_has_the_engine_default_and_a_frontier(tiny_llama, tmp_path):
    bench_fisher.run(tiny_llama, tmp_path, ranks=(0, 4), probes=(4,), seeds=1,
                     prompts=bench_fisher.PROMPTS[:2], log=_quiet)
    d = _written(tmp_path, "fisher_accuracy")
    default = "{},{}".format(*bench_fisher.default_setting())
    assert set(d["grid"]) == {"0,4", "4,4", default}
    assert any(v["frontier"] for v in d["grid"].values())
    for v in d["grid"].values():
        assert 0 <= v["median_rel_l2"] < 10 and -1 <= v["median_spearman"] <= 1
    assert bench_fisher.summary_rows(d)


def test_generation_compares_batched_with_separate_runs(tiny_llama, tmp_path):
    bench_generation.run(tiny_llama, tmp_path, n_tokens=(2, 3), scopes=("temperature",), log=_quiet)
    d = _written(tmp_path, "generation")
    rows = d["scopes"]["temperature"]
    assert [r["n"] for r in rows] == [2, 3]
    assert all(r["max_rel_diff"] < 1e-4 for r in rows)  # the same scores either way


def test_faithfulness_benchmark_on_lambada(tiny_llama, tmp_path, monkeypatch):
    data = tmp_path / "benchmarks" / "data" / "lambada.json"  # passages within the tiny context
    data.parent.mkdir(parents=True)
    data.write_text(json.dumps([{"text": "one two three four five six seven"},
                                {"text": "the cat sat on the mat and then the cat"}]))
    monkeypatch.setattr(bench_faithfulness, "LAMBADA", data)
    bench_faithfulness.run(tiny_llama, tmp_path, passages=2, loo_passages=1,
                           scopes=["temperature", "random"], log=_quiet)
    d = _written(tmp_path, "faithfulness")
    assert d["explain"] == "last" and d["n_prompts"] == 2
    assert d["results"]["temperature"]["0.1"]["n"] == 2
    assert d["loo_spearman"]["random"]["kl"]["n"] == 1
    assert not (tmp_path / "faithfulness.json.partial.jsonl").exists()


def test_faithfulness_benchmark_stops_at_the_deadline_and_continues(tiny_llama, tmp_path, monkeypatch):
    data = tmp_path / "benchmarks" / "data" / "lambada.json"
    data.parent.mkdir(parents=True)
    data.write_text(json.dumps([f"passage number {i} ends with word{i}" for i in range(4)]))
    monkeypatch.setattr(bench_faithfulness, "LAMBADA", data)
    partial = tmp_path / "faithfulness.json.partial.jsonl"

    def clock():  # the budget runs out once two passages are in the sidecar
        lines = partial.read_text().splitlines() if partial.exists() else []
        return 0.0 if len(lines) < 3 else 10.0

    monkeypatch.setattr(bench_faithfulness.time, "monotonic", clock)
    kw = {"passages": 4, "loo_passages": 0, "scopes": ["temperature", "random"], "log": _quiet}
    first = bench_faithfulness.run(tiny_llama, tmp_path, deadline=1.0, **kw)
    assert first["n_prompts"] == 2 and "after 2 of 4" in first["stopped"] and partial.exists()
    second = bench_faithfulness.run(tiny_llama, tmp_path, deadline=None, **kw)
    assert second["n_prompts"] == 4 and second["stopped"] is None and not partial.exists()
    assert second["per_prompt"][:2] == first["per_prompt"]


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS sampling needs Linux /proc")
def test_peak_memory_sees_a_large_allocation(tiny_llama):
    with PeakMemory(tiny_llama.device) as mem:
        x = torch.ones(64 * 2**20 // 4)  # 64 MB, touched
        del x
    assert mem.peak_mb > 40


def test_run_all_sizes_and_options():
    args = run_all.parse(["--quick", "--only", "cost,fisher"])
    assert args.out.name == "quick"
    s = run_all.sizes(run_all.parse(["--max-length", "256", "--passages", "7"]))
    assert s["lengths"] == (32, 64, 128, 256) and s["passages"] == 7
    with pytest.raises(SystemExit):
        run_all.parse(["--only", "nope"])


def test_median_seconds_repeats_short_runs_and_takes_a_long_warm_up_as_it_is():
    calls: list[float] = []

    def run(seconds):
        def fn():
            calls.append(seconds.pop(0))
            return calls[-1]
        return fn

    assert median_seconds(run([9.0, 1.0, 3.0, 2.0]), 3) == (2.0, [1.0, 3.0, 2.0])
    calls.clear()
    assert median_seconds(run([12.0, 1.0]), 3, single_above=10.0) == (12.0, [12.0])
    assert calls == [12.0]  # no repeats after a long warm-up
    assert median_seconds(run([4.0, 5.0, 6.0, 7.0]), 3, single_above=10.0) == (6.0, [5.0, 6.0, 7.0])


def test_fisher_points_resume_and_frontier_from(tiny_llama, tmp_path):
    """--grid points, time ratios on every n-th prompt, --resume reuses measured prompts and
    --frontier-from keeps another run's grid as the frontier (and the plot reads it)."""
    prompts = bench_fisher.PROMPTS[:3]
    wide = tmp_path / "wide"
    bench_fisher.run(tiny_llama, wide, seeds=1, prompts=prompts[:2], log=_quiet,
                     points=[(0, 4)], ratio_every=2)
    w = _written(wide, "fisher_accuracy")
    default = "{},{}".format(*bench_fisher.default_setting())
    assert set(w["grid"]) == {"0,4", default}
    times = [len(p["points"]["0,4"]["time_ratio"]) for p in w["prompts"]]
    assert times == [1, 0] and all(p["points"][default]["time_ratio"] for p in w["prompts"])
    seen = []
    bench_fisher.run(tiny_llama, wide, seeds=1, prompts=prompts, points=[default_point()],
                     resume=True, frontier_from=wide / "fisher_accuracy.json",
                     log=lambda m: seen.append(m))
    d = _written(wide, "fisher_accuracy")
    assert d["prompts_measured"] == 3 and len(seen) == 1  # two reused, one measured
    assert d["prompts"][:2] == [{**p, "points": {default: p["points"][default]}}
                                for p in w["prompts"]]
    assert set(d["frontier"]["grid"]) == {"0,4", default} and d["frontier"]["prompts_measured"] == 2


def default_point():
    return bench_fisher.default_setting()


def test_fisher_on_another_prompt_set_writes_its_own_files(tiny_llama, tmp_path):
    """--prompt-set: the held-out set's results go to fisher_holdout.json/.png (never over the
    validation results), its prompts are the file's, the default's probes are recorded and a
    default-only run plots every prompt."""
    from benchmarks.common import DATA

    holdout = DATA / "fisher_holdout.json"
    texts = bench_fisher.prompts_of(holdout)
    assert len(texts) == 20 and not set(texts) & set(bench_fisher.PROMPTS)
    bench_fisher.run(tiny_llama, tmp_path, seeds=1, prompts=texts[:2], log=_quiet,
                     points=[default_point()], prompt_set=holdout)
    assert not (tmp_path / "fisher_accuracy.json").exists()
    d = _written(tmp_path, "fisher_holdout")
    assert d["prompt_set"] == "fisher_holdout.json" and d["prompts_in_set"] == 20
    assert d["prompts_measured"] == 2
    assert [p["text"] for p in d["prompts"]] == list(texts[:2])
    default = "{},{}".format(*default_point())
    for p in d["prompts"]:
        used = p["points"][default]["probes_used"]
        assert len(used) == 1 and used[0] in (5, 10, 20)  # one seed; the check doubles


def test_engine_call_reports_the_call_beside_autograds_floor(tiny_llama, tmp_path):
    result = bench_cost.run_engine_call(tiny_llama, tmp_path, lengths=(5, 9), threads=(1,),
                                        repeats=1, log=_quiet)
    on_disk = _written(tmp_path, "cost_engine_call")
    assert on_disk["threads"] == json.loads(json.dumps(result["threads"]))
    for row in result["threads"]["1"].values():
        # one repeat: the medians are that repeat's own numbers
        assert row["call_ratio"] == pytest.approx(row["call_s"] / row["forward_s"])
        assert row["floor_ratio"] == pytest.approx(row["graph_forward_ratio"] + row["backward_ratio"])
        assert row["call_over_floor"] == pytest.approx(row["call_ratio"] / row["floor_ratio"])
        assert row["graph_forward_ratio"] > 0 and row["backward_ratio"] > 0
        assert row["ok"] == (row["call_ratio"] <= row["target"]) and row["target"] == 1.9
    assert result["ok"] == all(r["ok"] for r in result["threads"]["1"].values())


def _sanity_part(scopes, n, rho):
    steps = [{"blocks_randomised": k, "spearman": {s: {"mean": rho ** k, "ci95": [0, 1], "n": n}
                                                   for s in scopes}} for k in range(3)]
    per = [{"index": i, "spearman": {s: [rho ** k for k in range(3)] for s in scopes}}
           for i in range(n)]
    return {"model": {"name": "m"}, "n_layers": 2, "explain": "last", "seed": 0,
            "scopes": list(scopes), "n_prompts": n, "steps": steps, "per_prompt": per,
            "wall_s": 10.0}


def test_sanity_runs_of_different_scopes_merge_by_scope():
    from benchmarks.faithfulness_suite import merge_sanity

    cheap, heavy = _sanity_part(["semantic", "temperature"], 4, 0.5), _sanity_part(["fisher"], 2, 0.8)
    merged = merge_sanity([cheap, heavy])
    assert merged["scopes"] == ["semantic", "temperature", "fisher"]
    assert merged["n_prompts"] == 4
    assert merged["n_prompts_by_scope"] == {"semantic": 4, "temperature": 4, "fisher": 2}
    assert merged["steps"][2]["spearman"]["fisher"]["mean"] == pytest.approx(0.64)
    assert merged["steps"][2]["spearman"]["semantic"]["mean"] == pytest.approx(0.25)
    assert [sorted(p["spearman"]) for p in merged["per_prompt"]] == \
        [["fisher", "semantic", "temperature"]] * 2 + [["semantic", "temperature"]] * 2
    assert merged["wall_s"] == 20.0 and cheap["scopes"] == ["semantic", "temperature"]  # untouched
    for bad in (dict(heavy, model={"name": "other"}), dict(heavy, fisher_method="exact"),
                _sanity_part(["temperature"], 2, 0.8)):  # other model, settings, a scope twice
        with pytest.raises(SystemExit):
            merge_sanity([cheap, bad])


def test_a_sanity_sidecar_publishes_the_report_of_its_passages(tiny_llama, tmp_path):
    from benchmarks.faithfulness_suite import sanity_from_sidecar
    from jscope_desktop.engine.faithfulness.sanity import (
        SanityConfig,
        layers_of,
        run_sanity,
        sanity_report,
    )

    cfg = SanityConfig(scopes=["temperature"], explain="next")
    prompts = ["the cat sat on the mat", "12, 34, 56, 78,"]
    sidecar = tmp_path / "s.json.partial.jsonl"
    results = run_sanity(tiny_llama, prompts, cfg, partial=sidecar)
    got = sanity_from_sidecar(sidecar, 3, "p.json")
    want = sanity_report({"model": tiny_llama.info.to_dict(), "device": "cpu",
                          "dtype": tiny_llama.dtype_name}, cfg, results, "p.json", layers_of(results))
    assert {k: v for k, v in got.items() if k not in ("n_planned", "complete", "compute_s")} == want
    assert got["complete"] is False and got["n_planned"] == 3  # two of three passages
    assert got["compute_s"] == pytest.approx(sum(r.seconds for r in results))
