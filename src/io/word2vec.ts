/**
 * word2vec formats, as the original C tool and gensim write them (fastText's `.vec` is the text one):
 *
 * - text: a header line `count dim`, then `word v1 v2 … vdim` a line (spaces; trailing spaces and
 *   `\r\n` tolerated). A file whose first line is not two integers is read as headerless (GloVe):
 *   the first vector sets the dimension and no count is checked.
 * - binary: the header line `count dim\n`, then per word its UTF-8 bytes up to a space, `dim`
 *   little-endian float32, and an optional `\n` (the C tool writes one, gensim does not; line
 *   breaks before a word are skipped, as gensim does).
 *
 * The id is the word. Duplicate words are passed on as they are.
 */
import { OmnivecError } from '../errors.js';
import { fileSize, readerIterable, withReader, type BlockReader } from './block-reader.js';
import {
  DimCheck, MAX_DIM, checkFiniteRow, checkRecordVector, corrupt, decodeUtf8, eachRecord, formatVector, limited,
  parseVector, quote, splitFields, stripBom, type ImportRecord, type OpenedRecords, type ReadOptions, type RecordSource,
} from './common.js';
import { decodeFloat32LE, encodeFloat32LE } from './vecs.js';
import { withSink } from './sink.js';

interface W2vHeader { count: number; dim: number }

const MAX_WORD_BYTES = 65536;

/** Parses a `count dim` header line; null when the line is not one (a headerless text file). */
function parseHeader(path: string, line: number, text: string): W2vHeader | null {
  const f = splitFields(text);
  if (f.length !== 2 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) return null;
  const count = Number(f[0]);
  const dim = Number(f[1]);
  if (dim < 1 || dim > MAX_DIM) throw corrupt(path, { line }, `a dimension from 1 to ${MAX_DIM} in the header`, String(dim));
  if (!Number.isSafeInteger(count)) throw corrupt(path, { line }, 'a count in the header', f[0]!);
  return { count, dim };
}

async function readHeaderLine(r: BlockReader): Promise<{ text: string } | null> {
  const bytes = await r.readLine();
  if (bytes === null) return null;
  return { text: stripBom(decodeUtf8(r.path, { line: 1 }, bytes)) };
}

// ---------------------------------------------------------------------------------------------
// Text

export async function openWord2vecText(path: string, options: ReadOptions): Promise<OpenedRecords> {
  await fileSize(path);
  const first = await withReader(path, options.blockSize, readHeaderLine);
  if (first === null) throw corrupt(path, { line: 1 }, 'a "count dim" header line', 'an empty file');
  const header = parseHeader(path, 1, first.text);
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const records = readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord> {
    const h = await readHeaderLine(r);
    const hdr = h === null ? null : parseHeader(path, 1, h.text);
    const dims = new DimCheck(path, hdr?.dim, 'as the header states');
    let row = 0;
    const wanted = Math.min(limit, hdr?.count ?? Infinity);
    let text: string | undefined = hdr === null ? h?.text : undefined;
    for (;;) {
      if (text === undefined) {
        const bytes = await r.readLine();
        if (bytes === null) break;
        text = decodeUtf8(path, { line: r.line }, bytes);
      }
      const where = { line: r.line };
      const fields = splitFields(text);
      const indented = /^[ \t]/.test(text);
      text = undefined;
      if (fields.length === 0) continue;
      if (row >= wanted) {
        if (row >= limit) return;
        throw corrupt(path, where, `the end of the file after ${hdr!.count} vectors (as the header states)`, 'another line');
      }
      if (indented) throw corrupt(path, where, 'a word at the start of the line', 'a space');
      if (fields.length < 2) {
        throw corrupt(path, where, 'a word followed by its vector', quote(fields.join(' ')));
      }
      dims.check(where, fields.length - 1);
      yield { id: prefix + fields[0]!, vector: parseVector(path, where, row, fields, 1) };
      row++;
      if (row >= limit) return;
    }
    if (hdr !== null && row < hdr.count && row < limit) {
      throw corrupt(path, { line: r.line }, `${hdr.count} vectors (as the header states)`, `${row} before the end of the file (truncated)`);
    }
  });
  return { format: 'word2vec', dim: header?.dim, count: limited(header?.count, options.limit), records };
}

// ---------------------------------------------------------------------------------------------
// Binary

async function readBinaryHeader(r: BlockReader): Promise<W2vHeader> {
  const path = r.path;
  const bytes = await r.readUntil(0x0a, 256);
  if (bytes === null) throw corrupt(path, { line: 1 }, 'a "count dim" header line', 'an empty file');
  r.line = 1;
  const text = stripBom(bytes.bytes.toString('latin1'));
  const h = parseHeader(path, 1, text);
  if (h === null || !bytes.found) throw corrupt(path, { line: 1 }, 'a "count dim" header line', quote(text));
  return h;
}

export async function openWord2vecBinary(path: string, options: ReadOptions): Promise<OpenedRecords> {
  await fileSize(path);
  const header = await withReader(path, 512, readBinaryHeader);
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const records = readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord> {
    const { count, dim } = await readBinaryHeader(r);
    const n = Math.min(count, limit);
    for (let row = 0; row < n; row++) {
      // Skip the line break the C tool writes after each vector.
      while ((await r.peekByte()) === 0x0a) r.skip(1);
      const offset = r.offset;
      const w = await r.readUntil(0x20, MAX_WORD_BYTES, 'a space after the word');
      if (w === null) {
        throw corrupt(path, { row, offset }, `${count} vectors (as the header states)`, `${row} before the end of the file (truncated)`);
      }
      if (!w.found) throw corrupt(path, { row, offset }, 'a word ended by a space', 'the end of the file (truncated)');
      if (w.bytes.length === 0) throw corrupt(path, { row, offset }, 'a word before the space', 'an empty word');
      const word = decodeUtf8(path, { row, offset }, w.bytes);
      const bytes = await r.readBytes(dim * 4);
      if (bytes.length < dim * 4) {
        throw corrupt(path, { row, offset }, `${dim * 4} bytes of vector after the word ${quote(word)}`, `${bytes.length} (truncated)`);
      }
      const vector = decodeFloat32LE(bytes, dim);
      checkFiniteRow(path, vector, row, offset);
      yield { id: prefix + word, vector };
    }
    if (n < count) return;
    for (;;) {
      const b = await r.peekByte();
      if (b === -1) return;
      if (b !== 0x0a && b !== 0x0d && b !== 0x20 && b !== 0x09) {
        throw corrupt(path, { row: count, offset: r.offset }, `the end of the file after ${count} vectors (as the header states)`, 'more bytes');
      }
      r.skip(1);
    }
  });
  return { format: 'word2vec-binary', dim: header.dim, count: limited(header.count, options.limit), records };
}

// ---------------------------------------------------------------------------------------------
// Writer

/**
 * Writes word2vec text (`binary: false`) or binary, as the C tool does: header `count dim`, then
 * per record the id as the word and the vector (text: shortest float32 decimals separated by
 * spaces; binary: little-endian float32 followed by `\n`). Both load with gensim's
 * `KeyedVectors.load_word2vec_format(path, binary=…)`. Ids must be non-empty and free of ASCII
 * whitespace; the number of records must equal `count`. Returns the count.
 */
export async function writeWord2vec(path: string, records: RecordSource,
  options: { binary: boolean; count: number; dim: number }): Promise<number> {
  const { binary, count, dim } = options ?? ({} as typeof options);
  if (typeof binary !== 'boolean') throw new OmnivecError('invalid_argument', `binary: expected a boolean, got ${String(binary)}`);
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new OmnivecError('invalid_argument', `count: expected a non-negative integer, got ${String(count)}`);
  }
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw new OmnivecError('invalid_argument', `dim: expected an integer from 1 to ${MAX_DIM}, got ${String(dim)}`);
  }
  return withSink(path, async (sink) => {
    await sink.write(`${count} ${dim}\n`);
    let i = 0;
    for await (const rec of eachRecord(records, 'records')) {
      if (i >= count) throw new OmnivecError('invalid_argument', `records: expected ${count} records (count), got more`);
      checkRecordVector(rec, i, dim);
      if (rec.id === '' || /[ \t\n\r\v\f]/.test(rec.id)) {
        throw new OmnivecError('invalid_argument',
          `records: record ${i}: expected an id without spaces or line breaks (a word2vec word), got ${quote(rec.id)}`);
      }
      if (binary) {
        await sink.write(`${rec.id} `);
        await sink.write(encodeFloat32LE(rec.vector));
        await sink.write('\n');
      } else {
        await sink.write(`${rec.id} ${formatVector(rec.vector, ' ')}\n`);
      }
      i++;
    }
    if (i !== count) throw new OmnivecError('invalid_argument', `records: expected ${count} records (count), got ${i}`);
    return count;
  });
}
