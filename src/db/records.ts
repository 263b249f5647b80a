import { OmnivecError, describe } from '../errors.js';
import type { VectorBatch } from '../vector/batch.js';
import { checkMetadata, isWellFormed, LONE_SURROGATE, type Metadata } from './where.js';
import { BATCHES } from '../io/common.js';

/**
 * What callers hand to add / upsert / update, and its validation into the row SQLite stores.
 * Checks run on a whole chunk before any of it is written.
 */
export interface RecordInput {
  id: string;
  /** The dense vector (dim numbers). Required by add and upsert, optional for update. */
  vector?: ArrayLike<number>;
  /** Text kept with the record and indexed for full-text search; null clears it on update. */
  document?: string | null;
  /** A flat JSON object (values: string, number, boolean, null or arrays of those); null clears it. */
  metadata?: Record<string, unknown> | null;
  /** Sparse vector: { token: weight } or { indices, values }. */
  sparse?: unknown;
  /** Token vectors for MaxSim re-ranking: rows of equal length, or a VectorBatch. */
  multiVector?: ArrayLike<ArrayLike<number>> | VectorBatch | null;
  /** The model that made the vector; refused when the collection is bound to another encoder. */
  model?: string;
}

/** Chroma's columnar shape. `vectors` may be one Float32Array of count × dim. */
export interface ColumnarInput {
  ids: readonly string[];
  vectors?: Float32Array | VectorBatch | ArrayLike<ArrayLike<number>>;
  documents?: readonly (string | null | undefined)[];
  metadatas?: readonly (Record<string, unknown> | null | undefined)[];
  sparse?: readonly unknown[];
  multiVectors?: readonly (ArrayLike<ArrayLike<number>> | VectorBatch | null | undefined)[];
}

export type RecordsInput = ColumnarInput | Iterable<RecordInput> | AsyncIterable<RecordInput>;

/** A validated row. `undefined` = not given (update keeps the stored value), `null` = cleared. */
export interface PreparedRow {
  id: string;
  vector: Buffer | undefined;
  document: string | null | undefined;
  metadata: string | null | undefined;
  sparse: unknown;
  multiVector: { data: Float32Array; dim: number; count: number } | null | undefined;
}

export const CHUNK = 4096;

function isColumnar(x: unknown): x is ColumnarInput {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && 'ids' in x &&
    !(Symbol.iterator in x) && !(Symbol.asyncIterator in x);
}

function isBatch(x: unknown): x is VectorBatch {
  return x !== null && typeof x === 'object' && (x as VectorBatch).data instanceof Float32Array &&
    typeof (x as VectorBatch).dim === 'number' && typeof (x as VectorBatch).count === 'number';
}

/** Splits any accepted input into chunks of at most CHUNK records, lazily (iterables are never collected whole). */
export async function* recordChunks(input: RecordsInput, dim: number, what: string): AsyncGenerator<RecordInput[]> {
  if (input === null || typeof input !== 'object') {
    throw new OmnivecError('invalid_argument', `${what}: expected records (an array or iterable of { id, vector, ... }, or { ids, vectors, ... }), got ${describe(input)}`);
  }
  if (isColumnar(input)) {
    yield* columnarChunks(input, dim, what);
    return;
  }
  let chunk: RecordInput[] = [];
  const batched = (input as { [BATCHES]?: () => AsyncIterable<RecordInput[]> })[BATCHES];
  if (typeof batched === 'function') {
    // A source that offers its records in batches (src/io readers): no await per record.
    for await (const batch of batched.call(input)) {
      for (const r of batch) {
        chunk.push(r);
        if (chunk.length === CHUNK) { yield chunk; chunk = []; }
      }
    }
  } else if (Symbol.asyncIterator in input) {
    for await (const r of input as AsyncIterable<RecordInput>) {
      chunk.push(r);
      if (chunk.length === CHUNK) { yield chunk; chunk = []; }
    }
  } else if (Symbol.iterator in input) {
    for (const r of input as Iterable<RecordInput>) {
      chunk.push(r);
      if (chunk.length === CHUNK) { yield chunk; chunk = []; }
    }
  } else {
    throw new OmnivecError('invalid_argument', `${what}: expected records (an array or iterable of { id, vector, ... }, or { ids, vectors, ... }), got an object without ids`);
  }
  if (chunk.length > 0) yield chunk;
}

function* columnarChunks(input: ColumnarInput, dim: number, what: string): Generator<RecordInput[]> {
  const { ids } = input;
  if (!Array.isArray(ids)) throw new OmnivecError('invalid_argument', `${what}.ids: expected an array of strings, got ${describe(ids)}`);
  const n = ids.length;
  const check = (name: string, col: { length: number } | undefined): void => {
    if (col !== undefined && col !== null && col.length !== n) {
      throw new OmnivecError('invalid_argument', `${what}.${name}: expected ${n} entries (one per id), got ${col.length}`);
    }
  };
  let vectorAt: ((i: number) => ArrayLike<number>) | undefined;
  const v = input.vectors;
  if (v !== undefined) {
    if (v instanceof Float32Array || isBatch(v)) {
      const data = v instanceof Float32Array ? v : v.data;
      const vdim = v instanceof Float32Array ? dim : v.dim;
      if (vdim !== dim) throw new OmnivecError('dimension_mismatch', `${what}.vectors: expected dimension ${dim}, got a batch of dimension ${vdim}`);
      if (data.length !== n * dim) {
        throw new OmnivecError('invalid_argument', `${what}.vectors: expected ${n} × ${dim} = ${n * dim} numbers (one vector per id), got ${data.length}`);
      }
      vectorAt = (i) => data.subarray(i * dim, (i + 1) * dim);
    } else if (typeof (v as ArrayLike<unknown>).length === 'number') {
      check('vectors', v as ArrayLike<unknown>);
      vectorAt = (i) => (v as ArrayLike<ArrayLike<number>>)[i]!;
    } else {
      throw new OmnivecError('invalid_argument', `${what}.vectors: expected a Float32Array, a VectorBatch or an array of vectors, got ${describe(v)}`);
    }
  }
  check('documents', input.documents);
  check('metadatas', input.metadatas);
  check('sparse', input.sparse);
  check('multiVectors', input.multiVectors);
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    const chunk: RecordInput[] = [];
    for (let i = start; i < end; i++) {
      const r: RecordInput = { id: ids[i]! };
      if (vectorAt !== undefined) r.vector = vectorAt(i);
      if (input.documents !== undefined) r.document = input.documents[i] ?? null;
      if (input.metadatas !== undefined) r.metadata = input.metadatas[i] ?? null;
      if (input.sparse !== undefined) r.sparse = input.sparse[i];
      if (input.multiVectors !== undefined) r.multiVector = input.multiVectors[i] ?? null;
      chunk.push(r);
    }
    yield chunk;
  }
}

/** The longest id, in UTF-16 code units. */
export const MAX_ID_LENGTH = 4096;

/**
 * A record id: 1–4 096 code units of well-formed text without NUL (docs/hardening.md §1). SQLite
 * stores text as UTF-8, which cannot hold a lone surrogate: it would come back as U+FFFD, so
 * "\ud800" and "\udc00" would become one id.
 */
export function checkId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new OmnivecError('invalid_argument', `${what}: expected a non-empty string id, got ${describe(id)}`);
  }
  if (id.length > MAX_ID_LENGTH) throw new OmnivecError('invalid_argument', `${what}: expected an id of at most ${MAX_ID_LENGTH} characters, got ${id.length}`);
  if (!isWellFormed(id)) {
    throw new OmnivecError('invalid_argument', `${what}: expected well-formed Unicode text, got an id with a lone surrogate (${describe(id)}); it cannot be stored distinctly`);
  }
  if (id.includes('\u0000')) throw new OmnivecError('invalid_argument', `${what}: expected an id without NUL (U+0000), got ${describe(id)}`);
  return id;
}

/** A document: null or well-formed text (a lone surrogate would be stored as U+FFFD). */
export function checkDocument(doc: unknown, what: string): string | null {
  if (doc === null) return null;
  if (typeof doc !== 'string') throw new OmnivecError('invalid_argument', `${what}: expected a string or null, got ${describe(doc)}`);
  if (!isWellFormed(doc)) {
    const at = LONE_SURROGATE.exec(doc)!.index;
    throw new OmnivecError('invalid_argument', `${what}: expected well-formed Unicode text, got a lone surrogate at position ${at}`);
  }
  return doc;
}

/**
 * Checks a vector's length and values; returns its float32 bytes (a fresh copy owned by the row).
 * Finiteness is checked on the float32 values: a double such as 3.5e38 is finite but becomes
 * Infinity as float32 (docs/hardening.md §1).
 */
export function vectorBytes(v: unknown, dim: number, what: string): Buffer {
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number') {
    throw new OmnivecError('invalid_argument', `${what}: expected an array of ${dim} numbers or a Float32Array, got ${describe(v)}`);
  }
  const arr = v as ArrayLike<number>;
  if (arr.length !== dim) throw new OmnivecError('dimension_mismatch', `${what}: expected ${dim} numbers (the collection's dimension), got ${arr.length}`);
  if (arr instanceof Float32Array) {
    for (let j = 0; j < dim; j++) {
      const x = arr[j]!;
      if (x - x !== 0) throw new OmnivecError('invalid_argument', `${what}[${j}]: expected a finite number, got ${describe(x)}`);
    }
    return Buffer.from(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)); // a copy
  }
  const buf = Buffer.allocUnsafe(dim * 4);
  const f = new Float32Array(buf.buffer, buf.byteOffset, dim);
  for (let j = 0; j < dim; j++) {
    const x = arr[j]!;
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new OmnivecError('invalid_argument', `${what}[${j}]: expected a finite number, got ${describe(x)}`);
    }
    f[j] = x;
    const y = f[j]!;
    if (y - y !== 0) {
      throw new OmnivecError('invalid_argument', `${what}[${j}]: expected a finite float32 number (magnitude below 3.4028235e38), got ${x}, which is ${y} as float32`);
    }
  }
  return buf;
}

/** True when a stored vector blob holds exactly `dim` finite float32 values (rows an older version let in may not). */
export function isValidVectorBlob(blob: Uint8Array | null | undefined, dim: number): boolean {
  if (blob === null || blob === undefined || blob.byteLength !== dim * 4) return false;
  const f = (blob.byteOffset & 3) === 0 ? new Float32Array(blob.buffer, blob.byteOffset, dim) : readF32(blob);
  for (let j = 0; j < dim; j++) {
    const x = f[j]!;
    if (x - x !== 0) return false;
  }
  return true;
}

function multiVector(v: unknown, what: string): { data: Float32Array; dim: number; count: number } {
  if (isBatch(v)) {
    if (v.count < 1 || v.dim < 1 || v.data.length !== v.count * v.dim) {
      throw new OmnivecError('invalid_argument', `${what}: expected a VectorBatch of count × dim numbers with count, dim ≥ 1, got count ${v.count}, dim ${v.dim}, ${v.data.length} numbers`);
    }
    for (let i = 0; i < v.data.length; i++) {
      if (!Number.isFinite(v.data[i]!)) throw new OmnivecError('invalid_argument', `${what}: row ${Math.floor(i / v.dim)} holds a non-finite value`);
    }
    return { data: Float32Array.from(v.data), dim: v.dim, count: v.count };
  }
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<unknown>).length !== 'number' || (v as ArrayLike<unknown>).length === 0) {
    throw new OmnivecError('invalid_argument', `${what}: expected a non-empty array of token vectors or a VectorBatch, got ${describe(v)}`);
  }
  const rows = v as ArrayLike<ArrayLike<number>>;
  const first = rows[0];
  const dim = first !== null && typeof first === 'object' ? first.length : 0;
  if (!(dim > 0)) throw new OmnivecError('invalid_argument', `${what}[0]: expected a non-empty array of numbers, got ${describe(first)}`);
  const data = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) data.set(readF32(vectorBytes(rows[i], dim, `${what}[${i}]`)), i * dim);
  return { data, dim, count: rows.length };
}

/** The float32 values of a vector blob as a fresh Float32Array (blobs from SQLite may be unaligned). */
export function readF32(buf: Uint8Array): Float32Array {
  const out = new Float32Array(buf.byteLength >>> 2);
  new Uint8Array(out.buffer).set(buf.subarray(0, out.length * 4));
  return out;
}

export interface PrepareContext {
  dim: number;
  /** 'add' and 'upsert' need a vector; 'update' takes any subset of the fields. */
  mode: 'add' | 'upsert' | 'update';
  /** The bound encoder's model name, when the collection has one. */
  model: string | undefined;
  what: string;
}

/** Validates one record into the row to store. */
export function prepareRow(r: RecordInput, i: number, ctx: PrepareContext): PreparedRow {
  const what = `${ctx.what}[${i}]`;
  if (r === null || typeof r !== 'object') throw new OmnivecError('invalid_argument', `${what}: expected a record { id, vector, document?, metadata? }, got ${describe(r)}`);
  const id = checkId(r.id, `${what}.id`);
  const w = `${ctx.what}[${i}] (id ${JSON.stringify(id)})`;
  if (r.model !== undefined && ctx.model !== undefined && r.model !== ctx.model) {
    throw new OmnivecError('encoder_error', `${w}.model: the collection is bound to the encoder "${ctx.model}", got vectors from "${r.model}"`);
  }
  let vector: Buffer | undefined;
  if (r.vector !== undefined && r.vector !== null) vector = vectorBytes(r.vector, ctx.dim, `${w}.vector`);
  else if (ctx.mode !== 'update') throw new OmnivecError('invalid_argument', `${w}.vector: expected ${ctx.dim} numbers, got ${describe(r.vector)}`);
  let document: string | null | undefined;
  if (r.document === undefined) document = ctx.mode === 'update' ? undefined : null;
  else document = checkDocument(r.document, `${w}.document`);
  let metadata: string | null | undefined;
  if (r.metadata === undefined) metadata = ctx.mode === 'update' ? undefined : null;
  else {
    const m: Metadata | null = checkMetadata(r.metadata, `${w}.metadata`);
    metadata = m === null || Object.keys(m).length === 0 ? null : JSON.stringify(m);
  }
  let mv: PreparedRow['multiVector'];
  if (r.multiVector === undefined) mv = ctx.mode === 'update' ? undefined : null;
  else if (r.multiVector === null) mv = null;
  else mv = multiVector(r.multiVector, `${w}.multiVector`);
  let sparse: unknown = r.sparse;
  if (sparse === undefined && ctx.mode !== 'update') sparse = null;
  return { id, vector, document, metadata, sparse, multiVector: mv };
}

/** The same id twice in one write call (docs/hardening.md §1; Chroma refuses it too). */
export function duplicateId(mode: string, id: string, first: number | undefined, at: number): OmnivecError {
  return new OmnivecError('invalid_argument',
    `${mode}[${at}].id: the id ${JSON.stringify(id)} appears twice in this call${first === undefined ? '' : ` (also at ${mode}[${first}])`}; ids must be unique within one call`,
    { id });
}
