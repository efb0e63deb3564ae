import { scalarKernels, squaredDistance, type AggregationKernels, type WeightedSum, type WeightedSumOptions } from './kernels.js';
import { flKernelsWasmBase64 } from './kernels-wasm-binary.js';
import { rankNetwork, sortingNetwork, type Comparator } from './sorting-network.js';
import { nonFiniteError } from './validate.js';
import { squaredNorm } from './weighted-sum.js';

/**
 * The aggregation kernels on our WebAssembly module (wasm/fl-kernels.ts, SIMD). Updates live
 * in the caller's Float32Arrays, so each call copies one block of columns of every update into
 * the module's memory at a time (a memcpy per client and block), checks the block for NaN and
 * infinity there, and runs the kernel on it. Where WebAssembly SIMD is missing,
 * `wasmKernels()` is null and the rules use the scalar kernels.
 */

/** The parts of the WebAssembly JS API we use (this project's lib settings carry no DOM types). */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}

/** What the module exports (see wasm/fl-kernels.ts). */
interface FlExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly heapBase: { readonly value: unknown };
  firstNonFinite(block: number, rows: number, rowStrideBytes: number, columns: number): number;
  middleMean(block: number, rowStrideBytes: number, columns: number, comparators: number, count: number, first: number, last: number, out: number): void;
  addPairwiseSquared(block: number, rows: number, rowStrideBytes: number, columns: number, distances: number): void;
  closestToMedianMean(block: number, rows: number, rowStrideBytes: number, columns: number, comparators: number, count: number, keep: number, out: number): void;
  weightedSum(block: number, rows: number, rowStrideBytes: number, columns: number, weights: number, base: number, baseWeight: number, out: number): void;
  addSquaredNorms(block: number, rows: number, rowStrideBytes: number, columns: number, centre: number, norms: number): void;
}

/** Columns of every update copied per block: 50 clients x 4096 columns is 800 KiB, within L2. */
const blockColumnsMax = 4096;
/**
 * Extra floats after each row of a block: rows exactly 16 KiB apart would all map to the same
 * L1 cache set and evict each other while a network walks down a column.
 */
const rowPaddingFloats = 16;
/**
 * Above this many clients a sorting network costs more comparisons per coordinate than
 * quickselect (Batcher's network grows as n log^2 n), so the scalar kernel takes over.
 */
export const networkClientsMax = 128;

/**
 * Largest set of updates kept in the module's memory across the passes of one rule (centered
 * clipping makes one pass per iteration): up to this size the updates are copied in once.
 */
const residentBytesMax = 64 << 20;

const pageBytes = 65536;
const roundUp = (value: number, multiple: number): number => Math.ceil(value / multiple) * multiple;

/** Where one call's regions lie in the module's memory (byte offsets). */
interface Layout {
  readonly comparators: number;
  readonly out: number;
  /** n f64 weights, then n f64 norms, then one block of the base vector (f32). */
  readonly weights: number;
  readonly norms: number;
  readonly base: number;
  readonly distances: number;
  readonly block: number;
  readonly rowStrideBytes: number;
  readonly blockColumns: number;
}

/** The kernels over one instance of the module; synchronous, so one instance serves the whole thread. */
export class WasmKernels implements AggregationKernels {
  readonly kind = 'wasm';
  private readonly heapBase: number;
  /** The updates `reusing` keeps loaded, and whether they are in memory yet. */
  private resident: readonly Float32Array[] | null = null;
  private residentLoaded = false;

  /** Wraps an instance of the module. */
  constructor(private readonly exports: FlExports) {
    this.heapBase = roundUp(exports.heapBase.value as number, 64);
  }

  rankMean(rule: string, updates: readonly Float32Array[], first: number, last: number): Float32Array {
    const n = updates.length;
    if (n > networkClientsMax) return scalarKernels.rankMean(rule, updates, first, last);
    const network = rankNetwork(n, first, last);
    return this.perColumn(rule, updates, network, (layout, columns) => {
      this.exports.middleMean(layout.block, layout.rowStrideBytes, columns, layout.comparators, network.length, first, last, layout.out);
    });
  }

  closestToMedianMean(rule: string, updates: readonly Float32Array[], keep: number): Float32Array {
    const n = updates.length;
    if (n > networkClientsMax) return scalarKernels.closestToMedianMean(rule, updates, keep);
    const network = sortingNetwork(n);
    return this.perColumn(rule, updates, network, (layout, columns) => {
      this.exports.closestToMedianMean(layout.block, n, layout.rowStrideBytes, columns, layout.comparators, network.length, keep, layout.out);
    });
  }

  pairwiseSquaredDistances(rule: string, updates: readonly Float32Array[]): Float64Array {
    const n = updates.length;
    const layout = this.layout(n, updates[0]!.length, 0);
    new Float64Array(this.exports.memory.buffer, layout.distances, n * n).fill(0);
    this.forEachBlock(rule, updates, layout, (columns) => this.exports.addPairwiseSquared(layout.block, n, layout.rowStrideBytes, columns, layout.distances));
    const upper = new Float64Array(this.exports.memory.buffer, layout.distances, n * n);
    const distances = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const squared = Number.isFinite(upper[i * n + j]!) ? upper[i * n + j]! : squaredDistance(updates[i]!, updates[j]!);
        distances[i * n + j] = squared;
        distances[j * n + i] = squared;
      }
    }
    return distances;
  }

  weightedSum(rule: string, updates: readonly Float32Array[], weights: Float64Array, options: WeightedSumOptions): WeightedSum {
    const { base = null, baseWeight = 0, normsAfter = false, valuesChecked = false } = options;
    const n = updates.length;
    const d = updates[0]!.length;
    const layout = this.layout(n, d, 0);
    const memory = this.exports.memory.buffer;
    new Float64Array(memory, layout.weights, n).set(weights);
    new Float64Array(memory, layout.norms, n).fill(0);
    const sum = new Float32Array(d);
    let start = 0;
    const visit = (columns: number, taken: number): void => {
      const basePointer = base === null ? 0 : this.copyVector(layout, base, start, taken, columns);
      this.exports.weightedSum(layout.block, n, layout.rowStrideBytes, columns, layout.weights, basePointer, baseWeight, layout.out);
      // The block is still in the module's memory: the distances to the new sum cost no second copy.
      if (normsAfter) this.exports.addSquaredNorms(layout.block, n, layout.rowStrideBytes, columns, layout.out, layout.norms);
      sum.set(new Float32Array(memory, layout.out, taken), start);
      start += taken;
    };
    this.forEachBlock(rule, updates, layout, visit, valuesChecked ? 'never' : 'whenOutIsNot');
    const norms = normsAfter ? this.exactWhereOverflowed(this.readNorms(layout, n), (client) => Math.sqrt(squaredNorm(updates[client]!, sum))) : null;
    return { sum, norms };
  }

  norms(rule: string, updates: readonly Float32Array[], centre: Float32Array | null): Float64Array {
    const n = updates.length;
    const layout = this.layout(n, updates[0]!.length, 0);
    new Float64Array(this.exports.memory.buffer, layout.norms, n).fill(0);
    let start = 0;
    this.forEachBlock(
      rule,
      updates,
      layout,
      (columns, taken) => {
        const centrePointer = centre === null ? 0 : this.copyVector(layout, centre, start, taken, columns);
        this.exports.addSquaredNorms(layout.block, n, layout.rowStrideBytes, columns, centrePointer, layout.norms);
        start += taken;
      },
      'whenNormsAreNot',
    );
    return this.exactWhereOverflowed(this.readNorms(layout, n), (client) => Math.sqrt(squaredNorm(updates[client]!, centre)));
  }

  /**
   * Recomputes in f64 (JavaScript) the entries that came out infinite: the inputs were checked
   * finite, so those are f32 squares of values above ~1e19, and the scalar kernels' f64 answer
   * keeps both implementations giving the same aggregate.
   */
  private exactWhereOverflowed(values: Float64Array, exact: (index: number) => number): Float64Array {
    values.forEach((value, index) => {
      if (!Number.isFinite(value)) values[index] = exact(index);
    });
    return values;
  }

  reusing<T>(updates: readonly Float32Array[], work: () => T): T {
    this.resident = updates;
    this.residentLoaded = false;
    try {
      return work();
    } finally {
      this.resident = null;
      this.residentLoaded = false;
    }
  }

  /** Whether these updates fit and are the ones `reusing` keeps loaded (then the whole update is one block). */
  private keepsResident(updates: readonly Float32Array[]): boolean {
    return this.resident === updates && updates.length * roundUp(updates[0]!.length, 4) * 4 <= residentBytesMax;
  }

  /** Copies columns [start, start + taken) of `vector` into the base region, zero-padded to `columns`; returns its address. */
  private copyVector(layout: Layout, vector: Float32Array, start: number, taken: number, columns: number): number {
    const region = new Float32Array(this.exports.memory.buffer, layout.base, columns);
    region.set(vector.subarray(start, start + taken));
    region.fill(0, taken);
    return layout.base;
  }

  private readNorms(layout: Layout, n: number): Float64Array {
    return Float64Array.from(new Float64Array(this.exports.memory.buffer, layout.norms, n), Math.sqrt);
  }

  /** Runs a kernel that writes one output row per block and gathers the rows into the result. */
  private perColumn(rule: string, updates: readonly Float32Array[], network: readonly Comparator[], kernel: (layout: Layout, columns: number) => void): Float32Array {
    const d = updates[0]!.length;
    const layout = this.layout(updates.length, d, network.length);
    const offsets = new Uint32Array(this.exports.memory.buffer, layout.comparators, network.length * 2);
    network.forEach((comparator, k) => {
      offsets[2 * k] = comparator.low * layout.rowStrideBytes;
      offsets[2 * k + 1] = comparator.high * layout.rowStrideBytes;
    });
    const result = new Float32Array(d);
    let start = 0;
    this.forEachBlock(rule, updates, layout, (columns, taken) => {
      kernel(layout, columns);
      result.set(new Float32Array(this.exports.memory.buffer, layout.out, taken), start);
      start += taken;
    });
    return result;
  }

  /**
   * Copies each block of columns of every update into the module's memory (zero-padded to a
   * multiple of 4 columns) and calls `visit` with the padded and the real number of columns.
   * `check` says when the block is searched for NaN and infinity: 'before' the visit; 'never'
   * when an earlier pass of the same call has searched it; 'whenNormsAreNot' finite after a
   * norms visit, or 'whenOutIsNot' finite after a weighted-sum visit. A NaN or infinity always
   * makes its client's norm, and any f64 weighted sum with finite weights, non-finite (0 * NaN
   * and 0 * infinity are NaN), so the search runs only then; a finite value that overflows an
   * f32 square or the f32 result also triggers it, finds nothing, and is let through.
   */
  private forEachBlock(
    rule: string, updates: readonly Float32Array[], layout: Layout, visit: (columns: number, taken: number) => void,
    check: 'before' | 'never' | 'whenNormsAreNot' | 'whenOutIsNot' = 'before',
  ): void {
    const d = updates[0]!.length;
    if (this.keepsResident(updates) && this.residentLoaded) {
      visit(roundUp(d, 4), d);
      return;
    }
    this.residentLoaded = this.keepsResident(updates);
    const strideFloats = layout.rowStrideBytes / 4;
    for (let start = 0; start < d; start += layout.blockColumns) {
      const taken = Math.min(layout.blockColumns, d - start);
      const columns = roundUp(taken, 4);
      const block = new Float32Array(this.exports.memory.buffer, layout.block, updates.length * strideFloats);
      updates.forEach((update, client) => {
        block.set(update.subarray(start, start + taken), client * strideFloats);
        block.fill(0, client * strideFloats + taken, client * strideFloats + columns);
      });
      if (check === 'before') this.refuseNonFinite(rule, updates, layout, start, columns);
      visit(columns, taken);
      if (check === 'whenNormsAreNot' && !new Float64Array(this.exports.memory.buffer, layout.norms, updates.length).every(Number.isFinite)) {
        this.refuseNonFinite(rule, updates, layout, start, columns);
      }
      if (check === 'whenOutIsNot' && this.exports.firstNonFinite(layout.out, 1, 0, columns) >= 0) this.refuseNonFinite(rule, updates, layout, start, columns);
    }
  }

  /** Throws ERR_FL_NON_FINITE for the first NaN or infinity in the block (columns from `start`), if any. */
  private refuseNonFinite(rule: string, updates: readonly Float32Array[], layout: Layout, start: number, columns: number): void {
    const bad = this.exports.firstNonFinite(layout.block, updates.length, layout.rowStrideBytes, columns);
    if (bad >= 0) {
      const client = Math.floor(bad / columns);
      const coordinate = start + (bad % columns);
      throw nonFiniteError(rule, client, coordinate, updates[client]![coordinate]!);
    }
  }

  /** Lays out the regions for n clients of d parameters and `comparators` comparators, growing the memory if needed. */
  private layout(n: number, d: number, comparators: number): Layout {
    const blockColumns = this.resident !== null && this.keepsResident(this.resident) ? roundUp(d, 4) : Math.min(blockColumnsMax, roundUp(d, 4));
    const rowStrideBytes = (blockColumns + rowPaddingFloats) * 4;
    const comparatorsAt = this.heapBase;
    const out = roundUp(comparatorsAt + comparators * 8, 64);
    const weights = roundUp(out + blockColumns * 4, 64);
    const norms = roundUp(weights + n * 8, 64);
    const base = roundUp(norms + n * 8, 64);
    const distances = roundUp(base + blockColumns * 4, 64);
    const block = roundUp(distances + n * n * 8, 64);
    const end = block + n * rowStrideBytes;
    const buffer = this.exports.memory.buffer;
    if (end > buffer.byteLength) this.exports.memory.grow(Math.ceil((end - buffer.byteLength) / pageBytes));
    return { comparators: comparatorsAt, out, weights, norms, base, distances, block, rowStrideBytes, blockColumns };
  }
}

let instance: WasmKernels | null | undefined;

/** The module's one instance in this thread, or null where WebAssembly (with SIMD) is unavailable. */
export function wasmKernels(): WasmKernels | null {
  if (instance === undefined) instance = loadWasmKernels();
  return instance;
}

/**
 * A new instance of the module in `base64` (ours by default), or null when this runtime cannot
 * compile or run it, or when it gets a small median wrong at load (a broken engine must not
 * produce wrong aggregates quietly; the scalar kernels take over).
 */
export function loadWasmKernels(base64: string = flKernelsWasmBase64): WasmKernels | null {
  try {
    const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const module = new api.Module(Buffer.from(base64, 'base64'));
    const abort = (): never => {
      throw new Error('fl-kernels wasm: abort');
    };
    const kernels = new WasmKernels(new api.Instance(module, { env: { abort } }).exports as FlExports);
    return passesKnownAnswer(kernels) ? kernels : null;
  } catch {
    return null;
  }
}

/** Whether `kernels` computes the median of three small updates exactly. */
export function passesKnownAnswer(kernels: AggregationKernels): boolean {
  const updates = [Float32Array.of(1, 5, 9, -1, 0.5), Float32Array.of(2, 4, 8, -2, 0.25), Float32Array.of(3, 6, 7, -3, 0.75)];
  const median = kernels.rankMean('self-test', updates, 1, 1);
  return [2, 5, 8, -2, 0.5].every((value, i) => median[i] === value);
}

/** The kernels the rules use: WebAssembly where it runs, the scalar ones otherwise. */
export function activeKernels(): AggregationKernels {
  return wasmKernels() ?? scalarKernels;
}
