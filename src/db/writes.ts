/**
 * The stored half of a write call (docs/db.md, "Change numbers"; docs/hardening.md §1): each chunk
 * of the input is validated completely (records.ts), checked for ids repeated within the call, and
 * handed to the store inside the caller's transaction; the vectors written are kept, at the index's
 * dimension, to go into the index from memory after the commit (reading them back cost about half
 * of a flat import).
 */
import { OmnivecError, describe } from '../errors.js';
import { TermDictionary, parseSparse } from '../indexes/sparse/sparse-index.js';
import { recordChunks, prepareRow, duplicateId, checkId, type PreparedRow, type RecordsInput } from './records.js';
import { checkFilter } from './query-options.js';
import type { PendingVectors } from './index-cache.js';
import type { RecordFilter, RecordWriter } from './store/types.js';
import type { CollectionOptions, DeleteOptions, WriteMode, WriteOptions } from './types.js';

/** What the write path needs to know of its collection. */
export interface WriteTarget {
  dim: number;
  indexDim: number;
  /** The bound encoder's model name, when the collection has one. */
  model: string | undefined;
  multiVectorDim: number | undefined;
  /** The collection's options now (a write that fixes the multi-vector dimension commits them changed). */
  options: CollectionOptions;
  /** Keep the slots and ids written (the planner's id cache is loaded). */
  trackIds: boolean;
}

export interface StoredWrite {
  seq: number;
  count: number;
  pending: PendingVectors[];
  /** Slots and ids of the rows written (for the id cache, when tracked). */
  written: { slots: number[]; ids: string[] };
  /** The multi-vector dimension after the call (fixed by the first record that has one). */
  multiVectorDim: number | undefined;
}

/**
 * Checks a sparse vector given as { token: weight } or { indices, values } with the same rules the
 * sparse index applies (parseSparse: finite float32 weights, no repeated index, zeros dropped) and
 * returns its canonical JSON ({ token: weight }), or null when no weight is left.
 */
export function canonicalSparse(value: unknown, what: string): string | null {
  const dict = new TermDictionary();
  const v = parseSparse(value, dict, what, true);
  if (v.terms.length === 0) return null;
  const out: Record<string, number> = {};
  for (let i = 0; i < v.terms.length; i++) out[dict.token(v.terms[i]!)!] = v.weights[i]!;
  return JSON.stringify(out);
}

/** Stores every record of `input` through `w` (inside the caller's transaction, as its change `w.seq`). */
export async function storeRecords(w: RecordWriter, target: WriteTarget, mode: WriteMode, input: RecordsInput, options: WriteOptions = {}): Promise<StoredWrite> {
  const pending: PendingVectors[] = [];
  const written = { slots: [] as number[], ids: [] as string[] };
  const d = target.indexDim;
  const ctx = { dim: target.dim, mode, model: target.model, what: mode };
  // Ids must be unique within a call: within a chunk by id; across chunks, for add the store's
  // unique id catches it, for upsert and update a map of the call's ids (their slots cannot tell:
  // a store may move a replaced record to a new slot).
  const idAt = new Map<string, number>();
  let n = 0;
  let mvDim = target.multiVectorDim;
  for await (const chunk of recordChunks(input, target.dim, mode)) {
    const rows: PreparedRow[] = new Array(chunk.length);
    const sparse: (string | null | undefined)[] = new Array(chunk.length);
    const seen = new Map<string, number>();
    for (let i = 0; i < chunk.length; i++) {
      const row = prepareRow(chunk[i]!, n + i, ctx);
      const first = seen.get(row.id) ?? idAt.get(row.id);
      if (first !== undefined) throw duplicateId(mode, row.id, first, n + i);
      seen.set(row.id, n + i);
      sparse[i] = row.sparse === undefined ? undefined : row.sparse === null ? null : canonicalSparse(row.sparse, `${mode}[${n + i}].sparse`);
      if (row.multiVector) {
        if (mvDim === undefined) mvDim = row.multiVector.dim;
        else if (row.multiVector.dim !== mvDim) {
          throw new OmnivecError('dimension_mismatch', `${mode}[${n + i}].multiVector: expected token vectors of dimension ${mvDim} (the collection's), got ${row.multiVector.dim}`);
        }
      }
      rows[i] = row;
    }
    const slots = await w.writeRows(mode, { rows, sparse, first: n });
    const vslots = new Uint32Array(rows.length);
    const data = new Float32Array(rows.length * d);
    const bytes = new Uint8Array(data.buffer);
    let kept = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const slot = slots[i]!;
      if (mode !== 'add') idAt.set(row.id, n + i);
      if (target.trackIds && mode !== 'update') { written.slots.push(slot); written.ids.push(row.id); }
      if (row.vector !== undefined) {
        vslots[kept] = slot;
        bytes.set(row.vector.subarray(0, d * 4), kept++ * d * 4);
      }
    }
    if (kept > 0) pending.push({ slots: vslots.subarray(0, kept), data: data.subarray(0, kept * d), count: kept });
    n += chunk.length;
    options.onProgress?.({ phase: 'store', done: n });
  }
  if (mvDim !== target.multiVectorDim && mvDim !== undefined) await w.setOptions({ ...target.options, multiVectorDim: mvDim });
  return { seq: w.seq, count: n, pending, written, multiVectorDim: mvDim };
}

/** A delete's options: ids (checked) and / or a filter; an empty one is refused (drop the collection instead). */
export function checkDelete(options: DeleteOptions): { ids: string[] | undefined; filter: RecordFilter } {
  if (options === null || typeof options !== 'object' || (options.ids === undefined && options.where === undefined && options.whereDocument === undefined)) {
    throw new OmnivecError('invalid_argument', `delete: expected { ids } and / or { where, whereDocument }, got ${describe(options)}; to delete everything, drop the collection`);
  }
  if (options.ids !== undefined && !Array.isArray(options.ids)) throw new OmnivecError('invalid_argument', `delete.ids: expected an array of strings, got ${describe(options.ids)}`);
  const empty = (x: unknown): boolean => x === undefined || (x !== null && typeof x === 'object' && Object.keys(x).length === 0);
  if (options.ids === undefined && empty(options.where) && empty(options.whereDocument)) {
    throw new OmnivecError('invalid_argument', 'delete: an empty filter matches every record; to delete everything, drop the collection');
  }
  return { ids: options.ids?.map((id, i) => checkId(id, `delete.ids[${i}]`)), filter: checkFilter(options.where, options.whereDocument) };
}
