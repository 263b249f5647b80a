/**
 * The conformance suite every record store runs (src/db/store/<kind>/*.test.ts calls
 * `runRecordStoreConformance`), like the indexes' suite: the contract of ./types.ts checked call by
 * call, with the JS filter evaluator (../where.ts) as the oracle for `where` / `whereDocument`. A
 * store that cannot pass a case lists it in `skip` with a written reason.
 */
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { prepareRow, type RecordInput } from '../records.js';
import { matchesWhere, matchesWhereDocument, type Metadata, type Where, type WhereDocument } from '../where.js';
import type { CollectionMeta, WriteMode } from '../types.js';
import type { CollectionRecords, NewCollection, RecordStore, RecordWriter } from './types.js';

export interface StoreConformanceOptions {
  /** Opens an empty store (a fresh directory, a fresh database) for one test. */
  open(): Promise<RecordStore>;
  /** Removes what `open` made, after the store is closed. */
  cleanup?(store: RecordStore): Promise<void>;
  /** Cases to skip, each with the reason. */
  skip?: Record<string, string>;
}

const DIM = 4;

function newCollection(name: string, over: Partial<NewCollection> = {}): NewCollection {
  return {
    name, dim: DIM, metric: 'l2', indexSpec: { kind: 'flat' }, encoder: null,
    options: { tokenize: 'porter unicode61 remove_diacritics 2' }, created: '2026-01-01T00:00:00.000Z', ...over,
  };
}

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof OmnivecError && e.code === code;
}

/** Writes records as the write path does (validated by prepareRow), one chunk. */
async function write(w: RecordWriter, mode: WriteMode, records: RecordInput[], first = 0): Promise<Uint32Array> {
  const rows = records.map((r, i) => prepareRow(r, first + i, { dim: DIM, mode, model: undefined, what: mode }));
  const sparse = rows.map((r) => (r.sparse === undefined ? undefined : r.sparse === null ? null : JSON.stringify(r.sparse)));
  return w.writeRows(mode, { rows, sparse, first });
}

/** One write call as change `seq` (the store numbers a collection's changes 1, 2, 3, …). */
async function commit(records: CollectionRecords, mode: WriteMode, input: RecordInput[], seq: number): Promise<Uint32Array> {
  return records.write(async (w) => {
    assert.equal(w.seq, seq, 'the transaction takes the next change number');
    return write(w, mode, input);
  });
}

function vec(i: number): number[] {
  return [i, i / 2, -i, 1];
}

const WORDS = ['cat', 'dog', 'fox', 'bird', 'quantum', 'apple'];
const GENRES = ['rock', 'jazz', 'pop'];

/** Seeded records with metadata of every kind the filters test and short documents. */
function corpus(n: number, seed = 5): RecordInput[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, (_, i) => {
    const m: Metadata = { i, genre: GENRES[rng.int(3)]!, score: Math.round(rng.next() * 100) / 10, tags: [WORDS[rng.int(6)]!, WORDS[rng.int(6)]!] };
    if (rng.next() < 0.3) m.flag = rng.next() < 0.5;
    if (rng.next() < 0.1) m.note = null;
    const document = rng.next() < 0.15 ? null : Array.from({ length: 1 + rng.int(5) }, () => WORDS[rng.int(6)]!).join(' ');
    return { id: `r${String(i).padStart(3, '0')}`, vector: vec(i), metadata: rng.next() < 0.05 ? null : m, document };
  });
}

export function runRecordStoreConformance(name: string, options: StoreConformanceOptions): void {
  const skip = options.skip ?? {};
  const withStore = async (fn: (store: RecordStore) => Promise<void>): Promise<void> => {
    const store = await options.open();
    try {
      await fn(store);
    } finally {
      await store.close();
      await options.cleanup?.(store);
    }
  };
  const withCollection = (fn: (records: CollectionRecords, meta: CollectionMeta, store: RecordStore) => Promise<void>) => () =>
    withStore(async (store) => {
      const { meta } = await store.createCollection(newCollection('c'));
      await fn(store.records(meta), meta, store);
    });
  const check = (title: string, fn: () => Promise<void>): void => {
    test(title, { skip: skip[title] }, fn);
  };

  suite(`record store conformance: ${name}`, () => {
    check('catalogue: create, find, list, head, drop; a taken name is already_exists', () => withStore(async (store) => {
      assert.deepEqual(await store.listCollections(), []);
      const { meta } = await store.createCollection(newCollection('b', { encoder: { model: 'm', dim: DIM }, indexSpec: { kind: 'hnsw', m: 8 } }));
      await store.createCollection(newCollection('a'));
      assert.deepEqual((await store.listCollections()).map((c) => c.name), ['a', 'b']);
      const found = await store.findCollection('b');
      assert.deepEqual(found, meta);
      assert.equal(meta.seq, 0);
      assert.equal(meta.tombFloor, 0);
      assert.deepEqual(meta.encoder, { model: 'm', dim: DIM });
      assert.deepEqual(meta.indexSpec, { kind: 'hnsw', m: 8 });
      assert.deepEqual(await store.head(meta.cid), { seq: 0, tombFloor: 0, options: meta.options });
      await assert.rejects(store.createCollection(newCollection('a')), isCode('already_exists'));
      await store.dropCollection(meta.cid);
      assert.equal(await store.findCollection('b'), undefined);
      assert.equal(await store.head(meta.cid), undefined);
      const again = await store.createCollection(newCollection('b'));
      assert.notEqual(again.meta.cid, meta.cid, 'a re-created name is a new collection');
      assert.equal(await store.records(again.meta).count(), 0);
    }));

    check('createCollection with fill: the records commit with the collection; a throwing fill creates nothing', () => withStore(async (store) => {
      await assert.rejects(store.createCollection(newCollection('x'), async (_r, w) => {
        await write(w, 'add', corpus(3));
        throw new OmnivecError('invalid_argument', 'refused');
      }), isCode('invalid_argument'));
      assert.equal(await store.findCollection('x'), undefined);
      const { meta, filled } = await store.createCollection(newCollection('x'), async (_r, w) => {
        assert.equal(w.seq, 1);
        const slots = await write(w, 'add', corpus(3));
        return slots.length;
      });
      assert.equal(filled, 3);
      assert.equal(meta.seq, 1);
      assert.equal(await store.records(meta).count(), 3);
    }));

    check('writes: add assigns slots; upsert replaces the row (at its slot, or at a new one with a tombstone on the old); update changes the fields given', withCollection(async (records, meta, store) => {
      const slots = await commit(records, 'add', [{ id: 'a', vector: vec(1), document: 'the cat', metadata: { k: 1 } }, { id: 'b', vector: vec(2) }], 1);
      assert.equal(new Set(slots).size, 2);
      const up = await commit(records, 'upsert', [{ id: 'a', vector: vec(3) }, { id: 'c', vector: vec(4), document: 'dog' }], 2);
      // A store that moves a replaced record to a new slot tombstones the old one in the same change.
      assert.deepEqual(await records.deletedSince(1), up[0] === slots[0] ? [] : [slots[0]!], 'a moved record leaves a tombstone');
      assert.equal((await records.bySlots([up[0]!], {}))[0]?.id, 'a');
      let got = await records.getByIds(['a'], {}, { document: true, metadata: true, vector: true });
      assert.deepEqual(got.map((r) => [r.id, r.document, r.metadata, Array.from(r.vector!)]), [['a', null, null, vec(3)]], 'upsert replaces the whole row');
      await commit(records, 'update', [{ id: 'c', metadata: { z: true } }], 3);
      got = await records.getByIds(['c'], {}, { document: true, metadata: true, vector: true });
      assert.deepEqual(got.map((r) => [r.document, r.metadata, Array.from(r.vector!)]), [['dog', { z: true }, vec(4)]]);
      assert.deepEqual(await store.head(meta.cid), { seq: 3, tombFloor: 0, options: meta.options });
      // Metadata-only updates do not mark the vector changed; vector writes do.
      assert.deepEqual((await records.changedSince(2)).sort(), []);
      assert.deepEqual((await records.changedSince(1)).sort((x, y) => x - y), [up[0]!, up[1]!].sort((x, y) => x - y));
    }));

    check('write errors: an id already stored (already_exists), one repeated in the call (appears twice), update of a missing id (not_found); the transaction leaves nothing', withCollection(async (records) => {
      await commit(records, 'add', [{ id: 'a', vector: vec(1) }], 1);
      await assert.rejects(commit(records, 'add', [{ id: 'n', vector: vec(2) }, { id: 'a', vector: vec(3) }], 2), (e: unknown) => isCode('already_exists')(e) && /add\[1\]\.id/.test((e as Error).message));
      await assert.rejects(records.write(async (w) => {
        await write(w, 'add', [{ id: 'd', vector: vec(2) }]);
        await write(w, 'add', [{ id: 'd', vector: vec(3) }], 1);
      }), (e: unknown) => isCode('invalid_argument')(e) && /add\[1\]\.id: the id "d" appears twice in this call/.test((e as Error).message));
      await assert.rejects(commit(records, 'update', [{ id: 'ghost', metadata: { a: 1 } }], 2), isCode('not_found'));
      await assert.rejects(records.write(async (w) => {
        await write(w, 'add', [{ id: 'e', vector: vec(5) }]);
        throw new Error('the caller fails');
      }), /the caller fails/);
      assert.deepEqual(await records.listIds({ limit: -1, offset: 0 }), ['a']);
      // Rolled-back and empty transactions leave the change number: the next write is change 2.
      await records.write(async (w) => { assert.equal(w.seq, 2); return w.deleteIds(['nope'], {}); });
      await commit(records, 'add', [{ id: 'f', vector: vec(6) }], 2);
    }));

    check('reads: count, getByIds in the order asked, getPage / listIds / scan in slot order, bySlots, vectorOfId exact float32', withCollection(async (records) => {
      const input = corpus(50);
      const slots = await commit(records, 'add', input, 1);
      assert.equal(await records.count(), 50);
      const got = await records.getByIds(['r010', 'nope', 'r002'], {}, { document: true, metadata: true });
      assert.deepEqual(got.map((r) => r.id), ['r010', 'r002']);
      assert.deepEqual(got[0]!.metadata, input[10]!.metadata);
      assert.equal(got[1]!.document, input[2]!.document);
      assert.equal(got[0]!.vector, undefined, 'fields not asked for are absent');
      const page = await records.getPage({}, { limit: 5, offset: 10 }, {});
      const order = Array.from(slots).map((s, i) => [s, input[i]!.id] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
      assert.deepEqual(page.map((r) => r.id), order.slice(10, 15));
      assert.deepEqual(await records.listIds({ limit: 3, offset: 0 }), order.slice(0, 3));
      const scanned: string[] = [];
      for (let after = -1; ;) {
        const p = await records.scan(after, 7, {});
        scanned.push(...p.map((r) => r.id));
        if (p.length < 7) break;
        after = p[p.length - 1]!.slot;
      }
      assert.deepEqual(scanned, order);
      const some = await records.bySlots([slots[3]!, slots[40]!, 999_999], { vector: true });
      assert.deepEqual(some.map((r) => r.id).sort(), ['r003', 'r040']);
      const f32 = Float32Array.from([0.1, 1e-7, -3.4e38, 123456.789]);
      await commit(records, 'add', [{ id: 'exact', vector: f32 }], 2);
      assert.deepEqual(Array.from((await records.vectorOfId('exact'))!), Array.from(f32));
      assert.equal(await records.vectorOfId('nope'), undefined);
    }));

    check('filters: matchingSlots, getPage and getByIds select exactly what the JS evaluator matches', withCollection(async (records) => {
      const input = corpus(120, 9);
      const slots = await commit(records, 'add', input, 1);
      const filters: [Where | undefined, WhereDocument | undefined][] = [
        [{ genre: 'jazz' }, undefined], [{ score: { $gte: 3, $lt: 7 } }, undefined], [{ tags: 'fox' }, undefined],
        [{ flag: { $exists: false } }, undefined], [{ note: null }, undefined], [{ $or: [{ genre: 'pop' }, { flag: true }] }, undefined],
        [{ $not: { tags: { $in: ['cat', 'dog'] } } }, undefined], [undefined, { $contains: 'quantum' }],
        [{ genre: { $ne: 'rock' } }, { $not_contains: 'apple' }], [{ i: { $in: Array.from({ length: 40 }, (_, k) => k * 3) } }, undefined],
      ];
      for (const [where, wd] of filters) {
        const want = input.flatMap((r, k) => ((where === undefined || matchesWhere((r.metadata ?? null) as Metadata | null, where)) &&
          (wd === undefined || matchesWhereDocument(r.document ?? null, wd)) ? [k] : []));
        const label = JSON.stringify({ where, wd });
        assert.deepEqual((await records.matchingSlots({ where, whereDocument: wd })).sort((a, b) => a - b), want.map((k) => slots[k]!).sort((a, b) => a - b), label);
        assert.deepEqual((await records.getPage({ where, whereDocument: wd }, { limit: -1, offset: 0 }, {})).length, want.length, label);
        const ids = input.slice(0, 30).map((r) => r.id);
        assert.deepEqual((await records.getByIds(ids, { where, whereDocument: wd }, {})).map((r) => r.id), want.filter((k) => k < 30).map((k) => input[k]!.id), label);
      }
    }));

    check('deletes: by ids (and filter), by filter, by slots; tombstones in deletedSince; pruneTombstones moves the floor', withCollection(async (records, meta, store) => {
      const input = corpus(30);
      const slots = await commit(records, 'add', input, 1);
      const gone1 = await records.write((w) => w.deleteIds(['r001', 'r002', 'nope'], {}));
      assert.deepEqual(gone1.sort((a, b) => a - b), [slots[1]!, slots[2]!].sort((a, b) => a - b));
      const filter = { where: { genre: 'jazz' } as Where };
      const jazz = input.flatMap((r, k) => (k > 2 && matchesWhere((r.metadata ?? null) as Metadata | null, filter.where) ? [slots[k]!] : []));
      const gone2 = await records.write((w) => w.deleteWhere(filter));
      assert.deepEqual(gone2.sort((a, b) => a - b), jazz.sort((a, b) => a - b));
      await records.write(async (w) => { assert.equal(w.seq, 4); await w.deleteSlots([slots[0]!]); });
      assert.equal(await records.count(), 30 - 3 - jazz.length);
      assert.deepEqual((await records.deletedSince(1)).sort((a, b) => a - b), [slots[0]!, slots[1]!, slots[2]!, ...jazz].sort((a, b) => a - b));
      assert.deepEqual((await records.deletedSince(3)), [slots[0]!]);
      await records.pruneTombstones(3);
      assert.equal((await store.head(meta.cid))!.tombFloor, 3);
      assert.deepEqual(await records.deletedSince(0), [slots[0]!], 'tombstones at or below the floor are gone');
    }));

    check('vectors: all or changed since a change, in slot order, in chunks; sampleVectors', withCollection(async (records) => {
      const input = corpus(25);
      const slots = await commit(records, 'add', input, 1);
      const up = await commit(records, 'upsert', [{ id: 'r004', vector: vec(100) }, { id: 'new', vector: vec(200) }], 2);
      const all: number[] = [];
      for await (const ch of records.vectors(undefined, 10)) {
        assert.ok(ch.count <= 10);
        assert.equal(ch.data.length, ch.count * DIM);
        all.push(...ch.slots);
      }
      assert.equal(all.length, 26);
      assert.deepEqual(all, [...all].sort((a, b) => a - b), 'slot order');
      const since: [number, number[]][] = [];
      for await (const ch of records.vectors(1, 10)) for (let i = 0; i < ch.count; i++) since.push([ch.slots[i]!, Array.from(ch.data.subarray(i * DIM, (i + 1) * DIM))]);
      assert.equal(since.length, 2);
      assert.deepEqual(since.find(([s]) => s === up[0])![1], vec(100));
      assert.ok(up[0] === slots[4] || !all.includes(slots[4]!), 'a moved record\'s old slot is gone');
      const sample = await records.sampleVectors(10);
      assert.ok(sample.count >= 1 && sample.count <= 26, `sample of ${sample.count}`);
    }));

    check('sparse and multi-vectors: sparseRows all / since, multiVectors by slot', withCollection(async (records) => {
      const slots = await records.write(async (w) => {
        const rows = [
          prepareRow({ id: 'a', vector: vec(1), sparse: { cat: 1 }, multiVector: [[1, 0], [0, 1]] }, 0, { dim: DIM, mode: 'add', model: undefined, what: 'add' }),
          prepareRow({ id: 'b', vector: vec(2) }, 1, { dim: DIM, mode: 'add', model: undefined, what: 'add' }),
        ];
        return w.writeRows('add', { rows, sparse: ['{"cat":1}', null], first: 0 });
      });
      assert.deepEqual(await records.sparseRows(undefined), [[slots[0]!, '{"cat":1}']]);
      const mv = await records.multiVectors([slots[0]!, slots[1]!]);
      assert.deepEqual([...mv.keys()], [slots[0]!]);
      assert.deepEqual(Array.from(mv.get(slots[0]!)!), [1, 0, 0, 1]);
      await commit(records, 'update', [{ id: 'b', sparse: { dog: 2 } }], 2);
      assert.deepEqual(await records.sparseRows(1), [[slots[1]!, JSON.stringify({ dog: 2 })]]);
    }));

    check('full text: BM25 best first among the documents with a term, the filter applied, user text never parsed as syntax', withCollection(async (records) => {
      await commit(records, 'add', [
        { id: 'a', vector: vec(1), document: 'the cat sat on the mat', metadata: { n: 1 } },
        { id: 'b', vector: vec(2), document: 'cat cat cat food for the cat', metadata: { n: 2 } },
        { id: 'c', vector: vec(3), document: 'quantum physics lecture', metadata: { n: 3 } },
        { id: 'd', vector: vec(4), metadata: { n: 4 } },
      ], 1);
      const ids = async (text: string, filter = {}): Promise<string[]> => {
        const r = await records.fullText(text, 10, filter);
        assert.equal(r.slots.length, r.scores.length);
        for (let i = 1; i < r.scores.length; i++) assert.ok(r.scores[i - 1]! >= r.scores[i]!, 'best first');
        return (await records.bySlots(r.slots, {})).sort((x, y) => Array.from(r.slots).indexOf(x.slot) - Array.from(r.slots).indexOf(y.slot)).map((x) => x.id);
      };
      assert.deepEqual(await ids('cat'), ['b', 'a']);
      assert.deepEqual(await ids('cat', { where: { n: { $gt: 1 } } }), ['b']);
      assert.deepEqual(await ids('"quantum" (NEAR* -'), ['c']);
      assert.deepEqual(await ids('   '), []);
    }));

    check('isolation: reads see committed data only, also while a write is open', withCollection(async (records) => {
      await commit(records, 'add', [{ id: 'a', vector: vec(1) }], 1);
      await records.write(async (w) => {
        await write(w, 'add', [{ id: 'b', vector: vec(2) }]);
        assert.equal(await records.count(), 1, 'the open write is not visible');
        assert.deepEqual(await records.getByIds(['b'], {}, {}), []);
      });
      assert.equal(await records.count(), 2);
    }));

    check('check(): no problems on healthy data', withCollection(async (records, _meta, store) => {
      await commit(records, 'add', corpus(20), 1);
      assert.deepEqual(await records.check(), []);
      assert.deepEqual(await store.check(), []);
    }));
  });
}
