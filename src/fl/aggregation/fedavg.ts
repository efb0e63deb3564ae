import { activeKernels } from './kernels-wasm.js';
import { checkShape, normalisedWeights } from './validate.js';

/**
 * FedAvg (McMahan et al. 2017): the mean of the client updates weighted by their example
 * counts. `weights` defaults to equal weights (the plain mean). It has no robustness: one
 * client can move the result anywhere, which is what the robust rules are for.
 */
export function fedAvg(updates: readonly Float32Array[], weights?: ArrayLike<number>): Float32Array {
  const { n } = checkShape('fedAvg', updates);
  const normalised = normalisedWeights('fedAvg', weights ?? new Float64Array(n).fill(1), n);
  return activeKernels().weightedSum('fedAvg', updates, normalised, {}).sum;
}
