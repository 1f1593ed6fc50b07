"""The terminal view of a result (rich text, no Qt): top predictions, a coloured token strip,
the most influential tokens and the timing.

Colours mean the same in every view of one result: a token's background is its score divided by
the largest score of the row (files keep the raw values). Whitespace inside tokens is made
visible, so `` Paris`` and ``Paris`` look different, as they are different tokens.
"""

from __future__ import annotations

import math

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ...engine.compute.fisher_config import describe_fisher
from ...engine.model.tokens import token_number
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label, scope_unit
from .units import visible_text
from .view_options import ScaleExclusion, as_exclusion, scale_mask

# A sequential white → yellow → red ramp (ColorBrewer YlOrRd): readable on dark and light
# terminals, and a zero score stays distinguishable from "not attributed" (no background).
_RAMP = [(255, 255, 255), (255, 237, 160), (254, 178, 76), (252, 78, 42), (189, 0, 38),
         (128, 0, 38)]
visible = visible_text  # the terminal shows token text as the strip does


def score_rgb(fraction: float) -> tuple[int, int, int]:
    """Background colour (r, g, b in 0–255) for a normalised score ``fraction`` in [0, 1]."""
    f = min(max(fraction, 0.0), 1.0) * (len(_RAMP) - 1)
    i = min(int(f), len(_RAMP) - 2)
    a, b, w = _RAMP[i], _RAMP[i + 1], f - i
    return tuple(round(x + (y - x) * w) for x, y in zip(a, b))


def _colour_style(fraction: float) -> str:
    r, g, b = score_rgb(fraction)
    dark = 0.299 * r + 0.587 * g + 0.114 * b < 140  # luminance: pick a readable ink
    return f"{'white' if dark else 'black'} on rgb({r},{g},{b})"


def normalised(scores: list[float | None]) -> list[float | None]:
    """Scores divided by the largest finite one (None stays None; all-zero rows give zeros)."""
    finite = [s for s in scores if s is not None and math.isfinite(s)]
    top = max(finite, default=0.0)
    return [None if s is None or not math.isfinite(s) else (s / top if top > 0 else 0.0)
            for s in scores]


EXCLUDED_STYLE = "black on rgb(190,190,190) strike"  # left out of the colour scale: grey, struck


def _kept(result: AttributionResult, exclude) -> tuple[list[float | None], list[bool]]:
    """The row's scores with the excluded tokens set to None, and the mask itself."""
    mask = scale_mask(result, exclude)
    return [None if m else s for s, m in zip(result.score_row(), mask)], mask


def token_strip(result: AttributionResult, exclude: ScaleExclusion | str | None = None) -> Text:
    """The prompt as coloured token boxes: background by score, special tokens in italics,
    role changes labelled (chat), the explained token underlined, unattributed tokens dim,
    tokens excluded from the colour scale grey and struck through, and the top prediction
    after the last token."""
    kept, mask = _kept(result, exclude)
    row = normalised(kept)
    special = result.special or [False] * len(result.tokens)
    roles = result.roles or [None] * len(result.tokens)
    strip = Text()
    last_role = None
    for i, (tok, f) in enumerate(zip(result.tokens, row)):
        if roles[i] is not None and roles[i] != last_role:
            strip.append(f"[{roles[i]}] ", style="bold cyan")
            last_role = roles[i]
        style = EXCLUDED_STYLE if mask[i] else "dim" if f is None else _colour_style(f)
        if special[i]:
            style += " italic"
        if i == result.position:
            style += " underline bold"
        strip.append(visible(tok), style=style)
        strip.append(" ")
    if result.position == len(result.tokens) - 1 and result.topk:
        strip.append(f"→ {visible(result.topk[0].token)}", style="bold green")
    return strip


def colour_scale(result: AttributionResult, cells: int = 20,
                 exclude: ScaleExclusion | str | None = None) -> Text:
    """A legend: the colour ramp from 0 to the largest raw score of the tokens the scale spans
    (all but the excluded ones), and a line saying what ``exclude`` leaves out."""
    kept, _ = _kept(result, exclude)
    finite = [s for s in kept if s is not None and math.isfinite(s)]
    legend = Text(f"score {scope_unit(result.scope)}  0 ")
    for j in range(cells):
        legend.append(" ", style=_colour_style(j / (cells - 1)))
    legend.append(f" {max(finite, default=0.0):.4g}  (raw; colours relative to the largest)")
    option = as_exclusion(exclude)
    if option.active:
        legend.append("\n")
        legend.append(" excluded ", style=EXCLUDED_STYLE)
        legend.append(f" colour scale excludes: {option.describe()} (scores kept; not in the "
                      "top list)", style="dim")
    return legend


def predictions_table(result: AttributionResult, n: int = 5) -> Table:
    """The explained prediction: the ``n`` most probable next tokens with bars."""
    table = Table(title="Next-token prediction", title_justify="left", box=None, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("token")
    table.add_column("prob", justify="right")
    table.add_column("", no_wrap=True)
    for rank, t in enumerate(result.topk[:n], 1):
        mark = "  ← target" if t.id == result.target_id else "  ← foil" if t.id == result.foil_id else ""
        table.add_row(str(rank), visible(t.token), f"{t.prob:.4f}",
                      "█" * max(1, round(t.prob * 30)) + mark)
    return table


def influential_table(result: AttributionResult, n: int = 5,
                      exclude: ScaleExclusion | str | None = None) -> Table:
    """The ``n`` highest-scored tokens (none that ``exclude`` leaves out) with their index, raw
    score and share of the largest."""
    row, _ = _kept(result, exclude)
    ranked = sorted((i for i, s in enumerate(row) if s is not None), key=lambda i: -row[i])[:n]
    top = row[ranked[0]] if ranked else 0.0
    table = Table(title="Most influential tokens", title_justify="left", box=None, pad_edge=False)
    for name, justify in (("index", "right"), ("token", "left"), ("score", "right"),
                          ("of max", "right")):
        table.add_column(name, justify=justify)
    for i in ranked:
        share = f"{row[i] / top:.0%}" if top > 0 else "–"
        table.add_row(str(i), visible(result.tokens[i]), f"{row[i]:.4g}", share)
    return table


def header(result: AttributionResult) -> Text:
    """What was explained: scope, target/foil, the explained position, model and device."""
    scope = scope_label(result.scope)
    text = Text(f"{scope} Scope", style="bold")
    if result.target is not None:
        text.append(f"  target {visible(result.target)!r}")
    if result.foil is not None:
        text.append(f" vs foil {visible(result.foil)!r}")
    text.append(f"  explaining the prediction after token {token_number(result.position)} "
                f"({visible(result.tokens[result.position])!r})")
    text.append(f"\n{result.model.get('name', '?')} on {result.device}, {result.dtype}",
                style="dim")
    return text


def timing_line(result: AttributionResult) -> Text:
    """Timing (seconds, ratio to a forward pass), backward passes, Fisher settings, β, entropy."""
    t = result.timing
    ratio = f" ({t.scope_s / t.forward_s:.1f}× a forward pass)" if t.forward_s > 0 else ""
    passes = f"{t.backward_passes} backward pass{'es' if t.backward_passes != 1 else ''}"
    line = f"forward {t.forward_s:.3f} s · scope {t.scope_s:.3f} s{ratio} · {passes}"
    if result.fisher is not None:
        fi = result.fisher
        line += "\n" + describe_fisher(fi.method, fi.rank, fi.probes, fi.rel_error_estimate)
    extras = []
    if result.beta is not None:
        extras.append(f"β = ‖h‖ = {result.beta:.4g}")
    if result.entropy is not None:
        extras.append(f"entropy {result.entropy:.3f} nats")
    if extras:
        line += "\n" + " · ".join(extras)
    return Text(line, style="dim")


def render_result(result: AttributionResult,
                  exclude: ScaleExclusion | str | None = None) -> Group:
    """The whole terminal view of ``result`` as one rich renderable (``exclude``: the tokens
    left out of the colour scale and the top list)."""
    return Group(
        header(result), Text(), predictions_table(result), Text(), token_strip(result, exclude),
        colour_scale(result, exclude=exclude), Text(), influential_table(result, exclude=exclude),
        Text(), timing_line(result),
    )


def print_result(result: AttributionResult, console: Console | None = None,
                 exclude: ScaleExclusion | str | None = None) -> None:
    """Print the terminal view of ``result`` (to stdout unless ``console`` says otherwise)."""
    (console or Console()).print(render_result(result, exclude))
