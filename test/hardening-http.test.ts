/**
 * Issue 13's data-path items over HTTP, as they were found (docs/hardening.md §1–§3): each request
 * is answered 4xx (never 500) and leaves the collection as it was, and the collection keeps working.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { matchesWhere, type Metadata, type Where } from '../src/db/where.js';
import { client, type Answer, type Call } from './helpers/http.js';

const KEY = 'hardening-key';
let dir: string;
let server: OmnivecServer;
let call: Call;
const metas: Metadata[] = Array.from({ length: 40 }, (_, i) => ({ ctl: `k${i % 4}`, n: i, [`f${i % 10}`]: i }));
const ids = metas.map((_, i) => `r${i}`);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omnivec-hardening-http-'));
  server = await createServer({ db: dir, apiKey: KEY });
  call = client(await server.listen(0), KEY);
  assert.equal((await call('POST', '/api/collections', { name: 't', dim: 2, metric: 'l2', index: 'flat' })).status, 201);
  const r = await call('POST', '/api/collections/t/add', { ids, vectors: metas.map((_, i) => [i, 1]), metadatas: metas });
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function snapshot(): Promise<unknown> {
  return (await call('POST', '/api/collections/t/get', { include: ['vectors', 'metadatas', 'documents'] })).body;
}

async function refused(send: () => Promise<Answer>, words: RegExp): Promise<void> {
  const was = await snapshot();
  const r = await send();
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error?.code, 'invalid_argument');
  assert.match(r.body.error!.message, words);
  assert.deepEqual(await snapshot(), was, 'a refused request changed nothing');
}

async function stillWorks(): Promise<void> {
  const q = await call('POST', '/api/collections/t/query', { vector: [3, 1], k: 1 });
  assert.equal(q.status, 200, JSON.stringify(q.body));
  assert.deepEqual(q.body.ids, ['r3']);
  const up = await call('POST', '/api/collections/t/upsert', { ids: ['tmp'], vectors: [[100, 1]] });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal((await call('POST', '/api/collections/t/delete', { ids: ['tmp'] })).status, 200);
}

test('item 1: a vector finite as JSON but infinite as float32 is answered 400 and not stored; the collection keeps working', async () => {
  await refused(() => call('POST', '/api/collections/t/add', { ids: ['big'], vectors: [[3.5e38, 1]] }), /vectors?\[0\]\[0\]|vector\[0\]/);
  await refused(() => call('POST', '/api/collections/t/upsert', { ids: ['r1'], vectors: [[1, -1e39]] }), /float32/);
  assert.equal((await call('POST', '/api/collections/t/get', { ids: ['big'] })).body.ids?.toString(), '');
  const q = await call('POST', '/api/collections/t/query', { vector: [3.5e38, 1] });
  assert.equal(q.status, 400, JSON.stringify(q.body));
  await stillWorks();
});

test('item 2: a NUL in a filter key or metadata key is refused; a delete with one deletes nothing', async () => {
  await refused(() => call('POST', '/api/collections/t/get', { where: { 'ctl\u0000anything': 'k1' } }), /NUL/);
  await refused(() => call('POST', '/api/collections/t/delete', { where: { 'ctl\u0000anything': 'k1' } }), /NUL/);
  await refused(() => call('POST', '/api/collections/t/query', { vector: [1, 1], where: { 'ctl\u0000': 'k1' } }), /NUL/);
  await refused(() => call('POST', '/api/collections/t/add', { ids: ['nul'], vectors: [[1, 1]], metadatas: [{ 'a\u0000b': 'v' }] }), /NUL/);
  const r = await call('POST', '/api/collections/t/get', { where: { ctl: 'k1' }, include: [] });
  assert.equal((r.body.ids as string[]).length, 10);
});

test('item 3: very wide filters are answered (never 500), like the evaluator; past the limit a documented 400', async () => {
  const oracle = (w: Where): string[] => ids.filter((_, i) => matchesWhere(metas[i]!, w));
  const wide: Where[] = [
    { $or: Array.from({ length: 1000 }, (_, i) => ({ n: i * 2 })) },
    { $or: Array.from({ length: 1000 }, (_, i) => ({ [`f${i % 10}`]: i % 40, ctl: { $ne: `k${i % 4}` } })) },
    Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`missing${i}`, { $ne: i }])),
  ];
  for (const where of wide) {
    const got = await call('POST', '/api/collections/t/get', { where, include: [] });
    assert.equal(got.status, 200, JSON.stringify(got.body).slice(0, 300));
    assert.deepEqual(got.body.ids, oracle(where));
    const q = await call('POST', '/api/collections/t/query', { vector: [0, 1], k: 40, where, include: [] });
    assert.equal(q.status, 200, JSON.stringify(q.body).slice(0, 300));
    assert.deepEqual([...(q.body.ids as string[])].sort(), oracle(where).sort());
  }
  await refused(() => call('POST', '/api/collections/t/get', { where: { $or: Array.from({ length: 5000 }, (_, i) => ({ [`f${i}`]: i })) } }), /at most 4096 field conditions/);
  await refused(() => call('POST', '/api/collections/t/delete', { where: { $or: Array.from({ length: 5000 }, (_, i) => ({ [`f${i}`]: i })) } }), /at most 4096/);
});

test('item 5: ids with lone surrogates are refused (they became one indistinguishable id)', async () => {
  await refused(() => call('POST', '/api/collections/t/add', { ids: ['\ud800'], vectors: [[1, 1]] }), /lone surrogate/);
  await refused(() => call('POST', '/api/collections/t/add', { ids: ['ok', '\udc00'], vectors: [[1, 1], [2, 2]] }), /add\[1\]\.id.*lone surrogate/);
  await refused(() => call('POST', '/api/collections/t/upsert', { ids: ['d'], vectors: [[1, 1]], documents: ['x\ud800'] }), /document.*lone surrogate/);
  const g = await call('POST', '/api/collections/t/get', { ids: ['\ud800'] });
  assert.equal(g.status, 400, JSON.stringify(g.body));
});

test('item 6: upsert with the same id twice is refused (it answered count 2 and stored one)', async () => {
  await refused(() => call('POST', '/api/collections/t/upsert', { ids: ['x', 'x'], vectors: [[1, 1], [2, 2]] }), /"x" appears twice in this call \(also at upsert\[0\]\)/);
  await refused(() => call('POST', '/api/collections/t/update', { ids: ['r1', 'r1'], metadatas: [{ a: 1 }, { a: 2 }] }), /"r1" appears twice/);
  const ok = await call('POST', '/api/collections/t/upsert', { ids: ['x', 'y'], vectors: [[1, 1], [2, 2]] });
  assert.equal(ok.body.count, 2);
  assert.equal((await call('GET', '/api/collections/t/count')).body.count, 42);
});
