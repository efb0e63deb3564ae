/**
 * Client-level DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning Differentially Private
 * Recurrent Language Models"): clip each client's update to L2 norm C, sum, add Gaussian noise
 * of std z C to the sum, divide by a fixed denominator m. Adding or removing one client moves
 * the clipped sum by at most C, so the output is the Gaussian mechanism with noise multiplier z
 * on a sensitivity-C query; with clients sampled at rate q the accountant's SGM bound applies.
 *
 * The denominator is the fixed m (the expected number of clients per round, q N), never the
 * number that actually reported: dividing by the actual count would make the sensitivity depend
 * on the data. Clients count equally by default; optional weights in [0, 1] (McMahan et al.'s
 * capped weights w_k = min(n_k / n_cap, 1)) let larger clients count more without raising the
 * sensitivity above C, and then m is the expected total weight per round.
 *
 * The sum, the noise and the division run in float64; the result is rounded once to float32.
 */
import { DpError, DpErrorCode } from './errors.js';
import { GaussianSampler } from './noise.js';
import { checkUpdates, l2Norm } from './updates.js';
import { checkNoiseMultiplier, checkPositive, checkUnitInterval } from './validate.js';

/** The parameters of one DP-FedAvg aggregation. */
export interface DpFedAvgOptions {
  /** L2 clip norm C (the per-client sensitivity), > 0. */
  readonly clipNorm: number;
  /** Noise multiplier z: the noise std on the sum is z C, > 0. */
  readonly noiseMultiplier: number;
  /** Fixed denominator m: expected clients (or expected total weight) per round, > 0. */
  readonly expectedClients: number;
  /** Per-client weights in [0, 1], one per update; all 1 when absent. */
  readonly weights?: readonly number[];
  /** Length of every update; needed when no update arrived (the round still releases noise). */
  readonly updateLength?: number;
}

/** What one aggregation released and what it observed. */
export interface DpFedAvgResult {
  /** (sum of weighted clipped updates + N(0, (z C)^2)) / m, as float32. */
  readonly aggregate: Float32Array;
  /** How many updates had a norm above C and were scaled down. */
  readonly clippedCount: number;
  /** How many updates had a norm at most C (Andrew et al.'s b_i = 1); clippedCount + unclippedCount = updates. */
  readonly unclippedCount: number;
  /** Std of the noise in each coordinate of the aggregate: z C / m. */
  readonly noiseStd: number;
}

/** The factor that brings an update of L2 norm `norm` to at most `clipNorm`: min(1, C / norm). */
export function clipFactor(norm: number, clipNorm: number): number {
  return norm > clipNorm ? clipNorm / norm : 1;
}

/** A copy of `update` scaled to L2 norm at most `clipNorm`, in float64 (no float32 rounding can push it past C). */
export function clipUpdate(update: Float32Array, clipNorm: number): Float64Array {
  checkPositive('clipUpdate', 'clipNorm', clipNorm);
  checkUpdates('clipUpdate', [update], update.length);
  const factor = clipFactor(l2Norm(update), clipNorm);
  return Float64Array.from(update, (value) => value * factor);
}

function checkOptions(options: DpFedAvgOptions, updates: readonly Float32Array[]): number {
  const where = 'dpFedAvg';
  checkPositive(where, 'clipNorm', options.clipNorm);
  checkNoiseMultiplier(where, options.noiseMultiplier);
  checkPositive(where, 'expectedClients', options.expectedClients);
  const length = options.updateLength ?? updates[0]?.length;
  if (length === undefined) throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `${where}: expected updateLength when no update is given, got undefined`);
  checkUpdates(where, updates, length);
  if (options.weights !== undefined) {
    if (options.weights.length !== updates.length) {
      throw new DpError(DpErrorCode.ERR_DP_UPDATE_LENGTH, `${where}: expected weights of length ${updates.length} (one per update), got ${options.weights.length}`);
    }
    for (const [index, weight] of options.weights.entries()) checkUnitInterval(where, `weights[${index}]`, weight);
  }
  return length;
}

/** Sum of the weighted, clipped updates in float64, with the count of updates that were clipped. */
function clippedSum(updates: readonly Float32Array[], length: number, clipNorm: number, weights: readonly number[] | undefined): { sum: Float64Array; clippedCount: number } {
  const sum = new Float64Array(length);
  let clippedCount = 0;
  for (const [client, update] of updates.entries()) {
    const norm = l2Norm(update);
    if (norm > clipNorm) clippedCount++;
    const scale = clipFactor(norm, clipNorm) * (weights?.[client] ?? 1);
    for (let index = 0; index < length; index++) sum[index]! += scale * update[index]!;
  }
  return { sum, clippedCount };
}

/**
 * One round of DP-FedAvg over `updates` (flat Float32Array deltas, one per client that reported).
 * Every update is checked (length, finiteness) before any is added. Noise comes from `sampler`,
 * which the caller builds over a CSPRNG NoiseSource.
 */
export function dpFedAvg(updates: readonly Float32Array[], options: DpFedAvgOptions, sampler: GaussianSampler): DpFedAvgResult {
  const length = checkOptions(options, updates);
  const { sum, clippedCount } = clippedSum(updates, length, options.clipNorm, options.weights);
  const sumNoiseStd = options.noiseMultiplier * options.clipNorm;
  sampler.addNoise(sum, sumNoiseStd);
  const aggregate = new Float32Array(length);
  for (let index = 0; index < length; index++) aggregate[index] = sum[index]! / options.expectedClients;
  return { aggregate, clippedCount, unclippedCount: updates.length - clippedCount, noiseStd: sumNoiseStd / options.expectedClients };
}

/** McMahan et al.'s capped weights: min(examples_k / examplesCap, 1) for each client. */
export function cappedWeights(exampleCounts: readonly number[], examplesCap: number): number[] {
  checkPositive('cappedWeights', 'examplesCap', examplesCap);
  return exampleCounts.map((count, index) => {
    if (!(count >= 0 && Number.isFinite(count))) {
      throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `cappedWeights: expected exampleCounts[${index}] a finite number >= 0, got ${count}`);
    }
    return Math.min(count / examplesCap, 1);
  });
}
