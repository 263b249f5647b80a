import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { OmnivecError } from '../errors.js';
import type { Out } from './db-commands.js';
import { cmdEvalAnalogy, cmdEvalSimilarity, cmdSimilar, registerEvalCommands, registerWordCommands } from './eval-commands.js';

const DATA = '/work/shared/data';
const VEC1K = `${DATA}/word-vectors-word2vec-1k/wordvecs1000.vec`;
const QUESTIONS = `${DATA}/word-analogy-google/questions-words.txt`;
const PAIRS = `${DATA}/word-similarity-en`;
const skip = !existsSync(VEC1K) && 'shared data missing';

function capture(): Out & { lines: string[]; values: unknown[] } {
  const lines: string[] = [];
  const values: unknown[] = [];
  return { lines, values, line: (s) => { lines.push(s); }, json: (v) => { values.push(v); } };
}

test('eval analogy: per-section table, total and coverage; --json', { skip }, async () => {
  const out = capture();
  const r = await cmdEvalAnalogy({ vectors: VEC1K, questions: QUESTIONS }, out);
  assert.equal(r.total.correct, 219);
  assert.match(out.lines[0]!, /^section\s+correct\s+answered\s+accuracy$/);
  assert.ok(out.lines.some((l) => /^family\s+81\s+90\s+90\.0 %$/.test(l)), out.lines.join('\n'));
  assert.ok(out.lines.some((l) => /^capital-world\s+0\s+0\s+-$/.test(l)));
  assert.ok(out.lines.some((l) => /^total\s+219\s+258\s+84\.9 %$/.test(l)));
  assert.ok(out.lines.some((l) => /^coverage 1\.3 %: 258 of 19544 questions answered, 19286 skipped for a word outside the first 1000 words$/.test(l)));
  const j = capture();
  await cmdEvalAnalogy({ vectors: VEC1K, questions: QUESTIONS, method: 'mul', restrictVocab: '500', json: true }, j);
  const v = j.values[0] as { method: string; restrictVocab: number; sections: unknown[]; accuracy: number; coverage: number };
  assert.equal(v.method, 'mul');
  assert.equal(v.restrictVocab, 500);
  assert.equal(v.sections.length, 14);
  assert.ok(v.accuracy > 0.5 && v.coverage < 0.013);
});

test('eval similarity: Spearman, Pearson, coverage per file; no pair scored prints "-"', { skip }, async () => {
  const out = capture();
  const r = await cmdEvalSimilarity({ vectors: VEC1K, pairs: [`${PAIRS}/wordsim353.tsv`, `${PAIRS}/EN-MC-30.txt`] }, out);
  assert.equal(r.length, 2);
  assert.match(out.lines[0]!, /^file\s+spearman\s+pearson\s+pairs\s+used\s+coverage$/);
  assert.match(out.lines[1]!, /^wordsim353\.tsv\s+0\.3343\s+0\.3599\s+353\s+27\s+7\.6 %$/);
  assert.match(out.lines[2]!, /^EN-MC-30\.txt\s+-\s+-\s+30\s+0\s+0\.0 %$/);
  const j = capture();
  await cmdEvalSimilarity({ vectors: VEC1K, pairs: [`${PAIRS}/EN-MC-30.txt`], json: true }, j);
  assert.equal((j.values[0] as { spearman: number | null }[])[0]!.spearman, null);
});

test('similar: neighbours and analogies from the command line', { skip }, async () => {
  const out = capture();
  const hits = await cmdSimilar(['king', 'woman'], { vectors: VEC1K, negative: ['man'], k: '3' }, out);
  assert.equal(hits.length, 3);
  assert.match(out.lines[0]!, /^queen\t0\.55\d\d$/);
  const mul = capture();
  await cmdSimilar(['king', 'woman'], { vectors: VEC1K, negative: ['man'], method: 'mul', json: true }, mul);
  assert.equal((mul.values[0] as { word: string }[])[0]!.word, 'queen');
  await assert.rejects(cmdSimilar(['kingdomz'], { vectors: VEC1K }, capture()),
    (e: unknown) => e instanceof OmnivecError && e.code === 'not_found' && /"kingdomz"/.test(e.message));
});

test('bad options are invalid_argument naming the flag', { skip }, async () => {
  const inv = (re: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === 'invalid_argument' && re.test(e.message);
  await assert.rejects(cmdEvalAnalogy({ vectors: VEC1K }, capture()), inv(/--questions: required/));
  await assert.rejects(cmdEvalAnalogy({ vectors: VEC1K, questions: QUESTIONS, method: 'sum' }, capture()), inv(/--method: expected "add" \(3CosAdd\) or "mul"/));
  await assert.rejects(cmdEvalAnalogy({ vectors: VEC1K, questions: QUESTIONS, restrictVocab: '0' }, capture()), inv(/--restrict-vocab: expected an integer of at least 1, got "0"/));
  await assert.rejects(cmdEvalSimilarity({ vectors: VEC1K, pairs: [] }, capture()), inv(/--pairs: required/));
  await assert.rejects(cmdSimilar(['king'], { vectors: VEC1K, format: 'glove' }, capture()), inv(/--format: expected one of auto, word2vec/));
  await assert.rejects(cmdSimilar(['king'], {}, capture()), inv(/--vectors: required/));
  await assert.rejects(cmdSimilar(['king'], { vectors: `${DATA}/nope.vec` }, capture()), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
});

test('registerEvalCommands / registerWordCommands: the commands parse and run; eval can be shared', { skip }, async () => {
  const out = capture();
  const p = new Command('omnivec').exitOverride();
  const ev = registerEvalCommands(p, out);
  assert.equal(ev.name(), 'eval');
  // Another engineer's evaluation joins the returned eval command …
  ev.command('sts').action(() => out.line('sts ran'));
  // … or, registered first, is found and kept.
  const other = new Command('omnivec');
  const first = other.command('eval');
  first.command('sts');
  assert.equal(registerEvalCommands(other, out), first);
  assert.deepEqual(first.commands.map((c) => c.name()), ['sts', 'analogy', 'similarity']);
  registerWordCommands(p, out);
  await p.parseAsync(['eval', 'similarity', '--vectors', VEC1K, '--pairs', `${PAIRS}/simlex999.txt`, `${PAIRS}/wordsim353.tsv`], { from: 'user' });
  assert.equal(out.lines.length, 3);
  await p.parseAsync(['similar', '--vectors', VEC1K, 'king', 'woman', '--negative', 'man', '-k', '2', '--json'], { from: 'user' });
  assert.deepEqual((out.values[0] as { word: string }[]).map((x) => x.word), ['queen', 'she']);
  await p.parseAsync(['eval', 'sts'], { from: 'user' });
  assert.equal(out.lines.at(-1), 'sts ran');
  assert.deepEqual(ev.commands.map((c) => c.name()).sort(), ['analogy', 'similarity', 'sts']);
});
