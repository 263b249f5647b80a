import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { OmnivecError } from '../errors.js';
import { cmdServe, isLoopback, parseEncoders, parseSize, registerServeCommand } from './serve-command.js';
import type { Out } from './db-commands.js';
import { createServer } from '../server/app.js';
import { openDatabase } from '../db/database.js';
import { runCli } from '../../test/helpers/cli.js';

function capture(): Out & { lines: string[]; next: () => Promise<string> } {
  const lines: string[] = [];
  let waiter: ((s: string) => void) | undefined;
  return {
    lines,
    line: (s) => { lines.push(s); waiter?.(s); waiter = undefined; },
    json: (v) => { lines.push(JSON.stringify(v)); },
    next: () => new Promise((resolve) => { waiter = resolve; }),
  };
}

test('parseSize, parseEncoders, isLoopback', () => {
  assert.equal(parseSize('16mb', '--body-limit'), 16 * 1024 * 1024);
  assert.equal(parseSize('512KB', '--body-limit'), 512 * 1024);
  assert.equal(parseSize('1000', '--body-limit'), 1000);
  assert.equal(parseSize('1.5k', '--body-limit'), 1536);
  for (const bad of ['', 'lots', '-1mb', '10xb', '0']) assert.throws(() => parseSize(bad, '--body-limit'), /--body-limit: expected a size/);
  assert.deepEqual(parseEncoders(['e5=./models/e5', 'oa=openai:text-embedding-3-small']), { e5: './models/e5', oa: 'openai:text-embedding-3-small' });
  assert.throws(() => parseEncoders(['e5']), /--encoder: expected NAME=MODEL/);
  assert.throws(() => parseEncoders(['a=x', 'a=y']), /given twice/);
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.com']) assert.ok(!isLoopback(h), h);
});

test('omnivec serve: refuses a non-loopback host without a key, unless --insecure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-serve-'));
  const saved = process.env.OMNIVEC_API_KEY;
  delete process.env.OMNIVEC_API_KEY;
  try {
    const p = new Command('omnivec').exitOverride();
    registerServeCommand(p, () => dir, capture());
    await assert.rejects(p.parseAsync(['serve', '--host', '0.0.0.0', '--port', '0'], { from: 'user' }),
      (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /--insecure/.test(e.message) && /--api-key/.test(e.message));
    await assert.rejects(cmdServe(dir, { port: '70000' }, capture()), /--port: expected an integer from 0 to 65535/);
  } finally {
    if (saved !== undefined) process.env.OMNIVEC_API_KEY = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('omnivec serve: prints the URL, serves with the key from $OMNIVEC_API_KEY, closes on SIGTERM', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-serve-'));
  const saved = process.env.OMNIVEC_API_KEY;
  process.env.OMNIVEC_API_KEY = 'env-key';
  try {
    const out = capture();
    const signals = new EventEmitter();
    const printed = out.next();
    const running = cmdServe(dir, { port: '0', bodyLimit: '1kb' }, out, signals);
    const line = await printed;
    const url = /(http:\/\/\S+)/.exec(line)?.[1];
    assert.ok(url !== undefined, line);
    assert.match(line, /API key required/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/api/collections`)).status, 401);
    const ok = await fetch(`${url}/api/collections`, { headers: { authorization: 'Bearer env-key' } });
    assert.equal(ok.status, 200);
    const big = await fetch(`${url}/api/collections`, { method: 'POST', headers: { authorization: 'Bearer env-key', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(2000) }) });
    assert.equal(big.status, 413, '--body-limit 1kb applies');
    signals.emit('SIGTERM');
    await running;
    assert.equal(out.lines.at(-1), 'omnivec: closed');
    assert.equal(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM'), 0);
    await assert.rejects(fetch(`${url}/healthz`));
  } finally {
    if (saved === undefined) delete process.env.OMNIVEC_API_KEY;
    else process.env.OMNIVEC_API_KEY = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('omnivec serve on a busy port: one line naming the port and the way out, exit 2, no stack, the database lock released', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-serve-busy-'));
  const busy = createNetServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  try {
    const r = await runCli(['--db', dir, 'serve', '--port', String(port)], { env: { OMNIVEC_API_KEY: '' } });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.deepEqual(lines, [`omnivec: invalid_argument: port ${port} on 127.0.0.1 is in use (EADDRINUSE); pass --port N, or --port 0 for a free one`], r.stderr);
    assert.doesNotMatch(r.stderr, /\bat \S+ \(|node:net/, 'no stack trace');
    assert.equal(r.stdout, '');
    // The database was opened and closed again: no writer lock left behind.
    assert.ok(existsSync(join(dir, 'omnivec.db')) || readdirSync(dir).length > 0, 'the database was opened');
    assert.ok(!existsSync(join(dir, 'LOCK')), `LOCK left in ${readdirSync(dir).join(', ')}`);
    const db = await openDatabase(dir);
    await db.close();
  } finally {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createServer().listen on a busy port: invalid_argument, the server closes cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-serve-busy-'));
  const busy = createNetServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  const server = await createServer({ db: dir });
  try {
    await assert.rejects(server.listen(port, '127.0.0.1'), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument'
      && e.message === `port ${port} on 127.0.0.1 is in use (EADDRINUSE); pass --port N, or --port 0 for a free one`);
  } finally {
    await server.close();
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!existsSync(join(dir, 'LOCK')));
});

test('omnivec serve --allowed-host NAME (repeatable): without a key, those Hosts are answered, others get 403', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-serve-hosts-'));
  const saved = process.env.OMNIVEC_API_KEY;
  delete process.env.OMNIVEC_API_KEY;
  try {
    const out = capture();
    const printed = out.next();
    const p = new Command('omnivec').exitOverride();
    registerServeCommand(p, () => dir, out);
    const running = p.parseAsync(['serve', '--port', '0', '--allowed-host', 'box.lan', '--allowed-host', 'nas.home'], { from: 'user' });
    const url = /(http:\/\/\S+)/.exec(await printed)![1]!;
    const status = (host: string): Promise<number> => new Promise((resolve, reject) => {
      const u = new URL(url);
      httpGet({ host: u.hostname, port: u.port, path: '/healthz', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
    });
    assert.equal(await status('box.lan'), 200);
    assert.equal(await status('nas.home:8080'), 200);
    assert.equal(await status(`localhost:${new URL(url).port}`), 200);
    assert.equal(await status('evil.example'), 403);
    process.emit('SIGTERM');
    await running;
  } finally {
    if (saved !== undefined) process.env.OMNIVEC_API_KEY = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
