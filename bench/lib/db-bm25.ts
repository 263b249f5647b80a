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
  documents: number;
  store: string;
  /** Cranfield's 225 queries. */
  cranfield: QuerySetReport;
  /** Paper-length queries (paperQueries). */
  paper: QuerySetReport;
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

/** One query set's results: omnivec, the reference, the former ranking, and their agreement. */
export interface QuerySetReport {
  queries: number;
  omnivec: RankingQuality;
  reference: RankingQuality;
  /** FTS5's bm25() with each query word once (the ranking before issue 17). */
  former: RankingQuality;
  /** Queries whose top 100 ids equal the reference's, in order. */
  identicalTop100: number;
  /** Largest |omnivec − reference| / reference score over the documents both top 100s hold. */
  largestRelativeScoreDifference: number;
}

/**
 * Paper-length queries from Cranfield itself: for each query with a complete-answer document
 * (code 1), that document's text is the query and the query's other judged documents are the
 * relevant ones (the document itself is not counted: it is removed from the ranking). Long
 * queries repeat their subject words, which is where query-term frequency matters.
 */
function paperQueries(docs: { id: string; text: string }[], qrels: Map<number, Map<string, number>>): { texts: string[]; qrels: Map<number, Map<string, number>>; self: string[] } {
  const texts: string[] = [];
  const self: string[] = [];
  const rel = new Map<number, Map<string, number>>();
  const byId = new Map(docs.map((d) => [d.id, d.text]));
  for (const [, judged] of [...qrels].sort((a, b) => a[0] - b[0])) {
    const best = [...judged].filter(([, g]) => g === 4).map(([id]) => id).sort((a, b) => Number(a) - Number(b))[0];
    if (best === undefined || judged.size < 2) continue;
    texts.push(byId.get(best)!);
    self.push(best);
    rel.set(texts.length, new Map([...judged].filter(([id]) => id !== best)));
  }
  return { texts, qrels: rel, self };
}

/**
 * Loads Cranfield into a collection at `location` (a new directory, or a postgres:// URL of an
 * empty database; default: a temporary directory, removed afterwards), runs the 225 queries and
 * the paper-length queries (paperQueries) through it, the reference and the former ranking, and
 * returns MAP@100 / nDCG@10 of each.
 */
export async function runCranfieldBm25(options: { location?: string; dataDir?: string; log?: (m: string) => void } = {}): Promise<CranfieldBm25Report> {
  const { docs, queries, qrels } = loadCranfield(options.dataDir);
  const papers = paperQueries(docs, qrels);
  const log = options.log ?? ((): void => {});
  const temp = options.location === undefined ? mkdtempSync(join(tmpdir(), 'omnivec-cran-')) : undefined;
  const location = options.location ?? temp!;
  const ref = new ReferenceBm25(fts5Tokens(docs.map((d) => d.text)));
  const f = new Database(':memory:');
  try {
    f.exec(`CREATE VIRTUAL TABLE t USING fts5(d, tokenize='${DEFAULT_TOKENIZE}')`);
    const ins = f.prepare('INSERT INTO t(rowid, d) VALUES (?, ?)');
    f.transaction(() => docs.forEach((d, i) => ins.run(i + 1, d.text)))();
    const formerStmt = f.prepare(`SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ${K + 1}`).pluck();
    log(`Cranfield BM25: ${docs.length} documents, ${queries.length} + ${papers.texts.length} queries into ${/^postgres/.test(location) ? 'PostgreSQL' : 'the embedded store'}`);
    const db = await openDatabase(location);
    try {
      const c = await db.createCollection({ name: 'cranfield', dim: 2, index: 'flat' });
      await c.add(docs.map((d, i) => ({ id: d.id, vector: [1, 1 + (i % 7)], document: d.text })));
      // `skip[q]`: an id left out of query q's ranking (a paper query's own document).
      const evaluate = async (texts: string[], rel: Map<number, Map<string, number>>, skip: (string | undefined)[]): Promise<QuerySetReport> => {
        const cut = <T extends { id: string }>(list: T[], q: number): T[] => list.filter((h) => h.id !== skip[q]).slice(0, K);
        const got: { id: string; score: number }[][] = [];
        const t0 = performance.now();
        for (const q of texts) {
          const r = await c.query({ fullText: q, k: K + 1, include: [] });
          got.push(r.ids.map((id, i) => ({ id, score: r.scores[i]! })));
        }
        const ms = (performance.now() - t0) / texts.length;
        const t1 = performance.now();
        const want = fts5Tokens(texts).map((t) => ref.search(t, K + 1).map((h) => ({ id: docs[h.doc]!.id, score: h.score })));
        const refMs = (performance.now() - t1) / texts.length;
        const t2 = performance.now();
        const former = texts.map((q) => {
          const m = ftsQuery(q);
          return m === undefined ? [] : (formerStmt.all(m) as number[]).map((row) => ({ id: docs[row - 1]!.id }));
        });
        const formerMs = (performance.now() - t2) / texts.length;
        let identical = 0;
        let worst = 0;
        got.forEach((r, q) => {
          const w = want[q]!;
          if (r.length === w.length && r.every((h, i) => w[i]!.id === h.id)) identical++;
          const refScore = new Map(w.map((h) => [h.id, h.score]));
          for (const h of r) {
            const s = refScore.get(h.id);
            if (s !== undefined) worst = Math.max(worst, Math.abs(h.score - s) / s);
          }
        });
        const ids = (lists: { id: string }[][]): string[][] => lists.map((l, q) => cut(l, q).map((h) => h.id));
        return {
          queries: texts.length,
          omnivec: quality(ids(got), rel, ms),
          reference: quality(ids(want), rel, refMs),
          former: quality(ids(former), rel, formerMs),
          identicalTop100: identical,
          largestRelativeScoreDifference: worst,
        };
      };
      const cranfield = await evaluate(queries, qrels, []);
      log(`  Cranfield queries: MAP@100 ${cranfield.omnivec.map100.toFixed(4)} (reference ${cranfield.reference.map100.toFixed(4)})`);
      const paper = await evaluate(papers.texts, papers.qrels, papers.self);
      log(`  paper-length queries: MAP@100 ${paper.omnivec.map100.toFixed(4)} (reference ${paper.reference.map100.toFixed(4)})`);
      return { documents: docs.length, store: /^postgres/.test(location) ? 'postgresql' : 'sqlite', cranfield, paper };
    } finally {
      await db.close();
    }
  } finally {
    f.close();
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  }
}

/** The report as lines of text (for the console and BENCHMARKS.md). */
export function formatCranfieldBm25(r: CranfieldBm25Report): string[] {
  const lines = [
    `Full text on Cranfield (${r.documents} documents, top 100; ${r.store} store). Paper-length queries: a complete-answer document's text as the query, the query's other judged documents relevant:`,
    '',
    '| queries | ranking | MAP@100 | nDCG@10 | MAP vs reference | ms/query |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const [label, set] of [[`Cranfield (${r.cranfield.queries})`, r.cranfield], [`paper-length (${r.paper.queries})`, r.paper]] as const) {
    const row = (name: string, x: RankingQuality): string =>
      `| ${label} | ${name} | ${x.map100.toFixed(4)} | ${x.ndcg10.toFixed(4)} | ${(x.map100 / set.reference.map100).toFixed(3)}× | ${x.msPerQuery.toFixed(2)} |`;
    lines.push(row('reference BM25 (Lucene IDF, k1 1.2, b 0.75, qtf; FTS5 tokens)', set.reference));
    lines.push(row('omnivec `query({ fullText })`', set.omnivec));
    lines.push(row('before issue 17: FTS5 bm25(), each query word once', set.former));
  }
  lines.push('', `Top-100 lists identical to the reference: ${r.cranfield.identicalTop100}/${r.cranfield.queries} (Cranfield), ${r.paper.identicalTop100}/${r.paper.queries} (paper-length); largest relative score difference ${Math.max(r.cranfield.largestRelativeScoreDifference, r.paper.largestRelativeScoreDifference).toExponential(2)}.`);
  return lines;
}

if (process.argv[1]?.endsWith('db-bm25.ts')) {
  const i = process.argv.indexOf('--store');
  const report = await runCranfieldBm25({ location: i > 0 ? process.argv[i + 1] : undefined, log: (m) => process.stderr.write(`${m}\n`) });
  console.log(formatCranfieldBm25(report).join('\n'));
}
