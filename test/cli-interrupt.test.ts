import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { cliInProcess, collect, runCli, startCli } from './helpers/cli.js';
import { waitUntil, withTempDir } from './helpers/assertions.js';

/**
 * Ctrl-C during `omnivec import` (docs/hardening.md §7), with a real child process: an HNSW import
 * that runs for seconds, interrupted at seeded random moments and continued with the `--skip` the
 * message gives; then failed imports into a new name; then the progress line's newline.
 */
const COUNT = 30_000;
const DIM = 32;

function writeData(path: string): void {
  const rng = new Random(13);
  const lines: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const v = Array.from({ length: DIM }, () => Math.round(rng.gaussian() * 1e4) / 1e4);
    lines.push(JSON.stringify({ id: `r${i}`, vector: v, metadata: { i } }));
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

async function count(db: string, name: string): Promise<number | undefined> {
  const d = await openDatabase(db, { readOnly: true });
  try {
    return (await d.hasCollection(name)) ? await (await d.getCollection(name)).count() : undefined;
  } finally {
    await d.close();
  }
}

/** Starts an import, waits for its LOCK (the SIGINT handler is installed before the database opens), then `delayMs`, then SIGINT (twice when `twice`). */
async function interruptedImport(db: string, file: string, extra: string[], delayMs: number, twice = false): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = startCli(['--db', db, 'import', 'sift', file, ...extra]);
  const done = collect(child);
  const lock = join(db, 'LOCK');
  try {
    await waitUntil(() => existsSync(lock) || child.exitCode !== null, `the import's ${lock} (or its exit)`, { timeoutMs: 20_000, everyMs: 5 });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  await sleep(delayMs);
  child.kill('SIGINT');
  if (twice) { await sleep(20); child.kill('SIGINT'); }
  const r = await done;
  return { code: r.code, stderr: r.stderr, stdout: r.stdout };
}

/** verify in-process (open, snapshot load, checks) and as a child process; both must pass. */
async function verifyTimed(db: string): Promise<{ inProcessMs: number; childMs: number }> {
  const t0 = performance.now();
  const v = await cliInProcess(['--db', db, 'verify']);
  const inProcessMs = performance.now() - t0;
  assert.equal(v.code, 0, `verify: ${v.lines.join('\n')} ${v.stderr}`);
  assert.match(v.lines[0]!, /^sift: ok \(\d+ records, \d+ indexed, 1 snapshot\)$/);
  const c = await runCli(['--db', db, 'verify']);
  assert.equal(c.code, 0, c.stderr);
  return { inProcessMs, childMs: c.ms };
}

test('Ctrl-C during omnivec import: exit 130, says what was committed (= the count), no LOCK left, verify passes at once; --skip continues it to every record exactly once', { timeout: 120_000 }, async (t) => {
  await withTempDir('omnivec-interrupt-', async (dir) => {
    const file = join(dir, 'data.jsonl');
    writeData(file);
    const db = join(dir, 'db');
    const rng = new Random(2026);
    const startup = await runCli(['version']);
    let skip = 0;
    let total = 0;
    const figures: string[] = [`a bare \`omnivec version\` child: ${startup.ms.toFixed(0)} ms`];
    for (let cycle = 0; cycle < 3; cycle++) {
      const delay = 300 + rng.int(2500);
      const r = await interruptedImport(db, file, skip > 0 ? ['--skip', String(skip)] : [], delay);
      assert.equal(r.code, 130, `cycle ${cycle} (SIGINT ${delay} ms after the lock): exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, /^omnivec: interrupt: finishing the current batch, then stopping \(Ctrl-C again to quit at once\)\n/);
      const m = /\nomnivec: interrupted: (?:([\d,]+) records committed to "sift" \(now ([\d,]+)\)|nothing was committed; "sift" was not created|nothing was committed to "sift" \(([\d,]+) records\)); the rest of .*data\.jsonl was not read — rerun with --skip (\d+) to continue\n$/.exec(r.stderr);
      assert.ok(m, `cycle ${cycle}: the message: ${r.stderr}`);
      const committed = m[1] === undefined ? 0 : Number(m[1].replace(/,/g, ''));
      const now = m[2] ?? m[3];
      total += committed;
      if (now !== undefined) assert.equal(Number(now.replace(/,/g, '')), total, `cycle ${cycle}: now`);
      assert.equal(committed % 4096, 0, `cycle ${cycle}: whole batches`);
      assert.equal(Number(m[4]), skip + committed, `cycle ${cycle}: --skip`);
      skip = Number(m[4]);
      assert.equal(existsSync(join(db, 'LOCK')), false, `cycle ${cycle}: LOCK left behind`);
      assert.equal(await count(db, 'sift'), total === 0 && cycle === 0 ? undefined : total, `cycle ${cycle}: the collection's count`);
      if (total > 0) {
        const v = await verifyTimed(db);
        // "At once": ~0.2 s here, the index loaded from the snapshot close() wrote; catching up
        // instead (as after the second Ctrl-C below) takes ~1.6 s. A clock stands in for a signal
        // the database does not give (whether an open loaded its snapshot or caught up).
        assert.ok(v.inProcessMs < 2000, `cycle ${cycle}: verify took ${v.inProcessMs.toFixed(0)} ms`);
        figures.push(`cycle ${cycle}: SIGINT ${delay} ms after the lock, ${committed} committed (${total} in all); verify ${v.inProcessMs.toFixed(0)} ms in-process, ${v.childMs.toFixed(0)} ms as a child process`);
      } else {
        figures.push(`cycle ${cycle}: SIGINT ${delay} ms after the lock, nothing committed`);
      }
    }
    // A second Ctrl-C leaves at once: no LOCK, whole batches only, and verify passes after catching up.
    const hard = await interruptedImport(db, file, ['--skip', String(skip)], 500 + rng.int(1500), true);
    assert.equal(hard.code, 130, hard.stderr);
    assert.equal(existsSync(join(db, 'LOCK')), false, 'LOCK left behind by the second Ctrl-C');
    const afterHard = (await count(db, 'sift'))!;
    assert.equal((afterHard - total) % 4096 === 0 || afterHard === COUNT, true, `whole batches: ${afterHard - total} more`);
    const hv = await verifyTimed(db);
    figures.push(`second Ctrl-C: ${afterHard - total} more committed; verify after the catch-up ${hv.inProcessMs.toFixed(0)} ms in-process, ${hv.childMs.toFixed(0)} ms as a child`);
    // Continue from there: every record of the file exactly once.
    const rest = await runCli(['--db', db, 'import', 'sift', file, '--skip', String(afterHard)]);
    assert.equal(rest.code, 0, rest.stderr);
    const d = await openDatabase(db, { readOnly: true });
    try {
      const c = await d.getCollection('sift');
      assert.equal((await c.count()), COUNT);
      const ids = new Set((await c.list()));
      for (let i = 0; i < COUNT; i += 997) assert.ok(ids.has(`r${i}`), `r${i}`);
    } finally {
      await d.close();
    }
    t.diagnostic(figures.join('; '));
  });
});

test('a failed import into a new name: a bad record in the first batch leaves no collection; one in a later batch says what was committed', async () => {
  await withTempDir('omnivec-import-fail-', async (dir) => {
    const db = join(dir, 'db');
    // The file reads well; the database refuses the bad record (a nested metadata object).
    const rec = (i: number, bad = false): string => JSON.stringify({ id: `r${i}`, vector: [i, 1, 2], metadata: bad ? { a: { b: 1 } } : { i } });
    const first = join(dir, 'first.jsonl');
    writeFileSync(first, Array.from({ length: 50 }, (_, i) => rec(i, i === 7)).join('\n') + '\n');
    const a = await cliInProcess(['--db', db, 'import', 'early', first]);
    assert.equal(a.code, 2, a.stderr);
    assert.match(a.stderr, /^omnivec: invalid_argument: .*first\.jsonl: record 7 \(from 0\): .*; nothing was imported, and "early" was not created\n$/);
    assert.equal(await count(db, 'early'), undefined);
    assert.deepEqual((await cliInProcess(['--db', db, 'list'])).lines, []);

    const later = join(dir, 'later.jsonl');
    writeFileSync(later, Array.from({ length: 500 }, (_, i) => rec(i, i === 250)).join('\n') + '\n');
    const b = await cliInProcess(['--db', db, 'import', 'late', later, '--batch', '100'], { tty: true });
    assert.equal(b.code, 2);
    assert.match(b.stderr, /omnivec: invalid_argument: .*later\.jsonl: record 250 \(from 0\): .*; 200 records before it were committed to "late" \(now 200\) — fix the file and rerun with --skip 200 to continue\n$/);
    assert.equal(await count(db, 'late'), 200);
    // The progress line (stderr a terminal) was ended before the error: the error starts its own line.
    assert.match(b.stderr, /\rimport late: /);
    assert.match(b.stderr, /\n(omnivec: invalid_argument)/);
    assert.equal(b.stderr.includes('\x1b[Komnivec'), false, 'the error appended to the progress line');
    // And a finished import ends its line too.
    const ok = join(dir, 'ok.jsonl');
    writeFileSync(ok, Array.from({ length: 300 }, (_, i) => rec(i)).join('\n') + '\n');
    const c = await cliInProcess(['--db', db, 'import', 'fine', ok, '--batch', '100'], { tty: true });
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /\rimport fine: .*\n$/);
    assert.deepEqual(c.lines.slice(-1).map((l) => l.replace(/ in [\d.]+ s/, '')), ['imported 300 records from ' + ok + ' (jsonl) into fine; 300 records now']);
  });
});
