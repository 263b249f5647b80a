/**
 * `omnivec demo`: builds a demo database offline from what the package carries (its own
 * documentation) or generates (a seeded listening history), then serves it with the explorer
 * (docs/cli.md, "demo"). A finished demo folder is reused: a second run only serves it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError, invalidArgument } from '../errors.js';
import { intArg } from '../checks.js';
import { createServer } from '../server/index.js';
import type { Out } from './db-commands.js';
import { buildDemo, type DemoBuildReport } from './demo-build.js';
import { isLoopback, untilSignalled } from './serve-command.js';

/** Written first (`complete: false`) and rewritten last: it marks a folder as a demo this command made. */
export const DEMO_MARKER = 'omnivec-demo.json';
export const DEFAULT_DEMO_DIR = './omnivec-demo';

export interface DemoOpts {
  port?: string;
  host?: string;
  /** commander's `--no-serve`: false when given. */
  serve?: boolean;
  open?: boolean;
  force?: boolean;
  threads?: string;
}

interface Marker {
  complete: boolean;
  version: 1;
  built?: string;
  report?: DemoBuildReport;
}

function readMarker(dir: string): Marker | null {
  const f = join(dir, DEMO_MARKER);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as Marker;
  } catch {
    return { complete: false, version: 1 };
  }
}

/**
 * Builds the demo in `dir` unless a finished one is there. A folder that exists, is not empty and
 * holds no demo marker is refused: the demo never writes into a database it did not make. An
 * unfinished demo (interrupted build) is removed and built again, and so is a finished one with
 * `force`.
 */
export async function prepareDemo(dir: string, o: { force?: boolean; threads?: number }, log: (s: string) => void): Promise<{ built: boolean; report: DemoBuildReport | null }> {
  const marker = readMarker(dir);
  if (marker === null && existsSync(dir) && readdirSync(dir).length > 0) {
    throw new OmnivecError('already_exists', `${dir}: the folder exists and is not an omnivec demo (no ${DEMO_MARKER}); the demo writes only into a folder of its own: pass another --db DIR`);
  }
  if (marker?.complete === true && o.force !== true) {
    log(`omnivec demo: reusing the demo built in ${dir}${marker.built === undefined ? '' : ` on ${marker.built}`} (--force rebuilds it)`);
    return { built: false, report: marker.report ?? null };
  }
  if (marker !== null) {
    log(`omnivec demo: ${marker.complete ? 'rebuilding' : 'an unfinished build is in'} ${dir}${marker.complete ? '' : ': starting again'}`);
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, DEMO_MARKER), JSON.stringify({ complete: false, version: 1 } satisfies Marker) + '\n');
  log(`omnivec demo: building ${dir} (offline: the package's documentation and a seeded listening history)`);
  const report = await buildDemo(dir, { threads: o.threads, log: (s) => log(`  ${s}`) });
  const done: Marker = { complete: true, version: 1, built: new Date().toISOString(), report };
  await writeFile(join(dir, DEMO_MARKER), JSON.stringify(done, null, 2) + '\n');
  log(`omnivec demo: built in ${report.seconds.toFixed(1)} s`);
  return { built: true, report };
}

/** Opens `url` in the desktop's browser when a launcher is installed; says so otherwise. */
function openBrowser(url: string, log: (s: string) => void): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => log(`omnivec demo: could not run ${cmd}; open ${url} in a browser`));
  child.unref();
}

/** `omnivec demo`: prepare, then serve until SIGINT / SIGTERM (unless `serve` is false). */
export async function cmdDemo(dir: string, o: DemoOpts, out: Out, signals: NodeJS.EventEmitter = process): Promise<void> {
  const host = o.host ?? '127.0.0.1';
  const port = intArg(o.port, '--port', { min: 0, max: 65535 }) ?? 8080;
  const threads = intArg(o.threads, '--threads', { min: 1, max: 1024 });
  if (!isLoopback(host)) {
    throw invalidArgument(`--host ${host}: the demo serves loopback addresses only; for another address use omnivec serve --db ${dir} --host ${host} --api-key KEY`);
  }
  const log = (s: string): void => { process.stderr.write(s + '\n'); };
  const { report } = await prepareDemo(dir, { force: o.force, threads }, log);
  if (report !== null) {
    for (const c of report.collections) out.line(`  ${c.name.padEnd(7)} ${String(c.count).padStart(5)} records, ${c.dim}-d: ${c.what}`);
  }
  if (o.serve === false) {
    out.line(`omnivec demo: the database is ${resolve(dir)}; serve it with: omnivec serve --db ${dir}`);
    return;
  }
  const server = await createServer({ db: dir, logger: { level: 'warn' } });
  let url: string;
  try {
    url = await server.listen(port, host);
  } catch (e) {
    await server.close();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw invalidArgument(`--port ${port}: the port is in use on ${host}; pass another --port (0 picks a free one)`);
    }
    throw e;
  }
  const page = `${url}/?collection=docs`;
  out.line(`omnivec demo: the explorer is at ${page}`);
  out.line(`  try: search "HNSW efSearch recall" in docs, open ${url}/?collection=albums and colour by genre; Ctrl-C stops`);
  if (o.open === true) openBrowser(page, log);
  await untilSignalled(server, signals, 'closing');
  out.line('omnivec: closed');
}

/**
 * `omnivec demo`. The folder is the program's `--db` when given on the command line, else
 * ./omnivec-demo ($OMNIVEC_DB is not used: the demo never lands in the database you work with).
 */
export function registerDemoCommand(p: Command, db: () => string, out: Out): void {
  p.command('demo').description('build a demo database offline (the package\'s docs with SIF, a synthetic Item2Vec set) and open the explorer on it')
    .option('--port <port>', 'port (default 8080; 0 picks a free one)')
    .option('--host <host>', 'loopback address to listen on (default 127.0.0.1)')
    .option('--no-serve', 'build the database and stop')
    .option('--open', 'open the explorer in the browser (xdg-open / open)')
    .option('--force', 'rebuild a demo folder built before (default: reuse it)')
    .option('--threads <n>', 'training threads (default 1: the same demo on every run)')
    .addHelpText('after', `\nThe folder is --db DIR when given, else ${DEFAULT_DEMO_DIR}; a folder that holds anything but a demo is refused.`)
    .action((o: DemoOpts) => cmdDemo(p.getOptionValueSource('db') === 'cli' ? db() : DEFAULT_DEMO_DIR, o, out));
}
