/**
 * `omnivec embed`: pretrained encoders from the shell. Text lines, a folder of text files (each
 * document chunked by tokens) or a folder of images go through a model folder's encoder; the
 * vectors go to a .npy / .jsonl file and / or into a collection. Models open through the encoder
 * registry (src/encoders/registry.ts). See docs/encoders.md, "CLI".
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError, invalidArgument } from '../errors.js';
import { numberArg } from '../checks.js';
import { openDatabase } from '../db/database.js';
import type { RecordInput } from '../db/records.js';
import { chunkText } from '../encoders/onnx/chunk.js';
import { OnnxTextEncoder, type TextMode } from '../encoders/onnx/text-encoder.js';
import { openModel, type EncoderContext } from '../encoders/registry.js';
import type { EncoderSpec, Encoding } from '../encoders/types.js';
import { batchRows } from '../encoders/common.js';
import { writeJsonl, writeNpy, type ImportRecord } from '../io/index.js';
import { dbDir, type Out } from './db-commands.js';
import { Progress } from './progress.js';

export interface EmbedOpts {
  model?: string;
  input?: string;
  output?: string;
  into?: string;
  mode?: string;
  dimensions?: string;
  forceDimensions?: boolean;
  batchSize?: string;
  threads?: string;
  chunkSize?: string;
  chunkOverlap?: string;
  maxLength?: string;
  /** false (`--no-truncate`): a text longer than the model takes is an error. */
  truncate?: boolean;
  allowNetwork?: boolean;
  /** BGE-M3: store the dense, sparse and multi-vector outputs (with --into). */
  m3?: boolean;
  baseUrl?: string;
  checkpoint?: string;
  metric?: string;
  quiet?: boolean;
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);
const TEXT_EXT = new Set(['.txt', '.md', '.text', '.rst', '.html', '.htm', '.csv', '.json', '.jsonl', '']);

/** Files under `dir`, sorted, relative paths. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) out.push(p);
    }
  };
  visit(dir);
  return out;
}

type Item = { id: string; text?: string; image?: string; document?: string; metadata: Record<string, unknown> };

/** What to embed: the input's items, in order. */
function inputItems(input: string, textEncoder: OnnxTextEncoder | undefined, chunk: { size?: number; overlap?: number }): { kind: 'text' | 'image'; items: Item[] } {
  const path = resolve(input);
  if (!existsSync(path)) throw new OmnivecError('not_found', `--input: ${input} not found`);
  if (statSync(path).isFile()) {
    const lines = readFileSync(path, 'utf8').split(/\r?\n/);
    const items: Item[] = [];
    lines.forEach((l, i) => {
      if (l.trim() !== '') items.push({ id: String(i + 1), text: l, document: l, metadata: { line: i + 1 } });
    });
    if (items.length === 0) throw invalidArgument(`--input: ${input} has no non-empty line to embed`);
    return { kind: 'text', items };
  }
  const files = walk(path);
  const images = files.filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()));
  if (images.length > 0) {
    return {
      kind: 'image',
      items: images.map((f) => {
        const rel = relative(path, f);
        const parts = rel.split(/[\\/]/);
        return { id: rel, image: f, metadata: { path: rel, ...(parts.length > 1 ? { label: parts[0] } : {}) } };
      }),
    };
  }
  const texts = files.filter((f) => TEXT_EXT.has(extname(f).toLowerCase()));
  if (texts.length === 0) throw invalidArgument(`--input: ${input} holds no images (${[...IMAGE_EXT].join(' ')}) and no text files`);
  if (textEncoder === undefined) throw invalidArgument(`--input: ${input} holds text files, but the model is not a text encoder`);
  const size = chunk.size ?? textEncoder.maxLength - 2;
  const items: Item[] = [];
  for (const f of texts) {
    const rel = relative(path, f);
    const doc = readFileSync(f, 'utf8');
    const chunks = chunkText(doc, (w) => textEncoder.tokenizer.count(w), { size, overlap: chunk.overlap ?? Math.floor(size / 8) });
    chunks.forEach((c, i) => items.push({
      id: chunks.length === 1 ? rel : `${rel}#${i}`, text: c.text, document: c.text,
      metadata: { parent: rel, chunk: i, start: c.start, end: c.end },
    }));
  }
  return { kind: 'text', items };
}

/** The format of --output: .npy, or JSON Lines (.jsonl or - for stdout). */
function outputFormat(path: string): 'npy' | 'jsonl' {
  if (path.endsWith('.npy')) return 'npy';
  if (path.endsWith('.jsonl') || path === '-') return 'jsonl';
  throw invalidArgument(`--output: expected a file ending in .npy or .jsonl, got ${JSON.stringify(path)}`);
}

/** Writes the records' vectors to --output and says so (`what`: "vectors", "dense vectors"). */
async function writeVectors(path: string, records: ImportRecord[], dim: number, what: string, out: Out): Promise<void> {
  if (outputFormat(path) === 'npy') await writeNpy(path, records, { dim });
  else await writeJsonl(path, records);
  out.line(`wrote ${records.length} ${dim}-d ${what} to ${path}`);
}

/**
 * The --into step: opens the collection (created with the model as its encoder when missing; a
 * different dimension is refused), upserts the records and reports. `kinds` names what the
 * records carry, e.g. "dense, sparse and multi-vector". A collection it creates stores the
 * encoder's spec as the registry opened it, with `source` (the model folder's absolute path, or
 * the hub id), so `omnivec serve` and `openEncoder(collection.encoder)` reopen the encoder to
 * encode text queries (docs/encoders.md, "How a spec reopens"); only `model` is compared with records'.
 */
async function storeInto(dir: string, name: string, records: readonly object[], model: { dim: number; spec: EncoderSpec }, metric: string | undefined,
  out: Out, kinds?: { created: string; stored: string }): Promise<void> {
  const db = await openDatabase(dir);
  try {
    let c;
    if (await db.hasCollection(name)) {
      c = await db.getCollection(name);
      if (c.dim !== model.dim) throw new OmnivecError('dimension_mismatch', `--into ${name}: the collection holds ${c.dim}-d vectors, the model gives ${model.dim}-d`);
    } else {
      c = await db.createCollection({ name, dim: model.dim, metric: (metric ?? 'cosine') as 'cosine', encoder: model.spec });
      out.line(`created ${c.name} (${c.dim}-d, ${c.metric}, encoder ${model.spec.model}${kinds === undefined ? '' : `; ${kinds.created}`})`);
    }
    const n = await c.upsert(records as RecordInput[]);
    await c.flush();
    out.line(`stored ${n} ${kinds?.stored ?? 'vectors'} in ${name}; ${await c.count()} records now`);
  } finally {
    await db.close();
  }
}

/** `embed --m3`: BGE-M3's dense, sparse and multi-vector outputs from one pass, all stored. */
async function cmdEmbedM3(dbDirOf: () => string, o: EmbedOpts, out: Out): Promise<void> {
  if (o.into === undefined) throw invalidArgument('--m3: --into COLLECTION is required (the sparse and multi-vector outputs live in a collection)');
  if (o.output !== undefined) outputFormat(o.output);
  const model = await openModel(o.model!, contextOf(o), {
    kind: 'bge-m3', maxLength: numberArg(o.maxLength, '--max-length'), dimensions: numberArg(o.dimensions, '--dimensions'), forceDimensions: o.forceDimensions,
  });
  const m3 = model.bgeM3!;
  try {
    const { kind, items } = inputItems(o.input!, m3.textEncoder, { size: numberArg(o.chunkSize, '--chunk-size'), overlap: numberArg(o.chunkOverlap, '--chunk-overlap') });
    if (kind !== 'text') throw invalidArgument(`--m3: ${o.input} holds images; BGE-M3 embeds text`);
    const progress = o.quiet === true ? undefined : new Progress('embed');
    const records = await m3.toRecords(items.map((it) => it.id), items.map((it) => it.text!), { onProgress: (d, t) => progress?.update(d, t, 'texts') });
    progress?.done();
    const full = records.map((r, i) => ({ ...r, metadata: items[i]!.metadata }));
    if (o.output !== undefined) {
      const dense = full.map((r) => ({ id: r.id, vector: r.vector, document: r.document, metadata: r.metadata }));
      await writeVectors(o.output, dense, m3.dim, 'dense vectors', out);
    }
    await storeInto(dbDirOf(), o.into, full, { dim: m3.dim, spec: m3.spec }, o.metric, out, { created: 'dense, sparse and multi-vector', stored: 'records (dense, sparse, multi-vector)' });
  } finally {
    await model.close();
  }
}

/** How the command's models open: threads, batch size, the network (no database: --model names a model, not a stored one). */
function contextOf(o: { threads?: string; batchSize?: string; allowNetwork?: boolean }): EncoderContext {
  return { threads: numberArg(o.threads, '--threads'), batchSize: numberArg(o.batchSize, '--batch-size'), allowNetwork: o.allowNetwork };
}

export async function cmdEmbed(dbDirOf: () => string, o: EmbedOpts, out: Out): Promise<void> {
  if (o.m3 === true && o.model !== undefined && o.input !== undefined) return cmdEmbedM3(dbDirOf, o, out);
  if (o.model === undefined) throw invalidArgument('--model: a model folder (or a hub id with --allow-network) is required');
  if (o.input === undefined) throw invalidArgument('--input: a text file (one text a line), a folder of text files, or a folder of images is required');
  if (o.output === undefined && o.into === undefined) throw invalidArgument('--output or --into: say where the vectors go');
  if (o.output !== undefined) outputFormat(o.output);
  const mode = o.mode as TextMode | undefined;
  if (mode !== undefined && mode !== 'query' && mode !== 'passage') throw invalidArgument(`--mode: expected query or passage, got ${JSON.stringify(o.mode)}`);
  const enc = await openModel(o.model, contextOf(o), {
    dimensions: numberArg(o.dimensions, '--dimensions'), forceDimensions: o.forceDimensions, maxLength: numberArg(o.maxLength, '--max-length'),
    baseURL: o.baseUrl, checkpoint: o.checkpoint, truncation: o.truncate === false ? 'error' : 'truncate',
  });
  try {
    const { kind, items } = inputItems(o.input, enc.text instanceof OnnxTextEncoder ? enc.text : undefined, { size: numberArg(o.chunkSize, '--chunk-size'), overlap: numberArg(o.chunkOverlap, '--chunk-overlap') });
    const progress = o.quiet === true ? undefined : new Progress('embed');
    const onProgress = (done: number, total: number): void => progress?.update(done, total, kind === 'text' ? 'texts' : 'images');
    let vectors: Encoding;
    let truncated = 0;
    if (kind === 'text') {
      if (enc.text === undefined) throw invalidArgument(`--model: ${o.model} is not a text encoder (its kind: ${enc.kind}); --input gives texts`);
      const texts = items.map((it) => it.text!);
      if (enc.text instanceof OnnxTextEncoder) {
        const r = await enc.text.encodeDetailed(texts, { mode, onProgress });
        vectors = r.vectors;
        truncated = r.truncated.length;
      } else {
        vectors = await enc.text.encode(texts, { mode, onProgress });
      }
    } else {
      if (enc.image === undefined) throw invalidArgument(`--model: ${o.model} is not an image encoder (its kind: ${enc.kind}); --input gives images`);
      vectors = await enc.image.encode(items.map((it) => it.image!), { onProgress });
    }
    progress?.done();
    const spec = kind === 'text' ? enc.text!.spec : enc.image!.spec;
    const dim = vectors.dim;
    const rows = batchRows(vectors);
    const records: ImportRecord[] = items.map((it, i) => ({
      id: it.id, vector: rows[i]!, metadata: it.metadata, ...(it.document !== undefined ? { document: it.document } : {}),
    }));
    if (o.output !== undefined) await writeVectors(o.output, records, dim, 'vectors', out);
    if (truncated > 0) out.line(`note: ${truncated} text(s) were longer than ${spec.maxLength as number} tokens and were truncated`);
    if (o.into !== undefined) await storeInto(dbDirOf(), o.into, records, { dim, spec }, o.metric, out);
  } finally {
    await enc.close();
  }
}

export interface SimilarityOpts {
  model?: string;
  a?: string[];
  b?: string[];
  aFile?: string;
  bFile?: string;
  mode?: string;
  threads?: string;
  dimensions?: string;
  forceDimensions?: boolean;
  json?: boolean;
}

/** Texts from repeated --a/--b options or a file (one per line). */
function textsFrom(name: string, list: string[] | undefined, file: string | undefined): string[] {
  const texts = [...(list ?? [])];
  if (file !== undefined) {
    if (!existsSync(file)) throw new OmnivecError('not_found', `--${name}-file: ${file} not found`);
    for (const l of readFileSync(file, 'utf8').split(/\r?\n/)) if (l.trim() !== '') texts.push(l);
  }
  if (texts.length === 0) throw invalidArgument(`--${name} or --${name}-file: give at least one text`);
  return texts;
}

/** A matrix as numpy prints a float32 array: [[0.6265 0.3477]\n [0.3499 0.678 ]] (4 decimals, aligned). */
export function formatMatrix(rows: number[][]): string {
  // numpy: 4 decimals, trailing zeros blanked, every cell the same width.
  const cells = rows.map((r) => r.map((x) => {
    const t = x.toFixed(4);
    const trimmed = t.replace(/0+$/, '');
    return trimmed + ' '.repeat(t.length - trimmed.length);
  }));
  const w = Math.max(...cells.flat().map((c) => c.length));
  return '[' + cells.map((r, i) => (i === 0 ? '[' : ' [') + r.map((c) => c.padStart(w)).join(' ') + ']').join('\n') + ']';
}

export async function cmdSimilarity(o: SimilarityOpts, out: Out): Promise<number[][]> {
  if (o.model === undefined) throw invalidArgument('--model: a text model folder is required');
  const a = textsFrom('a', o.a, o.aFile);
  const b = textsFrom('b', o.b, o.bFile);
  const mode = o.mode as TextMode | undefined;
  const enc = await openModel(o.model, { threads: numberArg(o.threads, '--threads') }, { dimensions: numberArg(o.dimensions, '--dimensions'), forceDimensions: o.forceDimensions });
  try {
    if (enc.text === undefined) throw invalidArgument(`--model: ${o.model} is not a text encoder (its kind: ${enc.kind})`);
    const va = batchRows(await enc.text.encode(a, { mode }));
    const vb = batchRows(await enc.text.encode(b));
    const m = va.map((x) => vb.map((y) => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
      return s;
    }));
    if (o.json === true) out.json({ model: enc.text.spec.model, a, b, similarity: m });
    else out.line(formatMatrix(m));
    return m;
  } finally {
    await enc.close();
  }
}

export function registerEmbedCommands(p: Command, out: Out): void {
  const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];
  p.command('similarity')
    .description('the similarity matrix (inner products of the embeddings) of two lists of texts')
    .option('--model <dir>', 'text model folder')
    .option('--a <text>', 'a text of the first list (repeatable)', collect)
    .option('--b <text>', 'a text of the second list (repeatable)', collect)
    .option('--a-file <file>', 'the first list, one text a line')
    .option('--b-file <file>', 'the second list, one text a line')
    .option('--mode <m>', 'query or passage prefix for the first list (the second is passages)')
    .option('--dimensions <d>', 'Matryoshka: keep the first d components')
    .option('--force-dimensions', 'cut even if the model does not declare Matryoshka training')
    .option('--threads <n>', 'onnxruntime threads')
    .option('--json', 'print JSON')
    .action(async (o: SimilarityOpts) => { await cmdSimilarity(o, out); });
  p.command('embed')
    .description('embed text lines, a folder of documents or a folder of images with a pretrained model')
    .option('--model <dir>', 'model folder (config.json, tokenizer.json or preprocessor_config.json, onnx/model.onnx), a hub id (with --allow-network to download), or openai:MODEL')
    .option('--input <path>', 'a text file (one text a line), a folder of text files (chunked), or a folder of images')
    .option('--output <file>', 'vectors.npy or vectors.jsonl (- for JSON Lines on stdout)')
    .option('--into <collection>', 'store the vectors (with documents and metadata) in this collection')
    .option('--metric <m>', 'metric of a collection created by --into (cosine, ip, l2)', 'cosine')
    .option('--mode <m>', 'query or passage: which prefix of the model to use (default passage)')
    .option('--dimensions <d>', 'Matryoshka: keep the first d components (renormalised)')
    .option('--force-dimensions', 'cut to --dimensions even if the model does not declare Matryoshka training')
    .option('--max-length <n>', 'tokens per text (default: the model\'s)')
    .option('--no-truncate', 'refuse a text longer than the model takes instead of cutting it (cut texts are reported)')
    .option('--chunk-size <n>', 'tokens per chunk of a document (default: the model\'s maximum)')
    .option('--chunk-overlap <n>', 'tokens shared by consecutive chunks (default size/8)')
    .option('--batch-size <n>', 'inputs per forward pass')
    .option('--threads <n>', 'onnxruntime threads (default: all cores)')
    .option('--allow-network', 'allow downloading a hub model into the cache')
    .option('--m3', 'BGE-M3: store its dense, sparse (lexical weights) and multi-vector (ColBERT) outputs in the --into collection')
    .option('--base-url <url>', 'with --model openai:MODEL: an OpenAI-compatible API (default $OPENAI_BASE_URL or api.openai.com/v1; key from $OPENAI_API_KEY)')
    .option('--checkpoint <file>', 'with --model openai:MODEL: keep every batch paid for in this file; a rerun asks only for the rest')
    .option('--quiet', 'no progress on stderr')
    .action((o: EmbedOpts) => cmdEmbed(() => dbDir(p.opts<{ db?: string }>().db), o, out));
}

