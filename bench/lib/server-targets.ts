/**
 * bench:server's two responsiveness targets (issue 17), measured against a running server:
 *
 * 1. While a LOF task over 30,000 × 64 runs on the server, `/healthz` and a k = 10 query keep
 *    p99 ≤ 50 ms (one closed-loop client each, for as long as the task runs).
 * 2. Under a mixed load on 50,000 × 64 (8 clients: 2 vector-only, 2 filtered, 2 vector + full-text
 *    queries, 2 writers), vector-only queries keep p99 ≤ 20 ms.
 *
 * Streams: several kinds of request at once, each with its own clients and latencies, until a
 * deadline or until a promise settles.
 */
import { Agent } from 'node:http';
import { httpRequest, quantile } from './load.js';
import { openDatabase } from '../../src/db/database.js';
import { Random } from '../../src/vector/random.js';
import type { BenchDataset } from './datasets.js';

export interface Stream {
  name: string;
  clients: number;
  path: string;
  /** The JSON body of request i; GET without. */
  body?: (i: number) => string;
  /** Throws on a wrong answer. */
  check?: (status: number, body: Buffer) => void;
}

export interface StreamResult {
  name: string;
  clients: number;
  requests: number;
  errors: number;
  firstError?: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function send(agent: Agent, u: URL, payload: string | undefined): Promise<{ status: number; body: Buffer }> {
  return httpRequest(agent, u, payload === undefined ? 'GET' : 'POST', payload);
}

/** Runs the streams until `until` settles or `seconds` pass, whichever is first. */
export async function runStreams(base: string, streams: readonly Stream[], seconds: number, until?: Promise<unknown>): Promise<StreamResult[]> {
  let stop = false;
  const timer = setTimeout(() => { stop = true; }, seconds * 1000);
  void until?.finally(() => { stop = true; });
  const start = performance.now();
  try {
    return await Promise.all(streams.map(async (s) => {
      const agent = new Agent({ keepAlive: true, maxSockets: s.clients });
      const u = new URL(base + s.path);
      const lat: number[] = [];
      let errors = 0;
      let firstError: string | undefined;
      let i = 0;
      await Promise.all(Array.from({ length: s.clients }, async () => {
        while (!stop) {
          const t0 = performance.now();
          try {
            const r = await send(agent, u, s.body?.(i++));
            if (s.check !== undefined) s.check(r.status, r.body);
            else if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString('utf8', 0, 200)}`);
          } catch (e) {
            errors++;
            firstError ??= (e as Error).message;
          }
          lat.push(performance.now() - t0);
        }
      }));
      agent.destroy();
      const sorted = Float64Array.from(lat).sort();
      const secs = (performance.now() - start) / 1000;
      return {
        name: s.name, clients: s.clients, requests: lat.length, errors, firstError, rps: lat.length / secs,
        p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? NaN,
      };
    }));
  } finally {
    clearTimeout(timer);
  }
}

/** A word list for the mixed load's documents: `the` is in every document (the full-text term that matches all). */
export const WORDS = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}`);

/** Document i: "the" and 12 seeded words (Zipf-ish: low word numbers are common). */
export function mixedDocument(rng: Random): string {
  const words = ['the'];
  for (let t = 0; t < 12; t++) words.push(WORDS[Math.floor(WORDS.length * rng.next() ** 3)]!);
  return words.join(' ');
}

/** Builds the two target collections in `dir` before the server opens it: `lof` (HNSW, l2) and `mixed` (HNSW, l2, documents and metadata). */
export async function buildTargetCollections(dir: string, lof: BenchDataset, lofN: number, mixed: BenchDataset, mixedN: number, log: (s: string) => void): Promise<void> {
  const db = await openDatabase(dir);
  try {
    const dim = lof.dim;
    log(`building 'lof': ${lofN} × ${dim}, HNSW`);
    const a = await db.createCollection({ name: 'lof', dim, metric: 'l2', index: { kind: 'hnsw' } });
    await a.add({ ids: Array.from({ length: lofN }, (_, i) => `l${i}`), vectors: lof.base.data.subarray(0, lofN * dim) });
    await a.flush();
    log(`building 'mixed': ${mixedN} × ${mixed.dim}, HNSW, documents and metadata`);
    const b = await db.createCollection({ name: 'mixed', dim: mixed.dim, metric: 'l2', index: { kind: 'hnsw' } });
    const rng = new Random(17);
    for (let from = 0; from < mixedN; from += 10_000) {
      const n = Math.min(10_000, mixedN - from);
      await b.add({
        ids: Array.from({ length: n }, (_, i) => `m${from + i}`),
        vectors: mixed.base.data.subarray(from * mixed.dim, (from + n) * mixed.dim),
        documents: Array.from({ length: n }, () => mixedDocument(rng)),
        metadatas: Array.from({ length: n }, (_, i) => ({ cat: (from + i) % 10, user: `u${(from + i) % 1000}` })),
      });
    }
    await b.flush();
  } finally {
    await db.close();
  }
}
