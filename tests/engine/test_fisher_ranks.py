"""Fisher fast's rank intervals: the bootstrap's quantiles, the top-k check, and, where the probes
span the whole complement (an exact estimate), point intervals at Fisher exact's ranks."""

from __future__ import annotations

import pytest
import torch

from jscope_desktop.engine.compute import fisher_config
from jscope_desktop.engine.compute.fisher_fast import point_ranks, rank_intervals, top_settled
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.results.result import AttributionResult


def test_point_ranks_put_the_highest_score_first_and_break_ties_by_position():
    est = torch.tensor([0.5, 3.0, 0.5, -1.0, 2.0], dtype=torch.float64)
    assert point_ranks(est).tolist() == [3, 1, 4, 5, 2]


def test_intervals_are_the_bootstrap_quantiles_of_each_rank():
    """Tokens 1 and 2 are near-tied with a large standard error, 0 and 3 are far apart with
    none: 1 and 2 swap in about half the draws (interval [2, 3] each), the others never move."""
    est = torch.tensor([10.0, 5.0, 4.99, 1.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    terms = est[None].repeat(8, 1)
    terms[:, 1:3] += torch.randn(8, 2, generator=gen, dtype=torch.float64)  # sd ≈ 0.35 each
    iv = rank_intervals(est, terms, seed=0)
    assert iv.tolist() == [[1, 1], [2, 3], [2, 3], [4, 4]]
    assert top_settled(est, iv, top=1) and not top_settled(est, iv, top=2)
    assert rank_intervals(est, terms[:1], seed=0) is None  # one probe: no spread to draw from
    assert not top_settled(est, None) and top_settled(est[:1], None)


def test_wider_intervals_at_a_higher_level():
    est = torch.linspace(1, 0, 30, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    terms = est[None] + 0.3 * torch.randn(6, 30, generator=gen, dtype=torch.float64)
    narrow = rank_intervals(est, terms, 0, level=0.5)
    wide = rank_intervals(est, terms, 0, level=0.98)
    assert (wide[:, 0] <= narrow[:, 0]).all() and (wide[:, 1] >= narrow[:, 1]).all()
    assert (wide[:, 1] - wide[:, 0]).sum() > (narrow[:, 1] - narrow[:, 0]).sum()
    point = point_ranks(est)
    assert ((wide[:, 0] <= point) & (point <= wide[:, 1])).all()


def test_probes_spanning_the_complement_give_exact_fishers_ranks(tiny_llama):
    """d = 32: with k = 2 the probes fill the complement, the estimate is exact and so are its
    ranks (point intervals), checked against a Fisher exact run."""
    ids = [3, 17, 42, 5, 99, 61, 7, 23]
    req = AttributionRequest(token_ids=ids, scope="fisher", fisher_method="fast",
                             fisher_rank=2, fisher_probes=40)
    fast = attribute(tiny_llama, req)
    exact = attribute(tiny_llama, req.but(fisher_method="exact", fisher_rank=None,
                                          fisher_probes=None))
    ranks = point_ranks(torch.tensor(exact.scores, dtype=torch.float64)).tolist()
    assert fast.fisher.rank_intervals == [[r, r] for r in ranks]
    assert exact.fisher.rank_intervals is None


def test_intervals_in_the_json_one_per_token_none_after_the_position(tiny_llama):
    ids = [3, 17, 42, 5, 99, 61, 7, 23]
    r = attribute(tiny_llama, AttributionRequest(token_ids=ids, scope="fisher", position=5))
    iv = r.fisher.rank_intervals
    assert len(iv) == len(ids) and iv[6:] == [None, None]
    point = point_ranks(torch.tensor(r.scores[:6], dtype=torch.float64)).tolist()
    assert all(lo <= p <= hi for (lo, hi), p in zip(iv[:6], point))
    back = AttributionResult.from_dict(r.to_dict())
    assert back.fisher.rank_intervals == iv


@pytest.mark.parametrize("rule", ["top", "spearman", "both"])
def test_the_default_stops_by_its_rank_rule(tiny_llama, monkeypatch, rule):
    """Whatever the rule, the default ends within its cap; with "top" it ends early only with
    the top tokens settled."""
    monkeypatch.setattr(fisher_config, "RANK_RULE", rule)
    ids = [3, 17, 42, 5, 99, 61, 7, 23, 11, 64]
    for seed in range(3):
        r = attribute(tiny_llama, AttributionRequest(token_ids=ids, scope="fisher", seed=seed))
        assert fisher_config.DEFAULT_PROBES <= r.fisher.probes <= fisher_config.RANK_MAX_PROBES
        if rule != "spearman" and r.fisher.probes < fisher_config.RANK_MAX_PROBES:
            est = torch.tensor(r.scores, dtype=torch.float64)
            assert top_settled(est, torch.tensor(r.fisher.rank_intervals))
