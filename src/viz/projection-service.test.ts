import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, type Database } from '../db/database.js';
import { Random } from '../vector/random.js';
import { project } from './projection.js';
import { createProjectionService, checkRequest } from './projection-service.js';
import { CACHE_VERSION, cachePath } from './projection-cache.js';
import { spreadSample } from '../tasks/common.js';
import { withTempDir, rejectsCode, throwsCode } from '../../test/helpers/assertions.js';

/** n records in three clusters, added in a shuffled order (the sample does not depend on insertion order). */
function records(n: number, dim: number, seed: number): { id: string; vector: Float32Array; metadata: { group: string } }[] {
  const rng = new Random(seed);
  const centres = Array.from({ length: 3 }, () => Float32Array.from({ length: dim }, () => rng.gaussian() * 4));
  const recs = Array.from({ length: n }, (_, i) => ({
    id: `r${String(i).padStart(5, '0')}`, vector: Float32Array.from(centres[i % 3]!, (x) => x + rng.gaussian()), metadata: { group: `g${i % 3}` },
  }));
  for (let i = recs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [recs[i], recs[j]] = [recs[j]!, recs[i]!];
  }
  return recs;
}

async function withDb(fn: (db: Database, dir: string) => Promise<void>): Promise<void> {
  await withTempDir('omnivec-projsvc-', async (dir) => {
    const db = await openDatabase(join(dir, 'db'));
    try {
      await fn(db, join(dir, 'db'));
    } finally {
      await db.close();
    }
  });
}

test('compute: progress by phase ending at 1; the map equals project() on the sample spread over the collection, in id order', async () => {
  await withDb(async (db, dir) => {
    const c = await db.createCollection({ name: 'pts', dim: 12 });
    const recs = records(150, 12, 1);
    await c.add(recs);
    const svc = createProjectionService({ db, dbDir: dir });
    try {
      for (const method of ['umap', 'tsne', 'pca'] as const) {
        const events: [string, number][] = [];
        const r = await svc.compute('pts', { method, sample: 100, seed: 3 }, (phase, progress) => events.push([phase, progress]));
        const chosen = new Set(spreadSample(recs.map((x) => x.id), 100, 3));
        const sample = [...recs].sort((a, b) => (a.id < b.id ? -1 : 1)).filter((x) => chosen.has(x.id));
        assert.deepEqual(r.ids, sample.map((x) => x.id));
        assert.deepEqual([...r.points], [...project(sample.map((x) => x.vector), { method, seed: 3 })], `${method}: the worker's map is project()'s`);
        assert.equal(r.seq, c.seq);
        assert.equal(r.total, 150);
        assert.deepEqual(events.at(-1), ['done', 1]);
        const phases = [...new Set(events.map((e) => e[0]))];
        const want = { pca: ['reading', 'pca'], tsne: ['reading', 'affinities', 'optimising'], umap: ['reading', 'knn', 'graph', 'optimising'] }[method];
        for (const p of want) assert.ok(phases.includes(p), `${method}: phase ${p} reported (got ${phases.join(', ')})`);
        for (let i = 1; i < events.length; i++) assert.ok(events[i]![1] >= events[i - 1]![1], `${method}: progress never goes back`);
        assert.ok(events.every(([, p]) => p >= 0 && p <= 1));
        if (method !== 'pca') assert.ok(events.filter((e) => e[0] === 'optimising').length >= 2, `${method}: optimising steps are reported`);
      }
      assert.equal(svc.workersStarted, 3);
    } finally {
      await svc.close();
    }
  });
});

test('cache: a hit starts no worker; the disk copy serves a new service; a write recomputes (stale served meanwhile); drop + re-create does not reuse', async () => {
  await withDb(async (db, dir) => {
    const c = await db.createCollection({ name: 'pts', dim: 8 });
    await c.add(records(60, 8, 2));
    const req = { method: 'pca', sample: 50, seed: 42 } as const;
    const svc = createProjectionService({ db, dbDir: dir });
    const first = await svc.compute('pts', req);
    assert.equal(svc.workersStarted, 1);
    const again = await svc.get('pts', req);
    assert.equal(again.status, 'done');
    await svc.compute('pts', req);
    assert.equal(svc.workersStarted, 1, 'memory hit: no worker');
    const file = cachePath(join(dir, 'projections'), 'pts', 'pca', 50, 42);
    assert.ok(existsSync(file), 'written at DIR/projections/<collection>/<method>-<sample>-<seed>.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.equal(json.format, 'omnivec-projection');
    assert.equal(json.version, 2);
    assert.equal(json.seq, c.seq);
    assert.equal(json.total, 60);
    assert.equal(json.count, 50);
    await svc.close();

    const svc2 = createProjectionService({ db, dbDir: dir });
    const fromDisk = await svc2.get('pts', req);
    assert.equal(fromDisk.status, 'done');
    assert.deepEqual(fromDisk.status === 'done' ? [...fromDisk.result.points] : [], [...first.points]);
    assert.equal(fromDisk.status === 'done' ? (fromDisk.result as { total?: number }).total : undefined, 60, 'total read back from the file');
    assert.equal(svc2.workersStarted, 0, 'disk hit: no worker');

    // A write: the next call starts a computation and answers the old map as stale.
    await c.add([{ id: 'a-new', vector: new Float32Array(8).fill(9) }]);
    const running = await svc2.get('pts', req);
    assert.equal(running.status, 'running');
    assert.ok(running.status === 'running' && running.stale !== undefined && running.stale.seq === first.seq, 'the old map is served as stale');
    const fresh = await svc2.compute('pts', req);
    assert.equal(fresh.seq, c.seq);
    assert.equal(fresh.total, 61);
    assert.deepEqual(fresh.ids, spreadSample((await c.list()), 50, 42), 'the sample drawn again from the grown collection');
    assert.equal(svc2.workersStarted, 1, 'the running computation was joined, not repeated');

    // Drop and re-create under the same name: neither the memory nor the disk copy is reused.
    await db.dropCollection('pts');
    assert.equal(existsSync(join(dir, 'projections', 'pts')), false, 'drop removes the cached maps');
    const c2 = await db.createCollection({ name: 'pts', dim: 8 });
    await c2.add(records(60, 8, 3));
    const st = await svc2.get('pts', req);
    assert.equal(st.status, 'running');
    assert.ok(st.status === 'running' && st.stale === undefined, 'no stale map from the dropped collection');
    const other = await svc2.compute('pts', req);
    assert.notDeepEqual([...other.points], [...fresh.points]);
    await svc2.close();
    const svc3 = createProjectionService({ db, dbDir: dir });
    assert.deepEqual([...(await svc3.compute('pts', req)).points], [...other.points]);
    assert.equal(svc3.workersStarted, 0);
    await svc3.close();
  });
});

test('the sample: spread over the whole collection (not its first records in id order), seeded by the map\'s seed; a version-1 cache file (first N) is a miss', async () => {
  await withDb(async (db, dir) => {
    const c = await db.createCollection({ name: 'pts', dim: 6 });
    const recs = records(600, 6, 8);
    await c.add(recs);
    const svc = createProjectionService({ db, dbDir: dir });
    try {
      const r = await svc.compute('pts', { method: 'pca', sample: 60, seed: 5 });
      assert.equal(r.ids.length, 60);
      assert.equal(r.total, 600);
      // Ids r00000 … r00599: each sixth of the id range has its share (10 each), not the first 60 alone.
      const sixths = new Array<number>(6).fill(0);
      for (const id of r.ids) sixths[Math.floor(Number(id.slice(1)) / 100)]!++;
      assert.ok(sixths.every((k) => k >= 3), `records per sixth of the ids: ${sixths.join(', ')}`);
      // The records were made in turn by group (i mod 3): all groups are in the sample.
      const groups = new Set(r.ids.map((id) => Number(id.slice(1)) % 3));
      assert.equal(groups.size, 3);
      assert.deepEqual(r.ids, spreadSample(recs.map((x) => x.id), 60, 5));
      const again = await svc.compute('pts', { method: 'pca', sample: 60, seed: 6 });
      assert.notDeepEqual(again.ids, r.ids, 'another seed draws another sample');

      // A cache file of the old rule (version 1, the first 60 in id order) is not served.
      const file = cachePath(join(dir, 'projections'), 'pts', 'pca', 60, 7);
      const fresh = await svc.compute('pts', { method: 'pca', sample: 60, seed: 7 });
      const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.equal(json.version, CACHE_VERSION);
      const old = { ...json, version: 1, ids: [...fresh.ids].sort().slice(0, 60) };
      delete (old as { total?: unknown }).total;
      writeFileSync(file, JSON.stringify(old));
      const svc2 = createProjectionService({ db, dbDir: dir });
      try {
        const st = await svc2.get('pts', { method: 'pca', sample: 60, seed: 7 });
        assert.equal(st.status, 'running', 'the version-1 file is a miss');
        assert.deepEqual((await svc2.compute('pts', { method: 'pca', sample: 60, seed: 7 })).ids, fresh.ids);
      } finally {
        await svc2.close();
      }
    } finally {
      await svc.close();
    }
  });
});

test('concurrent calls share one computation; cache: false neither reads nor writes; errors', async () => {
  await withDb(async (db, dir) => {
    const c = await db.createCollection({ name: 'pts', dim: 8 });
    await c.add(records(80, 8, 4));
    const svc = createProjectionService({ db, dbDir: dir });
    const req = { method: 'umap', sample: 80, seed: 1 } as const;
    const [a, b, s, d] = await Promise.all([svc.compute('pts', req), svc.compute('pts', req), svc.get('pts', req), svc.compute('pts', req)]);
    assert.equal(svc.workersStarted, 1);
    assert.equal(s.status, 'running');
    assert.equal(a, b);
    assert.equal(a, d);
    await rejectsCode(svc.get('nope', req), 'not_found', /collection "nope" not found/);
    await rejectsCode(svc.compute('pts', { method: 'tsne', sample: 200_000, seed: 1 }), 'invalid_argument', /sample: expected an integer from 3 to 100,000 for tsne/);
    const tiny = await db.createCollection({ name: 'tiny', dim: 8 });
    await tiny.add(records(2, 8, 5));
    await rejectsCode(svc.compute('tiny', req), 'invalid_argument', /at least 3 records, the collection has 2/);
    await svc.close();
    await rejectsCode(svc.get('pts', req), 'shutting_down', /closed/);

    const nc = createProjectionService({ db, dbDir: join(dir, 'x'), cache: false });
    await nc.compute('pts', { method: 'pca', sample: 10, seed: 1 });
    await nc.compute('pts', { method: 'pca', sample: 10, seed: 1 });
    assert.equal(nc.workersStarted, 2);
    assert.equal(existsSync(join(dir, 'x', 'projections')), false);
    await nc.close();
  });
  throwsCode(() => checkRequest({ method: 'mds' as 'pca' }), 'invalid_argument', /method: expected pca, tsne or umap/);
  throwsCode(() => checkRequest({ seed: -1 }), 'invalid_argument', /seed: expected an integer from 0/);
  assert.deepEqual(checkRequest({}), { method: 'umap', sample: 5000, seed: 42 });
});

test('close() stops a running worker', async () => {
  await withDb(async (db, dir) => {
    const c = await db.createCollection({ name: 'pts', dim: 16 });
    await c.add(records(700, 16, 6));
    const svc = createProjectionService({ db, dbDir: dir });
    let optimising!: () => void;
    const reached = new Promise<void>((r) => { optimising = r; });
    const run = svc.compute('pts', { method: 'tsne', sample: 700, seed: 1 }, (phase) => { if (phase === 'optimising') optimising(); });
    await reached;
    const t = performance.now();
    await svc.close();
    await rejectsCode(run, 'shutting_down', /stopped/);
    // The rejection says close() stopped the computation rather than waited for it (a finished one
    // resolves). The clock only guards against a hang: the whole t-SNE of these 700 points takes
    // ~1.5 s here, so a bound cannot tell waiting from stopping; 10 s is far from any machine's noise.
    assert.ok(performance.now() - t < 10_000, 'close() did not wait for the computation');
    assert.equal(existsSync(join(dir, 'projections', 'pts')), false, 'nothing cached from a stopped computation');
  });
});

test('a running map nobody asks about is stopped when another waits for the only worker; asked again, it starts over', async () => {
  await withDb(async (db, dir) => {
    const c = await db.createCollection({ name: 'pts', dim: 16 });
    await c.add(records(700, 16, 7));
    const svc = createProjectionService({ db, dbDir: dir, maxWorkers: 1, abandonedMs: 300 });
    try {
      const tsne = { method: 'tsne', sample: 700, seed: 1 } as const;
      // The explorer asks for a t-SNE map, then the user switches to PCA and stops polling t-SNE.
      assert.equal((await svc.get('pts', tsne)).status, 'running');
      const t = performance.now();
      const pca = await svc.compute('pts', { method: 'pca', sample: 700, seed: 1 });
      assert.equal(pca.ids.length, 700);
      // A hang guard, not a measure (the t-SNE alone takes ~1.5 s here): that the t-SNE was stopped
      // shows below, where asking for it again finds it running, not done.
      assert.ok(performance.now() - t < 20_000, `PCA waited ${(performance.now() - t).toFixed(0)} ms behind the abandoned t-SNE`);
      // The stopped map is not remembered as a failure: asking again starts it again.
      const again = await svc.get('pts', tsne);
      assert.equal(again.status, 'running', JSON.stringify(again));
      // A map someone waits on (compute) is never stopped for another, however long it takes.
      let joined!: () => void;
      const isJoined = new Promise<void>((r) => { joined = r; });
      const tsneRun = svc.compute('pts', tsne, () => joined());
      await isJoined;
      const other = svc.compute('pts', { method: 'pca', sample: 700, seed: 2 });
      assert.equal((await tsneRun).ids.length, 700);
      assert.equal((await other).ids.length, 700);
    } finally {
      await svc.close();
    }
  });
});
