import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deserializeIndex, serializeIndex } from '../registry.js';
import { clusteredData, concat, expectError } from '../conformance.js';
import { FlatIndex } from '../flat/flat-index.js';
import { HnswIndex } from '../hnsw/hnsw-index.js';

test('files written before quantisation existed (test/fixtures/v1) open as quantization "none"', () => {
  for (const name of ['flat', 'hnsw']) {
    const bytes = new Uint8Array(readFileSync(new URL(`../../../test/fixtures/v1/${name}.idx`, import.meta.url)));
    const index = deserializeIndex(bytes);
    assert.equal(index.params.quantization, undefined, `${name}: params as written`);
    assert.equal(index.stats().quantization, 'none');
    assert.equal(index.stats().rescoreBytes, 0);
    assert.deepEqual(Buffer.from(concat(serializeIndex(index))), Buffer.from(bytes), `${name}: re-written byte for byte`);
  }
});

test('a quantised file cut short or with a flipped byte is refused as corrupt_file', () => {
  const data = clusteredData(2, 300, 1, 48);
  const ids = Array.from({ length: 300 }, (_, i) => i);
  for (const index of [new FlatIndex({ dim: 48, quantization: 'int8' }), new HnswIndex({ dim: 48, quantization: 'binary', metric: 'cosine' })]) {
    index.add(ids, data.base);
    const bytes = concat(serializeIndex(index));
    expectError(() => deserializeIndex(bytes.subarray(0, bytes.length - 5)), 'corrupt_file');
    const bad = bytes.slice();
    bad[bad.length - 100]! ^= 1;
    expectError(() => deserializeIndex(bad), 'corrupt_file');
  }
});
