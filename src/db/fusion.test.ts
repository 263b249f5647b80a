import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { Random } from '../vector/random.js';
import { OmnivecError } from '../errors.js';
import { ftsQuery, maxSim, reciprocalRankFusion, weightedFusion, type RankedList } from './fusion.js';

const f = Math.fround;

function list(ids: number[], scores?: number[]): RankedList {
  return { ids, scores: scores ?? ids.map((_, i) => ids.length - i) };
}

function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

function plain(r: { ids: Uint32Array; scores: Float32Array }): { ids: number[]; scores: number[] } {
  return { ids: Array.from(r.ids), scores: Array.from(r.scores) };
}

test('reciprocalRankFusion: two and three lists, k0, weights, limit', () => {
  const a = list([1, 2, 3]);
  const b = list([3, 1, 4]);
  // 1: 1/61 + 1/62 = .032522; 3: 1/63 + 1/61 = .032266; 2: 1/62; 4: 1/63
  assert.deepEqual(plain(reciprocalRankFusion([a, b])), {
    ids: [1, 3, 2, 4],
    scores: [f(1 / 61 + 1 / 62), f(1 / 63 + 1 / 61), f(1 / 62), f(1 / 63)],
  });
  // k0 = 1: 1: 1/2 + 1/3 = .833; 3: 1/4 + 1/2 = .75; 2: 1/3; 4: 1/4
  assert.deepEqual(plain(reciprocalRankFusion([a, b], { k0: 1 })), {
    ids: [1, 3, 2, 4],
    scores: [f(1 / 2 + 1 / 3), f(1 / 4 + 1 / 2), f(1 / 3), f(1 / 4)],
  });
  // Three lists.
  const c = list([4, 2, 3]);
  // 1: 1/61+1/62 = .032522; 2: 1/62+1/62 = .032258; 3: 1/63+1/61+1/63 = .048139; 4: 1/63+1/61 = .032266
  assert.deepEqual(plain(reciprocalRankFusion([a, b, c])), {
    ids: [3, 1, 4, 2],
    scores: [f(1 / 63 + 1 / 61 + 1 / 63), f(1 / 61 + 1 / 62), f(1 / 63 + 1 / 61), f(2 / 62)],
  });
  // Weights: list a counts double. 1: 2/61 + 1/62; 3: 2/63 + 1/61; 2: 2/62; 4: 1/63
  assert.deepEqual(plain(reciprocalRankFusion([a, b], { weights: [2, 1] })), {
    ids: [1, 3, 2, 4],
    scores: [f(2 / 61 + 1 / 62), f(2 / 63 + 1 / 61), f(2 / 62), f(1 / 63)],
  });
  // Weight 0 leaves a list out (4 appears nowhere else).
  assert.deepEqual(Array.from(reciprocalRankFusion([a, b], { weights: [1, 0] }).ids), [1, 2, 3]);
  assert.deepEqual(Array.from(reciprocalRankFusion([a, b], { limit: 2 }).ids), [1, 3]);
  assert.deepEqual(Array.from(reciprocalRankFusion([a, b], { limit: 0 }).ids), []);
  assert.deepEqual(plain(reciprocalRankFusion([])), { ids: [], scores: [] });
  assert.deepEqual(plain(reciprocalRankFusion([list([]), list([7])])), { ids: [7], scores: [f(1 / 61)] });
});

test('reciprocalRankFusion: ties by smaller id, repeats, typed arrays, scores ignored', () => {
  // 9 and 2 swap places: equal sums, so the smaller id comes first.
  const r = reciprocalRankFusion([list([9, 2, 5]), list([2, 9])]);
  assert.deepEqual(Array.from(r.ids), [2, 9, 5]);
  assert.equal(r.scores[0], r.scores[1]);
  // Equal single ranks across lists.
  assert.deepEqual(Array.from(reciprocalRankFusion([list([8]), list([3]), list([5])]).ids), [3, 5, 8]);
  // A repeated id counts at its first rank only; ranks are positions in the list as given.
  assert.deepEqual(plain(reciprocalRankFusion([list([4, 4, 6])], { k0: 0 })), { ids: [4, 6], scores: [1, f(1 / 3)] });
  const typed = reciprocalRankFusion([{ ids: Uint32Array.of(1, 2), scores: Float32Array.of(0, 0) }, { ids: [2], scores: [] }]);
  assert.deepEqual(Array.from(typed.ids), [2, 1]);
});

test('fusion refusals', () => {
  throwsCode(() => reciprocalRankFusion({} as unknown as RankedList[]), 'invalid_argument', /^lists: expected an array/);
  throwsCode(() => reciprocalRankFusion([list([1]), { ids: 5 } as unknown as RankedList]), 'invalid_argument', /^lists\[1\]\.ids: expected an array/);
  throwsCode(() => reciprocalRankFusion([list([1, -1])]), 'invalid_argument', /^lists\[0\]\.ids\[1\]: expected an integer/);
  throwsCode(() => reciprocalRankFusion([list([1.5])]), 'invalid_argument', /^lists\[0\]\.ids\[0\]/);
  throwsCode(() => reciprocalRankFusion([list([1])], { k0: -1 }), 'invalid_argument', /^k0: expected a finite number ≥ 0, got the number -1/);
  throwsCode(() => reciprocalRankFusion([list([1])], { weights: [1, 2] }), 'invalid_argument', /^weights: expected one weight per list \(1\), got 2/);
  throwsCode(() => reciprocalRankFusion([list([1])], { weights: [-1] }), 'invalid_argument', /^weights\[0\]: expected a finite number ≥ 0/);
  throwsCode(() => reciprocalRankFusion([list([1])], { limit: 1.5 }), 'invalid_argument', /^limit:/);
  throwsCode(() => weightedFusion([list([1])], undefined as unknown as number[]), 'invalid_argument', /^weights: expected an array of 1 numbers/);
  throwsCode(() => weightedFusion([{ ids: [1, 2], scores: [1] }], [1]), 'invalid_argument', /^lists\[0\]: expected one score per id \(2\), got 1/);
  throwsCode(() => weightedFusion([{ ids: [1], scores: [NaN] }], [1]), 'invalid_argument', /^lists\[0\]\.scores\[0\]: expected a finite number, got NaN/);
  throwsCode(() => weightedFusion([{ ids: [1] } as unknown as RankedList], [1]), 'invalid_argument', /^lists\[0\]\.scores: expected an array/);
});

test('weightedFusion: min-max normalisation, equal scores, missing = 0, weights', () => {
  const a = list([1, 2, 3], [0.9, 0.5, 0.1]); // norm 1, .5, 0
  const b = list([3, 4], [2, 2]); // all equal: 1, 1
  // 1: 1; 2: .5; 3: 0 + .5 · 1; 4: .5 · 1 — three-way tie at .5, by id.
  assert.deepEqual(plain(weightedFusion([a, b], [1, 0.5])), { ids: [1, 2, 3, 4], scores: [1, 0.5, 0.5, 0.5] });
  // 1: .2; 2: .1; 3: 0 + 1; 4: 1
  assert.deepEqual(plain(weightedFusion([a, b], [0.2, 1])), { ids: [3, 4, 1, 2], scores: [1, 1, f(0.2), f(0.1)] });
  // Negated distances; a single-entry list normalises to 1.
  const dense = list([7, 8, 9], [-0.1, -0.3, -0.5]); // norm 1, .5, 0
  const text = list([9], [12.5]);
  assert.deepEqual(plain(weightedFusion([dense, text], [1, 1])), { ids: [7, 9, 8], scores: [1, 1, 0.5] });
  assert.deepEqual(Array.from(weightedFusion([dense, text], [1, 1], { limit: 1 }).ids), [7]);
  // Weight 0 leaves a list out; a repeated id counts at its first occurrence (and its score only).
  assert.deepEqual(Array.from(weightedFusion([dense, text], [1, 0]).ids), [7, 8, 9]);
  assert.deepEqual(plain(weightedFusion([list([5, 6, 5], [3, 1, 100])], [1])), { ids: [5, 6], scores: [1, 0] });
  assert.deepEqual(plain(weightedFusion([list([], [])], [1])), { ids: [], scores: [] });
});

test('maxSim equals a naive double loop', () => {
  const rng = new Random(4);
  for (const dim of [1, 3, 8, 17, 128]) {
    for (const [nq, nd] of [[1, 1], [3, 4], [5, 7], [32, 9], [2, 130]] as const) {
      const q = Float32Array.from({ length: nq * dim }, () => rng.gaussian());
      const d = Float32Array.from({ length: nd * dim }, () => rng.gaussian());
      let want = 0;
      for (let i = 0; i < nq; i++) {
        let best = -Infinity;
        for (let j = 0; j < nd; j++) {
          let s = 0;
          for (let c = 0; c < dim; c++) s += q[i * dim + c]! * d[j * dim + c]!;
          best = Math.max(best, s);
        }
        want += best;
      }
      assert.equal(maxSim(q, nq, d, nd, dim), want, `dim ${dim}, ${nq} × ${nd}`);
    }
  }
  // Hand example: q = [(1,0), (0,1)], d = [(0.5,0.5), (2,-1), (-1,3)] → max(.5,2,-1) + max(.5,-1,3) = 5
  assert.equal(maxSim(Float32Array.of(1, 0, 0, 1), 2, Float32Array.of(0.5, 0.5, 2, -1, -1, 3), 3, 2), 5);
  assert.equal(maxSim(new Float32Array(0), 0, Float32Array.of(1, 2), 1, 2), 0);
  assert.equal(maxSim(Float32Array.of(1, 2), 1, new Float32Array(0), 0, 2), -Infinity);
  throwsCode(() => maxSim(Float32Array.of(1, 2, 3), 2, Float32Array.of(1, 2), 1, 2), 'dimension_mismatch', /^query: expected queryCount × dim = 2 × 2 = 4 numbers, got 3/);
  throwsCode(() => maxSim(Float32Array.of(1, 2), 1, Float32Array.of(1, 2), 2, 2), 'dimension_mismatch', /^doc:/);
  throwsCode(() => maxSim([1, 2] as unknown as Float32Array, 1, Float32Array.of(1, 2), 1, 2), 'invalid_argument', /^query: expected a Float32Array/);
  throwsCode(() => maxSim(Float32Array.of(1, 2), 1, Float32Array.of(1, 2), 1, 0), 'invalid_argument', /^dim:/);
  throwsCode(() => maxSim(Float32Array.of(1, 2), -1, Float32Array.of(1, 2), 1, 2), 'invalid_argument', /^queryCount:/);
});

test('ftsQuery: terms quoted and OR-ed, syntax characters inert', () => {
  assert.equal(ftsQuery('hello world'), '"hello" OR "world"');
  assert.equal(ftsQuery('  Hello, hello HELLO!  '), '"Hello"');
  assert.equal(ftsQuery('He said "hi" -- (AND) NEAR(x y) * col:v ^z'),
    '"He" OR "said" OR "hi" OR "AND" OR "NEAR" OR "x" OR "y" OR "col" OR "v" OR "z"');
  assert.equal(ftsQuery('semi-colon don\'t e-mail_2 3.14'), '"semi" OR "colon" OR "don" OR "t" OR "e" OR "mail" OR "2" OR "3" OR "14"');
  assert.equal(ftsQuery('café naïve'), '"café" OR "naïve"');
  assert.equal(ftsQuery('cafe\u0301'), '"café"', 'normalised to NFC');
  assert.equal(ftsQuery(''), undefined);
  assert.equal(ftsQuery('   '), undefined);
  assert.equal(ftsQuery('"" * - () : ^ + ,.;'), undefined);
  // Text without spaces: the run and its words.
  const zh = ftsQuery('北京天安门');
  assert.ok(zh !== undefined && zh.startsWith('"北京天安门" OR '), zh);
  const words = zh.split(' OR ').slice(1).map((t) => t.slice(1, -1));
  assert.ok(words.length >= 2, zh);
  assert.equal(words.join(''), '北京天安门');
  assert.equal(ftsQuery('Привет мир'), '"Привет" OR "мир"');
  throwsCode(() => ftsQuery(3 as unknown as string), 'invalid_argument', /^text: expected a string, got the number 3/);
});

test('ftsQuery expressions are accepted by SQLite FTS5 and find the right rows', () => {
  const db = new Database(':memory:');
  try {
    db.exec('CREATE VIRTUAL TABLE f USING fts5(doc)');
    const docs = [
      'The quick brown fox',                             // 1
      'He said "hello" to me',                           // 2
      'C++ and C# are languages',                        // 3
      'semi-colon; AND NEAR operators (parentheses)',    // 4
      'star* wildcard',                                  // 5
      'my café is near',                                 // 6
      '北京天安门',                                        // 7
      'nothing relevant here',                           // 8
      'starlight and stardust',                          // 9
    ];
    const insert = db.prepare('INSERT INTO f(rowid, doc) VALUES (?, ?)');
    docs.forEach((d, i) => insert.run(i + 1, d));
    const match = db.prepare('SELECT rowid FROM f WHERE f MATCH ? ORDER BY rowid');
    const find = (text: string): number[] | undefined => {
      const expr = ftsQuery(text);
      return expr === undefined ? undefined : (match.all(expr) as { rowid: number }[]).map((r) => r.rowid);
    };
    assert.deepEqual(find('fox'), [1]);
    assert.deepEqual(find('"hello"'), [2]);
    assert.deepEqual(find('say "hello'), [2]);
    assert.deepEqual(find('AND'), [3, 4, 9]);
    assert.deepEqual(find('NEAR('), [4, 6]);
    assert.deepEqual(find('NEAR(fox hello)'), [1, 2, 4, 6]);
    assert.deepEqual(find('(parentheses)'), [4]);
    assert.deepEqual(find('star*'), [5], '* is not a prefix operator');
    assert.deepEqual(find('sta*'), []);
    assert.deepEqual(find('-colon'), [4]);
    assert.deepEqual(find('fox -quick'), [1], '- is not a NOT operator');
    assert.deepEqual(find('semi-colon'), [4]);
    assert.deepEqual(find('C++ OR fox'), [1, 3]);
    assert.deepEqual(find('CAFE'), [6], 'unicode61 folds case and diacritics on both sides');
    assert.deepEqual(find('北京天安门'), [7]);
    assert.deepEqual(find('zzz qqq'), []);
    assert.equal(find('"*-()'), undefined);
    assert.equal(find(''), undefined);

    // Random text from a pool of syntax characters and words never yields an invalid expression.
    const rng = new Random(6);
    const pool = ['"', '*', '-', '+', '(', ')', ':', '^', ' ', ' ', 'AND', 'OR', 'NOT', 'NEAR', 'fox', 'col', '{', '}', ',', "'", '北京', 'é', '\u0301', '_', '.', '\\', '\t', '\n'];
    for (let i = 0; i < 500; i++) {
      let text = '';
      const n = rng.int(12);
      for (let j = 0; j < n; j++) text += pool[rng.int(pool.length)];
      const expr = ftsQuery(text);
      if (expr !== undefined) assert.doesNotThrow(() => match.all(expr), `${JSON.stringify(text)} → ${expr}`);
    }
  } finally {
    db.close();
  }
});
