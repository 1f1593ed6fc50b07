"""Several scopes of one prediction as one self-contained web page: the strips stacked on one
colour scale choice (linear/log, each row relative to its own largest score), hover for a
token's score and rank in each row, and the Spearman agreement as a small heatmap. No network
reference; the multi-scope contract is embedded verbatim in
``<script type="application/json" id="jscope-result">`` (read it back with
:func:`~.html.read_embedded`). Qt-free.
"""

from __future__ import annotations

import html
from pathlib import Path

from ...engine.io import write_text
from ...engine.results.multi_result import MultiScopeResult
from ...engine.scopes import scope_label, scope_unit
from .colormaps import COLORMAPS
from .html import LUT_STEPS, SCRIPT_ID, embedded_json


def _cell(rho: float | None, lut: list) -> str:
    if rho is None:
        return "<td class=na>–</td>"
    c = lut[round((rho + 1) / 2 * (len(lut) - 1))]
    ink = "#111" if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 140 else "#fff"
    return (f'<td style="background:rgb({c[0]},{c[1]},{c[2]});color:{ink}" '
            f'title="ρ = {rho:.4f}">{rho:.2f}</td>')


def agreement_table(multi: MultiScopeResult, cmap: str = "viridis") -> str:
    """The Spearman matrix as an HTML table, cells coloured from −1 (dark) to +1 (bright)."""
    lut = [COLORMAPS[cmap].rgb(i / (LUT_STEPS - 1)) for i in range(LUT_STEPS)]
    a = multi.agreement
    head = "".join(f"<th>{html.escape(scope_label(n))}</th>" for n in a.scopes)
    rows = "".join(
        f"<tr><th>{html.escape(scope_label(n))}</th>{''.join(_cell(v, lut) for v in row)}</tr>"
        for n, row in zip(a.scopes, a.spearman))
    return f'<table id="agreement"><tr><th></th>{head}</tr>{rows}</table>'


def multi_page(multi: MultiScopeResult, cmap: str = "viridis") -> str:
    """The whole HTML page for ``multi``, as text."""
    first = multi.results[0]
    lut = [COLORMAPS[cmap].rgb(i / (LUT_STEPS - 1)) for i in range(LUT_STEPS)]
    labels = [f"{scope_label(r.scope)} ({scope_unit(r.scope)})" for r in multi.results]
    t = multi.timing
    title = f"{len(multi.results)} scopes · {first.model.get('name', 'model')}"
    sub = (f"Explaining the prediction after token {first.position} "
           f"({first.tokens[first.position]!r}); {len(first.tokens)} tokens, {first.device}, "
           f"{first.dtype}.")
    foot = (f"Forward {t.forward_s * 1000:.0f} ms · all scopes {t.total_s * 1000:.0f} ms · "
            f"{t.backward_passes} batched backward passes. Colours: each row relative to its "
            "own largest score; raw scores are in the embedded JSON.")
    return PAGE.format(
        title=html.escape(title), sub=html.escape(sub), foot=html.escape(foot),
        table=agreement_table(multi, cmap), script_id=SCRIPT_ID, data=embedded_json(
            multi.to_dict()), meta=embedded_json({"lut": lut, "labels": labels}),
        style=STYLE, script=SCRIPT)


def save_multi_html(multi: MultiScopeResult, path: str | Path, cmap: str = "viridis") -> Path:
    """Write :func:`multi_page` to ``path`` atomically; returns the path written."""
    return write_text(path, multi_page(multi, cmap))


STYLE = """
body{font:15px system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1a1a1a;
background:#fff}h1{font-size:20px;margin:0 0 4px}.sub,.foot{margin:2px 0;color:#444}
.foot{color:#777;font-size:13px}#controls{margin:12px 0}h2{font-size:14px;margin:14px 0 2px}
.strip{line-height:2.1;max-width:1100px}.tok{padding:3px 4px;margin:0 2px;border-radius:4px;
white-space:pre;border:1px solid transparent}.tok.na{color:#999;border:1px dashed #bbb}
.tok.explained{outline:2px solid #c62828}#tip{position:fixed;pointer-events:none;
background:#222;color:#fff;padding:6px 8px;border-radius:4px;font-size:13px;display:none;
white-space:pre}#agreement{border-collapse:collapse;margin:8px 0;font-size:13px}
#agreement td,#agreement th{padding:4px 8px;text-align:center}#agreement td{min-width:44px}
#agreement td.na{color:#999}
@media (prefers-color-scheme: dark){body{background:#1e1f22;color:#e8e8e8}.sub{color:#bbb}}
"""

SCRIPT = r"""
(function(){
var R=JSON.parse(document.getElementById('jscope-result').textContent);
var M=JSON.parse(document.getElementById('jscope-meta').textContent);
var scale='linear',tip=document.getElementById('tip'),box=document.getElementById('strips');
function vis(t){if(t==='')return '\u2205';return t.replace(/ /g,'\u00b7').replace(/\n/g,'\u21b5')
.replace(/\t/g,'\u2192').replace(/\r/g,'\u240d');}
function norm(sc){var v=sc.filter(function(s){return s!==null&&isFinite(s)&&(scale==='linear'||s>0);});
if(!v.length)return function(){return null;};var mx=Math.max.apply(null,v);
if(scale==='log'){var lo=Math.max(Math.min.apply(null,v),mx*1e-4);lo=lo<mx?lo:mx/10;
return function(s){if(s===null)return null;if(!(s>lo))return 0;return Math.log(s/lo)/Math.log(mx/lo);};}
return function(s){return s===null?null:(mx>0?s/mx:0);};}
function color(t){var n=M.lut.length-1,x=Math.max(0,Math.min(1,t))*n,i=Math.floor(x),f=x-i;
var a=M.lut[i],b=M.lut[Math.min(n,i+1)];
return [0,1,2].map(function(k){return Math.round(a[k]+(b[k]-a[k])*f);});}
function ranks(sc){var idx=[];sc.forEach(function(s,i){if(s!==null)idx.push(i);});
idx.sort(function(a,b){return sc[b]-sc[a];});var r={};
idx.forEach(function(i,k){r[i]=k+1;});return [r,idx.length];}
function draw(){box.innerHTML='';R.results.forEach(function(res,k){var h=document.createElement('h2');
h.textContent=M.labels[k];box.appendChild(h);var d=document.createElement('div');d.className='strip';
var f=norm(res.scores),rk=ranks(res.scores);
res.tokens.forEach(function(tok,i){var el=document.createElement('span');
el.className='tok';el.textContent=vis(tok);var s=res.scores[i],t=f(s);
if(t===null){el.className+=' na';}else{var c=color(t);el.style.background='rgb('+c.join(',')+')';
el.style.color=(0.299*c[0]+0.587*c[1]+0.114*c[2])>140?'#111':'#fff';}
if(i===res.position)el.className+=' explained';
el.onmousemove=function(e){tip.style.display='block';tip.style.left=(e.clientX+12)+'px';
tip.style.top=(e.clientY+12)+'px';tip.textContent=M.labels[k]+'\ntoken '+i+': '+JSON.stringify(tok)+
'\nscore '+(s===null?'not attributed':s.toPrecision(4)+'  \u00b7  rank '+rk[0][i]+' of '+rk[1]);};
el.onmouseleave=function(){tip.style.display='none';};d.appendChild(el);});box.appendChild(d);});}
document.getElementById('scale').onchange=function(e){scale=e.target.value;draw();};draw();})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{title}</title><style>{style}</style></head><body>
<h1>{title}</h1><p class=sub>{sub}</p>
<div id="controls"><label>Colours (every row) <select id="scale">
<option value="linear">linear</option><option value="log">log</option></select></label></div>
<div id="strips"></div>
<h2>Rank agreement (Spearman ρ over attributed tokens)</h2>{table}
<p class=foot>{foot}</p>
<div id="tip"></div>
<script type="application/json" id="{script_id}">{data}</script>
<script type="application/json" id="jscope-meta">{meta}</script>
<script>{script}</script>
</body></html>
"""
