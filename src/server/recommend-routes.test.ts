/** POST /api/collections/:name/recommendations: one user, many users, the same answers as the CLI, errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from './app.js';
import { fakeEncoders } from '../../test/helpers/fake-encoders.js';
import { client } from '../../test/helpers/http.js';
import { cmdRecommendUsers, cmdTrainRecsys } from '../cli/recommend-command.js';
import type { Out } from '../cli/db-commands.js';

const quiet: Out = { line: () => undefined, json: () => undefined };

test('HTTP recommendations: YouTube DNN collection, single and batch equal the CLI; errors are 400 / 404', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-rec-http-'));
  try {
    const seqs = join(dir, 'seq.txt');
    writeFileSync(seqs, Array.from({ length: 40 }, (_, u) => Array.from({ length: 5 }, (_, j) => `m${(u + j) % 10}`).join(' ')).join('\n') + '\n');
    const db = join(dir, 'db');
    await cmdTrainRecsys('youtube-dnn', () => db, { input: seqs, into: 'yt', dim: '8', hidden: '16', epochs: '2', quiet: true }, quiet);
    const cli = await cmdRecommendUsers(db, 'yt', { history: ['m1 m2'], k: '3' }, quiet);
    const server = await createServer({ db, encoderService: fakeEncoders({ dim: 8 }) });
    try {
      const call = client(await server.listen(0));
      let r = await call('POST', '/api/collections/yt/recommendations', { history: ['m1', 'm2'], k: 3 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.items, cli[0]);
      r = await call('POST', '/api/collections/yt/recommendations', { users: [{ history: ['m4'] }, { history: ['m1', 'm2'] }], k: 3 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((r.body.users as unknown[]).length, 2);
      assert.deepEqual((r.body.users as unknown[])[1], cli[0]);
      r = await call('POST', '/api/collections/yt/recommendations', { history: ['m1', 'nope'] });
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.match(JSON.stringify(r.body), /nope/);
      r = await call('POST', '/api/collections/yt/recommendations', { history: [] });
      assert.equal(r.status, 400);
      r = await call('POST', '/api/collections/yt/recommendations', { history: ['m1'], decay: 0.5 });
      assert.equal(r.status, 400);
      assert.match(JSON.stringify(r.body), /youtube-dnn model/);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
