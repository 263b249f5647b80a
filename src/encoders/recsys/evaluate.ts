/**
 * The next-item protocol (item2vec/protocol.ts) for the deep recommenders: a `Recommender` from a
 * trained model — the user vector of the history, inner product against every candidate item
 * vector (exact: the flat index's answer), the history excluded, candidates seen at least
 * `minCount` times in training (the protocol's `QUERY_DEFAULTS.minCount`, as for Item2Vec).
 * Unknown history items are skipped; a history with none known gets no recommendation (a miss).
 */
import { QUERY_DEFAULTS, type Recommender } from '../item2vec/protocol.js';
import type { RecsysModel } from './model.js';

export function modelRecommender(model: RecsysModel, options: { minCount?: number } = {}): Recommender {
  const minCount = options.minCount ?? QUERY_DEFAULTS.minCount;
  const { ids, vectors } = model.itemVectors();
  const d = model.dim;
  const counts = model.vocab.counts;
  const nTrained = model.vocab.items.length;
  // Candidate rows: trained items seen ≥ minCount times (cold-start items have count 0).
  const cand: number[] = [];
  for (let i = 0; i < Math.min(ids.length, nTrained); i++) if (counts[i]! >= minCount) cand.push(i);
  return (history, k) => {
    if (!history.some((h) => model.vocab.index.has(h))) return [];
    const u = model.userVector({ history, unknown: 'skip' });
    const seen = new Set(history);
    const topS = new Float64Array(k).fill(-Infinity);
    const topI = new Int32Array(k).fill(-1);
    for (const i of cand) {
      if (seen.has(ids[i]!)) continue;
      let s = 0;
      const r = i * d;
      for (let j = 0; j < d; j++) s += u[j]! * vectors[r + j]!;
      if (s <= topS[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && topS[p - 1]! < s) { topS[p] = topS[p - 1]!; topI[p] = topI[p - 1]!; p--; }
      topS[p] = s;
      topI[p] = i;
    }
    const out: string[] = [];
    for (let p = 0; p < k && topI[p]! >= 0; p++) out.push(ids[topI[p]!]!);
    return out;
  };
}
