"""A sharded safetensors folder (``model-0000N-of-0000M.safetensors`` + its index) loads like
one file, the estimate before loading counts every shard, and the scores are the same."""

from __future__ import annotations

import shutil

import numpy as np
import torch

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.load import load_model
from jscope_desktop.engine.model.memory import safetensors_parameters
from jscope_desktop.engine.planning.calibration import estimate_source


def test_a_sharded_folder_loads_counts_and_scores_like_one_file(model_folder, tmp_path):
    whole = load_model(str(model_folder), "cpu")
    sharded = tmp_path / "sharded"
    shutil.copytree(model_folder, sharded, ignore=shutil.ignore_patterns("*.safetensors"))
    whole.model.save_pretrained(sharded, max_shard_size="2KB")
    shards = sorted(sharded.glob("*.safetensors"))
    assert len(shards) > 2 and (sharded / "model.safetensors.index.json").is_file()
    n = sum(p.numel() for p in whole.model.parameters())
    # tied or not, the files hold at least every distinct tensor; the count is the files' own
    on_disk = sum(t.numel() for t in whole.model.state_dict().values())
    assert safetensors_parameters(sharded) in (n, on_disk)
    lm = load_model(str(sharded), "cpu")
    assert lm.info.n_params == n
    req = AttributionRequest(prompt="the cat sat on the mat", scope="fisher", fisher_method="exact")
    np.testing.assert_allclose(attribute(lm, req).scores, attribute(whole, req).scores, rtol=1e-9)
    est = estimate_source(str(sharded), "cpu", "float32", req)
    assert est is not None and est.peak_bytes > n * 4
    for a, b in zip(lm.model.parameters(), whole.model.parameters(), strict=True):
        assert torch.equal(a, b)
