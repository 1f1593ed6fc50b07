"""Time series engine: generators, encoding, value spans, value scores, the exact distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from series_helpers import NumberTokenizer, brute_force_distribution, with_tokenizer

from jscope_desktop.engine.errors import JScopeError
from jscope_desktop.engine.results.result import AttributionResult
from jscope_desktop.engine.series.distribution import (
    next_value_distribution,
    total_variation,
    true_probs,
    value_paths,
)
from jscope_desktop.engine.series.explain import (
    SeriesRequest,
    encode_series,
    explain_series,
    parse_values,
    prepare_series,
    value_spans,
)
from jscope_desktop.engine.series.generators import (
    GBM_DT,
    GBM_MU,
    GBM_SIGMA,
    LOGISTIC_R,
    LORENZ_DRIFT,
    LORENZ_DT,
    LORENZ_STRIDE,
    SYSTEMS,
    Transition,
    generate,
)


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_generators_are_reproducible_by_seed(name):
    a, b, c = generate(name, 40, seed=3), generate(name, 40, seed=3), generate(name, 40, seed=4)
    assert a.shape == (41,) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_generators_follow_their_rules():
    x = generate("logistic", 30, 1)
    np.testing.assert_allclose(x[1:], LOGISTIC_R * x[:-1] * (1 - x[:-1]), rtol=1e-12)
    drift = generate("lorenz_drift", 30, 2) - generate("lorenz", 30, 2)
    np.testing.assert_allclose(drift, LORENZ_DRIFT * LORENZ_DT * LORENZ_STRIDE * np.arange(31))
    g = generate("gbm", 2000, 5)
    log_inc = np.diff(np.log(g))
    assert abs(log_inc.std() - GBM_SIGMA * math.sqrt(GBM_DT)) < 0.01 * GBM_SIGMA
    assert abs(log_inc.mean() - (GBM_MU - GBM_SIGMA**2 / 2) * GBM_DT) < 0.01
    assert abs(np.diff(generate("brownian", 2000, 5)).std() - 1.0) < 0.05


@pytest.mark.parametrize("digits", [2, 3])
def test_encoding_width_range_and_inverse(digits):
    values = list(generate("brownian", 50, 0)[:-1])
    enc = encode_series(values, digits)
    assert all(10 ** (digits - 1) <= e < 10**digits for e in enc.encoded)
    assert enc.text == ",".join(map(str, enc.encoded)) + ","
    assert all(len(part) == digits for part in enc.text.split(",")[:-1])
    decoded = enc.offset + enc.step * np.array(enc.encoded)
    assert np.max(np.abs(decoded - values)) <= enc.step / 2 + 1e-9


def test_parse_values_accepts_separators_and_rejects_words():
    assert parse_values("1, 2.5;3\n-4e1  5") == [1.0, 2.5, 3.0, -40.0, 5.0]
    with pytest.raises(JScopeError, match="'abc', which is not a number"):
        parse_values("1, 2, abc")


def _value_tokens(lm, spans, ids):
    return ["".join(lm.tokenizer.decode([i]) for i in ids[a:b]) for a, b in spans]


def test_value_spans_digit_tokenizer(tiny_llama):
    text = "12,34,56,"
    ids = tiny_llama.tokenizer(text)["input_ids"]  # BOS first
    spans = value_spans(tiny_llama.tokenizer, text, ids, 2)
    assert spans == [[1, 3], [4, 6], [7, 9]]
    assert _value_tokens(tiny_llama, spans, ids) == ["12", "34", "56"]


def test_value_spans_number_tokenizer(tiny_llama):
    lm = with_tokenizer(tiny_llama, NumberTokenizer())
    text = "12,34,56,"
    ids = lm.tokenizer(text)["input_ids"]
    spans = value_spans(lm.tokenizer, text, ids, 2)
    assert spans == [[1, 2], [3, 4], [5, 6]]
    assert _value_tokens(lm, spans, ids) == ["12", "34", "56"]
    spans3 = value_spans(lm.tokenizer, "123,456,", lm.tokenizer("123,456,")["input_ids"], 3)
    assert spans3 == [[1, 3], [4, 6]]


def test_tokenization_modes_are_detected(tiny_llama):
    assert value_paths(tiny_llama.tokenizer, 2).mode == "digit"
    assert value_paths(NumberTokenizer(), 2).mode == "number"
    assert value_paths(NumberTokenizer(), 3).mode == "mixed"


@pytest.mark.parametrize("fixture, tokenizer, digits", [
    ("tiny_llama", None, 2), ("tiny_gemma", None, 2), ("tiny_llama", NumberTokenizer(), 2),
    ("tiny_llama", NumberTokenizer(), 3),
])
def test_exact_distribution_matches_brute_force(request, fixture, tokenizer, digits):
    lm = request.getfixturevalue(fixture)
    lm = with_tokenizer(lm, tokenizer) if tokenizer else lm
    values = list(generate("lorenz", 12, 0)[:-1])
    ids = lm.tokenizer(encode_series(values, digits).text)["input_ids"]  # > sliding window (16)
    nxt = next_value_distribution(lm, ids, digits)
    paths = value_paths(lm.tokenizer, digits).paths
    brute = brute_force_distribution(lm, ids, paths)
    assert len(nxt.probs) == 10**digits
    np.testing.assert_allclose(nxt.probs, brute, rtol=2e-4, atol=1e-12)
    assert nxt.mass == pytest.approx(sum(brute), rel=1e-4)
    expected_rows = {"digit": [1, 10], "number": [1], "mixed": [1, 100]}[nxt.mode]
    assert nxt.rows == expected_rows


def test_value_scores_are_l2_of_token_scores(tiny_llama):
    r = explain_series(tiny_llama, SeriesRequest(system="logistic", n_values=20, seed=2))
    s = r.series
    scores = np.array([np.nan if v is None else v for v in r.scores])
    for (a, b), vs, e in zip(s.value_spans, s.value_scores, s.encoded):
        assert vs == pytest.approx(float(np.sqrt(np.sum(scores[a:b] ** 2))), rel=1e-12)
        assert "".join(r.tokens[a:b]) == str(e)
    commas = [i for i, t in enumerate(r.tokens) if t == ","]
    assert not any(a <= c < b for c in commas for a, b in s.value_spans)
    assert r.position == len(r.token_ids) - 1 and r.tokens[r.position] == ","


def test_cutoff_explains_after_k_values(tiny_llama):
    r = explain_series(tiny_llama, SeriesRequest(system="logistic", n_values=20, seed=2, cutoff=7))
    s = r.series
    assert r.position == s.value_spans[6][1] and r.tokens[r.position] == ","
    assert all(v is None for v in r.scores[r.position + 1 :])
    assert all(v is not None for v in s.value_scores[:7]) and s.value_scores[7:] == [None] * 13
    truth = r.truth
    assert truth["law"] == "point" and truth["next_value"] == s.values[7]
    assert truth["probs"][s.encoded[7]] == 1.0 and sum(truth["probs"]) == 1.0
    assert r.cutoff == 7


def test_result_round_trips_through_json(tiny_llama, tmp_path):
    r = explain_series(tiny_llama, SeriesRequest(system="gbm", n_values=10, seed=1, scope="semantic"))
    assert r.target is not None and r.target.isdigit()
    r.save(tmp_path / "r.json")
    assert AttributionResult.load(tmp_path / "r.json") == r


def test_true_gaussian_and_lognormal_probs_match_scipy():
    offset, step = 2.0, 0.5
    centres = offset + step * np.arange(100)
    g = true_probs(Transition("gaussian", 20.0, 1.3), offset, step, 2)
    ref = stats.norm.cdf(centres + step / 2, 20.0, 1.3) - stats.norm.cdf(centres - step / 2, 20.0, 1.3)
    np.testing.assert_allclose(g, ref, atol=1e-12)
    ln = true_probs(Transition("lognormal", math.log(10.0), 0.1), offset, step, 2)
    dist = stats.lognorm(s=0.1, scale=10.0)
    np.testing.assert_allclose(ln, dist.cdf(centres + step / 2) - dist.cdf(centres - step / 2),
                               atol=1e-12)
    assert true_probs(Transition("point", offset + 37.2 * step), offset, step, 2)[37] == 1.0


def test_total_variation():
    p = [0.5, 0.5, 0.0]
    assert total_variation(p, p) == 0.0
    assert total_variation(p, [0.0, 0.0, 1.0]) == 1.0
    assert total_variation([0.4, 0.4, 0.0], [0.5, 0.5, 0.0]) == pytest.approx(0.2)


def test_stochastic_truth_and_tv_in_result(tiny_llama):
    r = explain_series(tiny_llama, SeriesRequest(system="brownian", n_values=15, seed=4))
    truth, s = r.truth, r.series
    assert truth["law"] == "gaussian" and truth["loc"] == s.values[-1]
    assert len(truth["probs"]) == 100 and 0.5 < truth["mass"] <= 1.0
    assert truth["tv_distance"] == pytest.approx(total_variation(s.next_value["probs"], truth["probs"]))
    assert s.next_value["mass"] == pytest.approx(sum(s.next_value["probs"]))
    cost = r.cost
    assert cost["rows"] == [1, 10] and cost["distribution_s"] > 0 and cost["forward_s"] > 0


@pytest.mark.parametrize("req, message", [
    (SeriesRequest(values=[1.0, 2.0]), "at least 3 values"),
    (SeriesRequest(values=[4.0, 4.0, 4.0]), "constant"),
    (SeriesRequest(values=[1.0, float("nan"), 2.0]), "not a finite number"),
    (SeriesRequest(system="henon"), "Unknown system 'henon'"),
    (SeriesRequest(system="logistic", digits=4), "Digits must be 2 or 3"),
    (SeriesRequest(system="logistic", digits=1), "Digits must be 2 or 3"),
    (SeriesRequest(system="logistic", n_values=2), "at least 3 values"),
    (SeriesRequest(system="logistic", n_values=10, cutoff=11), "cutoff must be between 1 and 10"),
    (SeriesRequest(system="logistic", cutoff=0), "cutoff must be between"),
    (SeriesRequest(system="logistic", scope="contrast"), "Series support the scopes"),
    (SeriesRequest(), "Choose a system or give values"),
])
def test_bad_requests_give_one_sentence(req, message):
    with pytest.raises(JScopeError, match=message):
        prepare_series(req)


def test_too_long_for_the_context(tiny_llama):
    with pytest.raises(JScopeError, match="longer than the model's context of 256"):
        explain_series(tiny_llama, SeriesRequest(system="brownian", n_values=100))


class _NoOffsets:
    """The embedded tokenizer without offsets, so value spans come from decoding prefixes."""

    def __init__(self, tok):
        self.tok = tok
        self.all_special_ids = tok.all_special_ids

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": self.tok(text, add_special_tokens=add_special_tokens)["input_ids"]}

    def decode(self, ids, **kwargs):
        return self.tok.decode(ids, **kwargs)


@pytest.mark.embedded
@pytest.mark.parametrize("digits", [2, 3])
def test_value_spans_on_the_embedded_tokenizer(embedded_model, digits):
    tok = embedded_model.tokenizer
    enc = encode_series(list(generate("lorenz", 40, 1)[:-1]), digits)
    ids = tok(enc.text)["input_ids"]
    spans = value_spans(tok, enc.text, ids, digits)
    assert spans == value_spans(_NoOffsets(tok), enc.text, ids, digits)
    assert [b - a for a, b in spans] == [digits] * 40  # one token per digit
    assert [tok.decode(ids[a:b]) for a, b in spans] == [str(e) for e in enc.encoded]
    assert value_paths(tok, digits).mode == "digit"


@pytest.mark.embedded
def test_exact_distribution_on_the_embedded_model(embedded_model):
    lm = embedded_model
    ids = lm.tokenizer(encode_series(list(generate("logistic", 15, 0)[:-1]), 2).text)["input_ids"]
    nxt = next_value_distribution(lm, ids, 2)
    brute = brute_force_distribution(lm, ids, value_paths(lm.tokenizer, 2).paths)
    np.testing.assert_allclose(nxt.probs, brute, rtol=1e-3, atol=1e-9)
    assert 0.5 < nxt.mass <= 1.0 and nxt.rows == [1, 10]
