import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from './database.js';
import { Random } from '../vector/random.js';
import { createIndex, loadIndex, saveIndex, type IndexSpec } from '../indexes/registry.js';
import type { SegmentedIndex } from '../indexes/segmented.js';
import { decodeHeader, HEADER_BYTES } from '../storage/header.js';
import { VectorFile, vectorFilePath } from './store/sqlite/vector-file.js';

/**
 * A collection cannot pass segmentBytes (its spec takes each kind's own parameters only), so a
 * multi-segment index is put in its place as the snapshot — what a collection past 1.875 GiB
 * writes — and the collection must open it, answer, take writes and write it back.
 */
test('a collection whose index spans several segments opens its snapshot, answers, takes writes and saves it again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-db-seg-'));
  try {
    const dim = 16;
    const n = 3000;
    const r = new Random(3);
    const data = new Float32Array(n * dim).map(() => r.gaussian());
    let db = await openDatabase(dir);
    let c = await db.createCollection({ name: 'big', dim, metric: 'l2', index: 'hnsw' });
    await c.add({ ids: Array.from({ length: n }, (_, i) => `v${i}`), vectors: data });
    await db.close();

    // Rewrite the snapshot as the same index in 64 KiB segments.
    const snapshot = (): string => join(dir, 'indexes', readdirSync(join(dir, 'indexes')).find((f) => f.endsWith('.idx'))!);
    const path = snapshot();
    // The database's snapshots leave the vectors in the vector file (docs/db.md): read them from there.
    const file = VectorFile.open(vectorFilePath(dir, 1), dim, 1, { readOnly: true, create: false });
    const one = await loadIndex(path, { vectors: { dim, end: n, readRows: (first, count, dst) => { file.readRows(first, count, dst); } } });
    file.close();
    const multi = createIndex({ kind: one.kind, dim, metric: one.metric, ...one.params, segmentBytes: 64 * 1024 } as IndexSpec) as SegmentedIndex;
    const ids = one.ids();
    const vecs = new Float32Array(ids.length * dim);
    ids.forEach((id, i) => vecs.set(one.getVector(id)!, i * dim));
    multi.add(ids, { data: vecs, dim, count: ids.length });
    assert.ok(multi.segmentCount >= 3);
    await saveIndex(multi, path, { copy: false });
    const version = (p: string): number => decodeHeader(readFileSync(p).subarray(0, HEADER_BYTES), readFileSync(p).length - HEADER_BYTES).version;
    assert.equal(version(path), 2);

    db = await openDatabase(dir);
    c = await db.getCollection('big');
    await c.open();
    assert.equal(c.indexStatus().origin, 'snapshot', 'the version-2 snapshot is used, not rebuilt');
    assert.equal(c.indexStatus().size, n);
    for (const i of [5, 1234, 2999]) {
      assert.equal((await c.query({ vector: data.subarray(i * dim, (i + 1) * dim), k: 1 })).ids[0], `v${i}`);
    }
    await c.add([{ id: 'new', vector: data.subarray(0, dim) }]);
    await c.delete({ ids: ['v7'] });
    assert.equal((await c.query({ vector: data.subarray(7 * dim, 8 * dim), k: 1 })).ids.includes('v7'), false);
    assert.deepEqual((await c.verify()).problems, []);
    await db.close();

    db = await openDatabase(dir);
    c = await db.getCollection('big');
    await c.open();
    assert.equal(c.indexStatus().origin, 'snapshot');
    assert.equal(c.indexStatus().caughtUp, 0, 'the snapshot written at close holds the writes');
    assert.equal(c.indexStatus().size, n);
    assert.equal(readdirSync(join(dir, 'indexes')).filter((f) => f.endsWith('.idx')).length, 1);
    assert.equal(version(snapshot()), 3, 'the database wrote the segmented index back without its vectors (version 3)');
    assert.equal((await c.query({ vector: data.subarray(0, dim), k: 2 })).ids.sort().join(), ['new', 'v0'].join());
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
