/**
 * IVF training: seconds and recall@10 at a fixed nProbe for k-means settings (docs/indexes/ivf.md,
 * "Training"). Recall of an IVF-Flat index is computed without building one: a true neighbour is
 * found iff its list (its nearest centroid) is among the query's nProbe nearest centroids, since
 * the probed lists are scanned exhaustively.
 *
 *   node --import tsx bench/ivf-train.ts [--quick] [--mnist] [--clusters C] [--threads N] [--configs a,b,...]
 *
 * Configs: `old` (k-means++, up to 20 iterations, no early stop: the training before issue 17),
 * `default` (kmeans() defaults), `index` (IvfIndex.train with its defaults, built and searched).
 */
import { FlatIndex } from '../src/indexes/flat/flat-index.js';
import { IvfIndex, defaultNProbe } from '../src/indexes/ivf/ivf-index.js';
import { kmeans, type KMeansOptions } from '../src/indexes/ivf/kmeans.js';
import { groundTruth, recallAt, K } from './lib/measure.js';
import { loadMnist, syntheticClusters, type BenchDataset } from './lib/datasets.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const quick = args.includes('--quick');
const threads = Number(flag('--threads') ?? 1);
const ds: BenchDataset = args.includes('--mnist')
  ? loadMnist('/work/shared/data', 500)
  : syntheticClusters('synthetic', quick ? 20_000 : 100_000, quick ? 200 : 500, 128, Number(flag('--clusters') ?? 100));
const n = ds.base.count;
const nList = Math.round(4 * Math.sqrt(n));
const nProbe = defaultNProbe(nList);
const configs: Record<string, Partial<KMeansOptions>> = {
  old: { iterations: 20, tolerance: 0, init: 'kmeans++' },
  default: {},
  random: { init: 'random' },
  'tol1e-2': { tolerance: 1e-2 },
  'tol1e-2-random': { tolerance: 1e-2, init: 'random' },
  'tol1e-4': { tolerance: 1e-4 },
  s128: { maxSamples: 128 * nList },
  s64: { maxSamples: 64 * nList },
  's64-random': { maxSamples: 64 * nList, init: 'random' },
  's39-random': { maxSamples: 39 * nList, init: 'random' },
  's128-random': { maxSamples: 128 * nList, init: 'random' },
  index: {},
};
// `r-s64-t5e-3`: random init, at most 64 samples per centroid, tolerance 5e-3 (any subset, any order).
const parse = (name: string): Partial<KMeansOptions> | undefined => {
  if (!name.startsWith('r-') && !name.startsWith('pp-')) return undefined;
  const o: Partial<KMeansOptions> = { init: name.startsWith('r-') ? 'random' : 'kmeans++' };
  for (const part of name.split('-').slice(1).join('-').split(/-(?=[st])/)) {
    if (part.startsWith('s')) o.maxSamples = Number(part.slice(1)) * nList;
    else if (part.startsWith('t')) o.tolerance = Number(part.slice(1));
  }
  return o;
};
const chosen = (flag('--configs') ?? 'old,default,index').split(',');
const gt = groundTruth(ds);
console.log(`${ds.description}; nList ${nList}, nProbe ${nProbe}, threads ${threads}`);

/** recall@10 of IVF-Flat with these centroids at nProbe and at SMALL_PROBE lists. */
const SMALL_PROBE = 4;
function recallOf(centroids: Float32Array): string {
  const ids = Uint32Array.from({ length: nList }, (_, i) => i);
  const q = new FlatIndex({ dim: ds.dim, metric: 'l2' });
  q.add(ids, { data: centroids, dim: ds.dim, count: nList });
  const list = q.searchBatch(ds.base, 1, { threads }).ids;
  const probe = q.searchBatch(ds.queries, nProbe, { threads }).ids;
  const at = (p: number): number => {
    let sum = 0;
    for (let i = 0; i < ds.queries.count; i++) {
      const probed = new Set(probe.subarray(i * nProbe, i * nProbe + p));
      let hits = 0;
      for (let j = 0; j < K; j++) if (probed.has(list[gt.ids[i * K + j]!]!)) hits++;
      sum += hits / K;
    }
    return sum / ds.queries.count;
  };
  return `recall@10 ${at(nProbe).toFixed(4)} (nProbe ${nProbe}), ${at(SMALL_PROBE).toFixed(4)} (nProbe ${SMALL_PROBE})`;
}
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

for (const name of chosen) {
  const cfg = configs[name] ?? parse(name);
  if (cfg === undefined) throw new Error(`unknown config ${name}; known: ${Object.keys(configs).join(', ')}`);
  if (name === 'index') {
    const index = new IvfIndex({ dim: ds.dim, metric: 'l2', threads, nProbe });
    const t0 = performance.now();
    const c0 = cpu();
    index.train(ds.base);
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = cpu() - c0;
    index.add(Uint32Array.from({ length: n }, (_, i) => i), ds.base);
    const r = index.searchBatch(ds.queries, K, { threads });
    let sum = 0;
    for (let i = 0; i < ds.queries.count; i++) sum += recallAt(ds, gt, i, r.ids.subarray(i * K, (i + 1) * K));
    console.log(`index    train ${seconds.toFixed(2)} s (CPU ${cpuSeconds.toFixed(2)} s)  recall@10 ${(sum / ds.queries.count).toFixed(4)} (IvfIndex.train, built and searched)`);
    continue;
  }
  const its: string[] = [];
  const t0 = performance.now();
  const c0 = cpu();
  const centroids = kmeans(ds.base, nList, {
    metric: 'l2', threads, ...cfg,
    onIteration: (it, obj, moved) => its.push(`${it}:${obj.toExponential(4)}/${moved}`),
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpu() - c0;
  console.log(`${name.padEnd(8)} train ${seconds.toFixed(2)} s (CPU ${cpuSeconds.toFixed(2)} s)  ${recallOf(centroids)}  iterations ${its.length}`);
  if (args.includes('--trace')) console.log(`  ${its.join(' ')}`);
}
