import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../db/database.js';
import { createServer } from './app.js';
import { fakeEncoders } from '../../test/helpers/fake-encoders.js';
import { client } from '../../test/helpers/http.js';
import { blobs } from '../../test/helpers/blobs.js';

test('POST /cluster, /outliers, /dedupe: answers, writeField then a where on it, strict bodies, errors, read-only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-cluster-routes-'));
  const { batch } = blobs(3, 20, 6, 8, 0.3);
  const ids = Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const setup = await openDatabase(dir);
  const c = await setup.createCollection({ name: 'pts', dim: 6, metric: 'l2' });
  await c.add({ ids, vectors: batch.data, metadatas: ids.map(() => ({ src: 'test' })) });
  await c.add({ ids: ['far', 'r00-copy'], vectors: [[-50, 40, -30, 20, -10, 60], Array.from(batch.data.subarray(0, 6))] });
  await setup.close();
  const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 6 }) });
  const roDb = await openDatabase(dir, { readOnly: true });
  const ro = await createServer({ db: roDb, encoderService: fakeEncoders({ dim: 6 }) });
  try {
    const call = client(await server.listen(0));
    let r = await call('POST', '/api/collections/pts/cluster', { k: 3, includeCentroids: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.k, 3);
    assert.equal((r.body.ids as string[]).length, 62);
    assert.equal((r.body.centroids as number[][]).length, 3);
    assert.equal((r.body.centroids as number[][])[0]!.length, 6);
    assert.equal(typeof r.body.silhouette, 'number');

    r = await call('POST', '/api/collections/pts/cluster', { kMax: 4, method: 'minibatch', writeField: 'grp' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body.tried as { k: number }[]).map((t) => t.k), [2, 3, 4]);
    assert.equal(r.body.centroids, undefined);
    assert.deepEqual(r.body.written, { field: 'grp', count: 62 });
    const labels = r.body.labels as number[];
    const inZero = (r.body.ids as string[]).filter((_, i) => labels[i] === 0).sort();
    r = await call('POST', '/api/collections/pts/get', { where: { grp: 0 }, include: ['metadatas'], limit: 100 });
    assert.deepEqual((r.body.ids as string[]).sort(), inZero);

    r = await call('POST', '/api/collections/pts/outliers', { method: 'lof', k: 5, top: 2 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const list = r.body.outliers as { id: string; score: number }[];
    assert.equal(list.length, 2);
    assert.equal(list[0]!.id, 'far');
    assert.ok(list[0]!.score > list[1]!.score);

    r = await call('POST', '/api/collections/pts/dedupe', { maxDistance: 1e-6 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.groups, [['r00', 'r00-copy']]);
    assert.deepEqual(r.body.pairs, [{ a: 'r00', b: 'r00-copy', distance: 0 }]);

    // Strict bodies, typed errors.
    r = await call('POST', '/api/collections/pts/cluster', { k: 3, kk: 1 });
    assert.equal(r.status, 400);
    assert.equal(r.body.error!.code, 'invalid_argument');
    r = await call('POST', '/api/collections/pts/cluster', { k: '3' });
    assert.equal(r.status, 400);
    r = await call('POST', '/api/collections/pts/cluster', { k: 100 });
    assert.equal(r.status, 400);
    assert.match(r.body.error!.message, /100.*62 records/);
    r = await call('POST', '/api/collections/pts/outliers', { where: { src: 'none' } });
    assert.equal(r.body.error!.code, 'empty_index');
    r = await call('POST', '/api/collections/nope/dedupe', { maxDistance: 1 });
    assert.equal(r.status, 404);
    r = await call('POST', '/api/collections/pts/dedupe', {});
    assert.equal(r.status, 400);
    assert.match(r.body.error!.message, /maxDistance/);
    r = await call('POST', '/api/collections/pts/outliers', { method: 'zscore' });
    assert.equal(r.status, 400);

    // Read-only: reading tasks work, writeField is refused.
    const rcall = client(await ro.listen(0));
    r = await rcall('POST', '/api/collections/pts/cluster', { k: 2 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await rcall('POST', '/api/collections/pts/cluster', { k: 2, writeField: 'x' });
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error!.code, 'read_only');

    // The routes are in /openapi.json.
    r = await call('GET', '/openapi.json');
    const paths = r.body.paths as Record<string, unknown>;
    for (const t of ['cluster', 'outliers', 'dedupe']) assert.ok(paths[`/api/collections/{name}/${t}`] !== undefined, t);
  } finally {
    await ro.close();
    await roDb.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
