import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OmnivecError } from '../../errors.js';
import { trainWord2Vec, type Word2VecOptions } from './trainer.js';
import { aliasTable, huffman, keepThresholds } from './vocab.js';
import { nearest } from './query.js';
import type { KeyedVectors } from './keyed-vectors.js';

/**
 * A corpus with planted structure: 8 topics of 12 words; each sentence draws its words from one
 * topic (plus a few shared filler words). Words of a topic should end up nearest to each other.
 */
function plantedCorpus(sentences: number, seed = 7): string[][] {
  let s = seed >>> 0;
  const rnd = (n: number): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return Math.floor((s / 2 ** 32) * n); };
  const fillers = ['the', 'a', 'of', 'and'];
  const out: string[][] = [];
  for (let i = 0; i < sentences; i++) {
    const topic = rnd(8);
    const len = 6 + rnd(10);
    const sent: string[] = [];
    for (let j = 0; j < len; j++) sent.push(rnd(5) === 0 ? fillers[rnd(4)]! : `t${topic}w${rnd(12)}`);
    out.push(sent);
  }
  return out;
}

/** Share of topic words whose nearest other word (cosine) is from the same topic. */
function topicPurity(kv: KeyedVectors): number {
  const u = kv.unitVectors();
  const d = kv.dim;
  let ok = 0;
  let n = 0;
  for (let i = 0; i < kv.size; i++) {
    const w = kv.words[i]!;
    if (!w.startsWith('t')) continue;
    let best = -1;
    let bs = -Infinity;
    for (let j = 0; j < kv.size; j++) {
      if (j === i || !kv.words[j]!.startsWith('t')) continue;
      let s = 0;
      for (let x = 0; x < d; x++) s += u[i * d + x]! * u[j * d + x]!;
      if (s > bs) { bs = s; best = j; }
    }
    n++;
    if (kv.words[best]!.split('w')[0] === w.split('w')[0]) ok++;
  }
  return ok / n;
}

const base: Word2VecOptions = { dim: 24, window: 4, minCount: 2, epochs: 4, sample: 0, threads: 1, seed: 3 };

test('every mode learns the planted topics, and the loss falls', async () => {
  const corpus = plantedCorpus(3000);
  for (const o of [
    { model: 'cbow' as const }, { model: 'skipgram' as const },
    { model: 'cbow' as const, hs: true, negative: 0 }, { model: 'skipgram' as const, hs: true, negative: 0 },
  ]) {
    const m = await trainWord2Vec(corpus, { ...base, ...o, alpha: o.model === 'cbow' ? 0.05 : 0.025 });
    const purity = topicPurity(m.wv);
    assert.ok(purity >= 0.95, `${JSON.stringify(o)}: topic purity ${purity}`);
    const losses = m.stats.epochs.map((e) => e.loss);
    assert.equal(losses.length, 4);
    assert.ok(losses.every((l) => Number.isFinite(l) && l > 0), `losses ${losses}`);
    assert.ok(losses[3]! < losses[0]!, `${JSON.stringify(o)}: loss should fall, got ${losses}`);
    assert.equal(m.wv.size, 8 * 12 + 4);
    assert.equal(m.wv.words[0], m.wv.words.reduce((a, w) => (m.wv.counts![m.wv.indexOf(w)]! > m.wv.counts![m.wv.indexOf(a)]! ? w : a)));
  }
});

test('seeded single-thread training is reproducible bit for bit; another seed differs', async () => {
  const corpus = plantedCorpus(1500);
  const o: Word2VecOptions = { ...base, model: 'skipgram', sample: 1e-2, epochs: 2 };
  const a = await trainWord2Vec(corpus, o);
  const b = await trainWord2Vec(corpus, o);
  assert.deepEqual(Buffer.from(a.wv.vectors.buffer), Buffer.from(b.wv.vectors.buffer));
  assert.deepEqual(a.stats.epochs.map((e) => e.loss), b.stats.epochs.map((e) => e.loss));
  const c = await trainWord2Vec(corpus, { ...o, seed: 4 });
  assert.notDeepEqual(Buffer.from(a.wv.vectors.buffer), Buffer.from(c.wv.vectors.buffer));
});

test('two threads reach the same quality as one', async () => {
  const corpus = plantedCorpus(3000);
  const one = await trainWord2Vec(corpus, { ...base, model: 'skipgram' });
  const two = await trainWord2Vec(corpus, { ...base, model: 'skipgram', threads: 2 });
  assert.equal(two.stats.threads, 2);
  assert.ok(topicPurity(two.wv) >= 0.95 && topicPurity(one.wv) >= 0.95);
  const l1 = one.stats.epochs.at(-1)!.loss;
  const l2 = two.stats.epochs.at(-1)!.loss;
  assert.ok(Math.abs(l1 - l2) / l1 < 0.05, `final loss ${l1} (1 thread) vs ${l2} (2 threads)`);
});

test('a corpus file (plain or gzip) spilled to disk trains exactly as in memory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-w2v-test-'));
  try {
    const text = plantedCorpus(1200).map((s) => s.join(' ')).join('\n') + '\n';
    writeFileSync(join(dir, 'c.txt'), text);
    writeFileSync(join(dir, 'c.txt.gz'), gzipSync(text));
    const o: Word2VecOptions = { ...base, tokenizer: { kind: 'whitespace' }, epochs: 2 };
    const mem = await trainWord2Vec(join(dir, 'c.txt'), o);
    const spilled = await trainWord2Vec(join(dir, 'c.txt.gz'), { ...o, memoryBudget: 0 });
    assert.equal(spilled.stats.spilled, true);
    assert.equal(mem.stats.spilled, false);
    assert.equal(mem.stats.corpusWords, spilled.stats.corpusWords);
    assert.deepEqual(Buffer.from(mem.wv.vectors.buffer), Buffer.from(spilled.wv.vectors.buffer));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input gets clear errors', async () => {
  const code = async (p: Promise<unknown>, c: string, re: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => e instanceof OmnivecError && e.code === c && re.test(e.message));
  };
  await code(trainWord2Vec([], base), 'invalid_argument', /no tokens/);
  await code(trainWord2Vec(['', '   '], { ...base, tokenizer: { kind: 'whitespace' } }), 'invalid_argument', /no tokens/);
  await code(trainWord2Vec([['a', 'b'], ['a']], { ...base, minCount: 5 }), 'invalid_argument', /minCount 5 leaves no word.*"a", occurs 2/);
  await code(trainWord2Vec([['a']], { ...base, dim: 0 }), 'invalid_argument', /dim: expected an integer/);
  await code(trainWord2Vec([['a']], { ...base, negative: 0 }), 'invalid_argument', /negative: 0 without hs/);
  await code(trainWord2Vec([['a']], { ...base, model: 'glove' as 'cbow' }), 'invalid_argument', /model: expected/);
  await code(trainWord2Vec([['a']], { ...base, window: 0 }), 'invalid_argument', /window/);
  await code(trainWord2Vec('/nonexistent/corpus.txt', base), 'not_found', /no file/);
  await code(trainWord2Vec([[1, 2] as unknown as string[]], base), 'invalid_argument', /tokens as strings/);
});

test('sampling tables: alias draws follow count^0.75; subsampling thresholds; Huffman codes are prefix-free', () => {
  const counts = new Float64Array([100, 50, 20, 5, 1]);
  const { prob, alias } = aliasTable(counts);
  const expected = Array.from(counts, (c) => c ** 0.75);
  const total = expected.reduce((a, b) => a + b);
  const got = new Float64Array(5);
  for (let i = 0; i < 5; i++) {
    got[i] += prob[i]! / 2 ** 32 / 5;
    got[alias[i]!] += (1 - prob[i]! / 2 ** 32) / 5;
  }
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(got[i]! - expected[i]! / total) < 1e-6, `word ${i}: ${got[i]} vs ${expected[i]! / total}`);
  const keep = keepThresholds(new Float64Array([1000, 1]), 1001, 1e-3);
  const p = (Math.sqrt(1000 / 1.001) + 1) * 1.001 / 1000;
  assert.ok(Math.abs(keep[0]! / 2 ** 32 - p) < 1e-9);
  assert.equal(keep[1], 0xFFFFFFFF);
  const h = huffman(counts);
  const codes: string[] = [];
  for (let w = 0; w < 5; w++) codes.push(Array.from(h.codes.subarray(w * 40, w * 40 + h.clen[w]!)).join(''));
  assert.ok(h.clen[0]! <= h.clen[4]!);
  for (const a of codes) for (const b of codes) if (a !== b) assert.ok(!b.startsWith(a), `${a} is a prefix of ${b}`);
  for (let w = 0; w < 5; w++) {
    assert.equal(h.points[w * 40], 3, 'every path starts at the root (V − 2)');
    for (let j = 0; j < h.clen[w]!; j++) assert.ok(h.points[w * 40 + j]! >= 0 && h.points[w * 40 + j]! < 4);
  }
});

test('window "all" with shuffling (Item2Vec) and progress reports', async () => {
  const seen: string[] = [];
  const m = await trainWord2Vec(plantedCorpus(800), {
    ...base, model: 'skipgram', window: 'all', shuffle: true, epochs: 3,
    onProgress: (p) => { if (p.phase === 'train') seen.push(`${p.epoch}:${p.words}`); },
  });
  assert.ok(topicPurity(m.wv) >= 0.9);
  assert.ok(seen.length >= 3);
  assert.equal(Number(seen.at(-1)!.split(':')[1]), m.stats.retainedWords * 3);
});

test('Chinese: the default tokenizer segments 三国演义 and warlords end up near each other', async (t) => {
  const path = join(import.meta.dirname, '../../../../shared/data/text-zh-sanguo/sanguo_yanyi.txt');
  if (!existsSync(path)) { t.skip(`no ${path}`); return; }
  const m = await trainWord2Vec(path, { dim: 64, epochs: 5, model: 'skipgram', threads: 1, minCount: 5 });
  assert.ok(m.stats.vocabSize > 3000, `vocabulary ${m.stats.vocabSize}`);
  for (const w of ['曹操', '刘备', '孔明', '孙权']) assert.ok(m.wv.has(w), `${w} is a token`);
  const near = nearest(m.wv, '曹操', 10).map((n) => n.word);
  const rivals = ['袁绍', '袁术', '孙策', '刘表', '孙权', '吕布', '刘备', '董卓', '马腾', '张鲁'];
  assert.ok(near.some((w) => rivals.includes(w)), `nearest to 曹操: ${near.join(' ')}`);
});
