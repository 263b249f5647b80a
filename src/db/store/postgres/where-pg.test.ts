/**
 * The PostgreSQL filter compilation (where-pg.ts) held to the JS evaluator on a real server, as
 * src/db/where.test.ts holds the SQLite one: seeded random records and filters, every expression
 * true or false on every row (never NULL), `$not` the exact complement, long `$in` lists as one
 * array parameter. Skips without OMNIVEC_TEST_PG_URL (test/helpers/postgres.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Random } from '../../../vector/random.js';
import { checkWhere, checkWhereDocument, type Metadata, type Scalar, type Where, type WhereDocument } from '../../where.js';
import { compileFilterPg } from './where-pg.js';
import { PG_SKIP, withPgDatabase } from '../../../../test/helpers/postgres.js';
import { matchingSlots, randomFilters } from '../../../../test/helpers/where-random.js';

const COLUMNS = { metadata: 'metadata', document: 'document' };

class PgTable {
  constructor(readonly client: pg.Client, readonly records: [Metadata | null, string | null][]) {}

  static async create(client: pg.Client, records: [Metadata | null, string | null][]): Promise<PgTable> {
    await client.query('CREATE TABLE t (slot integer PRIMARY KEY, metadata jsonb, document text)');
    await client.query(
      'INSERT INTO t SELECT * FROM unnest($1::int[], $2::jsonb[], $3::text[])',
      [records.map((_, i) => i + 1), records.map(([m]) => (m === null ? null : JSON.stringify(m))), records.map(([, d]) => d)],
    );
    return new PgTable(client, records);
  }

  async sql(where: Where | undefined, wd: WhereDocument | undefined): Promise<number[]> {
    const { sql, params } = compileFilterPg(where, wd, COLUMNS);
    const { rows } = await this.client.query<{ slot: number; r: unknown }>(`SELECT slot, (${sql}) AS r FROM t ORDER BY slot`, params);
    const out: number[] = [];
    for (const { slot, r } of rows) {
      if (r !== true && r !== false) assert.fail(`filter ${JSON.stringify(where)} gave ${String(r)} on slot ${slot}: ${sql}`);
      if (r) out.push(slot);
    }
    return out;
  }

  js(where: Where | undefined, wd: WhereDocument | undefined): number[] {
    return matchingSlots(this.records, where, wd);
  }
}

async function withTable(records: [Metadata | null, string | null][], fn: (t: PgTable) => Promise<void>): Promise<void> {
  await withPgDatabase('where_pg', async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await fn(await PgTable.create(client, records));
    } finally {
      await client.end();
    }
  });
}

test('property: compiled PostgreSQL SQL selects exactly the records the JS evaluator matches', { skip: PG_SKIP }, async () => {
  const gen = randomFilters({ nul: false });
  const rng = new Random(20240611);
  await withTable(Array.from({ length: 2500 }, () => gen.record(rng)), async (t) => {
    let nonTrivial = 0;
    const filters = 300;
    for (let i = 0; i < filters; i++) {
      const where = gen.where(rng, 3);
      const wd = rng.next() < 0.2 ? gen.whereDocument(rng, 2) : undefined;
      checkWhere(where);
      if (wd !== undefined) checkWhereDocument(wd);
      const expected = t.js(where, wd);
      assert.deepEqual(await t.sql(where, wd), expected, JSON.stringify({ where, wd }));
      assert.equal((await t.sql({ $not: where }, wd)).length + expected.length, t.js(undefined, wd).length);
      if (expected.length > 0 && expected.length < t.records.length) nonTrivial++;
    }
    assert.ok(nonTrivial > filters / 2, `only ${nonTrivial} of ${filters} filters split the records`);
  });
});

test('numbers beyond 2^53, -0 and extremes; code point order; long $in lists as one parameter', { skip: PG_SKIP }, async () => {
  const records: [Metadata | null, string | null][] = [
    [{ n: 9007199254740994, s: 'a' }, null], [{ n: 9007199254740992, s: 'B' }, null], [{ n: -0, s: '😀' }, null],
    [{ n: 1.7976931348623157e308, s: '\uFFFF' }, null], [{ n: 5e-324, s: 'é' }, null], [{ n: [0.1, 2], s: ['\uE000', 'b'] }, null],
  ];
  await withTable(records, async (t) => {
    const cases: Where[] = [
      { n: { $gt: 9007199254740992 } }, { n: { $gte: 9007199254740992 } }, { n: 0 }, { n: { $lt: 0 } }, { n: { $gt: 0 } },
      { n: { $gte: 1e308 } }, { n: 0.1 }, { n: { $in: [2, 5e-324] } }, { s: { $gt: '\uFFFF' } }, { s: { $lt: 'a' } },
      { s: { $gt: 'é' } }, { s: { $in: ['b', 'B'] } }, { n: { $ne: 2 } }, { s: { $nin: ['a', 'B', '😀'] } },
    ];
    for (const w of cases) assert.deepEqual(await t.sql(w, undefined), t.js(w, undefined), JSON.stringify(w));
    const many = (n: number, f: (i: number) => Scalar): Scalar[] => Array.from({ length: n }, (_, i) => f(i));
    const long: Where = { n: { $in: [...many(5000, (i) => i * 1000 + 0.5), 2, 'x'] }, s: { $nin: many(5000, (i) => `s${i}`) } };
    assert.deepEqual(await t.sql(long, undefined), t.js(long, undefined));
    assert.ok(compileFilterPg(long, undefined, COLUMNS).params.length < 20);
  });
});
