/**
 * One collection-name rule over HTTP (docs/hardening.md §4): a name the database accepts (up to
 * 128 characters) is routable at every `:name` route, and a name it refuses gets the same 400
 * message at create and at every `:name` route — including names longer than the router's
 * parameter limit.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { checkCollectionName, MAX_COLLECTION_NAME } from '../src/db/names.js';
import { fakeEncoders } from './helpers/fake-encoders.js';
import { client, type Call } from './helpers/http.js';

let dir: string;
let server: OmnivecServer;
let call: Call;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omnivec-server-names-'));
  server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 3 }) });
  call = client(await server.listen(0));
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The library's message for a refused name. */
function libraryMessage(name: string): string {
  try {
    checkCollectionName(name);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`${name.length} characters: expected the library to refuse it`);
}

test('a 128-character name: create, info, add, get, count, query, delete all work over HTTP', async () => {
  const name = 'n'.repeat(MAX_COLLECTION_NAME - 3) + '-._';
  assert.equal(name.length, 128);
  const created = await call('POST', '/api/collections', { name, dim: 3 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const info = await call('GET', `/api/collections/${name}`);
  assert.equal(info.status, 200, JSON.stringify(info.body));
  assert.equal((info.body.collection as { name: string }).name, name);
  const add = await call('POST', `/api/collections/${name}/add`, { ids: ['a', 'b'], vectors: [[1, 0, 0], [0, 1, 0]] });
  assert.equal(add.status, 200, JSON.stringify(add.body));
  assert.equal((await call('GET', `/api/collections/${name}/count`)).body.count, 2);
  const got = await call('POST', `/api/collections/${name}/get`, { ids: ['a'] });
  assert.deepEqual(got.body.ids, ['a']);
  const q = await call('POST', `/api/collections/${name}/query`, { vector: [1, 0.1, 0], k: 1 });
  assert.equal(q.status, 200, JSON.stringify(q.body));
  assert.deepEqual(q.body.ids, ['a']);
  const del = await call('DELETE', `/api/collections/${name}`);
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.deepEqual(del.body, { dropped: name });
  assert.equal((await call('GET', `/api/collections/${name}`)).status, 404);
});

test('a name the database refuses gets the same 400 message at create and at every :name route', async () => {
  for (const name of ['x'.repeat(MAX_COLLECTION_NAME + 1), 'y'.repeat(300), '-starts-with-dash', 'has space', 'a%2Fb']) {
    const decoded = decodeURIComponent(name);
    const want = libraryMessage(decoded);
    const answers = [
      ['POST /api/collections', await call('POST', '/api/collections', { name: decoded, dim: 3 })],
      ['GET :name', await call('GET', `/api/collections/${name}`)],
      ['DELETE :name', await call('DELETE', `/api/collections/${name}`)],
      ['POST :name/add', await call('POST', `/api/collections/${name}/add`, { ids: ['a'], vectors: [[1, 0, 0]] })],
      ['POST :name/query', await call('POST', `/api/collections/${name}/query`, { vector: [1, 0, 0] })],
      ['GET :name/count', await call('GET', `/api/collections/${name}/count`)],
      ['POST :name/cluster', await call('POST', `/api/collections/${name}/cluster`, { k: 2 })],
      ['POST :name/classify', await call('POST', `/api/collections/${name}/classify`, { labelField: 'x' })],
      ['GET :name/projection', await call('GET', `/api/collections/${name}/projection`)],
    ] as const;
    for (const [route, r] of answers) {
      assert.equal(r.status, 400, `${route} with ${name.length} characters: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'invalid_argument', route);
      assert.equal(r.body.error?.message, want, `${route} with ${JSON.stringify(name.slice(0, 20))}…`);
    }
  }
  // Nothing was created along the way.
  assert.deepEqual((await call('GET', '/api/collections')).body.collections, []);
});
