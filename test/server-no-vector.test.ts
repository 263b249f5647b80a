/**
 * Text that encodes to nothing (docs/hardening.md §6): a SIF model given a text with no word of its
 * vocabulary refuses it with one message — `text[i] "…": none of its words is in the model's
 * vocabulary, so it has no vector` — in the library, over HTTP (`text` queries, documents to
 * encode), through `/v1/embeddings` with the official openai client, and in the CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';
import { averageEncoder, fitSif, type SifModel } from '../src/encoders/sif/sif.js';
import { saveSif } from '../src/encoders/sif/files.js';
import { storedModelDir } from '../src/encoders/stored-models.js';
import { openDatabase } from '../src/db/database.js';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { client, type Call } from './helpers/http.js';
import { hasCode } from './helpers/assertions.js';
import { runCli } from './helpers/cli.js';

const WORDS = ['the', 'a', 'cat', 'kitten', 'dog', 'puppy', 'car', 'truck', 'bus'];
const VECS = [[1, 1, 1, 0], [0.9, 1, 1.1, 0], [0, 0, 0.2, 1], [0.1, 0, 0.2, 0.9], [0, 0.2, 0, 1], [0.1, 0.1, 0, 0.95], [1, -1, 0, 0], [0.9, -1, 0.1, 0], [1, -0.9, 0, 0.1]];
const COUNTS = [1000, 800, 10, 5, 12, 4, 9, 6, 5];
const DOCS = ['the cat', 'a kitten', 'the dog and a puppy', 'a car', 'the truck', 'a bus'];

/** The one message, for the text at position i. */
const noVector = (i: number, quoted: string): string => `text[${i}] ${quoted}: none of its words is in the model's vocabulary, so it has no vector`;

let dir: string;
let kv: KeyedVectors;
let sif: SifModel;
let model: string;
let server: OmnivecServer;
let url: string;
let call: Call;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omnivec-no-vector-'));
  kv = new KeyedVectors(WORDS, Float32Array.from(VECS.flat()), 4, Float64Array.from(COUNTS));
  sif = await fitSif(kv, DOCS);
  model = sif.asEncoder().spec.model;
  const db = await openDatabase(dir);
  try {
    await saveSif(sif, storedModelDir(dir, model));
    const c = await db.createCollection({ name: 'sentences', dim: 4, encoder: sif.asEncoder().spec });
    await c.add({ ids: DOCS.map((_, i) => `s${i}`), vectors: sif.encode(DOCS), documents: DOCS });
  } finally {
    await db.close();
  }
  server = await createServer({ db: dir });
  url = await server.listen(0);
  call = client(url);
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('library: SIF and the plain average refuse a text without a known word, naming its position and (shortened) text', async () => {
  assert.throws(() => sif.encode(['qwzx']), (e: unknown) => hasCode('invalid_argument')(e) && (e as Error).message === noVector(0, '"qwzx"'));
  await assert.rejects(sif.asEncoder().encode(['the cat', 'qwzx zzyzx!']), (e: unknown) => hasCode('invalid_argument')(e) && (e as Error).message === noVector(1, '"qwzx zzyzx!"'));
  assert.throws(() => averageEncoder(kv).encode(['a dog', 'a b c', 'nothing known']), (e: unknown) => hasCode('invalid_argument')(e) && (e as Error).message === noVector(2, '"nothing known"'));
  const long = 'qwzx '.repeat(40);
  assert.throws(() => sif.encodeBatch([long]), (e: unknown) => hasCode('invalid_argument')(e) && (e as Error).message === noVector(0, JSON.stringify(`${long.slice(0, 59)}…`)));
  // Callers that count such texts themselves ask for the zero vector.
  assert.deepEqual(Array.from(sif.encode(['qwzx'], { allowEmpty: true })[0]!), [0, 0, 0, 0]);
  // A text with one known word has a vector.
  assert.ok(sif.encode(['qwzx cat'])[0]!.some((x) => x !== 0));
});

test('HTTP: a text query with no known word is 400 with the message; documents to encode too (nothing stored)', async () => {
  const q = await call('POST', '/api/collections/sentences/query', { text: 'qwzx', k: 3 });
  assert.equal(q.status, 400, JSON.stringify(q.body));
  assert.equal(q.body.error?.code, 'invalid_argument');
  assert.equal(q.body.error?.message, noVector(0, '"qwzx"'));
  const h = await call('POST', '/api/collections/sentences/query', { text: 'zzyzx', hybrid: true });
  assert.equal(h.status, 400, JSON.stringify(h.body));
  assert.equal(h.body.error?.message, noVector(0, '"zzyzx"'));
  // A text with a known word still answers.
  const ok = await call('POST', '/api/collections/sentences/query', { text: 'kitten qwzx', k: 2, include: ['documents'] });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const add = await call('POST', '/api/collections/sentences/add', { ids: ['n1', 'n2'], documents: ['a cat', 'qwzx qwzx'] });
  assert.equal(add.status, 400, JSON.stringify(add.body));
  assert.equal(add.body.error?.message, noVector(1, '"qwzx qwzx"'));
  assert.equal((await call('GET', '/api/collections/sentences/count')).body.count, DOCS.length);
});

test('/v1/embeddings through the openai client: APIError 400 with the same message', async () => {
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
  for (const [input, i] of [['qwzx', 0], [['a truck', 'the bus', 'qwzx'], 2]] as const) {
    let error: unknown;
    try {
      await openai.embeddings.create({ model, input: input as string | string[] });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof OpenAI.BadRequestError, `expected a BadRequestError, got ${String(error)}`);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'invalid_argument');
    assert.equal(error.message, `400 ${noVector(i, '"qwzx"')}`);
  }
  const r = await openai.embeddings.create({ model, input: ['a truck'] });
  assert.equal(r.data.length, 1);
});

test('CLI: zero-shot labels through the collection\'s SIF model: the same message, exit 2', { timeout: 60_000 }, async () => {
  await server.close();
  const r = await runCli(['--db', dir, 'classify', 'sentences', '--labels', 'cat,qwzx'], { env: { OMNIVEC_API_KEY: '' } });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim(), `omnivec: invalid_argument: ${noVector(1, '"qwzx"')}`);
});
