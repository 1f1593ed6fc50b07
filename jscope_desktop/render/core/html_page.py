"""The one web page every result is shown in: a header, the controls, the strip component (one
row of tokens or several stacked, each coloured relative to its own largest score), the colour
bar, a key, what a kind adds below (a several-scopes result: the agreement table) and a footer.

Self-contained: no network reference of any kind (inline CSS and ES5 JavaScript, system fonts).
The result contract is embedded verbatim in ``<script type="application/json"
id="jscope-result">`` (the page is also the data) and the page's own settings in
``id="jscope-meta"``. The strip component reads its rows from the contract: one row for a single
result or a series, the chosen row of a generation matrix, one row per scope for a several-scopes
result. Hover a token for its score and rank, click to pin it; switch linear/log colours,
per-token/per-word units and what the colour scale leaves out. Qt-free.
"""

from __future__ import annotations

import html
import json

from ...engine.errors import finite_or_none
from .colormaps import COLORMAPS, LOG_DECADES

SCRIPT_ID = "jscope-result"
LUT_STEPS = 32  # colour-map stops handed to the page (it interpolates between them)


def embedded_json(obj) -> str:
    """``obj`` as JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` escaped (a
    token text ``</script>`` cannot end the element), NaN written as null."""
    text = json.dumps(finite_or_none(obj), ensure_ascii=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def colour_steps(cmap: str) -> list[tuple[int, int, int]]:
    """``LUT_STEPS`` evenly spaced colours of the map ``cmap``, 0–255 RGB (the page interpolates)."""
    return [COLORMAPS[cmap].rgb(i / (LUT_STEPS - 1)) for i in range(LUT_STEPS)]


def build_page(data: dict, meta: dict, header: list[str], footer: list[str],
               below: str = "") -> str:
    """The whole page as text.

    Args:
        data: the result contract to embed (any kind; the strip component reads its rows).
        meta: the page's settings: ``lut`` (:func:`colour_steps`), ``exclude`` (the attention-sink
            choices, ``html.exclusion_choices``), ``word_starts`` (one bool per token), and
            ``bar`` (the colour bar's title before the scale) or ``labels`` (one per row of a
            several-scopes result).
        header: the title line, then sub-lines.
        footer: lines under the strips; the last is the colour scale's sentence (the page
            rewrites it when the scale or the exclusion changes).
        below: HTML placed between the key and the footer (escaped by the caller).

    Returns:
        One self-contained HTML document.
    """
    meta = {**meta, "log_decades": LOG_DECADES}
    lines = [f"<p class=foot>{html.escape(line)}</p>" for line in footer[:-1]]
    lines.append(f"<p class=foot id=scaleline>{html.escape(footer[-1])}</p>")
    return PAGE.format(
        title=html.escape(header[0]), header=html.escape(header[0]),
        subheader="".join(f"<p class=sub>{html.escape(line)}</p>" for line in header[1:]),
        below=below, footer="".join(lines), script_id=SCRIPT_ID, data=embedded_json(data),
        meta=embedded_json(meta), style=STYLE, script=SCRIPT)


STYLE = """
body{font:15px system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1a1a1a;
background:#fff}h1{font-size:20px;margin:0 0 4px}.sub,.foot{margin:2px 0;color:#444}
.foot{color:#777;font-size:13px}#controls{margin:12px 0;display:flex;gap:16px;flex-wrap:wrap}
h2{font-size:14px;margin:14px 0 2px}
.strip{line-height:2.1;margin:10px 0 6px;max-width:1100px}
.tok{padding:3px 4px;margin:0 2px;border-radius:4px;cursor:pointer;white-space:pre;
border:1px solid transparent}.tok.na{color:#999;border:1px dashed #bbb}
.tok.explained{outline:2px solid #c62828}
.tok.ex{color:#1a1a1a;border:1px dashed #777;background:repeating-linear-gradient(135deg,
#d9d9d9 0 4px,#b8b8b8 4px 6px)}#key{font-size:13px;color:#444;margin:6px 0}
#key span.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 6px 0 14px}
.tok.pinned{border:2px solid #000}
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:6px 8px;
border-radius:4px;font-size:13px;display:none;white-space:pre}#bar{display:flex;
align-items:center;gap:8px;font-size:13px;color:#444}#ramp{width:300px;height:12px;
border:1px solid #ccc}#pinned{font-size:13px;color:#333;min-height:1.2em}
#agreement{border-collapse:collapse;margin:8px 0;font-size:13px}
#agreement td,#agreement th{padding:4px 8px;text-align:center}#agreement td{min-width:44px}
#agreement td.na{color:#999}
@media (prefers-color-scheme: dark){body{background:#1e1f22;color:#e8e8e8}
.sub,#bar,#pinned{color:#bbb}.tok.pinned{border-color:#fff}}
"""

# The strip component, plain ES5 so any browser runs it; it reads only the embedded JSON. Colours
# follow render.core.colormaps.Normalizer: linear from 0 to the row's largest score, log from the
# smallest positive score (at most log_decades below the top) to the top.
SCRIPT = r"""
(function(){
var R=JSON.parse(document.getElementById('jscope-result').textContent);
var M=JSON.parse(document.getElementById('jscope-meta').textContent);
var many=!!R.results,state={scale:'linear',unit:'token',row:null,pinned:null,ex:M.exclude.chosen};
var box=document.getElementById('strips'),tip=document.getElementById('tip');
function mask(){return M.exclude.choices[state.ex].mask;}
function vis(t){if(t==='')return '\u2205';return t.replace(/ /g,'\u00b7').replace(/\n/g,'\u21b5')
.replace(/\t/g,'\u2192').replace(/\r/g,'\u240d');}
function rows(){if(many)return R.results.map(function(r,k){return {label:M.labels[k],
tokens:r.tokens,scores:r.scores,position:r.position};});
if(!R.positions)return [{label:null,tokens:R.tokens,scores:R.scores,position:R.position}];
var i=state.row===null?R.positions.length-1:state.row;
return [{label:null,tokens:R.tokens,scores:R.scores[i],position:R.positions[i]}];}
function units(row){var out=[],mk=mask(),tk=row.tokens,sc=row.scores;if(state.unit==='token'){
for(var i=0;i<tk.length;i++)out.push({start:i,end:i+1,text:tk[i],score:sc[i],ex:!!mk[i]});
return out;}
var cur=null;for(var j=0;j<tk.length;j++){var s=sc[j];var starts=cur===null||M.word_starts[j];
if(starts){cur={start:j,end:j+1,text:tk[j],sq:null,all:null,out:0};out.push(cur);}
else{cur.end=j+1;cur.text+=tk[j];}if(mk[j])cur.out++;
if(s!==null&&s!==undefined){cur.all=(cur.all||0)+s*s;if(!mk[j])cur.sq=(cur.sq||0)+s*s;}}
out.forEach(function(u){u.ex=u.out===u.end-u.start;var q=u.ex?u.all:u.sq;
u.score=q===null?null:Math.sqrt(q);});return out;}
function kept(us){return us.filter(function(u){return !u.ex&&u.score!==null&&isFinite(u.score);})
.map(function(u){return u.score;});}
function norm(us){var v=kept(us),mx=v.length?Math.max.apply(null,v):1;if(!(mx>0))mx=1;
if(state.scale==='log'){var pv=v.filter(function(x){return x>0;});
var lo=Math.max(pv.length?Math.min.apply(null,pv):mx,mx*Math.pow(10,-M.log_decades));
if(!(lo<mx))lo=mx/10;return function(s){if(s===null||!isFinite(s))return null;
if(!(s>lo))return 0;return Math.log(s/lo)/Math.log(mx/lo);};}
return function(s){return s===null||!isFinite(s)?null:s/mx;};}
function color(t){var n=M.lut.length-1,x=Math.max(0,Math.min(1,t))*n,i=Math.floor(x),f=x-i;
var a=M.lut[i],b=M.lut[Math.min(n,i+1)];
return [0,1,2].map(function(k){return Math.round(a[k]+(b[k]-a[k])*f);});}
function ranks(us){var idx=us.map(function(u,i){return i;}).filter(function(i){
return us[i].score!==null&&!us[i].ex;});
idx.sort(function(a,b){return us[b].score-us[a].score;});var r={};idx.forEach(function(i,k){r[i]=k+1;});
return [r,idx.length];}
function describe(row,u,i,rk){var s=u.score===null?'not attributed':u.score.toPrecision(4);
var r=u.ex?'excluded from the colour scale':rk[0][i]?'rank '+rk[0][i]+' of '+rk[1]:'no rank';
return (row.label?row.label+'\n':'')+(state.unit==='token'?'token '+(u.start+1):'word of tokens '+
(u.start+1)+'\u2013'+u.end)+': '+JSON.stringify(u.text)+'\nscore '+s+'  \u00b7  '+r;}
function drawRow(row,k){var us=units(row),f=norm(us),rk=ranks(us),pos=row.position;
if(row.label){var h=document.createElement('h2');h.textContent=row.label;box.appendChild(h);}
var d=document.createElement('div');d.className='strip';d.id=k?'strip-'+k:'strip';
us.forEach(function(u,i){var el=document.createElement('span');el.className='tok';
el.textContent=vis(u.text);var t=u.ex?null:f(u.score);if(u.ex){el.className+=' ex';}
else if(t===null){el.className+=' na';}else{var c=color(t);
el.style.background='rgb('+c.join(',')+')';
el.style.color=(0.299*c[0]+0.587*c[1]+0.114*c[2])>140?'#111':'#fff';}
if(u.start<=pos&&pos<u.end)el.className+=' explained';
var here=state.pinned&&state.pinned[0]===k&&state.pinned[1]===i;if(here)el.className+=' pinned';
el.dataset.index=String(i);el.dataset.score=u.score===null?'':String(u.score);
el.dataset.rank=rk[0][i]?String(rk[0][i]):'';el.dataset.excluded=u.ex?'1':'';
el.onmousemove=function(e){tip.style.display='block';tip.style.left=(e.clientX+12)+'px';
tip.style.top=(e.clientY+12)+'px';tip.textContent=describe(row,u,i,rk);};
el.onmouseleave=function(){tip.style.display='none';};
el.onclick=function(){state.pinned=here?null:[k,i];draw();};d.appendChild(el);
if(here)document.getElementById('pinned').textContent='pinned: '+
describe(row,u,i,rk).replace(/\n/g,' \u00b7 ');});box.appendChild(d);return us;}
function draw(){box.innerHTML='';document.getElementById('pinned').textContent='';
var all=[];rows().forEach(function(row,k){all=all.concat(drawRow(row,k));});
var g=document.getElementById('ramp'),stops=M.lut.map(function(c,k){return 'rgb('+c.join(',')+') '+
(100*k/(M.lut.length-1)).toFixed(1)+'%';});g.style.background='linear-gradient(to right,'+stops.join(',')+')';
var ch=M.exclude.choices[state.ex];
document.getElementById('barlabel').textContent=(many?'score as a fraction of each row\u2019s largest':
M.bar)+' ('+state.scale+' scale'+(state.unit==='token'?'':', L2 per word')+
(state.ex==='none'?'':'; excludes: '+ch.label)+')';
document.getElementById('scaleline').textContent=ch.sentence[state.scale];
document.getElementById('keyex').style.display=all.some(function(u){return u.ex;})?'':'none';
var kv=kept(all),pv=kv.filter(function(v){return v>0;});
document.getElementById('max').textContent=many?'1':kv.length?Math.max.apply(null,kv).toPrecision(3):'\u2013';
document.getElementById('min').textContent=state.scale==='log'?(many?'\u2264'+Math.pow(10,-M.log_decades):
pv.length?Math.min.apply(null,pv).toPrecision(3):'\u2013'):'0';}
document.getElementById('scale').onchange=function(e){state.scale=e.target.value;draw();};
var exSel=document.getElementById('exclude');Object.keys(M.exclude.choices).forEach(function(k){
var o=document.createElement('option');o.value=k;o.textContent=M.exclude.choices[k].label;
exSel.appendChild(o);});exSel.value=state.ex;
exSel.onchange=function(e){state.ex=e.target.value;state.pinned=null;draw();};
document.getElementById('unit').onchange=function(e){state.unit=e.target.value;state.pinned=null;draw();};
var rowSel=document.getElementById('row');if(!many&&R.positions){rowSel.parentNode.style.display='';
R.positions.forEach(function(p,k){var o=document.createElement('option');o.value=String(k);
o.textContent='row '+(k+1)+': explains '+JSON.stringify(R.tokens[p+1]||'');rowSel.appendChild(o);});
rowSel.value=String(R.positions.length-1);rowSel.onchange=function(e){state.row=+e.target.value;
state.pinned=null;draw();};}
draw();})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{title}</title><style>{style}</style></head><body>
<h1>{header}</h1>{subheader}
<div id="controls">
<label>Colours <select id="scale"><option value="linear">linear</option>
<option value="log">log</option></select></label>
<label>Units <select id="unit"><option value="token">per token</option>
<option value="word">per word</option></select></label>
<label title="The attention sink can make early tokens look important: leave tokens out of the
 colour scale and the ranking (the embedded scores are not changed)">Exclude from scale
 <select id="exclude"></select></label>
<label style="display:none">Row <select id="row"></select></label>
</div>
<div id="strips"></div><div id="pinned"></div>
<div id="bar"><span id="barlabel"></span><span id="min">0</span><span id="ramp"></span><span id="max"></span>
</div>
<div id="key"><span class=sw style="outline:2px solid #c62828"></span>explained position
<span class=sw style="border:1px dashed #bbb"></span>not attributed
<span id="keyex"><span class="sw tok ex" style="padding:0"></span>excluded from the colour scale
</span></div>
{below}
{footer}
<div id="tip"></div>
<script type="application/json" id="{script_id}">{data}</script>
<script type="application/json" id="jscope-meta">{meta}</script>
<script>{script}</script>
</body></html>
"""
