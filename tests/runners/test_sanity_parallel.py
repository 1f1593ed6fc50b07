"""`jscope sanity --workers N`: the Ray workers give the sequential report (timings aside); its
own module, so its own local Ray instance (``shared_ray`` is module-scoped)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import run_cli, write_prompts

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ["the dog sat on a mat . the cat sat on the mat . a dog sat on", "a dog sat on",
           "the cat sat on the mat ."]


def test_sanity_on_workers_gives_the_sequential_report(capsys, model_folder, tmp_path, shared_ray,
                                                       packages, one_thread):
    prompts = write_prompts(tmp_path, PROMPTS)
    reports = {}
    for name, argv in {"sequential": [], "workers": ["--workers", "2"]}.items():
        out = tmp_path / f"s_{name}.json"
        status, _, err = run_cli(capsys, "sanity", "--prompts", str(prompts), "--json", str(out),
                                 "--model", str(model_folder), "--device", "cpu", "--scopes",
                                 "temperature,fisher", "--seed", "3", *argv)
        assert status == 0 and err == "", err
        d = json.loads(out.read_text(encoding="utf-8"))
        reports[name] = {**{k: v for k, v in d.items() if k != "wall_s"},
                         "per_prompt": [{k: v for k, v in p.items() if k != "seconds"}
                                        for p in d["per_prompt"]]}
    assert reports["workers"] == reports["sequential"]
    assert reports["sequential"]["steps"][0]["spearman"]["fisher"]["mean"] == 1.0
    assert packages == [str(ROOT / "jscope_desktop")]
    # the workers continue a stopped run's sidecar: its first passage read back, not re-measured
    from jscope_desktop.engine.faithfulness.run import ModelAbout
    from jscope_desktop.engine.faithfulness.sanity import SanityConfig, sanity_header

    seq = json.loads((tmp_path / "s_sequential.json").read_text(encoding="utf-8"))
    cfg = SanityConfig(scopes=["temperature", "fisher"], seed=3)
    header = sanity_header(ModelAbout(seq["model"], "cpu", seq["dtype"]), cfg)
    first = dict(seq["per_prompt"][0], seconds=12345.0)
    out = tmp_path / "s_resumed.json"
    out.with_name(out.name + ".partial.jsonl").write_text(
        json.dumps(header) + "\n" + json.dumps(first) + "\n", encoding="utf-8")
    status, _, err = run_cli(capsys, "sanity", "--prompts", str(prompts), "--json", str(out),
                             "--model", str(model_folder), "--device", "cpu", "--scopes",
                             "temperature,fisher", "--seed", "3", "--workers", "2")
    assert status == 0 and err == "", err
    resumed = json.loads(out.read_text(encoding="utf-8"))
    assert resumed["per_prompt"][0]["seconds"] == 12345.0
    assert resumed["steps"] == seq["steps"]
