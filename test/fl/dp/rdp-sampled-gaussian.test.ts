/** The two expansions of A_alpha: integer orders exactly, fractional orders by the series, its bracket and its fallback. */
import { describe, expect, test } from 'vitest';
import { logAFractional, logAInteger, logAInterpolated, sampledGaussianRdpAtOrder } from '../../../src/fl/dp/rdp-sampled-gaussian.js';

describe('integer orders', () => {
  test('order 2 in closed form: A_2 = 1 + q^2 (e^(1/z^2) - 1)', () => {
    const [q, z] = [0.1, 1.3];
    expect(logAInteger(q, z, 2)).toBeCloseTo(Math.log1p(q * q * Math.expm1(1 / (z * z))), 15);
  });

  test('huge terms stay finite in the log domain (order 1000, little noise)', () => {
    const value = sampledGaussianRdpAtOrder(0.5, 0.3, 1000);
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(1000);
  });
});

describe('fractional orders', () => {
  test('the series agrees with its integer neighbours where they meet (order 3 +- 1e-9)', () => {
    const [q, z] = [0.05, 1.2];
    const atThree = logAInteger(q, z, 3);
    expect(logAFractional(q, z, 3 + 1e-9)).toBeCloseTo(atThree, 7);
    expect(logAFractional(q, z, 3 - 1e-9)).toBeCloseTo(atThree, 7);
  });

  test('a polynomial tail is cut off with the upper partial sum: at or above the exact value', () => {
    // Exact value by numerical integration (mpmath, frozen); see accountant.test.ts.
    const exact = 0.258259533692453;
    const bracketed = sampledGaussianRdpAtOrder(0.5, 0.8, 1.1);
    expect(bracketed).toBeGreaterThanOrEqual(exact);
    expect(bracketed - exact).toBeLessThan(1e-9);
    // A shorter budget brackets more loosely, never below the exact value.
    const short = logAFractional(0.5, 0.8, 1.1, 50) / 0.1;
    expect(short).toBeGreaterThan(bracketed);
  });

  test('a series whose budget ends before its alternating tail is given up, and the convexity bound stands in', () => {
    // With no term past alpha there is no bracket to trust.
    expect(logAFractional(0.01, 0.5, 1.5, 0)).toBe(Number.POSITIVE_INFINITY);
    const exact = sampledGaussianRdpAtOrder(0.01, 0.5, 1.5);
    const fallback = sampledGaussianRdpAtOrder(0.01, 0.5, 1.5, 0);
    expect(fallback).toBeCloseTo(logAInterpolated(0.01, 0.5, 1.5) / 0.5, 15);
    expect(fallback).toBeGreaterThanOrEqual(exact);
  });

  test('the convexity bound between integers 3 and 4 is above the series and below the larger neighbour', () => {
    const [q, z] = [0.2, 1];
    const interpolated = logAInterpolated(q, z, 3.5);
    expect(interpolated).toBeGreaterThanOrEqual(logAFractional(q, z, 3.5));
    expect(interpolated).toBeLessThanOrEqual(logAInteger(q, z, 4));
  });
});
