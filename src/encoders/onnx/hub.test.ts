import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { OmnivecError } from '../../errors.js';
import { hubModelFolder, isHubId, resolveHubModel, type HubProgress } from './hub.js';

// A loopback stand-in for huggingface.co: GET /owner/name/resolve/<rev>/<file> from a map, with
// requests counted and some paths scripted to fail.

const MODEL = new Uint8Array(200_000).map((_, i) => (i * 31 + 7) & 0xff);
const REPO: Record<string, Uint8Array | string> = {
  'config.json': '{"model_type":"bert","hidden_size":8}',
  'tokenizer.json': '{"model":{"type":"WordPiece"}}',
  'onnx/model.onnx': MODEL,
  '1_Pooling/config.json': '{"pooling_mode_cls_token":true}',
};

class FakeHub {
  readonly requests: { url: string; authorization?: string }[] = [];
  /** url path → behaviour */
  readonly script = new Map<string, 'cut' | 401 | 500>();
  #server: Server;
  endpoint = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const url = decodeURIComponent(req.url ?? '');
      this.requests.push({ url, authorization: req.headers.authorization });
      const action = this.script.get(url);
      if (typeof action === 'number') {
        res.writeHead(action).end('{"error":"nope"}');
        return;
      }
      const m = /^\/acme\/tiny\/resolve\/main\/(.+)$/.exec(url);
      const body = m === null ? undefined : REPO[m[1]];
      if (body === undefined) {
        res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
        return;
      }
      const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
      res.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' });
      if (action === 'cut') {
        // Half the body, then the connection drops.
        res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy());
        return;
      }
      res.end(bytes);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const hub = await new FakeHub().start();
const root = mkdtempSync(join(tmpdir(), 'omnivec-hub-'));
const savedAllow = process.env.OMNIVEC_ALLOW_NETWORK;
delete process.env.OMNIVEC_ALLOW_NETWORK;
after(async () => {
  await hub.stop();
  rmSync(root, { recursive: true, force: true });
  if (savedAllow !== undefined) process.env.OMNIVEC_ALLOW_NETWORK = savedAllow;
});

const FILES = ['config.json', 'tokenizer.json', 'onnx/model.onnx'];
const OPTIONAL = ['tokenizer_config.json', '1_Pooling/config.json', 'omnivec.json'];
let n = 0;
const freshCache = (): string => join(root, `cache-${n++}`);

async function rejectsCode(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

/** Every file under DIR, relative, sorted. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
    .sort();
}

test('offline: the error names the hub id, the cache folder, every missing file and how to allow the download', async () => {
  const cacheDir = freshCache();
  const folder = hubModelFolder('acme/tiny', { cacheDir });
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), '{}');
  hub.requests.length = 0;
  await rejectsCode(resolveHubModel('acme/tiny', { files: FILES, optionalFiles: OPTIONAL, cacheDir, endpoint: hub.endpoint }), 'not_found', new RegExp(
    `model acme/tiny: not in the cache.*${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} lacks tokenizer.json, onnx/model.onnx\\. ` +
      `To download it from ${hub.endpoint}, pass allowNetwork: true \\(CLI: --allow-network\\) or set OMNIVEC_ALLOW_NETWORK=1; or pass the path of a local model folder`,
  ));
  assert.equal(hub.requests.length, 0);
  assert.equal(folder, join(cacheDir, 'models', 'acme--tiny'));
});

test('allowed: the download fills the cache (optional 404s tolerated and remembered); a second call does not touch the network', async () => {
  const cacheDir = freshCache();
  hub.requests.length = 0;
  const progress: HubProgress[] = [];
  const folder = await resolveHubModel('acme/tiny', {
    files: FILES, optionalFiles: OPTIONAL, cacheDir, endpoint: hub.endpoint, allowNetwork: true, token: 'hf_test', onProgress: (p) => progress.push(p),
  });
  assert.equal(folder, join(cacheDir, 'models', 'acme--tiny'));
  assert.deepEqual(tree(folder), ['.omnivec-hub.json', '1_Pooling/config.json', 'config.json', 'onnx/model.onnx', 'tokenizer.json']);
  assert.deepEqual(new Uint8Array(readFileSync(join(folder, 'onnx/model.onnx'))), MODEL);
  assert.equal(readFileSync(join(folder, 'config.json'), 'utf8'), REPO['config.json']);
  assert.deepEqual(hub.requests.map((r) => r.url), [...FILES, ...OPTIONAL].map((f) => `/acme/tiny/resolve/main/${f}`));
  assert.ok(hub.requests.every((r) => r.authorization === 'Bearer hf_test'));
  const last = progress.filter((p) => p.file === 'onnx/model.onnx').at(-1);
  assert.deepEqual(last, { file: 'onnx/model.onnx', loaded: MODEL.length, total: MODEL.length });

  hub.requests.length = 0;
  for (const allowNetwork of [true, false]) {
    assert.equal(await resolveHubModel('acme/tiny', { files: FILES, optionalFiles: OPTIONAL, cacheDir, endpoint: hub.endpoint, allowNetwork }), folder);
  }
  assert.equal(hub.requests.length, 0);

  // OMNIVEC_ALLOW_NETWORK=1 is the default switch; HF_ENDPOINT the default endpoint.
  const cache2 = freshCache();
  process.env.OMNIVEC_ALLOW_NETWORK = '1';
  const savedEndpoint = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = hub.endpoint;
  try {
    await resolveHubModel('acme/tiny', { files: ['config.json'], cacheDir: cache2 });
  } finally {
    delete process.env.OMNIVEC_ALLOW_NETWORK;
    if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = savedEndpoint;
  }
  assert.ok(existsSync(join(cache2, 'models', 'acme--tiny', 'config.json')));
});

test('an interrupted download leaves no file; the next run completes it', async () => {
  const cacheDir = freshCache();
  const folder = hubModelFolder('acme/tiny', { cacheDir });
  hub.script.set('/acme/tiny/resolve/main/onnx/model.onnx', 'cut');
  try {
    await rejectsCode(resolveHubModel('acme/tiny', { files: FILES, cacheDir, endpoint: hub.endpoint, allowNetwork: true }), 'encoder_error',
      /downloading http:\/\/127\.0\.0\.1:\d+\/acme\/tiny\/resolve\/main\/onnx\/model\.onnx was interrupted after \d+( of 200000)? bytes.*nothing was kept/);
  } finally {
    hub.script.clear();
  }
  assert.deepEqual(tree(folder), ['config.json', 'tokenizer.json'], 'no model.onnx, no .part file');
  hub.requests.length = 0;
  await resolveHubModel('acme/tiny', { files: FILES, cacheDir, endpoint: hub.endpoint, allowNetwork: true });
  assert.deepEqual(hub.requests.map((r) => r.url), ['/acme/tiny/resolve/main/onnx/model.onnx']);
  assert.deepEqual(new Uint8Array(readFileSync(join(folder, 'onnx/model.onnx'))), MODEL);
});

test('a required 404 names the URL; 401 speaks of gated models and HF_TOKEN; 5xx is an encoder_error', async () => {
  const cacheDir = freshCache();
  const o = { cacheDir, endpoint: hub.endpoint, allowNetwork: true };
  await rejectsCode(resolveHubModel('acme/tiny', { ...o, files: ['model.onnx'] }), 'not_found', /http:\/\/127\.0\.0\.1:\d+\/acme\/tiny\/resolve\/main\/model\.onnx answered 404/);
  hub.script.set('/acme/gated/resolve/main/config.json', 401);
  hub.script.set('/acme/broken/resolve/main/config.json', 500);
  try {
    await rejectsCode(resolveHubModel('acme/gated', { ...o, files: ['config.json'], token: undefined }), 'not_found', /answered 401: the model is gated or private.*set HF_TOKEN/);
    await rejectsCode(resolveHubModel('acme/gated', { ...o, files: ['config.json'], token: 'hf_bad' }), 'not_found', /The token in HF_TOKEN was refused/);
    await rejectsCode(resolveHubModel('acme/broken', { ...o, files: ['config.json'] }), 'encoder_error', /expected 200, got 500/);
  } finally {
    hub.script.clear();
  }
  // Nothing is left behind for the failed models.
  assert.ok(!existsSync(join(cacheDir, 'models', 'acme--gated', 'config.json')));
});

test('hub ids, cache folders and file lists are checked', async () => {
  assert.equal(isHubId('BAAI/bge-small-en-v1.5'), true);
  assert.equal(isHubId('sentence-transformers/all-MiniLM-L6-v2'), true);
  for (const s of ['./model', 'model', 'a/b/c', '/abs/path', 'a--b/c', 'a/../b', 'owner/name.', '']) assert.equal(isHubId(s), false, s);
  const local = join(root, 'owner', 'name');
  mkdirSync(local, { recursive: true });
  const cwd = process.cwd();
  process.chdir(root);
  try {
    assert.equal(isHubId('owner/name'), false, 'an existing folder wins');
  } finally {
    process.chdir(cwd);
  }
  assert.equal(hubModelFolder('a/b', { cacheDir: '/c', revision: 'v1.0' }), join('/c', 'models', 'a--b@v1.0'));
  const saved = process.env.OMNIVEC_CACHE;
  process.env.OMNIVEC_CACHE = '/somewhere';
  try {
    assert.equal(hubModelFolder('a/b'), join('/somewhere', 'models', 'a--b'));
  } finally {
    if (saved === undefined) delete process.env.OMNIVEC_CACHE;
    else process.env.OMNIVEC_CACHE = saved;
  }
  await rejectsCode(resolveHubModel('not a hub id', { files: ['x'] }), 'invalid_argument', /id: expected a hub id "owner\/name"/);
  await rejectsCode(resolveHubModel('a/b', { files: ['../../etc/passwd'] }), 'invalid_argument', /files: expected relative paths/);
  await rejectsCode(resolveHubModel('a/b', { files: [] }), 'invalid_argument', /files: expected a non-empty array/);
});
