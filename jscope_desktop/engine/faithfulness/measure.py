"""Deletion faithfulness of the scopes (the reference implementation's LAMBADA benchmark).

For one prompt: explain the model's top-1 prediction at the explained position with every
requested scope, replace the input embeddings of the top ``k`` tokens by score by the filler's
(:mod:`.filler`: zero, the pad token's embedding, …; positions and attention kept), re-run, and
record the change of ``log p(top-1)``. ``random`` ablates a seeded random subset (the floor).
Leave-one-out (LOO): ablate each token alone and correlate every scope's scores with the effect
(Spearman, Kendall τ-b). The scores are computed once; every filler reuses them (the ablation
forwards are cheap next to the attributions).

Rules (documented in the output too):

- Attributable tokens: the non-special tokens at positions ≤ the explained one (a BOS or other
  special token is never ablated; tokens after the position cannot influence it).
- ``k = max(1, floor(fraction · n_attributable))``, as the reference's ``max(1, int(n · f))``.
  Ties in the scores go to the earlier token.
- Scopes that need a target explain the top-1 token (the one whose log-probability is measured);
  Contrast uses the next best as its foil.
- All ablated inputs of a prompt (every scope × fraction, every LOO token, and the unablated
  baseline as row 0) run as one batch, split into chunks of at most ``max_batch_tokens`` tokens.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from ..compute.fisher import FISHER_METHODS
from ..compute.forward import CancelCheck, embed, hidden_states, plain_forward
from ..compute.head import logits_from_hidden
from ..errors import Cancelled, JScopeError, finite_or_none
from ..explain.attribute import AttributionRequest, attribute
from ..model.load import LoadedModel
from ..model.tokens import token_texts
from ..results.request import IG_BASELINES, MAX_SEED
from ..scopes import get_scope, scope_names
from .filler import Filler, filler_vector, resolve_filler
from .prompts import PreparedPrompt, prepare_prompt
from .stats import aopc, fraction_key, kendall, spearman

RANDOM = "random"
EXPLAIN_MODES = ("next", "last")
DEFAULT_FRACTIONS = (0.05, 0.1, 0.2)
K_RULE = "k = max(1, floor(fraction * n_attributable)); n_attributable = non-special tokens at " \
    "positions <= the explained one; ties go to the earlier token"


def faithfulness_scopes() -> list[str]:
    """Every registered scope name plus ``random`` (the floor)."""
    return scope_names("faithfulness") + [RANDOM]


@dataclass
class FaithfulnessConfig:
    """What to measure. ``seed`` seeds ``random`` (per prompt: [seed, prompt index]) and Fisher."""

    scopes: list[str] = field(default_factory=faithfulness_scopes)
    fractions: list[float] = field(default_factory=lambda: list(DEFAULT_FRACTIONS))
    explain: str = "next"
    seed: int = 0
    fisher_method: str = "fast"
    loo: bool = True
    loo_prompts: int | None = None  # LOO on the first this many prompts only (None: all)
    # what replaces an ablated token; several share one attribution pass (one report each)
    fillers: list[str] = field(default_factory=lambda: ["zero"])
    ig_baseline: str = "zero"  # Integrated's path baseline (its request's ig_baseline)
    max_batch_tokens: int = 16384  # rows × tokens per ablation forward (memory bound)

    def check(self) -> None:
        """Raise a one-sentence :class:`JScopeError` for settings that cannot be run."""
        known = faithfulness_scopes()
        if not self.scopes:
            raise JScopeError("No scopes given; choose from " + ", ".join(known) + ".")
        for s in self.scopes:
            if s not in known:
                raise JScopeError(f"Unknown scope '{s}'; choose from {', '.join(known)}.")
        if not self.fractions:
            raise JScopeError("No fractions given; use e.g. --fractions 0.05,0.1,0.2.")
        for f in self.fractions:
            if not (isinstance(f, (int, float)) and 0 < f < 1):
                raise JScopeError(f"Fraction {f} is outside (0, 1); use e.g. 0.1 for the top 10 %.")
        if self.explain not in EXPLAIN_MODES:
            raise JScopeError(f"Unknown --explain '{self.explain}'; choose next or last.")
        if self.fisher_method not in FISHER_METHODS:
            raise JScopeError(f"Unknown Fisher method '{self.fisher_method}'.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise JScopeError(f"The seed must be a whole number from 0 to {MAX_SEED:,}, not "
                              f"{self.seed!r:.40}.")
        if self.loo_prompts is not None and self.loo_prompts < 0:
            raise JScopeError("The number of leave-one-out prompts cannot be negative.")
        if not self.fillers or not all(isinstance(f, str) and f.strip() for f in self.fillers):
            raise JScopeError("No filler given; use zero, pad, eos, bos or one token's text.")
        if len(set(self.fillers)) != len(self.fillers):
            raise JScopeError("The same filler is given twice; list each filler once.")
        if self.ig_baseline not in IG_BASELINES:
            raise JScopeError(f"Unknown Integrated baseline '{self.ig_baseline!s:.40}'; choose "
                              f"one of {', '.join(IG_BASELINES)}.")

    def loo_for(self, index: int) -> bool:
        """Whether prompt ``index`` gets the leave-one-out measurement."""
        return self.loo and (self.loo_prompts is None or index < self.loo_prompts)

    def to_dict(self) -> dict:
        """The settings as written into the output (everything that changes the numbers)."""
        d = asdict(self)
        del d["max_batch_tokens"]
        return d


def top_k_count(fraction: float, n: int) -> int:
    """Tokens ablated for ``fraction`` of ``n`` attributable tokens (see :data:`K_RULE`)."""
    return max(1, min(n, math.floor(fraction * n + 1e-9)))


@dataclass
class PromptResult:
    """One prompt's measurements (one JSON line of the resumable sidecar).

    deltas: scope → fraction key → Δ log p(top-1) in nats (negative: the prediction weakened).
    loo_spearman: scope → {"kl": ρ with LOO KL(p‖p_ablated), "logp": ρ with LOO −Δ log p}.
    seconds: scope → seconds of its attribution; "ablation" → the batched forwards.
    aopc: scope → the trapezoid area of ``deltas`` over the fractions (:func:`.stats.aopc`).
    correct: ``--explain last``: the top-1 is the last word's first token; else None.
    loo_agreement: scope → {"kl"|"logp": {"spearman": ρ, "kendall": τ-b}}.
    fillers: filler name → {"filler": Filler.to_dict(), "deltas", "aopc", "loo_spearman",
    "loo_agreement"} for every filler measured; the fields above are the first filler's.
    """

    index: int
    text_sha: str
    n_tokens: int
    n_attributable: int
    top1_id: int
    top1: str
    logp: float
    true_id: int | None
    true: str | None
    k: dict[str, int]
    deltas: dict[str, dict[str, float]]
    loo_spearman: dict[str, dict[str, float | None]]
    seconds: dict[str, float]
    note: str | None = None
    aopc: dict[str, float] = field(default_factory=dict)
    correct: bool | None = None
    loo_agreement: dict[str, dict] = field(default_factory=dict)
    fillers: dict[str, dict] = field(default_factory=dict)

    def to_dict(self, with_fillers: bool = True) -> dict:
        """JSON-ready dict (NaN as None); without ``fillers`` when ``with_fillers`` is False (a
        report's per-prompt entry, which holds one filler's numbers)."""
        d = asdict(self)
        if not with_fillers:
            del d["fillers"]
        return finite_or_none(d)

    def for_filler(self, name: str) -> PromptResult:
        """This prompt as measured with filler ``name`` (its deltas, AOPC and LOO agreement in
        the main fields; ``fillers`` emptied)."""
        e = self.fillers[name]
        return replace(self, deltas=e["deltas"], aopc=e["aopc"], loo_spearman=e["loo_spearman"],
                       loo_agreement=e["loo_agreement"], fillers={})

    @classmethod
    def from_dict(cls, d: dict) -> PromptResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _ablated_chunks(lm, token_ids, position, present, max_batch_tokens, cancel, fill=None):
    """Yield next-token log-probabilities (B, V) float32 for consecutive chunks of rows."""
    x = embed(lm, token_ids[: position + 1]).detach()  # (T, d)
    T = x.shape[0]
    rows = max(1, max_batch_tokens // T)
    with torch.inference_mode():
        for start in range(0, present.shape[0], rows):
            if cancel and cancel():
                raise Cancelled()
            mask = present[start : start + rows, :T].to(x.device, x.dtype)[:, :, None]  # (B, T, 1)
            xs = x[None] * mask  # (B, T, d): the ablated rows zeroed
            if fill is not None:  # … and the filler's embedding put in their place
                xs = xs + (1 - mask) * fill.to(x.device, x.dtype)
            h = hidden_states(lm, xs)[:, position]  # (B, d)
            yield torch.log_softmax(logits_from_hidden(lm, h).float(), -1).cpu()


def ablated_logprobs(
    lm: LoadedModel,
    token_ids: list[int],
    position: int,
    present: torch.Tensor,
    max_batch_tokens: int = 16384,
    cancel: CancelCheck | None = None,
    fill: torch.Tensor | None = None,
) -> torch.Tensor:
    """Next-token log-probabilities (R, V) float32 at ``position`` for R ablated copies.

    ``present`` (R, T) bool: False replaces that token's input embedding in that row by
    ``fill`` (d,) (None: zeroes it); positions and everything else kept. Rows run as batches of
    at most ``max_batch_tokens`` tokens.
    """
    return torch.cat(list(_ablated_chunks(lm, token_ids, position, present, max_batch_tokens,
                                          cancel, fill)))


def ablation_effects(
    lm: LoadedModel,
    token_ids: list[int],
    position: int,
    present: torch.Tensor,
    top1: int,
    max_batch_tokens: int = 16384,
    cancel: CancelCheck | None = None,
    fill: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """As :func:`ablated_logprobs` with row 0 the unablated baseline, reduced chunk by chunk
    (memory stays at one chunk's logits): returns Δ log p(top1) (R,) and KL(p₀ ‖ p_row) (R,) in
    nats, float64, and the baseline log p(top1)."""
    drops, kls, base = [], [], None
    for lp in _ablated_chunks(lm, token_ids, position, present, max_batch_tokens, cancel, fill):
        lp = lp.cpu().double()
        if base is None:
            base = lp[0]
        drops.append((lp[:, top1] - base[top1]).numpy())
        kls.append((base.exp() * (base - lp)).sum(-1).numpy())
    return np.concatenate(drops), np.concatenate(kls), float(base[top1])


def scope_scores(
    lm: LoadedModel, prep: PreparedPrompt, scope: str, top1: int, cfg: FaithfulnessConfig,
    index: int, cancel: CancelCheck | None = None,
) -> tuple[np.ndarray, float]:
    """Scores (n_attributable,) of ``scope`` over the attributable tokens, and seconds taken."""
    if scope == RANDOM:
        rng = np.random.default_rng([cfg.seed, index])
        return rng.random(len(prep.attributable)), 0.0
    req = AttributionRequest(
        token_ids=prep.token_ids, scope=scope, position=prep.position, seed=cfg.seed,
        fisher_method=cfg.fisher_method, top_k=2, ig_baseline=cfg.ig_baseline,
        target_id=top1 if get_scope(scope).needs_target else None,
    )
    r = attribute(lm, req, cancel=cancel)
    return np.array([r.scores[i] for i in prep.attributable], dtype=np.float64), r.timing.scope_s


def evaluate_prompt(
    lm: LoadedModel, text: str, index: int, cfg: FaithfulnessConfig,
    cancel: CancelCheck | None = None, text_sha: str = "",
) -> PromptResult:
    """Measure one prompt: scores of every scope, the batched deletion and LOO forwards."""
    prep = prepare_prompt(lm, text, cfg.explain, index)
    if len(prep.token_ids) > lm.info.context_length:
        raise JScopeError(f"Prompt {index + 1} is {len(prep.token_ids)} tokens, longer than the "
                          f"model's context of {lm.info.context_length}; shorten or drop it.")
    if not prep.attributable:  # a Δ of 0 would be averaged in as if deletion did nothing
        raise JScopeError(f"Prompt {index + 1} has no token that can be ablated (only special "
                          "tokens before the explained one); drop it or lengthen it.")
    logits, _ = plain_forward(lm, prep.token_ids)
    top1 = int(logits.argmax())
    n, T = len(prep.attributable), len(prep.token_ids)
    scores, seconds = {}, {}
    for s in cfg.scopes:
        scores[s], seconds[s] = scope_scores(lm, prep, s, top1, cfg, index, cancel)
    keys = [fraction_key(f) for f in cfg.fractions]
    ks = {key: top_k_count(f, n) for key, f in zip(keys, cfg.fractions)}
    rows = ablation_rows(prep, [scores[s] for s in cfg.scopes], [ks[key] for key in keys],
                         cfg.loo_for(index))
    t0 = time.perf_counter()
    effects, logp0 = {}, None
    for name in cfg.fillers:
        filler = resolve_filler(lm.tokenizer, name)
        effects[name], logp0 = _filler_effects(lm, prep, rows, top1, scores, ks, filler, cfg,
                                               index, cancel)
    seconds["ablation"] = time.perf_counter() - t0
    tok = lm.tokenizer
    first = effects[cfg.fillers[0]]
    return PromptResult(
        index=index, text_sha=text_sha, n_tokens=T, n_attributable=n, top1_id=top1,
        top1=token_texts(tok, [top1])[0], logp=logp0, true_id=prep.true_id,
        true=None if prep.true_id is None else token_texts(tok, [prep.true_id])[0], k=ks,
        deltas=first["deltas"], loo_spearman=first["loo_spearman"], seconds=seconds,
        note=prep.note, aopc=first["aopc"],
        correct=None if prep.true_id is None else top1 == prep.true_id,
        loo_agreement=first["loo_agreement"], fillers=effects,
    )


def _filler_effects(lm, prep, rows, top1, scores, ks, filler: Filler, cfg, index, cancel):
    """One filler's deltas, AOPC and LOO agreement of a prompt (the rows of
    :func:`ablation_rows`), and the baseline log p(top-1)."""
    fill = None if filler.token_id is None else filler_vector(lm, filler)
    drop, kl, logp0 = ablation_effects(lm, prep.token_ids, prep.position, rows, top1,
                                       cfg.max_batch_tokens, cancel, fill)
    keys, m = list(ks), len(ks)
    deltas = {s: {key: float(drop[1 + j * m + q]) for q, key in enumerate(keys)}
              for j, s in enumerate(cfg.scopes)}
    first = 1 + len(cfg.scopes) * m  # the LOO rows
    loo, agree = {}, {}
    if cfg.loo_for(index):
        effect = {"kl": kl[first:], "logp": -drop[first:]}
        loo = {s: {e: spearman(sc, v) for e, v in effect.items()} for s, sc in scores.items()}
        agree = {s: {e: {"spearman": loo[s][e], "kendall": kendall(sc, v)}
                     for e, v in effect.items()} for s, sc in scores.items()}
    return {"filler": filler.to_dict(), "deltas": deltas,
            "aopc": {s: aopc(deltas[s], cfg.fractions) for s in cfg.scopes},
            "loo_spearman": loo, "loo_agreement": agree}, logp0


def ablation_rows(
    prep: PreparedPrompt, scores: list[np.ndarray], ks: list[int], loo: bool
) -> torch.Tensor:
    """The ``present`` masks (R, T) of one prompt: row 0 the baseline (nothing ablated), then
    for each scope (in order) and each k the top-k attributable tokens by score removed, then
    (``loo``) each attributable token alone."""
    T = len(prep.token_ids)
    attr = torch.tensor(prep.attributable, dtype=torch.long)
    n_rows = 1 + len(scores) * len(ks) + (len(attr) if loo else 0)
    present = torch.ones(n_rows, T, dtype=torch.bool)
    r = 1
    for sc in scores:
        order = torch.from_numpy(np.argsort(-sc, kind="stable").copy())
        for k in ks:
            present[r, attr[order[:k]]] = False
            r += 1
    if loo:
        present[torch.arange(r, n_rows), attr] = False
    return present
