import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { KeyedVectors } from './keyed-vectors.js';
import { loadWordVectors } from './files.js';
import { averageRanks, evaluateAnalogies, evaluateWordPairs, incompleteBeta, pearson, pythonFloat, spearman } from './eval.js';

const DATA = '/work/shared/data';
const VEC1K = `${DATA}/word-vectors-word2vec-1k/wordvecs1000.vec`;
const QUESTIONS = `${DATA}/word-analogy-google/questions-words.txt`;
const PAIRS = `${DATA}/word-similarity-en`;

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-w2v-eval-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A toy vocabulary where analogies hold exactly: country vectors c_i = e_i, capitals c_i + e_9
 * (dimension 10); "Paris" (capitalised, first) and "paris" differ, so case-insensitive evaluation
 * must take the first variant's vector.
 */
function toy(): KeyedVectors {
  const d = 10;
  const words: string[] = [];
  const rows: number[][] = [];
  const add = (w: string, v: number[]): void => { words.push(w); rows.push(v); };
  const e = (i: number, cap: number): number[] => Array.from({ length: d }, (_, j) => (j === i ? 1 : 0) + (j === 9 ? cap : 0));
  add('france', e(0, 0));
  add('Paris', e(0, 1));
  add('paris', e(5, -3)); // a misleading lower-case variant, after the capitalised one
  add('germany', e(1, 0));
  add('berlin', e(1, 1));
  add('italy', e(2, 0));
  add('rome', e(2, 1));
  add('spain', e(3, 0));
  add('madrid', e(3, 1));
  add('rare', e(4, 0.2));
  return new KeyedVectors(words, Float32Array.from(rows.flat()), d);
}

test('evaluateAnalogies: sections, accuracy, coverage, case-insensitivity, invalid and OOV lines', async (t) => {
  const dir = tmp(t);
  const q = join(dir, 'q.txt');
  writeFileSync(q, [
    ': capitals',
    'France Paris Germany Berlin',
    'germany berlin italy rome',
    'italy rome spain madrid',
    'spain madrid france paris',
    'france paris atlantis atlantis_city', // unknown words: skipped
    'this line is invalid, five words',
    '',
    ': empty-section',
    ': second',
    'berlin germany madrid spain',
  ].join('\n') + '\n');
  const kv = toy();
  const r = await evaluateAnalogies(kv, q, { keepQuestions: true });
  assert.deepEqual(r.sections.map((s) => [s.section, s.correct, s.incorrect, s.total, s.oov]),
    [['capitals', 4, 0, 5, 1], ['empty-section', 0, 0, 0, 0], ['second', 1, 0, 1, 0]]);
  assert.deepEqual(r.total, { correct: 5, incorrect: 0, accuracy: 1 });
  assert.equal(r.questions, 6);
  assert.equal(r.answered, 5);
  assert.equal(r.oov, 1);
  assert.equal(r.coverage, 5 / 6);
  assert.equal(r.invalidLines, 2);
  assert.equal(r.sections[1]!.accuracy, 0);
  assert.deepEqual(r.sections[0]!.questions![3], { a: 'SPAIN', b: 'MADRID', c: 'FRANCE', expected: 'PARIS', predicted: 'PARIS', correct: true });
  // Case-sensitive: "France", "Paris" and "Germany" are not words of the vocabulary.
  const cs = await evaluateAnalogies(kv, q, { caseInsensitive: false });
  assert.equal(cs.oov, 2);
  assert.equal(cs.sections[0]!.correct, 2); // spain:madrid::france:paris takes the lower-case 'paris' vector
  // restrictVocab: only the first 5 words (france, Paris, paris, germany, berlin).
  const small = await evaluateAnalogies(kv, q, { restrictVocab: 5 });
  assert.equal(small.answered, 1);
  assert.equal(small.restrictVocab, 5);
  // dummy4unknown counts unknown questions as wrong.
  const dummy = await evaluateAnalogies(kv, q, { dummy4unknown: true });
  assert.deepEqual(dummy.total, { correct: 5, incorrect: 1, accuracy: 5 / 6 });
  // 3CosMul gets them right too.
  assert.equal((await evaluateAnalogies(kv, q, { method: 'mul' })).total.correct, 5);

  writeFileSync(join(dir, 'nohead.txt'), 'a b c d\n');
  await assert.rejects(evaluateAnalogies(kv, join(dir, 'nohead.txt')),
    (e: unknown) => e instanceof OmnivecError && e.code === 'corrupt_file' && /nohead\.txt:1: expected a section header/.test(e.message));
  await assert.rejects(evaluateAnalogies(kv, join(dir, 'missing.txt')), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
  await assert.rejects(evaluateAnalogies(kv, q, { method: 'x' as never }), /method: expected "add" or "mul"/);
  await assert.rejects(evaluateAnalogies(kv, q, { restrictVocab: 0 }), /restrictVocab: expected a positive integer/);
});

test('evaluateAnalogies on the Google set with the 1k vectors: gensim 4.2 gives 219/258 (84.9 %)', { skip: !existsSync(VEC1K) && 'shared data missing' }, async () => {
  const kv = await loadWordVectors(VEC1K);
  const r = await evaluateAnalogies(kv, QUESTIONS);
  assert.equal(r.questions, 19544);
  assert.equal(r.answered, 258);
  assert.deepEqual(r.total, { correct: 219, incorrect: 39, accuracy: 219 / 258 });
  assert.equal(r.sections.length, 14);
  assert.deepEqual(r.sections.filter((s) => s.correct + s.incorrect > 0).map((s) => `${s.section} ${s.correct}/${s.correct + s.incorrect}`), [
    'family 81/90', 'gram3-comparative 6/6', 'gram5-present-participle 73/90', 'gram7-past-tense 25/30', 'gram8-plural 24/30', 'gram9-plural-verbs 10/12',
  ]);
});

test('evaluateWordPairs: comments, invalid lines, OOV, dummy4unknown, case', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'pairs.tsv');
  writeFileSync(p, [
    '# a comment',
    'France\tParis\t9',
    'germany\tberlin\t8.5',
    'france\tgermany\t3',
    'italy\tspain\t 2.5 ',
    'rome\tatlantis\t5',
    'not a pair line',
    'a\tb\tnot-a-number',
    'madrid\tspain\t8\r',
  ].join('\r\n') + '\r\n');
  const kv = toy();
  const r = await evaluateWordPairs(kv, p);
  assert.equal(r.pairs, 6);
  assert.equal(r.used, 5);
  assert.equal(r.oov, 1);
  // Two, and the empty line Python's universal newlines see between the stray '\r' and '\r\n'.
  assert.equal(r.invalidLines, 3);
  assert.ok(Math.abs(r.oovPercent - 100 / 6) < 1e-12);
  assert.equal(r.coverage, 5 / 6);
  const cos = [1 / Math.SQRT2, 1 / Math.SQRT2, 0, 0, 1 / Math.SQRT2].map(Math.fround);
  assert.equal(r.spearman, spearman([9, 8.5, 3, 2.5, 8], cos).r);
  assert.ok(Math.abs(r.pearson - pearson([9, 8.5, 3, 2.5, 8], cos).r) < 1e-12);
  const d = await evaluateWordPairs(kv, p, { dummy4unknown: true });
  assert.equal(d.used, 6);
  assert.ok(Math.abs(d.oovPercent - 100 / 6) < 1e-12);
  const none = await evaluateWordPairs(kv, p, { restrictVocab: 1 });
  assert.equal(none.used, 0);
  assert.ok(Number.isNaN(none.spearman));
});

test('statistics: average ranks, Spearman, Pearson and p-values (scipy 1.10 values)', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 5, 20])), [2, 4, 4, 1, 4]);
  const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const y = [2, 1, 4, 3, 7, 8, 6, 10, 9, 5];
  // scipy.stats.spearmanr(x, y) = (0.7454545454545454, 0.013330146315440047)
  // scipy.stats.pearsonr(x, y) = (0.7454545454545455, 0.013330146315440015)
  const s = spearman(x, y);
  const p = pearson(x, y);
  assert.ok(Math.abs(s.r - 0.7454545454545454) < 1e-12);
  assert.ok(Math.abs(s.p - 0.013330146315440047) < 1e-10);
  assert.ok(Math.abs(p.p - 0.013330146315440015) < 1e-10);
  // Ties in both: scipy.stats.spearmanr([1,1,2,3,3,3], [4,5,5,6,7,7]) = (0.9057894597833127, 0.012895350077048994)
  const t = spearman([1, 1, 2, 3, 3, 3], [4, 5, 5, 6, 7, 7]);
  assert.ok(Math.abs(t.r - 0.9057894597833127) < 1e-12);
  assert.ok(Math.abs(t.p - 0.012895350077048994) < 1e-10);
  assert.ok(Math.abs(incompleteBeta(0.3, 2, 5) - 0.579825) < 1e-6);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3]).r));
});

test("pythonFloat: what Python's float() takes", () => {
  assert.equal(pythonFloat(' 6.77\n'), 6.77);
  assert.equal(pythonFloat('1e-3'), 0.001);
  assert.equal(pythonFloat('.5'), 0.5);
  assert.equal(pythonFloat('5.'), 5);
  assert.equal(pythonFloat('1_000'), 1000);
  assert.equal(pythonFloat('-inf'), -Infinity);
  assert.ok(Number.isNaN(pythonFloat('NaN')!));
  assert.equal(pythonFloat('0x10'), undefined);
  assert.equal(pythonFloat(''), undefined);
  assert.equal(pythonFloat('1,5'), undefined);
});

test('evaluateWordPairs on the shared sets with the 1k vectors (gensim 4.2: WordSim-353 Spearman 0.33430, SimLex-999 0.36973)', { skip: !existsSync(VEC1K) && 'shared data missing' }, async () => {
  const kv = await loadWordVectors(VEC1K);
  const ws = await evaluateWordPairs(kv, `${PAIRS}/wordsim353.tsv`);
  assert.ok(Math.abs(ws.spearman - 0.33430011074877075) < 1e-9);
  assert.ok(Math.abs(ws.pearson - 0.35990231806701983) < 1e-6);
  assert.ok(Math.abs(ws.oovPercent - 92.3512747875354) < 1e-9);
  const sl = await evaluateWordPairs(kv, `${PAIRS}/simlex999.txt`);
  assert.ok(Math.abs(sl.spearman - 0.3697306820078988) < 1e-9);
  assert.equal(sl.used, 118);
});
