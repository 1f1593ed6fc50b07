"""The words around a picture: what was explained, by which scope and model, and what it cost."""

from __future__ import annotations

from ...engine.compute.fisher_config import describe_fisher
from ...engine.model.tokens import token_number
from ...engine.results.result import AttributionResult, MatrixResult
from ...engine.scopes import scope_label
from .view_options import ScaleExclusion, as_exclusion

__all__ = ["caption_lines", "scale_sentence", "scope_label"]


def caption_lines(
    result: AttributionResult, position: int, scale: str,
    exclude: ScaleExclusion | str | None = None,
) -> tuple[list[str], list[str]]:
    """(header lines, footer lines) for an annotated picture of ``result`` at ``position``.

    The header's first line is the title (scope and model); the footer carries the timings,
    the Fisher method, the top predictions and the colour scale (with what ``exclude`` leaves
    out of it, see :func:`scale_sentence`).
    """
    model = result.model.get("name", "model")
    title = f"{scope_label(result.scope)} Scope · {model}"
    what = (f"Explaining the prediction after token {token_number(position)} "
            f"({result.tokens[position]!r})")
    if isinstance(result, MatrixResult) and position + 1 < len(result.tokens):
        what += f" → {result.tokens[position + 1]!r} (generated)"
    elif result.target is not None:
        what += f" → target {result.target!r}"
        if result.foil is not None:
            what += f" rather than {result.foil!r}"
    header = [title, what + f"; {len(result.tokens)} tokens, {result.device}, {result.dtype}."]
    t = result.timing
    ratio = t.scope_s / t.forward_s if t.forward_s > 0 else float("nan")
    cost = (f"Forward {t.forward_s * 1000:.0f} ms · scope {t.scope_s * 1000:.0f} ms "
            f"({ratio:.1f}× forward) · {t.backward_passes} backward pass"
            f"{'es' if t.backward_passes != 1 else ''}")
    if result.fisher is not None:
        f = result.fisher
        cost += " · " + describe_fisher(f.method, f.rank, f.probes, f.rel_error_estimate)
    footer = [cost]
    if not isinstance(result, MatrixResult) and result.topk:
        top = ", ".join(f"{k.token!r} {k.prob:.1%}" for k in result.topk[:4])
        footer.append(f"Top predictions: {top}")
    footer.append(scale_sentence(scale, exclude))
    return header, footer


def scale_sentence(scale: str, exclude: ScaleExclusion | str | None = None) -> str:
    """The caption's sentence on the colours: the scale, and when the attention-sink control is
    on, "colour scale excludes: first token (hatched; its score is kept)"."""
    option = as_exclusion(exclude)
    text = f"Colours: {scale} scale"
    if option.active:
        text += f"; colour scale excludes: {option.describe()} (hatched; scores kept)"
    return text + "; raw scores are in the JSON export."
