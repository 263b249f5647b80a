import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { crashVector } from './helpers/crash-vector.js';

/**
 * Kills a writer process with SIGKILL at random moments during adds, upserts, deletes, snapshot
 * writes and compactions (which rewrite the vector file as a new generation), then checks after each kill that the database opens, verify passes, and every
 * acknowledged write is there with its vector's exact bytes (the write in flight is either wholly
 * there or wholly absent).
 */
const CYCLES = Number(process.env.OMNIVEC_CRASH_CYCLES ?? 24);
const WRITER = join(import.meta.dirname, 'helpers', 'crash-writer.ts');

interface Op { op: 'add' | 'upsert' | 'delete' | 'flush' | 'compact'; ids: string[]; version?: number }

function apply(state: Map<string, number>, op: Op): void {
  if (op.op === 'add' || op.op === 'upsert') for (const id of op.ids) state.set(id, op.version!);
  else if (op.op === 'delete') for (const id of op.ids) state.delete(id);
}

async function runWriter(dir: string, seed: number, cycle: number, killAfterMs: number): Promise<{ acked: Op[]; inflight: Op | undefined }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(seed), String(cycle)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const acked: Op[] = [];
  let inflight: Op | undefined;
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const lines = createInterface({ input: child.stdout });
  let timer: NodeJS.Timeout | undefined;
  for await (const line of lines) {
    if (line === 'READY') {
      timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      if (cycle === 0) {
        // A second writer process is refused while this one holds the lock.
        await assert.rejects(openDatabase(dir), (e: Error & { code?: string }) => e.code === 'locked' && /locked by another writer \(pid \d+/.test(e.message));
      }
    } else if (line.startsWith('BEGIN ')) {
      inflight = JSON.parse(line.slice(6)) as Op;
    } else if (line === 'ACK') {
      acked.push(inflight!);
      inflight = undefined;
    }
  }
  await exited;
  clearTimeout(timer);
  assert.equal(child.signalCode, 'SIGKILL', `the writer should have been killed, it exited with ${child.exitCode}: ${stderr}`);
  return { acked, inflight };
}

test(`crash safety: ${CYCLES} SIGKILLs during writes lose no acknowledged write and never leave a database that will not open`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-crash-'));
  const rng = new Random(2026);
  const state = new Map<string, number>();
  let acks = 0;
  let inflightSeen = 0;
  let compactions = 0;
  let compactKills = 0;
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const { acked, inflight } = await runWriter(dir, 1000 + cycle, cycle, 150 + rng.int(900));
      for (const op of acked) apply(state, op);
      compactions += acked.filter((op) => op.op === 'compact').length;
      if (inflight?.op === 'compact') compactKills++;
      acks += acked.length;
      const db = await openDatabase(dir);
      try {
        const c = await db.getCollection('c');
        const rep = await c.verify();
        assert.deepEqual(rep.problems, [], `cycle ${cycle}: verify`);
        // Read everything stored.
        const stored = new Map<string, number>();
        for await (const r of c.iterate()) {
          stored.set(r.id, r.metadata!.v as number);
          // The vector is the one written with that version, byte for byte (vector file row and SQLite row agree).
          assert.deepEqual(Array.from(r.vector), Array.from(crashVector(r.id, r.metadata!.v as number)), `cycle ${cycle}: vector of ${r.id}`);
        }
        if (inflight !== undefined && inflight.op !== 'flush' && inflight.op !== 'compact') {
          inflightSeen++;
          // The write in flight is atomic: all of it or none of it.
          const withIt = new Map(state);
          apply(withIt, inflight);
          const same = (m: Map<string, number>): boolean => m.size === stored.size && [...m].every(([k, v]) => stored.get(k) === v);
          const applied = same(withIt);
          assert.ok(applied || same(state), `cycle ${cycle}: the stored records match neither the acknowledged state nor it plus the ${inflight.op} in flight`);
          if (applied) apply(state, inflight);
        } else {
          assert.equal(stored.size, state.size, `cycle ${cycle}: record count`);
          for (const [id, v] of state) assert.equal(stored.get(id), v, `cycle ${cycle}: record ${id}`);
        }
        // The index answers for the records: a stored record is its own nearest neighbour.
        const some = [...stored.keys()].slice(0, 5);
        for (const id of some) {
          const got = await c.get({ ids: [id], include: ['vectors'] });
          const res = await c.query({ vector: got.vectors![0]!, k: 1, efSearch: 500 });
          assert.equal(res.distances[0], 0, `cycle ${cycle}: ${id} found by its own vector`);
        }
      } finally {
        await db.close();
      }
    }
    assert.ok(acks > CYCLES, `expected many acknowledged writes, got ${acks}`);
    t.diagnostic(`${CYCLES} kills, ${acks} acknowledged writes checked, ${inflightSeen} kills during a write, ${compactions} compactions acknowledged and ${compactKills} killed, ${state.size} records at the end`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
