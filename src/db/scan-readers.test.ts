/**
 * Scans off the query path (docs/db.md): with `scanThreads`, filter scans on undeclared fields and
 * full text run on a reader thread with its own connection; the answer is then brought up to date
 * on the caller's connection. Checked: the same answers as without readers when nothing changes,
 * and — writes committed between a reader's read and the patch (held by a test gate) — exactly
 * the final state's answer for filters, and for full text the read's list with moved records
 * followed to their new slots and deleted ones dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Database } from './database.js';
import type { Collection } from './collection.js';
import { scanTestHooks } from './store/sqlite/scan-pool.js';
import { Random } from '../vector/random.js';
import { withTempDir } from '../../test/helpers/assertions.js';

const D = 8;
const N = 1500;
const rng = new Random(3);
const vectors = new Float32Array((N + 400) * D).map(() => rng.gaussian());
const vec = (i: number): number[] => Array.from(vectors.subarray(i * D, (i + 1) * D));
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta'];
const doc = (i: number): string => `the ${WORDS[i % 8]} ${WORDS[(i * 3) % 8]} item${i}`;

async function fill(db: Database): Promise<Collection> {
  const c = await db.createCollection({ name: 'c', dim: D, metric: 'l2', index: { kind: 'flat' } });
  await c.add({
    ids: Array.from({ length: N }, (_, i) => `r${i}`),
    vectors: vectors.subarray(0, N * D),
    documents: Array.from({ length: N }, (_, i) => doc(i)),
    metadatas: Array.from({ length: N }, (_, i) => ({ user: `u${i % 50}`, n: i % 13 })),
  });
  return c;
}

const FILTERS: Record<string, unknown>[] = [
  { user: 'u3' },
  { user: { $in: ['u1', 'u7'] } },
  { n: { $gte: 11 } },
  { $and: [{ user: { $ne: 'u2' } }, { n: { $lt: 2 } }] },
  { $or: [{ user: 'u9' }, { n: 12 }] },
];

test('scan readers: the same answers as on the calling thread when nothing changes', async () => {
  await withTempDir('omnivec-scans-', async (dir) => {
    const db = await openDatabase(dir, { scanThreads: 1 });
    const c = await fill(db);
    const plain = await openDatabase(dir, { readOnly: true });
    const p = await plain.getCollection('c');
    for (const where of FILTERS) {
      const a = await c.query({ vector: vec(7), k: 40, where });
      const b = await p.query({ vector: vec(7), k: 40, where });
      assert.deepEqual(a.ids, b.ids, JSON.stringify(where));
      assert.deepEqual(a.distances, b.distances);
    }
    for (const text of ['alpha', 'the beta', 'gamma gamma delta', 'item17 alpha']) {
      const a = await c.query({ fullText: text, k: 25 });
      const b = await p.query({ fullText: text, k: 25 });
      assert.deepEqual(a.ids, b.ids, text);
      assert.deepEqual(a.scores, b.scores, text);
      const h = await c.query({ vector: vec(3), fullText: text, k: 10, where: { n: { $lt: 6 } } });
      const h2 = await p.query({ vector: vec(3), fullText: text, k: 10, where: { n: { $lt: 6 } } });
      assert.deepEqual(h.ids, h2.ids, `hybrid ${text}`);
    }
    // A bad filter is refused as before (the reader's failure falls back to the calling thread's error).
    await assert.rejects(c.query({ vector: vec(1), k: 3, where: { user: { $bad: 1 } } }), /\$bad/);
    await plain.close();
    await db.close();
  });
});

/** Holds the next reader reply until the writes `during` are committed. */
async function withWritesBetween<T>(query: () => Promise<T>, during: () => Promise<void>): Promise<T> {
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  let arrived!: () => void;
  const came = new Promise<void>((r) => { arrived = r; });
  scanTestHooks.gate = { arrived: () => arrived(), release: released };
  try {
    const q = query();
    await came;
    scanTestHooks.gate = undefined;
    await during();
    release();
    return await q;
  } finally {
    scanTestHooks.gate = undefined;
    release();
  }
}

test('scan readers: writes between the read and the patch — filters answer the final state exactly, full text the read\'s list with records followed', async () => {
  await withTempDir('omnivec-scans-', async (dir) => {
    const db = await openDatabase(dir, { scanThreads: 1 });
    const c = await fill(db);
    // The final state, kept in JS: id -> { user, n, doc, v }.
    const state = new Map<string, { user: string; n: number; doc: string; v: number[] }>();
    for (let i = 0; i < N; i++) state.set(`r${i}`, { user: `u${i % 50}`, n: i % 13, doc: doc(i), v: vec(i) });
    let fresh = N;
    const writes = async (): Promise<void> => {
      // Moves (new vectors), some into u3 and out of it; deletes of u3 records; new u3 records; metadata-only updates.
      const moved = ['r3', 'r53', 'r4', 'r54', 'r103'];
      await c.upsert({ ids: moved, vectors: moved.map(() => vec(fresh++)), metadatas: moved.map((_, j) => ({ user: j % 2 === 0 ? 'u4' : 'u3', n: 1 })), documents: moved.map(() => 'alpha moved') });
      moved.forEach((id, j) => state.set(id, { user: j % 2 === 0 ? 'u4' : 'u3', n: 1, doc: 'alpha moved', v: [] }));
      for (const id of ['r153', 'r203']) state.delete(id);
      await c.delete({ ids: ['r153', 'r203'] });
      const added = ['new1', 'new2', 'new3'];
      await c.add({ ids: added, vectors: added.map(() => vec(fresh++)), metadatas: added.map(() => ({ user: 'u3', n: 5 })), documents: added.map(() => 'alpha new') });
      for (const id of added) state.set(id, { user: 'u3', n: 5, doc: 'alpha new', v: [] });
      await c.update({ ids: ['r10', 'r11'], metadatas: [{ user: 'u3', n: 0 }, { user: 'u3', n: 0 }] });
      for (const id of ['r10', 'r11']) state.set(id, { ...state.get(id)!, user: 'u3', n: 0 });
    };
    const got = await withWritesBetween(() => c.query({ vector: vec(0), k: 500, where: { user: 'u3' } }), writes);
    const want = [...state].filter(([, r]) => r.user === 'u3').map(([id]) => id).sort();
    assert.deepEqual([...got.ids].sort(), want);

    // Full text: 'alpha' — held again over more writes. Its list is the one of the reader's read,
    // each record followed to its current slot: moved records found, deleted ones gone, records
    // added after the read not (they came after the query's full-text part was read).
    const atRead = new Set([...state].filter(([, r]) => /\balpha\b/.test(r.doc)).map(([id]) => id));
    const more = async (): Promise<void> => {
      await c.upsert({ ids: ['r0', 'r8'], vectors: [vec(fresh++), vec(fresh++)], documents: ['alpha again', 'alpha again'] }); // moved
      state.set('r0', { ...state.get('r0')!, doc: 'alpha again' });
      state.set('r8', { ...state.get('r8')!, doc: 'alpha again' });
      await c.add({ ids: ['new4'], vectors: [vec(fresh++)], documents: ['alpha four'] });
      state.set('new4', { user: '', n: 0, doc: 'alpha four', v: [] });
      await c.delete({ ids: ['r16', 'r24'] });
      state.delete('r16');
      state.delete('r24');
    };
    const ft = await withWritesBetween(() => c.query({ fullText: 'alpha', k: 1000 }), more);
    const wantFt = [...atRead].filter((id) => state.has(id)).sort();
    assert.ok(wantFt.includes('r0') && wantFt.includes('r8') && !wantFt.includes('r16'));
    assert.deepEqual([...ft.ids].sort(), wantFt);
    // A query after the writes sees them all.
    const after = await c.query({ fullText: 'alpha', k: 1000 });
    assert.deepEqual([...after.ids].sort(), [...state].filter(([, r]) => /\balpha\b/.test(r.doc)).map(([id]) => id).sort());
    await db.close();
  });
});
