/**
 * Bad requests (docs/server.md, "Conventions" and "Authentication"): each is answered 4xx with the
 * documented code and a message naming the field, and changes nothing — the collection list, the
 * counts and the stored records are the same before and after.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { fakeEncoders } from './helpers/fake-encoders.js';
import { client, f32base64, type Answer, type Call } from './helpers/http.js';
import { capture } from './helpers/capture.js';

const KEY = 'test-key-123';
const LIMIT = 4096;
let dir: string;
let server: OmnivecServer;
let base: string;
let call: Call;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omnivec-server-errors-'));
  server = await createServer({ db: dir, apiKey: KEY, bodyLimit: LIMIT, encoderService: fakeEncoders({ dim: 4 }) });
  base = await server.listen(0);
  call = client(base, KEY);
  assert.equal((await call('POST', '/api/collections', { name: 'c', dim: 4 })).status, 201);
  const r = await call('POST', '/api/collections/c/add', { ids: ['r1', 'r2', 'r3'], vectors: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], documents: ['one', 'two', 'three'], metadatas: [{ k: 1 }, { k: 2 }, { k: 3 }] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Everything a refused request must leave alone. */
async function state(): Promise<unknown> {
  const list = await call('GET', '/api/collections');
  const records = await call('POST', '/api/collections/c/get', { include: ['vectors', 'documents', 'metadatas'] });
  return {
    names: (list.body.collections as { name: string; count: number }[]).map((c) => [c.name, c.count]),
    records: records.body,
    files: readdirSync(dir).sort(),
  };
}

/** Sends a bad request; checks the status, the code, the message's words, and that nothing changed. */
async function refused(send: () => Promise<Answer>, status: number, code: string, words: (string | RegExp)[] = []): Promise<Answer> {
  const was = await state();
  const r = await send();
  assert.equal(r.status, status, `status: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error?.code, code, JSON.stringify(r.body));
  assert.equal(r.body.error?.param, null);
  assert.equal(typeof r.body.error?.type, 'string');
  for (const w of words) {
    if (typeof w === 'string') assert.ok(r.body.error!.message.includes(w), `message ${JSON.stringify(r.body.error!.message)} names ${JSON.stringify(w)}`);
    else assert.match(r.body.error!.message, w);
  }
  assert.deepEqual(await state(), was, 'a refused request changes nothing');
  return r;
}

/** A request with a raw path (fetch would normalise '..'). */
function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Answer['body'], headers: new Headers(res.headers as Record<string, string>) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('malformed JSON, empty body, non-JSON content type', async () => {
  await refused(() => call('POST', '/api/collections/c/add', '{"ids": ["x"], "vectors": [[1,2,3,4]'), 400, 'invalid_json', ['JSON']);
  await refused(() => call('POST', '/api/collections', '{name: c2}'), 400, 'invalid_json');
  await refused(() => call('POST', '/api/collections/c/add', ''), 400, 'invalid_json', ['empty']);
  await refused(() => call('POST', '/api/collections/c/add', 'ids=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type', ['application/json', 'x-www-form-urlencoded']);
  await refused(() => call('POST', '/api/collections', 'name: c2', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', ['text/plain']);
});

test('wrong types and values: the message names the field, what was expected and what came', async () => {
  await refused(() => call('POST', '/api/collections', { name: 'c2', dim: '4' }), 400, 'invalid_argument', ['dim', 'integer', 'string "4"']);
  await refused(() => call('POST', '/api/collections', { name: 'c2', dim: 0 }), 400, 'invalid_argument', ['dim', 'from 1 to 65536', 'number 0']);
  await refused(() => call('POST', '/api/collections', { name: 'c2', dim: 4, metric: 'hamming' }), 400, 'invalid_argument', ['metric', '"cosine"', 'hamming']);
  await refused(() => call('POST', '/api/collections', { name: 'c2' }), 400, 'invalid_argument', ['dim', 'required']);
  await refused(() => call('POST', '/api/collections', { name: 'c2', dim: 4, encoder: 'nope' }), 404, 'not_found', ['nope']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'], vectors: [['a', 'b', 'c', 'd']] }), 400, 'invalid_argument', ['vectors[0][0]', 'number', 'string "a"']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: 'x', vectors: [[1, 2, 3, 4]] }), 400, 'invalid_argument', ['ids', 'array', 'string "x"']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'], vectors: [[1, 2, 3, 4]], metadata: [{}] }), 400, 'invalid_argument', ['metadata', 'unknown field', 'metadatas']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x', 'y'], vectors: [[1, 2, 3, 4]] }), 400, 'invalid_argument', ['vectors', '2 entries', '1']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'], vectors: ['not base64!'] }), 400, 'invalid_argument', ['vectors[0]', 'base64']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'], vectors: [[1, 2, 3, 4]], metadatas: [{ nested: { a: 1 } }] }), 400, 'invalid_argument', ['metadata']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'], documents: ['no encoder here'] }), 400, 'invalid_argument', ['documents', 'no served encoder']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'] }), 400, 'invalid_argument', ['vectors', 'required']);
  await refused(() => call('POST', '/api/collections/c/query', { text: 'one' }), 400, 'invalid_argument', ['text', 'fullText']);
  await refused(() => call('POST', '/api/collections/c/query', { vector: [1, 0, 0, 0], id: 'r1' }), 400, 'invalid_argument', ['vector and id']);
  await refused(() => call('POST', '/api/collections/c/query', {}), 400, 'invalid_argument', ['expected one of vector']);
  await refused(() => call('POST', '/api/collections/c/query', { vector: [1, 0, 0, 0], where: { k: { $near: 1 } } }), 400, 'invalid_argument', ['where']);
  await refused(() => call('POST', '/api/collections/c/get', { include: ['embeddings'] }), 400, 'invalid_argument', ['include[0]', '"vectors"', 'embeddings']);
  await refused(() => call('POST', '/api/collections/c/delete', {}), 400, 'invalid_argument', ['delete']);
});

test('wrong vector length: the whole batch is refused', async () => {
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x', 'y'], vectors: [[1, 2, 3, 4], [1, 2, 3]] }), 400, 'dimension_mismatch', ['add[1]', 'expected 4 numbers', 'got 3']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['x'], vectors: [f32base64([1, 2, 3])] }), 400, 'dimension_mismatch', ['vectors[0]', '16 bytes', 'got 12']);
  await refused(() => call('POST', '/api/collections/c/query', { vector: [1, 2] }), 400, 'dimension_mismatch', ['vector', 'expected 4']);
  await refused(() => call('POST', '/api/collections/c/upsert', { ids: ['r1', 'x'], vectors: [[9, 9, 9, 9], [1, 2, 3, 4, 5]] }), 400, 'dimension_mismatch');
});

test('duplicate ids: within a batch or already stored, the whole add is refused', async () => {
  // The same id twice in one call is malformed input (docs/hardening.md §1): 400, naming both positions.
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['n1', 'n1'], vectors: [[1, 1, 0, 0], [0, 1, 1, 0]] }), 400, 'invalid_argument', ['n1', 'appears twice', 'add[0]']);
  await refused(() => call('POST', '/api/collections/c/upsert', { ids: ['n1', 'n1'], vectors: [[1, 1, 0, 0], [0, 1, 1, 0]] }), 400, 'invalid_argument', ['n1', 'appears twice']);
  await refused(() => call('POST', '/api/collections/c/add', { ids: ['n2', 'r2'], vectors: [[1, 1, 0, 0], [0, 1, 1, 0]] }), 409, 'already_exists', ['r2', 'upsert']);
  await refused(() => call('POST', '/api/collections/c/update', { ids: ['r1', 'ghost'], metadatas: [{ k: 100 }, { k: 5 }] }), 404, 'not_found', ['ghost']);
});

test('k out of range, limit out of range', async () => {
  await refused(() => call('POST', '/api/collections/c/query', { vector: [1, 0, 0, 0], k: 0 }), 400, 'invalid_argument', ['k', 'from 1 to 100000', 'number 0']);
  await refused(() => call('POST', '/api/collections/c/query', { vector: [1, 0, 0, 0], k: 100001 }), 400, 'invalid_argument', ['k', 'from 1 to 100000', 'number 100001']);
  await refused(() => call('POST', '/api/collections/c/query', { vector: [1, 0, 0, 0], k: 2.5 }), 400, 'invalid_argument', ['k', 'integer']);
  await refused(() => call('POST', '/api/collections/c/get', { limit: 100001 }), 400, 'invalid_argument', ['limit', 'from 1 to 100000']);
});

test('oversize body: 413 before parsing', async () => {
  const ids = Array.from({ length: 200 }, (_, i) => `big${i}`);
  const body = { ids, vectors: ids.map(() => [0.123456789, 0.123456789, 0.123456789, 0.123456789]) };
  assert.ok(JSON.stringify(body).length > LIMIT);
  await refused(() => call('POST', '/api/collections/c/add', body), 413, 'payload_too_large', [String(LIMIT)]);
});

test('unknown collection, unknown route, wrong method', async () => {
  await refused(() => call('GET', '/api/collections/nope'), 404, 'not_found', ['nope', 'there are: c']);
  await refused(() => call('POST', '/api/collections/nope/add', { ids: ['x'], vectors: [[1, 2, 3, 4]] }), 404, 'not_found', ['nope']);
  await refused(() => call('DELETE', '/api/collections/nope'), 404, 'not_found');
  await refused(() => call('GET', '/api/nothing/here'), 404, 'not_found', ['/api/nothing/here']);
  await refused(() => raw('GET', '/api/collections/%E0%A4%A'), 400, 'invalid_argument', ['url']);
  const r = await refused(() => call('PUT', '/api/collections/c/add', { ids: [] }), 405, 'method_not_allowed', ['POST', 'PUT']);
  assert.equal(r.headers.get('allow'), 'POST');
  await refused(() => call('PATCH', '/api/collections/c'), 405, 'method_not_allowed', ['GET or DELETE']);
});

test('collection names with path characters are refused', async () => {
  for (const name of ['../x', 'a/b', '..', '.', '', 'a\\b', 'x'.repeat(129)]) {
    await refused(() => call('POST', '/api/collections', { name, dim: 4 }), 400, 'invalid_argument', ['collection name']);
  }
  await refused(() => call('GET', '/api/collections/a%2Fb'), 400, 'invalid_argument', ['collection name', 'a/b']);
  await refused(() => call('GET', '/api/collections/..%2Fx/count'), 400, 'invalid_argument', ['../x']);
  await refused(() => call('POST', '/api/collections/..%2F..%2Fetc/add', { ids: ['x'], vectors: [[1, 2, 3, 4]] }), 400, 'invalid_argument');
  await refused(() => raw('GET', '/api/collections/..'), 400, 'invalid_argument', ['".."']);
  await refused(() => raw('DELETE', '/api/collections/%2E%2E'), 400, 'invalid_argument', ['".."']);
  await refused(() => raw('POST', '/api/collections/../add', JSON.stringify({ ids: ['x'], vectors: [[1, 2, 3, 4]] })), 400, 'invalid_argument');
});

test('API key: missing or wrong key is 401 everywhere but /healthz', async () => {
  const anon = client(base);
  const wrong = client(base, 'not-the-key');
  for (const c of [anon, wrong]) {
    let r = await refused(() => c('GET', '/api/collections'), 401, 'unauthorized', ['key']);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    await refused(() => c('POST', '/api/collections', { name: 'c2', dim: 4 }), 401, 'unauthorized');
    await refused(() => c('POST', '/api/collections/c/add', { ids: ['x'], vectors: [[1, 2, 3, 4]] }), 401, 'unauthorized');
    await refused(() => c('DELETE', '/api/collections/c'), 401, 'unauthorized');
    await refused(() => c('GET', '/openapi.json'), 401, 'unauthorized');
    await refused(() => c('GET', '/api/unknown'), 401, 'unauthorized');
    r = await c('GET', '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
  }
  await refused(() => call('GET', '/api/collections', undefined, { authorization: `Basic ${KEY}` }), 401, 'unauthorized', ['Bearer']);
  await refused(() => call('GET', '/api/collections', undefined, { authorization: `Bearer ${KEY}x` }), 401, 'unauthorized');
  assert.equal((await call('GET', '/api/collections', undefined, { authorization: `bearer ${KEY}` })).status, 200, 'the scheme is case-insensitive');
});

test('an unexpected error is 500 internal: the stack goes to the log, not to the client', async () => {
  const d = mkdtempSync(join(tmpdir(), 'omnivec-server-internal-'));
  const enc = fakeEncoders({ dim: 4 });
  enc.embedTexts = () => Promise.reject(new Error('boom: secret detail'));
  const s = await createServer({ db: d, encoderService: enc });
  const written: string[] = [];
  try {
    await capture(async () => {
      assert.equal((await s.app.inject({ method: 'POST', url: '/api/collections', payload: { name: 'e', encoder: 'hash' } })).statusCode, 201);
      const r = await s.app.inject({ method: 'POST', url: '/api/collections/e/query', payload: { text: 'hi' } });
      assert.equal(r.statusCode, 500);
      const body = r.json() as { error: { code: string; message: string; type: string } };
      assert.equal(body.error.code, 'internal');
      assert.equal(body.error.type, 'server_error');
      assert.ok(!r.body.includes('boom') && !r.body.includes('.ts:'), r.body);
    }, { tee: (chunk) => written.push(chunk) });
  } finally {
    await s.close();
    rmSync(d, { recursive: true, force: true });
  }
  assert.ok(written.some((w) => w.includes('boom: secret detail') && w.includes('/api/collections/e/query')), written.join(''));
});

test('bytes that are not HTTP get a 400 in the same error shape', async () => {
  const before = await state();
  const { createConnection } = await import('node:net');
  const u = new URL(base);
  const raw = await new Promise<string>((resolve, reject) => {
    const s = createConnection(Number(u.port), u.hostname, () => s.end('POST /api/collections HTTP/1.1\r\nhost: x\r\n bad header line\r\n\r\n'));
    let got = '';
    s.on('data', (b) => { got += b.toString('utf8'); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400 /);
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'invalid_argument');
  assert.match(body.error.message, /expected an HTTP\/1\.1 request/);
  assert.deepEqual(await state(), before);
});
