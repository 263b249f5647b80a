# The Python peers of bench/ann.ts's target blocks (issue 16): Debian's python3-hnswlib and
# python3-faiss (1.7.3), run by /usr/bin/python3 as a child process on the same .fvecs files the
# Node side wrote. One call = one engine block: build (timed), then for each sweep point an untimed
# warm-up search (whose ids are returned, so that recall is computed by the same TypeScript code as
# for every other engine) and the timed batch searches (all queries in one call, best of `reps`
# repetitions, each repeating whole passes for >= `minSeconds`).
#
#   python3 ann-peers.py SPEC.json     (SPEC: see `main`; prints one JSON object on stdout)
#
# Tasks:
#   hnswlib-hnsw   hnswlib.Index('l2'): init_index(M, ef_construction, random_seed), add_items(num_threads),
#                  per ef: set_ef, knn_query(num_threads)
#   faiss-ivfpq    IndexIVFPQ(IndexFlatL2, d, nlist, m, 8): train(base), add(base); per nProbe: search k
#                  (raw) and, per rescore factor R > 1, search R*k then exact float32 re-ranking (numpy,
#                  inside the timed call)
#   faiss-binary   binary codes = sign(x - mean(base)) packed 8 per byte; IndexBinaryFlat or
#                  IndexBinaryHNSW(d, M); search R*k by Hamming distance, then exact re-ranking
import json
import os
import sys
import time

import numpy as np


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        raise SystemExit(f'{path}: empty')
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    if not np.all(rows[:, 0] == d):
        raise SystemExit(f'{path}: rows of different dimensions')
    return np.ascontiguousarray(rows[:, 1:].view(np.float32))


def timed_rate(nq, fn, min_seconds, reps):
    """Best repetition's queries/second and its CPU/wall (process CPU: all threads)."""
    best, best_cpu = 0.0, 0.0
    for r in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        done = 0
        while True:
            fn()
            done += nq
            el = time.perf_counter() - t0
            if el >= min_seconds:
                break
        cpu = time.process_time() - c0
        rate = done / el
        if rate > best:
            best, best_cpu = rate, cpu / el
        if el > 10 and r >= 1:
            break
    return best, best_cpu


def rerank(base, queries, cand, k):
    """Exact squared-L2 re-ranking of each query's candidate ids (-1 = none), keeping the best k."""
    out = np.full((queries.shape[0], k), -1, dtype=np.int64)
    for i in range(queries.shape[0]):
        c = cand[i]
        c = c[c >= 0]
        diff = base[c] - queries[i]
        d = np.einsum('ij,ij->i', diff, diff)
        order = np.argsort(d, kind='stable')[:k]
        out[i, :order.size] = c[order]
    return out


def build_timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    v = fn()
    s = time.perf_counter() - t0
    return v, s, (time.process_time() - c0) / s if s > 0 else 0.0


def serialized_bytes(index, binary=False):
    import faiss
    try:
        return int((faiss.serialize_index_binary(index) if binary else faiss.serialize_index(index)).size)
    except Exception:  # noqa: BLE001 - a figure only
        return None


def task_hnswlib(spec, base, queries):
    import hnswlib
    n, d = base.shape
    k, threads = spec['k'], spec['threads']

    def build():
        p = hnswlib.Index(space='l2', dim=d)
        p.init_index(max_elements=n, ef_construction=spec['efConstruction'], M=spec['m'], random_seed=spec['seed'])
        p.add_items(base, np.arange(n), num_threads=threads)
        return p
    p, secs, cpu = build_timed(build)
    points = []
    for ef in spec['sweep']:
        p.set_ef(max(ef, k))
        labels, _ = p.knn_query(queries, k=k, num_threads=threads)
        qps, qcpu = timed_rate(len(queries), lambda: p.knn_query(queries, k=k, num_threads=threads), spec['minSeconds'], spec['reps'])
        points.append({'params': {'efSearch': ef}, 'ids': labels.astype(np.int64).ravel().tolist(), 'qps': qps, 'cpuPerWall': qcpu})
    return {'engine': 'hnswlib-py', 'version': getattr(hnswlib, '__version__', 'python3-hnswlib'),
            'buildSeconds': secs, 'buildCpuPerWall': cpu, 'bytesPerVector': None, 'points': points}


def task_faiss_ivfpq(spec, base, queries):
    import faiss
    faiss.omp_set_num_threads(spec['threads'])
    n, d = base.shape
    k = spec['k']

    def build():
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFPQ(quantizer, d, spec['nList'], spec['pqM'], 8)
        index.cp.seed = spec['seed']
        index.cp.niter = spec['iterations']
        index.pq.cp.seed = spec['seed']
        index.train(base)
        index.add(base)
        return index, quantizer
    (index, _q), secs, cpu = build_timed(build)
    points = []
    for nprobe in spec['sweep']:
        index.nprobe = nprobe
        for r in spec['rescore']:
            if r <= 1:
                def run():
                    return index.search(queries, k)[1]
            else:
                def run(r=r):
                    return rerank(base, queries, index.search(queries, r * k)[1], k)
            ids = run()
            qps, qcpu = timed_rate(len(queries), run, spec['minSeconds'], spec['reps'])
            points.append({'params': {'nList': spec['nList'], 'pqM': spec['pqM'], 'nProbe': nprobe, 'rescore': r},
                           'ids': ids.astype(np.int64).ravel().tolist(), 'qps': qps, 'cpuPerWall': qcpu})
    sb = serialized_bytes(index)
    return {'engine': 'faiss', 'version': faiss.__version__, 'buildSeconds': secs, 'buildCpuPerWall': cpu,
            'bytesPerVector': sb / n if sb else None, 'bytesSource': 'faiss.serialize_index size / n', 'points': points}


def task_faiss_binary(spec, base, queries):
    import faiss
    faiss.omp_set_num_threads(spec['threads'])
    n, d = base.shape
    k = spec['k']
    if d % 8:
        raise SystemExit(f'faiss-binary: dimension {d} is not a multiple of 8')
    mean = base.mean(axis=0, dtype=np.float64).astype(np.float32)

    def codes(x):
        return np.packbits((x - mean) > 0, axis=1, bitorder='little')
    hnsw = spec['kind'] == 'hnsw'

    def build():
        index = faiss.IndexBinaryHNSW(d, spec['m']) if hnsw else faiss.IndexBinaryFlat(d)
        if hnsw:
            index.hnsw.efConstruction = spec['efConstruction']
        index.add(codes(base))
        return index
    index, secs, cpu = build_timed(build)
    points = []
    for ef in (spec['sweep'] if hnsw else [0]):
        if hnsw:
            index.hnsw.efSearch = ef
        for r in spec['rescore']:
            def run(r=r):
                cand = index.search(codes(queries), r * k)[1]
                return cand[:, :k] if r <= 1 else rerank(base, queries, cand, k)
            ids = run()
            qps, qcpu = timed_rate(len(queries), run, spec['minSeconds'], spec['reps'])
            params = {'efSearch': ef, 'rescore': r} if hnsw else {'rescore': r}
            points.append({'params': params, 'ids': ids.astype(np.int64).ravel().tolist(), 'qps': qps, 'cpuPerWall': qcpu})
    sb = serialized_bytes(index, binary=True)
    return {'engine': 'faiss', 'version': faiss.__version__, 'buildSeconds': secs, 'buildCpuPerWall': cpu,
            'bytesPerVector': sb / n if sb else None, 'bytesSource': 'faiss.serialize_index_binary size / n (codes only: the float vectors for re-scoring are extra)',
            'points': points}


def main():
    if len(sys.argv) != 2:
        raise SystemExit('usage: ann-peers.py SPEC.json')
    with open(sys.argv[1], encoding='utf8') as f:
        spec = json.load(f)
    # One BLAS / OpenMP thread unless the block asks for more (numpy's re-ranking included).
    base = read_fvecs(spec['base'])
    queries = read_fvecs(spec['queries'])
    task = spec['task']
    if task == 'hnswlib-hnsw':
        out = task_hnswlib(spec, base, queries)
    elif task == 'faiss-ivfpq':
        out = task_faiss_ivfpq(spec, base, queries)
    elif task == 'faiss-binary':
        out = task_faiss_binary(spec, base, queries)
    else:
        raise SystemExit(f'unknown task {task!r}')
    out['pid'] = os.getpid()
    sys.stdout.write(json.dumps(out) + '\n')


if __name__ == '__main__':
    main()
