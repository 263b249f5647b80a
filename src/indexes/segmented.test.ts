import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusteredData, concat, expectError, oracle, runConformance } from './conformance.js';
import { createIndex, deserializeIndex, loadIndex, saveIndex, serializeIndex, type IndexSpec } from './registry.js';
import { SegmentedIndex } from './segmented.js';
import { FlatIndex } from './flat/flat-index.js';
import { IvfIndex } from './ivf/ivf-index.js';
import { HnswIndex } from './hnsw/hnsw-index.js';
import { IdSet } from './common.js';
import { decodeFile, HEADER_BYTES } from '../storage/header.js';
import type { VectorBatch } from '../vector/batch.js';
import type { VectorIndex } from './types.js';

/** A tiny segment (the conformance data, 3 000 × 24 float32 = 288 kB, spans several). */
const SEG = 64 * 1024;

runConformance('segmented flat', { create: (s) => createIndex({ kind: 'flat', ...s, segmentBytes: SEG }), exact: true });
runConformance('segmented ivf', {
  create: (s) => createIndex({ kind: 'ivf', ...s, nList: 16, seed: 1, segmentBytes: SEG }), exact: true, exactOptions: { nProbe: 16 },
});
runConformance('segmented hnsw', { create: (s) => createIndex({ kind: 'hnsw', ...s, segmentBytes: SEG }), exact: false, recallFloor: 0.95 });

const data = clusteredData(11, 3000, 40, 24);
const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i * 3 + 7);
const rows = (b: VectorBatch, from: number, to: number): VectorBatch => ({ data: b.data.subarray(from * b.dim, to * b.dim), dim: b.dim, count: to - from });

function built(spec: IndexSpec): SegmentedIndex {
  const index = createIndex(spec) as SegmentedIndex;
  index.train(data.base);
  // In several calls, as a database adds: the split happens inside a call and between calls.
  for (let i = 0; i < data.base.count; i += 700) {
    const to = Math.min(data.base.count, i + 700);
    index.add(ids.subarray(i, to), rows(data.base, i, to));
  }
  return index;
}

const SPECS: IndexSpec[] = [
  { kind: 'flat', dim: 24 },
  { kind: 'ivf', dim: 24, nList: 16, seed: 1 },
  { kind: 'hnsw', dim: 24, m: 8, efConstruction: 60 },
];

test('a tiny segmentBytes spans several segments; each stays within its budget; stats sum them', () => {
  for (const spec of SPECS) {
    const index = built({ ...spec, segmentBytes: SEG });
    assert.ok(index.segmentCount >= 3, `${spec.kind}: ${index.segmentCount} segments`);
    assert.equal(index.size, ids.length);
    const st = index.stats();
    assert.equal(st.segments, index.segmentCount);
    assert.equal(st.size, ids.length);
    assert.equal(st.vectorBytes, ids.length * 24 * 4);
    assert.ok(st.memoryBytes > index.segments.reduce((s, x) => s + x.stats().memoryBytes, 0), 'the segments and the id table');
    for (const s of index.segments) assert.ok(s.stats().vectorBytes <= SEG, `${spec.kind}: a segment holds ${s.stats().vectorBytes} bytes of vectors`);
    assert.deepEqual([...index.ids()].sort((a, b) => a - b), [...ids].sort((a, b) => a - b));
  }
});

test('one segment passes straight through: the same results, bit for bit, and the same file as the bare index', () => {
  const bare: Record<string, () => VectorIndex> = {
    flat: () => new FlatIndex({ dim: 24 }),
    ivf: () => new IvfIndex({ dim: 24, nList: 16, seed: 1 }),
    hnsw: () => new HnswIndex({ dim: 24, m: 8, efConstruction: 60 }),
  };
  const allow = new IdSet(ids.filter((_, i) => i % 7 === 0));
  for (const spec of SPECS) {
    const a = bare[spec.kind]!();
    a.train(data.base);
    for (let i = 0; i < data.base.count; i += 700) a.add(ids.subarray(i, i + 700), rows(data.base, i, Math.min(data.base.count, i + 700)));
    const b = built(spec);
    assert.equal(b.segmentCount, 1);
    for (const options of [{}, { allow }, { filter: (id: number) => id % 2 === 0 }, { nProbe: 3, efSearch: 20 }]) {
      assert.deepEqual(b.searchBatch(data.queries, 10, options), a.searchBatch(data.queries, 10, options));
      assert.deepEqual(b.search(data.queries.data.subarray(0, 24), 10, options), a.search(data.queries.data.subarray(0, 24), 10, options));
    }
    assert.deepEqual(b.stats(), a.stats());
    const file = concat(serializeIndex(b));
    assert.ok(Buffer.from(file).equals(Buffer.from(concat(serializeIndex(a)))), `${spec.kind}: same bytes`);
    assert.equal(decodeFile(file).header.version, 1, 'one segment writes a version-1 file');
  }
});

test('IVF segments share the centroids: a search probes the same lists as one IVF holding everything', () => {
  const one = new IvfIndex({ dim: 24, nList: 16, seed: 1 });
  one.train(data.base);
  one.add(ids, data.base);
  const seg = built({ kind: 'ivf', dim: 24, nList: 16, seed: 1, segmentBytes: SEG });
  assert.ok(seg.segmentCount >= 3);
  for (const s of seg.segments) assert.deepEqual(s.params, one.params);
  const a = one.searchBatch(data.queries, 10, { nProbe: 3 });
  const b = seg.searchBatch(data.queries, 10, { nProbe: 3 });
  assert.deepEqual(b.distances, a.distances);
  assert.deepEqual(b.counts, a.counts);
  for (let q = 0; q < data.queries.count; q++) {
    assert.deepEqual(new Set(b.ids.subarray(q * 10, q * 10 + 10)), new Set(a.ids.subarray(q * 10, q * 10 + 10)), `query ${q}`);
  }
});

test('a multi-segment index saves as a version-2 segment container and reopens (in memory and streamed) answering the same', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-seg-'));
  try {
    for (const spec of SPECS) {
      const index = built({ ...spec, segmentBytes: SEG });
      index.remove(ids.subarray(0, 50));
      const before = index.searchBatch(data.queries, 10);
      const bytes = concat(serializeIndex(index));
      const { header } = decodeFile(bytes);
      assert.equal(header.version, 2);
      assert.equal(header.flags, 1);
      assert.equal(header.count, index.size);
      const path = join(dir, `${spec.kind}.idx`);
      await saveIndex(index, path, { copy: false });
      assert.ok(readFileSync(path).equals(Buffer.from(bytes)), 'copy: false writes the same bytes');
      for (const loaded of [deserializeIndex(bytes), await loadIndex(path, { streamAbove: 0 })]) {
        assert.ok(loaded instanceof SegmentedIndex);
        assert.equal(loaded.segmentCount, index.segmentCount);
        assert.equal(loaded.kind, spec.kind);
        assert.equal(loaded.size, index.size);
        assert.deepEqual(loaded.params, index.params);
        assert.deepEqual(loaded.searchBatch(data.queries, 10), before);
        assert.deepEqual(loaded.getVector(ids[2000]!), index.getVector(ids[2000]!));
        assert.equal(loaded.has(ids[10]!), false);
      }
      // The loaded index keeps growing (the default segment size: into its last segment).
      const loaded = await loadIndex(path, { streamAbove: 0, segmentBytes: SEG });
      loaded.add(ids.subarray(0, 50), rows(data.base, 0, 50));
      assert.equal(loaded.size, ids.length);
      // Damage anywhere in a segment is caught by the payload checksum, on both paths.
      const altered = bytes.slice();
      altered[bytes.length - 100]! ^= 0x10;
      expectError(() => deserializeIndex(altered), 'corrupt_file', /checksum/);
      writeFileSync(path, altered);
      // (streamed, a segment's own structure checks may see the damage before the checksum does)
      await assert.rejects(loadIndex(path, { streamAbove: 0 }), (e: Error & { code?: string }) => e.code === 'corrupt_file');
      expectError(() => deserializeIndex(bytes.subarray(0, bytes.length - 8)), 'corrupt_file', /truncated/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a version-1 file (one index) still opens, grows past one segment, and saves as version 2', () => {
  for (const name of ['flat', 'ivf', 'hnsw']) {
    const v1 = new Uint8Array(readFileSync(new URL(`../../test/fixtures/v1/${name}.idx`, import.meta.url)));
    assert.equal(decodeFile(v1).header.version, 1);
    const index = deserializeIndex(v1, name, { segmentBytes: 16 * 1024 }) as SegmentedIndex;
    const n0 = index.size;
    const dim = index.dim;
    const extra = clusteredData(3, 400, 1, dim);
    index.add(Uint32Array.from({ length: 400 }, (_, i) => 1_000_000 + i), extra.base);
    assert.ok(index.segmentCount >= 2, `${name}: ${index.segmentCount} segments`);
    assert.equal(index.size, n0 + 400);
    const bytes = concat(serializeIndex(index));
    assert.equal(decodeFile(bytes).header.version, 2);
    const back = deserializeIndex(bytes);
    assert.equal(back.size, n0 + 400);
    assert.deepEqual(back.getVector(1_000_005), index.getVector(1_000_005), `${name}: a vector of the new segment`);
    const q = extra.base.data.subarray(5 * dim, 6 * dim);
    assert.deepEqual(Array.from(back.search(q, 1, { allow: [1_000_005, 1, 2] }).ids), [1_000_005]);
  }
});

test('remove and compact across segments; an empty segment is dropped; ids can be re-added', () => {
  const index = built({ kind: 'flat', dim: 24, segmentBytes: SEG });
  const n = index.segmentCount;
  const first = index.segments[0]!.ids();
  assert.equal(index.remove([...first, 999_999_999]), first.length);
  assert.equal(index.size, ids.length - first.length);
  for (const id of first.subarray(0, 20)) {
    assert.equal(index.has(id), false);
    assert.equal(index.getVector(id), undefined);
  }
  index.compact();
  assert.equal(index.segmentCount, n - 1, 'the emptied segment is dropped');
  const gone = new Set(first);
  const pos = new Map<number, number>();
  ids.forEach((id, i) => pos.set(id, i));
  for (let q = 0; q < 10; q++) {
    const query = data.queries.data.subarray(q * 24, (q + 1) * 24);
    const want = oracle('l2', data.base, ids, query, 10, (id) => !gone.has(id));
    assert.deepEqual(Array.from(index.search(query, 10).ids), want.ids);
  }
  // Re-added ids go to the last segments; everything is found again.
  const vec = new Float32Array(first.length * 24);
  first.forEach((id, i) => vec.set(data.base.data.subarray(pos.get(id)! * 24, (pos.get(id)! + 1) * 24), i * 24));
  index.add(first, { data: vec, dim: 24, count: first.length });
  assert.equal(index.size, ids.length);
  const q0 = data.queries.data.subarray(0, 24);
  assert.deepEqual(Array.from(index.search(q0, 10).ids), oracle('l2', data.base, ids, q0, 10).ids);
  // Removing everything, then training again, starts over from one segment.
  index.remove(index.ids());
  assert.equal(index.size, 0);
  index.train(data.base);
  assert.equal(index.segmentCount, 1);
  expectError(() => index.search(q0, 10), 'empty_index');
});

test('an add spanning segments is refused whole: a bad row or a repeated id changes nothing', () => {
  const index = built({ kind: 'flat', dim: 24, segmentBytes: SEG });
  const segs = index.segmentCount;
  const size = index.size;
  const n = 3000;
  const vec = new Float32Array(n * 24).fill(0.25);
  vec[(n - 1) * 24 + 3] = NaN;
  const fresh = Uint32Array.from({ length: n }, (_, i) => 5_000_000 + i);
  expectError(() => index.add(fresh, { data: vec, dim: 24, count: n }), 'invalid_argument', /row 2999, component 3/);
  vec[(n - 1) * 24 + 3] = 0;
  const repeated = fresh.slice();
  repeated[n - 1] = ids[0]!;
  expectError(() => index.add(repeated, { data: vec, dim: 24, count: n }), 'already_exists');
  assert.equal(index.size, size);
  assert.equal(index.segmentCount, segs);
  assert.equal(index.has(fresh[0]!), false);
  const calls: [number, number][] = [];
  index.add(fresh, { data: vec, dim: 24, count: n }, { onProgress: (d, t) => calls.push([d, t]) });
  assert.ok(index.segmentCount > segs);
  assert.deepEqual(calls[calls.length - 1], [n, n]);
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] >= calls[i - 1]![0]);
});

test('allow-lists (arrays, Sets, IdSets) are split per segment; an allow-list outside the index matches nothing', () => {
  const index = built({ kind: 'hnsw', dim: 24, segmentBytes: SEG });
  assert.ok(index.segmentCount >= 3);
  const some = ids.filter((_, i) => i % 13 === 0);
  const allowSet = new Set(some);
  for (const allow of [some, allowSet, new IdSet(some)]) {
    const r = index.searchBatch(data.queries, 10, { allow });
    for (let q = 0; q < data.queries.count; q++) {
      const query = data.queries.data.subarray(q * 24, (q + 1) * 24);
      const want = oracle('l2', data.base, ids, query, 10, (id) => allowSet.has(id));
      assert.equal(r.counts[q], 10);
      for (let j = 0; j < 10; j++) assert.ok(allowSet.has(r.ids[q * 10 + j]!));
      const got = new Set(r.ids.subarray(q * 10, q * 10 + 10));
      assert.ok(want.ids.filter((id) => got.has(id)).length >= 9, `query ${q}`);
    }
  }
  // A cached IdSet's split follows the index: after a remove and an add the answers are fresh.
  const cachedSet = new IdSet(some);
  const q0 = data.queries.data.subarray(0, 24);
  const top = index.search(q0, 1, { allow: cachedSet }).ids[0]!;
  index.remove([top]);
  assert.notEqual(index.search(q0, 1, { allow: cachedSet }).ids[0], top);
  index.add([top], { data: q0.slice(), dim: 24, count: 1 });
  assert.equal(index.search(q0, 1, { allow: cachedSet }).ids[0], top, 'the re-added id (now the query itself) is found');
  assert.equal(index.search(data.queries.data.subarray(0, 24), 10, { allow: [1, 2] }).ids.length, 0);
  const none = index.searchBatch(data.queries, 10, { allow: [] });
  assert.deepEqual(Array.from(none.counts), new Array(data.queries.count).fill(0));
});

test('segmentBytes is checked', () => {
  expectError(() => createIndex({ kind: 'flat', dim: 4, segmentBytes: 0 }), 'invalid_argument', /segmentBytes/);
  expectError(() => createIndex({ kind: 'flat', dim: 4, segmentBytes: 2 ** 31 }), 'invalid_argument', /segmentBytes/);
  assert.equal((createIndex({ kind: 'flat', dim: 4 }) as SegmentedIndex).segmentBytes, 1.875 * 2 ** 30);
  assert.ok(HEADER_BYTES === 64);
});
