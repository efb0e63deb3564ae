import type { AggregationKernels } from './kernels.js';
import { activeKernels } from './kernels-wasm.js';
import { clippingIterationsMax } from './limits.js';
import { checkShape, normalisedWeights, requireInteger, requireNumber, requireVector } from './validate.js';
import { norms } from './weighted-sum.js';

/**
 * Rules that bound how far one client can move the aggregate by clipping L2 norms: norm
 * bounding (Sun et al. 2019, "Can you really backdoor federated learning?") clips each update
 * to a fixed norm before the weighted mean; centered clipping (Karimireddy, He and Jaggi 2021,
 * "Learning from history for Byzantine robust optimization") clips each update's distance to
 * a centre, the previous aggregate, and moves the centre by the mean of the clipped differences.
 */

/** The factor that brings a vector of norm `norm` within `bound` (1 when it already is). */
function clipFactor(norm: number, bound: number): number {
  return norm > bound ? bound / norm : 1;
}

/** A copy of `update` scaled down to L2 norm `bound` if its norm is larger (what a client or the server applies before averaging). */
export function clipToNorm(update: Float32Array, bound: number): Float32Array {
  const { d } = checkShape('clipToNorm', [update]);
  requireNumber('clipToNorm', 'bound', bound, 0, Number.POSITIVE_INFINITY);
  const factor = clipFactor(norms('clipToNorm', [update])[0]!, bound);
  const out = new Float32Array(d);
  for (let j = 0; j < d; j++) out[j] = update[j]! * factor;
  return out;
}

/**
 * Norm bounding: the weighted mean of the updates, each first clipped to L2 norm `bound`.
 * A Byzantine client's share of the result is then at most its weight times `bound`.
 */
export function normBoundedMean(updates: readonly Float32Array[], weights: ArrayLike<number> | undefined, bound: number): Float32Array {
  const { n } = checkShape('normBoundedMean', updates);
  requireNumber('normBoundedMean', 'bound', bound, 0, Number.POSITIVE_INFINITY);
  const normalised = normalisedWeights('normBoundedMean', weights ?? new Float64Array(n).fill(1), n);
  const kernels = activeKernels();
  return kernels.reusing(updates, () => {
    const updateNorms = kernels.norms('normBoundedMean', updates, null);
    // Clipping is a per-client scale, so it folds into the weights and the mean stays one pass.
    const scaled = normalised.map((weight, client) => weight * clipFactor(updateNorms[client]!, bound));
    return kernels.weightedSum('normBoundedMean', updates, scaled, { valuesChecked: true }).sum;
  });
}

/** Options of centered clipping. */
export interface CenteredClippingOptions {
  /** The clipping radius around the centre (the paper's tau), > 0. */
  readonly tau: number;
  /** How many times the centre is moved (the paper's l; one suffices when the centre is the previous aggregate). */
  readonly iterations?: number;
  /** Where to start: the previous round's aggregate; zeros when absent. The caller keeps it between rounds. */
  readonly centre?: Float32Array;
}

/**
 * Centered clipping: starting from `centre`, `iterations` times set
 * v <- v + (1/n) sum_i (x_i - v) min(1, tau / ||x_i - v||). A Byzantine client moves v by at
 * most tau / n per iteration whatever it sends. Returns the new centre (a new array).
 */
export function centeredClipping(updates: readonly Float32Array[], options: CenteredClippingOptions): Float32Array {
  const { d } = checkShape('centeredClipping', updates);
  const { tau, iterations = 1 } = options;
  requireNumber('centeredClipping', 'tau', tau, Number.MIN_VALUE, Number.POSITIVE_INFINITY);
  requireInteger('centeredClipping', 'iterations', iterations, 1, clippingIterationsMax);
  if (options.centre !== undefined) requireVector('centeredClipping', 'centre', options.centre, d);
  const kernels = activeKernels();
  return kernels.reusing(updates, () => clippingIterations(kernels, updates, tau, iterations, options.centre ?? new Float32Array(d)));
}

function clippingIterations(kernels: AggregationKernels, updates: readonly Float32Array[], tau: number, iterations: number, start: Float32Array): Float32Array {
  let centre = start;
  let distances = kernels.norms('centeredClipping', updates, centre);
  for (let step = 0; step < iterations; step++) {
    // v + (1/n) sum_i s_i (x_i - v) = (1 - sum_i s_i / n) v + sum_i (s_i / n) x_i: one weighted sum,
    // which also returns the distances to the new centre that the next iteration clips by.
    const weights = distances.map((distance) => clipFactor(distance, tau) / updates.length);
    const kept = weights.reduce((sum, weight) => sum + weight, 0);
    const next = kernels.weightedSum('centeredClipping', updates, weights, { base: centre, baseWeight: 1 - kept, normsAfter: step < iterations - 1, valuesChecked: true });
    centre = next.sum;
    distances = next.norms ?? distances;
  }
  return centre;
}
