/** Distributed DP: n shares of std sigma / sqrt(n) sum to std sigma. */
import { describe, expect, test } from 'vitest';
import { clientNoisedUpdate, noiseShareStd } from '../../../src/fl/dp/distributed-noise.js';
import { DpError, DpErrorCode } from '../../../src/fl/dp/errors.js';
import { GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { expectCodedError } from '../../coded-error.js';

describe('noise shares', () => {
  test('each share is z C / sqrt(n)', () => {
    expect(noiseShareStd({ noiseMultiplier: 1.2, clipNorm: 0.5, minimumClients: 16 })).toBeCloseTo(0.15, 15);
  });

  test('the sum of n clients\' noised zero updates carries std z C (seeded, generous bounds)', () => {
    const options = { noiseMultiplier: 1.5, clipNorm: 2, minimumClients: 25 };
    const length = 20_000;
    const sum = new Float64Array(length);
    for (let client = 0; client < options.minimumClients; client++) {
      const noised = clientNoisedUpdate(new Float32Array(length), options, new GaussianSampler(seededNoiseSource(`client-${client}`)));
      for (let index = 0; index < length; index++) sum[index]! += noised[index]!;
    }
    let sumOfSquares = 0;
    for (const value of sum) sumOfSquares += value * value;
    expect(Math.abs(Math.sqrt(sumOfSquares / length) / 3 - 1)).toBeLessThan(0.03);
  });

  test('a client clips before it adds its share', () => {
    const noised = clientNoisedUpdate(Float32Array.from([300, 400]), { noiseMultiplier: 1e-9, clipNorm: 1, minimumClients: 1 }, new GaussianSampler(seededNoiseSource('clip')));
    expect(noised[0]).toBeCloseTo(0.6, 6);
    expect(noised[1]).toBeCloseTo(0.8, 6);
  });

  test('bad parameters and updates are refused', () => {
    const sampler = new GaussianSampler(seededNoiseSource('bad'));
    expectCodedError(() => noiseShareStd({ noiseMultiplier: 1, clipNorm: 1, minimumClients: 0 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'noiseShareStd: expected minimumClients an integer >= 1, got 0');
    expectCodedError(() => noiseShareStd({ noiseMultiplier: 1, clipNorm: 1, minimumClients: 2.5 }), DpError, DpErrorCode.ERR_DP_PARAMETER, 'got 2.5');
    expectCodedError(() => clientNoisedUpdate(Float32Array.from([Number.NaN]), { noiseMultiplier: 1, clipNorm: 1, minimumClients: 1 }, sampler), DpError, DpErrorCode.ERR_DP_UPDATE_NOT_FINITE, 'is NaN');
  });
});
