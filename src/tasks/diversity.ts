/**
 * How spread out a collection's vectors are (docs/tasks.md, "diversity"): the mean pairwise
 * distance, the distribution of pairwise cosine similarities (a histogram, drawn by
 * `histogramSvg` / `histogramPng`), and how well a subset covers the whole.
 */
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import { checkThreads } from '../parallel/pool.js';
import { FlatIndex } from '../indexes/flat/flat-index.js';
import type { VectorBatch } from '../vector/batch.js';
import type { Metric } from '../vector/metric.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { Random } from '../vector/random.js';
import { checkInt, checkNumber } from '../checks.js';
import { EXACT_LIMIT, selectRecords, type OnProgress } from './common.js';
import { distanceBetween } from './classify.js';
import { svgToPng } from '../encoders/image/sharp.js';

/** Up to this many records, every pair is measured. */
export const EXACT_PAIRS_LIMIT = 2000;
/** Pairs drawn above EXACT_PAIRS_LIMIT. */
export const SAMPLED_PAIRS = 200_000;
/** Queries of the median nearest-neighbour distance above EXACT_LIMIT records. */
const RADIUS_SAMPLE = 2000;

export interface DiversityOptions {
  /** The records measured (docs/filters.md). */
  where?: Where;
  /** The first N records in id order after the filter. */
  sample?: number;
  /** A subset to measure the coverage of: a filter, or record ids. */
  subset?: { where: Where } | { ids: readonly string[] };
  /** Coverage radius in the collection's distance (default: the median nearest-neighbour distance). */
  radius?: number;
  /** Histogram bins over [−1, 1] (default 20). */
  bins?: number;
  seed?: number;
  /** Threads of the exact nearest-record scans (1 to 1,024; default every core): the same answer for any count. */
  threads?: number;
  onProgress?: OnProgress;
}

export interface Histogram {
  /** bins + 1 edges; bin i is [edges[i], edges[i + 1]), the last one closed. */
  edges: number[];
  counts: number[];
}

export interface Coverage {
  /** Records in the subset. */
  subset: number;
  radius: number;
  /** Where the radius came from. */
  radiusFrom: 'given' | 'median nearest-neighbour distance';
  /** Share of the records whose nearest subset record is within the radius. */
  covered: number;
  /** Mean distance from each record to its nearest subset record. */
  meanDistance: number;
}

export interface DiversityResult {
  /** Records measured. */
  n: number;
  metric: Metric;
  /** Mean distance over the pairs in the collection's convention: l2 squared, 1 − cos, 1 − dot. */
  meanDistance: number;
  /** Which pairs: all of them (exact) or a seeded sample. */
  pairs: { exact: boolean; count: number };
  /** Pairwise cosine similarities over the same pairs. */
  similarity: { mean: number; std: number; histogram: Histogram };
  coverage?: Coverage;
}

/** Mean distance and cosine-similarity figures of the pairs of n × dim rows (the core, no collection). */
export function pairStatistics(vectors: Float32Array, dim: number, metric: Metric, options: { bins?: number; seed?: number } = {}): Omit<DiversityResult, 'coverage'> {
  const n = vectors.length / dim;
  const bins = checkInt(options.bins ?? 20, 'bins', { min: 1, max: 1000 });
  if (n < 2) throw new OmnivecError('empty_index', `diversity: needs at least 2 records, got ${n}`);
  const unit = vectors.slice();
  for (let i = 0; i < n; i++) normalizeInPlace(unit, i * dim, dim);
  // Cosine distances come from the unit rows; l2 and ip from the rows as stored.
  const rows = metric === 'cosine' ? unit : vectors;
  const counts = new Array<number>(bins).fill(0);
  let sumD = 0;
  let sumS = 0;
  let sumS2 = 0;
  let pairs = 0;
  const add = (i: number, j: number): void => {
    sumD += distanceBetween(metric, rows, i * dim, rows, j * dim, dim);
    const s = 1 - distanceBetween('ip', unit, i * dim, unit, j * dim, dim);
    sumS += s;
    sumS2 += s * s;
    counts[Math.max(0, Math.min(bins - 1, Math.floor(((s + 1) / 2) * bins)))]!++;
    pairs++;
  };
  const exact = n <= EXACT_PAIRS_LIMIT;
  if (exact) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) add(i, j);
  } else {
    const rng = new Random(options.seed ?? 42);
    for (let p = 0; p < SAMPLED_PAIRS; p++) {
      const i = rng.int(n);
      let j = rng.int(n - 1);
      if (j >= i) j++;
      add(i, j);
    }
  }
  const mean = sumS / pairs;
  const edges = Array.from({ length: bins + 1 }, (_, i) => -1 + (2 * i) / bins);
  return {
    n, metric, meanDistance: sumD / pairs, pairs: { exact, count: pairs },
    similarity: { mean, std: Math.sqrt(Math.max(0, sumS2 / pairs - mean * mean)), histogram: { edges, counts } },
  };
}

function median(a: Float64Array): number {
  const s = Float64Array.from(a).sort();
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Each query's distance to its nearest row of `base` (exact). */
function nearestDistances(base: VectorBatch, queries: VectorBatch, metric: Metric, k: number, threads: number | undefined): Float32Array {
  const index = new FlatIndex({ dim: base.dim, metric, threads });
  index.add(Uint32Array.from({ length: base.count }, (_, i) => i), base);
  const res = index.searchBatch(queries, k);
  if (k === 1) return res.distances;
  // k = 2 over the queries themselves: the nearest hit that is not the query's own row.
  const out = new Float32Array(queries.count);
  for (let q = 0; q < queries.count; q++) {
    const a = res.ids[q * k]!;
    out[q] = a === q ? res.distances[q * k + 1]! : res.distances[q * k]!;
  }
  return out;
}

async function coverage(c: Collection, sel: { ids: string[]; vectors: Float32Array; n: number; dim: number }, o: DiversityOptions): Promise<Coverage> {
  const s = o.subset!;
  if (s === null || typeof s !== 'object' || (!('where' in s) && !('ids' in s))) throw invalidArgument(`subset: expected { where } or { ids }, got ${describe(s)}`);
  const dim = sel.dim;
  const all: VectorBatch = { data: sel.vectors, dim, count: sel.n };
  let nearest: Float32Array;
  let m: number;
  if ('ids' in s) {
    const ids = s.ids;
    if (!Array.isArray(ids) || ids.length === 0) throw invalidArgument(`subset.ids: expected a non-empty array of record ids, got ${describe(ids)}`);
    const got = await c.get({ ids, include: ['vectors'] });
    if (got.ids.length !== new Set(ids).size) {
      const have = new Set(got.ids);
      const missing = ids.filter((id) => !have.has(id));
      throw new OmnivecError('not_found', `subset.ids: ${missing.slice(0, 5).map((x) => JSON.stringify(x)).join(', ')}${missing.length > 5 ? ', …' : ''} ${missing.length === 1 ? 'is' : 'are'} not stored in ${c.name}`, { ids: missing.slice(0, 5) });
    }
    m = got.ids.length;
    const data = new Float32Array(m * dim);
    got.vectors!.forEach((v, i) => data.set(v, i * dim));
    nearest = nearestDistances({ data, dim, count: m }, all, c.metric, 1, o.threads);
  } else {
    const where = o.where === undefined ? s.where : { $and: [o.where, s.where] };
    m = (await c.get({ where, include: [] })).ids.length;
    if (m === 0) throw new OmnivecError('empty_index', `subset: the filter ${JSON.stringify(s.where)} matches none of the records of ${c.name}`);
    // Through the collection's index: the nearest record matching the subset's filter.
    nearest = new Float32Array(sel.n);
    for (let start = 0; start < sel.n; start += 1024) {
      const count = Math.min(1024, sel.n - start);
      const res = await c.queryBatch({ data: sel.vectors.subarray(start * dim, (start + count) * dim), dim, count }, 1, { where });
      nearest.set(res.distances, start);
    }
  }
  let radius = o.radius;
  let radiusFrom: Coverage['radiusFrom'] = 'given';
  if (radius !== undefined) {
    radius = checkNumber(radius, 'radius', { min: 0 });
  } else {
    radiusFrom = 'median nearest-neighbour distance';
    if (sel.n < 2) throw new OmnivecError('empty_index', 'coverage: the median nearest-neighbour distance needs at least 2 records; give radius');
    if (sel.n <= EXACT_LIMIT) {
      radius = median(Float64Array.from(nearestDistances(all, all, c.metric, 2, o.threads)));
    } else {
      // A seeded sample of queries through the index (each record's own hit left out).
      const rng = new Random(o.seed ?? 42);
      const rows = rng.shuffle(Uint32Array.from({ length: sel.n }, (_, i) => i)).subarray(0, RADIUS_SAMPLE);
      const q = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => q.set(sel.vectors.subarray(r * dim, (r + 1) * dim), i * dim));
      const res = await c.queryBatch({ data: q, dim, count: rows.length }, 2, o.where === undefined ? {} : { where: o.where });
      const d = new Float64Array(rows.length);
      rows.forEach((r, i) => { d[i] = res.ids[i]![0] === sel.ids[r] ? res.distances[i * 2 + 1]! : res.distances[i * 2]!; });
      radius = median(d);
    }
  }
  let covered = 0;
  let sum = 0;
  for (let i = 0; i < sel.n; i++) {
    if (nearest[i]! <= radius) covered++;
    sum += nearest[i]!;
  }
  return { subset: m, radius, radiusFrom, covered: covered / sel.n, meanDistance: sum / sel.n };
}

/**
 * Diversity of the selected records: the mean pairwise distance and the pairwise cosine
 * similarities (every pair up to 2,000 records, else 200,000 seeded pairs), and with `subset` its
 * coverage: the share of the records whose nearest subset record is within `radius`.
 */
export async function diversity(c: Collection, options: DiversityOptions = {}): Promise<DiversityResult> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  if (options.threads !== undefined) checkThreads(options.threads);
  const sel = await selectRecords(c, { where: options.where, sample: options.sample });
  options.onProgress?.({ phase: 'pairs', done: 0, total: 1 });
  const stats = pairStatistics(sel.vectors, sel.dim, sel.metric, { bins: options.bins, seed: options.seed });
  options.onProgress?.({ phase: 'pairs', done: 1, total: 1 });
  if (options.subset === undefined) return stats;
  return { ...stats, coverage: await coverage(c, sel, options) };
}

// ---------------------------------------------------------------------------------------------
// Pictures

export interface HistogramPictureOptions {
  title?: string;
  width?: number;
  height?: number;
  /** The x axis' name (default "cosine similarity"). */
  xLabel?: string;
}

const escape = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A bar chart of a histogram as SVG text. */
export function histogramSvg(h: Histogram, options: HistogramPictureOptions = {}): string {
  if (h === null || typeof h !== 'object' || !Array.isArray(h.counts) || !Array.isArray(h.edges) || h.edges.length !== h.counts.length + 1 || h.counts.length === 0) {
    throw invalidArgument(`histogram: expected { edges, counts } with one more edge than counts, got ${describe(h)}`);
  }
  const width = options.width ?? 800;
  const height = options.height ?? 450;
  const left = 70;
  const right = 20;
  const top = options.title === undefined ? 20 : 50;
  const bottom = 60;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...h.counts);
  const bw = plotW / h.counts.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<rect width="100%" height="100%" fill="white"/>',
  ];
  if (options.title !== undefined) parts.push(`<text x="${left}" y="30" font-family="sans-serif" font-size="18">${escape(options.title)}</text>`);
  h.counts.forEach((n, i) => {
    const bh = (n / max) * plotH;
    parts.push(`<rect x="${(left + i * bw + 0.5).toFixed(1)}" y="${(top + plotH - bh).toFixed(1)}" width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#4e79a7"><title>[${h.edges[i]!.toFixed(2)}, ${h.edges[i + 1]!.toFixed(2)}): ${n}</title></rect>`);
  });
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`, `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`);
  const step = Math.max(1, Math.ceil(h.counts.length / 10));
  for (let i = 0; i <= h.counts.length; i += step) {
    const x = left + i * bw;
    parts.push(`<text x="${x.toFixed(1)}" y="${top + plotH + 18}" font-family="sans-serif" font-size="12" text-anchor="middle">${h.edges[i]!.toFixed(2)}</text>`);
  }
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    parts.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" font-family="sans-serif" font-size="12" text-anchor="end">${Math.round(f * max)}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${height - 15}" font-family="sans-serif" font-size="14" text-anchor="middle">${escape(options.xLabel ?? 'cosine similarity')}</text>`);
  parts.push(`<text x="18" y="${top + plotH / 2}" font-family="sans-serif" font-size="14" text-anchor="middle" transform="rotate(-90 18 ${top + plotH / 2})">pairs</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** The same chart as PNG (the SVG rendered by sharp). */
export async function histogramPng(h: Histogram, options: HistogramPictureOptions = {}): Promise<Buffer> {
  return svgToPng(histogramSvg(h, options));
}
