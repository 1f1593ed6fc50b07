"""benchmarks/bench_multi.py end to end at a tiny size on the tiny model."""

from __future__ import annotations

import json

from benchmarks import bench_multi


def test_bench_multi_times_the_joint_run_against_fisher_alone(tiny_llama, one_thread, tmp_path):
    prompts = {"fact": bench_multi.PROMPTS["fact"]}
    bench_multi.run(tiny_llama, tmp_path, repeats=2, prompts=prompts, lambada=(64,),
                    log=lambda *a: None)
    d = json.loads((tmp_path / "multi.json").read_text())
    assert set(d["prompts"]) == {"fact", "lambada_64"}
    assert d["scopes"] == list(bench_multi.SCOPES) and d["target_ratio"] == 1.2
    for row in d["prompts"].values():
        assert len(row["joint_times"]) == len(row["alone_times"]) == 2
        assert row["ratio"] == row["joint_s"] / row["fisher_alone_s"] > 0
        # the direction scopes add no pass to Fisher fast's own (two: F's top k, then the
        # Krylov block with the probes)
        assert row["joint_backward_passes"] == row["fisher_backward_passes"] >= 2
        assert max(row["max_rel_diff"].values()) < 1e-5  # the joint run equals the single ones
    assert d["prompts"]["lambada_64"]["tokens"] == 64
    assert bench_multi.summary_rows(d)[0][0] == "fact"
