/**
 * A reference BM25, the oracle of the full-text tests and of bench/lib/db-bm25.ts: plain
 * TypeScript over token lists, Lucene's / Anserini's formula (src/db/store/bm25.ts states it) with
 * query-term frequency — a token repeated in the query counts as often as it occurs, as a Lucene
 * BooleanQuery of one clause per occurrence (or Anserini's bag-of-words query) scores it.
 *
 * It shares no code with the stores: its tokens come from `fts5Tokens`, FTS5's own tokenizer run
 * on a scratch in-memory table (so the stems and cuts are exactly the ones the stores index), and
 * its IDF, tf and length normalisation are computed here from those tokens.
 */
import Database from 'better-sqlite3';

/** The embedded store's default tokenizer (src/db/store/sqlite/schema.ts). */
export const DEFAULT_TOKENIZE = 'porter unicode61 remove_diacritics 2';

/** Each text's tokens in order, as FTS5 with `tokenize` indexes them (fts5vocab 'instance'). */
export function fts5Tokens(texts: readonly string[], tokenize = DEFAULT_TOKENIZE): string[][] {
  const db = new Database(':memory:');
  try {
    db.exec(`CREATE VIRTUAL TABLE t USING fts5(d, tokenize='${tokenize.replaceAll("'", "''")}');
      CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');`);
    const ins = db.prepare('INSERT INTO t(rowid, d) VALUES (?, ?)');
    db.transaction(() => texts.forEach((d, i) => ins.run(i + 1, d)))();
    const out: string[][] = texts.map(() => []);
    for (const [doc, term] of db.prepare('SELECT doc, term FROM v ORDER BY doc, "offset"').raw().all() as [number, string][]) {
      out[doc - 1]!.push(term);
    }
    return out;
  } finally {
    db.close();
  }
}

export interface ReferenceHit { doc: number; score: number }

/** BM25 over documents given as token lists (doc = index in the list). */
export class ReferenceBm25 {
  readonly k1: number;
  readonly b: number;
  readonly #tf: Map<string, number>[];
  readonly #len: Float64Array;
  readonly #df = new Map<string, number>();
  readonly #avgdl: number;

  constructor(docs: readonly (readonly string[])[], options: { k1?: number; b?: number } = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    this.#tf = docs.map((tokens) => {
      const m = new Map<string, number>();
      for (const t of tokens) m.set(t, (m.get(t) ?? 0) + 1);
      for (const t of m.keys()) this.#df.set(t, (this.#df.get(t) ?? 0) + 1);
      return m;
    });
    this.#len = Float64Array.from(docs, (d) => d.length);
    const total = this.#len.reduce((s, v) => s + v, 0);
    this.#avgdl = docs.length === 0 ? 0 : total / docs.length;
  }

  get size(): number {
    return this.#tf.length;
  }

  /** ln(1 + (N − df + 0.5) / (df + 0.5)). */
  idf(token: string): number {
    const df = this.#df.get(token) ?? 0;
    return Math.log(1 + (this.size - df + 0.5) / (df + 0.5));
  }

  /** Every document holding a query token, scored (float64), best first, ties by the smaller doc. */
  search(queryTokens: readonly string[], k = Infinity): ReferenceHit[] {
    const qtf = new Map<string, number>();
    for (const t of queryTokens) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const hits: ReferenceHit[] = [];
    for (let d = 0; d < this.#tf.length; d++) {
      const tfs = this.#tf[d]!;
      let score = 0;
      let found = false;
      for (const [t, q] of qtf) {
        const tf = tfs.get(t);
        if (tf === undefined) continue;
        found = true;
        const norm = this.k1 * (1 - this.b + this.b * this.#len[d]! / this.#avgdl);
        score += q * this.idf(t) * tf * (this.k1 + 1) / (tf + norm);
      }
      if (found) hits.push({ doc: d, score });
    }
    hits.sort((x, y) => y.score - x.score || x.doc - y.doc);
    return hits.slice(0, k);
  }
}
