import { requireFinite } from './validate.js';
import { norms, weightedSumInto } from './weighted-sum.js';

/**
 * The three inner loops the robust rules are made of, behind one interface so that the
 * WebAssembly kernels (kernels-wasm.ts) and this plain TypeScript version are interchangeable
 * and can be tested against each other. Every kernel checks the values it reads for NaN and
 * infinity before it combines them and throws ERR_FL_NON_FINITE naming the client.
 */
export interface AggregationKernels {
  /** Which implementation this is, for benchmarks and tests. */
  readonly kind: 'wasm' | 'scalar';
  /** Per coordinate, the mean of the values whose ranks among the n updates are first..last (0-based, inclusive). */
  rankMean(rule: string, updates: readonly Float32Array[], first: number, last: number): Float32Array;
  /** The n x n matrix (row-major, symmetric, zero diagonal) of squared Euclidean distances between updates, in f64. */
  pairwiseSquaredDistances(rule: string, updates: readonly Float32Array[]): Float64Array;
  /** Per coordinate, the mean of the `keep` values nearest the coordinate's median (Bulyan's second phase). */
  closestToMedianMean(rule: string, updates: readonly Float32Array[], keep: number): Float32Array;
  /**
   * baseWeight * base + sum_i weights[i] * updates[i] (weights finite, |weight| <= 1), summed in f64; with
   * `normsAfter`, also every update's L2 distance to that result (what the next round of centered clipping needs).
   * `valuesChecked` says the caller's previous kernel call in this rule already checked these updates for NaN and
   * infinity, so an implementation may skip its own check.
   */
  weightedSum(rule: string, updates: readonly Float32Array[], weights: Float64Array, options: WeightedSumOptions): WeightedSum;
  /** Every update's L2 norm, or its L2 distance to `centre` (which must be finite). */
  norms(rule: string, updates: readonly Float32Array[], centre: Float32Array | null): Float64Array;
  /**
   * Runs `work`, whose kernel calls are norms and weightedSum over these same updates only; an
   * implementation may keep the updates loaded between those calls instead of copying them again.
   */
  reusing<T>(updates: readonly Float32Array[], work: () => T): T;
}

/** How `weightedSum` is to run: an optional base vector and its weight, whether distances to the result are wanted. */
export interface WeightedSumOptions {
  readonly base?: Float32Array;
  readonly baseWeight?: number;
  readonly normsAfter?: boolean;
  readonly valuesChecked?: boolean;
}

/** What `weightedSum` returns: the sum and, when asked for, the updates' L2 distances to it. */
export interface WeightedSum {
  readonly sum: Float32Array;
  readonly norms: Float64Array | null;
}

/** Columns transposed at a time by the scalar kernels (n x 256 values stay in cache). */
const scalarBlockColumns = 256;

/** Moves the k-th smallest of values[lo..hi] to index k, smaller ones before it and larger after (Hoare partition, median-of-three pivot). */
export function quickselect(values: Float64Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    const pivot = medianOfThree(values[lo]!, values[(lo + hi) >> 1]!, values[hi]!);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i++] = values[j]!;
        values[j--] = swap;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

/** Copies columns [start, end) of every update into `columns` (column-major: n values per column), checking them first. */
function transposeBlock(rule: string, updates: readonly Float32Array[], start: number, end: number, columns: Float64Array): void {
  const n = updates.length;
  requireFinite(rule, updates, start, end);
  for (let client = 0; client < n; client++) {
    const update = updates[client]!;
    for (let j = start; j < end; j++) columns[(j - start) * n + client] = update[j]!;
  }
}

/** Ranks first..last of one column (n values at `base`), summed in f64 after partial ordering by quickselect. */
function columnRankSum(columns: Float64Array, base: number, n: number, first: number, last: number): number {
  quickselect(columns, base, base + n - 1, base + first);
  quickselect(columns, base + first, base + n - 1, base + last);
  let sum = 0;
  for (let r = first; r <= last; r++) sum += columns[base + r]!;
  return sum;
}

/** Mean of the `keep` sorted values (n at `base`, ascending) nearest their median; the first window on a tie. */
export function windowMean(sorted: Float64Array, base: number, n: number, keep: number): number {
  const half = n >> 1;
  const median = n % 2 === 1 ? sorted[base + half]! : (sorted[base + half - 1]! + sorted[base + half]!) / 2;
  let best = 0;
  let bestReach = Number.POSITIVE_INFINITY;
  for (let s = 0; s + keep <= n; s++) {
    const reach = Math.max(median - sorted[base + s]!, sorted[base + s + keep - 1]! - median);
    if (reach < bestReach) {
      bestReach = reach;
      best = s;
    }
  }
  let sum = 0;
  for (let r = best; r < best + keep; r++) sum += sorted[base + r]!;
  return sum / keep;
}

/** The plain TypeScript kernels: the reference the WebAssembly ones are tested against, and the fallback where WebAssembly SIMD is missing. */
export const scalarKernels: AggregationKernels = {
  kind: 'scalar',
  rankMean(rule, updates, first, last) {
    const n = updates.length;
    const d = updates[0]!.length;
    const out = new Float32Array(d);
    const columns = new Float64Array(n * scalarBlockColumns);
    for (let start = 0; start < d; start += scalarBlockColumns) {
      const end = Math.min(d, start + scalarBlockColumns);
      transposeBlock(rule, updates, start, end, columns);
      for (let j = start; j < end; j++) out[j] = columnRankSum(columns, (j - start) * n, n, first, last) / (last - first + 1);
    }
    return out;
  },
  pairwiseSquaredDistances(rule, updates) {
    requireFinite(rule, updates);
    const n = updates.length;
    const distances = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const squared = squaredDistance(updates[i]!, updates[j]!);
        distances[i * n + j] = squared;
        distances[j * n + i] = squared;
      }
    }
    return distances;
  },
  closestToMedianMean(rule, updates, keep) {
    const n = updates.length;
    const d = updates[0]!.length;
    const out = new Float32Array(d);
    const columns = new Float64Array(n * scalarBlockColumns);
    for (let start = 0; start < d; start += scalarBlockColumns) {
      const end = Math.min(d, start + scalarBlockColumns);
      transposeBlock(rule, updates, start, end, columns);
      for (let j = start; j < end; j++) {
        const column = columns.subarray((j - start) * n, (j - start + 1) * n).sort();
        out[j] = windowMean(column, 0, n, keep);
      }
    }
    return out;
  },
  weightedSum(rule, updates, weights, options) {
    const sum = new Float32Array(updates[0]!.length);
    // The accumulator check inside weightedSumInto costs nothing, so valuesChecked is not needed here.
    weightedSumInto(rule, updates, weights, sum, options.base ?? null, options.baseWeight ?? 0);
    return { sum, norms: options.normsAfter === true ? norms(rule, updates, sum) : null };
  },
  norms(rule, updates, centre) {
    return norms(rule, updates, centre);
  },
  reusing(_updates, work) {
    return work();
  },
};

/** Squared Euclidean distance of two equal-length vectors, accumulated in f64. */
export function squaredDistance(a: Float32Array, b: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  const even = a.length & ~1;
  for (let k = 0; k < even; k += 2) {
    const x0 = a[k]! - b[k]!;
    const x1 = a[k + 1]! - b[k + 1]!;
    s0 += x0 * x0;
    s1 += x1 * x1;
  }
  if (even < a.length) {
    const x = a[even]! - b[even]!;
    s0 += x * x;
  }
  return s0 + s1;
}
