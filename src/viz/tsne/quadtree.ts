/**
 * The Barnes–Hut quadtree of t-SNE's repulsive forces (van der Maaten 2014, "Accelerating t-SNE
 * using tree-based algorithms", §4.2): a cell far enough from a point — its width w and the
 * distance d to its centre of mass with w / d < θ — acts as one body of its mass.
 *
 * Typed arrays only (one node = a row of parallel arrays, children four consecutive rows), rebuilt
 * every iteration into the same buffers (grown by doubling, never shrunk), so an iteration of a
 * 70,000-point map allocates nothing. Points at exactly the same place stay together in one leaf
 * (as do points closer than MAX_DEPTH halvings of the root allow: their mass acts at their mean).
 */

/** Deepest subdivision: 2⁻⁴⁸ of the root's width is below float32 resolution of any map. */
const MAX_DEPTH = 48;

export class QuadTree {
  /** Nodes in use. */
  size = 0;
  /** Per node: centre and half-width of the cell. */
  #cx: Float64Array = new Float64Array(0);
  #cy: Float64Array = new Float64Array(0);
  #half: Float64Array = new Float64Array(0);
  /** Per node: Σ x, Σ y and count of the points under it. */
  #sx: Float64Array = new Float64Array(0);
  #sy: Float64Array = new Float64Array(0);
  #count: Int32Array = new Int32Array(0);
  /** Per node: first of its 4 children, or −1 for a leaf. */
  #child: Int32Array = new Int32Array(0);
  /** Per leaf: a point in it (−1 when empty). */
  #point: Int32Array = new Int32Array(0);
  #stack: WalkStack = { s: new Int32Array(64) };

  #grow(min: number): void {
    const cap = Math.max(min, this.#cx.length * 2, 1024);
    // On SharedArrayBuffers: the force walks of one step run on several threads (tsne-jobs.ts).
    const f = (a: Float64Array): Float64Array => { const b = new Float64Array(new SharedArrayBuffer(8 * cap)); b.set(a); return b; };
    const g = (a: Int32Array): Int32Array => { const b = new Int32Array(new SharedArrayBuffer(4 * cap)); b.set(a); return b; };
    this.#cx = f(this.#cx); this.#cy = f(this.#cy); this.#half = f(this.#half);
    this.#sx = f(this.#sx); this.#sy = f(this.#sy); this.#count = g(this.#count);
    this.#child = g(this.#child); this.#point = g(this.#point);
  }

  #node(cx: number, cy: number, half: number): number {
    if (this.size >= this.#cx.length) this.#grow(this.size + 1);
    const i = this.size++;
    this.#cx[i] = cx; this.#cy[i] = cy; this.#half[i] = half;
    this.#sx[i] = 0; this.#sy[i] = 0; this.#count[i] = 0;
    this.#child[i] = -1; this.#point[i] = -1;
    return i;
  }

  #split(node: number): number {
    const h = this.#half[node]! / 2;
    const cx = this.#cx[node]!;
    const cy = this.#cy[node]!;
    // Quadrant q: bit 0 = right half (x ≥ cx), bit 1 = upper half (y ≥ cy).
    const first = this.#node(cx - h, cy - h, h);
    this.#node(cx + h, cy - h, h);
    this.#node(cx - h, cy + h, h);
    this.#node(cx + h, cy + h, h);
    this.#child[node] = first;
    return first;
  }

  /** Rebuilds the tree over the n points of `y` ([x0, y0, x1, y1, …]). */
  build(y: Float64Array, n: number): void {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const a = y[2 * i]!, b = y[2 * i + 1]!;
      if (a < x0) x0 = a;
      if (a > x1) x1 = a;
      if (b < y0) y0 = b;
      if (b > y1) y1 = b;
    }
    this.size = 0;
    // A square root cell, a little larger than the points' box so every point is strictly inside.
    const half = Math.max(x1 - x0, y1 - y0, 1e-12) * 0.5 * (1 + 1e-6);
    this.#node((x0 + x1) / 2, (y0 + y1) / 2, half);
    for (let i = 0; i < n; i++) this.#insert(i, y[2 * i]!, y[2 * i + 1]!, y);
    // From here on the sums are centres of mass, and the half-widths squared full widths (what
    // the θ test compares), so a force walk divides nothing.
    const sx = this.#sx, sy = this.#sy, count = this.#count, hw = this.#half;
    for (let i = 0; i < this.size; i++) {
      const c = count[i]!;
      if (c > 0) { sx[i] = sx[i]! / c; sy[i] = sy[i]! / c; }
      hw[i] = 4 * hw[i]! * hw[i]!;
    }
  }

  #insert(i: number, x: number, yy: number, y: Float64Array): void {
    let node = 0;
    for (let depth = 0; ; depth++) {
      this.#count[node]!++;
      this.#sx[node] += x;
      this.#sy[node] += yy;
      let first = this.#child[node]!;
      if (first < 0) {
        if (this.#count[node] === 1) { this.#point[node] = i; return; }
        const p = this.#point[node]!;
        const px = y[2 * p]!, py = y[2 * p + 1]!;
        if ((px === x && py === yy) || depth >= MAX_DEPTH) return; // stays one leaf
        // Move the leaf's earlier points (all at p's place) one level down, then go on with i.
        first = this.#split(node);
        const c = first + (px >= this.#cx[node]! ? 1 : 0) + (py >= this.#cy[node]! ? 2 : 0);
        const m = this.#count[node]! - 1;
        this.#count[c] = m;
        this.#sx[c] = px * m;
        this.#sy[c] = py * m;
        this.#point[c] = p;
        this.#point[node] = -1;
      }
      node = first + (x >= this.#cx[node]! ? 1 : 0) + (yy >= this.#cy[node]! ? 2 : 0);
    }
  }

  /**
   * The repulsive terms of point (x, y): adds Σ_j n_j q_j² (y − c_j) to `force[o]`, `force[o + 1]`
   * and returns Σ_j n_j q_j (its part of the normaliser Z), over the cells j the θ criterion
   * accepts, q = 1 / (1 + d²) (Student-t, one degree of freedom). A leaf at the point's very place
   * (the point itself and its exact duplicates) is left out, as scikit-learn does.
   */
  repulsion(x: number, y: number, theta2: number, force: Float64Array, o: number): number {
    return treeRepulsion(this.view(), this.#stack, x, y, theta2, force, o);
  }

  /** The built tree as plain (shared) typed arrays, for the force walks (valid until the next build). */
  view(): TreeView {
    return { count: this.#count, mx: this.#sx, my: this.#sy, w2: this.#half, child: this.#child };
  }
}

/** A built tree: per node its point count, centre of mass, squared width and first child (−1: leaf). */
export interface TreeView {
  count: Int32Array;
  mx: Float64Array;
  my: Float64Array;
  w2: Float64Array;
  child: Int32Array;
}

/** A walk's stack, grown when a walk needs more. */
export interface WalkStack { s: Int32Array }

/** `QuadTree.repulsion` over a tree view (any thread). */
export function treeRepulsion(t: TreeView, holder: WalkStack, x: number, y: number, theta2: number, force: Float64Array, o: number): number {
  let stack = holder.s;
  const { count, mx, my, child, w2 } = t;
  let top = 0;
  stack[top++] = 0;
  let z = 0, fx = 0, fy = 0;
  while (top > 0) {
    const node = stack[--top]!;
    const c = count[node]!;
    if (c === 0) continue;
    const dx = x - mx[node]!;
    const dy = y - my[node]!;
    const d2 = dx * dx + dy * dy;
    const first = child[node]!;
    if (first < 0 || w2[node]! < theta2 * d2) {
      if (d2 === 0) continue;
      const q = 1 / (1 + d2);
      z += c * q;
      const m = c * q * q;
      fx += m * dx;
      fy += m * dy;
    } else {
      if (top + 4 > stack.length) {
        const s2 = new Int32Array(stack.length * 2);
        s2.set(stack);
        stack = holder.s = s2;
      }
      stack[top++] = first;
      stack[top++] = first + 1;
      stack[top++] = first + 2;
      stack[top++] = first + 3;
    }
  }
  force[o]! += fx;
  force[o + 1]! += fy;
  return z;
}
