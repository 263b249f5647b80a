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

test('vector file: a header that is not ours is refused with a typed error naming what was expected', async () => {
  await withTempDir('omnivec-vecfile-bad-', async (dir) => {
    const path = vectorFilePath(dir, 1);
    VectorFile.open(path, 8, 1, { readOnly: false, create: true }).close();
    const good = readFileSync(path);
    throwsCode(() => VectorFile.open(path, 16, 1, { readOnly: true, create: false }), 'corrupt_file', /holds 8-d vectors, the collection is 16-d/);
    throwsCode(() => VectorFile.open(path, 8, 2, { readOnly: true, create: false }), 'corrupt_file', /belongs to collection number 1, expected 2/);
    const magic = Buffer.from(good); magic.write('NOTAVECS', 0, 'latin1');
    writeFileSync(path, magic);
    throwsCode(() => VectorFile.open(path, 8, 1, { readOnly: true, create: false }), 'corrupt_file', /expected the magic "OMNIVVEC", got "NOTAVECS"/);
    const flipped = Buffer.from(good); flipped[13] = flipped[13]! ^ 1;
    writeFileSync(path, flipped);
    throwsCode(() => VectorFile.open(path, 8, 1, { readOnly: true, create: false }), 'corrupt_file', /header checksum/);
    const newer = Buffer.from(good); newer.writeUInt32LE(2, 8); newer.writeUInt32LE(crc32(newer.subarray(0, 60)) >>> 0, 60);
    writeFileSync(path, newer);
    throwsCode(() => VectorFile.open(path, 8, 1, { readOnly: true, create: false }), 'unsupported_version', /format version 2; this omnivec reads version 1/);
    writeFileSync(path, good.subarray(0, 10));
    throwsCode(() => VectorFile.open(path, 8, 1, { readOnly: true, create: false }), 'corrupt_file', /expected a 64-byte header, got 10 bytes/);
  });
});
