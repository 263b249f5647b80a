import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { ReferenceBm25, fts5Tokens } from './helpers/bm25.js';
import { PG_SKIP, PG_URL, withPgDatabase } from './helpers/postgres.js';
import { Random } from '../src/vector/random.js';
import { ftsQuery, ftsTerms } from '../src/db/fusion.js';

/**
 * BM25 with repeated query words (issue 17 item 6): both stores' full-text scores equal the
 * reference BM25 (test/helpers/bm25.ts: Lucene's IDF, query-term frequency) computed on FTS5's
 * tokens, within float32 rounding, ranks identical (equal reference scores may come in either
 * order; the stores break ties by the smaller slot).
 */

test('reference BM25: the formula by hand on three documents, query-term frequency counted', () => {
  const bm = new ReferenceBm25([['a', 'b'], ['a', 'a', 'c', 'd'], ['c', 'x', 'y', 'z']]);
  const avgdl = 10 / 3;
  const idfA = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  const idfC = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  const part = (tf: number, len: number): number => tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avgdl));
  const hits = bm.search(['a', 'c', 'a']);
  const want = new Map([[0, 2 * idfA * part(1, 2)], [1, 2 * idfA * part(2, 4) + idfC * part(1, 4)], [2, idfC * part(1, 4)]]);
  assert.equal(hits.length, 3);
  for (const h of hits) assert.ok(Math.abs(h.score - want.get(h.doc)!) < 1e-12, `doc ${h.doc}: ${h.score} vs ${want.get(h.doc)}`);
  // Repeats change the ranking: with 'c' twice, document 2 (c, longer) beats document 0 (a, shorter).
  const once = bm.search(['a', 'c']).map((h) => h.doc);
  const twice = bm.search(['a', 'c', 'c']).map((h) => h.doc);
  assert.ok(once.indexOf(0) < once.indexOf(2) && twice.indexOf(2) < twice.indexOf(0), `${once} / ${twice}`);
  assert.deepEqual(fts5Tokens(['Flows, FLOWING flow!', '']), [['flow', 'flow', 'flow'], []]);
});

test('ftsTerms: ftsQuery\'s terms with their counts (case-insensitive, first spelling kept); ftsQuery unchanged', () => {
  assert.deepEqual(ftsTerms('Flow flow "FLOW" (wing) flows -wing'), [{ term: 'Flow', count: 3 }, { term: 'wing', count: 2 }, { term: 'flows', count: 1 }]);
  assert.equal(ftsQuery('Flow flow "FLOW" (wing) flows -wing'), '"Flow" OR "wing" OR "flows"');
  assert.deepEqual(ftsTerms(' -- !! '), []);
  assert.equal(ftsQuery(' -- !! '), undefined);
  assert.throws(() => ftsTerms(3 as unknown as string), /text: expected a string/);
});

/** A seeded corpus over a small vocabulary (repeats within documents), and queries with repeated words. */
function corpus(): { docs: string[]; queries: string[] } {
  const rng = new Random(17);
  const vocab = ['wing', 'wings', 'flow', 'flows', 'flowing', 'shock', 'wave', 'waves', 'boundary', 'layer', 'the', 'of', 'a', 'mach',
    'number', 'pressure', 'heat', 'transfer', 'plate', 'Flow', 'Élan', 'naïve', 'analogy', 'analogies', 'us', 'as'];
  const word = (): string => vocab[Math.min(vocab.length - 1, Math.floor(vocab.length * rng.next() ** 1.8))]!;
  const docs = Array.from({ length: 300 }, (_, i) => (i % 53 === 7 ? '' : Array.from({ length: 1 + rng.int(30) }, word).join(i % 2 ? ' ' : ', ')));
  const queries = ['flow flow wing', 'wing flow', 'shock shock shock wave', 'the the of boundary layer layer', 'flows flowing FLOW pressure',
    'heat transfer heat transfer plate', 'Élan elan naive', 'analogy analogies', 'us us as', 'mach'];
  for (let q = 0; q < 30; q++) queries.push(Array.from({ length: 2 + rng.int(12) }, word).join(' '));
  return { docs, queries };
}

async function compareStore(location: string, label: string): Promise<void> {
  const { docs, queries } = corpus();
  const ref = new ReferenceBm25(fts5Tokens(docs));
  const db = await openDatabase(location);
  try {
    const c = await db.createCollection({ name: 'bm25', dim: 2, index: 'flat' });
    await c.add(docs.map((d, i) => ({ id: `d${i}`, vector: [1, 1 + (i % 7)], document: d, metadata: { g: i % 3 } })));
    let repeatsMattered = 0;
    for (const text of queries) {
      const [qTokens] = fts5Tokens([text]);
      const want = ref.search(qTokens!);
      for (const where of [undefined, { g: 1 }]) {
        const keep = want.filter((h) => where === undefined || h.doc % 3 === 1);
        const k = 10;
        const got = await c.query({ fullText: text, k, include: [], ...(where === undefined ? {} : { where }) });
        const what = `${label}: ${JSON.stringify(text)}${where === undefined ? '' : ' where g = 1'}`;
        assert.equal(got.ids.length, Math.min(k, keep.length), `${what}: hits`);
        const refScore = new Map(want.map((h) => [`d${h.doc}`, h.score]));
        got.ids.forEach((id, i) => {
          const s = refScore.get(id);
          assert.ok(s !== undefined, `${what}: ${id} holds no query term`);
          const tol = 2e-6 * Math.abs(s);
          assert.ok(Math.abs(got.scores[i]! - s) <= tol, `${what}: ${id} scores ${got.scores[i]}, reference ${s}`);
          // Rank identical: the reference's i-th score, ties in either order.
          assert.ok(Math.abs(got.scores[i]! - keep[i]!.score) <= tol, `${what}: rank ${i + 1} is ${id} (${got.scores[i]}), reference ${keep[i]!.doc} (${keep[i]!.score})`);
        });
      }
      // Does the text repeat a token? Then counting it once must rank differently somewhere.
      const once = ref.search([...new Set(qTokens)]).slice(0, 10).map((h) => h.doc).join();
      if (once !== want.slice(0, 10).map((h) => h.doc).join()) repeatsMattered++;
    }
    assert.ok(repeatsMattered >= 5, `${label}: only ${repeatsMattered} queries whose top 10 depends on repeats: the test would not see them ignored`);
  } finally {
    await db.close();
  }
}

test('SQLite store: full-text scores equal the reference BM25 with repeated query words (filtered and not)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bm25ref-'));
  try {
    await compareStore(dir, 'sqlite');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PostgreSQL store: full-text scores equal the reference BM25 with repeated query words (filtered and not)', { skip: PG_SKIP, timeout: 120_000 }, async () => {
  assert.ok(PG_URL !== undefined);
  await withPgDatabase('bm25ref', (url) => compareStore(url, 'postgres'));
});

test('SQLite store: a text of over 500 distinct terms found in the collection (nested compound SELECTs) still equals the reference', async () => {
  const rng = new Random(5);
  const words = Array.from({ length: 1200 }, (_, i) => `w${i.toString(36)}x`);
  const docs = Array.from({ length: 400 }, () => Array.from({ length: 5 + rng.int(20) }, () => words[rng.int(words.length)]!).join(' '));
  const text = [...words, ...words.slice(0, 50)].join(' ');
  const ref = new ReferenceBm25(fts5Tokens(docs));
  const want = ref.search(fts5Tokens([text])[0]!, 20);
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bm25long-'));
  try {
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'long', dim: 2, index: 'flat' });
    await c.add(docs.map((d, i) => ({ id: `d${i}`, vector: [1, 1], document: d })));
    const got = await c.query({ fullText: text, k: 20, include: [] });
    assert.equal(got.ids.length, 20);
    got.ids.forEach((id, i) => assert.ok(Math.abs(got.scores[i]! - want[i]!.score) <= 2e-6 * want[i]!.score, `rank ${i + 1}: ${id} ${got.scores[i]} vs d${want[i]!.doc} ${want[i]!.score}`));
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
