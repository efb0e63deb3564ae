import { describe, expect, it } from 'vitest';
import { bulyan } from '../../../src/fl/aggregation/bulyan.js';
import { centeredClipping, normBoundedMean } from '../../../src/fl/aggregation/clipping.js';
import { median, trimmedMean } from '../../../src/fl/aggregation/coordinate-wise.js';
import { fedAvg } from '../../../src/fl/aggregation/fedavg.js';
import { krum, multiKrum } from '../../../src/fl/aggregation/krum.js';
import { GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { aggregateUpdates, clipNormOf, ruleMinimumClients, strategyRecord, type StrategySpec } from '../../../src/fl/rounds/strategy.js';
import { checkUpdate } from '../../../src/fl/rounds/update-check.js';
import { examplesMax } from '../../../src/fl/rounds/limits.js';

const updates = Array.from({ length: 7 }, (_, client) => Float32Array.from([client, -client, client * client, 1]));
const examples = [1, 2, 3, 4, 5, 6, 7];

describe('round strategies', () => {
  it('run the rule of src/fl/aggregation they name, with its parameters', () => {
    const round = { updates, examples };
    const cases: [StrategySpec, Float32Array][] = [
      [{ name: 'fedAvg' }, fedAvg(updates, examples)],
      [{ name: 'median' }, median(updates)],
      [{ name: 'trimmedMean', beta: 0.2 }, trimmedMean(updates, 0.2)],
      [{ name: 'krum', f: 1 }, krum(updates, 1)],
      [{ name: 'multiKrum', f: 1, m: 3 }, multiKrum(updates, 1, 3)],
      [{ name: 'bulyan', f: 1 }, bulyan(updates, 1)],
      [{ name: 'centeredClipping', tau: 2 }, centeredClipping(updates, { tau: 2 })],
      [{ name: 'centeredClipping', tau: 2, iterations: 3 }, centeredClipping(updates, { tau: 2, iterations: 3 })],
      [{ name: 'normBoundedMean', bound: 3 }, normBoundedMean(updates, examples, 3)],
    ];
    for (const [spec, expected] of cases) expect(aggregateUpdates(spec, round, null), spec.name).toEqual(expected);
  });

  it('run DP-FedAvg with the fixed denominator and the noise they are given', () => {
    const spec: StrategySpec = { name: 'dpFedAvg', clipNorm: 1, noiseMultiplier: 0.5 };
    const noised = aggregateUpdates(spec, { updates, examples }, { expectedClients: 10, sampler: new GaussianSampler(seededNoiseSource('n')) });
    const again = aggregateUpdates(spec, { updates, examples }, { expectedClients: 10, sampler: new GaussianSampler(seededNoiseSource('n')) });
    expect(noised).toEqual(again);
    expect(noised).toHaveLength(4);
  });

  it('record their name and parameters, state their minimum and their clip norm', () => {
    expect(strategyRecord({ name: 'multiKrum', f: 2, m: 4 })).toEqual({ name: 'multiKrum', params: { f: 2, m: 4 } });
    expect(strategyRecord({ name: 'fedAvg' })).toEqual({ name: 'fedAvg', params: {} });
    expect([
      ruleMinimumClients({ name: 'krum', f: 2 }),
      ruleMinimumClients({ name: 'multiKrum', f: 1, m: 9 }),
      ruleMinimumClients({ name: 'multiKrum', f: 3, m: 2 }),
      ruleMinimumClients({ name: 'bulyan', f: 1 }),
      ruleMinimumClients({ name: 'median' }),
    ]).toEqual([7, 9, 9, 7, 1]);
    expect([clipNormOf({ name: 'dpFedAvg', clipNorm: 0.7, noiseMultiplier: 1 }), clipNormOf({ name: 'normBoundedMean', bound: 2 }), clipNormOf({ name: 'fedAvg' })]).toEqual([0.7, 2, null]);
  });
});

describe('update checks', () => {
  it('accept a finite update of the model length with a positive example count', () => {
    expect(checkUpdate('u', new Float32Array(4), 3, 4)).toBeNull();
  });

  it('name the length, the first non-finite value and a bad example count', () => {
    expect(checkUpdate('u', new Float32Array(3), 3, 4)).toMatchObject({ code: 'ERR_FL_ROUND_LENGTH', message: 'u: expected 4 float32 values (the model\'s parameter count), got 3 values' });
    expect(checkUpdate('u', new Float64Array(4) as unknown as Float32Array, 3, 4)?.message).toMatch(/got not a Float32Array/);
    expect(checkUpdate('u', Float32Array.of(0, Number.NaN, 0, Infinity), 3, 4)).toMatchObject({ code: 'ERR_FL_ROUND_NON_FINITE', message: 'u: value 1 is NaN' });
    for (const bad of [0, 1.5, examplesMax + 1, Number.NaN]) expect(checkUpdate('u', new Float32Array(4), bad, 4)?.code).toBe('ERR_FL_ROUND_EXAMPLES');
  });
});
