/**
 * Moving a collection from one database to another — the embedded store to PostgreSQL and back
 * (docs/postgres.md, "Migrating"). The destination gets the same definition (dimension, metric,
 * index spec, Matryoshka index dimensions, bound encoder, tokenizer) and every record in storage
 * order with its vector, document, metadata, sparse vector and multi-vector, a batch per
 * transaction; a stored model the bound encoder names (`models/<name>/` of the source's files
 * folder) is copied beside the destination so text queries keep working. The source is only read.
 *
 * All or nothing per collection: the destination must not have the name, and if anything fails (or
 * the caller's signal aborts) before the last batch commits, the partial copy is dropped again.
 */
import { cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { OmnivecError, describe } from '../errors.js';
import { checkInt } from '../checks.js';
import { storedModelDir } from '../encoders/stored-models.js';
import type { Collection } from './collection.js';
import type { Database } from './database.js';
import type { RecordInput } from './records.js';

export interface MigrateOptions {
  /** Records a transaction. Default 4096. */
  batch?: number;
  /** After each committed batch: records copied of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting stops before the next batch; the partial copy is dropped (`interrupted`). */
  signal?: AbortSignal;
}

export interface MigrateReport {
  name: string;
  records: number;
  /** Stored model folders copied into the destination's files folder. */
  models: string[];
}

/** Copies collection `name` of `from` into `to` (which must not have it); see the module comment. */
export async function migrateCollection(from: Database, to: Database, name: string, options: MigrateOptions = {}): Promise<MigrateReport> {
  if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `migrate: expected options { batch?, onProgress?, signal? }, got ${describe(options)}`);
  const batchSize = options.batch === undefined ? 4096 : checkInt(options.batch, 'migrate.batch', { min: 1, max: 1_000_000 });
  if (to.readOnly) throw new OmnivecError('read_only', `migrate: the destination ${to.dir} is open read-only`);
  const src = await from.getCollection(name);
  if (await to.hasCollection(name)) {
    throw new OmnivecError('already_exists', `migrate: ${to.dir} already has a collection "${name}"; drop it there first (nothing was copied)`);
  }
  const total = await src.count();
  const models = await copyStoredModel(from, to, src);

  let dst: Collection | undefined;
  let done = 0;
  try {
    let batch: RecordInput[] = [];
    const flushBatch = async (): Promise<void> => {
      if (options.signal?.aborted === true) throw interrupted(name, to, done, total);
      if (dst === undefined) dst = await create(to, src, batch);
      else if (batch.length > 0) await dst.add(batch);
      done += batch.length;
      batch = [];
      options.onProgress?.(done, total);
    };
    for await (const r of src.iterate({ sparse: true, multiVector: true })) {
      const rec: RecordInput = { id: r.id, vector: r.vector };
      if (r.document !== null) rec.document = r.document;
      if (r.metadata !== null) rec.metadata = r.metadata;
      if (r.sparse != null) rec.sparse = r.sparse;
      if (r.multiVector != null) rec.multiVector = r.multiVector;
      batch.push(rec);
      if (batch.length >= batchSize) await flushBatch();
    }
    if (batch.length > 0 || dst === undefined) await flushBatch();
    await dst!.flush();
  } catch (e) {
    if (dst !== undefined) {
      try {
        await to.dropCollection(name);
      } catch (dropError) {
        throw new OmnivecError('internal', `migrate "${name}": ${(e as Error).message}; and the partial copy (${done} records) could not be dropped from ${to.dir}: ${(dropError as Error).message}`);
      }
    }
    if (e instanceof OmnivecError) {
      throw new OmnivecError(e.code, `migrate "${name}": ${e.message}${dst !== undefined && e.code !== 'interrupted' ? ` (the partial copy was dropped from ${to.dir}; the source is unchanged)` : ''}`);
    }
    throw e;
  }
  return { name, records: done, models };
}

function interrupted(name: string, to: Database, done: number, total: number): OmnivecError {
  return new OmnivecError('interrupted', `migrate "${name}": interrupted after ${done} of ${total} records; the partial copy was dropped from ${to.dir} and the source is unchanged`);
}

/** The destination collection with the source's definition, created with the first batch (one transaction). */
function create(to: Database, src: Collection, records: RecordInput[]): Promise<Collection> {
  return to.createCollection({
    name: src.name, dim: src.dim, metric: src.metric, index: src.indexSpec,
    ...(src.encoder !== null ? { encoder: src.encoder } : {}),
    ...(src.indexDim !== src.dim ? { indexDims: src.indexDim } : {}),
    tokenize: src.tokenize,
    ...(src.shardBy !== undefined ? { shardBy: src.shardBy } : {}),
    records,
  });
}

/** The bound encoder's stored model folder, copied beside the destination unless one of that name is there. */
async function copyStoredModel(from: Database, to: Database, src: Collection): Promise<string[]> {
  if (src.encoder === null) return [];
  const source = storedModelDir(from.filesDir, src.encoder.model);
  const target = storedModelDir(to.filesDir, src.encoder.model);
  if (!existsSync(source) || resolve(source) === resolve(target) || existsSync(target)) return [];
  await cp(source, target, { recursive: true, errorOnExist: true, force: false });
  return [target];
}
