import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { OmnivecError } from '../../errors.js';
import { createRemoteEncoder, planBatches, type RemoteEncoderOptions } from './index.js';
import { textHash } from './checkpoint.js';
import { retryAfterMs, backoffDelay, DEFAULT_BACKOFF } from './retry.js';
import { batchRows } from '../common.js';
import { runEncoderConformance } from '../conformance.js';
import { openEncoder } from '../registry.js';
import type { Encoder } from '../types.js';
import type { Encoding } from '../types.js';

// A deterministic OpenAI-compatible /v1/embeddings on 127.0.0.1: the vector of a text is a
// normalised function of sha256(text); `dimensions` keeps a prefix and renormalises, as
// text-embedding-3 does; ZERO_TEXT gets the zero vector. Each request may be scripted to fail.

const FULL_DIM = 16;
const ZERO_TEXT = 'the zero vector, please';

function fullVector(text: string): Float32Array {
  const h = createHash('sha256').update(text).digest();
  const v = new Float32Array(FULL_DIM);
  for (let i = 0; i < FULL_DIM; i++) v[i] = (h[i] - 127.5) / 127.5;
  return v;
}

function expected(text: string, dims = FULL_DIM): Float32Array {
  const v = fullVector(text).slice(0, dims);
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return v.map((x) => x / n);
}

type Action =
  | { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number; after?: Promise<unknown> }
  | { drop: true }
  | { delayMs: number }
  | { mangle: 'count' | 'dim' | 'order' };

interface Received {
  input: string[];
  dimensions?: number;
  encoding_format?: string;
  authorization?: string;
}

class FakeApi {
  readonly received: Received[] = [];
  /** Called with the 0-based request number; undefined = answer normally. */
  script: (n: number, body: Received) => Action | undefined = () => undefined;
  #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
    return this;
  }

  reset(script: FakeApi['script'] = () => undefined): void {
    this.received.length = 0;
    this.script = script;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.url}` } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received & { model: string };
    body.authorization = req.headers.authorization;
    const n = this.received.length;
    this.received.push(body);
    const action = this.script(n, body);
    if (action !== undefined && 'drop' in action) {
      req.socket.destroy();
      return;
    }
    if (action !== undefined && 'delayMs' in action && action.delayMs !== undefined) {
      // Stop waiting when the client gives up, so that no timer outlives the test.
      const delayMs = action.delayMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delayMs);
        res.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (action !== undefined && 'status' in action) {
      await action.after;
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers }).end(JSON.stringify(action.body ?? {}));
      return;
    }
    const dims = body.dimensions ?? FULL_DIM;
    let data = body.input.map((text, index) => {
      const v = text === ZERO_TEXT ? new Float32Array(dims) : expected(text, dims);
      const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    if (action !== undefined && 'mangle' in action) {
      if (action.mangle === 'count') data = data.slice(1);
      if (action.mangle === 'dim') data[0].embedding = [1, 0, 0];
      if (action.mangle === 'order') data.reverse();
    }
    const tokens = body.input.reduce((s, t) => s + t.length, 0);
    if (!res.destroyed) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }));
    }
  }
}

const api = await new FakeApi().start();
const tmp = mkdtempSync(join(tmpdir(), 'omnivec-remote-'));
const savedKey = process.env.OPENAI_API_KEY;
delete process.env.OPENAI_API_KEY;
after(async () => {
  await api.stop();
  rmSync(tmp, { recursive: true, force: true });
  if (savedKey !== undefined) process.env.OPENAI_API_KEY = savedKey;
});

const FAST = { initialMs: 5, maxMs: 20, factor: 2, jitter: 0.5 };
const enc = (o: Partial<RemoteEncoderOptions> = {}) => createRemoteEncoder({ baseURL: api.url, model: 'test-embed', backoff: FAST, ...o });
const texts = (n: number, prefix = 'text') => Array.from({ length: n }, (_, i) => `${prefix} number ${i}`);

function assertVectors(batch: Encoding, inputs: string[], dims = FULL_DIM): void {
  const got = batchRows(batch);
  assert.equal(got.length, inputs.length);
  got.forEach((v, i) => assert.deepEqual(v, expected(inputs[i], dims), `vector ${i} (${inputs[i]})`));
}

async function rejectsCode(p: Promise<unknown>, code: string, message: RegExp): Promise<OmnivecError> {
  let err: unknown;
  await assert.rejects(p, (e: unknown) => {
    err = e;
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
  return err as OmnivecError;
}

test('base64 and float wire formats give the same vectors, in input order; spec and dim', async () => {
  const inputs = texts(5);
  for (const encodingFormat of ['base64', 'float'] as const) {
    api.reset();
    const e = enc({ encodingFormat });
    assert.throws(() => e.dim, /not known yet/);
    assertVectors(await e.encode(inputs), inputs);
    assert.equal(e.dim, FULL_DIM);
    assert.deepEqual(e.spec, { model: 'openai:test-embed', kind: 'remote', baseURL: api.url, dim: FULL_DIM });
    assert.equal(api.received[0].encoding_format, encodingFormat);
    assert.equal(api.received[0].authorization, undefined, 'no key: no Authorization header');
    assert.equal(e.usage.promptTokens, inputs.join('').length);
    await e.close();
    await rejectsCode(e.encode(inputs), 'invalid_argument', /closed/);
  }
  assert.deepEqual(batchRows(await enc().encode([])), []);
});

test('dimensions are sent, named in the spec, and checked; the key goes in Authorization', async () => {
  api.reset();
  const inputs = texts(3);
  const e = enc({ dimensions: 4, apiKey: 'sk-test' });
  assert.equal(e.dim, 4);
  assert.equal(e.spec.model, 'openai:test-embed@4');
  assertVectors(await e.encode(inputs), inputs, 4);
  assert.equal(api.received[0].dimensions, 4);
  assert.equal(api.received[0].authorization, 'Bearer sk-test');
  process.env.OPENAI_API_KEY = 'sk-env';
  try {
    await enc().encode(['x']);
    assert.equal(api.received[1].authorization, 'Bearer sk-env');
  } finally {
    delete process.env.OPENAI_API_KEY;
  }
  // A server that ignores `dimensions` is caught.
  api.reset((_, b) => (b.dimensions !== undefined ? { mangle: 'dim' } : undefined));
  await rejectsCode(enc({ dimensions: 4 }).encode(['a', 'b']), 'encoder_error', /data\[0\]\.embedding: expected dimension 4 \(dimensions requested\), got 3/);
  assert.throws(() => enc({ dimensions: 4, dim: 8 }), /dim: expected 4/);
});

test('batches stay under maxBatch and maxBatchTokens; results keep input order under concurrency', async () => {
  api.reset();
  const inputs = texts(10);
  assertVectors(await enc({ maxBatch: 3, concurrency: 1 }).encode(inputs), inputs);
  assert.deepEqual(api.received.map((r) => r.input.length), [3, 3, 3, 1]);
  assert.deepEqual(api.received.flatMap((r) => r.input), inputs);

  // 30 characters = 10 estimated tokens each: 25 tokens a request holds 2.
  api.reset();
  const long = Array.from({ length: 5 }, (_, i) => `${i}`.padEnd(30, '.'));
  assertVectors(await enc({ maxBatchTokens: 25 }).encode(long), long);
  assert.deepEqual(api.received.map((r) => r.input.length).sort(), [1, 2, 2]);

  // A counting function given by the caller replaces the estimate.
  api.reset();
  await enc({ maxBatchTokens: 6, countTokens: (t) => t.split(' ').length }).encode(inputs.slice(0, 4));
  assert.deepEqual(api.received.map((r) => r.input.length), [2, 2]);

  // Two requests in flight, answered out of order (the first slowest): order still holds.
  api.reset((n) => ({ delayMs: n === 0 ? 80 : 5 }));
  const progress: number[] = [];
  const got = await enc({ maxBatch: 2, concurrency: 2 }).encode(inputs, { onProgress: (d, t) => progress.push(d / t) });
  assertVectors(got, inputs);
  assert.equal(progress.at(-1), 1);
  assert.equal(progress.length, 5);

  // A server that answers the items in reverse order (with their index) is put back in order.
  api.reset(() => ({ mangle: 'order' }));
  assertVectors(await enc().encode(inputs), inputs);

  assert.deepEqual(planBatches([0, 1, 2, 3], [5, 50, 5, 5], 10, 20), [[0], [1], [2, 3]]);
});

test('empty and over-long inputs are refused up front, naming the index', async () => {
  api.reset();
  await rejectsCode(enc().encode(['a', '', 'c']), 'invalid_argument', /texts\[1\]: expected a non-empty string/);
  await rejectsCode(enc().encode(['a', 'x'.repeat(8191 * 3 + 1)]), 'invalid_argument', /texts\[1\]: expected at most maxInputTokens = 8191 tokens, got 8192/);
  await rejectsCode(enc().encode(['a', 7 as unknown as string]), 'invalid_argument', /texts\[1\]: expected a string, got the number 7/);
  assert.equal(api.received.length, 0);
});

test('429 honours Retry-After (seconds) and retry-after-ms over the computed backoff', async () => {
  // The computed backoff would be 20 s; the headers say 1 s and 150 ms. The upper bounds, 10 s, are
  // generous (the waits take the header's time and a few ms here): they only tell the header from the backoff.
  const slowBackoff = { initialMs: 20_000, maxMs: 20_000, factor: 1, jitter: 0 };
  api.reset((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'Rate limit reached' } } } : undefined));
  const warnings: string[] = [];
  let t0 = Date.now();
  const e = enc({ backoff: slowBackoff, onWarning: (m) => warnings.push(m) });
  assertVectors(await e.encode(['a']), ['a']);
  let ms = Date.now() - t0;
  assert.ok(ms >= 950 && ms < 10_000, `waited ${ms} ms for Retry-After: 1`);
  assert.equal(api.received.length, 2);
  assert.deepEqual(e.usage, { requests: 2, retries: 1, promptTokens: 1 });
  assert.match(warnings[0], /429 Too Many Requests: Rate limit reached; retry 1 of 6/);

  api.reset((n) => (n === 0 ? { status: 429, headers: { 'retry-after-ms': '150' } } : undefined));
  t0 = Date.now();
  await enc({ backoff: slowBackoff }).encode(['a']);
  ms = Date.now() - t0;
  assert.ok(ms >= 140 && ms < 10_000, `waited ${ms} ms for retry-after-ms: 150`);

  const h = (o: Record<string, string>) => new Headers(o);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now), 3000);
  assert.equal(retryAfterMs(h({ 'retry-after': '3600' }), now), undefined, 'over a minute: use the backoff');
  assert.equal(retryAfterMs(h({ 'retry-after': 'soon' }), now), undefined);
  const b = { ...DEFAULT_BACKOFF, jitter: 0 };
  assert.deepEqual([1, 2, 3, 10].map((a) => backoffDelay(a, b)), [500, 1000, 2000, 20_000]);
  assert.equal(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999), 500 * (1 - 0.25 * 0.999));
});

test('503 twice then OK: three requests; a dropped connection is retried too', async () => {
  api.reset((n) => (n < 2 ? { status: 503, body: { error: { message: 'overloaded' } } } : undefined));
  const e = enc();
  assertVectors(await e.encode(['a', 'b']), ['a', 'b']);
  assert.equal(api.received.length, 3);
  assert.equal(e.usage.retries, 2);

  api.reset((n) => (n === 0 ? { drop: true } : undefined));
  assertVectors(await enc().encode(['a']), ['a']);
  assert.equal(api.received.length, 2);

  // Permanent 5xx: gives up after 1 + retries attempts, saying so.
  api.reset(() => ({ status: 502 }));
  await rejectsCode(enc({ retries: 2 }).encode(['a']), 'encoder_error', /502 Bad Gateway.*gave up after 3 attempts/);
  assert.equal(api.received.length, 3);
});

test('400, 401 and 404 are not retried; the server message and status are surfaced', async () => {
  api.reset(() => ({ status: 400, body: { error: { message: "'$.input' is invalid. Please check the API reference", type: 'invalid_request_error' } } }));
  const err = await rejectsCode(enc().encode(['a']), 'encoder_error', /400 Bad Request: '\$\.input' is invalid/);
  assert.equal(err.details?.status, 400);
  assert.equal(api.received.length, 1);

  api.reset(() => ({ status: 401, body: { error: { message: 'Incorrect API key provided: sk-bad' } } }));
  await rejectsCode(enc({ apiKey: 'sk-bad' }).encode(['a']), 'encoder_error', /401 Unauthorized: Incorrect API key/);
  assert.equal(api.received.length, 1);

  await rejectsCode(enc({ baseURL: api.url + '/nope' }).encode(['a']), 'encoder_error', /404 Not Found: no route/);
});

test('a slow response times out and is retried; abort stops at once', async () => {
  // A response would come after 20 s: two attempts that wait for it take 40 s, two that time out
  // 0.2 s (and a backoff of ms). The bound, 10 s, is generous: it only tells the two apart.
  api.reset(() => ({ delayMs: 20_000 }));
  const t0 = Date.now();
  await rejectsCode(enc({ timeoutMs: 100, retries: 1 }).encode(['a']), 'encoder_error', /no response within timeoutMs = 100.*gave up after 2 attempts/);
  assert.ok(Date.now() - t0 < 10_000, `two attempts with timeoutMs = 100 took ${Date.now() - t0} ms`);
  assert.equal(api.received.length, 2);

  api.reset(() => ({ status: 503 }));
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('stop')), 100);
  await assert.rejects(enc({ backoff: { initialMs: 5000 } }).encode(['a'], { signal: ac.signal }), /stop/);
  assert.equal(api.received.length, 1);
});

test('a wrong count or a bad index in the response is an encoder_error', async () => {
  api.reset(() => ({ mangle: 'count' }));
  await rejectsCode(enc().encode(['a', 'b', 'c']), 'encoder_error', /expected 3 embeddings \(one per input\), got 2/);
  api.reset(() => ({ status: 200, body: { data: [{ index: 0, embedding: [1, 2] }, { index: 0, embedding: [1, 2] }] } }));
  await rejectsCode(enc().encode(['a', 'b']), 'encoder_error', /data\[1\]\.index: expected a distinct integer in \[0, 2\), got the number 0/);
  assert.equal(api.received.length, 1, 'not retried');
});

test('checkpoint: a run failing after 2 of 5 batches keeps them; the rerun requests only the other 3', async () => {
  const inputs = texts(10, 'doc');
  const file = join(tmp, 'job.jsonl');
  const o = { maxBatch: 2, concurrency: 1, retries: 0, checkpoint: file };

  api.reset((n) => (n >= 2 ? { status: 500, body: { error: { message: 'boom' } } } : undefined));
  await rejectsCode(enc(o).encode(inputs), 'encoder_error', /500 Internal Server Error: boom/);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines[0], { omnivec: 'remote-checkpoint', version: 1, model: 'openai:test-embed' });
  assert.deepEqual(lines.slice(1).map((l) => l.i), [0, 1, 2, 3]);
  assert.equal(lines[1].h, textHash(inputs[0]));

  api.reset();
  const progress: number[] = [];
  const got = await enc(o).encode(inputs, { onProgress: (d) => progress.push(d) });
  assert.equal(api.received.length, 3);
  assert.deepEqual(api.received.flatMap((r) => r.input), inputs.slice(4));
  assert.deepEqual(progress, [4, 6, 8, 10]);
  api.reset();
  const clean = await enc({ maxBatch: 2 }).encode(inputs);
  assert.deepEqual(batchRows(got), batchRows(clean));
  assertVectors(got, inputs);

  // Complete: a third run sends nothing.
  api.reset();
  assert.deepEqual(batchRows(await enc(o).encode(inputs)), batchRows(clean));
  assert.equal(api.received.length, 0);
});

test('checkpoint: on a permanent failure the batches in flight still finish and are kept', async () => {
  const inputs = texts(10, 'flight');
  const file = join(tmp, 'flight.jsonl');
  // Batch 2 fails once batch 3 has arrived (and is answered 50 ms later); batch 4 never starts.
  let arrived!: () => void;
  const batch3 = new Promise<void>((resolve) => (arrived = resolve));
  api.reset((_, b) => {
    if (b.input.includes(inputs[4])) return { status: 400, body: { error: { message: 'bad' } }, after: batch3 };
    if (b.input.includes(inputs[6])) {
      arrived();
      return { delayMs: 50 };
    }
    return undefined;
  });
  await rejectsCode(enc({ maxBatch: 2, concurrency: 2, checkpoint: file }).encode(inputs), 'encoder_error', /400 Bad Request: bad/);
  const kept = readFileSync(file, 'utf8').trimEnd().split('\n').slice(1).map((l) => (JSON.parse(l) as { i: number }).i).sort((a, b) => a - b);
  assert.deepEqual(kept, [0, 1, 2, 3, 6, 7]);
  assert.equal(api.received.length, 4);
  api.reset();
  assertVectors(await enc({ maxBatch: 2, checkpoint: file }).encode(inputs), inputs);
  assert.deepEqual(api.received.map((r) => r.input), [inputs.slice(4, 6), inputs.slice(8, 10)]);
  await rejectsCode(enc({ checkpoint: join(tmp, 'no', 'such', 'dir.jsonl') }).encode(['a']), 'invalid_argument', /checkpoint: expected a file that can be appended to.*ENOENT/);
});

test('checkpoint: a torn last line is cut, changed texts are re-requested with a warning, another model is refused', async () => {
  const inputs = texts(4, 'row');
  const file = join(tmp, 'torn.jsonl');
  api.reset();
  await enc({ checkpoint: file, maxBatch: 2 }).encode(inputs.slice(0, 2));
  appendFileSync(file, '{"i":2,"h":"0123456789abcdef","e":"AAAA');

  api.reset();
  const warnings: string[] = [];
  const changed = [inputs[0], 'something else', inputs[2], inputs[3]];
  const got = await enc({ checkpoint: file, onWarning: (m) => warnings.push(m) }).encode(changed);
  assertVectors(got, changed);
  assert.deepEqual(api.received.flatMap((r) => r.input), changed.slice(1));
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0], /torn last line/);
  assert.match(warnings[1], /ignored 1 line\(s\) that match no input \(index 1/);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  for (const l of text.trimEnd().split('\n')) JSON.parse(l);

  await rejectsCode(enc({ checkpoint: file, dimensions: 4 }).encode(changed), 'invalid_argument', /written for model "openai:test-embed", this encoder is "openai:test-embed@4"/);
  writeFileSync(file, '{"omnivec":"remote-checkpoint","version":9,"model":"openai:test-embed"}\n');
  await rejectsCode(enc({ checkpoint: file }).encode(changed), 'unsupported_version', /expected version 1, got 9/);
});

test('options are checked', () => {
  assert.throws(() => enc({ baseURL: 'api.openai.com' }), /baseURL: expected an http\(s\) URL/);
  assert.throws(() => enc({ model: '' }), /model: expected a model name/);
  assert.throws(() => enc({ maxBatch: 0 }), /maxBatch: expected a positive integer, got the number 0/);
  assert.throws(() => enc({ retries: -1 }), /retries: expected a non-negative integer/);
  assert.throws(() => enc({ encodingFormat: 'json' as 'float' }), /encodingFormat: expected 'base64' or 'float'/);
});

// The encoder contract (types.ts) through the registry: `openai:MODEL` against the fake API; a spec
// naming a remote API reopens only with the network allowed.
runEncoderConformance('remote (OpenAI-compatible)', {
  modality: 'text',
  open: async () => await openEncoder('openai:test-embed', {}, { baseURL: api.url }) as Encoder<'text'>,
  context: { allowNetwork: true },
  inputs: texts(4),
  zeroText: ZERO_TEXT,
  tolerance: 0,
});
