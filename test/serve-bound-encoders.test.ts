/**
 * Collections made from the shell answer text queries over HTTP with no --encoder flag:
 * `train sif --into` stores the model in the database (DIR/models/) and binds the collection to
 * it; `embed --into` records the model folder as the spec's `source`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';
import { saveWordVectors, writeVocabCounts } from '../src/encoders/word2vec/files.js';
import { loadSif } from '../src/encoders/sif/files.js';
import { storedModelDir } from '../src/encoders/stored-models.js';
import { createTextEncoder } from '../src/encoders/onnx/text-encoder.js';
import { openDatabase } from '../src/db/database.js';
import { registerSifCommands } from '../src/cli/sif-commands.js';
import { registerEmbedCommands } from '../src/cli/embed-commands.js';
import type { Out } from '../src/cli/db-commands.js';
import { createServer } from '../src/server/app.js';
import { withTempDir, rejectsCode } from './helpers/assertions.js';
import { writeTinyTextModel } from './helpers/onnx-build.js';
import { batchRows } from '../src/encoders/common.js';

/** Runs the CLI as main.ts builds it (a --db option, train / eval / embed commands). */
async function cli(db: string, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const out: Out = { line: (s) => { lines.push(s); }, json: (v) => { lines.push(JSON.stringify(v)); } };
  const p = new Command('omnivec').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  p.addOption(new Option('--db <dir>').default(db));
  registerSifCommands(p.command('train'), p.command('eval'), out);
  registerEmbedCommands(p, out);
  await p.parseAsync(args, { from: 'user' });
  return lines;
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() as Record<string, unknown> };
}

// Animals along one axis, vehicles along another, "the" / "a" in a direction every sentence shares.
const WORDS = ['the', 'a', 'cat', 'kitten', 'dog', 'puppy', 'car', 'truck', 'bus'];
const VECS = [[1, 1, 1, 0], [0.9, 1, 1.1, 0], [0, 0, 0.2, 1], [0.1, 0, 0.2, 0.9], [0, 0.2, 0, 1], [0.1, 0.1, 0, 0.95], [1, -1, 0, 0], [0.9, -1, 0.1, 0], [1, -0.9, 0, 0.1]];
const COUNTS = [1000, 800, 10, 5, 12, 4, 9, 6, 5];

test('train sif --into: the model in DIR/models, the sentences in a bound collection, text queries served', () => withTempDir('omnivec-sif-into-', async (dir) => {
  const kv = new KeyedVectors(WORDS, Float32Array.from(VECS.flat()), 4, Float64Array.from(COUNTS));
  const vec = join(dir, 'w.vec');
  const counts = join(dir, 'w.counts');
  await saveWordVectors(kv, vec);
  await writeVocabCounts(kv, counts);
  const corpus = join(dir, 'corpus.txt');
  await writeFile(corpus, ['the cat', 'a kitten', '', 'the dog and a puppy', 'a car', 'the truck', 'zebra', 'a bus'].join('\n') + '\n');
  const db = join(dir, 'db');

  const said = await cli(db, ['train', 'sif', '--input', corpus, '--vectors', vec, '--counts', counts, '--into', 'sentences']);
  const model = (said.find((l) => l.startsWith('saved to'))!.match(/\(model (sif:[0-9a-f]{16})/) ?? [])[1]!;
  assert.ok(model !== undefined, said.join('\n'));
  assert.ok(said.includes(`created sentences (4-d, cosine, encoder ${model}); stored 6 sentences, left out 1 without a known word; 6 records now`), said.join('\n'));
  assert.ok(existsSync(join(storedModelDir(db, model), 'sif.json')));
  assert.equal((await loadSif(storedModelDir(db, model))).fingerprint(), model.slice('sif:'.length));
  {
    const d = await openDatabase(db);
    try {
      const c = await d.getCollection('sentences');
      assert.equal(c.encoder?.model, model);
      assert.deepEqual((await c.get({ include: ['documents'] })).ids.sort(), ['line-1', 'line-2', 'line-4', 'line-5', 'line-6', 'line-8']);
    } finally {
      await d.close();
    }
  }
  // Again with another a: the collection is rebuilt for the new model.
  const again = await cli(db, ['train', 'sif', '--input', corpus, '--vectors', vec, '--counts', counts, '--into', 'sentences', '--a', '0.01']);
  assert.ok(again.some((l) => /^replaced sentences .* 6 records now$/.test(l)), again.join('\n'));
  const model2 = (again.find((l) => l.startsWith('saved to'))!.match(/\(model (sif:[0-9a-f]{16})/) ?? [])[1]!;
  assert.notEqual(model2, model);

  const server = await createServer({ db });
  try {
    const url = await server.listen(0);
    const info = await (await fetch(`${url}/api/collections/sentences`)).json() as { encoder: string | null };
    assert.equal(info.encoder, model2);
    const q = await post(url, '/api/collections/sentences/query', { text: 'kitten', k: 2, include: ['documents'] });
    assert.equal(q.status, 200, JSON.stringify(q.json));
    // The two sentences about cats (their order is SIF's business).
    assert.deepEqual((q.json.documents as string[]).sort(), ['a kitten', 'the cat']);
    // /v1/embeddings: the model's vector at unit length (as OpenAI's); normalize: false, the raw one.
    const v = await post(url, '/v1/embeddings', { model: model2, input: ['a truck'] });
    assert.equal(v.status, 200, JSON.stringify(v.json));
    const sif2 = await loadSif(storedModelDir(db, model2));
    const got = (v.json.data as { embedding: number[] }[])[0]!.embedding;
    const raw = sif2.encode(['a truck'])[0]!;
    const norm = Math.hypot(...raw);
    got.forEach((x, i) => assert.ok(Math.abs(x - raw[i]! / norm) < 1e-6, `${i}: ${x} vs ${raw[i]! / norm}`));
    const r = await post(url, '/v1/embeddings', { model: model2, input: ['a truck'], normalize: false });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    (r.json.data as { embedding: number[] }[])[0]!.embedding.forEach((x, i) => assert.ok(Math.abs(x - raw[i]!) < 1e-6, `raw ${i}: ${x} vs ${raw[i]}`));
    const models = await (await fetch(`${url}/v1/models`)).json() as { data: { id: string }[] };
    // Both trained models are stored; the collection's is among them.
    assert.deepEqual(models.data.map((m) => m.id).sort(), [model, model2].sort());
  } finally {
    await server.close();
  }

  // A collection bound to something else is not replaced.
  {
    const d = await openDatabase(db);
    await d.createCollection({ name: 'other', dim: 4, encoder: { model: 'someone/else', dim: 4 } });
    await d.close();
  }
  await rejectsCode(cli(db, ['train', 'sif', '--input', corpus, '--vectors', vec, '--into', 'other']), 'already_exists', /bound to the encoder "someone\/else", not a SIF model/);
  await rejectsCode(cli(db, ['train', 'sif', '--input', corpus, '--vectors', vec]), 'invalid_argument', /--output or --into/);
}));

test('embed --into records the model folder as the spec\'s source; the server opens it for text queries', () => withTempDir('omnivec-embed-src-', async (dir) => {
  const vocab = ['cat', 'kitten', 'dog', 'car', 'truck'];
  const vectors = Float32Array.from([1, 0, 0, 0.95, 0.1, 0, 0.7, 0.3, 0, 0, 0, 1, 0, 0.1, 0.95]);
  const tiny = await writeTinyTextModel(join(dir, 'tiny'), { vocab, dim: 3, vectors, specialRows: { cls: 0, sep: 0, pad: 0, unk: 0 } });
  const lines = join(dir, 'lines.txt');
  await writeFile(lines, 'cat\ndog\ncar\ntruck\n');
  const db = join(dir, 'db');
  await cli(db, ['embed', '--model', tiny.dir, '--input', lines, '--into', 'things', '--quiet', '--threads', '1']);
  const d = await openDatabase(db);
  try {
    assert.equal((await d.getCollection('things')).encoder?.source, tiny.dir);
    assert.equal((await d.getCollection('things')).encoder?.model, 'tiny');
  } finally {
    await d.close();
  }
  const server = await createServer({ db, threads: 1 });
  try {
    const url = await server.listen(0);
    const q = await post(url, '/api/collections/things/query', { text: 'kitten', k: 2, include: ['documents'] });
    assert.equal(q.status, 200, JSON.stringify(q.json));
    assert.deepEqual(q.json.documents, ['cat', 'dog']);
    const v = await post(url, '/v1/embeddings', { model: 'tiny', input: 'truck' });
    const own = await createTextEncoder(tiny.dir, { threads: 1 });
    const want = (batchRows(await own.encode(['truck'])))[0]!;
    await own.close();
    const got = (v.json.data as { embedding: number[] }[])[0]!.embedding;
    got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-6));
  } finally {
    await server.close();
  }
}));
