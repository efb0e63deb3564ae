/**
 * Checks on client updates before they touch an aggregate: all the same length, every element
 * finite. A single NaN would poison every coordinate of the sum and an infinity would make the
 * clip factor 0 or NaN, so both are refused with the client index and the element that broke it.
 */
import { DpError, DpErrorCode } from './errors.js';
import { updateLengthMax } from './limits.js';

/** Throws unless every update has `length` elements, all finite. */
export function checkUpdates(where: string, updates: readonly Float32Array[], length: number): void {
  if (!Number.isSafeInteger(length) || length < 1 || length > updateLengthMax) {
    throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `${where}: expected updateLength an integer in 1..${updateLengthMax}, got ${length}`);
  }
  for (const [client, update] of updates.entries()) {
    if (update.length !== length) {
      throw new DpError(DpErrorCode.ERR_DP_UPDATE_LENGTH, `${where}: expected updates[${client}] of length ${length}, got ${update.length}`);
    }
    for (let index = 0; index < update.length; index++) {
      if (!Number.isFinite(update[index]!)) {
        throw new DpError(DpErrorCode.ERR_DP_UPDATE_NOT_FINITE, `${where}: updates[${client}][${index}] is ${update[index]}, expected a finite number`);
      }
    }
  }
}

/** The L2 norm of an update, accumulated in float64. */
export function l2Norm(update: Float32Array): number {
  let sumOfSquares = 0;
  for (let index = 0; index < update.length; index++) sumOfSquares += update[index]! * update[index]!;
  return Math.sqrt(sumOfSquares);
}
