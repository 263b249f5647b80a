/**
 * Runs the README's shell blocks as written: a block (the fenced code after an `<!-- marker`
 * comment) goes to bash unchanged (`set -eu -o pipefail`), in a temporary folder, with `omnivec` on
 * the PATH. That `omnivec` hands each call to the test's process, which runs this checkout's CLI
 * (`main()` from src/, as the other tests do) in the caller's folder and records what it printed.
 * What a reader sets by hand — `$OMNIVEC` (the clone), `$SIFT` — the test sets in the environment;
 * TMPDIR points into the test's folder, so `cd "$(mktemp -d)"` lands there and everything is
 * removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { capture } from './capture.js';
import type { Out } from '../../src/cli/db-commands.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const SHARED = resolve(ROOT, '..', 'shared', 'data');

/** The body of the first fenced block after `<!-- marker` in README.md (ends with a newline). */
export function readmeBlock(marker: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- ${marker}`);
  assert.ok(at >= 0, `README.md has a <!-- ${marker} ... --> block`);
  const fence = readme.indexOf('```', at);
  const body = readme.indexOf('\n', fence) + 1;
  const end = readme.indexOf('\n```', body - 1);
  assert.ok(fence >= 0 && end > fence, `the <!-- ${marker} --> comment is followed by a fenced block`);
  return readme.slice(body, end + 1);
}

/** The lines of a block that call `omnivec`, in order. */
export function omnivecLines(block: string): string[] {
  return block.split('\n').filter((l) => /^omnivec\s/.test(l));
}

/**
 * The environment of the blocks: this process's, without what `npm test` adds (npm_* variables
 * would steer a nested npm to this checkout) and without OMNIVEC_DB (the blocks use ./omnivec-data).
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'OMNIVEC_DB') continue;
    env[k] = v;
  }
  return { ...env, OMNIVEC: ROOT, OMNIVEC_NO_PROGRESS: '1', ...extra };
}

/** What one `omnivec` call of a block did. */
export interface Call { argv: string[]; cwd: string; out: string; code: number }

export interface BlockRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Each `omnivec` call, in order: its arguments (as bash expanded them), folder, output and exit code. */
  calls: Call[];
  /** For assertion messages: bash's status, the calls made and the last lines of stderr. */
  explain: string;
}

const out = (sink: (s: string) => void): Out => ({
  // As the command prints (db-commands' stdout).
  line: (s) => sink(s + '\n'),
  json: (v) => sink(JSON.stringify(v, null, 2) + '\n'),
});

/**
 * Runs this checkout's CLI in this process, in `cwd`, with ./omnivec-data as the default database
 * (or `db` as OMNIVEC_DB, as the block's shell had it); what it writes to stderr meanwhile goes to
 * `errSink` (and `err`) instead.
 */
export async function omnivec(argv: string[], cwd: string, sink: (s: string) => void = () => undefined,
  errSink: (s: string) => void = () => undefined, dbLocation?: string): Promise<{ code: number; out: string; err: string }> {
  const prev = process.cwd();
  const db = process.env.OMNIVEC_DB;
  let printed = '';
  if (dbLocation === undefined) delete process.env.OMNIVEC_DB;
  else process.env.OMNIVEC_DB = dbLocation;
  process.chdir(cwd);
  try {
    const { result: code, stderr: err } = await capture(() => main(argv, out((s) => { printed += s; sink(s); })), { tee: errSink });
    return { code, out: printed, err };
  } finally {
    process.chdir(prev);
    if (db !== undefined) process.env.OMNIVEC_DB = db;
    else delete process.env.OMNIVEC_DB;
  }
}

/**
 * Runs a README block with bash (`set -eu -o pipefail`) in `cwd`, TMPDIR = `tmp`/tmp, and `omnivec`
 * on the PATH: a small client that hands its arguments and folder to this process, which runs the
 * CLI's main() (from src/, as the other tests do) and sends back its output and exit code. Running
 * the command in-process keeps a 25-command walkthrough at a few seconds instead of a node start each.
 */
export async function runBlock(block: string, opts: { cwd: string; tmp: string; env?: Record<string, string>; timeoutMs?: number }): Promise<BlockRun> {
  const bin = join(opts.tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(opts.tmp, 'tmp'), { recursive: true });
  const socket = join(opts.tmp, 'omnivec.sock');
  writeFileSync(join(bin, 'omnivec'), `#!${process.execPath}\n${CLIENT}`);
  chmodSync(join(bin, 'omnivec'), 0o755);
  const script = join(opts.tmp, 'block.sh');
  writeFileSync(script, block);

  const calls: Call[] = [];
  let queue = Promise.resolve();
  const server = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const { argv, cwd, db } = JSON.parse(buf.slice(0, nl)) as { argv: string[]; cwd: string; db?: string };
      const send = (m: unknown): void => { sock.write(JSON.stringify(m) + '\n'); };
      queue = queue.then(async () => {
        let r: { code: number; out: string };
        try {
          r = await omnivec(argv, cwd, (s) => send({ out: s }), (s) => send({ err: s }), db);
        } catch (e) {
          send({ err: `omnivec (test harness): ${(e as Error).stack ?? String(e)}\n` });
          r = { code: 70, out: '' };
        }
        calls.push({ argv, cwd, out: r.out, code: r.code });
        send({ code: r.code });
      });
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((res) => server.listen(socket, res));
  try {
    const child = spawn('bash', ['-eu', '-o', 'pipefail', script], {
      cwd: opts.cwd,
      env: cleanEnv({ PATH: `${bin}:${process.env.PATH ?? ''}`, TMPDIR: join(opts.tmp, 'tmp'), OMNIVEC_TEST_SOCKET: socket, ...opts.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('close', (c, s) => res([c, s])));
    clearTimeout(timer);
    await queue;
    const explain = `bash exited ${status}${signal !== null ? ` (${signal})` : ''} after ${calls.length} omnivec calls; the last: ` +
      `${calls.length > 0 ? `omnivec ${calls.at(-1)!.argv.join(' ')} (exit ${calls.at(-1)!.code})` : 'none'}\n` +
      `--- stderr (last 40 lines):\n${stderr.split('\n').slice(-40).join('\n')}`;
    return { status, stdout, stderr, calls, explain };
  } finally {
    await new Promise((res) => server.close(res));
  }
}

/** The `omnivec` client on the blocks' PATH (CommonJS, run by node directly). */
const CLIENT = `
const { connect } = require('node:net');
const s = connect(process.env.OMNIVEC_TEST_SOCKET);
s.write(JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), db: process.env.OMNIVEC_DB }) + '\\n');
let buf = '';
s.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (m.out !== undefined) process.stdout.write(m.out);
    else if (m.err !== undefined) process.stderr.write(m.err);
    else { process.exitCode = m.code; s.end(); }
  }
});
s.on('error', (e) => { process.stderr.write('omnivec (test client): ' + e.message + '\\n'); process.exitCode = 70; });
`;

/**
 * Existence and modification time of each path in the checkout: a block that wrote into the clone
 * (instead of its scratch folder) changes one of them.
 */
export function cloneState(paths: string[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const p of paths) {
    const f = join(ROOT, p);
    out[p] = existsSync(f) ? statSync(f).mtimeMs : null;
  }
  return out;
}

/**
 * Asserts that the paths are as `before` says, after removing from the checkout any of them that
 * a block created there (so a failing run leaves the clone clean).
 */
export function assertCloneUnchanged(before: Record<string, number | null>, what: string): void {
  const after = cloneState(Object.keys(before));
  for (const [p, t] of Object.entries(after)) if (before[p] === null && t !== null) rmSync(join(ROOT, p), { recursive: true, force: true });
  assert.deepEqual(after, before, `${what} wrote nothing into the clone`);
}

/** Runs a program to its end (no shell), with the blocks' environment plus `env`. */
export async function exec(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: cleanEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const status = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

/** A source file of src/ newer than dist/index.js, if any (dist/ is what an installed package runs). */
export function newerThanDist(): string | undefined {
  const built = join(ROOT, 'dist', 'index.js');
  if (!existsSync(built)) return 'dist/index.js (missing)';
  const t = statSync(built).mtimeMs;
  const walk = (dir: string): string | undefined => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) { const r = walk(p); if (r !== undefined) return r; } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && s.mtimeMs > t) return p;
    }
    return undefined;
  };
  return walk(join(ROOT, 'src'));
}
