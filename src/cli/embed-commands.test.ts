import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { registerEmbedCommands } from './embed-commands.js';
import type { Out } from './db-commands.js';
import { openDatabase } from '../db/database.js';
import { withTempDir, rejectsCode } from '../../test/helpers/assertions.js';
import { writeWord2VecTextModel } from '../../test/helpers/onnx-build.js';

async function run(db: string, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const out: Out = { line: (s) => { lines.push(s); }, json: (v) => { lines.push(JSON.stringify(v)); } };
  const p = new Command('omnivec').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  p.addOption(new Option('--db <dir>').default(db));
  registerEmbedCommands(p, out);
  await p.parseAsync(args, { from: 'user' });
  return lines;
}

test('omnivec embed: text lines to .npy and into a collection; a folder of documents is chunked; bad input is named', async () => {
  await withTempDir('omnivec-embed-', async (dir) => {
    const model = await writeWord2VecTextModel(join(dir, 'w2v'), { pooling: 'mean', maxLength: 6 });
    const lines = join(dir, 'words.txt');
    await writeFile(lines, 'father\nmother\n\nwine\nbeer\n');
    const db = join(dir, 'db');
    const npy = join(dir, 'v.npy');
    const said = await run(db, ['embed', '--model', model.dir, '--input', lines, '--output', npy, '--into', 'words', '--quiet', '--threads', '1']);
    assert.ok(said.includes(`wrote 4 300-d vectors to ${npy}`), said.join('\n'));
    const bytes = await readFile(npy);
    assert.equal(bytes.subarray(1, 6).toString('latin1'), 'NUMPY');
    assert.match(bytes.toString('latin1', 10, 80), /'shape': \(4, 300\)/);
    const d = await openDatabase(db);
    try {
      const c = await d.getCollection('words');
      assert.equal((await c.count()), 4);
      assert.equal(c.encoder?.model, 'w2v');
      const father = (await c.get({ ids: ['1'], include: ['vectors'] })).vectors![0]!;
      const hits = await c.query({ vector: father, k: 2 });
      assert.deepEqual(hits.documents, ['father', 'mother']);
    } finally {
      await d.close();
    }
    // A folder of documents: chunked to the model's 6 tokens (4 words + 2 specials), overlap 1.
    const docs = join(dir, 'docs');
    await mkdir(docs);
    await writeFile(join(docs, 'a.txt'), 'king man woman boy girl father mother');
    await writeFile(join(docs, 'b.txt'), 'wine beer');
    const jsonl = join(dir, 'docs.jsonl');
    const said2 = await run(db, ['embed', '--model', model.dir, '--input', docs, '--output', jsonl, '--quiet', '--chunk-overlap', '1']);
    assert.ok(said2.some((l) => l.startsWith('wrote 3 300-d vectors')), said2.join('\n'));
    const rows = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; document: string; metadata: Record<string, unknown> });
    assert.deepEqual(rows.map((r) => r.id), ['a.txt#0', 'a.txt#1', 'b.txt']);
    assert.deepEqual(rows.map((r) => r.document), ['king man woman boy', 'boy girl father mother', 'wine beer']);
    assert.deepEqual(rows[1]!.metadata, { parent: 'a.txt', chunk: 1, start: 15, end: 37 });
    await rejectsCode(run(db, ['embed', '--model', join(dir, 'none'), '--input', lines, '--output', npy]), 'not_found', /model folder .*none does not exist/);
    await rejectsCode(run(db, ['embed', '--model', model.dir, '--input', lines, '--output', join(dir, 'v.txt')]), 'invalid_argument', /--output: expected a file ending in \.npy or \.jsonl/);
    await rejectsCode(run(db, ['embed', '--model', model.dir, '--input', lines]), 'invalid_argument', /--output or --into/);
    await rejectsCode(run(db, ['embed', '--model', model.dir, '--input', join(dir, 'missing.txt'), '--output', npy]), 'not_found', /--input: .*missing\.txt not found/);
    await rejectsCode(run(db, ['embed', '--model', model.dir, '--input', lines, '--output', npy, '--dimensions', '100']), 'invalid_argument', /does not declare Matryoshka/);
    // Longer than the model's 6 tokens: cut and reported, or refused with --no-truncate.
    const long = join(dir, 'long.txt');
    await writeFile(long, 'king man woman boy girl father mother\nwine\n');
    const cut = await run(db, ['embed', '--model', model.dir, '--input', long, '--output', join(dir, 'long.npy'), '--quiet']);
    assert.ok(cut.some((l) => /1 text\(s\) were longer than 6 tokens and were truncated/.test(l)), cut.join('\n'));
    await rejectsCode(run(db, ['embed', '--model', model.dir, '--input', long, '--output', join(dir, 'long.npy'), '--quiet', '--no-truncate']),
      'invalid_argument', /texts\[0\]: 9 tokens, more than the 6/);
  });
});

test('omnivec similarity: the matrix of two text lists, printed as numpy prints it', async () => {
  await withTempDir('omnivec-sim-', async (dir) => {
    const model = await writeWord2VecTextModel(join(dir, 'w2v'), { pooling: 'mean' });
    const said = await run(dir, ['similarity', '--model', model.dir, '--a', 'father', '--a', 'wine', '--b', 'mother', '--b', 'beer', '--threads', '1']);
    assert.equal(said.length, 1, said.join('\n'));
    const m = said[0]!.match(/-?\d\.\d+/g)!.map(Number);
    assert.equal(m.length, 4);
    assert.ok(m[0]! > m[1]! && m[3]! > m[2]!, `father~mother and wine~beer dominate: ${said[0]}`);
    assert.match(said[0]!, /^\[\[\d\.\d{1,4} +\d\.\d{1,4} *\]\n \[\d\.\d{1,4} +\d\.\d{1,4} *\]\]$/);
    await rejectsCode(run(dir, ['similarity', '--model', model.dir, '--a', 'king']), 'invalid_argument', /--b or --b-file/);
  });
});

test('omnivec embed --model openai:MODEL: a remote OpenAI-compatible API (loopback), with a checkpoint file', async () => {
  const { createServer } = await import('node:http');
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      calls++;
      const q = JSON.parse(body) as { input: string[]; model: string; dimensions?: number };
      const dim = q.dimensions ?? 3;
      const data = q.input.map((t, index) => ({ object: 'embedding', index, embedding: Array.from({ length: dim }, (_, j) => (t.length + j) / 10) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model: q.model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await withTempDir('omnivec-remote-', async (dir) => {
      const lines = join(dir, 'in.txt');
      await writeFile(lines, 'a\nbb\nccc\n');
      const out = join(dir, 'v.jsonl');
      const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
      const said = await run(dir, ['embed', '--model', 'openai:test-embed', '--base-url', baseUrl, '--input', lines, '--output', out,
        '--dimensions', '2', '--checkpoint', join(dir, 'ck.jsonl'), '--quiet']);
      assert.ok(said.includes(`wrote 3 2-d vectors to ${out}`), said.join('\n'));
      const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: string; vector: number[] });
      assert.deepEqual(rows.map((r) => r.id), ['1', '2', '3']);
      assert.ok(Math.abs(rows[2]!.vector[0]! - 0.3) < 1e-6 && Math.abs(rows[2]!.vector[1]! - 0.4) < 1e-6, JSON.stringify(rows[2]));
      const before = calls;
      await run(dir, ['embed', '--model', 'openai:test-embed', '--base-url', baseUrl, '--input', lines, '--output', out,
        '--dimensions', '2', '--checkpoint', join(dir, 'ck.jsonl'), '--quiet']);
      assert.equal(calls, before, 'the rerun is answered from the checkpoint');
    });
  } finally {
    server.close();
  }
});

test('omnivec embed: a folder of images (ResNet-style 2048-d pooled output) into a collection, labels from the folders', async () => {
  const { writeConvImageModel } = await import('../../test/helpers/onnx-build.js');
  await withTempDir('omnivec-embed-img-', async (dir) => {
    const model = await writeConvImageModel(join(dir, 'conv2048'), { channels: 2048 });
    const images = '/work/shared/data/images-caltech101-5class';
    const db = join(dir, 'db');
    const said = await run(db, ['embed', '--model', model.dir, '--input', images, '--output', join(dir, 'img.npy'), '--into', 'images', '--quiet', '--threads', '1']);
    assert.ok(said.includes(`wrote 60 2048-d vectors to ${join(dir, 'img.npy')}`), said.join('\n'));
    const d = await openDatabase(db);
    try {
      const c = await d.getCollection('images');
      assert.equal((await c.count()), 60);
      const got = await c.get({ ids: ['sunflower/image_0001.jpg'], include: ['metadatas'] });
      assert.deepEqual(got.metadatas, [{ path: 'sunflower/image_0001.jpg', label: 'sunflower' }]);
    } finally {
      await d.close();
    }
    await rejectsCode(run(db, ['embed', '--model', model.dir, '--input', join(dir, 'img.npy'), '--output', join(dir, 'x.npy'), '--quiet']), 'invalid_argument', /not a text encoder/);
  });
});

test('omnivec embed --m3: BGE-M3 dense, sparse and multi-vector outputs stored in one collection and queryable', async () => {
  const { writeBgeM3ShapedModel } = await import('../../test/helpers/onnx-build.js');
  const { createBgeM3 } = await import('../encoders/bge-m3/index.js');
  await withTempDir('omnivec-embed-m3-', async (dir) => {
    const vocab = ['ship', 'sea', 'bread', 'oven', 'law', 'court'];
    let s = 3;
    const rnd = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return ((s >>> 8) / 2 ** 24) * 2 - 1; };
    const folder = join(dir, 'm3');
    await writeBgeM3ShapedModel(folder, {
      vocab, dim: 4, tanh: true, headsInGraph: true, vectors: Float32Array.from({ length: 24 }, rnd), sparseWeight: Float32Array.from({ length: 4 }, rnd),
      sparseBias: 0.8, colbertWeight: Float32Array.from({ length: 12 }, rnd), colbertBias: Float32Array.from({ length: 3 }, rnd),
    });
    const lines = join(dir, 'docs.txt');
    await writeFile(lines, 'ship sea\nbread oven\nlaw court\n');
    const db = join(dir, 'db');
    const said = await run(db, ['embed', '--m3', '--model', folder, '--input', lines, '--into', 'm3docs', '--quiet', '--threads', '1']);
    assert.ok(said.some((l) => l.startsWith('stored 3 records (dense, sparse, multi-vector) in m3docs')), said.join('\n'));
    const m3 = await createBgeM3(folder, { threads: 1 });
    const d = await openDatabase(db);
    try {
      const c = await d.getCollection('m3docs');
      const q = await m3.encode(['bread oven'], { mode: 'query' });
      const bySparse = await c.query({ sparse: q.sparse[0]!, k: 3 });
      assert.equal(bySparse.ids[0], '2', `sparse: ${JSON.stringify(bySparse)}`);
      const byColbert = await c.query({ sparse: q.sparse[0]!, multiVector: q.colbert[0]!, k: 3 });
      assert.equal(byColbert.ids[0], '2', `sparse + MaxSim: ${JSON.stringify(byColbert)}`);
    } finally {
      await d.close();
      await m3.close();
    }
    await rejectsCode(run(db, ['embed', '--m3', '--model', folder, '--input', lines, '--output', join(dir, 'x.npy')]), 'invalid_argument', /--m3: --into COLLECTION is required/);
  });
});
