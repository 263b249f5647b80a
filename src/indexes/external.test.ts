import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusteredData, concat, expectError, oracle } from './conformance.js';
import { createIndex, deserializeIndex, loadIndex, saveIndex, serializeIndex, verifyIndexFile, type IndexSpec } from './registry.js';
import { OmnivecError } from '../errors.js';
import { vectorsFromArray } from './external.js';
import { SegmentedIndex } from './segmented.js';
import { decodeFile, HEADER_BYTES } from '../storage/header.js';
import { Random } from '../vector/random.js';
import type { VectorBatch } from '../vector/batch.js';
import type { ExternalVectors, VectorIndex } from './types.js';
import type { Metric } from '../vector/metric.js';

/**
 * Index files without their float vectors (`vectors: false`, file version 3): every kind × metric ×
 * quantisation is built, saved without vectors, loaded with the vectors from an `ExternalVectors`
 * source, and must answer exactly as the index it was saved from (same ids, same distances, same
 * stored vectors and stats) — the saved index is the oracle, itself checked against brute force.
 */

const DIM = 32;
const data = clusteredData(17, 2000, 30, DIM);
/** Sparse ids, so the fill addresses rows by id and not by position. */
const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i * 3 + 5);
const removed = Array.from(ids.filter((_, i) => i % 13 === 0));

/**
 * The vector file the database would hold: row `id` = the vector added under `id`, followed by
 * `extra` more floats (a Matryoshka collection indexes a prefix). Rows of ids never added, and of
 * the removed ones, hold NaN: an index that read them would answer differently (or not at all).
 */
function sourceFor(extra = 0, base: VectorBatch = data.base): { source: ExternalVectors; rows: Float32Array } {
  const sdim = DIM + extra;
  const end = ids[ids.length - 1]! + 1;
  const rows = new Float32Array(end * sdim).fill(Number.NaN);
  const rnd = new Random(3);
  ids.forEach((id, i) => {
    rows.set(base.data.subarray(i * DIM, (i + 1) * DIM), id * sdim);
    for (let j = DIM; j < sdim; j++) rows[id * sdim + j] = rnd.next() * 2 - 1;
  });
  for (const id of removed) rows.fill(Number.NaN, id * sdim, (id + 1) * sdim);
  return { source: vectorsFromArray(rows, sdim, end), rows };
}

interface Case { name: string; spec: IndexSpec }

function cases(metric: Metric): Case[] {
  const out: Case[] = [];
  for (const q of ['none', 'int8', 'binary'] as const) {
    out.push({ name: `flat ${q}`, spec: { kind: 'flat', dim: DIM, metric, quantization: q } });
    out.push({ name: `hnsw ${q}`, spec: { kind: 'hnsw', dim: DIM, metric, m: 8, efConstruction: 60, quantization: q } });
    out.push({ name: `ivf ${q}`, spec: { kind: 'ivf', dim: DIM, metric, nList: 12, nProbe: 4, seed: 1, iterations: 5, quantization: q } });
  }
  out.push({ name: 'ivf pq', spec: { kind: 'ivf', dim: DIM, metric, nList: 12, nProbe: 4, seed: 1, iterations: 5, quantization: 'pq', pqM: 8 } });
  return out;
}

function build(spec: IndexSpec, segmentBytes?: number): VectorIndex {
  const index = createIndex({ ...spec, ...(segmentBytes !== undefined ? { segmentBytes } : {}), threads: 1, onWarning: () => {} } as IndexSpec);
  index.train(data.base);
  for (let i = 0; i < ids.length; i += 500) {
    const to = Math.min(ids.length, i + 500);
    index.add(ids.subarray(i, to), { data: data.base.data.subarray(i * DIM, to * DIM), dim: DIM, count: to - i });
  }
  index.remove(removed);
  return index;
}

/**
 * Same answers, same stored vectors and (`stats`: when `a` was itself loaded, so its memory grew
 * the same way) the same stats.
 */
function assertSame(a: VectorIndex, b: VectorIndex, label: string, stats = true): void {
  assert.equal(b.size, a.size, `${label}: size`);
  if (stats) assert.deepEqual(b.stats(), a.stats(), `${label}: stats`);
  assert.deepEqual([...b.ids()].sort((x, y) => x - y), [...a.ids()].sort((x, y) => x - y), `${label}: ids`);
  for (const id of a.ids()) assert.deepEqual(b.getVector(id), a.getVector(id), `${label}: vector of id ${id}`);
  for (const id of removed) assert.equal(b.has(id), a.has(id), `${label}: removed id ${id}`);
  for (let q = 0; q < data.queries.count; q++) {
    const query = data.queries.data.subarray(q * DIM, (q + 1) * DIM);
    const ra = a.search(query, 10);
    const rb = b.search(query, 10);
    assert.deepEqual(rb.ids, ra.ids, `${label}: query ${q} ids`);
    assert.deepEqual(rb.distances, ra.distances, `${label}: query ${q} distances`);
  }
  const ba = a.searchBatch(data.queries, 10, { threads: 2 });
  const bb = b.searchBatch(data.queries, 10, { threads: 2 });
  assert.deepEqual(bb.ids, ba.ids, `${label}: batch ids`);
  assert.deepEqual(bb.distances, ba.distances, `${label}: batch distances`);
}

for (const metric of ['l2', 'cosine', 'ip'] as const) {
  for (const { name, spec } of cases(metric)) {
    test(`${name} ${metric}: saved without vectors, filled from outside, answers as the original`, () => {
      const index = build(spec);
      // The original against brute force (flat float: exactly; the rest: the oracle's top hit is found).
      if (spec.kind === 'flat' && name.endsWith('none')) {
        const live = ids.filter((id) => !removed.includes(id));
        const liveRows = { data: new Float32Array(live.length * DIM), dim: DIM, count: live.length };
        let j = 0;
        ids.forEach((id, i) => { if (!removed.includes(id)) liveRows.data.set(data.base.data.subarray(i * DIM, (i + 1) * DIM), DIM * j++); });
        const q0 = data.queries.data.subarray(0, DIM);
        const want = oracle(metric, liveRows, live, q0, 10);
        assert.deepEqual([...index.search(q0, 10).ids], [...want.ids]);
      }
      const full = concat(serializeIndex(index));
      const slim = concat(serializeIndex(index, { vectors: false }));
      const { header } = decodeFile(slim);
      assert.equal(header.version, 3);
      assert.equal(header.flags, 2);
      assert.equal(decodeFile(full).header.version, 1, 'with vectors: the file of before');
      const vectorBytes = index.size * DIM * 4;
      assert.ok(full.length - slim.length >= 0.9 * vectorBytes,
        `${name}: ${slim.length} bytes without vectors, ${full.length} with (vectors: ${vectorBytes})`);
      const loaded = deserializeIndex(slim, 'slim', { vectors: sourceFor().source });
      const ref = deserializeIndex(full, 'full');
      // Stats first (searching grows the re-scoring scratch), against the file with vectors.
      assertSame(ref, loaded, `${name} ${metric} (stats of the file with vectors)`);
      assertSame(index, loaded, `${name} ${metric}`, false);
      // The loaded index keeps working: removes, a second save.
      loaded.remove([ids[1]!]);
      ref.remove([ids[1]!]);
      assertSame(ref, deserializeIndex(concat(serializeIndex(loaded)), 'again'), `${name} ${metric} after a change`, false);
    });
  }
}

test('Matryoshka: a source wider than the index gives the index the first dim floats of each row', () => {
  for (const { name, spec } of cases('cosine').filter((c) => c.name === 'hnsw none' || c.name === 'flat int8' || c.name === 'ivf none')) {
    const index = build(spec);
    const loaded = deserializeIndex(concat(serializeIndex(index, { vectors: false })), 'slim', { vectors: sourceFor(40).source });
    assertSame(deserializeIndex(concat(serializeIndex(index)), 'full'), loaded, `${name} matryoshka`);
  }
});

test('HNSW with reclaimed (free) slots and new adds in them: saved without vectors, loaded the same', () => {
  const index = build({ kind: 'hnsw', dim: DIM, metric: 'l2', m: 8, efConstruction: 60 });
  index.compact();
  assert.equal(index.stats().freeSlots, removed.length);
  // Ten removed ids come back (into free slots), with new vectors.
  const back = removed.slice(0, 10);
  const fresh = new Float32Array(back.length * DIM).map((_, i) => Math.sin(i));
  index.add(back, { data: fresh, dim: DIM, count: back.length });
  const { rows } = sourceFor();
  back.forEach((id, i) => rows.set(fresh.subarray(i * DIM, (i + 1) * DIM), id * DIM));
  const source = vectorsFromArray(rows, DIM, ids[ids.length - 1]! + 1);
  const loaded = deserializeIndex(concat(serializeIndex(index, { vectors: false })), 'slim', { vectors: source });
  assertSame(deserializeIndex(concat(serializeIndex(index)), 'full'), loaded, 'hnsw compacted');
  assertSame(index, loaded, 'hnsw compacted, against the original', false);
  assert.equal(loaded.stats().freeSlots, removed.length - back.length);
});

test('segmented indexes: every segment is filled from the one source (file version 3 with flags 3)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-extvec-'));
  try {
    for (const spec of [cases('l2')[0]!.spec, cases('l2')[1]!.spec, cases('l2')[2]!.spec, cases('cosine')[4]!.spec]) {
      const index = build(spec, 64 * 1024) as SegmentedIndex;
      assert.ok(index.segmentCount >= 2, `${spec.kind}: ${index.segmentCount} segments`);
      const slim = concat(serializeIndex(index, { vectors: false }));
      assert.equal(decodeFile(slim).header.flags, 3);
      const { source } = sourceFor();
      const ref = deserializeIndex(concat(serializeIndex(index)), 'full', { segmentBytes: 64 * 1024 });
      assertSame(ref, deserializeIndex(slim, 'slim', { vectors: source, segmentBytes: 64 * 1024 }), `${spec.kind} segmented`);
      // And from a file, through the streaming reader.
      const path = join(dir, `${spec.kind}.idx`);
      await saveIndex(index, path, { vectors: false, copy: false });
      const viaStream = await loadIndex(path, { vectors: source, streamAbove: 0, segmentBytes: 64 * 1024 });
      assertSame(deserializeIndex(concat(serializeIndex(index)), 'full', { segmentBytes: 64 * 1024 }), viaStream, `${spec.kind} segmented, streamed`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadIndex streams a vectors-less file; the file is much smaller; with vectors the file is as before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-extvec-'));
  try {
    const index = build({ kind: 'hnsw', dim: DIM, metric: 'l2', m: 8, efConstruction: 60 });
    await saveIndex(index, join(dir, 'full.idx'));
    await saveIndex(index, join(dir, 'slim.idx'), { vectors: false });
    const full = statSync(join(dir, 'full.idx')).size;
    const slim = statSync(join(dir, 'slim.idx')).size;
    assert.ok(slim < 0.5 * full, `slim ${slim} bytes, full ${full}`);
    const { source } = sourceFor();
    const ref = await loadIndex(join(dir, 'full.idx'));
    assertSame(ref, await loadIndex(join(dir, 'slim.idx'), { vectors: source, streamAbove: 0 }), 'streamed');
    assertSame(ref, await loadIndex(join(dir, 'slim.idx'), { vectors: source }), 'whole');
    // A file with its vectors ignores a source (even a useless one).
    assertSame(ref, await loadIndex(join(dir, 'full.idx'), { vectors: vectorsFromArray(new Float32Array(0), DIM, 0) }), 'full');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refusals: no source (invalid_argument), a narrow or short source (corrupt_file), a damaged file (corrupt_file)', () => {
  for (const { name, spec } of cases('l2')) {
    const slim = concat(serializeIndex(build(spec), { vectors: false }));
    expectError(() => deserializeIndex(slim, name), 'invalid_argument', /saved without its float vectors/);
    const { rows } = sourceFor();
    const end = ids[ids.length - 1]! + 1;
    expectError(() => deserializeIndex(slim, name, { vectors: vectorsFromArray(rows, DIM, end - 1) }), 'corrupt_file', /end at id/);
    expectError(() => deserializeIndex(slim, name, { vectors: vectorsFromArray(rows.subarray(0, (end - 1) * (DIM - 1)), DIM - 1, end) }), 'corrupt_file', /31 floats a row, the index needs 32/);
    expectError(() => deserializeIndex(slim, name, { vectors: { dim: 1.5, end, readRows: () => {} } }), 'invalid_argument', /vectors\.dim/);
    const bad = slim.slice();
    bad[HEADER_BYTES + 40] = bad[HEADER_BYTES + 40]! ^ 0xff;
    expectError(() => deserializeIndex(bad, name, { vectors: sourceFor().source }), 'corrupt_file');
  }
});

test('an empty index and an untrained IVF index save and load without vectors', () => {
  for (const spec of cases('l2')) {
    const empty = createIndex(spec.spec);
    const loaded = deserializeIndex(concat(serializeIndex(empty, { vectors: false })), 'empty', { vectors: vectorsFromArray(new Float32Array(0), DIM, 0) });
    assert.equal(loaded.size, 0);
    assert.equal(loaded.isTrained, empty.isTrained);
  }
});

test('HNSW without vectors: a damaged link list (with its checksums made to match) is corrupt_file', () => {
  const index = build({ kind: 'hnsw', dim: DIM, metric: 'l2', m: 8, efConstruction: 60 });
  const bytes = concat(serializeIndex(index, { vectors: false }));
  const slots = ids.length; // nothing reclaimed: every slot ever used
  const words = slots * (1 + 16);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The links section: its u32 element count, zero padding to 8, then slot 0's count word.
  let at = -1;
  for (let o = HEADER_BYTES; o + 4 <= bytes.length; o += 4) if (view.getUint32(o, true) === words) { at = o; break; }
  assert.ok(at > 0, 'the links section was found');
  const first = (at + 4 + 7) & ~7;
  const reseal = (b: Uint8Array): Uint8Array => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    v.setUint32(40, crc32(b.subarray(HEADER_BYTES)) >>> 0, true);
    v.setUint32(44, crc32(b.subarray(0, 44)) >>> 0, true);
    return b;
  };
  const tooMany = bytes.slice();
  new DataView(tooMany.buffer).setUint32(first, 999, true);
  expectError(() => deserializeIndex(reseal(tooMany), 'x', { vectors: sourceFor().source }), 'corrupt_file', /slot 0 has 999 level-0 links, at most 16/);
  const missing = bytes.slice();
  const mv = new DataView(missing.buffer);
  assert.ok(mv.getUint32(first, true) >= 1, 'slot 0 has a link');
  mv.setUint32(first + 4, slots + 5, true);
  expectError(() => deserializeIndex(reseal(missing), 'x', { vectors: sourceFor().source }), 'corrupt_file', new RegExp(`slot 0 links to missing slot ${slots + 5}`));
});

test('verifyChecksum: false skips the payload CRC at load; verifyIndexFile checks it afterwards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-extvec-'));
  try {
    const index = build({ kind: 'hnsw', dim: DIM, metric: 'l2', m: 8, efConstruction: 60 });
    const path = join(dir, 'slim.idx');
    await saveIndex(index, path, { vectors: false });
    await verifyIndexFile(path);
    // Damage the last byte of the file: a removed node's float vector (no structural check sees it).
    const bytes = new Uint8Array(readFileSync(path));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
    writeFileSync(path, bytes);
    const { source } = sourceFor();
    for (const streamAbove of [0, undefined]) {
      await assert.rejects(loadIndex(path, { vectors: source, streamAbove }), /payload checksum mismatch/);
      const loaded = await loadIndex(path, { vectors: source, streamAbove, verifyChecksum: false });
      assert.equal(loaded.size, index.size);
    }
    await assert.rejects(verifyIndexFile(path), (e: unknown) => e instanceof OmnivecError && e.code === 'corrupt_file' && /payload checksum mismatch/.test(e.message));
    await assert.rejects(verifyIndexFile(join(dir, 'none.idx')), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
