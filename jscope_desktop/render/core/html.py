"""A result as one self-contained web page: no network reference of any kind (inline CSS and
JavaScript, system fonts), readable offline in any browser. The result contract is embedded
verbatim in ``<script type="application/json" id="jscope-result">``, so the page is also the
data. Hover a token for its score and rank, click to pin it; switch linear/log colours and
per-token/per-word units; a generation matrix adds a row chooser, a series its values.

Qt-free: the CLI writes it without a display, the app offers it as "Save as web page…".
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ...engine.errors import finite_or_none
from ...engine.io import write_text
from ...engine.model.tokens import word_spans
from ...engine.results.result import AttributionResult
from ...engine.scopes import scope_label, scope_unit
from .caption import caption_lines, scale_sentence
from .colormaps import COLORMAPS, SCALES
from .view_options import MODE_LABELS, MODES, ScaleExclusion, as_exclusion, scale_mask

SCRIPT_ID = "jscope-result"
LUT_STEPS = 32  # colour-map stops handed to the page (it interpolates between them)


def embedded_json(obj) -> str:
    """``obj`` as JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` escaped (a
    token text ``</script>`` cannot end the element), NaN written as null."""
    text = json.dumps(finite_or_none(obj), ensure_ascii=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


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
    """The whole HTML page for ``result`` (single, multi-position or series), as text.

    ``exclude`` is the attention-sink control the page opens with (the page's "Exclude from
    scale" control switches it; the embedded result keeps every score).
    """
    data = result.to_dict()
    header, footer = caption_lines(result, result.position, "linear", exclude)
    lut = [COLORMAPS[cmap].rgb(i / (LUT_STEPS - 1)) for i in range(LUT_STEPS)]
    meta = {"label": scope_label(result.scope), "unit": scope_unit(result.scope), "lut": lut,
            "header": header, "footer": footer, "exclude": exclusion_choices(result, exclude),
            "word_starts": word_starts(result)}
    title = html.escape(header[0])
    lines = [f"<p class=foot>{html.escape(line)}</p>" for line in footer[:-1]]
    lines.append(f"<p class=foot id=scaleline>{html.escape(footer[-1])}</p>")
    return PAGE.format(
        title=title, header=html.escape(header[0]),
        subheader="".join(f"<p class=sub>{html.escape(line)}</p>" for line in header[1:]),
        footer="".join(lines),
        script_id=SCRIPT_ID, data=embedded_json(data), meta=embedded_json(meta),
        style=STYLE, script=SCRIPT,
    )


def save_html(result: AttributionResult, path: str | Path, cmap: str = "viridis",
              exclude: ScaleExclusion | str | None = None) -> Path:
    """Write :func:`result_page` to ``path`` atomically; returns the path written."""
    return write_text(path, result_page(result, cmap, exclude))


def read_embedded(page: str) -> dict:
    """The result contract embedded in a page written by :func:`result_page`."""
    start = page.index(f'<script type="application/json" id="{SCRIPT_ID}">')
    start = page.index(">", start) + 1
    end = page.index("</script>", start)
    return json.loads(page[start:end])


STYLE = """
body{font:15px system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1a1a1a;
background:#fff}h1{font-size:20px;margin:0 0 4px}.sub,.foot{margin:2px 0;color:#444}
.foot{color:#777;font-size:13px}#controls{margin:12px 0;display:flex;gap:16px;flex-wrap:wrap}
#strip{line-height:2.1;margin:10px 0 6px;max-width:1100px}
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
@media (prefers-color-scheme: dark){body{background:#1e1f22;color:#e8e8e8}
.sub,#bar,#pinned{color:#bbb}.tok.pinned{border-color:#fff}}
"""

# The page's logic, plain ES5 so any browser runs it; it reads only the embedded JSON.
SCRIPT = r"""
(function(){
var R=JSON.parse(document.getElementById('jscope-result').textContent);
var M=JSON.parse(document.getElementById('jscope-meta').textContent);
var state={scale:'linear',unit:'token',row:null,pinned:null,ex:M.exclude.chosen};
function mask(){return M.exclude.choices[state.ex].mask;}
var strip=document.getElementById('strip'),tip=document.getElementById('tip');
function vis(t){if(t==='')return '\u2205';return t.replace(/ /g,'\u00b7').replace(/\n/g,'\u21b5')
.replace(/\t/g,'\u2192').replace(/\r/g,'\u240d');}
function rowScores(){if(!R.positions)return R.scores;var i=state.row===null?
R.positions.length-1:state.row;return R.scores[i];}
function position(){if(!R.positions)return R.position;var i=state.row===null?
R.positions.length-1:state.row;return R.positions[i];}
function units(scores){var out=[],mk=mask();if(state.unit==='token'){
for(var i=0;i<R.tokens.length;i++)out.push({start:i,end:i+1,text:R.tokens[i],score:scores[i],
ex:!!mk[i]});return out;}
var cur=null;for(var j=0;j<R.tokens.length;j++){var t=R.tokens[j],s=scores[j];
var starts=cur===null||M.word_starts[j];
if(starts){cur={start:j,end:j+1,text:t,sq:null,all:null,out:0};out.push(cur);}
else{cur.end=j+1;cur.text+=t;}if(mk[j])cur.out++;
if(s!==null&&s!==undefined){cur.all=(cur.all||0)+s*s;if(!mk[j])cur.sq=(cur.sq||0)+s*s;}}
out.forEach(function(u){u.ex=u.out===u.end-u.start;var q=u.ex?u.all:u.sq;
u.score=q===null?null:Math.sqrt(q);});return out;}
function norm(us){var v=us.filter(function(u){return !u.ex;}).map(function(u){return u.score;})
.filter(function(s){return s!==null&&isFinite(s)&&(state.scale==='linear'||s>0);});
if(!v.length)return function(){return null;};
if(state.scale==='log'){var lo=Math.log10(Math.min.apply(null,v)),hi=Math.log10(Math.max.apply(null,v));
return function(s){if(s===null||!(s>0))return null;return hi>lo?(Math.log10(s)-lo)/(hi-lo):1;};}
var mx=Math.max.apply(null,v);return function(s){return s===null?null:(mx>0?s/mx:0);};}
function color(t){var n=M.lut.length-1,x=Math.max(0,Math.min(1,t))*n,i=Math.floor(x),f=x-i;
var a=M.lut[i],b=M.lut[Math.min(n,i+1)];
var c=[0,1,2].map(function(k){return Math.round(a[k]+(b[k]-a[k])*f);});
return c;}
function ranks(us){var idx=us.map(function(u,i){return i;}).filter(function(i){
return us[i].score!==null&&!us[i].ex;});
idx.sort(function(a,b){return us[b].score-us[a].score;});var r={};idx.forEach(function(i,k){r[i]=k+1;});
return [r,idx.length];}
function draw(){var us=units(rowScores()),f=norm(us),rk=ranks(us),pos=position();strip.innerHTML='';
us.forEach(function(u,i){var el=document.createElement('span');el.className='tok';el.textContent=vis(u.text);
var t=u.ex?null:f(u.score);if(u.ex){el.className+=' ex';}else if(t===null){el.className+=' na';}
else{var c=color(t);
el.style.background='rgb('+c.join(',')+')';
el.style.color=(0.299*c[0]+0.587*c[1]+0.114*c[2])>140?'#111':'#fff';}
if(u.start<=pos&&pos<u.end)el.className+=' explained';
if(state.pinned===i)el.className+=' pinned';
el.dataset.index=String(i);el.dataset.score=u.score===null?'':String(u.score);
el.dataset.rank=rk[0][i]?String(rk[0][i]):'';el.dataset.excluded=u.ex?'1':'';
el.onmousemove=function(e){tip.style.display='block';tip.style.left=(e.clientX+12)+'px';
tip.style.top=(e.clientY+12)+'px';tip.textContent=describe(u,i,rk);};
el.onmouseleave=function(){tip.style.display='none';};
el.onclick=function(){state.pinned=state.pinned===i?null:i;draw();};strip.appendChild(el);});
document.getElementById('pinned').textContent=state.pinned===null?'':'pinned: '+
describe(us[state.pinned],state.pinned,rk).replace(/\n/g,' \u00b7 ');
var g=document.getElementById('ramp'),stops=M.lut.map(function(c,k){return 'rgb('+c.join(',')+') '+
(100*k/(M.lut.length-1)).toFixed(1)+'%';});g.style.background='linear-gradient(to right,'+stops.join(',')+')';
var ch=M.exclude.choices[state.ex];
document.getElementById('barlabel').textContent=M.label+' score '+M.unit+' ('+state.scale+' scale'+
(state.unit==='token'?'':', L2 per word')+(state.ex==='none'?'':'; excludes: '+ch.label)+')';
document.getElementById('scaleline').textContent=ch.sentence[state.scale];
document.getElementById('keyex').style.display=us.some(function(u){return u.ex;})?'':'none';
var kv=us.filter(function(u){return !u.ex&&u.score!==null&&isFinite(u.score);})
.map(function(u){return u.score;}),pv=kv.filter(function(v){return v>0;});
document.getElementById('max').textContent=kv.length?Math.max.apply(null,kv).toPrecision(3):'\u2013';
document.getElementById('min').textContent=state.scale==='log'?(pv.length?
Math.min.apply(null,pv).toPrecision(3):'\u2013'):'0';}
function describe(u,i,rk){var s=u.score===null?'not attributed':u.score.toPrecision(4);
var r=u.ex?'excluded from the colour scale':rk[0][i]?'rank '+rk[0][i]+' of '+rk[1]:'no rank';
return (state.unit==='token'?'token '+u.start:'word of tokens '+u.start+'\u2013'+(u.end-1))+
': '+JSON.stringify(u.text)+'\nscore '+s+'  \u00b7  '+r;}
document.getElementById('scale').onchange=function(e){state.scale=e.target.value;draw();};
var exSel=document.getElementById('exclude');Object.keys(M.exclude.choices).forEach(function(k){
var o=document.createElement('option');o.value=k;o.textContent=M.exclude.choices[k].label;
exSel.appendChild(o);});exSel.value=state.ex;
exSel.onchange=function(e){state.ex=e.target.value;state.pinned=null;draw();};
document.getElementById('unit').onchange=function(e){state.unit=e.target.value;state.pinned=null;draw();};
var rowSel=document.getElementById('row');if(R.positions){rowSel.parentNode.style.display='';
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
<div id="strip"></div><div id="pinned"></div>
<div id="bar"><span id="barlabel"></span><span id="min">0</span><span id="ramp"></span><span id="max"></span>
</div>
<div id="key"><span class=sw style="outline:2px solid #c62828"></span>explained position
<span class=sw style="border:1px dashed #bbb"></span>not attributed
<span id="keyex"><span class="sw tok ex" style="padding:0"></span>excluded from the colour scale
</span></div>
{footer}
<div id="tip"></div>
<script type="application/json" id="{script_id}">{data}</script>
<script type="application/json" id="jscope-meta">{meta}</script>
<script>{script}</script>
</body></html>
"""
