import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotMap } from './common.js';
import { Random } from '../vector/random.js';

test('SlotMap agrees with a Map for dense, sparse and mixed ids through sets and deletes', () => {
  const rng = new Random(8);
  const map = new SlotMap();
  const ref = new Map<number, number>();
  for (let step = 0; step < 20000; step++) {
    const r = rng.next();
    const id = r < 0.6 ? rng.int(5000) : r < 0.9 ? rng.int(100_000) : 0xfffffffe - rng.int(1000);
    if (rng.next() < 0.7) {
      const slot = rng.int(30000);
      map.set(id, slot);
      ref.set(id, slot);
      assert.equal(map.idOf(slot), id);
    } else {
      map.delete(id);
      ref.delete(id);
    }
    if (step % 1000 === 0) {
      for (let probe = 0; probe < 200; probe++) {
        const p = rng.next() < 0.5 ? rng.int(6000) : [...ref.keys()][rng.int(ref.size)] ?? 0;
        assert.equal(map.slotOf(p), ref.get(p), `id ${p} at step ${step}`);
      }
    }
    assert.equal(map.size, ref.size);
  }
  for (const [id, slot] of ref) assert.equal(map.slotOf(id), slot);
});

test('SlotMap keeps dense ids in a typed array (a few bytes an entry)', () => {
  const map = new SlotMap();
  for (let i = 0; i < 100_000; i++) map.set(i, i);
  assert.ok(map.bytes() / 100_000 < 16, `${map.bytes() / 100_000} bytes an entry`);
  map.setSlotId(5, 77);
  assert.equal(map.idOf(5), 77);
  assert.equal(map.slotOf(5), 5, 'setSlotId does not map the id');
  assert.equal(map.slotOf(77), 77);
});

test('SlotMap.adopt loads a saved slot table: live slots mapped, the others only named, a repeated live id reported', () => {
  const table = Uint32Array.from([7, 3, 7, 9_000_000, 5]);
  const state = Uint8Array.from([0, 0, 1, 0, 2]); // slot 2 (id 7) removed, slot 4 (id 5) free
  const m = new SlotMap();
  m.reserveDense(9, table.length);
  assert.equal(m.adopt(table, table.length, state, 0), -1);
  assert.equal(m.size, 3);
  assert.equal(m.slotOf(7), 0);
  assert.equal(m.slotOf(3), 1);
  assert.equal(m.slotOf(9_000_000), 3, 'a sparse id');
  assert.equal(m.slotOf(5), undefined, 'a free slot is not mapped');
  assert.deepEqual([...m.table.subarray(0, 5)], [...table]);
  // Every slot live: id 7 twice (dense), and a sparse id twice.
  assert.equal(new SlotMap().adopt(table, table.length), 7);
  assert.equal(new SlotMap().adopt(Uint32Array.from([9_000_000, 1, 9_000_000]), 3), 9_000_000);
});
