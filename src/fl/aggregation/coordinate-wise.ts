import { activeKernels } from './kernels-wasm.js';
import { checkShape, requireNumber } from './validate.js';

/**
 * Coordinate-wise median and trimmed mean (Yin et al. 2018, "Byzantine-robust distributed
 * learning: towards optimal statistical rates"). Both look at each coordinate on its own, so a
 * Byzantine client can only pull a coordinate within the range of the honest values there.
 */

/**
 * The coordinate-wise median; for an even number of updates the mean of the two middle values
 * (numpy's convention). Each coordinate stays within the honest range while fewer than half the
 * clients are Byzantine.
 */
export function median(updates: readonly Float32Array[]): Float32Array {
  const { n } = checkShape('median', updates);
  const first = (n - 1) >> 1;
  return activeKernels().rankMean('median', updates, first, n - 1 - first);
}

/**
 * The coordinate-wise beta-trimmed mean: per coordinate, drop the floor(beta * n) smallest and
 * as many largest values and average the rest. Tolerates f Byzantine clients when
 * floor(beta * n) >= f; beta is the fraction cut from each end, in [0, 0.5).
 */
export function trimmedMean(updates: readonly Float32Array[], beta: number): Float32Array {
  const { n } = checkShape('trimmedMean', updates);
  requireNumber('trimmedMean', 'beta', beta, 0, 0.5, true);
  // beta < 0.5 keeps 2 * floor(beta * n) < n, so at least one value per coordinate remains.
  const trimmed = Math.floor(beta * n);
  return activeKernels().rankMean('trimmedMean', updates, trimmed, n - 1 - trimmed);
}
