/**
 * Vectors stored once (docs/db.md): the vector file under damage (a flipped byte, a truncated or
 * missing file), slots never reused, upserts that move records, read-only handles following the
 * writer, snapshots without their vectors. Real files throughout; the exact oracle is a flat index
 * over what the test wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from './database.js';
import { Random } from '../vector/random.js';
import { FlatIndex } from '../indexes/flat/flat-index.js';
import { VECTOR_HEADER } from './store/sqlite/vector-file.js';
import { crc32 } from 'node:zlib';
import { withTempDir } from '../../test/helpers/assertions.js';

const DIM = 8;

function data(n: number, seed: number): Float32Array {
  const r = new Random(seed);
  return new Float32Array(n * DIM).map(() => r.gaussian());
}

function row(v: Float32Array, i: number): Float32Array {
  return v.subarray(i * DIM, (i + 1) * DIM);
}

/** Flips one byte of slot `slot`'s row in the vector file. */
function flipByte(file: string, slot: number, at = 5): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    const pos = VECTOR_HEADER + slot * DIM * 4 + at;
    readSync(fd, b, 0, 1, pos);
    b[0] = b[0]! ^ 0x40;
    writeSync(fd, b, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
}

for (const index of ['flat', 'hnsw'] as const) {
  test(`a flipped byte in a vector row (${index}): verify names the record, queries keep working without it, delete repairs`, async () => {
    await withTempDir('omnivec-vec-flip-', async (dir) => {
      const n = 300;
      const v = data(n, 1);
      let db = await openDatabase(dir);
      const c0 = await db.createCollection({ name: 't', dim: DIM, metric: 'l2', index });
      await c0.add({ ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors: v, documents: Array.from({ length: n }, (_, i) => `doc ${i % 7 === 0 ? 'seven' : 'other'}`) });
      await db.close();
      const file = join(dir, 'vectors', `c${c0.cid}.vec`);
      flipByte(file, 42);
      // Rebuild from the records (as a lost snapshot would), and also through the snapshot.
      for (const withSnapshot of [true, false]) {
        if (!withSnapshot) for (const f of readdirSync(join(dir, 'indexes'))) unlinkSync(join(dir, 'indexes', f));
        db = await openDatabase(dir);
        try {
          const c = await db.getCollection('t');
          const rep = await c.verify();
          assert.equal(rep.ok, false);
          assert.deepEqual(rep.invalid, ['r42']);
          assert.ok(rep.problems.some((p) => /record "r42" \(slot 42\): vector damaged: row 42 of .*c1\.vec does not match its checksum/.test(p)), rep.problems.join('\n'));
          const got = await c.get({ ids: ['r42'], include: ['vectors'] });
          assert.ok(Number.isNaN(got.vectors![0]![0]), 'the damaged row reads as NaN, never as wrong numbers');
          // Read with its neighbours (one read of the file for the run of slots 41–43, each row checked).
          const run = await c.get({ ids: ['r41', 'r42', 'r43'], include: ['vectors'] });
          assert.deepEqual(run.ids, ['r41', 'r42', 'r43']);
          assert.deepEqual(Array.from(run.vectors![0]!), Array.from(row(v, 41)));
          assert.ok(Number.isNaN(run.vectors![1]![0]), 'the damaged row reads as NaN in a run too');
          assert.deepEqual(Array.from(run.vectors![2]!), Array.from(row(v, 43)));
          const all = await c.get({ include: ['vectors'] });
          assert.ok(Number.isNaN(all.vectors![all.ids.indexOf('r42')]![0]));
          assert.deepEqual(Array.from(all.vectors![all.ids.indexOf('r7')]!), Array.from(row(v, 7)));
          // Queries answer from the other records (the exact oracle over them).
          const oracle = new FlatIndex({ dim: DIM, metric: 'l2' });
          for (let i = 0; i < n; i++) if (i !== 42) oracle.add(Uint32Array.of(i), { data: row(v, i), dim: DIM, count: 1 });
          const q = row(v, 43);
          const truth = Array.from(oracle.search(q, 5).ids, (i) => `r${i}`);
          if (!withSnapshot) assert.deepEqual((await c.query({ vector: q, k: 5, efSearch: 300 })).ids, truth);
          assert.deepEqual((await c.query({ fullText: 'seven', k: 100 })).ids.length, Math.ceil(n / 7));
          if (!withSnapshot) {
            assert.equal(c.indexStatus().size, n - 1, 'left out of the index');
            assert.equal(await c.delete({ ids: ['r42'] }), 1);
            assert.deepEqual((await c.verify()).problems, []);
          }
        } finally {
          await db.close();
        }
      }
    });
  });
}

test('a truncated vector file: verify names the file and the records past its end; compact({ dropInvalid }) drops them; a missing file is reported', async () => {
  await withTempDir('omnivec-vec-trunc-', async (dir) => {
    const n = 100;
    const v = data(n, 2);
    let db = await openDatabase(dir);
    const c0 = await db.createCollection({ name: 't', dim: DIM, metric: 'cosine', index: 'flat' });
    await c0.add({ ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors: v });
    await db.close();
    const file = join(dir, 'vectors', `c${c0.cid}.vec`);
    truncateSync(file, VECTOR_HEADER + 97 * DIM * 4 + 3); // rows 97, 98, 99 gone (97 only partly)
    for (const f of readdirSync(join(dir, 'indexes'))) unlinkSync(join(dir, 'indexes', f));
    db = await openDatabase(dir);
    try {
      const c = await db.getCollection('t');
      const rep = await c.verify();
      assert.deepEqual(rep.invalid, ['r97', 'r98', 'r99']);
      assert.ok(rep.problems.some((p) => /vector file .*c1\.vec is short: it holds 97 rows, the records reach slot 99/.test(p)), rep.problems.join('\n'));
      assert.ok(rep.problems.some((p) => /record "r98" \(slot 98\): vector missing/.test(p)));
      assert.deepEqual((await c.query({ vector: row(v, 3), k: 1 })).ids, ['r3']);
      const report = await c.compact({ dropInvalid: true });
      assert.deepEqual(report.dropped.sort(), ['r97', 'r98', 'r99']);
      assert.deepEqual(report.vectorRows, { before: 100, after: 97 }, 'the file was rewritten without the dropped rows');
      assert.deepEqual((await c.verify()).problems, []);
      // Writes continue at new slots past the damage.
      await c.add([{ id: 'new', vector: row(v, 99) }]);
      assert.deepEqual((await c.query({ vector: row(v, 99), k: 1 })).ids, ['new']);
      assert.deepEqual((await c.verify()).problems, []);
    } finally {
      await db.close();
    }
    assert.deepEqual(readdirSync(join(dir, 'vectors')), [`c${c0.cid}.1.vec`], 'compaction moved the collection to generation 1 and removed generation 0');
    unlinkSync(join(dir, 'vectors', `c${c0.cid}.1.vec`));
    db = await openDatabase(dir);
    try {
      const rep = await (await db.getCollection('t')).verify();
      assert.ok(rep.problems.some((p) => /vector file .*c1\.1\.vec is missing/.test(p)), rep.problems.join('\n'));
      assert.equal(rep.invalid.length, 98);
    } finally {
      await db.close();
    }
  });
});

test('slots are never reused; upsert and update with a vector move the record (get, query, full text, filters stay right); metadata-only updates keep the slot', async () => {
  await withTempDir('omnivec-vec-move-', async (dir) => {
    const v = data(40, 3);
    const db = await openDatabase(dir);
    try {
      const c = await db.createCollection({ name: 't', dim: DIM, metric: 'l2', index: 'hnsw' });
      await c.add(Array.from({ length: 30 }, (_, i) => ({ id: `r${i}`, vector: row(v, i), document: `word${i} common`, metadata: { i } })));
      const file = join(dir, 'vectors', `c${c.cid}.vec`);
      const rows = (): number => (statSync(file).size - VECTOR_HEADER) / (DIM * 4);
      assert.equal(rows(), 30);
      await c.delete({ ids: ['r29'] });
      await c.add([{ id: 'x', vector: row(v, 30) }]);
      assert.equal(rows(), 31, 'the deleted highest slot was not reused');
      await c.upsert([{ id: 'r5', vector: row(v, 31), document: 'moved words', metadata: { i: 500 } }]);
      await c.update([{ id: 'r6', vector: row(v, 32) }]);
      assert.equal(rows(), 33);
      await c.update([{ id: 'r7', metadata: { i: 700 }, document: 'kept here' }]);
      assert.equal(rows(), 33, 'a metadata / document update writes no vector');
      assert.deepEqual((await c.info()).vectorFile, { bytes: VECTOR_HEADER + 33 * DIM * 4, rows: 33, liveRows: 30 }, 'info() reports the holes');
      const got = await c.get({ ids: ['r5', 'r6', 'r7'], include: ['vectors', 'documents', 'metadatas'] });
      assert.deepEqual(got.vectors!.map((x) => Array.from(x)), [Array.from(row(v, 31)), Array.from(row(v, 32)), Array.from(row(v, 7))]);
      assert.deepEqual(got.documents, ['moved words', 'word6 common', 'kept here'], 'update with a vector keeps the other fields');
      assert.deepEqual(got.metadatas, [{ i: 500 }, { i: 6 }, { i: 700 }]);
      assert.deepEqual((await c.query({ vector: row(v, 5), k: 1 })).ids.includes('r5'), false, 'the old vector is gone from the index');
      assert.deepEqual((await c.query({ vector: row(v, 31), k: 1 })).ids, ['r5']);
      assert.deepEqual((await c.query({ vector: row(v, 32), k: 1 })).ids, ['r6']);
      assert.deepEqual((await c.query({ fullText: 'word5', k: 5 })).ids, [], 'the old document left the full-text index');
      assert.deepEqual((await c.query({ fullText: 'moved', k: 5 })).ids, ['r5']);
      assert.deepEqual((await c.query({ fullText: 'word6', k: 5 })).ids, ['r6']);
      assert.deepEqual((await c.get({ where: { i: { $gte: 500 } } })).ids.sort(), ['r5', 'r7']);
      assert.equal(await c.count(), 30);
      assert.deepEqual((await c.verify()).problems, []);
      await c.compact();
      assert.deepEqual((await c.verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});

test('a read-only handle sees the writer\'s committed writes (new slots, moved records, deletes) through the vector file', async () => {
  await withTempDir('omnivec-vec-ro-', async (dir) => {
    const v = data(20, 4);
    const w = await openDatabase(dir);
    const ro = await openDatabase(dir, { readOnly: true });
    try {
      const c = await w.createCollection({ name: 't', dim: DIM, metric: 'l2', index: 'flat' });
      await c.add(Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, vector: row(v, i) })));
      const r = await ro.getCollection('t');
      assert.deepEqual((await r.query({ vector: row(v, 4), k: 1 })).ids, ['r4']);
      await c.upsert([{ id: 'r4', vector: row(v, 15) }]);
      await c.add([{ id: 'n', vector: row(v, 16) }]);
      await c.delete({ ids: ['r1'] });
      assert.deepEqual((await r.query({ vector: row(v, 15), k: 1 })).ids, ['r4']);
      assert.deepEqual((await r.query({ vector: row(v, 16), k: 1 })).ids, ['n']);
      assert.equal((await r.query({ vector: row(v, 1), k: 1 })).ids[0] !== 'r1', true);
      assert.deepEqual(Array.from((await r.get({ ids: ['r4'], include: ['vectors'] })).vectors![0]!), Array.from(row(v, 15)));
      assert.deepEqual((await r.verify()).problems, []);
    } finally {
      await ro.close();
      await w.close();
    }
  });
});

test('snapshots hold no float vectors: a 2000 × 64 HNSW snapshot is smaller than its vectors alone, and reopens from the vector file', async () => {
  await withTempDir('omnivec-vec-snap-', async (dir) => {
    const n = 2000;
    const dim = 64;
    const r = new Random(5);
    const v = new Float32Array(n * dim).map(() => r.gaussian());
    let db = await openDatabase(dir);
    const c = await db.createCollection({ name: 't', dim, metric: 'cosine', index: 'hnsw' });
    await c.add({ ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors: v });
    await db.close();
    const snap = readdirSync(join(dir, 'indexes')).find((f) => f.endsWith('.idx'))!;
    const snapBytes = statSync(join(dir, 'indexes', snap)).size;
    assert.ok(snapBytes < n * dim * 4, `snapshot ${snapBytes} B should hold the graph only, less than the ${n * dim * 4} B of vectors`);
    assert.equal(statSync(join(dir, 'vectors', `c${c.cid}.vec`)).size, VECTOR_HEADER + n * dim * 4);
    db = await openDatabase(dir);
    try {
      const c2 = await db.getCollection('t');
      await c2.open();
      assert.equal(c2.indexStatus().origin, 'snapshot');
      assert.equal(c2.indexStatus().caughtUp, 0);
      assert.deepEqual((await c2.query({ vector: v.subarray(7 * dim, 8 * dim), k: 1 })).ids, ['r7']);
      assert.deepEqual((await c2.verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});

test('compact rewrites the vector file without holes: slots renumbered, records / queries / full text / filters / verify right, a read-only handle follows, the old generation removed', async () => {
  await withTempDir('omnivec-vec-compact-', async (dir) => {
    const n = 400;
    const v = data(n + 50, 6);
    const w = await openDatabase(dir);
    const ro = await openDatabase(dir, { readOnly: true });
    try {
      const c = await w.createCollection({ name: 't', dim: DIM, metric: 'cosine', index: 'hnsw' });
      await c.add(Array.from({ length: n }, (_, i) => ({ id: `r${i}`, vector: row(v, i), document: i % 5 === 0 ? `five ${i}` : `plain ${i}`, metadata: { i } })));
      const gone = Array.from({ length: n }, (_, i) => `r${i}`).filter((_, i) => i % 3 === 0);
      await c.delete({ ids: gone });
      await c.upsert(Array.from({ length: 50 }, (_, i) => ({ id: `r${3 * i + 1}`, vector: row(v, n + i), document: `moved ${i}`, metadata: { i: 1000 + i } })));
      const r = await ro.getCollection('t');
      await r.open();
      const live = new Map<string, { vector: Float32Array; document: string; i: number }>();
      for (let i = 0; i < n; i++) if (i % 3 !== 0) live.set(`r${i}`, { vector: row(v, i), document: i % 5 === 0 ? `five ${i}` : `plain ${i}`, i });
      for (let i = 0; i < 50; i++) live.set(`r${3 * i + 1}`, { vector: row(v, n + i), document: `moved ${i}`, i: 1000 + i });
      const before = (await c.info()).vectorFile!;
      assert.equal(before.rows, n + 50);
      const report = await c.compact();
      assert.deepEqual(report.vectorRows, { before: n + 50, after: live.size });
      assert.deepEqual((await c.info()).vectorFile, { bytes: VECTOR_HEADER + live.size * DIM * 4, rows: live.size, liveRows: live.size });
      assert.deepEqual(readdirSync(join(dir, 'vectors')), [`c${c.cid}.1.vec`]);
      const oracle = new FlatIndex({ dim: DIM, metric: 'cosine' });
      const ids = [...live.keys()];
      oracle.add(Uint32Array.from(ids, (_, k) => k), { data: Float32Array.from(ids.flatMap((id) => Array.from(live.get(id)!.vector))), dim: DIM, count: ids.length });
      // The read-only handle first: its first call after the compaction is a query (the index
      // reloads from the new snapshot and must read the new generation's file).
      for (const handle of [r, c]) {
        for (const q of [1, 2, 5, 100, 301]) {
          const qv = live.get(`r${q}`)!.vector;
          assert.deepEqual((await handle.query({ vector: qv, k: 5, efSearch: 400 })).ids, Array.from(oracle.search(qv, 5).ids, (k) => ids[k]!));
        }
        const got = await handle.get({ ids, include: ['vectors', 'documents', 'metadatas'] });
        assert.deepEqual(got.ids, ids);
        ids.forEach((id, k) => {
          assert.deepEqual(Array.from(got.vectors![k]!), Array.from(live.get(id)!.vector), id);
          assert.equal(got.documents![k], live.get(id)!.document);
          assert.deepEqual(got.metadatas![k], { i: live.get(id)!.i });
        });
        assert.deepEqual((await handle.query({ fullText: 'five', k: 200 })).ids.sort(), ids.filter((id) => live.get(id)!.document.startsWith('five')).sort());
        assert.deepEqual((await handle.query({ fullText: 'moved', k: 200 })).ids.length, 50);
        assert.deepEqual((await handle.get({ where: { i: { $gte: 1000 } } })).ids.length, 50);
        assert.deepEqual((await handle.verify()).problems, []);
      }
      // Writes continue after the renumbering.
      await c.add([{ id: 'after', vector: row(v, 0) }]);
      assert.deepEqual((await c.query({ vector: row(v, 0), k: 1 })).ids, ['after']);
      assert.deepEqual((await r.query({ vector: row(v, 0), k: 1 })).ids, ['after']);
      assert.equal((await c.compact()).vectorRows, undefined, 'no hole, no rewrite');
    } finally {
      await ro.close();
      await w.close();
    }
    const db = await openDatabase(dir);
    try {
      const c = await db.getCollection('t');
      await c.open();
      assert.equal(c.indexStatus().origin, 'snapshot');
      assert.deepEqual((await c.verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});

test('a compaction cut short leaves no trace: a new generation nobody committed, an old one left after the commit, or a snapshot from before the renumbering is removed at open', async () => {
  await withTempDir('omnivec-vec-gen-', async (dir) => {
    const v = data(20, 7);
    let db = await openDatabase(dir);
    const c = await db.createCollection({ name: 't', dim: DIM, metric: 'l2', index: 'flat' });
    await c.add(Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, vector: row(v, i) })));
    await db.close();
    const vdir = join(dir, 'vectors');
    const idir = join(dir, 'indexes');
    const oldSnapshot = readdirSync(idir)[0]!;
    const oldSnapshotBytes = readFileSync(join(idir, oldSnapshot));
    // A crash after writing generation 1 but before its commit: the catalogue still names generation 0.
    writeFileSync(join(vdir, 'c1.1.vec'), readFileSync(join(vdir, 'c1.vec')));
    // A collection number nobody has.
    writeFileSync(join(vdir, 'c9.vec'), 'x');
    db = await openDatabase(dir);
    try {
      assert.deepEqual(readdirSync(vdir), ['c1.vec']);
      const c2 = await db.getCollection('t');
      await c2.delete({ ids: ['r3'] });
      await c2.compact();
      assert.deepEqual(readdirSync(vdir), ['c1.1.vec']);
    } finally {
      await db.close();
    }
    // A crash after the commit but before the old file was removed, and before the new snapshot
    // replaced the old one (which names slots of before the renumbering).
    writeFileSync(join(vdir, 'c1.vec'), readFileSync(join(vdir, 'c1.1.vec')));
    for (const f of readdirSync(idir)) unlinkSync(join(idir, f));
    writeFileSync(join(idir, oldSnapshot), oldSnapshotBytes);
    db = await openDatabase(dir);
    try {
      assert.deepEqual(readdirSync(vdir), ['c1.1.vec']);
      assert.deepEqual(readdirSync(idir), [], 'a snapshot below the tombstone floor is removed at open');
      const c3 = await db.getCollection('t');
      assert.equal(await c3.count(), 19);
      assert.deepEqual((await c3.query({ vector: row(v, 19), k: 1 })).ids, ['r19']);
      assert.deepEqual((await c3.verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});

test('compaction renumbers slots under the sparse index and the id cache too: sparse and id-only queries stay right', async () => {
  await withTempDir('omnivec-vec-sparse-', async (dir) => {
    const v = data(30, 8);
    const db = await openDatabase(dir);
    try {
      const c = await db.createCollection({ name: 't', dim: DIM, metric: 'l2', index: 'flat' });
      await c.add(Array.from({ length: 30 }, (_, i) => ({ id: `r${i}`, vector: row(v, i), sparse: { [`t${i % 4}`]: 1 + i } })));
      // Load the sparse index and the id cache before the compaction.
      assert.equal((await c.query({ sparse: { t1: 1 }, k: 3, include: [] })).ids[0], 'r29');
      assert.deepEqual((await c.query({ vector: row(v, 2), k: 1, include: [] })).ids, ['r2']);
      await c.delete({ ids: ['r0', 'r1', 'r4', 'r29'] });
      await c.compact();
      assert.deepEqual((await c.query({ sparse: { t1: 1 }, k: 3, include: [] })).ids, ['r25', 'r21', 'r17']);
      for (const i of [2, 3, 17, 28]) assert.deepEqual((await c.query({ vector: row(v, i), k: 1, include: [] })).ids, [`r${i}`]);
      assert.deepEqual((await c.verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});

test('a damaged vector file header never makes the collection unusable: verify reports it, the writer rewrites it', async () => {
  await withTempDir('omnivec-vec-header-', async (dir) => {
    const v = data(10, 9);
    let db = await openDatabase(dir);
    await (await db.createCollection({ name: 't', dim: DIM, metric: 'l2', index: 'flat' })).add(Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, vector: row(v, i) })));
    await db.close();
    const file = join(dir, 'vectors', 'c1.vec');
    const bytes = readFileSync(file);
    bytes[2] = 0x21;
    writeFileSync(file, bytes);
    db = await openDatabase(dir, { readOnly: true });
    try {
      const c = await db.getCollection('t');
      assert.deepEqual((await c.query({ vector: row(v, 4), k: 1 })).ids, ['r4']);
      const rep = await c.verify();
      assert.deepEqual(rep.problems.length, 1, rep.problems.join('\n'));
      assert.match(rep.problems[0]!, /vector file .*c1\.vec: expected the magic "OMNIVVEC"/);
    } finally {
      await db.close();
    }
    db = await openDatabase(dir);
    try {
      const c = await db.getCollection('t');
      assert.match((await c.verify()).problems.join('\n'), /\(rewritten\)/);
      await c.add([{ id: 'n', vector: row(v, 0) }]);
    } finally {
      await db.close();
    }
    db = await openDatabase(dir, { readOnly: true });
    try {
      assert.deepEqual((await (await db.getCollection('t')).verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});

test('a reopen does not wait for the snapshot\'s payload checksum: a mismatch found in the background drops that index (derived from the records instead), verify names the file, a writer deletes it', async () => {
  await withTempDir('omnivec-vec-bgcrc-', async (dir) => {
    const v = data(200, 10);
    let db = await openDatabase(dir);
    await (await db.createCollection({ name: 't', dim: DIM, metric: 'l2', index: 'hnsw' })).add({ ids: Array.from({ length: 200 }, (_, i) => `r${i}`), vectors: v });
    await db.close();
    // The payload intact (every structural check passes) but the checksum the header declares wrong
    // (the header's own checksum recomputed): only the payload check can tell.
    const snap = join(dir, 'indexes', readdirSync(join(dir, 'indexes'))[0]!);
    const bytes = readFileSync(snap);
    bytes.writeUInt32LE((bytes.readUInt32LE(40) ^ 0x1234) >>> 0, 40);
    bytes.writeUInt32LE(crc32(bytes.subarray(0, 44)) >>> 0, 44);
    writeFileSync(snap, bytes);
    db = await openDatabase(dir);
    try {
      const c = await db.getCollection('t');
      await c.open();
      assert.equal(c.indexStatus().origin, 'snapshot', 'loaded without waiting for the payload check');
      const rep = await c.verify();
      assert.ok(rep.problems.some((p) => p.includes(snap) && /payload checksum mismatch.*derived from the records instead/.test(p)), rep.problems.join('\n'));
      assert.deepEqual((await c.query({ vector: row(v, 17), k: 1 })).ids, ['r17']);
      assert.equal(c.indexStatus().origin, 'records');
      assert.equal(readdirSync(join(dir, 'indexes')).includes(snap.split('/').pop()!), false, 'the writer deleted the bad snapshot');
    } finally {
      await db.close();
    }
    db = await openDatabase(dir);
    try {
      assert.deepEqual((await (await db.getCollection('t')).verify()).problems, []);
    } finally {
      await db.close();
    }
  });
});
