import { AggregationError } from './errors.js';
import { clientsMax, parameterCountMax } from './limits.js';

/** The shape of a checked list of updates: n clients of d parameters each. */
export interface UpdateShape {
  readonly n: number;
  readonly d: number;
}

/**
 * Checks that `updates` is a non-empty list of at most clientsMax Float32Arrays of one length
 * in 1..parameterCountMax; does not look at the values (see requireFinite).
 */
export function checkShape(rule: string, updates: readonly Float32Array[]): UpdateShape {
  if (!Array.isArray(updates) || updates.length === 0) throw new AggregationError('ERR_FL_SHAPE', `${rule}: expected at least one update, got none`);
  if (updates.length > clientsMax) throw new AggregationError('ERR_FL_SHAPE', `${rule}: expected at most ${clientsMax} updates, got ${updates.length}`);
  const d = lengthOf(rule, updates[0], 0);
  if (d === 0 || d > parameterCountMax) throw new AggregationError('ERR_FL_SHAPE', `${rule}: expected 1..${parameterCountMax} parameters per update, got ${d}`);
  for (let client = 1; client < updates.length; client++) {
    const length = lengthOf(rule, updates[client], client);
    if (length !== d) throw new AggregationError('ERR_FL_SHAPE', `${rule}: update of client ${client} has ${length} parameters, expected ${d} (the length of client 0's)`);
  }
  return { n: updates.length, d };
}

function lengthOf(rule: string, update: unknown, client: number): number {
  if (!(update instanceof Float32Array)) throw new AggregationError('ERR_FL_SHAPE', `${rule}: update of client ${client} is not a Float32Array`);
  return update.length;
}

/** Index of the first NaN or infinity in `values[from, to)`, or -1. */
export function firstNonFinite(values: Float32Array, from = 0, to = values.length): number {
  // An f32 is NaN or infinite exactly when its exponent bits are all ones; the running maximum
  // of the masked exponents is one branch-free pass, and the slow search runs only on a hit.
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const exponentMask = 0x7f800000;
  let largest = 0;
  for (let i = from; i < to; i++) {
    const exponent = bits[i]! & exponentMask;
    largest = exponent > largest ? exponent : largest;
  }
  if (largest !== exponentMask) return -1;
  let at = from;
  while ((bits[at]! & exponentMask) !== exponentMask) at++;
  return at;
}

/** The error for client `client`'s non-finite value at `coordinate`. */
export function nonFiniteError(rule: string, client: number, coordinate: number, value: number): AggregationError {
  return new AggregationError('ERR_FL_NON_FINITE', `${rule}: update of client ${client} has ${value} at coordinate ${coordinate}; updates must be finite`);
}

/** Throws ERR_FL_NON_FINITE naming the first client with a NaN or infinity in columns [from, to). */
export function requireFinite(rule: string, updates: readonly Float32Array[], from = 0, to = updates[0]?.length ?? 0): void {
  for (let client = 0; client < updates.length; client++) {
    const update = updates[client]!;
    const at = firstNonFinite(update, from, to);
    if (at >= 0) throw nonFiniteError(rule, client, at, update[at]!);
  }
}

/** Checks a single vector (a delta, a model, a centre) against `d` and for finiteness. */
export function requireVector(rule: string, what: string, vector: Float32Array, d: number): void {
  if (!(vector instanceof Float32Array)) throw new AggregationError('ERR_FL_SHAPE', `${rule}: ${what} is not a Float32Array`);
  if (vector.length !== d) throw new AggregationError('ERR_FL_SHAPE', `${rule}: ${what} has ${vector.length} parameters, expected ${d}`);
  const at = firstNonFinite(vector);
  if (at >= 0) throw new AggregationError('ERR_FL_NON_FINITE', `${rule}: ${what} has ${vector[at]} at coordinate ${at}; it must be finite`);
}

/**
 * Example counts (or any non-negative weights) of n clients, normalised to sum 1 in f64;
 * throws unless there are n finite non-negative weights with a positive sum.
 */
export function normalisedWeights(rule: string, weights: ArrayLike<number>, n: number): Float64Array {
  if (weights.length !== n) throw new AggregationError('ERR_FL_SHAPE', `${rule}: expected ${n} weights (one per update), got ${weights.length}`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const weight = weights[i]!;
    if (!Number.isFinite(weight) || weight < 0) throw new AggregationError('ERR_FL_ARGUMENT', `${rule}: weight of client ${i} is ${weight}; expected a finite number >= 0`);
    total += weight;
  }
  if (!(total > 0)) throw new AggregationError('ERR_FL_ARGUMENT', `${rule}: weights sum to ${total}; expected a positive sum`);
  return Float64Array.from({ length: n }, (_, i) => weights[i]! / total);
}

/** Checks that `value` is an integer in [min, max]; `name` and `rule` go in the message. */
export function requireInteger(rule: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new AggregationError('ERR_FL_ARGUMENT', `${rule}: ${name} must be an integer in ${min}..${max}, got ${value}`);
}

/** Checks that `value` is a finite number in [min, max] (or [min, max) with `openAbove`). */
export function requireNumber(rule: string, name: string, value: number, min: number, max: number, openAbove = false): void {
  const aboveOk = openAbove ? value < max : value <= max;
  if (!Number.isFinite(value) || value < min || !aboveOk) {
    throw new AggregationError('ERR_FL_ARGUMENT', `${rule}: ${name} must be a finite number in [${min}, ${max}${openAbove ? ')' : ']'}, got ${value}`);
  }
}
