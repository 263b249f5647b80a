/**
 * Word-vector model files: the word2vec text and binary formats of the original C tool and gensim,
 * fastText's `.vec`, and the vocabulary counts file (gensim's `fvocab`, word2vec.c's `-save-vocab`).
 * Byte layouts and how they match gensim: docs/word-vectors.md#file-formats.
 *
 * Reading streams through `src/io/word2vec.ts` (block reads, errors naming the line); writing the
 * binary format goes through its `writeWord2vec`. Text is written as gensim 4 writes it (numpy's
 * float32 `repr`), fastText's `.vec` as fastText writes it (5 significant digits, `%g` style).
 */
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { OmnivecError, describe } from '../../errors.js';
import { fileError, fileSize, withReader } from '../../io/block-reader.js';
import { corrupt, decodeUtf8, quote, stripBom, type OpenedRecords, type ImportRecord } from '../../io/common.js';
import { withSink } from '../../io/sink.js';
import { openWord2vecBinary, openWord2vecText, writeWord2vec } from '../../io/word2vec.js';
import { checkPositiveInt } from '../../checks.js';
import { KeyedVectors } from './keyed-vectors.js';

export type WordVectorFormat = 'word2vec' | 'word2vec-binary' | 'fasttext';

const FORMATS: readonly string[] = ['word2vec', 'word2vec-binary', 'fasttext'];

export interface LoadWordVectorsOptions {
  /**
   * `word2vec` (text), `word2vec-binary`, `fasttext` (the `.vec` text) or `auto` (default): binary
   * when the bytes after the first word are not text, else text.
   */
  format?: WordVectorFormat | 'auto';
  /** Read only the first `limit` vectors (gensim's `limit`). */
  limit?: number;
  /** A vocabulary counts file (`word count` a line) whose counts become `kv.counts`. */
  counts?: string;
  /** Bytes read at a time (default 64 KiB); a knob for tests. */
  blockSize?: number;
}

export interface SaveWordVectorsOptions {
  /** `word2vec` (default; text unless `binary`), `word2vec-binary` or `fasttext` (`.vec` text). */
  format?: WordVectorFormat;
  /** With `format: 'word2vec'`: write the binary format. */
  binary?: boolean;
  /** Also write the vocabulary counts (`kv.counts`) to this file, `word count` a line. */
  counts?: string;
}

function checkPath(name: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') throw new OmnivecError('invalid_argument', `${name}: expected a file name, got ${describe(path)}`);
}

function checkOptions(options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `options: expected an object, got ${describe(options)}`);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new OmnivecError('invalid_argument', `options: unknown option ${JSON.stringify(k)}; expected one of ${known.join(', ')}`);
  }
}

/**
 * Text or binary, from the first bytes: after a `count dim` header, a text file's next line is a
 * word and `dim` numbers; a binary row is a word and `dim × 4` bytes that never read as that.
 * A file without a header is text (GloVe).
 */
async function detectBinary(path: string): Promise<boolean> {
  const size = await fileSize(path);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    const first = Buffer.alloc(Math.min(256, size));
    await fh.read(first, 0, first.length, 0);
    const nl = first.indexOf(0x0a);
    const header = /^\uFEFF?\s*(\d+)[ \t]+(\d+)\s*$/.exec(first.subarray(0, nl < 0 ? first.length : nl).toString('latin1').replace(/^\xEF\xBB\xBF/, ''));
    if (nl < 0 || header === null) return false;
    const dim = Number(header[2]);
    const head = Buffer.alloc(Math.min(size, nl + 1 + 65536 + dim * 32));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const rest = head.subarray(nl + 1, bytesRead);
    const end = rest.indexOf(0x0a);
    if (end < 0) return rest.length > 0 && extname(path).toLowerCase() !== '.txt' && extname(path).toLowerCase() !== '.vec';
    const fields = rest.subarray(0, end).toString('latin1').trim().split(/[ \t]+/);
    const numeric = fields.length === dim + 1 && fields.slice(1).every((f) => /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf|infinity)$/i.test(f));
    return !numeric;
  } finally {
    await fh.close();
  }
}

/** Reader errors about the file's content (a short row, a NaN) are all `corrupt_file` here. */
function asCorrupt(e: unknown): unknown {
  if (e instanceof OmnivecError && (e.code === 'dimension_mismatch' || e.code === 'invalid_argument')) {
    return new OmnivecError('corrupt_file', e.message, e.details === undefined ? undefined : { ...e.details });
  }
  return e;
}

/**
 * Loads word vectors from a word2vec text or binary file or a fastText `.vec` file into a
 * `KeyedVectors`, rows in the file's order. A word that comes again is ignored after its first
 * vector (as gensim does). Without `counts`, `kv.counts` is null; with it, each word's count from
 * that file (0 for a word the file lacks).
 *
 * Errors: `not_found` for a missing file, `corrupt_file` naming the line (text) or the row and byte
 * offset (binary) for a malformed header, row, number, non-finite value, a dimension that differs
 * from the header's or a file shorter than its header says; `invalid_argument` for bad options.
 */
export async function loadWordVectors(path: string, options: LoadWordVectorsOptions = {}): Promise<KeyedVectors> {
  checkPath('path', path);
  checkOptions(options, ['format', 'limit', 'counts', 'blockSize']);
  const format = options.format ?? 'auto';
  if (format !== 'auto' && !FORMATS.includes(format)) {
    throw new OmnivecError('invalid_argument', `format: expected one of auto, ${FORMATS.join(', ')}, got ${describe(format)}`);
  }
  const limit = options.limit;
  if (limit !== undefined) checkPositiveInt(limit, 'limit');
  if (options.counts !== undefined) checkPath('counts', options.counts);
  const binary = format === 'auto' ? await detectBinary(path) : format === 'word2vec-binary';
  const readOptions = { limit, blockSize: options.blockSize };
  let opened: OpenedRecords;
  try {
    opened = binary ? await openWord2vecBinary(path, readOptions) : await openWord2vecText(path, readOptions);
  } catch (e) {
    throw asCorrupt(e);
  }
  const words: string[] = [];
  const seen = new Set<string>();
  let dim = opened.dim ?? 0;
  // Room for the rows the header announces, but no more than the file can hold (a corrupt header
  // must not ask for gigabytes; the reader reports the short file).
  const size = await fileSize(path);
  const fits = dim > 0 ? Math.floor(size / (binary ? dim * 4 + 2 : dim * 2 + 1)) + 1 : 0;
  let data = new Float32Array(dim > 0 && opened.count !== undefined ? Math.min(opened.count, fits) * dim : 0);
  try {
    for await (const rec of opened.records) {
      if (seen.has(rec.id)) continue;
      seen.add(rec.id);
      if (dim === 0) dim = rec.vector.length;
      const at = words.length * dim;
      if (at + dim > data.length) {
        const bigger = new Float32Array(Math.max(1024 * dim, data.length * 2));
        bigger.set(data);
        data = bigger;
      }
      data.set(rec.vector, at);
      words.push(rec.id);
    }
  } catch (e) {
    throw asCorrupt(e);
  }
  if (dim === 0) throw corrupt(path, { line: 1 }, 'at least one vector (the dimension is not stated)', 'none');
  if (data.length !== words.length * dim) data = data.slice(0, words.length * dim);
  let counts: Float64Array | null = null;
  if (options.counts !== undefined) {
    const table = await readVocabCounts(options.counts);
    counts = new Float64Array(words.length);
    for (let i = 0; i < words.length; i++) counts[i] = table.get(words[i]!) ?? 0;
  }
  return new KeyedVectors(words, data, dim, counts);
}

/**
 * Reads a vocabulary counts file: `word count` a line (gensim's `fvocab`, word2vec.c's
 * `-save-vocab`); blank lines are skipped, a later line for the same word wins (as in gensim).
 * A line that is not a word and a non-negative integer is `corrupt_file` naming the line.
 */
export async function readVocabCounts(path: string): Promise<Map<string, number>> {
  checkPath('path', path);
  await fileSize(path);
  const counts = new Map<string, number>();
  await withReader(path, undefined, async (r) => {
    for (;;) {
      const bytes = await r.readLine();
      if (bytes === null) break;
      const where = { line: r.line };
      let text = decodeUtf8(path, where, bytes);
      if (r.line === 1) text = stripBom(text);
      const fields = text.trim().split(/[ \t]+/);
      if (fields.length === 1 && fields[0] === '') continue;
      if (fields.length !== 2) throw corrupt(path, where, 'a word and its count', quote(text));
      if (!/^\d+$/.test(fields[1]!) || !Number.isSafeInteger(Number(fields[1]))) {
        throw corrupt(path, where, `a non-negative integer count for ${quote(fields[0]!)}`, quote(fields[1]!));
      }
      counts.set(fields[0]!, Number(fields[1]));
    }
  });
  return counts;
}

/** Writes `kv.counts` as a vocabulary counts file: `word count\n` per row, in row order. */
export async function writeVocabCounts(kv: KeyedVectors, path: string): Promise<void> {
  checkPath('path', path);
  const counts = kv.counts;
  if (counts === null) throw new OmnivecError('invalid_argument', 'counts: these vectors have no counts to write (kv.counts is null)');
  for (let i = 0; i < counts.length; i++) {
    if (!Number.isSafeInteger(counts[i]) || counts[i]! < 0) {
      throw new OmnivecError('invalid_argument', `counts: row ${i} (${quote(kv.words[i]!)}): expected a non-negative integer count, got ${counts[i]}`);
    }
  }
  await withSink(path, async (sink) => {
    for (let i = 0; i < kv.words.length; i++) await sink.write(`${kv.words[i]} ${counts[i]}\n`);
  });
}

/**
 * Saves word vectors, rows in `kv`'s order:
 * - `word2vec` text: `count dim\n`, then `word v1 … vdim\n` with each value as numpy prints a
 *   float32 (`repr`), byte for byte what gensim 4's `save_word2vec_format(binary=False)` writes;
 * - `word2vec-binary` (or `word2vec` with `binary: true`): `count dim\n`, then the word's UTF-8
 *   bytes, a space, `dim` little-endian float32 and `\n` (the C tool's layout; gensim omits the
 *   `\n` and reads both);
 * - `fasttext`: the `.vec` text fastText writes: 5 significant digits, each value followed by a space.
 * The file is written beside the target and renamed over it at the end. Words must be non-empty
 * and free of whitespace (`invalid_argument` naming the row otherwise).
 */
export async function saveWordVectors(kv: KeyedVectors, path: string, options: SaveWordVectorsOptions = {}): Promise<void> {
  if (!(kv instanceof KeyedVectors)) throw new OmnivecError('invalid_argument', `kv: expected KeyedVectors, got ${describe(kv)}`);
  checkPath('path', path);
  checkOptions(options, ['format', 'binary', 'counts']);
  const format = options.format ?? 'word2vec';
  if (!FORMATS.includes(format)) throw new OmnivecError('invalid_argument', `format: expected one of ${FORMATS.join(', ')}, got ${describe(format)}`);
  if (options.binary !== undefined && typeof options.binary !== 'boolean') {
    throw new OmnivecError('invalid_argument', `binary: expected a boolean, got ${describe(options.binary)}`);
  }
  if (options.binary === true && format === 'fasttext') throw new OmnivecError('invalid_argument', 'binary: fastText .vec files are text; use format "word2vec-binary"');
  if (options.binary === false && format === 'word2vec-binary') throw new OmnivecError('invalid_argument', 'binary: false contradicts format "word2vec-binary"');
  if (options.counts !== undefined) {
    checkPath('counts', options.counts);
    if (kv.counts === null) throw new OmnivecError('invalid_argument', 'counts: these vectors have no counts to write (kv.counts is null)');
  }
  const binary = format === 'word2vec-binary' || (format === 'word2vec' && options.binary === true);
  const { words, dim } = kv;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '' || /[ \t\n\r\v\f]/.test(w)) {
      throw new OmnivecError('invalid_argument', `kv.words[${i}]: expected a word without spaces or line breaks, got ${quote(w)}`);
    }
  }
  if (binary) {
    const rows = function* (): Generator<ImportRecord> {
      for (let i = 0; i < words.length; i++) yield { id: words[i]!, vector: kv.row(i) };
    };
    await writeWord2vec(path, rows(), { binary: true, count: words.length, dim });
  } else {
    const fmt = format === 'fasttext' ? formatFloatG5 : formatFloat32Repr;
    const sep = ' ';
    const end = format === 'fasttext' ? ' \n' : '\n';
    const v = kv.vectors;
    await withSink(path, async (sink) => {
      // Lines gathered into ~1 MB strings: one UTF-8 encoding and one write call each.
      let chunk = `${words.length} ${dim}\n`;
      for (let i = 0; i < words.length; i++) {
        chunk += words[i]!;
        for (let j = i * dim; j < (i + 1) * dim; j++) chunk += sep + fmt(v[j]!);
        chunk += end;
        if (chunk.length >= 1 << 20) {
          await sink.write(chunk);
          chunk = '';
        }
      }
      await sink.write(chunk);
    });
  }
  if (options.counts !== undefined) await writeVocabCounts(kv, options.counts);
}

// ---------------------------------------------------------------------------------------------
// Number formats

/** 10^k for k from -60 to 60 (exact for |k| ≤ 22). */
const POW10 = Array.from({ length: 121 }, (_, i) => Number(`1e${i - 60}`));
/** Half the gap between neighbouring float32 values, by biased exponent. */
const HALF_GAP = Array.from({ length: 256 }, (_, e) => (e === 0 ? 2 ** -150 : 2 ** (e - 151)));
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
// The result of the digit searches: digits × 10^exponent (module state: no allocation per number).
let outDigits = 0;
let outExp = 0;

/**
 * The shortest decimal `m × 10^k` that reads back as the float32 `a` (> 0), the nearest one when
 * several have that many digits and the even one on an exact tie — what numpy's Dragon4 picks.
 * The exact search: each precision's correctly rounded candidate and its two neighbours (a power
 * of two has a narrower gap below it, so the nearest may miss while a neighbour hits).
 */
function exactShortest(a: number): void {
  for (let p = 1; p <= 9; p++) {
    const s = a.toExponential(p - 1);
    const e = s.indexOf('e');
    const n = Number(s.slice(0, e).replace('.', ''));
    const k = Number(s.slice(e + 1)) - (p - 1);
    let best = -1;
    let bestDist = Infinity;
    for (const c of [n, n - 1, n + 1]) {
      if (c <= 0) continue;
      const v = Number(`${c}e${k}`);
      if (Math.fround(v) !== a) continue;
      const d = Math.abs(v - a);
      if (d < bestDist) { best = c; bestDist = d; }
    }
    if (best > 0) {
      // toExponential rounds an exact half up; numpy rounds it to even.
      if (best === n && n % 2 === 1) {
        const t = a.toExponential(p);
        if (Number(t) === a && t[t.indexOf('e') - 1] === '5' && Math.fround(Number(`${n - 1}e${k}`)) === a) best = n - 1;
      }
      outDigits = best;
      outExp = k;
      return;
    }
  }
  outDigits = Number(a.toExponential(8).replace(/e.*/, '').replace('.', ''));
  outExp = Math.floor(Math.log10(a)) - 8;
}

/**
 * The shortest round-tripping digits of the float32 `a` (> 0). Fast search: for p digits,
 * `q` = a rounded to p digits, accepted when q × 10^-k (one correctly rounded double operation)
 * rounds to `a` in float32 and lies clearly away from the midpoint to a neighbour (where double
 * rounding could mislead). Powers of two (uneven gaps), exact ties and near-midpoints take the
 * exact search.
 */
function shortestFloat32(a: number): void {
  f32[0] = a;
  const bits = u32[0]!;
  const exp = (bits >>> 23) & 0xff;
  if ((bits & 0x7fffff) === 0 || exp < 10 || exp > 245) { exactShortest(a); return; }
  const half = HALF_GAP[exp]!;
  // The decimal exponent: from the binary one, corrected by one comparison.
  let e = Math.floor((exp - 127) * 0.30102999566398120);
  if (a >= POW10[e + 61]!) e++;
  else if (a < POW10[e + 60]!) e--;
  // Round-tripping is monotone in p (the nearest p+1-digit decimal is at least as near as the
  // nearest p-digit one, and the gaps around a non-power of two are even): binary search 1..9.
  let lo = 1;
  let hi = 9;
  let bestQ = -1;
  let bestK = 0;
  while (lo <= hi) {
    const p = (lo + hi) >> 1;
    const k = p - 1 - e;
    const r = k >= 0 ? a * POW10[k + 60]! : a / POW10[-k + 60]!;
    const q = Math.round(r);
    if (q - r === 0.5) { exactShortest(a); return; } // maybe an exact tie
    const approx = k >= 0 ? q / POW10[k + 60]! : q * POW10[-k + 60]!;
    const dist = approx > a ? approx - a : a - approx;
    if (dist - half <= half * 1e-6 && half - dist <= half * 1e-6) { exactShortest(a); return; } // near a midpoint
    if (Math.fround(approx) === a) { bestQ = q; bestK = -k; hi = p - 1; } else lo = p + 1;
  }
  if (bestQ < 0) { exactShortest(a); return; }
  outDigits = bestQ;
  outExp = bestK;
}

/**
 * A float32 as numpy 1.x prints it (`repr(np.float32(v))`, which gensim's text writer uses): the
 * shortest digits that read back as the same float32; positional with at least one decimal
 * (`0.1`, `-3.0`, `0.0001`) for 1e-4 ≤ |v| < 1e16, else scientific with a two-digit exponent
 * (`1e-05`, `1.5e+16`). Checked against numpy on 300,000 random float32 bit patterns.
 */
export function formatFloat32Repr(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  if (v !== v) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  const a = Math.abs(Math.fround(v));
  shortestFloat32(a);
  let m = outDigits;
  let k = outExp;
  while (m % 10 === 0) { m /= 10; k++; }
  const digits = String(m);
  const point = digits.length + k; // the decimal point sits after `point` digits
  let out: string;
  if (a >= 1e-4 && a < 1e16) {
    if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
    else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length) + '.0';
    else out = digits.slice(0, point) + '.' + digits.slice(point);
  } else {
    const x = point - 1;
    out = (digits.length === 1 ? digits : digits[0] + '.' + digits.slice(1)) + 'e' + (x < 0 ? '-' : '+') + String(Math.abs(x)).padStart(2, '0');
  }
  return v < 0 ? '-' + out : out;
}

/**
 * A number as C++ streams print it with `std::setprecision(5)` (C's `%.5g`), as fastText writes
 * `.vec` files: 5 significant digits, trailing zeros removed, scientific (`1.2346e-05`) when the
 * exponent is below -4 or at least 5.
 */
export function formatFloatG5(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (v !== v) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  let s = a.toExponential(4); // d.dddde±x, an exact half rounded up
  let e = s.indexOf('e');
  let n = Number(s.slice(0, e).replace('.', ''));
  let x = Number(s.slice(e + 1));
  if (n % 2 === 1) {
    // C rounds an exact half to even: 1.03125 → 1.0312.
    const t = a.toExponential(5);
    if (Number(t) === a && t[t.indexOf('e') - 1] === '5') {
      n -= 1;
      s = `${String(n)[0]}.${String(n).slice(1)}e${x}`;
      e = s.indexOf('e');
      x = Number(s.slice(e + 1));
    }
  }
  const digits = String(n).replace(/0+$/, '');
  let out: string;
  if (x < -4 || x >= 5) {
    out = (digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`) + `e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
  } else if (x < 0) {
    out = '0.' + '0'.repeat(-x - 1) + digits;
  } else if (digits.length <= x + 1) {
    out = digits + '0'.repeat(x + 1 - digits.length);
  } else {
    out = digits.slice(0, x + 1) + '.' + digits.slice(x + 1);
  }
  return v < 0 ? '-' + out : out;
}
