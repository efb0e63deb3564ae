/**
 * The RDP accountant for client-level DP-FedAvg (and DP-SGD): the privacy spent by rounds of the
 * sampled Gaussian mechanism, composed over steps and over segments with different sampling
 * rates and noise multipliers, reported as (epsilon, delta). RDP composes by addition at each
 * order (Mironov 2017, proposition 1), so a heterogeneous history is the sum of its segments'
 * curves; the conversion to (epsilon, delta) happens once, at the end, over all orders.
 */
import { DpError, DpErrorCode } from './errors.js';
import { noiseMultiplierSearchMax, noiseMultiplierSearchRelTolerance } from './limits.js';
import { defaultOrders } from './orders.js';
import { bestEpsilon, type EpsilonAtOrder, type RdpConversion } from './rdp-conversion.js';
import { sampledGaussianRdpAtOrder } from './rdp-sampled-gaussian.js';
import { checkDelta, checkEpsilon, checkOrders, checkSamplingRate, checkSegment, checkSteps } from './validate.js';

/** `steps` steps of the sampled Gaussian mechanism with sampling rate q and noise multiplier z. */
export interface SampledGaussianSegment {
  /** Probability that a client (or example) takes part in one step, in (0, 1]. */
  readonly q: number;
  /** Noise std divided by the L2 sensitivity, > 0. */
  readonly noiseMultiplier: number;
  /** Number of steps (rounds) run with these parameters, an integer >= 0. */
  readonly steps: number;
}

/** Options shared by the epsilon queries. */
export interface EpsilonOptions {
  /** RDP orders to evaluate (each in (1, rdpOrderMax]); defaultOrders when absent. */
  readonly orders?: readonly number[];
  /** Conversion to (epsilon, delta); 'improved' when absent. */
  readonly conversion?: RdpConversion;
}

function addSegmentRdp(total: Float64Array, orders: readonly number[], segment: SampledGaussianSegment): void {
  if (segment.steps === 0) return;
  for (const [index, order] of orders.entries()) {
    total[index]! += segment.steps * sampledGaussianRdpAtOrder(segment.q, segment.noiseMultiplier, order);
  }
}

/** The RDP at each of `orders` of one SGM segment: the per-step RDP times its steps. */
export function sampledGaussianRdp(segment: SampledGaussianSegment, orders: readonly number[] = defaultOrders): Float64Array {
  return composedRdp([segment], orders);
}

/** The RDP at each of `orders` after all `segments`, in any order: the sum of their curves. */
export function composedRdp(segments: readonly SampledGaussianSegment[], orders: readonly number[] = defaultOrders): Float64Array {
  checkOrders('composedRdp', orders);
  for (const segment of segments) checkSegment('composedRdp', segment);
  const total = new Float64Array(orders.length);
  for (const segment of segments) addSegmentRdp(total, orders, segment);
  return total;
}

/** The best (epsilon, order) for an RDP curve already computed at `orders`. */
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number, conversion: RdpConversion = 'improved'): EpsilonAtOrder {
  checkOrders('epsilonFromRdp', orders);
  checkDelta('epsilonFromRdp', delta);
  if (rdp.length !== orders.length) {
    throw new DpError(DpErrorCode.ERR_DP_UPDATE_LENGTH, `epsilonFromRdp: expected rdp of length ${orders.length} (one per order), got ${rdp.length}`);
  }
  return bestEpsilon(orders, rdp, delta, conversion);
}

/** (epsilon, order) spent after all `segments`, at `delta`. */
export function composedEpsilon(segments: readonly SampledGaussianSegment[], delta: number, options: EpsilonOptions = {}): EpsilonAtOrder {
  const orders = options.orders ?? defaultOrders;
  checkDelta('composedEpsilon', delta);
  checkOrders('composedEpsilon', orders);
  return bestEpsilon(orders, composedRdp(segments, orders), delta, options.conversion);
}

/** The parameters of rdpEpsilon: one homogeneous segment and the delta to report at. */
export interface RdpEpsilonQuery extends SampledGaussianSegment, EpsilonOptions {
  /** Delta of the (epsilon, delta) guarantee, in (0, 1). */
  readonly delta: number;
}

/** (epsilon, order) of `steps` SGM steps with sampling rate q and noise multiplier z, at `delta`. */
export function rdpEpsilon(query: RdpEpsilonQuery): EpsilonAtOrder {
  const { delta, orders, conversion, ...segment } = query;
  checkDelta('rdpEpsilon', delta);
  checkSegment('rdpEpsilon', segment);
  checkOrders('rdpEpsilon', orders ?? defaultOrders);
  const options: EpsilonOptions = { ...(orders === undefined ? {} : { orders }), ...(conversion === undefined ? {} : { conversion }) };
  return composedEpsilon([segment], delta, options);
}

/** The parameters of noiseMultiplierFor: the target guarantee and the schedule it must hold for. */
export interface NoiseMultiplierQuery extends EpsilonOptions {
  readonly targetEpsilon: number;
  readonly delta: number;
  readonly q: number;
  /** Number of steps, an integer >= 1. */
  readonly steps: number;
}

/**
 * The smallest noise multiplier (to a relative 1e-9) whose `steps` SGM steps at rate q stay within
 * targetEpsilon at delta. Epsilon falls as z grows at every order, so a doubling search brackets
 * the answer and bisection narrows it; the upper end is returned, so the target always holds.
 */
export function noiseMultiplierFor(query: NoiseMultiplierQuery): number {
  const where = 'noiseMultiplierFor';
  checkEpsilon(where, query.targetEpsilon, 'targetEpsilon');
  checkDelta(where, query.delta);
  checkSamplingRate(where, query.q);
  checkSteps(where, query.steps);
  if (query.steps === 0) throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `${where}: expected steps an integer >= 1, got 0`);
  const orders = query.orders ?? defaultOrders;
  checkOrders(where, orders);
  const epsilonAt = (z: number): number => bestEpsilon(orders, composedRdp([{ q: query.q, noiseMultiplier: z, steps: query.steps }], orders), query.delta, query.conversion).epsilon;
  let low = 0;
  let high = 1;
  while (epsilonAt(high) > query.targetEpsilon) {
    low = high;
    high *= 2;
    if (high > noiseMultiplierSearchMax) {
      throw new DpError(DpErrorCode.ERR_DP_TARGET_UNREACHABLE, `${where}: no noise multiplier up to ${noiseMultiplierSearchMax} reaches epsilon ${query.targetEpsilon} at delta ${query.delta} (q ${query.q}, ${query.steps} steps)`);
    }
  }
  while (high - low > noiseMultiplierSearchRelTolerance * high) {
    const middle = (low + high) / 2;
    if (epsilonAt(middle) > query.targetEpsilon) low = middle;
    else high = middle;
  }
  return high;
}
