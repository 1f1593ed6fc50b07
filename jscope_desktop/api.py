"""The notebook API: load a model, explain a prediction, read a saved result back.

```python
import jscope_desktop as js
lm = js.load_model()                                   # the embedded SmolLM2 model
r = js.attribute(lm, "The capital of France is", scope="fisher")
r                                                      # in Jupyter: the interactive page
r.save("paris.json"); js.load_result("paris.json")
```

Every function here is a thin front on the engine: the settings of a run are the fields of
:class:`~jscope_desktop.engine.results.request.AttributionRequest` (passed through as keywords), errors
are one-sentence :class:`~jscope_desktop.engine.errors.JScopeError`. Importing this module
registers the render layer's web page as the way results display themselves in Jupyter.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import fields
from pathlib import Path

from .engine.errors import JScopeError
from .engine.io import read_user_json
from .engine.model.load import LoadedModel
from .engine.model.load import load_model as _load_model
from .engine.results import display
from .engine.results.request import AttributionRequest, RequestError, check_request
from .engine.results.result import AttributionResult

__all__ = ["load_model", "attribute", "generate", "series", "load_result", "AttributionRequest",
           "AttributionResult", "JScopeError", "LoadedModel", "REQUEST_SETTINGS"]

# the keyword settings attribute() passes to the request, in the dataclass's order
REQUEST_SETTINGS = tuple(f.name for f in fields(AttributionRequest)
                         if f.name not in ("prompt", "token_ids"))
MULTI_READER = "jscope_desktop.engine.results.multi_result"  # reads the multi-scope contract ("results")


def _page(result) -> str | None:
    """The render layer's web page of ``result`` (None for a kind it has no page for)."""
    from .engine.results.multi_result import MultiScopeResult

    if isinstance(result, MultiScopeResult):
        from .render.core.html_multi import multi_page

        return multi_page(result)
    from .render.core.html import result_page

    return result_page(result) if isinstance(result, AttributionResult) else None


display.register_page_maker(_page)


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
        A :class:`LoadedModel` (eval mode, frozen weights); ``lm.info`` describes it.
    """
    return _load_model(path, device, dtype)


def attribute(lm: LoadedModel, prompt: str | list[int],
              scope: str | list[str] | tuple[str, ...] = "temperature", **settings):
    """Explain which input tokens caused ``lm``'s prediction after ``prompt``.

    Args:
        lm: a model from :func:`load_model`.
        prompt: the text (or a list of token ids, fed exactly as given).
        scope: ``semantic``, ``contrast``, ``temperature``, ``fisher``, ``integrated``,
            ``grad_input`` or a plugin scope's name; several scopes (a list, ``"a,b,c"`` or
            ``"all"``) run on one forward graph with one batched backward pass.
        **settings: any other field of :class:`AttributionRequest`: ``target``/``foil`` (text of
            one token), ``target_id``/``foil_id``, ``position`` (the token index whose next-token
            prediction is explained; default the last, negative counts from the end), ``chat``
            (wrap in the chat template), ``fisher_method`` (``fast``/``exact``/``lowrank``),
            ``fisher_rank``, ``fisher_probes``, ``fisher_rel_error``, ``ig_steps``, ``seed``,
            ``top_k``. See :data:`REQUEST_SETTINGS`.

    Returns:
        An :class:`AttributionResult`: ``scores`` (one raw score per token, None after the
        explained position), ``tokens``, ``topk`` (the explained prediction), ``timing`` (s).
        In Jupyter it displays itself as the interactive page; ``.save(path)`` writes the JSON.
        Several scopes give a :class:`~jscope_desktop.engine.results.multi_result.MultiScopeResult`
        (``results`` in the order asked, ``agreement`` Spearman matrix, ``timing``).

    Raises:
        JScopeError: an unknown setting, a value out of range, a target that is not one token,
            ... (one sentence).
    """
    unknown = sorted(set(settings) - set(REQUEST_SETTINGS))
    if unknown:
        raise JScopeError(f"Unknown setting {', '.join(map(repr, unknown))}; the settings are "
                          f"{', '.join(REQUEST_SETTINGS)}.")
    from .engine.explain.multi import parse_scopes

    try:
        names = list(scope) if isinstance(scope, (list, tuple)) else \
            parse_scopes(scope) if isinstance(scope, str) and ("," in scope or
                                                                scope.strip() == "all") else None
        if names is not None:
            names = parse_scopes(",".join(map(str, names)))
    except RequestError as exc:
        raise JScopeError(exc.sentence({"scope": "The scope setting"}) + ".") from None
    if names is not None:
        scope = names[0]
    if isinstance(prompt, str):
        request = AttributionRequest(prompt=prompt, scope=scope, **settings)
    elif isinstance(prompt, (list, tuple)):
        request = AttributionRequest(token_ids=list(prompt), scope=scope, **settings)
    else:
        raise JScopeError(f"The prompt must be text or a list of token ids, not "
                          f"{type(prompt).__name__}.")
    try:
        if names is not None:
            from .engine.explain.multi import check_scopes

            check_scopes(request, names, refuse_unused=True)
        else:
            check_request(request, refuse_unused=True)
    except RequestError as exc:  # name the settings as this API spells them
        sentence = exc.sentence({s: f"The setting {s}" for s in REQUEST_SETTINGS
                                 if s not in ("target", "foil", "scope")})
        raise JScopeError(sentence if sentence.endswith((".", "?", ")")) else sentence + ".") \
            from None
    if names is not None:
        from .engine.explain.multi import attribute_many

        return attribute_many(lm, request, names)
    from .engine.explain.attribute import attribute as _attribute

    return _attribute(lm, request)


def generate(lm: LoadedModel, prompt: str, n_tokens: int = 8, scope: str = "temperature",
             chat: bool = False) -> AttributionResult:
    """Generate ``n_tokens`` greedily after ``prompt`` and attribute every generated token to
    all tokens before it.

    Returns:
        A multi-position :class:`AttributionResult`: ``positions`` (N,) and ``scores`` (N, T),
        row n explaining the token at ``positions[n] + 1``.
    """
    from .engine.explain.generation import generate_attribution

    return generate_attribution(lm, prompt, n_tokens, scope=scope, chat=chat)


def series(lm: LoadedModel, system: str | None = None, values: list[float] | None = None,
           **settings) -> AttributionResult:
    """Explain the model's prediction of a time series' next value (paper Sec. 3.4).

    Args:
        system: a built-in generator (``logistic``, ``lorenz``, ``lorenz_drift``, ``brownian``,
            ``gbm``), or None with ``values`` given.
        values: the series itself (at least 3 numbers).
        **settings: ``n_values``, ``seed``, ``digits`` (2 or 3), ``cutoff``, ``scope``.

    Returns:
        An :class:`AttributionResult` with ``series`` set (per-value scores and the model's exact
        next-value distribution).
    """
    from .engine.series.explain import SeriesRequest, explain_series

    allowed = [f.name for f in fields(SeriesRequest) if f.name not in ("system", "values")]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise JScopeError(f"Unknown setting {', '.join(map(repr, unknown))}; the settings are "
                          f"{', '.join(allowed)}.")
    return explain_series(lm, SeriesRequest(system=system, values=values, **settings))


def load_result(path: str | os.PathLike):
    """Read any saved result back: a single result, a generation matrix, a time series (all
    :class:`AttributionResult`), or a several-scopes result (the contract with ``results``).

    Raises:
        JScopeError: the file is missing, not JSON, or not a Jacobian Scopes result (one sentence).
    """
    data = read_user_json(path, "result file", "a result written by Jacobian Scopes")
    if isinstance(data, dict) and "results" in data:
        try:
            reader = importlib.import_module(MULTI_READER)
        except ImportError:
            raise JScopeError(f"{Path(path).name} holds several scopes' results, which this "
                              "version cannot read yet.") from None
        try:
            return reader.MultiScopeResult.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise JScopeError(f"The result file {path} is not a Jacobian Scopes result "
                              f"({type(exc).__name__}: {exc}).") from None
    if not isinstance(data, dict):
        raise JScopeError(f"The result file {path} is not a Jacobian Scopes result (it holds "
                          f"{type(data).__name__}, not a table).")
    try:
        return AttributionResult.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JScopeError(f"The result file {path} is not a Jacobian Scopes result "
                          f"({type(exc).__name__}: {exc}).") from None
