/**
 * A map of a collection as one self-contained HTML page (`omnivec project --out map.html`): the
 * points on a canvas coloured by a metadata field, a legend (click a label to hide it), hover
 * showing the id, the document (cut) and the metadata, wheel zoom around the cursor, drag to pan,
 * double-click to reset. Inline script and style only: no network, no external file, so it opens
 * from disk or an e-mail attachment. Kept smooth at 10,000+ points: one path per colour per
 * frame, redraws coalesced by requestAnimationFrame, and hover found through a uniform grid over
 * the data (a few cells looked at per mouse move, not every point).
 */
import { describe, invalidArgument } from '../errors.js';
import { PALETTE } from './scatter.js';

export interface MapHtmlOptions {
  ids: readonly string[];
  /** [x0, y0, x1, y1, …] */
  points: Float32Array | readonly number[];
  /** One label per point (the colour); none: one colour. */
  labels?: readonly (string | number | null | undefined)[];
  /** The field the labels come from (legend heading). */
  colorBy?: string;
  /** One per point, shown on hover (cut to `documentChars`). */
  documents?: readonly (string | null | undefined)[];
  metadatas?: readonly (Record<string, unknown> | null | undefined)[];
  title?: string;
  /** Default 300. */
  documentChars?: number;
}

/** Labels past this many share the colour of "(other)" (the most frequent keep their own). */
export const MAX_COLOURS = 20;
const OTHER_COLOUR = '#9a9a9a';
export const MISSING_LABEL = '—';

function base64Points(points: Float32Array | readonly number[]): string {
  const f = points instanceof Float32Array ? points : Float32Array.from(points);
  const b = Buffer.alloc(f.length * 4);
  for (let i = 0; i < f.length; i++) b.writeFloatLE(f[i]!, 4 * i);
  return b.toString('base64');
}

/** JSON safe inside a <script> element: `<` (so no `</script>` or `<!--`) and the JS line separators escaped. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Legend order and colours: alphabetical when they all get a colour, else the most frequent first plus "(other)". */
function colourLabels(labels: readonly string[]): { names: string[]; colours: string[]; index: Uint16Array } {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let names = [...counts.keys()];
  let other = false;
  if (names.length <= MAX_COLOURS) {
    names.sort();
  } else {
    names.sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
    names = names.slice(0, MAX_COLOURS - 1);
    other = true;
  }
  const colours = names.map((_, i) => PALETTE[i % PALETTE.length]!);
  if (other) { names.push('(other)'); colours.push(OTHER_COLOUR); }
  const at = new Map(names.map((n, i) => [n, i]));
  const index = new Uint16Array(labels.length);
  labels.forEach((l, i) => { index[i] = at.get(l) ?? names.length - 1; });
  return { names, colours, index };
}

export function mapHtml(o: MapHtmlOptions): string {
  const n = o.ids.length;
  if (!Array.isArray(o.ids) || n < 1) throw invalidArgument(`ids: expected at least one id, got ${describe(o.ids)}`);
  if (o.points.length !== 2 * n) throw invalidArgument(`points: expected ${2 * n} numbers (x, y per id), got ${o.points.length}`);
  for (const [name, list] of [['labels', o.labels], ['documents', o.documents], ['metadatas', o.metadatas]] as const) {
    if (list !== undefined && list.length !== n) throw invalidArgument(`${name}: expected ${n} entries (one per id), got ${list.length}`);
  }
  const chars = o.documentChars ?? 300;
  const labels = (o.labels ?? o.ids.map(() => '')).map((l) => (l === null || l === undefined || l === '' ? (o.labels === undefined ? '' : MISSING_LABEL) : String(l)));
  const { names, colours, index } = colourLabels(labels);
  const data = {
    title: o.title ?? `map of ${n} points`,
    colorBy: o.colorBy ?? null,
    ids: o.ids,
    points: base64Points(o.points),
    names, colours,
    label: Array.from(index),
    documents: o.documents?.map((d) => (d === null || d === undefined ? null : d.length > chars ? d.slice(0, chars) + '…' : d)) ?? null,
    metadatas: o.metadatas?.map((m) => m ?? null) ?? null,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="omnivec">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(data.title)}</h1><span id="info"></span></header>
<main>
<canvas id="map" aria-label="scatter map of ${n} points"></canvas>
<aside id="legend"></aside>
</main>
<div id="tip" hidden></div>
<script type="application/json" id="map-data">${scriptJson(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;background:#fff}
body{display:flex;flex-direction:column}
header{display:flex;align-items:baseline;gap:1em;padding:8px 14px;border-bottom:1px solid #e4e4e4}
h1{font-size:16px;margin:0;font-weight:600}
#info{color:#777}
main{flex:1;display:flex;min-height:0}
#map{flex:1;min-width:0;height:100%;cursor:grab;touch-action:none;display:block}
#map.dragging{cursor:grabbing}
aside{width:220px;overflow:auto;border-left:1px solid #e4e4e4;padding:8px 10px}
aside h2{font-size:13px;margin:0 0 6px}
.item{display:flex;align-items:center;gap:6px;padding:2px 0;cursor:pointer;user-select:none}
.item.off{opacity:.35}
.sw{width:11px;height:11px;border-radius:50%;flex:none}
.name{flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.count{color:#888;font-variant-numeric:tabular-nums}
.hint{color:#999;margin-top:8px}
#tip{position:fixed;pointer-events:none;max-width:380px;background:rgba(255,255,255,.97);border:1px solid #ccc;border-radius:4px;padding:6px 8px;box-shadow:0 2px 8px rgba(0,0,0,.15);white-space:pre-wrap;word-break:break-word;z-index:2}
#tip .id{font-weight:600}
#tip .doc{margin-top:4px;color:#333}
#tip .meta{margin-top:4px;color:#555;font-family:ui-monospace,monospace;font-size:12px}
`;

// The page's script: plain ES2017, no template literals (it lives inside one here).
const SCRIPT = String.raw`
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('map-data').textContent);
  var n = D.ids.length;
  var raw = atob(D.points);
  var view = new DataView(new ArrayBuffer(raw.length));
  for (var b = 0; b < raw.length; b++) view.setUint8(b, raw.charCodeAt(b));
  var X = new Float32Array(n), Y = new Float32Array(n);
  for (var i = 0; i < n; i++) { X[i] = view.getFloat32(8 * i, true); Y[i] = view.getFloat32(8 * i + 4, true); }
  var canvas = document.getElementById('map'), ctx = canvas.getContext('2d');
  var tip = document.getElementById('tip'), legend = document.getElementById('legend');
  var hidden = new Uint8Array(D.names.length);
  var counts = new Array(D.names.length).fill(0);
  for (i = 0; i < n; i++) counts[D.label[i]]++;
  var byLabel = counts.map(function (c) { return new Int32Array(c); }), next = new Array(D.names.length).fill(0);
  for (i = 0; i < n; i++) byLabel[D.label[i]][next[D.label[i]]++] = i;

  // Data extent and the uniform grid for hover (about 2 points a cell).
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (i = 0; i < n; i++) {
    if (X[i] < minX) minX = X[i]; if (X[i] > maxX) maxX = X[i];
    if (Y[i] < minY) minY = Y[i]; if (Y[i] > maxY) maxY = Y[i];
  }
  var spanX = (maxX - minX) || 1, spanY = (maxY - minY) || 1;
  var G = Math.max(1, Math.min(512, Math.round(Math.sqrt(n / 2))));
  var cellOf = function (x, y) {
    var cx = Math.min(G - 1, Math.max(0, Math.floor((x - minX) / spanX * G)));
    var cy = Math.min(G - 1, Math.max(0, Math.floor((y - minY) / spanY * G)));
    return [cx, cy];
  };
  var start = new Int32Array(G * G + 1), order = new Int32Array(n), fill;
  for (i = 0; i < n; i++) { var c0 = cellOf(X[i], Y[i]); start[c0[1] * G + c0[0] + 1]++; }
  for (i = 0; i < G * G; i++) start[i + 1] += start[i];
  fill = start.slice(0, G * G);
  for (i = 0; i < n; i++) { var c1 = cellOf(X[i], Y[i]); order[fill[c1[1] * G + c1[0]]++] = i; }

  // View: screen = (data - centre) * scale + canvas centre; y grows upwards in the data.
  var W = 0, H = 0, dpr = 1, scale = 1, cx0 = 0, cy0 = 0, fitScale = 1;
  var radius = n > 50000 ? 1.2 : n > 5000 ? 2 : n > 1000 ? 2.5 : 3.5;
  function resize() {
    dpr = window.devicePixelRatio || 1;
    var r = canvas.getBoundingClientRect();
    W = r.width; H = r.height;
    canvas.width = Math.max(1, Math.round(W * dpr)); canvas.height = Math.max(1, Math.round(H * dpr));
    fitScale = Math.min((W - 40) / spanX, (H - 40) / spanY);
    if (!(fitScale > 0)) fitScale = 1;
    draw();
  }
  function reset() { scale = 1; cx0 = minX + spanX / 2; cy0 = minY + spanY / 2; draw(); }
  function sx(x) { return (x - cx0) * fitScale * scale + W / 2; }
  function sy(y) { return H / 2 - (y - cy0) * fitScale * scale; }
  function dx(px) { return (px - W / 2) / (fitScale * scale) + cx0; }
  function dy(py) { return (H / 2 - py) / (fitScale * scale) + cy0; }

  var pending = false, hover = -1;
  function draw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; paint(); });
  }
  // The points are written straight into one ImageData (a disc of pixels a point, 32-bit words,
  // colours pre-blended over white at alpha 0.8), then the hover ring drawn over it: a canvas path
  // of 100,000 arcs takes ~100 ms a frame in a software canvas, this a few ms (docs/projections.md).
  var img = null, px32 = null, words = null;
  function colourWords() {
    var probe = document.createElement('canvas');
    probe.width = probe.height = 1;
    var c = probe.getContext('2d', { willReadFrequently: true });
    var out = new Uint32Array(Math.max(1, D.colours.length));
    for (var g = 0; g < D.colours.length; g++) {
      c.clearRect(0, 0, 1, 1); c.fillStyle = '#000000'; c.fillStyle = D.colours[g]; c.fillRect(0, 0, 1, 1);
      var d = c.getImageData(0, 0, 1, 1).data;
      var mix = function (v) { return Math.round(255 * 0.2 + v * 0.8); };
      out[g] = ((255 << 24) | (mix(d[2]) << 16) | (mix(d[1]) << 8) | mix(d[0])) >>> 0;
    }
    return out;
  }
  function paint() {
    var CW = canvas.width, CH = canvas.height;
    if (img === null || img.width !== CW || img.height !== CH) { img = ctx.createImageData(CW, CH); px32 = new Uint32Array(img.data.buffer); }
    if (words === null) words = colourWords();
    px32.fill(0xffffffff);
    var r = radius * Math.min(3, Math.max(1, Math.sqrt(scale)));
    var rr = Math.max(0.75, r * dpr), reach = Math.ceil(rr - 0.5), spans = [];
    for (var oy = -reach; oy <= reach; oy++) {
      if (rr * rr - oy * oy < 0) continue;
      spans.push(oy, Math.min(reach, Math.floor(Math.sqrt(rr * rr - oy * oy) + 0.5 - 1e-9)));
    }
    for (var l = 0; l < D.names.length; l++) {
      if (hidden[l]) continue;
      var word = words[l], pts = byLabel[l];
      for (var j = 0; j < pts.length; j++) {
        var k = pts[j];
        var px = Math.round(sx(X[k]) * dpr), py = Math.round(sy(Y[k]) * dpr);
        if (px < -reach || py < -reach || px >= CW + reach || py >= CH + reach) continue;
        for (var t = 0; t < spans.length; t += 2) {
          var yy = py + spans[t];
          if (yy < 0 || yy >= CH) continue;
          var x0 = Math.max(0, px - spans[t + 1]), x1 = Math.min(CW - 1, px + spans[t + 1]), row = yy * CW;
          for (var xx = x0; xx <= x1; xx++) px32[row + xx] = word;
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (hover >= 0) {
      ctx.strokeStyle = '#111'; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(sx(X[hover]), sy(Y[hover]), r + 3, 0, 2 * Math.PI); ctx.stroke();
    }
  }

  // Nearest visible point within 8 px of the pointer, through the grid.
  function nearest(px, py) {
    var reach = 8 / (fitScale * scale);
    var x = dx(px), y = dy(py);
    var a = cellOf(x - reach, y - reach), z = cellOf(x + reach, y + reach);
    var best = -1, bestD = reach * reach;
    for (var gy = a[1]; gy <= z[1]; gy++) {
      for (var gx = a[0]; gx <= z[0]; gx++) {
        var c = gy * G + gx;
        for (var s = start[c]; s < start[c + 1]; s++) {
          var p = order[s];
          if (hidden[D.label[p]]) continue;
          var ddx = X[p] - x, ddy = Y[p] - y, d = ddx * ddx + ddy * ddy;
          if (d <= bestD) { bestD = d; best = p; }
        }
      }
    }
    return best;
  }

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function show(p, clientX, clientY) {
    tip.textContent = '';
    tip.appendChild(el('div', 'id', D.ids[p]));
    if (D.colorBy !== null) tip.appendChild(el('div', 'label', D.colorBy + ': ' + D.names[D.label[p]]));
    if (D.documents && D.documents[p] !== null) tip.appendChild(el('div', 'doc', D.documents[p]));
    var m = D.metadatas ? D.metadatas[p] : null;
    if (m) {
      var lines = Object.keys(m).map(function (k) { var v = m[k]; return k + ': ' + (typeof v === 'string' ? v : JSON.stringify(v)); });
      if (lines.length) tip.appendChild(el('div', 'meta', lines.join('\n')));
    }
    tip.hidden = false;
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    tip.style.left = Math.min(window.innerWidth - tw - 4, clientX + 14) + 'px';
    tip.style.top = Math.min(window.innerHeight - th - 4, clientY + 14) + 'px';
  }

  var drag = null;
  canvas.addEventListener('pointerdown', function (e) {
    drag = { x: e.clientX, y: e.clientY, cx: cx0, cy: cy0 };
    canvas.setPointerCapture(e.pointerId); canvas.classList.add('dragging');
  });
  canvas.addEventListener('pointerup', function (e) { drag = null; canvas.releasePointerCapture(e.pointerId); canvas.classList.remove('dragging'); });
  canvas.addEventListener('pointermove', function (e) {
    var r = canvas.getBoundingClientRect();
    if (drag) {
      cx0 = drag.cx - (e.clientX - drag.x) / (fitScale * scale);
      cy0 = drag.cy + (e.clientY - drag.y) / (fitScale * scale);
      tip.hidden = true; hover = -1; draw();
      return;
    }
    var p = nearest(e.clientX - r.left, e.clientY - r.top);
    if (p !== hover) { hover = p; draw(); }
    if (p >= 0) show(p, e.clientX, e.clientY); else tip.hidden = true;
  });
  canvas.addEventListener('pointerleave', function () { tip.hidden = true; if (hover >= 0) { hover = -1; draw(); } });
  canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    var x = dx(px), y = dy(py);
    scale = Math.min(500, Math.max(0.2, scale * Math.exp(-e.deltaY * 0.0015)));
    // Keep the data point under the cursor where it was.
    cx0 = x - (px - W / 2) / (fitScale * scale);
    cy0 = y - (H / 2 - py) / (fitScale * scale);
    draw();
  }, { passive: false });
  canvas.addEventListener('dblclick', reset);
  window.addEventListener('resize', resize);

  // Legend: click a label to hide or show its points.
  if (D.colorBy !== null) legend.appendChild(el('h2', '', D.colorBy));
  D.names.forEach(function (name, l) {
    var item = el('div', 'item');
    var sw = el('span', 'sw'); sw.style.background = D.colours[l];
    item.appendChild(sw); item.appendChild(el('span', 'name', name === '' ? '(all points)' : name)); item.appendChild(el('span', 'count', String(counts[l])));
    item.title = name;
    item.addEventListener('click', function () { hidden[l] ^= 1; item.classList.toggle('off', hidden[l] === 1); draw(); });
    legend.appendChild(item);
  });
  legend.appendChild(el('div', 'hint', 'wheel: zoom · drag: pan · double-click: reset · click a label to hide it'));
  document.getElementById('info').textContent = n.toLocaleString('en') + ' points' + (D.colorBy !== null ? ' · coloured by ' + D.colorBy : '');

  // For tests and scripting: where point i is on screen (client coordinates).
  window.omnivecMap = {
    count: n,
    clientPoint: function (p) { var r = canvas.getBoundingClientRect(); return { x: r.left + sx(X[p]), y: r.top + sy(Y[p]) }; },
  };
  cx0 = minX + spanX / 2; cy0 = minY + spanY / 2;
  resize();
})();
`;
