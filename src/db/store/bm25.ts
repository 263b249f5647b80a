/**
 * The BM25 both record stores rank full text by (docs/db.md, "Full text"): Lucene's and Anserini's
 * (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond", eq. 3.30
 * with Lucene's IDF), with query-term frequency counted:
 *
 *   score(d, q) = Σ_t qtf(t) · idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
 *   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * A query term is one ftsTerms() term (a phrase when the tokenizer cuts it in several tokens: tf
 * and df are then the phrase's), qtf how often the text holds it. N, avgdl and df are the whole
 * collection's. The (k1 + 1) factor (dropped by Lucene 8, kept by Anserini's older BM25 and by
 * FTS5) scales every score alike and keeps FTS5's scale.
 */

/** Term-frequency saturation (Lucene's, Anserini's and FTS5's default). */
export const BM25_K1 = 1.2;
/** Document-length normalisation (the same three defaults). */
export const BM25_B = 0.75;

/** Lucene's IDF of a term found in `df` of `docs` documents: always > 0. */
export function bm25Idf(docs: number, df: number): number {
  return Math.log(1 + (docs - df + 0.5) / (df + 0.5));
}

/**
 * FTS5's IDF (fts5_aux.c, bm25()): ln((N − df + 0.5) / (df + 0.5)), floored at 1e-6 for a term
 * in half the rows or more. The SQLite store divides it out of FTS5's per-phrase bm25().
 */
export function fts5Idf(docs: number, df: number): number {
  const idf = Math.log((docs - df + 0.5) / (df + 0.5));
  return idf <= 0 ? 1e-6 : idf;
}
