/**
 * Float64 arithmetic in the log domain for the RDP accountant. The terms of the sampled
 * Gaussian expansions range over hundreds of orders of magnitude (e^800 at high orders and
 * small noise, e^-700 in the tails), so they are summed as logarithms and only the final
 * logarithm is ever used. Nothing here allocates.
 */

const logSqrtPi = 0.5 * Math.log(Math.PI);
const twoOverSqrtPi = 2 / Math.sqrt(Math.PI);

/** Below this argument erfc is computed as 1 - erf from the series; above it from the continued fraction. */
const erfcContinuedFractionFrom = 2;
/** Enough iterations for either expansion to reach float64 precision on its own range. */
const erfcIterationsMax = 500;

/** log(e^a + e^b) without overflow; -Infinity stands for log 0. */
export function logAdd(a: number, b: number): number {
  const high = Math.max(a, b);
  const low = Math.min(a, b);
  if (low === Number.NEGATIVE_INFINITY) return high;
  return high + Math.log1p(Math.exp(low - high));
}

/**
 * log(e^a - e^b) for a >= b; -Infinity when they are equal. The caller guarantees a >= b
 * (a larger positive sum minus a smaller negative one), which the assertion keeps honest.
 */
export function logSub(a: number, b: number): number {
  if (b > a) throw new Error(`logSub: assertion failed, ${b} > ${a} (the series summed to a negative value)`);
  if (b === Number.NEGATIVE_INFINITY) return a;
  if (a === b) return Number.NEGATIVE_INFINITY;
  return a + Math.log(-Math.expm1(b - a));
}

/**
 * erf(x) for 0 <= x <= 2 from the everywhere-positive series
 * erf(x) = 2/sqrt(pi) e^(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)), which has no cancellation.
 */
function erfSeries(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < erfcIterationsMax; n++) {
    term *= twoXSquared / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return twoOverSqrtPi * Math.exp(-x * x) * sum;
}

/**
 * log of the continued fraction K(x) = x + (1/2)/(x + 1/(x + (3/2)/(x + ...))) for x >= 2, where
 * erfc(x) = e^(-x^2) / (sqrt(pi) K(x)); evaluated with the modified Lentz method.
 */
function logErfcContinuedFraction(x: number): number {
  // Every partial numerator n/2 and denominator x is positive, so Lentz's running ratios stay
  // positive and need none of the usual guards against division by zero.
  let value = x;
  let numerator = value;
  let denominator = 0;
  for (let n = 1; n < erfcIterationsMax; n++) {
    const a = n / 2;
    denominator = 1 / (x + a * denominator);
    numerator = x + a / numerator;
    const step = numerator * denominator;
    value *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return -x * x - logSqrtPi - Math.log(value);
}

/**
 * log(erfc(x)) with full relative precision for every real x, including x in the thousands
 * where erfc(x) itself underflows to 0 (the tail terms of the fractional-order series need it).
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  if (x < 0) {
    // erfc(x) = 2 - erfc(-x) lies in (1, 2]: no precision is lost.
    return Math.log(2 - Math.exp(logErfc(-x)));
  }
  if (x < erfcContinuedFractionFrom) return Math.log1p(-erfSeries(x));
  return logErfcContinuedFraction(x);
}
