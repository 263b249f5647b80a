import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { bm25Search, fullTextDdl, fullTextSetupSql } from '../src/db/store/postgres/fulltext.js';
import { PG_SKIP, withPgDatabase } from './helpers/postgres.js';

/**
 * BM25 of the PostgreSQL store against the embedded store's (SQLite FTS5 bm25()) on Cranfield
 * (../shared/data/ir-cranfield: 1 400 abstracts, 225 queries; a document is its title and
 * abstract). Every query runs through both, top 100 each. Agreement per query: the union of the
 * two top-100 lists, each document ranked in each list (1…100, missing = 101), Spearman's ρ as
 * the Pearson correlation of the two rank vectors (1 when the lists are equal, even of one
 * element); the issue asks a mean ≥ 0.95. Printed: mean / median / min ρ, the queries whose lists
 * are identical, and the largest relative score difference on documents both lists hold.
 */
const DATA = join(import.meta.dirname, '..', '..', 'shared', 'data', 'ir-cranfield');
const NO_DATA = existsSync(join(DATA, 'cran.all.1400')) ? false : `no Cranfield data at ${DATA} (../shared/data/ir-cranfield)`;
const K = 100;

/** SMART records: `.I n` then fields `.X` (lines up to the next field). */
function smart(text: string): { id: string; fields: Record<string, string> }[] {
  const out: { id: string; fields: Record<string, string> }[] = [];
  let field = '';
  for (const line of text.split('\n')) {
    const m = /^\.([A-Z])(?:\s+(.*))?$/.exec(line);
    if (m?.[1] === 'I') {
      out.push({ id: m[2]!.trim(), fields: {} });
      field = '';
    } else if (m !== null) {
      field = m[1]!;
      out.at(-1)!.fields[field] ??= '';
    } else if (field !== '') {
      out.at(-1)!.fields[field] += line + '\n';
    }
  }
  return out;
}

/** Spearman's ρ of two ranked lists over their union (missing = K + 1). */
function spearman(a: readonly string[], b: readonly string[]): number {
  const ra = new Map(a.map((id, i) => [id, i + 1]));
  const rb = new Map(b.map((id, i) => [id, i + 1]));
  const union = [...new Set([...a, ...b])];
  if (a.length === b.length && a.every((id, i) => b[i] === id)) return 1;
  const x = union.map((id) => ra.get(id) ?? K + 1);
  const y = union.map((id) => rb.get(id) ?? K + 1);
  const mean = (v: number[]): number => v.reduce((s, t) => s + t, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

function summary(rhos: number[]): { mean: number; median: number; min: number } {
  const s = [...rhos].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return {
    mean: s.reduce((t, v) => t + v, 0) / s.length,
    median: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2,
    min: s[0]!,
  };
}

test('BM25 on Cranfield: the PostgreSQL store ranks as the embedded store (Spearman ≥ 0.95 on the top 100)', { skip: PG_SKIP || NO_DATA, timeout: 600_000 }, async () => {
  const docs = smart(readFileSync(join(DATA, 'cran.all.1400'), 'utf8'))
    .map((d) => ({ id: `d${d.id}`, document: `${d.fields.T ?? ''}${d.fields.W ?? ''}` }));
  const queries = smart(readFileSync(join(DATA, 'cran.qry'), 'utf8')).map((q) => (q.fields.W ?? '').trim());
  assert.equal(docs.length, 1400);
  assert.equal(queries.length, 225);

  // The embedded store, through the public API.
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bm25-'));
  const embedded: { ids: string[]; scores: Float32Array }[] = [];
  try {
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'cran', dim: 2, index: 'flat' });
    await c.add(docs.map((d, i) => ({ id: d.id, vector: [1, 1 + (i % 7)], document: d.document })));
    for (const q of queries) {
      const r = await c.query({ fullText: q, k: K, include: [] });
      embedded.push({ ids: r.ids, scores: r.scores });
    }
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const compare = (label: string, results: { ids: string[]; scores: ArrayLike<number> }[], ms: number): void => {
    const rhos: number[] = [];
    let identical = 0;
    let worst = 0;
    results.forEach((r, qi) => {
      const e = embedded[qi]!;
      rhos.push(spearman(e.ids, r.ids));
      if (e.ids.length === r.ids.length && e.ids.every((id, i) => r.ids[i] === id)) identical++;
      const score = new Map(r.ids.map((id, i) => [id, r.scores[i]!]));
      e.ids.forEach((id, i) => {
        const s = score.get(id);
        if (s !== undefined) worst = Math.max(worst, Math.abs(s - e.scores[i]!) / Math.max(Math.abs(e.scores[i]!), 1e-9));
      });
    });
    const { mean, median, min } = summary(rhos);
    console.log(`# BM25 Cranfield (${label}), ${queries.length} queries, top ${K}: Spearman mean ${mean.toFixed(4)} median ${median.toFixed(4)} min ${min.toFixed(4)}; ` +
      `identical lists ${identical}/${queries.length}; largest relative score difference ${worst.toExponential(2)}; ${ms.toFixed(2)} ms/query`);
    assert.ok(mean >= 0.95, `${label}: mean Spearman ${mean} < 0.95`);
  };

  // fulltext.ts on a records table made with its DDL, driven with a pg client.
  await withPgDatabase('bm25', async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS vector');
      await client.query('CREATE EXTENSION IF NOT EXISTS unaccent');
      await client.query('BEGIN');
      for (const sql of fullTextSetupSql()) await client.query(sql);
      await client.query(`CREATE TABLE omnivec.c1_r(slot bigserial PRIMARY KEY, id text UNIQUE, vector vector(2), document text,
        metadata jsonb, sparse jsonb, multivector bytea, vseq bigint)`);
      for (const sql of fullTextDdl('omnivec.c1_r', 1)) await client.query(sql);
      await client.query('COMMIT');
      await client.query(`INSERT INTO omnivec.c1_r(id, vector, document, vseq) SELECT id, '[1,1]', document, 1
        FROM unnest($1::text[], $2::text[]) AS u(id, document)`, [docs.map((d) => d.id), docs.map((d) => d.document)]);
      await client.query('ANALYZE omnivec.c1_r');
      const idOf = new Map(((await client.query('SELECT slot, id FROM omnivec.c1_r')).rows as { slot: string; id: string }[]).map((r) => [Number(r.slot), r.id]));
      const results: { ids: string[]; scores: Float32Array }[] = [];
      const t0 = performance.now();
      for (const q of queries) {
        const r = await bm25Search(client, 'omnivec.c1_r', q, K, { sql: 'true', params: [] });
        results.push({ ids: Array.from(r.slots, (s) => idOf.get(s)!), scores: r.scores });
      }
      compare('fulltext.ts', results, (performance.now() - t0) / queries.length);
    } finally {
      await client.end();
    }
  });

  // The PostgreSQL store through the public API, once it builds its tables with fulltext.ts (a doclen column).
  await withPgDatabase('bm25_store', async (url) => {
    const db = await openDatabase(url);
    try {
      const c = await db.createCollection({ name: 'cran', dim: 2, index: 'flat' });
      const probe = new pg.Client({ connectionString: url });
      await probe.connect();
      const wired = ((await probe.query(`SELECT count(*)::integer AS n FROM information_schema.columns
        WHERE table_schema = 'omnivec' AND column_name = 'doclen'`)).rows[0] as { n: number }).n > 0;
      await probe.end();
      if (!wired) {
        console.log('# BM25 Cranfield (store): the PostgreSQL store does not build its tables with fulltext.ts yet: not compared');
        return;
      }
      await c.add(docs.map((d, i) => ({ id: d.id, vector: [1, 1 + (i % 7)], document: d.document })));
      const results: { ids: string[]; scores: Float32Array }[] = [];
      const t0 = performance.now();
      for (const q of queries) {
        const r = await c.query({ fullText: q, k: K, include: [] });
        results.push({ ids: r.ids, scores: r.scores });
      }
      compare('the store, openDatabase(postgres://)', results, (performance.now() - t0) / queries.length);
    } finally {
      await db.close();
    }
  });
});
