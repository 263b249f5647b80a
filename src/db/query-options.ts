/**
 * A query's options checked and turned into what the planner runs (docs/db.md, "Queries and the
 * planner"): the dense vector as float32 of the collection's dimension (given, or encoded from
 * `text` by the bound encoder), the multi-vector, the candidate counts and the filters.
 */
import { OmnivecError, describe } from '../errors.js';
import { checkK } from '../checks.js';
import { jsonable } from '../vector/json.js';
import type { VectorBatch } from '../vector/batch.js';
import { checkWhere, checkWhereDocument, type Where, type WhereDocument } from './where.js';
import { prepareRow, readF32, vectorBytes } from './records.js';
import type { PlannedQuery } from './planner.js';
import type { RecordFilter } from './store/types.js';
import type { EncoderSpec, Include, QueryOptions, QueryResult } from './types.js';

export const DEFAULT_INCLUDE: readonly Include[] = ['documents', 'metadatas'];

/** What the checks need to know of the collection. */
export interface QueryTarget {
  name: string;
  dim: number;
  encoder: EncoderSpec | null;
  multiVectorDim: number | undefined;
  /** Encodes query texts with the bound encoder; undefined when the database has no encoders. */
  encodeText: ((spec: EncoderSpec, texts: string[]) => Promise<VectorBatch>) | undefined;
}

export function checkFilter(where: Where | undefined, whereDocument: WhereDocument | undefined): RecordFilter {
  if (where !== undefined) checkWhere(where, 'where');
  if (whereDocument !== undefined) checkWhereDocument(whereDocument, 'whereDocument');
  return { where, whereDocument };
}

/** A query vector: `dim` numbers, finite as float32 (a Float32Array of the right length is used as is). */
export function queryVector(v: unknown, dim: number, what: string): Float32Array {
  if (v instanceof Float32Array && v.length === dim) {
    for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j]!)) throw new OmnivecError('invalid_argument', `${what}[${j}]: expected a finite number, got ${describe(v[j])}`);
    return v;
  }
  return readF32(vectorBytes(v, dim, what));
}

/** The dense query vector of `text`, through the collection's bound encoder. */
async function encodeText(t: QueryTarget, text: unknown): Promise<Float32Array> {
  if (typeof text !== 'string') throw new OmnivecError('invalid_argument', `query.text: expected a string, got ${describe(text)}`);
  if (t.encoder === null) {
    throw new OmnivecError('invalid_argument', `query.text: collection "${t.name}" has no encoder bound, so text cannot be turned into a vector; query by vector, or use fullText for a BM25 query over the documents`);
  }
  if (t.encodeText === undefined) {
    throw new OmnivecError('encoder_error', `query.text: this database was opened without encoders; encode the text with "${t.encoder.model}" and query by vector`);
  }
  const batch = await t.encodeText(t.encoder, [text]);
  if (batch.dim !== t.dim || batch.count !== 1) {
    throw new OmnivecError('dimension_mismatch', `query.text: the encoder "${t.encoder.model}" made ${batch.count} vector(s) of dimension ${batch.dim}, the collection is ${t.dim}-d`);
  }
  return batch.data.subarray(0, t.dim);
}

/**
 * Checks a query's options; encodes `text` through the bound encoder. Synchronous unless there is
 * a text to encode (the query path then takes no promise turn for it).
 */
export function planQuery(t: QueryTarget, o: QueryOptions): PlannedQuery | Promise<PlannedQuery> {
  if (o === null || typeof o !== 'object') throw new OmnivecError('invalid_argument', `query: expected options { vector?, text?, fullText?, sparse?, k, where? }, got ${describe(o)}`);
  if (o.vector !== undefined && o.text !== undefined) throw new OmnivecError('invalid_argument', 'query: expected one of vector and text (both make the dense query), got both');
  if (o.text !== undefined) {
    checkK(o.k ?? 10); // before the encoder runs
    return encodeText(t, o.text).then((vector) => plan(t, o, vector));
  }
  return plan(t, o, o.vector !== undefined ? queryVector(o.vector, t.dim, 'query.vector') : undefined);
}

function plan(t: QueryTarget, o: QueryOptions, vector: Float32Array | undefined): PlannedQuery {
  const k = checkK(o.k ?? 10);
  if (o.fullText !== undefined && typeof o.fullText !== 'string') throw new OmnivecError('invalid_argument', `query.fullText: expected a string, got ${describe(o.fullText)}`);
  if (vector === undefined && o.fullText === undefined && o.sparse === undefined) {
    throw new OmnivecError('invalid_argument', 'query: expected at least one of vector, text, fullText, sparse');
  }
  let multiVector: PlannedQuery['multiVector'];
  if (o.multiVector !== undefined) {
    multiVector = prepareRow({ id: 'query', multiVector: o.multiVector }, 0, { dim: t.dim, mode: 'update', model: undefined, what: 'query' }).multiVector ?? undefined;
    if (multiVector !== undefined && t.multiVectorDim !== undefined && multiVector.dim !== t.multiVectorDim) {
      throw new OmnivecError('dimension_mismatch', `query.multiVector: expected token vectors of dimension ${t.multiVectorDim}, got ${multiVector.dim}`);
    }
  }
  return {
    vector, fullText: o.fullText, sparse: o.sparse, multiVector, k,
    candidates: o.candidates === undefined ? Math.max(10 * k, 100) : checkK(o.candidates, 'query.candidates'),
    filter: checkFilter(o.where, o.whereDocument), fusion: o.fusion, funnel: o.funnel, efSearch: o.efSearch, nProbe: o.nProbe, rescore: o.rescore,
    include: o.include ?? DEFAULT_INCLUDE,
  };
}

/** A batch of dense queries: a VectorBatch of the collection's dimension, every value finite. */
export function checkQueryBatch(queries: VectorBatch, dim: number): void {
  if (queries === null || typeof queries !== 'object' || !(queries.data instanceof Float32Array)) {
    throw new OmnivecError('invalid_argument', `queryBatch: expected a VectorBatch { data, dim, count }, got ${describe(queries)}`);
  }
  if (queries.dim !== dim) throw new OmnivecError('dimension_mismatch', `queryBatch: expected queries of dimension ${dim}, got ${queries.dim}`);
  for (let i = 0; i < queries.data.length; i++) {
    if (!Number.isFinite(queries.data[i]!)) throw new OmnivecError('invalid_argument', `queryBatch: query ${Math.floor(i / queries.dim)} component ${i % queries.dim}: expected a finite number, got ${queries.data[i]}`);
  }
}

/** A query-by-id answer (k + 1 asked) without the record itself (or without the last hit). */
export function withoutSelf(res: QueryResult, id: string, k: number): QueryResult {
  const at = res.ids.indexOf(id);
  const drop = at >= 0 ? at : res.ids.length > k ? res.ids.length - 1 : -1;
  if (drop < 0) return res;
  const pick = <T>(a: T[] | undefined): T[] | undefined => (a === undefined ? undefined : a.filter((_, i) => i !== drop));
  const out: QueryResult = {
    ids: pick(res.ids)!,
    distances: res.distances.filter((_, i) => i !== drop),
    scores: res.scores.filter((_, i) => i !== drop),
  };
  // Only the fields the query included (an `undefined` field would print as a key with no value).
  if (res.documents !== undefined) out.documents = pick(res.documents);
  if (res.metadatas !== undefined) out.metadatas = pick(res.metadatas);
  if (res.vectors !== undefined) out.vectors = pick(res.vectors);
  return jsonable(out);
}
