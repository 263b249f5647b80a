/**
 * A collection's maintenance (docs/db.md, "Verify and compact"): verify the records, the store's
 * own indexes, the snapshots and the cached index against the records; find stored vectors that are
 * not finite (docs/hardening.md §2); measure the index's recall against exact search.
 */
import { FlatIndex } from '../indexes/flat/flat-index.js';
import { loadIndex } from '../indexes/registry.js';
import type { Metric } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { Random } from '../vector/random.js';
import { OmnivecError } from '../errors.js';
import type { IndexCache } from './index-cache.js';
import { listSnapshots } from './snapshots.js';
import type { CollectionRecords, Fields, StoredRecord } from './store/types.js';
import type { CompactOptions, CompactReport, EvaluateOptions, EvaluateReport, VerifyReport } from './types.js';

export interface MaintenanceContext {
  name: string;
  cid: number;
  dim: number;
  indexDim: number;
  metric: Metric;
  /** Where snapshots live (the embedded store); undefined: none to check. */
  indexDir: string | undefined;
  /** The store searches vectors itself: no index cache to check or rebuild. */
  native: boolean;
  records: CollectionRecords;
  cache: IndexCache;
  head(): { seq: number; tombFloor: number };
}

/** Records scanned per page. */
const PAGE = 4096;

function finite(v: Float32Array): boolean {
  for (let j = 0; j < v.length; j++) { const x = v[j]!; if (x - x !== 0) return false; }
  return true;
}

/** True when a stored vector is `dim` finite values. */
export function isValidVector(v: Float32Array | undefined, dim: number): boolean {
  return v !== undefined && v.length === dim && finite(v);
}

/** Every stored record, a page at a time, in slot order. */
export async function* scanAll(records: CollectionRecords, fields: Fields): AsyncGenerator<StoredRecord> {
  let after = -1;
  for (;;) {
    const page = await records.scan(after, PAGE, fields);
    yield* page;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.slot;
  }
}

/** The records whose stored vector is not `dim` finite float32 values. */
export async function findInvalid(records: CollectionRecords, dim: number): Promise<{ slot: number; id: string }[]> {
  const out: { slot: number; id: string }[] = [];
  for await (const r of scanAll(records, { vector: true })) if (!isValidVector(r.vector, dim)) out.push({ slot: r.slot, id: r.id });
  return out;
}

/** Checks the store's data, the snapshots and the index against the records. */
export async function verifyCollection(c: MaintenanceContext): Promise<VerifyReport> {
  const problems: string[] = [];
  const { seq, tombFloor } = c.head();
  let index = c.native ? undefined : await c.cache.current(seq, tombFloor);
  if (!c.native) {
    // The snapshot's payload check runs after its load: wait for it (a failure drops the index, which is then derived from the records).
    await c.cache.checked();
    index = await c.cache.current(seq, tombFloor);
  }
  problems.push(...c.cache.loadProblems);
  problems.push(...await c.records.check());
  let records = 0;
  const invalid: string[] = [];
  const d = c.indexDim;
  const tmp = new Float32Array(d);
  const repair = 'not indexed; delete it, or upsert it with a finite vector (omnivec compact --drop-invalid deletes every such record)';
  for await (const r of scanAll(c.records, { vector: true })) {
    records++;
    const v = r.vector!;
    if (r.vectorProblem !== undefined) {
      invalid.push(r.id);
      problems.push(`record ${JSON.stringify(r.id)} (slot ${r.slot}): ${r.vectorProblem} (${repair})`);
      continue;
    }
    if (v.length !== c.dim) {
      invalid.push(r.id);
      problems.push(`record ${JSON.stringify(r.id)}: vector has ${v.length * 4} bytes, expected ${c.dim * 4} (${repair})`);
      continue;
    }
    if (!finite(v)) {
      invalid.push(r.id);
      problems.push(`record ${JSON.stringify(r.id)}: vector holds a non-finite value (${repair})`);
      continue;
    }
    if (index === undefined) continue; // the store's own index is the store's to check
    const got = index.getVector(r.slot);
    if (got === undefined) { problems.push(`record ${JSON.stringify(r.id)} (slot ${r.slot}) is missing from the index`); continue; }
    tmp.set(v.subarray(0, d));
    if (c.metric === 'cosine') normalizeInPlace(tmp);
    let diff = 0;
    for (let j = 0; j < d; j++) diff = Math.max(diff, Math.abs(tmp[j]! - got[j]!));
    if (diff > 1e-5) problems.push(`record ${JSON.stringify(r.id)} (slot ${r.slot}): the index holds another vector (max difference ${diff})`);
    if (problems.length > 100) { problems.push('… stopped after 100 problems'); break; }
  }
  if (index !== undefined && problems.length <= 100 && index.size !== records - invalid.length) {
    problems.push(`the index holds ${index.size} vectors, the records ${records - invalid.length} valid ones`);
  }
  let snapshots = 0;
  if (c.indexDir !== undefined) {
    for (const s of (await listSnapshots(c.indexDir)).filter((f) => f.cid === c.cid)) {
      snapshots++;
      if (s.seq > seq) problems.push(`${s.path}: names change ${s.seq}, beyond the last committed change ${seq}`);
      try {
        await loadIndex(s.path, { vectors: c.records.externalVectors?.() });
      } catch (e) {
        problems.push(`${s.path}: ${(e as Error).message}`);
      }
    }
  }
  return { ok: problems.length === 0, checked: { records, indexed: index?.size ?? records - invalid.length, snapshots }, problems, invalid };
}

/**
 * Recall@k of the index against exact search, on `sample` of the collection's own vectors as
 * queries (seeded), with both query rates.
 */
export async function evaluateIndex(c: MaintenanceContext, k: number, sampleWanted: number, options: EvaluateOptions): Promise<EvaluateReport> {
  if (c.native) return evaluateNative(c, k, sampleWanted, options);
  const { seq, tombFloor } = c.head();
  const index = await c.cache.current(seq, tombFloor);
  const n = index.size;
  if (n === 0) throw new OmnivecError('empty_index', `evaluate: collection "${c.name}" is empty`);
  const sample = Math.min(n, sampleWanted);
  const slots = index.ids();
  new Random(options.seed ?? 7).shuffle(slots);
  const pick = slots.subarray(0, sample);
  const d = c.indexDim;
  const vectors = new Map<number, Float32Array>();
  for (const r of await c.records.bySlots(pick, { vector: true })) vectors.set(r.slot, r.vector!);
  const qs = new Float32Array(sample * d);
  pick.forEach((s, i) => qs.set(vectors.get(s)!.subarray(0, d), i * d));
  const queries: VectorBatch = { data: qs, dim: d, count: sample };
  const exact = new FlatIndex({ dim: d, metric: c.metric });
  for await (const chunk of c.records.vectors(undefined, 8192)) {
    const keep: number[] = [];
    for (let i = 0; i < chunk.count; i++) if (finite(chunk.data.subarray(i * c.dim, (i + 1) * c.dim))) keep.push(i);
    const data = new Float32Array(keep.length * d);
    keep.forEach((i, j) => data.set(chunk.data.subarray(i * c.dim, i * c.dim + d), j * d));
    if (keep.length > 0) exact.add(Uint32Array.from(keep, (i) => chunk.slots[i]!), { data, dim: d, count: keep.length });
  }
  let t0 = performance.now();
  const truth = exact.searchBatch(queries, k);
  const exactMs = performance.now() - t0;
  t0 = performance.now();
  let hits = 0;
  let total = 0;
  for (let i = 0; i < sample; i++) {
    const res = index.search(qs.subarray(i * d, (i + 1) * d), k, { efSearch: options.efSearch, nProbe: options.nProbe, rescore: options.rescore });
    const want = new Set(truth.ids.subarray(i * k, i * k + truth.counts[i]!));
    total += want.size;
    for (const s of res.ids) if (want.has(s)) hits++;
  }
  const indexMs = performance.now() - t0;
  return { k, sample, recall: total === 0 ? 1 : hits / total, indexQps: sample / (indexMs / 1000), exactQps: sample / (exactMs / 1000), indexKind: index.kind };
}

/**
 * Rewrites the store's vector file without holes when it keeps one (renumbering the slots: the
 * caller's caches keyed by slot are void, `onRenumber`), then rebuilds the index from the records
 * (no tombstones, a fresh graph) at the collection's change number; records whose stored vector is not finite stay out and are listed, or with `dropInvalid`
 * are deleted first (one write: `onDelete` gets its change number and the slots). The caller holds
 * the writer mutex and snapshots afterwards.
 */
export async function compactCollection(c: MaintenanceContext, options: CompactOptions, onDelete: (seq: number, slots: number[]) => void,
  onRenumber: (seq: number) => void): Promise<CompactReport> {
  const invalid = await findInvalid(c.records, c.dim);
  const dropped: string[] = [];
  if (options.dropInvalid === true && invalid.length > 0) {
    const slots = invalid.map((x) => x.slot);
    const seq = await c.records.write(async (w) => {
      await w.deleteSlots(slots);
      return w.seq;
    });
    onDelete(seq, slots);
    dropped.push(...invalid.map((x) => x.id));
  }
  // The vector file without holes (the embedded store): slots renumbered in one change, after which only a rebuilt index is valid.
  const rowsBefore = c.records.vectorFileStats?.().rows;
  const renumbered = await c.records.compactVectors?.();
  if (renumbered !== undefined) onRenumber(renumbered);
  const count = await c.records.count();
  // A store that searches itself rebuilds its own index (the database's reclaim step).
  const indexed = c.native ? count - (dropped.length > 0 ? 0 : invalid.length) : (await c.cache.rebuild(c.head().seq, count, options.onProgress)).size;
  const report: CompactReport = { records: count, indexed, invalid: dropped.length > 0 ? [] : invalid.map((x) => x.id), dropped };
  if (renumbered !== undefined && rowsBefore !== undefined) report.vectorRows = { before: rowsBefore, after: count };
  return report;
}

/** Recall of a store's own vector search against its exact search, on a seeded sample of its own vectors. */
async function evaluateNative(c: MaintenanceContext, k: number, sampleWanted: number, options: EvaluateOptions): Promise<EvaluateReport> {
  const nearest = c.records.nearest!.bind(c.records);
  const all: { slot: number; vector: Float32Array }[] = [];
  for await (const r of scanAll(c.records, { vector: true })) if (isValidVector(r.vector, c.dim)) all.push({ slot: r.slot, vector: r.vector! });
  if (all.length === 0) throw new OmnivecError('empty_index', `evaluate: collection "${c.name}" is empty`);
  const sample = Math.min(all.length, sampleWanted);
  const order = Uint32Array.from(all, (_, i) => i);
  new Random(options.seed ?? 7).shuffle(order);
  const queries = Array.from(order.subarray(0, sample), (i) => all[i]!.vector);
  let t0 = performance.now();
  const truth: Uint32Array[] = [];
  for (const q of queries) truth.push((await nearest(q, k, {}, { exact: true })).slots);
  const exactMs = performance.now() - t0;
  t0 = performance.now();
  let hits = 0;
  let total = 0;
  for (let i = 0; i < sample; i++) {
    const res = await nearest(queries[i]!, k, {}, { efSearch: options.efSearch, nProbe: options.nProbe });
    const want = new Set(truth[i]!);
    total += want.size;
    for (const s of res.slots) if (want.has(s)) hits++;
  }
  const indexMs = performance.now() - t0;
  return { k, sample, recall: total === 0 ? 1 : hits / total, indexQps: sample / (indexMs / 1000), exactQps: sample / (exactMs / 1000), indexKind: 'store' };
}
