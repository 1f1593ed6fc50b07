"""The terminal view of several scopes of one prediction (rich, no Qt): the prediction, one
coloured strip per scope (each relative to its own largest score), the Spearman agreement
matrix and the timing."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ...engine.model.tokens import token_number
from ...engine.results.multi_result import MultiScopeResult
from ...engine.scopes import scope_label
from .multi_caption import row_caption
from .terminal import predictions_table, token_strip, visible


def agreement_table(multi: MultiScopeResult) -> Table:
    """Spearman's ρ between every two scopes (– where undefined)."""
    a = multi.agreement
    table = Table(title="Rank agreement (Spearman ρ over attributed tokens)",
                  title_justify="left", box=None, pad_edge=False)
    table.add_column("")
    for name in a.scopes:
        table.add_column(scope_label(name), justify="right")
    for name, row in zip(a.scopes, a.spearman):
        table.add_row(scope_label(name), *("–" if v is None else f"{v:.3f}" for v in row))
    return table


def render_multi(multi: MultiScopeResult) -> Group:
    """The whole terminal view of ``multi`` as one rich renderable."""
    first = multi.results[0]
    head = Text(f"{len(multi.results)} scopes", style="bold")
    head.append(f"  explaining the prediction after token {token_number(first.position)} "
                f"({visible(first.tokens[first.position])!r})")
    head.append(f"\n{first.model.get('name', '?')} on {first.device}, {first.dtype}", style="dim")
    parts = [head, Text(), predictions_table(first), Text()]
    for r in multi.results:
        parts += [Text(row_caption(r), style="bold"), token_strip(r), Text()]
    t = multi.timing
    parts += [agreement_table(multi), Text(),
              Text(f"forward {t.forward_s:.3f} s · all scopes {t.total_s:.3f} s · "
                   f"{t.backward_passes} batched backward pass"
                   f"{'es' if t.backward_passes != 1 else ''}", style="dim")]
    return Group(*parts)


def print_multi(multi: MultiScopeResult, console: Console | None = None) -> None:
    """Print the terminal view of ``multi`` (to stdout unless ``console`` says otherwise)."""
    (console or Console()).print(render_multi(multi))
