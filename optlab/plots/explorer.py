"""explorer.html: one self-contained page to browse a batched sweep by hand.

The page holds every precomputed trajectory of the sweep (per optimizer: lr x
momentum/beta x start x record, float32, base64) and the objective's values
on a grid, and draws them on plain ``<canvas>`` elements with a small inline
script: no library, no CDN, nothing fetched at view time. A plotting library
would add megabytes of script to parse before the page responds (plotly's
bundle alone is ~3.5 MB) for four simple panels; the canvas page stays a few
kilobytes of code on top of its data and is interactive at once.

The page exposes ``window.explorer`` for tests and curious users:
``explorer.state`` (optimizer, lr index, momentum index, start index, frame),
``explorer.drawn`` (the [x, y] points of the trajectory as drawn, the float32
numbers of the data) and ``explorer.view`` (the landscape's data box and
where it sits on its canvas, in canvas pixels) and ``explorer.heatView`` (the
heatmap's cells on theirs). A click on the landscape selects the start nearest
on screen.
"""
from __future__ import annotations

import base64
import html
import json

import numpy as np

PER_RECORD = 3 * 4       # x, y and loss of one recorded point, float32
PER_TRAJ = 3 * 4         # final loss (float32), diverged step and steps to tolerance (int32)


def b64(arr, dtype) -> str:
    """Little-endian bytes of ``arr`` as ``dtype``, base64 (what the page decodes into a typed array).
    A value beyond float32's range (a diverging run's loss) becomes inf there, without numpy's warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        data = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(data.tobytes()).decode()


def estimate_bytes(cells: list[int], n_start: int, n_rec: int, grid: int) -> int:
    """Size of the page for optimizers with ``cells[k]`` (lr, momentum) cells each, ``n_start`` starts,
    ``n_rec`` records per trajectory and a ``grid`` x ``grid`` landscape (base64 is 4/3 of the bytes)."""
    raw = sum(c * n_start * (n_rec * PER_RECORD + PER_TRAJ) for c in cells) + grid * grid * 4
    text = len(_HTML.encode()) + 1500 + 45 * n_start + 7 * n_rec + 1000 * len(cells)  # template, title, JSON lists
    return text + -(-raw * 4 // 3)


def page(title: str, landscape: dict, starts: np.ndarray, steps: np.ndarray, optimizers: list[dict],
         minima=(), f_ref=None, f_ref_label="f", initial=None, tol=None) -> str:
    """The HTML text of the explorer.

    ``landscape``: ``box`` [[x0, x1], [y0, y1]] and ``values`` (ny, nx) of the objective on a grid spanning
    the box (row 0 at y0). ``optimizers``: dicts with ``name``, ``knob`` (the second swept hyperparameter),
    ``lr`` and ``knob_values`` (the grid), ``x`` (n_lr, n_knob, n_start, n_rec, 2), ``loss`` (n_lr, n_knob,
    n_start, n_rec), ``loss_final``, ``diverged_step`` and ``tol_step`` (n_lr, n_knob, n_start).
    ``f_ref``: the value subtracted before the log scale of the loss (the known minimum, or None): in
    float64, before the float32 of the page (six-hump camel's f* = -1.03...: float32(f) - f* was its
    rounding, 3.6e-8 or 0, where the gap was 1e-9). ``tol``: the run's tolerance, said in the info line.
    ``initial``: the selection shown first (``opt``, ``lr``, ``knob``, ``start`` indices).
    """
    vals = np.asarray(landscape["values"], dtype=float)
    data = dict(
        title=title,
        box=np.asarray(landscape["box"], dtype=float).tolist(),
        grid=[int(vals.shape[1]), int(vals.shape[0])],
        values=b64(vals, "f4"),
        starts=np.asarray(starts, dtype=np.float32).astype(float).tolist(),
        steps=np.asarray(steps, dtype=int).tolist(),
        minima=[[float(m[0]), float(m[1])] for m in minima],
        fRef=None if f_ref is None else float(f_ref),
        fRefLabel=f_ref_label,
        tol=None if tol is None else float(tol),
        optimizers=[],
        initial={k: int(v) for k, v in (initial or {}).items()},
    )
    ref = 0.0 if f_ref is None else float(f_ref)
    for o in optimizers:
        x = np.asarray(o["x"])
        with np.errstate(invalid="ignore", over="ignore"):
            loss = np.asarray(o["loss"], dtype=float) - ref            # the gap, in float64
            loss_final = np.asarray(o["loss_final"], dtype=float) - ref
        data["optimizers"].append(dict(
            name=o["name"], knob=o["knob"], lr=[float(v) for v in o["lr"]],
            knobValues=[float(v) for v in o["knob_values"]], shape=list(x.shape[:4]),
            x=b64(x, "f4"), loss=b64(loss, "f4"), lossFinal=b64(loss_final, "f4"),
            divStep=b64(o["diverged_step"], "i4"), tolStep=b64(o["tol_step"], "i4")))
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return _HTML.replace("__TITLE__", html.escape(title)).replace("__DATA__", blob)


_HTML = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>__TITLE__</title>
<style>
body{font:14px system-ui,sans-serif;margin:12px;color:#222;background:#fff}
h1{font-size:17px;margin:0 0 8px}
#controls{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin-bottom:8px;position:sticky;top:0;
  background:#fff;z-index:1;padding:4px 0}
#controls label{display:flex;gap:6px;align-items:center}
input[type=range]{width:180px}
.val{font-variant-numeric:tabular-nums;min-width:70px;display:inline-block}
#panels{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}
#right{display:flex;flex-direction:column;gap:8px;width:444px}
canvas{border:1px solid #ccc;background:#fff}
#info{font-variant-numeric:tabular-nums;margin:6px 0;min-height:1.3em}
.hint{color:#666;font-size:12px}
</style></head><body>
<h1>__TITLE__</h1>
<div id="controls">
<label>optimizer <select id="opt"></select></label>
<label>lr <input id="lr" type="range" min="0" step="1"><span class="val" id="lrv"></span></label>
<label><span id="knobname">momentum</span> <input id="knob" type="range" min="0" step="1"><span class="val" id="knobv"></span></label>
<button id="play" type="button">play</button>
<label>step <input id="frame" type="range" min="0" step="1"><span class="val" id="framev"></span></label>
</div>
<div id="info"></div>
<div id="panels">
<canvas id="land" width="520" height="500"></canvas>
<div id="right">
<canvas id="loss" width="440" height="220"></canvas>
<canvas id="heat" width="440" height="260"></canvas>
<div class="hint">Click the landscape to start from the nearest precomputed start (white dots).<br>
Click a heatmap cell to choose its (lr, second knob); the outlined cell is the current one.<br>
A run that diverged is drawn up to its last finite point, marked &#x2715; (at the border when it left the box).</div>
</div></div>
<script id="explorer-data" type="application/json">__DATA__</script>
<script>
"use strict";
(function(){
const D=JSON.parse(document.getElementById("explorer-data").textContent);
function dec(s,T){const b=atob(s),u=new Uint8Array(b.length);for(let i=0;i<b.length;i++)u[i]=b.charCodeAt(i);return new T(u.buffer);}
const VALUES=dec(D.values,Float32Array);
const OPTS=D.optimizers.map(o=>Object.assign({},o,{X:dec(o.x,Float32Array),L:dec(o.loss,Float32Array),
  F:dec(o.lossFinal,Float32Array),DIV:dec(o.divStep,Int32Array),TOL:dec(o.tolStep,Int32Array)}));
const S=D.starts, NS=S.length, NR=D.steps.length;
const st=Object.assign({opt:0,lr:0,knob:0,start:0},D.initial,{frame:NR-1,playing:false});
const VIR=[[68,1,84],[71,44,122],[59,81,139],[44,113,142],[33,144,141],[39,173,129],[92,200,99],[170,220,50],[253,231,37]];
function cmap(t){t=Math.min(1,Math.max(0,t));const k=t*(VIR.length-1),i=Math.min(VIR.length-2,Math.floor(k)),f=k-i;
  return VIR[i].map((c,j)=>Math.round(c+(VIR[i+1][j]-c)*f));}
function fmt(v){if(!isFinite(v))return String(v);const a=Math.abs(v);return (a!==0&&(a<1e-3||a>=1e4))?v.toExponential(2):(+v.toPrecision(3)).toString();}
const fRef=D.fRef;
const TOLTXT=D.tol===null?"":" ("+(fRef===null?"gradient norm":D.fRefLabel)+" \u2264 "+fmt(D.tol)+")";
function lg(v){return Math.log10(Math.max(v,1e-16));}  // the losses are f - f* already where f* is known
const useLog=fRef!==null||Array.from(VALUES).every(v=>v>0);
function tr(v){return useLog?lg(v):v;}
// --- landscape ---------------------------------------------------------------
const land=document.getElementById("land"),lc=land.getContext("2d");
const box=D.box,M={l:48,t:10,w:460,h:440};
const view={x0:box[0][0],x1:box[0][1],y0:box[1][0],y1:box[1][1],left:M.l,top:M.t,width:M.w,height:M.h};
function px(x){return M.l+(x-view.x0)/(view.x1-view.x0)*M.w;}
function py(y){return M.t+(1-(y-view.y0)/(view.y1-view.y0))*M.h;}
function sorted(a){return Array.from(a).filter(isFinite).sort((p,q)=>p-q);}
function q(a,p){return a.length?a[Math.min(a.length-1,Math.floor(p*(a.length-1)))]:0;}
const bg=document.createElement("canvas");
(function(){const [nx,ny]=D.grid;bg.width=nx;bg.height=ny;const c=bg.getContext("2d"),img=c.createImageData(nx,ny);
  const z=Array.from(VALUES,tr),s=sorted(z),lo=q(s,0.01),hi=q(s,0.99),nb=18;
  for(let j=0;j<ny;j++)for(let i=0;i<nx;i++){const v=z[j*nx+i];let t=(v-lo)/((hi-lo)||1);
    t=Math.floor(Math.min(0.999,Math.max(0,t))*nb)/(nb-1);const c3=isFinite(v)?cmap(t):[120,120,120];
    const o=((ny-1-j)*nx+i)*4;img.data[o]=c3[0];img.data[o+1]=c3[1];img.data[o+2]=c3[2];img.data[o+3]=255;}
  c.putImageData(img,0,0);})();
function axes(c,x0,x1,y0,y1,m,xl,yl,xlog){c.strokeStyle="#444";c.fillStyle="#222";c.lineWidth=1;c.font="11px sans-serif";
  c.strokeRect(m.l,m.t,m.w,m.h);c.textAlign="center";c.textBaseline="top";
  for(let k=0;k<=4;k++){const v=x0+(x1-x0)*k/4,X=m.l+m.w*k/4;c.fillText(xlog?fmt(Math.pow(10,v)):fmt(v),X,m.t+m.h+3);}
  c.textAlign="right";c.textBaseline="middle";
  for(let k=0;k<=4;k++){const v=y0+(y1-y0)*k/4,Y=m.t+m.h*(1-k/4);c.fillText(fmt(v),m.l-3,Y);}
  c.textAlign="center";c.textBaseline="bottom";c.fillText(xl,m.l+m.w/2,c.canvas.height-1);
  c.save();c.translate(11,m.t+m.h/2);c.rotate(-Math.PI/2);c.textBaseline="middle";c.fillText(yl,0,0);c.restore();}
function idx(o,r){return (((st.lr*o.shape[1])+st.knob)*NS+st.start)*NR+r;}
function traj(){const o=OPTS[st.opt],pts=[],ls=[];
  for(let r=0;r<NR;r++){const k=idx(o,r),x=o.X[2*k],y=o.X[2*k+1],l=o.L[k];
    if(!(isFinite(x)&&isFinite(y)&&isFinite(l)))break;pts.push([x,y]);ls.push(l);}
  return {pts,ls};}
function exitPoint(pts){  // the last point, or where the path last left the box (clamping each axis put
  const inb=p=>p[0]>=view.x0&&p[0]<=view.x1&&p[1]>=view.y0&&p[1]<=view.y1,L=pts[pts.length-1];  // it in a corner)
  if(inb(L))return L;let k=pts.length-1;while(k>=0&&!inb(pts[k]))k--;
  if(k<0)return [Math.min(view.x1,Math.max(view.x0,L[0])),Math.min(view.y1,Math.max(view.y0,L[1]))];
  const a=pts[k],b=pts[k+1];let t=1;
  for(const [p,q,lo,hi] of [[a[0],b[0],view.x0,view.x1],[a[1],b[1],view.y0,view.y1]]){const d=q-p;
    if(d>0&&q>hi)t=Math.min(t,(hi-p)/d);if(d<0&&q<lo)t=Math.min(t,(lo-p)/d);}
  return [a[0]+t*(b[0]-a[0]),a[1]+t*(b[1]-a[1])];}
function drawLand(T){lc.clearRect(0,0,land.width,land.height);lc.imageSmoothingEnabled=false;
  lc.drawImage(bg,M.l,M.t,M.w,M.h);axes(lc,view.x0,view.x1,view.y0,view.y1,M,"x","y",false);
  lc.save();lc.beginPath();lc.rect(M.l,M.t,M.w,M.h);lc.clip();
  lc.fillStyle="rgba(255,255,255,0.85)";for(const s of S){lc.beginPath();lc.arc(px(s[0]),py(s[1]),2.2,0,7);lc.fill();}
  for(const m of D.minima){lc.fillStyle="#ffdd00";lc.strokeStyle="#000";lc.beginPath();
    for(let k=0;k<10;k++){const a=-Math.PI/2+k*Math.PI/5,r=k%2?3.5:8;lc.lineTo(px(m[0])+r*Math.cos(a),py(m[1])+r*Math.sin(a));}
    lc.closePath();lc.fill();lc.stroke();}
  const n=Math.min(st.frame+1,T.pts.length),pts=T.pts.slice(0,n);
  lc.strokeStyle="#ff3030";lc.lineWidth=2;lc.beginPath();
  pts.forEach((p,i)=>{i?lc.lineTo(px(p[0]),py(p[1])):lc.moveTo(px(p[0]),py(p[1]));});lc.stroke();
  lc.fillStyle="#ff3030";for(const p of pts){lc.beginPath();lc.arc(px(p[0]),py(p[1]),1.6,0,7);lc.fill();}
  lc.restore();
  const s=S[st.start];lc.strokeStyle="#fff";lc.lineWidth=2;lc.beginPath();lc.arc(px(s[0]),py(s[1]),5.5,0,7);lc.stroke();
  if(pts.length){const p=exitPoint(pts),X=px(p[0]),Y=py(p[1]);
    const div=n===T.pts.length&&T.pts.length<NR;
    if(div){lc.strokeStyle="#000";lc.lineWidth=3;const d=6;lc.beginPath();lc.moveTo(X-d,Y-d);lc.lineTo(X+d,Y+d);lc.moveTo(X+d,Y-d);lc.lineTo(X-d,Y+d);lc.stroke();
      lc.strokeStyle="#ff3030";lc.lineWidth=1.5;lc.stroke();}
    else{lc.fillStyle="#fff";lc.strokeStyle="#000";lc.lineWidth=1;lc.beginPath();lc.arc(X,Y,4,0,7);lc.fill();lc.stroke();}}
  window.explorer.drawn=pts;}
// --- loss curve ----------------------------------------------------------------
const lossc=document.getElementById("loss"),oc=lossc.getContext("2d"),LM={l:58,t:8,w:370,h:180};
function drawLoss(T){oc.clearRect(0,0,lossc.width,lossc.height);
  const ys=T.ls.map(tr),s=sorted(ys);let lo=s.length?s[0]:0,hi=s.length?s[s.length-1]:1;if(hi-lo<1e-9){lo-=1;hi+=1;}
  const xs=D.steps,x1=xs[NR-1]||1;
  axes(oc,0,x1,lo,hi,LM,"step",useLog?"log10 "+D.fRefLabel:D.fRefLabel,false);
  oc.strokeStyle="#bbb";oc.lineWidth=1.2;oc.beginPath();ys.forEach((v,i)=>{const X=LM.l+xs[i]/x1*LM.w,Y=LM.t+(1-(v-lo)/(hi-lo))*LM.h;i?oc.lineTo(X,Y):oc.moveTo(X,Y);});oc.stroke();
  const n=Math.min(st.frame+1,ys.length);oc.strokeStyle="#d00";oc.lineWidth=2;oc.beginPath();
  for(let i=0;i<n;i++){const X=LM.l+xs[i]/x1*LM.w,Y=LM.t+(1-(ys[i]-lo)/(hi-lo))*LM.h;i?oc.lineTo(X,Y):oc.moveTo(X,Y);}oc.stroke();
  const fx=LM.l+xs[Math.min(st.frame,NR-1)]/x1*LM.w;oc.strokeStyle="#06c";oc.setLineDash([3,3]);oc.beginPath();oc.moveTo(fx,LM.t);oc.lineTo(fx,LM.t+LM.h);oc.stroke();oc.setLineDash([]);}
// --- heatmap ---------------------------------------------------------------------
const heat=document.getElementById("heat"),hc=heat.getContext("2d"),HM={l:58,t:8,w:370,h:214};
function cellAt(o,i,j){return ((i*o.shape[1])+j)*NS+st.start;}
function drawHeat(){hc.clearRect(0,0,heat.width,heat.height);const o=OPTS[st.opt],nl=o.shape[0],nk=o.shape[1];
  const z=[];for(let i=0;i<nl;i++)for(let j=0;j<nk;j++){const k=cellAt(o,i,j);z.push(o.DIV[k]>=0||!isFinite(o.F[k])?NaN:tr(o.F[k]));}
  const s=sorted(z),lo=s.length?s[0]:0,hi=s.length?s[s.length-1]:1,cw=HM.w/nl,ch=HM.h/nk;
  for(let i=0;i<nl;i++)for(let j=0;j<nk;j++){const v=z[i*nk+j],c=isFinite(v)?cmap(1-(v-lo)/((hi-lo)||1)):[70,70,70];
    hc.fillStyle="rgb("+c.join(",")+")";hc.fillRect(HM.l+i*cw,HM.t+(nk-1-j)*ch,Math.ceil(cw),Math.ceil(ch));
    if(!isFinite(v)&&cw>5&&ch>5){const X=HM.l+i*cw,Y=HM.t+(nk-1-j)*ch;hc.strokeStyle="#c8c8c8";hc.lineWidth=1;  // a cross:
      hc.beginPath();hc.moveTo(X+2,Y+2);hc.lineTo(X+cw-2,Y+ch-2);hc.moveTo(X+cw-2,Y+2);hc.lineTo(X+2,Y+ch-2);hc.stroke();}}  // not viridis' dark end
  window.explorer.heatView={left:HM.l,top:HM.t,width:HM.w,height:HM.h,nLr:nl,nKnob:nk};
  hc.strokeStyle="#f00";hc.lineWidth=2.5;hc.strokeRect(HM.l+st.lr*cw+1,HM.t+(nk-1-st.knob)*ch+1,cw-2,ch-2);
  hc.fillStyle="#222";hc.font="11px sans-serif";hc.textAlign="center";hc.textBaseline="top";
  [0,nl-1].forEach(i=>hc.fillText(fmt(o.lr[i]),HM.l+(i+0.5)*cw,HM.t+HM.h+3));
  hc.fillText("lr (final "+(useLog?"log10 ":"")+D.fRefLabel+": bright "+fmt(lo)+" .. dark "+fmt(hi)+"; crossed = diverged)",
    HM.l+HM.w/2,HM.t+HM.h+18);
  hc.textAlign="right";hc.textBaseline="middle";[0,nk-1].forEach(j=>hc.fillText(fmt(o.knobValues[j]),HM.l-3,HM.t+(nk-1-j+0.5)*ch));
  hc.save();hc.translate(10,HM.t+HM.h/2);hc.rotate(-Math.PI/2);hc.textAlign="center";hc.fillText(o.knob,0,0);hc.restore();}
// --- controls --------------------------------------------------------------------
const $=id=>document.getElementById(id);
const sel=$("opt");OPTS.forEach((o,i)=>{const e=document.createElement("option");e.value=i;e.textContent=o.name;sel.appendChild(e);});
function syncControls(){const o=OPTS[st.opt];$("lr").max=o.shape[0]-1;$("knob").max=o.shape[1]-1;$("lr").value=st.lr;$("knob").value=st.knob;
  $("frame").max=NR-1;$("frame").value=st.frame;$("knobname").textContent=o.knob;sel.value=st.opt;
  $("lrv").textContent=fmt(o.lr[st.lr]);$("knobv").textContent=fmt(o.knobValues[st.knob]);$("framev").textContent=D.steps[st.frame];}
function info(T){const o=OPTS[st.opt],k=cellAt(o,st.lr,st.knob),s=S[st.start],d=o.DIV[k],t=o.TOL[k];
  let txt=o.name+" lr="+fmt(o.lr[st.lr])+" "+o.knob+"="+fmt(o.knobValues[st.knob])+" from ("+fmt(s[0])+", "+fmt(s[1])+"): ";
  txt+=d>=0?"diverged at step "+d+" (drawn to its last finite point, step "+D.steps[T.pts.length-1]+")":
    "final "+D.fRefLabel+" = "+fmt(o.F[k])+(t>=0?", within the tolerance"+TOLTXT+" from step "+t:
    ", the tolerance"+TOLTXT+" not reached, or left again");
  $("info").textContent=txt;}
function draw(){const T=traj();syncControls();drawLand(T);drawLoss(T);drawHeat();info(T);}
function select(ch){Object.assign(st,ch);const o=OPTS[st.opt];st.lr=Math.min(st.lr,o.shape[0]-1);st.knob=Math.min(st.knob,o.shape[1]-1);
  if(!("frame" in ch)){st.frame=NR-1;stop();}draw();}
sel.addEventListener("change",()=>select({opt:+sel.value}));
$("lr").addEventListener("input",e=>select({lr:+e.target.value}));
$("knob").addEventListener("input",e=>select({knob:+e.target.value}));
$("frame").addEventListener("input",e=>{stop();select({frame:+e.target.value});});
function nearest(x,y){let b=0,bd=Infinity;const sx=M.w/(view.x1-view.x0),sy=M.h/(view.y1-view.y0);
  S.forEach((s,i)=>{const d=((s[0]-x)*sx)**2+((s[1]-y)*sy)**2;if(d<bd){bd=d;b=i;}});return b;}
function pos(ev,c){const r=c.getBoundingClientRect();
  return [(ev.clientX-r.left-c.clientLeft)*c.width/c.clientWidth,(ev.clientY-r.top-c.clientTop)*c.height/c.clientHeight];}
land.addEventListener("click",ev=>{const [X,Y]=pos(ev,land);if(X<M.l||X>M.l+M.w||Y<M.t||Y>M.t+M.h)return;
  const x=view.x0+(X-M.l)/M.w*(view.x1-view.x0),y=view.y0+(1-(Y-M.t)/M.h)*(view.y1-view.y0);
  window.explorer.lastClick=[x,y];select({start:nearest(x,y)});});
heat.addEventListener("click",ev=>{const [X,Y]=pos(ev,heat),o=OPTS[st.opt];if(X<HM.l||X>HM.l+HM.w||Y<HM.t||Y>HM.t+HM.h)return;
  select({lr:Math.min(o.shape[0]-1,Math.floor((X-HM.l)/HM.w*o.shape[0])),knob:Math.min(o.shape[1]-1,o.shape[1]-1-Math.floor((Y-HM.t)/HM.h*o.shape[1]))});});
let timer=null;
function stop(){if(timer){clearInterval(timer);timer=null;}st.playing=false;$("play").textContent="play";}
$("play").addEventListener("click",()=>{if(timer){stop();return;}const n=traj().pts.length;if(st.frame>=n-1)st.frame=0;
  st.playing=true;$("play").textContent="pause";
  timer=setInterval(()=>{const m=traj().pts.length;if(st.frame>=m-1){stop();draw();return;}st.frame++;draw();},40);});
window.explorer={state:st,view:view,starts:S,steps:D.steps,drawn:[],select:select,
  optimizers:OPTS.map(o=>({name:o.name,knob:o.knob,lr:o.lr,knobValues:o.knobValues}))};
draw();
window.explorer.readyMs=performance.now();
document.body.setAttribute("data-ready","1");
})();
</script></body></html>
"""


def screenshot(page_path, png_path, width=1020, height=880) -> bool:
    """A PNG of the page as headless Chromium shows it (needs Debian's ``chromium`` and ``chromium-driver``
    and selenium); False, writing nothing, when they are missing."""
    import shutil
    from pathlib import Path
    browser, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return False
    if not (browser and driver_path):
        return False
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    opts.binary_location = browser
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        driver.get(Path(page_path).resolve().as_uri())
        driver.execute_script("return window.explorer && window.explorer.readyMs")
        return bool(driver.save_screenshot(str(png_path)))
    finally:
        driver.quit()
