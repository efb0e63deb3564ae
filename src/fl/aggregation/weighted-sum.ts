import { nonFiniteError, requireFinite } from './validate.js';

/**
 * The weighted sum at the heart of FedAvg, norm bounding and centered clipping, in plain
 * TypeScript: one pass over the updates in blocks of columns, four clients at a time, into an
 * f64 accumulator small enough to stay in L1. It reads each input value once, which is the
 * least any mean can do, so it needs no WebAssembly.
 */

/** Columns per block: 2048 f64 accumulators are 16 KiB. */
const blockColumns = 2048;

/**
 * Writes `base[j] * baseWeight + sum_i weights[i] * updates[i][j]` into `out` (base may be
 * null). A NaN or infinity in a block of updates makes the block's accumulator non-finite (the
 * weights are finite, and f64 sums of f32 values times weights <= 1 cannot overflow); that
 * block is then searched and ERR_FL_NON_FINITE names the client before `out` receives it.
 */
export function weightedSumInto(
  rule: string, updates: readonly Float32Array[], weights: Float64Array, out: Float32Array, base: Float32Array | null = null, baseWeight = 0,
): void {
  const d = out.length;
  const accumulator = new Float64Array(blockColumns);
  for (let start = 0; start < d; start += blockColumns) {
    const width = Math.min(blockColumns, d - start);
    accumulator.fill(0, 0, width);
    accumulateBlock(updates, weights, accumulator, start, width);
    let finite = true;
    for (let j = 0; j < width; j++) finite = finite && Number.isFinite(accumulator[j]!);
    if (!finite) requireFinite(rule, updates, start, start + width);
    if (base === null) for (let j = 0; j < width; j++) out[start + j] = accumulator[j]!;
    else for (let j = 0; j < width; j++) out[start + j] = accumulator[j]! + baseWeight * base[start + j]!;
  }
}

/** Adds columns [start, start + width) of every update, times its weight, into `accumulator[0, width)`. */
function accumulateBlock(updates: readonly Float32Array[], weights: Float64Array, accumulator: Float64Array, start: number, width: number): void {
  const n = updates.length;
  let client = 0;
  // Four clients per pass: one load and store of the accumulator serves four inputs.
  for (; client + 4 <= n; client += 4) {
    const a = updates[client]!;
    const b = updates[client + 1]!;
    const c = updates[client + 2]!;
    const e = updates[client + 3]!;
    const wa = weights[client]!;
    const wb = weights[client + 1]!;
    const wc = weights[client + 2]!;
    const we = weights[client + 3]!;
    for (let j = 0; j < width; j++) {
      const k = start + j;
      accumulator[j] = accumulator[j]! + wa * a[k]! + wb * b[k]! + wc * c[k]! + we * e[k]!;
    }
  }
  for (; client < n; client++) {
    const a = updates[client]!;
    const wa = weights[client]!;
    for (let j = 0; j < width; j++) accumulator[j] = accumulator[j]! + wa * a[start + j]!;
  }
}

/** The squared L2 norm of `update`, or of `update - centre` when a centre is given, in f64. */
export function squaredNorm(update: Float32Array, centre: Float32Array | null = null): number {
  let s0 = 0;
  let s1 = 0;
  const even = update.length & ~1;
  if (centre === null) {
    for (let k = 0; k < even; k += 2) {
      s0 += update[k]! * update[k]!;
      s1 += update[k + 1]! * update[k + 1]!;
    }
    if (even < update.length) s0 += update[even]! * update[even]!;
    return s0 + s1;
  }
  for (let k = 0; k < even; k += 2) {
    const x0 = update[k]! - centre[k]!;
    const x1 = update[k + 1]! - centre[k + 1]!;
    s0 += x0 * x0;
    s1 += x1 * x1;
  }
  if (even < update.length) s0 += (update[even]! - centre[even]!) ** 2;
  return s0 + s1;
}

/**
 * The L2 norms of every update (of `update - centre` with a centre). A NaN or infinity makes a
 * norm non-finite (f64 sums of squared f32 cannot overflow), and then ERR_FL_NON_FINITE names
 * the client and coordinate before any norm is used.
 */
export function norms(rule: string, updates: readonly Float32Array[], centre: Float32Array | null = null): Float64Array {
  const result = Float64Array.from(updates, (update) => Math.sqrt(squaredNorm(update, centre)));
  result.forEach((norm, client) => {
    if (!Number.isFinite(norm)) {
      const update = updates[client]!;
      const at = update.findIndex((value) => !Number.isFinite(value));
      throw nonFiniteError(rule, client, at, update[at]!);
    }
  });
  return result;
}
