/* global window, document, performance, ResizeObserver, requestAnimationFrame */
// The 2-D map on a canvas: the points rasterised straight into one ImageData (a small disc of
// pixels per point, written as 32-bit words, then one putImageData), the marks drawn over it with
// the 2-D context; a uniform grid over the data for hover and click hit-testing, pan by dragging
// and zoom with the wheel, frames drawn on requestAnimationFrame only when something changed.
//
// Why not one canvas path of arcs per colour (as up to issue 20): at 100,000 points building and
// filling the path took ~100 ms a frame in headless Chromium's software canvas; writing the pixels
// ourselves is a few ms, and it needs no GPU (WebGL is not there under --disable-gpu, where the
// browser test and bench:projection run). Points are opaque, pre-blended with the white background
// at the old path's alpha, so the look is the same except where points overlap (the later is on top).

const HIT_PX = 7;        // how far (CSS px) from a point the pointer may be and still hover it
const DRAG_PX = 4;       // a press that moves further than this is a drag, not a click
const PAD_PX = 24;       // margin kept around the points when fitting

export class MapView {
  #canvas;
  #ctx;
  #onHover;
  #onPick;
  /** CSS pixel size and device pixel ratio of the canvas. */
  #width = 0;
  #height = 0;
  #dpr = 1;
  /** [x0, y0, x1, y1, …] in data units. */
  #xy = new Float32Array(0);
  #count = 0;
  #bounds = { minX: 0, maxX: 1, minY: 0, maxY: 1 };
  /** screen = (x · scale + ox, −y · scale + oy), CSS px. */
  #scale = 1;
  #fitScale = 1;
  #ox = 0;
  #oy = 0;
  /** The hit-testing grid: the points of cell c are cellItems[cellStart[c] … cellStart[c + 1]). */
  #grid = { cols: 1, rows: 1, size: 1, cellStart: new Uint32Array(2), cellItems: new Uint32Array(0) };
  /** Points ordered by colour: groupStart[g] … groupStart[g + 1] in `#order` are drawn in colors[g]. */
  #colors = ['#3a6fc4'];
  #order = new Uint32Array(0);
  #groupStart = new Uint32Array([0, 0]);
  #colorIndex = new Uint16Array(0);
  #marks = { picked: -1, hovered: -1, neighbours: [], results: [] };
  #frame = 0;
  /** The pixel buffer of the points, its 32-bit view, and each colour group's pixel word (normal, dimmed). */
  #image = null;
  #pixels = new Uint32Array(0);
  #words = { normal: new Uint32Array(1), dimmed: new Uint32Array(1) };
  /** Start and end (performance.now()) of the last frames drawn, for bench:projection. */
  #frameLog = [];
  #press = null;
  #fitted = false;
  /** The map shown is being replaced by one still computing: drawn dimmed under the progress. */
  #replacing = false;

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ onHover: (index: number, clientX: number, clientY: number) => void, onPick: (index: number) => void }} handlers
   *   index −1: nothing under the pointer
   */
  constructor(canvas, { onHover, onPick }) {
    this.#canvas = canvas;
    this.#ctx = canvas.getContext('2d', { alpha: false });
    this.#onHover = onHover;
    this.#onPick = onPick;
    new ResizeObserver(() => this.#resize()).observe(canvas.parentElement);
    this.#resize();
    canvas.addEventListener('pointerdown', (e) => this.#down(e));
    canvas.addEventListener('pointermove', (e) => this.#move(e));
    canvas.addEventListener('pointerup', (e) => this.#up(e));
    canvas.addEventListener('pointercancel', () => { this.#press = null; });
    // Leaving the canvas (onto the legend too: it lies over the canvas) ends any hover.
    canvas.addEventListener('pointerleave', () => this.#setHover(-1, 0, 0));
    canvas.addEventListener('wheel', (e) => this.#wheel(e), { passive: false });
  }

  get count() {
    return this.#count;
  }

  /** The last frames drawn (at most 200): `{ start, end }` in performance.now() ms. */
  get frames() {
    return this.#frameLog.slice();
  }

  /** New points (data units, interleaved), fitted to the view; the marks are cleared. */
  setPoints(xy, count) {
    this.#xy = xy;
    this.#count = count;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < count; i++) {
      const x = xy[2 * i], y = xy[2 * i + 1];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    if (count === 0) { minX = minY = 0; maxX = maxY = 1; }
    this.#bounds = { minX, maxX, minY, maxY };
    this.#buildGrid();
    if (this.#colorIndex.length !== count) this.setColors(new Uint16Array(count), this.#colors.slice(0, 1));
    this.#marks = { picked: -1, hovered: -1, neighbours: [], results: [] };
    this.fit();
  }

  /** true while a new map computes: this one stays drawn, dimmed, until setPoints brings the new one. */
  setReplacing(replacing) {
    if (replacing === this.#replacing) return;
    this.#replacing = replacing;
    this.redraw();
  }

  get replacing() {
    return this.#replacing;
  }

  /** @param {Uint16Array} colorIndex point i is drawn in colors[colorIndex[i]] */
  setColors(colorIndex, colors) {
    this.#colorIndex = colorIndex;
    this.#colors = colors;
    const groups = colors.length;
    const start = new Uint32Array(groups + 1);
    for (let i = 0; i < this.#count; i++) start[colorIndex[i] + 1]++;
    for (let g = 0; g < groups; g++) start[g + 1] += start[g];
    const fill = start.slice(0, groups);
    const order = new Uint32Array(this.#count);
    for (let i = 0; i < this.#count; i++) order[fill[colorIndex[i]]++] = i;
    this.#order = order;
    this.#groupStart = start;
    this.#words = { normal: pixelWords(colors, 0.85), dimmed: pixelWords(colors, 0.35) };
    this.redraw();
  }

  /** Points to mark: the picked one (−1: none), its neighbours (lines to it), search results, the hovered one. */
  setMarks({ picked = this.#marks.picked, neighbours = this.#marks.neighbours, results = this.#marks.results, hovered = this.#marks.hovered }) {
    this.#marks = { picked, neighbours, results, hovered };
    this.redraw();
  }

  /** The point indices marked (drawn from the next frame on). */
  get marks() {
    const { picked, hovered, neighbours, results } = this.#marks;
    return { picked, hovered, neighbours: [...neighbours], results: [...results] };
  }

  fit() {
    const { minX, maxX, minY, maxY } = this.#bounds;
    const w = Math.max(1, this.#width - 2 * PAD_PX), h = Math.max(1, this.#height - 2 * PAD_PX);
    const scale = Math.min(w / (maxX - minX || 1), h / (maxY - minY || 1));
    this.#scale = this.#fitScale = scale;
    this.#ox = this.#width / 2 - ((minX + maxX) / 2) * scale;
    this.#oy = this.#height / 2 + ((minY + maxY) / 2) * scale;
    this.#fitted = this.#width > 0;
    this.redraw();
  }

  /** Where point i is drawn, in the page's client coordinates, or null when it is outside the canvas. */
  clientPosition(i) {
    if (i < 0 || i >= this.#count) return null;
    const sx = this.#xy[2 * i] * this.#scale + this.#ox, sy = -this.#xy[2 * i + 1] * this.#scale + this.#oy;
    if (sx < 0 || sy < 0 || sx > this.#width || sy > this.#height) return null;
    const r = this.#canvas.getBoundingClientRect();
    return { x: r.left + sx, y: r.top + sy };
  }

  /** The point nearest to a canvas position (CSS px), within HIT_PX, or −1. */
  pointAt(sx, sy) {
    if (this.#count === 0) return -1;
    const x = (sx - this.#ox) / this.#scale, y = (this.#oy - sy) / this.#scale;
    const r = HIT_PX / this.#scale;
    const g = this.#grid;
    const { minX, minY } = this.#bounds;
    const c0 = Math.max(0, Math.floor((x - r - minX) / g.size)), c1 = Math.min(g.cols - 1, Math.floor((x + r - minX) / g.size));
    const r0 = Math.max(0, Math.floor((y - r - minY) / g.size)), r1 = Math.min(g.rows - 1, Math.floor((y + r - minY) / g.size));
    let best = -1, bestD = r * r;
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const cell = row * g.cols + col;
        for (let k = g.cellStart[cell]; k < g.cellStart[cell + 1]; k++) {
          const i = g.cellItems[k];
          const dx = this.#xy[2 * i] - x, dy = this.#xy[2 * i + 1] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  redraw() {
    if (this.#frame === 0) this.#frame = requestAnimationFrame(() => { this.#frame = 0; this.#draw(); });
  }

  // --- grid --------------------------------------------------------------------------------

  #buildGrid() {
    const n = this.#count;
    const { minX, maxX, minY, maxY } = this.#bounds;
    const w = maxX - minX || 1, h = maxY - minY || 1;
    // About two points per cell on average: cell size from the area per point.
    const size = Math.sqrt((w * h * 2) / Math.max(1, n)) || 1;
    const cols = Math.min(1024, Math.max(1, Math.ceil(w / size))), rows = Math.min(1024, Math.max(1, Math.ceil(h / size)));
    const cellSize = Math.max(w / cols, h / rows);
    const cellOf = new Uint32Array(n);
    const cellStart = new Uint32Array(cols * rows + 1);
    for (let i = 0; i < n; i++) {
      const col = Math.min(cols - 1, Math.floor((this.#xy[2 * i] - minX) / cellSize));
      const row = Math.min(rows - 1, Math.floor((this.#xy[2 * i + 1] - minY) / cellSize));
      cellOf[i] = row * cols + col;
      cellStart[cellOf[i] + 1]++;
    }
    for (let c = 0; c < cols * rows; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, cols * rows);
    const cellItems = new Uint32Array(n);
    for (let i = 0; i < n; i++) cellItems[fill[cellOf[i]]++] = i;
    this.#grid = { cols, rows, size: cellSize, cellStart, cellItems };
  }

  // --- drawing -----------------------------------------------------------------------------

  #resize() {
    const wrap = this.#canvas.parentElement;
    const w = wrap.clientWidth, h = wrap.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    if (w === this.#width && h === this.#height && dpr === this.#dpr) return;
    // Keep the data point at the centre where it was.
    const cx = (this.#width / 2 - this.#ox) / this.#scale, cy = (this.#oy - this.#height / 2) / this.#scale;
    this.#width = w;
    this.#height = h;
    this.#dpr = dpr;
    this.#canvas.width = Math.max(1, Math.round(w * dpr));
    this.#canvas.height = Math.max(1, Math.round(h * dpr));
    this.#canvas.style.width = `${w}px`;
    this.#canvas.style.height = `${h}px`;
    if (!this.#fitted) this.fit();
    else {
      this.#ox = w / 2 - cx * this.#scale;
      this.#oy = h / 2 + cy * this.#scale;
    }
    this.#draw();
  }

  #radius() {
    const base = this.#count > 50000 ? 1.2 : this.#count > 5000 ? 1.8 : this.#count > 1000 ? 2.5 : 3.5;
    return base * Math.min(3, Math.max(1, Math.pow(this.#scale / this.#fitScale, 0.35)));
  }

  /** The points into the pixel buffer: a disc of radius r (CSS px) per point, colour group by colour group. */
  #rasterise(r, dimmed) {
    const ctx = this.#ctx;
    const W = this.#canvas.width, H = this.#canvas.height;
    if (this.#image === null || this.#image.width !== W || this.#image.height !== H) {
      this.#image = ctx.createImageData(W, H);
      this.#pixels = new Uint32Array(this.#image.data.buffer);
    }
    const px = this.#pixels;
    px.fill(0xffffffff);
    const dpr = this.#dpr;
    const rr = Math.max(0.75, r * dpr);
    // The disc's pixel offsets (row offsets and spans), from the radius in device pixels.
    const reach = Math.ceil(rr - 0.5);
    const spans = [];
    for (let dy = -reach; dy <= reach; dy++) {
      const half = Math.floor(Math.sqrt(Math.max(0, rr * rr - dy * dy)) + 0.5 - 1e-9);
      if (rr * rr - dy * dy >= 0) spans.push(dy, Math.min(half, reach));
    }
    const xy = this.#xy, s = this.#scale * dpr, ox = this.#ox * dpr, oy = this.#oy * dpr;
    const words = dimmed ? this.#words.dimmed : this.#words.normal;
    const order = this.#order, groupStart = this.#groupStart;
    for (let g = 0; g + 1 < groupStart.length; g++) {
      const word = words[g];
      for (let k = groupStart[g], b = groupStart[g + 1]; k < b; k++) {
        const i = order[k];
        const cx = Math.round(xy[2 * i] * s + ox), cy = Math.round(-xy[2 * i + 1] * s + oy);
        if (cx < -reach || cy < -reach || cx >= W + reach || cy >= H + reach) continue;
        for (let t = 0; t < spans.length; t += 2) {
          const y = cy + spans[t];
          if (y < 0 || y >= H) continue;
          const x0 = Math.max(0, cx - spans[t + 1]), x1 = Math.min(W - 1, cx + spans[t + 1]);
          const row = y * W;
          for (let x = x0; x <= x1; x++) px[row + x] = word;
        }
      }
    }
    ctx.putImageData(this.#image, 0, 0);
  }

  #draw() {
    const start = performance.now();
    this.#paint();
    this.#frameLog.push({ start, end: performance.now() });
    if (this.#frameLog.length > 200) this.#frameLog.splice(0, this.#frameLog.length - 200);
  }

  #paint() {
    const ctx = this.#ctx;
    const { picked, hovered, neighbours, results } = this.#marks;
    const r = this.#radius();
    const xy = this.#xy, s = this.#scale, ox = this.#ox, oy = this.#oy;
    const marked = picked >= 0 || results.length > 0;
    // Points dimmed while something is marked so the marks stand out.
    this.#rasterise(r, marked);
    ctx.setTransform(this.#dpr, 0, 0, this.#dpr, 0, 0);
    const at = (i) => [xy[2 * i] * s + ox, -xy[2 * i + 1] * s + oy];
    if (picked >= 0 && neighbours.length > 0) {
      const [px, py] = at(picked);
      ctx.strokeStyle = 'rgba(20, 24, 31, 0.55)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const i of neighbours) {
        const [x, y] = at(i);
        ctx.moveTo(px, py);
        ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    const ring = (list, radius, color, width) => {
      if (list.length === 0) return;
      // A white halo under each ring keeps it visible over any point colour.
      for (const [c, w] of [['#ffffff', width + 2], [color, width]]) {
        ctx.strokeStyle = c;
        ctx.lineWidth = w;
        ctx.beginPath();
        for (const i of list) {
          const [x, y] = at(i);
          ctx.moveTo(x + radius, y);
          ctx.arc(x, y, radius, 0, 2 * Math.PI);
        }
        ctx.stroke();
      }
    };
    const dot = (list) => {
      for (const i of list) {
        const [x, y] = at(i);
        ctx.fillStyle = this.#colors[this.#colorIndex[i]];
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fill();
      }
    };
    dot(results);
    dot(neighbours);
    ring(results, r + 4, '#14181f', 2);
    ring(neighbours, r + 3.5, '#14181f', 1.25);
    if (picked >= 0) {
      dot([picked]);
      ring([picked], r + 6, '#d6336c', 2.5);
    }
    if (hovered >= 0) ring([hovered], r + 3, '#14181f', 1);
    if (this.#replacing) {
      // A veil, not a blank: the old map stays readable (and hoverable) while the new one computes.
      ctx.fillStyle = 'rgba(255, 255, 255, 0.55)';
      ctx.fillRect(0, 0, this.#width, this.#height);
    }
  }

  // --- pointer -----------------------------------------------------------------------------

  #local(e) {
    const rect = this.#canvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  }

  #setHover(i, clientX, clientY) {
    if (i !== this.#marks.hovered) {
      this.#marks.hovered = i;
      this.#canvas.style.cursor = i >= 0 ? 'pointer' : 'grab';
      this.redraw();
    }
    this.#onHover(i, clientX, clientY);
  }

  #down(e) {
    if (e.button !== 0) return;
    this.#canvas.setPointerCapture(e.pointerId);
    this.#press = { x: e.clientX, y: e.clientY, ox: this.#ox, oy: this.#oy, dragging: false };
  }

  #move(e) {
    const p = this.#press;
    if (p !== null) {
      const dx = e.clientX - p.x, dy = e.clientY - p.y;
      if (!p.dragging && Math.hypot(dx, dy) > DRAG_PX) {
        p.dragging = true;
        this.#canvas.style.cursor = 'grabbing';
        this.#setHover(-1, 0, 0);
      }
      if (p.dragging) {
        this.#ox = p.ox + dx;
        this.#oy = p.oy + dy;
        this.redraw();
      }
      return;
    }
    const [sx, sy] = this.#local(e);
    this.#setHover(this.pointAt(sx, sy), e.clientX, e.clientY);
  }

  #up(e) {
    const p = this.#press;
    this.#press = null;
    if (p === null) return;
    if (this.#canvas.hasPointerCapture(e.pointerId)) this.#canvas.releasePointerCapture(e.pointerId);
    const [sx, sy] = this.#local(e);
    const inside = sx >= 0 && sy >= 0 && sx <= this.#width && sy <= this.#height;
    const i = inside ? this.pointAt(sx, sy) : -1;
    if (!p.dragging) this.#onPick(i);
    this.#setHover(i, e.clientX, e.clientY);
  }

  #wheel(e) {
    e.preventDefault();
    const [sx, sy] = this.#local(e);
    // deltaMode 1 = lines (Firefox with a mouse wheel): about 16 px each.
    const delta = e.deltaY * (e.deltaMode === 1 ? 16 : 1);
    const f = Math.exp(-delta * 0.0015);
    const scale = Math.min(this.#fitScale * 500, Math.max(this.#fitScale / 10, this.#scale * f));
    const k = scale / this.#scale;
    this.#ox = sx - (sx - this.#ox) * k;
    this.#oy = sy - (sy - this.#oy) * k;
    this.#scale = scale;
    this.redraw();
    this.#setHover(this.pointAt(sx, sy), e.clientX, e.clientY);
  }
}

/** Each colour as a little-endian RGBA word, blended over white at `alpha` (CSS colours resolved by a 1 × 1 canvas). */
function pixelWords(colors, alpha) {
  const probe = document.createElement('canvas');
  probe.width = probe.height = 1;
  const c = probe.getContext('2d', { willReadFrequently: true });
  const out = new Uint32Array(Math.max(1, colors.length));
  colors.forEach((color, g) => {
    c.clearRect(0, 0, 1, 1);
    c.fillStyle = '#000000';
    c.fillStyle = color;
    c.fillRect(0, 0, 1, 1);
    const [r, gr, b] = c.getImageData(0, 0, 1, 1).data;
    const mix = (v) => Math.round(255 * (1 - alpha) + v * alpha);
    out[g] = ((255 << 24) | (mix(b) << 16) | (mix(gr) << 8) | mix(r)) >>> 0;
  });
  return out;
}
