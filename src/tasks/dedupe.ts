/**
 * Near-duplicates (docs/tasks.md): each record's k nearest (exact up to EXACT_LIMIT, else through
 * the index), the pairs that are close enough — cosine similarity (or a·b for ip) ≥ `threshold`,
 * or for l2 collections a Euclidean distance ≤ `maxDistance` — each pair once with a < b, and the
 * groups as the connected components of those pairs (union-find with path halving and union by size).
 * A group larger than k + 1 is still found whole when its members chain together through their
 * k nearest.
 */
import { describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import { checkK, checkNumber } from '../checks.js';
import { checkKAgainst, selectRecords, type OnProgress } from './common.js';
import { selectionNeighbours } from './neighbours.js';
import { checkThreads } from '../parallel/pool.js';

export interface DedupeOptions {
  /** Cosine and ip collections: the smallest similarity of a pair. Default 0.95. */
  threshold?: number;
  /** l2 collections (required there): the largest Euclidean distance of a pair; 0 finds exact copies. */
  maxDistance?: number;
  /** Neighbours looked at per record. Default 10. */
  k?: number;
  where?: Where;
  sample?: number;
  /** Threads of the exact scans (1 to 1,024; default every core): the same answer for any count (docs/tasks.md). */
  threads?: number;
  onProgress?: OnProgress;
}

export interface DuplicatePair {
  /** a < b (code-unit order). */
  a: string;
  b: string;
  /** Cosine similarity (cosine) or inner product (ip); absent for l2. */
  similarity?: number;
  /** Euclidean distance (l2 only). */
  distance?: number;
}

export interface DedupeResult {
  /** Closest pairs first. */
  pairs: DuplicatePair[];
  /** Connected components of the pairs (two records or more), each sorted, by their first id. */
  groups: string[][];
}

export async function dedupe(c: Collection, options: DedupeOptions = {}): Promise<DedupeResult> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  if (options.k !== undefined) checkK(options.k, 'k');
  if (options.threads !== undefined) checkThreads(options.threads);
  const l2 = c.metric === 'l2';
  let threshold = 0.95;
  let maxDistance = 0;
  if (l2) {
    if (options.threshold !== undefined) throw invalidArgument(`threshold: "${c.name}" measures l2 distances; give maxDistance (the largest Euclidean distance of a pair) instead of a similarity threshold`);
    if (options.maxDistance === undefined) throw invalidArgument(`maxDistance: required for "${c.name}" (metric l2): the largest Euclidean distance of a pair (0 for exact copies)`);
    maxDistance = checkNumber(options.maxDistance, 'maxDistance', { min: 0, max: Number.MAX_VALUE });
  } else {
    if (options.maxDistance !== undefined) throw invalidArgument(`maxDistance: "${c.name}" measures ${c.metric} similarity; give threshold (the smallest similarity of a pair) instead`);
    if (options.threshold !== undefined) threshold = checkNumber(options.threshold, 'threshold', { min: -Number.MAX_VALUE, max: Number.MAX_VALUE });
  }
  const sel = await selectRecords(c, { where: options.where, sample: options.sample });
  const k = checkKAgainst(options.k ?? Math.min(10, Math.max(1, sel.n - 1)), sel.n);
  const nb = await selectionNeighbours(c, sel, k, options.where, options.onProgress, options.threads);
  const { n, ids } = sel;
  // Squared threshold for l2 (the index's figure), in float32 as the distances are.
  const maxSq = Math.fround(maxDistance * maxDistance);
  const seen = new Set<string>();
  const found: { i: number; j: number; d: number }[] = [];
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = nb.index[i * k + t]!;
      const d = nb.distances[i * k + t]!;
      if (j < 0) continue;
      const close = l2 ? d <= maxSq : 1 - d >= threshold - 1e-6;
      if (!close) break; // neighbours come nearest first
      const [a, b] = ids[i]! < ids[j]! ? [i, j] : [j, i];
      const key = `${a} ${b}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ i: a, j: b, d });
    }
  }
  found.sort((x, y) => x.d - y.d || (ids[x.i]! < ids[y.i]! ? -1 : ids[x.i]! > ids[y.i]! ? 1 : ids[x.j]! < ids[y.j]! ? -1 : 1));
  const pairs: DuplicatePair[] = found.map((p) => (l2
    ? { a: ids[p.i]!, b: ids[p.j]!, distance: Math.sqrt(Math.max(0, p.d)) }
    : { a: ids[p.i]!, b: ids[p.j]!, similarity: 1 - p.d }));
  // Union-find over selection numbers.
  const parent = new Int32Array(n);
  const size = new Int32Array(n).fill(1);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (const p of found) {
    let a = find(p.i);
    let b = find(p.j);
    if (a === b) continue;
    if (size[a]! < size[b]!) [a, b] = [b, a];
    parent[b] = a;
    size[a] += size[b]!;
  }
  const comps = new Map<number, string[]>();
  for (const p of found) {
    for (const x of [p.i, p.j]) {
      const r = find(x);
      let g = comps.get(r);
      if (g === undefined) { g = []; comps.set(r, g); }
      g.push(ids[x]!);
    }
  }
  const groups = [...comps.values()].map((g) => [...new Set(g)].sort()).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  return { pairs, groups };
}
