import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { openDatabase } from '../src/db/database.js';
import { locateModel } from '../src/encoders/onnx/model-folder.js';
import { cliInProcess, collect, runCli, startCli } from './helpers/cli.js';
import { rejectsCode, withTempDir } from './helpers/assertions.js';

/**
 * The CLI as a process (docs/hardening.md §8, docs/cli.md): a closed stdout ends a command quietly
 * (exit 0), other stdout errors are reported; `list` of a folder with no database; a read-only
 * database directory (read commands work, write commands say `read_only`); the `locked` advice;
 * model paths that do not exist.
 */

/** A database whose `words` collection prints well over a pipe's 64 KiB, in near-duplicate pairs (for dedupe). */
async function wordsDb(dir: string): Promise<void> {
  const db = await openDatabase(dir);
  try {
    const c = await db.createCollection({ name: 'words', dim: 8 });
    const records = [];
    for (let i = 0; i < 3000; i++) {
      const v = Array.from({ length: 8 }, (_, j) => Math.sin(i * 12.9898 + j * 78.233) * 100 % 1);
      records.push({ id: `w${i}a`, vector: v, document: `the word number ${i}, first of its pair`, metadata: { n: i } });
      records.push({ id: `w${i}b`, vector: v.map((x, j) => x + (j === 0 ? 1e-4 : 0)), document: `the word number ${i}, second of its pair`, metadata: { n: i } });
    }
    await c.add(records);
  } finally {
    await db.close();
  }
}

/** Reads until two lines came, then closes the pipe, as `| head -2` does. */
function headTwo(stdout: Readable): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.split('\n').length > 2) {
        stdout.off('data', onData);
        stdout.destroy();
        resolve(got.split('\n').slice(0, 2).join('\n'));
      }
    };
    stdout.on('data', onData);
  });
}

test('a closed stdout (`omnivec get words | head -2`, export, dedupe) ends the command quietly with exit 0; /dev/full is reported', { timeout: 60_000 }, async () => {
  await withTempDir('omnivec-pipe-', async (dir) => {
    const db = join(dir, 'db');
    await wordsDb(db);
    for (const args of [['get', 'words'], ['export', 'words'], ['dedupe', 'words', '--threshold', '0.999']]) {
      const child = startCli(['--db', db, ...args]);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
      const head = await headTwo(child.stdout!);
      assert.equal(head.split('\n').length, 2, args.join(' '));
      const code = await exited;
      assert.equal(stderr, '', `${args.join(' ')}: nothing on stderr`);
      assert.equal(code, 0, `${args.join(' ')}: exit code`);
    }
    // Another write error on stdout is reported, with exit 1.
    if (existsSync('/dev/full')) {
      const full = openSync('/dev/full', 'w');
      try {
        const r = await collect(startCli(['--db', db, 'get', 'words', '--limit', '3'], { stdio: ['ignore', full, 'pipe'] }));
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^omnivec: standard output: ENOSPC: no space left on device/);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        closeSync(full);
      }
    }
  });
});

const cli = cliInProcess;

test('omnivec list in a folder without a database: nothing (or [] with --json), exit 0, and no folder made', async () => {
  await withTempDir('omnivec-list-', async (dir) => {
    const db = join(dir, 'not-yet');
    assert.deepEqual(await cli(['--db', db, 'list']), { code: 0, lines: [], stderr: '' });
    assert.deepEqual(await cli(['--db', db, 'list', '--json']), { code: 0, lines: ['[]'], stderr: '' });
    assert.equal(existsSync(db), false);
    // An empty folder is no database either.
    mkdirSync(db);
    assert.deepEqual(await cli(['--db', db, 'list']), { code: 0, lines: [], stderr: '' });
    assert.equal(existsSync(join(db, 'omnivec.sqlite')), false);
  });
});

test('a read-only database directory: read commands work, write commands say read_only naming the directory', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'omnivec-ro-'));
  try {
    const dir = join(root, 'db');
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'films', dim: 3 });
    await c.add([{ id: 'alien', vector: [1, 0, 0], document: 'a space crew' }, { id: 'heat', vector: [0, 1, 0.2] }]);
    await db.close();
    // Root ignores permissions, so as root the commands run as nobody, who can read but not write it.
    const asRoot = process.getuid?.() === 0;
    const spawnAs = asRoot ? { uid: 65534, gid: 65534 } : {};
    if (asRoot) chmodSync(root, 0o755);
    else chmodSync(dir, 0o555);
    try {
      for (const args of [['delete', 'films', 'alien'], ['create', 'more', '--dim', '2'], ['drop', 'films'], ['compact']]) {
        const r = await runCli(['--db', dir, ...args], spawnAs);
        assert.equal(r.code, 6, `${args.join(' ')}: exit code (${r.stderr})`);
        assert.match(r.stderr, new RegExp(`^omnivec: read_only: database ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the directory is not writable.*read commands`));
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      }
      for (const args of [['list'], ['list', '--json'], ['info', 'films'], ['get', 'films', 'alien'], ['query', 'films', '--vector', '1,0,0', '-k', '1'], ['export', 'films'], ['verify']]) {
        const r = await runCli(['--db', dir, ...args], spawnAs);
        assert.equal(r.stderr, '', `${args.join(' ')}: stderr`);
        assert.equal(r.code, 0, `${args.join(' ')}: exit code`);
      }
      const listed = await runCli(['--db', dir, 'list'], spawnAs);
      assert.match(listed.stdout, /^films\t3\tcosine\tauto\t2\n$/);
    } finally {
      chmodSync(dir, 0o755);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('locked: the CLI says what a CLI user can do (read commands work meanwhile), not the library\'s { readOnly: true }', { timeout: 30_000 }, async () => {
  await withTempDir('omnivec-locked-', async (dir) => {
    const db = await openDatabase(dir);
    try {
      const c = await db.createCollection({ name: 'films', dim: 2 });
      await c.add([{ id: 'a', vector: [1, 0] }]);
      const w = await runCli(['--db', dir, 'delete', 'films', 'a']);
      assert.equal(w.code, 6);
      assert.match(w.stderr, /^omnivec: locked: database .*: locked by another writer \(pid \d+ .*read commands \(list, info, get, query, export, evaluate\) work while it writes/);
      assert.doesNotMatch(w.stderr, /readOnly/);
      const r = await runCli(['--db', dir, 'get', 'films', 'a']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /"id":"a"/);
    } finally {
      await db.close();
    }
  });
});

test('a model path that does not exist is reported as a path; owner/name that is neither a folder nor cached says both', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'omnivec-cache-'));
  const saved = process.env.OMNIVEC_CACHE;
  process.env.OMNIVEC_CACHE = cacheDir;
  try {
    for (const path of ['./no-such-model', '../no/such', '/no/such/model', '~/models/e5', 'models/e5/onnx']) {
      await rejectsCode(locateModel(path, { allowNetwork: false }), 'not_found', new RegExp(`^model folder ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`));
    }
    await rejectsCode(locateModel('./x.onnx'), 'not_found', /^model file \.\/x\.onnx does not exist/);
    await rejectsCode(locateModel('acme/no-such-model', { allowNetwork: false }), 'not_found',
      /^model acme\/no-such-model: no folder .*acme\/no-such-model, and as a hub id: not in the cache and the network is not allowed: .*acme--no-such-model lacks config\.json/);
    const r = await cli(['embed', '--model', './no-such-model', '--input', 'README.md', '--output', join(cacheDir, 'x.npy')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^omnivec: not_found: model folder \.\/no-such-model does not exist \(/);
  } finally {
    if (saved === undefined) delete process.env.OMNIVEC_CACHE;
    else process.env.OMNIVEC_CACHE = saved;
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
