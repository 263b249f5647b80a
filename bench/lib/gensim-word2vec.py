# The gensim side of bench/word2vec.ts: trains gensim's Word2Vec on a prepared corpus file (one
# sentence a line, tokens separated by spaces) with the given settings, writes the vectors in
# word2vec text format for omnivec's evaluation code, and prints one JSON line of figures.
# Run with Debian's /usr/bin/python3 (python3-gensim).
import json
import sys
import time

from gensim.models import Word2Vec

corpus, out, workers, sg, hs, epochs, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
seed = int(sys.argv[8]) if len(sys.argv) > 8 else 1

t0 = time.perf_counter()
m = Word2Vec(vector_size=100, window=5, negative=0 if hs else 5, hs=hs, sample=1e-3, min_count=5,
             workers=workers, sg=sg, seed=seed)
if mode == 'corpus_file':
    m.build_vocab(corpus_file=corpus)
else:
    from gensim.models.word2vec import LineSentence
    sentences = LineSentence(corpus)
    m.build_vocab(sentences)
t1 = time.perf_counter()
if mode == 'corpus_file':
    m.train(corpus_file=corpus, total_examples=m.corpus_count, total_words=m.corpus_total_words, epochs=epochs)
else:
    m.train(sentences, total_examples=m.corpus_count, epochs=epochs)
t2 = time.perf_counter()
m.wv.save_word2vec_format(out)
print(json.dumps({
    'vocab': len(m.wv), 'corpusWords': m.corpus_total_words, 'vocabSeconds': t1 - t0, 'trainSeconds': t2 - t1,
    'wordsPerSecond': m.corpus_total_words * epochs / (t2 - t1),
}))
