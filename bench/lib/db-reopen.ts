/**
 * Times reopening a collection in a fresh process (bench:db): openDatabase + getCollection + open()
 * (load the newest snapshot, catch up from the records). Prints one JSON line.
 */
import { openDatabase } from '../../src/db/database.js';

const [dir, name] = process.argv.slice(2);
const s = performance.now();
const db = await openDatabase(dir!);
const c = await db.getCollection(name!);
await c.open();
const seconds = (performance.now() - s) / 1000;
const st = c.indexStatus();
process.stdout.write(JSON.stringify({ seconds, origin: st.origin, caughtUp: st.caughtUp, size: st.size }) + '\n');
await db.close();
