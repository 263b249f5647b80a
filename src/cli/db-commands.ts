import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OmnivecError, describe } from '../errors.js';
import { intArg, MAX_K } from '../checks.js';
import { openDatabase, hasDatabaseFile, isServerLocation, type Database } from '../db/database.js';
import type { Collection, QueryResult } from '../db/collection.js';
import { migrateCollection } from '../db/migrate.js';
import type { Where, WhereDocument } from '../db/where.js';
import { openRecords, readFvecs, writeIvecs, writeJsonl, writeProjector, type ImportFormat, type ImportRecord } from '../io/index.js';
import { ProjectorColumns } from '../io/projector.js';
import { Progress } from './progress.js';
import { whileInterruptible, type InterruptOptions } from './interrupt.js';

/** The database directory: --db, else OMNIVEC_DB, else ./omnivec-data. */
export function dbDir(opt: string | undefined): string {
  return opt ?? process.env.OMNIVEC_DB ?? './omnivec-data';
}

export interface Out {
  line(s: string): void;
  json(v: unknown): void;
}

export const stdout: Out = {
  line: (s) => { process.stdout.write(s + '\n'); },
  json: (v) => { process.stdout.write(JSON.stringify(v, null, 2) + '\n'); },
};

async function withDb<T>(dir: string, readOnly: boolean, fn: (db: Database) => Promise<T>, threads?: string): Promise<T> {
  const db = await openDatabase(dir, { readOnly, create: !readOnly, threads: intArg(threads, '--threads', { min: 1, max: 1024 }) });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** A JSON option (`--where`, `--where-document`, …), parsed or refused naming the flag. */
export function jsonArg<T>(name: string, v: string | undefined): T | undefined {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch (e) {
    throw new OmnivecError('invalid_argument', `${name}: expected JSON, e.g. '{"genre": {"$in": ["drama", "comedy"]}}', got ${JSON.stringify(v)} (${(e as Error).message})`);
  }
}

function parseVector(v: string): number[] {
  const text = v.trim();
  const parts = text.startsWith('[') ? (jsonArg<unknown[]>('--vector', text) ?? []) : text.split(/[\s,]+/).filter((x) => x.length > 0);
  return parts.map((x, i) => {
    const n = typeof x === 'number' ? x : Number(x);
    if (typeof x !== 'number' && (typeof x !== 'string' || x.trim() === '')) throw new OmnivecError('invalid_argument', `--vector[${i}]: expected a number, got ${describe(x)}`);
    return n;
  });
}

// ---------------------------------------------------------------------------------------------

export interface CreateOpts {
  dim: string; metric?: string; index?: string; indexDims?: string; m?: string; efConstruction?: string;
  efSearch?: string; nList?: string; nProbe?: string; tokenize?: string; encoder?: string; shardBy?: string;
  quantization?: string; rescore?: string; pqM?: string; threads?: string;
}

export function indexSpecFrom(o: CreateOpts): unknown {
  const kind = o.index ?? 'auto';
  const spec: Record<string, unknown> = { kind };
  const num = (flag: string, key: string, v: string | undefined): void => {
    const n = intArg(v, flag);
    if (n !== undefined) spec[key] = n;
  };
  num('--m', 'm', o.m);
  num('--ef-construction', 'efConstruction', o.efConstruction);
  num('--ef-search', 'efSearch', o.efSearch);
  num('--n-list', 'nList', o.nList);
  num('--n-probe', 'nProbe', o.nProbe);
  num('--rescore', 'rescore', o.rescore);
  num('--pq-m', 'pqM', o.pqM);
  if (o.quantization !== undefined) spec.quantization = o.quantization;
  return spec;
}

export async function cmdCreate(dir: string, name: string, o: CreateOpts, out: Out): Promise<void> {
  const dim = intArg(o.dim, '--dim', { min: 1, max: 65536 });
  if (dim === undefined) throw new OmnivecError('invalid_argument', '--dim: required (the vectors\' dimension)');
  await withDb(dir, false, async (db) => {
    const c = await db.createCollection({
      name, dim, metric: o.metric as never, index: indexSpecFrom(o), indexDims: intArg(o.indexDims, '--index-dims'),
      tokenize: o.tokenize, encoder: o.encoder === undefined ? undefined : { model: o.encoder, dim }, shardBy: o.shardBy as never,
    });
    out.line(`created ${c.name} (${c.dim}-d, ${c.metric}, index ${c.indexSpec.kind}) in ${db.dir}`);
  }, o.threads);
}

export async function cmdList(dir: string, o: { json?: boolean }, out: Out): Promise<void> {
  // No database yet: no collections (and no folder made for it).
  if (!isServerLocation(dir) && !hasDatabaseFile(dir)) {
    if (o.json === true) out.json([]);
    return;
  }
  await withDb(dir, true, async (db) => {
    const list = await db.listCollections();
    if (o.json === true) {
      out.json(list.map((c) => ({ name: c.name, dim: c.dim, metric: c.metric, index: c.index.kind, count: c.count })));
      return;
    }
    for (const c of list) out.line(`${c.name}\t${c.dim}\t${c.metric}\t${c.index.kind}\t${c.count}`);
  });
}

export async function cmdInfo(dir: string, name: string, o: { json?: boolean }, out: Out): Promise<void> {
  await withDb(dir, true, async (db) => {
    const c = await db.getCollection(name);
    const i = await c.info();
    if (o.json === true) {
      out.json({ name: i.name, dim: i.dim, metric: i.metric, index: i.index.kind, count: i.count, indexParams: i.index, encoder: i.encoder, indexDims: i.indexDims ?? null, seq: i.seq, created: i.created, fieldIndexes: i.fieldIndexes });
      return;
    }
    out.line(`name     ${i.name}`);
    out.line(`dim      ${i.dim}${i.indexDims !== undefined ? ` (index holds the first ${i.indexDims})` : ''}`);
    out.line(`metric   ${i.metric}`);
    out.line(`index    ${JSON.stringify(i.index)}`);
    out.line(`count    ${i.count}`);
    if (i.encoder !== null) out.line(`encoder  ${JSON.stringify(i.encoder)}`);
    if (i.fieldIndexes.length > 0) out.line(`fields   ${i.fieldIndexes.map((x) => `${x.field} (${x.type})`).join(', ')}`);
    out.line(`created  ${i.created}`);
  });
}

export async function cmdDrop(dir: string, name: string, out: Out): Promise<void> {
  await withDb(dir, false, async (db) => {
    await db.dropCollection(name);
    out.line(`dropped ${name}`);
  });
}

export interface ImportOpts extends Partial<CreateOpts> {
  format?: string; metadata?: string; upsert?: boolean; limit?: string; skip?: string; batch?: string; create?: boolean;
}

/** Records a batch commits (`--batch`): one transaction and its index update (docs/hardening.md §7). */
export const IMPORT_BATCH = 4096;

const n = (x: number): string => x.toLocaleString('en-US');

/**
 * `omnivec import`: the file's records in batches, each one `add` / `upsert` call (one
 * transaction, then its index update), so the index always matches what is committed. Into a new
 * name the collection is created with the first batch, in its transaction: a refused first batch
 * leaves nothing behind. Ctrl-C stops at the next batch boundary (`interrupted`, exit 130) and says
 * how to continue (`--skip`); an error after the first commit says what was committed.
 */
export async function cmdImport(dir: string, name: string, file: string, o: ImportOpts, out: Out, interrupt: InterruptOptions = {}): Promise<void> {
  const batchSize = intArg(o.batch, '--batch', { min: 1, max: 1_000_000 }) ?? IMPORT_BATCH;
  const skip = intArg(o.skip, '--skip', { min: 0 }) ?? 0;
  const limit = intArg(o.limit, '--limit');
  const dimOpt = intArg(o.dim, '--dim');
  const src = await openRecords(file, { format: o.format as ImportFormat | undefined, metadataPath: o.metadata, limit: limit === undefined ? undefined : skip + limit });
  await whileInterruptible('the current batch', (signal) => withDb(dir, false, async (db) => {
    let c: Collection | undefined = await db.hasCollection(name) ? await db.getCollection(name) : undefined;
    const created = c === undefined;
    const total = src.count === undefined ? undefined : Math.max(0, Math.min(src.count, skip + (limit ?? Infinity)) - skip);
    const bar = new Progress(`import ${name}:`);
    const it = src.records[Symbol.asyncIterator]();
    let committed = 0;
    let exhausted = false;
    // A batch read but not (yet) committed.
    let pending = false;
    const t0 = performance.now();
    // How to continue from the first record not committed.
    const rerun = (): string => `--skip ${skip + committed}${limit !== undefined ? ` --limit ${limit - committed}` : ''}`;
    try {
      for (let skipped = 0; skipped < skip && !signal.aborted; skipped++) {
        if ((await it.next()).done === true) { exhausted = true; break; }
      }
      while (!signal.aborted) {
        const batch: ImportRecord[] = [];
        pending = true;
        while (batch.length < batchSize) {
          const r = await it.next();
          if (r.done === true) { exhausted = true; break; }
          batch.push(r.value);
        }
        if (signal.aborted) break;
        const size = batch.length;
        // The batch's progress: stored, then indexed (an index rebuild counts all the records).
        const onProgress = (p: { phase: 'store' | 'index'; done: number; total?: number }): void => {
          const part = p.phase === 'store' ? 0 : p.total !== undefined && p.total > 0 ? p.done / p.total : 0;
          bar.update(committed + Math.floor(part * size), total);
        };
        if (c === undefined) {
          const dim = dimOpt ?? src.dim ?? batch[0]?.vector.length;
          if (dim === undefined) throw new OmnivecError('invalid_argument', `${file}: no records${skip > 0 ? ` after the ${n(skip)} skipped` : ''}, so no dimension to create "${name}" with; pass --dim or create it first`);
          c = await db.createCollection({
            name, dim, metric: o.metric as never, index: indexSpecFrom({ dim: '0', ...o }), indexDims: intArg(o.indexDims, '--index-dims'), shardBy: o.shardBy as never,
            records: batch, onProgress,
          });
          out.line(`created ${c.name} (${c.dim}-d, ${c.metric}, index ${c.indexSpec.kind})`);
        } else if (size > 0) {
          await (o.upsert === true ? c.upsert(batch, { onProgress }) : c.add(batch, { onProgress }));
        }
        committed += size;
        pending = false;
        bar.update(committed, total);
        if (exhausted) break;
      }
    } catch (e) {
      if (!(e instanceof OmnivecError)) throw e;
      // Where in the file the refused record is, and what the earlier batches committed.
      const at = /^(?:add|upsert)\[(\d+)\]/.exec(e.message);
      const where = at === null ? '' : `${file}: record ${n(skip + committed + Number(at[1]))} (from 0): `;
      const now = c === undefined ? 0 : await c.count();
      const done = committed === 0
        ? (created ? `; nothing was imported, and "${name}" was not created` : `; nothing of this batch was imported ("${name}" has ${n(now)} records)`)
        : `; ${n(committed)} records before it were committed to "${name}" (now ${n(now)}) — fix the file and rerun with ${rerun()} to continue`;
      throw new OmnivecError(e.code, `${where}${e.message}${done}`, e.details === undefined ? undefined : { ...e.details });
    } finally {
      bar.done();
      await it.return?.().catch(() => undefined);
    }
    if (signal.aborted) {
      const now = c === undefined ? 0 : await c.count();
      const what = committed === 0
        ? `nothing was committed${created ? `; "${name}" was not created` : ` to "${name}" (${n(now)} records)`}`
        : `${n(committed)} records committed to "${name}" (now ${n(now)})`;
      const rest = exhausted && !pending ? `; that is all of ${file}` : `; the rest of ${file} was not read — rerun with ${rerun()} to continue`;
      throw new OmnivecError('interrupted', what + rest, { committed, skip: skip + committed });
    }
    await c!.flush();
    out.line(`imported ${n(committed)} records from ${file} (${src.format}) into ${name} in ${((performance.now() - t0) / 1000).toFixed(2)} s; ${n(await c!.count())} records now`);
  }, o.threads), interrupt);
}

/** A stored vector that can be written out: `dim` finite numbers (docs/hardening.md §2). */
function exportable(v: Float32Array, dim: number): boolean {
  if (v.length !== dim) return false;
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

export async function cmdExport(dir: string, name: string, o: { format?: string; out?: string; metadata?: string }, out: Out): Promise<void> {
  const format = o.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'projector') throw new OmnivecError('invalid_argument', `--format: expected jsonl or projector, got ${JSON.stringify(format)}`);
  await withDb(dir, true, async (db) => {
    const c = await db.getCollection(name);
    // Rows an older version let in with a non-finite vector are skipped (JSON cannot hold them,
    // and a null would make a file that cannot be imported back), and named on stderr.
    const skipped: string[] = [];
    // JSON Lines carries sparse and multi-vectors too (a migration or backup loses nothing); the projector cannot.
    const all = format === 'jsonl';
    const records = async function* (onSkip?: (id: string) => void): AsyncGenerator<ImportRecord> {
      for await (const r of c.iterate({ sparse: all, multiVector: all })) {
        if (!exportable(r.vector, c.dim)) { onSkip?.(r.id); continue; }
        const rec: ImportRecord = { id: r.id, vector: r.vector };
        if (r.document !== null) rec.document = r.document;
        if (r.metadata !== null) rec.metadata = r.metadata;
        if (r.sparse != null) rec.sparse = r.sparse;
        if (r.multiVector != null) rec.multiVector = r.multiVector;
        yield rec;
      }
    };
    const warnSkipped = (): void => {
      if (skipped.length === 0) return;
      const shown = skipped.slice(0, 20).map((id) => JSON.stringify(id)).join(', ');
      process.stderr.write(`omnivec: warning: ${skipped.length} record${skipped.length === 1 ? '' : 's'} of "${name}" not exported: the stored vector holds a non-finite value: ${shown}${skipped.length > 20 ? `, … (${skipped.length - 20} more)` : ''}; delete them or upsert them with finite vectors (omnivec verify lists them)\n`);
    };
    if (format === 'jsonl') {
      const path = o.out ?? '-';
      const n = await writeJsonl(path, records((id) => skipped.push(id)));
      warnSkipped();
      if (o.out !== undefined) out.line(`exported ${n} records to ${o.out}`);
      return;
    }
    const base = o.out ?? `${name}-projector`;
    // Columns: every record's fields (a first pass over the collection), as project --projector writes them.
    const acc = new ProjectorColumns();
    for await (const r of records()) acc.add(r);
    const columns = acc.result();
    if (columns.skipped.length > 0) {
      process.stderr.write(`omnivec: warning: metadata field${columns.skipped.length === 1 ? '' : 's'} ${columns.skipped.map((k) => JSON.stringify(k)).join(', ')} not written: metadata.tsv keeps id, document and text for itself\n`);
    }
    mkdirSync(base, { recursive: true });
    const vectors = join(base, 'vectors.tsv');
    const metadata = join(base, 'metadata.tsv');
    const n = await writeProjector(vectors, metadata, records((id) => skipped.push(id)), { fields: columns.fields, document: columns.document });
    warnSkipped();
    out.line(`exported ${n} records to ${vectors} and ${metadata} (load both at https://projector.tensorflow.org)`);
  });
}

export interface QueryOpts {
  vector?: string; id?: string; text?: string; fullText?: string; vectors?: string; out?: string; where?: string; whereDocument?: string;
  k?: string; json?: boolean; efSearch?: string; nProbe?: string; rescore?: string; threads?: string;
}

function printHits(res: QueryResult, o: { json?: boolean }, out: Out): void {
  if (o.json === true) {
    out.json(res.ids.map((id, i) => ({ id, score: res.scores[i], distance: Number.isNaN(res.distances[i]!) ? null : res.distances[i], document: res.documents?.[i] ?? null, metadata: res.metadatas?.[i] ?? null })));
    return;
  }
  res.ids.forEach((id, i) => {
    const doc = res.documents?.[i];
    const meta = res.metadatas?.[i];
    out.line(`${id}\t${res.scores[i]!.toFixed(6)}${doc ? '\t' + doc.replace(/\s+/g, ' ').slice(0, 80) : ''}${meta ? '\t' + JSON.stringify(meta) : ''}`);
  });
}

export async function cmdQuery(dir: string, name: string, o: QueryOpts, out: Out): Promise<void> {
  const k = intArg(o.k, '-k', { min: 1, max: MAX_K }) ?? 10;
  const where = jsonArg<Where>('--where', o.where);
  const whereDocument = jsonArg<WhereDocument>('--where-document', o.whereDocument);
  const knobs = { efSearch: intArg(o.efSearch, '--ef-search'), nProbe: intArg(o.nProbe, '--n-probe'), rescore: intArg(o.rescore, '--rescore') };
  const dense = [o.vector, o.id, o.text].filter((x) => x !== undefined).length;
  if (dense > 1) throw new OmnivecError('invalid_argument', 'query: expected at most one of --vector, --id and --text (each makes the dense query); add --full-text for a BM25 query fused with it');
  if (dense === 0 && o.vectors === undefined && o.fullText === undefined) {
    throw new OmnivecError('invalid_argument', 'query: expected one of --vector, --id, --text, --full-text, or --vectors FILE --out FILE');
  }
  if (o.vectors !== undefined && (dense > 0 || o.fullText !== undefined)) throw new OmnivecError('invalid_argument', 'query: --vectors (a batch) cannot be combined with --vector, --id, --text or --full-text');
  if (o.vectors !== undefined && o.out === undefined) throw new OmnivecError('invalid_argument', 'query --vectors: expected --out R.ivecs for the neighbour ids');
  await withDb(dir, true, async (db) => {
    const c = await db.getCollection(name);
    if (o.vectors !== undefined) {
      const queries = await readFvecs(o.vectors);
      const t0 = performance.now();
      const res = await c.queryBatch(queries, k, { where, whereDocument, ...knobs });
      const secs = (performance.now() - t0) / 1000;
      const rows = new Int32Array(res.count * k).fill(-1);
      res.ids.forEach((ids, q) => ids.forEach((id, j) => {
        const n = Number(id);
        if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
          throw new OmnivecError('invalid_argument', `--out: .ivecs holds integer ids; record id ${JSON.stringify(id)} is not one (import .fvecs files to get row-number ids)`);
        }
        rows[q * k + j] = n;
      }));
      mkdirSync(dirname(o.out!), { recursive: true });
      await writeIvecs(o.out!, rows, k);
      out.line(`${res.count} queries, k = ${k}: ${(res.count / secs).toFixed(0)} queries/s; neighbours written to ${o.out} (-1 where fewer than k matched)`);
      return;
    }
    let res: QueryResult;
    if (o.id !== undefined) res = await c.queryById(o.id, { k, where, whereDocument, fullText: o.fullText, ...knobs });
    else res = await c.query({ vector: o.vector === undefined ? undefined : parseVector(o.vector), text: o.text, fullText: o.fullText, k, where, whereDocument, ...knobs });
    printHits(res, o, out);
  }, o.threads);
}

export async function cmdGet(dir: string, name: string, ids: string[], o: { where?: string; whereDocument?: string; limit?: string; offset?: string; json?: boolean; vectors?: boolean }, out: Out): Promise<void> {
  await withDb(dir, true, async (db) => {
    const c = await db.getCollection(name);
    const res = await c.get({
      ids: ids.length > 0 ? ids : undefined, where: jsonArg('--where', o.where), whereDocument: jsonArg('--where-document', o.whereDocument),
      limit: intArg(o.limit, '--limit'), offset: intArg(o.offset, '--offset', { min: 0 }), include: o.vectors === true ? ['documents', 'metadatas', 'vectors'] : ['documents', 'metadatas'],
    });
    if (ids.length > 0 && res.ids.length < ids.length) {
      const missing = ids.filter((id) => !res.ids.includes(id));
      if (res.ids.length === 0) throw new OmnivecError('not_found', `no record with id ${missing.map((x) => JSON.stringify(x)).join(', ')} in "${name}"`);
      process.stderr.write(`omnivec: not found: ${missing.join(', ')}\n`);
    }
    const rows = res.ids.map((id, i) => ({
      id, document: res.documents?.[i] ?? null, metadata: res.metadatas?.[i] ?? null,
      ...(res.vectors !== undefined ? { vector: Array.from(res.vectors[i]!) } : {}),
    }));
    if (o.json === true) out.json(rows);
    else for (const r of rows) out.line(JSON.stringify(r));
  });
}

export async function cmdDelete(dir: string, name: string, ids: string[], o: { where?: string; whereDocument?: string }, out: Out): Promise<void> {
  await withDb(dir, false, async (db) => {
    const c = await db.getCollection(name);
    const n = await c.delete({ ids: ids.length > 0 ? ids : undefined, where: jsonArg('--where', o.where), whereDocument: jsonArg('--where-document', o.whereDocument) });
    out.line(`deleted ${n} records from ${name}; ${await c.count()} left`);
  });
}

/** Opens for writing; a directory this user may not write (`read_only` on opening) is opened read-only instead. */
async function withDbWritableIfPossible<T>(dir: string, fn: (db: Database) => Promise<T>): Promise<T> {
  let db: Database;
  try {
    db = await openDatabase(dir, { create: false });
  } catch (e) {
    if (!(e instanceof OmnivecError && e.code === 'read_only')) throw e;
    db = await openDatabase(dir, { readOnly: true });
  }
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export async function cmdVerify(dir: string, name: string | undefined, o: { json?: boolean }, out: Out): Promise<boolean> {
  return withDbWritableIfPossible(dir, async (db) => {
    const reports = await db.verify(name);
    if (o.json === true) out.json(reports);
    else {
      for (const [n, r] of Object.entries(reports)) {
        out.line(`${n}: ${r.ok ? 'ok' : 'PROBLEMS'} (${r.checked.records} records, ${r.checked.indexed} indexed, ${r.checked.snapshots} snapshot${r.checked.snapshots === 1 ? '' : 's'})`);
        for (const p of r.problems) out.line(`  ${p}`);
      }
    }
    return Object.values(reports).every((r) => r.ok);
  });
}

export async function cmdCompact(dir: string, name: string | undefined, o: { dropInvalid?: boolean; threads?: string }, out: Out): Promise<void> {
  await withDb(dir, false, async (db) => {
    const t0 = performance.now();
    const reports = await db.compact(name, { dropInvalid: o.dropInvalid === true });
    out.line(`compacted ${name ?? 'all collections'} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    const ids = (xs: string[]): string => xs.slice(0, 20).map((x) => JSON.stringify(x)).join(', ') + (xs.length > 20 ? `, … (${xs.length - 20} more)` : '');
    for (const [n, r] of Object.entries(reports)) {
      if (r.dropped.length > 0) out.line(`${n}: deleted ${r.dropped.length} record${r.dropped.length === 1 ? '' : 's'} whose stored vector held a non-finite value: ${ids(r.dropped)}`);
      if (r.invalid.length > 0) {
        out.line(`${n}: ${r.invalid.length} record${r.invalid.length === 1 ? '' : 's'} left out of the index, the stored vector holding a non-finite value: ${ids(r.invalid)}; ` +
          'delete them, upsert them with finite vectors, or run compact --drop-invalid');
      }
    }
  }, o.threads);
}

export async function cmdEvaluate(dir: string, name: string, o: { sample?: string; k?: string; efSearch?: string; nProbe?: string; json?: boolean }, out: Out): Promise<void> {
  await withDb(dir, true, async (db) => {
    const c = await db.getCollection(name);
    const r = await c.evaluate({ sample: intArg(o.sample, '--sample'), k: intArg(o.k, '-k'), efSearch: intArg(o.efSearch, '--ef-search'), nProbe: intArg(o.nProbe, '--n-probe') });
    if (o.json === true) { out.json(r); return; }
    out.line(`${name}: ${r.indexKind} recall@${r.k} = ${r.recall.toFixed(4)} on ${r.sample} of its own vectors; ${r.indexQps.toFixed(0)} queries/s (exact search: ${r.exactQps.toFixed(0)} queries/s)`);
  });
}


export interface MigrateOpts {
  from?: string;
  to?: string;
  batch?: string;
}

/**
 * `omnivec migrate [names...] --to LOCATION [--from LOCATION]`: copies collections (all of the
 * source's when none is named) between databases — a directory and a postgres:// URL either way
 * (docs/postgres.md, "Migrating"). Every name is checked free at the destination before anything is
 * copied; each collection is all or nothing (a failed or interrupted one is dropped there again);
 * the source is opened read-only and never changed.
 */
export async function cmdMigrate(defaultFrom: string, names: string[], o: MigrateOpts, out: Out, interrupt: InterruptOptions = {}): Promise<void> {
  const fromLoc = o.from ?? defaultFrom;
  if (o.to === undefined) throw new OmnivecError('invalid_argument', '--to: say where to copy the collections (a directory or a postgres:// URL)');
  const batch = intArg(o.batch, '--batch', { min: 1, max: 1_000_000 }) ?? IMPORT_BATCH;
  const from = await openDatabase(fromLoc, { readOnly: true });
  try {
    const to = await openDatabase(o.to);
    try {
      if (from.dir === to.dir) throw new OmnivecError('invalid_argument', `--to: the destination is the source (${from.dir})`);
      const wanted = names.length > 0 ? names : (await from.listCollections()).map((c) => c.name);
      if (wanted.length === 0) { out.line(`no collections in ${from.dir}: nothing to migrate`); return; }
      for (const name of wanted) await from.getCollection(name);
      const taken: string[] = [];
      for (const name of wanted) if (await to.hasCollection(name)) taken.push(name);
      if (taken.length > 0) {
        throw new OmnivecError('already_exists', `${to.dir} already has ${taken.map((t) => JSON.stringify(t)).join(', ')}; drop ${taken.length === 1 ? 'it' : 'them'} there first or name the others (nothing was copied)`);
      }
      const done: string[] = [];
      await whileInterruptible('the current batch', async (signal) => {
        for (const name of wanted) {
          const bar = new Progress(`migrate ${name}:`);
          const t0 = performance.now();
          try {
            const rep = await migrateCollection(from, to, name, { batch, signal, onProgress: (d, total) => bar.update(d, total) });
            bar.done();
            done.push(name);
            out.line(`migrated ${name}: ${n(rep.records)} records from ${from.dir} to ${to.dir} in ${((performance.now() - t0) / 1000).toFixed(2)} s${rep.models.length > 0 ? `; copied the stored model ${rep.models.join(', ')}` : ''}`);
          } catch (e) {
            bar.done();
            if (e instanceof OmnivecError && done.length > 0) {
              throw new OmnivecError(e.code, `${e.message}; already migrated: ${done.join(', ')}`);
            }
            throw e;
          }
        }
      }, interrupt);
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}
