/**
 * Fixed-point quantisation of float updates into the ring Z / 2^32 where the masks live.
 *
 * A coordinate x is clipped to [-c, c] and mapped to q = round(x * 2^s), stored as a u32 in
 * two's complement. The scale is a power of two, so x * 2^s and q / 2^s are exact in float64 and
 * the only error is the rounding: |q / 2^s - clip(x)| <= 2^-(s+1) per coordinate, and at most
 * n * 2^-(s+1) on a sum of n clients. The sum of n values with |q| <= qMax = ceil(c 2^s) lies in
 * [-n qMax, n qMax]; while n qMax <= 2^31 - 1 the u32 sum read as an int32 is that sum exactly,
 * with no wrap-around. That condition is checked before any client quantises anything.
 */
import { SecAggError, SecAggErrorCode, parameterError } from './errors.js';
import { clientsMax, scaleLog2Max } from './limits.js';

/** The fixed-point format every client of one aggregation shares. */
export interface Quantisation {
  /** c: coordinates are clipped to [-c, c] before they are scaled. */
  readonly clipRange: number;
  /** s: the scale is 2^s, the step between representable values 2^-s. */
  readonly scaleLog2: number;
}

const int32Max = 0x7fff_ffff;

/** qMax = ceil(c 2^s): the largest |q| one client can contribute. */
export function quantisedMax(quantisation: Quantisation): number {
  return Math.ceil(quantisation.clipRange * 2 ** quantisation.scaleLog2);
}

/** Checks the format and that the sum of `clients` contributions cannot wrap: clients * qMax <= 2^31 - 1. */
export function checkQuantisation(quantisation: Quantisation, clients: number): void {
  const where = 'quantisation';
  const { clipRange, scaleLog2 } = quantisation;
  if (!(Number.isFinite(clipRange) && clipRange > 0)) throw parameterError(where, 'clipRange', 'a finite number > 0', clipRange);
  if (!Number.isInteger(scaleLog2) || scaleLog2 < 0 || scaleLog2 > scaleLog2Max) throw parameterError(where, 'scaleLog2', `an integer in 0..${scaleLog2Max}`, scaleLog2);
  if (!Number.isInteger(clients) || clients < 1 || clients > clientsMax) throw parameterError(where, 'clients', `an integer in 1..${clientsMax}`, clients);
  const worstSum = clients * quantisedMax(quantisation);
  if (worstSum > int32Max) {
    throw new SecAggError(
      SecAggErrorCode.ERR_SECAGG_OVERFLOW,
      `${where}: ${clients} clients x ceil(${clipRange} x 2^${scaleLog2}) = ${worstSum} exceeds 2^31 - 1; lower the scale or the clip range`,
    );
  }
}

/** The finest format (largest s) whose sum of `clients` contributions clipped to [-c, c] cannot wrap. */
export function quantisationFor(clipRange: number, clients: number): Quantisation {
  let scaleLog2 = Math.min(scaleLog2Max, Math.floor(Math.log2(int32Max / (clients * clipRange))));
  // The logarithm is a guess that may be one too high once ceil() is applied; step down to a format that passes.
  while (scaleLog2 > 0 && clients * Math.ceil(clipRange * 2 ** scaleLog2) > int32Max) scaleLog2--;
  const quantisation = { clipRange, scaleLog2: Math.max(scaleLog2, 0) };
  checkQuantisation(quantisation, clients);
  return quantisation;
}

/** The largest error of a dequantised sum of `clients` contributions against the sum of their clipped values. */
export function quantisationErrorBound(quantisation: Quantisation, clients: number): number {
  return clients * 2 ** -(quantisation.scaleLog2 + 1);
}

/** The result of quantising one update: the ring words and how many coordinates were clipped. */
export interface Quantised {
  readonly words: Uint32Array;
  readonly clippedCount: number;
}

/** Clips each value to [-c, c] and rounds it to the ring; a NaN or infinity is refused, naming the coordinate. */
export function quantise(values: ArrayLike<number>, quantisation: Quantisation): Quantised {
  const { clipRange } = quantisation;
  const scale = 2 ** quantisation.scaleLog2;
  const words = new Uint32Array(values.length);
  let clippedCount = 0;
  for (let index = 0; index < values.length; index++) {
    let value = values[index]!;
    if (!Number.isFinite(value)) throw parameterError('quantise', `coordinate ${index}`, 'a finite number', value);
    if (value > clipRange || value < -clipRange) {
      value = value > 0 ? clipRange : -clipRange;
      clippedCount++;
    }
    // A Uint32Array store takes the integer modulo 2^32: negative q become two's complement.
    words[index] = Math.round(value * scale);
  }
  return { words, clippedCount };
}

/** Reads a ring sum of at most `clients` contributions back as floats: each word as an int32, divided by 2^s. */
export function dequantiseSum(sum: Uint32Array, quantisation: Quantisation, clients: number): Float64Array {
  checkQuantisation(quantisation, clients);
  const step = 2 ** -quantisation.scaleLog2;
  const values = new Float64Array(sum.length);
  for (let index = 0; index < sum.length; index++) values[index] = (sum[index]! | 0) * step;
  return values;
}
