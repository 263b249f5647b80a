/**
 * Full text against a reference BM25 on Cranfield (issue 17 item 6; docs/db.md, "Full text").
 *
 * `/work/shared/data/ir-cranfield` (or `dataDir`), read in place: 1,400 documents (title + abstract,
 * the `.T` and `.W` fields), 225 queries (`.W`; numbered 1…225 in file order, as `cranqrel` numbers
 * them), judgements with Cleverdon's codes 1 (complete answer) … 4 (minimum interest) and −1.
 * Relevance: gain 5 − code for codes 1–4 (4 … 1), code −1 not relevant; MAP@100 counts a
 * document relevant when its gain is > 0 and divides by all the query's relevant documents
 * (trec_eval's map_cut_100); nDCG@10 uses the gains linearly (trec_eval's ndcg_cut_10).
 *
 * Runs, on the same documents and queries:
 * - omnivec: a collection in `location` (a fresh directory: the embedded store; or a postgres://
 *   URL), every query through `collection.query({ fullText, k: 100 })`;
 * - the reference: test/helpers/bm25.ts (Lucene's BM25, k1 1.2, b 0.75, query-term frequency),
 *   on FTS5's own tokens (`porter unicode61 remove_diacritics 2`: the same cuts and Porter stems
 *   as the stores; no stop words, as in the stores);
 * - the former ranking: FTS5's bm25() on a query of distinct terms (each word once, FTS5's IDF),
 *   what the embedded store returned before issue 17.
 * What still differs from the reference: a term that FTS5 cuts in several tokens is one phrase in
 * omnivec (the reference bags the tokens) — Cranfield has none after ftsTerms' cuts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/db/database.js';
import { ftsQuery } from '../../src/db/fusion.js';
import { ReferenceBm25, fts5Tokens, DEFAULT_TOKENIZE } from '../../test/helpers/bm25.js';

export const CRANFIELD_DIR = '/work/shared/data/ir-cranfield';
const K = 100;

export interface RankingQuality {
  /** MAP@100 over the 225 queries. */
  map100: number;
  /** Mean nDCG@10. */
  ndcg10: number;
  /** Milliseconds per query (wall clock, noisy on a shared machine). */
  msPerQuery: number;
}

export interface CranfieldBm25Report {
  queries: number;
  documents: number;
  store: string;
  omnivec: RankingQuality;
  reference: RankingQuality;
  /** FTS5's bm25() with each query word once (the ranking before issue 17). */
  former: RankingQuality;
  /** Queries whose top 100 ids equal the reference's, in order. */
  identicalTop100: number;
  /** Largest |omnivec − reference| / reference score over the documents both top 100s hold. */
  largestRelativeScoreDifference: number;
}

/** SMART records: `.I n`, then fields `.X` holding the lines up to the next field. */
function smart(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let field = '';
  for (const line of text.split('\n')) {
    const m = /^\.([A-Z])(?:\s+(.*))?$/.exec(line);
    if (m?.[1] === 'I') {
      out.push({ I: m[2]!.trim() });
      field = '';
    } else if (m !== null) {
      field = m[1]!;
      out.at(-1)![field] ??= '';
    } else if (field !== '') {
      out.at(-1)![field] += line + '\n';
    }
  }
  return out;
}

export function loadCranfield(dataDir = CRANFIELD_DIR): { docs: { id: string; text: string }[]; queries: string[]; qrels: Map<number, Map<string, number>> } {
  const docs = smart(readFileSync(join(dataDir, 'cran.all.1400'), 'utf8')).map((d) => ({ id: d.I!, text: `${d.T ?? ''}${d.W ?? ''}` }));
  const queries = smart(readFileSync(join(dataDir, 'cran.qry'), 'utf8')).map((q) => (q.W ?? '').trim());
  const qrels = new Map<number, Map<string, number>>();
  for (const line of readFileSync(join(dataDir, 'cranqrel'), 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const code = Number(f[2]);
    const gain = code >= 1 && code <= 4 ? 5 - code : 0;
    if (gain === 0) continue;
    const q = Number(f[0]);
    if (!qrels.has(q)) qrels.set(q, new Map());
    qrels.get(q)!.set(f[1]!, gain);
  }
  if (docs.length !== 1400 || queries.length !== 225) {
    throw new Error(`Cranfield: expected 1400 documents and 225 queries in ${dataDir}, got ${docs.length} and ${queries.length}`);
  }
  return { docs, queries, qrels };
}

/** MAP@100 and nDCG@10 of ranked id lists (index q = query q + 1). */
function quality(ranked: readonly (readonly string[])[], qrels: Map<number, Map<string, number>>, ms: number): RankingQuality {
  let ap = 0;
  let ndcg = 0;
  ranked.forEach((ids, q) => {
    const rel = qrels.get(q + 1) ?? new Map<string, number>();
    let hits = 0;
    let sum = 0;
    ids.slice(0, K).forEach((id, i) => {
      if ((rel.get(id) ?? 0) > 0) sum += ++hits / (i + 1);
    });
    ap += rel.size === 0 ? 0 : sum / rel.size;
    let dcg = 0;
    ids.slice(0, 10).forEach((id, i) => { dcg += (rel.get(id) ?? 0) / Math.log2(i + 2); });
    const ideal = [...rel.values()].sort((a, b) => b - a).slice(0, 10);
    const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
    ndcg += idcg === 0 ? 0 : dcg / idcg;
  });
  return { map100: ap / ranked.length, ndcg10: ndcg / ranked.length, msPerQuery: ms };
}

/**
 * Loads Cranfield into a collection at `location` (a new directory, or a postgres:// URL of an
 * empty database; default: a temporary directory, removed afterwards), runs the 225 queries and
 * the reference, and returns MAP@100 / nDCG@10 of each.
 */
export async function runCranfieldBm25(options: { location?: string; dataDir?: string; log?: (m: string) => void } = {}): Promise<CranfieldBm25Report> {
  const { docs, queries, qrels } = loadCranfield(options.dataDir);
  const log = options.log ?? ((): void => {});
  const temp = options.location === undefined ? mkdtempSync(join(tmpdir(), 'omnivec-cran-')) : undefined;
  const location = options.location ?? temp!;
  try {
    // omnivec, through the public API.
    log(`Cranfield BM25: ${docs.length} documents, ${queries.length} queries into ${/^postgres/.test(location) ? 'PostgreSQL' : 'the embedded store'}`);
    const db = await openDatabase(location);
    const got: { ids: string[]; scores: Float32Array }[] = [];
    let ms: number;
    try {
      const c = await db.createCollection({ name: 'cranfield', dim: 2, index: 'flat' });
      await c.add(docs.map((d, i) => ({ id: d.id, vector: [1, 1 + (i % 7)], document: d.text })));
      const t0 = performance.now();
      for (const q of queries) {
        const r = await c.query({ fullText: q, k: K, include: [] });
        got.push({ ids: r.ids, scores: r.scores });
      }
      ms = (performance.now() - t0) / queries.length;
    } finally {
      await db.close();
    }

    // The reference on FTS5's tokens.
    const t1 = performance.now();
    const ref = new ReferenceBm25(fts5Tokens(docs.map((d) => d.text)));
    const qTokens = fts5Tokens(queries);
    const want = qTokens.map((t) => ref.search(t, K).map((h) => ({ id: docs[h.doc]!.id, score: h.score })));
    const refMs = (performance.now() - t1) / queries.length;

    // The former ranking: FTS5's bm25() on the distinct terms.
    const f = new Database(':memory:');
    let former: string[][];
    const t2 = performance.now();
    try {
      f.exec(`CREATE VIRTUAL TABLE t USING fts5(d, tokenize='${DEFAULT_TOKENIZE}')`);
      const ins = f.prepare('INSERT INTO t(rowid, d) VALUES (?, ?)');
      f.transaction(() => docs.forEach((d, i) => ins.run(i + 1, d.text)))();
      const st = f.prepare(`SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ${K}`).pluck();
      former = queries.map((q) => {
        const m = ftsQuery(q);
        return m === undefined ? [] : (st.all(m) as number[]).map((row) => docs[row - 1]!.id);
      });
    } finally {
      f.close();
    }
    const formerMs = (performance.now() - t2) / queries.length;

    let identical = 0;
    let worst = 0;
    got.forEach((r, q) => {
      const w = want[q]!;
      if (r.ids.length === w.length && r.ids.every((id, i) => w[i]!.id === id)) identical++;
      const refScore = new Map(w.map((h) => [h.id, h.score]));
      r.ids.forEach((id, i) => {
        const s = refScore.get(id);
        if (s !== undefined) worst = Math.max(worst, Math.abs(r.scores[i]! - s) / s);
      });
    });
    return {
      queries: queries.length,
      documents: docs.length,
      store: /^postgres/.test(location) ? 'postgresql' : 'sqlite',
      omnivec: quality(got.map((r) => r.ids), qrels, ms),
      reference: quality(want.map((w) => w.map((h) => h.id)), qrels, refMs),
      former: quality(former, qrels, formerMs),
      identicalTop100: identical,
      largestRelativeScoreDifference: worst,
    };
  } finally {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  }
}

/** The report as lines of text (for the console and BENCHMARKS.md). */
export function formatCranfieldBm25(r: CranfieldBm25Report): string[] {
  const row = (label: string, x: RankingQuality): string =>
    `| ${label} | ${x.map100.toFixed(4)} | ${x.ndcg10.toFixed(4)} | ${(x.map100 / r.reference.map100).toFixed(3)}× | ${x.msPerQuery.toFixed(2)} |`;
  return [
    `Full text on Cranfield (${r.documents} documents, ${r.queries} queries, top 100; ${r.store} store):`,
    '',
    '| ranking | MAP@100 | nDCG@10 | MAP vs reference | ms/query |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('reference BM25 (Lucene IDF, k1 1.2, b 0.75, qtf; FTS5 tokens)', r.reference),
    row('omnivec `query({ fullText })`', r.omnivec),
    row('before issue 17: FTS5 bm25(), each query word once', r.former),
    '',
    `Top 100 identical to the reference: ${r.identicalTop100}/${r.queries}; largest relative score difference ${r.largestRelativeScoreDifference.toExponential(2)}.`,
  ];
}

if (process.argv[1]?.endsWith('db-bm25.ts')) {
  const i = process.argv.indexOf('--store');
  const report = await runCranfieldBm25({ location: i > 0 ? process.argv[i + 1] : undefined, log: (m) => process.stderr.write(`${m}\n`) });
  console.log(formatCranfieldBm25(report).join('\n'));
}
