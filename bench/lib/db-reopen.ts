/**
 * Times reopening a collection in a fresh process (bench:db): openDatabase + getCollection + open()
 * (load the newest snapshot, catch up from the records). With `--query`, then times the first
 * k = 10 query (a vector of zeros: the index answers it like any other). Prints one JSON line.
 */
import { openDatabase } from '../../src/db/database.js';

const [dir, name, ...rest] = process.argv.slice(2);
const s = performance.now();
const db = await openDatabase(dir!);
const c = await db.getCollection(name!);
await c.open();
const seconds = (performance.now() - s) / 1000;
let firstQueryMs: number | undefined;
if (rest.includes('--query')) {
  const dim = (await c.info()).dim;
  const q = performance.now();
  await c.query({ vector: new Float32Array(dim).fill(0.01), k: 10, include: [] });
  firstQueryMs = performance.now() - q;
}
const st = c.indexStatus();
process.stdout.write(JSON.stringify({ seconds, firstQueryMs, origin: st.origin, caughtUp: st.caughtUp, size: st.size }) + '\n');
await db.close();
