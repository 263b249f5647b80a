/**
 * `/v1/embeddings` and `/v1/models` through the official `openai` client against the real server
 * (createServer, listening on a free port), with tiny ONNX text models built here. The vectors are
 * compared with the same encoder run in this process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { createEncoderService } from '../src/server/encoders.js';
import { openDatabase } from '../src/db/database.js';
import { createTextEncoder, type OnnxTextEncoder } from '../src/encoders/onnx/text-encoder.js';
import { batchRows } from '../src/encoders/common.js';
import { writeTinyTextModel } from './helpers/onnx-build.js';
import { assertClose } from './helpers/assertions.js';

const VOCAB = ['hello', 'world', 'king', 'queen', 'cat', 'dog', 'car', 'truck', 'the', 'a'];
const DIM = 8;
const KEY = 'test-key';

let root: string;
let server: OmnivecServer;
let url: string;
let client: OpenAI;
let mini: OnnxTextEncoder;
let mrl4: OnnxTextEncoder;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'omnivec-openai-'));
  const vectors = Float32Array.from({ length: VOCAB.length * DIM }, (_, k) => Math.cos(0.3 + k * 1.3) + (k % 9 === 0 ? 1 : 0));
  const tiny = (await writeTinyTextModel(join(root, 'tiny'), { vocab: VOCAB, dim: DIM, vectors, lowercase: true })).dir;
  const mrl = (await writeTinyTextModel(join(root, 'mrl'), { vocab: VOCAB, dim: DIM, vectors, lowercase: true })).dir;
  writeFileSync(join(mrl, 'omnivec.json'), JSON.stringify({ kind: 'text', matryoshka: true }));
  server = await createServer({ db: join(root, 'db'), apiKey: KEY, encoders: { mini: tiny, mrl }, threads: 1 });
  url = await server.listen(0);
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
  mini = await createTextEncoder(tiny, { threads: 1 });
  mrl4 = await createTextEncoder(mrl, { threads: 1, dimensions: 4 });
});

after(async () => {
  await server?.close();
  await mini?.close();
  await mrl4?.close();
  rmSync(root, { recursive: true, force: true });
});

const tokensOf = async (enc: OnnxTextEncoder, texts: string[]): Promise<number> => (await enc.encodeDetailed(texts)).tokens.reduce((a, b) => a + b, 0);

/** The APIError a call rejects with (the client's own class, status and our message). */
async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, `expected an OpenAI.APIError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

test('embeddings.create with a string (float): the encoder\'s vector, usage, the model echoed', async () => {
  const r = await client.embeddings.create({ model: 'mini', input: 'Hello world', encoding_format: 'float' });
  assert.equal(r.object, 'list');
  assert.equal(r.model, 'mini');
  assert.equal(r.data.length, 1);
  assert.equal(r.data[0]!.object, 'embedding');
  assert.equal(r.data[0]!.index, 0);
  assert.ok(Array.isArray(r.data[0]!.embedding));
  assertClose(r.data[0]!.embedding, (batchRows(await mini.encode(['Hello world'])))[0]!);
  assert.equal(r.usage.prompt_tokens, 4);
  assert.equal(r.usage.total_tokens, 4);
});

test('embeddings.create with a list and the client\'s default (base64 on the wire, decoded by the client)', async () => {
  const texts = ['the king', 'a cat and a dog', 'truck', 'queen queen queen'];
  const r = await client.embeddings.create({ model: 'mini', input: texts });
  const want = batchRows(await mini.encode(texts));
  assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2, 3]);
  r.data.forEach((d, i) => assertClose(Array.from(d.embedding as ArrayLike<number>), want[i]!));
  assert.equal(r.usage.prompt_tokens, await tokensOf(mini, texts));
});

test('encoding_format base64: little-endian float32 bytes, bit-for-bit the float answer', async () => {
  const texts = ['hello', 'world car'];
  const r = await client.embeddings.create({ model: 'mini', input: texts, encoding_format: 'base64' });
  const f = await client.embeddings.create({ model: 'mini', input: texts, encoding_format: 'float' });
  const want = batchRows(await mini.encode(texts));
  r.data.forEach((d, i) => {
    assert.equal(typeof d.embedding, 'string');
    const bytes = Buffer.from(d.embedding as unknown as string, 'base64');
    assert.equal(bytes.length, 4 * DIM);
    const v = Float32Array.from({ length: DIM }, (_, k) => bytes.readFloatLE(4 * k));
    assertClose(v, want[i]!);
    assert.deepEqual(Array.from(v), f.data[i]!.embedding);
  });
});

test('dimensions: a Matryoshka model cuts and renormalises; a model that does not declare it is refused', async () => {
  const r = await client.embeddings.create({ model: 'mrl', input: ['the king', 'a dog'], dimensions: 4, encoding_format: 'float' });
  const want = batchRows(await mrl4.encode(['the king', 'a dog']));
  r.data.forEach((d, i) => {
    assert.equal(d.embedding.length, 4);
    assertClose(d.embedding, want[i]!);
  });
  const e = await apiError(client.embeddings.create({ model: 'mini', input: 'hello', dimensions: 4 }));
  assert.ok(e instanceof OpenAI.BadRequestError);
  assert.equal(e.status, 400);
  assert.equal(e.code, 'invalid_argument');
  assert.match(e.message, /^400 dimensions: mini does not declare Matryoshka training/);
});

test('models.list: the served encoders', async () => {
  const ids: string[] = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'omnivec');
    assert.ok(Number.isInteger(m.created) && m.created > 1.6e9);
    ids.push(m.id);
  }
  assert.deepEqual(ids.sort(), ['mini', 'mrl']);
});

test('errors come back as OpenAI.APIError with our status, code and message', async () => {
  const unknown = await apiError(client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' }));
  assert.ok(unknown instanceof OpenAI.NotFoundError);
  assert.equal(unknown.code, 'not_found');
  assert.match(unknown.message, /^404 model: no served encoder is named "text-embedding-3-small"; served: mini, mrl/);

  const tokens = await apiError(client.embeddings.create({ model: 'mini', input: [[101, 2023, 102]] }));
  assert.equal(tokens.status, 400);
  assert.match(tokens.message, /input\[0\]: token ids are not accepted/);
  const flat = await apiError(client.embeddings.create({ model: 'mini', input: [101, 2023, 102] }));
  assert.match(flat.message, /^400 input: token ids are not accepted/);

  const many = await apiError(client.embeddings.create({ model: 'mini', input: Array.from({ length: 2049 }, () => 'hello') }));
  assert.equal(many.status, 400);
  assert.match(many.message, /input: expected at most 2048 texts per request, got 2049/);

  const empty = await apiError(client.embeddings.create({ model: 'mini', input: ['hello', ''] }));
  assert.equal(empty.status, 400);
  assert.match(empty.message, /input\[1\]: expected a non-empty string/);

  const format = await apiError(client.embeddings.create({ model: 'mini', input: 'hello', encoding_format: 'int8' as 'float' }));
  assert.match(format.message, /encoding_format: expected "float" or "base64"/);

  const wrongKey = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-the-key', maxRetries: 0 });
  const auth = await apiError(wrongKey.embeddings.create({ model: 'mini', input: 'hello' }));
  assert.ok(auth instanceof OpenAI.AuthenticationError);
  assert.equal(auth.status, 401);
  assert.equal(auth.code, 'unauthorized');
});

test('exactly 2,048 inputs are served', async () => {
  const texts = Array.from({ length: 2048 }, (_, i) => `${VOCAB[i % VOCAB.length]} ${VOCAB[(i * 7) % VOCAB.length]}`);
  const r = await client.embeddings.create({ model: 'mini', input: texts });
  assert.equal(r.data.length, 2048);
  assert.equal(r.usage.prompt_tokens, 2048 * 4);
  assertClose(Array.from(r.data[2047]!.embedding as ArrayLike<number>), (batchRows(await mini.encode([texts[2047]!])))[0]!);
});

test('a served encoder as a remote one: --encoder far=openai:mini against this server gives the same vectors and tokens', async () => {
  const saved = { base: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
  process.env.OPENAI_BASE_URL = `${url}/v1`;
  process.env.OPENAI_API_KEY = KEY;
  const db = await openDatabase(join(root, 'db-remote'));
  const s = createEncoderService({ db, dbDir: db.dir, encoders: { far: 'openai:mini', cut: 'openai:mrl' } });
  try {
    const texts = ['the king', 'a truck'];
    const r = await s.embedTexts('far', texts);
    const want = batchRows(await mini.encode(texts));
    r.vectors.forEach((v, i) => assertClose(v, want[i]!));
    assert.equal(r.tokens, await tokensOf(mini, texts));
    const info = await s.info('far');
    assert.equal(info.kind, 'remote');
    assert.equal(info.dim, DIM);
    assert.equal(info.spec.source, 'openai:mini');
    // dimensions are the API's own: asked of the remote model.
    const c = await s.embedTexts('cut', texts, { dimensions: 4 });
    const want4 = batchRows(await mrl4.encode(texts));
    c.vectors.forEach((v, i) => assertClose(v, want4[i]!));
  } finally {
    await s.close();
    await db.close();
    if (saved.base === undefined) delete process.env.OPENAI_BASE_URL; else process.env.OPENAI_BASE_URL = saved.base;
    if (saved.key === undefined) delete process.env.OPENAI_API_KEY; else process.env.OPENAI_API_KEY = saved.key;
  }
});

test('vectors come back at unit length (OpenAI\'s clients take the dot product as the cosine), after a dimensions cut too; normalize: false gives the raw ones', async () => {
  // A model that does not normalise its output (omnivec.json normalize: false) and declares Matryoshka.
  const vectors = Float32Array.from({ length: VOCAB.length * DIM }, (_, k) => 3 * Math.sin(1 + k * 0.7));
  const dir = (await writeTinyTextModel(join(root, 'raw'), { vocab: VOCAB, dim: DIM, vectors, lowercase: true })).dir;
  writeFileSync(join(dir, 'omnivec.json'), JSON.stringify({ kind: 'text', matryoshka: true, normalize: false }));
  const s = await createServer({ db: join(root, 'db-unit'), encoders: { raw: dir }, threads: 1 });
  const own = await createTextEncoder(dir, { threads: 1 });
  const own4 = await createTextEncoder(dir, { threads: 1, dimensions: 4 });
  try {
    const base = await s.listen(0);
    const c = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'none', maxRetries: 0 });
    // The extension is in the OpenAPI document.
    const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, { post: { requestBody: { content: { 'application/json': { schema: { properties: Record<string, { type: string }> } } } } } }> };
    assert.equal(doc.paths['/v1/embeddings']!.post.requestBody.content['application/json'].schema.properties.normalize?.type, 'boolean');
    const texts = ['the king', 'a cat and a dog', 'truck', 'queen queen queen'];
    const norm = (v: ArrayLike<number>): number => Math.hypot(...Array.from(v));
    const raw = batchRows(await own.encode(texts));
    assert.ok(raw.every((v) => Math.abs(norm(v) - 1) > 0.01), 'the model\'s own vectors are not unit length');
    for (const request of [
      { model: 'raw', input: texts },
      { model: 'raw', input: texts, encoding_format: 'float' as const },
      { model: 'raw', input: texts, dimensions: 4 },
      { model: 'raw', input: texts, dimensions: 2, encoding_format: 'float' as const },
      { model: 'raw', input: texts[0]!, normalize: true },
    ]) {
      const r = await c.embeddings.create(request as Parameters<typeof c.embeddings.create>[0]);
      assert.equal(r.data.length, typeof request.input === 'string' ? 1 : texts.length);
      r.data.forEach((d, i) => {
        const v = Array.from(d.embedding as ArrayLike<number>);
        assert.equal(v.length, request.dimensions ?? DIM);
        assert.ok(Math.abs(norm(v) - 1) <= 1e-5, `${JSON.stringify(request)} [${i}]: norm ${norm(v)}`);
        // The direction is the model's (of its first `dimensions` components).
        const want = raw[i]!.subarray(0, v.length);
        assertClose(v, Array.from(want, (x) => x / norm(want)), 1e-5);
      });
    }
    const r = await c.embeddings.create({ model: 'raw', input: texts, normalize: false } as Parameters<typeof c.embeddings.create>[0]);
    r.data.forEach((d, i) => assertClose(Array.from(d.embedding as ArrayLike<number>), raw[i]!, 1e-5));
    const r4 = await c.embeddings.create({ model: 'raw', input: texts, dimensions: 4, normalize: false, encoding_format: 'float' } as Parameters<typeof c.embeddings.create>[0]);
    const raw4 = batchRows(await own4.encode(texts));
    r4.data.forEach((d, i) => assertClose(d.embedding, raw4[i]!, 1e-5));
    const bad = await apiError(c.embeddings.create({ model: 'raw', input: 'hello', normalize: 'no' } as unknown as Parameters<typeof c.embeddings.create>[0]));
    assert.equal(bad.status, 400);
    assert.match(bad.message, /^400 normalize: expected true .* or false .*, got the string "no"/);
  } finally {
    await s.close();
    await own.close();
    await own4.close();
  }
});
