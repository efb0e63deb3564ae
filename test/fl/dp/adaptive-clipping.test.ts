/** Adaptive clipping: the noise-multiplier split, the geometric step, and convergence to the target quantile. */
import { describe, expect, test } from 'vitest';
import { adaptiveDpFedAvg, combinedNoiseMultiplier, countNoiseStdPerExpectedClient, nextClipNorm, updateNoiseMultiplier } from '../../../src/fl/dp/adaptive-clipping.js';
import { DpError, DpErrorCode } from '../../../src/fl/dp/errors.js';
import { GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { expectCodedError } from '../../coded-error.js';

const zeroNoise = (): GaussianSampler => {
  // Box-Muller with u1 = 0 gives radius sqrt(-2 log 1) = 0: every variate is exactly 0.
  return new GaussianSampler({ fill: (bytes) => void bytes.fill(0) });
};

describe('noise multipliers', () => {
  test('combined and update multipliers invert each other (Andrew et al. 2021)', () => {
    const countNoiseStd = 100 * countNoiseStdPerExpectedClient; // m = 100 -> sigma_b = 5
    const zUpdate = updateNoiseMultiplier(1, countNoiseStd);
    expect(zUpdate).toBeCloseTo((1 - 1 / 100) ** -0.5, 14);
    expect(combinedNoiseMultiplier(zUpdate, countNoiseStd)).toBeCloseTo(1, 14);
    expect(zUpdate).toBeGreaterThan(1);
  });

  test('a budget the count noise alone would exceed is refused', () => {
    expectCodedError(() => updateNoiseMultiplier(2, 1), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected countNoiseStd > totalNoiseMultiplier / 2 = 1, got 1');
    expectCodedError(() => combinedNoiseMultiplier(0, 1), DpError, DpErrorCode.ERR_DP_PARAMETER, 'updateNoiseMultiplier');
    expectCodedError(() => updateNoiseMultiplier(1, -1), DpError, DpErrorCode.ERR_DP_PARAMETER, 'countNoiseStd');
  });
});

describe('nextClipNorm', () => {
  const options = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStd: 1, expectedClients: 10 };

  test('geometric step: C exp(-eta (b - gamma)) with the noiseless fraction', () => {
    const all = nextClipNorm(2, 10, 10, options, zeroNoise());
    expect(all.noisyUnclippedFraction).toBe(1);
    expect(all.clipNorm).toBeCloseTo(2 * Math.exp(-0.2 * 0.5), 14);
    const none = nextClipNorm(2, 0, 10, options, zeroNoise());
    expect(none.clipNorm).toBeCloseTo(2 * Math.exp(0.2 * 0.5), 14);
    const half = nextClipNorm(2, 5, 10, options, zeroNoise());
    expect(half.clipNorm).toBeCloseTo(2, 14);
  });

  test('the noisy fraction is clamped to [0, 1]', () => {
    const loud = new GaussianSampler(seededNoiseSource('loud'));
    for (let round = 0; round < 20; round++) {
      const step = nextClipNorm(1, 3, 6, { ...options, countNoiseStd: 1000 }, loud);
      expect(step.noisyUnclippedFraction).toBeGreaterThanOrEqual(0);
      expect(step.noisyUnclippedFraction).toBeLessThanOrEqual(1);
    }
  });

  test('bad counts and options are refused', () => {
    expectCodedError(() => nextClipNorm(1, 11, 10, options, zeroNoise()), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected unclippedCount an integer in 0..10, got 11');
    expectCodedError(() => nextClipNorm(1, 1, 10, { ...options, targetQuantile: 2 }, zeroNoise()), DpError, DpErrorCode.ERR_DP_PARAMETER, 'expected targetQuantile in [0, 1], got 2');
    expectCodedError(() => nextClipNorm(0, 1, 10, options, zeroNoise()), DpError, DpErrorCode.ERR_DP_PARAMETER, 'clipNorm');
  });
});

describe('adaptiveDpFedAvg', () => {
  test('the clip norm converges to the median of the update norms (seeded, noisy count)', () => {
    const sampler = new GaussianSampler(seededNoiseSource('adaptive'));
    const clients = 100;
    // Update norms spread evenly over 1..10: the median is about 5.5.
    const updates = Array.from({ length: clients }, (_, index) => Float32Array.from([1 + (9 * index) / (clients - 1), 0]));
    const options = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStd: clients * countNoiseStdPerExpectedClient, expectedClients: clients };
    let clipNorm = 0.1;
    for (let round = 0; round < 200; round++) {
      const result = adaptiveDpFedAvg(updates, { clipNorm, totalNoiseMultiplier: 1 }, options, sampler);
      expect(result.clippedCount + result.unclippedCount).toBe(clients);
      expect(result.updateNoiseMultiplier).toBeCloseTo(updateNoiseMultiplier(1, 5), 14);
      clipNorm = result.clipNorm;
    }
    expect(clipNorm).toBeGreaterThan(4.5);
    expect(clipNorm).toBeLessThan(6.5);
  });
});
