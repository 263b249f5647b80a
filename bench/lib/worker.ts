/**
 * One block of the ANN benchmark in its own process (started by bench/ann.ts):
 *   node --import tsx bench/lib/worker.ts CACHE_DIR BLOCK PLAN_JSON
 * Progress goes to stderr; the only thing written to stdout is the block's result as JSON.
 */
import { BLOCKS, runBlock, type BlockName, type BlockPlan } from './blocks.js';
import { readCache } from './cache.js';

const [dir, block, planJson] = process.argv.slice(2);
if (dir === undefined || planJson === undefined || !BLOCKS.includes(block as BlockName)) {
  process.stderr.write(`usage: worker.ts CACHE_DIR BLOCK PLAN_JSON (BLOCK one of ${BLOCKS.join(', ')})\n`);
  process.exit(2);
}
const { ds, gt } = readCache(dir);
const result = await runBlock(block as BlockName, ds, gt, JSON.parse(planJson) as BlockPlan);
process.stdout.write(JSON.stringify(result) + '\n');
