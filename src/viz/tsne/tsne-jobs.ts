/**
 * One t-SNE gradient step's per-point work on several threads (the indexes' worker pool,
 * src/parallel/pool.ts): each point's Barnes–Hut repulsion and its part of Z (a walk of
 * the shared quadtree) and its attraction over its row of P. Every point's figures depend only on
 * the map and the tree, never on which thread computes them, and the calling thread adds the Z
 * parts in point order, so a step is bit for bit the same on any number of threads.
 */
import { defineTask } from '../../parallel/pool.js';
import { treeRepulsion, type TreeView, type WalkStack } from './quadtree.js';

export interface GradientJob {
  tree: TreeView;
  /** The map, 2n (SharedArrayBuffer). */
  y: Float64Array;
  theta2: number;
  /** P as CSR (SharedArrayBuffers), multiplied by `exaggeration`. */
  rowStart: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
  exaggeration: number;
  /** Out, per point: Σ q² (y_i − y_j) over the tree (2n), Σ p q (y_i − y_j) (2n), and its part of Z (n). */
  rep: Float64Array;
  attr: Float64Array;
  zs: Float64Array;
}

/** Points [start, end) of a step. */
export function gradientRange(job: GradientJob, start: number, end: number, stack: WalkStack): void {
  const { y, tree, theta2, rowStart, cols, vals, exaggeration, rep, attr, zs } = job;
  for (let i = start; i < end; i++) {
    const xi = y[2 * i]!, yi = y[2 * i + 1]!;
    rep[2 * i] = 0;
    rep[2 * i + 1] = 0;
    zs[i] = treeRepulsion(tree, stack, xi, yi, theta2, rep, 2 * i);
    let fx = 0, fy = 0;
    for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
      const j = cols[e]!;
      const dx = xi - y[2 * j]!, dy = yi - y[2 * j + 1]!;
      const pq = (exaggeration * vals[e]!) / (1 + dx * dx + dy * dy);
      fx += pq * dx;
      fy += pq * dy;
    }
    attr[2 * i] = fx;
    attr[2 * i + 1] = fy;
  }
}

interface State { job: GradientJob; stack: WalkStack }

/** The pool task: items are points. */
export const tsneGradientTask = defineTask(import.meta.url, 'tsneGradientTask', {
  setup: (job: GradientJob): State => ({ job, stack: { s: new Int32Array(256) } }),
  run: (s: State, start: number, end: number) => gradientRange(s.job, start, end, s.stack),
});
