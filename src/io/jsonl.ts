/**
 * JSON Lines: one object a line, `{ "id", "vector" | "embedding", "document"?, "metadata"?,
 * "sparse"?, "multiVector"? }`. Blank lines are skipped. Ids are strings; integer ids are accepted
 * and written in decimal. `"text"` stands for the document when there is no `"document"`; any other
 * key becomes a metadata field (the `"metadata"` object's own fields win on a clash). `"sparse"` is
 * `{ token: weight }` or `{ "indices": [...], "values": [...] }` (checked when stored),
 * `"multiVector"` an array of equally long arrays of numbers. The writer sorts object keys, so a
 * collection exports the same bytes from any store (docs/file-formats.md).
 */
import { isPlainObject } from '../checks.js';
import { fileSize, readerIterable, type BlockReader } from './block-reader.js';
import {
  DimCheck, checkRecordVector, corrupt, decodeUtf8, eachRecord, formatVector, nonFinite, quote, stripBom,
  type ImportRecord, type OpenedRecords, type ReadOptions, type RecordSource, type Where,
} from './common.js';
import { withSink } from './sink.js';
import type { VectorBatch } from '../vector/batch.js';

/**
 * The parsed value of every non-blank line of a JSON Lines file (a BOM on line 1 allowed), with its
 * line number; `corrupt_file` naming the line for text that is not JSON.
 */
export async function* jsonValues(r: BlockReader, path: string): AsyncGenerator<{ value: unknown; where: { line: number } }> {
  for (;;) {
    const bytes = await r.readLine();
    if (bytes === null) return;
    const where = { line: r.line };
    let text = decodeUtf8(path, where, bytes);
    if (r.line === 1) text = stripBom(text);
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw corrupt(path, where, 'a JSON object', `invalid JSON (${(e as Error).message})`);
    }
    yield { value, where };
  }
}

const RESERVED = new Set(['id', 'vector', 'embedding', 'document', 'metadata', 'sparse', 'multiVector']);

/** Sets an own property whatever the key (`__proto__` too, which plain assignment would turn into the prototype). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${quote(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Turns one parsed line into a record. */
function recordFromJson(path: string, where: Where, row: number, obj: unknown, prefix: string, dims: DimCheck): ImportRecord {
  if (!isPlainObject(obj)) throw corrupt(path, where, 'a JSON object', describeJson(obj));
  const rawId = obj.id;
  let id: string;
  if (typeof rawId === 'string' && rawId !== '') id = rawId;
  else if (typeof rawId === 'number' && Number.isSafeInteger(rawId)) id = String(rawId);
  else throw corrupt(path, where, '"id": a non-empty string or an integer', rawId === undefined ? 'no "id"' : describeJson(rawId));

  if (obj.vector !== undefined && obj.embedding !== undefined) {
    throw corrupt(path, where, 'one of "vector" or "embedding"', 'both');
  }
  const key = obj.vector !== undefined ? 'vector' : 'embedding';
  const raw = obj[key];
  if (!Array.isArray(raw) || raw.length === 0) {
    throw corrupt(path, where, '"vector" (or "embedding"): a non-empty array of numbers', raw === undefined ? 'neither' : describeJson(raw));
  }
  dims.check(where, raw.length);
  const vector = new Float32Array(raw.length);
  for (let j = 0; j < raw.length; j++) {
    const v: unknown = raw[j];
    if (typeof v !== 'number') {
      // JavaScript's JSON.stringify writes NaN and infinities as null.
      if (v === null) throw nonFinite(path, where, row, j, 'null');
      throw corrupt(path, where, `"${key}"[${j}]: a number`, describeJson(v));
    }
    vector[j] = v;
    if (vector[j]! - vector[j]! !== 0) throw nonFinite(path, where, row, j, String(v));
  }

  const rec: ImportRecord = { id: prefix + id, vector };
  let docKey: string | undefined;
  if (obj.document !== undefined && obj.document !== null) docKey = 'document';
  else if (typeof obj.text === 'string') docKey = 'text';
  if (docKey !== undefined) {
    const d = obj[docKey];
    if (typeof d !== 'string') throw corrupt(path, where, `"${docKey}": a string`, describeJson(d));
    rec.document = d;
  }

  const meta = obj.metadata;
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) {
    throw corrupt(path, where, '"metadata": an object', describeJson(meta));
  }
  let metadata: Record<string, unknown> | undefined;
  for (const k of Object.keys(obj)) {
    if (RESERVED.has(k) || k === docKey) continue;
    setOwn(metadata ??= {}, k, obj[k]);
  }
  if (isPlainObject(meta)) {
    for (const k of Object.keys(meta)) setOwn(metadata ??= {}, k, meta[k]);
  }
  if (metadata !== undefined) rec.metadata = metadata;

  const sparse = obj.sparse;
  if (sparse !== undefined && sparse !== null) {
    if (!isPlainObject(sparse)) throw corrupt(path, where, '"sparse": an object ({ token: weight } or { indices, values })', describeJson(sparse));
    rec.sparse = sparse;
  }
  const mv = obj.multiVector;
  if (mv !== undefined && mv !== null) rec.multiVector = multiVectorFromJson(path, where, mv);
  return rec;
}

/** `"multiVector"`: a non-empty array of equally long, non-empty arrays of finite numbers. */
function multiVectorFromJson(path: string, where: Where, raw: unknown): VectorBatch {
  const what = '"multiVector": a non-empty array of equally long arrays of numbers';
  if (!Array.isArray(raw) || raw.length === 0) throw corrupt(path, where, what, describeJson(raw));
  const first: unknown = raw[0];
  if (!Array.isArray(first) || first.length === 0) throw corrupt(path, where, what, `[0] is ${describeJson(first)}`);
  const dim = first.length;
  const data = new Float32Array(raw.length * dim);
  for (let i = 0; i < raw.length; i++) {
    const row: unknown = raw[i];
    if (!Array.isArray(row) || row.length !== dim) throw corrupt(path, where, what, `[${i}] is ${Array.isArray(row) ? `${row.length} long, [0] ${dim}` : describeJson(row)}`);
    for (let j = 0; j < dim; j++) {
      const v: unknown = row[j];
      if (typeof v !== 'number') throw corrupt(path, where, `"multiVector"[${i}][${j}]: a number`, describeJson(v));
      data[i * dim + j] = v;
      if (data[i * dim + j]! - data[i * dim + j]! !== 0) throw corrupt(path, where, `"multiVector"[${i}][${j}]: a finite float32`, String(v));
    }
  }
  return { data, dim, count: raw.length };
}

/** An object as JSON with its keys sorted (UTF-16 code unit order, JavaScript's default sort; values as JSON.stringify writes them). */
function sortedJson(o: Record<string, unknown>): string {
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(o[k])}`).join(',')}}`;
}

export async function openJsonl(path: string, options: ReadOptions): Promise<OpenedRecords> {
  await fileSize(path);
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const records = readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord> {
    const dims = new DimCheck(path);
    let row = 0;
    if (limit <= 0) return;
    for await (const { value, where } of jsonValues(r, path)) {
      yield recordFromJson(path, where, row, value, prefix, dims);
      if (++row >= limit) return;
    }
  });
  return { format: 'jsonl', dim: undefined, count: undefined, records };
}

/**
 * Writes records as JSON Lines (`id`, `vector` as shortest float32 decimals, then `document`,
 * `metadata` (keys sorted), `sparse` (likewise) and `multiVector` (shortest float32
 * decimals) when present). All vectors must share one dimension. Returns the count.
 */
export async function writeJsonl(path: string, records: RecordSource): Promise<number> {
  return withSink(path, async (sink) => {
    let dim: number | undefined;
    let count = 0;
    for await (const rec of eachRecord(records, 'records')) {
      dim ??= rec.vector.length;
      checkRecordVector(rec, count, dim);
      let line = `{"id":${JSON.stringify(rec.id)},"vector":[${formatVector(rec.vector, ',')}]`;
      if (rec.document !== undefined) line += `,"document":${JSON.stringify(rec.document)}`;
      if (rec.metadata !== undefined) line += `,"metadata":${sortedJson(rec.metadata)}`;
      if (rec.sparse !== undefined) line += `,"sparse":${sortedJson(rec.sparse)}`;
      if (rec.multiVector !== undefined) {
        const { data, dim, count } = rec.multiVector;
        const rows: string[] = [];
        for (let i = 0; i < count; i++) rows.push(`[${formatVector(data.subarray(i * dim, (i + 1) * dim), ',')}]`);
        line += `,"multiVector":[${rows.join(',')}]`;
      }
      await sink.write(line + '}\n');
      count++;
    }
    return count;
  });
}
