"""The model-randomisation sanity check: step 0 is the original map (ρ = 1), re-initialising
changes exactly the named blocks, the loaded model is never changed, and the report's numbers
equal scipy on the per-passage values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.prompts import prepare_prompt
from jscope_desktop.engine.faithfulness.sanity import (
    SanityConfig,
    copy_with_own_blocks,
    layers_of,
    randomise_blocks,
    run_sanity,
    sanity_report,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("which", ["tiny_llama", "tiny_gemma"])
def test_reinitialising_changes_exactly_the_named_blocks_of_a_copy(which, request):
    lm = request.getfixturevalue(which)
    before = snapshot(lm.model)
    work = copy_with_own_blocks(lm)
    randomise_blocks(work.model, [1], seed=3)
    after = dict(work.model.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(n.startswith("model.layers.1.") for n in changed)
    block = {n for n in before if n.startswith("model.layers.1.")}
    norms = {n for n in block if "norm" in n}
    assert block - norms <= changed  # every weight matrix of the block is new
    assert all(torch.equal(before[n], p) for n, p in lm.model.named_parameters())  # loaded: untouched
    # shared, not copied: the embeddings are the same tensor
    assert work.model.get_input_embeddings().weight is lm.model.get_input_embeddings().weight
    again = copy_with_own_blocks(lm)
    randomise_blocks(again.model, [1], seed=3)
    assert all(torch.equal(p, after[n]) for n, p in again.model.named_parameters())  # seeded
    state = torch.random.get_rng_state()
    randomise_blocks(again.model, [0], seed=4)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone


def test_step_zero_is_rho_one_and_the_report_is_the_mean_over_passages(tiny_llama):
    before = snapshot(tiny_llama.model)
    cfg = SanityConfig(scopes=["temperature", "grad_input"], explain="next")
    prompts = ["the cat sat on the mat", "12, 34, 56, 78,", "abc abd abe ab"]
    results = run_sanity(tiny_llama, prompts, cfg)
    assert all(torch.equal(before[n], p) for n, p in tiny_llama.model.named_parameters())
    assert layers_of(results) == 2
    for r in results:
        for s in cfg.scopes:
            assert len(r.spearman[s]) == 3 and r.spearman[s][0] == pytest.approx(1.0)
            assert r.spearman[s][2] < 0.999  # every block re-initialised: the map moved
    # the last step, by hand: all blocks re-initialised, the map recomputed, ρ with scipy
    ids = prepare_prompt(tiny_llama, prompts[0]).token_ids
    work = copy_with_own_blocks(tiny_llama)
    randomise_blocks(work.model, [1], cfg.seed)
    randomise_blocks(work.model, [0], cfg.seed)
    orig = attribute(tiny_llama, AttributionRequest(token_ids=ids, scope="temperature")).scores[1:]
    rand = attribute(work, AttributionRequest(token_ids=ids, scope="temperature")).scores[1:]
    assert results[0].spearman["temperature"][2] == pytest.approx(
        scipy.stats.spearmanr(orig, rand)[0], abs=1e-9)
    rep = sanity_report({"model": {}, "device": "cpu", "dtype": "float32"}, cfg, results, "p.json", 2)
    assert rep["order"] == "output_to_input" and [s["blocks_randomised"] for s in rep["steps"]] == [0, 1, 2]
    vals = [r.spearman["grad_input"][1] for r in results]
    lo, hi = scipy.stats.t.interval(0.95, 2, loc=np.mean(vals), scale=scipy.stats.sem(vals))
    got = rep["steps"][1]["spearman"]["grad_input"]
    assert got["mean"] == pytest.approx(np.mean(vals)) and got["ci95"] == pytest.approx([lo, hi])
    assert rep["steps"][0]["spearman"]["temperature"]["mean"] == pytest.approx(1.0)
    assert len(rep["per_prompt"]) == 3


def test_an_initialiser_that_changes_nothing_is_refused(tiny_llama, monkeypatch):
    work = copy_with_own_blocks(tiny_llama)
    monkeypatch.setattr(type(work.model), "_init_weights", lambda self, module: None)
    with pytest.raises(JScopeError, match="left its weights unchanged"):
        randomise_blocks(work.model, [0], 0)


@pytest.mark.parametrize("cfg,message", [
    (SanityConfig(scopes=[]), "No scopes"),
    (SanityConfig(scopes=["random"]), "Unknown scope 'random'"),
    (SanityConfig(explain="first"), "Unknown --explain"),
    (SanityConfig(seed=-1), "seed"),
    (SanityConfig(ig_baseline="unk"), "Integrated baseline"),
])
def test_bad_settings_are_one_sentence(cfg, message):
    with pytest.raises(JScopeError, match=message):
        cfg.check()


class _Stop(Exception):
    pass


def test_a_stopped_sanity_run_resumes_to_the_same_report(tiny_llama, tmp_path):
    cfg = SanityConfig(scopes=["temperature", "grad_input"], explain="next")
    prompts = ["the cat sat on the mat", "12, 34, 56, 78,", "abc abd abe ab"]
    full = run_sanity(tiny_llama, prompts, cfg)
    partial = tmp_path / "s.json.partial.jsonl"

    def stop_after_one(done, total, message):
        if done == 1 and message != "done":
            raise _Stop()

    with pytest.raises(_Stop):
        run_sanity(tiny_llama, prompts, cfg, stop_after_one, partial=partial)
    assert len(partial.read_text().splitlines()) == 1 + 1  # header + one passage
    ran = []
    resumed = run_sanity(tiny_llama, prompts, cfg, lambda d, t, m: ran.append(m), partial=partial)
    assert ran == ["prompt 2", "prompt 3", "done"]  # only the missing passages ran
    assert [r.to_dict() | {"seconds": 0} for r in resumed] == \
        [r.to_dict() | {"seconds": 0} for r in full]
    about = {"model": {}, "device": "cpu", "dtype": "float32"}
    drop = ("per_prompt",)
    a, b = (sanity_report(about, cfg, rs, "p.json", layers_of(full)) for rs in (resumed, full))
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    # a changed passage is measured again; other settings are refused in one sentence
    ran.clear()
    run_sanity(tiny_llama, prompts[:2] + ["abc abd abe abf"], cfg, lambda d, t, m: ran.append(m),
               partial=partial)
    assert ran == ["prompt 3", "done"]
    with pytest.raises(JScopeError, match="other settings"):
        run_sanity(tiny_llama, prompts, SanityConfig(scopes=["temperature"], explain="next"),
                   partial=partial)


def test_a_sidecar_with_foreign_or_broken_passages_is_remeasured_or_refused(tiny_llama, tmp_path):
    """Hostile progress files with this run's own header: lines that are not a passage of this
    run (another scope, empty or non-list curves, garbage) are measured again; bytes that are
    not text, or a passage of another depth (wrong number of blocks), are one sentence, never
    a traceback."""
    import json

    from jscope_desktop.engine.faithfulness.sanity import sanity_header

    cfg = SanityConfig(scopes=["temperature"], explain="next")
    prompts = ["the cat sat on the mat", "12, 34, 56, 78,"]
    good = run_sanity(tiny_llama, prompts, cfg)[0].to_dict()
    partial = tmp_path / "s.json.partial.jsonl"
    header = json.dumps(sanity_header(tiny_llama, cfg))
    broken = [dict(good, spearman={"fisher": [1.0, 0.5, 0.2]}),  # another scope
              dict(good, spearman={"temperature": []}), dict(good, spearman={"temperature": "x"}),
              dict(good, index="0"), [1, 2], "\u0000"]
    lines = (header + "\n" + "\n".join(json.dumps(b) for b in broken) + "\n").encode()
    partial.write_bytes(lines)
    ran = []
    run_sanity(tiny_llama, prompts, cfg, lambda d, t, m: ran.append(m), partial=partial)
    assert ran == ["prompt 1", "prompt 2", "done"]  # nothing broken was taken as done
    partial.write_bytes(lines + b"\xff\xfe binary\n")  # not text at all: one sentence
    with pytest.raises(JScopeError, match="Could not read the partial results file"):
        run_sanity(tiny_llama, prompts, cfg, partial=partial)
    partial.write_text(header + "\n" + json.dumps(dict(good, spearman={"temperature": [1.0, 0.9]}))
                       + "\n")  # one step fewer than this model has
    with pytest.raises(JScopeError, match="another number of decoder blocks"):
        run_sanity(tiny_llama, prompts, cfg, partial=partial)
