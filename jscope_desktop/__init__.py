"""Jacobian Scopes Desktop: which input tokens caused a language model's prediction.

In a notebook: ``import jscope_desktop as js; lm = js.load_model();
r = js.attribute(lm, "The capital of France is", scope="fisher"); r`` (see :mod:`.api`). The API
is loaded on first use, so ``import jscope_desktop`` stays fast and imports no torch.
"""

from __future__ import annotations

import os

# Offline before anything can import Hugging Face code: every entry point (the CLI, the app, the
# frozen bundle, a notebook) imports this package first. Nothing ever reaches a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"  # forced: a user setting of 0 must not make us download
os.environ["TRANSFORMERS_OFFLINE"] = "1"

__version__ = "0.1.0"

# the notebook API (jscope_desktop/api.py), imported on first access
API_NAMES = ("load_model", "attribute", "compare", "scopes", "generate", "series", "load_result",
             "AttributionRequest", "AttributionResult", "MultiScopeResult", "JScopeError",
             "LoadedModel", "Scope", "faithfulness", "FaithfulnessReport")
__all__ = ["__version__", *API_NAMES]


def __getattr__(name: str):
    if name in API_NAMES:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'jscope_desktop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API_NAMES})


def _lazy_page(result):
    """Until the API is imported, a result displaying itself in Jupyter asks the render layer's
    page maker (importing the API registers it for good)."""
    from . import api  # noqa: F401 (registers render.outputs.page_for)
    from .render.outputs import page_for

    return page_for(result)


from .engine.results import display as _display  # noqa: E402 (a few lines of plain Python, no torch)

if _display.page_maker() is None:
    _display.register_page_maker(_lazy_page)
