/**
 * Every example runs as its README says, on data and models made here (no network, no
 * ../shared/data): the ones that need no model as they are, the model-taking ones on tiny ONNX
 * folders (test/helpers), and each says what is missing when its model is not given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { Random } from '../src/vector/random.js';
import { withTempDir } from './helpers/assertions.js';
import { writeBgeM3ShapedModel, writeConvImageModel } from './helpers/onnx-build.js';
import { writeTinyClip } from './helpers/tiny-clip.js';

const ROOT = resolve(import.meta.dirname, '..');

interface Run { code: number; stdout: string; stderr: string }

/** `node --import tsx examples/NAME/run.ts ARGS`, as the README runs it. */
async function run(name: string, args: string[], timeout = 45_000): Promise<Run> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', join('examples', name, 'run.ts'), ...args],
      { cwd: ROOT, timeout, env: { ...process.env, OMNIVEC_NO_PROGRESS: '1' }, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string; message: string };
    if (typeof x.code !== 'number') throw e;
    return { code: x.code, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

const png = (r: number, g: number, b: number, size = 40): Promise<Buffer> =>
  sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } }).png().toBuffer();

test('metrics: l2, ip and cosine rank unit vectors alike, and the example checks it', async () => {
  const r = await run('metrics', ['--count', '2000', '--dim', '16', '--k', '5']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /same: the three rankings are identical/);
  const rows = r.stdout.split('\n').filter((l) => /^\s+\d+\s+\d+ \(/.test(l));
  assert.equal(rows.length, 5);
  for (const row of rows) {
    const ids = [...row.matchAll(/(\d+) \(/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, 1, row);
  }
});

test('films: the 1,012-d layout and the nearest films', async () => {
  const r = await run('films', ['--id', 'film-0042', '--k', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cast +columns 0–999 +1,000/);
  assert.match(r.stdout, /genre +columns 1001–1010 +10/);
  assert.match(r.stdout, /total 1,012 dimensions \(1000 \+ 1 \+ 10 \+ 1\)/);
  assert.equal(r.stdout.split('\n').filter((l) => /^ {2}\d\. film-\d{4}/.test(l)).length, 3);
  const bad = await run('films', ['--id', 'film-9999']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no such film/);
});

test('word2vec: nearest words and an analogy on a small corpus (--corpus), and on the docs (--corpus docs)', { timeout: 60_000 }, () => withTempDir('omnivec-ex-w2v-', async (dir) => {
  const rng = new Random(3);
  const royals = ['king', 'queen', 'prince', 'princess'];
  const animals = ['dog', 'cat', 'horse', 'cow'];
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const group = i % 2 === 0 ? royals : animals;
    const verb = i % 2 === 0 ? 'rules the land with the crown' : 'eats grass in the field';
    lines.push(`the ${group[rng.int(4)]} ${verb} and the ${group[rng.int(4)]} watches`);
  }
  const corpus = join(dir, 'corpus.txt');
  await writeFile(corpus, lines.join('\n') + '\n');
  const r = await run('word2vec', ['--corpus', corpus, '--words', 'king,dog,unicorn', '--analogy', 'dog,cat,king', '--dim', '16', '--epochs', '3', '--min-count', '1', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /[\d,]+ tokens, 3,000 lines; vocabulary 19 words/);
  const king = /nearest to king: (.*)/.exec(r.stdout)?.[1] ?? '';
  const firstTwo = king.split(', ').slice(0, 3).map((x) => x.split(' ')[0]);
  assert.ok(firstTwo.some((w) => royals.includes(w!)), king);
  assert.match(r.stdout, /unicorn: not in the vocabulary/);
  assert.match(r.stdout, /analogy \(3CosAdd\) dog : cat :: king : \? {2}→ \w+ \d\.\d{3}/);
  const docs = await run('word2vec', ['--corpus', 'docs', '--words', 'hnsw', '--analogy', 'text,encoder,image', '--dim', '32', '--epochs', '5', '--threads', '1']);
  assert.equal(docs.code, 0, docs.stderr);
  assert.match(docs.stdout, /corpus: this repository's documentation/);
  assert.match(docs.stdout, /nearest to hnsw: /);
  const missing = await run('word2vec', ['--corpus', join(dir, 'nope.txt')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such file/);
}));

test('item2vec-movielens --no-eval: recommendations with titles for a history, on a MovieLens-shaped folder', { timeout: 60_000 }, () => withTempDir('omnivec-ex-ml-', async (dir) => {
  // 30 movies in two tastes (1–15, 16–30); 80 users, each liking 8 movies of one taste.
  const rng = new Random(5);
  const ratings = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= 80; u++) {
    const base = u % 2 === 0 ? 1 : 16;
    const picked = rng.shuffle(Array.from({ length: 15 }, (_, i) => base + i)).slice(0, 8);
    picked.forEach((m, t) => ratings.push(`${u},${m},${4 + (t % 2) / 2},${1_000_000 + u * 100 + t}`));
  }
  await writeFile(join(dir, 'ratings.csv'), ratings.join('\n') + '\n');
  await writeFile(join(dir, 'movies.csv'), ['movieId,title,genres', ...Array.from({ length: 30 }, (_, i) => `${i + 1},"Movie ${i + 1}, The (${i < 15 ? 'Drama' : 'Comedy'})",${i < 15 ? 'Drama' : 'Comedy'}`)].join('\n') + '\n');
  const r = await run('movielens-item2vec', ['--data', dir, '--no-eval', '--history', '1 2 3', '--epochs', '10', '--sample', '0', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /80 users/);
  assert.match(r.stdout, / {4}1 {2}Movie 1, The \(Drama\)/);
  const recs = r.stdout.split('\n').filter((l) => /^ +\d+\. +\d+ {2}Movie/.test(l));
  assert.equal(recs.length, 10);
  const dramas = recs.slice(0, 5).filter((l) => /\(Drama\)/.test(l)).length;
  assert.ok(dramas >= 4, `a drama history gets dramas first: ${dramas} of the top 5\n${recs.join('\n')}`);
  const none = await run('movielens-item2vec', ['--data', join(dir, 'nope')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no ratings\.csv/);
}));

test('image-tsne: a folder of class subfolders through a tiny image model into a collection and a PNG map', { timeout: 60_000 }, () => withTempDir('omnivec-ex-img-', async (dir) => {
  const model = await writeConvImageModel(join(dir, 'conv'), { channels: 6, size: [32, 32] });
  const colours: Record<string, [number, number, number]> = { red: [220, 30, 30], green: [30, 200, 40], blue: [20, 40, 230] };
  const rng = new Random(9);
  for (const [name, [r, g, b]] of Object.entries(colours)) {
    await mkdir(join(dir, 'images', name), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const j = (): number => Math.round((rng.next() - 0.5) * 40);
      await writeFile(join(dir, 'images', name, `${i}.png`), await png(r + j(), g + j(), b + j()));
    }
  }
  const out = join(dir, 'map.png');
  const db = join(dir, 'db');
  const r = await run('image-tsne', ['--model', model.dir, '--images', join(dir, 'images'), '--out', out, '--db', db, '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /12 images in 3 classes \(blue, green, red\)/);
  assert.match(r.stdout, /model conv: 6-d/);
  assert.match(r.stdout, /leave-one-out 1-NN accuracy: 1\.000 \(12 \/ 12/);
  const meta = await sharp(out).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(existsSync(join(db, 'records.sqlite')) || existsSync(db), 'the collection is kept with --db');
  const missing = await run('image-tsne', ['--model', join(dir, 'nope'), '--images', join(dir, 'images')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--model .*nope: not found/);
}));

test('clip-zero-shot: probabilities from a toy CLIP; without a model it says where to get one', { timeout: 60_000 }, () => withTempDir('omnivec-ex-clip-', async (dir) => {
  const model = await writeTinyClip(join(dir, 'tiny-clip'));
  const image = join(dir, 'red.png');
  await writeFile(image, await png(250, 10, 10));
  const r = await run('clip-zero-shot', ['--model', model, '--image', image, '--labels', 'mint,red,blue', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /^ {2}\w+: \d+\.\d\d%$/.test(l));
  assert.equal(lines.length, 3, r.stdout);
  assert.equal(lines[0]!.trim().split(':')[0], 'red');
  assert.ok(Number(/red: ([\d.]+)%/.exec(r.stdout)![1]) > 99, r.stdout);

  const none = await run('clip-zero-shot', ['--image', image, '--labels', 'a,b']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--model DIR: a CLIP model folder is needed/);
  assert.match(none.stderr, /Xenova\/clip-vit-base-patch32/);
  await mkdir(join(dir, 'empty'));
  const empty = await run('clip-zero-shot', ['--model', join(dir, 'empty'), '--image', image, '--labels', 'a,b']);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /not_found: .*(text_model|vision_model|model)\.onnx/);
}));

test('bge-m3-similarity: dense, sparse and ColBERT matrices of the guide\'s sentences from a BGE-M3-shaped model', { timeout: 60_000 }, () => withTempDir('omnivec-ex-m3-', async (dir) => {
  const vocab = ['what', 'is', 'bge', 'm3', '?', 'defination', 'of', 'bm25', 'an', 'embedding', 'model', 'retrieval', 'lexical', 'documents', '.', ','];
  const dim = 8;
  const rng = new Random(11);
  const vectors = Float32Array.from({ length: vocab.length * dim }, () => rng.gaussian());
  const model = await writeBgeM3ShapedModel(join(dir, 'm3'), {
    vocab, dim, vectors, lowercase: true, headsInGraph: true, tanh: true,
    sparseWeight: Float32Array.from({ length: dim }, () => rng.gaussian()), sparseBias: 0.1,
    colbertWeight: Float32Array.from({ length: dim * dim }, () => rng.gaussian()), colbertBias: new Float32Array(dim),
  });
  const r = await run('bge-m3-similarity', ['--model', model.dir, '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /a\[1\] Defination of BM25/);
  for (const head of ['dense', 'sparse', 'colbert']) {
    const m = new RegExp(`^${head} .*\\n\\[\\[(-?\\d+\\.\\d{4}) (-?\\d+\\.\\d{4})\\]\\n \\[(-?\\d+\\.\\d{4}) (-?\\d+\\.\\d{4})\\]\\]`, 'm').exec(r.stdout);
    assert.ok(m !== null, `${head} matrix:\n${r.stdout}`);
    assert.ok(m.slice(1).every((x) => Number.isFinite(Number(x))));
  }
  assert.match(r.stdout, /lexical weights of a\[0\]: \{/);
  const none = await run('bge-m3-similarity', []);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /aapot\/bge-m3-onnx/);
}));
