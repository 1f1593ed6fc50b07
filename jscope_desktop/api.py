"""The notebook API: load a model, explain a prediction, read a saved result back.

```python
import jscope_desktop as js
lm = js.load_model()                                   # the embedded SmolLM2 model
r = js.attribute(lm, "The capital of France is", scope="fisher")
r                                                      # in Jupyter: the interactive page
r.save("paris.json"); js.load_result("paris.json")
```

Every function here is a thin front on the engine: the settings of a run are the fields of
`AttributionRequest` (passed through as keywords), errors
are one-sentence `JScopeError`. Importing this module
registers the render layer's web page as the way results display themselves in Jupyter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, overload

from .engine.errors import JScopeError
from .engine.faithfulness import report as _faith_report
from .engine.faithfulness.report import FaithfulnessReport
from .engine.model.load import LoadedModel
from .engine.model.load import load_model as _load_model
from .engine.results import display
from .engine.results.multi_result import MultiScopeResult, read_result
from .engine.results.request import AttributionRequest, RequestError
from .engine.results.result import AttributionResult
from .engine.scopes import Scope, all_scopes
from .render.outputs import faithfulness_page_for, page_for

__all__ = ["load_model", "attribute", "compare", "scopes", "generate", "series", "load_result",
           "faithfulness", "FaithfulnessReport",
           "AttributionRequest", "AttributionResult", "MultiScopeResult", "JScopeError",
           "LoadedModel", "Scope", "REQUEST_SETTINGS"]

# the keyword settings attribute() passes to the request, in the dataclass's order
REQUEST_SETTINGS = tuple(f.name for f in fields(AttributionRequest)
                         if f.name not in ("prompt", "token_ids"))


display.register_page_maker(page_for)
_faith_report.register_page_maker(faithfulness_page_for)


def load_model(path: str | os.PathLike | None = None, device: str = "auto",
               dtype: str = "float32") -> LoadedModel:
    """Load a model for the scopes.

    Args:
        path: a Hugging Face model folder or a ``.gguf`` file; None loads the embedded model
            (SmolLM2-135M-Instruct, converted once into a local cache). Nothing is downloaded.
        device: ``auto`` (CUDA, then Apple MPS, then the CPU), ``cpu``, ``cuda``, ``cuda:N`` or
            ``mps``.
        dtype: ``float32`` (default), ``bfloat16`` or ``float16``.

    Returns:
        A `LoadedModel` (eval mode, frozen weights); ``lm.info`` describes it.
    """
    return _load_model(path, device, dtype)


@overload
def attribute(lm: LoadedModel, prompt: str | list[int], scope: str = ..., **settings: Any
              ) -> AttributionResult: ...
@overload
def attribute(lm: LoadedModel, prompt: str | list[int], scope: list[str] | tuple[str, ...],
              **settings: Any) -> MultiScopeResult: ...


def attribute(lm: LoadedModel, prompt: str | list[int],
              scope: str | list[str] | tuple[str, ...] = "temperature", *,
              target: str | None = None, target_id: int | None = None,
              foil: str | None = None, foil_id: int | None = None,
              position: int | None = None, chat: bool = False,
              fisher_method: str = "fast", fisher_rank: int | None = None,
              fisher_probes: int | None = None, fisher_rel_error: float | None = None,
              fisher_budget: int | None = None, ig_steps: int = 16, ig_baseline: str = "zero",
              seed: int = 0, top_k: int = 10, **unexpected: Any
              ) -> AttributionResult | MultiScopeResult:
    """Explain which input tokens caused ``lm``'s prediction after ``prompt``.

    Args:
        lm: a model from `load_model`.
        prompt: the text (or a list of token ids, fed exactly as given).
        scope: ``semantic``, ``contrast``, ``temperature``, ``fisher``, ``integrated``,
            ``grad_input`` or a plugin scope's name (`scopes` lists them); several scopes
            (a list, ``"a,b,c"`` or ``"all"``) run on one forward graph (see `compare`).
        target: the token to explain, as text of exactly one token (Semantic, Contrast);
            default the model's top-1 prediction.
        target_id: the target as a token id instead of text.
        foil: the token to contrast against (Contrast); default the top-2.
        foil_id: the foil as a token id instead of text.
        position: the token index whose next-token prediction is explained; default the last,
            negative counts from the end.
        chat: wrap the prompt in the model's chat template.
        fisher_method: ``fast`` (randomised, with an error bar), ``exact`` or ``lowrank``.
        fisher_rank: directions of ``lowrank`` (default: the model's width).
        fisher_probes: random probes of ``fast`` (default: adaptive).
        fisher_rel_error: the relative L2 error ``fast`` aims for.
        fisher_budget: ``fast`` with exactly this many VJP-equivalent directions.
        ig_steps: Riemann steps of Integrated (1–1024).
        ig_baseline: Integrated's path start: ``zero`` (default), ``pad``, ``eos``, ``bos`` (that
            token's embedding at every position; a leading BOS keeps its own) or ``mean`` (the
            mean input embedding).
        seed: the seed of every random choice (Fisher's probes).
        top_k: predictions listed in the result (1–1000).
        **unexpected: any other keyword is refused with one sentence naming the settings.

    Returns:
        An `AttributionResult`: ``scores`` (one raw score per token, None after the
        explained position; ``result.to_numpy()`` gives them as an array, NaN where None),
        ``tokens``, ``topk`` (the explained prediction), ``timing`` (s). In Jupyter it displays
        itself as the interactive page; ``.save(path)`` writes the JSON. Several scopes give a
        `MultiScopeResult` (``results`` in the order asked, ``agreement`` Spearman
        matrix, ``timing``).

    Raises:
        JScopeError: an unknown setting, a value out of range, a target that is not one token,
            ... (one sentence).
    """
    settings = {name: value for name, value in locals().items() if name in REQUEST_SETTINGS}
    if unexpected:
        raise JScopeError(f"Unknown setting {', '.join(map(repr, sorted(unexpected)))}; the "
                          f"settings are {', '.join(REQUEST_SETTINGS)}.")
    names = _scope_list(scope)
    if names is not None:
        return compare(lm, prompt, names, **{k: v for k, v in settings.items() if k != "scope"})
    request = _request(prompt, settings)
    from .engine.explain.attribute import attribute as _attribute

    with _phrased():
        return _attribute(lm, request, refuse_unused=True)


def compare(lm: LoadedModel, prompt: str | list[int], scopes: list[str] | tuple[str, ...] | str,
            **settings: Any) -> MultiScopeResult:
    """Run several scopes on one prediction: one forward graph, one batched backward pass.

    Args:
        lm: a model from `load_model`.
        prompt: the text (or a list of token ids).
        scopes: scope names in the order wanted (a list, ``"a,b,c"`` or ``"all"``).
        **settings: the keyword settings of `attribute` (a target applies to the scopes
            that use one).

    Returns:
        A `MultiScopeResult`: ``results`` (one `AttributionResult` per scope, each
        equal to its single-scope run), ``agreement`` (Spearman ρ between every two scopes),
        ``timing``; ``to_numpy()`` gives the scores as an (S, T) array.

    Raises:
        JScopeError: a scope named twice or unknown, or a bad setting (one sentence).
    """
    unknown = sorted(set(settings) - set(REQUEST_SETTINGS) | ({"scope"} & set(settings)))
    if unknown:
        raise JScopeError(f"Unknown setting {', '.join(map(repr, unknown))}; the settings are "
                          f"{', '.join(s for s in REQUEST_SETTINGS if s != 'scope')}.")
    names = _scope_list(scopes if not isinstance(scopes, str) or "," in scopes or
                        scopes.strip() == "all" else [scopes])
    request = _request(prompt, {**settings, "scope": names[0]})
    from .engine.explain.multi import attribute_many

    with _phrased():
        return attribute_many(lm, request, names, refuse_unused=True)


def scopes() -> list[Scope]:
    """Every scope this installation knows (the built-in six, then plugin scopes), as the
    registry describes them: ``name``, ``label``, ``unit``, ``explanation``, ``needs_target``,
    ``needs_foil``, ``cost`` (words)."""
    return all_scopes()


def _scope_list(scope) -> list[str] | None:
    """The scope names of a several-scopes ``scope`` (a list, ``"a,b"`` or ``"all"``), None for
    one name; a bad list is one sentence."""
    from .engine.explain.multi import parse_scopes

    several = isinstance(scope, (list, tuple)) or (
        isinstance(scope, str) and ("," in scope or scope.strip() == "all"))
    if not several:
        return None
    with _phrased():
        return parse_scopes(",".join(map(str, scope)) if not isinstance(scope, str) else scope)


def _request(prompt, settings: dict) -> AttributionRequest:
    """The request of ``prompt`` (text or token ids) with ``settings``."""
    if isinstance(prompt, str):
        return AttributionRequest(prompt=prompt, **settings)
    if isinstance(prompt, (list, tuple)):
        return AttributionRequest(token_ids=list(prompt), **settings)
    raise JScopeError(f"The prompt must be text or a list of token ids, not "
                      f"{type(prompt).__name__}.")


@contextmanager
def _phrased() -> Iterator[None]:
    """Re-raise the engine's request errors naming the settings as this API spells them."""
    try:
        yield
    except RequestError as exc:
        sentence = exc.sentence({"scope": "The scope setting", **{
            s: f"The setting {s}" for s in REQUEST_SETTINGS if s not in ("target", "foil", "scope")}})
        raise JScopeError(sentence if sentence.endswith((".", "?", ")")) else sentence + ".") \
            from None


def generate(lm: LoadedModel, prompt: str, n_tokens: int = 8, scope: str = "temperature",
             chat: bool = False) -> AttributionResult:
    """Generate ``n_tokens`` greedily after ``prompt`` and attribute every generated token to
    all tokens before it.

    Returns:
        A multi-position `AttributionResult`: ``positions`` (N,) and ``scores`` (N, T),
        row n explaining the token at ``positions[n] + 1``.
    """
    from .engine.explain.generation import generate_attribution

    return generate_attribution(lm, prompt, n_tokens, scope=scope, chat=chat)


def series(lm: LoadedModel, system: str | None = None, values: list[float] | None = None,
           **settings) -> AttributionResult:
    """Explain the model's prediction of a time series' next value (paper Sec. 3.4).

    Args:
        lm: a model from `load_model`.
        system: a built-in generator (``logistic``, ``lorenz``, ``lorenz_drift``, ``brownian``,
            ``gbm``), or None with ``values`` given.
        values: the series itself (at least 3 numbers).
        **settings: ``n_values``, ``seed``, ``digits`` (2 or 3), ``cutoff``, ``scope``.

    Returns:
        An `AttributionResult` with ``series`` set (per-value scores and the model's exact
        next-value distribution).
    """
    from .engine.series.explain import SeriesRequest, explain_series

    allowed = [f.name for f in fields(SeriesRequest) if f.name not in ("system", "values")]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise JScopeError(f"Unknown setting {', '.join(map(repr, unknown))}; the settings are "
                          f"{', '.join(allowed)}.")
    return explain_series(lm, SeriesRequest(system=system, values=values, **settings))


def load_result(path: str | os.PathLike) -> AttributionResult | MultiScopeResult:
    """Read any saved result back: a single result, a generation matrix, a time series (each an
    `AttributionResult` of its kind), or a several-scopes result
    (`MultiScopeResult`). Every file written by 0.1.0 loads.

    Raises:
        JScopeError: the file is missing, not JSON, or not a Jacobian Scopes result (one sentence).
    """
    return read_result(path)


@overload
def faithfulness(lm: LoadedModel, prompts: list[str], *, filler: str = ..., **kw: Any
                 ) -> FaithfulnessReport: ...
@overload
def faithfulness(lm: LoadedModel, prompts: list[str], *, filler: list[str] | tuple[str, ...],
                 **kw: Any) -> dict[str, FaithfulnessReport]: ...


def faithfulness(lm: LoadedModel, prompts: list[str], *, scopes: list[str] | None = None,
                 fractions: tuple[float, ...] = (0.05, 0.1, 0.2), explain: str = "next",
                 filler: str | list[str] | tuple[str, ...] = "zero", ig_baseline: str = "zero",
                 seed: int = 0, fisher_method: str = "fast", loo: bool = True,
                 loo_prompts: int | None = None
                 ) -> FaithfulnessReport | dict[str, FaithfulnessReport]:
    """The faithfulness suite of ``jscope faithfulness`` on ``prompts``, in this process.

    Args:
        lm: a model from `load_model`.
        prompts: the texts (each a LAMBADA-style passage with ``explain="last"``).
        scopes: the scopes, ``"random"`` included (default: every registered scope + random).
        fractions: the fractions of tokens ablated (AOPC needs at least two).
        explain: ``next`` (the token after the text) or ``last`` (the text's own last word;
            gives the "correct" subset).
        filler: ``zero``, ``pad``, ``eos``, ``bos`` or one token's text; a list measures each on
            one attribution pass.
        ig_baseline: Integrated's path start (see `attribute`).
        seed: seeds ``random``, Fisher's probes and the bootstrap.
        fisher_method: ``fast``, ``exact`` or ``lowrank`` (see `attribute`).
        loo: measure the agreement with leave-one-out.
        loo_prompts: leave-one-out on the first N prompts only (None: all).

    Returns:
        A `FaithfulnessReport` (``aopc``, ``aopc_correct``, ``paired``, ``loo_agreement``,
        ``results``; ``data`` the JSON contract; in Jupyter it shows its web page), or for a list
        of fillers a dict filler → report.

    Raises:
        JScopeError: a setting or prompt that cannot be run (one sentence).
    """
    from .engine.faithfulness.filler import parse_fillers
    from .engine.faithfulness.measure import FaithfulnessConfig, faithfulness_scopes
    from .engine.faithfulness.run import build_reports, run_faithfulness

    several = not isinstance(filler, str)
    names = list(filler) if several else parse_fillers(filler)
    cfg = FaithfulnessConfig(scopes=list(scopes or faithfulness_scopes()),
                             fractions=list(fractions), explain=explain, seed=seed,
                             fisher_method=fisher_method, loo=loo, loo_prompts=loo_prompts,
                             fillers=names, ig_baseline=ig_baseline)
    if not isinstance(prompts, (list, tuple)) or not prompts or not all(
            isinstance(p, str) and p.strip() for p in prompts):
        raise JScopeError("The prompts must be a non-empty list of non-empty texts.")
    reports = build_reports(lm, cfg, run_faithfulness(lm, list(prompts), cfg), "(notebook)")
    typed = {name: FaithfulnessReport.from_dict(r) for name, r in reports.items()}
    return typed if several else typed[names[0]]
