import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../db/database.js';
import { createServer } from './app.js';
import { wantsAsync } from './task-routes.js';
import { fakeEncoders } from '../../test/helpers/fake-encoders.js';
import { client, type Call } from '../../test/helpers/http.js';
import { blobs } from '../../test/helpers/blobs.js';
import { outliers } from '../tasks/outliers.js';
import { clusterCollection, clusterJson } from '../tasks/cluster.js';
import { dedupe } from '../tasks/dedupe.js';
import { diversity } from '../tasks/diversity.js';
import { evaluateClassifier } from '../tasks/classify.js';

interface TaskBody { id: string; status: string; phase: string; progress: number; done: number; total: number; result?: unknown; error?: { code: string; message: string } }

const ASYNC = { prefer: 'respond-async' };

/** Polls a task until it ends; every state seen, in order. */
async function follow(call: Call, id: string): Promise<TaskBody[]> {
  const seen: TaskBody[] = [];
  for (;;) {
    const r = await call('GET', `/api/tasks/${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const t = r.body.task as TaskBody;
    seen.push(t);
    if (t.status !== 'queued' && t.status !== 'running') return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** 4,000 × 16 in 8 blobs (a few exact duplicates and a far point), labelled by blob: every task has something to find. */
async function makeDb(dir: string): Promise<void> {
  const { batch, classes } = blobs(8, 500, 16, 7, 0.5);
  const n = batch.count;
  const ids = Array.from({ length: n }, (_, i) => `r${String(i).padStart(4, '0')}`);
  const db = await openDatabase(dir);
  const c = await db.createCollection({ name: 'pts', dim: 16, metric: 'l2' });
  await c.add({ ids, vectors: batch.data, metadatas: ids.map((_, i) => (i % 3 === 0 ? { src: 'x' } : { label: `b${classes[i]}`, src: 'y' })) });
  await c.add({ ids: ['far', 'r0000-copy'], vectors: [Array.from({ length: 16 }, (_, j) => (j % 2 === 0 ? 60 : -60)), Array.from(batch.data.subarray(0, 16))] });
  await db.close();
}

test('Prefer: respond-async is read as RFC 7240 says', () => {
  assert.equal(wantsAsync('respond-async'), true);
  assert.equal(wantsAsync('wait=10, respond-async'), true);
  assert.equal(wantsAsync(['return=minimal', 'Respond-Async']), true);
  assert.equal(wantsAsync('respond-asynchronously'), false);
  assert.equal(wantsAsync(undefined), false);
});

test('tasks over HTTP run in workers: the same answers as in-process, progress, cancellation (DELETE and a client that leaves), /healthz answered while one runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-task-routes-'));
  await makeDb(dir);
  const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 16 }), taskWorkers: 1 });
  // The oracle: the library on a read-only handle of the same database, in this thread.
  const ro = await openDatabase(dir, { readOnly: true });
  try {
    const base = await server.listen(0);
    const call = client(base);
    const c = await ro.getCollection('pts');

    // 1. Same answers as the library in-process.
    let r = await call('POST', '/api/collections/pts/outliers', { method: 'lof', k: 10, top: 5 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.outliers, await outliers(c, { method: 'lof', k: 10, top: 5 }));
    assert.equal((r.body.outliers as { id: string }[])[0]!.id, 'far');
    r = await call('POST', '/api/collections/pts/cluster', { k: 8, seed: 3, includeCentroids: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, JSON.parse(JSON.stringify(clusterJson(await clusterCollection(c, { k: 8, seed: 3 }), true))));
    r = await call('POST', '/api/collections/pts/dedupe', { maxDistance: 1e-6 });
    assert.deepEqual(r.body, await dedupe(c, { maxDistance: 1e-6 }));
    assert.deepEqual(r.body.groups, [['r0000', 'r0000-copy']]);
    r = await call('POST', '/api/collections/pts/diversity', { sample: 1500, subset: { where: { src: 'x' } }, seed: 5 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, JSON.parse(JSON.stringify(await diversity(c, { sample: 1500, subset: { where: { src: 'x' } }, seed: 5 }))));
    r = await call('POST', '/api/collections/pts/classify', { labelField: 'label', evaluate: true, k: 5 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.evaluation, JSON.parse(JSON.stringify(await evaluateClassifier(c, { labelField: 'label', method: 'knn', k: 5, weighted: false }))));
    // Errors from inside the worker keep their code and message.
    r = await call('POST', '/api/collections/pts/outliers', { k: 5000 });
    assert.equal(r.status, 400);
    assert.match(r.body.error!.message, /5000.*4002 records/);
    r = await call('POST', '/api/collections/pts/outliers', { where: { src: 'none' } }, ASYNC);
    assert.equal(r.status, 202);
    const failed = await follow(call, (r.body.task as TaskBody).id);
    assert.equal(failed.at(-1)!.status, 'error');
    assert.equal(failed.at(-1)!.error!.code, 'empty_index');
    r = await call('POST', '/api/collections/nope/outliers', {}, ASYNC);
    assert.equal(r.status, 404);

    // 2. Asynchronous, with progress: choosing k over 2..12 reports each k it tries.
    const slow = { kMin: 2, kMax: 12, nInit: 3, seed: 1 };
    r = await call('POST', '/api/collections/pts/cluster', slow, ASYNC);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = (r.body.task as TaskBody).id;
    assert.equal(r.headers.get('location'), `/api/tasks/${id}`);
    // /healthz sent while the task runs answers before it ends (the server's loop is free).
    const healthz = await call('GET', '/healthz');
    assert.equal(healthz.status, 200);
    const during = (await call('GET', `/api/tasks/${id}`)).body.task as TaskBody;
    assert.ok(during.status === 'queued' || during.status === 'running', `the task ended before /healthz answered: ${JSON.stringify(during)}`);
    const states = await follow(call, id);
    const done = states.at(-1)!;
    assert.equal(done.status, 'done', JSON.stringify(done));
    assert.equal(done.progress, 1);
    const kPhases = states.filter((s) => s.status === 'running' && /^k-means k=\d+$/.test(s.phase));
    assert.ok(kPhases.length > 0, `no k-means progress seen: ${JSON.stringify(states.map((s) => s.phase))}`);
    for (let i = 1; i < kPhases.length; i++) assert.ok(kPhases[i]!.done >= kPhases[i - 1]!.done, 'progress never goes back');
    assert.deepEqual(done.result, JSON.parse(JSON.stringify(clusterJson(await clusterCollection(c, slow)))));
    const listed = (await call('GET', '/api/tasks')).body.tasks as TaskBody[];
    assert.ok(listed.some((t) => t.id === id && t.status === 'done' && t.result === undefined));

    // 3. Cancelled by DELETE: the state says so, and the worker slot is free for the next task.
    r = await call('POST', '/api/collections/pts/cluster', { ...slow, kMax: 40 }, ASYNC);
    const victim = (r.body.task as TaskBody).id;
    for (let s = (r.body.task as TaskBody); s.phase === 'queued' || s.phase === 'starting'; s = (await call('GET', `/api/tasks/${victim}`)).body.task as TaskBody) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    r = await call('DELETE', `/api/tasks/${victim}`);
    assert.equal(r.status, 200);
    assert.equal((r.body.task as TaskBody).status, 'cancelled');
    const after = (await call('GET', `/api/tasks/${victim}`)).body.task as TaskBody;
    assert.equal(after.status, 'cancelled');
    assert.equal(after.error!.code, 'interrupted');
    r = await call('POST', '/api/collections/pts/outliers', { top: 1 });
    assert.equal(r.status, 200, 'the next task runs (taskWorkers: 1, so the slot was released)');
    // DELETE of a finished task forgets it.
    assert.equal((await call('DELETE', `/api/tasks/${victim}`)).status, 200);
    assert.equal((await call('GET', `/api/tasks/${victim}`)).status, 404);

    // 4. A synchronous task whose client leaves is cancelled.
    const ac = new AbortController();
    const leaving = fetch(`${base}/api/collections/pts/cluster`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...slow, kMax: 40 }), signal: ac.signal });
    let running: TaskBody | undefined;
    while (running === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      running = ((await call('GET', '/api/tasks')).body.tasks as TaskBody[]).find((t) => t.status === 'running');
    }
    ac.abort();
    await assert.rejects(leaving);
    const gone = await follow(call, running.id);
    assert.equal(gone.at(-1)!.status, 'cancelled');
  } finally {
    await ro.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
