import { describe, expect, it } from 'vitest';
import { alieZ, attackKinds, attackTraining, coordinateMoments, craftMalicious, craftSecondMoment, labelFlipMap, normalQuantile, secondMomentInflation, secondMomentReportMax, type AttackRound } from '../../../src/fl/training/attacks.js';
import { GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { faultClassCount } from '../../../src/mapek/detector-loss.js';

const sampler = (): GaussianSampler => new GaussianSampler(seededNoiseSource('attacks test'));
const honest = [Float32Array.of(1, 2, 0), Float32Array.of(3, 2, 0), Float32Array.of(2, 5, 0)];
const round = (own: (Float32Array | null)[]): AttackRound => ({ honest, own, d: 3 });

describe('normalQuantile and ALIE z', () => {
  it('matches the standard normal quantiles within the approximation error', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 3);
    expect(Math.abs(normalQuantile(0.975) - 1.959964)).toBeLessThan(4.5e-4);
    expect(Math.abs(normalQuantile(0.1) + 1.281552)).toBeLessThan(4.5e-4);
    expect(Math.abs(normalQuantile(0.68) - 0.467699)).toBeLessThan(4.5e-4);
    expect(() => normalQuantile(1)).toThrow(/p in/);
    expect(() => normalQuantile(0)).toThrow(/p in/);
  });

  it('is Phi^-1((n - s) / n) with s = floor(n / 2 + 1) - m, kept inside (0, 1)', () => {
    // n = 50, m = 10: s = 16, p = 34 / 50.
    expect(alieZ(50, 10)).toBeCloseTo(normalQuantile(34 / 50), 12);
    // n = 20, m = 4: s = 7, p = 13 / 20.
    expect(alieZ(20, 4)).toBeCloseTo(normalQuantile(13 / 20), 12);
    // A malicious majority gives s <= 0; p is capped at 1 - 1 / (2n).
    expect(alieZ(4, 4)).toBeCloseTo(normalQuantile(1 - 1 / 8), 12);
  });
});

describe('craftMalicious', () => {
  it('sign flip sends -s times the own update (s = 4 by default)', () => {
    const own = Float32Array.of(1, -2, 0.5);
    expect([...craftMalicious({ kind: 'signFlip' }, round([own]), sampler())[0]!]).toEqual([-4, 8, -2]);
    expect([...craftMalicious({ kind: 'signFlip', signFlipScale: 1 }, round([own]), sampler())[0]!]).toEqual([-1, 2, -0.5]);
    expect([...craftMalicious({ kind: 'signFlip' }, round([null]), sampler())[0]!].map(Math.abs)).toEqual([0, 0, 0]);
  });

  it('label flip sends the update trained on flipped labels as it is', () => {
    const own = Float32Array.of(7, 8, 9);
    expect(craftMalicious({ kind: 'labelFlip' }, round([own, null]), sampler())).toEqual([own, new Float32Array(3)]);
  });

  it('Gaussian noise sends independent N(0, sigma^2) coordinates', () => {
    const big: AttackRound = { honest: [], own: [null, null], d: 20_000 };
    const sent = craftMalicious({ kind: 'gaussian', gaussianStd: 3 }, big, sampler());
    expect(sent).toHaveLength(2);
    const { mean, std } = coordinateMoments([Float32Array.from(sent[0]!)], 1);
    expect(mean.length + std.length).toBe(2);
    const values = [...sent[0]!, ...sent[1]!];
    const average = values.reduce((a, b) => a + b, 0) / values.length;
    const deviation = Math.sqrt(values.reduce((a, b) => a + (b - average) ** 2, 0) / values.length);
    expect(Math.abs(average)).toBeLessThan(0.05);
    expect(deviation).toBeCloseTo(3, 1);
    expect(sent[0]).not.toEqual(sent[1]);
  });

  it('ALIE sends mu - z sigma of the honest updates, the same vector from every attacker', () => {
    const sent = craftMalicious({ kind: 'alie' }, round([null, null]), sampler());
    const { mean, std } = coordinateMoments(honest, 3);
    const z = alieZ(5, 2);
    expect(sent[0]).toEqual(sent[1]);
    sent[0]!.forEach((value, j) => expect(value).toBeCloseTo(mean[j]! - z * std[j]!, 5));
    expect(sent[0]![2]).toBe(0);
    const fixed = craftMalicious({ kind: 'alie', alieZ: 1 }, round([null]), sampler());
    expect(fixed[0]![0]).toBeCloseTo(2 - Math.sqrt(2 / 3), 5);
  });

  it('IPM sends -epsilon times the honest mean (epsilon 0.1 by default)', () => {
    const sent = craftMalicious({ kind: 'ipm' }, round([null]), sampler());
    expect(sent[0]![0]).toBeCloseTo(-0.2, 6);
    expect(sent[0]![1]).toBeCloseTo(-0.3, 6);
    const strong = craftMalicious({ kind: 'ipm', ipmEpsilon: 2 }, round([null]), sampler());
    expect(strong[0]![1]).toBeCloseTo(-6, 5);
  });

  it('ALIE and IPM send zeros when no honest update is there to imitate', () => {
    for (const kind of ['alie', 'ipm'] as const) {
      const sent = craftMalicious({ kind }, { honest: [], own: [null], d: 2 }, sampler());
      expect([...sent[0]!].map(Math.abs)).toEqual([0, 0]);
    }
  });
});

describe('craftSecondMoment', () => {
  it('reports 1e6 times the largest honest second moment per coordinate', () => {
    expect(secondMomentInflation).toBe(1e6);
    const reported = craftSecondMoment([Float32Array.of(1, 0.5, 0), Float32Array.of(2, 0.25, 0)], 3);
    expect([...reported]).toEqual([2e6, 0.5e6, Math.fround(1e-8) * 1e6].map(Math.fround));
    expect(craftSecondMoment([], 2).every((value) => value > 0)).toBe(true);
    // Reports that already grew (FedAvg averages the inflated ones in) stay finite.
    expect([...craftSecondMoment([Float32Array.of(1e30)], 1)]).toEqual([Math.fround(secondMomentReportMax)]);
  });
});

describe('attack training and the label map', () => {
  it('says which attackers train and on what labels', () => {
    expect(attackKinds.map(attackTraining)).toEqual(['flipped', 'honest', 'none', 'none', 'none']);
  });

  it('maps l to C - l: healthy becomes the last fault class and back', () => {
    const map = labelFlipMap();
    expect(map).toHaveLength(faultClassCount + 1);
    expect(map[0]).toBe(faultClassCount);
    expect(map[faultClassCount]).toBe(0);
    expect([...labelFlipMap(3)]).toEqual([3, 2, 1, 0]);
  });
});
