import { describe, expect, it } from 'vitest';
import { AggregationError, centeredClipping, clipToNorm, normBoundedMean } from '../../../src/fl/aggregation/index.js';
import { expectCodedError } from '../../coded-error.js';
import { f32 } from './helpers.js';

describe('clipToNorm and normBoundedMean', () => {
  it('scales an update down to the bound and leaves a short one alone', () => {
    expect(Array.from(clipToNorm(Float32Array.of(3, 4), 1))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(clipToNorm(Float32Array.of(0.3, 0.4), 1))).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });

  it('clips each update before the weighted mean (hand-checked)', () => {
    // [30, 40] has norm 50, clipped to [0.6, 0.8] with bound 1; weights 1 and 3.
    const result = normBoundedMean(f32([30, 40], [0, 1]), [1, 3], 1);
    expect(result[0]).toBeCloseTo(0.15, 6);
    expect(result[1]).toBeCloseTo((0.8 + 3) / 4, 6);
    expect(Array.from(normBoundedMean(f32([0, 2], [0, 4]), undefined, 10))).toEqual([0, 3]);
  });

  it('checks the bound and the weights', () => {
    expectCodedError(() => normBoundedMean(f32([1]), undefined, -1), AggregationError, 'ERR_FL_ARGUMENT', 'bound');
    expectCodedError(() => clipToNorm(Float32Array.of(1), Number.NaN), AggregationError, 'ERR_FL_ARGUMENT', 'bound');
    expectCodedError(() => normBoundedMean(f32([1], [2]), [1], 1), AggregationError, 'ERR_FL_SHAPE', 'expected 2 weights');
    expectCodedError(() => normBoundedMean(f32([1], [2]), [1, -1], 1), AggregationError, 'ERR_FL_ARGUMENT', 'weight of client 1');
    expectCodedError(() => normBoundedMean(f32([1], [2]), [0, 0], 1), AggregationError, 'ERR_FL_ARGUMENT', 'sum');
    expectCodedError(() => clipToNorm(Float32Array.of(1, Number.NaN), 1), AggregationError, 'ERR_FL_NON_FINITE', 'coordinate 1');
  });
});

describe('centeredClipping', () => {
  it('moves the centre by the mean of the clipped differences (hand-checked, one iteration)', () => {
    // Centre 0, tau 1: [3, 4] (norm 5) clips to [0.6, 0.8]; [0.5, 0] stays. Mean: [0.55, 0.4].
    const result = centeredClipping(f32([3, 4], [0.5, 0]), { tau: 1 });
    expect(result[0]).toBeCloseTo(0.55, 6);
    expect(result[1]).toBeCloseTo(0.4, 6);
  });

  it('starts from the centre given and iterates', () => {
    const centre = Float32Array.of(1, 1);
    const once = centeredClipping(f32([1, 1], [1, 1], [101, 1]), { tau: 10, centre });
    // The far client moves the centre by tau / n = 10 / 3 along x; the others do not move it.
    expect(once[0]).toBeCloseTo(1 + 10 / 3, 5);
    expect(once[1]).toBeCloseTo(1, 6);
    const twice = centeredClipping(f32([1, 1], [1, 1], [101, 1]), { tau: 10, centre, iterations: 2 });
    expect(twice[0]).toBeCloseTo(once[0]! + (10 - 2 * (10 / 3)) / 3, 4);
    expect(Array.from(centre)).toEqual([1, 1]);
  });

  it('bounds a Byzantine client’s pull by tau / n per iteration', () => {
    const result = centeredClipping(f32([0], [0], [0], [1e30]), { tau: 2, iterations: 1 });
    expect(result[0]).toBeCloseTo(0.5, 6);
  });

  it('checks tau, iterations and the centre', () => {
    const updates = f32([1, 2], [3, 4]);
    expectCodedError(() => centeredClipping(updates, { tau: 0 }), AggregationError, 'ERR_FL_ARGUMENT', 'tau');
    expectCodedError(() => centeredClipping(updates, { tau: 1, iterations: 0 }), AggregationError, 'ERR_FL_ARGUMENT', 'iterations');
    expectCodedError(() => centeredClipping(updates, { tau: 1, centre: new Float32Array(3) }), AggregationError, 'ERR_FL_SHAPE', 'centre', '3', '2');
    expectCodedError(() => centeredClipping(updates, { tau: 1, centre: Float32Array.of(0, Number.NaN) }), AggregationError, 'ERR_FL_NON_FINITE', 'centre', 'coordinate 1');
    expectCodedError(() => centeredClipping(updates, { tau: 1, centre: [0, 0] as unknown as Float32Array }), AggregationError, 'ERR_FL_SHAPE', 'centre is not a Float32Array');
  });
});
