"""How a result shows itself in Jupyter, without the engine importing the render layer.

The engine owns one slot, a function turning a result into a whole web page; the render layer
(or whoever sits above it, e.g. ``jscope_desktop.api``) registers its page maker here. Results'
``_repr_html_`` call :func:`notebook_html`, which puts the page inside an ``<iframe srcdoc=…>`` so
its CSS, script and element ids cannot clash with the notebook's or with another result's.
"""

from __future__ import annotations

import html
from collections.abc import Callable

PageMaker = Callable[[object], str]  # a result (any contract) -> one self-contained HTML page

_page_maker: PageMaker | None = None
FRAME_BASE_PX = 260  # the title, captions, controls and colour bar of the page, some slack
LINE_PX, LINE_CHARS = 34, 110  # one strip line (line-height 2.1 at 15 px) holds ~110 characters
FRAME_MAX_PX = 900  # beyond this the frame scrolls


def register_page_maker(make_page: PageMaker | None) -> PageMaker | None:
    """Install ``make_page`` as the function results use to display themselves; returns the one
    it replaces (None: there was none). ``None`` removes the current one."""
    global _page_maker
    previous, _page_maker = _page_maker, make_page
    return previous


def page_maker() -> PageMaker | None:
    """The registered page maker, or None when no render layer has registered one."""
    return _page_maker


def frame_height(tokens: list[str]) -> int:
    """Pixels the frame needs for strips of ``tokens`` (every row's, in order): their characters
    wrapped at ~110 a line."""
    chars = sum(len(t) + 2 for t in tokens)  # each token box adds padding of ~2 characters
    return min(FRAME_MAX_PX, FRAME_BASE_PX + LINE_PX * (1 + chars // LINE_CHARS))


def notebook_html(result, tokens: list[str], height_px: int | None = None) -> str | None:
    """``result``'s page as an HTML fragment for a notebook cell: an ``<iframe>`` whose
    ``srcdoc`` holds the whole page (attribute-escaped), so several results live side by side in
    one notebook. None when no page maker is registered (Jupyter then shows the plain repr).
    ``tokens``: the texts of every strip the page draws (they size the frame)."""
    if _page_maker is None:
        return None
    page = _page_maker(result)
    height_px = frame_height(tokens) if height_px is None else height_px
    return (f'<iframe class="jscope-result" srcdoc="{html.escape(page, quote=True)}" '
            f'style="width:100%;height:{int(height_px)}px;border:1px solid #ddd;border-radius:4px" '
            'sandbox="allow-scripts"></iframe>')
