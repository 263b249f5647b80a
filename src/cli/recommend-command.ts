/**
 * `omnivec train youtube-dnn | two-tower` (a deep recommender trained on user sequences, saved in
 * the database's `models/` with its item vectors in a collection bound to it) and the user form of
 * `omnivec recommend NAME` (`--history`, `--user-id`, and the batch `--histories FILE --out FILE`),
 * which works for Item2Vec, YouTube DNN and two-tower collections alike. docs/recommenders.md.
 */
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { OmnivecError, invalidArgument } from '../errors.js';
import { intArg, numberArg } from '../checks.js';
import { openDatabase } from '../db/database.js';
import type { Where } from '../db/where.js';
import { storedModelDir } from '../encoders/stored-models.js';
import { parseSequences, readSequences } from '../encoders/recsys/data.js';
import { readFeatures } from '../encoders/recsys/features.js';
import { saveRecsys } from '../encoders/recsys/files.js';
import type { EpochReport, RecsysModel } from '../encoders/recsys/model.js';
import { trainYoutubeDnn, YOUTUBE_DNN_DEFAULTS } from '../encoders/youtube-dnn/train.js';
import { pretrainItemVectors } from '../encoders/recsys/pretrain.js';
import { trainTwoTower, TWO_TOWER_DEFAULTS } from '../encoders/two-tower/train.js';
import { collectionModel, recommendForUsers, type ItemScore, type UserQueryInput } from '../tasks/recommend.js';
import { dbDir, jsonArg, type Out } from './db-commands.js';

/** `--where` and `--min-count N` (items seen at least N times: `{count: {$gte: N}}`) as one filter. */
export function recommendWhere(whereJson: string | undefined, minCountArg: string | undefined): Where | undefined {
  const where = jsonArg<Where>('--where', whereJson);
  const minCount = intArg(minCountArg, '--min-count', { min: 1 });
  if (minCount === undefined || minCount <= 1) return where;
  const m: Where = { count: { $gte: minCount } };
  return where === undefined ? m : { $and: [where, m] };
}

export const RECSYS_KINDS = ['youtube-dnn', 'two-tower'] as const;
export type RecsysCliKind = (typeof RECSYS_KINDS)[number];

/** Options of `train youtube-dnn | two-tower`, as commander hands them over. */
export interface TrainRecsysOpts {
  input?: string; userFeatures?: string; itemFeatures?: string; idColumn?: string; into?: string;
  dim?: string; hidden?: string; epochs?: string; negatives?: string; batchSize?: string; lr?: string;
  examplesPerUser?: string; maxHistory?: string; recent?: string; threads?: string; seed?: string; quiet?: boolean; json?: boolean;
  init?: string; average?: string;
}

function hiddenArg(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  if (text === 'none' || text === '') return [];
  return text.split(',').map((s) => intArg(s.trim(), '--hidden', { min: 1, max: 16_384 })!);
}

/**
 * Trains the model on the sequences file, saves it in `DIR/models/<kind>--<fingerprint>/` and
 * stores its item vectors (inner product) in `--into`, bound to it (`encoder: {model: kind:fp,
 * kind}`), with `count` metadata (training occurrences; 0 for a cold-start item). An existing
 * collection of another dimension is `dimension_mismatch`; one bound to another deep recommender
 * is replaced; any other is `already_exists`.
 */
export async function cmdTrainRecsys(kind: RecsysCliKind, db: () => string, o: TrainRecsysOpts, out: Out): Promise<RecsysModel> {
  if (o.input === undefined || o.input === '') throw invalidArgument('--input: the sequences file is required (one user a line, "USER<TAB>item item …" or just the items, oldest first)');
  if (o.into === undefined || o.into === '') throw invalidArgument('--into: the collection the item vectors go to is required');
  if (kind === 'youtube-dnn' && o.itemFeatures !== undefined) throw invalidArgument('--item-features: goes with two-tower (YouTube DNN learns item vectors from ids only)');
  const sequences = await readSequences(o.input);
  const idColumn = o.idColumn !== undefined ? { idColumn: o.idColumn } : {};
  const userFeatures = o.userFeatures === undefined ? undefined : await readFeatures(o.userFeatures, idColumn);
  const itemFeatures = o.itemFeatures === undefined ? undefined : await readFeatures(o.itemFeatures, idColumn);
  for (const t of [userFeatures, itemFeatures]) if (t !== undefined && t.skipped.length > 0) process.stderr.write(`${kind}: features left out: ${t.skipped.join('; ')}\n`);
  // A file whose id column is not the one the sequences use would train on zeros: refuse it.
  const items = new Set<string>();
  for (const seq of sequences.values()) for (const it of seq) items.add(it);
  for (const [t, file, what, has] of [[userFeatures, o.userFeatures, 'user', (id: string) => sequences.has(id)], [itemFeatures, o.itemFeatures, 'item', (id: string) => items.has(id)]] as const) {
    if (t === undefined) continue;
    let hits = 0;
    for (const id of t.rows.keys()) if (has(id)) hits++;
    if (hits === 0) {
      throw invalidArgument(`${file}: no value of its id column ${JSON.stringify(t.schema.idColumn)} is a ${what} of ${o.input}` +
        `${what === 'user' ? ' (users are the ids before the tab, or line numbers)' : ''}; expected an id column matching them (--id-column NAME)`);
    }
  }
  const onEpoch = (e: EpochReport): void => {
    if (o.quiet !== true) process.stderr.write(`${kind}: epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)}, ${Math.round(e.examplesPerSecond).toLocaleString('en-US')} examples/s\n`);
  };
  const common = {
    dim: intArg(o.dim, '--dim', { min: 1, max: 4096 }),
    hidden: hiddenArg(o.hidden),
    epochs: intArg(o.epochs, '--epochs', { min: 1 }),
    batchSize: intArg(o.batchSize, '--batch-size', { min: 1 }),
    lr: numberArg(o.lr, '--lr', { min: 0, minExclusive: true }),
    examplesPerUser: intArg(o.examplesPerUser, '--examples-per-user', { min: 0 }),
    maxHistory: intArg(o.maxHistory, '--max-history', { min: 1 }),
    recent: intArg(o.recent, '--recent', { min: 0 }),
    threads: intArg(o.threads, '--threads', { min: 1, max: 256 }),
    seed: intArg(o.seed, '--seed', { min: 0 }),
    average: numberArg(o.average, '--average', { min: 0, max: 1000 }),
    ...(userFeatures !== undefined ? { userFeatures } : {}),
    onEpoch,
  };
  const defined = Object.fromEntries(Object.entries(common).filter(([, v]) => v !== undefined));
  // Check the collection before training: a mistake should not cost a training run.
  const dim = common.dim ?? (kind === 'youtube-dnn' ? YOUTUBE_DNN_DEFAULTS.dim : TWO_TOWER_DEFAULTS.dim);
  await checkInto(db(), o.into, dim);
  const init = o.init ?? 'item2vec';
  if (init !== 'item2vec' && init !== 'random') throw invalidArgument(`--init: expected item2vec or random, got ${JSON.stringify(init)}`);
  // The item table starts from Item2Vec vectors of the same width (docs/recommenders.md#tuning).
  if (init === 'item2vec') (defined as { initialItems?: unknown }).initialItems = await pretrainItemVectors(sequences, { dim, seed: common.seed ?? 1 });
  const model = kind === 'youtube-dnn'
    ? trainYoutubeDnn(sequences, { ...defined, ...(o.negatives !== undefined ? { negatives: intArg(o.negatives, '--negatives', { min: 1 }) } : {}) })
    : trainTwoTower(sequences, { ...defined, ...(itemFeatures !== undefined ? { itemFeatures } : {}) });
  if (o.negatives !== undefined && kind === 'two-tower') process.stderr.write('two-tower: --negatives ignored (the other examples of the batch are the negatives; see --batch-size)\n');
  const s = model.stats!;
  const stored = await storeModel(db(), o.into, model);
  const summary = { kind, items: model.vocab.items.length, users: sequences.size, examples: s.examples, seconds: s.seconds, examplesPerSecond: s.examplesPerSecond, threads: s.threads,
    loss: s.epochs.map((e) => e.loss), collection: o.into, model: stored.model, stored: stored.count, coldStart: stored.coldStart };
  if (o.json === true) out.json(summary);
  else {
    out.line(`${kind}: ${summary.items} items, ${summary.users} users; ${s.examples.toLocaleString('en-US')} examples in ${s.seconds.toFixed(2)} s (${Math.round(s.examplesPerSecond).toLocaleString('en-US')}/s, ${s.threads} thread${s.threads > 1 ? 's' : ''})`);
    out.line(`${kind}: loss by epoch ${summary.loss.map((x) => x.toFixed(4)).join(' ')}`);
    out.line(`stored ${stored.count} item vectors in ${o.into}${stored.coldStart > 0 ? ` (${stored.coldStart} cold-start items from their features)` : ''}; model ${stored.model}`);
  }
  return model;
}

async function checkInto(dir: string, name: string, dim: number): Promise<void> {
  const db = await openDatabase(dir);
  try {
    if (!(await db.hasCollection(name))) return;
    const c = await db.getCollection(name);
    if (c.dim !== dim) throw new OmnivecError('dimension_mismatch', `--into ${name}: the collection holds ${c.dim}-d vectors, the model makes ${dim}-d ones (--dim); use another collection or --dim ${c.dim}`);
    const k = c.encoder?.kind;
    if (k !== 'youtube-dnn' && k !== 'two-tower') {
      throw new OmnivecError('already_exists', `--into ${name}: the collection exists and is ${c.encoder === null ? 'not bound to a model' : `bound to "${c.encoder.model}"`}, not a deep recommender; choose another name or drop it`);
    }
  } finally {
    await db.close();
  }
}

async function storeModel(dir: string, name: string, model: RecsysModel): Promise<{ model: string; count: number; coldStart: number }> {
  const db = await openDatabase(dir);
  try {
    // Written under a temporary name, then renamed to the name its fingerprint gives.
    const tmp = storedModelDir(db.filesDir, `${model.kind}:pending-${process.pid}`);
    const { fingerprint } = await saveRecsys(model, tmp);
    const spec = { model: `${model.kind}:${fingerprint}`, kind: model.kind, dim: model.dim };
    const final = storedModelDir(db.filesDir, spec.model);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    if (await db.hasCollection(name)) await db.dropCollection(name);
    const c = await db.createCollection({ name, dim: model.dim, metric: 'ip', encoder: spec });
    const { ids, vectors } = model.itemVectors();
    const d = model.dim;
    const counts = model.vocab.counts;
    const nTrained = model.vocab.items.length;
    await c.upsert(ids.map((id, i) => ({ id, vector: vectors.subarray(i * d, i * d + d), metadata: { count: i < nTrained ? counts[i]! : 0 } })));
    await c.flush();
    return { model: spec.model, count: ids.length, coldStart: ids.length - nTrained };
  } finally {
    await db.close();
  }
}

/** Options of the user form of `recommend NAME`. */
export interface RecommendUsersOpts {
  history?: string[]; histories?: string; out?: string; userId?: string; k?: string; exclude?: string[];
  where?: string; minCount?: string; recent?: string; decay?: string; json?: boolean;
}

const ids = (args: readonly string[]): string[] => args.flatMap((s) => s.split(/[\s,]+/)).filter((x) => x.length > 0);

/**
 * `recommend NAME --history "id id …" [--user-id U]`: `id<TAB>score` lines (or JSON);
 * `recommend NAME --histories FILE --out FILE`: one line of k ids (space separated) per input
 * line, in order (the input is a sequences file: "USER<TAB>ids" or ids). Either answers through
 * `recommendForUsers`, so a batch line equals the single query of the same history.
 */
export async function cmdRecommendUsers(dir: string, name: string, o: RecommendUsersOpts, out: Out): Promise<ItemScore[][]> {
  if ((o.history === undefined) === (o.histories === undefined)) throw invalidArgument('expected one of --history ID… and --histories FILE');
  if (o.histories !== undefined && o.out === undefined) throw invalidArgument('--out: required with --histories (the file the recommendations go to, one line per user)');
  if (o.histories !== undefined && o.userId !== undefined) throw invalidArgument('--user-id: goes with --history; in a --histories file, put the user before a tab');
  let users: UserQueryInput[];
  if (o.history !== undefined) {
    users = [{ history: ids(o.history), ...(o.userId !== undefined ? { userId: o.userId } : {}) }];
    if (users[0]!.history.length === 0) throw invalidArgument('--history: expected at least one item id, got none');
  } else {
    let text: string;
    try {
      text = await readFile(o.histories!, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `--histories ${o.histories}: no such file`, { path: o.histories });
      throw e;
    }
    // Users named by line number (no tab) are not user ids of a features table.
    const hasTabs = text.includes('\t');
    users = [...parseSequences(text, o.histories).entries()].map(([u, h]) => ({ history: h, ...(hasTabs ? { userId: u } : {}) }));
  }
  const where = recommendWhere(o.where, o.minCount);
  const db = await openDatabase(dir, { readOnly: true });
  try {
    const c = await db.getCollection(name);
    const model = await collectionModel(db.filesDir, c);
    if (model === null && o.userId !== undefined) throw invalidArgument(`--user-id: ${name} holds plain item vectors (no model with user features)`);
    if (model !== null && (o.recent !== undefined || o.decay !== undefined)) throw invalidArgument(`--recent / --decay: ${name} is served by its ${model.kind} model, which makes the user vector itself`);
    const recs: ItemScore[][] = [];
    const k = intArg(o.k, '-k') ?? 10;
    const options = {
      k, ...(o.exclude !== undefined ? { exclude: ids(o.exclude) } : {}), ...(where !== undefined ? { where } : {}),
      ...(o.recent !== undefined ? { recent: intArg(o.recent, '--recent') } : {}),
      ...(o.decay !== undefined ? { decay: numberArg(o.decay, '--decay') } : {}),
    };
    for (const [n, u] of users.entries()) {
      try {
        recs.push(...await recommendForUsers(c, model, [u], options));
      } catch (e) {
        if (e instanceof OmnivecError && o.histories !== undefined) throw new OmnivecError(e.code, `--histories ${o.histories}: user ${n + 1}: ${e.message}`, e.details as Record<string, unknown> | undefined);
        throw e;
      }
    }
    if (o.histories !== undefined) {
      const w = createWriteStream(o.out!);
      for (const r of recs) w.write(`${r.map((x) => x.id).join(' ')}\n`);
      await new Promise<void>((res, rej) => { w.on('error', rej); w.end(res); });
      if (o.json !== true) out.line(`wrote ${recs.length} lines of up to ${k} items to ${o.out}`);
      else out.json({ users: recs.length, k, out: o.out });
    } else if (o.json === true) out.json(recs[0]);
    else for (const r of recs[0]!) out.line(`${r.id}\t${r.score.toFixed(4)}`);
    return recs;
  } finally {
    await db.close();
  }
}

/** Adds `youtube-dnn` and `two-tower` under the `train` command (main.ts owns it). */
export function registerRecsysCommands(trainCommand: Command, program: Command, out: Out): void {
  const db = (): string => dbDir(program.opts<{ db?: string }>().db);
  for (const kind of RECSYS_KINDS) {
    const d = kind === 'youtube-dnn' ? YOUTUBE_DNN_DEFAULTS : TWO_TOWER_DEFAULTS;
    const c = trainCommand.command(kind)
      .description(kind === 'youtube-dnn'
        ? 'YouTube DNN candidate generation: user vector = MLP over the watched items (+ user features), sampled softmax with logQ; item vectors into a collection'
        : 'two-tower retriever: user tower + item tower (id + item features), in-batch negatives with logQ; cold-start items get vectors from their features')
      .option('--input <file>', 'the sequences: one user a line, "USER<TAB>item item …" or just the items, oldest first')
      .option('--user-features <file>', 'CSV with a header and an id column (the users of --input); numeric and categorical (a|b) columns')
      .option('--id-column <name>', 'the features files\' id column (default "id", else the first)')
      .option('--into <collection>', 'the collection the item vectors go to (created, inner product, bound to the model)')
      .option('--dim <n>', `vector size (default ${d.dim})`)
      .option('--hidden <sizes>', `hidden ReLU layers, e.g. 256,128, or none (default ${d.hidden.join(',')})`)
      .option('--epochs <n>', `passes (default ${d.epochs})`)
      .option('--batch-size <n>', `examples per Adam step (default ${d.batchSize})`)
      .option('--lr <a>', `Adam's learning rate (default ${d.lr})`)
      .option('--examples-per-user <n>', 'examples drawn per user and epoch (default 50; 0 = all)')
      .option('--max-history <n>', 'history items averaged (default 50)')
      .option('--recent <n>', 'items of the recent bag (default 20; 0 = none)')
      .option('--threads <n>', 'worker threads (default 1; N > 1: each batch split over N threads, reproducible for a fixed N)')
      .option('--seed <n>', 'random seed (default 1); training is reproducible bit for bit for a thread count')
      .option('--init <how>', 'item table start: item2vec (Item2Vec vectors trained first on the same sequences, the default) or random')
      .option('--average <epochs>', `serve the moving average of the weights over about this many epochs (default ${d.average}; 0 = the last weights)`)
      .option('--quiet', 'no per-epoch lines on stderr')
      .option('--json', 'print the training figures as JSON');
    if (kind === 'youtube-dnn') c.option('--negatives <n>', `sampled negatives per example (default ${YOUTUBE_DNN_DEFAULTS.negatives})`);
    else c.option('--item-features <file>', 'CSV with a header and an id column: item side features (e.g. genres, year)');
    c.action(async (o: TrainRecsysOpts) => { await cmdTrainRecsys(kind, db, o, out); });
  }
}
