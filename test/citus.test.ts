/**
 * Collections on a Citus cluster (docs/postgres.md, "Citus"): run when OMNIVEC_TEST_CITUS_URL names
 * a coordinator (scripts/citus-up.sh starts 1 coordinator + 2 workers and prints it), skipped with
 * the reason otherwise. The tests own the schema `omnivec` of that database: they drop it first.
 *
 * - The record store conformance suite, with collections sharded as a whole and by id.
 * - Placement: a collection sharded by id is a hash-distributed table with shards on every worker,
 *   and a nearest query runs as one task per shard merged on the coordinator; collections sharded
 *   as a whole are single-shard tables spread over the workers.
 * - The same answers as the embedded store: exact hits equal, HNSW recall@10 ≥ 0.95 with and
 *   without filters at 50 / 1 / 0.1 %.
 * - `omnivec migrate` embedded → Citus → embedded, export byte-equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { runRecordStoreConformance } from '../src/db/store/conformance.js';
import { PostgresStore } from '../src/db/store/postgres/postgres-store.js';
import { openDatabase, type Database } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import type { Where } from '../src/db/where.js';
import { withTempDir } from './helpers/assertions.js';
import { cliInProcess as cli } from './helpers/cli.js';

const CITUS_URL = process.env.OMNIVEC_TEST_CITUS_URL || undefined;
const CITUS_SKIP: string | false = CITUS_URL === undefined
  ? 'no Citus cluster: set OMNIVEC_TEST_CITUS_URL=postgres://… of a coordinator (scripts/citus-up.sh starts one; docs/postgres.md, "A local Citus cluster")'
  : false;

async function admin<T = unknown>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: CITUS_URL });
  await c.connect();
  try { return (await c.query(sql, params)).rows as T[]; } finally { await c.end(); }
}

/** Drops what omnivec made in the test database (distributed tables go with their shards). */
async function reset(): Promise<void> {
  await admin('DROP SCHEMA IF EXISTS omnivec CASCADE');
}

if (CITUS_SKIP !== false) {
  test('Citus: conformance, placement, answers, migrate', { skip: CITUS_SKIP }, () => undefined);
} else {
  for (const shardBy of ['collection', 'id'] as const) {
    runRecordStoreConformance(`Citus, sharded by ${shardBy}`, {
      open: async () => { await reset(); return PostgresStore.open(CITUS_URL!, { shardBy }); },
      cleanup: reset,
    });
  }

  const N = 6000;
  const DIM = 16;
  const K = 10;

  function data(): { ids: string[]; vectors: number[][]; metadatas: Record<string, unknown>[]; queries: number[][] } {
    const rng = new Random(23);
    const centres = Array.from({ length: 40 }, () => Array.from({ length: DIM }, () => rng.gaussian() * 0.7));
    const point = (): number[] => centres[rng.int(40)]!.map((x) => x + rng.gaussian());
    const vectors = Array.from({ length: N }, point);
    return {
      ids: vectors.map((_, i) => `p${i}`), vectors,
      metadatas: vectors.map((_, i) => ({ sel: (i * 7919) % 1000, half: i % 2 === 0 ? 'even' : 'odd' })),
      queries: Array.from({ length: 30 }, point),
    };
  }

  async function answers(db: Database, name: string, queries: number[][], where: Where | undefined): Promise<string[][]> {
    const c = await db.getCollection(name);
    const out: string[][] = [];
    for (const vector of queries) out.push((await c.query({ vector, k: K, where })).ids);
    return out;
  }

  test('Citus: by id a hash-distributed table over both workers, a query one task per shard; as a whole single-shard tables spread over the workers; the embedded store\'s answers', { timeout: 600_000 }, async (t) => {
    await reset();
    const d = data();
    await withTempDir('omnivec-citus-', async (dir) => {
      const emb = await openDatabase(dir);
      const cit = await openDatabase(CITUS_URL!);
      try {
        for (const db of [emb, cit]) {
          for (const [name, index] of [['big_flat', 'flat'], ['big', 'hnsw']] as const) {
            const c = await db.createCollection({ name, dim: DIM, metric: 'cosine', index, shardBy: 'id' });
            await c.add({ ids: d.ids, vectors: d.vectors, metadatas: d.metadatas } as never);
          }
        }
        for (let i = 0; i < 4; i++) await (await cit.createCollection({ name: `small${i}`, dim: 3 })).add([{ id: 'x', vector: [1, 2, 3] }]);

        const parts = await admin<{ rel: string; method: string }>(`SELECT logicalrelid::text AS rel, partmethod AS method FROM pg_dist_partition WHERE logicalrelid::text LIKE 'omnivec.%_r'`);
        const cids = Object.fromEntries((await admin<{ name: string; cid: string }>('SELECT name, cid FROM omnivec.collections')).map((r) => [r.name, Number(r.cid)]));
        const method = (name: string): string | undefined => parts.find((p) => p.rel === `omnivec.c${cids[name]}_r`)?.method;
        assert.equal(method('big'), 'h', 'sharded by id: hash-distributed');
        assert.equal(method('small0'), 'n', 'sharded as a whole: a single-shard table');
        const nodes = async (name: string): Promise<number[]> => (await admin<{ port: number }>(
          `SELECT DISTINCT nodeport AS port FROM citus_shards WHERE table_name::text = $1 ORDER BY 1`, [`omnivec.c${cids[name]}_r`])).map((r) => Number(r.port));
        assert.ok((await nodes('big')).length >= 2, `big's shards on ${JSON.stringify(await nodes('big'))}`);
        const smallNodes = new Set<number>();
        for (let i = 0; i < 4; i++) for (const p of await nodes(`small${i}`)) smallNodes.add(p);
        assert.ok(smallNodes.size >= 2, `the small collections on ${JSON.stringify([...smallNodes])}`);
        const plan = (await admin<{ 'QUERY PLAN': string }>(
          `EXPLAIN SELECT slot FROM omnivec.c${cids.big}_r WHERE metadata @> '{"half": "even"}' ORDER BY vector <=> $1::vector(${DIM}) LIMIT 10`,
          [`[${d.queries[0]!.join(',')}]`])).map((r) => r['QUERY PLAN']).join('\n');
        assert.match(plan, /Custom Scan \(Citus Adaptive\)/);
        const tasks = Number(/Task Count: (\d+)/.exec(plan)?.[1]);
        assert.ok(tasks > 1, `one task per shard: ${plan}`);
        t.diagnostic(`a nearest query on the collection sharded by id: ${tasks} tasks`);

        for (const [label, where, matching] of [['none', undefined, N], ['50 %', { half: 'even' }, N / 2], ['1 %', { sel: { $lt: 10 } }, N / 100], ['0.1 %', { sel: 0 }, N / 1000]] as const) {
          const truth = await answers(emb, 'big_flat', d.queries, where);
          assert.deepEqual(await answers(cit, 'big_flat', d.queries, where), truth, `exact, filter ${label}`);
          const got = await answers(cit, 'big', d.queries, where);
          let hit = 0;
          got.forEach((g, q) => { const s = new Set(truth[q]); for (const id of g) if (s.has(id)) hit++; });
          const recall = hit / truth.reduce((a, x) => a + x.length, 0);
          t.diagnostic(`Citus HNSW, filter ${label}: recall@10 ${recall.toFixed(3)}`);
          assert.ok(got.every((ids) => ids.length === Math.min(K, matching)), `k hits, filter ${label}`);
          assert.ok(recall >= 0.95, `recall@10 ${recall} with filter ${label}`);
        }
      } finally {
        await emb.close();
        await cit.close();
      }
    });
  });

  test('Citus: BM25 full text ranks as the embedded store (documents sharded by id; counts by a scan of the shards)', { timeout: 300_000 }, async () => {
    await reset();
    const rng = new Random(9);
    // Zipf-like words: a few common ones in most documents, many rare ones.
    const vocab = Array.from({ length: 400 }, (_, i) => `w${i}${['', 'ing', 's', 'ed'][i % 4]}`);
    const word = (): string => vocab[Math.min(vocab.length - 1, Math.floor(Math.exp(rng.next() * Math.log(vocab.length + 1)) - 1))]!;
    const docs = Array.from({ length: 800 }, () => Array.from({ length: 5 + rng.int(30) }, word).join(' '));
    await withTempDir('omnivec-citus-bm25-', async (dir) => {
      const emb = await openDatabase(dir);
      const cit = await openDatabase(CITUS_URL!);
      try {
        for (const db of [emb, cit]) {
          await db.createCollection({
            name: 'docs', dim: 2, shardBy: 'id',
            records: docs.map((d, i) => ({ id: `d${i}`, vector: [1, i], document: d, metadata: { odd: i % 2 === 1 } })),
          });
        }
        const [ce, cc] = [await emb.getCollection('docs'), await cit.getCollection('docs')];
        for (let q = 0; q < 40; q++) {
          const text = Array.from({ length: 1 + rng.int(4) }, word).join(' ');
          const where = q % 3 === 0 ? { odd: true } : undefined;
          const a = await ce.query({ fullText: text, k: 20, where, include: [] });
          const b = await cc.query({ fullText: text, k: 20, where, include: [] });
          assert.deepEqual(b.ids, a.ids, `"${text}"`);
          assert.deepEqual(Array.from(b.scores), Array.from(a.scores), `"${text}" scores`);
        }
      } finally {
        await emb.close();
        await cit.close();
      }
    });
    await reset();
  });

  test('Citus: omnivec migrate embedded → Citus (sharded by id) → embedded, export byte-equal', { timeout: 300_000 }, async () => {
    await reset();
    await withTempDir('omnivec-citus-migrate-', async (dir) => {
      const a = join(dir, 'a');
      const db = await openDatabase(a);
      try {
        const rng = new Random(5);
        await db.createCollection({
          name: 'docs', dim: 8, index: 'hnsw', shardBy: 'id',
          records: Array.from({ length: 1500 }, (_, i) => ({
            id: `d${i}`, vector: Array.from({ length: 8 }, () => rng.gaussian()),
            ...(i % 3 === 0 ? {} : { document: `text ${i}` }), metadata: { n: i, b: i % 2 === 0 },
            ...(i % 2 === 0 ? { sparse: { [`t${i % 9}`]: 1 + i / 100 } } : {}),
            ...(i % 5 === 0 ? { multiVector: [[1, 0, i], [0, 1, -i]] } : {}),
          })),
        });
      } finally {
        await db.close();
      }
      const exp = async (loc: string, file: string): Promise<string> => {
        const r = await cli(['--db', loc, 'export', 'docs', '--out', join(dir, file)]);
        assert.equal(r.code, 0, r.stderr);
        return readFileSync(join(dir, file), 'utf8');
      };
      const before = await exp(a, 'a.jsonl');
      assert.equal((await cli(['migrate', '--from', a, '--to', CITUS_URL!, '--batch', '500'])).code, 0);
      assert.equal(await exp(CITUS_URL!, 'c.jsonl'), before);
      assert.equal((await cli(['migrate', '--from', CITUS_URL!, '--to', join(dir, 'b')])).code, 0);
      assert.equal(await exp(join(dir, 'b'), 'b.jsonl'), before);
    });
    await reset();
  });
}
