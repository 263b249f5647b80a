/**
 * Issue 16 through the database and the CLI: a quantised collection built and queried with
 * threads (the README line), every quantisation surviving a reopen, and the bad-input errors.
 * The index-level conformance (every kind × quantisation × thread count against the float64
 * oracle) is in src/indexes/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { FlatIndex } from '../src/indexes/flat/flat-index.js';
import { clusteredData } from '../src/indexes/conformance.js';
import { readIvecs, writeFvecs } from '../src/io/vecs.js';
import { withTempDir } from './helpers/assertions.js';
import { cliInProcess } from './helpers/cli.js';

const cli = cliInProcess;

/** Mean recall@k of `got` rows (-1 for a missing hit) against the exact neighbours. */
function recallOf(got: Int32Array, truth: Uint32Array, count: number, k: number): number {
  let hit = 0;
  for (let q = 0; q < count; q++) {
    const want = new Set(truth.subarray(q * k, (q + 1) * k));
    for (let j = 0; j < k; j++) if (want.has(got[q * k + j]! as number)) hit++;
  }
  return hit / (count * k);
}

test('README: create --quantization int8, import a 100k × 128 .fvecs, query --vectors --threads 2: recall@10 ≥ 0.95 against exact ground truth', { timeout: 600_000 }, async () => {
  await withTempDir('omnivec-quant-cli-', async (dir) => {
    const data = clusteredData(16, 100_000, 200, 128, 200, 0.6);
    const base = join(dir, 'base.fvecs');
    const queries = join(dir, 'queries.fvecs');
    await writeFvecs(base, data.base);
    await writeFvecs(queries, data.queries);
    const exact = new FlatIndex({ dim: 128, metric: 'l2' });
    exact.add(Uint32Array.from({ length: data.base.count }, (_, i) => i), data.base);
    const truth = exact.searchBatch(data.queries, 10);
    const db = join(dir, 'db');
    let r = await cli(['--db', db, 'create', 'docs', '--dim', '128', '--metric', 'l2', '--index', 'hnsw', '--quantization', 'int8']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['--db', db, 'import', 'docs', base, '--threads', '2']);
    assert.equal(r.code, 0, r.stderr);
    const out = join(dir, 'r.ivecs');
    r = await cli(['--db', db, 'query', 'docs', '--vectors', queries, '--out', out, '-k', '10', '--threads', '2']);
    assert.equal(r.code, 0, r.stderr);
    const got = await readIvecs(out);
    assert.equal(got.count, 200);
    const recall = recallOf(got.ids, truth.ids, got.count, 10);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);
    const d = await openDatabase(db, { readOnly: true });
    try {
      const c = await d.getCollection('docs');
      assert.equal((await c.info()).index.quantization, 'int8');
      await c.queryBatch({ data: data.queries.data.subarray(0, 128), dim: 128, count: 1 }, 1);
      const st = c.indexStatus();
      assert.equal(st.kind, 'hnsw');
      // The codes are in the index's memory, the float32 vectors apart: well under the float index's 128 × 4 bytes a vector plus links.
      assert.ok(st.memoryBytes! / 100_000 < 400, `index memory ${st.memoryBytes! / 100_000} B a vector`);
    } finally {
      await d.close();
    }
  });
});

for (const [label, index, dim] of [
  ['flat int8', { kind: 'flat', quantization: 'int8' }, 16],
  ['hnsw int8', { kind: 'hnsw', quantization: 'int8' }, 16],
  ['hnsw binary', { kind: 'hnsw', quantization: 'binary' }, 64],
  ['ivf int8', { kind: 'ivf', nList: 16, quantization: 'int8' }, 16],
  ['ivf pq', { kind: 'ivf', nList: 8, quantization: 'pq', pqM: 4 }, 16],
] as const) {
  test(`a ${label} collection answers the same after a reopen (codes and parameters in the snapshot), and verify finds nothing`, { timeout: 120_000 }, async () => {
    await withTempDir('omnivec-quant-reopen-', async (dir) => {
      const data = clusteredData(7, 3000, 20, dim, 12);
      const ids = Array.from({ length: data.base.count }, (_, i) => `r${i}`);
      const ask = async (db: Awaited<ReturnType<typeof openDatabase>>): Promise<string[][]> => {
        const c = await db.getCollection('q');
        const res = await c.queryBatch(data.queries, 10);
        return res.ids;
      };
      let d = await openDatabase(dir, { threads: 1 });
      let before: string[][];
      try {
        const c = await d.createCollection({ name: 'q', dim, metric: 'l2', index });
        await c.add({ ids, vectors: data.base.data });
        before = await ask(d);
        assert.equal((await c.info()).indexKind, index.kind);
        await c.flush();
      } finally {
        await d.close();
      }
      d = await openDatabase(dir, { threads: 2 });
      try {
        const c = await d.getCollection('q');
        assert.deepEqual(await ask(d), before);
        assert.equal(c.indexStatus().origin, 'snapshot');
        const v = await c.verify();
        assert.ok(v.ok, v.problems.join('\n'));
      } finally {
        await d.close();
      }
    });
  });
}

test('bad input: an unknown --quantization, pq on a dimension pqM does not divide, pq outside IVF, --threads 0: clear errors, nothing created', async () => {
  await withTempDir('omnivec-quant-bad-', async (dir) => {
    const db = join(dir, 'db');
    let r = await cli(['--db', db, 'create', 'a', '--dim', '8', '--quantization', 'int4']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /quantization.*int4/);
    assert.match(r.stderr, /int8/);
    r = await cli(['--db', db, 'create', 'b', '--dim', '10', '--index', 'ivf', '--quantization', 'pq', '--pq-m', '4']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /10/);
    assert.match(r.stderr, /pqM|--pq-m/);
    r = await cli(['--db', db, 'create', 'c', '--dim', '8', '--index', 'hnsw', '--quantization', 'pq']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pq/);
    r = await cli(['--db', db, 'create', 'd', '--dim', '8', '--threads', '0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--threads/);
    r = await cli(['--db', db, 'list']);
    assert.deepEqual(r.lines, []);
    await assert.rejects(openDatabase(db, { threads: 1.5 }), /threads/);
  });
});
