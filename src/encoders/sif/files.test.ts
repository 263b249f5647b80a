import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { KeyedVectors } from '../word2vec/keyed-vectors.js';
import { saveWordVectors } from '../word2vec/files.js';
import { averageEncoder, fitSif } from './sif.js';
import { loadSif, readTextLines, saveSif } from './files.js';
import { withTempDir, rejectsCode } from '../../../test/helpers/assertions.js';

const words = ['the', 'cat', 'dog', 'sat', 'on', 'mat'];
const vectors = Float32Array.from([0.1, 0.2, 0.3, 1, -0.5, 0.25, 0.9, -0.4, 0.3, -0.2, 0.8, 0.1, 0.05, 0.1, 0.6, 0.3, 0.3, -0.7]);
const sentences = ['The cat sat on the mat.', 'The dog sat.', 'A dog on a mat', 'zebra!'];

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('omnivec-sif-', fn);

test('saveSif / loadSif: a copy of the vectors (with counts) round-trips exactly', () => withDir(async (dir) => {
  const kv = new KeyedVectors(words, vectors, 3, Float64Array.from([100, 20, 15, 10, 30, 5]));
  const model = await fitSif(kv, sentences, { a: 0.01 });
  const out = join(dir, 'model');
  await saveSif(model, out);
  assert.deepEqual((await readdir(out)).sort(), ['counts.txt', 'sif.json', 'vectors.bin', 'weights.f32']);
  const json = JSON.parse(await readFile(join(out, 'sif.json'), 'utf8'));
  assert.equal(json.files.vectors, 'vectors.bin');
  assert.equal(json.fingerprint, model.fingerprint());
  const back = await loadSif(out);
  assert.deepEqual(back.encode(sentences, { allowEmpty: true }), model.encode(sentences, { allowEmpty: true }));
  assert.deepEqual(Array.from(back.kv.counts!), [100, 20, 15, 10, 30, 5]);
  assert.equal(back.asEncoder().spec.model, model.asEncoder().spec.model);
  assert.deepEqual(back.stats, model.stats);
}));

test('saveSif with a reference to the vector file; a changed file is refused on load', () => withDir(async (dir) => {
  const vec = join(dir, 'w.vec');
  const kv = new KeyedVectors(words, vectors, 3);
  await saveWordVectors(kv, vec);
  const model = await fitSif(kv, sentences, { components: 2 });
  assert.equal(model.countsFrom, 'corpus');
  const out = join(dir, 'ref');
  await saveSif(model, out, { vectors: { path: vec } });
  assert.deepEqual((await readdir(out)).sort(), ['sif.json', 'weights.f32']);
  const back = await loadSif(out);
  assert.deepEqual(back.encode(sentences, { allowEmpty: true }), model.encode(sentences, { allowEmpty: true }));
  // The file changes: one number differs.
  const changed = new Float32Array(vectors);
  changed[4] = 0.75;
  await saveWordVectors(new KeyedVectors(words, changed, 3), vec);
  await rejectsCode(loadSif(out), 'corrupt_file', /the file changed since the model was saved/);
  await saveWordVectors(new KeyedVectors(words.slice(0, 5), vectors.slice(0, 15), 3), vec);
  await rejectsCode(loadSif(out), 'corrupt_file', /vocabSize: the model was fitted on 6 words, the word vectors have 5/);
  await rejectsCode(saveSif(model, out, { vectors: { path: join(dir, 'nope.vec') } }), 'not_found', /nope\.vec, which does not exist/);
}));

test('the plain average saves without weights; broken folders are refused with typed errors', () => withDir(async (dir) => {
  const kv = new KeyedVectors(words, vectors, 3);
  const avg = averageEncoder(kv, { tokenizer: { kind: 'whitespace' } });
  await saveSif(avg, join(dir, 'avg'));
  assert.deepEqual((await readdir(join(dir, 'avg'))).sort(), ['sif.json', 'vectors.bin']);
  const back = await loadSif(join(dir, 'avg'));
  assert.equal(back.kind, 'average');
  assert.deepEqual(back.tokenizer.spec, { kind: 'whitespace' });
  assert.deepEqual(back.encode(['cat dog']), avg.encode(['cat dog']));

  await rejectsCode(loadSif(join(dir, 'none')), 'not_found', /expected a SIF model folder with sif\.json, got no sif\.json/);
  const model = await fitSif(kv, sentences);
  const out = join(dir, 'm');
  await saveSif(model, out);
  await writeFile(join(out, 'weights.f32'), Buffer.alloc(8));
  await rejectsCode(loadSif(out), 'corrupt_file', /expected 6 float32 weights \(24 bytes, one per word\), got 8 bytes/);
  await writeFile(join(out, 'sif.json'), '{"format": "omnivec-sif", ');
  await rejectsCode(loadSif(out), 'corrupt_file', /sif\.json: expected JSON, got a parse error/);
  await writeFile(join(out, 'sif.json'), JSON.stringify({ ...model.toJSON(), a: -1 }));
  await rejectsCode(loadSif(out), 'corrupt_file', /expected a SIF model, got a: expected a positive finite number/);
}));

test('readTextLines: plain and gzip, CRLF, empty lines kept; missing and corrupt files refused', () => withDir(async (dir) => {
  const collect = async (p: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const l of readTextLines(p)) out.push(l);
    return out;
  };
  await writeFile(join(dir, 'a.txt'), 'one\r\n\ntwo three\n');
  assert.deepEqual(await collect(join(dir, 'a.txt')), ['one', '', 'two three']);
  await writeFile(join(dir, 'a.txt.gz'), gzipSync('x y\nz'));
  assert.deepEqual(await collect(join(dir, 'a.txt.gz')), ['x y', 'z']);
  await rejectsCode(collect(join(dir, 'none.txt')), 'not_found', /none\.txt: expected a text file, got no such file/);
  await writeFile(join(dir, 'bad.gz'), 'not gzip');
  await rejectsCode(collect(join(dir, 'bad.gz')), 'corrupt_file', /bad\.gz: expected gzip data, got incorrect header check/);
}));
