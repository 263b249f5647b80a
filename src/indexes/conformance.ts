/**
 * The conformance suite every index runs (src/indexes/<kind>/<kind>-index.test.ts calls
 * `runConformance`). The oracle is a float64 brute-force computation written here, independent
 * of any index, on seeded clustered data. An index that cannot pass a case lists it in `skip` with
 * a written reason.
 */
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../errors.js';
import { MAX_K } from '../checks.js';
import { Random } from '../vector/random.js';
import type { Metric } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import { deserializeIndex, serializeIndex } from './registry.js';
import { HEADER_BYTES } from '../storage/header.js';
import { NO_ID, type SearchOptions, type VectorIndex } from './types.js';

export interface ConformanceOptions {
  /** Builds an empty index of this shape (trained later by `train` when the kind needs it). */
  create(shape: { dim: number; metric: Metric }): VectorIndex;
  /** True when results must equal the oracle's exactly (flat; IVF with nProbe = nList). */
  exact: boolean;
  /** Minimum mean recall@10 against the oracle when not exact. */
  recallFloor?: number;
  /** Search options that make the index exact (e.g. `{ nProbe: nList }` for IVF). */
  exactOptions?: SearchOptions;
  /** Cases to skip, each with the reason. */
  skip?: Record<string, string>;
}

export interface Dataset {
  dim: number;
  base: VectorBatch;
  queries: VectorBatch;
}

/** Seeded Gaussian clusters: `clusters` centres, points spread around them, queries from the same mixture. */
export function clusteredData(seed: number, n: number, nq: number, dim: number, clusters = 20, spread = 0.35): Dataset {
  const rng = new Random(seed);
  const centres = new Float32Array(clusters * dim).map(() => rng.gaussian());
  const make = (count: number): VectorBatch => {
    const data = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const c = rng.int(clusters);
      for (let j = 0; j < dim; j++) data[i * dim + j] = centres[c * dim + j]! + spread * rng.gaussian();
    }
    return { data, dim, count };
  };
  return { dim, base: make(n), queries: make(nq) };
}

/** Exact distance in float64 under the omnivec conventions (cosine on normalised vectors). */
export function refDistance(metric: Metric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    if (metric === 'l2') s += (a[i]! - b[i]!) ** 2;
    else s += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (metric === 'l2') return s;
  if (metric === 'ip') return 1 - s;
  const d = Math.sqrt(na) * Math.sqrt(nb);
  return 1 - (d > 0 ? s / d : 0);
}

/** The oracle: the k nearest ids (ties by smaller id) among `allowed`, with their distances. */
export function oracle(metric: Metric, base: VectorBatch, ids: ArrayLike<number>, q: Float32Array, k: number,
  allowed: (id: number) => boolean = () => true): { ids: number[]; distances: number[] } {
  const all: [number, number][] = [];
  for (let i = 0; i < base.count; i++) {
    const id = ids[i]!;
    if (!allowed(id)) continue;
    all.push([refDistance(metric, q, base.data.subarray(i * base.dim, (i + 1) * base.dim)), id]);
  }
  all.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const top = all.slice(0, k);
  return { ids: top.map((t) => t[1]), distances: top.map((t) => t[0]) };
}

function rowOf(b: VectorBatch, i: number): Float32Array {
  return b.data.subarray(i * b.dim, (i + 1) * b.dim);
}

/**
 * Asserts `got` is an exact answer: same length, each distance equal to the oracle's at that rank
 * (within float32 rounding), and every id's true distance no worse than the k-th (ties may swap ids).
 */
function assertExact(got: { ids: Uint32Array; distances: Float32Array }, want: { ids: number[]; distances: number[] },
  trueDist: (id: number) => number, where: string): void {
  assert.equal(got.ids.length, want.ids.length, `${where}: number of hits`);
  const kth = want.distances[want.distances.length - 1] ?? Infinity;
  for (let r = 0; r < got.ids.length; r++) {
    const tol = 1e-4 * Math.max(1, Math.abs(want.distances[r]!));
    assert.ok(Math.abs(got.distances[r]! - want.distances[r]!) <= tol,
      `${where}: rank ${r} distance ${got.distances[r]} vs oracle ${want.distances[r]}`);
    assert.ok(trueDist(got.ids[r]!) <= kth + tol, `${where}: id ${got.ids[r]} is not among the k nearest`);
  }
  assert.equal(new Set(got.ids).size, got.ids.length, `${where}: repeated ids`);
}

function recall(got: ArrayLike<number>, want: number[]): number {
  const s = new Set(want);
  let hit = 0;
  for (let i = 0; i < got.length; i++) if (s.has(got[i]!)) hit++;
  return want.length === 0 ? 1 : hit / want.length;
}

/** Asserts `fn` throws an OmnivecError with this code (and a message matching `pattern`). */
export function expectError(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, `error code (message: ${e.message})`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

export function runConformance(name: string, opts: ConformanceOptions): void {
  const skip = opts.skip ?? {};
  const t = (caseName: string, fn: () => void | Promise<void>): void => {
    const reason = skip[caseName];
    test(caseName, reason !== undefined ? { skip: reason } : {}, fn);
  };
  const data = clusteredData(11, 3000, 60, 24);
  const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i * 3 + 7); // not slot numbers
  const build = (metric: Metric, base = data.base, withIds: ArrayLike<number> = ids): VectorIndex => {
    const index = opts.create({ dim: data.dim, metric });
    index.train(base);
    index.add(withIds, base);
    return index;
  };
  const k = 10;
  const searchOpts = opts.exact ? (opts.exactOptions ?? {}) : {};

  suite(`${name}: conformance`, () => {
    for (const metric of ['l2', 'ip', 'cosine'] as const) {
      t(`${metric}: results ${opts.exact ? 'equal the oracle' : `reach recall@10 ≥ ${opts.recallFloor}`}, single and batched`, () => {
        const index = build(metric);
        assert.equal(index.size, data.base.count);
        const pos = new Map<number, number>();
        ids.forEach((id, i) => pos.set(id, i));
        const batch = index.searchBatch(data.queries, k, searchOpts);
        let total = 0;
        for (let q = 0; q < data.queries.count; q++) {
          const query = rowOf(data.queries, q);
          const want = oracle(metric, data.base, ids, query, k);
          const got = index.search(query, k, searchOpts);
          const fromBatch = {
            ids: batch.ids.slice(q * k, q * k + batch.counts[q]!),
            distances: batch.distances.slice(q * k, q * k + batch.counts[q]!),
          };
          if (opts.exact) {
            const trueDist = (id: number): number => refDistance(metric, query, rowOf(data.base, pos.get(id)!));
            assertExact(got, want, trueDist, `query ${q}`);
            assertExact(fromBatch, want, trueDist, `batched query ${q}`);
          } else {
            total += recall(got.ids, want.ids);
            assert.deepEqual(Array.from(fromBatch.ids), Array.from(got.ids), `batched query ${q} equals the single search`);
          }
          for (let r = 1; r < got.distances.length; r++) assert.ok(got.distances[r - 1]! <= got.distances[r]!, 'sorted nearest first');
        }
        if (!opts.exact) {
          const mean = total / data.queries.count;
          assert.ok(mean >= opts.recallFloor!, `mean recall@10 ${mean.toFixed(4)} < floor ${opts.recallFloor}`);
        }
      });
    }

    t('k larger than the index returns every vector', () => {
      const small = clusteredData(5, 7, 2, 24);
      const index = opts.create({ dim: 24, metric: 'l2' });
      index.train(small.base);
      index.add([1, 2, 3, 4, 5, 6, 7], small.base);
      const r = index.search(rowOf(small.queries, 0), 50, searchOpts);
      assert.equal(r.ids.length, 7);
      const b = index.searchBatch(small.queries, 50, searchOpts);
      assert.deepEqual(Array.from(b.counts), [7, 7]);
      assert.equal(b.ids[7 + 0], NO_ID, 'padding after the hits');
      assert.equal(b.distances[7], Infinity);
    });

    t('removed ids never come back, the rest stays searchable, ids can be re-added', () => {
      const index = build('l2');
      const rng = new Random(99);
      const removed = new Set<number>();
      for (const id of ids) if (rng.next() < 0.3) removed.add(id);
      const n = index.remove([...removed, 123456789]);
      assert.equal(n, removed.size, 'remove returns how many were present');
      assert.equal(index.size, ids.length - removed.size);
      for (const id of removed) assert.equal(index.has(id), false);
      const live = (id: number): boolean => !removed.has(id);
      let total = 0;
      for (let q = 0; q < data.queries.count; q++) {
        const query = rowOf(data.queries, q);
        const got = index.search(query, k, searchOpts);
        for (const id of got.ids) assert.ok(!removed.has(id), `removed id ${id} returned`);
        const want = oracle('l2', data.base, ids, query, k, live);
        total += recall(got.ids, want.ids);
      }
      const floor = opts.exact ? 1 : opts.recallFloor!;
      assert.ok(total / data.queries.count >= floor - 1e-9, `recall after removal ${(total / data.queries.count).toFixed(4)}`);
      index.compact();
      for (let q = 0; q < 10; q++) {
        for (const id of index.search(rowOf(data.queries, q), k, searchOpts).ids) assert.ok(!removed.has(id), 'after compact');
      }
      // Re-add the removed ids with their vectors.
      const back = [...removed];
      const pos = new Map<number, number>();
      ids.forEach((id, i) => pos.set(id, i));
      const vec = new Float32Array(back.length * data.dim);
      back.forEach((id, i) => vec.set(rowOf(data.base, pos.get(id)!), i * data.dim));
      index.add(back, { data: vec, dim: data.dim, count: back.length });
      assert.equal(index.size, ids.length);
      const q0 = rowOf(data.queries, 0);
      assert.ok(recall(index.search(q0, k, searchOpts).ids, oracle('l2', data.base, ids, q0, k).ids) >= (opts.exact ? 1 : 0.8));
    });

    t('filters: predicate and allow-list return k hits whenever k match, even at 1 % selectivity', () => {
      const index = build('l2');
      const rng = new Random(5);
      const allowIds = ids.filter(() => rng.next() < 0.01); // ~30 of 3000
      assert.ok(allowIds.length >= k);
      const allowSet = new Set(allowIds);
      const even = (id: number): boolean => id % 2 === 0;
      for (let q = 0; q < data.queries.count; q++) {
        const query = rowOf(data.queries, q);
        for (const [label, options, pred] of [
          ['allow-list', { ...searchOpts, allow: allowIds }, (id: number) => allowSet.has(id)],
          ['predicate 1%', { ...searchOpts, filter: (id: number) => allowSet.has(id) }, (id: number) => allowSet.has(id)],
          ['predicate 50%', { ...searchOpts, filter: even }, even],
          ['both', { ...searchOpts, allow: allowIds, filter: even }, (id: number) => allowSet.has(id) && even(id)],
        ] as const) {
          const got = index.search(query, k, options);
          const want = oracle('l2', data.base, ids, query, k, pred);
          assert.equal(got.ids.length, want.ids.length, `${label}: query ${q} returned ${got.ids.length} of ${want.ids.length}`);
          for (const id of got.ids) assert.ok(pred(id), `${label}: id ${id} does not pass the filter`);
          const r = recall(got.ids, want.ids);
          assert.ok(r >= (opts.exact ? 1 : 0.7), `${label}: query ${q} recall ${r}`);
        }
      }
      const none = index.search(rowOf(data.queries, 0), k, { ...searchOpts, allow: [] });
      assert.equal(none.ids.length, 0, 'an empty allow-list matches nothing');
    });

    t('save and load: the loaded index answers exactly as before', () => {
      for (const metric of ['l2', 'cosine'] as const) {
        const index = build(metric);
        index.remove(ids.slice(0, 100));
        const before = index.searchBatch(data.queries, k, searchOpts);
        const bytes = concat(serializeIndex(index));
        const loaded = deserializeIndex(bytes);
        assert.equal(loaded.kind, index.kind);
        assert.equal(loaded.metric, metric);
        assert.equal(loaded.size, index.size);
        assert.deepEqual(loaded.params, index.params);
        const after = loaded.searchBatch(data.queries, k, searchOpts);
        assert.deepEqual(after.ids, before.ids);
        assert.deepEqual(after.distances, before.distances);
        assert.deepEqual(loaded.getVector(ids[500]!), index.getVector(ids[500]!));
        // The loaded index keeps working.
        loaded.remove(ids.slice(100, 200));
        assert.equal(loaded.size, index.size - 100);
      }
    });

    t('save and load: truncated, altered, foreign and future-version files are refused', () => {
      const index = build('l2');
      const bytes = concat(serializeIndex(index));
      expectError(() => deserializeIndex(bytes.subarray(0, bytes.length - 1)), 'corrupt_file', /truncated/);
      expectError(() => deserializeIndex(bytes.subarray(0, 40)), 'corrupt_file', /truncated/);
      const altered = bytes.slice();
      altered[HEADER_BYTES + Math.floor((altered.length - HEADER_BYTES) / 2)]! ^= 0x10;
      expectError(() => deserializeIndex(altered), 'corrupt_file', /checksum/);
      const foreign = new TextEncoder().encode('{"this is": "a JSON file, not an index"}'.padEnd(200, ' '));
      expectError(() => deserializeIndex(foreign), 'corrupt_file', /not an omnivec file/);
      const future = bytes.slice();
      new DataView(future.buffer).setUint16(8, 99, true);
      expectError(() => deserializeIndex(future), 'unsupported_version', /version 99/);
      const badHeader = bytes.slice();
      badHeader[12]! ^= 1; // dim
      expectError(() => deserializeIndex(badHeader), 'corrupt_file', /header checksum/);
    });

    t('bad input is refused with a typed error and the index is unchanged', () => {
      const index = build('l2');
      const q = rowOf(data.queries, 0);
      const before = index.search(q, k, searchOpts);
      const size = index.size;
      const dim = data.dim;
      const good = (n: number): VectorBatch => ({ data: new Float32Array(n * dim).fill(0.5), dim, count: n });
      expectError(() => index.add([1_000_001], { data: new Float32Array(dim + 1), dim: dim + 1, count: 1 }), 'dimension_mismatch', new RegExp(`expected dimension ${dim}, got ${dim + 1}`));
      const nan = good(2);
      nan.data[dim + 3] = NaN;
      expectError(() => index.add([1_000_001, 1_000_002], nan), 'invalid_argument', /row 1, component 3: expected a finite number, got NaN/);
      const inf = good(1);
      inf.data[0] = -Infinity;
      expectError(() => index.add([1_000_003], inf), 'invalid_argument', /finite number, got -Infinity/);
      expectError(() => index.add([ids[0]!], good(1)), 'already_exists', new RegExp(`id ${ids[0]} is already in the index`));
      expectError(() => index.add([5_000_000, 5_000_000], good(2)), 'already_exists', /appears twice/);
      expectError(() => index.add([-1], good(1)), 'invalid_argument', /ids\[0\]: expected an integer from 0/);
      expectError(() => index.add([1.5], good(1)), 'invalid_argument', /ids\[0\]/);
      expectError(() => index.add([1, 2], good(1)), 'invalid_argument', /one id per vector/);
      expectError(() => index.search(q, 0), 'invalid_argument', /k: expected an integer from 1 to 100000, got the number 0/);
      expectError(() => index.search(q, MAX_K + 1), 'invalid_argument', /k: expected an integer from 1 to 100000, got the number 100001/);
      expectError(() => index.search(q, -3), 'invalid_argument', /k: expected/);
      expectError(() => index.search(q, 2.5), 'invalid_argument', /k: expected/);
      expectError(() => index.search(new Float32Array(dim - 1), k), 'dimension_mismatch', new RegExp(`expected dimension ${dim}, got ${dim - 1}`));
      expectError(() => index.search(new Float32Array(dim).fill(NaN), k), 'invalid_argument', /query.*finite/);
      expectError(() => index.searchBatch({ data: new Float32Array(dim * 2 + 2), dim: dim + 1, count: 2 }, k), 'dimension_mismatch');
      assert.equal(index.size, size, 'size unchanged');
      assert.equal(index.has(1_000_001), false);
      assert.equal(index.has(5_000_000), false);
      assert.deepEqual(index.search(q, k, searchOpts), before, 'results unchanged');

      const empty = opts.create({ dim, metric: 'l2' });
      empty.train(data.base);
      expectError(() => empty.search(q, k), 'empty_index', /empty index/);
      expectError(() => opts.create({ dim, metric: 'hamming' as Metric }), 'invalid_argument', /metric: expected one of "l2", "ip", "cosine", got the string "hamming"/);
      expectError(() => opts.create({ dim: 0, metric: 'l2' }), 'invalid_argument', /dim: expected an integer/);
    });

    t('add reports progress, ending with (total, total)', () => {
      const index = opts.create({ dim: data.dim, metric: 'l2' });
      index.train(data.base);
      const calls: [number, number][] = [];
      index.add(ids, data.base, { onProgress: (done, total) => calls.push([done, total]) });
      assert.ok(calls.length >= 1);
      assert.deepEqual(calls[calls.length - 1], [ids.length, ids.length]);
      for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] >= calls[i - 1]![0], 'progress never goes back');
    });

    t('ids, has and getVector describe the stored vectors', () => {
      const index = build('cosine');
      assert.deepEqual([...index.ids()].sort((a, b) => a - b), [...ids].sort((a, b) => a - b));
      const v = index.getVector(ids[3]!)!;
      const src = rowOf(data.base, 3);
      const norm = Math.hypot(...src);
      for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i]! - src[i]! / norm) < 1e-6, 'stored normalised for cosine');
      assert.equal(index.getVector(999_999_999), undefined);
      const st = index.stats();
      assert.equal(st.size, ids.length);
      assert.equal(st.vectorBytes, ids.length * data.dim * 4);
      assert.ok(st.memoryBytes >= st.vectorBytes);
    });
  });
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
