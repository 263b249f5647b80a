import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../db/database.js';
import { OmnivecError } from '../errors.js';
import { TaskService } from './task-service.js';
import { blobs } from '../../test/helpers/blobs.js';
import { outliers } from '../tasks/outliers.js';

test('TaskService: a queue of one worker, a queued task cancelled before it starts, inline runs, finished tasks forgotten beyond keepFinished, bad kinds refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-task-service-'));
  const db = await openDatabase(dir);
  try {
    const { batch } = blobs(4, 300, 8, 11, 0.4);
    const c = await db.createCollection({ name: 'pts', dim: 8, metric: 'l2' });
    await c.add({ ids: Array.from({ length: batch.count }, (_, i) => `p${i}`), vectors: batch.data });
    const want = await outliers(c, { method: 'lof', k: 7, top: 4 });

    const tasks = new TaskService({ db, maxWorkers: 1, keepFinished: 2 });
    const first = await tasks.start({ kind: 'cluster', collection: 'pts', options: { kMin: 2, kMax: 8, seed: 2 } });
    const second = await tasks.start({ kind: 'outliers', collection: 'pts', options: { method: 'lof', k: 7, top: 4 } });
    assert.equal(tasks.get(second.id).status, 'queued');
    const cancelled = tasks.cancel(second.id);
    assert.equal(cancelled.status, 'cancelled');
    await assert.rejects(second.promise, (e: unknown) => e instanceof OmnivecError && e.code === 'interrupted');
    await first.promise;
    assert.equal(tasks.get(first.id).status, 'done');
    assert.equal(tasks.workersStarted, 1, 'the cancelled task never started a worker');

    const third = await tasks.start({ kind: 'outliers', collection: 'pts', options: { method: 'lof', k: 7, top: 4 } });
    assert.deepEqual(await third.promise, want);
    // keepFinished 2: the first of three finished tasks is forgotten.
    assert.throws(() => tasks.get(first.id), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
    assert.deepEqual(tasks.list().map((t) => t.id), [third.id, second.id]);

    await assert.rejects(tasks.start({ kind: 'nope' as 'cluster', collection: 'pts', options: {} }), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument');
    await assert.rejects(tasks.start({ kind: 'outliers', collection: 'missing', options: {} }), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
    await tasks.close();
    await assert.rejects(tasks.start({ kind: 'outliers', collection: 'pts', options: {} }), (e: unknown) => e instanceof OmnivecError && e.code === 'shutting_down');

    // Inline (a store a worker cannot reopen): the same answer, on this thread, no worker.
    const inline = new TaskService({ db, inline: true });
    const h = await inline.start({ kind: 'outliers', collection: 'pts', options: { method: 'lof', k: 7, top: 4 }, finish: (r) => ({ outliers: r }) });
    assert.deepEqual(await h.promise, { outliers: want });
    assert.equal(inline.workersStarted, 0);
    assert.equal(inline.get(h.id).progress, 1);
    await inline.close();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
