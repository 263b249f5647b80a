/**
 * Payload indexes survive SIGKILL (docs/db.md, "Payload indexes"): a writer process adding,
 * upserting, updating metadata, deleting and declaring / dropping an index is killed at random
 * moments; after each kill the database reopens, `verify` finds the values tables equal to what
 * the records hold, and filters on the declared fields give exactly the JS evaluator's records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openDatabase } from '../src/db/database.js';
import { matchesWhere, type Metadata, type Where } from '../src/db/where.js';
import { Random } from '../src/vector/random.js';

const WRITER = join(import.meta.dirname, 'helpers', 'field-index-crash-writer.ts');
const CYCLES = 8;

async function runWriter(dir: string, seed: number, cycle: number, killAfterMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(seed), String(cycle)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  let acks = 0;
  let timer: NodeJS.Timeout | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === 'READY') timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    else if (line === 'ACK') acks++;
  }
  await exited;
  clearTimeout(timer);
  assert.equal(child.signalCode, 'SIGKILL', `the writer should have been killed, it exited with ${child.exitCode}: ${stderr}`);
  return acks;
}

const FILTERS: Where[] = [
  { g: 1 }, { g: { $in: [0, 2, 'a', null] } }, { g: { $ne: 3 } }, { g: { $gte: 1, $lt: 3 } }, { g: { $gt: 0.5 } }, { g: { $nin: [1, 2] } },
  { t: 'a' }, { t: { $in: ['b', 'c'] } }, { t: { $lt: 'b' } }, { t: { $ne: 'a' } }, { h: { $lte: 1.5 } }, { h: 1.5 },
  { $or: [{ g: 1 }, { t: 'c' }] }, { $and: [{ g: { $gte: 0 } }, { t: { $exists: true } }, { h: { $ne: true } }] },
];

test(`payload indexes: ${CYCLES} SIGKILLs during writes and declarations leave indexes equal to the records`, { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-fi-crash-'));
  const rng = new Random(4711);
  let acks = 0;
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      acks += await runWriter(dir, 100 + cycle, cycle, 300 + rng.int(1500));
      const db = await openDatabase(dir);
      try {
        const c = await db.getCollection('c');
        const report = await c.verify();
        assert.deepEqual(report.problems, [], `cycle ${cycle}`);
        const all = await c.get({ include: ['metadatas'] });
        const metas = new Map(all.ids.map((id, i) => [id, all.metadatas![i] as Metadata | null]));
        for (const where of FILTERS) {
          const want = [...metas.keys()].filter((id) => matchesWhere(metas.get(id)!, where)).sort();
          assert.deepEqual([...(await c.get({ where, include: [] })).ids].sort(), want, `cycle ${cycle} get ${JSON.stringify(where)}`);
          const hits = await c.query({ vector: [0, 0, 0, 0], k: metas.size + 1, where, include: [] });
          assert.deepEqual([...hits.ids].sort(), want, `cycle ${cycle} query ${JSON.stringify(where)}`);
        }
      } finally {
        await db.close();
      }
    }
    assert.ok(acks > CYCLES * 3, `only ${acks} writes were acknowledged before the kills`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
