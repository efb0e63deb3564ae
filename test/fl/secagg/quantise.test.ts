/** Fixed-point quantisation into Z / 2^32: the stated error bound, clipping, overflow refusals. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SecAggError, SecAggErrorCode } from '../../../src/fl/secagg/errors.js';
import { checkQuantisation, dequantiseSum, quantisationErrorBound, quantisationFor, quantise, quantisedMax } from '../../../src/fl/secagg/quantise.js';
import { expectCodedError } from '../../coded-error.js';

describe('quantisation', () => {
  test('the chosen scale is the finest whose worst sum fits an int32', () => {
    const format = quantisationFor(1, 100);
    expect(format.scaleLog2).toBe(24);
    expect(100 * quantisedMax(format)).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(100 * quantisedMax({ clipRange: 1, scaleLog2: 25 })).toBeGreaterThan(2 ** 31 - 1);
    expect(quantisationErrorBound(format, 100)).toBe(100 / 2 ** 25);
    // A clip range that is not a power of two: ceil() may push the guess over, and it steps down.
    const odd = quantisationFor(3.3, 7);
    expect(7 * quantisedMax(odd)).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(7 * quantisedMax({ ...odd, scaleLog2: odd.scaleLog2 + 1 })).toBeGreaterThan(2 ** 31 - 1);
    expect(quantisationFor(1e-30, 2).scaleLog2).toBe(52);
  });

  test('the dequantised sum of n clients is within n 2^-(s+1) of the plain sum (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 40 }), (rows) => {
        const format = quantisationFor(2, rows.length);
        const sum = new Uint32Array(5);
        const plain = new Float64Array(5);
        for (const row of rows) {
          const { words } = quantise(Float32Array.from(row), format);
          for (let index = 0; index < 5; index++) {
            sum[index]! += words[index]!;
            plain[index]! += Math.fround(row[index]!);
          }
        }
        const recovered = dequantiseSum(sum, format, rows.length);
        const bound = quantisationErrorBound(format, rows.length);
        for (let index = 0; index < 5; index++) expect(Math.abs(recovered[index]! - plain[index]!)).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 200 },
    );
  });

  test('values outside [-c, c] are clipped and counted; negative values wrap to two\'s complement', () => {
    const format = { clipRange: 1, scaleLog2: 4 };
    const { words, clippedCount } = quantise(Float64Array.from([5, -5, -0.5, 0.25]), format);
    expect(clippedCount).toBe(2);
    expect([...words]).toEqual([16, 2 ** 32 - 16, 2 ** 32 - 8, 4]);
    expect([...dequantiseSum(words, format, 1)]).toEqual([1, -1, -0.5, 0.25]);
  });

  test('overflow and bad formats are refused with the numbers in the message', () => {
    expectCodedError(() => checkQuantisation({ clipRange: 1, scaleLog2: 25 }, 100), SecAggError, SecAggErrorCode.ERR_SECAGG_OVERFLOW, '100 clients x ceil(1 x 2^25) = 3355443200 exceeds 2^31 - 1');
    expectCodedError(() => quantisationFor(1e9, 100), SecAggError, SecAggErrorCode.ERR_SECAGG_OVERFLOW, 'exceeds 2^31 - 1');
    expectCodedError(() => dequantiseSum(new Uint32Array(1), { clipRange: 1, scaleLog2: 30 }, 4), SecAggError, SecAggErrorCode.ERR_SECAGG_OVERFLOW, '4 clients');
    expectCodedError(() => checkQuantisation({ clipRange: 0, scaleLog2: 1 }, 1), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'clipRange a finite number > 0, got 0');
    expectCodedError(() => checkQuantisation({ clipRange: 1, scaleLog2: 1.5 }, 1), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'scaleLog2 an integer in 0..52, got 1.5');
    expectCodedError(() => checkQuantisation({ clipRange: 1, scaleLog2: 1 }, 0), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'clients an integer in 1..10000, got 0');
    expectCodedError(() => quantise([0, Number.NaN], { clipRange: 1, scaleLog2: 1 }), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'coordinate 1 a finite number, got NaN');
  });
});
