/**
 * Parameter checks shared by the accountant, the aggregator and the ledger. Each throws a
 * DpError (ERR_DP_PARAMETER) whose message names the calling function, the parameter, what was
 * expected and the value found, e.g. `rdpEpsilon: expected q in (0, 1], got 1.5`.
 */
import { DpError, DpErrorCode } from './errors.js';
import { rdpOrderMax, stepsMax } from './limits.js';

function refuse(where: string, name: string, expected: string, value: unknown): never {
  throw new DpError(DpErrorCode.ERR_DP_PARAMETER, `${where}: expected ${name} ${expected}, got ${String(value)}`);
}

/** Checks a sampling rate: the probability each client (or example) takes part in a step. */
export function checkSamplingRate(where: string, q: number): void {
  if (!(q > 0 && q <= 1)) refuse(where, 'q', 'in (0, 1]', q);
}

/** Checks one segment of sampled-Gaussian steps: q, noise multiplier and steps. */
export function checkSegment(where: string, segment: { readonly q: number; readonly noiseMultiplier: number; readonly steps: number }): void {
  checkSamplingRate(where, segment.q);
  checkNoiseMultiplier(where, segment.noiseMultiplier);
  checkSteps(where, segment.steps);
}

/** Checks a noise multiplier z (noise std divided by the L2 sensitivity). */
export function checkNoiseMultiplier(where: string, z: number, name = 'noiseMultiplier'): void {
  if (!(z > 0 && Number.isFinite(z))) refuse(where, name, 'a finite number > 0', z);
}

/** Checks a number of steps: a non-negative integer. */
export function checkSteps(where: string, steps: number): void {
  if (!Number.isInteger(steps) || steps < 0 || steps > stepsMax) refuse(where, 'steps', 'an integer >= 0', steps);
}

/** Checks delta of an (epsilon, delta) guarantee. */
export function checkDelta(where: string, delta: number): void {
  if (!(delta > 0 && delta < 1)) refuse(where, 'delta', 'in (0, 1)', delta);
}

/** Checks epsilon of an (epsilon, delta) guarantee or budget. */
export function checkEpsilon(where: string, epsilon: number, name = 'epsilon'): void {
  if (!(epsilon > 0 && Number.isFinite(epsilon))) refuse(where, name, 'a finite number > 0', epsilon);
}

/**
 * Checks a list of RDP orders. Orders must exceed 1: every formula here divides by alpha - 1,
 * and order 1 (the KL divergence) has no closed form for the sampled Gaussian.
 */
export function checkOrders(where: string, orders: readonly number[]): void {
  if (orders.length === 0) refuse(where, 'orders', 'a non-empty list', '[]');
  for (const [index, order] of orders.entries()) {
    if (!(order > 1 && order <= rdpOrderMax)) refuse(where, `orders[${index}]`, `in (1, ${rdpOrderMax}]`, order);
  }
}

/** Checks a positive finite real (a clip norm, a denominator, a learning rate). */
export function checkPositive(where: string, name: string, value: number): void {
  if (!(value > 0 && Number.isFinite(value))) refuse(where, name, 'a finite number > 0', value);
}

/** Checks a positive integer (a count of clients). */
export function checkPositiveInteger(where: string, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) refuse(where, name, 'an integer >= 1', value);
}

/** Checks a fraction in the closed interval [0, 1] (a target quantile, a weight). */
export function checkUnitInterval(where: string, name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) refuse(where, name, 'in [0, 1]', value);
}
