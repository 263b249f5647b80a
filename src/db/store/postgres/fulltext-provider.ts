/**
 * The PostgreSQL store's full-text provider: BM25 as FTS5 ranks it (fulltext.ts, docs/postgres.md
 * "Full text"). On one server the documents' and tokens' totals are kept by statement triggers in
 * `omnivec.fts_stats`; on Citus a trigger on a shard cannot write that table, so each search counts
 * them (`counts: 'scan'`), and the row trigger is created with `citus.enable_unsafe_triggers` (it
 * runs on each shard, touching its own row only).
 */
import { bm25Search, fullTextDdl, fullTextSetupSql } from './fulltext.js';
import type { FullTextProvider } from './postgres-records.js';

export function fullTextProvider(citus: boolean): FullTextProvider {
  return {
    setupSql: fullTextSetupSql(),
    ddl: citus
      ? (table: string, cid: number) => ['SET LOCAL citus.enable_unsafe_triggers = on', ...fullTextDdl(table, cid, { counts: 'scan' })]
      : (table: string, cid: number) => fullTextDdl(table, cid),
    search: citus
      ? (client, table, text, limit, filter) => bm25Search(client, table, text, limit, filter, { counts: 'scan' })
      : (client, table, text, limit, filter) => bm25Search(client, table, text, limit, filter),
  };
}
