/**
 * `omnivec classify`: zero-shot image classification with a CLIP model folder (docs/clip.md), printed
 * as the CLIP notebook prints it (`  flamingo: 97.31%`, most probable first); and with a collection
 * name, classification of its records (docs/tasks.md): k-NN or nearest centroid from a label
 * field (`--label-field`, `--evaluate` for leave-one-out accuracy), or zero-shot labels through
 * the collection's bound encoder (`--labels`), reopened from its spec by the encoder registry.
 */
import type { Command } from 'commander';
import { OmnivecError, invalidArgument } from '../errors.js';
import { intArg } from '../checks.js';
import { DEFAULT_TEMPLATES, type LabelProbability } from '../encoders/clip/clip.js';
import { openModel, openResolved, resolveSpec, type OpenedModel } from '../encoders/registry.js';
import { batchRows } from '../encoders/common.js';
import type { EncoderSpec } from '../encoders/types.js';
import { openDatabase } from '../db/database.js';
import type { Where } from '../db/where.js';
import {
  classifyCentroid, classifyKnn, evaluateClassifier, zeroShot, type ClassifierReport, type Prediction,
} from '../tasks/classify.js';
import { dbDir, jsonArg, stdout, type Out } from './db-commands.js';

export interface ClassifyOpts {
  image?: string[];
  labels?: string;
  model?: string;
  template?: string[];
  top?: string;
  json?: boolean;
  threads?: string;
  batchSize?: string;
  allowNetwork?: boolean;
  /** Collection form: the metadata field holding the labels. */
  labelField?: string;
  method?: string;
  k?: string;
  id?: string[];
  evaluate?: boolean;
  weighted?: boolean;
  where?: string;
}

export interface ClassifyReport {
  image: string;
  labels: LabelProbability[];
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** `--labels banana,flamingo` → the labels, trimmed; empty entries refused. */
export function parseLabels(v: string): string[] {
  const labels = v.split(',').map((l) => l.trim());
  const empty = labels.findIndex((l) => l === '');
  if (empty >= 0) throw new OmnivecError('invalid_argument', `--labels: expected comma-separated labels such as "banana,flamingo,goldfish", got ${JSON.stringify(v)} (label ${empty + 1} is empty)`);
  return labels;
}

/** Refuses the image form's missing options with commander's wording (the form is chosen by hand). */
function required(v: unknown, flag: string): void {
  if (v === undefined) throw invalidArgument(`required option '${flag}' not specified (classify images: --image FILE --labels a,b --model DIR; a collection: classify NAME --label-field F, or classify NAME --labels a,b)`);
}

export async function cmdClassify(o: ClassifyOpts, out: Out): Promise<ClassifyReport[]> {
  required(o.image, '--image <file>');
  required(o.labels, '--labels <list>');
  required(o.model, '--model <dir>');
  for (const [v, flag] of [[o.labelField, '--label-field'], [o.method, '--method'], [o.k, '--k'], [o.id, '--id'], [o.evaluate, '--evaluate'], [o.weighted, '--weighted'], [o.where, '--where']] as const) {
    if (v !== undefined) throw invalidArgument(`${flag}: goes with a collection (classify NAME ${flag} …), not with --image`);
  }
  const labels = parseLabels(o.labels!);
  const top = intArg(o.top, '--top') ?? Math.min(5, labels.length);
  const model = await openModel(o.model!, { allowNetwork: o.allowNetwork, threads: intArg(o.threads, '--threads'), batchSize: intArg(o.batchSize, '--batch-size') },
    { kind: 'clip', files: ['onnx/text_model.onnx', 'onnx/vision_model.onnx'] });
  let reports: ClassifyReport[];
  try {
    const results = await model.clip!.zeroShotBatch(o.image!, labels, { templates: o.template ?? DEFAULT_TEMPLATES, top });
    reports = o.image!.map((image, i) => ({ image, labels: results[i]! }));
  } finally {
    await model.close();
  }
  if (o.json === true) {
    out.json(reports);
    return reports;
  }
  const width = Math.max(...labels.map((l) => l.length));
  reports.forEach((r, i) => {
    if (reports.length > 1) {
      if (i > 0) out.line('');
      out.line(`${r.image}:`);
    }
    // As the CLIP README's zero-shot example: f"{label:>16s}: {100 * p:.2f}%", aligned to the longest label.
    for (const { label, probability } of r.labels) out.line(`  ${label.padStart(width)}: ${(100 * probability).toFixed(2)}%`);
  });
  return reports;
}

const noEncoder = (name: string, reason: string): OmnivecError => invalidArgument(`--labels: the collection ${name} has no encoder to encode the labels with (${reason})`);

/** The model a collection's stored encoder spec stands for, opened through the registry (stored models of `dir` included). */
async function openBound(c: { name: string; encoder: EncoderSpec | null }, dir: string, o: ClassifyOpts): Promise<OpenedModel> {
  const spec = c.encoder;
  if (spec === null) throw noEncoder(c.name, `collection ${c.name} has no bound encoder`);
  const context = { dbDir: dir, allowNetwork: o.allowNetwork === true, threads: intArg(o.threads, '--threads') };
  const r = resolveSpec(spec, context);
  if ('reason' in r) throw noEncoder(c.name, `collection ${c.name}: ${r.reason}`);
  try {
    return await openResolved(r, context);
  } catch (e) {
    throw noEncoder(c.name, `collection ${c.name}: encoder "${spec.model}" cannot be opened: ${(e as Error).message}`);
  }
}

/** Ids from variadic arguments, each possibly a list separated by commas or spaces. */
const idList = (args: readonly string[]): string[] => args.flatMap((x) => x.split(/[\s,]+/)).filter((x) => x.length > 0);

export type CollectionClassifyResult = { predictions: Prediction[] } | ClassifierReport;

function printPredictions(preds: readonly Prediction[], out: Out, probability: boolean): void {
  for (const p of preds) {
    const shown = probability && p.probabilities !== undefined ? `${(100 * p.probabilities[p.label]!).toFixed(2)}%` : p.score.toFixed(4);
    out.line(`${p.id ?? ''}\t${p.label}\t${shown}`);
  }
}

/**
 * `omnivec classify NAME --label-field F [--method knn|centroid] [--k 5] [--id ID…] [--evaluate]`
 * and `omnivec classify NAME --labels a,b,c [--template T]` (docs/tasks.md). Prints
 * `id<TAB>label<TAB>score` a line (zero-shot with CLIP: the probability), or the leave-one-out
 * accuracy with a line per label; --json prints `{predictions}` or the report.
 */
export async function cmdClassifyCollection(dir: string, name: string, o: ClassifyOpts, out: Out): Promise<CollectionClassifyResult> {
  if (o.image !== undefined || o.model !== undefined) throw invalidArgument('--image and --model classify image files (classify --image F --labels a,b --model DIR), not a collection\'s records');
  if ((o.labelField === undefined) === (o.labels === undefined)) throw invalidArgument(`classify ${name}: expected one of --label-field F (k-NN or centroid from a metadata field) and --labels a,b,c (zero-shot through the collection's encoder)`);
  const where = jsonArg<Where>('--where', o.where);
  const ids = o.id === undefined ? undefined : idList(o.id);
  const db = await openDatabase(dir, { readOnly: true });
  try {
    const c = await db.getCollection(name);
    if (o.labels !== undefined) {
      for (const [v, flag] of [[o.method, '--method'], [o.k, '--k'], [o.evaluate, '--evaluate'], [o.weighted, '--weighted']] as const) {
        if (v !== undefined) throw invalidArgument(`${flag}: goes with --label-field, not with zero-shot --labels`);
      }
      if (o.template !== undefined && o.template.length > 1) throw invalidArgument('--template: give one template for a collection');
      const labels = parseLabels(o.labels);
      const model = await openBound(c, db.filesDir, o);
      try {
        const spec = c.encoder!;
        const text = model.text;
        if (text === undefined) throw invalidArgument(`--labels: the collection's encoder "${spec.model}" encodes images, not label texts`);
        if (text.dim !== c.dim) throw noEncoder(name, `collection ${name}: encoder "${spec.model}" gives ${text.dim}-d vectors, the collection holds ${c.dim}-d`);
        const clip = model.kind === 'clip';
        const predictions = await zeroShot(c, {
          labels, clip, ...(o.template !== undefined ? { template: o.template[0]! } : {}), ...(where !== undefined ? { where } : {}), ...(ids !== undefined ? { ids } : {}),
          encode: async (texts) => batchRows(await text.encode(texts, { mode: 'query' })),
        });
        if (o.json === true) out.json({ predictions });
        else printPredictions(predictions, out, clip);
        return { predictions };
      } finally {
        await model.close();
      }
    }
    if (o.template !== undefined) throw invalidArgument('--template: goes with zero-shot --labels, not with --label-field');
    const method = o.method ?? 'knn';
    if (method !== 'knn' && method !== 'centroid') throw invalidArgument(`--method: expected knn or centroid, got ${JSON.stringify(method)}`);
    const k = intArg(o.k, '--k');
    const labelField = o.labelField!;
    if (o.evaluate === true) {
      if (ids !== undefined) throw invalidArgument('--id: --evaluate classifies every labelled record (each left out in turn), not chosen ones');
      const r = await evaluateClassifier(c, { labelField, method, ...(k !== undefined ? { k } : {}), weighted: o.weighted === true, ...(where !== undefined ? { where } : {}) });
      if (o.json === true) { out.json(r); return r; }
      out.line(`leave-one-out accuracy of ${method}${r.k !== undefined ? ` (k = ${r.k})` : ''} over ${r.n} labelled records of ${name}: ${r.accuracy.toFixed(4)} (${r.correct} right)`);
      const width = Math.max(5, ...r.perLabel.map((x) => x.label.length));
      out.line(`  ${'label'.padEnd(width)}  ${'n'.padStart(6)}  accuracy`);
      for (const x of r.perLabel) out.line(`  ${x.label.padEnd(width)}  ${String(x.n).padStart(6)}  ${x.accuracy.toFixed(4)}`);
      return r;
    }
    const predictions = method === 'knn'
      ? await classifyKnn(c, { labelField, ...(k !== undefined ? { k } : {}), weighted: o.weighted === true, ...(ids !== undefined ? { ids } : {}), ...(where !== undefined ? { where } : {}) })
      : await (async () => {
        if (k !== undefined || o.weighted !== undefined) throw invalidArgument('--k and --weighted go with --method knn');
        return classifyCentroid(c, { labelField, ...(ids !== undefined ? { ids } : {}), ...(where !== undefined ? { where } : {}) });
      })();
    if (o.json === true) out.json({ predictions });
    else if (predictions.length === 0) out.line(`every record of ${name} has a ${labelField}; give --id to classify chosen records, or --evaluate`);
    else printPredictions(predictions, out, false);
    return { predictions };
  } finally {
    await db.close();
  }
}

/**
 * Adds `classify` to the program (main.ts wires it in): the image form, or with a collection name
 * the collection form (the database from the program's `--db`).
 */
export function registerClassify(program: Command, out: Out = stdout): Command {
  return program.command('classify [name]')
    .description('zero-shot image classification with a CLIP model; or classify a collection\'s records (k-NN, centroid, zero-shot)')
    .option('--image <file>', 'an image file (repeat for more images)', collect)
    .option('--labels <list>', 'comma-separated labels, e.g. banana,flamingo,goldfish (with NAME: zero-shot through the collection\'s encoder)')
    .option('--model <dir>', 'CLIP model folder (text_model.onnx + vision_model.onnx or model.onnx, vocab.json + merges.txt)')
    .option('--template <text>', `prompt with {label}; repeat to average several (default "${DEFAULT_TEMPLATES[0]}"; with NAME one, default "{label}", CLIP's for a CLIP encoder)`, collect)
    .option('--top <n>', 'print the n most probable labels (default 5)')
    .option('--label-field <field>', 'NAME: the metadata field with the known labels (k-NN or centroid)')
    .option('--method <m>', 'NAME: knn (default) or centroid')
    .option('-k, --k <k>', 'NAME, knn: neighbours that vote (default 5)')
    .option('--weighted', 'NAME, knn: votes weighted by similarity')
    .option('--id <ids...>', 'NAME: classify these records (default: the records without a label; zero-shot: every record)')
    .option('--where <json>', 'NAME: only records matching this metadata filter')
    .option('--evaluate', 'NAME: leave-one-out accuracy over the labelled records, per label')
    .option('--threads <n>', 'inference threads (default: the number of cores)')
    .option('--batch-size <n>', 'images per forward pass (default 32)')
    .option('--json', 'print JSON: [{ image, labels: [{ label, probability }] }]; with NAME { predictions: [{ id, label, score, votes? }] } or the --evaluate report')
    .option('--allow-network', 'allow downloading a hub model (owner/name) into the cache')
    .action(async (name: string | undefined, o: ClassifyOpts) => {
      if (name === undefined) await cmdClassify(o, out);
      else await cmdClassifyCollection(dbDir(program.opts<{ db?: string }>().db), name, o, out);
    });
}
