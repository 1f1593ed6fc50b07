"""The faithfulness report as a typed object (the notebook's ``js.faithfulness`` returns it):
the summaries the views read as fields, the whole JSON contract in ``data``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..io import write_json, write_text

# (report dict, sanity dict | None) -> page text; registered by the notebook API (render layer)
_PAGE_MAKER: list[Callable[[dict, dict | None], str]] = []


def register_page_maker(maker: Callable[[dict, dict | None], str]) -> None:
    """Set how a report becomes a web page (the render layer's ``faithfulness_page_for``)."""
    _PAGE_MAKER[:] = [maker]


@dataclass
class FaithfulnessReport:
    """One filler's faithfulness report (``jscope faithfulness --json``, DESIGN.md round 3).

    filler: ``{"name", "token_id", "token", "fallback"}``. aopc / aopc_correct: scope →
    ``{"mean", "ci95": [lo, hi], "n"}`` (nats × fraction; more negative = more faithful).
    paired: rows ``{"a", "b", "subset", "metric", "mean_diff", "ci95", "p_wilcoxon", "p_holm",
    "n"}``. loo_agreement: scope → ``{"kl"|"logp": {"spearman"|"kendall": {...}}}``. results:
    scope → fraction → Δ log p(top-1) summary (nats). data: the whole JSON contract.
    """

    filler: dict
    n_prompts: int
    scopes: list[str]
    aopc: dict
    aopc_correct: dict
    paired: list[dict]
    loo_agreement: dict
    results: dict
    data: dict = field(repr=False)

    @classmethod
    def from_dict(cls, d: dict) -> FaithfulnessReport:
        """The report of a faithfulness JSON (as written by ``jscope faithfulness``)."""
        return cls(d["filler"], d["n_prompts"], list(d["scopes"]), d["aopc"],
                   d.get("aopc_correct") or {}, d.get("paired") or [],
                   d.get("loo_agreement") or {}, d["results"], d)

    def to_dict(self) -> dict:
        """The JSON contract (the dict it was made from)."""
        return self.data

    def save(self, path: str | os.PathLike) -> Path:
        """Write the JSON to ``path`` (atomically); returns the path."""
        return write_json(path, self.data)

    def page(self, sanity: dict | None = None) -> str:
        """The self-contained web page (the render layer's; the notebook API registers it)."""
        if not _PAGE_MAKER:
            raise RuntimeError("no page maker registered; import jscope_desktop.api first")
        return _PAGE_MAKER[0](self.data, sanity)

    def save_html(self, path: str | os.PathLike, sanity: dict | None = None) -> Path:
        """Write :meth:`page` to ``path``; returns the path."""
        return write_text(path, self.page(sanity))

    def _repr_html_(self) -> str:
        return self.page() if _PAGE_MAKER else f"<pre>{self!r}</pre>"
