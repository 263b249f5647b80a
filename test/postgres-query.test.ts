/**
 * The same queries on the embedded store and on PostgreSQL + pgvector (docs/postgres.md, "Queries"):
 * exact search (a flat collection: pgvector's sequential scan) returns the same hits in the same
 * order for each metric, with and without filters; HNSW (pgvector's index, iterative scans for
 * filters) reaches recall@10 ≥ 0.95 against exact with no filter and with filters that keep 50 %,
 * 1 % and 0.1 % of the records — and returns k hits whenever k records match. Skips without
 * OMNIVEC_TEST_PG_URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Database } from '../src/db/database.js';
import type { Metric } from '../src/vector/metric.js';
import { Random } from '../src/vector/random.js';
import type { Where } from '../src/db/where.js';
import { withTempDir } from './helpers/assertions.js';
import { PG_SKIP, withPgDatabase } from './helpers/postgres.js';

const N = 10_000;
const DIM = 32;
const QUERIES = 40;
const K = 10;

/** Clustered Gaussian data (HNSW's usual ground), `sel` = i mod 1000 for the filters. */
function data(): { ids: string[]; vectors: number[][]; metadatas: Record<string, unknown>[]; queries: number[][] } {
  const rng = new Random(11);
  const centres = Array.from({ length: 50 }, () => Array.from({ length: DIM }, () => rng.gaussian() * 0.7));
  const point = (): number[] => { const c = centres[rng.int(50)]!; return c.map((x) => x + rng.gaussian()); };
  const vectors = Array.from({ length: N }, point);
  return {
    ids: vectors.map((_, i) => `p${i}`), vectors,
    metadatas: vectors.map((_, i) => ({ sel: (i * 7919) % 1000, half: i % 2 === 0 ? 'even' : 'odd' })),
    queries: Array.from({ length: QUERIES }, point),
  };
}

const FILTERS: [string, Where | undefined, number][] = [
  ['none', undefined, N],
  ['50 %', { half: 'even' }, N / 2],
  ['1 %', { sel: { $lt: 10 } }, N / 100],
  ['0.1 %', { sel: 0 }, N / 1000],
];

async function fill(db: Database, name: string, metric: Metric, index: unknown, d: ReturnType<typeof data>): Promise<void> {
  const c = await db.createCollection({ name, dim: DIM, metric, index });
  await c.add({ ids: d.ids, vectors: d.vectors, metadatas: d.metadatas } as never);
}

async function answers(db: Database, name: string, d: ReturnType<typeof data>, where: Where | undefined, efSearch?: number): Promise<string[][]> {
  const c = await db.getCollection(name);
  const out: string[][] = [];
  for (const vector of d.queries) out.push((await c.query({ vector, k: K, where, ...(efSearch !== undefined ? { efSearch } : {}) })).ids);
  return out;
}

function recall(got: string[][], truth: string[][]): number {
  let hit = 0;
  let all = 0;
  got.forEach((g, q) => { const t = new Set(truth[q]); all += t.size; for (const id of g) if (t.has(id)) hit++; });
  return all === 0 ? 1 : hit / all;
}

test('the same queries on the embedded store and on PostgreSQL: exact hits equal; HNSW recall@10 ≥ 0.95 with and without filters at 50 / 1 / 0.1 %', { skip: PG_SKIP, timeout: 600_000 }, async (t) => {
  const d = data();
  await withTempDir('omnivec-pg-query-', async (dir) => {
    await withPgDatabase('pg_query', async (url) => {
      const emb = await openDatabase(dir);
      const pg = await openDatabase(url);
      try {
        for (const metric of ['cosine', 'l2', 'ip'] as const) {
          await fill(emb, `flat_${metric}`, metric, 'flat', d);
          await fill(pg, `flat_${metric}`, metric, 'flat', d);
          for (const [label, where] of FILTERS) {
            const a = await answers(emb, `flat_${metric}`, d, where);
            const b = await answers(pg, `flat_${metric}`, d, where);
            assert.deepEqual(b, a, `exact ${metric}, filter ${label}`);
          }
        }
        for (const metric of ['cosine', 'l2'] as const) {
          await fill(emb, `hnsw_${metric}`, metric, 'hnsw', d);
          await fill(pg, `hnsw_${metric}`, metric, 'hnsw', d);
          for (const [label, where, matching] of FILTERS) {
            const truth = await answers(emb, `flat_${metric}`, d, where);
            const re = recall(await answers(emb, `hnsw_${metric}`, d, where), truth);
            const got = await answers(pg, `hnsw_${metric}`, d, where);
            const rp = recall(got, truth);
            t.diagnostic(`hnsw ${metric}, filter ${label}: recall@10 PostgreSQL ${rp.toFixed(3)}, embedded ${re.toFixed(3)}`);
            assert.ok(got.every((ids) => ids.length === Math.min(K, matching)), `hnsw ${metric}, filter ${label}: k hits for every query`);
            assert.ok(rp >= 0.95, `hnsw ${metric}, filter ${label}: PostgreSQL recall@10 ${rp.toFixed(3)} < 0.95`);
          }
        }
      } finally {
        await emb.close();
        await pg.close();
      }
    });
  });
});

test('PostgreSQL beyond pgvector\'s index limits: 2 500 dims (a halfvec expression index), 4 500 (exact scans), a Matryoshka prefix; vectors read back as the float32 written', { skip: PG_SKIP, timeout: 300_000 }, async () => {
  await withPgDatabase('pg_dims', async (url) => {
    const db = await openDatabase(url);
    try {
      const rng = new Random(3);
      for (const [dim, indexDims] of [[2500, undefined], [4500, undefined], [3000, 256]] as const) {
        const name = `d${dim}_${indexDims ?? 'all'}`;
        const vectors = Array.from({ length: 300 }, () => Float32Array.from({ length: dim }, () => rng.gaussian()));
        const c = await db.createCollection({ name, dim, index: 'hnsw', ...(indexDims !== undefined ? { indexDims } : {}) });
        await c.add({ ids: vectors.map((_, i) => `v${i}`), vectors } as never);
        for (const i of [0, 17, 299]) {
          const r = await c.query({ vector: vectors[i]!, k: 3 });
          assert.equal(r.ids[0], `v${i}`, `${name}: a stored vector is its own nearest`);
          assert.ok(Math.abs(r.distances[0]!) < 1e-5, `${name}: distance ${r.distances[0]}`);
        }
        const got = await c.get({ ids: ['v17'], include: ['vectors'] });
        assert.deepEqual(Array.from(got.vectors![0]!), Array.from(vectors[17]!), `${name}: float32 values back as written`);
      }
    } finally {
      await db.close();
    }
  });
});
