import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../db/database.js';
import { whileInterruptible } from './interrupt.js';
import { withTempDir } from '../../test/helpers/assertions.js';
import { capture } from '../../test/helpers/capture.js';

test('whileInterruptible: the first SIGINT aborts the signal and says so; the second removes the LOCK files and exits 130; the handler is gone afterwards', async () => {
  await withTempDir('omnivec-sigint-', async (dir) => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const db = await openDatabase(dir);
    try {
      const { result, stderr } = await capture(() => whileInterruptible('the current batch', async (signal) => {
        assert.equal(signals.listenerCount('SIGINT'), 1);
        signals.emit('SIGINT');
        assert.equal(signal.aborted, true);
        assert.equal(existsSync(join(dir, 'LOCK')), true, 'the first Ctrl-C leaves the lock to close()');
        signals.emit('SIGINT');
        return 'done';
      }, { signals, exit: (c) => exits.push(c) }));
      assert.equal(result, 'done');
      assert.deepEqual(exits, [130]);
      assert.equal(existsSync(join(dir, 'LOCK')), false, 'the second Ctrl-C removed the lock');
      assert.match(stderr, /^omnivec: interrupt: finishing the current batch, then stopping \(Ctrl-C again to quit at once\)\nomnivec: interrupted again: exiting now \(lock removed: .*LOCK\)/);
      assert.equal(signals.listenerCount('SIGINT'), 0);
    } finally {
      await db.close();
    }
  });
});
