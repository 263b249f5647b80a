/**
 * The server under load for bench:server, in its own process (so the load generator does not share
 * its event loop): `node --import tsx bench/lib/server-child.ts DB_DIR [NAME=MODEL ...]`. Prints the
 * URL on stdout once listening; SIGTERM closes it gracefully.
 */
import { createServer } from '../../src/server/app.js';

const [dir, ...pairs] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: server-child.ts DB_DIR [NAME=MODEL ...]');
const encoders: Record<string, string> = {};
for (const p of pairs) {
  const eq = p.indexOf('=');
  encoders[p.slice(0, eq)] = p.slice(eq + 1);
}
// OMNIVEC_BENCH_TASK_WORKERS=0: tasks on the server's thread (the comparison bench:server prints).
const taskWorkers = process.env.OMNIVEC_BENCH_TASK_WORKERS === undefined ? undefined : Number(process.env.OMNIVEC_BENCH_TASK_WORKERS);
// OMNIVEC_BENCH_SCAN_THREADS=0: filter scans and full text on the server's thread (createServer's scanThreads; default 1).
const scanThreads = process.env.OMNIVEC_BENCH_SCAN_THREADS === undefined ? undefined : Number(process.env.OMNIVEC_BENCH_SCAN_THREADS);
const server = await createServer({ db: dir, encoders, bodyLimit: 64 * 1024 * 1024, ...(scanThreads !== undefined ? { scanThreads } : {}), ...(taskWorkers !== undefined ? { taskWorkers } : {}) });
const url = await server.listen(0, '127.0.0.1');
process.stdout.write(`${url}\n`);
const stop = (): void => { void server.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
