import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { PG_SKIP, PG_URL, withPgDatabase } from './helpers/postgres.js';
import { COLLECTION, apply, recordOf, type Op, type Versions } from './helpers/postgres-crash-writer.js';

/**
 * The crash test of test/crash.test.ts against the PostgreSQL store: a writer process
 * (helpers/postgres-crash-writer.ts) creates, adds, imports, upserts, updates and deletes records of
 * one collection through `openDatabase(url)`, acknowledging each write call once it returned; the
 * test kills it with SIGKILL at seeded random moments. After each kill, once the server has let go
 * of the writer's connections, the database is reopened and every acknowledged record must be
 * stored with its exact vector, document and metadata, nothing else stored, and the write that was
 * in flight wholly there or wholly absent (one transaction per write call).
 */
const CYCLES = Number(process.env.OMNIVEC_PG_CRASH_CYCLES ?? 12);
const SEED = Number(process.env.OMNIVEC_PG_CRASH_SEED ?? 2027);
const WRITER = join(import.meta.dirname, 'helpers', 'postgres-crash-writer.ts');

interface Stored { vector: Float32Array; document: string | null; metadata: unknown }

async function runWriter(url: string, seed: number, cycle: number, work: string, killAfterMs: number): Promise<{ acked: Op[]; inflight: Op | undefined }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, url, String(seed), String(cycle), work], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const acked: Op[] = [];
  let inflight: Op | undefined;
  let timer: NodeJS.Timeout | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === 'READY') timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    else if (line.startsWith('BEGIN ')) inflight = JSON.parse(line.slice(6)) as Op;
    else if (line === 'ACK') { acked.push(inflight!); inflight = undefined; }
  }
  await exited;
  clearTimeout(timer);
  assert.equal(child.signalCode, 'SIGKILL', `cycle ${cycle}: the writer should have been killed; it exited with code ${child.exitCode}:\n${stderr}`);
  return { acked, inflight };
}

/** Waits until no client connection of the killed writer is left on `database` (the server rolls back what they had open). */
async function writerGone(database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    for (const start = Date.now(); ;) {
      const r = await admin.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()", [database]);
      if (Number(r.rows[0]!.n) === 0) return;
      if (Date.now() - start > 30_000) throw new Error(`the killed writer's connections to ${database} are still open after 30 s`);
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await admin.end();
  }
}

/** The first difference between what is stored and `state`, or undefined. */
function difference(stored: Map<string, Stored>, state: Map<string, Versions>): string | undefined {
  if (stored.size !== state.size) {
    const extra = [...stored.keys()].filter((id) => !state.has(id)).slice(0, 3);
    const missing = [...state.keys()].filter((id) => !stored.has(id)).slice(0, 3);
    return `${stored.size} records stored, ${state.size} expected (extra ${JSON.stringify(extra)}, missing ${JSON.stringify(missing)})`;
  }
  for (const [id, v] of state) {
    const got = stored.get(id);
    if (got === undefined) return `${JSON.stringify(id)} is missing`;
    const want = recordOf(id, v);
    const same = got.vector.length === want.vector.length && Buffer.from(got.vector.buffer, got.vector.byteOffset, got.vector.byteLength)
      .equals(Buffer.from(want.vector.buffer, want.vector.byteOffset, want.vector.byteLength));
    if (!same) return `${JSON.stringify(id)}: vector [${Array.from(got.vector).join(', ')}] is not version ${v.vector}'s [${Array.from(want.vector).join(', ')}]`;
    if (got.document !== want.document) return `${JSON.stringify(id)}: document ${JSON.stringify(got.document)}, expected ${JSON.stringify(want.document)}`;
    try {
      assert.deepStrictEqual(got.metadata, want.metadata);
    } catch {
      return `${JSON.stringify(id)}: metadata ${JSON.stringify(got.metadata)}, expected ${JSON.stringify(want.metadata)}`;
    }
  }
  return undefined;
}

test(`PostgreSQL crash safety: ${CYCLES} SIGKILLs of a writer lose no acknowledged write and leave no write half done`, { skip: PG_SKIP, timeout: 20 * 60_000 }, async (t) => {
  await withPgDatabase('omnivec_crash', async (url) => {
    const database = new URL(url).pathname.slice(1);
    const work = mkdtempSync(join(tmpdir(), 'omnivec-pg-crash-'));
    const rng = new Random(SEED);
    const state = new Map<string, Versions>();
    let acks = 0; let checked = 0; let inflightApplied = 0; let inflightAbsent = 0; let largest = 0;
    const killedIn = new Map<string, number>(); // the write in flight at each kill, by kind (and size)
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const killAfter = 200 + rng.int(2300);
        const { acked, inflight } = await runWriter(url, SEED * 1000 + cycle, cycle, work, killAfter);
        for (const op of acked) apply(state, op);
        acks += acked.length;
        await writerGone(database);
        if (inflight !== undefined) {
          const kind = 'ids' in inflight && inflight.ids.length > 4096 ? `${inflight.op} > 4096 records` : inflight.op;
          killedIn.set(kind, (killedIn.get(kind) ?? 0) + 1);
        }

        const db = await openDatabase(url);
        try {
          if (!(await db.hasCollection(COLLECTION))) {
            // Killed before (or while) the collection was created with its first records.
            assert.equal(state.size, 0, `cycle ${cycle}: the collection is gone, yet ${state.size} acknowledged records`);
            assert.ok(inflight === undefined || inflight.op === 'create', `cycle ${cycle}: no collection, but the write in flight was ${inflight?.op}`);
            if (inflight !== undefined) inflightAbsent++;
            continue;
          }
          const c = await db.getCollection(COLLECTION);
          const stored = new Map<string, Stored>();
          for await (const r of c.iterate()) stored.set(r.id, { vector: r.vector, document: r.document, metadata: r.metadata });
          const without = difference(stored, state);
          if (inflight === undefined) {
            assert.equal(without, undefined, `cycle ${cycle} (no write in flight): ${without}`);
          } else {
            const withIt = new Map(state);
            apply(withIt, inflight);
            const withDiff = difference(stored, withIt);
            assert.ok(without === undefined || withDiff === undefined,
              `cycle ${cycle}: the ${inflight.op} in flight is half done: without it, ${without}; with it, ${withDiff}`);
            if (without === undefined && withDiff !== undefined) inflightAbsent++;
            else { inflightApplied++; apply(state, inflight); }
          }
          checked += state.size;
          largest = Math.max(largest, state.size);
          assert.equal(await c.count(), state.size, `cycle ${cycle}: count()`);
          const report = await c.verify();
          assert.deepEqual(report.problems, [], `cycle ${cycle}: verify`);
          // The vector index answers for the records: a stored record is its own nearest neighbour.
          const ids = [...state.keys()];
          for (let i = 0; i < Math.min(5, ids.length); i++) {
            const id = ids[rng.int(ids.length)]!;
            const res = await c.query({ vector: stored.get(id)!.vector, k: 1, efSearch: 200, include: [] });
            assert.deepEqual([res.ids[0], res.distances[0]], [id, 0], `cycle ${cycle}: ${JSON.stringify(id)} found by its own vector`);
          }
        } finally {
          await db.close();
        }
      }
      assert.ok(acks > CYCLES, `expected many acknowledged writes, got ${acks}`);
      assert.ok(inflightApplied + inflightAbsent > 0, 'no kill landed during a write');
      t.diagnostic(`${CYCLES} kills, ${acks} acknowledged writes, ${checked} acknowledged records checked (exact vector, document, metadata; up to ${largest} at once); ` +
        `the write in flight: ${inflightApplied} committed before the kill, ${inflightAbsent} rolled back (${[...killedIn].map(([k, n]) => `${k} ${n}`).join(', ')})`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
