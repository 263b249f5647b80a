/**
 * Word2Vec on a corpus: nearest words for a few words and one analogy (3CosAdd, "a is to b as c
 * is to ?" = the words nearest to b − a + c), with the figures. docs/word2vec.md.
 *
 *   node --import tsx examples/word2vec/run.ts [--corpus FILE|docs] [--words w1,w2,…] [--analogy a,b,c]
 *       [--model cbow|skipgram] [--dim 100] [--epochs N] [--min-count 5] [--threads N] [--seed 1]
 *
 * Default corpus: the WordNet glosses (../shared/data/text-en-wordnet-glosses, 3.7M tokens, about
 * 20 s on 2 cores with 5 epochs) when present, else this repository's own documentation (README.md
 * and docs/*.md: ~50k tokens, trained in seconds — too small for good analogies, which the output says);
 * `--corpus docs` chooses the documentation.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { analogy, mostSimilar, trainWord2Vec, type Corpus } from '../../src/index.js';
import { documentationParagraphs } from '../../src/cli/demo-build.js';

const REPO = resolve(import.meta.dirname, '../..');
const GLOSSES = join(REPO, '../shared/data/text-en-wordnet-glosses/wordnet-glosses.txt.gz');
const { values } = parseArgs({
  options: {
    corpus: { type: 'string' },
    words: { type: 'string' },
    analogy: { type: 'string' },
    model: { type: 'string' },
    dim: { type: 'string', default: '100' },
    epochs: { type: 'string' },
    'min-count': { type: 'string' },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write('usage: node --import tsx examples/word2vec/run.ts [--corpus FILE|docs] [--words w1,w2] [--analogy a,b,c] [--model cbow|skipgram] [--dim N] [--epochs N] [--min-count N] [--threads N] [--seed N]\n');
  process.exit(0);
}

// Which corpus, and the defaults that suit it.
type Source = 'file' | 'glosses' | 'docs';
const source: Source = values.corpus === 'docs' ? 'docs' : values.corpus !== undefined ? 'file' : existsSync(GLOSSES) ? 'glosses' : 'docs';
if (source === 'file' && !existsSync(values.corpus!)) {
  process.stderr.write(`--corpus ${values.corpus}: no such file (a text file, one sentence or paragraph a line; .gz is read through gunzip)\n`);
  process.exit(2);
}
const corpus: Corpus = source === 'file' ? values.corpus! : source === 'glosses' ? GLOSSES
  : (await documentationParagraphs(REPO)).map((p) => p.text);
const DEFAULTS = {
  glosses: { words: 'king,dog,music,river,france', analogy: 'man,king,woman', model: 'cbow', epochs: 5, minCount: 5 },
  docs: { words: 'hnsw,vector,query,image,server', analogy: 'text,encoder,image', model: 'skipgram', epochs: 20, minCount: 2 },
  file: { words: '', analogy: '', model: 'cbow', epochs: 5, minCount: 5 },
}[source];
const words = (values.words ?? DEFAULTS.words).split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
const abc = (values.analogy ?? DEFAULTS.analogy).split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
if (abc.length !== 0 && abc.length !== 3) {
  process.stderr.write(`--analogy: expected three words a,b,c ("a is to b as c is to ?"), got ${JSON.stringify(values.analogy)}\n`);
  process.exit(2);
}
const num = (v: string | undefined, d: number): number => (v === undefined ? d : Number(v));
const options = {
  model: (values.model ?? DEFAULTS.model) as 'cbow' | 'skipgram',
  dim: num(values.dim, 100),
  epochs: num(values.epochs, DEFAULTS.epochs),
  minCount: num(values['min-count'], DEFAULTS.minCount),
  threads: num(values.threads, 2),
  seed: num(values.seed, 1),
};

const name = source === 'file' ? values.corpus! : source === 'glosses' ? `WordNet glosses (${GLOSSES})` : "this repository's documentation (README.md, docs/*.md)";
process.stderr.write(`training on ${name} …\n`);
const t0 = performance.now();
const m = await trainWord2Vec(corpus, options);
const seconds = (performance.now() - t0) / 1000;
const s = m.stats;
const out: string[] = [
  `corpus: ${name}`,
  `${s.corpusWords.toLocaleString('en-US')} tokens, ${s.sentences.toLocaleString('en-US')} lines; vocabulary ${s.vocabSize.toLocaleString('en-US')} words (min count ${options.minCount})`,
  `${options.model}, ${options.dim}-d, ${options.epochs} epochs, ${options.threads} thread(s): ${seconds.toFixed(1)} s (${Math.round(s.wordsPerSecond).toLocaleString('en-US')} words/s); loss per epoch ${s.epochs.map((e) => e.loss.toFixed(3)).join(', ')}`,
];
if (source === 'docs') out.push('(a ~50k-token corpus: neighbours follow topics, analogies are mostly noise; the WordNet glosses or a larger --corpus give real ones)');
out.push('');
for (const w of words) {
  if (!m.wv.has(w)) { out.push(`${w}: not in the vocabulary`); continue; }
  out.push(`nearest to ${w}: ${mostSimilar(m.wv, { positive: [w], topn: 8 }).map((n) => `${n.word} ${n.score.toFixed(3)}`).join(', ')}`);
}
if (abc.length === 3) {
  const [a, b, c] = abc as [string, string, string];
  const missing = abc.filter((w) => !m.wv.has(w));
  out.push('');
  if (missing.length > 0) out.push(`analogy ${a} : ${b} :: ${c} : ?  — not in the vocabulary: ${missing.join(', ')}`);
  else {
    const answers = analogy(m.wv, a, b, c, { topn: 5 });
    out.push(`analogy (3CosAdd) ${a} : ${b} :: ${c} : ?  → ${answers.map((n) => `${n.word} ${n.score.toFixed(3)}`).join(', ')}`);
  }
}
process.stdout.write(out.join('\n') + '\n');
