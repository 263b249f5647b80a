/**
 * `omnivec serve`: the HTTP server over one database (docs/server.md). Runs until SIGINT or
 * SIGTERM, then closes gracefully (requests in flight finish); a second signal exits at once.
 */
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import { intArg } from '../checks.js';
import { createServer, DEFAULT_BODY_LIMIT } from '../server/index.js';
import type { Out } from './db-commands.js';

export interface ServeOpts {
  host?: string;
  port?: string;
  apiKey?: string;
  encoder?: string[];
  bodyLimit?: string;
  allowNetwork?: boolean;
  threads?: string;
  insecure?: boolean;
  allowedHost?: string[];
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** "16mb", "512kb", "1048576" → bytes (binary units: 1kb = 1024 bytes). */
export function parseSize(s: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const bytes = m === null || !(unit in UNITS) ? NaN : Math.floor(Number(m[1]) * UNITS[unit]!);
  if (!Number.isFinite(bytes) || bytes < 1) throw invalidArgument(`${what}: expected a size such as 16mb, 512kb or 1048576 (bytes), got ${JSON.stringify(s)}`);
  return bytes;
}

/** `--encoder NAME=MODEL`, repeatable → { NAME: MODEL }. */
export function parseEncoders(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list) {
    const at = s.indexOf('=');
    const name = at > 0 ? s.slice(0, at).trim() : '';
    const model = at > 0 ? s.slice(at + 1).trim() : '';
    if (name === '' || model === '') throw invalidArgument(`--encoder: expected NAME=MODEL (a model folder, .onnx file, hub id or openai:MODEL), got ${JSON.stringify(s)}`);
    if (name in out) throw invalidArgument(`--encoder: the name ${JSON.stringify(name)} is given twice`);
    out[name] = model;
  }
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}


/**
 * Starts the server and resolves once it has closed after a signal. `signals` is the process by
 * default; tests pass an EventEmitter-like object.
 */
export async function cmdServe(dir: string, o: ServeOpts, out: Out, signals: NodeJS.EventEmitter = process): Promise<void> {
  const host = o.host ?? '127.0.0.1';
  const port = intArg(o.port, '--port', { min: 0, max: 65535 }) ?? 8080;
  const apiKey = o.apiKey ?? (process.env.OMNIVEC_API_KEY || undefined);
  if (apiKey === undefined && !isLoopback(host) && o.insecure !== true) {
    throw invalidArgument(`--host ${host}: refusing to serve a non-loopback address without --api-key (or $OMNIVEC_API_KEY): anyone who can reach it could read and change the database; pass --insecure to do it anyway`);
  }
  const bodyLimit = o.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : parseSize(o.bodyLimit, '--body-limit');
  const threads = intArg(o.threads, '--threads', { min: 1, max: 1024 });
  const encoders = parseEncoders(o.encoder ?? []);
  const server = await createServer({
    db: dir, apiKey, bodyLimit, encoders, allowNetwork: o.allowNetwork === true, threads,
    allowedHosts: o.allowedHost ?? [],
    logger: { level: 'warn' },
  });
  let url: string;
  try {
    // A busy port, a host that is not this machine's: one line from listen(), no stack.
    url = await server.listen(port, host);
  } catch (e) {
    await server.close();
    throw e;
  }
  out.line(`omnivec: serving ${server.ctx.dbDir} at ${url}${apiKey === undefined ? '' : ' (API key required)'}`);
  await untilSignalled(server, signals, 'finishing the requests in flight, then closing');
  out.line('omnivec: closed');
}

/**
 * Resolves once SIGINT or SIGTERM has closed the server gracefully; a second signal exits at once
 * (the database is crash-safe: nothing acknowledged is lost by leaving then).
 */
export function untilSignalled(server: { close(): Promise<void> }, signals: NodeJS.EventEmitter, closing: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let signalled = false;
    const onSignal = (sig: string): void => {
      if (signalled) {
        process.stderr.write(`omnivec: ${sig} again, exiting now\n`);
        process.exit(130);
      }
      signalled = true;
      process.stderr.write(`omnivec: ${sig}: ${closing} (${sig} again to exit at once)\n`);
      server.close().then(() => {
        signals.off('SIGINT', onInt);
        signals.off('SIGTERM', onTerm);
        resolve();
      }, reject);
    };
    const onInt = (): void => onSignal('SIGINT');
    const onTerm = (): void => onSignal('SIGTERM');
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
  });
}

export function registerServeCommand(p: Command, db: () => string, out: Out): void {
  p.command('serve').description('serve the database over HTTP: JSON API, /v1/embeddings, maps, the explorer page (docs/server.md)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; others need --api-key or --insecure)')
    .option('--port <port>', 'port (default 8080; 0 picks a free one)')
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" (default $OMNIVEC_API_KEY)')
    .option('--encoder <name=model>', 'serve an encoder under NAME: a model folder, .onnx file, hub id or openai:MODEL (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--body-limit <size>', 'largest request body, e.g. 16mb (default), 512kb')
    .option('--allow-network', 'let encoders download models or call remote APIs')
    .option('--threads <n>', 'threads of each ONNX encoder')
    .option('--insecure', 'allow a non-loopback --host without an API key')
    .option('--allowed-host <name>', 'without an API key, also answer requests whose Host is NAME (repeatable; loopback names, IP addresses and --host always are)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action((o: ServeOpts) => cmdServe(db(), o, out));
}
