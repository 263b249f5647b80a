# The scikit-learn side of bench/tasks.ts (Debian's python3-sklearn, run with /usr/bin/python3):
# the same tasks on the same arrays (written by the bench as .npy), timed here, one JSON line out.
#   sklearn-tasks.py DIR K SEEDS   (SEEDS: comma-separated; k-means runs once per seed, figures are means)
# DIR holds mnist.npy (n x 784 float32), labels.npy (n int), outl.npy (m x 784 float32), outl_planted.npy (m bool).
import json
import sys
import time

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import normalized_mutual_info_score
from sklearn.neighbors import KNeighborsClassifier, LocalOutlierFactor, NearestNeighbors

d, k, seeds = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3].split(',')]
X = np.load(f'{d}/mnist.npy')
y = np.load(f'{d}/labels.npy')
O = np.load(f'{d}/outl.npy')
planted = np.load(f'{d}/outl_planted.npy')
out = {}


def purity(labels, pred):
    total = 0
    for c in np.unique(pred):
        total += np.bincount(labels[pred == c]).max()
    return total / len(labels)


for name in ['kmeans', 'minibatch']:
    runs = []
    for seed in seeds:
        make = KMeans(n_clusters=k, init='k-means++', n_init=1, random_state=seed) if name == 'kmeans' else \
            MiniBatchKMeans(n_clusters=k, init='k-means++', n_init=1, batch_size=1024, random_state=seed)
        t = time.perf_counter()
        m = make.fit(X)
        s = time.perf_counter() - t
        runs.append({'seconds': s, 'nmi': float(normalized_mutual_info_score(y, m.labels_)), 'purity': float(purity(y, m.labels_)), 'inertia': float(m.inertia_)})
    out[name] = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}

# After each timed call, REPEATS more of the same call: their median is the steady-state time
# (bench/tasks.ts does the same on its side).
REPEATS = 5


def steady(fn):
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


n_train = len(X) - 1000


def knn_run():
    knn = KNeighborsClassifier(n_neighbors=5, algorithm='brute').fit(X[:n_train], y[:n_train])
    return float((knn.predict(X[n_train:]) == y[n_train:]).mean())


t = time.perf_counter()
acc = knn_run()
out['knn'] = {'seconds': time.perf_counter() - t, 'accuracy': acc, 'steady': steady(knn_run)}

n_out = int(planted.sum())


def lof_run():
    lof = LocalOutlierFactor(n_neighbors=20).fit(O)
    return -lof.negative_outlier_factor_


t = time.perf_counter()
score = lof_run()
s = time.perf_counter() - t
top = np.argsort(-score, kind='stable')[:n_out]
out['lof'] = {'seconds': s, 'precision': float(planted[top].mean()), 'steady': steady(lof_run)}


def kth_run():
    nn = NearestNeighbors(n_neighbors=11).fit(O)
    dist, _ = nn.kneighbors(O)
    return dist[:, 10]


t = time.perf_counter()
score = kth_run()
s = time.perf_counter() - t
top = np.argsort(-score, kind='stable')[:n_out]
out['knn_outliers'] = {'seconds': s, 'precision': float(planted[top].mean()), 'steady': steady(kth_run)}
print(json.dumps(out))
