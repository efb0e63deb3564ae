/**
 * From an RDP curve (epsilon_RDP at several orders alpha) to an (epsilon, delta) guarantee.
 * Every order gives a valid bound; the best one over the orders is reported with its order.
 *
 * - classic (Mironov 2017, "Renyi Differential Privacy", proposition 3):
 *     epsilon = rdp + log(1/delta) / (alpha - 1)
 * - improved (Balle, Barthe, Gaboardi, Hsu, Sato 2020, "Hypothesis Testing Interpretations and
 *   Renyi Differential Privacy", theorem 21; Canonne, Kamath, Steinke 2020, proposition 12):
 *     epsilon = rdp + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1)
 *   which Opacus and Google's dp_accounting use. It is below the classic bound at every order,
 *   since log((alpha-1)/alpha) < 0 and log(alpha)/(alpha-1) > 0 for alpha > 1.
 */

/** Which RDP to (epsilon, delta) conversion to apply. */
export type RdpConversion = 'improved' | 'classic';

/** An (epsilon, delta) guarantee and the RDP order that gave it. */
export interface EpsilonAtOrder {
  readonly epsilon: number;
  readonly order: number;
}

/** Epsilon at one order by the classic conversion. */
export function classicEpsilon(order: number, rdp: number, delta: number): number {
  return rdp + Math.log(1 / delta) / (order - 1);
}

/**
 * Epsilon at one order by the improved conversion; never negative (a negative value would mean
 * (0, delta)-DP). An RDP this small also bounds the KL divergence (Renyi divergences grow with the
 * order), and delta >= sqrt(1 - e^-KL) already gives (0, delta)-DP, as dp_accounting also checks.
 */
export function improvedEpsilon(order: number, rdp: number, delta: number): number {
  if (delta * delta + Math.expm1(-rdp) > 0) return 0;
  const epsilon = rdp + Math.log1p(-1 / order) - (Math.log(delta) + Math.log(order)) / (order - 1);
  return Math.max(0, epsilon);
}

/**
 * The smallest epsilon over all orders for `delta` and the order that achieves it; the first such
 * order on ties. When every order's RDP is infinite, epsilon is Infinity and the order is the first one.
 * The caller has checked that orders and rdp have the same length and that delta is in (0, 1).
 */
export function bestEpsilon(orders: readonly number[], rdp: ArrayLike<number>, delta: number, conversion: RdpConversion = 'improved'): EpsilonAtOrder {
  const convert = conversion === 'improved' ? improvedEpsilon : classicEpsilon;
  let best: EpsilonAtOrder = { epsilon: Number.POSITIVE_INFINITY, order: orders[0]! };
  for (const [index, order] of orders.entries()) {
    const epsilon = convert(order, rdp[index]!, delta);
    if (epsilon < best.epsilon) best = { epsilon, order };
  }
  return best;
}
