"""The next value's distribution, exactly: the model's over all ``10^digits`` strings and the truth.

The model's side walks a trie of the strings' token sequences one level at a time: the context is
fed once with a key/value cache, then every trie node of the next level is one row of a single
batched forward that reuses that cache (1 + 10 rows for two digits with one token per digit; one
row when every number is a single token). A string's probability is the product of its tokens'
probabilities along its path. Nothing is sampled.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

import torch

from ..compute.forward import CancelCheck, sync
from ..errors import Cancelled, JScopeError
from ..model.load import LoadedModel
from .generators import Transition


@dataclass
class ValuePaths:
    """How each ``digits``-digit string is tokenized after a comma.

    ``strings[i]`` is the zero-padded decimal string of ``i``; ``paths[i]`` its token ids (the
    tokenizer's own split); ``mode`` is ``"digit"`` (one token per digit), ``"number"`` (one
    token per number) or ``"mixed"``.
    """

    strings: list[str]
    paths: list[list[int]]
    mode: str


def value_paths(tokenizer, digits: int) -> ValuePaths:
    """Token ids of every ``digits``-digit string as it appears between commas in a series."""
    comma = list(tokenizer(",", add_special_tokens=False)["input_ids"])
    strings = [str(i).zfill(digits) for i in range(10**digits)]
    paths = []
    for s in strings:
        ids = list(tokenizer(f",{s},", add_special_tokens=False)["input_ids"])
        inner = ids[len(comma) : len(ids) - len(comma)]
        if ids[: len(comma)] != comma or ids[len(ids) - len(comma) :] != comma or not inner:
            raise JScopeError(
                "This model's tokenizer merges commas with digits, so a series cannot be split "
                "into values; use another model."
            )
        paths.append(inner)
    lengths = {len(p) for p in paths}
    mode = "number" if lengths == {1} else "digit" if lengths == {digits} else "mixed"
    return ValuePaths(strings, paths, mode)


@dataclass
class NextValue:
    """The model's next-value distribution.

    ``probs[i]`` is the probability of the string ``str(i).zfill(digits)`` (i = 0 … 10^digits − 1),
    ``mass`` their sum; ``paths[i]`` the string's token ids; ``rows`` counts forward rows per
    trie level (level 0 is the context), ``seconds`` the wall time of all levels.
    """

    encoded: list[int]
    probs: list[float]
    mass: float
    mode: str
    paths: list[list[int]]
    rows: list[int]
    seconds: float

    def most_likely_first_token(self) -> int:
        """The first token of the most probable string (what Semantic Scope explains)."""
        return self.paths[max(range(len(self.probs)), key=self.probs.__getitem__)][0]


def next_value_distribution(
    lm: LoadedModel, context_ids: list[int], digits: int, cancel: CancelCheck | None = None
) -> NextValue:
    """The exact distribution of the next ``digits``-digit value after ``context_ids``.

    ``context_ids`` ends with the comma that precedes the value. One forward per trie level.
    """
    vp = value_paths(lm.tokenizer, digits)
    t0 = time.perf_counter()
    with torch.inference_mode():
        ctx = torch.tensor([context_ids], device=lm.device)
        out = lm.model(input_ids=ctx, use_cache=True, logits_to_keep=1)
        cache, level_logp = _cache_of(out), _log_softmax(out.logits)  # (1, V)
        rows_index: dict[tuple[int, ...], int] = {(): 0}  # trie node -> row of level_logp
        logp: dict[tuple[int, ...], float] = {(): 0.0}
        rows = [1]
        for depth in range(max(len(p) for p in vp.paths)):
            for p in vp.paths:
                if len(p) > depth:
                    node = tuple(p[:depth])
                    logp[node + (p[depth],)] = logp[node] + float(level_logp[rows_index[node], p[depth]])
            nodes = sorted({tuple(p[: depth + 1]) for p in vp.paths if len(p) > depth + 1})
            if not nodes:
                break
            if cancel and cancel():
                raise Cancelled()
            cache.reorder_cache(torch.tensor([rows_index[n[:-1]] for n in nodes], device=lm.device))
            step = torch.tensor([[n[-1]] for n in nodes], device=lm.device)  # (N, 1)
            out = lm.model(input_ids=step, use_cache=True, logits_to_keep=1, **{_cache_kw(lm): cache})
            cache, level_logp = _cache_of(out), _log_softmax(out.logits)  # (N, V)
            rows_index = {n: i for i, n in enumerate(nodes)}
            rows.append(len(nodes))
    sync(lm)
    seconds = time.perf_counter() - t0
    probs = torch.tensor([logp[tuple(p)] for p in vp.paths], dtype=torch.float64).exp().tolist()
    return NextValue(list(range(10**digits)), probs, float(sum(probs)), vp.mode, vp.paths, rows,
                     seconds)


def _cache_kw(lm: LoadedModel) -> str:
    """The forward's key/value-cache argument: ``cache`` (transformers ≥ 5.2x) or the older name."""
    params = inspect.signature(lm.model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """(N, 1, V) logits of the last position -> (N, V) float64 log-probabilities on the CPU."""
    return torch.log_softmax(logits[:, -1].float(), -1).cpu().double()


def true_probs(law: Transition, offset: float, step: float, digits: int) -> list[float]:
    """P(next value encodes to i) for i = 0 … 10^digits − 1 under ``law``.

    Encoded i stands for the values [offset + step·(i − ½), offset + step·(i + ½)); a point law
    puts all its mass on the nearest i. Mass outside the range is dropped (the sum may be < 1).
    """
    n = 10**digits
    if law.kind == "point":
        i = round((law.loc - offset) / step)
        return [1.0 if j == i else 0.0 for j in range(n)]
    edges = [law.cdf(offset + step * (i - 0.5)) for i in range(n + 1)]
    return [max(0.0, edges[i + 1] - edges[i]) for i in range(n)]


def total_variation(p: list[float], q: list[float]) -> float:
    """Total-variation distance between two distributions given on the same strings.

    Each may fall short of 1 (the model's non-digit tokens, the truth's out-of-range values);
    the shortfalls are treated as separate outcomes of their own, so the distance is
    ½(Σ|p − q| + (1 − Σp) + (1 − Σq)), in [0, 1].
    """
    diff = sum(abs(a - b) for a, b in zip(p, q))
    return 0.5 * (diff + max(0.0, 1.0 - sum(p)) + max(0.0, 1.0 - sum(q)))
