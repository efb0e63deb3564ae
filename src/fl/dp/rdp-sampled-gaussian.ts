/**
 * Renyi differential privacy of one step of the sampled Gaussian mechanism (SGM): each record
 * (here: each client) takes part with probability q, and Gaussian noise of std z times the L2
 * sensitivity is added to the sum. Mironov, Talwar and Zhang, "Renyi Differential Privacy of
 * the Sampled Gaussian Mechanism" (2019), section 3: for order alpha the RDP is
 * log(A_alpha) / (alpha - 1), with
 *
 *   A_alpha = E_{x ~ N(0, z^2)} [ ((1 - q) + q e^{(2x - 1) / (2 z^2)})^alpha ].
 *
 * Integer orders use the finite binomial expansion (section 3.2); fractional orders the
 * convergent two-sided series (section 3.3). All sums run in the log domain in float64.
 */
import { fractionalSeriesTermsMax, seriesStopLogMargin } from './limits.js';
import { logAdd, logErfc, logSub } from './log-math.js';

const logHalf = Math.log(0.5);

/**
 * log A_alpha for an integer order by the exact expansion
 * A_alpha = sum_{k=0..alpha} C(alpha, k) (1 - q)^(alpha - k) q^k e^{(k^2 - k) / (2 z^2)}.
 * Every term is positive, so the log-domain sum loses nothing to cancellation.
 */
export function logAInteger(q: number, z: number, order: number): number {
  const logQ = Math.log(q);
  const logOneMinusQ = Math.log1p(-q);
  const twoVariance = 2 * z * z;
  let logBinomial = 0;
  let logA = Number.NEGATIVE_INFINITY;
  for (let k = 0; k <= order; k++) {
    const logTerm = logBinomial + k * logQ + (order - k) * logOneMinusQ + (k * k - k) / twoVariance;
    logA = logAdd(logA, logTerm);
    // C(alpha, k + 1) = C(alpha, k) (alpha - k) / (k + 1): no factorials, no overflow.
    logBinomial += Math.log((order - k) / (k + 1));
  }
  return logA;
}

/** Running signed sum of log-domain terms: positive and negative parts kept apart until the end. */
interface SignedLogSum {
  positive: number;
  negative: number;
}

function addSigned(sum: SignedLogSum, logTerm: number, isNegative: boolean): void {
  if (isNegative) sum.negative = logAdd(sum.negative, logTerm);
  else sum.positive = logAdd(sum.positive, logTerm);
}

/**
 * log A_alpha for a fractional order by the series of section 3.3. With z0 = z^2 log(1/q - 1) + 1/2
 * splitting the integral at the point where the two mixture densities cross,
 *
 *   A_alpha = sum_k C(alpha, k) [ (1-q)^(alpha-k) q^k e^{(k^2-k)/(2z^2)} erfc((k - z0)/(sqrt2 z)) / 2
 *                               + (1-q)^k q^(alpha-k) e^{((alpha-k)^2-(alpha-k))/(2z^2)} erfc((z0 - (alpha-k))/(sqrt2 z)) / 2 ],
 *
 * where C(alpha, k) is the generalised binomial coefficient, whose sign alternates once k > alpha.
 * The sum stops when both halves shrink and the term is negligible against the total. When q is
 * large and alpha near 1 the tail decays only polynomially (like k^(-alpha-2)); if the budget of
 * `termsPastOrder` terms past alpha runs out while the alternating terms still shrink, the true
 * sum lies between the last two partial sums, and the larger one (total + |last term|) is
 * returned as an upper bound. Otherwise (no term past alpha yet, or a term that grew) the series
 * is given up: +Infinity.
 */
export function logAFractional(q: number, z: number, order: number, termsPastOrder: number = fractionalSeriesTermsMax): number {
  const logQ = Math.log(q);
  const logOneMinusQ = Math.log1p(-q);
  const twoVariance = 2 * z * z;
  const erfcScale = Math.SQRT2 * z;
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  const sum: SignedLogSum = { positive: Number.NEGATIVE_INFINITY, negative: Number.NEGATIVE_INFINITY };
  let logAbsBinomial = 0;
  let binomialIsNegative = false;
  let previous = { logS0: Number.POSITIVE_INFINITY, logS1: Number.POSITIVE_INFINITY, logTerm: Number.POSITIVE_INFINITY };
  let tailTerms = 0;
  let tailShrinks = true;
  const termsMax = Math.ceil(order) + termsPastOrder;
  for (let k = 0; k < termsMax; k++) {
    const j = order - k;
    const logS0 = logAbsBinomial + k * logQ + j * logOneMinusQ + (k * k - k) / twoVariance + logHalf + logErfc((k - z0) / erfcScale);
    const logS1 = logAbsBinomial + j * logQ + k * logOneMinusQ + (j * j - j) / twoVariance + logHalf + logErfc((z0 - j) / erfcScale);
    const logTerm = logAdd(logS0, logS1);
    addSigned(sum, logTerm, binomialIsNegative);
    const isShrinking = logS0 < previous.logS0 && logS1 < previous.logS1;
    if (k > order) {
      tailTerms++;
      tailShrinks &&= logTerm < previous.logTerm;
      if (isShrinking && Math.max(logS0, logS1) < sum.positive - seriesStopLogMargin) return logSub(sum.positive, sum.negative);
    }
    previous = { logS0, logS1, logTerm };
    const ratio = (order - k) / (k + 1);
    logAbsBinomial += Math.log(Math.abs(ratio));
    if (ratio < 0) binomialIsNegative = !binomialIsNegative;
  }
  return tailTerms > 0 && tailShrinks ? logAdd(logSub(sum.positive, sum.negative), previous.logTerm) : Number.POSITIVE_INFINITY;
}

/**
 * An upper bound on log A_alpha for fractional alpha from its integer neighbours: log A_alpha is
 * a log-moment of a positive variable, hence convex in alpha, and log A_1 = 0. Used only when the
 * series does not converge, so the answer stays a valid (if looser) bound instead of none.
 */
export function logAInterpolated(q: number, z: number, order: number): number {
  const below = Math.floor(order);
  const fraction = order - below;
  const logABelow = below === 1 ? 0 : logAInteger(q, z, below);
  return (1 - fraction) * logABelow + fraction * logAInteger(q, z, below + 1);
}

function logA(q: number, z: number, order: number, termsPastOrder: number): number {
  if (Number.isInteger(order)) return logAInteger(q, z, order);
  const series = logAFractional(q, z, order, termsPastOrder);
  return Number.isFinite(series) ? series : logAInterpolated(q, z, order);
}

/**
 * RDP at `order` of one SGM step with sampling rate q and noise multiplier z. The caller has
 * checked q in (0, 1], z > 0 and order in (1, rdpOrderMax]. Without sampling (q = 1) it is the
 * plain Gaussian mechanism's alpha / (2 z^2). `termsPastOrder` bounds the fractional series (tests lower it).
 */
export function sampledGaussianRdpAtOrder(q: number, z: number, order: number, termsPastOrder: number = fractionalSeriesTermsMax): number {
  if (q === 1) return order / (2 * z * z);
  // A_alpha >= 1 mathematically; a rounding error of a few ulps below must not report negative privacy loss.
  return Math.max(0, logA(q, z, order, termsPastOrder) / (order - 1));
}
