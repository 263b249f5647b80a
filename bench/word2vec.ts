/**
 * Word2Vec benchmark: omnivec's trainer against gensim (Debian's python3-gensim) on the same
 * prepared corpus with the same settings (100 dimensions, window 5, negative 5, sample 1e-3,
 * min count 5, 5 epochs), at 1 and 2 threads, CBOW and skip-gram. Speed is corpus words × epochs /
 * training seconds for both; quality (WordSim-353, SimLex-999 Spearman, Google analogy accuracy) is
 * scored by omnivec's evaluation code on both sets of vectors. `npm run bench:word2vec -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { trainWord2Vec } from '../src/encoders/word2vec/trainer.js';
import { updateBenchmarksMd } from './lib/report.js';
import { loadWordVectors } from '../src/encoders/word2vec/files.js';
import { evaluateAnalogies, evaluateWordPairs } from '../src/encoders/word2vec/eval.js';
import type { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';

const USAGE = `Usage: npm run bench:word2vec -- [options]

  (no option)        corpora "joined3" (Tiny Shakespeare + WikiText-2 valid + Lee news, 0.45M tokens)
                     and "wordnet" (WordNet glosses, 3.7M tokens); CBOW and skip-gram; 1 and 2
                     threads; omnivec and gensim; writes bench/results/word2vec.{json,md} and the
                     word2vec section of BENCHMARKS.md
  --quick            joined3 only, CBOW only, 1 epoch; prints only
  --only NAME        joined3 | wordnet
  --models LIST      cbow,skipgram (default both)
  --threads LIST     1,2 (default)
  --seeds N          train each configuration with seeds 1..N and report the means (default 1):
                     2-thread training is not reproducible and quality varies by ±0.02 between seeds
  --data DIR         shared data directory (default ../shared/data)
  --no-write         print only
`;

const root = resolve(fileURLToPath(import.meta.url), '../..');
const args = process.argv.slice(2);
if (args.includes('--help')) { process.stdout.write(USAGE); process.exit(0); }
const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = args.includes('--quick');
const write = !quick && !args.includes('--no-write');
const dataDir = resolve(opt('--data') ?? join(root, '../shared/data'));
const corpora = (opt('--only') ?? (quick ? 'joined3' : 'joined3,wordnet')).split(',');
const models = (opt('--models') ?? (quick ? 'cbow' : 'cbow,skipgram')).split(',') as ('cbow' | 'skipgram')[];
const threadCounts = (opt('--threads') ?? '1,2').split(',').map(Number);
const epochs = quick ? 1 : 5;
const seeds = Number(opt('--seeds') ?? 1);
if (!Number.isInteger(seeds) || seeds < 1) { process.stderr.write(`--seeds: expected a positive integer, got ${opt('--seeds')}\n`); process.exit(2); }
const PY = '/usr/bin/python3';
const tmp = join(root, '.omnivec-tmp', 'bench-word2vec');
mkdirSync(tmp, { recursive: true });

function gensimAvailable(): boolean {
  try { execFileSync(PY, ['-c', 'import gensim'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/**
 * The corpus as both trainers read it: lower-cased, ASCII punctuation replaced by spaces, tokens
 * separated by one space, empty lines dropped (the preparation the data README asks for).
 */
async function prepare(name: string): Promise<string> {
  const out = join(tmp, `${name}.txt`);
  if (existsSync(out)) return out;
  const files = name === 'wordnet'
    ? [join(dataDir, 'text-en-wordnet-glosses/wordnet-glosses.txt.gz')]
    : [join(dataDir, 'text-en-tinyshakespeare/input.txt'), join(dataDir, 'text-en-wikitext2-valid/wiki.valid.txt'), join(dataDir, 'text-en-lee-news/lee_background.cor')];
  const lines: string[] = [];
  for (const f of files) {
    const raw = createReadStream(f);
    const rl = createInterface({ input: f.endsWith('.gz') ? raw.pipe(createGunzip()) : raw, crlfDelay: Infinity });
    for await (const line of rl) {
      const t = line.toLowerCase().replace(/[!-/:-@[-`{-~]/g, ' ').split(/\s+/).filter((x) => x.length > 0);
      if (t.length > 0) lines.push(t.join(' '));
    }
  }
  writeFileSync(out, lines.join('\n') + '\n');
  return out;
}

interface Quality { ws353: number; simlex: number; analogy: number; analogyCoverage: number }
interface Row { corpus: string; model: string; threads: number; seed: number; engine: 'omnivec' | 'gensim'; wordsPerSecond: number; trainSeconds: number; vocab: number; quality: Quality }

async function quality(kv: KeyedVectors): Promise<Quality> {
  const sim = join(dataDir, 'word-similarity-en');
  const ws = await evaluateWordPairs(kv, join(sim, 'wordsim353.tsv'));
  const sl = await evaluateWordPairs(kv, join(sim, 'simlex999.txt'));
  const an = await evaluateAnalogies(kv, join(dataDir, 'word-analogy-google/questions-words.txt'));
  return { ws353: ws.spearman, simlex: sl.spearman, analogy: an.total.accuracy, analogyCoverage: an.coverage };
}

async function runOurs(corpus: string, path: string, model: 'cbow' | 'skipgram', threads: number, seed: number): Promise<Row> {
  const m = await trainWord2Vec(path, {
    model, dim: 100, window: 5, negative: 5, sample: 1e-3, minCount: 5, epochs, threads, seed, tokenizer: { kind: 'whitespace' },
  });
  return {
    corpus, model, threads, seed, engine: 'omnivec', wordsPerSecond: m.stats.wordsPerSecond, trainSeconds: m.stats.trainSeconds,
    vocab: m.wv.size, quality: await quality(m.wv),
  };
}

async function runGensim(corpus: string, path: string, model: 'cbow' | 'skipgram', threads: number, seed: number): Promise<Row> {
  const out = join(tmp, `gensim-${corpus}-${model}-${threads}.vec`);
  const r = JSON.parse(execFileSync(PY, [join(root, 'bench/lib/gensim-word2vec.py'), path, out, String(threads),
    model === 'skipgram' ? '1' : '0', '0', String(epochs), 'corpus_file', String(seed)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as
    { vocab: number; wordsPerSecond: number; trainSeconds: number };
  const kv = await loadWordVectors(out);
  rmSync(out, { force: true });
  return { corpus, model, threads, seed, engine: 'gensim', wordsPerSecond: r.wordsPerSecond, trainSeconds: r.trainSeconds, vocab: r.vocab, quality: await quality(kv) };
}

const f3 = (x: number): string => x.toFixed(3);
const pct = (x: number): string => (100 * x).toFixed(2) + '%';

async function main(): Promise<void> {
  const haveGensim = gensimAvailable();
  if (!haveGensim) console.log('gensim is not installed for /usr/bin/python3 (apt-get install -y python3-gensim): omnivec figures only');
  const rows: Row[] = [];
  for (const c of corpora) {
    const path = await prepare(c);
    for (const model of models) {
      for (const t of threadCounts) for (let seed = 1; seed <= seeds; seed++) {
        // Alternate who goes first so that neither always runs on a warmer (or busier) machine.
        const order: ('omnivec' | 'gensim')[] = (rows.length / 2) % 2 === 0 ? ['omnivec', 'gensim'] : ['gensim', 'omnivec'];
        for (const e of order) {
          if (e === 'gensim' && !haveGensim) continue;
          const r = e === 'omnivec' ? await runOurs(c, path, model, t, seed) : await runGensim(c, path, model, t, seed);
          rows.push(r);
          console.log(`${c.padEnd(8)} ${model.padEnd(8)} threads ${t} seed ${seed}  ${e.padEnd(7)} ${Math.round(r.wordsPerSecond).toLocaleString('en-US').padStart(10)} words/s  ` +
            `train ${r.trainSeconds.toFixed(1)} s  vocab ${r.vocab}  ws353 ${f3(r.quality.ws353)}  simlex ${f3(r.quality.simlex)}  analogy ${pct(r.quality.analogy)} (coverage ${pct(r.quality.analogyCoverage)})`);
        }
      }
    }
  }
  const lines: string[] = [
    '| corpus | model | threads | omnivec words/s | gensim words/s | speed ratio | WS-353 ours / gensim | SimLex-999 ours / gensim | analogy ours / gensim |',
    '|---|---|---:|---:|---:|---:|---|---|---|',
  ];
  const mean = (engine: string, c: string, model: string, t: number): Row | undefined => {
    const rs = rows.filter((x) => x.engine === engine && x.corpus === c && x.model === model && x.threads === t);
    if (rs.length === 0) return undefined;
    const avg = (f: (x: Row) => number): number => rs.reduce((a, x) => a + f(x), 0) / rs.length;
    return {
      ...rs[0]!, wordsPerSecond: avg((x) => x.wordsPerSecond), trainSeconds: avg((x) => x.trainSeconds),
      quality: { ws353: avg((x) => x.quality.ws353), simlex: avg((x) => x.quality.simlex), analogy: avg((x) => x.quality.analogy), analogyCoverage: rs[0]!.quality.analogyCoverage },
    };
  };
  const configs = rows.filter((x) => x.engine === 'omnivec' && x.seed === 1);
  for (const r0 of configs) {
    const r = mean('omnivec', r0.corpus, r0.model, r0.threads)!;
    const g = mean('gensim', r0.corpus, r0.model, r0.threads);
    const ratio = g !== undefined ? r.wordsPerSecond / g.wordsPerSecond : NaN;
    lines.push(`| ${r.corpus} | ${r.model} | ${r.threads} | ${Math.round(r.wordsPerSecond).toLocaleString('en-US')} | ` +
      `${g !== undefined ? Math.round(g.wordsPerSecond).toLocaleString('en-US') : '—'} | ${g !== undefined ? ratio.toFixed(2) + '×' : '—'} | ` +
      `${f3(r.quality.ws353)} / ${g !== undefined ? f3(g.quality.ws353) : '—'} | ${f3(r.quality.simlex)} / ${g !== undefined ? f3(g.quality.simlex) : '—'} | ` +
      `${pct(r.quality.analogy)} / ${g !== undefined ? pct(g.quality.analogy) : '—'} |`);
  }
  const table = lines.join('\n');
  console.log('\n' + table);
  if (!write) return;
  const md = [
    '## Word2Vec training (`npm run bench:word2vec`)',
    '',
    `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, gensim via ${PY}.`,
    `Same prepared corpus (lower-cased, ASCII punctuation → spaces), 100-d, window 5, negative 5, sample 1e-3, min count 5, 5 epochs; means over ${seeds} seed(s); `,
    'gensim in its fastest mode (`corpus_file`). Words/s = corpus tokens × epochs / training seconds for both. Quality scored by omnivec\'s',
    'evaluation code on both sets of vectors (Spearman; analogy accuracy over the questions in the vocabulary, 3CosAdd, top 300,000 words).',
    `Command: \`npm run bench:word2vec${seeds > 1 ? ` -- --seeds ${seeds}` : ''}\`.`,
    '',
    table,
  ].join('\n');
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/word2vec.json'), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + '\n');
  writeFileSync(join(root, 'bench/results/word2vec.md'), md + '\n');
  updateBenchmarksMd(join(root, 'BENCHMARKS.md'), md, 'word2vec');
  console.log('wrote bench/results/word2vec.{json,md} and BENCHMARKS.md');
}

await main();
