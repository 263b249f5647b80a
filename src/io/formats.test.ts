import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../vector/random.js';
import {
  openRecords, detectFormat, writeJsonl, writeCsv, writeNpy, writeFvecs, writeIvecs, readFvecs, readIvecs,
  writeWord2vec, writeProjector, formatFloat32, type ImportRecord, type ReadOptions,
} from './index.js';
import { parseNumber } from './common.js';

function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-io-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function randomRecords(n: number, dim: number, seed = 1, extra = false): ImportRecord[] {
  const rng = new Random(seed);
  const out: ImportRecord[] = [];
  for (let i = 0; i < n; i++) {
    const vector = new Float32Array(dim);
    for (let j = 0; j < dim; j++) vector[j] = rng.gaussian() * (j % 3 === 0 ? 1e-3 : j % 3 === 1 ? 1 : 1e3);
    const rec: ImportRecord = { id: `w${i}`, vector };
    if (extra) {
      rec.document = i % 2 === 0 ? `doc ${i}, with "quotes", commas\nand a line break` : `plain ${i}`;
      rec.metadata = { n: i, name: `item ${i}`, ok: i % 3 === 0 };
    }
    out.push(rec);
  }
  return out;
}

async function readAll(path: string, options?: ReadOptions): Promise<ImportRecord[]> {
  const { records } = await openRecords(path, options);
  const out: ImportRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

test('formatFloat32 writes the shortest text that reads back as the same float32', () => {
  assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
  assert.equal(formatFloat32(1), '1');
  assert.equal(formatFloat32(-0), '-0');
  assert.equal(formatFloat32(Math.fround(1e-7)), '1e-7');
  assert.equal(formatFloat32(Math.fround(123456789)), '123456790');
  const rng = new Random(3);
  for (let i = 0; i < 20000; i++) {
    const v = Math.fround((rng.next() - 0.5) * 10 ** (rng.int(60) - 30));
    const s = formatFloat32(v);
    assert.equal(Math.fround(Number(s)), v, s);
    assert.ok(s.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length <= 9, s);
  }
});

test('parseNumber takes decimal numbers only, and recognises NaN and infinity spellings', () => {
  for (const t of ['1', '-1', '+1', '.5', '5.', '1e5', '1E-5', '-1.5e+3', '0.0', '00012', '+.5e-3']) assert.equal(parseNumber(t), Number(t), t);
  for (const t of ['0x10', '0b1', '0o7', '0X10', '', '.', '-', '1e', 'e5', '1.2.3', '--1', ' 1', '1 ', '\u00a01', '1_0', '1,5', '0.1f', '\t1', '1\n']) {
    assert.equal(parseNumber(t), undefined, JSON.stringify(t));
  }
  for (const t of ['nan', 'NaN', '-nan', 'inf', '-inf', 'Infinity', '-Infinity', '1e400']) assert.ok(!Number.isFinite(parseNumber(t)!), t);
  assert.equal(parseNumber('-inf'), -Infinity);
});

test('JSON Lines: round trip of ids, vectors, documents and metadata', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(50, 7, 2, true);
  recs[3]!.id = 'ünïcödé "quoted" id';
  recs[4]!.metadata = { tags: ['a', 'b'], none: null, x: 1.5 };
  delete recs[5]!.metadata;
  delete recs[5]!.document;
  const path = join(dir, 'out.jsonl');
  assert.equal(await writeJsonl(path, recs), 50);
  const opened = await openRecords(path);
  assert.equal(opened.format, 'jsonl');
  assert.equal(opened.dim, undefined);
  assert.equal(opened.count, undefined);
  assert.deepStrictEqual(await readAll(path), recs);
  // Async iterables are consumed too.
  const path2 = join(dir, 'out2.ndjson');
  assert.equal(await writeJsonl(path2, (async function* () { yield* recs; })()), 50);
  assert.deepStrictEqual(await readAll(path2), recs);
});

test('JSON Lines: integer ids, "embedding", "text", extra keys as metadata, blank lines, CRLF and BOM', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'chroma.jsonl');
  writeFileSync(path, '\uFEFF{"id": 7, "embedding": [1, 2.5], "text": "hello", "source": "web", "metadata": {"source": "doc", "k": 1}}\r\n' +
    '\r\n   \n' +
    '{"id": "b", "vector": [3, 4], "document": null, "metadata": null, "text": "t"}\n' +
    '{"id": "c", "vector": [5, 6], "document": "d", "text": "kept as metadata"}');
  assert.deepStrictEqual(await readAll(path), [
    { id: '7', vector: Float32Array.of(1, 2.5), document: 'hello', metadata: { source: 'doc', k: 1 } },
    { id: 'b', vector: Float32Array.of(3, 4), document: 't' },
    { id: 'c', vector: Float32Array.of(5, 6), document: 'd', metadata: { text: 'kept as metadata' } },
  ]);
});

test('CSV: round trip through writeCsv, with commas, quotes and line breaks in cells', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(40, 5, 4, true);
  recs[1]!.id = 'id, with comma';
  recs[2]!.id = ' spaced ';
  const path = join(dir, 'out.csv');
  assert.equal(await writeCsv(path, recs), 40);
  const head = readFileSync(path, 'utf8').split('\n')[0];
  assert.equal(head, 'id,document,n,name,ok,vector');
  const back = await readAll(path);
  // Booleans come back as text: CSV cells carry no types besides "a number or not".
  const expected = recs.map((r) => ({ ...r, metadata: { ...r.metadata, ok: String(r.metadata!.ok) } }));
  assert.deepStrictEqual(back, expected);
});

test('CSV: a hand-written file with RFC 4180 quoting, numbered columns and the metadata rules', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'hand.csv');
  writeFileSync(path, [
    'v2,title,v0,text,zip,v1,,score',
    '3,"Hello, ""world""",1,"line one',
    'line two, still the cell",00501,2,ignored,0.5',
    '6,,4,,,5,x,-1e3',
    '',
    '9,plain,7,doc,12,8,y,not a number',
  ].join('\r\n') + '\r\n');
  const opened = await openRecords(path);
  assert.equal(opened.format, 'csv');
  assert.equal(opened.dim, 3);
  assert.deepStrictEqual(await readAll(path), [
    { id: '0', vector: Float32Array.of(1, 2, 3), document: 'line one\r\nline two, still the cell', metadata: { title: 'Hello, "world"', zip: '00501', score: 0.5 } },
    { id: '1', vector: Float32Array.of(4, 5, 6), metadata: { score: -1000 } },
    { id: '2', vector: Float32Array.of(7, 8, 9), document: 'doc', metadata: { title: 'plain', zip: 12, score: 'not a number' } },
  ]);
});

test('CSV: the vector column takes JSON arrays, spaces, semicolons and numpy text; 0,1,… and dim_1,… columns', async (t) => {
  const dir = tmp(t);
  const a = join(dir, 'a.csv');
  writeFileSync(a, 'ID,Embedding,Document\nx,"[1, 2, 3]",d\ny,4 5 6,\nz,"7;8;9",\nw,"[1.5 2.\n 3.]",\n');
  assert.deepStrictEqual(await readAll(a), [
    { id: 'x', vector: Float32Array.of(1, 2, 3), document: 'd' },
    { id: 'y', vector: Float32Array.of(4, 5, 6) },
    { id: 'z', vector: Float32Array.of(7, 8, 9) },
    { id: 'w', vector: Float32Array.of(1.5, 2, 3) },
  ]);
  const b = join(dir, 'b.csv');
  writeFileSync(b, 'id,1,0,label\nq,2,1,cat\n');
  assert.deepStrictEqual(await readAll(b), [{ id: 'q', vector: Float32Array.of(1, 2), metadata: { label: 'cat' } }]);
  const c = join(dir, 'c.csv');
  writeFileSync(c, 'dim_1,dim_2,year\n0.5,0.25,2020\n');
  assert.deepStrictEqual(await readAll(c), [{ id: '0', vector: Float32Array.of(0.5, 0.25), metadata: { year: 2020 } }]);
  // A vector column wins over numbered columns, which are then metadata.
  const d = join(dir, 'd.csv');
  writeFileSync(d, 'vector,0\n"[1,2]",9\n');
  assert.deepStrictEqual(await readAll(d), [{ id: '0', vector: Float32Array.of(1, 2), metadata: { 0: 9 } }]);
});

test('npy: round trip through writeNpy (records and a batch), header read by openRecords', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(33, 6, 5);
  const path = join(dir, 'x.npy');
  assert.equal(await writeNpy(path, recs), 33);
  const bytes = readFileSync(path);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
  assert.equal(bytes.readUInt16LE(8) + 10, 128);
  assert.match(bytes.subarray(10, 128).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(33, 6\), \} +\n$/);
  const opened = await openRecords(path);
  assert.deepStrictEqual([opened.format, opened.dim, opened.count], ['npy', 6, 33]);
  assert.deepStrictEqual(await readAll(path), recs.map((r, i) => ({ id: String(i), vector: r.vector })));
  assert.deepStrictEqual((await readAll(path, { idPrefix: 'doc-', limit: 2 })).map((r) => r.id), ['doc-0', 'doc-1']);
  const batch = { data: Float32Array.of(1, 2, 3, 4, 5, 6), dim: 3, count: 2 };
  const p2 = join(dir, 'b.npy');
  assert.equal(await writeNpy(p2, batch), 2);
  assert.deepStrictEqual((await readAll(p2)).map((r) => Array.from(r.vector)), [[1, 2, 3], [4, 5, 6]]);
  const p3 = join(dir, 'empty.npy');
  assert.equal(await writeNpy(p3, [], { dim: 4 }), 0);
  const e = await openRecords(p3);
  assert.deepStrictEqual([e.count, (await readAll(p3)).length], [0, 0]);
});

/** A .npy file with numpy's exact header bytes: magic, version, header length, dict padded with spaces and `\n` to 64 bytes. */
function npyBytes(descr: string, shape: string, data: Uint8Array, version: 1 | 2 | 3 = 1, fortran = false): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  header.write('\x93NUMPY', 0, 'latin1');
  header[6] = version;
  header[7] = 0;
  if (version === 1) header.writeUInt16LE(total - pre, 8);
  else header.writeUInt32LE(total - pre, 8);
  header.write(dict, pre, 'latin1');
  header[total - 1] = 0x0a;
  return Buffer.concat([header, data]);
}

test('npy: hand-made files of numpy header bytes for f4, f8, f2, >f4, i1, u1, i8 and versions 1.0/2.0/3.0', async (t) => {
  const dir = tmp(t);
  const values = [0.5, -1, 2, 3.25, 0, 65504];
  const encode = (size: number, put: (dv: DataView, o: number, v: number) => void): Uint8Array => {
    const b = new Uint8Array(values.length * size);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => put(dv, i * size, v));
    return b;
  };
  const f16 = (v: number): number => {
    // Exact for the test values only (all representable in float16).
    if (v === 0) return 0;
    const s = v < 0 ? 0x8000 : 0;
    const a = Math.abs(v);
    const e = Math.floor(Math.log2(a));
    return s | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
  };
  const cases: [string, Uint8Array, 1 | 2 | 3][] = [
    ['<f4', encode(4, (dv, o, v) => dv.setFloat32(o, v, true)), 1],
    ['<f8', encode(8, (dv, o, v) => dv.setFloat64(o, v, true)), 1],
    ['<f2', encode(2, (dv, o, v) => dv.setUint16(o, f16(v), true)), 1],
    ['>f4', encode(4, (dv, o, v) => dv.setFloat32(o, v, false)), 2],
    ['<f4', encode(4, (dv, o, v) => dv.setFloat32(o, v, true)), 3],
    ['<i8', encode(8, (dv, o, v) => dv.setBigInt64(o, BigInt(Math.trunc(v)), true)), 1],
  ];
  for (const [descr, data, version] of cases) {
    const path = join(dir, `${descr.replace(/\W/, '_')}-v${version}.npy`);
    const bytes = npyBytes(descr, '(2, 3)', data, version);
    assert.equal((bytes.length - data.length) % 64, 0);
    writeFileSync(path, bytes);
    const opened = await openRecords(path);
    assert.deepStrictEqual([opened.dim, opened.count], [3, 2]);
    const want = descr === '<i8' ? values.map(Math.trunc) : values;
    assert.deepStrictEqual((await readAll(path)).map((r) => [r.id, ...r.vector]), [['0', ...want.slice(0, 3)], ['1', ...want.slice(3)]], descr);
  }
  const i1 = join(dir, 'i1.npy');
  writeFileSync(i1, npyBytes('|i1', '(1, 4)', Uint8Array.of(0xff, 1, 0x80, 127)));
  assert.deepStrictEqual(Array.from((await readAll(i1))[0]!.vector), [-1, 1, -128, 127]);
  const u1 = join(dir, 'u1.npy');
  writeFileSync(u1, npyBytes('|u1', '(1, 4)', Uint8Array.of(0xff, 1, 0x80, 127)));
  assert.deepStrictEqual(Array.from((await readAll(u1))[0]!.vector), [255, 1, 128, 127]);
});

test('fvecs / ivecs: round trips, and openRecords streams fvecs rows with ids "0", "1", …', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(25, 9, 6);
  const data = new Float32Array(25 * 9);
  recs.forEach((r, i) => data.set(r.vector, i * 9));
  const path = join(dir, 'base.fvecs');
  await writeFvecs(path, { data, dim: 9, count: 25 });
  assert.equal(readFileSync(path).length, 25 * (4 + 36));
  const batch = await readFvecs(path);
  assert.deepStrictEqual(batch, { data, dim: 9, count: 25 });
  const opened = await openRecords(path);
  assert.deepStrictEqual([opened.format, opened.dim, opened.count], ['fvecs', 9, 25]);
  assert.deepStrictEqual(await readAll(path), recs.map((r, i) => ({ id: String(i), vector: r.vector })));
  const gt = Int32Array.from({ length: 30 }, (_, i) => (i * 7919) % 1000);
  const ipath = join(dir, 'gt.ivecs');
  await writeIvecs(ipath, gt, 10);
  assert.deepStrictEqual(await readIvecs(ipath), { ids: gt, k: 10, count: 3 });
  await writeIvecs(ipath, Uint32Array.from(gt), 5);
  assert.deepStrictEqual(await readIvecs(ipath), { ids: gt, k: 5, count: 6 });
  const empty = join(dir, 'empty.fvecs');
  writeFileSync(empty, '');
  const e = await openRecords(empty);
  assert.deepStrictEqual([e.dim, e.count, (await readAll(empty)).length], [undefined, 0, 0]);
});

test('word2vec text and binary: round trips through writeWord2vec', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(30, 8, 7);
  recs[0]!.id = 'straße';
  recs[1]!.id = '日本語';
  for (const binary of [false, true]) {
    const path = join(dir, binary ? 'w.bin' : 'w.txt');
    assert.equal(await writeWord2vec(path, recs, { binary, count: 30, dim: 8 }), 30);
    const bytes = readFileSync(path);
    assert.equal(bytes.subarray(0, 5).toString(), '30 8\n');
    if (binary) assert.equal(bytes.length, 5 + recs.reduce((s, r) => s + Buffer.byteLength(r.id) + 1 + 32 + 1, 0));
    const opened = await openRecords(path);
    assert.deepStrictEqual([opened.format, opened.dim, opened.count], [binary ? 'word2vec-binary' : 'word2vec', 8, 30]);
    assert.deepStrictEqual(await readAll(path), recs);
    assert.deepStrictEqual((await readAll(path, { limit: 3, idPrefix: 'en:' })).map((r) => r.id), ['en:straße', 'en:日本語', 'en:w2']);
  }
});

test('word2vec: gensim-style binary (no line breaks), fastText trailing spaces, headerless GloVe text', async (t) => {
  const dir = tmp(t);
  const v = (xs: number[]): Buffer => Buffer.from(Float32Array.from(xs).buffer);
  const bin = join(dir, 'gensim.bin');
  writeFileSync(bin, Buffer.concat([Buffer.from('2 2\n'), Buffer.from('a '), v([1, 2]), Buffer.from('bb '), v([3, 4])]));
  assert.deepStrictEqual(await readAll(bin), [{ id: 'a', vector: Float32Array.of(1, 2) }, { id: 'bb', vector: Float32Array.of(3, 4) }]);
  const vec = join(dir, 'ft.vec');
  writeFileSync(vec, '2 3 \nthe 0.1 0.2 0.3 \n, -1 -2 -3 \n\n');
  assert.deepStrictEqual(await readAll(vec), [
    { id: 'the', vector: Float32Array.of(0.1, 0.2, 0.3) }, { id: ',', vector: Float32Array.of(-1, -2, -3) },
  ]);
  const glove = join(dir, 'glove.6B.3d.txt');
  writeFileSync(glove, 'the 0.418 0.24968 -0.41242\n, 0.013441 0.23682 -0.16899\r\n');
  const opened = await openRecords(glove);
  assert.deepStrictEqual([opened.format, opened.dim, opened.count], ['word2vec', undefined, undefined]);
  assert.deepStrictEqual((await readAll(glove)).map((r) => r.id), ['the', ',']);
});

test('projector TSV: round trips with a metadata header, a single label column, and no metadata', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(20, 4, 8, true);
  const vpath = join(dir, 'vectors.tsv');
  const mpath = join(dir, 'metadata.tsv');
  assert.equal(await writeProjector(vpath, mpath, recs, { fields: ['name', 'n'] }), 20);
  assert.equal(readFileSync(mpath, 'utf8').split('\n')[0], 'id\tdocument\tname\tn');
  const back = await readAll(vpath, { metadataPath: mpath });
  assert.deepStrictEqual(back, recs.map((r) => ({
    id: r.id, vector: r.vector, document: r.document!.replace(/\n/g, ' '), metadata: { name: r.metadata!.name, n: r.metadata!.n },
  })));
  // Only ids: one column, no header; read back as the label, ids are row numbers.
  const plain = recs.map((r) => ({ id: r.id, vector: r.vector }));
  await writeProjector(vpath, mpath, plain);
  assert.equal(readFileSync(mpath, 'utf8').split('\n')[0], 'w0');
  assert.deepStrictEqual(await readAll(vpath, { metadataPath: mpath }),
    plain.map((r, i) => ({ id: String(i), vector: r.vector, metadata: { label: r.id } })));
  await writeProjector(vpath, undefined, plain);
  assert.deepStrictEqual(await readAll(vpath), plain.map((r, i) => ({ id: String(i), vector: r.vector })));
  const hand = join(dir, 'labels.tsv');
  writeFileSync(hand, '7\n\ncat\n');
  const hv = join(dir, 'v.tsv');
  writeFileSync(hv, '1\t2\n3\t4\n5\t6\n');
  assert.deepStrictEqual((await readAll(hv, { metadataPath: hand })).map((r) => r.metadata), [{ label: 7 }, undefined, { label: 'cat' }]);
});

test('openRecords: limit, idPrefix, iterating twice, and break closes the file', async (t) => {
  const dir = tmp(t);
  const recs = randomRecords(10, 3, 9);
  const path = join(dir, 'x.jsonl');
  await writeJsonl(path, recs);
  const opened = await openRecords(path, { limit: 4, idPrefix: 'p/' });
  const ids = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const r of opened.records) out.push(r.id);
    return out;
  };
  assert.deepStrictEqual(await ids(), ['p/w0', 'p/w1', 'p/w2', 'p/w3']);
  assert.deepStrictEqual(await ids(), ['p/w0', 'p/w1', 'p/w2', 'p/w3']);
  assert.deepStrictEqual(await readAll(path, { limit: 0 }), []);
  const w = join(dir, 'x.vec');
  await writeWord2vec(w, recs, { binary: false, count: 10, dim: 3 });
  assert.equal((await openRecords(w, { limit: 4 })).count, 4);
  // Open file descriptors, where /proc tells them (Linux).
  const linux = existsSync('/proc/self/fd');
  const fds = (): number => (linux ? readdirSync('/proc/self/fd').length : 0);
  const before = fds();
  for (const p of [w, path]) {
    for await (const r of (await openRecords(p)).records) {
      assert.equal(r.id, 'w0');
      if (linux) assert.equal(fds(), before + 1, 'the file is open while iterating');
      break;
    }
  }
  assert.equal(fds(), before, 'break closed the file');
});

test('detectFormat: by extension, and by the first bytes for .txt, .bin and unknown names', async (t) => {
  const dir = tmp(t);
  const cases: [string, string][] = [
    ['a.jsonl', 'jsonl'], ['a.NDJSON', 'jsonl'], ['a.csv', 'csv'], ['a.npy', 'npy'], ['a.fvecs', 'fvecs'],
    ['a.vec', 'word2vec'], ['a.tsv', 'projector'], ['missing.txt', 'word2vec'], ['missing.bin', 'word2vec-binary'],
  ];
  for (const [name, format] of cases) assert.equal(detectFormat(join(dir, name)), format, name);
  const recs = randomRecords(3, 4, 10);
  const write = async (name: string, f: (p: string) => Promise<unknown>): Promise<string> => {
    const p = join(dir, name);
    await f(p);
    return p;
  };
  assert.equal(detectFormat(await write('w2v.bin', (p) => writeWord2vec(p, recs, { binary: true, count: 3, dim: 4 }))), 'word2vec-binary');
  assert.equal(detectFormat(await write('w2v-bin', (p) => writeWord2vec(p, recs, { binary: true, count: 3, dim: 4 }))), 'word2vec-binary');
  assert.equal(detectFormat(await write('w2v-text', (p) => writeWord2vec(p, recs, { binary: false, count: 3, dim: 4 }))), 'word2vec');
  assert.equal(detectFormat(await write('npy.bin', (p) => writeNpy(p, recs))), 'npy');
  assert.equal(detectFormat(await write('data', (p) => writeNpy(p, recs))), 'npy');
  assert.equal(detectFormat(await write('vecs.bin', (p) => writeFvecs(p, { data: new Float32Array(8), dim: 4, count: 2 }))), 'fvecs');
  assert.equal(detectFormat(await write('vectors.txt', (p) => writeProjector(p, undefined, recs))), 'projector');
  assert.equal(detectFormat(await write('export', (p) => writeJsonl(p, recs))), 'jsonl');
  assert.equal(detectFormat(await write('table', (p) => writeCsv(p, recs))), 'csv');
  writeFileSync(join(dir, 'glove'), 'the 0.1 0.2\n');
  assert.equal(detectFormat(join(dir, 'glove')), 'word2vec');
  writeFileSync(join(dir, 'mystery.dat'), 'hello world\n');
  assert.throws(() => detectFormat(join(dir, 'mystery.dat')), (e: Error & { code?: string }) =>
    e.code === 'invalid_argument' && /jsonl, csv, npy, fvecs, word2vec, word2vec-binary, projector/.test(e.message));
  assert.throws(() => detectFormat(join(dir, 'x.npz')), /unzip/);
  assert.deepStrictEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});
