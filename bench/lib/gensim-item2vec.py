"""Item2Vec with gensim, for bench/item2vec.ts: skip-gram with negative sampling on item sequences
with every other item of the sequence as context (window = the longest sequence, shrink_windows
off: the set view of Barkan & Koenigstein 2016; gensim does not shuffle sequences).

usage: gensim-item2vec.py SEQUENCES OUT.txt --dim D --negative N --sample S --epochs E
                          --min-count M --seed S --workers W [--alpha A --min-alpha A]
Prints one JSON line: {"gensim": version, "seconds": training seconds, "vocab": size}.
"""
import argparse
import json
import time

import gensim
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence


def main():
    p = argparse.ArgumentParser()
    p.add_argument('sequences')
    p.add_argument('out')
    p.add_argument('--dim', type=int, default=64)
    p.add_argument('--negative', type=int, default=10)
    p.add_argument('--sample', type=float, default=1e-3)
    p.add_argument('--epochs', type=int, default=20)
    p.add_argument('--min-count', type=int, default=1)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--alpha', type=float, default=0.025)
    p.add_argument('--min-alpha', type=float, default=0.0001)
    a = p.parse_args()
    sentences = list(LineSentence(a.sequences, max_sentence_length=10000))
    longest = max((len(s) for s in sentences), default=1)
    t = time.perf_counter()
    model = Word2Vec(
        sentences, sg=1, hs=0, negative=a.negative, vector_size=a.dim, window=max(longest, 1),
        shrink_windows=False, sample=a.sample, min_count=a.min_count, epochs=a.epochs, seed=a.seed,
        workers=a.workers, alpha=a.alpha, min_alpha=a.min_alpha,
    )
    seconds = time.perf_counter() - t
    model.wv.save_word2vec_format(a.out, binary=False)
    print(json.dumps({'gensim': gensim.__version__, 'seconds': seconds, 'vocab': len(model.wv)}))


if __name__ == '__main__':
    main()
