/** The checks every update passes before it can touch an aggregate, shared by coordinator and participant. */
import { RoundError, RoundErrorCode } from './errors.js';
import { examplesMax } from './limits.js';

/** Null when `update` (with `examples`) is acceptable for a model of `length` parameters, else the named refusal. */
export function checkUpdate(tag: string, update: Float32Array, examples: number, length: number): RoundError | null {
  if (!(update instanceof Float32Array) || update.length !== length) {
    const got = update instanceof Float32Array ? `${update.length} values` : 'not a Float32Array';
    return new RoundError(RoundErrorCode.ERR_FL_ROUND_LENGTH, `${tag}: expected ${length} float32 values (the model's parameter count), got ${got}`);
  }
  for (let index = 0; index < update.length; index++) {
    if (!Number.isFinite(update[index]!)) return new RoundError(RoundErrorCode.ERR_FL_ROUND_NON_FINITE, `${tag}: value ${index} is ${update[index]}`);
  }
  if (!Number.isInteger(examples) || examples < 1 || examples > examplesMax) {
    return new RoundError(RoundErrorCode.ERR_FL_ROUND_EXAMPLES, `${tag}: expected an example count in 1..${examplesMax}, got ${examples}`);
  }
  return null;
}
