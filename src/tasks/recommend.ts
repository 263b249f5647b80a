/**
 * Recommendations through a collection (docs/tasks.md, "recommend"): Item2Vec's `recommend`
 * (docs/item2vec.md) with the collection's index doing the search, so it works on any collection of
 * item vectors (e.g. `train item2vec --into NAME`, whose records carry `count` for a `where`
 * such as `{ count: { $gte: 10 } }`, the protocol's minCount).
 */
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import { userScore } from '../vector/metric.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { checkInt, checkK } from '../checks.js';
import { storedModelDir } from '../encoders/stored-models.js';
import { loadRecsys } from '../encoders/recsys/files.js';
import type { RecsysModel } from '../encoders/recsys/model.js';

export interface RecommendFromCollectionOptions {
  /** Items like this one (never returned itself). */
  item?: string;
  /** Items the user consumed, oldest first (never returned). */
  history?: readonly string[];
  /** Items to return (default 10). */
  k?: number;
  /** The last `recent` history items make the query (default 5). */
  recent?: number;
  /** The j-th most recent history item weighs `decay^j` (default 0.8), in (0, 1]. */
  decay?: number;
  /** More items never returned. */
  exclude?: readonly string[];
  /** Only records matching this filter are recommended. */
  where?: Where;
}

export interface ItemScore {
  id: string;
  /** The display score of the collection's metric: cosine similarity for cosine collections. */
  score: number;
}

export const RECOMMEND_DEFAULTS = { k: 10, recent: 5, decay: 0.8 } as const;

function checkIds(v: unknown, what: string): string[] {
  if (!Array.isArray(v)) throw invalidArgument(`${what}: expected an array of record ids, got ${describe(v)}`);
  v.forEach((x, i) => { if (typeof x !== 'string' || x === '') throw invalidArgument(`${what}[${i}]: expected a record id, got ${describe(x)}`); });
  return v as string[];
}

/**
 * The `k` records nearest to `item`'s vector, or to the weighted mean of the unit vectors of the
 * last `recent` history items (the j-th most recent weighing `decay^j`), through the collection's
 * index. The item, the history and `exclude` are never returned; an id that is not stored is
 * `not_found` naming it. Best first.
 */
export async function recommendFromCollection(c: Collection, options: RecommendFromCollectionOptions): Promise<ItemScore[]> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected { item } or { history }, got ${describe(options)}`);
  const hasItem = options.item !== undefined;
  const hasHistory = options.history !== undefined;
  if (hasItem === hasHistory) throw invalidArgument(`expected one of item and history, got ${hasItem ? 'both' : 'neither'}`);
  const k = checkK(options.k ?? RECOMMEND_DEFAULTS.k, 'k');
  const recent = checkInt(options.recent ?? RECOMMEND_DEFAULTS.recent, 'recent', { min: 1 });
  const decay = options.decay ?? RECOMMEND_DEFAULTS.decay;
  if (typeof decay !== 'number' || !(decay > 0 && decay <= 1)) throw invalidArgument(`decay: expected a number in (0, 1], got ${describe(decay)}`);
  const exclude = options.exclude === undefined ? [] : checkIds(options.exclude, 'exclude');
  let query: string[];
  if (hasItem) {
    if (typeof options.item !== 'string' || options.item === '') throw invalidArgument(`item: expected a record id, got ${describe(options.item)}`);
    query = [options.item];
  } else {
    query = checkIds(options.history, 'history');
    if (query.length === 0) throw invalidArgument('history: expected at least one item, got an empty array');
  }
  if (await c.count() === 0) throw new OmnivecError('empty_index', `${c.name}: no records to work on (the collection is empty)`);

  const distinct = [...new Set(query)];
  const got = await c.get({ ids: distinct, include: ['vectors'] });
  if (got.ids.length !== distinct.length) {
    const have = new Set(got.ids);
    const missing = distinct.filter((id) => !have.has(id));
    const shown = missing.slice(0, 5).map((x) => JSON.stringify(x)).join(', ');
    throw new OmnivecError('not_found', `${hasItem ? 'item' : 'history'}: ${missing.length === 1 ? 'no record' : `${missing.length} items have no record`} ${shown}${missing.length > 5 ? ', …' : ''} in ${c.name}`, { ids: missing.slice(0, 5) });
  }
  const vec = new Map(got.ids.map((id, i) => [id, got.vectors![i]!]));

  // The history's query: Σ decay^j · unit(v_j) over the last `recent` history items.
  const d = c.dim;
  const q = new Float64Array(d);
  const tmp = new Float32Array(d);
  let w = 1;
  const first = Math.max(0, query.length - recent);
  for (let i = query.length - 1; i >= first; i--, w *= decay) {
    tmp.set(vec.get(query[i]!)!);
    normalizeInPlace(tmp);
    for (let j = 0; j < d; j++) q[j] += w * tmp[j]!;
  }
  // One item: its vector as stored (for l2 its length matters). A history: the unit mean.
  const qf = hasItem ? vec.get(query[0]!)! : Float32Array.from(q);
  if (!hasItem) normalizeInPlace(qf);

  // Ask for enough candidates that k remain after dropping the excluded ones.
  const never = new Set([...query, ...exclude]);
  const res = await c.query({ vector: qf, k: Math.min(100_000, k + never.size), include: [], ...(options.where !== undefined ? { where: options.where } : {}) });
  const out: ItemScore[] = [];
  for (let i = 0; i < res.ids.length && out.length < k; i++) {
    const id = res.ids[i]!;
    if (!never.has(id)) out.push({ id, score: userScore(c.metric, res.distances[i]!) });
  }
  return out;
}

// ── Users of a deep recommender's collection (docs/recommenders.md#serving) ─────────────────────

/** The user vector maker of a YouTube DNN / two-tower collection (`RecsysModel.userVector`). */
export interface UserVectorModel {
  readonly kind: string;
  readonly dim: number;
  userVector(q: { history: readonly string[]; userId?: string }): Float32Array;
}

export interface UserQueryInput {
  /** Items the user consumed, oldest first (never returned). */
  history: readonly string[];
  /** The user's id, for a model trained with user features. */
  userId?: string;
}

export interface RecommendUsersOptions {
  k?: number;
  /** Item vectors only (no model): as `recommendFromCollection`'s. */
  recent?: number;
  decay?: number;
  exclude?: readonly string[];
  where?: Where;
}

/**
 * Recommendations for each user, in order, one query after the other (so a batch answers exactly
 * what the single queries answer): with `model` (a YouTube DNN or two-tower collection) the query
 * is the model's user vector, searched by inner product through the collection's index; without
 * it (item vectors, e.g. Item2Vec) the recency-weighted mean of `recommendFromCollection`. The
 * history and `exclude` are never returned.
 */
export async function recommendForUsers(c: Collection, model: UserVectorModel | null, users: readonly UserQueryInput[], options: RecommendUsersOptions = {}): Promise<ItemScore[][]> {
  if (!Array.isArray(users)) throw invalidArgument(`users: expected an array of { history, userId? }, got ${describe(users)}`);
  const k = checkK(options.k ?? RECOMMEND_DEFAULTS.k, 'k');
  const exclude = options.exclude === undefined ? [] : checkIds(options.exclude, 'exclude');
  if (model !== null && model.dim !== c.dim) {
    throw new OmnivecError('dimension_mismatch', `${c.name}: the collection holds ${c.dim}-d vectors, its ${model.kind} model makes ${model.dim}-d user vectors`);
  }
  const out: ItemScore[][] = [];
  for (const [n, u] of users.entries()) {
    if (u === null || typeof u !== 'object') throw invalidArgument(`users[${n}]: expected { history, userId? }, got ${describe(u)}`);
    const history = checkIds(u.history, `users[${n}].history`);
    if (model === null) {
      out.push(await recommendFromCollection(c, {
        history, k, exclude,
        ...(options.recent !== undefined ? { recent: options.recent } : {}),
        ...(options.decay !== undefined ? { decay: options.decay } : {}),
        ...(options.where !== undefined ? { where: options.where } : {}),
      }));
      continue;
    }
    if (u.userId !== undefined && (typeof u.userId !== 'string' || u.userId === '')) throw invalidArgument(`users[${n}].userId: expected a non-empty string, got ${describe(u.userId)}`);
    const q = model.userVector({ history, ...(u.userId !== undefined ? { userId: u.userId } : {}) });
    const never = new Set([...history, ...exclude]);
    const res = await c.query({ vector: q, k: Math.min(100_000, k + never.size), include: [], ...(options.where !== undefined ? { where: options.where } : {}) });
    const recs: ItemScore[] = [];
    for (let i = 0; i < res.ids.length && recs.length < k; i++) {
      const id = res.ids[i]!;
      if (!never.has(id)) recs.push({ id, score: userScore(c.metric, res.distances[i]!) });
    }
    out.push(recs);
  }
  return out;
}

const modelCache = new Map<string, { model: RecsysModel; spec: string }>();

/**
 * The deep recommender a collection is bound to (`encoder.kind` youtube-dnn or two-tower), read
 * from `filesDir/models/` once per process, or null for a collection of plain item vectors.
 */
export async function collectionModel(filesDir: string, c: Collection): Promise<RecsysModel | null> {
  const e = c.encoder;
  if (e === null || (e.kind !== 'youtube-dnn' && e.kind !== 'two-tower')) return null;
  const dir = storedModelDir(filesDir, e.model);
  const hit = modelCache.get(dir);
  if (hit !== undefined) return hit.model;
  const model = await loadRecsys(dir);
  modelCache.set(dir, { model, spec: e.model });
  return model;
}
