/**
 * BM25 full text of the SQLite store (../bm25.ts: Lucene's IDF, query-term frequency counted),
 * computed from FTS5's own data. FTS5's bm25() sums, per phrase of the query, its IDF times the
 * term-frequency part tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl)); its IDF (ln((N − df + 0.5) /
 * (df + 0.5)), floored at 1e-6) is not Lucene's, and a term repeated in the text counts once in
 * a query built from distinct terms. So each distinct term is matched alone (`"term"`, FTS5's own
 * tokens, stems and phrase matching: bm25() then holds that term only), FTS5's IDF is divided out
 * of its score and the term is weighted by qtf × Lucene's IDF. N is FTS5's row count (the table's
 * averages record) and df the term's rows over the whole table, the values FTS5's bm25() used:
 * the term-frequency part comes back exact to double rounding.
 *
 * Cost: a count per distinct term (df), then one statement — the terms' scored rows as a UNION ALL,
 * summed per row and ranked inside SQLite, so only the best `limit` rows reach JavaScript. On
 * 100 000 WordNet glosses it took 1.26× the former single FTS5 OR query for Cranfield's long
 * queries and the same for 3-word queries (loaded machine); returning every term's rows to
 * JavaScript instead took 2.4×.
 */
import type { Sqlite } from './schema.js';
import { OmnivecError } from '../../../errors.js';
import { ftsTerms } from '../../fusion.js';
import { bm25Idf, fts5Idf } from '../bm25.js';

/** Terms per compound SELECT (SQLite allows 500). */
const COMPOUND_GROUP = 400;
/** Most terms of one search: 2 parameters each, below SQLite's 32 766 parameters with room for a filter's. */
const MAX_TERMS = 10_000;

/** FTS5's row count: the first varint of the averages record (rowid 1 of `<fts>_data`; fts5_storage.c). */
export function fts5RowCount(db: Sqlite, fts: string): number {
  const block = db.prepare(`SELECT block FROM ${fts}_data WHERE id = 1`).pluck().get() as Buffer | undefined;
  if (block === undefined || block === null || block.length === 0) return 0;
  return readVarint(block);
}

/** SQLite's varint (big-endian groups of 7 bits, a 9th byte of 8): exact below 2^53. */
function readVarint(b: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < 9 && i < b.length; i++) {
    if (i === 8) return v * 256 + b[i]!;
    v = v * 128 + (b[i]! & 0x7f);
    if ((b[i]! & 0x80) === 0) return v;
  }
  return v;
}

/** The terms of a full-text query as FTS5 phrases, each with its weight on FTS5's bm25(). */
interface Bm25Plan { phrases: string[]; weights: number[] }

/** The query's phrases and weights (a df count per term); undefined when no term is in the collection. */
function bm25Plan(db: Sqlite, fts: string, text: string): Bm25Plan | undefined {
  const terms = ftsTerms(text);
  if (terms.length === 0) return undefined;
  const docs = fts5RowCount(db, fts);
  if (docs === 0) return undefined;
  // df of each term over the whole table (a doclist walk, no scoring), then its weight on bm25():
  // qtf × Lucene's IDF ÷ FTS5's IDF, negated (bm25() is smaller = better).
  const count = db.prepare(`SELECT count(*) FROM ${fts} WHERE ${fts} MATCH ?`).pluck();
  const phrases: string[] = [];
  const weights: number[] = [];
  for (const { term, count: qtf } of terms) {
    const phrase = `"${term.replaceAll('"', '""')}"`;
    const df = count.get(phrase) as number;
    if (df === 0) continue;
    phrases.push(phrase);
    weights.push(-qtf * bm25Idf(docs, df) / fts5Idf(docs, df));
  }
  return phrases.length === 0 ? undefined : { phrases, weights };
}

/**
 * The best `limit` slots of `records` ⋈ `fts` for `text` under `filter` (SQL over `r.metadata` /
 * `r.document`, `?` placeholders), scores higher = better, ties by the smaller slot.
 */
export function sqliteBm25(db: Sqlite, records: string, fts: string, text: string, limit: number,
  filter: { sql: string; params: unknown[] }): { slots: Uint32Array; scores: Float32Array } {
  const none = { slots: new Uint32Array(0), scores: new Float32Array(0) };
  if (limit <= 0) return none;
  const plan = bm25Plan(db, fts, text);
  if (plan === undefined) return none;
  const { phrases, weights } = plan;
  // One statement: each term's rows scored by FTS5 alone (its own MATCH, so bm25() holds that
  // term only), weighted, summed per row and ranked inside SQLite: only the best `limit` rows
  // come back to JavaScript.
  // `LIMIT -1` keeps SQLite from flattening a one-term subquery into the aggregate, where FTS5
  // refuses bm25() ("unable to use function bm25 in the requested context"). A compound SELECT
  // takes at most 500 terms (SQLITE_MAX_COMPOUND_SELECT): long texts are nested by groups.
  if (phrases.length > MAX_TERMS) {
    throw new OmnivecError('invalid_argument',
      `fullText: expected at most ${MAX_TERMS} distinct terms found in the collection, got ${phrases.length}; shorten the text`);
  }
  const arm = `SELECT rowid AS slot, ? * bm25(${fts}) AS s FROM ${fts} WHERE ${fts} MATCH ?`;
  const groups: string[] = [];
  for (let i = 0; i < phrases.length; i += COMPOUND_GROUP) {
    groups.push(`SELECT slot, s FROM (${Array(Math.min(COMPOUND_GROUP, phrases.length - i)).fill(arm).join(' UNION ALL ')} LIMIT -1)`);
  }
  const parts = groups.length === 1 ? groups[0]! : groups.join(' UNION ALL ');
  const unfiltered = filter.sql.trim() === '1';
  const sql = unfiltered
    ? `SELECT slot, sum(s) AS score FROM (${parts}) GROUP BY slot ORDER BY score DESC, slot LIMIT ?`
    : `SELECT u.slot, sum(u.s) AS score FROM (${parts}) u JOIN ${records} r ON r.slot = u.slot
       WHERE (${filter.sql}) GROUP BY u.slot ORDER BY score DESC, u.slot LIMIT ?`;
  const args: unknown[] = [];
  phrases.forEach((p, i) => args.push(weights[i], p));
  const rows = db.prepare(sql).raw().all(...args, ...filter.params, limit) as [number, number][];
  return { slots: Uint32Array.from(rows, (x) => x[0]), scores: Float32Array.from(rows, (x) => x[1]) };
}
