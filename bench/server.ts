/**
 * bench:server — the HTTP server under load on loopback, beside the same work done in-process
 * through the library in the same run (the ceiling the server's HTTP + JSON layer is measured
 * against). `npm run bench:server [-- options]`; writes bench/results/server.{md,json} and the
 * server section of BENCHMARKS.md (not with --quick). Method: docs/benchmarks.md.
 *
 * The server runs in a child process (bench/lib/server-child.ts); the load generator
 * (bench/lib/load.ts) runs here: closed loop, keep-alive, bounded by time and count.
 *
 * Then issue 17's two targets (bench/lib/server-targets.ts), printed beside them: while a LOF task
 * over 30,000 × 64 runs, /healthz and a k = 10 query p99 ≤ 50 ms; under a mixed load on
 * 50,000 × 64, vector-only p99 ≤ 20 ms. For comparison: the reads without the writers, the same
 * with the scans on the server's thread (`scanThreads: 0`), and LOF on the server's own thread (`taskWorkers: 0`).
 */
import { spawn, execSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { openDatabase } from '../src/db/database.js';
import { readStsSentences } from '../src/encoders/sif/index.js';
import { createTextEncoder } from '../src/encoders/onnx/text-encoder.js';
import { syntheticClusters } from './lib/datasets.js';
import { deriveVocabulary, wordPieceTokenizerJson, writeBenchModel } from './lib/encode-models.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { log } from './lib/measure.js';
import { updateBenchmarksMd } from './lib/report.js';
import { buildTargetCollections, mixedDocument, runStreams, WORDS, type Stream, type StreamResult } from './lib/server-targets.js';
import { Random } from '../src/vector/random.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    records: { type: 'string' },
    dim: { type: 'string', default: '128' },
    data: { type: 'string', default: '/work/shared/data' },
    'lof-records': { type: 'string' },
    'mixed-records': { type: 'string' },
    'targets-only': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`npm run bench:server [-- options]
  --quick          3 s per scenario, 5,000 records; writes bench/results/server-quick.*, not BENCHMARKS.md
  --seconds N      seconds per scenario (default 8; each also stops at 200,000 requests)
  --records N      vectors in the query collection (default 20,000)
  --dim D          their dimension (default 128)
  --data DIR       shared data: sts-benchmark/ gives the sentences and the text model's vocabulary
  --lof-records N  the LOF target's collection (default 30,000 × 64; --quick 10,000)
  --mixed-records N  the mixed-load target's collection (default 50,000 × 64; --quick 10,000)
  --targets-only   only the two responsiveness targets (no throughput scenarios); not written to BENCHMARKS.md
`);
  process.exit(0);
}
const quick = args.quick!;
const seconds = Number(args.seconds ?? (quick ? 3 : 8));
const records = Number(args.records ?? (quick ? 5000 : 20_000));
const dim = Number(args.dim);
const MAX_REQUESTS = 200_000;
const lofRecords = Number(args['lof-records'] ?? (quick ? 10_000 : 30_000));
const mixedRecords = Number(args['mixed-records'] ?? (quick ? 10_000 : 50_000));
const targetsOnly = args['targets-only']!;
const TARGET_DIM = 64;
/** Issue 17's targets (ms). */
const TARGET_LOF_P99 = 50;
const TARGET_MIXED_P99 = 20;

interface TargetRow {
  what: string;
  measured: number;
  /** The target, or undefined for a row printed for comparison. */
  target?: number;
  note: string;
}

interface Row {
  scenario: string;
  concurrency: number;
  server: LoadResult;
  /** Same work, in-process through the library, one caller: items per second. */
  inProcess?: number;
  /** What one request carries (for per-item rates). */
  itemsPerRequest: number;
  note: string;
}

function f(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';
}

/** Runs `fn` back to back for `secs` seconds (after a short warm-up); calls per second. */
async function inProcessRate(secs: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn(i);
  let n = 0;
  const start = performance.now();
  const end = start + secs * 1000;
  while (performance.now() < end && n < MAX_REQUESTS) await fn(20 + n++);
  return n / ((performance.now() - start) / 1000);
}

async function startServer(dir: string, encoders: string[], env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/server-child.ts', dir, ...encoders], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
    lines.once('line', resolve);
  });
  return { url, child };
}

async function main(): Promise<void> {
  const started = performance.now();
  const load0 = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), 'omnivec-bench-server-'));
  const dbDir = join(tmp, 'db');
  const rows: Row[] = [];
  const targets: TargetRow[] = [];
  let mixedStreams: StreamResult[] = [];
  let mixedAlone: StreamResult | undefined;
  const notes: string[] = [];
  let child: ChildProcess | undefined;
  try {
    // 1. The query collection: seeded clustered vectors, HNSW.
    const ds = syntheticClusters('clusters', records, 1000, dim);
    {
      const db = await openDatabase(dbDir);
      const c = await db.createCollection({ name: 'vectors', dim, metric: 'l2', index: { kind: 'hnsw' } });
      const ids = Array.from({ length: records }, (_, i) => `v${i}`);
      log(`building 'vectors': ${records} × ${dim}, HNSW`);
      await c.add({ ids, vectors: ds.base.data.subarray(0, records * dim) });
      await c.flush();
      await db.close();
    }
    // The targets' collections: 'lof' (the LOF task's) and 'mixed' (the mixed load's).
    const lofData = syntheticClusters('lof', lofRecords, 200, TARGET_DIM, 20, 5);
    const mixedData = syntheticClusters('mixed', mixedRecords, 200, TARGET_DIM, 50, 6);
    await buildTargetCollections(dbDir, lofData, lofRecords, mixedData, mixedRecords, log);
    const queries: number[][] = [];
    const queriesB64: string[] = [];
    for (let q = 0; q < ds.queries.count; q++) {
      const v = ds.queries.data.subarray(q * dim, (q + 1) * dim);
      queries.push(Array.from(v));
      queriesB64.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'));
    }

    // 2. The text model (bench:encode's ffn-384: 4 residual blocks, 384-d) over STS-B sentences.
    const sts = join(args.data!, 'sts-benchmark');
    let model: string | undefined;
    let sentences: string[] = [];
    if (existsSync(sts)) {
      const train = await readStsSentences(sts, ['train']);
      sentences = await readStsSentences(sts);
      const vocab = deriveVocabulary(train, sentences);
      model = (await writeBenchModel(join(tmp, 'models'), 'ffn-384', vocab, wordPieceTokenizerJson(vocab))).dir;
    } else {
      notes.push(`${sts} is missing: the /v1/embeddings and text-query scenarios were skipped (--data DIR)`);
    }

    // 3. The server in its own process.
    const started2 = await startServer(dbDir, model !== undefined ? [`ffn=${model}`] : []);
    child = started2.child;
    const url = started2.url;
    log(`server at ${url}`);
    const post = (path: string, body: unknown): Promise<Response> => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const checkJson = (want: (j: Record<string, unknown>) => boolean) => (status: number, body: Buffer): void => {
      if (status !== 200) throw new Error(`HTTP ${status}: ${body.toString('utf8', 0, 300)}`);
      if (!want(JSON.parse(body.toString('utf8')) as Record<string, unknown>)) throw new Error(`unexpected answer: ${body.toString('utf8', 0, 300)}`);
    };
    const tenHits = checkJson((j) => Array.isArray(j.ids) && j.ids.length === 10);

    // Read-only peer database: reads follow the server's commits without taking the lock.
    const peerDb = await openDatabase(dbDir, { readOnly: true });
    const peer = await peerDb.getCollection('vectors');

    const run = async (scenario: string, concurrency: number, itemsPerRequest: number, note: string,
      o: Omit<Parameters<typeof runLoad>[0], 'concurrency' | 'seconds' | 'maxRequests'>, inProcess?: () => Promise<number>): Promise<void> => {
      log(`${scenario}: ${concurrency} clients, ${seconds} s`);
      const server = await runLoad({ ...o, concurrency, seconds, maxRequests: MAX_REQUESTS });
      if (server.errors > 0) throw new Error(`${scenario}: ${server.errors} wrong answers, first: ${server.firstError}`);
      const ip = inProcess === undefined ? undefined : await inProcess();
      rows.push({ scenario, concurrency, server, inProcess: ip, itemsPerRequest, note });
      log(`  ${f(server.rps)} req/s, p50 ${f(server.p50Ms, 2)} ms, p99 ${f(server.p99Ms, 2)} ms${ip !== undefined ? `; in-process ${f(ip)} /s` : ''}`);
    };

    if (!targetsOnly) {
    await run('GET /healthz', 8, 1, 'HTTP ceiling: the smallest route', { url: url + '/healthz' });
    const queryInProcess = (): Promise<number> => inProcessRate(seconds, (i) => peer.query({ vector: queries[i % queries.length]!, k: 10 }));
    for (const concurrency of [1, 8]) {
      await run('POST /query (vector, JSON numbers)', concurrency, 1, `k = 10 of ${records} × ${dim} (HNSW, efSearch 64); in-process = Collection.query`, {
        url: `${url}/api/collections/vectors/query`, body: (i) => JSON.stringify({ vector: queries[i % queries.length], k: 10 }), check: tenHits,
      }, concurrency === 1 ? queryInProcess : undefined);
    }
    // The same queries through the Chroma-compatible route (docs/chroma.md), same collection and clients:
    // Chroma's body and answer shape (a batch of one). The ratio to omnivec's own
    // route comes from paired runs (1 s of each, alternating, 5 rounds; the median of the per-round
    // ratios), so the load others put on the machine weighs on both sides alike.
    {
      const got = await fetch(`${url}/api/v2/tenants/default_tenant/databases/default_database/collections/vectors`);
      if (got.status !== 200) throw new Error(`chroma: get collection: HTTP ${got.status} ${await got.text()}`);
      const chromaId = ((await got.json()) as { id: string }).id;
      const chromaTen = checkJson((j) => Array.isArray(j.ids) && Array.isArray(j.ids[0]) && (j.ids[0] as unknown[]).length === 10);
      const ownLoad = { url: `${url}/api/collections/vectors/query`, body: (i: number) => JSON.stringify({ vector: queries[i % queries.length], k: 10 }), check: tenHits };
      const chromaLoad = {
        url: `${url}/api/v2/tenants/default_tenant/databases/default_database/collections/${chromaId}/query`,
        // Chroma's default include (metadatas, documents, distances): the same fields omnivec's /query returns by default.
        body: (i: number) => JSON.stringify({ query_embeddings: [queries[i % queries.length]], n_results: 10 }), check: chromaTen,
      };
      for (const concurrency of [1, 8]) {
        await run('POST /api/v2/…/query (Chroma, JSON numbers)', concurrency, 1, 'the same k = 10 queries through the Chroma route', chromaLoad);
        const ratios: number[] = [];
        for (let round = 0; round < 5; round++) {
          const a = await runLoad({ ...ownLoad, concurrency, seconds: 1, maxRequests: MAX_REQUESTS });
          const b = await runLoad({ ...chromaLoad, concurrency, seconds: 1, maxRequests: MAX_REQUESTS });
          if (a.errors + b.errors > 0) throw new Error(`chroma paired run: ${a.errors + b.errors} wrong answers, first: ${a.firstError ?? b.firstError}`);
          ratios.push(b.rps / a.rps);
        }
        ratios.sort((x, y) => x - y);
        const ratio = `${f(ratios[2]!, 2)}× /query's req/s, paired`;
        const last = rows[rows.length - 1]!;
        last.scenario += ` (${ratio})`;
        last.note += ` (${ratio}: median of 5 alternating 1 s rounds, range ${f(ratios[0]!, 2)}–${f(ratios[4]!, 2)}×)`;
        log(`  Chroma route ÷ omnivec's own route at ${concurrency} client${concurrency > 1 ? 's' : ''}: ${ratio} (rounds ${ratios.map((r) => f(r, 2)).join(', ')})`);
      }
    }
    await run('POST /query (vector, base64)', 8, 1, 'the same, the vector as base64 float32', {
      url: `${url}/api/collections/vectors/query`, body: (i) => JSON.stringify({ vector: queriesB64[i % queries.length], k: 10 }), check: tenHits,
    });
    await run('POST /query (by id)', 8, 1, 'neighbours of a stored record', {
      url: `${url}/api/collections/vectors/query`, body: (i) => JSON.stringify({ id: `v${(i * 7919) % records}`, k: 10 }), check: tenHits,
    });

    // Writes: batches of 100 new records into their own collection.
    {
      const r = await post('/api/collections', { name: 'writes', dim, metric: 'l2' });
      if (r.status !== 201) throw new Error(`create writes: HTTP ${r.status} ${await r.text()}`);
      const batch = 100;
      const body = (i: number): string => JSON.stringify({
        ids: Array.from({ length: batch }, (_, j) => `w${i}-${j}`),
        vectors: Array.from({ length: batch }, (_, j) => queriesB64[(i * batch + j) % queries.length]),
      });
      const writeDb = await openDatabase(join(tmp, 'peer-writes'));
      const wc = await writeDb.createCollection({ name: 'writes', dim, metric: 'l2' });
      const vec = new Float32Array(batch * dim);
      const writesInProcess = (): Promise<number> => inProcessRate(seconds, async (i) => {
        for (let j = 0; j < batch; j++) vec.set(ds.queries.data.subarray(((i * batch + j) % queries.length) * dim, ((i * batch + j) % queries.length + 1) * dim), j * dim);
        await wc.add({ ids: Array.from({ length: batch }, (_, j) => `w${i}-${j}`), vectors: vec });
      });
      await run('POST /add (100 records)', 2, batch, 'batches of 100 new vectors (base64), each acknowledged after its commit (fsync); in-process = Collection.add of the same batches', {
        url: `${url}/api/collections/writes/add`, body, check: checkJson((j) => j.count === batch),
      }, async () => (await writesInProcess()) * batch);
      await writeDb.close();
      const n = (await (await fetch(`${url}/api/collections/writes/count`)).json()) as { count: number };
      const acknowledged = rows.at(-1)!.server.requests * batch;
      if (n.count < acknowledged) throw new Error(`writes: ${acknowledged} acknowledged, ${n.count} stored`);
      notes.push(`writes: every acknowledged record was stored (${n.count.toLocaleString('en-US')} counted after the run, ${acknowledged.toLocaleString('en-US')} acknowledged in the timed part)`);
    }

    if (model !== undefined) {
      const enc = await createTextEncoder(model, {});
      const one = (i: number): string => sentences[(i * 7919) % sentences.length]!;
      const batch32 = (i: number): string[] => Array.from({ length: 32 }, (_, j) => sentences[(i * 32 + j) % sentences.length]!);
      const oneEmbedding = checkJson((j) => Array.isArray(j.data) && j.data.length === 1);
      for (const concurrency of [1, 4]) {
        await run('POST /v1/embeddings (1 text)', concurrency, 1, 'ffn-384 (bench:encode\'s model); in-process = encoder.encode([text])', {
          url: `${url}/v1/embeddings`, body: (i) => JSON.stringify({ model: 'ffn', input: one(i) }), check: oneEmbedding,
        }, concurrency === 1 ? () => inProcessRate(seconds, (i) => enc.encode([one(i)])) : undefined);
      }
      await run('POST /v1/embeddings (32 texts)', 2, 32, 'per request 32 texts; rates below in texts/s', {
        url: `${url}/v1/embeddings`, body: (i) => JSON.stringify({ model: 'ffn', input: batch32(i), encoding_format: 'base64' }),
        check: checkJson((j) => Array.isArray(j.data) && j.data.length === 32),
      }, async () => (await inProcessRate(seconds, (i) => enc.encode(batch32(i)))) * 32);
      await enc.close();

      // Text queries: a collection of 5,000 sentences encoded by the server, queried by text.
      const r = await post('/api/collections', { name: 'sentences', encoder: 'ffn' });
      if (r.status !== 201) throw new Error(`create sentences: HTTP ${r.status} ${await r.text()}`);
      const docs = sentences.slice(0, 5000);
      const t0 = performance.now();
      for (let i = 0; i < docs.length; i += 250) {
        const a = await post('/api/collections/sentences/add', { ids: docs.slice(i, i + 250).map((_, j) => `s${i + j}`), documents: docs.slice(i, i + 250) });
        if (a.status !== 200) throw new Error(`add sentences: HTTP ${a.status} ${await a.text()}`);
      }
      notes.push(`5,000 STS-B sentences added as documents (the server encodes them) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await run('POST /query (text)', 4, 1, 'text through the collection\'s encoder, then k = 10 of 5,000', {
        url: `${url}/api/collections/sentences/query`, body: (i) => JSON.stringify({ text: one(i + 1), k: 10 }), check: tenHits,
      });
    }
    }
    await peerDb.close();

    // 4. The targets. (a) While LOF runs: /healthz and a k = 10 query, one client each, for as long as the task runs.
    const vec = (d: typeof lofData, i: number): number[] => Array.from(d.queries.data.subarray((i % d.queries.count) * TARGET_DIM, (i % d.queries.count + 1) * TARGET_DIM));
    const lofTarget = async (base: string, label: string, withTarget: boolean): Promise<void> => {
      log(`LOF over ${lofRecords} × ${TARGET_DIM} (${label}) with /healthz and k = 10 queries alongside`);
      const t0 = performance.now();
      const task = fetch(`${base}/api/collections/lof/outliers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'lof', k: 10, top: 20 }) })
        .then(async (r) => {
          const j = await r.json() as { outliers?: unknown[] };
          if (r.status !== 200 || j.outliers?.length !== 20) throw new Error(`LOF: HTTP ${r.status} ${JSON.stringify(j).slice(0, 200)}`);
          return performance.now() - t0;
        });
      const [hz, q] = await runStreams(base, [
        { name: '/healthz', clients: 1, path: '/healthz' },
        { name: 'k = 10 query', clients: 1, path: '/api/collections/lof/query', body: (i) => JSON.stringify({ vector: vec(lofData, i), k: 10 }), check: tenHits },
      ], 600, task);
      const ms = await task;
      for (const r of [hz!, q!]) if (r.errors > 0) throw new Error(`${r.name} during LOF: ${r.errors} errors, first: ${r.firstError}`);
      const note = `LOF took ${(ms / 1000).toFixed(1)} s; ${hz!.requests} /healthz and ${q!.requests} queries answered meanwhile (max ${f(hz!.maxMs, 0)} / ${f(q!.maxMs, 0)} ms)`;
      targets.push({ what: `while LOF ${lofRecords.toLocaleString('en-US')} × ${TARGET_DIM} runs (${label}): /healthz p99`, measured: hz!.p99Ms, ...(withTarget ? { target: TARGET_LOF_P99 } : {}), note });
      targets.push({ what: `while LOF ${lofRecords.toLocaleString('en-US')} × ${TARGET_DIM} runs (${label}): k = 10 query p99`, measured: q!.p99Ms, ...(withTarget ? { target: TARGET_LOF_P99 } : {}), note });
      log(`  ${note}; p99 /healthz ${f(hz!.p99Ms, 1)} ms, query ${f(q!.p99Ms, 1)} ms`);
    };
    await lofTarget(url, 'in a worker thread', true);

    // (b) The mixed load: 2 vector-only, 2 filtered (a user seen for the first time: 0.1 % of the records),
    // 2 vector + full text ("the" matches every document), 2 writers (upserts of 100 records).
    const rng = new Random(99);
    const docs = Array.from({ length: 1000 }, () => mixedDocument(rng));
    const vectorOnly: Stream = { name: 'vector-only', clients: 2, path: '/api/collections/mixed/query', body: (i) => JSON.stringify({ vector: vec(mixedData, i), k: 10 }), check: tenHits };
    const mixed: Stream[] = [
      vectorOnly,
      { name: 'filtered (where user)', clients: 2, path: '/api/collections/mixed/query', body: (i) => JSON.stringify({ vector: vec(mixedData, i + 7), k: 10, where: { user: `u${(i * 37) % 1000}` } }) },
      { name: 'vector + full text', clients: 2, path: '/api/collections/mixed/query', body: (i) => JSON.stringify({ vector: vec(mixedData, i + 13), k: 10, fullText: `the ${WORDS[(i * 11) % 200]}` }), check: tenHits },
      {
        name: 'writer (upsert 100)', clients: 2, path: '/api/collections/mixed/upsert', body: (i) => JSON.stringify({
          ids: Array.from({ length: 100 }, (_, j) => `x${(i * 100 + j) % 5000}`),
          vectors: Array.from({ length: 100 }, (_, j) => vec(mixedData, i * 100 + j)),
          documents: Array.from({ length: 100 }, (_, j) => docs[(i * 100 + j) % docs.length]!),
          metadatas: Array.from({ length: 100 }, (_, j) => ({ cat: j % 10, user: `u${(i + j) % 1000}` })),
        }),
      },
    ];
    log(`vector-only queries alone on 'mixed' (${mixedRecords} × ${TARGET_DIM}), ${seconds} s`);
    [mixedAlone] = await runStreams(url, [vectorOnly], seconds);
    log(`mixed load on 'mixed': 8 clients, ${seconds} s`);
    mixedStreams = await runStreams(url, mixed, seconds);
    for (const r of [mixedAlone!, ...mixedStreams]) if (r.errors > 0) throw new Error(`mixed load, ${r.name}: ${r.errors} errors, first: ${r.firstError}`);
    const vo = mixedStreams[0]!;
    targets.push({ what: `mixed load on ${mixedRecords.toLocaleString('en-US')} × ${TARGET_DIM}: vector-only p99`, measured: vo.p99Ms, target: TARGET_MIXED_P99, note: `p50 ${f(vo.p50Ms, 1)} ms; alone (no other load) p50 ${f(mixedAlone!.p50Ms, 1)} / p99 ${f(mixedAlone!.p99Ms, 1)} ms` });
    for (const r of mixedStreams) log(`  ${r.name}: ${f(r.rps)} req/s, p50 ${f(r.p50Ms, 1)} ms, p99 ${f(r.p99Ms, 1)} ms`);
    // The same without the writers (reads only): what the scans alone do to vector-only queries.
    const readsOnly = async (label: string, base: string): Promise<void> => {
      log(`reads only (6 clients, no writers; ${label}), ${seconds} s`);
      const rs = await runStreams(base, mixed.slice(0, 3), seconds);
      for (const r of rs) if (r.errors > 0) throw new Error(`reads only, ${r.name}: ${r.errors} errors, first: ${r.firstError}`);
      targets.push({ what: `reads only on ${mixedRecords.toLocaleString('en-US')} × ${TARGET_DIM} (${label}): vector-only p99`, measured: rs[0]!.p99Ms, note: rs.map((r) => `${r.name} p50 ${f(r.p50Ms, 1)} / p99 ${f(r.p99Ms, 1)} ms`).join('; ') });
      log(`  ${rs.map((r) => `${r.name} p50 ${f(r.p50Ms, 1)} / p99 ${f(r.p99Ms, 1)} ms`).join('; ')}`);
    };
    await readsOnly('scans on a reader thread (scanThreads 1, the default)', url);

    // (c) For comparison: scans on the server's thread (scanThreads 0, as before the scan readers).
    const restart = async (env: Record<string, string>): Promise<string> => {
      child!.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      const s2 = await startServer(dbDir, [], env);
      child = s2.child;
      return s2.url;
    };
    const onLoopUrl = await restart({ OMNIVEC_BENCH_SCAN_THREADS: '0' });
    await readsOnly('scanThreads 0: scans on the server\'s thread', onLoopUrl);
    log(`mixed load, scanThreads 0, ${seconds} s`);
    const onLoop = await runStreams(onLoopUrl, mixed, seconds);
    const errs = onLoop.reduce((a, r) => a + r.errors, 0);
    targets.push({
      what: `mixed load on ${mixedRecords.toLocaleString('en-US')} × ${TARGET_DIM} (scanThreads 0: scans on the server's thread): vector-only p99`, measured: onLoop[0]!.p99Ms,
      note: onLoop.map((r) => `${r.name} p50 ${f(r.p50Ms, 1)} / p99 ${f(r.p99Ms, 1)} ms`).join('; ') + (errs > 0 ? `; ${errs} errors (first: ${onLoop.find((r) => r.errors > 0)!.firstError!.slice(0, 160)})` : ''),
    });

    // (d) For comparison: LOF on the server's own thread (taskWorkers 0, as before tasks had workers).
    await lofTarget(await restart({ OMNIVEC_BENCH_TASK_WORKERS: '0' }), 'on the server\'s thread, for comparison', false);
  } finally {
    if (child !== undefined && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(tmp, { recursive: true, force: true });
  }

  // Report.
  let commit = '?';
  try { commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const lines: string[] = [
    '## Server (`npm run bench:server`)', '',
    `- Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} logical CPUs; Node ${process.version}`,
    `- Date: ${new Date().toISOString()}; commit ${commit}; total ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`,
    `- Command: \`npm run bench:server${quick ? ' -- --quick' : ''}\``,
    `- The server (createServer, fastify 5) runs in a child process; the load generator (bench/lib/load.ts) here: closed loop, keep-alive connections, ${seconds} s per scenario (at most ${MAX_REQUESTS.toLocaleString('en-US')} requests), every answer checked. Both share the machine's ${cpus().length} CPUs.`,
    '- In-process = the same work through the library in this process, one caller back to back, while the server is idle: the ceiling the HTTP + JSON layer is measured against. Server ÷ in-process is items per second.',
    '',
    '| scenario | clients | req/s | items/s | p50 ms | p99 ms | in-process items/s | server ÷ in-process |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const items = r.server.rps * r.itemsPerRequest;
    lines.push(`| ${r.scenario} | ${r.concurrency} | ${f(r.server.rps)} | ${f(items)} | ${f(r.server.p50Ms, 2)} | ${f(r.server.p99Ms, 2)} | ${r.inProcess !== undefined ? f(r.inProcess) : '–'} | ${r.inProcess !== undefined ? `${(items / r.inProcess).toFixed(2)}×` : '–'} |`);
  }
  lines.push('', '### Targets (issue 17)', '', '| measurement | measured | target | |', '| --- | ---: | ---: | --- |');
  for (const t of targets) {
    const verdict = t.target === undefined ? 'comparison' : t.measured <= t.target ? 'PASS' : 'FAIL';
    lines.push(`| ${t.what} | ${f(t.measured, 1)} ms | ${t.target !== undefined ? `≤ ${t.target} ms` : '–'} | ${verdict}: ${t.note} |`);
  }
  if (mixedStreams.length > 0) {
    lines.push('', `Mixed load (${seconds} s, closed loop, each stream its own keep-alive clients):`, '', '| stream | clients | req/s | p50 ms | p99 ms | max ms |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const r of [...mixedStreams, ...(mixedAlone !== undefined ? [{ ...mixedAlone, name: 'vector-only, alone (no other load)' }] : [])]) {
      lines.push(`| ${r.name} | ${r.clients} | ${f(r.rps)} | ${f(r.p50Ms, 1)} | ${f(r.p99Ms, 1)} | ${f(r.maxMs, 1)} |`);
    }
  }
  lines.push('', 'Scenarios:', '', ...rows.filter((r, i) => rows.findIndex((x) => x.scenario === r.scenario) === i).map((r) => `- ${r.scenario}: ${r.note}`));
  if (notes.length > 0) lines.push('', 'Notes:', '', ...notes.map((n) => `- ${n}`));
  lines.push('');
  const md = lines.join('\n');
  process.stdout.write('\n' + md);
  const out = `bench/results/server${targetsOnly ? '-targets' : ''}${quick ? '-quick' : ''}`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`${out}.md`, md);
  writeFileSync(`${out}.json`, JSON.stringify({ date: new Date().toISOString(), commit, seconds, records, dim, rows, targets, mixedStreams, mixedAlone, notes }, null, 2) + '\n');
  log(`wrote ${out}.md and ${out}.json`);
  if (!quick && !targetsOnly) {
    const file = 'BENCHMARKS.md';
    updateBenchmarksMd(file, md, 'server');
    log(`updated the server section of ${file}`);
  }
}

await main();
