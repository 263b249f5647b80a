import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError, type ErrorCode } from '../errors.js';
import {
  openRecords, writeWord2vec, writeJsonl, writeNpy, writeIvecs, writeFvecs, writeCsv, writeProjector, readFvecs, readIvecs,
  type ReadOptions,
} from './index.js';

function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-io-err-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens `path` and reads every record; expects an OmnivecError of `code` whose message matches `message`. */
async function fails(path: string, code: ErrorCode, message: RegExp, options?: ReadOptions): Promise<void> {
  await assert.rejects(async () => {
    const { records } = await openRecords(path, options);
    for await (const _ of records) { /* read all */ }
  }, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

const f32 = (xs: number[]): Buffer => Buffer.from(Float32Array.from(xs).buffer);

test('a missing file is not_found for every format', async (t) => {
  const dir = tmp(t);
  for (const name of ['a.jsonl', 'a.csv', 'a.npy', 'a.fvecs', 'a.vec', 'a.bin', 'a.tsv', 'noext']) {
    await fails(join(dir, name), 'not_found', /file not found/);
  }
  writeFileSync(join(dir, 'v.tsv'), '1\t2\n');
  await fails(join(dir, 'v.tsv'), 'not_found', /meta\.tsv: file not found/, { metadataPath: join(dir, 'meta.tsv') });
  await assert.rejects(readFvecs(join(dir, 'q.fvecs')), { code: 'not_found' });
  await assert.rejects(readIvecs(join(dir, 'q.ivecs')), { code: 'not_found' });
  await fails(dir, 'invalid_argument', /expected a file, got a directory/, { format: 'jsonl' });
});

test('JSON Lines: malformed lines are corrupt_file naming the file and line', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.jsonl');
  const ok = '{"id":"a","vector":[1,2]}\n';
  const cases: [string, ErrorCode, RegExp][] = [
    [ok + '{"id":"b","vector":[1,2]\n', 'corrupt_file', /x\.jsonl:2: expected a JSON object, got invalid JSON/],
    [ok + '\n[1,2]\n', 'corrupt_file', /x\.jsonl:3: expected a JSON object, got an array/],
    [ok + '{"vector":[1,2]}\n', 'corrupt_file', /x\.jsonl:2: expected "id": a non-empty string or an integer, got no "id"/],
    [ok + '{"id":1.5,"vector":[1,2]}\n', 'corrupt_file', /:2: expected "id".*got number 1\.5/],
    [ok + '{"id":"b"}\n', 'corrupt_file', /:2: expected "vector" \(or "embedding"\).*got neither/],
    [ok + '{"id":"b","vector":"1,2"}\n', 'corrupt_file', /:2: expected "vector".*got the string/],
    [ok + '{"id":"b","vector":[1,"2"]}\n', 'corrupt_file', /:2: expected "vector"\[1\]: a number, got the string "2"/],
    [ok + '{"id":"b","vector":[1,2],"embedding":[1,2]}\n', 'corrupt_file', /:2: expected one of "vector" or "embedding", got both/],
    [ok + '{"id":"b","vector":[1,2],"metadata":[1]}\n', 'corrupt_file', /:2: expected "metadata": an object, got an array/],
    [ok + '{"id":"b","vector":[1,2],"document":5}\n', 'corrupt_file', /:2: expected "document": a string/],
    [ok + '{"id":"b","vector":[1,2,3]}\n', 'dimension_mismatch', /x\.jsonl:2: expected 2 components \(as the first vector, line 1\), got 3/],
    [ok + '{"id":"b","vector":[1,null]}\n', 'invalid_argument', /x\.jsonl:2: row 1, component 1: expected a finite number, got null/],
    [ok + '{"id":"b","vector":[1,1e39]}\n', 'invalid_argument', /row 1, component 1: expected a finite number, got 1e\+39/],
  ];
  for (const [text, code, message] of cases) {
    writeFileSync(p, text);
    await fails(p, code, message);
  }
  writeFileSync(p, Buffer.concat([Buffer.from(ok), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])]));
  await fails(p, 'corrupt_file', /x\.jsonl:2: expected UTF-8 text, got invalid UTF-8 bytes/);
});

test('CSV: malformed files are corrupt_file naming the file and line', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.csv');
  const cases: [string, ErrorCode, RegExp][] = [
    ['', 'corrupt_file', /x\.csv:1: expected a header row, got an empty file/],
    ['id,name\na,b\n', 'corrupt_file', /x\.csv:1: expected a "vector" or "embedding" column, or numbered columns.*got the columns "id,name"/],
    ['id,v0,v2\na,1,2\n', 'corrupt_file', /x\.csv:1: expected vector columns numbered from 0 or 1 without gaps.*"v2" where number 1 belongs/],
    ['v0,dim_1\n1,2\n', 'corrupt_file', /x\.csv:1: expected numbered vector columns of one naming/],
    ['id,id,vector\n', 'corrupt_file', /x\.csv:1: expected distinct column names, got "id" twice/],
    ['id,vector\na,"1 2"\nb,"1 2",extra\n', 'corrupt_file', /x\.csv:3: expected 2 cells \(as the header\), got 3/],
    ['id,vector\na,"1 2\nb,"3 4"\n', 'corrupt_file', /x\.csv:3: expected a comma or the end of the line after a closing quote, got "3 4\\""/],
    ['id,vector\na,"1 2\n', 'corrupt_file', /x\.csv:2: expected a closing quote for the cell that opens here, got the end of the file/],
    ['id,vector\na,"1 x"\n', 'corrupt_file', /x\.csv:2: expected a number for component 1, got "x"/],
    ['id,vector\n,"1 2"\n', 'corrupt_file', /x\.csv:2: expected a non-empty id, got an empty cell/],
    ['id,vector\na,\n', 'corrupt_file', /x\.csv:2: expected a vector in the column "vector", got an empty cell/],
    ['id,0,1\na,1,\n', 'corrupt_file', /x\.csv:2: expected a number for component 1, got ""/],
    ['id,vector\na,"1 2"\n\nb,"1 2 3"\n', 'dimension_mismatch', /x\.csv:4: expected 2 components \(as the first vector, line 2\), got 3/],
    ['id,0,1\na,1,nan\n', 'invalid_argument', /x\.csv:2: row 0, component 1: expected a finite number, got nan/],
    ['id,vector\na,"1 2"\nb,"-inf 2"\n', 'invalid_argument', /x\.csv:3: row 1, component 0: expected a finite number, got -inf/],
  ];
  for (const [text, code, message] of cases) {
    writeFileSync(p, text);
    await fails(p, code, message);
  }
});

function npy(dict: string, data: Buffer, version = 1): Buffer {
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const h = Buffer.alloc(total, 0x20);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = version;
  h[7] = 0;
  if (version === 1) h.writeUInt16LE(total - pre, 8);
  else h.writeUInt32LE(total - pre, 8);
  h.write(dict, pre, 'latin1');
  h[total - 1] = 0x0a;
  return Buffer.concat([h, data]);
}

test('npy: bad magic, versions, dtypes, shapes, Fortran order, truncation and NaN', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.npy');
  const d = (descr: string, shape: string, fortran = 'False'): string => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const cases: [Buffer, ErrorCode, RegExp][] = [
    [Buffer.from('not numpy at all'), 'corrupt_file', /x\.npy: row 0 \(byte 0\): expected the NumPy magic \\x93NUMPY, got the bytes 6e6f/],
    [Buffer.from('PK\x03\x04zipzipzip'), 'corrupt_file', /got a zip archive \(an \.npz\?/],
    [npy(d('<f4', '(1, 2)'), f32([1, 2]), 4), 'unsupported_version', /x\.npy: expected \.npy format version 1\.0, 2\.0 or 3\.0, got 4\.0/],
    [npy(d('<f4', '(1, 2)', 'True'), f32([1, 2])), 'invalid_argument', /expected a C-order array, got fortran_order True/],
    [npy(d('<c8', '(1, 2)'), Buffer.alloc(16)), 'invalid_argument', /expected a dtype of float16\/32\/64.*got "<c8"/],
    [npy(d('<U5', '(1, 2)'), Buffer.alloc(40)), 'invalid_argument', /got "<U5"/],
    [npy(d('<f4', '(6,)'), f32([1, 2, 3, 4, 5, 6])), 'corrupt_file', /expected a 2-D shape \(count, dim\), got \(6,\)/],
    [npy(d('<f4', '(1, 2, 3)'), f32([1, 2, 3, 4, 5, 6])), 'corrupt_file', /expected a 2-D shape \(count, dim\), got \(1, 2, 3\)/],
    [npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f32([1])), 'corrupt_file', /expected a plain numeric dtype, got a structured dtype/],
    [npy(d('<f4', '(3, 2)'), f32([1, 2, 3, 4, 5])), 'corrupt_file', /x\.npy: row 0 \(byte 0\): expected 152 bytes \(a 128-byte header \+ 3 × 2 × 4\), got 148 \(truncated\)/],
    [npy(d('<f4', '(2, 2)'), f32([1, 2, 3, 4, 5])), 'corrupt_file', /got 148 \(trailing data, or a wrong shape\)/],
    [npy(d('<f4', '(2, 2)'), f32([1, 2, 3, NaN])), 'invalid_argument', /x\.npy: row 1 \(byte 136\), component 1: expected a finite number, got NaN/],
    [npy(d('<f8', '(1, 2)'), Buffer.from(Float64Array.of(1, 1e300).buffer)), 'invalid_argument', /row 0 \(byte 128\), component 1: expected a finite number, got Infinity/],
    [npy(d('<f4', '(1, 2)'), f32([1, 2])).subarray(0, 40), 'corrupt_file', /expected a header of 118 bytes, got 30 \(truncated\)/],
  ];
  for (const [bytes, code, message] of cases) {
    writeFileSync(p, bytes);
    await fails(p, code, message);
  }
});

test('fvecs / ivecs: bad dimension fields, mismatched rows, truncation and NaN', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.fvecs');
  const row = (d: number, xs: number[]): Buffer => Buffer.concat([Buffer.from(Int32Array.of(d).buffer), f32(xs)]);
  const cases: [Buffer, ErrorCode, RegExp][] = [
    [Buffer.from('abc'), 'corrupt_file', /x\.fvecs: row 0 \(byte 0\): expected a 4-byte \.fvecs row dimension, got 3 bytes/],
    [Buffer.concat([row(0, []), row(1, [1])]), 'corrupt_file', /row 0 \(byte 0\): expected a dimension from 1 to 65536 \(is this a little-endian \.fvecs file\?\), got 0/],
    [Buffer.concat([row(2, [1, 2]), row(3, [1, 2, 3])]), 'dimension_mismatch', /x\.fvecs: row 1 \(byte 12\): expected 2 components \(as row 0\), got 3/],
    [Buffer.concat([row(2, [1, 2]), row(2, [1])]), 'corrupt_file', /row 1 \(byte 12\): expected 8 bytes of values, got 4 before the end of the file \(truncated\)/],
    [Buffer.concat([row(2, [1, 2]), Buffer.from([2, 0])]), 'corrupt_file', /row 1 \(byte 12\): expected a 4-byte row dimension, got 2 bytes/],
    [Buffer.concat([row(2, [1, 2]), row(2, [Infinity, 1])]), 'invalid_argument', /row 1 \(byte 12\), component 0: expected a finite number, got Infinity/],
  ];
  for (const [bytes, code, message] of cases) {
    writeFileSync(p, bytes);
    await fails(p, code, message);
    await assert.rejects(readFvecs(p), { code });
  }
  writeFileSync(p, '');
  await assert.rejects(readFvecs(p), { code: 'corrupt_file', message: /expected at least one vector, got an empty file/ });
  const iv = join(dir, 'x.ivecs');
  writeFileSync(iv, Buffer.concat([row(2, [1, 2]), row(2, [1])]));
  await assert.rejects(readIvecs(iv), { code: 'corrupt_file', message: /truncated/ });
});

test('word2vec text: bad headers, short and long files, wrong lengths, garbage and NaN', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.vec');
  const cases: [string, ErrorCode, RegExp][] = [
    ['', 'corrupt_file', /x\.vec:1: expected a "count dim" header line, got an empty file/],
    ['2 0\na\n', 'corrupt_file', /x\.vec:1: expected a dimension from 1 to 65536 in the header, got 0/],
    ['3 2\na 1 2\nb 3 4\n', 'corrupt_file', /x\.vec:3: expected 3 vectors \(as the header states\), got 2 before the end of the file \(truncated\)/],
    ['1 2\na 1 2\nb 3 4\n', 'corrupt_file', /x\.vec:3: expected the end of the file after 1 vectors \(as the header states\), got another line/],
    ['2 2\na 1 2\nb 3 4 5\n', 'dimension_mismatch', /x\.vec:3: expected 2 components \(as the header states\), got 3/],
    ['2 2\na 1 2\nb\n', 'corrupt_file', /x\.vec:3: expected a word followed by its vector, got "b"/],
    ['2 2\na 1 2\n 3 4\n', 'corrupt_file', /x\.vec:3: expected a word at the start of the line, got a space/],
    ['2 2\na 1 2\nb 3 0x4\n', 'corrupt_file', /x\.vec:3: expected a number for component 1, got "0x4"/],
    ['2 2\na 1 2\nb 3 NaN\n', 'invalid_argument', /x\.vec:3: row 1, component 1: expected a finite number, got NaN/],
    ['the 1 2\nof 1 2 3\n', 'dimension_mismatch', /x\.vec:2: expected 2 components \(as the first vector, line 1\), got 3/],
  ];
  for (const [text, code, message] of cases) {
    writeFileSync(p, text);
    await fails(p, code, message);
  }
});

test('word2vec binary: bad header, truncated words and vectors, trailing data and NaN', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.bin');
  const b = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));
  const cases: [Buffer, ErrorCode, RegExp][] = [
    [b('two 2\n'), 'corrupt_file', /x\.bin:1: expected a "count dim" header line, got "two 2"/],
    [b('2 2\n', 'a ', f32([1, 2]), '\n'), 'corrupt_file', /x\.bin: row 1 \(byte 15\): expected 2 vectors \(as the header states\), got 1 before the end of the file \(truncated\)/],
    [b('2 2\n', 'a ', f32([1, 2]), '\nbb'), 'corrupt_file', /row 1 \(byte 15\): expected a word ended by a space, got the end of the file/],
    [b('2 2\n', 'a ', f32([1, 2]), '\nbb ', f32([1])), 'corrupt_file', /row 1 \(byte 15\): expected 8 bytes of vector after the word "bb", got 4 \(truncated\)/],
    [b('1 2\n', 'a ', f32([1, 2]), '\nextra'), 'corrupt_file', /row 1 \(byte 15\): expected the end of the file after 1 vectors \(as the header states\), got more bytes/],
    [b('1 2\n', ' ', f32([1, 2])), 'corrupt_file', /row 0 \(byte 4\): expected a word before the space, got an empty word/],
    [b('1 2\n', Buffer.from([0xc3, 0x28, 0x20]), f32([1, 2])), 'corrupt_file', /row 0 \(byte 4\): expected UTF-8 text, got invalid UTF-8 bytes/],
    [b('1 2\n', 'a ', f32([1, NaN])), 'invalid_argument', /x\.bin: row 0 \(byte 4\), component 1: expected a finite number, got NaN/],
  ];
  for (const [bytes, code, message] of cases) {
    writeFileSync(p, bytes);
    await fails(p, code, message);
  }
  writeFileSync(p, b('1 2\n', 'a'.repeat(70000), ' '));
  await fails(p, 'corrupt_file', /x\.bin: byte 4: expected a space after the word within 65536 bytes, got none/);
  await assert.rejects(writeJsonl(join(dir, 'no-such-dir', 'x.jsonl'), []), { code: 'not_found', message: /the directory .*no-such-dir does not exist/ });
});

test('projector TSV: ragged vectors, metadata rows that do not match, and NaN', async (t) => {
  const dir = tmp(t);
  const v = join(dir, 'vectors.tsv');
  const m = join(dir, 'metadata.tsv');
  writeFileSync(v, '1\t2\n3\t4\t5\n');
  await fails(v, 'dimension_mismatch', /vectors\.tsv:2: expected 2 components \(as the first vector, line 1\), got 3/);
  writeFileSync(v, '1\t2\n3\tx\n');
  await fails(v, 'corrupt_file', /vectors\.tsv:2: expected a number for component 1, got "x"/);
  writeFileSync(v, '1\t2\n3\tinf\n');
  await fails(v, 'invalid_argument', /vectors\.tsv:2: row 1, component 1: expected a finite number, got inf/);
  writeFileSync(v, '1\t2\n3\t4\n5\t6\n');
  writeFileSync(m, 'id\tname\na\tx\nb\ty\n');
  await fails(v, 'corrupt_file', /metadata\.tsv:4: expected a row for vector 2 \(.*vectors\.tsv:3\), got the end of the file/, { metadataPath: m });
  writeFileSync(m, 'a\nb\nc\nd\n');
  await fails(v, 'corrupt_file', /metadata\.tsv:4: expected 3 rows \(one per vector of .*vectors\.tsv\), got more rows/, { metadataPath: m });
  writeFileSync(m, 'a\nb\nc\n\n\n');
  const { records } = await openRecords(v, { metadataPath: m });
  let n = 0;
  for await (const _ of records) n++;
  assert.equal(n, 3, 'trailing blank lines of metadata.tsv are ignored');
  writeFileSync(m, 'id\tname\na\tx\nb\n');
  await fails(v, 'corrupt_file', /metadata\.tsv:3: expected 2 tab-separated cells \(as the header\), got 1/, { metadataPath: m });
  writeFileSync(m, 'id\tname\na\tx\n\ty\n');
  await fails(v, 'corrupt_file', /metadata\.tsv:3: expected a non-empty id, got an empty cell/, { metadataPath: m });
});

test('options and formats are checked', async (t) => {
  const dir = tmp(t);
  const p = join(dir, 'x.jsonl');
  writeFileSync(p, '{"id":"a","vector":[1]}\n');
  await fails(p, 'invalid_argument', /limit: expected a non-negative integer, got -1/, { limit: -1 });
  await fails(p, 'invalid_argument', /format: expected one of jsonl, csv/, { format: 'parquet' as never });
  await fails(p, 'invalid_argument', /metadataPath: only the projector format/, { metadataPath: p });
  await fails(p, 'invalid_argument', /blockSize/, { blockSize: 1 });
});

test('writers refuse bad input and leave no file behind', async (t) => {
  const dir = tmp(t);
  const recs = [{ id: 'a', vector: Float32Array.of(1, 2) }, { id: 'b', vector: Float32Array.of(3, 4) }];
  const w = join(dir, 'w.vec');
  await assert.rejects(writeWord2vec(w, recs, { binary: false, count: 3, dim: 2 }), { code: 'invalid_argument', message: /expected 3 records \(count\), got 2/ });
  await assert.rejects(writeWord2vec(w, recs, { binary: true, count: 1, dim: 2 }), { code: 'invalid_argument', message: /expected 1 records \(count\), got more/ });
  await assert.rejects(writeWord2vec(w, recs, { binary: true, count: 2, dim: 3 }), { code: 'dimension_mismatch', message: /record 0 \(id "a"\): expected 3 components, got 2/ });
  await assert.rejects(writeWord2vec(w, [{ id: 'two words', vector: Float32Array.of(1, 2) }], { binary: false, count: 1, dim: 2 }),
    { code: 'invalid_argument', message: /without spaces or line breaks.*"two words"/ });
  await assert.rejects(writeWord2vec(w, recs, { binary: false, count: 2, dim: 0 }), { code: 'invalid_argument' });
  const j = join(dir, 'x.jsonl');
  await assert.rejects(writeJsonl(j, [...recs, { id: 'c', vector: Float32Array.of(1) }]), { code: 'dimension_mismatch' });
  await assert.rejects(writeJsonl(j, [{ id: 'c', vector: Float32Array.of(1, NaN) }]), { code: 'invalid_argument', message: /record 0 \(id "c"\), component 1: expected a finite number, got NaN/ });
  await assert.rejects(writeJsonl(j, [{ id: 'c', vector: [1, 2] } as never]), { code: 'invalid_argument', message: /record 0: expected \{ id: string, vector: Float32Array/ });
  await assert.rejects(writeNpy(join(dir, 'x.npy'), [...recs, { id: 'c', vector: Float32Array.of(1) }]), { code: 'dimension_mismatch' });
  await assert.rejects(writeCsv(join(dir, 'x.csv'), recs, { fields: ['id'] }), { code: 'invalid_argument', message: /field names other than/ });
  await assert.rejects(writeProjector(join(dir, 'v.tsv'), join(dir, 'm.tsv'), [...recs, { id: 'c', vector: Float32Array.of(1) }]), { code: 'dimension_mismatch' });
  await assert.rejects(writeIvecs(join(dir, 'x.ivecs'), Int32Array.of(1, 2, 3), 2), { code: 'dimension_mismatch' });
  await assert.rejects(writeIvecs(join(dir, 'x.ivecs'), Uint32Array.of(1, 2 ** 31), 2), { code: 'invalid_argument', message: /fits in an int32/ });
  await assert.rejects(writeFvecs(join(dir, 'x.fvecs'), { data: Float32Array.of(1, NaN), dim: 2, count: 1 }), { code: 'invalid_argument' });
  assert.deepStrictEqual(readdirSync(dir), [], 'no file and no temporary file is left');
  assert.equal(existsSync(w), false);
});
