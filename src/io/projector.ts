/**
 * TensorFlow Embedding Projector TSV: `vectors.tsv` holds one vector a line, components separated
 * by tabs, no header; the optional `metadata.tsv` holds one row per vector. Following the
 * projector, metadata with several columns starts with a header row, and a single column has no
 * header (its cells become the metadata field `label`). A column `id` gives the id (else ids are the
 * row numbers "0", "1", …), a column `document` (else `text`) the document, every other column a
 * metadata field (numbers when the whole cell is a plain number, empty cells left out).
 */
import { OmnivecError } from '../errors.js';
import { BlockReader, DEFAULT_BLOCK_SIZE, fileSize, withReader } from './block-reader.js';
import {
  DimCheck, cellValue, checkRecordVector, corrupt, decodeUtf8, eachRecord, formatVector, parseVector, quote,
  splitFields, stripBom, type ImportRecord, type OpenedRecords, type ReadOptions, type RecordSource,
} from './common.js';
import { exportFields, metadataText } from './csv.js';
import { withSink } from './sink.js';

interface MetaPlan {
  /** Column names, or null for a single headerless column (`label`). */
  names: string[] | null;
  id: number;
  document: number;
}

function metaPlan(path: string, firstLine: string | null): MetaPlan {
  if (firstLine === null || !firstLine.includes('\t')) return { names: null, id: -1, document: -1 };
  const names = stripBom(firstLine).split('\t').map((n) => n.trim());
  const seen = new Set<string>();
  for (const n of names) {
    if (n !== '' && seen.has(n)) throw corrupt(path, { line: 1 }, 'distinct column names', `${quote(n)} twice`);
    seen.add(n);
  }
  const lower = names.map((n) => n.toLowerCase());
  const id = lower.indexOf('id');
  const document = lower.includes('document') ? lower.indexOf('document') : lower.indexOf('text');
  return { names, id, document };
}

async function firstLine(r: BlockReader): Promise<string | null> {
  const b = await r.readLine();
  return b === null ? null : decodeUtf8(r.path, { line: 1 }, b);
}

export async function openProjector(path: string, options: ReadOptions): Promise<OpenedRecords> {
  await fileSize(path);
  const metaPath = options.metadataPath;
  if (metaPath !== undefined) {
    await fileSize(metaPath);
    metaPlan(metaPath, await withReader(metaPath, options.blockSize, firstLine));
  }
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const records: AsyncIterable<ImportRecord> = {
    async *[Symbol.asyncIterator]() {
      const vr = await BlockReader.open(path, blockSize);
      let mr: BlockReader | undefined;
      try {
        let plan: MetaPlan | undefined;
        if (metaPath !== undefined) {
          mr = await BlockReader.open(metaPath, blockSize);
          plan = metaPlan(metaPath, await firstLine(mr));
          if (plan.names === null) {
            await mr.close();
            mr = await BlockReader.open(metaPath, blockSize);
          }
        }
        const dims = new DimCheck(path);
        let row = 0;
        while (row < limit) {
          const bytes = await vr.readLine();
          if (bytes === null) break;
          const where = { line: vr.line };
          let text = decodeUtf8(path, where, bytes);
          if (vr.line === 1) text = stripBom(text);
          const fields = splitFields(text);
          if (fields.length === 0) continue;
          dims.check(where, fields.length);
          const rec: ImportRecord = { id: prefix + String(row), vector: parseVector(path, where, row, fields) };
          if (mr !== undefined && plan !== undefined) {
            const mb = await mr.readLine();
            const mwhere = { line: mr.line };
            if (mb === null) {
              throw corrupt(metaPath!, { line: mr.line + 1 }, `a row for vector ${row} (${path}:${vr.line})`, 'the end of the file');
            }
            let mt = decodeUtf8(metaPath!, mwhere, mb);
            if (mr.line === 1) mt = stripBom(mt);
            if (plan.names === null) {
              if (mt !== '') rec.metadata = { label: cellValue(mt) };
            } else {
              const cells = mt.split('\t');
              if (cells.length !== plan.names.length) {
                throw corrupt(metaPath!, mwhere, `${plan.names.length} tab-separated cells (as the header)`, `${cells.length}`);
              }
              let metadata: Record<string, unknown> | undefined;
              cells.forEach((cell, c) => {
                const name = plan!.names![c]!;
                if (c === plan!.id) {
                  if (cell === '') throw corrupt(metaPath!, mwhere, 'a non-empty id', 'an empty cell');
                  rec.id = prefix + cell;
                } else if (c === plan!.document) {
                  if (cell !== '') rec.document = cell;
                } else if (cell !== '' && name !== '') {
                  (metadata ??= {})[name] = cellValue(cell);
                }
              });
              if (metadata !== undefined) rec.metadata = metadata;
            }
          }
          yield rec;
          row++;
        }
        if (mr !== undefined && row < limit) {
          // Only blank lines may follow the last row.
          for (;;) {
            const mb = await mr.readLine();
            if (mb === null) break;
            if (mb.toString('latin1').trim() !== '') {
              throw corrupt(metaPath!, { line: mr.line }, `${row} rows (one per vector of ${path})`, 'more rows');
            }
          }
        }
      } finally {
        await vr.close();
        await mr?.close();
      }
    },
  };
  return { format: 'projector', dim: undefined, count: undefined, records };
}

const RESERVED = new Set(['id', 'document', 'text']);

/**
 * The metadata columns that hold every record's fields: the union of the records' metadata keys
 * (first seen first), and `document` when any record has one. Keys the writer keeps for itself
 * (`id`, `document`, `text`, any case) and empty keys are left out and listed in `skipped`. For
 * `writeProjector`'s `fields` / `document` options when the records can be read twice (a
 * collection: `omnivec export --format projector` reads it once for this, once to write).
 */
export function projectorColumns(records: Iterable<{ document?: string | null; metadata?: Record<string, unknown> | null }>): { fields: string[]; document: boolean; skipped: string[] } {
  const acc = new ProjectorColumns();
  for (const r of records) acc.add(r);
  return acc.result();
}

/** `projectorColumns` one record at a time (for records read asynchronously). */
export class ProjectorColumns {
  readonly #fields: string[] = [];
  readonly #skipped: string[] = [];
  readonly #seen = new Set<string>();
  #document = false;

  add(r: { document?: string | null; metadata?: Record<string, unknown> | null }): void {
    if (r.document !== undefined && r.document !== null) this.#document = true;
    for (const k of Object.keys(r.metadata ?? {})) {
      if (this.#seen.has(k)) continue;
      this.#seen.add(k);
      if (k === '' || RESERVED.has(k.toLowerCase())) this.#skipped.push(k);
      else this.#fields.push(k);
    }
  }

  result(): { fields: string[]; document: boolean; skipped: string[] } {
    return { fields: [...this.#fields], document: this.#document, skipped: [...this.#skipped] };
  }
}

function tsvCell(text: string): string {
  return text.replace(/[\t\r\n]/g, ' ');
}

/**
 * Writes `vectors.tsv` (tab-separated shortest float32 decimals) and, when `metadataPath` is given,
 * `metadata.tsv`: the columns `id`, `document` (when asked, or when the first record has one) and the
 * metadata fields (`fields`, or the first record's metadata keys: pass `projectorColumns(records)`
 * for the union of every record's when they can be read twice). With no column besides `id`, the
 * ids are written as a single headerless column (the projector shows them as labels). Tabs and
 * line breaks inside cells become spaces. Returns the count.
 */
export async function writeProjector(vectorsPath: string, metadataPath: string | undefined, records: RecordSource,
  options: { fields?: string[]; document?: boolean } = {}): Promise<number> {
  if (metadataPath !== undefined && typeof metadataPath !== 'string') {
    throw new OmnivecError('invalid_argument', `metadataPath: expected a string or undefined, got ${typeof metadataPath}`);
  }
  return withSink(vectorsPath, async (vs) => {
    const write = async (ms: { write(s: string): Promise<void> } | undefined): Promise<number> => {
      let fields: string[] | undefined;
      let withDoc = false;
      let dim = 0;
      let count = 0;
      for await (const rec of eachRecord(records, 'records')) {
        if (fields === undefined) {
          fields = exportFields(rec, options.fields, 'fields', RESERVED);
          withDoc = options.document ?? rec.document !== undefined;
          dim = rec.vector.length;
          if (ms !== undefined && (withDoc || fields.length > 0)) {
            await ms.write(['id', ...(withDoc ? ['document'] : []), ...fields].map(tsvCell).join('\t') + '\n');
          }
        }
        checkRecordVector(rec, count, dim);
        await vs.write(formatVector(rec.vector, '\t') + '\n');
        if (ms !== undefined) {
          const cells = [rec.id];
          if (withDoc) cells.push(rec.document ?? '');
          for (const f of fields) cells.push(metadataText(rec.metadata?.[f]));
          await ms.write(cells.map(tsvCell).join('\t') + '\n');
        }
        count++;
      }
      return count;
    };
    return metadataPath === undefined ? write(undefined) : withSink(metadataPath, write);
  });
}
