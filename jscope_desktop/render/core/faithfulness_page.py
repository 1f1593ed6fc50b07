"""The faithfulness report as one self-contained web page (Qt-free): what was measured, the
tables (AOPC with intervals for all and the correct passages, Δ log p per fraction, the paired
tests, agreement with leave-one-out, the sanity curve) and the charts of
:mod:`.faithfulness_charts` as inline SVG. No network reference, no script; the report (and the
sanity report when given) is embedded verbatim as JSON, so the page is also the data."""

from __future__ import annotations

import html

from .faithfulness_charts import aopc_chart, forest_chart, sanity_chart, to_svg
from .html_page import embedded_json

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;
color:#1a1a1a;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
p.meta,p.note{color:#555;font-size:13px;margin:4px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.charts svg{border:1px solid #eee;background:#fff}
"""


def _num(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _stat(s: dict | None, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "–"
    lo, hi = s["ci95"]
    return _num(s["mean"], digits) + ("" if lo is None else f" [{_num(lo, digits)}, {_num(hi, digits)}]")


def _p(v) -> str:
    return "–" if v is None else (f"{v:.3g}" if v >= 1e-4 else f"{v:.1e}")


def _table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def aopc_table(report: dict) -> str:
    """AOPC per scope: all passages and the correct subset (mean [95 % CI], n)."""
    corr = report.get("aopc_correct") or {}
    rows = [[s, _stat(report["aopc"].get(s)), str(report["aopc"][s]["n"]), _stat(corr.get(s)),
             str((corr.get(s) or {}).get("n", "–"))] for s in report["scopes"]]
    return _table(["scope", "AOPC, all", "n", "AOPC, correct", "n"], rows)


def delta_table(report: dict) -> str:
    """Δ log p(top-1) per scope and fraction (mean [95 % CI])."""
    keys = [f"{f:g}" for f in report["fractions"]]
    rows = [[s] + [_stat(report["results"][s].get(k), 2) for k in keys] for s in report["scopes"]]
    return _table(["scope"] + [f"top {float(k) * 100:g} %" for k in keys], rows)


def paired_table(report: dict, subset: str) -> str:
    """The paired tests of ``subset``: mean a − b, bootstrap interval, Wilcoxon and Holm p."""
    rows = [[f"{p['a']} − {p['b']}", _num(p["mean_diff"]),
             f"[{_num(p['ci95'][0])}, {_num(p['ci95'][1])}]", _p(p["p_wilcoxon"]),
             _p(p["p_holm"]), str(p["n"])]
            for p in report.get("paired", []) if p["subset"] == subset]
    return _table(["a − b", "mean difference", "bootstrap 95 %", "Wilcoxon p", "Holm p", "n"], rows)


def loo_table(report: dict, key: str = "loo_agreement") -> str:
    """Agreement with leave-one-out: Spearman and Kendall τ-b with LOO KL and LOO Δ log p."""
    agree = report.get(key) or {}
    rows = [[s] + [_stat(agree[s][e][m]) for e in ("kl", "logp") for m in ("spearman", "kendall")]
            for s in report["scopes"] if s in agree]
    return _table(["scope", "ρ (KL)", "τ (KL)", "ρ (Δ log p)", "τ (Δ log p)"], rows)


def sanity_table(sanity: dict) -> str:
    """Mean ρ with the original map per step (every step's interval in the JSON)."""
    rows = [[str(st["blocks_randomised"])] + [_stat(st["spearman"].get(s)) for s in sanity["scopes"]]
            for st in sanity["steps"]]
    return _table(["blocks re-initialised"] + list(sanity["scopes"]), rows)


def faithfulness_page(report: dict, sanity: dict | None = None) -> str:
    """The web page of a faithfulness ``report`` (one filler), with the curves of a ``sanity``
    report when given; returns the page's text."""
    f = report["filler"]
    filler = "zero vector" if f.get("token_id") is None else f"token {f.get('token')!r} (id {f['token_id']})"
    model = report.get("model", {}).get("name", "?")
    parts = [
        f"<h1>Faithfulness of the scopes — {html.escape(model)}, filler {html.escape(f['name'])}</h1>",
        f"<p class=meta>{report['n_prompts']} passages of {html.escape(str(report.get('prompts_file')))}"
        f", explain {html.escape(report['explain'])}, fractions "
        f"{', '.join(f'{x:g}' for x in report['fractions'])}, filler {html.escape(filler)}, "
        f"{html.escape(report.get('device', ''))} {html.escape(report.get('dtype', ''))}"
        + (f", accuracy {report['accuracy']:.1%} ({report['n_correct']} correct)"
           if report.get("accuracy") is not None else "") + "</p>",
    ]
    if f.get("fallback"):
        parts.append(f"<p class=note>Filler: {html.escape(f['fallback'])}.</p>")
    charts = [to_svg(aopc_chart(report)), to_svg(forest_chart(report, "all"))]
    if sanity:
        charts.append(to_svg(sanity_chart(sanity)))
    parts.append("<div class=charts>" + "".join(charts) + "</div>")
    parts += ["<h2>AOPC</h2>", f"<p class=note>{html.escape(report.get('aopc_metric', ''))}. "
              f"{html.escape(report.get('interval', ''))}.</p>", aopc_table(report),
              "<h2>Δ log p(top-1) per fraction</h2>",
              f"<p class=note>{html.escape(report.get('metric', ''))}.</p>", delta_table(report),
              "<h2>Paired tests, all passages</h2>",
              f"<p class=note>{html.escape(report.get('paired_method', ''))}.</p>",
              paired_table(report, "all")]
    if any(p["subset"] == "correct" for p in report.get("paired", [])):
        parts += ["<h2>Paired tests, correct passages</h2>", paired_table(report, "correct")]
    if report.get("loo_agreement"):
        parts += ["<h2>Agreement with leave-one-out</h2>",
                  f"<p class=note>{html.escape(report.get('loo', ''))}.</p>", loo_table(report)]
    if sanity:
        parts += ["<h2>Sanity check (model randomisation)</h2>",
                  f"<p class=note>{html.escape(sanity.get('method', ''))}; model "
                  f"{html.escape(sanity.get('model', {}).get('name', '?'))}, "
                  f"{sanity['n_prompts']} passages.</p>", sanity_table(sanity)]
    data = (f'<script type="application/json" id="jscope-faithfulness">{embedded_json(report)}</script>'
            + (f'<script type="application/json" id="jscope-sanity">{embedded_json(sanity)}</script>'
               if sanity else ""))
    title = html.escape(f"Faithfulness — {model}, filler {f['name']}")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}{data}</body></html>")
