/**
 * The PostgreSQL store's full-text provider. Interim: PostgreSQL's `simple` configuration and
 * ts_rank while the BM25 module (fulltext.ts, docs/postgres.md "Full text") is finished; the store
 * calls only this object.
 */
import type { Pool, PoolClient } from './pg.js';
import type { FullTextProvider } from './postgres-records.js';

export const fullTextProvider: FullTextProvider = {
  setupSql: [],
  ddl: (table: string, cid: number) => [
    `ALTER TABLE ${table} ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(document, ''))) STORED`,
    `CREATE INDEX c${cid}_tsv ON ${table} USING gin (tsv)`,
  ],
  async search(client: Pool | PoolClient, table: string, text: string, limit: number, filter: { sql: string; params: unknown[] }) {
    const terms = [...new Set(text.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [])];
    if (terms.length === 0) return { slots: new Uint32Array(0), scores: new Float32Array(0) };
    const query = terms.map((t) => `'${t.replace(/'/g, "''")}'`).join(' | ');
    const shift = (sql: string): string => sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + 2}`);
    const res = await client.query(
      `SELECT r.slot, ts_rank(r.tsv, q) AS s FROM ${table} r, to_tsquery('simple', $1) q WHERE r.tsv @@ q AND (${shift(filter.sql)}) ORDER BY s DESC, r.slot LIMIT $2`,
      [query, limit, ...filter.params]);
    const rows = res.rows as { slot: number; s: number }[];
    return { slots: Uint32Array.from(rows, (r) => Number(r.slot)), scores: Float32Array.from(rows, (r) => Number(r.s)) };
  },
};
