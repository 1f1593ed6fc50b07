"""The model-randomisation sanity check (Adebayo et al. 2018; the reference's rebuttal).

For each passage: compute every scope's map on the loaded model, then re-initialise the decoder
blocks one at a time from the output side toward the input (cumulatively: step k has the last k
blocks re-initialised), recompute every map at each step, and record Spearman's ρ between the
step's map and the original over the attributable tokens. Step 0 is an untouched copy (ρ = 1).
A map that does not fall toward 0 as the weights are destroyed does not depend on what the model
learned.

Re-initialisation uses the model's own ``_init_weights`` on every module of the block (seeded
per block by ``[seed, block index]``, the global RNG untouched), with transformers' "already
initialised" flags cleared first (a loaded model's parameters carry them, and the
initialisers skip flagged tensors); a block whose parameters did not change is an error. It
happens on a copy of the decoder blocks (embeddings, head and norms shared, read only): the
loaded model is never changed.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..compute.forward import CancelCheck, decoder_layers, plain_forward
from ..errors import Cancelled, JScopeError, finite_or_none
from ..model.load import LoadedModel
from ..model.tokens import token_texts
from ..results.request import IG_BASELINES, MAX_SEED
from ..scopes import scope_names
from .measure import EXPLAIN_MODES, scope_scores
from .prompts import prepare_prompt
from .resume import MeasureFn, PromptProgressFn, run_resumable, text_sha
from .run import ModelAbout, about
from .stats import spearman, t_interval

ORDER = "output_to_input"


def sanity_scopes() -> list[str]:
    """The scopes the sanity check can run: every registered scope (no ``random``)."""
    return scope_names("faithfulness")


@dataclass
class SanityConfig:
    """What the sanity check measures; ``seed`` seeds the re-initialisation (per block) and
    Fisher's probes."""

    scopes: list[str] = field(default_factory=sanity_scopes)
    explain: str = "last"
    seed: int = 0
    fisher_method: str = "fast"
    ig_baseline: str = "zero"

    def check(self) -> None:
        """Raise a one-sentence :class:`JScopeError` for settings that cannot be run."""
        known = sanity_scopes()
        if not self.scopes:
            raise JScopeError("No scopes given; choose from " + ", ".join(known) + ".")
        for s in self.scopes:
            if s not in known:
                raise JScopeError(f"Unknown scope '{s!s:.40}' for the sanity check; choose from "
                                  f"{', '.join(known)}.")
        if self.explain not in EXPLAIN_MODES:
            raise JScopeError(f"Unknown --explain '{self.explain!s:.20}'; choose next or last.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise JScopeError(f"The seed must be a whole number from 0 to {MAX_SEED:,}.")
        if self.ig_baseline not in IG_BASELINES:
            raise JScopeError(f"Unknown Integrated baseline; choose one of {', '.join(IG_BASELINES)}.")

    def to_dict(self) -> dict:
        """The settings as written into the output."""
        return asdict(self)


def block_seed(seed: int, block: int) -> int:
    """The torch seed of block ``block``'s re-initialisation (from ``[seed, block]``)."""
    return int(np.random.SeedSequence([seed, block]).generate_state(1)[0])


def copy_with_own_blocks(lm: LoadedModel) -> LoadedModel:
    """A :class:`LoadedModel` whose decoder blocks are copies (everything else shared with
    ``lm``: embeddings, head, final norm, rotary buffers), ready to be re-initialised.

    Raises:
        JScopeError: the model keeps its decoder blocks somewhere this project does not know.
    """
    stack = decoder_layers(lm.model)
    if stack is None:
        raise JScopeError("The sanity check needs the model's decoder blocks, and this model "
                          "keeps them where the project cannot find them.")
    inside = {id(t) for t in stack.parameters()} | {id(t) for t in stack.buffers()}
    memo = {id(t): t for t in [*lm.model.parameters(), *lm.model.buffers()] if id(t) not in inside}
    return replace(lm, model=copy.deepcopy(lm.model, memo))


@torch.no_grad()
def randomise_blocks(model: torch.nn.Module, blocks: list[int], seed: int) -> None:
    """Re-initialise decoder blocks ``blocks`` of ``model`` in place with the model's own
    ``_init_weights`` (seeded per block by :func:`block_seed`; the global RNG is restored).

    Raises:
        JScopeError: a block's parameters did not change (the initialiser skipped them).
    """
    stack = decoder_layers(model)
    for b in blocks:
        layer = stack[b]
        before = [p.detach().clone() for p in layer.parameters()]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(block_seed(seed, b))
            for p in layer.parameters():
                if hasattr(p, "_is_hf_initialized"):
                    p._is_hf_initialized = False
            for module in layer.modules():
                if hasattr(module, "_is_hf_initialized"):
                    module._is_hf_initialized = False
                model._init_weights(module)
        if all(torch.equal(a, p) for a, p in zip(before, layer.parameters())):
            raise JScopeError(f"Re-initialising decoder block {b} left its weights unchanged; "
                              "this model's initialiser cannot be used for the sanity check.")


@dataclass
class SanityPrompt:
    """One passage of the sanity check. ``spearman``: scope → ρ per step (step 0 first, the
    untouched copy; step k: the last k blocks re-initialised); ``seconds``: the whole passage."""

    index: int
    n_attributable: int
    top1: str
    correct: bool | None
    spearman: dict[str, list[float | None]]
    seconds: float
    text_sha: str = ""  # the passage's fingerprint (a resumed run checks it is the same text)

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN as None)."""
        return finite_or_none(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> SanityPrompt:
        """Inverse of :meth:`to_dict` (a ρ written as None, from NaN, reads back as NaN)."""
        out = cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        out.spearman = {s: [float("nan") if v is None else float(v) for v in rho]
                        for s, rho in out.spearman.items()}
        return out


def sanity_prompt(lm: LoadedModel, text: str, index: int, cfg: SanityConfig,
                  cancel: CancelCheck | None = None, sha: str = "") -> SanityPrompt:
    """Measure one passage: the original maps, then one step per re-initialised block.
    ``sha``: the passage's fingerprint (:func:`.resume.text_sha`; computed when empty).

    Returns:
        Its :class:`SanityPrompt` (``n_layers + 1`` values of ρ per scope).
    """
    t0 = time.perf_counter()
    prep = prepare_prompt(lm, text, cfg.explain, index)
    if not prep.attributable:
        raise JScopeError(f"Prompt {index + 1} has no token that can be attributed; drop it.")
    logits, _ = plain_forward(lm, prep.token_ids)
    top1 = int(logits.argmax())
    original = {s: scope_scores(lm, prep, s, top1, cfg, index, cancel)[0] for s in cfg.scopes}
    work = copy_with_own_blocks(lm)
    n_layers = len(decoder_layers(work.model))
    rho: dict[str, list[float]] = {s: [] for s in cfg.scopes}
    for k in range(n_layers + 1):
        if cancel and cancel():
            raise Cancelled()
        if k:
            randomise_blocks(work.model, [n_layers - k], cfg.seed)
        for s in cfg.scopes:
            rho[s].append(spearman(original[s], scope_scores(work, prep, s, top1, cfg, index,
                                                             cancel)[0]))
    return SanityPrompt(index, len(prep.attributable), token_texts(lm.tokenizer, [top1])[0],
                        None if prep.true_id is None else top1 == prep.true_id, rho,
                        time.perf_counter() - t0, sha or text_sha(text))


def sanity_report(about: dict, cfg: SanityConfig, results: list[SanityPrompt],
                  prompts_file: str, n_layers: int) -> dict:
    """The output of ``jscope sanity --json`` (DESIGN.md, Contracts round 3): per step the mean
    ρ of every scope with its t-interval over passages, and every passage's curve.

    Args:
        about: ``{"model", "device", "dtype"}`` of the model measured.
        n_layers: the model's decoder blocks (the steps are 0 … n_layers).
    """
    steps = [{"blocks_randomised": k,
              "spearman": {s: t_interval([r.spearman[s][k] for r in results]).to_dict()
                           for s in cfg.scopes}}
             for k in range(n_layers + 1)]
    return {
        "version": 1, **about, "order": ORDER, "n_layers": n_layers,
        "prompts_file": prompts_file, "n_prompts": len(results), **cfg.to_dict(),
        "method": "decoder blocks re-initialised one at a time from the output side toward the "
                  "input (cumulative) with the model's own _init_weights, seeded per block by "
                  "[seed, block]; every map recomputed at each step; Spearman ρ with the "
                  "original map over the attributable tokens; step 0 = an untouched copy; mean "
                  "over passages with the 95 % Student t interval",
        "steps": steps,
        "per_prompt": [r.to_dict() for r in results],
    }


def sanity_header(lm: LoadedModel | ModelAbout, cfg: SanityConfig) -> dict:
    """The first line of a sanity run's sidecar: the model and every setting."""
    a = about(lm)
    return {"kind": "header", "check": "sanity", "model": a.model, "dtype": a.dtype,
            "config": cfg.to_dict()}


def run_sanity(lm: LoadedModel | ModelAbout, prompts: list[str], cfg: SanityConfig,
               progress: PromptProgressFn | None = None, cancel: CancelCheck | None = None,
               partial: str | Path | None = None,
               measure: MeasureFn | None = None) -> list[SanityPrompt]:
    """:func:`sanity_prompt` for every prompt not already in the sidecar ``partial``.

    Args:
        lm: the model (measured here, in order), or what the report records of it when
            ``measure`` runs the passages elsewhere (:mod:`.parallel`).
        progress: ``progress(done, total, message)`` after each passage and once more at
            the end (message ``"done"``); ``cancel`` is polled inside the passages.
        partial: the sidecar each finished passage is appended to (:mod:`.resume`): a
            stopped run started again with the same settings measures only the rest.

    Returns:
        Every passage's :class:`SanityPrompt`, in input order.
    """
    cfg.check()
    if measure is None:
        def measure(todo, cancel):
            for i, text, sha in todo:
                yield sanity_prompt(lm, text, i, cfg, cancel, sha)
    results = run_resumable(prompts, sanity_header(lm, cfg), partial, sanity_parser(cfg),
                            measure, progress, cancel)
    if len({len(rho) for r in results for rho in r.spearman.values()}) > 1:
        raise JScopeError(f"{partial} holds passages measured with another number of decoder "
                          "blocks; delete it to start over.")
    return results


def sanity_parser(cfg: SanityConfig):
    """Reads one passage back from a sidecar line; a line whose curves are not one per scope
    of ``cfg``, all of one length, is refused (ValueError: that passage is measured again)."""
    def parse(d: dict) -> SanityPrompt:
        r = SanityPrompt.from_dict(d)
        lengths = {len(rho) for rho in r.spearman.values()}
        if set(r.spearman) != set(cfg.scopes) or len(lengths) != 1 or 0 in lengths:
            raise ValueError("not a passage of this run")
        return r
    return parse


def layers_of(results: list[SanityPrompt]) -> int:
    """The number of decoder blocks the results stepped through (steps − 1)."""
    return max((len(v) for r in results for v in r.spearman.values()), default=1) - 1
