/**
 * Binary heaps over (distance, id) pairs kept in parallel typed arrays: no objects per element,
 * so pushing and popping in the search loops allocates nothing.
 */

/**
 * Keeps the `k` smallest distances seen, ties by the smaller id: pairs are ordered by (distance,
 * id), so which of several equal distances are kept at the cut, and their order, never depend on
 * the order they came in (a brute-force oracle sorted by distance then id gives the same list).
 * The root is the *worst* kept pair (`worst()`), so a new candidate is compared with one number
 * and usually rejected at once. The one top-k heap of the library: the dense indexes, the tasks
 * and the sparse index (scores negated) all use it.
 */
export class TopK {
  readonly capacity: number;
  readonly ids: Uint32Array;
  readonly dists: Float32Array;
  size = 0;

  constructor(k: number) {
    this.capacity = k;
    this.ids = new Uint32Array(k);
    this.dists = new Float32Array(k);
  }

  clear(): void {
    this.size = 0;
  }

  /** The largest kept distance, or Infinity while fewer than k are kept. */
  worst(): number {
    return this.size < this.capacity ? Infinity : this.dists[0]!;
  }

  /** Offers a pair; returns true when it was kept. NaN is never kept once the heap is full. */
  push(id: number, dist: number): boolean {
    const d = this.dists;
    const ids = this.ids;
    if (this.size < this.capacity) {
      // Sift up while the parent is better (smaller distance, or equal and smaller id).
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        const pd = d[p]!;
        if (pd > dist || (pd === dist && ids[p]! > id)) break;
        d[i] = pd;
        ids[i] = ids[p]!;
        i = p;
      }
      d[i] = dist;
      ids[i] = id;
      return true;
    }
    const w = d[0]!;
    if (!(dist <= w) || (dist === w && id > ids[0]!) || this.capacity === 0) return false;
    this.#siftDown(this.size, id, dist);
    return true;
  }

  /** Removes the worst kept pair. */
  pop(): void {
    const n = --this.size;
    if (n > 0) this.#siftDown(n, this.ids[n]!, this.dists[n]!);
  }

  /** Places (id, dist) at the root of the first `n` entries and sifts it down. */
  #siftDown(n: number, id: number, dist: number): void {
    const d = this.dists;
    const ids = this.ids;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n) {
        const a = d[c]!, b = d[c + 1]!;
        if (b > a || (b === a && ids[c + 1]! > ids[c]!)) c++;
      }
      const cd = d[c]!;
      if (cd < dist || (cd === dist && ids[c]! < id)) break;
      d[i] = cd;
      ids[i] = ids[c]!;
      i = c;
    }
    d[i] = dist;
    ids[i] = id;
  }

  /**
   * Writes the kept pairs nearest first (ties by the smaller id) into `ids`/`dists` from `offset`
   * and empties the heap. Returns how many were written.
   */
  drainSorted(ids: Uint32Array, dists: Float32Array, offset = 0): number {
    const n = this.size;
    for (let i = n - 1; i >= 0; i--) {
      ids[offset + i] = this.ids[0]!;
      dists[offset + i] = this.dists[0]!;
      this.pop();
    }
    return n;
  }
}

/** A growable min-heap of (distance, id): the candidate queue of graph searches. */
export class MinHeap {
  ids: Uint32Array;
  dists: Float32Array;
  size = 0;

  constructor(initialCapacity = 64) {
    this.ids = new Uint32Array(initialCapacity);
    this.dists = new Float32Array(initialCapacity);
  }

  clear(): void {
    this.size = 0;
  }

  push(id: number, dist: number): void {
    if (this.size === this.ids.length) this.#grow();
    const d = this.dists;
    const ids = this.ids;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (d[p]! <= dist) break;
      d[i] = d[p]!;
      ids[i] = ids[p]!;
      i = p;
    }
    d[i] = dist;
    ids[i] = id;
  }

  topId(): number {
    return this.ids[0]!;
  }

  topDist(): number {
    return this.dists[0]!;
  }

  pop(): void {
    const n = --this.size;
    if (n <= 0) return;
    const d = this.dists;
    const ids = this.ids;
    const dist = d[n]!;
    const id = ids[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && d[c + 1]! < d[c]!) c++;
      if (d[c]! >= dist) break;
      d[i] = d[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    d[i] = dist;
    ids[i] = id;
  }

  #grow(): void {
    const ids = new Uint32Array(this.ids.length * 2);
    ids.set(this.ids);
    const dists = new Float32Array(this.dists.length * 2);
    dists.set(this.dists);
    this.ids = ids;
    this.dists = dists;
  }
}
