"""The faithfulness benchmark: ablation, statistics, resuming, the command line (tiny models)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch

from jscope_desktop.cli import main
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.measure import (
    FaithfulnessConfig,
    ablated_logprobs,
    evaluate_prompt,
    top_k_count,
)
from jscope_desktop.engine.faithfulness.prompts import prepare_prompt
from jscope_desktop.engine.faithfulness.run import run_faithfulness, summarize
from jscope_desktop.engine.faithfulness.stats import spearman, t_interval

PROMPTS = ["12, 34, 56, 78,", "the cat sat on the mat", "abc abd abe ab", "9, 8, 7, 6, 5, 4,"]


pytestmark = pytest.mark.usefixtures("one_thread")


def manual_logprobs(lm, ids: list[int], zeroed: list[int]) -> torch.Tensor:
    """log p (V,) of the next token after ``ids`` with the embeddings at ``zeroed`` set to 0,
    through the model's own forward (embedding module + full LM, soft-capping included)."""
    with torch.no_grad():
        x = lm.model.get_input_embeddings()(torch.tensor([ids])).clone()
        x[0, zeroed] = 0
        logits = lm.model(inputs_embeds=x).logits[0, -1]
    return torch.log_softmax(logits.float(), -1)


@pytest.mark.parametrize("which", ["tiny_llama", "tiny_gemma"])
def test_ablation_equals_a_manual_forward_with_rows_zeroed(which, request):
    lm = request.getfixturevalue(which)
    ids = prepare_prompt(lm, "the cat sat on the mat").token_ids
    zeroed = [[], [2], [1, 5, 9], list(range(3, 12))]
    present = torch.ones(len(zeroed), len(ids), dtype=torch.bool)
    for r, z in enumerate(zeroed):
        present[r, z] = False
    got = ablated_logprobs(lm, ids, len(ids) - 1, present, max_batch_tokens=2 * len(ids))  # 2 chunks
    for r, z in enumerate(zeroed):
        want = manual_logprobs(lm, ids, z)
        torch.testing.assert_close(got[r], want, atol=2e-5, rtol=1e-5)
    assert (got[2] - got[0]).abs().max() > 1e-3  # ablation does change the prediction


def test_deltas_are_the_drop_of_the_top1_after_removing_the_top_k(tiny_llama):
    lm, text = tiny_llama, "the cat sat on the mat"
    cfg = FaithfulnessConfig(scopes=["temperature", "semantic", "random"], fractions=[0.1, 0.25])
    r = evaluate_prompt(lm, text, 0, cfg)
    ids = prepare_prompt(lm, text).token_ids
    base = manual_logprobs(lm, ids, [])
    assert r.top1_id == int(base.argmax())
    assert r.n_attributable == len(ids) - 1  # the BOS is never ablated
    assert r.k == {"0.1": 2, "0.25": 5}
    for scope in ("temperature", "semantic"):
        scores = attribute(lm, AttributionRequest(token_ids=ids, scope=scope, target_id=r.top1_id)).scores
        order = sorted(range(1, len(ids)), key=lambda i: -scores[i])
        for key, k in r.k.items():
            want = manual_logprobs(lm, ids, order[:k])[r.top1_id] - base[r.top1_id]
            assert r.deltas[scope][key] == pytest.approx(float(want), abs=2e-5)
    again = evaluate_prompt(lm, text, 0, cfg)
    assert again.deltas["random"] == r.deltas["random"]  # seeded by [seed, index]
    other = evaluate_prompt(lm, text, 1, cfg)
    assert other.deltas["random"] != r.deltas["random"]


def test_leave_one_out_spearman_against_manual_ablations(tiny_llama):
    lm, text = tiny_llama, "abc abd abe ab"
    r = evaluate_prompt(lm, text, 0, FaithfulnessConfig(scopes=["temperature"], fractions=[0.2]))
    ids = prepare_prompt(lm, text).token_ids
    base = manual_logprobs(lm, ids, [])
    kl, drop = [], []
    for i in range(1, len(ids)):
        lp = manual_logprobs(lm, ids, [i])
        kl.append(float((base.exp() * (base - lp)).sum()))
        drop.append(float(base[r.top1_id] - lp[r.top1_id]))
    scores = attribute(lm, AttributionRequest(token_ids=ids, scope="temperature")).scores[1:]
    assert r.loo_spearman["temperature"]["kl"] == pytest.approx(scipy.stats.spearmanr(scores, kl)[0],
                                                                abs=1e-6)
    assert r.loo_spearman["temperature"]["logp"] == pytest.approx(
        scipy.stats.spearmanr(scores, drop)[0], abs=1e-6)


def test_explain_last_feeds_the_text_before_its_last_word(tiny_llama):
    tok = tiny_llama.tokenizer
    p = prepare_prompt(tiny_llama, "ab cd", "last")
    assert p.token_ids == tok("ab ")["input_ids"]  # the space before the word is context here
    assert p.position == len(p.token_ids) - 1
    assert p.true_id == tok("c", add_special_tokens=False)["input_ids"][0]
    assert "2 tokens" in p.note and "first token" in p.note
    assert prepare_prompt(tiny_llama, "ab c", "last").note is None


@pytest.mark.parametrize("fraction,n,k", [(0.05, 10, 1), (0.1, 50, 5), (0.2, 35, 7), (0.1, 29, 2),
                                          (0.29, 100, 29), (0.5, 1, 1)])
def test_top_k_count_rule(fraction, n, k):
    assert top_k_count(fraction, n) == k


def test_t_interval_matches_scipy():
    rng = np.random.default_rng(3)
    for n in (2, 3, 7, 40, 500):
        v = rng.normal(-2.0, 3.0, n)
        got = t_interval(list(v))
        lo, hi = scipy.stats.t.interval(0.95, n - 1, loc=v.mean(), scale=scipy.stats.sem(v))
        assert (got.mean, got.n) == (pytest.approx(v.mean()), n)
        assert got.lo == pytest.approx(lo, rel=1e-7) and got.hi == pytest.approx(hi, rel=1e-7)
    # (the hand-written Student t quantile this checked is gone: t_interval uses scipy.stats.t)
    one = t_interval([1.5, None, float("nan")])
    assert one.n == 1 and one.mean == 1.5 and math.isnan(one.lo)
    assert t_interval([]).to_dict() == {"mean": None, "ci95": [None, None], "n": 0}


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 5, 30).astype(float), rng.normal(size=30)
        assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a, b)[0], abs=1e-12)
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


class Stop(Exception):
    pass


def test_a_stopped_run_resumes_to_the_same_answer(tiny_llama, tmp_path):
    cfg = FaithfulnessConfig(scopes=["temperature", "fisher", "random"], fractions=[0.1, 0.2],
                             loo_prompts=2)
    full = run_faithfulness(tiny_llama, PROMPTS, cfg)
    partial = tmp_path / "out.json.partial.jsonl"

    def stop_after_two(done, total, message):
        if done == 2 and message != "done":
            raise Stop()

    with pytest.raises(Stop):
        run_faithfulness(tiny_llama, PROMPTS, cfg, partial, progress=stop_after_two)
    assert len(partial.read_text().splitlines()) == 1 + 2  # header + two prompts
    measured = []
    resumed = run_faithfulness(tiny_llama, PROMPTS, cfg, partial,
                               progress=lambda d, t, m: measured.append(m))
    assert measured == ["prompt 3", "prompt 4", "done"]  # only the missing prompts ran
    assert [r.to_dict() | {"seconds": 0} for r in resumed] == \
        [r.to_dict() | {"seconds": 0} for r in full]
    assert summarize(resumed, cfg) == summarize(full, cfg)
    assert summarize(full, cfg)["loo_spearman"]["temperature"]["kl"]["n"] == 2


def test_resuming_with_other_settings_is_refused(tiny_llama, tmp_path):
    from jscope_desktop.engine.errors import JScopeError

    partial = tmp_path / "p.jsonl"
    run_faithfulness(tiny_llama, PROMPTS[:1], FaithfulnessConfig(scopes=["random"]), partial)
    with pytest.raises(JScopeError, match="other settings"):
        run_faithfulness(tiny_llama, PROMPTS[:1], FaithfulnessConfig(scopes=["temperature"]), partial)


@pytest.fixture
def cli_on_tiny(tiny_llama, monkeypatch):
    import jscope_desktop.commands.faithfulness as cmd

    monkeypatch.setattr(cmd, "load_model", lambda *a, **k: tiny_llama)


def test_command_writes_the_contract_and_removes_the_sidecar(cli_on_tiny, tmp_path, capsys):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"text": t} for t in PROMPTS]))
    out = tmp_path / "out.json"
    rc = main(["faithfulness", "--prompts", str(prompts), "--n", "3", "--scopes", "temperature,random",
               "--fractions", "0.1,0.3", "--explain", "last", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert set(d["results"]) == {"temperature", "random"}
    assert set(d["results"]["temperature"]) == {"0.1", "0.3"}
    stat = d["results"]["temperature"]["0.1"]
    assert stat["n"] == 3 and stat["ci95"][0] <= stat["mean"] <= stat["ci95"][1]
    assert d["n_prompts"] == 3 and d["explain"] == "last" and d["accuracy"] is not None
    assert d["multi_token_last_words"] == 3  # one token per character: every word is several
    assert set(d["loo_spearman"]["random"]) == {"kl", "logp"}
    assert not (tmp_path / "out.json.partial.jsonl").exists()
    assert "temperature" in capsys.readouterr().out


BAD = [
    (None, [], "does not exist"),
    ("[]", [], "non-empty JSON list"),
    ("{not json", [], "not valid JSON"),
    ('{"text": "a b"}', [], "non-empty JSON list"),
    ('["a b", 3]', [], "Prompt 2"),
    ('["a b", {"text": "  "}]', [], "Prompt 2"),
    ('["a b"]', ["--scopes", "temperature,nope"], "Unknown scope 'nope'"),
    ('["a b"]', ["--fractions", "0.1,0"], "outside (0, 1)"),
    ('["a b"]', ["--fractions", "1"], "outside (0, 1)"),
    ('["a b"]', ["--fractions", "-0.2"], "outside (0, 1)"),
    ('["a b"]', ["--fractions", "ten"], "numbers separated by commas"),
    ('["a b"]', ["--n", "0"], "at least 1"),
    ('["a b", "single"]', ["--explain", "last"], "Prompt 2 has a single word"),
]


@pytest.mark.parametrize("content,extra,message", BAD)
def test_bad_input_is_one_line_and_non_zero(cli_on_tiny, tmp_path, capsys, content, extra, message):
    prompts = tmp_path / "p.json"
    if content is not None:
        prompts.write_text(content)
    rc = main(["faithfulness", "--prompts", str(prompts), "--json", str(tmp_path / "o.json"), *extra])
    err = capsys.readouterr().err
    assert rc == 1
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o.json").exists()


@pytest.mark.embedded
def test_lambada_passage_on_the_embedded_model(embedded_model):
    from jscope_desktop.engine.faithfulness.run import load_prompts

    root = Path(__file__).resolve().parents[2]
    text = load_prompts(root / "benchmarks" / "data" / "lambada_prompts_1000.json")[0]
    cfg = FaithfulnessConfig(scopes=["temperature", "random"], fractions=[0.1], explain="last",
                             loo=False)
    r = evaluate_prompt(embedded_model, text, 0, cfg)
    assert r.true == " Bob" and r.n_attributable == r.n_tokens > 50
    assert r.deltas["temperature"]["0.1"] < -1.0 and math.isfinite(r.deltas["random"]["0.1"])


def test_a_prompt_with_nothing_to_ablate_is_refused_not_averaged_as_zero(tiny_llama, monkeypatch):
    from jscope_desktop.engine.errors import JScopeError
    from jscope_desktop.engine.faithfulness import measure
    from jscope_desktop.engine.faithfulness.prompts import PreparedPrompt

    ids = prepare_prompt(tiny_llama, "the cat").token_ids
    monkeypatch.setattr(measure, "prepare_prompt",
                        lambda lm, text, explain, index: PreparedPrompt(ids, len(ids) - 1, []))
    cfg = FaithfulnessConfig(scopes=["temperature", "random"], fractions=[0.5])
    with pytest.raises(JScopeError, match="Prompt 3 has no token that can be ablated"):
        evaluate_prompt(tiny_llama, "the cat", 2, cfg)
