/**
 * A closed-loop HTTP load generator for bench:server: `concurrency` clients on keep-alive
 * connections, each sending its next request as soon as the previous answer is read in full.
 * Bounded by time and by count; latency is measured per request from write to the last byte.
 */
import { Agent, request } from 'node:http';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** The body of request i (JSON text); none for GET. */
  body?: (i: number) => string;
  concurrency: number;
  /** Stop after this many seconds … */
  seconds: number;
  /** … or this many requests, whichever comes first. */
  maxRequests: number;
  /** Requests sent (and not counted) before timing starts, to warm the server. */
  warmup?: number;
  /** Called on every answer: throw to report a wrong answer (counted as an error). */
  check?: (status: number, body: Buffer) => void;
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One HTTP request on a keep-alive agent: the status and the whole body (bench:server's load generators). */
export function httpRequest(agent: Agent, u: URL, method: string, payload: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(u, {
      agent, method,
      headers: { ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function once(agent: Agent, u: URL, o: LoadOptions, i: number): Promise<{ status: number; body: Buffer }> {
  const payload = o.body?.(i);
  return httpRequest(agent, u, o.method ?? (payload === undefined ? 'GET' : 'POST'), payload, o.headers);
}

/** The q-quantile of ascending samples (NaN when there are none). */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const u = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  try {
    let next = 0;
    const warm = o.warmup ?? o.concurrency * 4;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (next < warm) await once(agent, u, o, next++);
    }));
    const latencies = new Float64Array(o.maxRequests);
    let done = 0;
    let errors = 0;
    let firstError: string | undefined;
    let sent = 0;
    const start = performance.now();
    const deadline = start + o.seconds * 1000;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (sent < o.maxRequests && performance.now() < deadline) {
        const i = sent++;
        const t0 = performance.now();
        try {
          const r = await once(agent, u, o, warm + i);
          if (o.check !== undefined) o.check(r.status, r.body);
          else if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString('utf8', 0, 200)}`);
        } catch (e) {
          errors++;
          firstError ??= (e as Error).message;
        }
        latencies[done++] = performance.now() - t0;
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    const sorted = latencies.subarray(0, done).sort();
    return {
      requests: done, errors, firstError, seconds, rps: done / seconds,
      p50Ms: quantile(sorted, 0.5), p90Ms: quantile(sorted, 0.9), p99Ms: quantile(sorted, 0.99), maxMs: sorted[done - 1] ?? NaN,
    };
  } finally {
    agent.destroy();
  }
}
