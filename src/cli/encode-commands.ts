/**
 * `omnivec encode …`: turning data into vectors from the shell. `encode features` applies a feature
 * schema (docs/features.md) to a CSV or JSON Lines file: optionally fits it, saves the fitted
 * schema, writes the vectors (.npy, .jsonl, .fvecs) and / or adds them to a collection.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError } from '../errors.js';
import { openDatabase } from '../db/database.js';
import type { Collection } from '../db/collection.js';
import { FeatureEncoder, FeatureFitter, type FieldFitReport, type ResolvedSchema } from '../encoders/features/index.js';
import { fileError, readerIterable } from '../io/block-reader.js';
import { cellValue, corrupt, quote, stripBom } from '../io/common.js';
import { csvRows } from '../io/csv.js';
import { jsonValues } from '../io/jsonl.js';
import { writeJsonl, writeNpy, type ImportRecord } from '../io/index.js';
import { withSink } from '../io/sink.js';
import { encodeFloat32LE } from '../io/vecs.js';
import { dbDir, indexSpecFrom, type Out } from './db-commands.js';
import { Progress } from './progress.js';

/** Options of `encode features`, as commander hands them over. */
export interface EncodeFeaturesOpts {
  schema?: string;
  input?: string;
  /** csv | jsonl (default: from the input's extension). */
  format?: string;
  output?: string;
  idField?: string;
  fit?: boolean;
  saveSchema?: string;
  into?: string;
  metric?: string;
  index?: string;
  upsert?: boolean;
  /** false (`--no-metadata`): records get no metadata. */
  metadata?: boolean;
}

/** What `encode features` did. */
export interface EncodeFeaturesResult {
  rows: number;
  dim: number;
  /** The complete schema used (fitted when --fit). */
  schema: ResolvedSchema;
}

type InputFormat = 'csv' | 'jsonl';
type OutputFormat = 'npy' | 'jsonl' | 'fvecs';

/** One data row of the input: its values, where it is (`file:line`) and its 0-based number. */
interface InputRow {
  values: Record<string, unknown>;
  label: string;
  index: number;
}

function inputFormat(path: string, format: string | undefined): InputFormat {
  if (format !== undefined) {
    if (format !== 'csv' && format !== 'jsonl') throw new OmnivecError('invalid_argument', `--format: expected csv or jsonl, got ${JSON.stringify(format)}`);
    return format;
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  throw new OmnivecError('invalid_argument', `--input: cannot tell the format of ${path} from its extension; expected .csv or .jsonl, or pass --format csv|jsonl`);
}

function outputFormat(path: string): OutputFormat {
  if (path === '-') return 'jsonl';
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return 'npy';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.fvecs') return 'fvecs';
  throw new OmnivecError('invalid_argument', `--output: expected a file ending in .npy, .jsonl or .fvecs (or - for JSON Lines on stdout), got ${JSON.stringify(path)}`);
}

/**
 * The data rows of a CSV file (a header row, then one object per line keyed by the header's
 * trimmed names; cells as text) or a JSON Lines file (one object per line). Each iteration reads the
 * file anew. `columns` checks the CSV header (the schema's fields must be columns).
 */
function inputRows(path: string, format: InputFormat, checkColumns: (names: string[], label: string) => void): AsyncIterable<InputRow> {
  if (format === 'csv') {
    return readerIterable(path, undefined, async function* (r): AsyncGenerator<InputRow> {
      const rows = csvRows(r);
      const head = await rows.next();
      if (head.done === true) return;
      const names = head.value.cells.map((h) => h.trim());
      const seen = new Set<string>();
      for (const n of names) {
        if (n !== '' && seen.has(n)) throw corrupt(path, { line: head.value.line }, 'distinct column names', `${quote(n)} twice`);
        seen.add(n);
      }
      checkColumns(names, `${path}:${head.value.line}`);
      let index = 0;
      for await (const { cells, line } of rows) {
        if (cells.length !== names.length) throw corrupt(path, { line }, `${names.length} cells (as the header)`, `${cells.length}`);
        const values: Record<string, unknown> = {};
        for (let j = 0; j < names.length; j++) if (names[j] !== '') values[names[j]!] = cells[j]!;
        yield { values, label: `${path}:${line}`, index: index++ };
      }
    });
  }
  return readerIterable(path, undefined, async function* (r): AsyncGenerator<InputRow> {
    let index = 0;
    for await (const { value: obj, where } of jsonValues(r, path)) {
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        throw corrupt(path, where, 'a JSON object { field: value, ... }', Array.isArray(obj) ? 'an array' : JSON.stringify(obj));
      }
      yield { values: obj as Record<string, unknown>, label: `${path}:${where.line}`, index: index++ };
    }
  });
}

async function readSchema(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    return JSON.parse(stripBom(text));
  } catch (e) {
    throw new OmnivecError('invalid_argument', `--schema ${path}: expected a JSON feature schema, got invalid JSON (${(e as Error).message})`);
  }
}

/** Prefixes the message of a schema error with the file it came from. */
function inSchemaFile<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OmnivecError && e.message.startsWith('schema')) {
      throw new OmnivecError(e.code, `--schema ${path}: ${e.message}`, e.details === undefined ? undefined : { ...e.details });
    }
    throw e;
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function describeFit(r: FieldFitReport, f: ResolvedSchema['fields'][number]): string {
  const missing = r.missing !== undefined && r.missing > 0 ? `, ${fmt(r.missing)} rows missing` : '';
  if (r.learnt.length === 0) return `  ${r.name}: as given`;
  if (f.type === 'numeric') {
    const num = (x: number | undefined): string => (x === undefined ? '?' : Number(x.toPrecision(6)).toString());
    return `  ${r.name}: mean ${num(f.mean)}, std ${num(f.std)}, min ${num(f.min)}, max ${num(f.max)}${missing}`;
  }
  const bucket = 'unknown' in f && f.unknown === 'bucket' ? ' (+1 column for unknown ones)' : '';
  return `  ${r.name}: ${fmt(r.kept ?? 0)} of ${fmt(r.distinct ?? 0)} categories${bucket}${missing}`;
}

function describeLayout(enc: FeatureEncoder): string {
  return enc.layout().map((s) => `${s.name} ${s.dims === 1 ? s.offset : `${s.offset}–${s.offset + s.dims - 1}`}`).join(', ');
}

/** Streams a .fvecs file (each row: int32 dim, then dim float32) from records of one dimension. */
async function writeFvecsStream(path: string, records: AsyncIterable<ImportRecord>, dim: number): Promise<number> {
  return withSink(path, async (sink) => {
    const head = Buffer.alloc(4);
    head.writeInt32LE(dim, 0);
    let n = 0;
    for await (const r of records) {
      await sink.write(head);
      await sink.write(encodeFloat32LE(r.vector));
      n++;
    }
    return n;
  });
}

/**
 * `omnivec encode features`: reads the schema, fits it on the input with `fit` (else it must be
 * complete), saves it with `saveSchema`, then encodes every row and writes the vectors to `output`
 * and / or adds them to the collection `into` of the database in `dir` (created with the vectors'
 * dimension when missing). Ids come from `idField` (default: the `id` column when there is one,
 * else the row numbers 0, 1, …); metadata is the row's other fields (multihot fields as lists).
 */
export async function cmdEncodeFeatures(dir: string, o: EncodeFeaturesOpts, out: Out): Promise<EncodeFeaturesResult> {
  if (o.schema === undefined) throw new OmnivecError('invalid_argument', '--schema: required (the feature schema, JSON)');
  if (o.input === undefined) throw new OmnivecError('invalid_argument', '--input: required (a .csv or .jsonl file of rows)');
  if (o.output === undefined && o.into === undefined && o.saveSchema === undefined) {
    throw new OmnivecError('invalid_argument', 'encode features: nothing to do; expected --output FILE, --into COLLECTION and / or --save-schema FILE');
  }
  if (o.idField === '') throw new OmnivecError('invalid_argument', '--id-field: expected a field name, got an empty string');
  const input = o.input;
  const format = inputFormat(input, o.format);
  const outFormat = o.output === undefined ? undefined : outputFormat(o.output);
  if (o.output !== undefined && o.output !== '-' && resolve(o.output) === resolve(input)) {
    throw new OmnivecError('invalid_argument', `--output: ${o.output} is the input file`);
  }
  const raw = await readSchema(o.schema);
  const fitter = inSchemaFile(o.schema, () => new FeatureFitter(raw));
  const fieldNames: string[] = (raw as { fields: { name: string }[] }).fields.map((f) => f.name);
  const idField = o.idField;
  let idColumn: string | undefined = idField;

  const checkColumns = (names: string[], label: string): void => {
    const have = new Set(names);
    for (const f of fieldNames) {
      if (!have.has(f)) {
        throw new OmnivecError('invalid_argument',
          `${label}: the schema's field ${JSON.stringify(f)} is not a column (columns: ${quote(names.join(', '), 200)})`);
      }
    }
    if (idField !== undefined && !have.has(idField)) {
      throw new OmnivecError('invalid_argument', `${label}: --id-field ${JSON.stringify(idField)} is not a column (columns: ${quote(names.join(', '), 200)})`);
    }
    if (idField === undefined) idColumn = have.has('id') ? 'id' : undefined;
  };
  const rows = inputRows(input, format, checkColumns);
  const empty = (): OmnivecError => new OmnivecError('invalid_argument', `--input ${input}: expected rows, got none (empty input)`);
  // With the vectors on stdout, messages go to stderr.
  const say = (s: string): void => { if (o.output === '-') process.stderr.write(s + '\n'); else out.line(s); };

  // Fit, or check that the schema is complete.
  let schema: ResolvedSchema;
  if (o.fit === true) {
    const progress = new Progress(`encode features: fitting on ${input}`);
    for await (const r of rows) {
      fitter.add(r.values, r.label);
      progress.update(r.index + 1);
    }
    progress.done();
    if (fitter.rows === 0) throw empty();
    schema = fitter.finish();
    const report = fitter.report();
    say(`fitted ${o.schema} on ${fmt(fitter.rows)} rows of ${input}:`);
    report.forEach((r, i) => say(describeFit(r, schema.fields[i]!)));
  } else {
    schema = inSchemaFile(o.schema, () => new FeatureEncoder(raw)).schema;
    let any = false;
    for await (const _ of rows) { any = true; break; }
    if (!any) throw empty();
  }
  const enc = new FeatureEncoder(schema);
  say(`${fmt(enc.dim)} dimensions: ${describeLayout(enc)}`);
  if (o.saveSchema !== undefined) {
    await withSink(o.saveSchema, (sink) => sink.write(JSON.stringify(schema, null, 2) + '\n'));
    say(`saved the ${o.fit === true ? 'fitted ' : ''}schema to ${o.saveSchema}`);
  }

  // Encoding: one pass over the input for each destination.
  const lists = new Set(schema.fields.filter((f) => f.type === 'multihot' || (f.type === 'hashed' && f.separator !== undefined)).map((f) => f.name));
  const separators = new Map(schema.fields.map((f) => [f.name, 'separator' in f ? f.separator : undefined]));
  const withMetadata = o.metadata !== false;
  let count = 0;
  const records = async function* (label: string): AsyncGenerator<ImportRecord> {
    const progress = new Progress(label);
    let n = 0;
    for await (const r of rows) {
      // JSON Lines has no header: the first row decides whether ids come from an "id" field.
      if (format === 'jsonl' && r.index === 0) idColumn = idField ?? (Object.hasOwn(r.values, 'id') ? 'id' : undefined);
      const vector = enc.encode(r.values, r.label);
      const rec: ImportRecord = { id: idOf(r, idColumn), vector };
      if (withMetadata) {
        const metadata = metadataOf(r.values, idColumn, format, lists, separators);
        if (metadata !== undefined) rec.metadata = metadata;
      }
      yield rec;
      progress.update(++n);
    }
    progress.done();
    count = n;
  };

  if (o.output !== undefined) {
    const t0 = performance.now();
    const label = `encode features: writing ${o.output}`;
    const n = outFormat === 'npy' ? await writeNpy(o.output, records(label), { dim: enc.dim })
      : outFormat === 'fvecs' ? await writeFvecsStream(o.output, records(label), enc.dim)
        : await writeJsonl(o.output, records(label));
    say(`wrote ${fmt(n)} vectors (${fmt(enc.dim)}-d) to ${o.output} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }
  if (o.into !== undefined) {
    const name = o.into;
    const db = await openDatabase(dir, { create: true });
    try {
      let c: Collection;
      if (await db.hasCollection(name)) {
        c = await db.getCollection(name);
        if (c.dim !== enc.dim) {
          throw new OmnivecError('dimension_mismatch', `--into ${name}: the collection holds ${c.dim}-d vectors, the schema makes ${enc.dim}-d ones`,
            { expected: c.dim, actual: enc.dim });
        }
      } else {
        c = await db.createCollection({ name, dim: enc.dim, metric: o.metric as never, index: indexSpecFrom({ dim: '0', index: o.index }) });
        say(`created ${c.name} (${c.dim}-d, ${c.metric}, index ${c.indexSpec.kind})`);
      }
      const t0 = performance.now();
      const index = new Progress(`encode features: indexing into ${name}`);
      const onProgress = (p: { phase: 'store' | 'index'; done: number; total?: number }): void => {
        if (p.phase === 'index') index.update(p.done, p.total, 'vectors');
      };
      const source = records(`encode features: adding to ${name}`);
      const n = await (o.upsert === true ? c.upsert(source, { onProgress }) : c.add(source, { onProgress }));
      index.done();
      await c.flush();
      say(`added ${fmt(n)} records to ${name} in ${((performance.now() - t0) / 1000).toFixed(2)} s; ${fmt(await c.count())} records now`);
    } finally {
      await db.close();
    }
  }
  return { rows: count, dim: enc.dim, schema };
}

/** A row's id: the id field's value (a non-empty string or an integer), else the row number. */
function idOf(r: InputRow, idColumn: string | undefined): string {
  if (idColumn === undefined) return String(r.index);
  const v = r.values[idColumn];
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw new OmnivecError('invalid_argument', `${r.label}: expected an id in the field ${JSON.stringify(idColumn)} (a non-empty string or an integer), got ${v === undefined ? 'no such field' : JSON.stringify(v)}`);
}

/**
 * A row's metadata: every field but the id. CSV cells that are plain numbers become numbers and
 * empty cells are left out (as `omnivec import` does); list fields (multihot, hashed with a
 * separator) become arrays of their trimmed items; JSON values are kept, nested objects as JSON text.
 */
function metadataOf(values: Record<string, unknown>, idField: string | undefined, format: InputFormat,
  lists: Set<string>, separators: Map<string, string | undefined>): Record<string, unknown> | undefined {
  let m: Record<string, unknown> | undefined;
  for (const key of Object.keys(values)) {
    if (key === idField) continue;
    let v = values[key];
    if (v === undefined || v === null || v === '') continue;
    if (lists.has(key) && typeof v === 'string') {
      v = v.split(separators.get(key) ?? '|').map((s) => s.trim()).filter((s) => s !== '');
    } else if (format === 'csv' && typeof v === 'string') {
      v = cellValue(v);
    } else if (typeof v === 'object' && !(Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object'))) {
      v = JSON.stringify(v);
    }
    (m ??= {})[key] = v;
  }
  return m;
}

/**
 * Adds `encode features` (under an `encode` command, created when missing) to the `omnivec`
 * program. The database is the root program's `--db` option.
 */
export function registerEncodeCommands(program: Command, out: Out): void {
  const encode = program.commands.find((c) => c.name() === 'encode')
    ?? program.command('encode').description('turn data into vectors (encode features: one-hot, multi-hot, numeric, hashed)');
  encode.command('features')
    .description('encode the rows of a CSV / JSON Lines file by a feature schema (docs/features.md)')
    .requiredOption('--schema <file>', 'the feature schema (JSON)')
    .requiredOption('--input <file>', 'the rows: .csv (with a header) or .jsonl')
    .option('--format <format>', 'csv | jsonl (default: from the input\'s extension)')
    .option('--output <file>', 'write the vectors: .npy, .jsonl (ids, vectors, metadata) or .fvecs; - for JSON Lines on stdout')
    .option('--id-field <name>', 'the field that gives record ids (default: "id" when present, else the row numbers)')
    .option('--fit', 'learn the categories and statistics the schema does not state from the input')
    .option('--save-schema <file>', 'write the complete (fitted) schema, to encode more rows the same way later')
    .option('--into <collection>', 'add the vectors to this collection of the database (created when missing)')
    .option('--metric <metric>', 'with --into, when creating the collection: l2 | ip | cosine (default cosine)')
    .option('--index <kind>', 'with --into, when creating the collection: flat | ivf | hnsw | auto (default auto)')
    .option('--upsert', 'with --into: replace records whose id is already stored')
    .option('--no-metadata', 'store / write no metadata with the records')
    .action(async (o: EncodeFeaturesOpts) => { await cmdEncodeFeatures(dbDir(program.opts<{ db?: string }>().db), o, out); });
}
