/**
 * `omnivec classify`: zero-shot image classification with a CLIP model folder (docs/clip.md), printed
 * as the CLIP notebook prints it (`  flamingo: 97.31%`, most probable first).
 */
import type { Command } from 'commander';
import { OmnivecError } from '../errors.js';
import { createClip, DEFAULT_TEMPLATES, type LabelProbability } from '../encoders/clip/clip.js';
import { locateModel } from '../encoders/onnx/model-folder.js';
import { int, stdout, type Out } from './db-commands.js';

export interface ClassifyOpts {
  image: string[];
  labels: string;
  model: string;
  template?: string[];
  top?: string;
  json?: boolean;
  threads?: string;
  batchSize?: string;
  allowNetwork?: boolean;
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

export async function cmdClassify(o: ClassifyOpts, out: Out): Promise<ClassifyReport[]> {
  const labels = parseLabels(o.labels);
  const top = int('--top', o.top) ?? Math.min(5, labels.length);
  const where = await locateModel(o.model, { allowNetwork: o.allowNetwork, files: ['onnx/text_model.onnx', 'onnx/vision_model.onnx'] });
  const clip = await createClip(where.path, { threads: int('--threads', o.threads), batchSize: int('--batch-size', o.batchSize), name: where.name });
  let reports: ClassifyReport[];
  try {
    const results = await clip.zeroShotBatch(o.image, labels, { templates: o.template ?? DEFAULT_TEMPLATES, top });
    reports = o.image.map((image, i) => ({ image, labels: results[i]! }));
  } finally {
    await clip.close();
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

/** Adds `classify` to the program (main.ts wires it in). */
export function registerClassify(program: Command, out: Out = stdout): Command {
  return program.command('classify')
    .description('zero-shot image classification with a CLIP model: the probability of each label')
    .requiredOption('--image <file>', 'an image file (repeat for more images)', collect)
    .requiredOption('--labels <list>', 'comma-separated labels, e.g. banana,flamingo,goldfish')
    .requiredOption('--model <dir>', 'CLIP model folder (text_model.onnx + vision_model.onnx or model.onnx, vocab.json + merges.txt)')
    .option('--template <text>', `prompt with {label}; repeat to average several (default "${DEFAULT_TEMPLATES[0]}")`, collect)
    .option('--top <n>', 'print the n most probable labels (default 5)')
    .option('--threads <n>', 'inference threads (default: the number of cores)')
    .option('--batch-size <n>', 'images per forward pass (default 32)')
    .option('--json', 'print JSON: [{ image, labels: [{ label, probability }] }]')
    .option('--allow-network', 'allow downloading a hub model (owner/name) into the cache')
    .action(async (o: ClassifyOpts) => { await cmdClassify(o, out); });
}
