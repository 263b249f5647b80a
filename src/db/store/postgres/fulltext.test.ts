import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { bm25Search, fts5Idf, fullTextDdl, fullTextReindexSql, fullTextSetupSql, queryTerms, separatorRanges } from './fulltext.js';
import { ftsQuery } from '../../fusion.js';
import { sqliteBm25 } from '../sqlite/fulltext.js';
import { PG_SKIP, withPgDatabase } from '../../../../test/helpers/postgres.js';

/** The embedded store's tokenizer (schema.ts's default). */
const TOKENIZE = 'porter unicode61 remove_diacritics 2';

/** An FTS5 table of `docs` (rowid = index + 1) and its per-row tokens (fts5vocab 'instance'). */
function fts5(docs: readonly (string | null)[]): { db: Database.Database; tokens: Map<number, string[]> } {
  const db = new Database(':memory:');
  db.exec(`CREATE VIRTUAL TABLE t USING fts5(d, tokenize='${TOKENIZE}'); CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');`);
  const ins = db.prepare('INSERT INTO t(rowid, d) VALUES (?, ?)');
  db.transaction(() => docs.forEach((d, i) => { if (d !== null) ins.run(i + 1, d); }))();
  const tokens = new Map<number, string[]>();
  for (const [doc, term] of db.prepare('SELECT doc, term FROM v ORDER BY doc, "offset"').raw().all() as [number, string][]) {
    if (!tokens.has(doc)) tokens.set(doc, []);
    tokens.get(doc)!.push(term);
  }
  return { db, tokens };
}

/** Every code point from U+0001 but the surrogates. */
function codePoints(): number[] {
  const out: number[] = [];
  for (let c = 1; c < 0x30000; c++) if (c < 0xd800 || c > 0xdfff) out.push(c);
  return out;
}

test('FTS5_SEPARATORS: the characters FTS5 unicode61 (remove_diacritics 2) cuts at, every code point', () => {
  const cps = codePoints();
  const { tokens } = fts5(cps.map((c) => `x${String.fromCodePoint(c)}x`));
  const ranges = separatorRanges();
  const isSep = (c: number): boolean => ranges.some(([a, b]) => c >= a && c <= b);
  const wrong = cps.filter((c, i) => (tokens.get(i + 1)?.length === 2) !== isSep(c));
  assert.deepEqual(wrong.map((c) => c.toString(16)), []);
});

test('queryTerms: the terms of the embedded store\'s FTS5 query; fts5Idf: FTS5\'s IDF and its floor', () => {
  assert.deepEqual(queryTerms('The "quantum" (NEAR* -cats) cats'), ['The', 'quantum', 'NEAR', 'cats']);
  assert.deepEqual(queryTerms('  -- !! '), []);
  assert.deepEqual(queryTerms('三国演义'), ftsQuery('三国演义')!.split(' OR ').map((t) => t.slice(1, -1)));
  assert.equal(fts5Idf(100, 1), Math.log(99.5 / 1.5));
  assert.equal(fts5Idf(100, 50), 1e-6, 'log(1) = 0: the floor');
  assert.equal(fts5Idf(100, 90), 1e-6);
});

/** Runs `fn` with a client on a fresh database holding the full-text setup (twice: idempotent). */
async function withFts(fn: (c: pg.Client) => Promise<void>): Promise<void> {
  await withPgDatabase('fts', async (url) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('CREATE EXTENSION IF NOT EXISTS vector');
      await c.query('CREATE EXTENSION IF NOT EXISTS unaccent');
      for (let i = 0; i < 2; i++) {
        await c.query('BEGIN');
        for (const sql of fullTextSetupSql()) await c.query(sql);
        await c.query('COMMIT');
      }
      await fn(c);
    } finally {
      await c.end();
    }
  });
}

/** A records table made with the DDL (twice: idempotent), `docs` inserted as slots 1…n with metadata { g: i % 5 }. */
async function table(c: pg.Client, cid: number, docs: readonly (string | null)[], counts: 'triggers' | 'scan' = 'triggers'): Promise<string> {
  const t = `omnivec.c${cid}_r`;
  await c.query(`CREATE TABLE ${t}(slot bigserial PRIMARY KEY, id text UNIQUE, vector vector(2), document text,
    metadata jsonb, sparse jsonb, multivector bytea, vseq bigint)`);
  for (let i = 0; i < 2; i++) for (const sql of fullTextDdl(t, cid, { counts })) await c.query(sql);
  await c.query(`INSERT INTO ${t}(id, vector, document, metadata, vseq)
    SELECT 'r' || i, '[1,1]', d, jsonb_build_object('g', i % 5), 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(d, i) ORDER BY i`, [docs]);
  return t;
}

test('PostgreSQL: a document has FTS5\'s tokens — every code point cuts (or not) as in FTS5; stems conflate as FTS5\'s porter', { skip: PG_SKIP, timeout: 120_000 }, async () => {
  await withFts(async (c) => {
    const cps = codePoints();
    const { tokens } = fts5(cps.map((x) => `x${String.fromCodePoint(x)}x`));
    const res = await c.query(`SELECT u.i::integer AS i FROM unnest($1::integer[], $2::integer[]) WITH ORDINALITY AS u(c, n, i)
      WHERE omnivec.fts_count_tokens(omnivec.fts_prep('x' || chr(u.c) || 'x')) <> u.n`, [cps, cps.map((_, i) => tokens.get(i + 1)?.length ?? 0)]);
    assert.deepEqual((res.rows as { i: number }[]).map((r) => cps[r.i - 1]!.toString(16)), [], 'token counts differing from FTS5');

    // Porter's conflations: words whose FTS5 stem classes and PostgreSQL lexeme classes differ.
    const stems = ['analog', 'biolog', 'apolog', 'assembl', 'audib', 'compat', 'gener', 'connect', 'relat', 'hop', 'cr', 'happ', 'fl', 'agre',
      'plaster', 'siz', 'motor', 'sing', 'control', 'roll', 'fail', 'fil', 'tann', 'troubl', 'sens', 'adjust', 'depend', 'adopt', 'irrit',
      'replac', 'effect', 'formal', 'electr', 'valenc', 'digit', 'conform', 'radic', 'differ', 'predic', 'triplic', 'format', 'ration',
      'hesit', 'activ', 'bowdler', 'allow', 'oscill', 'input', 'us', 'eye', 'ay', 'is', 'as', 'cas'];
    const suffixes = ['', 's', 'es', 'ed', 'ing', 'ly', 'y', 'ies', 'e', 'ation', 'ational', 'ization', 'ness', 'ful', 'ous', 'ive', 'ize',
      'ise', 'ment', 'ent', 'ence', 'ance', 'er', 'al', 'ic', 'able', 'ible', 'ism', 'iti', 'ity', 'li', 'bli', 'bly', 'logi', 'logy', 'logies',
      'alli', 'entli', 'eli', 'ousli', 'fulness', 'ousness', 'iveness', 'biliti', 'ical', 'icate', 'ative', 'alize', 'ement'];
    const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const words = new Set<string>();
    for (const s of stems) for (const x of suffixes) words.add(s + x);
    for (const a of chars) {
      words.add(a);
      for (const b of chars) for (const x of ['', 'e', 's', 'es']) words.add(a + b + x);
    }
    const list = [...words];
    const f = fts5(list).tokens;
    const lex = (await c.query('SELECT omnivec.fts_lexemes(w) AS l FROM unnest($1::text[]) WITH ORDINALITY AS u(w, i) ORDER BY i', [list])).rows as { l: string[] }[];
    const f2p = new Map<string, string>();
    const p2f = new Map<string, string>();
    const differ = new Set<string>();
    list.forEach((w, i) => {
      const a = f.get(i + 1)!.join(' ');
      const b = lex[i]!.l.join(' ');
      if ((f2p.get(a) ?? b) !== b || (p2f.get(b) ?? a) !== a) differ.add(w);
      f2p.set(a, b);
      p2f.set(b, a);
    });
    // Known: FTS5's step 1a wants "ies" / "sses" longer than 3 / 4 letters, Snowball's Porter does not.
    assert.deepEqual([...differ].filter((w) => !/^(ies|sses|.ies|.sses)$/.test(w)), []);
  });
});

test('PostgreSQL: the triggers keep tsv, doclen and the table\'s counts through inserts, upserts, updates, deletes and TRUNCATE', { skip: PG_SKIP }, async () => {
  await withFts(async (c) => {
    const t = await table(c, 1, ['the cat sat', null, '', 'dogs and cats']);
    const check = async (what: string): Promise<void> => {
      const s = (await c.query(`SELECT docs::integer, tokens::integer FROM omnivec.fts_stats WHERE tbl = $1`, [t])).rows[0] as { docs: number; tokens: number };
      const a = (await c.query(`SELECT count(doclen)::integer AS docs, coalesce(sum(doclen), 0)::integer AS tokens,
        count(*) FILTER (WHERE (document IS NULL) <> (doclen IS NULL) OR (document IS NULL) <> (tsv IS NULL))::integer AS bad FROM ${t}`)).rows[0] as { docs: number; tokens: number; bad: number };
      assert.deepEqual(s, { docs: a.docs, tokens: a.tokens }, what);
      assert.equal(a.bad, 0, `${what}: a row's tsv / doclen disagree with its document`);
    };
    await check('insert');
    assert.deepEqual((await c.query(`SELECT doclen FROM ${t} ORDER BY slot`)).rows.map((r: { doclen: number | null }) => r.doclen), [3, null, 0, 3]);
    await c.query(`UPDATE ${t} SET document = 'a much longer document now' WHERE id = 'r2'`);
    await check('update of a null document');
    await c.query(`UPDATE ${t} SET metadata = '{"x": 1}'`);
    await check('update of metadata');
    await c.query(`INSERT INTO ${t}(id, vector, document, vseq) VALUES ('r1', '[1,1]', 'replaced', 2), ('r9', '[1,1]', 'new one', 2)
      ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document`);
    await check('upsert');
    assert.equal((await c.query(`SELECT tsv::text AS t FROM ${t} WHERE id = 'r1'`)).rows[0].t, `'replac':1`);
    await c.query(`UPDATE ${t} SET document = NULL WHERE id = 'r4'`);
    await check('update to null');
    await c.query(`DELETE FROM ${t} WHERE id IN ('r1', 'r3')`);
    await check('delete');
    const before = (await c.query(`SELECT slot, tsv::text, doclen FROM ${t} ORDER BY slot`)).rows;
    await c.query(`UPDATE ${t} SET tsv = NULL`);
    for (const sql of fullTextReindexSql(t)) await c.query(sql);
    await check('reindex');
    assert.deepEqual((await c.query(`SELECT slot, tsv::text, doclen FROM ${t} ORDER BY slot`)).rows, before, 'reindex recomputes tsv');
    await c.query(`TRUNCATE ${t}`);
    await check('truncate');
  });
});

/** A seeded generator (LCG) of numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('PostgreSQL: bm25Search returns the top k of the embedded store\'s BM25 on a Zipf corpus (scores equal, filters, phrases, syntax quoted)', { skip: PG_SKIP, timeout: 120_000 }, async () => {
  const rnd = random(15);
  const vocab = ['the', 'of', 'a', 'and', 'cat', 'cats', 'dog', 'dogs', 'running', 'runs', 'analogy', 'analogies', 'us', 'use', 'as', 'is',
    'connection', 'connected', 'Élan', 'élans', 'naïve', '1e5x', 'x½x', '三国演义', 'boundary-layer', 'e-mail', 'foo@bar.com', 'C++', 'aircraft',
    'wing', 'wings', 'flow', 'flows', 'flowing', 'shock', 'wave', 'waves', 'ǂ', 'O\'Brien', 'don\'t', 'v2', 'mach', '3s', 'audibly', 'audible'];
  const word = (): string => vocab[Math.min(vocab.length - 1, Math.floor(vocab.length * rnd() ** 2.2))]!;
  const docs: (string | null)[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 97 === 5) docs.push(null);
    else if (i % 89 === 7) docs.push('');
    else docs.push(Array.from({ length: 1 + Math.floor(rnd() * 40) }, word).join(rnd() < 0.5 ? ' ' : ', '));
  }
  const { db } = fts5(docs);
  // The embedded store's full ranking (no limit) on an FTS5 table of the same documents: slot → score, and the scores best first.
  const ranking = (text: string, keep: (slot: number) => boolean): { score: Map<number, number>; best: number[] } => {
    const all = sqliteBm25(db, 'unused', 't', text, docs.length, { sql: '1', params: [] });
    const rows = Array.from(all.slots, (slot, i) => [slot, all.scores[i]!] as [number, number]).filter(([slot]) => keep(slot));
    return { score: new Map(rows), best: rows.map((r) => r[1]) };
  };
  await withFts(async (c) => {
    const t = await table(c, 2, docs);
    const same = async (text: string, limit: number, filter: { sql: string; params: unknown[] }, keep: (slot: number) => boolean): Promise<void> => {
      const want = ranking(text, keep);
      const got = await bm25Search(c, t, text, limit, filter);
      const what = `${JSON.stringify(text)} limit ${limit} ${filter.sql}`;
      assert.equal(got.slots.length, Math.min(limit, want.best.length), `${what}: hits`);
      got.slots.forEach((slot, i) => {
        const s = want.score.get(slot);
        assert.ok(s !== undefined, `${what}: slot ${slot} is not a SQLite hit`);
        assert.ok(Math.abs(got.scores[i]! - s) <= 1e-6 * Math.abs(s), `${what}: slot ${slot} scores ${got.scores[i]} (SQLite ${s})`);
        assert.ok(Math.abs(got.scores[i]! - want.best[i]!) <= 1e-6 * Math.abs(want.best[i]!), `${what}: rank ${i + 1} scores ${got.scores[i]} (SQLite ${want.best[i]})`);
      });
    };
    const all = { sql: 'true', params: [] };
    const queries = ['cat', 'the cat', 'dogs running', 'analogy', 'us', 'as is', 'élan', 'naive', '1e5x', 'x½x', '三国演义', 'boundary layer', 'mail',
      'foo bar com', 'c', 'obrien', 'brien', 'don t', '3s', 'audibly', 'the of a and', 'wing flow shock wave', 'flows waves wings running connected cat',
      'cat cat dog', 'flow flows FLOW wing', 'x½x x½x 1e5x', 'the the the cat'];
    for (let q = 0; q < 40; q++) queries.push(Array.from({ length: 1 + Math.floor(rnd() * 8) }, word).join(' '));
    for (const text of queries) {
      for (const limit of [1, 10, 100]) await same(text, limit, all, () => true);
      await same(text, 10, { sql: `(r.metadata->>'g')::int IN ($1, $2)`, params: [1, 3] }, (slot) => [1, 3].includes(slot % 5));
    }
    // Without statement triggers (counts: 'scan', for Citus) the search counts documents and tokens itself: the same hits.
    const scanned = await table(c, 4, docs, 'scan');
    assert.equal((await c.query(`SELECT count(*)::integer AS n FROM omnivec.fts_stats WHERE tbl = $1`, [scanned])).rows[0].n, 0);
    for (const text of queries.slice(0, 10)) {
      assert.deepEqual(await bm25Search(c, scanned, text, 20, all), await bm25Search(c, t, text, 20, all), text);
    }
    // User text is never query syntax; empty or punctuation-only text finds nothing.
    for (const text of [`"cat" (NEAR* -dog`, `cat & !dog | wing:*`, `'cat'`, `cat\\ dog`, `<-> cat`]) await same(text, 10, all, () => true);
    for (const text of ['', '   ', '-- !! ()', '*']) assert.equal((await bm25Search(c, t, text, 10, all)).slots.length, 0);
    assert.equal((await bm25Search(c, t, 'cat', 0, all)).slots.length, 0);
    // Equal scores: the smaller slot first.
    const tie = await table(c, 3, ['cat dog', 'dog cat', 'cat dog']);
    assert.deepEqual(Array.from((await bm25Search(c, tie, 'cat', 10, all)).slots), [1, 2, 3]);
  });
});

test('PostgreSQL: a document beyond tsvector\'s 16 383 positions keeps its term frequencies (up to 255)', { skip: PG_SKIP }, async () => {
  const long = `${'filler words here '.repeat(6000)}${'cat '.repeat(100)}dog ${'mouse '.repeat(300)}`;
  const docs = [long, 'cat dog', 'a cat sat on a mat', 'mouse'];
  const { db } = fts5(docs);
  await withFts(async (c) => {
    const t = await table(c, 5, docs);
    assert.deepEqual((await c.query(`SELECT doclen FROM ${t} ORDER BY slot`)).rows.map((r: { doclen: number }) => r.doclen), [18401, 2, 6, 1]);
    for (const text of ['cat', 'dog', 'cat dog', 'a']) {
      const s = sqliteBm25(db, 'unused', 't', text, 10, { sql: '1', params: [] });
      const want = Array.from(s.slots, (slot, i) => [slot, s.scores[i]!] as [number, number]);
      const got = await bm25Search(c, t, text, 10, { sql: 'true', params: [] });
      assert.deepEqual(Array.from(got.slots), want.map((w) => w[0]), text);
      got.scores.forEach((s, i) => assert.ok(Math.abs(s - want[i]![1]) <= 1e-6 * Math.abs(want[i]![1]), `${text}: ${s} vs ${want[i]![1]}`));
    }
    // "mouse" 300 times, "filler" 6 000: stored as 255 (tsvector's cap) — the long document scores a little lower than in SQLite.
    for (const [text, within] of [['mouse', 0.005], ['filler', 0.02]] as const) {
      const got = await bm25Search(c, t, text, 10, { sql: 'true', params: [] });
      const s = sqliteBm25(db, 'unused', 't', text, 10, { sql: '1', params: [] });
      const want = Array.from(s.slots, (slot, i) => [slot, s.scores[i]!] as [number, number]);
      assert.deepEqual(Array.from(got.slots), want.map((w) => w[0]), text);
      const first = want.find((w) => w[0] === 1)![1];
      const score = got.scores[Array.from(got.slots).indexOf(1)]!;
      assert.ok(score < first && score > first * (1 - within), `${text}: capped tf scores ${score} (SQLite ${first})`);
    }
  });
});
