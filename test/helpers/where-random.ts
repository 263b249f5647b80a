/**
 * Seeded random records and filters for the property tests that hold a store's compiled filter SQL
 * to the JS evaluator (src/db/where.test.ts for SQLite, src/db/store/postgres/where-pg.test.ts for
 * PostgreSQL). `nul: false` leaves out strings with NUL (U+0000), which PostgreSQL text cannot hold.
 */
import { Random } from '../../src/vector/random.js';
import { matchesWhere, matchesWhereDocument, type Metadata, type Scalar, type Where, type WhereDocument } from '../../src/db/where.js';

export const KEYS = ['a', 'b', 'c', 'x.y', 'q"\\k', '😀'];
const ALL_SCALARS: Scalar[] = [
  null, true, false, 0, 1, -1, 2, 3, 1.5, -0.5, 2.5, 1e20, 633762049816333400, 0.1 + 0.2, 0.3,
  '', 'a', 'b', 'ab', 'B', 'é', '😀', '\uE000', 'a\u0000b', '1', 'true', 'null',
];
const ALL_WORDS = ['a', 'b', 'ab', 'é', '😀', ' ', '\u0000', 'Fox', 'fox'];

function pick<T>(rng: Random, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

export interface RandomFilters {
  record(rng: Random): [Metadata | null, string | null];
  where(rng: Random, depth: number): Where;
  whereDocument(rng: Random, depth: number): WhereDocument;
}

/** The generators; `nul: false` leaves out strings with NUL in values and documents. */
export function randomFilters(options: { nul?: boolean } = {}): RandomFilters {
  const SCALARS = options.nul === false ? ALL_SCALARS.filter((v) => typeof v !== 'string' || !v.includes('\u0000')) : ALL_SCALARS;
  const WORDS = options.nul === false ? ALL_WORDS.filter((w) => !w.includes('\u0000')) : ALL_WORDS;

  function record(rng: Random): [Metadata | null, string | null] {
    let metadata: Metadata | null = null;
    if (rng.next() >= 0.08) {
      metadata = {};
      for (const key of KEYS) {
        const r = rng.next();
        if (r < 0.3) continue;
        metadata[key] = r < 0.5 ? Array.from({ length: rng.int(4) }, () => pick(rng, SCALARS)) : pick(rng, SCALARS);
      }
    }
    const document = rng.next() < 0.1 ? null : Array.from({ length: rng.int(5) }, () => pick(rng, WORDS)).join('');
    return [metadata, document];
  }

  function rangeValue(rng: Random): number | string {
    for (;;) {
      const v = pick(rng, SCALARS);
      if (typeof v === 'number' || typeof v === 'string') return v;
    }
  }

  function operators(rng: Random, depth: number): Record<string, unknown> {
    const ops: Record<string, unknown> = {};
    const n = 1 + rng.int(2);
    for (let i = 0; i < n; i++) {
      const op = pick(rng, ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$not']);
      switch (op) {
        case '$eq':
        case '$ne': ops[op] = pick(rng, SCALARS); break;
        case '$in':
        case '$nin': {
          const len = rng.next() < 0.05 ? 17 + rng.int(10) : 1 + rng.int(4);
          ops[op] = Array.from({ length: len }, () => pick(rng, SCALARS));
          break;
        }
        case '$exists': ops[op] = rng.next() < 0.5; break;
        case '$not': ops[op] = depth > 0 && rng.next() < 0.7 ? operators(rng, depth - 1) : pick(rng, SCALARS); break;
        default: ops[op] = rangeValue(rng);
      }
    }
    return ops;
  }

  function where(rng: Random, depth: number): Where {
    const r = rng.next();
    if (depth > 0 && r < 0.15) return { [pick(rng, ['$and', '$or'])]: Array.from({ length: 1 + rng.int(3) }, () => where(rng, depth - 1)) };
    if (depth > 0 && r < 0.22) return { $not: where(rng, depth - 1) };
    const w: Where = {};
    const n = rng.next() < 0.8 ? 1 : 2;
    for (let i = 0; i < n; i++) {
      w[pick(rng, KEYS)] = rng.next() < 0.25 ? pick(rng, SCALARS) : operators(rng, 2);
    }
    if (depth > 0 && rng.next() < 0.1) w.$or = [where(rng, depth - 1), where(rng, depth - 1)];
    return w;
  }

  function whereDocument(rng: Random, depth: number): WhereDocument {
    const r = rng.next();
    if (depth > 0 && r < 0.3) {
      return { [pick(rng, ['$and', '$or'])]: Array.from({ length: 1 + rng.int(3) }, () => whereDocument(rng, depth - 1)) };
    }
    const needle = Array.from({ length: 1 + rng.int(2) }, () => pick(rng, WORDS)).join('');
    return { [r < 0.65 ? '$contains' : '$not_contains']: needle };
  }

  return { record, where, whereDocument };
}

/** The slots (1, 2, … in the order of `records`) the JS evaluator matches: the oracle of the SQL tests. */
export function matchingSlots(records: readonly [Metadata | null, string | null][], where: Where | undefined, wd: WhereDocument | undefined): number[] {
  const out: number[] = [];
  records.forEach(([m, d], i) => {
    if ((where === undefined || matchesWhere(m, where)) && (wd === undefined || matchesWhereDocument(d, wd))) out.push(i + 1);
  });
  return out;
}
