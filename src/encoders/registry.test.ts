import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyedVectors } from './word2vec/keyed-vectors.js';
import { fitSif } from './sif/sif.js';
import { saveSif } from './sif/files.js';
import { storedModelDir } from './stored-models.js';
import { hubModelFolder } from './onnx/hub.js';
import { checkReference, detectKind, openEncoder, openModel, resolveReference, resolveSpec, specOptions } from './registry.js';
import { batchRows } from './common.js';
import { writeConvImageModel, writeTinyTextModel } from '../../test/helpers/onnx-build.js';
import { writeTinyClip } from '../../test/helpers/tiny-clip.js';
import { assertClose, rejectsCode, throwsCode } from '../../test/helpers/assertions.js';

/**
 * The registry's rules (docs/encoders.md, "The registry"): where a reference and a stored spec
 * lead, in which order, and what is refused with which message. Opening each kind is the
 * conformance suite's, run by each encoder's own test.
 */

const VOCAB = ['hello', 'world', 'king', 'queen'];
const DIM = 4;
const VECTORS = Float32Array.from({ length: VOCAB.length * DIM }, (_, k) => Math.sin(1 + k));

let root: string;
let tiny: string;
let image: string;
let clip: string;
let db: string;
let sifName: string;
const saved = process.env.OMNIVEC_CACHE;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'omnivec-registry-'));
  process.env.OMNIVEC_CACHE = join(root, 'cache');
  tiny = (await writeTinyTextModel(join(root, 'tiny'), { vocab: VOCAB, dim: DIM, vectors: VECTORS, lowercase: true })).dir;
  image = (await writeConvImageModel(join(root, 'conv'), { channels: 3, size: [8, 8] })).dir;
  clip = await writeTinyClip(join(root, 'clip'));
  db = join(root, 'db');
  const kv = new KeyedVectors(['the', 'cat', 'dog'], Float32Array.from([1, 0, 0, 1, 1, 1]), 2, Float64Array.from([6, 2, 2]));
  const model = await fitSif(kv, ['the cat', 'the dog']);
  sifName = model.spec().model;
  await saveSif(model, storedModelDir(db, sifName));
  // A model folder copied into the database, served as its folder's name.
  cpSync(tiny, storedModelDir(db, 'acme/stored'), { recursive: true });
  // A hub id in the local cache.
  cpSync(tiny, hubModelFolder('acme/cached'), { recursive: true });
});
after(() => {
  if (saved === undefined) delete process.env.OMNIVEC_CACHE;
  else process.env.OMNIVEC_CACHE = saved;
  rmSync(root, { recursive: true, force: true });
});

test('detectKind: omnivec.json, else two towers → clip, tokenizer.json → text, otherwise image', () => {
  assert.equal(detectKind(tiny), 'text');
  assert.equal(detectKind(image), 'image');
  assert.equal(detectKind(clip), 'clip');
  const m3 = join(root, 'm3-kind');
  cpSync(tiny, m3, { recursive: true });
  writeFileSync(join(m3, 'omnivec.json'), JSON.stringify({ kind: 'bge-m3' }));
  assert.equal(detectKind(m3), 'text', 'a BGE-M3 folder by reference: its dense output through the text pipeline');
  writeFileSync(join(m3, 'omnivec.json'), '{ nope');
  throwsCode(() => detectKind(m3), 'corrupt_file', /omnivec\.json: expected a JSON object/);
});

test('resolveReference: a name of context.models, openai:, a path (SIF or ONNX), a stored model, else the hub', () => {
  const ctx = { dbDir: db, models: { mini: tiny } };
  assert.deepEqual(resolveReference('mini', ctx), { location: { type: 'onnx', model: tiny }, options: { name: 'mini' }, via: 'name' });
  assert.deepEqual(resolveReference('openai:text-embedding-3-small', ctx), { location: { type: 'remote', model: 'openai:text-embedding-3-small' }, options: {}, via: 'remote' });
  assert.deepEqual(resolveReference(tiny, ctx).location, { type: 'onnx', model: tiny });
  assert.deepEqual(resolveReference(storedModelDir(db, sifName), ctx).location, { type: 'sif', dir: storedModelDir(db, sifName) });
  assert.deepEqual(resolveReference(sifName, ctx), { location: { type: 'sif', dir: storedModelDir(db, sifName) }, options: {}, via: 'stored' });
  assert.deepEqual(resolveReference('acme/stored', ctx).location, { type: 'onnx', model: storedModelDir(db, 'acme/stored') });
  assert.deepEqual(resolveReference('acme/elsewhere', ctx), { location: { type: 'onnx', model: 'acme/elsewhere' }, options: {}, via: 'hub' });
  throwsCode(() => resolveReference('', ctx), 'invalid_argument', /model: expected a model folder, an \.onnx file, a hub id or openai:MODEL, got the string ""/);
});

test('checkReference: a missing path, or a hub id out of the cache without the network, is not_found', () => {
  checkReference(tiny);
  checkReference('openai:anything');
  checkReference('acme/cached');
  throwsCode(() => checkReference(join(root, 'missing')), 'not_found', /missing: no such folder or file$/);
  throwsCode(() => checkReference('acme/elsewhere'), 'not_found', /acme\/elsewhere: no such folder or file, and the hub id is not in the local cache \(.*acme--elsewhere\); pass --allow-network/);
  checkReference('acme/elsewhere', { allowNetwork: true });
});

test('resolveSpec: a named model, a stored one, the source, the hub cache, a remote API only with the network; else why not', () => {
  const ctx = { dbDir: db, models: { mini: tiny } };
  const found = (spec: Parameters<typeof resolveSpec>[0], c: Parameters<typeof resolveSpec>[1] = ctx): unknown => {
    const r = resolveSpec(spec, c);
    assert.ok(!('reason' in r), JSON.stringify(r));
    return [r.via, r.location];
  };
  assert.deepEqual(found({ model: 'mini', dim: DIM }), ['name', { type: 'onnx', model: tiny }]);
  assert.deepEqual(found({ model: sifName, dim: 2, kind: 'sif' }), ['stored', { type: 'sif', dir: storedModelDir(db, sifName) }]);
  // By the file-safe folder of the name.
  assert.deepEqual(found({ model: 'acme/stored', dim: DIM }), ['stored', { type: 'onnx', model: storedModelDir(db, 'acme/stored') }]);
  assert.deepEqual(found({ model: 'tiny', dim: DIM, source: tiny }), ['source', { type: 'onnx', model: tiny }]);
  assert.deepEqual(found({ model: 'x', dim: DIM, source: 'acme/cached' }), ['source', { type: 'onnx', model: 'acme/cached' }]);
  assert.deepEqual(found({ model: 'acme/cached', dim: DIM }), ['hub', { type: 'onnx', model: 'acme/cached' }]);
  assert.deepEqual(found({ model: 'openai:e3@8', dim: 8, dimensions: 8, kind: 'remote' }, { allowNetwork: true }), ['remote', { type: 'remote', model: 'openai:e3' }]);
  const why = (spec: Parameters<typeof resolveSpec>[0], c: Parameters<typeof resolveSpec>[1] = ctx): string => {
    const r = resolveSpec(spec, c);
    assert.ok('reason' in r);
    return r.reason;
  };
  assert.match(why({ model: 'openai:e3', kind: 'remote' }), /encoder "openai:e3" is a remote API \(openai:e3\); the server calls it only with --allow-network/);
  assert.match(why({ model: 'gone', source: join(root, 'nowhere') }), /encoder "gone" cannot be opened: no --encoder gone=MODEL, no stored model .*models\/gone, its source .*nowhere does not exist/);
  assert.match(why({ model: 'someone/else' }, {}), /no database folder to look for a stored model in, no source path recorded in its spec, the hub id is not in the local cache/);
  assert.match(why({ model: `${sifName}@1`, dimensions: 1 }), /the stored SIF model .* has no Matryoshka dimensions/);
  throwsCode(() => resolveSpec(null as never), 'invalid_argument', /encoder: expected a spec \{ model, dim, … \}, got null/);
});

test('specOptions: a spec\'s choices open it the same way; NAME@D with dimensions D cuts to D', () => {
  assert.deepEqual(specOptions({ model: 'e5@2', dim: 2, kind: 'text', pooling: 'mean', normalize: true, maxLength: 8, output: 'last_hidden_state', queryPrefix: 'query: ', dimensions: 2 }), {
    name: 'e5', dimensions: 2, forceDimensions: true, kind: 'text', pooling: 'mean', normalize: true, maxLength: 8, output: 'last_hidden_state', queryPrefix: 'query: ',
  });
  assert.deepEqual(specOptions({ model: 'm', kind: 'average' }), { name: 'm', kind: 'sif' });
  assert.deepEqual(specOptions({ model: 'openai:e3', kind: 'remote', baseURL: 'http://x/v1', dim: 16 }), { name: 'openai:e3', kind: 'remote', baseURL: 'http://x/v1', dim: 16 });
  // "@D" without dimensions: D is part of the name.
  assert.deepEqual(specOptions({ model: 'odd@3' }), { name: 'odd@3' });
});

test('openModel / openEncoder: the towers of a model, the spec\'s source, a modality it does not take, a dimension not the spec\'s', async () => {
  const m = await openModel(clip, { threads: 1 });
  try {
    assert.equal(m.kind, 'clip');
    assert.equal(m.source, clip);
    assert.deepEqual([m.text?.modality, m.image?.modality], ['text', 'image']);
    assert.equal(m.text!.spec.source, clip);
    assert.equal(m.image!.spec.tower, 'image');
  } finally {
    await m.close();
  }
  // A CLIP spec opens its own tower, or the other one when asked: both share one space.
  const spec = { model: 'clip', dim: 3, kind: 'clip', tower: 'image', source: clip };
  const img = await openEncoder(spec, { threads: 1 });
  assert.equal(img.modality, 'image');
  await img.close();
  const txt = await openEncoder(spec, { threads: 1, modality: 'text' });
  assert.equal(txt.modality, 'text');
  assertClose(batchRows(await txt.encode(['red']))[0]!, [1, 0, 0]);
  await txt.close();
  await rejectsCode(openEncoder({ model: 'conv', source: image }, { modality: 'text' }), 'invalid_argument', /encoder "conv" is an image encoder; it takes images, not texts/);
  await rejectsCode(openEncoder({ model: 'tiny', dim: 7, source: tiny }), 'dimension_mismatch', /encoder "tiny" gives 4-d vectors, its spec says 7-d/);
  await rejectsCode(openEncoder({ model: 'gone', source: join(root, 'nowhere') }), 'not_found', /encoder "gone" cannot be opened/);
  // A reference names its model: a hub id out of the cache says how to get it.
  await rejectsCode(openEncoder('acme/elsewhere'), 'not_found', /acme\/elsewhere/);
  // A stored SIF model by its name, as a reference.
  const sif = await openEncoder(sifName, { dbDir: db });
  assert.equal(sif.spec.model, sifName);
  assert.equal(sif.spec.source, storedModelDir(db, sifName));
  await sif.close();
});
