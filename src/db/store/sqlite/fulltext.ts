/**
 * BM25 full text of the SQLite store (../bm25.ts: Lucene's IDF, query-term frequency counted),
 * computed from FTS5's own data. FTS5's bm25() sums, per phrase of the query, its IDF times the
 * term-frequency part tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl)); its IDF (ln((N − df + 0.5) /
 * (df + 0.5)), floored at 1e-6) is not Lucene's, and a term repeated in the text counts once in
 * a query built from distinct terms. So each distinct term is asked alone (`"term"`, FTS5's own
 * tokens, stems and phrase matching), FTS5's IDF is divided out of its score and the term is
 * weighted by qtf × Lucene's IDF. N is FTS5's row count (the table's averages record) and df the
 * term's rows over the whole table, the values FTS5's bm25() used: the term-frequency part comes
 * back exact to double rounding.
 *
 * Cost: one statement per distinct term, each returning every row holding the term that passes
 * the filter (FTS5's OR query scored the same rows natively and returned only the best `limit`);
 * a filtered search also counts each term's rows (df is the whole table's).
 */
import type { Sqlite } from './schema.js';
import { ftsTerms } from '../../fusion.js';
import { bm25Idf, fts5Idf } from '../bm25.js';

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

/**
 * The best `limit` slots of `records` ⋈ `fts` for `text` under `filter` (SQL over `r.metadata` /
 * `r.document`, `?` placeholders), scores higher = better, ties by the smaller slot.
 */
export function sqliteBm25(db: Sqlite, records: string, fts: string, text: string, limit: number,
  filter: { sql: string; params: unknown[] }): { slots: Uint32Array; scores: Float32Array } {
  const none = { slots: new Uint32Array(0), scores: new Float32Array(0) };
  const terms = ftsTerms(text);
  if (terms.length === 0 || limit <= 0) return none;
  const docs = fts5RowCount(db, fts);
  if (docs === 0) return none;
  const unfiltered = filter.sql.trim() === '1' || filter.sql.trim().toLowerCase() === 'true';
  const hits = db.prepare(unfiltered
    ? `SELECT rowid, bm25(${fts}) FROM ${fts} WHERE ${fts} MATCH ?`
    : `SELECT f.rowid, bm25(${fts}) FROM ${fts} f JOIN ${records} r ON r.slot = f.rowid WHERE ${fts} MATCH ? AND (${filter.sql})`).raw();
  const count = db.prepare(`SELECT count(*) FROM ${fts} WHERE ${fts} MATCH ?`).pluck();
  const score = new Map<number, number>();
  for (const { term, count: qtf } of terms) {
    const phrase = `"${term.replaceAll('"', '""')}"`;
    const rows = hits.all(phrase, ...filter.params) as [number, number][];
    if (rows.length === 0) continue;
    const df = unfiltered ? rows.length : count.get(phrase) as number;
    // bm25() is negated (smaller = better) and holds FTS5's IDF: −bm25 / fts5Idf is the tf part.
    const w = -qtf * bm25Idf(docs, df) / fts5Idf(docs, df);
    for (const [slot, s] of rows) score.set(slot, (score.get(slot) ?? 0) + w * s);
  }
  const best = [...score].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, limit);
  return { slots: Uint32Array.from(best, (x) => x[0]), scores: Float32Array.from(best, (x) => x[1]) };
}
