/**
 * One issue-16 target block of the ANN benchmark in its own process (started by bench/ann.ts):
 *   node --import tsx bench/lib/target-worker.ts CACHE_DIR BLOCK PLAN_JSON
 * Progress goes to stderr; the only thing written to stdout is the block's result as JSON.
 */
import { readCache } from './cache.js';
import { TARGET_BLOCKS, runTargetBlock, type TargetBlock, type TargetPlan } from './target-blocks.js';

const [dir, block, planJson] = process.argv.slice(2);
if (dir === undefined || planJson === undefined || !TARGET_BLOCKS.includes(block as TargetBlock)) {
  process.stderr.write(`usage: target-worker.ts CACHE_DIR BLOCK PLAN_JSON (BLOCK one of ${TARGET_BLOCKS.join(', ')})\n`);
  process.exit(2);
}
const { ds, gt } = readCache(dir);
const result = await runTargetBlock(block as TargetBlock, ds, gt, JSON.parse(planJson) as TargetPlan);
// Exit once the result is written: an index with worker threads (issue 16) must not keep the process alive.
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
