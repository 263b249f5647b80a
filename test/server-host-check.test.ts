/**
 * The `Host` check against DNS rebinding (docs/hardening.md §5): without an API key the server
 * answers only requests whose Host names this machine, its --host or an --allowed-host name;
 * others get 403 `forbidden`. With a key any Host passes (the key is the protection). Real sockets,
 * raw Host headers (fetch does not let a page set Host, which is the point).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { createServer } from '../src/server/app.js';
import { hostAnswered, hostOfHeader, isLoopbackHost } from '../src/server/hosts.js';
import { fakeEncoders } from './helpers/fake-encoders.js';
import { withTempDir } from './helpers/assertions.js';

interface Raw { status: number; body: { error?: { code: string; message: string; type: string; param: null } } & Record<string, unknown> }

/** A request to `url` with the given Host header (undefined: none at all). */
function get(url: string, path: string, host: string | undefined, headers: Record<string, string> = {}): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method: 'GET', path, setHost: host !== undefined, headers: { ...(host !== undefined ? { host } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Raw['body'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('hostOfHeader, isLoopbackHost, hostAnswered', () => {
  assert.equal(hostOfHeader('LocalHost:8080'), 'localhost');
  assert.equal(hostOfHeader('[::1]:8080'), '::1');
  assert.equal(hostOfHeader('localhost.'), 'localhost');
  assert.equal(hostOfHeader('evil.example'), 'evil.example');
  for (const bad of ['a b', 'evil.example:port', '[::1', 'http://x', '']) assert.equal(hostOfHeader(bad), undefined, bad);
  for (const h of ['localhost', 'app.localhost', '127.0.0.1', '127.9.8.7', '::1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['localhost.evil.example', 'evil.example', '10.0.0.1', '128.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  const none = new Set<string>();
  for (const h of ['localhost:8080', '127.0.0.1', '[::1]:9', 'x.localhost', '192.168.1.5:8080', '[fe80::1]']) assert.ok(hostAnswered(h, none), h);
  for (const h of ['evil.example', 'evil.example:8080', '127.0.0.1.nip.io', 'localhost.evil.example', 'a b']) assert.ok(!hostAnswered(h, none), h);
  assert.ok(hostAnswered('box.lan:8080', new Set(['box.lan'])));
});

test('without a key: a foreign Host gets 403 forbidden (healthz and API alike); localhost, 127.0.0.1 and --allowed-host names are answered', () => withTempDir('omnivec-host-', async (dir) => {
  const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 3 }), allowedHosts: ['Box.LAN'] });
  try {
    const url = await server.listen(0);
    const port = new URL(url).port;
    for (const path of ['/healthz', '/api/collections', '/openapi.json', '/no/such/route', '/']) {
      const r = await get(url, path, 'evil.example');
      assert.equal(r.status, 403, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'forbidden');
      assert.equal(r.body.error?.type, 'invalid_request_error');
      assert.equal(r.body.error?.param, null);
      assert.match(r.body.error!.message, /Host "evil\.example"/);
      assert.match(r.body.error!.message, /--allowed-host evil\.example/);
      assert.match(r.body.error!.message, /--api-key/);
    }
    assert.equal((await get(url, '/api/collections', `evil.example:${port}`)).status, 403);
    assert.equal((await get(url, '/api/collections', `localhost.evil.example:${port}`)).status, 403);
    for (const host of [`localhost:${port}`, 'localhost', `127.0.0.1:${port}`, '127.0.0.1', `[::1]:${port}`, `app.localhost:${port}`, `box.lan:${port}`, 'BOX.lan']) {
      const r = await get(url, '/api/collections', host);
      assert.equal(r.status, 200, `${host}: ${JSON.stringify(r.body)}`);
      assert.equal((await get(url, '/healthz', host)).status, 200, host);
    }
    // fetch sends the URL's host (127.0.0.1:port).
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    await server.close();
  }
}));

test('without a key, the name the server listens on is answered', async (t) => {
  // This machine's own name, when it resolves to an address of this machine (not in every container).
  const name = hostname().toLowerCase();
  let address: string;
  try {
    address = (await lookup(name)).address;
  } catch {
    t.skip(`${name} does not resolve here`);
    return;
  }
  if (isLoopbackHost(name) || isIP(name) !== 0) {
    t.skip(`${name} is answered anyway`);
    return;
  }
  await withTempDir('omnivec-host-', async (dir) => {
    const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 3 }) });
    try {
      let url: string;
      try {
        url = await server.listen(0, name);
      } catch (e) {
        t.skip(`cannot listen on ${name} (${address}): ${(e as Error).message}`);
        return;
      }
      assert.equal((await get(url, '/healthz', name)).status, 200);
      assert.equal((await get(url, '/healthz', `${name}.other.example`)).status, 403);
    } finally {
      await server.close();
    }
  });
});

test('with a key any Host passes the Host check (the key decides)', () => withTempDir('omnivec-host-', async (dir) => {
  const server = await createServer({ db: dir, apiKey: 'k', encoderService: fakeEncoders({ dim: 3 }) });
  try {
    const url = await server.listen(0);
    assert.equal((await get(url, '/healthz', 'evil.example')).status, 200);
    assert.equal((await get(url, '/api/collections', 'evil.example', { authorization: 'Bearer k' })).status, 200);
    const r = await get(url, '/api/collections', 'evil.example');
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'unauthorized');
  } finally {
    await server.close();
  }
}));

test('allowedHosts is checked', () => withTempDir('omnivec-host-', async (dir) => {
  for (const bad of [['http://x.example'], ['x.example:8080'], [''], 'x.example', [3]]) {
    await assert.rejects(createServer({ db: dir, allowedHosts: bad as string[] }), (e: unknown) => (e as { code?: string }).code === 'invalid_argument' && /allowedHosts/.test((e as Error).message), JSON.stringify(bad));
  }
}));
