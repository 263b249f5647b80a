import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../db/database.js';
import { createServer } from './app.js';
import { isScanQuery } from './reader-pool.js';
import { fakeEncoders } from '../../test/helpers/fake-encoders.js';
import { client } from '../../test/helpers/http.js';
import { blobs } from '../../test/helpers/blobs.js';

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'eps'];

test('isScanQuery: filters, full text and sparse go to the reader; plain vector queries do not', () => {
  assert.equal(isScanQuery({ vector: [1] }), false);
  assert.equal(isScanQuery({ vector: [1], where: { a: 1 } }), true);
  assert.equal(isScanQuery({ fullText: 'x' }), true);
  assert.equal(isScanQuery({ vector: [1], whereDocument: { $contains: 'x' } }), true);
  assert.equal(isScanQuery({ sparse: { a: 1 } }), true);
});

test('queryReaders: filtered, full-text and by-id queries answered by the reader thread equal the library in-process, and see every acknowledged write', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-reader-pool-'));
  const { batch } = blobs(4, 150, 8, 3, 0.5);
  const n = batch.count;
  const ids = Array.from({ length: n }, (_, i) => `d${i}`);
  const doc = (i: number): string => `the ${WORDS[i % 5]} ${WORDS[(i * 7) % 5]} item ${i}`;
  const setup = await openDatabase(dir);
  const c0 = await setup.createCollection({ name: 'docs', dim: 8, metric: 'l2' });
  await c0.add({ ids, vectors: batch.data, documents: ids.map((_, i) => doc(i)), metadatas: ids.map((_, i) => ({ cat: i % 6, user: `u${i % 40}` })) });
  await setup.close();
  const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 8 }), queryReaders: true });
  const ro = await openDatabase(dir, { readOnly: true });
  try {
    const call = client(await server.listen(0));
    const c = await ro.getCollection('docs');
    const q = (i: number): number[] => Array.from(batch.data.subarray(i * 8, i * 8 + 8));
    const same = async (body: Record<string, unknown>): Promise<void> => {
      const r = await call('POST', '/api/collections/docs/query', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const { id, ...rest } = body as { id?: string };
      const want = id !== undefined ? await c.queryById(id, rest) : await c.query(rest);
      assert.deepEqual(r.body.ids, want.ids, JSON.stringify(body));
      assert.deepEqual(r.body.metadatas, want.metadatas);
      assert.deepEqual(r.body.scores, Array.from(want.scores, (x) => (Number.isFinite(x) ? x : null)));
      assert.ok((r.body.ids as string[]).length > 0);
    };
    await same({ vector: q(1), k: 7, where: { cat: 2 } });
    await same({ vector: q(2), k: 5, where: { user: 'u7' } });
    await same({ fullText: 'gamma delta', k: 10 });
    await same({ vector: q(3), k: 10, fullText: 'the beta' });
    await same({ vector: q(4), k: 10, whereDocument: { $contains: 'alpha' } });
    await same({ id: 'd5', k: 6, where: { cat: 1 } });
    // Read-your-writes: an acknowledged upsert is in the reader's next answer (its index catches up).
    const far = Array.from({ length: 8 }, () => 99);
    let r = await call('POST', '/api/collections/docs/upsert', { ids: ['d0', 'new'], vectors: [far, far], documents: ['zeta one', 'zeta two'], metadatas: [{ cat: 99 }, { cat: 99 }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await call('POST', '/api/collections/docs/query', { vector: far, k: 5, where: { cat: 99 } });
    assert.deepEqual((r.body.ids as string[]).sort(), ['d0', 'new']);
    r = await call('POST', '/api/collections/docs/query', { fullText: 'zeta', k: 5 });
    assert.deepEqual((r.body.ids as string[]).sort(), ['d0', 'new']);
    await same({ vector: q(6), k: 8, where: { cat: { $in: [0, 99] } } });
    // Errors from the reader keep their code.
    r = await call('POST', '/api/collections/docs/query', { vector: q(1), where: { cat: { $bogus: 1 } } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error!.code, 'invalid_argument');
    r = await call('POST', '/api/collections/docs/query', { id: 'nope', where: { cat: 1 } });
    assert.equal(r.status, 404);
    // Every query above with a scan went to the reader; a plain vector query does not.
    const answered = server.ctx.readers!.answered;
    assert.equal(answered, 11);
    r = await call('POST', '/api/collections/docs/query', { vector: q(1), k: 3 });
    assert.equal(r.status, 200);
    assert.equal(server.ctx.readers!.answered, answered);
  } finally {
    await ro.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
