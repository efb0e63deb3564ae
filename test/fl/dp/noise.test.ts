/** Randomness: the seeded source is deterministic, the CSPRNG source is random, and the Gaussians have the right law. */
import { describe, expect, test } from 'vitest';
import { cryptoNoiseSource, GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';

function moments(values: Float64Array): { mean: number; variance: number; kurtosis: number } {
  let mean = 0;
  for (const value of values) mean += value;
  mean /= values.length;
  let second = 0;
  let fourth = 0;
  for (const value of values) {
    const centred = (value - mean) ** 2;
    second += centred;
    fourth += centred * centred;
  }
  const variance = second / (values.length - 1);
  return { mean, variance, kurtosis: fourth / values.length / (variance * variance) };
}

describe('noise sources', () => {
  test('a seed fixes the stream; different seeds give different streams', () => {
    const a = new Uint8Array(64);
    const b = new Uint8Array(64);
    const c = new Uint8Array(64);
    seededNoiseSource('round-1').fill(a);
    seededNoiseSource('round-1').fill(b);
    seededNoiseSource(new TextEncoder().encode('round-2')).fill(c);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  test('the seeded stream continues across fills (no block repeats)', () => {
    const source = seededNoiseSource('continue');
    const first = new Uint8Array(32);
    const second = new Uint8Array(32);
    source.fill(first);
    source.fill(second);
    expect(second).not.toEqual(first);
  });

  test('the CSPRNG source fills with bytes that differ call to call', () => {
    const source = cryptoNoiseSource();
    const first = new Uint8Array(32);
    const second = new Uint8Array(32);
    source.fill(first);
    source.fill(second);
    expect(second).not.toEqual(first);
  });
});

describe('GaussianSampler', () => {
  test('uniforms lie in [0, 1) and use all 53 bits', () => {
    const sampler = new GaussianSampler(seededNoiseSource('uniform'));
    let sawLowBits = false;
    for (let index = 0; index < 10_000; index++) {
      const u = sampler.uniform53();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      // A 32-bit uniform times 2^32 is an integer; a 53-bit one is not.
      if (!Number.isInteger(u * 2 ** 32)) sawLowBits = true;
    }
    expect(sawLowBits).toBe(true);
  });

  test('an all-zero source gives u = 0, and the radius stays finite (1 - u in (0, 1])', () => {
    const sampler = new GaussianSampler({ fill: (bytes) => void bytes.fill(0) });
    expect(sampler.uniform53()).toBe(0);
    const value = sampler.standardNormal();
    expect(Number.isFinite(value)).toBe(true);
  });

  test('standard normals: mean 0, variance 1, kurtosis 3, and the right tail mass (seeded, generous bounds)', () => {
    const sampler = new GaussianSampler(seededNoiseSource('moments'));
    const count = 200_000;
    const values = new Float64Array(count);
    sampler.addNoise(values, 1);
    const { mean, variance, kurtosis } = moments(values);
    // Standard errors at n = 200k: mean 0.0022, variance 0.0032, kurtosis 0.011; bounds are about 5 of them.
    expect(Math.abs(mean)).toBeLessThan(0.012);
    expect(Math.abs(variance - 1)).toBeLessThan(0.016);
    expect(Math.abs(kurtosis - 3)).toBeLessThan(0.06);
    const beyondTwo = values.filter((value) => Math.abs(value) > 2).length / count;
    expect(Math.abs(beyondTwo - 0.0455)).toBeLessThan(0.003);
  });

  test('addNoise scales by std and consecutive variates are uncorrelated', () => {
    const sampler = new GaussianSampler(seededNoiseSource('scaled'));
    const values = new Float64Array(100_000).fill(5);
    sampler.addNoise(values, 3);
    const { mean, variance } = moments(values);
    expect(Math.abs(mean - 5)).toBeLessThan(0.05);
    expect(Math.abs(variance / 9 - 1)).toBeLessThan(0.03);
    let lagged = 0;
    for (let index = 1; index < values.length; index++) lagged += (values[index]! - 5) * (values[index - 1]! - 5);
    expect(Math.abs(lagged / (values.length - 1) / 9)).toBeLessThan(0.02);
  });
});
