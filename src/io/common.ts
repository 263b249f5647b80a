/**
 * Shared pieces of the import/export formats: the record and option types, error builders that
 * name the file and the line (or row and byte offset), strict number parsing and the shortest
 * float32 formatting used by every text writer.
 */
import { OmnivecError } from '../errors.js';
import type { VectorBatch } from '../vector/batch.js';

/** One vector with its id, as every reader yields it and every writer consumes it. */
export interface ImportRecord {
  id: string;
  vector: Float32Array;
  document?: string;
  metadata?: Record<string, unknown>;
  /** JSON Lines only: a sparse vector, `{ token: weight }` (or `{ indices, values }` when read). */
  sparse?: Record<string, unknown>;
  /** JSON Lines only: token vectors (ColBERT-style multi-vector). */
  multiVector?: VectorBatch;
}

export type ImportFormat = 'jsonl' | 'csv' | 'npy' | 'fvecs' | 'word2vec' | 'word2vec-binary' | 'projector';

export const FORMATS: readonly ImportFormat[] = ['jsonl', 'csv', 'npy', 'fvecs', 'word2vec', 'word2vec-binary', 'projector'];

export interface ReadOptions {
  /** The format; detected from the extension and the first bytes when omitted. */
  format?: ImportFormat;
  /** Projector only: the metadata.tsv that goes with vectors.tsv. */
  metadataPath?: string;
  /** Prepended to every id the reader yields (read from the file or generated from row numbers). */
  idPrefix?: string;
  /** Stop after this many records (the declared count is then not checked against the file). */
  limit?: number;
  /** Bytes asked of the file per read (default 65 536); a knob for tests and tuning. */
  blockSize?: number;
}

export interface OpenedRecords {
  format: ImportFormat;
  /** The dimension, when the format states it in a header (npy, fvecs, word2vec, CSV numbered columns). */
  dim: number | undefined;
  /** How many records `records` yields, when the format states it (npy, fvecs, word2vec); at most `limit`. */
  count: number | undefined;
  /** The records, read from the file in blocks; each iteration opens the file anew. */
  records: AsyncIterable<ImportRecord>;
}

export type RecordSource = AsyncIterable<ImportRecord> | Iterable<ImportRecord>;

/**
 * A record iterable may also offer its records in batches under this symbol (an async iterable of
 * arrays, in the same order): consumers that take many records at once (collection.add) use it
 * and skip the per-record await of the async iterator.
 */
export const BATCHES: unique symbol = Symbol.for('omnivec.batches') as never;

export interface BatchedRecords extends AsyncIterable<ImportRecord> {
  [BATCHES](): AsyncIterable<ImportRecord[]>;
}

export const MAX_DIM = 65536;

// ---------------------------------------------------------------------------------------------
// Errors

/** Where in a file something was found: a 1-based text line, or a record and a byte offset. */
export type Where = { line: number } | { row: number; offset: number };

function at(path: string, where: Where): string {
  return 'line' in where ? `${path}:${where.line}` : `${path}: row ${where.row} (byte ${where.offset})`;
}

/** `corrupt_file`: `<path>:<line>: expected …, got …`. */
export function corrupt(path: string, where: Where, expected: string, got: string): OmnivecError {
  return new OmnivecError('corrupt_file', `${at(path, where)}: expected ${expected}, got ${got}`, { path, ...where });
}

/** `dimension_mismatch` naming the place and where the expected dimension came from. */
export function dimMismatch(path: string, where: Where, expected: number, source: string, actual: number): OmnivecError {
  return new OmnivecError('dimension_mismatch',
    `${at(path, where)}: expected ${expected} components (${source}), got ${actual}`,
    { path, ...where, expected, actual });
}

/** `invalid_argument` for a NaN or an infinity: names the row and the component. */
export function nonFinite(path: string, where: Where, row: number, component: number, got: string): OmnivecError {
  const place = 'line' in where ? `${path}:${where.line}: row ${row}` : `${path}: row ${row} (byte ${where.offset})`;
  return new OmnivecError('invalid_argument',
    `${place}, component ${component}: expected a finite number, got ${got}`, { path, ...where, row, component });
}

/** Throws `invalid_argument` naming the first non-finite component of a decoded binary row. */
export function checkFiniteRow(path: string, vector: Float32Array, row: number, offset: number): void {
  for (let j = 0; j < vector.length; j++) {
    const v = vector[j]!;
    if (v - v !== 0) throw nonFinite(path, { row, offset }, row, j, String(v));
  }
}

/** Short, printable description of a piece of text for messages. */
export function quote(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? text.slice(0, max) + '…' : text);
}

// ---------------------------------------------------------------------------------------------
// Numbers

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE_RE = /^[+-]?(?:nan|inf|infinity)$/i;

/**
 * Parses a decimal number token strictly (no hex, no empty string, no spaces). NaN and infinity
 * spellings (`nan`, `NaN`, `inf`, `-Infinity`, …) give NaN or ±Infinity, so the caller reports them
 * as non-finite values rather than as garbage; anything else that is not a number gives undefined.
 */
export function parseNumber(token: string): number | undefined {
  // Fast path: Number() alone, when the token starts and ends like a decimal number and is not
  // 0x…/0b…/0o… (the only other finite texts Number() takes once spaces are ruled out).
  const c0 = token.charCodeAt(0);
  const cl = token.charCodeAt(token.length - 1);
  if (((c0 >= 0x30 && c0 <= 0x39) || c0 === 0x2d || c0 === 0x2b || c0 === 0x2e) && ((cl >= 0x30 && cl <= 0x39) || cl === 0x2e)) {
    const c1 = token.charCodeAt(1) | 0x20;
    if (c1 !== 0x78 && c1 !== 0x62 && c1 !== 0x6f) {
      const v = Number(token);
      if (v === v) return v;
    }
  }
  if (NUMBER_RE.test(token)) return Number(token);
  if (NON_FINITE_RE.test(token)) {
    const t = token.toLowerCase();
    if (t.endsWith('nan')) return NaN;
    return t.startsWith('-') ? -Infinity : Infinity;
  }
  return undefined;
}

const CELL_NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * A CSV/TSV metadata cell as a number when the whole cell is a plain finite decimal number
 * (`12`, `-3.5`, `1e-3`); cells with leading zeros (`007`), a plus sign, spaces or anything else stay
 * strings, so zip codes and zero-padded codes survive.
 */
export function cellValue(cell: string): string | number {
  if (CELL_NUMBER_RE.test(cell)) {
    const n = Number(cell);
    if (Number.isFinite(n)) return n;
  }
  return cell;
}

/**
 * Parses `tokens` into a float32 vector. Throws `corrupt_file` for a token that is not a number and
 * `invalid_argument` for a non-finite value (including one that overflows float32).
 */
export function parseVector(path: string, where: Where, row: number, tokens: readonly string[], first = 0): Float32Array {
  const n = tokens.length - first;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const t = tokens[first + j]!;
    const v = parseNumber(t);
    if (v === undefined) throw corrupt(path, where, `a number for component ${j}`, quote(t));
    out[j] = v;
    const f = out[j]!;
    if (f - f !== 0) throw nonFinite(path, where, row, j, t);
  }
  return out;
}

/** 10^k for k from -60 to 60 (exact for |k| ≤ 22, correctly rounded beyond). */
const POW10 = Array.from({ length: 121 }, (_, i) => Number(`1e${i - 60}`));
const pow10 = (k: number): number => POW10[k + 60]!;

/** The text of q × 10^exp (q a positive integer) laid out as JavaScript's Number#toString would. */
function decimalText(q: number, exp: number): string {
  let digits = String(q);
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  exp += digits.length - end;
  digits = digits.slice(0, end);
  const k = digits.length;
  const n = k + exp; // the value is 0.digits × 10^n
  if (k <= n && n <= 21) return digits + '0'.repeat(n - k);
  if (0 < n && n <= 21) return digits.slice(0, n) + '.' + digits.slice(n);
  if (-6 < n && n <= 0) return '0.' + '0'.repeat(-n) + digits;
  const e = n - 1;
  return (k === 1 ? digits : digits[0] + '.' + digits.slice(1)) + 'e' + (e < 0 ? '-' : '+') + Math.abs(e);
}

/**
 * The shortest decimal text that reads back as the same float32 (so a float32 value written as text
 * and read again is bit-identical, and 0.1f is written `0.1`, not `0.10000000149011612`).
 */
export function formatFloat32(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (v - v !== 0) return String(v);
  const f = Math.fround(v);
  const a = Math.abs(f);
  // Try 1, 2, … significant digits: q × 10^-k is |f| rounded to p digits; the first that gives f
  // back in double arithmetic is confirmed by parsing its text (9 digits always identify a float32).
  const e = Math.floor(Math.log10(a));
  for (let p = 1; p <= 10; p++) {
    const k = p - 1 - e;
    const q = k >= 0 ? Math.round(a * pow10(k)) : Math.round(a / pow10(-k));
    const approx = k >= 0 ? q / pow10(k) : q * pow10(-k);
    if (Math.fround(approx) === a) {
      const text = (f < 0 ? '-' : '') + decimalText(q, -k);
      if (Math.fround(Number(text)) === f) return text;
      break;
    }
  }
  // Rare: the fast search was misled by rounding. Round-tripping is monotone in the number of
  // significant digits, so binary search 1..9 with exact decimal conversions.
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(f.toPrecision(mid))) === f) hi = mid;
    else lo = mid + 1;
  }
  return String(Number(f.toPrecision(lo)));
}

/** Joins the components of a vector as shortest float32 text. */
export function formatVector(vector: Float32Array, separator: string): string {
  let s = '';
  for (let j = 0; j < vector.length; j++) {
    if (j > 0) s += separator;
    s += formatFloat32(vector[j]!);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Text

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly: invalid bytes are a corrupt file, not a silent U+FFFD. */
export function decodeUtf8(path: string, where: Where, bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw corrupt(path, where, 'UTF-8 text', 'invalid UTF-8 bytes');
  }
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Splits on runs of spaces and tabs after dropping trailing whitespace (fastText writes a trailing space). */
export function splitFields(text: string): string[] {
  const trimmed = text.replace(/[ \t\r]+$/, '').replace(/^[ \t]+/, '');
  return trimmed === '' ? [] : trimmed.split(/[ \t]+/);
}

/** Tracks the dimension: the first vector (or a header) sets it, every later vector must match. */
export class DimCheck {
  dim: number | undefined;
  private source: string;

  constructor(private readonly path: string, dim?: number, source = 'as the header states') {
    this.dim = dim;
    this.source = source;
  }

  check(where: Where, actual: number): void {
    if (this.dim === undefined) {
      this.dim = actual;
      this.source = 'as the first vector, ' + ('line' in where ? `line ${where.line}` : `row ${where.row}`);
      return;
    }
    if (actual !== this.dim) throw dimMismatch(this.path, where, this.dim, this.source, actual);
  }
}

/** Checks the options every reader shares. */
export function checkReadOptions(options: ReadOptions): void {
  const { limit, idPrefix, blockSize } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new OmnivecError('invalid_argument', `limit: expected a non-negative integer, got ${String(limit)}`);
  }
  if (idPrefix !== undefined && typeof idPrefix !== 'string') {
    throw new OmnivecError('invalid_argument', `idPrefix: expected a string, got ${typeof idPrefix}`);
  }
  if (blockSize !== undefined && (!Number.isInteger(blockSize) || blockSize < 16)) {
    throw new OmnivecError('invalid_argument', `blockSize: expected an integer of at least 16, got ${String(blockSize)}`);
  }
}

/** `min(count, limit)` with undefined passing through. */
export function limited(count: number | undefined, limit: number | undefined): number | undefined {
  if (count === undefined) return undefined;
  return limit === undefined ? count : Math.min(count, limit);
}

/** Iterates a sync or async iterable of records, refusing anything that is not a record. */
export async function* eachRecord(source: RecordSource, what: string): AsyncGenerator<ImportRecord> {
  if (source === null || typeof source !== 'object' ||
    (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function' &&
      typeof (source as Iterable<unknown>)[Symbol.iterator] !== 'function')) {
    throw new OmnivecError('invalid_argument', `${what}: expected an iterable or async iterable of records`);
  }
  let i = 0;
  for await (const r of source as AsyncIterable<ImportRecord>) {
    if (r === null || typeof r !== 'object' || typeof r.id !== 'string' || !(r.vector instanceof Float32Array)) {
      throw new OmnivecError('invalid_argument',
        `${what}: record ${i}: expected { id: string, vector: Float32Array, document?, metadata? }`);
    }
    yield r;
    i++;
  }
}

/**
 * For writers: refuses a record whose vector has another length than `dim` (`dimension_mismatch`)
 * or holds a non-finite value (`invalid_argument`), naming the record and its id.
 */
export function checkRecordVector(rec: ImportRecord, index: number, dim: number): void {
  const what = `records: record ${index} (id ${quote(rec.id)})`;
  if (rec.vector.length !== dim) {
    throw new OmnivecError('dimension_mismatch', `${what}: expected ${dim} components, got ${rec.vector.length}`,
      { expected: dim, actual: rec.vector.length });
  }
  for (let j = 0; j < dim; j++) {
    const v = rec.vector[j]!;
    if (v - v !== 0) throw new OmnivecError('invalid_argument', `${what}, component ${j}: expected a finite number, got ${v}`);
  }
}
