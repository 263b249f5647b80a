/**
 * The server under concurrent writers and readers, and its graceful shutdown (docs/server.md,
 * "Shutdown", "Limits"): every write acknowledged with 200 is in the database — while serving,
 * after close, and after reopening the directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../src/server/app.js';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { fakeEncoders, hashText } from './helpers/fake-encoders.js';
import { client, f32base64 } from './helpers/http.js';
import { assertClose, waitUntil } from './helpers/assertions.js';

const DIM = 16;

test('4 writers and 4 readers for 3 s: every acknowledged write is there, also after reopening', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-server-conc-'));
  try {
    const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: DIM }) });
    const call = client(await server.listen(0));
    assert.equal((await call('POST', '/api/collections', { name: 'c', dim: DIM, metric: 'l2' })).status, 201);
    const acked = new Map<string, number[]>();
    const until = Date.now() + 3000;
    let writes = 0;
    let reads = 0;
    let refused = 0;
    const writer = async (w: number): Promise<void> => {
      const rng = new Random(100 + w);
      for (let i = 0; Date.now() < until; i++) {
        const ids = Array.from({ length: 5 }, (_, j) => `w${w}-${i}-${j}`);
        const vectors = ids.map(() => Array.from({ length: DIM }, () => Math.fround(rng.next() * 2 - 1)));
        // Half the batches as base64, half as arrays; every tenth batch repeats an acknowledged id (refused whole).
        const dup = i % 10 === 9 ? [`w${w}-0-0`] : [];
        const r = await call('POST', '/api/collections/c/add', {
          ids: [...ids, ...dup],
          vectors: [...vectors, ...dup.map(() => vectors[0]!)].map((v) => (i % 2 === 0 ? v : f32base64(v))),
        });
        if (dup.length > 0) {
          assert.equal(r.status, 409, JSON.stringify(r.body));
          refused++;
          continue;
        }
        assert.equal(r.status, 200, JSON.stringify(r.body));
        ids.forEach((id, j) => acked.set(id, vectors[j]!));
        writes++;
      }
    };
    const reader = async (q: number): Promise<void> => {
      const rng = new Random(200 + q);
      while (Date.now() < until) {
        const r = await call('POST', '/api/collections/c/query', { vector: Array.from({ length: DIM }, () => rng.next()), k: 5, include: ['vectors'] });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        // Whatever a query sees was committed: a hit's vector is the one acknowledged for it
        // (or about to be: the commit precedes the answer to the writer).
        const keys = [...acked.keys()];
        if (keys.length > 0) {
          const ids = Array.from({ length: 5 }, () => keys[Math.floor(rng.next() * keys.length)]!);
          const g = await call('POST', '/api/collections/c/get', { ids, include: ['vectors'] });
          assert.equal(g.status, 200);
          assert.deepEqual(new Set(g.body.ids as string[]), new Set(ids), 'acknowledged ids are readable');
          (g.body.ids as string[]).forEach((id, j) => assertClose((g.body.vectors as number[][])[j]!, acked.get(id)!, 1e-6, id));
        }
        reads++;
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer).concat([0, 1, 2, 3].map(reader)));
    assert.ok(writes > 20 && reads > 20, `some work was done: ${writes} write batches, ${reads} reads, ${refused} refused`);

    const check = (get: (ids: string[]) => Promise<{ ids: string[]; vectors: ArrayLike<number>[] }>): Promise<void> => (async () => {
      const all = [...acked.keys()];
      for (let s = 0; s < all.length; s += 500) {
        const ids = all.slice(s, s + 500);
        const g = await get(ids);
        assert.equal(g.ids.length, ids.length);
        g.ids.forEach((id, j) => assertClose(g.vectors[j]!, acked.get(id)!, 1e-6, `${id}: the acknowledged vector`));
      }
    })();
    await check(async (ids) => (await call('POST', '/api/collections/c/get', { ids, include: ['vectors'] })).body as never);
    assert.deepEqual((await call('GET', '/api/collections/c/count')).body, { count: acked.size });
    await server.close();

    const db = await openDatabase(dir);
    try {
      const c = await db.getCollection('c');
      assert.equal((await c.count()), acked.size);
      await check(async (ids) => (await c.get({ ids, include: ['vectors'] })) as never);
      assert.equal((await db.verify()).c!.ok, true);
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Sends raw HTTP/1.1 on one socket; `more()` writes further requests on it; resolves to everything read until it closes. */
function rawConnection(port: number): { write: (s: string) => void; all: Promise<string> } {
  const sock = connect(port, '127.0.0.1');
  let text = '';
  sock.setEncoding('utf8');
  sock.on('data', (c: string) => { text += c; });
  const all = new Promise<string>((resolve, reject) => {
    sock.on('close', () => resolve(text));
    sock.on('error', reject);
  });
  return { write: (s) => sock.write(s), all };
}

test('graceful shutdown: writes in flight finish and are kept; requests after close began get 503 or no connection', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-server-close-'));
  try {
    // Each encode takes 400 ms: the adds are in flight when close() is called.
    const enc = fakeEncoders({ dim: DIM, delayMs: 400, kind: 'text' });
    const server = await createServer({ db: dir, encoderService: enc });
    let received = 0;
    server.app.addHook('onRequest', async () => { received++; });
    const base = await server.listen(0);
    const call = client(base);
    assert.equal((await call('POST', '/api/collections', { name: 'docs', encoder: 'hash' })).status, 201);
    received = 0;

    const N = 6;
    const texts = (i: number): string[] => [`doc ${i} alpha`, `doc ${i} beta`, `doc ${i} gamma`];
    const inflight = Array.from({ length: N }, (_, i) => call('POST', '/api/collections/docs/add', { ids: [`a${i}`, `b${i}`, `c${i}`], documents: texts(i) }));
    // One more slow add on a raw keep-alive connection; a second request follows on it after close began.
    const port = Number(new URL(base).port);
    const conn = rawConnection(port);
    const body = JSON.stringify({ ids: ['raw1'], documents: ['raw one'] });
    conn.write(`POST /api/collections/docs/add HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    try {
      await waitUntil(() => received >= N + 1, () => `the server to receive the ${N + 1} slow adds (it received ${received})`, { timeoutMs: 15_000, everyMs: 5 });
    } catch (e) {
      await server.close(); // or the listening server keeps this file's process alive
      throw e;
    }

    const closing = server.close();
    conn.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    let late: number | string;
    try {
      late = (await call('GET', '/healthz')).status;
    } catch (e) {
      late = ((e as Error).cause as { code?: string } | undefined)?.code ?? 'refused';
    }
    assert.ok(late === 503 || late === 'ECONNREFUSED' || late === 'ECONNRESET' || late === 'refused', `a request after close began: ${late}`);

    const answers = await Promise.all(inflight);
    answers.forEach((a, i) => assert.equal(a.status, 200, `in-flight add ${i}: ${JSON.stringify(a.body)}`));
    const text = await conn.all;
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 503], text);
    assert.match(text, /"code":"shutting_down"/);
    await closing;
    assert.equal(enc.closed, true, 'the encoder service was closed');

    const db = await openDatabase(dir);
    try {
      const c = await db.getCollection('docs');
      assert.equal((await c.count()), N * 3 + 1);
      const got = await c.get({ ids: ['a0', `c${N - 1}`, 'raw1'], include: ['vectors', 'documents'] });
      assert.deepEqual(got.ids, ['a0', `c${N - 1}`, 'raw1']);
      assertClose(got.vectors![0]!, hashText('doc 0 alpha', DIM), 1e-6, 'doc 0 alpha');
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
