import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { KeyedVectors } from './keyed-vectors.js';
import {
  formatFloat32Repr, formatFloatG5, loadWordVectors, readVocabCounts, saveWordVectors, writeVocabCounts,
} from './files.js';
import { analogy } from './query.js';

const VEC1K = '/work/shared/data/word-vectors-word2vec-1k/wordvecs1000.vec';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-w2v-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function corruptAt(re: RegExp) {
  return (e: unknown): boolean => e instanceof OmnivecError && e.code === 'corrupt_file' && re.test(e.message);
}

function small(): KeyedVectors {
  return new KeyedVectors(['a', 'straße', '日本'], Float32Array.from([0.1, -2, 1e-5, 0, 123456.789, -0.5]), 2, Float64Array.from([30, 20, 10]));
}

test('loads the 1k GoogleNews vectors (word2vec text): king − man + woman → queen', { skip: !existsSync(VEC1K) && 'shared data missing' }, async () => {
  const kv = await loadWordVectors(VEC1K);
  assert.equal(kv.size, 1000);
  assert.equal(kv.dim, 300);
  assert.equal(kv.words[0], 'in');
  assert.equal(kv.counts, null);
  assert.equal(analogy(kv, 'man', 'king', 'woman', { topn: 1 })[0]!.word, 'queen');
  const first = readFileSync(VEC1K, 'utf8').split('\n')[1]!.split(' ');
  assert.equal(kv.vectors[0], Math.fround(Number(first[1])));
  const few = await loadWordVectors(VEC1K, { limit: 10, format: 'word2vec' });
  assert.equal(few.size, 10);
  assert.deepEqual(few.vectors, kv.vectors.subarray(0, 3000));
});

test('text is written as gensim writes it (numpy float32 repr), binary as the C tool, .vec as fastText', async (t) => {
  const dir = tmp(t);
  const kv = small();
  await saveWordVectors(kv, join(dir, 'v.txt'));
  assert.equal(readFileSync(join(dir, 'v.txt'), 'utf8'), '3 2\na 0.1 -2.0\nstraße 1e-05 0.0\n日本 123456.79 -0.5\n');
  await saveWordVectors(kv, join(dir, 'v.vec'), { format: 'fasttext' });
  assert.equal(readFileSync(join(dir, 'v.vec'), 'utf8'), '3 2\na 0.1 -2 \nstraße 1e-05 0 \n日本 1.2346e+05 -0.5 \n');
  await saveWordVectors(kv, join(dir, 'v.bin'), { binary: true });
  const f = (xs: number[]): Buffer => Buffer.from(Float32Array.from(xs).buffer);
  const expected = Buffer.concat([Buffer.from('3 2\na '), f([0.1, -2]), Buffer.from('\nstraße '), f([1e-5, 0]),
    Buffer.from('\n日本 '), f([123456.789, -0.5]), Buffer.from('\n')]);
  assert.deepEqual(readFileSync(join(dir, 'v.bin')), expected);
  await saveWordVectors(kv, join(dir, 'v2.bin'), { format: 'word2vec-binary' });
  assert.deepEqual(readFileSync(join(dir, 'v2.bin')), expected);

  for (const [name, format] of [['v.txt', 'word2vec'], ['v.vec', 'fasttext'], ['v.bin', 'word2vec-binary'], ['v.bin', 'auto'], ['v.txt', 'auto']] as const) {
    const back = await loadWordVectors(join(dir, name), { format });
    assert.deepEqual(back.words, kv.words, `${name} ${format}`);
    if (format !== 'fasttext') assert.deepEqual(back.vectors, kv.vectors, `${name} ${format}: bit-exact`);
  }
  // .vec values carry 5 significant digits.
  assert.equal((await loadWordVectors(join(dir, 'v.vec')))!.vectors[4], Math.fround(123460));
  // A binary file under a text-like name is recognised by its bytes.
  writeFileSync(join(dir, 'model.w2v'), expected);
  assert.deepEqual((await loadWordVectors(join(dir, 'model.w2v'))).vectors, kv.vectors);
});

test('random vectors round-trip bit for bit through text and binary', async (t) => {
  const dir = tmp(t);
  const rng = new Random(5);
  const n = 200;
  const d = 17;
  const words = Array.from({ length: n }, (_, i) => `w${i}`);
  const vectors = Float32Array.from({ length: n * d }, (_, i) => rng.gaussian() * 10 ** ((i % 13) - 7));
  const kv = new KeyedVectors(words, vectors, d);
  for (const binary of [false, true]) {
    const p = join(dir, binary ? 'r.bin' : 'r.txt');
    await saveWordVectors(kv, p, { binary });
    const back = await loadWordVectors(p, { blockSize: 97 });
    assert.deepEqual(back.words, words);
    assert.deepEqual(back.vectors, vectors);
  }
});

test('counts file: written and read as "word count" lines, joined to the vectors by word', async (t) => {
  const dir = tmp(t);
  const kv = small();
  await saveWordVectors(kv, join(dir, 'v.txt'), { counts: join(dir, 'v.counts') });
  assert.equal(readFileSync(join(dir, 'v.counts'), 'utf8'), 'a 30\nstraße 20\n日本 10\n');
  assert.deepEqual([...(await readVocabCounts(join(dir, 'v.counts')))], [['a', 30], ['straße', 20], ['日本', 10]]);
  const back = await loadWordVectors(join(dir, 'v.txt'), { counts: join(dir, 'v.counts') });
  assert.deepEqual(back.counts, Float64Array.from([30, 20, 10]));
  // A word the counts file lacks gets 0; blank lines are skipped.
  writeFileSync(join(dir, 'partial.counts'), 'a 7\n\n日本 3\n');
  assert.deepEqual((await loadWordVectors(join(dir, 'v.txt'), { counts: join(dir, 'partial.counts') })).counts, Float64Array.from([7, 0, 3]));
  writeFileSync(join(dir, 'bad.counts'), 'a 7\nb many\n');
  await assert.rejects(readVocabCounts(join(dir, 'bad.counts')), corruptAt(/bad\.counts:2: expected a non-negative integer count for "b", got "many"/));
  writeFileSync(join(dir, 'bad2.counts'), 'a 7 8\n');
  await assert.rejects(readVocabCounts(join(dir, 'bad2.counts')), corruptAt(/bad2\.counts:1: expected a word and its count/));
  const noCounts = new KeyedVectors(['x'], Float32Array.from([1]), 1);
  await assert.rejects(writeVocabCounts(noCounts, join(dir, 'x.counts')), /kv\.counts is null/);
  await assert.rejects(saveWordVectors(noCounts, join(dir, 'x.txt'), { counts: join(dir, 'x.counts') }), /kv\.counts is null/);
});

test('duplicate words: the first vector is kept (as gensim)', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'dup.txt'), '3 2\na 1 2\nb 3 4\na 5 6\n');
  const kv = await loadWordVectors(join(dir, 'dup.txt'));
  assert.deepEqual(kv.words, ['a', 'b']);
  assert.deepEqual(kv.vectors, Float32Array.from([1, 2, 3, 4]));
});

test('malformed files are corrupt_file naming the line (text) or the row (binary)', async (t) => {
  const dir = tmp(t);
  const cases: [string, string | Buffer, RegExp][] = [
    ['short-row.txt', '2 3\na 1 2 3\nb 1 2\n', /short-row\.txt:3: expected 3 components/],
    ['nan.txt', '1 2\na 1 x\n', /nan\.txt:2: expected a number for component 1, got "x"/],
    ['inf.txt', '1 2\na 1 inf\n', /inf\.txt:2: row 0, component 1: expected a finite number/],
    ['truncated.txt', '3 2\na 1 2\nb 3 4\n', /truncated\.txt:3: expected 3 vectors \(as the header states\), got 2 before the end of the file/],
    ['extra.txt', '1 2\na 1 2\nb 3 4\n', /extra\.txt:3: expected the end of the file after 1 vectors/],
    ['empty.txt', '', /empty\.txt:1: expected a "count dim" header line, got an empty file/],
    ['truncated.bin', Buffer.concat([Buffer.from('2 2\na '), Buffer.alloc(8), Buffer.from('\nb '), Buffer.alloc(3)]), /truncated\.bin: row 1 \(byte 15\): expected 8 bytes of vector after the word "b", got 3/],
    ['header.bin', Buffer.from('two 2\nxxxx'), /header\.bin:1: expected a "count dim" header line/],
  ];
  for (const [name, content, re] of cases) {
    writeFileSync(join(dir, name), content);
    const format = name.endsWith('.bin') ? 'word2vec-binary' : 'word2vec';
    await assert.rejects(loadWordVectors(join(dir, name), { format }), corruptAt(re), name);
  }
  await assert.rejects(loadWordVectors(join(dir, 'missing.txt')), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
});

test('bad arguments are invalid_argument naming the option', async (t) => {
  const dir = tmp(t);
  const kv = small();
  const inv = (re: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === 'invalid_argument' && re.test(e.message);
  await assert.rejects(loadWordVectors(VEC1K, { format: 'glove' as never }), inv(/format: expected one of auto, word2vec, word2vec-binary, fasttext/));
  await assert.rejects(loadWordVectors(VEC1K, { limit: 0 }), inv(/limit: expected a positive integer/));
  await assert.rejects(loadWordVectors(VEC1K, { lmit: 3 } as never), inv(/unknown option "lmit"/));
  await assert.rejects(saveWordVectors(kv, join(dir, 'x'), { format: 'fasttext', binary: true }), inv(/fastText \.vec files are text/));
  await assert.rejects(saveWordVectors(kv, join(dir, 'x'), { format: 'word2vec-binary', binary: false }), inv(/contradicts/));
  const spaced = new KeyedVectors(['ok', 'two words'], Float32Array.from([1, 2]), 1);
  await assert.rejects(saveWordVectors(spaced, join(dir, 'x')), inv(/kv\.words\[1\]: expected a word without spaces or line breaks, got "two words"/));
  assert.ok(!existsSync(join(dir, 'x')));
});

test('number formats: numpy float32 repr and C %.5g', () => {
  const r = (v: number): string => formatFloat32Repr(v);
  assert.deepEqual([0.1, -2, 0, -0, 1e-5, 1e-4, 0.0001234, 1e16, 1.5e16, 123456789, 1e15, 3.4028234663852886e38, 1.401298464324817e-45].map(r),
    ['0.1', '-2.0', '0.0', '-0.0', '1e-05', '1e-04', '0.0001234', '1e+16', '1.5e+16', '123456790.0', '1000000000000000.0', '3.4028235e+38', '1e-45']);
  // Exact ties round to even (numpy's Dragon4), where JavaScript's toPrecision rounds half up.
  assert.equal(r(343126.125), '343126.12');
  assert.deepEqual([0.1, -2, 0, 1e-5, 123456.789, 1.03125, 99999.5, 0.00012345, 100000, 1234.5].map(formatFloatG5),
    ['0.1', '-2', '0', '1e-05', '1.2346e+05', '1.0312', '1e+05', '0.00012345', '1e+05', '1234.5']);
});
