/** Log-domain helpers: logAdd / logSub identities and logErfc against frozen reference values. */
import { describe, expect, test } from 'vitest';
import { logAdd, logErfc, logSub } from '../../../src/fl/dp/log-math.js';

describe('logAdd and logSub', () => {
  test('add and subtract in the log domain', () => {
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 15);
    expect(logAdd(Number.NEGATIVE_INFINITY, 1.5)).toBe(1.5);
    expect(logAdd(1000, 1000)).toBeCloseTo(1000 + Math.log(2), 12);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 15);
    expect(logSub(7, Number.NEGATIVE_INFINITY)).toBe(7);
    expect(logSub(7, 7)).toBe(Number.NEGATIVE_INFINITY);
  });

  test('logSub refuses a negative result (an assertion: our series never produce one)', () => {
    expect(() => logSub(1, 2)).toThrow(/assertion failed/);
  });
});

describe('logErfc', () => {
  // Reference values: log(math.erfc(x)) from CPython for moderate x, and log(2) + scipy.special.log_ndtr(-x sqrt 2)
  // where erfc underflows; frozen here.
  const reference: [number, number][] = [
    [-30, 0.6931471805599453],
    [-3, 0.6931361352504468],
    [-1.5, 0.6760545027339605],
    [0.3, -0.39843005144008525],
    [1, -1.849605509933249],
    [2, -5.36494126461664],
    [3, -10.720363041981116],
    [5, -27.200889545537446],
    [10, -102.87988902484493],
    [30, -903.9741171106442],
    [100, -10005.177585122668],
    [1e4, -100000009.78270535],
  ];
  test.each(reference)('logErfc(%f)', (x, expected) => {
    expect(Math.abs(logErfc(x) - expected)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(expected)));
  });

  test('edges: 0, tiny x (log1p precision), infinities and NaN', () => {
    expect(logErfc(0)).toBe(-0);
    // erfc(x) ~ 1 - 2x/sqrt(pi) for tiny x: log erfc(x) ~ -2x/sqrt(pi) - (2x/sqrt(pi))^2 / 2.
    const y = (2 * 1e-8) / Math.sqrt(Math.PI);
    expect(logErfc(1e-8)).toBeCloseTo(-y - (y * y) / 2, 22);
    expect(logErfc(Number.POSITIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
    expect(logErfc(Number.NEGATIVE_INFINITY)).toBeCloseTo(Math.log(2), 15);
    expect(logErfc(Number.NaN)).toBeNaN();
  });

  test('continuous where the method switches (x = 2)', () => {
    const below = logErfc(2 - 1e-12);
    const above = logErfc(2);
    expect(Math.abs(below - above)).toBeLessThan(1e-10);
  });
});
