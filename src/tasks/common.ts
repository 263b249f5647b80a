/**
 * What every task shares (docs/tasks.md, "Shared rules"): choosing the records (a `where` filter,
 * then the first `sample` in id order, or a seeded sample spread over all of them), reading their
 * vectors into one Float32Array, and the checks whose messages every task gives the same way.
 */
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Metadata, Where } from '../db/where.js';
import type { Metric } from '../vector/metric.js';
import { fmix32 } from '../vector/random.js';
import { checkInt, checkK } from '../checks.js';

/** Most records a task reads at once. */
export const MAX_RECORDS = 200_000;
/** Up to this many records, tasks may compute exactly (all pairs) instead of through the index. */
export const EXACT_LIMIT = 5000;

export interface SelectOptions {
  /** Metadata filter (docs/filters.md). */
  where?: Where;
  /** At most N records of those the filter matches (default: all, up to MAX_RECORDS); which N: `sampling`. */
  sample?: number;
  /**
   * Which records `sample` keeps when more match (see `spreadSample`):
   * - `'first'` (default): the first N in id order;
   * - `'spread'`: a seeded random sample spread evenly over all of them (the projections' rule).
   */
  sampling?: 'first' | 'spread';
  /** The seed of `sampling: 'spread'` (an integer from 0 to 2³² − 1; default 42). */
  seed?: number;
  /** Also read the metadata (default false). */
  metadatas?: boolean;
}

export interface Selection {
  ids: string[];
  /** n × dim, row i is ids[i]'s vector as given when stored (not normalised, even in cosine collections: only the index normalises). */
  vectors: Float32Array;
  n: number;
  dim: number;
  metric: Metric;
  metadatas?: (Metadata | null)[];
  /** The collection's change number when read. */
  seq: number;
  /** How many records matched (the filter), of which `n` were read: n < total when `sample` cut. */
  total: number;
}

export interface TaskProgress {
  phase: string;
  done: number;
  total: number;
}

export type OnProgress = (p: TaskProgress) => void;

/** k must leave at least one record besides the query: k ≤ n − 1 (or ≤ n when `self` is false). */
export function checkKAgainst(k: unknown, n: number, what = 'k', self = true): number {
  const kk = checkK(k, what);
  const most = self ? n - 1 : n;
  if (kk > most) {
    throw invalidArgument(`${what}: ${kk} is larger than the records can give: the selection has ${n} record${n === 1 ? '' : 's'}${self ? ', so at most k = ' + most + ' neighbours besides each record itself' : ''}`);
  }
  return kk;
}

/** FNV-1a over the UTF-16 code units, seeded, then MurmurHash3's finaliser (fmix32) to spread the bits. */
function idHash(id: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/**
 * `size` of `ids`, spread evenly over all of them: the ids with the smallest seeded hash (a
 * "bottom-k" sample; ties by id), returned in id order. Every id is equally likely to be chosen
 * whatever its place in id or storage order, so no stretch of the ids is favoured and no pattern in
 * them (ids numbered in turn by class, say) lines up with the choice as an even stride would; the
 * answer depends only on the set of ids and the seed, not on insertion order; and a record added
 * later displaces at most one chosen record, so the sample of a growing collection changes little.
 * O(n log n) over typed arrays: about 0.2 s a million ids.
 */
export function spreadSample(ids: readonly string[], size: number, seed: number): string[] {
  if (size >= ids.length) return [...ids].sort();
  const hashes = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) hashes[i] = idHash(ids[i]!, seed);
  const cut = hashes.slice().sort()[size - 1]!;
  const out: string[] = [];
  const tied: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (hashes[i]! < cut) out.push(ids[i]!);
    else if (hashes[i] === cut) tied.push(ids[i]!);
  }
  out.push(...tied.sort().slice(0, size - out.length));
  return out.sort();
}

/**
 * Reads the chosen records: the filter, then `sample` of them (`sampling`: the first in id order,
 * or `spreadSample`), in id order (code-unit order, as JavaScript sorts strings: deterministic and
 * independent of insertion order). An empty selection is `empty_index`, naming the collection and
 * the filter.
 */
export async function selectRecords(c: Collection, options: SelectOptions = {}): Promise<Selection> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  const sample = options.sample === undefined ? MAX_RECORDS : checkInt(options.sample, 'sample', { min: 1, max: MAX_RECORDS });
  const sampling = options.sampling ?? 'first';
  if (sampling !== 'first' && sampling !== 'spread') throw invalidArgument(`sampling: expected "first" or "spread", got ${describe(sampling)}`);
  const seed = options.seed === undefined ? 42 : checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff });
  const include = options.metadatas === true ? (['vectors', 'metadatas'] as const) : (['vectors'] as const);
  if (options.where === undefined && options.sample === undefined) return selectAll(c, include);
  for (let attempt = 0; ; attempt++) {
    const before = c.seq;
    let ids = options.where === undefined ? await c.list() : (await c.get({ where: options.where, include: [] })).ids;
    const total = ids.length;
    if (sampling === 'spread') ids = spreadSample(ids, sample, seed);
    else {
      ids.sort();
      if (ids.length > sample) ids.length = sample;
    }
    const got = ids.length === 0 ? { ids: [] as string[], vectors: [] as Float32Array[], metadatas: [] as (Metadata | null)[] } : await c.get({ ids, include: [...include] });
    const after = c.seq;
    if (before !== after && attempt < 3) continue;
    const n = got.ids.length;
    if (n === 0) {
      throw new OmnivecError('empty_index', `${c.name}: no records to work on${options.where !== undefined ? ` (the filter ${JSON.stringify(options.where)} matches none of its ${await c.count()} records)` : ' (the collection is empty)'}`);
    }
    if (total > MAX_RECORDS && options.sample === undefined) {
      throw invalidArgument(`${c.name}: ${total} records match; tasks read at most ${MAX_RECORDS} at once: give sample (the first N in id order) or a where filter`);
    }
    const dim = c.dim;
    const vectors = new Float32Array(n * dim);
    got.vectors!.forEach((v, i) => vectors.set(v, i * dim));
    return {
      ids: got.ids, vectors, n, dim, metric: c.metric, seq: after, total,
      ...(options.metadatas === true ? { metadatas: got.metadatas! } : {}),
    };
  }
}

/**
 * Every record (no filter, no sample): one read of the whole collection, then id order — half the
 * time of listing the ids and reading them back by id (2,050 × 784: ~8 against ~20 ms, measured).
 * The same selection, errors and retry on a concurrent write as `selectRecords`' general path.
 */
async function selectAll(c: Collection, include: readonly ('vectors' | 'metadatas')[]): Promise<Selection> {
  for (let attempt = 0; ; attempt++) {
    const before = c.seq;
    const total = await c.count();
    if (total > MAX_RECORDS) {
      throw invalidArgument(`${c.name}: ${total} records match; tasks read at most ${MAX_RECORDS} at once: give sample (the first N in id order) or a where filter`);
    }
    if (total === 0) throw new OmnivecError('empty_index', `${c.name}: no records to work on (the collection is empty)`);
    const got = await c.get({ include: [...include] });
    const after = c.seq;
    if (before !== after && attempt < 3) continue;
    const n = got.ids.length;
    if (n === 0) throw new OmnivecError('empty_index', `${c.name}: no records to work on (the collection is empty)`);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (got.ids[a]! < got.ids[b]! ? -1 : got.ids[a]! > got.ids[b]! ? 1 : 0));
    const dim = c.dim;
    const vectors = new Float32Array(n * dim);
    order.forEach((from, i) => vectors.set(got.vectors![from]!, i * dim));
    return {
      ids: order.map((i) => got.ids[i]!), vectors, n, dim, metric: c.metric, seq: after, total: n,
      ...(include.includes('metadatas') ? { metadatas: order.map((i) => got.metadatas![i] ?? null) } : {}),
    };
  }
}

/** The labels of a metadata field, as strings; `not_found` when no selected record has the field. */
export function labelsOf(sel: Selection, field: string, collection: string): (string | undefined)[] {
  if (typeof field !== 'string' || field.length === 0) throw invalidArgument(`labelField: expected a metadata field name, got ${describe(field)}`);
  const md = sel.metadatas;
  if (md === undefined) throw new Error('labelsOf: select the records with metadatas: true');
  const labels = md.map((m) => {
    const v = m?.[field];
    return v === undefined || v === null ? undefined : String(v);
  });
  if (labels.every((l) => l === undefined)) {
    throw new OmnivecError('not_found', `labelField: no selected record of ${collection} has the metadata field ${JSON.stringify(field)}`);
  }
  return labels;
}
