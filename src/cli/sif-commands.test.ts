import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Command } from 'commander';
import { KeyedVectors } from '../encoders/word2vec/keyed-vectors.js';
import { saveWordVectors, writeVocabCounts } from '../encoders/word2vec/files.js';
import { loadSif } from '../encoders/sif/files.js';
import { registerSifCommands, type EvalStsReport } from './sif-commands.js';
import type { Out } from './db-commands.js';
import { withTempDir, rejectsCode } from '../../test/helpers/assertions.js';

/** Runs `args` through a program with train / eval commands as main.ts makes them; returns the output. */
async function run(args: string[]): Promise<{ lines: string[]; json: unknown[] }> {
  const lines: string[] = [];
  const json: unknown[] = [];
  const out: Out = { line: (s) => { lines.push(s); }, json: (v) => { json.push(JSON.parse(JSON.stringify(v))); } };
  const p = new Command('omnivec').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerSifCommands(p.command('train'), p.command('eval'), out);
  await p.parseAsync(args, { from: 'user' });
  return { lines, json };
}

// Four words on two axes: "good" things along x, "bad" things along y, plus a frequent "the"
// pointing in a direction shared by every sentence.
const words = ['the', 'a', 'cat', 'kitten', 'dog', 'puppy', 'car', 'truck'];
const vecs = [
  [1, 1, 1, 0], [0.9, 1, 1.1, 0], [0, 0, 0.2, 1], [0.1, 0, 0.2, 0.9], [0, 1, 0, 0.3], [0.1, 0.9, 0, 0.35], [1, -1, 0, 0], [0.9, -1, 0.1, 0],
];
const counts = [1000, 800, 10, 5, 12, 4, 9, 6];

function stsLine(score: number, s1: string, s2: string, extra = false): string {
  return ['main-captions', 'MSRvid', '2012test', '0001', score.toFixed(3), s1, s2, ...(extra ? ['src1', 'src2'] : [])].join('\t');
}

async function fixture(dir: string): Promise<{ vec: string; countsFile: string; data: string; corpus: string }> {
  const kv = new KeyedVectors(words, Float32Array.from(vecs.flat()), 4, Float64Array.from(counts));
  const vec = join(dir, 'w.vec');
  const countsFile = join(dir, 'w.counts');
  await saveWordVectors(kv, vec);
  await writeVocabCounts(kv, countsFile);
  const data = join(dir, 'sts');
  await rm(data, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(data));
  const test = [
    stsLine(5, 'The cat.', 'A kitten.'), stsLine(4.5, 'the dog', 'a puppy', true), stsLine(4.8, 'A car', 'the truck'),
    stsLine(0.5, 'the cat', 'a truck'), stsLine(0.2, 'a dog', 'the car'), stsLine(1, 'a kitten', 'the puppy'), stsLine(0, 'zebra', 'a car'),
  ];
  await writeFile(join(data, 'sts-test.csv'), test.join('\n') + '\n');
  await writeFile(join(data, 'sts-dev.csv'), [stsLine(3, 'the cat the dog', 'a car')].join('\n') + '\n');
  const corpus = join(dir, 'corpus.txt.gz');
  await writeFile(corpus, gzipSync('the cat\nthe dog and a puppy\na car\n\nthe truck the kitten\n'));
  return { vec, countsFile, data, corpus };
}

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('omnivec-sifcli-', fn);

test('eval sts --vectors: SIF beside the average, fitted on every split by default; --json', () => withDir(async (dir) => {
  const f = await fixture(dir);
  const { lines } = await run(['eval', 'sts', '--vectors', f.vec, '--counts', f.countsFile, '--data', f.data]);
  assert.match(lines[0]!, /^STS-B test: 7 pairs/);
  assert.match(lines[2]!, /^SIF +-?\d+\.\d\d +-?\d+\.\d\d {2}1$/);
  assert.match(lines[3]!, /^average +-?\d+\.\d\d +-?\d+\.\d\d {2}1$/);
  assert.match(lines[4]!, /fitted on 16 sentences \(1 without a known word, 32 of 33 tokens known\); p\(w\) from the vectors' counts; a = 0\.001; 1 component\(s\) removed/);
  assert.match(lines[5]!, /sts-dev\.csv, .*sts-test\.csv$/);

  const { json } = await run(['eval', 'sts', '--vectors', f.vec, '--data', join(f.data, 'sts-test.csv'), '--a', '0.01', '--components', '0', '--json']);
  const r = json[0] as EvalStsReport;
  assert.equal(r.pairs, 7);
  assert.equal(r.model.countsFrom, 'corpus');
  assert.equal(r.model.components, 0);
  assert.deepEqual(r.model.fitOn, [join(f.data, 'sts-test.csv')]);
  assert.equal(r.sif.zeroPairs, 1);
  assert.ok(r.sif.spearman >= -1 && r.sif.spearman <= 1);
  // Fitting on a text file.
  const { json: j2 } = await run(['eval', 'sts', '--vectors', f.vec, '--data', f.data, '--fit-on', f.corpus, '--json']);
  assert.equal((j2[0] as EvalStsReport).model.stats !== null, true);
  assert.equal(((j2[0] as EvalStsReport).model.stats as { sentences: number }).sentences, 5);
}));

test('train sif --vectors writes a model folder that eval sts --model reads', () => withDir(async (dir) => {
  const f = await fixture(dir);
  const out = join(dir, 'model');
  const { lines } = await run(['train', 'sif', '--input', f.corpus, '--output', out, '--vectors', f.vec, '--counts', f.countsFile, '--a', '0.01']);
  assert.match(lines[0]!, /^word vectors: 8 words × 4 from /);
  assert.match(lines[1]!, /fitted on 5 sentences \(1 without a known word/);
  assert.match(lines[2]!, /^saved to .*model \(model sif:[0-9a-f]{16}\)$/);
  assert.deepEqual((await readdir(out)).sort(), ['counts.txt', 'sif.json', 'vectors.bin', 'weights.f32']);
  const model = await loadSif(out);
  assert.equal(model.a, 0.01);
  const { json } = await run(['eval', 'sts', '--model', out, '--data', f.data, '--json']);
  const r = json[0] as EvalStsReport;
  assert.equal(r.model.kind, 'loaded');
  assert.equal(r.model.fitOn, null);
  // --reference stores the path instead of a copy.
  const ref = join(dir, 'ref');
  await run(['train', 'sif', '--input', f.corpus, '--output', ref, '--vectors', f.vec, '--reference']);
  assert.deepEqual((await readdir(ref)).sort(), ['sif.json', 'weights.f32']);
}));

test('train sif without --vectors trains Word2Vec on the input', () => withDir(async (dir) => {
  const corpus = join(dir, 'c.txt');
  const text = Array.from({ length: 200 }, (_, i) => ['the cat sat on the mat', 'a dog ran in the park', 'the bird sang a song'][i % 3]).join('\n');
  await writeFile(corpus, text + '\n');
  const out = join(dir, 'm');
  const { json } = await run(['train', 'sif', '--input', corpus, '--output', out, '--dim', '8', '--epochs', '1', '--min-count', '1', '--threads', '1', '--json']);
  const r = json[0] as { model: { dim: number; vocabSize: number }; word2vec: { options: { dim: number } } };
  assert.equal(r.model.dim, 8);
  assert.equal(r.word2vec.options.dim, 8);
  assert.equal(r.model.vocabSize, 13);
  const model = await loadSif(out);
  assert.equal(model.kv.counts!.length, 13);
  assert.equal(model.countsFrom, 'vectors');
}));

test('sif commands refuse contradictory or bad options with typed errors', () => withDir(async (dir) => {
  const f = await fixture(dir);
  await rejectsCode(run(['eval', 'sts', '--data', f.data]), 'invalid_argument', /expected exactly one of --vectors .* and --model .*, got neither/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec, '--model', dir]), 'invalid_argument', /got both/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--model', dir, '--a', '0.1']), 'invalid_argument', /--a: applies to fitting with --vectors/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec, '--split', 'val']), 'invalid_argument', /--split: expected one of train, dev, test, got "val"/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec, '--split', 'train']), 'not_found', /sts-train\.csv: expected an STS-B file/);
  await rejectsCode(run(['eval', 'sts', '--data', join(dir, 'nope'), '--vectors', f.vec]), 'not_found', /expected an STS-B directory or file/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec, '--a', '-1']), 'invalid_argument', /--a: expected a number above 0, got "-1"/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec, '--frequencies', 'vectors']), 'invalid_argument', /counts: expected word vectors with counts/);
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec, '--tokenizer', '{bad']), 'invalid_argument', /--tokenizer: expected "words", "whitespace" or a JSON spec/);
  await writeFile(join(f.data, 'sts-train.csv'), 'a\tb\tc\n');
  await rejectsCode(run(['eval', 'sts', '--data', f.data, '--vectors', f.vec]), 'corrupt_file', /sts-train\.csv: line 1: expected 7 or 9 TAB-separated columns .*, got 3/);
  await rejectsCode(run(['train', 'sif', '--input', f.corpus, '--output', join(dir, 'x'), '--vectors', f.vec, '--dim', '10']), 'invalid_argument', /--dim: a Word2Vec option, but --vectors gives the word vectors/);
  await rejectsCode(run(['train', 'sif', '--input', f.corpus, '--output', join(dir, 'x'), '--reference']), 'invalid_argument', /--reference: refers to the --vectors file/);
}));
