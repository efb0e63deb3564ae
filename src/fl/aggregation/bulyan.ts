import { AggregationError } from './errors.js';
import { krumScores, orderByScore } from './krum.js';
import { activeKernels } from './kernels-wasm.js';
import { checkShape, requireInteger } from './validate.js';

/**
 * Bulyan (El Mhamdi et al. 2018, "The hidden vulnerability of distributed learning in
 * Byzantium"). Krum alone lets an attacker hide a large change in a few coordinates; Bulyan
 * first picks theta = n - 2f updates by applying Krum again and again to the clients not yet
 * picked, then, per coordinate, averages the beta = theta - 2f picked values closest to their
 * median. Needs n >= 4f + 3; each coordinate then stays within the honest range.
 */

/** Checks Bulyan's precondition n >= 4f + 3. */
function requireBulyanClients(n: number, f: number): void {
  requireInteger('bulyan', 'f', f, 0, Number.MAX_SAFE_INTEGER);
  if (n < 4 * f + 3) throw new AggregationError('ERR_FL_PRECONDITION', `bulyan: needs n >= 4f + 3 clients, got n = ${n}, f = ${f}`);
}

/**
 * The theta = n - 2f clients Bulyan picks, in the order picked. Each round scores the clients
 * left with Krum over the distances among them; near the end fewer than f + 3 are left, and a
 * client is then scored by its nearest neighbour alone (the paper's n - f - 2 would be zero).
 */
export function bulyanSelection(updates: readonly Float32Array[], f: number): number[] {
  const { n } = checkShape('bulyan', updates);
  requireBulyanClients(n, f);
  const distances = activeKernels().pairwiseSquaredDistances('bulyan', updates);
  return selectByRepeatedKrum(distances, n, f, n - 2 * f);
}

function selectByRepeatedKrum(distances: Float64Array, n: number, f: number, theta: number): number[] {
  const remaining = Array.from({ length: n }, (_, i) => i);
  const selected: number[] = [];
  while (selected.length < theta) {
    const closest = Math.max(1, remaining.length - f - 2);
    const best = orderByScore(krumScores(distances, n, remaining, closest))[0]!;
    selected.push(remaining.splice(best, 1)[0]!);
  }
  return selected;
}

/** Bulyan over Krum, tolerating f Byzantine clients (needs n >= 4f + 3). */
export function bulyan(updates: readonly Float32Array[], f: number): Float32Array {
  const selected = bulyanSelection(updates, f);
  const picked = selected.map((i) => updates[i]!);
  return activeKernels().closestToMedianMean('bulyan', picked, picked.length - 2 * f);
}
