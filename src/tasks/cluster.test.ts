import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../db/database.js';
import type { Metric } from '../vector/metric.js';
import { clusterCollection } from './cluster.js';
import { nmi, purity } from './metrics.js';
import { blobs } from '../../test/helpers/blobs.js';
import { withDatabase } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-cluster-', fn);

/** A collection of seeded blobs; ids `p000…` in a shuffled order, metadata { cls, keep: 'yes', half }. */
async function blobCollection(db: Database, name: string, metric: Metric, k: number, per: number, dim = 12) {
  const { batch, classes } = blobs(k, per, dim, 17, metric === 'cosine' ? 0.03 : 0.4, metric === 'cosine');
  const c = await db.createCollection({ name, dim, metric });
  const ids = Array.from({ length: batch.count }, (_, i) => `p${String(i).padStart(4, '0')}`);
  await c.add({ ids, vectors: batch.data, documents: ids.map((id) => `doc ${id}`), metadatas: ids.map((_, i) => ({ cls: classes[i]!, keep: 'yes', half: i % 2 })) });
  return { c, ids, classes };
}

for (const metric of ['l2', 'cosine'] as const) {
  for (const method of ['kmeans', 'minibatch'] as const) {
    test(`clusterCollection (${metric}, ${method}): k given recovers the classes; k chosen by the silhouette is the true k`, async () => {
      await withDb(async (db) => {
        const { c, ids, classes } = await blobCollection(db, 'blobs', metric, 5, 60);
        const byId = new Map(ids.map((id, i) => [id, classes[i]!]));
        const r = await clusterCollection(c, { k: 5, method });
        assert.equal(r.k, 5);
        assert.deepEqual(r.ids, [...ids].sort());
        const truth = r.ids.map((id) => byId.get(id)!);
        assert.equal(nmi(r.labels, truth), 1);
        assert.equal(purity(r.labels, truth), 1);
        assert.ok(r.silhouette > 0.7, `silhouette ${r.silhouette}`);
        assert.equal(r.tried, undefined);
        assert.equal(r.centroids.length, 5 * 12);

        const phases: string[] = [];
        const chosen = await clusterCollection(c, { method, kMax: 8, onProgress: (p) => phases.push(p.phase) });
        assert.equal(chosen.k, 5, JSON.stringify(chosen.tried));
        assert.deepEqual(chosen.tried!.map((t) => t.k), [2, 3, 4, 5, 6, 7, 8]);
        const best = Math.max(...chosen.tried!.map((t) => t.silhouette));
        assert.equal(chosen.silhouette, best);
        assert.ok(phases.includes('k-means k=5'));
        // Same seed, same answer; another seed, the same partition here.
        const again = await clusterCollection(c, { method, kMax: 8 });
        assert.deepEqual(again.labels, chosen.labels);
        assert.deepEqual(again.tried, chosen.tried);
      });
    });
  }
}

test('writeField: cluster numbers written into metadata, other fields, vectors and documents kept; where on the field', async () => {
  await withDb(async (db) => {
    const { c } = await blobCollection(db, 'w', 'l2', 3, 20);
    const before = await c.get({ ids: ['p0001'], include: ['vectors', 'documents', 'metadatas'] });
    const seq = c.seq;
    const r = await clusterCollection(c, { k: 3, writeField: 'cluster' });
    assert.deepEqual(r.written, { field: 'cluster', count: 60 });
    assert.equal(c.seq, seq + 1, 'one write (one transaction)');
    const after = await c.get({ ids: ['p0001'], include: ['vectors', 'documents', 'metadatas'] });
    assert.deepEqual(after.vectors, before.vectors);
    assert.deepEqual(after.documents, before.documents);
    const label = r.labels[r.ids.indexOf('p0001')]!;
    assert.deepEqual(after.metadatas![0], { ...before.metadatas![0], cluster: label });
    for (let k = 0; k < 3; k++) {
      const got = (await c.get({ where: { cluster: k }, include: [] })).ids.sort();
      assert.deepEqual(got, r.ids.filter((_, i) => r.labels[i] === k));
      assert.equal(got.length, r.sizes[k]);
    }
    // The index still finds the records by their vectors.
    const q = await c.queryById('p0001', { k: 3 });
    assert.equal(q.ids.length, 3);
  });
});

test('where and sample choose the records', async () => {
  await withDb(async (db) => {
    const { c } = await blobCollection(db, 's', 'l2', 3, 20);
    const r = await clusterCollection(c, { k: 2, where: { half: 0 } });
    assert.equal(r.ids.length, 30);
    assert.ok(r.ids.every((id) => Number(id.slice(1)) % 2 === 0));
    const s = await clusterCollection(c, { k: 2, sample: 10 });
    assert.deepEqual(s.ids, Array.from({ length: 10 }, (_, i) => `p${String(i).padStart(4, '0')}`));
  });
});

test('errors: k larger than the records, empty collection, filter matching nothing, bad options', async () => {
  await withDb(async (db) => {
    const { c } = await blobCollection(db, 'e', 'l2', 2, 5);
    await assert.rejects(clusterCollection(c, { k: 11 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /11/.test(e.message) && /10 records/.test(e.message));
    await assert.rejects(clusterCollection(c, { k: 2, where: { cls: 99 } }), { code: 'empty_index' });
    const empty = await db.createCollection({ name: 'empty', dim: 4 });
    await assert.rejects(clusterCollection(empty, { k: 2 }), (e: Error & { code?: string }) => e.code === 'empty_index' && /empty/.test(e.message));
    await assert.rejects(clusterCollection(c, { k: 0 }), { code: 'invalid_argument' });
    await assert.rejects(clusterCollection(c, { k: 2.5 }), { code: 'invalid_argument' });
    await assert.rejects(clusterCollection(c, { method: 'dbscan' as never }), { code: 'invalid_argument' });
    await assert.rejects(clusterCollection(c, { kMin: 5, kMax: 3 }), { code: 'invalid_argument' });
    await assert.rejects(clusterCollection(c, { kMax: 10 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /k ≤ n − 1 = 9/.test(e.message));
    await assert.rejects(clusterCollection(c, { k: 2, kMax: 4 }), { code: 'invalid_argument' });
    await assert.rejects(clusterCollection(c, { k: 2, writeField: '' }), { code: 'invalid_argument' });
    await assert.rejects(clusterCollection(c, { k: 2, seed: -1 }), { code: 'invalid_argument' });
    // The default range shrinks to fit a small selection.
    const small = await clusterCollection(c, {});
    assert.ok(small.k >= 2 && small.k <= 9);
  });
});
