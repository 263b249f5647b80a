import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIndex } from './registry.js';

test('createIndex: one member of IndexSpec per kind, each built by its own class; an unknown kind is refused naming the kinds', () => {
  assert.equal(createIndex({ kind: 'flat', dim: 4 }).kind, 'flat');
  assert.equal(createIndex({ kind: 'ivf', dim: 4, nList: 2 }).kind, 'ivf');
  assert.equal(createIndex({ kind: 'hnsw', dim: 4, m: 8, efConstruction: 40, efSearch: 10 }).kind, 'hnsw');
  for (const bad of [{ kind: 'pq', dim: 4 }, { dim: 4 }, null]) {
    assert.throws(() => createIndex(bad as never), (e: Error & { code?: string }) =>
      e.code === 'invalid_argument' && /^index kind: expected one of "flat", "ivf", "hnsw", got /.test(e.message));
  }
});
