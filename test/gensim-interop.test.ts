/**
 * Word vectors against gensim 4 (Debian's /usr/bin/python3 with python3-gensim): gensim loads the
 * text and binary files we write and we load the ones it writes (our text file is byte-identical to
 * gensim's); most_similar / most_similar_cosmul give the same words; evaluate_word_analogies and
 * evaluate_word_pairs give the same numbers, on the shared 1k GoogleNews vectors, on seeded random
 * vectors with analogy structure over the test sets' vocabulary, and on a toy with case variants.
 * Skips, saying so, when gensim is missing. One Python run does everything (importing gensim takes
 * seconds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/vector/random.js';
import { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';
import { loadWordVectors, saveWordVectors } from '../src/encoders/word2vec/files.js';
import { mostSimilar, mostSimilarCosmul } from '../src/encoders/word2vec/query.js';
import { evaluateAnalogies, evaluateWordPairs, type AnalogyEvalResult } from '../src/encoders/word2vec/eval.js';

const PYTHON = '/usr/bin/python3';
const DATA = '/work/shared/data';
const VEC1K = `${DATA}/word-vectors-word2vec-1k/wordvecs1000.vec`;
const QUESTIONS = `${DATA}/word-analogy-google/questions-words.txt`;
const PAIRS = `${DATA}/word-similarity-en`;
const PAIR_FILES = ['wordsim353.tsv', 'simlex999.txt', 'EN-MC-30.txt', 'EN-RG-65.txt', 'EN-WS-353-REL.txt', 'EN-WS-353-SIM.txt'];

const SCRIPT = String.raw`
import json, sys
try:
    import numpy as np
    from gensim.models import KeyedVectors
except ImportError as e:
    print(str(e)); sys.exit(3)
d = sys.argv[1]
cfg = json.load(open(d + '/cfg.json'))
out = {}
def dump(kv):
    counts = [int(kv.get_vecattr(k, 'count')) for k in kv.index_to_key] if 'count' in kv.expandos else None
    return {'keys': list(kv.index_to_key), 'vectors': kv.vectors.astype(np.float64).tolist(), 'counts': counts}
kt = KeyedVectors.load_word2vec_format(d + '/ours.txt', binary=False, fvocab=d + '/ours.counts')
kb = KeyedVectors.load_word2vec_format(d + '/ours.bin', binary=True)
out['ours_txt'] = dump(kt)
out['ours_bin'] = dump(kb)
kt.save_word2vec_format(d + '/gensim.txt', fvocab=d + '/gensim.counts', binary=False)
kt.save_word2vec_format(d + '/gensim.bin', binary=True)

def analogies(kv, path, **kw):
    score, sections = kv.evaluate_word_analogies(path, **kw)
    return {'score': score, 'sections': [{'section': s['section'], 'correct': [list(q) for q in s['correct']],
            'incorrect': [list(q) for q in s['incorrect']]} for s in sections]}
def pairs(kv, path, **kw):
    try:
        p, s, oov = kv.evaluate_word_pairs(path, **kw)
        return {'pearson': float(p[0]), 'pearsonP': float(p[1]), 'spearman': float(s[0]), 'spearmanP': float(s[1]), 'oov': oov}
    except ValueError:
        return None

k1 = KeyedVectors.load_word2vec_format(cfg['vec1k'])
out['vec1k'] = {'analogies': analogies(k1, cfg['questions']), 'pairs': {f: pairs(k1, cfg['pairs'] + '/' + f) for f in cfg['pairFiles']}}

kr = KeyedVectors.load_word2vec_format(d + '/rand.bin', binary=True)
out['rand'] = {
    'analogies': analogies(kr, d + '/questions.txt'),
    'analogiesRestricted': analogies(kr, d + '/questions.txt', restrict_vocab=cfg['restrict']),
    'analogiesCase': analogies(kr, d + '/questions.txt', case_insensitive=False),
    'pairs': {f: pairs(kr, cfg['pairs'] + '/' + f) for f in cfg['pairFiles']},
    'pairsRestricted': pairs(kr, cfg['pairs'] + '/simlex999.txt', restrict_vocab=cfg['restrict']),
    'pairsDummy': pairs(kr, cfg['pairs'] + '/wordsim353.tsv', dummy4unknown=True),
    'add': [[w for w, s in kr.most_similar(positive=[b, c], negative=[a], topn=5)] for a, b, c in cfg['triples']],
    'mul': [[w for w, s in kr.most_similar_cosmul(positive=[b, c], negative=[a], topn=5)] for a, b, c in cfg['triples']],
    'addScores': [[s for w, s in kr.most_similar(positive=[b, c], negative=[a], topn=5)] for a, b, c in cfg['triples'][:20]],
}
kt2 = KeyedVectors.load_word2vec_format(d + '/toy.txt')
out['toy'] = {'ci': analogies(kt2, d + '/toy-questions.txt'), 'cs': analogies(kt2, d + '/toy-questions.txt', case_insensitive=False)}
print(json.dumps(out))
`;

/**
 * Seeded vectors over the words of the analogy and similarity sets, with structure so that many
 * analogies come out right and many wrong: within a section, b = a + offset(section) + noise.
 * Some words also get a capitalised variant (before or after them) to exercise case handling.
 */
function structured(questions: string, seed: number, dim: number): KeyedVectors {
  const rng = new Random(seed);
  const vec = new Map<string, Float32Array>();
  const order: string[] = [];
  const gauss = (scale: number): Float32Array => Float32Array.from({ length: dim }, () => rng.gaussian() * scale);
  const get = (w: string): Float32Array => {
    let v = vec.get(w);
    if (v === undefined) { v = gauss(1); vec.set(w, v); order.push(w); }
    return v;
  };
  let offset = gauss(1);
  for (const line of questions.split('\n')) {
    if (line.startsWith(': ')) { offset = gauss(1); continue; }
    const f = line.trim().toLowerCase().split(/\s+/);
    if (f.length !== 4) continue;
    for (const [a, b] of [[f[0]!, f[1]!], [f[2]!, f[3]!]] as const) {
      const va = get(a);
      if (!vec.has(b)) {
        const noise = gauss(0.35);
        const vb = Float32Array.from(va, (x, j) => x + offset[j]! + noise[j]!);
        vec.set(b, vb);
        order.push(b);
      }
    }
  }
  for (const file of PAIR_FILES) {
    for (const line of readFileSync(`${PAIRS}/${file}`, 'utf8').split('\n')) {
      if (line.startsWith('#')) continue;
      const f = line.split('\t');
      if (f.length === 3) { get(f[0]!.toLowerCase()); get(f[1]!.toLowerCase()); }
    }
  }
  // Shuffle (seeded) so that restrictVocab cuts through every section, then add case variants.
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const words: string[] = [];
  const rows: Float32Array[] = [];
  order.forEach((w, i) => {
    const variant = w[0]!.toUpperCase() + w.slice(1);
    const before = i % 11 === 0;
    if (before && variant !== w) { words.push(variant); rows.push(gauss(1)); }
    words.push(w);
    rows.push(vec.get(w)!);
    if (!before && i % 13 === 0 && variant !== w) { words.push(variant); rows.push(gauss(1)); }
  });
  const flat = new Float32Array(words.length * dim);
  rows.forEach((r, i) => flat.set(r, i * dim));
  return new KeyedVectors(words, flat, dim);
}

interface PyAnalogies { score: number; sections: { section: string; correct: string[][]; incorrect: string[][] }[] }
interface PyPairs { pearson: number; pearsonP: number; spearman: number; spearmanP: number; oov: number }

function sameAnalogies(ours: AnalogyEvalResult, py: PyAnalogies, what: string): void {
  const total = py.sections[py.sections.length - 1]!;
  assert.equal(total.section, 'Total accuracy');
  assert.deepEqual(ours.sections.map((s) => s.section), py.sections.slice(0, -1).map((s) => s.section), `${what}: sections`);
  ours.sections.forEach((s, i) => {
    const p = py.sections[i]!;
    const q = (x: { a: string; b: string; c: string; expected: string }): string => [x.a, x.b, x.c, x.expected].join(' ');
    assert.deepEqual(s.questions!.filter((x) => x.correct).map(q), p.correct.map((x) => x.join(' ')), `${what}: ${s.section} correct`);
    assert.deepEqual(s.questions!.filter((x) => !x.correct).map(q), p.incorrect.map((x) => x.join(' ')), `${what}: ${s.section} incorrect`);
  });
  assert.equal(ours.total.accuracy, py.score, `${what}: score`);
  assert.equal(ours.total.correct, total.correct.length);
}

function samePairs(ours: Awaited<ReturnType<typeof evaluateWordPairs>>, py: PyPairs | null, what: string): void {
  if (py === null) {
    assert.equal(ours.used, 0, `${what}: gensim found no pair to score`);
    return;
  }
  // Spearman depends only on ranks: identical unless two cosines tie within float32 rounding.
  assert.ok(Math.abs(ours.spearman - py.spearman) < 1e-9, `${what}: spearman ${ours.spearman} vs ${py.spearman}`);
  assert.ok(Math.abs(ours.pearson - py.pearson) < 1e-6, `${what}: pearson ${ours.pearson} vs ${py.pearson}`);
  assert.ok(Math.abs(ours.spearmanP - py.spearmanP) <= 1e-6 * Math.max(py.spearmanP, 1e-12) + 1e-15, `${what}: spearman p ${ours.spearmanP} vs ${py.spearmanP}`);
  assert.ok(Math.abs(ours.pearsonP - py.pearsonP) <= 1e-4 * Math.max(py.pearsonP, 1e-12) + 1e-15, `${what}: pearson p ${ours.pearsonP} vs ${py.pearsonP}`);
  assert.ok(Math.abs(ours.oovPercent - py.oov) < 1e-9, `${what}: oov ${ours.oovPercent} vs ${py.oov}`);
}

test('gensim reads our files and we read its; queries and evaluations agree', { skip: !existsSync(PYTHON) ? `no ${PYTHON} (gensim tests need Debian's python3 with python3-gensim)` : !existsSync(VEC1K) ? 'shared data missing' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-gensim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // Files: odd words and values, counts descending (gensim writes in descending count order).
  const rng = new Random(11);
  const n = 60;
  const d = 7;
  const words = Array.from({ length: n }, (_, i) => (i === 0 ? 'straße' : i === 1 ? '日本語' : i === 2 ? 'Paris' : `w${i}`));
  const vectors = Float32Array.from({ length: n * d }, (_, i) => (i % 17 === 0 ? 0 : rng.gaussian() * 10 ** ((i % 9) - 5)));
  const kv = new KeyedVectors(words, vectors, d, Float64Array.from({ length: n }, (_, i) => 1000 - i * 3));
  await saveWordVectors(kv, join(dir, 'ours.txt'), { counts: join(dir, 'ours.counts') });
  await saveWordVectors(kv, join(dir, 'ours.bin'), { binary: true });

  const questionsText = readFileSync(QUESTIONS, 'utf8');
  const rand = structured(questionsText, 4, 16);
  await saveWordVectors(rand, join(dir, 'rand.bin'), { binary: true });
  // Every fifth question keeps the Python side quick.
  let k = 0;
  writeFileSync(join(dir, 'questions.txt'), questionsText.split('\n').filter((l) => l.startsWith(': ') || k++ % 5 === 0).join('\n'));
  const pick = new Random(8);
  const triples = Array.from({ length: 60 }, () => [0, 1, 2].map(() => rand.words[pick.int(rand.size)]!));

  const toyWords = ['france', 'Paris', 'paris', 'germany', 'berlin', 'italy', 'rome', 'spain', 'madrid'];
  const toy = new KeyedVectors(toyWords, Float32Array.from(toyWords.flatMap((_, i) => Array.from({ length: 6 }, (_, j) => Math.sin(i * 7 + j * 3) + (i % 2) * (j === 5 ? 1 : 0)))), 6);
  await saveWordVectors(toy, join(dir, 'toy.txt'));
  writeFileSync(join(dir, 'toy-questions.txt'), ': a\nFrance Paris Germany Berlin\ngermany berlin italy rome\nitaly rome spain madrid\nspain madrid france paris\nbad line\n: b\nfrance paris atlantis x\n');

  const restrict = Math.floor(rand.size * 0.6);
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ vec1k: VEC1K, questions: QUESTIONS, pairs: PAIRS, pairFiles: PAIR_FILES, restrict, triples }));

  const run = spawnSync(PYTHON, ['-c', SCRIPT, dir], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (run.status === 3) {
    t.skip(`gensim is not installed for ${PYTHON} (${run.stdout.trim()}): skipped`);
    return;
  }
  assert.equal(run.status, 0, run.stderr);
  const py = JSON.parse(run.stdout) as {
    ours_txt: { keys: string[]; vectors: number[][]; counts: number[] | null };
    ours_bin: { keys: string[]; vectors: number[][]; counts: number[] | null };
    vec1k: { analogies: PyAnalogies; pairs: Record<string, PyPairs | null> };
    rand: {
      analogies: PyAnalogies; analogiesRestricted: PyAnalogies; analogiesCase: PyAnalogies;
      pairs: Record<string, PyPairs | null>; pairsRestricted: PyPairs; pairsDummy: PyPairs;
      add: string[][]; mul: string[][]; addScores: number[][];
    };
    toy: { ci: PyAnalogies; cs: PyAnalogies };
  };

  // (a) gensim loads our text and binary files: the same words and float32 values, exactly.
  const rows = Array.from({ length: n }, (_, i) => Array.from(kv.row(i)));
  for (const key of ['ours_txt', 'ours_bin'] as const) {
    assert.deepEqual(py[key].keys, words, key);
    assert.deepEqual(py[key].vectors, rows, `${key}: exact float32 values`);
  }
  assert.deepEqual(py.ours_txt.counts, Array.from(kv.counts!), 'gensim reads our counts file');
  // (b) gensim's files: its text file is byte for byte ours; we load its text, binary and counts.
  assert.equal(readFileSync(join(dir, 'gensim.txt'), 'utf8'), readFileSync(join(dir, 'ours.txt'), 'utf8'), 'byte-identical text files');
  assert.equal(readFileSync(join(dir, 'gensim.counts'), 'utf8'), readFileSync(join(dir, 'ours.counts'), 'utf8'), 'byte-identical counts files');
  for (const name of ['gensim.txt', 'gensim.bin']) {
    const back = await loadWordVectors(join(dir, name), { counts: join(dir, 'gensim.counts') });
    assert.deepEqual(back.words, words, name);
    assert.deepEqual(back.vectors, vectors, `${name}: exact values`);
    assert.deepEqual(back.counts, kv.counts, `${name}: counts`);
  }

  // Queries: the same 5 words for 60 random analogies (3CosAdd, and 3CosMul with gensim's ε).
  triples.forEach(([a, b, c], i) => {
    const add = mostSimilar(rand, { positive: [b!, c!], negative: [a!], topn: 5 });
    assert.deepEqual(add.map((x) => x.word), py.rand.add[i], `most_similar ${a} ${b} ${c}`);
    if (i < 20) add.forEach((x, j) => assert.ok(Math.abs(x.score - py.rand.addScores[i]![j]!) < 1e-6));
    assert.deepEqual(mostSimilarCosmul(rand, { positive: [b!, c!], negative: [a!], topn: 5, epsilon: 1e-6 }).map((x) => x.word), py.rand.mul[i],
      `most_similar_cosmul ${a} ${b} ${c}`);
  });

  // Evaluations: the same questions right and wrong, section by section, and the same correlations.
  sameAnalogies(await evaluateAnalogies(await loadWordVectors(VEC1K), QUESTIONS, { keepQuestions: true }), py.vec1k.analogies, 'vec1k');
  const kv1k = await loadWordVectors(VEC1K);
  for (const f of PAIR_FILES) samePairs(await evaluateWordPairs(kv1k, `${PAIRS}/${f}`), py.vec1k.pairs[f]!, `vec1k ${f}`);
  const q = join(dir, 'questions.txt');
  const full = await evaluateAnalogies(rand, q, { keepQuestions: true });
  sameAnalogies(full, py.rand.analogies, 'rand');
  t.diagnostic(`random structured vectors (${rand.size} words): ${full.total.correct}/${full.answered} right, coverage ${full.coverage.toFixed(3)}`);
  assert.ok(full.total.correct > 100 && full.total.incorrect > 100, 'a mix of right and wrong answers');
  sameAnalogies(await evaluateAnalogies(rand, q, { keepQuestions: true, restrictVocab: restrict }), py.rand.analogiesRestricted, 'rand restricted');
  sameAnalogies(await evaluateAnalogies(rand, q, { keepQuestions: true, caseInsensitive: false }), py.rand.analogiesCase, 'rand case-sensitive');
  for (const f of PAIR_FILES) samePairs(await evaluateWordPairs(rand, `${PAIRS}/${f}`), py.rand.pairs[f]!, `rand ${f}`);
  samePairs(await evaluateWordPairs(rand, `${PAIRS}/simlex999.txt`, { restrictVocab: restrict }), py.rand.pairsRestricted, 'rand simlex restricted');
  samePairs(await evaluateWordPairs(rand, `${PAIRS}/wordsim353.tsv`, { dummy4unknown: true }), py.rand.pairsDummy, 'rand wordsim dummy4unknown');
  sameAnalogies(await evaluateAnalogies(toy, join(dir, 'toy-questions.txt'), { keepQuestions: true }), py.toy.ci, 'toy');
  sameAnalogies(await evaluateAnalogies(toy, join(dir, 'toy-questions.txt'), { keepQuestions: true, caseInsensitive: false }), py.toy.cs, 'toy case-sensitive');
});
