/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private Learning
 * with Adaptive Clipping"). Instead of a fixed C, the server tracks the gamma-quantile of the
 * clients' update norms: each round every client reports b_i = 1 if its norm is at most C, the
 * server releases the noisy fraction
 *
 *   b~ = clamp((sum_i (b_i - 1/2) + N(0, sigma_b^2)) / m + 1/2, 0, 1)
 *
 * and moves C geometrically towards the quantile: C <- C exp(-eta (b~ - gamma)). Centring b_i on
 * 1/2 halves the count's sensitivity to 1/2, so the count is a Gaussian mechanism with noise
 * multiplier 2 sigma_b. Releasing it and the update (noise multiplier z_update) each round costs
 * the same as one Gaussian mechanism with
 *
 *   z = (z_update^-2 + (2 sigma_b)^-2)^(-1/2),
 *
 * so for a budgeted z the update gets z_update = (z^-2 - (2 sigma_b)^-2)^(-1/2) (needs z < 2 sigma_b).
 * The paper suggests sigma_b = m / 20, gamma = 0.5 and eta = 0.2. The accountant is run with z.
 */
import { DpError, DpErrorCode } from './errors.js';
import { dpFedAvg, type DpFedAvgOptions, type DpFedAvgResult } from './dp-fedavg.js';
import type { GaussianSampler } from './noise.js';
import { checkNoiseMultiplier, checkPositive, checkUnitInterval } from './validate.js';

/** The paper's suggestion for the clipped-count noise: sigma_b = m / 20. */
export const countNoiseStdPerExpectedClient = 0.05;

/** The single noise multiplier equivalent to releasing the update (z_update) and the count (sigma_b) together. */
export function combinedNoiseMultiplier(updateNoiseMultiplier: number, countNoiseStd: number): number {
  checkNoiseMultiplier('combinedNoiseMultiplier', updateNoiseMultiplier, 'updateNoiseMultiplier');
  checkPositive('combinedNoiseMultiplier', 'countNoiseStd', countNoiseStd);
  return (updateNoiseMultiplier ** -2 + (2 * countNoiseStd) ** -2) ** -0.5;
}

/** The update's noise multiplier that keeps the combined multiplier at `totalNoiseMultiplier`; requires total < 2 sigma_b. */
export function updateNoiseMultiplier(totalNoiseMultiplier: number, countNoiseStd: number): number {
  const where = 'updateNoiseMultiplier';
  checkNoiseMultiplier(where, totalNoiseMultiplier, 'totalNoiseMultiplier');
  checkPositive(where, 'countNoiseStd', countNoiseStd);
  if (totalNoiseMultiplier >= 2 * countNoiseStd) {
    throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `${where}: expected countNoiseStd > totalNoiseMultiplier / 2 = ${totalNoiseMultiplier / 2}, got ${countNoiseStd}`);
  }
  return (totalNoiseMultiplier ** -2 - (2 * countNoiseStd) ** -2) ** -0.5;
}

/** The state and settings of the quantile tracker. */
export interface AdaptiveClippingOptions {
  /** Target quantile gamma of the update norms, in [0, 1]; the paper uses 0.5. */
  readonly targetQuantile: number;
  /** Learning rate eta of the geometric update, > 0; the paper uses 0.2. */
  readonly learningRate: number;
  /** Std sigma_b of the noise on the clipped count, > 0; the paper suggests m / 20. */
  readonly countNoiseStd: number;
  /** Fixed denominator m: expected clients per round. */
  readonly expectedClients: number;
}

/** The clip norm for the next round and the noisy fraction that moved it. */
export interface ClipNormStep {
  readonly clipNorm: number;
  readonly noisyUnclippedFraction: number;
}

/** One geometric step of the clip norm from the count of updates whose norm was at most C. */
export function nextClipNorm(clipNorm: number, unclippedCount: number, reportedCount: number, options: AdaptiveClippingOptions, sampler: GaussianSampler): ClipNormStep {
  const where = 'nextClipNorm';
  checkPositive(where, 'clipNorm', clipNorm);
  checkUnitInterval(where, 'targetQuantile', options.targetQuantile);
  checkPositive(where, 'learningRate', options.learningRate);
  checkPositive(where, 'countNoiseStd', options.countNoiseStd);
  checkPositive(where, 'expectedClients', options.expectedClients);
  if (!Number.isInteger(unclippedCount) || unclippedCount < 0 || unclippedCount > reportedCount) {
    throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `${where}: expected unclippedCount an integer in 0..${reportedCount}, got ${unclippedCount}`);
  }
  const centredSum = unclippedCount - reportedCount / 2 + options.countNoiseStd * sampler.standardNormal();
  const fraction = Math.min(1, Math.max(0, centredSum / options.expectedClients + 0.5));
  return { clipNorm: clipNorm * Math.exp(-options.learningRate * (fraction - options.targetQuantile)), noisyUnclippedFraction: fraction };
}

/** The result of one adaptive round: the aggregation and the clip norm to use next. */
export interface AdaptiveDpFedAvgResult extends DpFedAvgResult, ClipNormStep {
  /** Noise multiplier applied to the update (z_update); the accountant is charged the total. */
  readonly updateNoiseMultiplier: number;
}

/**
 * One DP-FedAvg round with adaptive clipping: aggregate with the current C and the update's share
 * z_update of the budgeted `totalNoiseMultiplier`, then step C towards the target quantile.
 */
export function adaptiveDpFedAvg(
  updates: readonly Float32Array[],
  round: Omit<DpFedAvgOptions, 'noiseMultiplier' | 'expectedClients'> & { readonly totalNoiseMultiplier: number },
  options: AdaptiveClippingOptions,
  sampler: GaussianSampler,
): AdaptiveDpFedAvgResult {
  const { totalNoiseMultiplier, ...fedAvgOptions } = round;
  const zUpdate = updateNoiseMultiplier(totalNoiseMultiplier, options.countNoiseStd);
  const result = dpFedAvg(updates, { ...fedAvgOptions, noiseMultiplier: zUpdate, expectedClients: options.expectedClients }, sampler);
  const step = nextClipNorm(round.clipNorm, result.unclippedCount, updates.length, options, sampler);
  return { ...result, ...step, updateNoiseMultiplier: zUpdate };
}
