import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { VECTOR_HEADER, VectorFile, rowCrc, vectorFilePath } from './vector-file.js';
import { throwsCode, withTempDir } from '../../../../test/helpers/assertions.js';

test('vector file: rows written at their slots read back exactly; short reads say how many rows were there', async () => {
  await withTempDir('omnivec-vecfile-', async (dir) => {
    const path = vectorFilePath(dir, 3);
    assert.equal(vectorFilePath(dir, 3, 2), join(dir, 'vectors', 'c3.2.vec'));
    const f = VectorFile.open(path, 4, 3, { readOnly: false, create: true });
    assert.equal(f.rows, 0);
    assert.equal(f.bytes, VECTOR_HEADER);
    f.writeRows(0, new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8).buffer));
    f.writeRows(5, new Uint8Array(Float32Array.of(-1, -2, -3, -4).buffer)); // slots 2..4 are a hole (zeros)
    f.sync();
    assert.equal(f.rows, 6);
    const dst = new Float32Array(4 * 7);
    assert.equal(f.readRows(0, 7, dst), 6);
    assert.deepEqual(Array.from(dst.subarray(0, 8)), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(Array.from(dst.subarray(20, 24)), [-1, -2, -3, -4]);
    const one = new Float32Array(4);
    assert.equal(f.readRow(1, one), true);
    assert.equal(rowCrc(new Uint8Array(one.buffer)), rowCrc(new Uint8Array(Float32Array.of(5, 6, 7, 8).buffer)));
    assert.equal(f.readRow(6, one), false);
    f.close();
    // A read-only handle of a file that does not exist yet is empty, and opens it once it appears.
    const later = VectorFile.open(vectorFilePath(dir, 4), 4, 4, { readOnly: true, create: false });
    assert.equal(later.present, false);
    assert.equal(later.readRow(0, one), false);
    VectorFile.open(vectorFilePath(dir, 4), 4, 4, { readOnly: false, create: true }).close();
    assert.equal(later.present, true);
    later.close();
  });
});

test('vector file: a damaged or foreign header is reported, never fatal (rows stay readable; a writer rewrites it); a newer version is refused', async () => {
  await withTempDir('omnivec-vecfile-bad-', async (dir) => {
    const path = vectorFilePath(dir, 1);
    const f = VectorFile.open(path, 2, 1, { readOnly: false, create: true });
    f.writeRows(0, new Uint8Array(Float32Array.of(7, 8).buffer));
    f.close();
    const good = readFileSync(path);
    const problem = (dim: number, cid: number): string | undefined => {
      const g = VectorFile.open(path, dim, cid, { readOnly: true, create: false });
      try { return g.headerProblem; } finally { g.close(); }
    };
    assert.equal(problem(2, 1), undefined);
    assert.match(problem(16, 1)!, /holds 2-d vectors, the collection is 16-d/);
    assert.match(problem(2, 2)!, /belongs to collection number 1, expected 2/);
    const magic = Buffer.from(good); magic.write('NOTAVECS', 0, 'latin1');
    writeFileSync(path, magic);
    assert.match(problem(2, 1)!, /expected the magic "OMNIVVEC", got "NOTAVECS"/);
    const flipped = Buffer.from(good); flipped[13] = flipped[13]! ^ 1;
    writeFileSync(path, flipped);
    const ro = VectorFile.open(path, 2, 1, { readOnly: true, create: false });
    assert.match(ro.headerProblem!, /header checksum/);
    const row = new Float32Array(2);
    assert.equal(ro.readRow(0, row), true, 'the rows are still there');
    assert.deepEqual(Array.from(row), [7, 8]);
    ro.close();
    // A writer rewrites the header (it is derived from the collection) and says so.
    const w = VectorFile.open(path, 2, 1, { readOnly: false, create: false });
    assert.match(w.headerProblem!, /header checksum.*\(rewritten\)/);
    w.close();
    assert.equal(problem(2, 1), undefined);
    assert.deepEqual(readFileSync(path), good);
    writeFileSync(path, good.subarray(0, 10));
    assert.match(problem(2, 1)!, /expected a 64-byte header, got 10 bytes/);
    const newer = Buffer.from(good); newer.writeUInt32LE(2, 8); newer.writeUInt32LE(crc32(newer.subarray(0, 60)) >>> 0, 60);
    writeFileSync(path, newer);
    throwsCode(() => VectorFile.open(path, 2, 1, { readOnly: true, create: false }), 'unsupported_version', /format version 2; this omnivec reads version 1/);
  });
});
