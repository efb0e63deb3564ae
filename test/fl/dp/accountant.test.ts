/**
 * The RDP accountant against published figures (Opacus, Google dp_accounting), against numerical
 * integration of A_alpha, and against the properties any correct accountant has.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { composedEpsilon, composedRdp, epsilonFromRdp, noiseMultiplierFor, rdpEpsilon, sampledGaussianRdp } from '../../../src/fl/dp/accountant.js';
import { DpError, DpErrorCode } from '../../../src/fl/dp/errors.js';
import { defaultOrders, dpAccountingOrders, opacusOrders } from '../../../src/fl/dp/orders.js';
import { bestEpsilon, classicEpsilon, improvedEpsilon } from '../../../src/fl/dp/rdp-conversion.js';
import { expectCodedError } from '../../coded-error.js';

const relativeError = (actual: number, expected: number): number => Math.abs(actual - expected) / Math.abs(expected);

describe('published vectors', () => {
  test('Opacus: q 0.04, z 1.5, 2250 steps, delta 1e-5 -> epsilon 7.32911117143', () => {
    // opacus/tests/accountants_test.py, test_rdp_accountant: 2250 = int(90 / 0.04) steps of RDPAccountant()
    // with its DEFAULT_ALPHAS ([1 + x / 10 for x in 1..99] + [12..63], our opacusOrders), and
    // get_privacy_spent in opacus/accountants/analysis/rdp.py applies the improved conversion
    // (Balle et al. 2020, theorem 21). The classic conversion gives 8.07 on the same curve.
    const improved = rdpEpsilon({ q: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5, orders: opacusOrders });
    expect(relativeError(improved.epsilon, 7.32911117143)).toBeLessThan(1e-9);
    expect(improved.order).toBe(3.9);
    const classic = rdpEpsilon({ q: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5, orders: opacusOrders, conversion: 'classic' });
    expect(classic.epsilon).toBeCloseTo(8.0738, 3);
  });

  test('dp_accounting: q 0.01, z 2.5, 50 steps -> RDP at orders 5, 50, 100', () => {
    // dp_accounting/rdp/rdp_privacy_accountant_test.py, test_compute_rdp_poisson_sampled_gaussian.
    const rdp = composedRdp([{ q: 0.01, noiseMultiplier: 2.5, steps: 50 }], [5, 50, 100]);
    const published = [2.18075656e-3, 2.38460375e-2, 167.416308];
    for (const [index, value] of published.entries()) expect(relativeError(rdp[index]!, value)).toBeLessThan(1e-8);
  });

  test('fractional orders 1.5 and 2.5 match numerical integration of A_alpha', () => {
    // Reference: A_alpha integrated with mpmath.quad at 50 digits, frozen here. dp_accounting's test lists
    // 6.70579741e-4 and 1.08548710e-3 for these orders: its current series adds |C(alpha, k)| for every k,
    // an upper bound; the paper's signed series (which Opacus and we sum) gives the exact value below it.
    const rdp = composedRdp([{ q: 0.01, noiseMultiplier: 2.5, steps: 50 }], [1.5, 2.5]);
    expect(relativeError(rdp[0]!, 6.500708971867387e-4)).toBeLessThan(1e-9);
    expect(relativeError(rdp[1]!, 1.0854180569174015e-3)).toBeLessThan(1e-9);
    expect(rdp[0]!).toBeLessThan(6.70579741e-4);
    expect(rdp[1]!).toBeLessThan(1.0854871e-3);
  });

  // One step's RDP, against mpmath.quad of A_alpha at 50 digits (frozen), over hard corners:
  // tiny q with little noise, q near 1, heavy noise, and q = 0.5 where the series tail is polynomial.
  const integrated: [number, number, number, number][] = [
    [0.04, 1.5, 3.9, 0.001833202199583812],
    [0.99, 0.5, 20.5, 40.98943426230786],
    [1e-5, 0.3, 2.5, 0.00023680681374147494],
    [0.1, 100, 20.5, 1.0252214593910356e-5],
    [1e-4, 1.0, 1.5, 1.2885373940727913e-8],
    [0.5, 0.8, 7.3, 4.900015997636154],
    [0.5, 0.8, 1.1, 0.258259533692453],
    [0.9, 1, 1.2, 0.4965851187747896],
    [0.3, 2, 1.1, 0.013188642593982182],
  ];
  test.each(integrated)('q %f, z %f, order %f against numerical integration', (q, z, order, expected) => {
    const [rdp] = sampledGaussianRdp({ q, noiseMultiplier: z, steps: 1 }, [order]);
    expect(relativeError(rdp!, expected)).toBeLessThan(1e-7);
  });

  test('noise multiplier for a target epsilon agrees with Opacus get_noise_multiplier', () => {
    // opacus/tests/accountants_test.py: epsilon 8, delta 1e-5, q 0.04 -> 1.416 over 90 epochs (2250 steps) and
    // 1.3562 over 2000 steps. Opacus stops its bisection once epsilon is within 0.01 below the target, so its
    // answer is at or slightly above ours; ours is the smallest z (to 1e-9) that meets the target.
    const z2250 = noiseMultiplierFor({ targetEpsilon: 8, delta: 1e-5, q: 0.04, steps: 2250, orders: opacusOrders });
    const z2000 = noiseMultiplierFor({ targetEpsilon: 8, delta: 1e-5, q: 0.04, steps: 2000, orders: opacusOrders });
    expect(z2250).toBeGreaterThan(1.4155);
    expect(z2250).toBeLessThanOrEqual(1.41605);
    expect(z2000).toBeGreaterThan(1.3555);
    expect(z2000).toBeLessThanOrEqual(1.35625);
    const met = rdpEpsilon({ q: 0.04, noiseMultiplier: z2250, steps: 2250, delta: 1e-5, orders: opacusOrders });
    const missed = rdpEpsilon({ q: 0.04, noiseMultiplier: z2250 * (1 - 1e-6), steps: 2250, delta: 1e-5, orders: opacusOrders });
    expect(met.epsilon).toBeLessThanOrEqual(8);
    expect(missed.epsilon).toBeGreaterThan(8);
    // The default grid holds Opacus's best orders here, so it finds the same z.
    expect(noiseMultiplierFor({ targetEpsilon: 8, delta: 1e-5, q: 0.04, steps: 2250 })).toBeCloseTo(z2250, 8);
  });
});

describe('order grids', () => {
  test('the reference grids, verbatim', () => {
    expect(opacusOrders).toHaveLength(99 + 52);
    expect(opacusOrders.slice(0, 3)).toEqual([1.1, 1.2, 1.3]);
    expect(opacusOrders[98]).toBe(10.9);
    expect(opacusOrders[99]).toBe(12);
    expect(opacusOrders.at(-1)).toBe(63);
    expect(dpAccountingOrders).toHaveLength(99 + 53 + 4);
    expect(dpAccountingOrders[99]).toBe(11);
    expect(dpAccountingOrders.slice(-4)).toEqual([128, 256, 512, 1024]);
    expect(defaultOrders).toBe(dpAccountingOrders);
  });

  test('the default grid reproduces the Opacus figure too (its best order, 3.9, is on both grids)', () => {
    expect(rdpEpsilon({ q: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 }).epsilon).toBeCloseTo(7.32911117143, 9);
  });
});

describe('special cases', () => {
  test('q = 1 is the Gaussian mechanism: alpha / (2 z^2) per step', () => {
    const rdp = sampledGaussianRdp({ q: 1, noiseMultiplier: 2, steps: 3 }, [1.5, 8, 32]);
    expect(Array.from(rdp)).toEqual([(3 * 1.5) / 8, (3 * 8) / 8, (3 * 32) / 8]);
  });

  test('zero steps spend nothing', () => {
    expect(Array.from(composedRdp([{ q: 0.3, noiseMultiplier: 1, steps: 0 }], [2, 2.5]))).toEqual([0, 0]);
    expect(composedEpsilon([], 1e-5).epsilon).toBe(0);
  });

  test('epsilon from an infinite curve is infinite', () => {
    expect(epsilonFromRdp([2, 3], [Infinity, Infinity], 1e-5)).toEqual({ epsilon: Infinity, order: 2 });
  });
});

const rate = fc.double({ min: 1e-4, max: 0.9, noNaN: true });
const multiplier = fc.double({ min: 0.4, max: 20, noNaN: true });
const order = fc.oneof(fc.integer({ min: 2, max: 128 }), fc.double({ min: 1.05, max: 40, noNaN: true }));

describe('properties', () => {
  test('RDP grows with q and with the order, and falls as z grows', () => {
    fc.assert(
      fc.property(rate, multiplier, order, (q, z, alpha) => {
        const at = (qq: number, zz: number, aa: number): number => sampledGaussianRdp({ q: qq, noiseMultiplier: zz, steps: 1 }, [aa])[0]!;
        const base = at(q, z, alpha);
        const slack = 1e-12 * Math.max(1, base);
        expect(at(Math.min(1, q * 1.1), z, alpha)).toBeGreaterThanOrEqual(base - slack);
        expect(at(q, z * 1.1, alpha)).toBeLessThanOrEqual(base + slack);
        expect(at(q, z, alpha + 0.5)).toBeGreaterThanOrEqual(base - slack);
      }),
      { numRuns: 60 },
    );
  });

  test('epsilon grows with steps and falls as delta grows', () => {
    const orders = [1.5, 2, 3.5, 8, 16, 32, 64];
    fc.assert(
      fc.property(rate, multiplier, fc.integer({ min: 1, max: 5000 }), (q, z, steps) => {
        const epsilon = (s: number, delta: number): number => rdpEpsilon({ q, noiseMultiplier: z, steps: s, delta, orders }).epsilon;
        expect(epsilon(steps + 1, 1e-5)).toBeGreaterThanOrEqual(epsilon(steps, 1e-5));
        expect(epsilon(steps, 1e-3)).toBeLessThanOrEqual(epsilon(steps, 1e-5));
      }),
      { numRuns: 40 },
    );
  });

  test('the improved conversion is never worse than the classic one, order by order and at the best order', () => {
    fc.assert(
      fc.property(order, fc.double({ min: 0, max: 1000, noNaN: true }), fc.double({ min: 1e-12, max: 0.5, noNaN: true }), (alpha, rdp, delta) => {
        expect(improvedEpsilon(alpha, rdp, delta)).toBeLessThanOrEqual(classicEpsilon(alpha, rdp, delta));
      }),
    );
    const curve = composedRdp([{ q: 0.02, noiseMultiplier: 1.1, steps: 1000 }], defaultOrders);
    expect(bestEpsilon(defaultOrders, curve, 1e-6, 'improved').epsilon).toBeLessThan(bestEpsilon(defaultOrders, curve, 1e-6, 'classic').epsilon);
  });

  test('the improved conversion never reports a negative epsilon', () => {
    expect(improvedEpsilon(64, 0, 0.5)).toBe(0);
  });
});

describe('composition', () => {
  const first = { q: 0.04, noiseMultiplier: 1.5, steps: 1000 };
  const second = { q: 0.01, noiseMultiplier: 0.9, steps: 300 };

  test('the curve of a history is the sum of its segments, in any order', () => {
    const both = composedRdp([first, second]);
    const swapped = composedRdp([second, first]);
    const a = sampledGaussianRdp(first);
    const b = sampledGaussianRdp(second);
    for (let index = 0; index < both.length; index++) {
      expect(both[index]).toBeCloseTo(a[index]! + b[index]!, 12);
      expect(swapped[index]).toBeCloseTo(both[index]!, 12);
    }
  });

  test('splitting a segment changes nothing; composing spends more than either part', () => {
    const whole = rdpEpsilon({ q: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 });
    const split = composedEpsilon([{ q: 0.04, noiseMultiplier: 1.5, steps: 1000 }, { q: 0.04, noiseMultiplier: 1.5, steps: 1250 }], 1e-5);
    expect(split.epsilon).toBeCloseTo(whole.epsilon, 10);
    const heterogeneous = composedEpsilon([first, second], 1e-5).epsilon;
    expect(heterogeneous).toBeGreaterThan(composedEpsilon([first], 1e-5).epsilon);
    expect(heterogeneous).toBeGreaterThan(composedEpsilon([second], 1e-5).epsilon);
  });

  test('epsilonFromRdp agrees with composedEpsilon on the same curve, for either conversion', () => {
    const curve = composedRdp([first, second], opacusOrders);
    for (const conversion of ['improved', 'classic'] as const) {
      expect(epsilonFromRdp(opacusOrders, curve, 1e-5, conversion)).toEqual(composedEpsilon([first, second], 1e-5, { orders: opacusOrders, conversion }));
    }
  });
});

describe('refusals', () => {
  const good = { q: 0.04, noiseMultiplier: 1.5, steps: 10, delta: 1e-5 };
  const cases: [string, Record<string, unknown>, string][] = [
    ['q = 0', { q: 0 }, 'expected q in (0, 1], got 0'],
    ['q > 1', { q: 1.5 }, 'expected q in (0, 1], got 1.5'],
    ['q NaN', { q: Number.NaN }, 'got NaN'],
    ['z = 0', { noiseMultiplier: 0 }, 'expected noiseMultiplier a finite number > 0, got 0'],
    ['z < 0', { noiseMultiplier: -1 }, 'got -1'],
    ['z infinite', { noiseMultiplier: Infinity }, 'got Infinity'],
    ['fractional steps', { steps: 2.5 }, 'expected steps an integer >= 0, got 2.5'],
    ['negative steps', { steps: -1 }, 'got -1'],
    ['delta 0', { delta: 0 }, 'expected delta in (0, 1), got 0'],
    ['delta 1', { delta: 1 }, 'got 1'],
    ['order below 1', { orders: [0.5] }, 'expected orders[0] in (1, 10000], got 0.5'],
    ['order 1', { orders: [2, 1] }, 'expected orders[1] in (1, 10000], got 1'],
    ['order too large', { orders: [20_000] }, 'got 20000'],
    ['no orders', { orders: [] }, 'expected orders a non-empty list'],
  ];
  test.each(cases)('rdpEpsilon refuses %s', (_, change, message) => {
    expectCodedError(() => rdpEpsilon({ ...good, ...change } as never), DpError, DpErrorCode.ERR_DP_PARAMETER, 'rdpEpsilon: ', message);
  });

  test('the message names the function', () => {
    expectCodedError(() => composedRdp([{ q: 2, noiseMultiplier: 1, steps: 1 }]), DpError, DpErrorCode.ERR_DP_PARAMETER, 'composedRdp: expected q in (0, 1], got 2');
    expectCodedError(() => composedEpsilon([], 2), DpError, DpErrorCode.ERR_DP_PARAMETER, 'composedEpsilon: expected delta in (0, 1), got 2');
  });

  test('epsilonFromRdp refuses a curve of the wrong length', () => {
    expectCodedError(() => epsilonFromRdp([2, 3], [1], 1e-5), DpError, DpErrorCode.ERR_DP_UPDATE_LENGTH, 'expected rdp of length 2 (one per order), got 1');
  });

  test('noiseMultiplierFor refuses bad targets and zero steps, and says when no z reaches the target', () => {
    const query = { targetEpsilon: 1, delta: 1e-5, q: 0.01, steps: 100 };
    expectCodedError(() => noiseMultiplierFor({ ...query, targetEpsilon: 0 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected targetEpsilon a finite number > 0, got 0');
    expectCodedError(() => noiseMultiplierFor({ ...query, steps: 0 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected steps an integer >= 1, got 0');
    expectCodedError(() => noiseMultiplierFor({ ...query, orders: [1] }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'orders[0]');
    // At order 2 alone the improved conversion adds log(1/delta) - 2 log 2 = 10.1 to the RDP, and a million
    // unsampled steps keep the RDP above the KL shortcut (delta^2) for every z up to the search limit.
    expectCodedError(() => noiseMultiplierFor({ ...query, q: 1, steps: 1_000_000, targetEpsilon: 5, orders: [2] }), DpError, DpErrorCode.ERR_DP_TARGET_UNREACHABLE, 'no noise multiplier up to 1000000 reaches epsilon 5');
  });
});
