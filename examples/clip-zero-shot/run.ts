/**
 * CLIP zero-shot classification: an image and a list of labels; each label becomes the prompt
 * "a photo of a {label}.", both towers embed, and softmax(100 · cos) gives the probabilities
 * (docs/clip.md).
 *
 *   node --import tsx examples/clip-zero-shot/run.ts --model DIR --image FILE --labels a,b,c [--template "a photo of a {label}."] [--top N]
 *
 * DIR is a CLIP model folder: text_model.onnx + vision_model.onnx (or onnx/…, or one model.onnx)
 * and a tokenizer (vocab.json + merges.txt, tokenizer.json or bpe_simple_vocab_16e6.txt.gz). No
 * CLIP weights are on this machine; see examples/clip-zero-shot/README.md for where to get them.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createClip, OmnivecError } from '../../src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    image: { type: 'string' },
    labels: { type: 'string' },
    template: { type: 'string', default: 'a photo of a {label}.' },
    top: { type: 'string' },
    threads: { type: 'string', default: '2' },
  },
});
const fail = (msg: string): never => {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
};
if (values.model === undefined) {
  fail('--model DIR: a CLIP model folder is needed and none ships with omnivec. Download one, e.g.\n' +
    '  git lfs install && git clone https://huggingface.co/Xenova/clip-vit-base-patch32\n' +
    'and pass --model clip-vit-base-patch32 (it holds onnx/text_model.onnx, onnx/vision_model.onnx and tokenizer.json).');
}
if (!existsSync(values.model!)) fail(`--model ${values.model}: no such folder`);
if (values.image === undefined || !existsSync(values.image)) fail(`--image FILE: expected an image file (JPEG, PNG, WebP…), got ${values.image === undefined ? 'none' : `${values.image}, which does not exist`}`);
const labels = (values.labels ?? '').split(',').map((l) => l.trim()).filter((l) => l !== '');
if (labels.length < 2) fail(`--labels: expected at least two labels separated by commas, e.g. --labels banana,flamingo,goldfish; got ${JSON.stringify(values.labels ?? '')}`);
if (!values.template!.includes('{label}')) fail(`--template: expected a prompt with {label} in it, got ${JSON.stringify(values.template)}`);

try {
  const clip = await createClip(values.model!, { threads: Number(values.threads) });
  try {
    const result = await clip.zeroShot(values.image!, labels, { templates: [values.template!], top: values.top === undefined ? undefined : Number(values.top) });
    process.stdout.write(`${values.image}: CLIP ${clip.image.spec.model} (${clip.image.dim}-d), prompts "${values.template}"\n`);
    for (const r of result) process.stdout.write(`  ${r.label}: ${(100 * r.probability).toFixed(2)}%\n`);
  } finally {
    await clip.close();
  }
} catch (e) {
  // A folder that is not a CLIP export: the library's message names the missing file.
  if (e instanceof OmnivecError) fail(`${e.code}: ${e.message}`);
  throw e;
}
