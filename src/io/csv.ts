/**
 * CSV (RFC 4180: comma-separated, cells quoted with `"` when they hold commas, quotes or line
 * breaks, `""` for a quote inside), with a header row. The column rule (docs/import-export.md):
 *
 * - `id` (any case) gives the id; without it ids are the data-row numbers "0", "1", ….
 * - The vector is the column `vector` (else `embedding`): a JSON array or numbers separated by
 *   spaces, commas or semicolons, brackets optional. Without such a column, the vector is made of
 *   the numbered columns, all of one naming: `0,1,2…`, `v0,v1…`, `dim_0…`, `emb_0…`, `embedding_0…`
 *   (an optional `_` after the prefix, any case), numbered from 0 or 1 without gaps, in number order.
 * - `document` (else `text`) gives the document.
 * - Every other column becomes a metadata field: a cell that is a plain decimal number becomes a
 *   number, anything else a string; empty cells are left out. Columns with an empty name (pandas'
 *   unnamed index column) are ignored.
 */
import { OmnivecError } from '../errors.js';
import { fileSize, readerIterable, withReader, type BlockReader } from './block-reader.js';
import {
  DimCheck, cellValue, checkRecordVector, corrupt, decodeUtf8, eachRecord, formatVector, parseVector, quote, stripBom,
  type ImportRecord, type OpenedRecords, type ReadOptions, type RecordSource,
} from './common.js';
import { withSink } from './sink.js';

/** Records of a CSV file as cells, with the line each record starts on. Blank lines are skipped. */
export async function* csvRows(r: BlockReader): AsyncGenerator<{ cells: string[]; line: number }> {
  const path = r.path;
  for (;;) {
    const bytes = await r.readLine();
    if (bytes === null) return;
    const line = r.line;
    let text = decodeUtf8(path, { line }, bytes);
    if (line === 1) text = stripBom(text);
    if (text === '') continue;
    const cells: string[] = [];
    let pos = 0;
    for (;;) {
      if (pos === text.length) {
        // Only reached after a comma: the record ends with an empty cell.
        cells.push('');
        break;
      }
      if (text.charCodeAt(pos) === 0x22 /* " */) {
        let value = '';
        pos++;
        for (;;) {
          const q = text.indexOf('"', pos);
          if (q === -1) {
            // The quoted cell goes on over a line break.
            value += text.slice(pos) + (r.lastHadCr ? '\r\n' : '\n');
            const next = await r.readLine();
            if (next === null) throw corrupt(path, { line }, 'a closing quote for the cell that opens here', 'the end of the file');
            text = decodeUtf8(path, { line: r.line }, next);
            pos = 0;
            continue;
          }
          value += text.slice(pos, q);
          if (text.charCodeAt(q + 1) === 0x22) {
            value += '"';
            pos = q + 2;
            continue;
          }
          pos = q + 1;
          break;
        }
        cells.push(value);
        if (pos === text.length) break;
        if (text.charCodeAt(pos) !== 0x2c /* , */) {
          throw corrupt(path, { line: r.line }, 'a comma or the end of the line after a closing quote', quote(text.slice(pos, pos + 10)));
        }
        pos++;
      } else {
        const c = text.indexOf(',', pos);
        if (c === -1) {
          cells.push(text.slice(pos));
          break;
        }
        cells.push(text.slice(pos, c));
        pos = c + 1;
      }
    }
    yield { cells, line };
  }
}

interface CsvPlan {
  names: string[];
  id: number;
  document: number;
  vector: number;
  /** Column indexes of the numbered vector components, in component order (when `vector` is -1). */
  components: number[];
  metadata: number[];
}

const NUMBERED = /^(|v|dim|emb|embedding)(_?)(\d+)$/i;

function plan(path: string, line: number, header: string[]): CsvPlan {
  const names = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (const n of names) {
    if (n !== '' && seen.has(n)) throw corrupt(path, { line }, 'distinct column names', `${quote(n)} twice`);
    seen.add(n);
  }
  const lower = names.map((n) => n.toLowerCase());
  const id = lower.indexOf('id');
  const vector = lower.includes('vector') ? lower.indexOf('vector') : lower.indexOf('embedding');
  const document = lower.includes('document') ? lower.indexOf('document') : lower.indexOf('text');
  const components: number[] = [];
  if (vector < 0) {
    const groups = new Map<string, { n: number; col: number }[]>();
    names.forEach((name, col) => {
      if (col === id || col === document) return;
      const m = NUMBERED.exec(name);
      if (m === null) return;
      const key = (m[1]! + m[2]!).toLowerCase();
      const list = groups.get(key) ?? [];
      list.push({ n: Number(m[3]), col });
      groups.set(key, list);
    });
    if (groups.size > 1) {
      throw corrupt(path, { line }, 'numbered vector columns of one naming (0,1,… or v0,v1,… or dim_0,…)',
        `${[...groups.keys()].map((k) => quote(k + 'N')).join(' and ')}`);
    }
    const list = [...groups.values()][0];
    if (list === undefined) {
      throw corrupt(path, { line },
        'a "vector" or "embedding" column, or numbered columns (0,1,… / v0,v1,… / dim_0,… / emb_0,…)',
        `the columns ${quote(names.join(','), 120)}`);
    }
    list.sort((a, b) => a.n - b.n);
    const first = list[0]!.n;
    list.forEach((c, i) => {
      if (first > 1 || c.n !== first + i) {
        throw corrupt(path, { line }, `vector columns numbered from 0 or 1 without gaps or repeats`,
          `${quote(names[c.col]!)} where number ${first + i} belongs`);
      }
      components.push(c.col);
    });
  }
  const special = new Set([id, vector, document, ...components]);
  const metadata = names.map((_, i) => i).filter((i) => !special.has(i) && names[i] !== '');
  return { names, id, document, vector, components, metadata };
}

async function readPlan(r: BlockReader): Promise<{ plan: CsvPlan; line: number } | null> {
  const first = await csvRows(r).next();
  if (first.done === true) return null;
  return { plan: plan(r.path, first.value.line, first.value.cells), line: first.value.line };
}

/** Splits the text of a `vector` cell: `[1, 2, 3]`, `1 2 3`, `1;2;3`, numpy's `[1. 2. 3.]`. */
function vectorTokens(cell: string): string[] {
  let t = cell.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  return t.split(/[\s,;]+/).filter((s) => s !== '');
}

export async function openCsv(path: string, options: ReadOptions): Promise<OpenedRecords> {
  await fileSize(path);
  const head = await withReader(path, options.blockSize, readPlan);
  if (head === null) throw corrupt(path, { line: 1 }, 'a header row', 'an empty file');
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const records = readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord> {
    const rows = csvRows(r);
    const first = await rows.next();
    if (first.done === true) throw corrupt(path, { line: 1 }, 'a header row', 'an empty file');
    const p = plan(path, first.value.line, first.value.cells);
    const dims = new DimCheck(path, p.vector < 0 ? p.components.length : undefined,
      `as the numbered columns of the header`);
    let row = 0;
    if (row >= limit) return;
    for await (const { cells, line } of rows) {
      const where = { line };
      if (cells.length !== p.names.length) {
        throw corrupt(path, where, `${p.names.length} cells (as the header)`, `${cells.length}`);
      }
      let id = String(row);
      if (p.id >= 0) {
        id = cells[p.id]!;
        if (id === '') throw corrupt(path, where, 'a non-empty id', 'an empty cell');
      }
      let vector: Float32Array;
      if (p.vector >= 0) {
        const tokens = vectorTokens(cells[p.vector]!);
        if (tokens.length === 0) throw corrupt(path, where, `a vector in the column ${quote(p.names[p.vector]!)}`, 'an empty cell');
        dims.check(where, tokens.length);
        vector = parseVector(path, where, row, tokens);
      } else {
        vector = parseVector(path, where, row, p.components.map((c) => cells[c]!.trim()));
      }
      const rec: ImportRecord = { id: prefix + id, vector };
      if (p.document >= 0 && cells[p.document] !== '') rec.document = cells[p.document]!;
      let metadata: Record<string, unknown> | undefined;
      for (const c of p.metadata) {
        const cell = cells[c]!;
        if (cell !== '') (metadata ??= {})[p.names[c]!] = cellValue(cell);
      }
      if (metadata !== undefined) rec.metadata = metadata;
      yield rec;
      if (++row >= limit) return;
    }
  });
  const dim = head.plan.vector < 0 ? head.plan.components.length : undefined;
  return { format: 'csv', dim, count: undefined, records };
}

/** A metadata value as cell text: strings as they are, numbers and booleans as text, the rest as JSON. */
export function metadataText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? '';
}

function csvCell(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const RESERVED = new Set(['id', 'vector', 'embedding', 'document', 'text']);

/** The columns of a tabular export: the given fields, or the first record's metadata keys. */
export function exportFields(first: ImportRecord | undefined, fields: string[] | undefined, what: string, reserved: Set<string>): string[] {
  const list = fields ?? Object.keys(first?.metadata ?? {});
  for (const f of list) {
    if (typeof f !== 'string' || f === '' || reserved.has(f.toLowerCase())) {
      throw new OmnivecError('invalid_argument',
        `${what}: expected metadata field names other than ${[...reserved].join(', ')}, got ${quote(String(f))}`);
    }
  }
  return list;
}

/**
 * Writes records as CSV: `id`, `document` (when asked, or when the first record has one), the
 * metadata fields (`fields`, or the first record's metadata keys), then `vector` as a JSON array.
 * Metadata keys not among the columns are not written. Returns the count.
 */
export async function writeCsv(path: string, records: RecordSource,
  options: { fields?: string[]; document?: boolean } = {}): Promise<number> {
  return withSink(path, async (sink) => {
    let fields: string[] | undefined;
    let withDoc = false;
    let dim = 0;
    let count = 0;
    for await (const rec of eachRecord(records, 'records')) {
      if (fields === undefined) {
        fields = exportFields(rec, options.fields, 'fields', RESERVED);
        withDoc = options.document ?? rec.document !== undefined;
        dim = rec.vector.length;
        await sink.write(['id', ...(withDoc ? ['document'] : []), ...fields.map(csvCell), 'vector'].join(',') + '\n');
      }
      checkRecordVector(rec, count, dim);
      const cells = [csvCell(rec.id)];
      if (withDoc) cells.push(csvCell(rec.document ?? ''));
      for (const f of fields) cells.push(csvCell(metadataText(rec.metadata?.[f])));
      cells.push(`"[${formatVector(rec.vector, ',')}]"`);
      await sink.write(cells.join(',') + '\n');
      count++;
    }
    if (fields === undefined) {
      const f = exportFields(undefined, options.fields, 'fields', RESERVED);
      await sink.write(['id', ...(options.document === true ? ['document'] : []), ...f.map(csvCell), 'vector'].join(',') + '\n');
    }
    return count;
  });
}
