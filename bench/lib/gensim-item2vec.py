"""Item2Vec with gensim, for bench/item2vec.ts: skip-gram with negative sampling on item sequences.

--window all (default): every other item of the sequence is context (window = the longest
sequence, shrink_windows off: the set view of Barkan & Koenigstein 2016). --window N: N items on
each side, shrunk at random per item (gensim's default). --shuffle: each sequence is shuffled
before every epoch, training one epoch at a time with the learning rate continuing linearly from
alpha to min_alpha across the epochs (what a single train() call does; gensim cannot shuffle).

usage: gensim-item2vec.py SEQUENCES OUT.txt [--window all|N] [--shuffle] --dim D --negative N
                          --sample S --epochs E --min-count M --seed S --workers W [--alpha A --min-alpha A]
Writes the vectors in word2vec text format; prints one JSON line:
{"gensim": version, "seconds": training seconds, "vocab": size}.
"""
import argparse
import json
import random
import time

import gensim
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence


def main():
    p = argparse.ArgumentParser()
    p.add_argument('sequences')
    p.add_argument('out')
    p.add_argument('--window', default='all')
    p.add_argument('--shuffle', action='store_true')
    p.add_argument('--dim', type=int, default=64)
    p.add_argument('--negative', type=int, default=5)
    p.add_argument('--sample', type=float, default=1e-3)
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--min-count', type=int, default=1)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--alpha', type=float, default=0.025)
    p.add_argument('--min-alpha', type=float, default=0.0001)
    a = p.parse_args()
    sentences = list(LineSentence(a.sequences, max_sentence_length=10000))
    longest = max((len(s) for s in sentences), default=1)
    if a.window == 'all':
        window, shrink = max(longest, 1), False
    else:
        window, shrink = int(a.window), True
    t = time.perf_counter()
    model = Word2Vec(
        sg=1, hs=0, negative=a.negative, vector_size=a.dim, window=window, shrink_windows=shrink,
        sample=a.sample, min_count=a.min_count, epochs=a.epochs, seed=a.seed, workers=a.workers,
        alpha=a.alpha, min_alpha=a.min_alpha,
    )
    model.build_vocab(sentences)
    if a.shuffle:
        rng = random.Random(a.seed)
        step = (a.alpha - a.min_alpha) / a.epochs
        for e in range(a.epochs):
            shuffled = [rng.sample(s, len(s)) for s in sentences]
            model.train(shuffled, total_examples=len(shuffled), epochs=1,
                        start_alpha=a.alpha - step * e, end_alpha=a.alpha - step * (e + 1))
    else:
        model.train(sentences, total_examples=len(sentences), epochs=a.epochs)
    seconds = time.perf_counter() - t
    model.wv.save_word2vec_format(a.out, binary=False)
    print(json.dumps({'gensim': gensim.__version__, 'seconds': seconds, 'vocab': len(model.wv)}))


if __name__ == '__main__':
    main()
