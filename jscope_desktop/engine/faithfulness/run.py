"""Run the faithfulness benchmark over a prompts file, resumably, and summarise it.

Resuming: every finished prompt is appended to a sidecar file as it finishes, and a stopped run
started again with the same settings skips the prompts already there (:mod:`.resume`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ..compute.forward import CancelCheck
from ..errors import JScopeError
from ..io import read_user_json
from ..model.load import LoadedModel
from .measure import (
    K_RULE,
    RANDOM,
    FaithfulnessConfig,
    PromptResult,
    evaluate_prompt,
    fraction_key,
)
from .prompts import check_last_word
from .resume import MeasureFn, PromptProgressFn, Todo, read_sidecar, run_resumable
from .stats import BOOTSTRAP_RESAMPLES, paired_tests, t_interval

INTERVAL = "95 % Student t interval of the mean over prompts (mean ± t(0.975, n−1)·s/√n)"
AOPC_TEXT = ("AOPC per passage and scope: the trapezoid area of Δ log p(top-1) (nats) over the "
             "ablated fractions, x = the fractions themselves (no point at 0, not divided by their "
             "range), as the reference's rebuttal scripts compute it (np.trapezoid(Δ, fractions)): "
             "Δ = −4.32, −7.07, −9.14 at 0.05/0.1/0.2 give −1.095; more negative = more faithful")
PAIRED_TEXT = (f"every pair (a, b) of scopes, random included, on per-passage AOPC: mean of a − b "
               f"(negative: a more faithful), its seeded bootstrap 95 % interval (scipy.stats."
               f"bootstrap, BCa, {BOOTSTRAP_RESAMPLES:,} resamples, seed [seed, pair number]), the "
               "two-sided Wilcoxon signed-rank p (scipy.stats.wilcoxon; 1 when every difference is "
               "0) and Holm's step-down adjustment over the pairs of one subset")
CORRECT_TEXT = ("--explain last: 'correct' passages are those whose unablated top-1 is the first "
                "token of the true last word; every '_correct' summary is over them")
_SHAPE = 'a non-empty JSON list of strings or of {"text": str} objects'


def load_prompts(path: str | Path) -> list[str]:
    """The prompts of ``path``: a JSON list of strings or of ``{"text": str}`` objects.

    Raises a one-sentence :class:`JScopeError` for a missing, unreadable, invalid or empty file
    and for an entry that is not a non-empty text.
    """
    p = Path(path)
    data = read_user_json(p, "prompts file", _SHAPE)
    if not isinstance(data, list) or not data:
        raise JScopeError(f"The prompts file {p} must be {_SHAPE}.")
    prompts = []
    for i, item in enumerate(data):
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str) or not text.strip():
            raise JScopeError(f"Prompt {i + 1} in {p} is not a non-empty text; the file must be "
                              f"{_SHAPE}.")
        prompts.append(text)
    return prompts


class ModelAbout(NamedTuple):
    """What a report records of the model measured: ``ModelInfo.to_dict()``, the device (as
    ``str(torch.device)``) and the dtype's name; the same whether the model is here or in the
    workers of a pool (their ``Worker.load`` answer)."""

    model: dict
    device: str
    dtype: str


def about(lm: LoadedModel | ModelAbout) -> ModelAbout:
    """``lm``'s :class:`ModelAbout` (itself when it is one)."""
    if isinstance(lm, ModelAbout):
        return lm
    return ModelAbout(lm.info.to_dict(), str(lm.device), lm.dtype_name)


def run_header(lm: LoadedModel | ModelAbout, cfg: FaithfulnessConfig) -> dict:
    """What a sidecar's first line records: everything that changes the numbers."""
    a = about(lm)
    return {"kind": "header", "model": a.model, "dtype": a.dtype, "config": cfg.to_dict()}


def read_partial(path: Path, header: dict) -> dict[int, PromptResult]:
    """The faithfulness results already in the sidecar ``path`` (:func:`.resume.read_sidecar`)."""
    return read_sidecar(path, header, PromptResult.from_dict)


def run_faithfulness(
    lm: LoadedModel | ModelAbout,
    prompts: list[str],
    cfg: FaithfulnessConfig,
    partial: str | Path | None = None,
    progress: PromptProgressFn | None = None,
    cancel: CancelCheck | None = None,
    measure: MeasureFn | None = None,
) -> list[PromptResult]:
    """Measure every prompt (skipping those already in the sidecar ``partial``).

    Args:
        lm: the model (measured here, one prompt after another), or only what the report
            records of it when ``measure`` runs the prompts elsewhere.
        measure: ``measure(todo, cancel)`` yields the result of each prompt of ``todo`` as it
            finishes, in any order, raising (a one-sentence :class:`JScopeError`) as the
            sequential run would (see :mod:`.parallel`); None: in this process, in order.

    Returns:
        The results of all prompts, in input order. Each finished prompt is appended to
        ``partial`` as it arrives; ``cancel`` is polled between prompts (and inside them here).
    """
    cfg.check()
    if cfg.explain == "last":
        for i, text in enumerate(prompts):
            check_last_word(text, i)
    if measure is None:
        measure = _in_order(lm, cfg)
    return run_resumable(prompts, run_header(lm, cfg), partial, PromptResult.from_dict, measure,
                         progress, cancel)


def _in_order(lm: LoadedModel, cfg: FaithfulnessConfig) -> MeasureFn:
    """The sequential measure: every prompt in this process, in input order."""
    def measure(todo: Todo, cancel: CancelCheck | None) -> Iterator[PromptResult]:
        for i, text, sha in todo:
            yield evaluate_prompt(lm, text, i, cfg, cancel, sha)
    return measure


def _by_scope(results: list[PromptResult], cfg: FaithfulnessConfig) -> dict:
    """``results`` (Δ per fraction), ``aopc``, ``loo_spearman`` and ``loo_agreement`` summaries
    (mean with t-interval over ``results``)."""
    keys = [fraction_key(f) for f in cfg.fractions]
    out = {"results": {s: {k: t_interval([r.deltas[s][k] for r in results]).to_dict()
                           for k in keys} for s in cfg.scopes},
           "aopc": {s: t_interval([r.aopc.get(s) for r in results]).to_dict()
                    for s in cfg.scopes},
           "loo_spearman": {}, "loo_agreement": {}}
    if cfg.loo:
        with_loo = [r for r in results if r.loo_spearman]
        for s in cfg.scopes:
            out["loo_spearman"][s] = {e: t_interval([r.loo_spearman[s][e] for r in with_loo]).to_dict()
                                      for e in ("kl", "logp")}
            out["loo_agreement"][s] = {
                e: {m: t_interval([r.loo_agreement[s][e][m] for r in with_loo
                                   if r.loo_agreement]).to_dict()
                    for m in ("spearman", "kendall")}
                for e in ("kl", "logp")}
    return out


def summarize(results: list[PromptResult], cfg: FaithfulnessConfig) -> dict:
    """The summaries of one filler's results (each :class:`PromptResult` as measured with it).

    ``results``: scope → fraction → {"mean", "ci95", "n"} of Δ log p(top-1); ``aopc``: scope →
    {"mean", "ci95", "n"}; ``loo_spearman``: scope → {"kl", "logp"} (mean ρ); ``loo_agreement``:
    scope → {"kl"|"logp": {"spearman", "kendall"}}; the same four with ``_correct`` over the
    correct subset (``--explain last``; empty otherwise); ``paired``: :func:`.stats.paired_tests`
    for the subsets "all" and "correct"; ``accuracy`` (top-1 is the last word's first token),
    ``n_correct`` and ``multi_token_last_words`` (``last`` only, else None)."""
    out = _by_scope(results, cfg)
    correct = [r for r in results if r.correct]
    with_true = [r for r in results if r.true_id is not None]
    sub = _by_scope(correct, cfg) if with_true else {k: {} for k in out}
    out.update({f"{k}_correct": v for k, v in sub.items()})
    out["paired"] = paired_tests({s: [r.aopc.get(s) for r in results] for s in cfg.scopes},
                                 "all", cfg.seed)
    if with_true:
        out["paired"] += paired_tests({s: [r.aopc.get(s) for r in correct] for s in cfg.scopes},
                                      "correct", cfg.seed)
    out["accuracy"] = (sum(r.top1_id == r.true_id for r in with_true) / len(with_true)
                       if with_true else None)
    out["n_correct"] = len(correct) if with_true else None
    # --explain last: prompts whose last word is several tokens (its first token is the target)
    out["multi_token_last_words"] = sum(r.note is not None for r in results) if with_true else None
    return out


def build_reports(
    lm: LoadedModel | ModelAbout, cfg: FaithfulnessConfig, results: list[PromptResult],
    prompts_file: str,
) -> dict[str, dict]:
    """One report (:func:`build_report`) per filler of ``cfg``, keyed by the filler's name."""
    return {name: build_report(lm, cfg, [r.for_filler(name) for r in results], prompts_file,
                               results[0].fillers[name]["filler"] if results else None)
            for name in cfg.fillers}


def build_report(
    lm: LoadedModel | ModelAbout, cfg: FaithfulnessConfig, results: list[PromptResult],
    prompts_file: str, filler: dict | None = None,
) -> dict:
    """The whole output of ``jscope faithfulness --json`` for one filler: summary, settings,
    rules, per prompt. ``results`` as measured with that filler (``PromptResult.for_filler``);
    ``filler``: its ``Filler.to_dict()`` (None: the first filler of the results)."""
    if filler is None:
        filler = results[0].fillers[cfg.fillers[0]]["filler"] if results and results[0].fillers \
            else {"name": cfg.fillers[0], "token_id": None, "token": None, "fallback": None}
        results = [r.for_filler(cfg.fillers[0]) if r.fillers else r for r in results]
    report = summarize(results, cfg)
    a = about(lm)
    report.update({
        "version": 1,
        "model": a.model, "device": a.device, "dtype": a.dtype,
        "prompts_file": prompts_file, "n_prompts": len(results),
        **cfg.to_dict(),
        "filler": filler,
        "metric": "change of log p(top-1 token) in nats after replacing the input embeddings of "
                  "the top-k tokens by score with the filler's ("
                  + ("zeros" if filler["token_id"] is None else
                     f"token {filler['token']!r}, id {filler['token_id']}")
                  + "; positions and attention kept; negative = the prediction weakened)",
        "aopc_metric": AOPC_TEXT,
        "paired_method": PAIRED_TEXT,
        "correct_subset": CORRECT_TEXT,
        "k_rule": K_RULE,
        "interval": INTERVAL,
        "random": f"'{RANDOM}' ablates a random subset seeded by [seed, prompt index]",
        "loo": "Spearman ρ (loo_spearman; loo_agreement adds Kendall τ-b, scipy.stats.kendalltau) "
               "per prompt between a scope's scores and the effect of ablating each token alone "
               "with this filler: KL(p ‖ p_ablated) ('kl') and the drop of log p(top-1) ('logp'); "
               "mean over prompts with the t-interval",
        "per_prompt": [r.to_dict(with_fillers=False) for r in results],
    })
    return report
