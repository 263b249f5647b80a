/**
 * Classification over a collection (docs/tasks.md, "classify"): k nearest labelled records through
 * the collection's index, the nearest label centroid, leave-one-out accuracy of either, and
 * zero-shot labels from a text encoder (CLIP's recipe: Radford et al. 2021, section 3.1.2).
 * Labels live in a metadata field; a record without the field (or with null) is unlabelled.
 */
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Metadata, Where } from '../db/where.js';
import type { VectorBatch } from '../vector/batch.js';
import type { Metric } from '../vector/metric.js';
import { userScore } from '../vector/metric.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { checkK } from '../checks.js';
import { checkKAgainst, labelsOf, selectRecords } from './common.js';
import { ZERO_OUTPUT, noVectorError } from '../encoders/no-vector.js';

/** One classified record (or query vector). */
export interface Prediction {
  /** The record's id (absent for query vectors). */
  id?: string;
  label: string;
  /**
   * k-NN: the winning label's share of the votes (0–1). Centroid: the display score of the
   * distance to the winning centroid (cosine similarity, inner product, or Euclidean distance).
   * Zero-shot: the cosine similarity to the winning label's text vector.
   */
  score: number;
  /** k-NN: the votes per label among the k neighbours (counts, or summed weights when weighted). */
  votes?: Record<string, number>;
  /** Zero-shot with `clip`: softmax(100 · cos) over the labels. */
  probabilities?: Record<string, number>;
}

interface Targets {
  /** What to classify: stored records by id, or query vectors. Neither: the unlabelled records of the selection. */
  ids?: readonly string[];
  vectors?: VectorBatch;
}

export interface KnnOptions extends Targets {
  labelField: string;
  /** Neighbours that vote (default 5). */
  k?: number;
  /**
   * Vote by similarity instead of one vote each: cosine similarity or inner product (clipped at 0),
   * 1 / (1 + Euclidean distance) for l2.
   */
  weighted?: boolean;
  /** Only records matching this filter are neighbours (and, without ids / vectors, classified). */
  where?: Where;
}

export interface CentroidOptions extends Targets {
  labelField: string;
  /** The labelled records the centroids are computed from (and, without ids / vectors, the ones classified). */
  where?: Where;
  /** The first N records in id order after the filter. */
  sample?: number;
}

export interface EvaluateOptions {
  labelField: string;
  method?: 'knn' | 'centroid';
  /** k-NN: neighbours (default 5). */
  k?: number;
  weighted?: boolean;
  where?: Where;
}

export interface LabelAccuracy {
  label: string;
  n: number;
  correct: number;
  accuracy: number;
}

export interface ClassifierReport {
  method: 'knn' | 'centroid';
  k?: number;
  /** Labelled records, each classified with itself left out. */
  n: number;
  correct: number;
  accuracy: number;
  /** Per true label, most frequent first (ties by label). */
  perLabel: LabelAccuracy[];
}

export interface ZeroShotOptions {
  /** The candidate labels (at least one, distinct). */
  labels: readonly string[];
  /** The collection's text encoder: texts → vectors of the collection's dimension. */
  encode: (texts: string[]) => Promise<Float32Array[]>;
  /** Prompt with `{label}` (default "{label}", or "a photo of a {label}." with `clip`). */
  template?: string;
  /** The vectors are CLIP's: default CLIP template and softmax(100 · cos) probabilities. */
  clip?: boolean;
  /** Classify these stored records (default: every selected record). */
  ids?: readonly string[];
  where?: Where;
  sample?: number;
}

export const CLIP_TEMPLATE = 'a photo of a {label}.';
/** CLIP's learned logit scale (exp(4.6052) = 100): probabilities are softmax(100 · cos). */
const CLIP_LOGIT_SCALE = 100;
/** Query vectors per queryBatch call (bounds the distance buffers). */
const QUERY_CHUNK = 1024;

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** Similarity of a hit at index distance `d`, higher = closer: cos or dot for cosine / ip, 1 / (1 + √d) for l2. */
export function similarity(metric: Metric, d: number): number {
  return metric === 'l2' ? 1 / (1 + Math.sqrt(Math.max(0, d))) : 1 - d;
}

/** Distance in the collection's convention (smaller = closer) between two rows. */
export function distanceBetween(metric: Metric, a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  if (metric === 'l2') {
    for (let j = 0; j < dim; j++) { const t = a[ao + j]! - b[bo + j]!; s += t * t; }
    return s;
  }
  // cosine rows are unit length here (stored so, or normalised by the caller): 1 − dot either way.
  for (let j = 0; j < dim; j++) s += a[ao + j]! * b[bo + j]!;
  return 1 - s;
}

function checkField(field: unknown): string {
  if (typeof field !== 'string' || field.length === 0) throw invalidArgument(`labelField: expected a metadata field name, got ${describe(field)}`);
  return field;
}

const labelOf = (m: Metadata | null | undefined, field: string): string | undefined => {
  const v = m?.[field];
  return v === undefined || v === null ? undefined : String(v);
};

const hasLabel = (field: string): Where => ({ [field]: { $ne: null } });
const both = (a: Where | undefined, b: Where): Where => (a === undefined ? b : { $and: [a, b] });

/** The labelled records (id → label) among those matching `where`; the shared empty / missing-field errors. */
async function labelledRecords(c: Collection, field: string, where: Where | undefined): Promise<Map<string, string>> {
  const got = await c.get({ ...(where !== undefined ? { where } : {}), include: ['metadatas'] });
  if (got.ids.length === 0) {
    throw new OmnivecError('empty_index', `${c.name}: no records to work on${where !== undefined ? ` (the filter ${JSON.stringify(where)} matches none of its ${await c.count()} records)` : ' (the collection is empty)'}`);
  }
  const out = new Map<string, string>();
  got.ids.forEach((id, i) => {
    const l = labelOf(got.metadatas![i], field);
    if (l !== undefined) out.set(id, l);
  });
  if (out.size === 0) throw new OmnivecError('not_found', `labelField: no selected record of ${c.name} has the metadata field ${JSON.stringify(field)}`);
  return out;
}

function checkTargets(c: Collection, t: Targets): void {
  if (t.ids !== undefined && t.vectors !== undefined) throw invalidArgument('expected ids or vectors, not both');
  if (t.ids !== undefined) {
    if (!Array.isArray(t.ids) || t.ids.length === 0) throw invalidArgument(`ids: expected a non-empty array of record ids, got ${describe(t.ids)}`);
  }
  if (t.vectors !== undefined) {
    const v = t.vectors;
    if (v === null || typeof v !== 'object' || !(v.data instanceof Float32Array)) throw invalidArgument(`vectors: expected a VectorBatch { data, dim, count }, got ${describe(v)}`);
    if (v.dim !== c.dim) throw new OmnivecError('dimension_mismatch', `vectors: expected ${c.dim}-d vectors (the collection's dimension), got ${v.dim}-d`);
    if (v.count < 1) throw invalidArgument('vectors: expected at least one vector, got none');
  }
}

/** The stored vectors of `ids`, in that order; `not_found` naming the ids that are not stored. */
async function vectorsOfIds(c: Collection, ids: readonly string[]): Promise<VectorBatch> {
  const got = await c.get({ ids, include: ['vectors'] });
  if (got.ids.length !== ids.length) {
    const have = new Set(got.ids);
    const missing = ids.filter((id) => !have.has(id));
    const shown = missing.slice(0, 5).map((x) => JSON.stringify(x)).join(', ');
    throw new OmnivecError('not_found', `ids: ${missing.length} of them ${missing.length === 1 ? 'is' : 'are'} not stored in ${c.name}: ${shown}${missing.length > 5 ? ', …' : ''}`, { ids: missing.slice(0, 5) });
  }
  const data = new Float32Array(ids.length * c.dim);
  got.vectors!.forEach((v, i) => data.set(v, i * c.dim));
  return { data, dim: c.dim, count: ids.length };
}

/** Records of the selection without a label (the default targets). */
async function unlabelledIds(c: Collection, field: string, where: Where | undefined): Promise<string[]> {
  return (await c.get({ where: both(where, { [field]: { $eq: null } }), include: [] })).ids.sort();
}

function rowOf(b: VectorBatch, i: number): Float32Array {
  return b.data.subarray(i * b.dim, (i + 1) * b.dim);
}

/** Majority vote; ties by the summed similarity, then by label (code-unit order). */
function vote(labels: readonly string[], sims: readonly number[], weighted: boolean): { label: string; score: number; votes: Record<string, number> } {
  const votes = new Map<string, number>();
  const simSum = new Map<string, number>();
  labels.forEach((l, i) => {
    const s = sims[i]!;
    votes.set(l, (votes.get(l) ?? 0) + (weighted ? Math.max(0, s) : 1));
    simSum.set(l, (simSum.get(l) ?? 0) + s);
  });
  let best = '';
  let bestVotes = -Infinity;
  let bestSim = -Infinity;
  let total = 0;
  for (const [l, v] of votes) {
    total += v;
    const s = simSum.get(l)!;
    if (v > bestVotes || (v === bestVotes && (s > bestSim || (s === bestSim && l < best)))) {
      best = l;
      bestVotes = v;
      bestSim = s;
    }
  }
  return { label: best, score: total > 0 ? bestVotes / total : 0, votes: Object.fromEntries(votes) };
}

// ---------------------------------------------------------------------------------------------
// k-NN

/** The k-NN votes of a batch of queries; `selfIds[q]` (a stored record) is left out of its own neighbours. */
async function knnBatch(c: Collection, queries: VectorBatch, selfIds: readonly string[] | undefined, k: number,
  labels: ReadonlyMap<string, string>, neighbourWhere: Where, weighted: boolean): Promise<Prediction[]> {
  const out: Prediction[] = [];
  const kq = selfIds === undefined ? k : k + 1;
  for (let start = 0; start < queries.count; start += QUERY_CHUNK) {
    const count = Math.min(QUERY_CHUNK, queries.count - start);
    const chunk: VectorBatch = { data: queries.data.subarray(start * queries.dim, (start + count) * queries.dim), dim: queries.dim, count };
    const res = await c.queryBatch(chunk, kq, { where: neighbourWhere });
    for (let q = 0; q < count; q++) {
      let ids = res.ids[q]!;
      let dist = Array.from(res.distances.subarray(q * kq, q * kq + ids.length));
      if (selfIds !== undefined) {
        // Leave the record itself out (not necessarily first when duplicates tie at distance 0).
        const self = selfIds[start + q]!;
        const at = ids.indexOf(self);
        const drop = at >= 0 ? at : ids.length > k ? ids.length - 1 : -1;
        if (drop >= 0) {
          ids = ids.filter((_, i) => i !== drop);
          dist = dist.filter((_, i) => i !== drop);
        }
      }
      ids = ids.slice(0, k);
      const v = vote(ids.map((id) => labels.get(id)!), dist.slice(0, k).map((d) => similarity(c.metric, d)), weighted);
      out.push({ ...(selfIds !== undefined ? { id: selfIds[start + q]! } : {}), label: v.label, score: v.score, votes: v.votes });
    }
  }
  return out;
}

/**
 * k-NN classification: the labels of the k nearest labelled records (through the collection's
 * index) vote; ties go to the label with the larger summed similarity. Classifies `ids` (each
 * record left out of its own neighbours), `vectors`, or by default the unlabelled records.
 */
export async function classifyKnn(c: Collection, options: KnnOptions): Promise<Prediction[]> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected { labelField, k?, ids?, vectors? }, got ${describe(options)}`);
  const field = checkField(options.labelField);
  checkTargets(c, options);
  const labels = await labelledRecords(c, field, options.where);
  const weighted = options.weighted === true;
  let ids: readonly string[] | undefined = options.ids;
  if (ids === undefined && options.vectors === undefined) {
    ids = await unlabelledIds(c, field, options.where);
    if (ids.length === 0) return [];
  }
  const k = checkKAgainst(options.k ?? 5, labels.size, 'k', ids !== undefined && ids.some((id) => labels.has(id)));
  const queries = ids !== undefined ? await vectorsOfIds(c, ids) : options.vectors!;
  return knnBatch(c, queries, ids, k, labels, both(options.where, hasLabel(field)), weighted);
}

// ---------------------------------------------------------------------------------------------
// Nearest centroid

export interface CentroidModel {
  labels: string[];
  /** labels.length × dim: the mean of each label's vectors (unit length for cosine). */
  centroids: Float32Array;
  /** Records per label. */
  counts: number[];
}

/** The label means of n × dim rows (`labels[i]` undefined: row i is unlabelled and ignored). */
export function labelCentroids(vectors: Float32Array, dim: number, labels: readonly (string | undefined)[], metric: Metric): CentroidModel {
  const names = [...new Set(labels.filter((l): l is string => l !== undefined))].sort();
  const at = new Map(names.map((l, i) => [l, i]));
  const sums = new Float64Array(names.length * dim);
  const counts = new Array<number>(names.length).fill(0);
  labels.forEach((l, i) => {
    if (l === undefined) return;
    const c = at.get(l)!;
    counts[c]!++;
    for (let j = 0; j < dim; j++) sums[c * dim + j] += vectors[i * dim + j]!;
  });
  const centroids = new Float32Array(names.length * dim);
  for (let c = 0; c < names.length; c++) {
    for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]! / counts[c]!;
    if (metric === 'cosine') normalizeInPlace(centroids, c * dim, dim);
  }
  return { labels: names, centroids, counts };
}

/** The nearest centroid to row `o` of `rows` (cosine rows must be unit length). */
function nearestCentroid(model: CentroidModel, rows: Float32Array, o: number, dim: number, metric: Metric): { c: number; d: number } {
  let best = -1;
  let bestD = Infinity;
  for (let c = 0; c < model.labels.length; c++) {
    const d = distanceBetween(metric, rows, o, model.centroids, c * dim, dim);
    if (d < bestD) { bestD = d; best = c; }
  }
  return { c: best, d: bestD };
}

/**
 * Nearest-centroid classification: each label's mean vector (unit-normalised for cosine) from the
 * labelled records of the selection; each target gets the label of the nearest mean.
 */
export async function classifyCentroid(c: Collection, options: CentroidOptions): Promise<Prediction[]> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected { labelField, ids?, vectors? }, got ${describe(options)}`);
  const field = checkField(options.labelField);
  checkTargets(c, options);
  const sel = await selectRecords(c, { where: options.where, sample: options.sample, metadatas: true });
  const labels = labelsOf(sel, field, c.name);
  const model = labelCentroids(sel.vectors, sel.dim, labels, sel.metric);
  let ids = options.ids;
  let queries: VectorBatch;
  if (ids === undefined && options.vectors === undefined) {
    const rows: number[] = [];
    labels.forEach((l, i) => { if (l === undefined) rows.push(i); });
    ids = rows.map((i) => sel.ids[i]!);
    const data = new Float32Array(rows.length * sel.dim);
    rows.forEach((r, i) => data.set(sel.vectors.subarray(r * sel.dim, (r + 1) * sel.dim), i * sel.dim));
    queries = { data, dim: sel.dim, count: rows.length };
  } else {
    queries = ids !== undefined ? await vectorsOfIds(c, ids) : { ...options.vectors!, data: options.vectors!.data.slice() };
  }
  const out: Prediction[] = [];
  for (let i = 0; i < queries.count; i++) {
    if (c.metric === 'cosine') normalizeInPlace(queries.data, i * queries.dim, queries.dim);
    const { c: best, d } = nearestCentroid(model, queries.data, i * queries.dim, queries.dim, c.metric);
    out.push({ ...(ids !== undefined ? { id: ids[i]! } : {}), label: model.labels[best]!, score: userScore(c.metric, d) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Leave-one-out evaluation

function report(method: 'knn' | 'centroid', k: number | undefined, truth: readonly string[], predicted: readonly string[]): ClassifierReport {
  const per = new Map<string, { n: number; correct: number }>();
  let correct = 0;
  truth.forEach((t, i) => {
    const e = per.get(t) ?? { n: 0, correct: 0 };
    e.n++;
    if (predicted[i] === t) { e.correct++; correct++; }
    per.set(t, e);
  });
  const perLabel = [...per].map(([label, e]) => ({ label, n: e.n, correct: e.correct, accuracy: e.correct / e.n }))
    .sort((a, b) => b.n - a.n || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return { method, ...(k !== undefined ? { k } : {}), n: truth.length, correct, accuracy: truth.length > 0 ? correct / truth.length : 0, perLabel };
}

/**
 * Leave-one-out accuracy over the labelled records: each is classified by the others (k-NN: left
 * out of its own neighbours; centroid: removed from its label's mean), with a per-label breakdown.
 * A record whose label has no other record cannot be classified right by the centroid method.
 */
export async function evaluateClassifier(c: Collection, options: EvaluateOptions): Promise<ClassifierReport> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected { labelField, method?, k? }, got ${describe(options)}`);
  const field = checkField(options.labelField);
  const method = options.method ?? 'knn';
  if (method !== 'knn' && method !== 'centroid') throw invalidArgument(`method: expected "knn" or "centroid", got ${describe(method)}`);
  if (method === 'knn') {
    const labels = await labelledRecords(c, field, options.where);
    const ids = [...labels.keys()].sort();
    const k = checkKAgainst(options.k ?? 5, labels.size, 'k', true);
    const preds = await knnBatch(c, await vectorsOfIds(c, ids), ids, k, labels, both(options.where, hasLabel(field)), options.weighted === true);
    return report('knn', k, ids.map((id) => labels.get(id)!), preds.map((p) => p.label));
  }
  if (options.k !== undefined) checkK(options.k, 'k');
  const sel = await selectRecords(c, { where: options.where, metadatas: true });
  const all = labelsOf(sel, field, c.name);
  const { dim, metric } = sel;
  const rows: number[] = [];
  all.forEach((l, i) => { if (l !== undefined) rows.push(i); });
  const labels = rows.map((i) => all[i]!);
  const names = [...new Set(labels)].sort();
  const at = new Map(names.map((l, i) => [l, i]));
  const sums = new Float64Array(names.length * dim);
  const counts = new Array<number>(names.length).fill(0);
  for (const i of rows) {
    const l = at.get(all[i]!)!;
    counts[l]!++;
    for (let j = 0; j < dim; j++) sums[l * dim + j] += sel.vectors[i * dim + j]!;
  }
  const centroid = (l: number, without: number): Float32Array | undefined => {
    const n = counts[l]! - (without >= 0 ? 1 : 0);
    if (n === 0) return undefined;
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = (sums[l * dim + j]! - (without >= 0 ? sel.vectors[without * dim + j]! : 0)) / n;
    if (metric === 'cosine') normalizeInPlace(v);
    return v;
  };
  const full = names.map((_, l) => centroid(l, -1)!);
  const predicted: string[] = [];
  for (const i of rows) {
    const own = at.get(all[i]!)!;
    let best = -1;
    let bestD = Infinity;
    for (let l = 0; l < names.length; l++) {
      const m = l === own ? centroid(l, i) : full[l]!;
      if (m === undefined) continue;
      const d = distanceBetween(metric, sel.vectors, i * dim, m, 0, dim);
      if (d < bestD) { bestD = d; best = l; }
    }
    predicted.push(best < 0 ? '' : names[best]!);
  }
  return report('centroid', undefined, labels, predicted);
}

// ---------------------------------------------------------------------------------------------
// Zero-shot

function checkLabels(labels: unknown): string[] {
  if (!Array.isArray(labels) || labels.length === 0) throw invalidArgument(`labels: expected a non-empty array of label texts, got ${describe(labels)}`);
  const seen = new Set<string>();
  labels.forEach((l, i) => {
    if (typeof l !== 'string' || l.trim() === '') throw invalidArgument(`labels[${i}]: expected a non-empty text, got ${describe(l)}`);
    if (seen.has(l)) throw invalidArgument(`labels: ${JSON.stringify(l)} is given twice`);
    seen.add(l);
  });
  return labels as string[];
}

/** softmax(scale · x), stable. */
function softmax(x: readonly number[], scale: number): number[] {
  const m = Math.max(...x) * scale;
  const e = x.map((v) => Math.exp(v * scale - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Zero-shot classification: every label (through `template`) is encoded by `encode`, and every
 * selected record gets the label whose text vector has the highest cosine with its vector. With
 * `clip`, the probabilities are softmax(100 · cos) as in CLIP. A label the encoder gives no vector
 * (an encoder with a closed vocabulary that does not know it) is `invalid_argument`, with the
 * encoders' message (`text[i] "…": …`, src/encoders/no-vector.ts).
 */
export async function zeroShot(c: Collection, options: ZeroShotOptions): Promise<Prediction[]> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected { labels, encode, template? }, got ${describe(options)}`);
  const labels = checkLabels(options.labels);
  if (typeof options.encode !== 'function') throw invalidArgument(`encode: expected a function from texts to vectors, got ${describe(options.encode)}`);
  const clip = options.clip === true;
  const template = options.template ?? (clip ? CLIP_TEMPLATE : '{label}');
  if (typeof template !== 'string' || !template.includes('{label}')) throw invalidArgument(`template: expected a text with {label}, e.g. "a photo of a {label}.", got ${describe(template)}`);
  if (options.ids !== undefined && (!Array.isArray(options.ids) || options.ids.length === 0)) throw invalidArgument(`ids: expected a non-empty array of record ids, got ${describe(options.ids)}`);
  // Records first: an empty collection is refused before the encoder runs.
  let ids: readonly string[];
  let rows: VectorBatch;
  if (options.ids !== undefined) {
    ids = options.ids;
    rows = await vectorsOfIds(c, ids);
  } else {
    const sel = await selectRecords(c, { where: options.where, sample: options.sample });
    ids = sel.ids;
    rows = { data: sel.vectors, dim: sel.dim, count: sel.n };
  }
  const texts = labels.map((l) => template.replaceAll('{label}', l));
  const encoded = await options.encode(texts);
  if (!Array.isArray(encoded) || encoded.length !== labels.length) throw invalidArgument(`encode: expected ${labels.length} vectors (one per label), got ${describe(encoded)}`);
  const dim = c.dim;
  const lv = new Float32Array(labels.length * dim);
  encoded.forEach((v, i) => {
    if (v === null || typeof v !== 'object' || v.length !== dim) throw new OmnivecError('dimension_mismatch', `labels[${i}] (${JSON.stringify(labels[i])}): the encoder gave a ${describe(v?.length)}-component vector, the collection holds ${dim}-d vectors`);
    lv.set(v, i * dim);
    const norm = normalizeInPlace(lv, i * dim, dim);
    // Encoders refuse a text they give no vector (docs/hardening.md §6); an encode function that
    // returns one anyway is refused here with the same message.
    if (!(norm > 0) || !Number.isFinite(norm)) throw noVectorError(i, texts[i]!, norm === 0 ? ZERO_OUTPUT : 'the encoder gives it a vector with non-finite values');
  });
  const out: Prediction[] = [];
  const q = new Float32Array(dim);
  const cos = new Array<number>(labels.length);
  for (let r = 0; r < rows.count; r++) {
    q.set(rowOf(rows, r));
    normalizeInPlace(q);
    let best = 0;
    for (let l = 0; l < labels.length; l++) {
      cos[l] = 1 - distanceBetween('ip', q, 0, lv, l * dim, dim);
      if (cos[l]! > cos[best]!) best = l;
    }
    const p: Prediction = { id: ids[r]!, label: labels[best]!, score: cos[best]! };
    if (clip) {
      const probs = softmax(cos, CLIP_LOGIT_SCALE);
      p.probabilities = Object.fromEntries(labels.map((l, i) => [l, probs[i]!]));
    }
    out.push(p);
  }
  return out;
}
