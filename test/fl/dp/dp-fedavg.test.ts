/** DP-FedAvg: exact clipping, the fixed denominator, the noise std, weights, and refusal of bad updates. */
import { describe, expect, test } from 'vitest';
import { cappedWeights, clipFactor, clipUpdate, dpFedAvg } from '../../../src/fl/dp/dp-fedavg.js';
import { DpError, DpErrorCode } from '../../../src/fl/dp/errors.js';
import { GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { l2Norm } from '../../../src/fl/dp/updates.js';
import { expectCodedError } from '../../coded-error.js';

/** A sampler whose noise is exactly 0 (z so small the noise vanishes is not allowed, so tests that need exact sums subtract). */
const sampler = (seed: string): GaussianSampler => new GaussianSampler(seededNoiseSource(seed));

describe('clipping', () => {
  test('an update above C is scaled to norm C exactly; one at or below C is untouched', () => {
    const long = Float32Array.from([3, 4]); // norm 5
    const clipped = clipUpdate(long, 1);
    expect(Math.hypot(clipped[0]!, clipped[1]!)).toBeCloseTo(1, 15);
    expect(Array.from(clipped)).toEqual([0.6000000000000001, 0.8]);
    expect(Array.from(clipUpdate(Float32Array.from([0.3, 0.4]), 1))).toEqual([Math.fround(0.3), Math.fround(0.4)]);
    expect(clipFactor(5, 5)).toBe(1);
    expect(clipFactor(10, 5)).toBe(0.5);
  });

  test('clipping keeps the direction and the norm of many random updates at C within float64 rounding', () => {
    const random = new GaussianSampler(seededNoiseSource('clip-many'));
    for (let trial = 0; trial < 50; trial++) {
      const update = Float32Array.from({ length: 1000 }, () => random.standardNormal() * 10);
      const clipped = clipUpdate(update, 2.5);
      let norm = 0;
      for (const value of clipped) norm += value * value;
      expect(Math.abs(Math.sqrt(norm) - 2.5)).toBeLessThan(1e-12);
      expect(clipped[7]! / update[7]!).toBeCloseTo(clipped[0]! / update[0]!, 12);
    }
  });
});

describe('dpFedAvg', () => {
  const updates = [Float32Array.from([3, 4, 0]), Float32Array.from([0.1, 0.2, 0.2]), Float32Array.from([0, 0, 10])];

  test('the noised mean: sum of clipped updates / m plus noise; counts clipped updates', () => {
    const options = { clipNorm: 1, noiseMultiplier: 1e-3, expectedClients: 4 };
    const result = dpFedAvg(updates, options, sampler('mean'));
    expect(result.clippedCount).toBe(2);
    expect(result.unclippedCount).toBe(1);
    expect(result.noiseStd).toBeCloseTo(1e-3 / 4, 18);
    // The same noise on a zero input: subtracting it leaves the exact clipped mean.
    const noiseOnly = dpFedAvg([new Float32Array(3)], options, sampler('mean')).aggregate;
    const expected = [(0.6 + 0.1) / 4, (0.8 + 0.2) / 4, (0.2 + 1) / 4];
    for (const [index, value] of expected.entries()) expect(result.aggregate[index]! - noiseOnly[index]!).toBeCloseTo(value, 6);
  });

  test('the denominator is the fixed m, not the number that reported', () => {
    const options = { clipNorm: 1, noiseMultiplier: 1e-6, expectedClients: 10 };
    const single = dpFedAvg([Float32Array.from([0.5])], options, sampler('fixed')).aggregate[0]!;
    expect(single).toBeCloseTo(0.05, 5);
  });

  test('a round with no updates releases noise alone (updateLength given)', () => {
    const result = dpFedAvg([], { clipNorm: 1, noiseMultiplier: 1, expectedClients: 5, updateLength: 4 }, sampler('empty'));
    expect(result.aggregate).toHaveLength(4);
    expect(result.clippedCount).toBe(0);
    expect(result.aggregate.some((value) => value !== 0)).toBe(true);
  });

  test('weights in [0, 1] scale each clipped update', () => {
    const options = { clipNorm: 10, noiseMultiplier: 1e-6, expectedClients: 1, weights: [0.5, 0] };
    const result = dpFedAvg([Float32Array.from([2, 2]), Float32Array.from([100, 100])], options, sampler('weights'));
    expect(result.aggregate[0]).toBeCloseTo(1, 4);
    expect(result.clippedCount).toBe(1);
  });

  test('the noise std per coordinate is z C / m (seeded, generous bounds)', () => {
    const length = 50_000;
    const result = dpFedAvg([new Float32Array(length)], { clipNorm: 2, noiseMultiplier: 1.5, expectedClients: 6 }, sampler('std'));
    let sumOfSquares = 0;
    for (const value of result.aggregate) sumOfSquares += value * value;
    const measured = Math.sqrt(sumOfSquares / length);
    expect(result.noiseStd).toBe(0.5);
    // Relative standard error of the std at n = 50k is 0.3 %; the bound is 2 %.
    expect(Math.abs(measured / 0.5 - 1)).toBeLessThan(0.02);
  });

  test('same seed, same release; different seeds, different releases', () => {
    const options = { clipNorm: 1, noiseMultiplier: 1, expectedClients: 3 };
    expect(dpFedAvg(updates, options, sampler('a')).aggregate).toEqual(dpFedAvg(updates, options, sampler('a')).aggregate);
    expect(dpFedAvg(updates, options, sampler('a')).aggregate).not.toEqual(dpFedAvg(updates, options, sampler('b')).aggregate);
  });
});

describe('refusals', () => {
  const options = { clipNorm: 1, noiseMultiplier: 1, expectedClients: 2 };
  const good = Float32Array.from([1, 2]);

  test('updates of different lengths', () => {
    expectCodedError(() => dpFedAvg([good, Float32Array.from([1])], options, sampler('x')), DpError, DpErrorCode.ERR_DP_UPDATE_LENGTH, 'dpFedAvg: expected updates[1] of length 2, got 1');
  });

  test('NaN or infinity anywhere in an update, named by client and element', () => {
    expectCodedError(() => dpFedAvg([good, Float32Array.from([1, Number.NaN])], options, sampler('x')), DpError, DpErrorCode.ERR_DP_UPDATE_NOT_FINITE, 'updates[1][1] is NaN');
    expectCodedError(() => dpFedAvg([Float32Array.from([Infinity, 0])], options, sampler('x')), DpError, DpErrorCode.ERR_DP_UPDATE_NOT_FINITE, 'updates[0][0] is Infinity');
    expectCodedError(() => clipUpdate(Float32Array.from([-Infinity]), 1), DpError, DpErrorCode.ERR_DP_UPDATE_NOT_FINITE, 'clipUpdate: updates[0][0] is -Infinity');
  });

  test('bad parameters name themselves', () => {
    expectCodedError(() => dpFedAvg([good], { ...options, clipNorm: 0 }, sampler('x')), DpError, DpErrorCode.ERR_DP_PARAMETER, 'dpFedAvg: expected clipNorm a finite number > 0, got 0');
    expectCodedError(() => dpFedAvg([good], { ...options, noiseMultiplier: -2 }, sampler('x')), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected noiseMultiplier a finite number > 0, got -2');
    expectCodedError(() => dpFedAvg([good], { ...options, expectedClients: Number.NaN }, sampler('x')), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expectedClients');
    expectCodedError(() => dpFedAvg([], options, sampler('x')), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected updateLength when no update is given, got undefined');
    expectCodedError(() => dpFedAvg([new Float32Array(0)], options, sampler('x')), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected updateLength an integer in 1..');
    expectCodedError(() => dpFedAvg([good], { ...options, weights: [1, 1] }, sampler('x')), DpError, DpErrorCode.ERR_DP_UPDATE_LENGTH, 'expected weights of length 1 (one per update), got 2');
    expectCodedError(() => dpFedAvg([good], { ...options, weights: [1.5] }, sampler('x')), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected weights[0] in [0, 1], got 1.5');
  });

  test('nothing is released when a later update is bad (checked before any sum)', () => {
    const spy = { calls: 0, fill: (bytes: Uint8Array): void => void bytes.fill(1) };
    const counting = { fill: (bytes: Uint8Array): void => { spy.calls++; spy.fill(bytes); } };
    expect(() => dpFedAvg([good, Float32Array.from([Number.NaN, 0])], options, new GaussianSampler(counting))).toThrow(DpError);
    expect(spy.calls).toBe(0);
  });
});

describe('helpers', () => {
  test('l2Norm in float64', () => {
    expect(l2Norm(Float32Array.from([3, 4]))).toBe(5);
    expect(l2Norm(new Float32Array(0))).toBe(0);
  });

  test('cappedWeights: min(n / cap, 1)', () => {
    expect(cappedWeights([0, 50, 100, 1000], 100)).toEqual([0, 0.5, 1, 1]);
    expectCodedError(() => cappedWeights([-1], 100), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected exampleCounts[0] a finite number >= 0, got -1');
    expectCodedError(() => cappedWeights([1], 0), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected examplesCap a finite number > 0, got 0');
  });
});
