/**
 * One collection's records in PostgreSQL (the contract is ../types.ts; the mapping is
 * docs/postgres.md): the records table `omnivec.c<cid>_r`, tombstones `omnivec.c<cid>_t`, pgvector's
 * index for `nearest`, `where` compiled by where-pg.ts, BM25 by the full-text provider. Writes run in
 * one transaction on one pooled connection, holding the collection's catalogue row lock (`FOR
 * UPDATE`): concurrent writers of a collection are serialised and get consecutive change numbers.
 */
import { OmnivecError } from '../../../errors.js';
import type { Metric } from '../../../vector/metric.js';
import type { Metadata } from '../../where.js';
import { duplicateId } from '../../records.js';
import { ivfTrainAt } from '../../index-spec.js';
import type { CollectionMeta, CollectionOptions, WriteMode } from '../../types.js';
import type { CollectionRecords, Fields, NearestOptions, RecordFilter, RecordWriter, RowsToWrite, StoredRecord, VectorChunk } from '../types.js';
import type { Pool, PoolClient } from './pg.js';
import { SCHEMA, indexedExpression, opsOf, pgTables, transaction, vectorIndexSql, type IndexedExpression } from './schema.js';
import { compileFilterPg } from './where-pg.js';
import { checkFieldIndexesPg, createFieldIndexPg, dropFieldIndexPg, listFieldIndexesPg } from './field-index-pg.js';
import { fieldIndexMap, type FieldIndexInfo, type FieldIndexMap, type FieldIndexType } from '../../field-index.js';

/** BM25 over the documents: the tables' DDL and the search (store/postgres/fulltext.ts). */
export interface FullTextProvider {
  /** Statements run once per database (the text-search configuration). */
  setupSql: readonly string[];
  /** Statements that add the full-text columns, trigger and index to a new records table. */
  ddl(table: string, cid: number): readonly string[];
  search(client: Pool | PoolClient, table: string, text: string, limit: number, filter: { sql: string; params: unknown[] }): Promise<{ slots: Uint32Array; scores: Float32Array }>;
}

/** What a pooled connection has been set to (session settings are per connection). */
interface Settings { efSearch?: number; probes?: number }
const SETTINGS = new WeakMap<PoolClient, Settings>();

/** `[x,y,…]`: pgvector's text form; float32 values written as the doubles they are, read back exactly. */
export function vectorText(v: ArrayLike<number>): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + v[i]!;
  return s + ']';
}

function parseVector(text: string): Float32Array {
  return Float32Array.from(JSON.parse(text) as number[]);
}

function bytesOf(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function f32(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

/** A `\u0000` escape in JSON text: preceded by an even number of backslashes (`\\u0000` is a backslash and "u0000"). */
const JSON_NUL = /(?<!\\)(?:\\\\)*\\u0000/;

/** PostgreSQL text cannot hold NUL (U+0000): refused with the record's place, before anything is sent. */
function noNul(s: string | null | undefined, what: string, json = false): void {
  if (s !== null && s !== undefined && (s.includes('\u0000') || (json && JSON_NUL.test(s)))) {
    throw new OmnivecError('invalid_argument', `${what}: PostgreSQL cannot store NUL (U+0000) in text; remove it (the embedded store takes it)`);
  }
}

interface Row { slot: number; id: string; document?: string | null; metadata?: Metadata | null; vector?: string; sparse?: string | null; multivector?: Buffer | null }

/** A write of at least this many rows into an empty table takes the bulk path (index built after the load). */
const BULK_ROWS = 1000;
/** A transaction that wrote at least this many rows runs ANALYZE on the table after its commit. */
const ANALYZE_ROWS = 1000;

export class PostgresRecords implements CollectionRecords {
  readonly #pool: Pool;
  readonly #meta: CollectionMeta;
  readonly #t: ReturnType<typeof pgTables>;
  readonly #fts: FullTextProvider;
  readonly #ie: IndexedExpression | undefined;
  readonly #defaultEf: number;

  /** On a Citus coordinator: pgvector's knobs go to the shards as SET LOCAL in a transaction. */
  readonly #citus: boolean;

  constructor(pool: Pool, meta: CollectionMeta, fts: FullTextProvider, citus = false) {
    this.#citus = citus;
    this.#pool = pool;
    this.#meta = meta;
    this.#t = pgTables(meta.cid);
    this.#fts = fts;
    this.#ie = indexedExpression(meta.dim, meta.options.indexDims);
    this.#defaultEf = typeof meta.indexSpec.efSearch === 'number' ? meta.indexSpec.efSearch : 64;
  }

  #filter(filter: RecordFilter, first: number, metadata = 'metadata', document = 'document'): { sql: string; params: unknown[] } {
    return compileFilterPg(filter.where, filter.whereDocument, { metadata, document }, first, this.#declared);
  }

  // Payload indexes (field-index-pg.ts). The declarations this handle knows: a stale list only
  // changes which prefilters a filter carries, never its answer (the exact CASE decides).
  #declared: FieldIndexMap = new Map();

  async #loadDeclared(): Promise<void> {
    this.#declared = fieldIndexMap(await listFieldIndexesPg(this.#pool, this.#meta.cid));
  }

  async fieldIndexes(): Promise<FieldIndexInfo[]> {
    const list = await listFieldIndexesPg(this.#pool, this.#meta.cid);
    this.#declared = fieldIndexMap(list);
    return list;
  }

  async createFieldIndex(field: string, type: FieldIndexType): Promise<boolean> {
    const made = await createFieldIndexPg(this.#pool, this.#meta.cid, field, type);
    await this.#loadDeclared();
    return made;
  }

  async dropFieldIndex(field: string): Promise<boolean> {
    const gone = await dropFieldIndexPg(this.#pool, this.#meta.cid, field);
    await this.#loadDeclared();
    return gone;
  }

  #columns(fields: Fields): string {
    return `slot, id${fields.document === true ? ', document' : ''}${fields.metadata === true ? ', metadata' : ''}${fields.vector === true ? ', vector::text AS vector' : ''}`
      + `${fields.sparse === true ? ', sparse::text AS sparse' : ''}${fields.multiVector === true ? ', multivector' : ''}`;
  }

  #record(row: Row): StoredRecord {
    const out: StoredRecord = { slot: Number(row.slot), id: row.id };
    if (row.document !== undefined) out.document = row.document;
    if (row.metadata !== undefined) out.metadata = row.metadata;
    if (row.vector !== undefined) out.vector = parseVector(row.vector);
    if (row.sparse !== undefined) out.sparse = row.sparse === null ? null : JSON.stringify(JSON.parse(row.sparse));
    if (row.multivector !== undefined) out.multiVector = row.multivector === null ? null : f32(row.multivector);
    return out;
  }

  async #rows(sql: string, params: unknown[]): Promise<StoredRecord[]> {
    return ((await this.#pool.query(sql, params)).rows as Row[]).map((r) => this.#record(r));
  }

  async count(): Promise<number> {
    return Number((await this.#pool.query(`SELECT count(*) AS n FROM ${this.#t.records}`)).rows[0].n);
  }

  async getByIds(ids: readonly string[], filter: RecordFilter, fields: Fields): Promise<StoredRecord[]> {
    if (ids.length === 0) return [];
    const f = this.#filter(filter, 2);
    const rows = await this.#rows(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE id = ANY($1::text[]) AND (${f.sql})`, [ids, ...f.params]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out: StoredRecord[] = [];
    for (const id of ids) { const r = byId.get(id); if (r !== undefined) out.push(r); }
    return out;
  }

  async getPage(filter: RecordFilter, page: { limit: number; offset: number }, fields: Fields): Promise<StoredRecord[]> {
    const f = this.#filter(filter, 3);
    return this.#rows(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE ${f.sql} ORDER BY slot LIMIT $1 OFFSET $2`,
      [page.limit < 0 ? null : page.limit, page.offset, ...f.params]);
  }

  async listIds(page: { limit: number; offset: number }): Promise<string[]> {
    const res = await this.#pool.query(`SELECT id FROM ${this.#t.records} ORDER BY slot LIMIT $1 OFFSET $2`, [page.limit < 0 ? null : page.limit, page.offset]);
    return (res.rows as { id: string }[]).map((r) => r.id);
  }

  async scan(after: number, limit: number, fields: Fields): Promise<StoredRecord[]> {
    return this.#rows(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE slot > $1 ORDER BY slot LIMIT $2`, [after, limit]);
  }

  async matchingSlots(filter: RecordFilter): Promise<number[]> {
    if (filter.where !== undefined) await this.#loadDeclared();
    const f = this.#filter(filter, 1);
    return ((await this.#pool.query(`SELECT slot FROM ${this.#t.records} WHERE ${f.sql}`, f.params)).rows as { slot: number }[]).map((r) => Number(r.slot));
  }

  async bySlots(slots: ArrayLike<number>, fields: Fields): Promise<StoredRecord[]> {
    if (slots.length === 0) return [];
    return this.#rows(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE slot = ANY($1::bigint[])`, [Array.from(slots)]);
  }

  async vectorOfId(id: string): Promise<Float32Array | undefined> {
    const row = (await this.#pool.query(`SELECT vector::text AS vector FROM ${this.#t.records} WHERE id = $1`, [id])).rows[0] as { vector: string } | undefined;
    return row === undefined ? undefined : parseVector(row.vector);
  }

  async multiVectors(slots: ArrayLike<number>): Promise<Map<number, Float32Array>> {
    const out = new Map<number, Float32Array>();
    if (slots.length === 0) return out;
    const res = await this.#pool.query(`SELECT slot, multivector FROM ${this.#t.records} WHERE slot = ANY($1::bigint[]) AND multivector IS NOT NULL`, [Array.from(slots)]);
    for (const r of res.rows as { slot: number; multivector: Buffer }[]) out.set(Number(r.slot), f32(r.multivector));
    return out;
  }

  async fullText(text: string, limit: number, filter: RecordFilter): Promise<{ slots: Uint32Array; scores: Float32Array }> {
    return this.#fts.search(this.#pool, this.#t.records, text, limit, this.#filter(filter, 1, 'r.metadata', 'r.document'));
  }

  async sparseRows(since: number | undefined): Promise<[number, string | null][]> {
    const res = since === undefined
      ? await this.#pool.query(`SELECT slot, sparse::text AS sparse FROM ${this.#t.records} WHERE sparse IS NOT NULL ORDER BY slot`)
      : await this.#pool.query(`SELECT slot, sparse::text AS sparse FROM ${this.#t.records} WHERE vseq > $1 ORDER BY slot`, [since]);
    return (res.rows as { slot: number; sparse: string | null }[]).map((r) => [Number(r.slot), r.sparse === null ? null : JSON.stringify(JSON.parse(r.sparse))]);
  }

  async deletedSince(seq: number): Promise<number[]> {
    return ((await this.#pool.query(`SELECT slot FROM ${this.#t.tombs} WHERE seq > $1`, [seq])).rows as { slot: number }[]).map((r) => Number(r.slot));
  }

  async changedSince(seq: number): Promise<number[]> {
    return ((await this.#pool.query(`SELECT slot FROM ${this.#t.records} WHERE vseq > $1`, [seq])).rows as { slot: number }[]).map((r) => Number(r.slot));
  }

  async *vectors(since: number | undefined, chunk: number): AsyncGenerator<VectorChunk> {
    const dim = this.#meta.dim;
    let after = -1;
    for (;;) {
      const res = since === undefined
        ? await this.#pool.query(`SELECT slot, vector::text AS vector FROM ${this.#t.records} WHERE slot > $1 ORDER BY slot LIMIT $2`, [after, chunk])
        : await this.#pool.query(`SELECT slot, vector::text AS vector FROM ${this.#t.records} WHERE vseq > $1 AND slot > $2 ORDER BY slot LIMIT $3`, [since, after, chunk]);
      const rows = res.rows as { slot: number; vector: string }[];
      if (rows.length === 0) return;
      const slots = new Uint32Array(rows.length);
      const data = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => { slots[i] = Number(r.slot); data.set(parseVector(r.vector), i * dim); });
      yield { slots, data, count: rows.length };
      after = Number(rows[rows.length - 1]!.slot);
      if (rows.length < chunk) return;
    }
  }

  async sampleVectors(limit: number): Promise<VectorChunk> {
    const count = await this.count();
    const step = Math.max(1, Math.ceil(count / limit));
    const rows = (await this.#pool.query(`SELECT slot, vector::text AS vector FROM ${this.#t.records} WHERE slot % $1 = 0 ORDER BY slot LIMIT $2`, [step, limit])).rows as { slot: number; vector: string }[];
    const dim = this.#meta.dim;
    const data = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => data.set(parseVector(r.vector), i * dim));
    return { slots: Uint32Array.from(rows, (r) => Number(r.slot)), data, count: rows.length };
  }

  async pruneTombstones(seq: number): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await transaction(client, async () => {
        await client.query(`DELETE FROM ${this.#t.tombs} WHERE seq <= $1`, [seq]);
        await client.query(`UPDATE ${SCHEMA}.collections SET tomb_floor = greatest(tomb_floor, $1) WHERE cid = $2`, [seq, this.#meta.cid]);
      });
    } finally {
      client.release();
    }
  }

  async check(): Promise<string[]> {
    const problems: string[] = [];
    const res = await this.#pool.query(`SELECT i.indisvalid AS valid, i.indisready AS ready FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, [`${SCHEMA}.c${this.#meta.cid}_vec`]);
    const row = res.rows[0] as { valid: boolean; ready: boolean } | undefined;
    if (row !== undefined && (!row.valid || !row.ready)) problems.push(`the vector index ${SCHEMA}.c${this.#meta.cid}_vec is not valid (an interrupted CREATE INDEX CONCURRENTLY?); run omnivec compact`);
    if (row === undefined && this.#meta.indexSpec.kind === 'ivf') {
      const n = await this.count();
      const at = ivfTrainAt(this.#meta.indexSpec);
      if (n >= at) problems.push(`the IVF index is not built although the collection holds ${n} records (it is built at ${at}, after a write); queries scan exactly until a write builds it`);
    }
    problems.push(...await checkFieldIndexesPg(this.#pool, this.#meta.cid));
    return problems;
  }

  // -------------------------------------------------------------------------------------------
  // Search

  /** pgvector's knobs as statements (`SET` or `SET LOCAL`): iterative scans in relaxed order, ef_search, probes. */
  #knobs(efSearch: number, probes: number | undefined, set: 'SET' | 'SET LOCAL'): string {
    const s = [`${set} hnsw.iterative_scan = relaxed_order`, `${set} ivfflat.iterative_scan = relaxed_order`,
      `${set} hnsw.ef_search = ${Math.min(1000, Math.max(1, Math.floor(efSearch)))}`];
    if (probes !== undefined) s.push(`${set} ivfflat.probes = ${Math.max(1, Math.floor(probes))}`);
    return s.join('; ');
  }

  /** Sets pgvector's per-connection knobs when they differ from what this connection has. */
  async #settle(client: PoolClient, efSearch: number, probes: number | undefined): Promise<void> {
    let s = SETTINGS.get(client);
    if (s === undefined) {
      // Filtered queries keep scanning the index until k rows pass the filter (pgvector ≥ 0.8);
      // relaxed order lets it go past ef, and the rows are re-sorted by exact distance here.
      await client.query(`SET hnsw.iterative_scan = relaxed_order`);
      await client.query(`SET ivfflat.iterative_scan = relaxed_order`);
      s = {};
      SETTINGS.set(client, s);
    }
    if (s.efSearch !== efSearch) { await client.query(`SET hnsw.ef_search = ${Math.min(1000, Math.max(1, Math.floor(efSearch)))}`); s.efSearch = efSearch; }
    if (probes !== undefined && s.probes !== probes) { await client.query(`SET ivfflat.probes = ${Math.max(1, Math.floor(probes))}`); s.probes = probes; }
  }

  /**
   * The k nearest records among those matching `filter`. With an index: the `kk` best by the
   * index's order (a pgvector index scan, iterative under a filter), re-ranked by the exact
   * distance in the same statement; when the index returns fewer than k under a filter (it stops
   * after its scan budget), the exact scan of the matching records answers instead. Without an
   * index (`flat`, `exact`, or more dimensions than pgvector indexes): the exact scan.
   */
  async nearest(query: Float32Array, k: number, filter: RecordFilter, options: NearestOptions): Promise<{ slots: Uint32Array; distances: Float32Array }> {
    const ie = this.#ie;
    const useIndex = options.exact !== true && ie !== undefined && this.#meta.indexSpec.kind !== 'flat';
    if (!useIndex) return this.#exact(query, k, filter);
    const params: unknown[] = [vectorText(query), k];
    const { op } = opsOf(this.#meta.metric, ie.type);
    const full = `$1::vector(${this.#meta.dim})`;
    const qIndex = ie.dims === this.#meta.dim && ie.type === 'vector' ? full : `(subvector(${full}, 1, ${ie.dims}))::${ie.cast}`;
    // Candidates by the index's order (a prefix, or halfvec precision, is re-ranked exactly here).
    params.push(ie.approximate || options.funnel !== undefined ? Math.max(100, (options.funnel ?? 10) * k) : k);
    const f = this.#filter(filter, params.length + 1);
    const sql = `SELECT slot, d FROM (SELECT slot, ${this.#distanceSql(full)} AS d FROM ${this.#t.records} WHERE ${f.sql}
      ORDER BY ${ie.expr} ${op} ${qIndex} LIMIT $3) c ORDER BY d, slot LIMIT $2`;
    const client = await this.#pool.connect();
    let found: { slots: Uint32Array; distances: Float32Array };
    try {
      const ef = options.efSearch ?? this.#defaultEf;
      if (this.#citus) {
        // Session settings stay on the coordinator; SET LOCAL (with propagation) reaches every shard's connection.
        await client.query(`BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; ${this.#knobs(ef, options.nProbe, 'SET LOCAL')}`);
        try {
          found = this.#pairs(await client.query(sql, [...params, ...f.params]));
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      } else {
        await this.#settle(client, ef, options.nProbe);
        found = this.#pairs(await client.query(sql, [...params, ...f.params]));
      }
    } finally {
      client.release();
    }
    if (found.slots.length < k && (filter.where !== undefined || filter.whereDocument !== undefined)) return this.#exact(query, k, filter);
    return found;
  }

  /**
   * The exact k nearest among the records matching `filter`: ordered by the distance plus 0, an
   * expression no vector index orders by, so the planner scans (and Citus pushes ORDER BY and
   * LIMIT to each shard, merging k per shard).
   */
  async #exact(query: Float32Array, k: number, filter: RecordFilter): Promise<{ slots: Uint32Array; distances: Float32Array }> {
    const f = this.#filter(filter, 3);
    const d = this.#distanceSql(`$1::vector(${this.#meta.dim})`);
    return this.#pairs(await this.#pool.query(
      `SELECT slot, (${d}) + 0 AS d FROM ${this.#t.records} WHERE ${f.sql} ORDER BY 2, 1 LIMIT $2`,
      [vectorText(query), k, ...f.params]));
  }

  /** The exact distance, in omnivec's conventions, of column `vector` to the query `q` (SQL). */
  #distanceSql(q: string): string {
    return distanceSql(this.#meta.metric, `vector ${opsOf(this.#meta.metric, 'vector').op} ${q}`);
  }

  #pairs(res: { rows: unknown[] }): { slots: Uint32Array; distances: Float32Array } {
    const rows = res.rows as { slot: number; d: number }[];
    return { slots: Uint32Array.from(rows, (r) => Number(r.slot)), distances: Float32Array.from(rows, (r) => Number(r.d)) };
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  async write<T>(fn: (w: RecordWriter) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      let writer: Awaited<ReturnType<PostgresRecords['writer']>> | undefined;
      const out = await transaction(client, async () => {
        writer = await this.writer(client);
        const o = await fn(writer);
        await writer.commitHead();
        return o;
      });
      await writer!.afterCommit();
      return out;
    } finally {
      client.release();
    }
  }

  /**
   * @internal The writes of one transaction on `client` (`write`, and createCollection's fill): the
   * collection's catalogue row is locked (`FOR UPDATE`) and its next change number taken.
   */
  async writer(client: PoolClient): Promise<RecordWriter & { commitHead(): Promise<void>; afterCommit(): Promise<void> }> {
    const meta = this.#meta;
    const t = this.#t;
    const row = (await client.query(`SELECT seq FROM ${SCHEMA}.collections WHERE cid = $1 FOR UPDATE`, [meta.cid])).rows[0] as { seq: number } | undefined;
    if (row === undefined) throw new OmnivecError('not_found', `collection "${meta.name}": it was dropped`);
    const seq = Number(row.seq) + 1;
    let touched = false;
    let options: CollectionOptions | undefined;
    // The bulk path: a large write into an empty table loads it without the HNSW index and builds
    // the index once at the end of the transaction (pgvector builds 10k × 32 in 5.7 s, inserts into
    // a built index in 13.6 s). The dropped index holds the table's lock until commit; the table was empty.
    let rebuild: string | undefined;
    let bulkChecked = false;
    let rowsWritten = 0;
    const bulkStart = async (rows: number): Promise<void> => {
      if (bulkChecked || rows < BULK_ROWS) return;
      bulkChecked = true;
      const kind = meta.indexSpec.kind;
      if (kind === 'flat' || kind === 'ivf') return;
      const q = (await client.query(`SELECT to_regclass($1) IS NOT NULL AS indexed, NOT EXISTS (SELECT 1 FROM ${t.records}) AS empty`, [`${SCHEMA}.c${meta.cid}_vec`])).rows[0] as { indexed: boolean; empty: boolean };
      if (!q.indexed || !q.empty) return;
      rebuild = vectorIndexSql(meta.cid, meta.dim, meta.metric, meta.indexSpec, meta.options.indexDims, 'hnsw');
      if (rebuild !== undefined) await client.query(`DROP INDEX ${SCHEMA}.c${meta.cid}_vec`);
    };
    const tomb = async (slots: number[]): Promise<void> => {
      if (slots.length > 0) await client.query(`INSERT INTO ${t.tombs}(slot, seq) SELECT unnest($1::bigint[]), $2`, [slots, seq]);
    };
    return {
      seq,
      commitHead: async (): Promise<void> => {
        if (options !== undefined) await client.query(`UPDATE ${SCHEMA}.collections SET options = $1 WHERE cid = $2`, [JSON.stringify(options), meta.cid]);
        if (rebuild !== undefined) await client.query(rebuild);
        if (!touched) return;
        await client.query(`UPDATE ${SCHEMA}.collections SET seq = $1 WHERE cid = $2`, [seq, meta.cid]);
      },
      // After the commit, on `client` outside any transaction; best effort (the write is durable
      // already, and the next write tries again): fresh planner statistics after a large write —
      // the planner otherwise misjudges a filter's selectivity on a freshly loaded table and scans
      // the HNSW index for a filter that the metadata index answers at once — and the IVF index
      // once there is enough to train it.
      afterCommit: async (): Promise<void> => {
        try {
          if (rowsWritten >= ANALYZE_ROWS) await client.query(`ANALYZE ${t.records}`);
          await this.#maybeBuildIvf(client);
        } catch {
          // retried after the next write
        }
      },
      writeRows: async (mode: WriteMode, chunk: RowsToWrite): Promise<Uint32Array> => {
        const { rows, sparse, first } = chunk;
        if (rows.length === 0) return new Uint32Array(0);
        touched = true;
        rowsWritten += rows.length;
        if (mode !== 'update') await bulkStart(rows.length);
        rows.forEach((r, i) => {
          noNul(r.document, `${mode}[${first + i}].document`);
          noNul(r.metadata, `${mode}[${first + i}].metadata`, true);
          noNul(sparse[i], `${mode}[${first + i}].sparse`, true);
        });
        const ids = rows.map((r) => r.id);
        const vectors = rows.map((r) => (r.vector === undefined ? null : vectorText(f32(r.vector))));
        const docs = rows.map((r) => r.document ?? null);
        const metas = rows.map((r) => r.metadata ?? null);
        const sparses = sparse.map((x) => x ?? null);
        const mvs = rows.map((r) => (r.multiVector ? bytesOf(r.multiVector.data) : null));
        const slotOf = new Map<string, number>();
        const returned = (res: { rows: unknown[] }): void => { for (const x of res.rows as { slot: number; id: string }[]) slotOf.set(x.id, Number(x.slot)); };
        const unnest = `unnest($1::text[], $2::vector(${meta.dim})[], $3::text[], $4::jsonb[], $5::jsonb[], $6::bytea[])`;
        if (mode === 'add') {
          try {
            await client.query('SAVEPOINT omnivec_add');
            returned(await client.query(`INSERT INTO ${t.records}(id, vector, document, metadata, sparse, multivector, vseq)
              SELECT u.*, $7 FROM ${unnest} AS u RETURNING slot, id`, [ids, vectors, docs, metas, sparses, mvs, seq]));
            await client.query('RELEASE SAVEPOINT omnivec_add');
          } catch (e) {
            if ((e as { code?: string }).code !== '23505') throw e;
            await client.query('ROLLBACK TO SAVEPOINT omnivec_add');
            // Which id: one stored before this call, or written earlier in this same call.
            const clash = (await client.query(`SELECT id, vseq FROM ${t.records} WHERE id = ANY($1::text[]) ORDER BY slot LIMIT 1`, [ids])).rows[0] as { id: string; vseq: number } | undefined;
            const at = clash === undefined ? 0 : ids.indexOf(clash.id);
            if (clash !== undefined && Number(clash.vseq) === seq) throw duplicateId(mode, clash.id, undefined, first + at);
            throw new OmnivecError('already_exists', `add[${first + at}].id: a record with id ${JSON.stringify(clash?.id ?? ids[0])} already exists in "${meta.name}"; use upsert to replace it`, { id: clash?.id ?? ids[0] });
          }
        } else if (mode === 'upsert') {
          returned(await client.query(`INSERT INTO ${t.records}(id, vector, document, metadata, sparse, multivector, vseq)
            SELECT u.*, $7 FROM ${unnest} AS u
            ON CONFLICT (id) DO UPDATE SET vector = excluded.vector, document = excluded.document, metadata = excluded.metadata,
              sparse = excluded.sparse, multivector = excluded.multivector, vseq = excluded.vseq
            RETURNING slot, id`, [ids, vectors, docs, metas, sparses, mvs, seq]));
        } else {
          const has = (x: unknown): boolean => x !== undefined;
          returned(await client.query(`UPDATE ${t.records} r SET
              vector = CASE WHEN u.hv THEN u.vector ELSE r.vector END,
              document = CASE WHEN u.hd THEN u.document ELSE r.document END,
              metadata = CASE WHEN u.hm THEN u.metadata ELSE r.metadata END,
              sparse = CASE WHEN u.hs THEN u.sparse ELSE r.sparse END,
              multivector = CASE WHEN u.hmv THEN u.multivector ELSE r.multivector END,
              vseq = CASE WHEN u.hv OR u.hs OR u.hmv THEN $12 ELSE r.vseq END
            FROM unnest($1::text[], $2::vector(${meta.dim})[], $3::text[], $4::jsonb[], $5::jsonb[], $6::bytea[], $7::bool[], $8::bool[], $9::bool[], $10::bool[], $11::bool[])
              AS u(id, vector, document, metadata, sparse, multivector, hv, hd, hm, hs, hmv)
            WHERE r.id = u.id RETURNING r.slot, r.id`,
          [ids, vectors, docs, metas, sparses, mvs, rows.map((r) => has(r.vector)), rows.map((r) => has(r.document)), rows.map((r) => has(r.metadata)),
            sparse.map(has), rows.map((r) => has(r.multiVector)), seq]));
          const missing = ids.findIndex((id) => !slotOf.has(id));
          if (missing >= 0) throw new OmnivecError('not_found', `update[${first + missing}].id: no record with id ${JSON.stringify(ids[missing])} in "${meta.name}"`, { id: ids[missing] });
        }
        return Uint32Array.from(ids, (id) => slotOf.get(id)!);
      },
      deleteIds: async (ids: readonly string[], filter: RecordFilter): Promise<number[]> => {
        if (ids.length === 0) return [];
        const f = this.#filter(filter, 2);
        const gone = ((await client.query(`DELETE FROM ${t.records} WHERE id = ANY($1::text[]) AND (${f.sql}) RETURNING slot`, [ids, ...f.params])).rows as { slot: number }[]).map((r) => Number(r.slot));
        await tomb(gone);
        if (gone.length > 0) touched = true;
        return gone;
      },
      deleteWhere: async (filter: RecordFilter): Promise<number[]> => {
        const f = this.#filter(filter, 1);
        const gone = ((await client.query(`DELETE FROM ${t.records} WHERE ${f.sql} RETURNING slot`, f.params)).rows as { slot: number }[]).map((r) => Number(r.slot));
        await tomb(gone);
        if (gone.length > 0) touched = true;
        return gone;
      },
      deleteSlots: async (slots: readonly number[]): Promise<void> => {
        if (slots.length === 0) return;
        await client.query(`DELETE FROM ${t.records} WHERE slot = ANY($1::bigint[])`, [slots]);
        await tomb([...slots]);
        touched = true;
      },
      setOptions: async (o: CollectionOptions): Promise<void> => {
        options = o;
      },
    };
  }

  /** IVF: pgvector's ivfflat is trained when built, so it is built once the collection holds the embedded store's training size. */
  async #maybeBuildIvf(client: PoolClient): Promise<void> {
    if (this.#meta.indexSpec.kind !== 'ivf') return;
    const exists = (await client.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${SCHEMA}.c${this.#meta.cid}_vec`])).rows[0] as { ok: boolean };
    if (exists.ok) return;
    const n = Number((await client.query(`SELECT count(*) AS n FROM ${this.#t.records}`)).rows[0].n);
    if (n < ivfTrainAt(this.#meta.indexSpec)) return;
    const sql = vectorIndexSql(this.#meta.cid, this.#meta.dim, this.#meta.metric, this.#meta.indexSpec, this.#meta.options.indexDims, 'ivf');
    if (sql !== undefined) await client.query(sql);
  }
}

/** pgvector's operator result as omnivec's distance: L2 squared, 1 − a·b (`<#>` is −a·b), 1 − cos. */
export function distanceSql(metric: Metric, expr: string): string {
  switch (metric) {
    case 'l2': return `((${expr}) * (${expr}))`;
    case 'ip': return `(1 + (${expr}))`;
    case 'cosine': return `(${expr})`;
  }
}
