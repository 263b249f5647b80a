import v8 from 'node:v8';
import { OmnivecError } from '../errors.js';
import { kernelsWasmBase64 } from './wasm/kernels.generated.js';
import { kernelsRelaxedWasmBase64 } from './wasm/kernels-relaxed.generated.js';

/**
 * An index's own WebAssembly linear memory, with a small allocator and the SIMD distance kernels
 * bound to it. Everything a kernel reads (stored vectors, queries, slot lists) lives here and is
 * addressed by byte offsets ("pointers").
 *
 * Why one memory per index: a `WebAssembly.Memory` grows in place (V8 reserves its address range up
 * front), so the block allocated last — an index's growing record region — extends without a copy,
 * and dropping the index returns all of it to the garbage collector. Linear memory never shrinks,
 * so `committedBytes` is the high-water mark; compaction reuses freed space rather than returning it.
 * Limit: 4 GiB per index (32-bit WebAssembly addresses).
 *
 * The memory is shared (`shared: true`, maximum 4 GiB): worker threads attach to it
 * (`Arena.attach`) to search or build an index in parallel (src/indexes/parallel/,
 * docs/indexes/threads.md). Growing a shared memory does not detach the old buffer; it hands out a
 * new, longer SharedArrayBuffer. Views are refreshed after every growth here; an attached arena
 * refreshes its views with `sync()` (a job that may follow a growth calls it before reading).
 */

interface KernelExports {
  l2sq(a: number, b: number, dim: number): number;
  dot(a: number, b: number, dim: number): number;
  dist(metric: number, a: number, b: number, dim: number): number;
  distGather(metric: number, q: number, base: number, stride: number, slots: number, n: number, dim: number, out: number, touchBytes: number): void;
  distRange(metric: number, q: number, ptr: number, stride: number, n: number, dim: number, out: number): void;
  distBlock(metric: number, qs: number, nq: number, qStride: number, xs: number, nx: number, xStride: number, dim: number, out: number): void;
  distList(metric: number, q: number, base: number, stride: number, slots: number, n: number, dim: number, out: number): void;
  sqNorms(ptr: number, n: number, stride: number, dim: number, plan: number, out: number): void;
  screenBlock(metric: number, qs: number, nq: number, qStride: number, qn: number, xs: number, nx: number, xStride: number, xn: number,
    dim: number, plan: number, qlim: number, xlim: number, out: number): void;
  relaxedBuild(): number;
  blockCandidates(vals: number, cnt: number, nx: number, lims: number, dst: number): number;
  columnMoments(ptr: number, n: number, m: number, stride: number, dim: number, out: number): void;
  pairRegionBytes(n: number, k: number, cap: number): number;
  pairScreensReset(st: number, n: number, k: number): void;
  pairScreensOffer(vals: number, cnt: number, nx: number, q0: number, c0: number, st: number, n: number, k: number, cap: number, adm: number, prune: number): number;
  pairScreensMerge(regions: number, parts: number, n: number, k: number, cap: number, p0: number, p1: number, metric: number, pts: number, stride: number,
    dim: number, outIdx: number, outDist: number, tmp: number, kth: number): void;
}

let compiled: WebAssembly.Module | undefined;
/**
 * Compiles the kernels once, straight to V8's optimising tier (TurboFan). By default V8 first
 * compiles WebAssembly with its baseline compiler (Liftoff) and swaps in optimised code for hot
 * functions later; measured here, searches sometimes kept running at the baseline code's speed
 * for seconds (−35 % QPS on MNIST, bimodal from run to run). The flag is switched off only for
 * this synchronous compile (a few ms for this small module) and restored at once, so other
 * WebAssembly in the process is unaffected.
 */
function kernelModule(): WebAssembly.Module {
  if (compiled === undefined) {
    const relaxed = relaxedBytes();
    const bytes = relaxed ?? Buffer.from(kernelsWasmBase64, 'base64');
    v8.setFlagsFromString('--no-liftoff');
    if (relaxed !== undefined) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    try {
      compiled = new WebAssembly.Module(bytes);
    } finally {
      v8.setFlagsFromString('--liftoff');
      if (relaxed !== undefined && !relaxedWasOn) v8.setFlagsFromString('--no-experimental-wasm-relaxed-simd');
    }
  }
  return compiled;
}

let relaxedWasOn = false;
/**
 * The relaxed-SIMD build of the kernels (`f32x4.relaxed_madd` in `screenBlock`, a fused
 * multiply-add on CPUs with FMA: ~1.5× the plain build's screen, docs/kernels.md), or undefined
 * where the engine does not take it. Node 20 (V8 11.3) validates relaxed SIMD only behind
 * `--experimental-wasm-relaxed-simd`: the flag is switched on for the validation and the compile
 * (a module, once compiled, keeps its features, and the same module is posted to the pool's
 * workers, so every thread runs the same code) and off again unless it was on already; newer
 * engines have it on by default. `OMNIVEC_WASM_RELAXED=0` forces the plain build (the tests run
 * both). Which build runs never changes an answer: the screen only picks candidates, whose
 * distances are recomputed with the exact kernel.
 */
function relaxedBytes(): Buffer | undefined {
  if (process.env.OMNIVEC_WASM_RELAXED === '0') return undefined;
  const bytes = Buffer.from(kernelsRelaxedWasmBase64, 'base64');
  if (WebAssembly.validate(bytes)) {
    relaxedWasOn = true;
    return bytes;
  }
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  try {
    return WebAssembly.validate(bytes) ? bytes : undefined;
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-experimental-wasm-relaxed-simd');
  }
}

/**
 * Bytes of each vector `distGather` touches before computing when the vectors are probably not in
 * cache (graph expansions, allow-list gathers); pass 0 for vectors just used (see docs/kernels.md).
 */
export const PREFETCH_BYTES = 512;

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB
const ALIGN = 16;

export class Arena {
  readonly #memory: WebAssembly.Memory;
  /** False for an arena attached to another thread's memory: it reads and writes, never allocates. */
  readonly owner: boolean;
  readonly k: KernelExports;
  /** Views over the whole memory; replaced after every growth (the old buffer is detached). */
  f32!: Float32Array;
  u32!: Uint32Array;
  u8!: Uint8Array;
  #top = ALIGN; // pointer 0 is never handed out
  #sizes = new Map<number, number>();
  #free: { ptr: number; size: number }[] = [];

  /**
   * A new arena of at least `initialBytes`, or — given a shared `WebAssembly.Memory` (another
   * arena's `memory`, sent to a worker) — a view of that memory with its own kernel instance,
   * allocating nothing (see `Arena.attach`).
   */
  constructor(initialBytes: number | WebAssembly.Memory = PAGE, module?: WebAssembly.Module) {
    if (typeof initialBytes === 'number') {
      this.#memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(initialBytes / PAGE)), maximum: MAX_PAGES, shared: true });
      this.owner = true;
    } else {
      this.#memory = initialBytes;
      this.owner = false;
    }
    const instance = new WebAssembly.Instance(module ?? kernelModule(), { env: { memory: this.#memory, abort: () => { throw new Error('wasm abort'); } } });
    this.k = instance.exports as unknown as KernelExports;
    this.#refresh();
  }

  /**
   * Attaches to an existing shared memory (in a worker thread) without allocating: the owner's
   * pointers are valid here. `module` is the compiled kernels (`Arena.kernels()`), passed along
   * so that the worker does not compile them again. The owner must not grow the memory while a
   * worker uses it; call `sync()` before a job that may follow a growth.
   */
  static attach(memory: WebAssembly.Memory, module?: WebAssembly.Module): Arena {
    return new Arena(memory, module);
  }

  /** The compiled kernels module (compiled once per thread; can be posted to a worker). */
  static kernels(): WebAssembly.Module {
    return kernelModule();
  }

  /** Whether the kernels are the relaxed-SIMD build (fused multiply-adds in the screened scans). */
  static relaxedKernels(): boolean {
    return new Arena().k.relaxedBuild() === 1;
  }

  /** The shared linear memory (post it to a worker and `Arena.attach` it there). */
  get memory(): WebAssembly.Memory {
    return this.#memory;
  }

  /** Refreshes the views if the memory grew since they were made (in any thread); cheap. */
  sync(): void {
    if (this.u8.byteLength !== this.#memory.buffer.byteLength) this.#refresh();
  }

  /** Bytes of linear memory obtained from the system (the high-water mark). */
  get committedBytes(): number {
    return this.#memory.buffer.byteLength;
  }

  /** Frees every allocation at once (the memory stays committed): an owner reusing its arena for new work. */
  reset(): void {
    this.#top = ALIGN;
    this.#sizes.clear();
    this.#free = [];
  }

  /** Allocates `bytes` (rounded up to 16) and returns the pointer. Contents are not cleared. */
  alloc(bytes: number): number {
    if (!this.owner) throw new Error('arena: an attached arena does not allocate');
    const size = roundUp(Math.max(bytes, ALIGN));
    // Best fit among freed blocks.
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const f = this.#free[i]!;
      if (f.size >= size && (best < 0 || f.size < this.#free[best]!.size)) best = i;
    }
    if (best >= 0) {
      const f = this.#free[best]!;
      const ptr = f.ptr;
      let given = f.size;
      if (f.size - size >= 64) {
        given = size;
        f.ptr += size;
        f.size -= size;
      } else {
        this.#free.splice(best, 1);
      }
      this.#sizes.set(ptr, given);
      return ptr;
    }
    const ptr = this.#top;
    this.#ensure(ptr + size);
    this.#top = ptr + size;
    this.#sizes.set(ptr, size);
    return ptr;
  }

  /** Size in bytes of the block at `ptr`. */
  sizeOf(ptr: number): number {
    const s = this.#sizes.get(ptr);
    if (s === undefined) throw new Error(`arena: no block at ${ptr}`);
    return s;
  }

  /** Returns a block to the allocator. */
  free(ptr: number): void {
    const size = this.sizeOf(ptr);
    this.#sizes.delete(ptr);
    if (ptr + size === this.#top) {
      this.#top = ptr;
      // Merge a free block that now ends at the top.
      for (let i = 0; i < this.#free.length; i++) {
        const f = this.#free[i]!;
        if (f.ptr + f.size === this.#top) {
          this.#top = f.ptr;
          this.#free.splice(i, 1);
          i = -1;
        }
      }
      return;
    }
    this.#free.push({ ptr, size });
  }

  /**
   * Resizes the block at `ptr` to at least `bytes`, keeping its contents; returns the (possibly new)
   * pointer. The last block grows in place, so a region allocated last never moves.
   */
  realloc(ptr: number, bytes: number): number {
    if (!this.owner) throw new Error('arena: an attached arena does not allocate');
    const size = this.sizeOf(ptr);
    const want = roundUp(Math.max(bytes, ALIGN));
    if (want <= size) return ptr;
    if (ptr + size === this.#top) {
      this.#ensure(ptr + want);
      this.#top = ptr + want;
      this.#sizes.set(ptr, want);
      return ptr;
    }
    const next = this.alloc(want);
    this.u8.copyWithin(next, ptr, ptr + size);
    this.free(ptr);
    return next;
  }

  #ensure(end: number): void {
    const have = this.#memory.buffer.byteLength;
    if (end <= have) return;
    // Grow by what is needed plus 1/16 of the current size (at least 1 MiB): few growths, and
    // at most ~6 % committed beyond the live data.
    const need = Math.ceil((end - have) / PAGE);
    const slack = Math.max(16, Math.ceil(have / PAGE / 16));
    const pages = Math.min(need + slack, MAX_PAGES - have / PAGE);
    if (pages < need) {
      throw new OmnivecError('capacity_exceeded',
        `index memory: expected at most 4 GiB (WebAssembly's 32-bit address space), needed ${end} bytes; split the data over several indexes`);
    }
    this.#memory.grow(pages);
    this.#refresh();
  }

  #refresh(): void {
    const buf = this.#memory.buffer;
    this.f32 = new Float32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.u8 = new Uint8Array(buf);
  }
}

function roundUp(n: number): number {
  return (n + ALIGN - 1) & ~(ALIGN - 1);
}
