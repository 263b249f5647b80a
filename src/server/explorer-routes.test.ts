import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { createServer } from './app.js';
import { EXPLORER_DIR, resolveExplorerFile } from './explorer-routes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function withServer(f: (s: Awaited<ReturnType<typeof createServer>>) => Promise<void>, apiKey?: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-explorer-routes-'));
  const server = await createServer({ db: dir, apiKey });
  try {
    await f(server);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the explorer folder is found two levels above the route file (src/server and dist/server alike)', () => {
  assert.equal(resolve(EXPLORER_DIR), join(ROOT, 'explorer'));
  assert.ok(readdirSync(EXPLORER_DIR).includes('index.html'));
});

test('GET / is the page; its scripts, styles and imported modules are served with their content types', async () => {
  await withServer(async ({ app }) => {
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(page.body, /<canvas[^>]*data-testid="map-canvas"/);
    // Every file the page links and every module app.js pulls in, followed from the page itself.
    const wanted = new Set([...page.body.matchAll(/(?:href|src)="(explorer\/[^"]+)"/g)].map((m) => m[1]!));
    assert.ok(wanted.has('explorer/app.js') && wanted.has('explorer/style.css'), [...wanted].join(', '));
    const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
    const seen = new Set<string>();
    while (wanted.size > 0) {
      const path = [...wanted][0]!;
      wanted.delete(path);
      seen.add(path);
      const r = await app.inject({ method: 'GET', url: `/${path}` });
      assert.equal(r.statusCode, 200, path);
      assert.equal(r.headers['content-type'], types[path.split('.').pop()!], path);
      assert.equal(r.body, readFileSync(join(ROOT, path), 'utf8'), path);
      for (const m of r.body.matchAll(/from '\.\/([a-z-]+\.js)'/g)) if (!seen.has(`explorer/${m[1]}`)) wanted.add(`explorer/${m[1]}`);
    }
    assert.ok(seen.size >= 5, [...seen].join(', '));
  });
});

test('revalidation: the ETag answers 304; HEAD works', async () => {
  await withServer(async ({ app }) => {
    const first = await app.inject({ method: 'GET', url: '/explorer/app.js' });
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[0-9a-z]+-[0-9a-z]+"$/);
    const again = await app.inject({ method: 'GET', url: '/explorer/app.js', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const changed = await app.inject({ method: 'GET', url: '/explorer/app.js', headers: { 'if-none-match': '"other"' } });
    assert.equal(changed.statusCode, 200);
    const head = await app.inject({ method: 'HEAD', url: '/' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-type'], 'text/html; charset=utf-8');
  });
});

/** GET with the path sent as written (inject() and fetch() normalise `..` away before the server sees it). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url), { method: 'GET', path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('no path outside the folder, no hidden or unlisted kinds of file: 404 in the error shape', async () => {
  await withServer(async ({ app, listen }) => {
    const url = await listen(0);
    const attempts = [
      '/explorer/../package.json',
      '/explorer/%2e%2e/package.json',
      '/explorer/..%2fpackage.json',
      '/explorer/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/explorer/..%2f..%2fsrc%2fserver%2fapp.ts',
      '/explorer//etc/passwd',
      '/explorer/%2fetc%2fpasswd',
      '/explorer/..\\package.json',
      '/explorer/%5c..%5cpackage.json',
      '/explorer/app.js%00.css',
      '/explorer/.hidden.js',
      '/explorer/missing.js',
      '/explorer/app.ts',
      '/explorer/index.html/../../package.json',
    ];
    for (const path of attempts) {
      for (const r of [await app.inject({ method: 'GET', url: path }), await rawGet(url, path).then((x) => ({ statusCode: x.status, body: x.body }))]) {
        assert.ok(r.statusCode === 404 || r.statusCode === 400, `${path}: ${r.statusCode}`);
        assert.doesNotMatch(r.body, /"name": "omnivec"|root:|createServer/, path);
        const body = JSON.parse(r.body) as { error: { code: string } };
        assert.ok(['not_found', 'invalid_argument'].includes(body.error.code), `${path}: ${r.body}`);
      }
    }
  });
  for (const p of ['../package.json', '/etc/passwd', 'a//b.js', 'a\\b.js', '.x.js', 'x.js\0', 'x.md', '', 'sub/../app.js']) {
    assert.equal(resolveExplorerFile(EXPLORER_DIR, p), undefined, JSON.stringify(p));
  }
  assert.equal(resolveExplorerFile(EXPLORER_DIR, 'app.js'), join(EXPLORER_DIR, 'app.js'));
});

test('/explorer, /explorer/ and /explorer/index.html lead to the page at / (relative redirects)', async () => {
  await withServer(async ({ app }) => {
    for (const [url, location] of [['/explorer', './'], ['/explorer/', '../'], ['/explorer/index.html', '../']] as const) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 302, url);
      assert.equal(r.headers.location, location, url);
      assert.equal(new URL(location, `http://h${url}`).pathname, '/', url);
    }
  });
});

test('with an API key the page loads without it; the API behind it still needs it', async () => {
  await withServer(async ({ app }) => {
    assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/explorer/app.js' })).statusCode, 200);
    const api = await app.inject({ method: 'GET', url: '/api/collections' });
    assert.equal(api.statusCode, 401);
    assert.equal((JSON.parse(api.body) as { error: { code: string } }).error.code, 'unauthorized');
  }, 'secret-key');
});
