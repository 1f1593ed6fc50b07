"""A result of one scope as a web page (:mod:`.html_page`, the one page every result is shown
in): a single prediction, a generation matrix (with a row chooser) or a series; and the page's
attention-sink choices and word starts, which the several-scopes page uses too.

Qt-free: the CLI writes it without a display, the app offers it as "Save as web page…".
"""

from __future__ import annotations

import json

from ...engine.model.tokens import word_spans
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label, scope_unit
from .caption import caption_lines, scale_sentence
from .colormaps import SCALES
from .html_page import SCRIPT_ID, build_page, colour_steps
from .view_options import MODE_LABELS, MODES, ScaleExclusion, as_exclusion, scale_mask


def exclusion_choices(result: AttributionResult,
                      exclude: ScaleExclusion | str | None = None) -> dict:
    """The page's attention-sink choices: for each, its label, its token mask
    (:func:`~.view_options.scale_mask`) and the caption's colour sentence per scale; the keys are
    "none", the named sets, and "custom" when ``exclude`` is another set. Also which is chosen.

    Returns:
        ``{"chosen": key, "choices": {key: {"label", "mask", "sentence": {scale: str}}}}``.
    """
    option = as_exclusion(exclude)
    options = {"none": ScaleExclusion(), **{m: ScaleExclusion((m,)) for m in MODES}}
    chosen = next((k for k, o in options.items() if o == option), "custom")
    if chosen == "custom":
        options["custom"] = option
    labels = {"none": "nothing", **MODE_LABELS, "custom": option.describe()}
    return {"chosen": chosen, "choices": {
        key: {"label": labels[key], "mask": scale_mask(result, o),
              "sentence": {sc: scale_sentence(sc, o) for sc in SCALES}}
        for key, o in options.items()}}


def word_starts(result: AttributionResult) -> list[bool]:
    """True at each token that starts a word: the words of ``engine.tokens.word_spans``, as the
    strip and the picture group them, so the page's per-word units are the same."""
    starts = [False] * len(result.tokens)
    for span in word_spans(result.tokens, result.special or [False] * len(result.tokens)):
        starts[span.start] = True
    return starts


def result_page(result: AttributionResult, cmap: str = "viridis",
                exclude: ScaleExclusion | str | None = None) -> str:
    """The whole HTML page for a result of one scope (single, matrix or series), as text.

    ``exclude`` is the attention-sink control the page opens with (the page's "Exclude from
    scale" control switches it; the embedded result keeps every score).
    """
    header, footer = caption_lines(result, result.position, "linear", exclude)
    meta = {"bar": f"{scope_label(result.scope)} score {scope_unit(result.scope)}",
            "lut": colour_steps(cmap), "exclude": exclusion_choices(result, exclude),
            "word_starts": word_starts(result)}
    return build_page(result.to_dict(), meta, header, footer)


def read_embedded(page: str) -> dict:
    """The result contract embedded in a page written by :func:`.html_page.build_page` (any
    kind's page)."""
    start = page.index(f'<script type="application/json" id="{SCRIPT_ID}">')
    start = page.index(">", start) + 1
    end = page.index("</script>", start)
    return json.loads(page[start:end])


