/**
 * `omnivec train sif` and `omnivec eval sts`: SIF sentence embeddings and the STS Benchmark
 * (docs/sif.md). Registered under the `train` and `eval` commands that main.ts creates.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError } from '../errors.js';
import { intArg, numberArg } from '../checks.js';
import { createTokenizer, type Tokenizer, type TokenizerSpec } from '../encoders/text/tokenizer.js';
import type { KeyedVectors } from '../encoders/word2vec/keyed-vectors.js';
import { loadWordVectors } from '../encoders/word2vec/files.js';
import { trainWord2Vec } from '../encoders/word2vec/trainer.js';
import { averageEncoder, fitSif, DEFAULT_A, type CountsSource, type SifModel } from '../encoders/sif/sif.js';
import { loadSif, readTextLines, saveSif } from '../encoders/sif/files.js';
import { STS_SPLITS, evaluateSts, readSts, stsFile, type StsResult, type StsSplit } from '../encoders/sif/sts.js';
import { openDatabase } from '../db/database.js';
import type { RecordInput } from '../db/records.js';
import { storedModelDir } from '../encoders/stored-models.js';
import { dbDir, type Out } from './db-commands.js';
import { Progress } from './progress.js';

function tokenizerArg(v: string | undefined): Tokenizer {
  if (v === undefined) return createTokenizer();
  if (v === 'words' || v === 'whitespace') return createTokenizer({ kind: v });
  let spec: unknown;
  try {
    spec = JSON.parse(v);
  } catch {
    throw new OmnivecError('invalid_argument', `--tokenizer: expected "words", "whitespace" or a JSON spec such as '{"kind": "words", "lowercase": false}', got ${JSON.stringify(v)}`);
  }
  return createTokenizer(spec as TokenizerSpec);
}

function frequenciesArg(v: string | undefined): CountsSource | undefined {
  if (v === undefined || v === 'vectors' || v === 'corpus') return v;
  throw new OmnivecError('invalid_argument', `--frequencies: expected "vectors" or "corpus", got ${JSON.stringify(v)}`);
}

function splitArg(v: string | undefined): StsSplit {
  const s = v ?? 'test';
  if (!(STS_SPLITS as readonly string[]).includes(s)) throw new OmnivecError('invalid_argument', `--split: expected one of ${STS_SPLITS.join(', ')}, got ${JSON.stringify(s)}`);
  return s as StsSplit;
}

const pct = (x: number): string => (Number.isNaN(x) ? '—' : (100 * x).toFixed(2));

function fitSummary(m: SifModel): string {
  const s = m.stats!;
  const explained = s.explained.map((e) => `${(100 * e).toFixed(1)} %`).join(', ');
  return `fitted on ${s.sentences.toLocaleString('en-US')} sentences (${s.emptySentences.toLocaleString('en-US')} without a known word, ` +
    `${s.knownTokens.toLocaleString('en-US')} of ${s.tokens.toLocaleString('en-US')} tokens known); p(w) from the ${s.countsFrom === 'vectors' ? "vectors' counts" : 'fitting sentences'}; ` +
    `a = ${m.a}; ${m.componentCount} component(s) removed${m.componentCount > 0 ? ` (share of Σ‖v‖²: ${explained})` : ''}` +
    `${m.normalizeWords ? '; unit word vectors' : ''}`;
}

/** Sentences of --fit-on files: STS-B files (both sides of each pair) or text, one sentence a line. */
async function* fitSentences(files: readonly string[]): AsyncGenerator<string> {
  for (const f of files) {
    if (/\.csv$/i.test(f)) {
      const p = await readSts(f);
      for (let i = 0; i < p.scores.length; i++) {
        yield p.sentences1[i]!;
        yield p.sentences2[i]!;
      }
    } else {
      yield* readTextLines(f);
    }
  }
}

export interface EvalStsOpts {
  vectors?: string; vectorsFormat?: string; counts?: string; model?: string; data: string; split?: string; fitOn?: string[];
  a?: string; components?: string; frequencies?: string; normalizeWords?: boolean; tokenizer?: string; json?: boolean;
}

export interface EvalStsReport {
  file: string;
  split: StsSplit;
  pairs: number;
  sif: StsResult;
  average: StsResult;
  model: { source: string; kind: 'fitted' | 'loaded'; fitOn: string[] | null; a: number; components: number; countsFrom: CountsSource; normalizeWords: boolean; stats: unknown };
}

/** `omnivec eval sts`: SIF and the plain average of the same word vectors on one STS-B split. */
export async function cmdEvalSts(o: EvalStsOpts, out: Out): Promise<EvalStsReport> {
  if ((o.vectors === undefined) === (o.model === undefined)) {
    throw new OmnivecError('invalid_argument', `expected exactly one of --vectors (word vectors; SIF is fitted here) and --model (a SIF folder from train sif), got ${o.vectors === undefined ? 'neither' : 'both'}`);
  }
  const split = splitArg(o.split);
  const file = await stsFile(o.data, split);
  const pairs = await readSts(file);
  let sif: SifModel;
  let fitOn: string[] | null = null;
  if (o.model !== undefined) {
    for (const [flag, v] of [['--fit-on', o.fitOn], ['--a', o.a], ['--components', o.components], ['--frequencies', o.frequencies],
      ['--tokenizer', o.tokenizer], ['--counts', o.counts], ['--normalize-words', o.normalizeWords]] as const) {
      if (v !== undefined) throw new OmnivecError('invalid_argument', `${flag}: applies to fitting with --vectors; a --model folder is already fitted (got ${flag} with --model)`);
    }
    sif = await loadSif(o.model);
  } else {
    const a = numberArg(o.a, '--a', { min: 0, minExclusive: true }) ?? DEFAULT_A;
    const components = intArg(o.components, '--components', { min: 0, max: 10_000 }) ?? 1;
    const kv = await loadWordVectors(o.vectors!, { format: (o.vectorsFormat ?? 'auto') as 'auto', counts: o.counts });
    const tokenizer = tokenizerArg(o.tokenizer);
    // Default fitting set: every STS-B split beside the evaluated file (the sentences only, never the scores).
    fitOn = o.fitOn !== undefined && o.fitOn.length > 0 ? o.fitOn
      : file === o.data ? [file] : await existingSplits(o.data);
    sif = await fitSif(kv, fitSentences(fitOn), {
      a, components, tokenizer, counts: frequenciesArg(o.frequencies), normalizeWords: o.normalizeWords === true,
    });
  }
  const average = averageEncoder(sif.kv, { tokenizer: sif.tokenizer, normalizeWords: sif.normalizeWords });
  const report: EvalStsReport = {
    file, split, pairs: pairs.scores.length,
    sif: await evaluateSts(sif, pairs),
    average: await evaluateSts(average, pairs),
    model: {
      source: o.model ?? o.vectors!, kind: o.model !== undefined ? 'loaded' : 'fitted', fitOn, a: sif.a!, components: sif.componentCount,
      countsFrom: sif.countsFrom!, normalizeWords: sif.normalizeWords, stats: sif.stats,
    },
  };
  if (o.json === true) {
    out.json(report);
  } else {
    out.line(`STS-B ${split}: ${report.pairs.toLocaleString('en-US')} pairs (${file})`);
    out.line('encoder   Spearman×100  Pearson×100  pairs with a zero vector');
    for (const [name, r] of [['SIF', report.sif], ['average', report.average]] as const) {
      out.line(`${name.padEnd(9)} ${pct(r.spearman).padStart(12)} ${pct(r.pearson).padStart(12)}  ${r.zeroPairs}`);
    }
    out.line(`SIF ${o.model !== undefined ? `loaded from ${o.model}, ` : ''}${fitSummary(sif)}`);
    if (fitOn !== null) out.line(`fitted on: ${fitOn.join(', ')}`);
  }
  return report;
}

async function existingSplits(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const s of STS_SPLITS) {
    const f = await stsFile(dir, s);
    try {
      await readSts(f);
      files.push(f);
    } catch (e) {
      if (!(e instanceof OmnivecError && e.code === 'not_found')) throw e;
    }
  }
  return files;
}

export interface TrainSifOpts {
  input: string; output?: string; into?: string; metric?: string; vectors?: string; vectorsFormat?: string; counts?: string; reference?: boolean;
  dim?: string; epochs?: string; window?: string; minCount?: string; model?: string; threads?: string; seed?: string;
  a?: string; components?: string; frequencies?: string; normalizeWords?: boolean; tokenizer?: string; json?: boolean;
}

/** `omnivec train sif`: word vectors (loaded, or trained with Word2Vec on the input), then SIF fitted on the input. */
export async function cmdTrainSif(o: TrainSifOpts, out: Out, db?: string): Promise<SifModel> {
  if (o.output === undefined && o.into === undefined) {
    throw new OmnivecError('invalid_argument', '--output or --into: say where the model goes (a folder, or the database with a collection bound to it)');
  }
  if (o.into === undefined && o.metric !== undefined) throw new OmnivecError('invalid_argument', '--metric: applies to the collection --into creates, but no --into was given');
  const a = numberArg(o.a, '--a', { min: 0, minExclusive: true }) ?? DEFAULT_A;
  const components = intArg(o.components, '--components', { min: 0, max: 10_000 }) ?? 1;
  const frequencies = frequenciesArg(o.frequencies);
  const tokenizer = tokenizerArg(o.tokenizer);
  let kv: KeyedVectors;
  let w2v: unknown = null;
  if (o.vectors !== undefined) {
    for (const [flag, v] of [['--dim', o.dim], ['--epochs', o.epochs], ['--window', o.window], ['--min-count', o.minCount], ['--model', o.model], ['--seed', o.seed]] as const) {
      if (v !== undefined) throw new OmnivecError('invalid_argument', `${flag}: a Word2Vec option, but --vectors gives the word vectors (got both)`);
    }
    kv = await loadWordVectors(o.vectors, { format: (o.vectorsFormat ?? 'auto') as 'auto', counts: o.counts });
  } else {
    if (o.reference === true) throw new OmnivecError('invalid_argument', '--reference: refers to the --vectors file, but no --vectors was given');
    if (o.model !== undefined && o.model !== 'cbow' && o.model !== 'skipgram') {
      throw new OmnivecError('invalid_argument', `--model: expected "cbow" or "skipgram", got ${JSON.stringify(o.model)}`);
    }
    const progress = new Progress('train word2vec');
    const m = await trainWord2Vec(o.input, {
      dim: intArg(o.dim, '--dim'), epochs: intArg(o.epochs, '--epochs'), window: intArg(o.window, '--window'), minCount: intArg(o.minCount, '--min-count', { min: 1 }),
      model: o.model as 'cbow' | 'skipgram' | undefined, threads: intArg(o.threads, '--threads', { min: 1, max: 1024 }) ?? availableParallelism(),
      seed: intArg(o.seed, '--seed', { min: 0 }), tokenizer: tokenizer.spec,
      onProgress: (p) => progress.update(p.words, p.phase === 'train' ? p.totalWords : undefined, p.phase === 'train' ? 'words trained' : 'words read'),
    });
    progress.done();
    kv = m.wv;
    w2v = { options: m.options, stats: { ...m.stats, epochs: m.stats.epochs.length } };
  }
  const model = await fitSif(kv, readTextLines(o.input), { a, components, tokenizer, counts: frequencies, normalizeWords: o.normalizeWords === true });
  const save = o.reference === true ? { vectors: { path: resolve(o.vectors!), format: o.vectorsFormat as never } } : {};
  if (o.output !== undefined) await saveSif(model, o.output, save);
  const into = o.into === undefined ? undefined : await storeSifInto(dbDir(db), o.into, model, o.input, o.metric, save);
  if (o.json === true) {
    out.json({ output: o.output ?? null, model: model.toJSON(), spec: model.spec(), word2vec: w2v, into: into ?? null });
  } else {
    if (w2v !== null) out.line(`word2vec: ${kv.size.toLocaleString('en-US')} words × ${kv.dim} trained on ${o.input}`);
    else out.line(`word vectors: ${kv.size.toLocaleString('en-US')} words × ${kv.dim} from ${o.vectors}`);
    out.line(`SIF ${fitSummary(model)}`);
    if (o.output !== undefined) out.line(`saved to ${o.output} (model ${model.spec().model})`);
    if (into !== undefined) {
      out.line(`saved to ${into.modelDir} (model ${model.spec().model}, served by omnivec serve under that name)`);
      out.line(`${into.created ? 'created' : into.replaced ? 'replaced' : 'refreshed'} ${o.into} (${model.dim}-d, ${into.metric}, encoder ${model.spec().model}); ` +
        `stored ${into.stored} sentences${into.zero > 0 ? `, left out ${into.zero} without a known word` : ''}; ${into.count} records now`);
    }
  }
  return model;
}

export interface SifIntoReport {
  modelDir: string;
  collection: string;
  metric: string;
  created: boolean;
  /** The collection was bound to another SIF model and was rebuilt for this one. */
  replaced: boolean;
  stored: number;
  /** Non-empty lines without a known word (a zero vector: not stored, it has no direction). */
  zero: number;
  count: number;
}

/**
 * `train sif --into`: the model saved in the database (`DIR/models/<name>/`, docs/server.md) and
 * the input's sentences stored in a collection bound to the model's spec, ids `line-N` (N the
 * line number; empty lines skipped). A collection bound to another SIF model is rebuilt (its
 * vectors came from a model this run replaces); one bound to anything else is refused.
 */
async function storeSifInto(dir: string, name: string, model: SifModel, input: string, metric: string | undefined, save: Parameters<typeof saveSif>[2]): Promise<SifIntoReport> {
  const spec = model.asEncoder().spec;
  const db = await openDatabase(dir);
  try {
    let created = false;
    let replaced = false;
    if (await db.hasCollection(name)) {
      const c = await db.getCollection(name);
      const bound = c.encoder;
      if (bound?.model !== spec.model) {
        if (bound === null || (bound.kind !== 'sif' && bound.kind !== 'average')) {
          throw new OmnivecError('already_exists', `--into ${name}: the collection exists and is bound to ${bound === null ? 'no encoder' : `the encoder "${bound.model}"`}, not a SIF model; choose another name or drop it`);
        }
        if (metric !== undefined && metric !== c.metric) throw new OmnivecError('invalid_argument', `--metric: ${name} is rebuilt with its own metric ${c.metric}, got ${metric}`);
        metric = c.metric;
        await db.dropCollection(name);
        replaced = true;
      } else if (metric !== undefined && metric !== c.metric) {
        throw new OmnivecError('invalid_argument', `--metric: ${name} exists with metric ${c.metric}, got ${metric}`);
      }
    }
    if (!(await db.hasCollection(name))) {
      await db.createCollection({ name, dim: model.dim, metric: (metric ?? 'cosine') as 'cosine', encoder: spec });
      created = !replaced;
    }
    const c = await db.getCollection(name);
    const modelDir = storedModelDir(db.filesDir, spec.model);
    await saveSif(model, modelDir, save);
    let stored = 0;
    let zero = 0;
    async function* records(): AsyncGenerator<RecordInput> {
      let batch: { line: number; text: string }[] = [];
      const flush = function* (): Generator<RecordInput> {
        // Sentences without a known word are counted and left out (not refused): allowEmpty.
        const vectors = model.encode(batch.map((b) => b.text), { allowEmpty: true });
        for (let i = 0; i < batch.length; i++) {
          const v = vectors[i]!;
          if (!v.some((x) => x !== 0)) { zero++; continue; }
          stored++;
          yield { id: `line-${batch[i]!.line}`, vector: v, document: batch[i]!.text, metadata: { line: batch[i]!.line } };
        }
        batch = [];
      };
      let line = 0;
      for await (const text of readTextLines(input)) {
        line++;
        if (text.trim() === '') continue;
        batch.push({ line, text });
        if (batch.length === 1024) yield* flush();
      }
      yield* flush();
    }
    await c.upsert(records());
    await c.flush();
    return { modelDir, collection: name, metric: c.metric, created, replaced, stored, zero, count: await c.count() };
  } finally {
    await db.close();
  }
}

/**
 * Adds `train sif` under `trainCommand` and `eval sts` under `evalCommand` (both created by
 * main.ts).
 */
export function registerSifCommands(trainCommand: Command, evalCommand: Command, out: Out): void {
  trainCommand.command('sif').description('SIF sentence embeddings: word vectors (given, or Word2Vec trained on the input), weights and principal component fitted on the input')
    .requiredOption('--input <file>', 'text, one sentence a line (.gz read through gunzip)')
    .option('--output <dir>', 'the model folder to write (sif.json, weights.f32, vectors.bin)')
    .option('--into <collection>', 'save the model in the database (DIR/models/) and store the input sentences in this collection, bound to the model (omnivec serve encodes its text queries)')
    .option('--metric <m>', 'with --into: metric of a collection it creates (cosine, ip, l2; default cosine)')
    .option('--vectors <file>', 'word vectors (word2vec text / binary, fastText .vec); default: train Word2Vec on the input')
    .option('--vectors-format <format>', 'auto | word2vec | word2vec-binary | fasttext (default auto)')
    .option('--counts <file>', 'with --vectors: their vocabulary counts (word count a line), for p(w)')
    .option('--reference', 'with --vectors: store the path of the vector file instead of a copy')
    .option('--dim <n>', 'Word2Vec: vector size (default 100)')
    .option('--epochs <n>', 'Word2Vec: passes (default 5)')
    .option('--window <n>', 'Word2Vec: context words each side (default 5)')
    .option('--min-count <n>', 'Word2Vec: drop rarer words (default 5)')
    .option('--model <m>', 'Word2Vec: cbow | skipgram (default cbow)')
    .option('--threads <n>', 'Word2Vec: worker threads (default: all cores)')
    .option('--seed <n>', 'Word2Vec: random seed (default 1)')
    .option('--a <a>', `SIF smoothing a in a/(a+p(w)) (default ${DEFAULT_A})`)
    .option('--components <k>', 'principal components removed (default 1)')
    .option('--frequencies <source>', "p(w) from 'vectors' (their counts; default when they have some) or 'corpus' (the input)")
    .option('--normalize-words', 'average unit-length word vectors')
    .option('--tokenizer <spec>', 'words | whitespace | a JSON spec (default words)')
    .option('--json', 'print JSON')
    .action(async (o: TrainSifOpts) => { await cmdTrainSif(o, out, trainCommand.parent?.opts<{ db?: string }>().db); });

  evalCommand.command('sts').description('STS Benchmark: Spearman and Pearson of cosine vs gold, SIF beside the plain average of the same word vectors')
    .requiredOption('--data <dir|file>', 'the STS-B folder (sts-train/dev/test.csv) or one file')
    .option('--vectors <file>', 'word vectors; SIF is fitted on --fit-on')
    .option('--vectors-format <format>', 'auto | word2vec | word2vec-binary | fasttext (default auto)')
    .option('--counts <file>', 'with --vectors: their vocabulary counts (word count a line), for p(w)')
    .option('--model <dir>', 'a SIF folder written by train sif (used as fitted)')
    .option('--split <split>', 'train | dev | test (default test)')
    .option('--fit-on <files...>', 'sentences to fit SIF on: STS-B .csv files (both sentences) or text, a line each (default: every split of --data)')
    .option('--a <a>', `SIF smoothing a (default ${DEFAULT_A})`)
    .option('--components <k>', 'principal components removed (default 1)')
    .option('--frequencies <source>', "p(w) from 'vectors' (their counts) or 'corpus' (the --fit-on sentences; default without counts)")
    .option('--normalize-words', 'average unit-length word vectors (SIF and the average)')
    .option('--tokenizer <spec>', 'words | whitespace | a JSON spec (default words)')
    .option('--json', 'print JSON')
    .action(async (o: EvalStsOpts) => { await cmdEvalSts(o, out); });
}
