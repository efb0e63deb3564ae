import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AggregationError, median, trimmedMean } from '../../../src/fl/aggregation/index.js';
import { expectCodedError } from '../../coded-error.js';
import { f32, perColumn, randomUpdates } from './helpers.js';

describe('median', () => {
  it('takes the middle value per coordinate, ignoring one wild client among three', () => {
    expect(Array.from(median(f32([1, 10, -5], [2, 20, 1e30], [1e9, 30, -4])))).toEqual([2, 20, -4]);
  });

  it('averages the two middle values for an even count, as numpy does', () => {
    expect(Array.from(median(f32([1, 0], [2, 0], [3, 0], [100, 8])))).toEqual([2.5, 0]);
  });

  it('of one update is that update', () => {
    expect(Array.from(median(f32([0.5, -0.25])))).toEqual([0.5, -0.25]);
  });

  it('matches a sort-based reference for many sizes (network path and quickselect path)', () => {
    for (const n of [2, 3, 7, 10, 31, 50, 129]) {
      const updates = randomUpdates(n, 203, n);
      const reference = perColumn(updates, (s) => (s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2));
      expect(median(updates)).toEqual(reference);
    }
  });
});

describe('trimmedMean', () => {
  it('drops floor(beta n) values from each end per coordinate (hand-checked)', () => {
    // n = 5, beta = 0.2: drop 1 smallest and 1 largest.
    const updates = f32([1, 100], [2, -100], [3, 4], [4, 5], [1000, 6]);
    expect(Array.from(trimmedMean(updates, 0.2))).toEqual([3, 5]);
  });

  it('with beta 0 is the plain mean', () => {
    expect(Array.from(trimmedMean(f32([1, 2], [3, 4], [5, 9]), 0))).toEqual([3, 5]);
  });

  it('matches a sort-based reference (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.double({ min: 0, max: 0.49, noNaN: true }), fc.integer({ min: 1, max: 40 }), fc.integer(), (n, beta, d, seed) => {
        const updates = randomUpdates(n, d, seed);
        const k = Math.floor(beta * n);
        const reference = perColumn(updates, (s) => s.slice(k, n - k).reduce((a, b) => a + b, 0) / (n - 2 * k));
        const got = trimmedMean(updates, beta);
        for (let j = 0; j < d; j++) expect(got[j]).toBeCloseTo(reference[j]!, 5);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses beta outside [0, 0.5)', () => {
    for (const beta of [-0.1, 0.5, Number.NaN]) expectCodedError(() => trimmedMean(f32([1], [2], [3]), beta), AggregationError, 'ERR_FL_ARGUMENT', 'trimmedMean', 'beta');
  });
});
