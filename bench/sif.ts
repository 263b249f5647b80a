/**
 * SIF against the plain average on the STS Benchmark, with word vectors trained here by our
 * Word2Vec on the WordNet glosses (4.0M tokens), or given with --vectors (e.g. gensim's, to
 * compare). `npm run bench:sif [-- options]`; writes bench/results/sif.{md,json}.
 *
 * Rows: the plain average; SIF with p(w) and the principal component fitted on different
 * sentence sets (the STS-B train+dev+test sentences, the test sentences only, the training
 * corpus); the weighting alone (no component removed); all of it with raw and with unit-length word
 * vectors; and a sweep of a. Method and discussion: docs/sif.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { trainWord2Vec } from '../src/encoders/word2vec/trainer.js';
import { loadWordVectors } from '../src/encoders/word2vec/files.js';
import type { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';
import {
  averageEncoder, evaluateSts, fitSif, readSts, readStsSentences, readTextLines, type CountsSource, type SifModel,
} from '../src/encoders/sif/index.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '/work/shared/data' },
    vectors: { type: 'string' },
    counts: { type: 'string' },
    dim: { type: 'string', default: '100' },
    model: { type: 'string', default: 'cbow' },
    epochs: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(availableParallelism()) },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/results/sif' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench:sif -- [options]
  --data DIR        shared data (text-en-wordnet-glosses/, sts-benchmark/; default /work/shared/data)
  --vectors FILE    use these word vectors instead of training (with --counts FILE for their counts)
  --dim N --model cbow|skipgram --epochs N --threads N --seed N   Word2Vec (defaults 100, cbow, 5, all cores, 1)
  --out PREFIX      results: PREFIX.md and PREFIX.json (default bench/results/sif)
`);
  process.exit(0);
}

const GLOSSES = join(args.data!, 'text-en-wordnet-glosses/wordnet-glosses.txt.gz');
const STS = join(args.data!, 'sts-benchmark');

interface Row {
  name: string;
  normalizeWords: boolean;
  fitOn: string;
  countsFrom: CountsSource | '—';
  a: number | null;
  components: number;
  spearman: number;
  pearson: number;
  fitSeconds: number;
  explained: number | null;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let kv: KeyedVectors;
  let vectorsNote: string;
  let training: Record<string, unknown> | null = null;
  if (args.vectors !== undefined) {
    kv = await loadWordVectors(args.vectors, { counts: args.counts });
    vectorsNote = `${args.vectors}${args.counts !== undefined ? ` (counts ${args.counts})` : ''}`;
  } else {
    const options = { dim: Number(args.dim), model: args.model as 'cbow' | 'skipgram', epochs: Number(args.epochs), threads: Number(args.threads), seed: Number(args.seed) };
    process.stderr.write(`training Word2Vec on ${GLOSSES} ${JSON.stringify(options)} …\n`);
    const m = await trainWord2Vec(GLOSSES, options);
    kv = m.wv;
    training = { ...options, seconds: m.stats.vocabSeconds + m.stats.trainSeconds, wordsPerSecond: m.stats.wordsPerSecond, corpusWords: m.stats.corpusWords, vocabSize: m.stats.vocabSize };
    vectorsNote = `our Word2Vec on the WordNet glosses: ${options.model}, ${options.dim}-d, window 5, negative 5, minCount 5, sample 1e-3, ${options.epochs} epochs, ` +
      `${options.threads} thread(s), seed ${options.seed} — ${m.stats.corpusWords.toLocaleString('en-US')} tokens, ${kv.size.toLocaleString('en-US')} words, ` +
      `${(m.stats.vocabSeconds + m.stats.trainSeconds).toFixed(1)} s`;
  }
  process.stderr.write(`vectors: ${vectorsNote}\n`);
  const test = await readSts(join(STS, 'sts-test.csv'));
  const all = await readStsSentences(STS);
  const testSentences = [...test.sentences1, ...test.sentences2];
  const sets: Record<string, () => Iterable<string> | AsyncIterable<string>> = {
    'STS-B train+dev+test': () => all,
    'STS-B test': () => testSentences,
    'WordNet glosses': () => readTextLines(GLOSSES),
  };
  const rows: Row[] = [];
  const add = async (name: string, model: SifModel, fitOn: string, fitSeconds: number): Promise<void> => {
    const r = await evaluateSts(model, test);
    rows.push({
      name, normalizeWords: model.normalizeWords, fitOn, countsFrom: model.countsFrom ?? '—', a: model.a, components: model.componentCount,
      spearman: r.spearman, pearson: r.pearson, fitSeconds, explained: model.stats?.explained[0] ?? null,
    });
    process.stderr.write(`${name.padEnd(28)} ${model.normalizeWords ? 'unit' : 'raw '} ${fitOn.padEnd(22)} ${String(model.countsFrom).padEnd(8)} ` +
      `a=${model.a} k=${model.componentCount}  ρ ${(100 * r.spearman).toFixed(2)}  r ${(100 * r.pearson).toFixed(2)}\n`);
  };
  const fit = async (name: string, fitOn: string, counts: CountsSource, components: number, normalizeWords: boolean, a = 1e-3): Promise<void> => {
    if (counts === 'vectors' && kv.counts === null) return;
    const t = performance.now();
    const model = await fitSif(kv, sets[fitOn]!(), { counts, components, normalizeWords, a });
    await add(name, model, fitOn, (performance.now() - t) / 1000);
  };
  for (const normalizeWords of [false, true]) {
    await add('average', averageEncoder(kv, { normalizeWords }), '—', 0);
    await fit('weights only', 'STS-B train+dev+test', 'corpus', 0, normalizeWords);
    await fit('SIF', 'STS-B train+dev+test', 'corpus', 1, normalizeWords);
    await fit('SIF', 'STS-B test', 'corpus', 1, normalizeWords);
    await fit('weights only', 'WordNet glosses', 'vectors', 0, normalizeWords);
    await fit('SIF', 'STS-B train+dev+test', 'vectors', 1, normalizeWords);
    await fit('SIF', 'STS-B test', 'vectors', 1, normalizeWords);
    await fit('SIF', 'WordNet glosses', 'vectors', 1, normalizeWords);
  }
  for (const a of [1e-4, 3e-4, 3e-3, 1e-2]) await fit('SIF (a sweep)', 'STS-B train+dev+test', 'corpus', 1, false, a);
  for (const k of [2, 5]) await fit('SIF (components sweep)', 'STS-B train+dev+test', 'corpus', k, false);

  const commit = (() => { try { return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim(); } catch { return '?'; } })();
  const header = [
    '## SIF on the STS Benchmark (`npm run bench:sif`)',
    '',
    `- Machine: ${cpus()[0]?.model ?? '?'}, ${availableParallelism()} logical CPUs; Node ${process.version}`,
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; commit ${commit}; total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    `- Command: \`npm run bench:sif${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\``,
    `- Word vectors: ${vectorsNote}`,
    `- Evaluation: STS-B test, ${test.scores.length} pairs; cosine of the two sentence vectors vs the gold score; ×100. ` +
      "Tokenizer {kind: 'words'} (lower-cased Unicode words, punctuation dropped) for training and encoding. Sentences without a known word: none.",
    '- fit on: the sentences p(w) (with p from "corpus") and the principal component are fitted on; p from "vectors" is the Word2Vec training counts (the glosses).',
    '',
    '| encoder | word vectors | fit on | p(w) from | a | components | Spearman | Pearson | share of Σ‖v‖² on PC 1 | fit s |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const table = rows.map((r) => `| ${r.name} | ${r.normalizeWords ? 'unit' : 'raw'} | ${r.fitOn} | ${r.countsFrom} | ${r.a ?? '—'} | ${r.components} | ` +
    `${(100 * r.spearman).toFixed(2)} | ${(100 * r.pearson).toFixed(2)} | ${r.explained === null ? '—' : (100 * r.explained).toFixed(1) + ' %'} | ${r.fitSeconds.toFixed(2)} |`);
  const md = [...header, ...table, ''].join('\n');
  process.stdout.write(md);
  mkdirSync(join(args.out!, '..'), { recursive: true });
  writeFileSync(`${args.out}.md`, md);
  writeFileSync(`${args.out}.json`, JSON.stringify({ vectors: vectorsNote, training, commit, date: new Date().toISOString(), pairs: test.scores.length, rows }, null, 2) + '\n');
  process.stderr.write(`wrote ${args.out}.md and ${args.out}.json\n`);
}

await main();
