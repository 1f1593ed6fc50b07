"""Several scopes of one prediction as a web page (:mod:`.html_page`): the strips stacked, each
coloured relative to its own largest score, hover for a token's score and rank in each row, and
the Spearman agreement as a small coloured table. Qt-free.
"""

from __future__ import annotations

import html

from ...engine.model.tokens import token_number
from ...engine.results.multi_result import MultiScopeResult
from ...engine.scopes import scope_label, scope_unit
from .caption import scale_sentence
from .html import exclusion_choices, word_starts
from .html_page import build_page, colour_steps


def _cell(rho: float | None, lut: list) -> str:
    if rho is None:
        return "<td class=na>–</td>"
    c = lut[round((rho + 1) / 2 * (len(lut) - 1))]
    ink = "#111" if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 140 else "#fff"
    return (f'<td style="background:rgb({c[0]},{c[1]},{c[2]});color:{ink}" '
            f'title="ρ = {rho:.4f}">{rho:.2f}</td>')


def agreement_table(multi: MultiScopeResult, cmap: str = "viridis") -> str:
    """The Spearman matrix as an HTML table, cells coloured from −1 (dark) to +1 (bright)."""
    lut = colour_steps(cmap)
    a = multi.agreement
    head = "".join(f"<th>{html.escape(scope_label(n))}</th>" for n in a.scopes)
    rows = "".join(
        f"<tr><th>{html.escape(scope_label(n))}</th>{''.join(_cell(v, lut) for v in row)}</tr>"
        for n, row in zip(a.scopes, a.spearman))
    return f'<table id="agreement"><tr><th></th>{head}</tr>{rows}</table>'


def multi_page(multi: MultiScopeResult, cmap: str = "viridis", exclude=None) -> str:
    """The whole HTML page for ``multi``, as text; ``exclude`` is the attention-sink control the
    page opens with (``render.core.view_options.ScaleExclusion`` or its text)."""
    first = multi.results[0]
    t = multi.timing
    header = [f"{len(multi.results)} scopes · {first.model.get('name', 'model')}",
              f"Explaining the prediction after token {token_number(first.position)} "
              f"({first.tokens[first.position]!r}); {len(first.tokens)} tokens, {first.device}, "
              f"{first.dtype}."]
    footer = [f"Forward {t.forward_s * 1000:.0f} ms · all scopes {t.total_s * 1000:.0f} ms · "
              f"{t.backward_passes} batched backward passes. Each row is coloured relative to its "
              "own largest score; raw scores are in the embedded JSON.",
              scale_sentence("linear", exclude)]
    meta = {"labels": [f"{scope_label(r.scope)} ({scope_unit(r.scope)})" for r in multi.results],
            "lut": colour_steps(cmap), "exclude": exclusion_choices(first, exclude),
            "word_starts": word_starts(first)}
    below = ("<h2>Rank agreement (Spearman ρ over attributed tokens)</h2>"
             + agreement_table(multi, cmap))
    return build_page(multi.to_dict(), meta, header, footer, below)
