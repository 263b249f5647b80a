/**
 * Side features of users and items for the deep recommenders (docs/recommenders.md#features): a
 * CSV with a header and an id column, every other column a feature. A column whose every non-empty
 * value is a number is numeric (standardised: (x − mean) / std, missing → 0, the mean); any other
 * is categorical, multi-valued when cells hold `|`-separated values (MovieLens genres
 * "Adventure|Animation"), multi-hot over its most frequent `maxCategories` values, each active
 * value weighing 1 / (values in the cell). A categorical column whose values are mostly distinct
 * (more than half as many values as rows, e.g. titles) is an identifier or free text, not a
 * feature: it is left out and listed in `skipped`.
 *
 * The fitted schema (`FeatureSchema`) is plain data, saved with the model, so new rows (a
 * cold-start item) are encoded exactly as the training rows were.
 */
import { readFile } from 'node:fs/promises';
import { OmnivecError, invalidArgument } from '../../errors.js';
import { splitCsvLine } from '../item2vec/movielens.js';

export type FeatureColumn =
  | { name: string; type: 'numeric'; mean: number; std: number }
  | { name: string; type: 'categorical'; values: string[] };

export interface FeatureSchema {
  idColumn: string;
  columns: FeatureColumn[];
  /** Width of an encoded row. */
  dim: number;
}

/** Rows of features by id, encoded with a schema. */
export interface FeatureTable {
  schema: FeatureSchema;
  /** id → row. */
  rows: Map<string, number>;
  /** rows.size × schema.dim. */
  data: Float32Array;
  /** Columns left out (mostly distinct values), with why. */
  skipped: string[];
}

export interface FitFeaturesOptions {
  /** The id column (default `id` if present, else the first column). */
  idColumn?: string;
  /** Only these columns (default every column but the id). */
  columns?: readonly string[];
  /** Most frequent values kept per categorical column (default 1000). */
  maxCategories?: number;
}

/** The cells of a categorical column's cell (`a|b` → [a, b]). */
const cellValues = (cell: string): string[] => cell.split('|').map((s) => s.trim()).filter((s) => s !== '' && s !== '(no genres listed)');

/** Width of a schema's rows. */
const widthOf = (columns: readonly FeatureColumn[]): number => columns.reduce((s, c) => s + (c.type === 'numeric' ? 1 : c.values.length), 0);

/** Encodes one record (column → cell text) into `out[off..off+schema.dim)`. */
export function encodeFeatures(schema: FeatureSchema, record: Readonly<Record<string, string | undefined>>, out: Float32Array, off: number): void {
  out.fill(0, off, off + schema.dim);
  let p = off;
  for (const c of schema.columns) {
    const cell = record[c.name] ?? '';
    if (c.type === 'numeric') {
      const x = cell.trim() === '' ? NaN : Number(cell);
      out[p] = Number.isFinite(x) ? (x - c.mean) / c.std : 0;
      p += 1;
    } else {
      const vals = cellValues(cell);
      let hit = 0;
      const at: number[] = [];
      for (const v of vals) {
        const i = c.values.indexOf(v);
        if (i >= 0) { at.push(i); hit++; }
      }
      for (const i of at) out[p + i] = 1 / hit;
      p += c.values.length;
    }
  }
}

/** Fits a schema on records and encodes them: the table `FeatureTable`. */
export function fitFeatures(header: readonly string[], records: readonly (readonly string[])[], options: FitFeaturesOptions = {}, source = 'features'): FeatureTable {
  const idColumn = options.idColumn ?? (header.includes('id') ? 'id' : header[0]);
  if (idColumn === undefined || !header.includes(idColumn)) {
    throw invalidArgument(`${source}: expected an id column ${JSON.stringify(options.idColumn ?? 'id')} in the header, got ${JSON.stringify(header.join(','))}`);
  }
  const idAt = header.indexOf(idColumn);
  const wanted = options.columns ?? header.filter((h) => h !== idColumn);
  for (const w of wanted) if (!header.includes(w)) throw invalidArgument(`${source}: expected a column ${JSON.stringify(w)}, the header has ${JSON.stringify(header.join(','))}`);
  const maxCategories = options.maxCategories ?? 1000;
  const columns: FeatureColumn[] = [];
  const skipped: string[] = [];
  for (const name of wanted) {
    const at = header.indexOf(name);
    const cells = records.map((r) => r[at] ?? '');
    const nonEmpty = cells.filter((c) => c.trim() !== '');
    if (nonEmpty.length > 0 && nonEmpty.every((c) => Number.isFinite(Number(c)))) {
      const xs = nonEmpty.map(Number);
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
      columns.push({ name, type: 'numeric', mean, std: sd > 0 ? sd : 1 });
      continue;
    }
    const counts = new Map<string, number>();
    for (const c of cells) for (const v of cellValues(c)) counts.set(v, (counts.get(v) ?? 0) + 1);
    if (counts.size === 0) { skipped.push(`${name} (empty)`); continue; }
    if (counts.size > Math.max(20, records.length / 2)) { skipped.push(`${name} (${counts.size} distinct values in ${records.length} rows: an identifier or free text)`); continue; }
    const values = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxCategories).map((e) => e[0]);
    columns.push({ name, type: 'categorical', values });
  }
  const schema: FeatureSchema = { idColumn, columns, dim: widthOf(columns) };
  const rows = new Map<string, number>();
  const data = new Float32Array(records.length * schema.dim);
  records.forEach((r, n) => {
    const id = r[idAt] ?? '';
    if (id === '') throw invalidArgument(`${source}: row ${n + 2}: expected an id in column ${JSON.stringify(idColumn)}, got an empty cell`);
    if (rows.has(id)) throw invalidArgument(`${source}: row ${n + 2}: the id ${JSON.stringify(id)} appears twice`);
    rows.set(id, n);
    const rec: Record<string, string> = {};
    header.forEach((h, i) => { rec[h] = r[i] ?? ''; });
    encodeFeatures(schema, rec, data, n * schema.dim);
  });
  return { schema, rows, data, skipped };
}

/** Reads a features CSV (header, one row per id) and fits it (`fitFeatures`). */
export async function readFeatures(path: string, options: FitFeaturesOptions = {}): Promise<FeatureTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: no such features file (expected a CSV with a header and an id column)`, { path });
    throw e;
  }
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  if (lines.length < 2) throw invalidArgument(`${path}: expected a CSV header and at least one row, got ${lines.length} line(s)`);
  const header = splitCsvLine(lines[0]!.replace(/^\uFEFF/, ''));
  return fitFeatures(header, lines.slice(1).map(splitCsvLine), options, path);
}

/** Encodes the records of a table built by the same schema (e.g. a features file for serving). */
export function tableFromSchema(schema: FeatureSchema, header: readonly string[], records: readonly (readonly string[])[], source = 'features'): FeatureTable {
  const idAt = header.indexOf(schema.idColumn);
  if (idAt < 0) throw invalidArgument(`${source}: expected the id column ${JSON.stringify(schema.idColumn)} the model was trained with, the header has ${JSON.stringify(header.join(','))}`);
  const rows = new Map<string, number>();
  const data = new Float32Array(records.length * schema.dim);
  records.forEach((r, n) => {
    rows.set(r[idAt] ?? '', n);
    const rec: Record<string, string> = {};
    header.forEach((h, i) => { rec[h] = r[i] ?? ''; });
    encodeFeatures(schema, rec, data, n * schema.dim);
  });
  return { schema, rows, data, skipped: [] };
}
