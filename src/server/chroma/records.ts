/**
 * Records on the Chroma routes (docs/chroma.md): embeddings as sent (float arrays or base64 of
 * little-endian float32), Chroma's write semantics over omnivec's collection calls (an id already
 * stored is skipped by `add`, a missing one by `update`; `update` / `upsert` merge metadata), the
 * `include` shaping of answers, and the exact search behind `query` with `ids`.
 */
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { decodeBase64 } from '../collections-routes.js';
import type { Collection, GetResult, Include } from '../../db/collection.js';
import type { Metadata } from '../../db/where.js';
import type { Metric } from '../../vector/metric.js';

export type EmbeddingIn = number[] | string | null;
export type ChromaInclude = 'documents' | 'metadatas' | 'embeddings' | 'distances' | 'uris';

/** One embedding as sent: the array, or base64 of little-endian float32 decoded (any dimension; the collection checks it). */
export function decodeEmbedding(v: EmbeddingIn, what: string): ArrayLike<number> {
  if (Array.isArray(v)) return v;
  if (typeof v !== 'string') throw invalidArgument(`${what}: expected an array of numbers or base64 of little-endian float32, got ${describe(v)}`);
  const b = decodeBase64(v, what);
  if (b.length === 0 || b.length % 4 !== 0) {
    throw invalidArgument(`${what}: expected base64 of little-endian float32 (a non-zero multiple of 4 bytes), got ${b.length} bytes`);
  }
  const out = new Float32Array(b.length / 4);
  for (let j = 0; j < out.length; j++) out[j] = b.readFloatLE(j * 4);
  return out;
}

export function decodeEmbeddings(list: EmbeddingIn[], field: string): ArrayLike<number>[] {
  return list.map((v, i) => decodeEmbedding(v, `${field}[${i}]`));
}

/** Chroma stores no null values and no empty metadata: null values are dropped, `{}` is none. */
export function cleanMetadata(m: Record<string, unknown> | null | undefined): Metadata | null {
  if (m === null || m === undefined) return null;
  if (typeof m !== 'object' || Array.isArray(m)) return m as unknown as Metadata; // the collection's check names it
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (v !== null) out[k] = v;
  return Object.keys(out).length === 0 ? null : out as Metadata;
}

/** Chroma's update rule: the sent keys replace the stored ones, a key sent as null is removed. */
export function mergeMetadata(stored: Metadata | null | undefined, sent: Record<string, unknown> | null | undefined): Metadata | null {
  if (sent === null || sent === undefined) return stored ?? null;
  if (typeof sent !== 'object' || Array.isArray(sent)) return sent as unknown as Metadata;
  return cleanMetadata({ ...(stored ?? {}), ...sent });
}

export interface WriteBody {
  ids: string[];
  embeddings?: EmbeddingIn[] | null;
  documents?: (string | null)[] | null;
  metadatas?: (Record<string, unknown> | null)[] | null;
  uris?: (string | null)[] | null;
}

/** Each column, when given, has one entry per id. */
export function checkColumns(b: WriteBody): void {
  for (const field of ['embeddings', 'documents', 'metadatas', 'uris'] as const) {
    const col = b[field];
    if (col !== undefined && col !== null && col.length !== b.ids.length) {
      throw invalidArgument(`${field}: expected ${b.ids.length} entries (one per id), got ${col.length}`);
    }
  }
}

/** The stored ids among `ids`, with what `fields` asks for. */
async function stored(c: Collection, ids: string[], include: Include[]): Promise<Map<string, { document: string | null; metadata: Metadata | null }>> {
  const r = await c.get({ ids, include });
  const out = new Map<string, { document: string | null; metadata: Metadata | null }>();
  r.ids.forEach((id, i) => out.set(id, { document: r.documents?.[i] ?? null, metadata: r.metadatas?.[i] ?? null }));
  return out;
}

function pick<T>(col: T[] | null | undefined, keep: number[]): T[] | undefined {
  return col === null || col === undefined ? undefined : keep.map((i) => col[i]!);
}

/**
 * Chroma's add: ids already stored are skipped, the others added in one call. Returns how many
 * were added. Another writer may store one of the ids between the look-up and the add (omnivec's
 * add then refuses the whole call): the look-up is redone, a few times.
 */
export async function chromaAdd(c: Collection, b: WriteBody): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await addOnce(c, b);
    } catch (e) {
      if (!(e instanceof OmnivecError && e.code === 'already_exists') || attempt === 3) throw e;
    }
  }
}

async function addOnce(c: Collection, b: WriteBody): Promise<number> {
  const have = await stored(c, b.ids, []);
  const keep = b.ids.map((_, i) => i).filter((i) => !have.has(b.ids[i]!));
  if (keep.length === 0) return 0;
  const embeddings = pick(b.embeddings, keep);
  if (embeddings === undefined) throw invalidArgument(`embeddings: required for add (${b.ids.length} ids), got nothing; this server runs no embedding function, so send the embeddings`);
  return c.add({
    ids: keep.map((i) => b.ids[i]!),
    vectors: decodeEmbeddings(embeddings, 'embeddings'),
    ...(b.documents != null ? { documents: pick(b.documents, keep)! } : {}),
    ...(b.metadatas != null ? { metadatas: pick(b.metadatas, keep)!.map(cleanMetadata) } : {}),
  });
}

/** Chroma's update: ids not stored are skipped; sent metadata merges into the stored. */
export async function chromaUpdate(c: Collection, b: WriteBody): Promise<number> {
  const have = await stored(c, b.ids, b.metadatas != null ? ['metadatas'] : []);
  const keep = b.ids.map((_, i) => i).filter((i) => have.has(b.ids[i]!));
  if (keep.length === 0) return 0;
  const ids = keep.map((i) => b.ids[i]!);
  const embeddings = pick(b.embeddings, keep);
  return c.update({
    ids,
    ...(embeddings !== undefined ? { vectors: decodeEmbeddings(embeddings, 'embeddings') } : {}),
    ...(b.documents != null ? { documents: pick(b.documents, keep)! } : {}),
    ...(b.metadatas != null ? { metadatas: keep.map((i) => mergeMetadata(have.get(b.ids[i]!)!.metadata, b.metadatas![i])) } : {}),
  });
}

/**
 * Chroma's upsert: a stored record is updated (metadata merged, its document kept unless one is
 * sent), a new one added; one omnivec upsert call, so the whole batch is one transaction.
 */
export async function chromaUpsert(c: Collection, b: WriteBody): Promise<number> {
  if (b.embeddings == null) throw invalidArgument(`embeddings: required for upsert (${b.ids.length} ids), got nothing; this server runs no embedding function, so send the embeddings`);
  const have = await stored(c, b.ids, ['documents', 'metadatas']);
  return c.upsert({
    ids: b.ids,
    vectors: decodeEmbeddings(b.embeddings, 'embeddings'),
    documents: b.ids.map((id, i) => b.documents?.[i] ?? have.get(id)?.document ?? null),
    metadatas: b.ids.map((id, i) => mergeMetadata(have.get(id)?.metadata, b.metadatas?.[i])),
  });
}

// ---------------------------------------------------------------------------------------------
// Answers

const INCLUDES: readonly ChromaInclude[] = ['documents', 'metadatas', 'embeddings', 'distances', 'uris'];

export function checkInclude(include: unknown, route: 'get' | 'query'): ChromaInclude[] {
  if (include === undefined || include === null) return route === 'get' ? ['documents', 'metadatas'] : ['metadatas', 'documents', 'distances'];
  if (!Array.isArray(include)) throw invalidArgument(`include: expected an array of ${INCLUDES.join(', ')}, got ${describe(include)}`);
  return include.map((x, i) => {
    if (!INCLUDES.includes(x as ChromaInclude)) throw invalidArgument(`include[${i}]: expected one of ${INCLUDES.join(', ')}, got ${describe(x)}`);
    if (route === 'get' && x === 'distances') throw invalidArgument(`include[${i}]: "distances" is for query only, got it on get`);
    return x as ChromaInclude;
  });
}

/** omnivec's include for a Chroma one. */
export function omnivecInclude(include: readonly ChromaInclude[]): Include[] {
  const out: Include[] = [];
  if (include.includes('documents')) out.push('documents');
  if (include.includes('metadatas')) out.push('metadatas');
  if (include.includes('embeddings')) out.push('vectors');
  return out;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** A get answer: `include` echoed, each included column, the others null. */
export function getAnswer(r: Pick<GetResult, 'ids' | 'documents' | 'metadatas' | 'vectors'>, include: readonly ChromaInclude[]): Record<string, unknown> {
  return {
    ids: r.ids,
    include,
    documents: include.includes('documents') ? r.documents ?? r.ids.map(() => null) : null,
    metadatas: include.includes('metadatas') ? (r.metadatas ?? r.ids.map(() => null)).map((m) => cleanMetadata(m)) : null,
    embeddings: include.includes('embeddings') ? (r.vectors ?? []).map((v) => Array.from(v, finite)) : null,
    uris: include.includes('uris') ? r.ids.map(() => null) : null,
  };
}

export interface Hits {
  ids: string[];
  distances: ArrayLike<number>;
  documents?: (string | null)[];
  metadatas?: (Metadata | null)[];
  vectors?: ArrayLike<number>[];
}

/** A query answer: one row per query embedding in each column. */
export function queryAnswer(rows: Hits[], include: readonly ChromaInclude[]): Record<string, unknown> {
  const col = <T>(on: ChromaInclude, f: (h: Hits) => T[]): T[][] | null => (include.includes(on) ? rows.map(f) : null);
  return {
    ids: rows.map((h) => h.ids),
    include,
    distances: col('distances', (h) => Array.from(h.distances, finite)),
    documents: col('documents', (h) => h.documents ?? h.ids.map(() => null)),
    metadatas: col('metadatas', (h) => (h.metadatas ?? h.ids.map(() => null)).map((m) => cleanMetadata(m))),
    embeddings: col('embeddings', (h) => (h.vectors ?? []).map((v) => Array.from(v, finite))),
    uris: col('uris', (h) => h.ids.map(() => null)),
  };
}

// ---------------------------------------------------------------------------------------------
// The exact search of `query` with `ids`

/**
 * Chroma's distance between two vectors, in float64: l2 squared, 1 − a·b, 1 − cos (1 when either
 * vector is zero: no direction to compare).
 */
export function chromaDistance(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0; let na = 0; let nb = 0; let l2 = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j]!; const y = b[j]!;
    dot += x * y; na += x * x; nb += y * y; l2 += (x - y) * (x - y);
  }
  if (metric === 'l2') return l2;
  if (metric === 'ip') return 1 - dot;
  return na === 0 || nb === 0 ? 1 : 1 - dot / Math.sqrt(na * nb);
}

/**
 * The n nearest of `candidates` (records with their vectors) to `q`, nearest first; ties by id.
 * What `query` with `ids` returns: a brute-force search restricted to those ids.
 */
export function nearestAmong(metric: Metric, q: ArrayLike<number>, candidates: GetResult, n: number): Hits {
  const vectors = candidates.vectors ?? [];
  const order = candidates.ids.map((id, i) => ({ i, id, d: chromaDistance(metric, q, vectors[i]!) }));
  order.sort((x, y) => x.d - y.d || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const top = order.slice(0, n);
  return {
    ids: top.map((t) => t.id),
    distances: Float64Array.from(top, (t) => t.d),
    ...(candidates.documents !== undefined ? { documents: top.map((t) => candidates.documents![t.i]!) } : {}),
    ...(candidates.metadatas !== undefined ? { metadatas: top.map((t) => candidates.metadatas![t.i]!) } : {}),
    vectors: top.map((t) => vectors[t.i]!),
  };
}

/** The dimension a query embedding must have, checked before the search (a 400 that names the query). */
export function checkQueryDim(q: ArrayLike<number>, dim: number, what: string): void {
  if (q.length !== dim) throw new OmnivecError('dimension_mismatch', `${what}: expected ${dim} numbers (the collection's dimension), got ${q.length}`);
}
