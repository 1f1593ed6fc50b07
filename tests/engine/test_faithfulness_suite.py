"""The faithfulness suite at the reference's newest standard, each number against an independent
computation: fillers (a brute-force ablation by hand), AOPC, the correct subset, paired tests
(scipy on the per-passage values), Holm (a hand-built case), Kendall agreement with LOO, and
Integrated's baselines (a brute-force path integral)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given
from hypothesis import strategies as st

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.filler import parse_fillers, resolve_filler
from jscope_desktop.engine.faithfulness.measure import FaithfulnessConfig, evaluate_prompt
from jscope_desktop.engine.faithfulness.prompts import prepare_prompt
from jscope_desktop.engine.faithfulness.run import build_reports, run_faithfulness
from jscope_desktop.engine.faithfulness.stats import (
    BOOTSTRAP_RESAMPLES,
    aopc,
    holm,
    paired_tests,
)

pytestmark = pytest.mark.usefixtures("one_thread")
PROMPTS = ["12, 34, 56, 78, 90", "the cat sat on the mat", "abc abd abe ab ac", "9, 8, 7, 6, 5, 4"]


def by_hand(lm, ids: list[int], replaced: list[int], filler_id: int | None) -> torch.Tensor:
    """log p (V,) of the next token after ``ids`` with the embeddings at ``replaced`` set to the
    filler token's embedding (its row of the embedding module; zeros when None), through the
    model's own full forward."""
    with torch.no_grad():
        emb = lm.model.get_input_embeddings()
        x = emb(torch.tensor([ids])).clone()
        if replaced:
            x[0, replaced] = 0 if filler_id is None else emb(torch.tensor([[filler_id]]))[0, 0]
        logits = lm.model(inputs_embeds=x).logits[0, -1]
    return torch.log_softmax(logits.float(), -1)


@pytest.mark.parametrize("which", ["tiny_llama", "tiny_gemma"])
@pytest.mark.parametrize("filler", ["zero", "pad", "bos", "a"])
def test_filler_ablation_and_aopc_equal_a_forward_with_the_rows_replaced_by_hand(which, filler,
                                                                                  request):
    lm = request.getfixturevalue(which)
    text = "the cat sat on the mat"
    cfg = FaithfulnessConfig(scopes=["temperature", "random"], fractions=[0.1, 0.2, 0.4],
                             fillers=["zero", filler] if filler != "zero" else ["zero"], loo=False)
    r = evaluate_prompt(lm, text, 0, cfg)
    f = r.fillers[filler]["filler"]
    want_id = {"zero": None, "pad": 1, "bos": 1, "a": 3 + ord("a")}[filler]  # tiny: pad → bos
    assert f["token_id"] == want_id
    ids = prepare_prompt(lm, text).token_ids
    base = by_hand(lm, ids, [], None)
    scores = attribute(lm, AttributionRequest(token_ids=ids, scope="temperature")).scores
    order = sorted(range(1, len(ids)), key=lambda i: (-scores[i], i))
    deltas = {}
    for key, k in r.k.items():
        want = by_hand(lm, ids, order[:k], want_id)[r.top1_id] - base[r.top1_id]
        deltas[key] = float(want)
        assert r.fillers[filler]["deltas"]["temperature"][key] == pytest.approx(deltas[key], abs=3e-5)
    xs = [0.1, 0.2, 0.4]
    ys = [deltas["0.1"], deltas["0.2"], deltas["0.4"]]
    assert r.fillers[filler]["aopc"]["temperature"] == pytest.approx(
        float(np.trapezoid(ys, xs)), abs=3e-5)
    if filler != "zero":
        assert r.fillers[filler]["deltas"] != r.fillers["zero"]["deltas"]


def test_aopc_is_the_reference_trapezoid_over_the_fractions():
    deltas = {"0.05": -4.32, "0.1": -7.07, "0.2": -9.14}
    assert aopc(deltas, [0.05, 0.1, 0.2]) == pytest.approx(-1.095, abs=5e-4)
    assert aopc(deltas, [0.2, 0.05, 0.1]) == pytest.approx(-1.09525)  # order of the fractions
    assert math.isnan(aopc({"0.1": -1.0}, [0.1]))  # one fraction: no area
    assert math.isnan(aopc({"0.1": -1.0, "0.2": None}, [0.1, 0.2]))


def test_holm_on_a_hand_built_case():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])
    assert holm([0.4, 0.3]) == pytest.approx([0.6, 0.6])  # monotone: never below an earlier one
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1
    got = holm([0.02, float("nan"), 0.01])
    assert got[0] == pytest.approx(0.02) and math.isnan(got[1]) and got[2] == pytest.approx(0.02)


def test_paired_tests_equal_scipy_on_the_per_passage_values():
    rng = np.random.default_rng(5)
    values = {"a": list(rng.normal(-1.3, 0.4, 40)), "b": list(rng.normal(-1.1, 0.4, 40)),
              "random": list(rng.normal(-0.3, 0.2, 40))}
    values["b"][3] = None  # a missing passage drops out of its pairs only
    rows = paired_tests(values, "all", seed=7)
    assert [(r["a"], r["b"]) for r in rows] == [("a", "b"), ("a", "random"), ("b", "random")]
    ps = []
    for number, r in enumerate(rows):
        x = [(u, v) for u, v in zip(values[r["a"]], values[r["b"]]) if u is not None and v is not None]
        d = np.array([u - v for u, v in x])
        assert r["n"] == len(d) and r["mean_diff"] == pytest.approx(d.mean())
        assert r["p_wilcoxon"] == pytest.approx(scipy.stats.wilcoxon(d).pvalue)
        seed = int(np.random.SeedSequence([7, number]).generate_state(1)[0])
        ci = scipy.stats.bootstrap((d,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES,
                                   rng=np.random.default_rng(seed)).confidence_interval
        assert r["ci95"] == pytest.approx([ci.low, ci.high])
        assert r["ci95"][0] < r["mean_diff"] < r["ci95"][1]
        ps.append(r["p_wilcoxon"])
    assert [r["p_holm"] for r in rows] == pytest.approx(holm(ps))
    same = paired_tests({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]}, "all", 0)[0]
    assert same["mean_diff"] == 0 and same["p_wilcoxon"] == 1.0 and same["ci95"] == [0.0, 0.0]


def test_loo_agreement_kendall_and_spearman_against_manual_leave_one_out(tiny_llama):
    lm, text = tiny_llama, "abc abd abe ab"
    cfg = FaithfulnessConfig(scopes=["temperature"], fractions=[0.2, 0.4], fillers=["pad"])
    r = evaluate_prompt(lm, text, 0, cfg)
    ids = prepare_prompt(lm, text).token_ids
    base = by_hand(lm, ids, [], 1)
    kl, drop = [], []
    for i in range(1, len(ids)):
        lp = by_hand(lm, ids, [i], 1)
        kl.append(float((base.exp() * (base - lp)).sum()))
        drop.append(float(base[r.top1_id] - lp[r.top1_id]))
    scores = attribute(lm, AttributionRequest(token_ids=ids, scope="temperature")).scores[1:]
    agree = r.loo_agreement["temperature"]
    assert agree["kl"]["kendall"] == pytest.approx(scipy.stats.kendalltau(scores, kl)[0], abs=1e-6)
    assert agree["logp"]["kendall"] == pytest.approx(scipy.stats.kendalltau(scores, drop)[0], abs=1e-6)
    assert agree["kl"]["spearman"] == pytest.approx(scipy.stats.spearmanr(scores, kl)[0], abs=1e-6)
    assert r.loo_spearman["temperature"]["kl"] == agree["kl"]["spearman"]


def test_reports_per_filler_with_the_correct_subset_and_the_contract(tiny_llama, monkeypatch):

    cfg = FaithfulnessConfig(scopes=["temperature", "grad_input", "random"], fractions=[0.1, 0.3],
                             explain="last", fillers=["zero", "pad"], loo_prompts=2)
    results = run_faithfulness(tiny_llama, PROMPTS, cfg)
    # make passages 0 and 2 "correct" whatever the random model predicts
    for r in results:
        r.correct = r.index in (0, 2)
    reports = build_reports(tiny_llama, cfg, results, "p.json")
    assert list(reports) == ["zero", "pad"]
    zero, pad = reports["zero"], reports["pad"]
    assert zero["filler"]["name"] == "zero" and zero["filler"]["token_id"] is None
    assert pad["filler"]["token_id"] == 1 and "bos" in pad["filler"]["fallback"]
    for rep in (zero, pad):
        pp = rep["per_prompt"]
        assert "fillers" not in pp[0] and set(pp[0]["aopc"]) == set(cfg.scopes)
        for s in cfg.scopes:
            vals = [p["aopc"][s] for p in pp]
            lo, hi = scipy.stats.t.interval(0.95, len(vals) - 1, loc=np.mean(vals),
                                            scale=scipy.stats.sem(vals))
            assert rep["aopc"][s]["mean"] == pytest.approx(np.mean(vals))
            assert rep["aopc"][s]["ci95"] == pytest.approx([lo, hi])
            sub = [p["aopc"][s] for p in pp if p["correct"]]
            assert rep["aopc_correct"][s]["n"] == 2
            assert rep["aopc_correct"][s]["mean"] == pytest.approx(np.mean(sub))
        assert {p["subset"] for p in rep["paired"]} == {"all", "correct"}
        assert len(rep["paired"]) == 2 * 3
        assert rep["n_correct"] == 2 and set(rep["loo_agreement"]["temperature"]) == {"kl", "logp"}
        assert rep["loo_agreement"]["temperature"]["kl"]["kendall"]["n"] == 2
    assert zero["per_prompt"][0]["deltas"] == results[0].fillers["zero"]["deltas"]
    assert pad["per_prompt"][0]["deltas"] == results[0].fillers["pad"]["deltas"]
    # the scores were computed once: the same seconds of attribution in both reports
    assert zero["per_prompt"][1]["seconds"] == pad["per_prompt"][1]["seconds"]


def test_correct_means_the_top1_is_the_last_words_first_token(tiny_llama):
    cfg = FaithfulnessConfig(scopes=["random"], fractions=[0.2, 0.4], explain="last", loo=False)
    r = evaluate_prompt(tiny_llama, "ab cd", 0, cfg)
    assert r.correct == (r.top1_id == r.true_id)
    nxt = evaluate_prompt(tiny_llama, "ab cd", 0, FaithfulnessConfig(scopes=["random"], loo=False))
    assert nxt.correct is None


class NoRoles:
    """A tokenizer with no pad, eos, bos or unk token (one token per character)."""

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [3 + ord(c) for c in text]}

    def decode(self, ids, **kw):
        return "".join(chr(i - 3) for i in ids)


def test_fillers_resolve_or_refuse_in_one_sentence(tiny_llama):
    tok = tiny_llama.tokenizer
    assert resolve_filler(tok, "zero").token_id is None
    assert resolve_filler(tok, "bos").fallback is None
    with pytest.raises(JScopeError, match="is 3 tokens"):
        resolve_filler(tok, "xyz")
    with pytest.raises(JScopeError, match="no pad token and none of"):
        resolve_filler(NoRoles(), "pad")
    assert resolve_filler(NoRoles(), "q").token_id == 3 + ord("q")
    with pytest.raises(JScopeError, match="twice"):
        parse_fillers("zero,pad,zero")
    with pytest.raises(JScopeError, match="No filler"):
        parse_fillers(" , ")


@given(st.text(max_size=30))
def test_parse_fillers_never_raises_anything_but_a_sentence(text):
    try:
        names = parse_fillers(text)
    except JScopeError as exc:
        assert str(exc).endswith(".")
    else:
        assert names and all(n == n.strip() and n and "," not in n for n in names)


@pytest.mark.parametrize("baseline", ["zero", "pad", "eos", "bos", "mean"])
def test_integrated_baselines_against_a_brute_force_path_integral(tiny_gemma, baseline,
                                                                   monkeypatch):
    lm = tiny_gemma
    ids = [1, 40, 41, 42, 43, 44]  # a BOS first: it keeps its own embedding on token paths
    monkeypatch.setattr(lm.tokenizer, "pad_token_id", 0, raising=False)
    monkeypatch.setattr(lm.tokenizer, "eos_token_id", 2, raising=False)
    if True:
        r = attribute(lm, AttributionRequest(token_ids=ids, scope="integrated", ig_steps=4,
                                             ig_baseline=baseline))
        emb = lm.model.get_input_embeddings()
        with torch.no_grad():
            x = emb(torch.tensor([ids]))[0]
            if baseline == "zero":
                b = torch.zeros_like(x)
            elif baseline == "mean":
                b = (emb(torch.arange(emb.weight.shape[0])[None])[0].mean(0)).expand_as(x).clone()
            else:
                tid = {"pad": 0, "eos": 2, "bos": 1}[baseline]
                b = emb(torch.tensor([[tid]]))[0, 0].expand_as(x).clone()
                b[0] = x[0]  # the leading BOS keeps its own
        u = lm.model.get_output_embeddings().weight[r.target_id]
        total = torch.zeros_like(x)
        for a in (0.25, 0.5, 0.75, 1.0):
            xa = (b + a * (x - b)).clone().requires_grad_(True)
            h = lm.model.model(inputs_embeds=xa[None]).last_hidden_state[0, -1]
            (g,) = torch.autograd.grad(h @ u, xa)
            total += g
        want = ((total / 4) * (x - b)).norm(dim=-1)
        assert r.scores == pytest.approx(want.tolist(), rel=2e-4, abs=1e-6)
