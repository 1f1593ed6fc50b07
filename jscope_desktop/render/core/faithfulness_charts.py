"""The faithfulness report's charts as plain shapes (Qt-free): AOPC per scope with intervals,
the forest plot of paired differences, and the sanity curves.

Each chart is a :class:`Chart` — a size in logical px and a list of shapes in drawing order —
laid out once here; :func:`to_svg` writes it into the web page and the QPainter figure
(``render.figures.faithfulness_figure``) paints the same shapes into the PNG, so the page and
the picture cannot disagree.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

# one colour per scope, fixed (the order of the registry; random grey)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22")
RANDOM_COLOUR = "#7f7f7f"
TEXT, DIM, GRID = "#1a1a1a", "#6e6e6e", "#d0d0d0"
FONT = 12.0


@dataclass
class Shape:
    """One shape: ``kind`` is "line" (points = 2), "polyline", "polygon" (a filled band, with
    ``opacity``), "rect", "circle" (points[0], radius ``r``) or "text" (points[0] the anchor
    point on the baseline, ``anchor`` start|middle|end)."""

    kind: str
    points: list[tuple[float, float]]
    colour: str = TEXT
    width: float = 1.0
    fill: str | None = None
    opacity: float = 1.0
    r: float = 0.0
    text: str = ""
    size: float = FONT
    anchor: str = "start"
    bold: bool = False
    dash: bool = False


@dataclass
class Chart:
    """A chart: ``width`` × ``height`` logical px and its shapes in drawing order."""

    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)

    def text(self, x, y, text, **kw) -> None:
        """Add a text shape at (x, y) (baseline)."""
        self.shapes.append(Shape("text", [(x, y)], text=text, **kw))

    def line(self, x0, y0, x1, y1, **kw) -> None:
        """Add a line from (x0, y0) to (x1, y1)."""
        self.shapes.append(Shape("line", [(x0, y0), (x1, y1)], **kw))


def scope_colour(scopes: list[str], scope: str) -> str:
    """The colour of ``scope``: its place in the scope registry (the same in every chart and
    report), then among ``scopes`` for one the registry does not know; ``random`` grey."""
    from ...engine.scopes import scope_names

    if scope == "random":
        return RANDOM_COLOUR
    named = scope_names() + [s for s in scopes if s not in scope_names() and s != "random"]
    return PALETTE[named.index(scope) % len(PALETTE)] if scope in named else DIM


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo if hi > lo else 1.0
    raw = span / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _limits(values: list[float], include_zero: bool = True) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)] + ([0.0] if include_zero else [])
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    pad = 0.06 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _x_axis(c: Chart, x_of, lo, hi, y0, y1, title: str) -> None:
    for t in _nice_ticks(lo, hi):
        x = x_of(t)
        c.line(x, y0, x, y1, colour=GRID, width=0.8, dash=t != 0)
        c.text(x, y1 + 15, f"{t:g}", colour=DIM, size=10.5, anchor="middle")
    c.text((x_of(lo) + x_of(hi)) / 2, y1 + 32, title, colour=DIM, size=11, anchor="middle")


def _interval_rows(c: Chart, rows: list[tuple[str, str, dict | None, dict | None]], left: float,
                   top: float, title: str, x_title: str, width: float) -> None:
    """Rows of (label, colour, stat, second stat): a dot at the mean and a whisker over the
    interval; the second stat (the correct subset) as a hollow dot just below."""
    vals = [v for _, _, *stats in rows for s in stats if s for v in (s["mean"], *s["ci95"])]
    lo, hi = _limits(vals)
    right = width - 20
    row_h = 26.0
    bottom = top + row_h * len(rows)

    def x_of(v):
        return left + (v - lo) / (hi - lo) * (right - left)

    c.text(20, top - 14, title, bold=True, size=13)
    _x_axis(c, x_of, lo, hi, top, bottom, x_title)
    for i, (label, colour, stat, second) in enumerate(rows):
        y = top + row_h * (i + 0.5)
        c.text(left - 10, y + 4, label, anchor="end", size=11.5)
        for s, dy, hollow in ((stat, -4, False), (second, 5, True)):
            if not s or s["mean"] is None:
                continue
            lo_i, hi_i = s["ci95"]
            if lo_i is not None:
                c.line(x_of(lo_i), y + dy, x_of(hi_i), y + dy, colour=colour, width=1.6)
                for end in (lo_i, hi_i):
                    c.line(x_of(end), y + dy - 3, x_of(end), y + dy + 3, colour=colour, width=1.2)
            c.shapes.append(Shape("circle", [(x_of(s["mean"]), y + dy)], colour=colour, width=1.5,
                                  r=3.6, fill="#ffffff" if hollow else colour))


def aopc_chart(report: dict, width: float = 620.0) -> Chart:
    """AOPC per scope, mean with its 95 % interval: all passages (filled dots) and the correct
    subset (hollow), more negative = more faithful."""
    scopes = list(report["scopes"])
    correct = report.get("aopc_correct") or {}
    rows = [(s, scope_colour(scopes, s), report["aopc"].get(s), correct.get(s)) for s in scopes]
    c = Chart(width, 0)
    _interval_rows(c, rows, 130, 44, f"AOPC, filler {report['filler']['name']} (● all, "
                   f"○ correct; n = {report['n_prompts']}"
                   + (f", {report['n_correct']} correct)" if report.get("n_correct") is not None
                      else ")"), "AOPC (nats × fraction; more negative = more faithful)", width)
    c.height = 44 + 26 * len(rows) + 44
    return c


def forest_chart(report: dict, subset: str = "all", width: float = 620.0) -> Chart:
    """The paired differences of AOPC (a − b) of ``subset`` with their bootstrap intervals,
    largest |difference| first; a star marks Holm-adjusted p < 0.05."""
    scopes = list(report["scopes"])
    pairs = [p for p in report.get("paired", []) if p["subset"] == subset and p["mean_diff"] is not None]
    pairs.sort(key=lambda p: -abs(p["mean_diff"]))
    rows = [(f"{p['a']} − {p['b']}" + (" *" if (p["p_holm"] or 1) < 0.05 else ""),
             scope_colour(scopes, p["a"]), {"mean": p["mean_diff"], "ci95": p["ci95"]}, None)
            for p in pairs]
    c = Chart(width, 0)
    _interval_rows(c, rows, 200, 44, f"Paired AOPC differences, {subset} passages "
                   "(bootstrap 95 %; * Holm p < 0.05)", "mean of a − b (negative: a more faithful)",
                   width)
    c.height = 44 + 26 * max(1, len(rows)) + 44
    return c


def sanity_chart(sanity: dict, width: float = 620.0, height: float = 300.0) -> Chart:
    """Mean Spearman ρ with the original map per number of re-initialised blocks (output side
    first), one line per scope with its 95 % band."""
    scopes = list(sanity["scopes"])
    steps = sanity["steps"]
    c = Chart(width, height)
    left, right, top, bottom = 60.0, width - 130, 40.0, height - 50
    kmax = max(1, steps[-1]["blocks_randomised"] if steps else 1)
    lo, hi = -0.2, 1.05

    def x_of(k):
        return left + k / kmax * (right - left)

    def y_of(v):
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    c.text(20, 22, f"Sanity check: ρ with the original map (n = {sanity['n_prompts']})",
           bold=True, size=13)
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        c.line(left, y_of(t), right, y_of(t), colour=GRID, width=0.8, dash=t != 0)
        c.text(left - 8, y_of(t) + 4, f"{t:g}", colour=DIM, size=10.5, anchor="end")
    for k in _nice_ticks(0, kmax, 6):
        c.text(x_of(k), bottom + 16, f"{k:g}", colour=DIM, size=10.5, anchor="middle")
    c.text((left + right) / 2, bottom + 34, "decoder blocks re-initialised (from the output side)",
           colour=DIM, size=11, anchor="middle")
    for i, s in enumerate(scopes):
        colour = scope_colour(scopes, s)
        pts, upper, lower = [], [], []
        for step in steps:
            stat = step["spearman"].get(s) or {}
            if stat.get("mean") is None:
                continue
            x = x_of(step["blocks_randomised"])
            pts.append((x, y_of(stat["mean"])))
            a, b = stat["ci95"]
            if a is not None:
                upper.append((x, y_of(min(hi, b))))
                lower.append((x, y_of(max(lo, a))))
        if len(upper) > 1:
            c.shapes.append(Shape("polygon", upper + lower[::-1], colour=colour, fill=colour,
                                  opacity=0.15, width=0))
        if len(pts) > 1:
            c.shapes.append(Shape("polyline", pts, colour=colour, width=1.8))
        for p in pts:
            c.shapes.append(Shape("circle", [p], colour=colour, fill=colour, r=2.2))
        c.line(right + 16, top + 10 + 18 * i, right + 36, top + 10 + 18 * i, colour=colour, width=2.5)
        c.text(right + 42, top + 14 + 18 * i, s, size=11.5)
    return c


def to_svg(chart: Chart) -> str:
    """``chart`` as an inline ``<svg>`` element for an HTML page (no namespace needed there;
    system sans-serif fonts; no external reference)."""
    out = [f'<svg width="{chart.width:g}" '
           f'height="{chart.height:g}" viewBox="0 0 {chart.width:g} {chart.height:g}" '
           'font-family="system-ui, -apple-system, Segoe UI, sans-serif">']
    for s in chart.shapes:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in s.points)
        dash = ' stroke-dasharray="3,3"' if s.dash else ""
        if s.kind == "line":
            (x0, y0), (x1, y1) = s.points
            out.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                       f'stroke="{s.colour}" stroke-width="{s.width:g}"{dash}/>')
        elif s.kind == "polyline":
            out.append(f'<polyline points="{pts}" fill="none" stroke="{s.colour}" '
                       f'stroke-width="{s.width:g}"/>')
        elif s.kind == "polygon":
            out.append(f'<polygon points="{pts}" fill="{s.fill}" fill-opacity="{s.opacity:g}" '
                       'stroke="none"/>')
        elif s.kind == "circle":
            (x, y), = s.points
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s.r:g}" fill="{s.fill or "none"}" '
                       f'stroke="{s.colour}" stroke-width="{s.width:g}"/>')
        elif s.kind == "text":
            (x, y), = s.points
            weight = ' font-weight="bold"' if s.bold else ""
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{s.size:g}" fill="{s.colour}" '
                       f'text-anchor="{s.anchor}"{weight}>{html.escape(s.text)}</text>')
    out.append("</svg>")
    return "".join(out)
