/**
 * Screened exact scans (screen.ts, docs/kernels.md "Screened exact scans"): the screen's error stays
 * within its bound, `distBlock` does not depend on the tile a pair falls in, and the flat index's
 * screened batch search answers bit for bit as the plain scan (the oracle below: `distBlock` for
 * every pair, each query's heap fed in slot order under the same rule), on duplicates, exact and
 * near ties, far-off data, filters, 1 and 2 threads, and with the plain (unfused) kernels too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Arena } from '../../vector/arena.js';
import { TopK } from '../../vector/heap.js';
import { Random } from '../../vector/random.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import type { BatchSearchResult } from '../types.js';
import { FlatIndex, parallelThresholds } from './flat-index.js';
import { NORM_BYTES, PLAN_HEADER, f32Up, identityPlan, planBytes, screenPlan, screenSlack } from './screen.js';

const saved = { ...parallelThresholds };
before(() => Object.assign(parallelThresholds, { minWork: 0, minPass: 0 }));
after(() => Object.assign(parallelThresholds, saved));

const CODE = { l2: 0, ip: 1, cosine: 2 } as const;

/**
 * Records with the cases the screen must not get wrong: clusters, exact duplicates (runs of the
 * same vector), near ties (a copy with one component moved by one ulp), an `offset` added to
 * everything (norms ≫ distances: the matrix-product form cancels badly), and queries that are
 * stored vectors, copies of each other, or between two records.
 */
function trickyData(seed: number, n: number, nq: number, dim: number, offset: number): { base: Float32Array; queries: Float32Array } {
  const rng = new Random(seed);
  const base = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = i % 7;
    for (let j = 0; j < dim; j++) base[i * dim + j] = offset + (j % 7 === c ? 3 : 0) + 0.5 * rng.gaussian();
  }
  for (let i = 0; i + 6 < n; i += 23) for (let r = 1; r <= 5; r++) base.copyWithin((i + r) * dim, i * dim, (i + 1) * dim); // runs of 6 equal
  for (let i = 11; i < n; i += 31) {
    base.copyWithin(i * dim, (i - 1) * dim, i * dim);
    const f = new Float32Array(1);
    f[0] = base[i * dim]!;
    const u = new Uint32Array(f.buffer);
    u[0]! += 1; // one ulp
    base[i * dim] = f[0]!;
  }
  const queries = new Float32Array(nq * dim);
  for (let q = 0; q < nq; q++) {
    const kind = q % 4;
    const a = (q * 37) % n;
    const b = (q * 53 + 1) % n;
    for (let j = 0; j < dim; j++) {
      const x = base[a * dim + j]!;
      queries[q * dim + j] = kind === 0 ? x : kind === 1 ? queries[(q - 1) * dim + j]! : kind === 2 ? (x + base[b * dim + j]!) / 2 : x + 0.01 * rng.gaussian();
    }
  }
  return { base, queries };
}

/** The plain scan: every pair's `distBlock` distance, each query's heap fed in slot order under `d < worst`. */
function plainOracle(metric: 'l2' | 'ip' | 'cosine', base: Float32Array, ids: Uint32Array, queries: Float32Array, dim: number, k: number,
  allowed?: (id: number) => boolean): BatchSearchResult {
  const n = base.length / dim;
  const nq = queries.length / dim;
  const a = new Arena(4 * (base.length + queries.length + n * 64) + 1024);
  const px = a.alloc(base.length * 4);
  const pq = a.alloc(queries.length * 4);
  const po = a.alloc(n * 64 * 4);
  a.f32.set(base, px >> 2);
  a.f32.set(queries, pq >> 2);
  if (metric === 'cosine') {
    for (let i = 0; i < n; i++) normalizeInPlace(a.f32, (px >> 2) + i * dim, dim);
    for (let i = 0; i < nq; i++) normalizeInPlace(a.f32, (pq >> 2) + i * dim, dim);
  }
  const cap = Math.min(k, n);
  const out: BatchSearchResult = { k, counts: new Uint32Array(nq), ids: new Uint32Array(nq * k), distances: new Float32Array(nq * k).fill(Infinity) } as BatchSearchResult;
  for (let q0 = 0; q0 < nq; q0 += 64) {
    const cnt = Math.min(64, nq - q0);
    a.k.distBlock(CODE[metric], pq + q0 * dim * 4, cnt, dim * 4, px, n, dim * 4, dim, po);
    for (let i = 0; i < cnt; i++) {
      const heap = new TopK(cap);
      for (let j = 0; j < n; j++) {
        const d = a.f32[(po >> 2) + i * n + j]!;
        if (d < heap.worst() && (allowed === undefined || allowed(ids[j]!))) heap.push(ids[j]!, d);
      }
      out.counts[q0 + i] = heap.drainSorted(out.ids, out.distances, (q0 + i) * k);
    }
  }
  return out;
}

function assertSame(want: BatchSearchResult, got: BatchSearchResult, what: string): void {
  assert.deepEqual(Array.from(got.counts), Array.from(want.counts), `${what}: counts`);
  for (let i = 0; i < want.ids.length; i++) {
    if (got.ids[i] !== want.ids[i] || !Object.is(got.distances[i], want.distances[i])) {
      assert.fail(`${what}: entry ${i}: id ${got.ids[i]} at ${got.distances[i]}, the plain scan has id ${want.ids[i]} at ${want.distances[i]}`);
    }
  }
}

test('distBlock gives every pair the same bits wherever it falls in the tiles (= distList)', () => {
  const rng = new Random(3);
  const a = new Arena(1 << 20);
  for (const [nq, nx, dim] of [[9, 7, 131], [4, 2, 8], [5, 11, 3], [1, 1, 1], [8, 9, 64]] as const) {
    const pq = a.alloc(nq * dim * 4);
    const px = a.alloc(nx * dim * 4);
    const po = a.alloc(nq * nx * 4);
    const pl = a.alloc(nx * 4);
    const pd = a.alloc(nx * 4);
    for (let i = 0; i < nq * dim; i++) a.f32[(pq >> 2) + i] = rng.gaussian();
    for (let i = 0; i < nx * dim; i++) a.f32[(px >> 2) + i] = rng.gaussian();
    for (let j = 0; j < nx; j++) a.u32[(pl >> 2) + j] = j;
    for (const code of [0, 1]) {
      a.k.distBlock(code, pq, nq, dim * 4, px, nx, dim * 4, dim, po);
      for (let i = 0; i < nq; i++) {
        a.k.distList(code, pq + i * dim * 4, px, dim * 4, pl, nx, dim, pd);
        for (let j = 0; j < nx; j++) {
          assert.ok(Object.is(a.f32[(po >> 2) + i * nx + j], a.f32[(pd >> 2) + j]), `code ${code} ${nq}×${nx}×${dim} at ${i},${j}`);
        }
      }
    }
    for (const p of [pd, pl, po, px, pq]) a.free(p);
  }
});

test('screenBlock stays within the bound of screenSlack (far-off data: norms ≫ distances)', () => {
  const dim = 67;
  for (const offset of [0, 30, 1000]) {
    const { base, queries } = trickyData(5, 120, 40, dim, offset);
    const a = new Arena(1 << 21);
    const px = a.alloc(base.length * 4);
    const pq = a.alloc(queries.length * 4);
    const xn = a.alloc(120 * NORM_BYTES);
    const qn = a.alloc(40 * NORM_BYTES);
    const po = a.alloc(40 * 120 * 4);
    a.f32.set(base, px >> 2);
    a.f32.set(queries, pq >> 2);
    // The natural order (`identityPlan`) and the data's plan (chunks by decreasing variance).
    const natural = a.alloc(planBytes(dim));
    a.u32.set(identityPlan(dim), natural >> 2);
    const made = screenPlan(a, px, 120, dim * 4, dim);
    const pp = a.alloc(planBytes(dim));
    a.u32.set(made, pp >> 2);
    for (const plan of [natural, pp]) {
    a.k.sqNorms(px, 120, dim * 4, dim, plan, xn);
    a.k.sqNorms(pq, 40, dim * 4, dim, plan, qn);
    let xnMax = 0;
    for (let j = 0; j < 120; j++) xnMax = Math.max(xnMax, a.f32[(xn + j * NORM_BYTES) >> 2]!);
    for (const code of [0, 1]) {
      a.k.screenBlock(code, pq, 40, dim * 4, qn, px, 120, dim * 4, xn, dim, plan, 0, 0, po);
      let worst = 0;
      for (let i = 0; i < 40; i++) {
        const e = screenSlack(dim, a.f32[(qn + i * NORM_BYTES) >> 2]!, xnMax) / 2;
        for (let j = 0; j < 120; j++) {
          let s = 0;
          for (let t = 0; t < dim; t++) {
            const q = queries[i * dim + t]!, x = base[j * dim + t]!;
            s += code === 0 ? (q - x) * (q - x) : q * x;
          }
          const exact = code === 0 ? s : 1 - s;
          const err = Math.abs(a.f32[(po >> 2) + i * 120 + j]! - exact);
          assert.ok(err <= e, `offset ${offset} code ${code} plan ${plan} (${i}, ${j}): error ${err} above the bound ${e}`);
          worst = Math.max(worst, err / e);
        }
      }
      assert.ok(worst > 0 || offset === 0, 'the screen does round');
    }
    }
  }
});

test('screenPlan: the chunks by decreasing variance (a permutation), checkpoints increasing inside the row; none below 64 components', () => {
  const dim = 70; // 17 whole chunks and 2 components after them
  const n = 500;
  const rng = new Random(3);
  // Component d varies with scale (d · 37 mod 70) / 10, around a large offset: the chunks' variances are all different.
  const scale = Array.from({ length: dim }, (_, d) => ((d * 37) % dim) / 10);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) data[i * dim + d] = 50 + scale[d]! * (rng.next() * 2 - 1);
  const a = new Arena(1 << 20);
  const px = a.alloc(data.length * 4);
  a.f32.set(data, px >> 2);
  const plan = screenPlan(a, px, n, dim * 4, dim);
  assert.equal(plan.length * 4, planBytes(dim));
  const chunks = dim >> 2;
  assert.equal(plan[7], chunks);
  const order = Array.from(plan.subarray(PLAN_HEADER / 4, PLAN_HEADER / 4 + chunks), (o) => o / 16);
  assert.deepEqual([...order].sort((x, y) => x - y), Array.from({ length: chunks }, (_, c) => c), 'a permutation of the chunks');
  const chunkScale = (c: number) => scale.slice(4 * c, 4 * c + 4).reduce((s, v) => s + v * v, 0);
  for (let t = 1; t < chunks; t++) assert.ok(chunkScale(order[t - 1]!) > chunkScale(order[t]!), `chunk ${order[t - 1]} before ${order[t]}`);
  const cps = plan[0]!;
  assert.ok(cps >= 3 && cps <= 6, `${cps} checkpoints`);
  for (let c = 0; c < cps; c++) {
    assert.ok(plan[1 + c]! >= 4 && plan[1 + c]! < chunks, `checkpoint ${plan[1 + c]}`);
    if (c > 0) assert.ok(plan[1 + c]! > plan[c]!, 'increasing');
  }
  assert.deepEqual(Array.from(screenPlan(a, px, n, 63 * 4, 63)), Array.from(identityPlan(63)), 'below 64 components: the natural order, no checkpoint');
  assert.equal(identityPlan(63)[0], 0);
  assert.deepEqual(Array.from(identityPlan(63).subarray(8)), Array.from({ length: 15 }, (_, c) => 16 * c));
  // Constant data: the natural order, no checkpoint.
  a.f32.fill(2, px >> 2, (px >> 2) + n * dim);
  const flat = screenPlan(a, px, n, dim * 4, dim);
  assert.equal(flat[0], 0);
  assert.deepEqual(Array.from(flat.subarray(8, 8 + chunks)), Array.from({ length: chunks }, (_, c) => 16 * c));
});

test('screenBlock\'s partial check stops only records that could not be candidates, and does stop some', () => {
  for (const [dim, offset] of [[96, 0], [96, 40], [131, 0]] as const) {
    const n = 300;
    const nq = 37;
    const { base, queries } = trickyData(7, n, nq, dim, offset);
    const a = new Arena(1 << 22);
    const px = a.alloc(base.length * 4);
    const pq = a.alloc(queries.length * 4);
    const xn = a.alloc(n * NORM_BYTES);
    const qn = a.alloc(nq * NORM_BYTES);
    const ql = a.alloc(nq * 4);
    const xl = a.alloc(n * 4);
    const full = a.alloc(nq * n * 4);
    const cut = a.alloc(nq * n * 4);
    a.f32.set(base, px >> 2);
    a.f32.set(queries, pq >> 2);
    const made = screenPlan(a, px, n, dim * 4, dim);
    const cps = made[0]!;
    assert.ok(cps > 0, 'the plan has checkpoints');
    const plan = a.alloc(planBytes(dim));
    a.u32.set(made, plan >> 2);
    a.k.sqNorms(px, n, dim * 4, dim, plan, xn);
    a.k.sqNorms(pq, nq, dim * 4, dim, plan, qn);
    // The records: the norm, then each checkpoint's head norm (its first chunks in the plan's
    // order) and tail norm (not squared).
    for (let j = 0; j < n; j += 37) {
      let full = 0;
      for (let t = 0; t < dim; t++) full += base[j * dim + t]! ** 2;
      const r = (xn + j * NORM_BYTES) >> 2;
      assert.ok(Math.abs(a.f32[r]! - full) <= 1e-5 * full, `norm of ${j}`);
      for (let c = 0; c < cps; c++) {
        let h = 0;
        for (let t = 0; t < made[1 + c]!; t++) for (let e = 0; e < 4; e++) h += base[j * dim + made[PLAN_HEADER / 4 + t]! / 4 + e]! ** 2;
        assert.ok(Math.abs(a.f32[r + 4 + 2 * c]! - h) <= 1e-5 * full, `head ${c} of ${j}`);
        assert.ok(Math.abs(a.f32[r + 5 + 2 * c]! - Math.sqrt(Math.max(0, full - h))) <= 1e-3 * Math.sqrt(full), `tail ${c} of ${j}`);
      }
    }
    let xnMax = 0;
    for (let j = 0; j < n; j++) xnMax = Math.max(xnMax, a.f32[(xn + j * NORM_BYTES) >> 2]!);
    a.k.screenBlock(0, pq, nq, dim * 4, qn, px, n, dim * 4, xn, dim, plan, 0, 0, full);
    const screened = a.f32.slice(full >> 2, (full >> 2) + nq * n);
    // Limits as the scans set them: an admission limit (here the 5th smallest screened value +
    // slack) plus the slack again, rounded up; records get limits of their own (the pairs scan).
    const slack = new Float64Array(nq);
    for (let i = 0; i < nq; i++) {
      slack[i] = screenSlack(dim, a.f32[(qn + i * NORM_BYTES) >> 2]!, xnMax);
      const row = Array.from(screened.subarray(i * n, (i + 1) * n)).sort((x, y) => x - y);
      a.f32[(ql >> 2) + i] = f32Up(row[4]! + 2 * slack[i]!);
    }
    for (let j = 0; j < n; j++) a.f32[(xl >> 2) + j] = j % 5 === 0 ? Infinity : a.f32[(ql >> 2) + (j % nq)]!;
    for (const withX of [false, true]) {
      a.k.screenBlock(0, pq, nq, dim * 4, qn, px, n, dim * 4, xn, dim, plan, ql, withX ? xl : 0, cut);
      let stopped = 0;
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < n; j++) {
          const got = a.f32[(cut >> 2) + i * n + j]!;
          const want = screened[i * n + j]!;
          if (got === Infinity) {
            stopped++;
            const admit = a.f32[(ql >> 2) + i]! - slack[i]!;
            assert.ok(want > admit, `dim ${dim} offset ${offset}: (${i}, ${j}) stopped at ${want}, within the admission limit ${admit}`);
            if (withX) assert.ok(want > a.f32[(xl >> 2) + j]! - slack[i]!, `(${i}, ${j}) stopped within the record's limit`);
          } else {
            assert.ok(Object.is(got, want), `(${i}, ${j}): a tile not stopped gives the full screen's value`);
          }
        }
      }
      assert.ok(stopped > 0, `dim ${dim} offset ${offset}: the check stopped no tile`);
    }
  }
});

test('flat searchBatch, screened: the plain scan\'s answers bit for bit (ties, duplicates, far-off data, filters, 1 and 2 threads)', () => {
  for (const dim of [45, 96, 133]) {
  const n = 700;
  for (const offset of [0, 200]) {
    const { base, queries } = trickyData(9, n, 150, dim, offset);
    const ids = Uint32Array.from({ length: n }, (_, i) => (i * 7919) % 100_003); // not in slot order: ties break by id
    for (const metric of ['l2', 'ip', 'cosine'] as const) {
      const index = new FlatIndex({ dim, metric, threads: 1 });
      index.add(ids, { data: base, dim, count: n });
      const batch = { data: queries, dim, count: queries.length / dim };
      for (const k of [1, 6, 40]) {
        const want = plainOracle(metric, base, ids, queries, dim, k);
        for (const threads of [1, 2]) assertSame(want, index.searchBatch(batch, k, { threads }), `${metric} offset ${offset} k ${k} threads ${threads}`);
      }
      const allow = Array.from(ids).filter((id) => id % 3 !== 1);
      const set = new Set(allow);
      const want = plainOracle(metric, base, ids, queries, dim, 6, (id) => set.has(id));
      for (const threads of [1, 2]) assertSame(want, index.searchBatch(batch, 6, { allow, threads }), `${metric} allow-list threads ${threads}`);
    }
  }
  }
});

test('the same with the plain (unfused) kernels: OMNIVEC_WASM_RELAXED=0 in a child process', () => {
  if (process.env.OMNIVEC_WASM_RELAXED === '0') return; // this is the child
  const env: NodeJS.ProcessEnv = { ...process.env, OMNIVEC_WASM_RELAXED: '0' };
  delete env.NODE_TEST_CONTEXT; // the child reports as a plain run (TAP on stdout), not to this runner
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter', 'tap', '--test-name-pattern', 'screened|bound|relaxed build|partial check', fileURLToPath(import.meta.url)], {
    env, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /# pass [1-9]/);
  assert.match(r.stdout, /# fail 0/);
});

test('the relaxed build is chosen where the engine validates it, and OMNIVEC_WASM_RELAXED=0 turns it off', () => {
  assert.equal(Arena.relaxedKernels(), process.env.OMNIVEC_WASM_RELAXED !== '0');
});

test('flat searchBatch, screened: queries tied with more records than a screen holds (its lists overflow) get the plain scan\'s answers', () => {
  const dim = 72;
  const n = 500;
  const rng = new Random(4);
  const base = new Float32Array(n * dim);
  // 300 copies of one vector: a query equal to it ties with all of them beyond a screen's 3k + 32.
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) base[i * dim + j] = i < 300 ? (j % 4) * 0.5 : rng.gaussian();
  const queries = new Float32Array(70 * dim);
  for (let q = 0; q < 70; q++) for (let j = 0; j < dim; j++) queries[q * dim + j] = q % 2 === 0 ? base[j]! : base[(350 + q) * dim + j]! + 0.01 * rng.gaussian();
  const ids = Uint32Array.from({ length: n }, (_, i) => (i * 7919) % 100_003);
  const index = new FlatIndex({ dim, metric: 'l2', threads: 1 });
  index.add(ids, { data: base, dim, count: n });
  const batch = { data: queries, dim, count: 70 };
  for (const k of [2, 7]) {
    const want = plainOracle('l2', base, ids, queries, dim, k);
    for (const threads of [1, 2]) assertSame(want, index.searchBatch(batch, k, { threads }), `k ${k} threads ${threads}`);
  }
});
