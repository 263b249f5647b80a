import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { KeyedVectors } from '../word2vec/keyed-vectors.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { averageEncoder, fitSif, SifModel, sifWeights, type SifSpec } from './sif.js';
import { saveSif } from './files.js';
import { assertClose, rejectsCode, throwsCode } from '../../../test/helpers/assertions.js';
import { batchRows } from '../common.js';
import { runEncoderConformance } from '../conformance.js';
import { openEncoder } from '../registry.js';
import { storedModelDir } from '../stored-models.js';
import type { Encoder } from '../types.js';

/** A whitespace tokenizer, lower-casing nothing (the tests' own, independent of createTokenizer). */
const ws: Tokenizer = { spec: { kind: 'whitespace' }, tokenize: (s) => s.split(/\s+/).filter((t) => t.length > 0) };


// the = (1, 0), cat = (0, 1), dog = (1, 1); counts 6, 2, 2 (total 10).
function tiny(counts: boolean): KeyedVectors {
  return new KeyedVectors(['the', 'cat', 'dog'], Float32Array.from([1, 0, 0, 1, 1, 1]), 2, counts ? Float64Array.from([6, 2, 2]) : null);
}

/** The unit eigenvector of the largest eigenvalue of [[p, q], [q, r]], by the closed form. */
function top2x2(p: number, q: number, r: number): [number, number] {
  const lambda = (p + r) / 2 + Math.sqrt(((p - r) / 2) ** 2 + q * q);
  const u: [number, number] = [q, lambda - p];
  const n = Math.hypot(...u);
  const s = Math.abs(u[0]) >= Math.abs(u[1]) ? Math.sign(u[0]) : Math.sign(u[1]);
  return [s * u[0] / n, s * u[1] / n];
}

test('sifWeights: a / (a + count / total), weight 1 without a count', () => {
  assertClose(sifWeights([6, 2, 2, 0], 10, 0.2), [0.25, 0.5, 0.5, 1]);
  assertClose(sifWeights([1, 2], 0, 0.2), [1, 1]);
});

test('fitSif with the vectors\' counts: weights, weighted means, the first component and its removal, by hand', async () => {
  const kv = tiny(true);
  // p = .6 .2 .2, a = .2 → weights .25 .5 .5.
  // "the cat" → (.25·(1,0) + .5·(0,1)) / 2 = (.125, .25); "the dog" → (.25·(1,0) + .5·(1,1)) / 2 = (.375, .25).
  // "zebra" has no known word: zero vector, left out of the fit.
  const model = await fitSif(kv, ['the cat', 'the dog', 'zebra'], { a: 0.2, tokenizer: ws });
  assert.equal(model.kind, 'sif');
  assert.equal(model.countsFrom, 'vectors');
  assertClose(model.weights!, [0.25, 0.5, 0.5]);
  const s = model.stats!;
  assert.deepEqual({ ...s, eigenvalues: [], explained: [] }, {
    sentences: 3, emptySentences: 1, tokens: 5, knownTokens: 4, countsFrom: 'vectors', total: 10, eigenvalues: [], explained: [],
  });
  // XᵀX = [[.125² + .375², .125·.25 + .375·.25], [·, 2·.25²]] = [[.15625, .125], [.125, .125]].
  const u = top2x2(0.15625, 0.125, 0.125);
  assertClose(model.components, u);
  // λ = (p + r)/2 + √(((p − r)/2)² + q²).
  assertClose(s.eigenvalues[0]!, 0.140625 + Math.sqrt(0.015625 ** 2 + 0.125 ** 2), 1e-12);
  assertClose(s.explained[0]!, s.eigenvalues[0]! / 0.28125, 1e-12);
  // encode: x − (u·x) u. A text without a known word has no vector: refused, or zero with allowEmpty.
  throwsCode(() => model.encode(['the cat', 'the dog', 'zebra']), 'invalid_argument', /^text\[2\] "zebra": none of its words is in the model's vocabulary, so it has no vector$/);
  throwsCode(() => model.encodeBatch(['the cat', 'zebra']), 'invalid_argument', /^text\[1\] "zebra": none of its words/);
  const [a, b, z] = model.encode(['the cat', 'the dog', 'zebra'], { allowEmpty: true });
  for (const [v, x] of [[a!, [0.125, 0.25]], [b!, [0.375, 0.25]]] as const) {
    const dot = u[0] * x[0] + u[1] * x[1];
    assertClose(v, [x[0] - dot * u[0], x[1] - dot * u[1]]);
  }
  assert.deepEqual(Array.from(z!), [0, 0]);
  // Unknown words are skipped; repeated words count each time: "the the cat zebra" → (.25 + .25, .5)/3.
  const [r] = model.encode(['the the cat zebra']);
  const x = [0.5 / 3, 0.5 / 3];
  const dot = u[0] * x[0]! + u[1] * x[1]!;
  assertClose(r!, [x[0]! - dot * u[0], x[1]! - dot * u[1]]);
  // encodeBatch: the same rows, one array.
  const batch = model.encodeBatch(['the cat', 'the dog', 'zebra'], { allowEmpty: true });
  assert.deepEqual(Array.from(batch), [...a!, ...b!, ...z!]);
});

test('fitSif with corpus counts counts every token of the fitting sentences (unknown ones included)', async () => {
  const kv = tiny(false);
  // Tokens: the cat the dog zebra → total 5; p(the) = .4, p(cat) = p(dog) = .2. a = .2 → 1/3, 1/2, 1/2.
  const model = await fitSif(kv, ['the cat', 'the dog', 'zebra'], { a: 0.2, tokenizer: ws, components: 0 });
  assert.equal(model.countsFrom, 'corpus');
  assert.equal(model.stats!.total, 5);
  assertClose(model.weights!, [1 / 3, 0.5, 0.5]);
  assert.equal(model.componentCount, 0);
  assertClose(model.encode(['the cat'])[0]!, [1 / 6, 0.25]);
  // Async iterables are read as well; a word the corpus never had gets weight 1.
  async function* gen(): AsyncGenerator<string> { yield 'the the'; yield 'cat'; }
  const m2 = await fitSif(kv, gen(), { a: 0.2, tokenizer: ws, components: 0, counts: 'corpus' });
  assertClose(m2.weights!, [0.2 / (0.2 + 2 / 3), 0.2 / (0.2 + 1 / 3), 1]);
});

test('fitSif: two components removed leave vectors orthogonal to both; components orthonormal', async () => {
  const words = ['a', 'b', 'c', 'd', 'e'];
  const vectors = Float32Array.from([1, 0.2, 0.1, 0.3, 0.5, 0.9, 0.1, 0.7, 0.2, 0.3, 0.6, 0.6, 0.8, 0.9, 0.4]);
  const kv = new KeyedVectors(words, vectors, 3, Float64Array.from([50, 30, 10, 5, 5]));
  const sentences = ['a b', 'a c d', 'b e', 'c d e a', 'e', 'a a b'];
  const model = await fitSif(kv, sentences, { tokenizer: ws, components: 2 });
  const u = model.components;
  assertClose(u[0]! ** 2 + u[1]! ** 2 + u[2]! ** 2, 1);
  assertClose(u[3]! ** 2 + u[4]! ** 2 + u[5]! ** 2, 1);
  assertClose(u[0]! * u[3]! + u[1]! * u[4]! + u[2]! * u[5]!, 0);
  assert.ok(model.stats!.eigenvalues[0]! >= model.stats!.eigenvalues[1]!);
  for (const v of model.encode(sentences)) {
    assertClose(v[0]! * u[0]! + v[1]! * u[1]! + v[2]! * u[2]!, 0, 1e-6);
    assertClose(v[0]! * u[3]! + v[1]! * u[4]! + v[2]! * u[5]!, 0, 1e-6);
  }
});

test('averageEncoder: the plain mean of the known words', () => {
  const avg = averageEncoder(tiny(true), { tokenizer: ws });
  assert.equal(avg.kind, 'average');
  throwsCode(() => avg.encode(['the dog dog zebra', 'nothing here']), 'invalid_argument', /^text\[1\] "nothing here": none of its words is in the model's vocabulary/);
  const [v, z] = avg.encode(['the dog dog zebra', 'nothing here'], { allowEmpty: true });
  assertClose(v!, [1, 2 / 3]);
  assert.deepEqual(Array.from(z!), [0, 0]);
});

test('toJSON / fromJSON round trip; weights recomputed from the vectors\' counts, required for corpus counts', async () => {
  const kv = tiny(true);
  const model = await fitSif(kv, ['the cat', 'the dog'], { a: 0.2, tokenizer: ws });
  const json = JSON.parse(JSON.stringify(model.toJSON()));
  assert.equal(json.format, 'omnivec-sif');
  assert.deepEqual(json.tokenizer, { kind: 'whitespace' });
  const back = SifModel.fromJSON(json, kv); // tokenizer made from the spec
  assert.deepEqual(back.encode(['the cat', 'dog']), model.encode(['the cat', 'dog']));
  assert.equal(back.fingerprint(), model.fingerprint());

  const corpus = await fitSif(tiny(false), ['the cat', 'the dog'], { a: 0.2, tokenizer: ws });
  const cj = corpus.toJSON();
  throwsCode(() => SifModel.fromJSON(cj, tiny(false)), 'invalid_argument', /weights: expected the SIF weights \(3 numbers\)/);
  const back2 = SifModel.fromJSON(cj, tiny(false), corpus.weights, ws);
  assert.deepEqual(back2.encode(['the cat']), corpus.encode(['the cat']));

  const avg = averageEncoder(kv, { tokenizer: ws });
  assert.deepEqual(SifModel.fromJSON(avg.toJSON(), kv).encode(['the cat']), avg.encode(['the cat']));

  const big = new KeyedVectors(['x', 'y', 'z', 'w'], new Float32Array(8), 2);
  throwsCode(() => SifModel.fromJSON(json, big), 'dimension_mismatch', /vocabSize: the model was fitted on 3 words, the word vectors have 4/);
  throwsCode(() => SifModel.fromJSON({ ...json, version: 2 }, kv), 'unsupported_version', /version: expected 1, got the number 2/);
  throwsCode(() => SifModel.fromJSON({ ...json, components: [[1]] }, kv), 'invalid_argument', /components\[0\]: expected 2 finite numbers/);
  const words: Tokenizer = { spec: { kind: 'words' }, tokenize: ws.tokenize };
  throwsCode(() => SifModel.fromJSON(json, kv, null, words), 'invalid_argument', /tokenizer: expected one made from \{"kind":"whitespace"\}/);
});

test('asEncoder: async encode, dim, a spec naming the model by content', async () => {
  const kv = tiny(true);
  const model = await fitSif(kv, ['the cat', 'the dog'], { a: 0.2, tokenizer: ws });
  const enc = model.asEncoder();
  assert.equal(enc.dim, 2);
  assert.match(enc.spec.model, /^sif:[0-9a-f]{16}$/);
  assert.deepEqual({ ...enc.spec, model: '' }, {
    model: '', kind: 'sif', dim: 2, a: 0.2, components: 1, normalizeWords: false, tokenizer: { kind: 'whitespace' },
  });
  assert.deepEqual(batchRows(await enc.encode(['the cat'])), model.encode(['the cat']));
  assert.equal(model.asEncoder('my-sif').spec.model, 'my-sif');
  const other = await fitSif(kv, ['the cat', 'the dog'], { a: 0.5, tokenizer: ws });
  assert.notEqual(other.fingerprint(), model.fingerprint());
});

test('fitSif refuses bad options and empty input with typed errors', async () => {
  const kv = tiny(false);
  await rejectsCode(fitSif(kv, ['the'], { a: 0, tokenizer: ws }), 'invalid_argument', /a: expected a positive finite number \(e\.g\. 1e-3\), got the number 0/);
  await rejectsCode(fitSif(kv, ['the'], { tokenizer: ws, counts: 'vectors' }), 'invalid_argument', /counts: expected word vectors with counts/);
  await rejectsCode(fitSif(kv, ['the'], { tokenizer: ws, components: 3 }), 'invalid_argument', /components: expected an integer from 0 to 2 \(the dimension\), got the number 3/);
  await rejectsCode(fitSif(kv, [], { tokenizer: ws }), 'invalid_argument', /sentences: expected at least one sentence to fit on, got none/);
  await rejectsCode(fitSif(kv, ['zebra', 'yak'], { tokenizer: ws }), 'invalid_argument', /got 2 sentences and none has one/);
  await rejectsCode(fitSif(kv, 'the cat' as never, { tokenizer: ws }), 'invalid_argument', /sentences: expected an iterable or async iterable of strings, got the string "the cat"/);
  await rejectsCode(fitSif(kv, [1] as never, { tokenizer: ws }), 'invalid_argument', /sentences\[0\]: expected a string, got the number 1/);
  await rejectsCode(fitSif(kv, ['the'], { tokenizer: 3 as never }), 'invalid_argument', /tokenizer: expected a Tokenizer or a spec such as \{"kind": "words"\}, got the number 3/);
  await rejectsCode(fitSif(kv, ['the'], { tokenizer: { kind: 'chars' } as never }), 'invalid_argument', /tokenizer\.kind: expected "words" or "whitespace"/);
  await rejectsCode(fitSif(kv, ['the'], { normalizeWords: 1 as never }), 'invalid_argument', /normalizeWords: expected a boolean, got the number 1/);
  const model = await fitSif(kv, ['the cat'], { tokenizer: ws, components: 0 });
  throwsCode(() => model.encode([3 as never]), 'invalid_argument', /text\[0\]: expected a string, got the number 3/);
  throwsCode(() => model.encode('the cat' as never), 'invalid_argument', /texts: expected an array \(or iterable\) of strings, got the string "the cat"/);
});

test('normalizeWords averages unit word vectors; the default tokenizer is {kind: "words"}', async () => {
  // the = (3, 4) → (.6, .8); cat = (0, 2) → (0, 1).
  const kv = new KeyedVectors(['the', 'cat'], Float32Array.from([3, 4, 0, 2]), 2, Float64Array.from([1, 1]));
  const avg = averageEncoder(kv, { normalizeWords: true });
  assert.equal(avg.tokenizer.spec.kind, 'words');
  assertClose(avg.encode(['The, CAT!'])[0]!, [0.3, 0.9]);
  assertClose(averageEncoder(kv).encode(['the cat'])[0]!, [1.5, 3]);
  // p = .5 each, a = .5 → weight .5: (.5·(.6, .8) + .5·(0, 1)) / 2, then the component removed.
  const model = await fitSif(kv, ['the cat', 'cat'], { a: 0.5, normalizeWords: true, components: 0 });
  assertClose(model.encode(['the cat'])[0]!, [0.15, 0.45]);
  assert.equal(model.toJSON().normalizeWords, true);
  const back = SifModel.fromJSON(JSON.parse(JSON.stringify(model.toJSON())), kv);
  assert.deepEqual(back.encode(['the cat']), model.encode(['the cat']));
  assert.equal(back.fingerprint(), model.fingerprint());
});

// The encoder contract (types.ts) through the registry: a SIF model stored in a database folder
// (found by its spec's name, as a collection bound to it finds it), and the plain average saved to
// a folder (found by path). A text without a known word has no vector and is refused.
const contractDir = mkdtempSync(join(tmpdir(), 'omnivec-sif-contract-'));
after(() => rmSync(contractDir, { recursive: true, force: true }));
const contractKv = new KeyedVectors(['the', 'a', 'cat', 'kitten', 'dog', 'car', 'truck'],
  Float32Array.from([1, 1, 1, 0, 0.9, 1, 1.1, 0, 0, 0, 0.2, 1, 0.1, 0, 0.2, 0.9, 0, 0.2, 0, 1, 1, -1, 0, 0, 0.9, -1, 0.1, 0]), 4,
  Float64Array.from([1000, 800, 10, 5, 12, 9, 6]));
const contractTexts = ['the cat', 'a kitten and a dog', 'the truck', 'car car cat'];
let stored: Promise<{ spec: SifSpec; dbDir: string }> | undefined;
const storedSif = (): Promise<{ spec: SifSpec; dbDir: string }> => (stored ??= (async () => {
  const model = await fitSif(contractKv, contractTexts);
  const dbDir = join(contractDir, 'db');
  await saveSif(model, storedModelDir(dbDir, model.spec().model));
  return { spec: model.spec(), dbDir };
})());
runEncoderConformance('SIF (a stored model, found by its spec)', {
  modality: 'text',
  open: async () => {
    const { spec, dbDir } = await storedSif();
    return await openEncoder(spec, { dbDir }) as Encoder<'text'>;
  },
  context: { dbDir: join(contractDir, 'db') },
  inputs: contractTexts,
  zeroText: 'qwzx zzyzx',
  tolerance: 0,
});
let averageDir: Promise<string> | undefined;
runEncoderConformance('averaged word vectors (a folder)', {
  modality: 'text',
  open: async () => await openEncoder(await (averageDir ??= (async () => {
    const dir = join(contractDir, 'average');
    await saveSif(averageEncoder(contractKv), dir);
    return dir;
  })())) as Encoder<'text'>,
  context: {},
  inputs: contractTexts,
  zeroText: 'qwzx',
  tolerance: 0,
});
