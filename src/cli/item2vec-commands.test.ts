import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { OmnivecError } from '../errors.js';
import type { Out } from './db-commands.js';
import { cmdRecommend, cmdTrainItem2Vec, registerItem2VecCommands } from './item2vec-commands.js';

function capture(): Out & { lines: string[]; values: unknown[] } {
  const lines: string[] = [];
  const values: unknown[] = [];
  return { lines, values, line: (s) => { lines.push(s); }, json: (v) => { values.push(v); } };
}

/** Two groups of items: users take 4 items of one group; "r" is a rare item seen once. */
function sequencesFile(dir: string): string {
  const lines: string[] = [];
  const a = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
  const b = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'];
  for (let u = 0; u < 120; u++) {
    const g = u % 2 === 0 ? a : b;
    lines.push([0, 1, 2, 3].map((j) => g[(u + j * 5) % 6]).join(' '));
  }
  lines.push('a1 r');
  const file = join(dir, 'seq.txt');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const invalid = (re: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === 'invalid_argument' && re.test(e.message);

test('train item2vec then recommend: files, counts, item and history queries, exclusions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-cli-i2v-'));
  try {
    const input = sequencesFile(dir);
    const output = join(dir, 'items.txt');
    const counts = join(dir, 'items.vocab');
    const out = capture();
    const m = await cmdTrainItem2Vec(() => join(dir, 'db'), { input, output, saveVocab: counts, dim: '8', epochs: '10', sample: '0', window: 'all', threads: '1', quiet: true }, out);
    assert.equal(m.wv.size, 13);
    assert.equal(m.options.model, 'skipgram');
    assert.equal(m.options.window, 'all');
    assert.equal(m.options.negative, 10);
    assert.equal(m.options.shuffle, false);
    assert.ok(out.lines.some((l) => /^wrote 13 × 8 item vectors to .*items\.txt \(word2vec\) and the counts to/.test(l)), out.lines.join('\n'));
    assert.match(readFileSync(counts, 'utf8'), /^r 1$/m);

    const near = capture();
    const recs = await cmdRecommend({ vectors: output, item: 'a1', k: '5' }, near);
    assert.equal(recs.length, 5);
    assert.ok(recs.every((r) => r.item !== 'a1'));
    assert.ok(recs.filter((r) => r.item.startsWith('a')).length >= 4, JSON.stringify(recs));
    assert.match(near.lines[0]!, /^\S+\t-?\d\.\d{4}$/);

    const hist = capture();
    const h = await cmdRecommend({ vectors: output, counts, history: ['b1 b2', 'b3'], minCount: '2', exclude: ['b4'], k: '3', json: true }, hist);
    assert.deepEqual(hist.values[0], h);
    assert.equal(h.length, 3);
    for (const r of h) assert.ok(['b5', 'b6', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6'].includes(r.item), r.item);
    assert.ok(h.slice(0, 2).every((r) => r.item === 'b5' || r.item === 'b6'), JSON.stringify(h));
    // Recency: the last item alone.
    const last = await cmdRecommend({ vectors: output, history: ['b1', 'a1'], recent: '1', k: '1' }, capture());
    assert.ok(last[0]!.item.startsWith('a'));

    await assert.rejects(cmdRecommend({ vectors: output, item: 'zz' }, capture()), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
    await assert.rejects(cmdRecommend({ vectors: output, history: ['zz'] }, capture()), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
    await assert.rejects(cmdRecommend({ vectors: output, item: 'a1', history: ['b1'] }, capture()), invalid(/one of --item/));
    await assert.rejects(cmdRecommend({ vectors: output }, capture()), invalid(/one of --item/));
    await assert.rejects(cmdRecommend({ vectors: output, item: 'a1', recent: '2' }, capture()), invalid(/--recent/));
    await assert.rejects(cmdRecommend({ vectors: output, item: 'a1', minCount: '3' }, capture()), invalid(/--counts/));
    await assert.rejects(cmdRecommend({ item: 'a1' }, capture()), invalid(/--vectors/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train item2vec: option errors', async () => {
  const db = (): string => '/nonexistent';
  await assert.rejects(cmdTrainItem2Vec(db, { output: 'x' }, capture()), invalid(/--input/));
  await assert.rejects(cmdTrainItem2Vec(db, { input: 'x' }, capture()), invalid(/--output or --into/));
  await assert.rejects(cmdTrainItem2Vec(db, { input: 'x', output: 'y', window: 'some' }, capture()), invalid(/--window/));
  await assert.rejects(cmdTrainItem2Vec(db, { input: 'x', output: 'y', negative: '0' }, capture()), invalid(/--negative/));
});

test('registerItem2VecCommands: train item2vec and recommend parse and run through commander', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-cli-i2v-'));
  try {
    const input = sequencesFile(dir);
    const output = join(dir, 'items.bin');
    const out = capture();
    const p = new Command('omnivec').exitOverride().option('--db <dir>');
    const train = p.command('train');
    registerItem2VecCommands(train, p, out);
    await p.parseAsync(['train', 'item2vec', '--input', input, '--output', output, '--binary', '--dim', '4', '--epochs', '2',
      '--window', '3', '--no-shuffle', '--threads', '1', '--quiet'], { from: 'user' });
    assert.ok(out.lines.some((l) => /word2vec-binary/.test(l)), out.lines.join('\n'));
    out.lines.length = 0;
    await p.parseAsync(['recommend', '--vectors', output, '--history', 'a1', 'a2', '--decay', '0.5', '-k', '2'], { from: 'user' });
    assert.equal(out.lines.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
