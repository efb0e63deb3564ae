import { describe, expect, it } from 'vitest';
import { bulyan, centeredClipping, fedAvg, flTrust, krum, median, multiKrum, normBoundedMean, trimmedMean } from '../../../src/fl/aggregation/index.js';
import { isTrainingError } from '../../../src/fl/training/errors.js';
import { aggregateBucketed, boundedToMedianNorm, bucketMeans, medianNorm, signFiltered, tolerated, type RuleSpec, type RuleState } from '../../../src/fl/training/rules.js';
import { seededRandom } from '../../../src/ml/random.js';

/** 11 honest-looking updates near (1, 1, 1) and 0 or more outliers. */
function updates(outliers: number): Float32Array[] {
  const honest = Array.from({ length: 11 - outliers }, (_, i) => Float32Array.of(1 + i * 0.01, 1 - i * 0.01, 1));
  return [...honest, ...Array.from({ length: outliers }, () => Float32Array.of(100, -100, 50))];
}

const fresh = (): RuleState => ({ previous: null });

describe('aggregateBucketed', () => {
  const list = updates(2);
  const examples = list.map((_, i) => i + 1);

  it('calls each rule of src/fl/aggregation with f = floor(share n)', () => {
    expect(tolerated(11, 0.2)).toBe(2);
    const cases: [RuleSpec, Float32Array][] = [
      [{ kind: 'fedAvg' }, fedAvg(list, examples)],
      [{ kind: 'median' }, median(list)],
      [{ kind: 'trimmedMean' }, trimmedMean(list, 0.2)],
      [{ kind: 'trimmedMean', beta: 0.3 }, trimmedMean(list, 0.3)],
      [{ kind: 'krum' }, krum(list, 2)],
      [{ kind: 'multiKrum' }, multiKrum(list, 2, 9)],
      [{ kind: 'multiKrum', m: 3 }, multiKrum(list, 2, 3)],
      [{ kind: 'bulyan' }, bulyan(list, 2)],
      [{ kind: 'centeredClipping', tau: 0.5, iterations: 2 }, centeredClipping(list, { tau: 0.5, iterations: 2 })],
      [{ kind: 'normBounded', bound: 2 }, normBoundedMean(list, undefined, 2)],
      [{ kind: 'normBounded' }, normBoundedMean(list, undefined, medianNorm(list))],
    ];
    for (const [spec, expected] of cases) expect(aggregateBucketed(spec, list, examples, 0.2, fresh()), spec.kind).toEqual(expected);
  });

  it('takes the median norm of the round (the mean of the middle two for an even count)', () => {
    expect(medianNorm([Float32Array.of(3, 4), Float32Array.of(0, 1), Float32Array.of(0, 100)])).toBe(5);
    expect(medianNorm([Float32Array.of(3, 4), Float32Array.of(0, 1)])).toBe(3);
    expect(() => medianNorm([Float32Array.of(Number.NaN)])).toThrow(/NaN|finite/);
  });

  it('norm bounding with the median norm keeps two scaled outliers to an honest size (hand-checked)', () => {
    // Norms 1, 2 and 20: the median is 2, so only the third is clipped, from (0, 20) to (0, 2).
    const clipped = boundedToMedianNorm([Float32Array.of(1, 0), Float32Array.of(0, 2), Float32Array.of(0, 20)]);
    expect(clipped.map((u) => [...u])).toEqual([[1, 0], [0, 2], [0, 2]]);
    expect([...aggregateBucketed({ kind: 'normBounded' }, [Float32Array.of(1, 0), Float32Array.of(0, 2), Float32Array.of(0, 20)], [1, 1, 1], 0.2, fresh())]).toEqual([1 / 3, 4 / 3].map(Math.fround));
  });

  it('runs a robust rule on the median-norm-clipped updates with normBoundFirst, FedAvg on the raw ones', () => {
    const first = aggregateBucketed({ kind: 'trimmedMean', beta: 0.1 }, list, examples, 0.2, fresh(), { normBoundFirst: true });
    expect(first).toEqual(trimmedMean(boundedToMedianNorm(list), 0.1));
    expect(first).not.toEqual(trimmedMean(list, 0.1));
    expect(aggregateBucketed({ kind: 'fedAvg' }, list, examples, 0.2, fresh(), { normBoundFirst: true })).toEqual(fedAvg(list, examples));
  });

  it('sign filter: drops an update shifted the same way on every coordinate (ALIE-like), keeps mixed-sign ones (hand-checked)', () => {
    // Shares of positive coordinates: 0.5, 0.5, 0.75, 0.25 and 0 for the shifted one; median 0.5,
    // deviations 0, 0, 0.25, 0.25, 0.5, MAD 0.25, limit 3 * 1.4826 * 0.25 = 1.11: nothing stands out.
    const mixed = [Float32Array.of(1, -1, 1, -1), Float32Array.of(-1, 1, -1, 1), Float32Array.of(1, 1, 1, -1), Float32Array.of(-1, -1, -1, 1)];
    expect(signFiltered([...mixed, Float32Array.of(-1, -1, -1, -1)])).toEqual([0, 1, 2, 3, 4]);
    // Eight updates with half their coordinates positive (MAD 0) and one all negative: it alone is dropped.
    const even = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? mixed[0]! : mixed[1]!));
    expect(signFiltered([...even, Float32Array.of(-1, -2, -3, -4)])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // With the shifted updates in the majority, the mixed ones stand out instead: the filter trusts the majority.
    const shifted = Float32Array.of(-1, -1, -1, -1);
    expect(signFiltered([mixed[0]!, mixed[1]!, shifted, shifted, shifted])).toEqual([2, 3, 4]);
    expect(signFiltered([shifted])).toEqual([0]);
  });

  it('runs a robust rule on the updates the sign filter keeps, with f of their count; FedAvg ignores the filter', () => {
    const honest = Array.from({ length: 10 }, (_, i) => Float32Array.of(1 + i, -1 - i, i % 2 === 0 ? 1 : -1, i % 2 === 0 ? -1 : 1));
    const list11 = [...honest, Float32Array.of(-5, -5, -5, -5)];
    // 10 kept: f = floor(0.2 * 10) = 2, capped at 1 for Bulyan (n >= 4f + 3).
    expect(aggregateBucketed({ kind: 'bulyan' }, list11, [], 0.2, fresh(), { signFilter: true })).toEqual(bulyan(honest, 1));
    expect(aggregateBucketed({ kind: 'multiKrum' }, list11, [], 0.2, fresh(), { signFilter: true })).toEqual(multiKrum(honest, 2, 8));
    // FLTrust with Multi-Krum first takes its cap: 6 kept, f = floor(0.4 * 6) = 2 capped at 1 (n > 2f + 2).
    const seven = honest.slice(0, 6).concat(Float32Array.of(-5, -5, -5, -5));
    const serverUpdate = Float32Array.of(1, -1, 0, 0);
    expect(aggregateBucketed({ kind: 'flTrust', krumFirst: true }, seven, [], 0.4, fresh(), { signFilter: true, serverUpdate })).toEqual(aggregateBucketed({ kind: 'flTrust', krumFirst: true }, honest.slice(0, 6), [], 0.2, fresh(), { serverUpdate }));
    const weights = list11.map(() => 1);
    expect(aggregateBucketed({ kind: 'fedAvg' }, list11, weights, 0.2, fresh(), { signFilter: true })).toEqual(fedAvg(list11, weights));
  });

  it('keeps the aggregate as the next centre of centered clipping', () => {
    const state = fresh();
    const first = aggregateBucketed({ kind: 'centeredClipping', tau: 0.5 }, list, examples, 0.2, state);
    expect(state.previous).toBe(first);
    const second = aggregateBucketed({ kind: 'centeredClipping', tau: 0.5 }, list, examples, 0.2, state);
    expect(second).toEqual(centeredClipping(list, { tau: 0.5, iterations: 3, centre: first }));
  });

  it("clips at the median distance from the centre with tau 'median' and keeps outliers out", () => {
    const aggregate = aggregateBucketed({ kind: 'centeredClipping' }, list, examples, 0.2, fresh());
    // The median distance of the updates from 0 is about sqrt(3); two outliers move v by at most 2 tau / 11 per iteration.
    expect(Math.abs(aggregate[0]! - 1)).toBeLessThan(1.2);
    expect(Math.abs(fedAvg(list)[0]! - 1)).toBeGreaterThan(15);
  });

  it('returns the centre when every update sits on it (nothing to clip)', () => {
    const state: RuleState = { previous: Float32Array.of(2, 2) };
    const same = [Float32Array.of(2, 2), Float32Array.of(2, 2), Float32Array.of(2, 2)];
    expect([...aggregateBucketed({ kind: 'centeredClipping', tau: 'median' }, same, [1, 1, 1], 0.2, state)]).toEqual([2, 2]);
  });

  it('runs FLTrust against the server update of the round, and refuses it without one', () => {
    const serverUpdate = Float32Array.of(1, 1, 1);
    expect(aggregateBucketed({ kind: 'flTrust' }, list, examples, 0.2, fresh(), { serverUpdate })).toEqual(flTrust(list, serverUpdate));
    const clipped = aggregateBucketed({ kind: 'flTrust' }, list, examples, 0.2, fresh(), { serverUpdate, normBoundFirst: true });
    expect(clipped).toEqual(flTrust(boundedToMedianNorm(list), serverUpdate));
    expect(aggregateBucketed({ kind: 'flTrust', serverTrust: 1 }, list, examples, 0.2, fresh(), { serverUpdate })).toEqual(flTrust(list, serverUpdate, { serverTrust: 1 }));
    // The two outliers (100, -100, 50) have cosine 0.19 with (1, 1, 1), so plain FLTrust trusts them a little; Multi-Krum first drops them.
    expect(aggregateBucketed({ kind: 'flTrust' }, list, examples, 0.2, fresh(), { serverUpdate })[1]).toBeLessThan(0.95);
    const krumFirst = aggregateBucketed({ kind: 'flTrust', krumFirst: true }, list, examples, 0.2, fresh(), { serverUpdate });
    flTrust(list.slice(0, 9), serverUpdate).forEach((value, j) => expect(krumFirst[j]).toBeCloseTo(value, 6));
    expect(() => aggregateBucketed({ kind: 'flTrust' }, list, examples, 0.2, fresh())).toThrow(expect.objectContaining({ code: 'ERR_FL_TRAINING_ARGUMENT', message: expect.stringMatching(/server update/) }));
    try {
      aggregateBucketed({ kind: 'flTrust' }, list, examples, 0.2, fresh(), { serverUpdate: null });
      expect.unreachable();
    } catch (error) {
      expect(isTrainingError(error, 'ERR_FL_TRAINING_ARGUMENT')).toBe(true);
    }
  });

  it('passes on the preconditions of the rules and refuses a share of half or more', () => {
    expect(() => aggregateBucketed({ kind: 'bulyan' }, updates(0).slice(0, 8), [], 0.3, fresh())).toThrow(/n >= 4f \+ 3/);
    expect(() => tolerated(10, 0.5)).toThrow(/byzantineShare/);
  });
});

describe('bucketing', () => {
  it('averages shuffled buckets of the given size and runs the rule over the means', () => {
    const list = [Float32Array.of(1), Float32Array.of(3), Float32Array.of(5), Float32Array.of(7), Float32Array.of(9)];
    const means = bucketMeans(list, { size: 2, random: seededRandom(1) });
    expect(means).toHaveLength(3);
    expect(means.reduce((sum, m) => sum + m[0]!, 0)).toBeGreaterThan(0);
    expect(means.map((m) => m[0]!).sort((a, b) => a - b).some((v) => [1, 3, 5, 7, 9].includes(v))).toBe(true);
    expect(() => bucketMeans(list, { size: 0, random: seededRandom(1) })).toThrow(/size/);
    const viaRule = aggregateBucketed({ kind: 'median' }, list, [1, 1, 1, 1, 1], 0.2, fresh(), { bucketing: { size: 2, random: seededRandom(1) } });
    expect(viaRule).toEqual(median(bucketMeans(list, { size: 2, random: seededRandom(1) })));
  });

  it('leaves FedAvg alone and widens the trimmed mean to f over the buckets', () => {
    const list = updates(2);
    const bucketing = () => ({ size: 2, random: seededRandom(3) });
    expect(aggregateBucketed({ kind: 'fedAvg' }, list, list.map(() => 1), 0.2, fresh(), { bucketing: bucketing() })).toEqual(fedAvg(list, list.map(() => 1)));
    // 11 updates, f = 2; 6 buckets: beta = 2 / 6 cuts two buckets from each end.
    const trimmed = aggregateBucketed({ kind: 'trimmedMean' }, list, [], 0.2, fresh(), { bucketing: bucketing() });
    expect(trimmed).toEqual(trimmedMean(bucketMeans(list, bucketing()), 2 / 6));
    expect(Math.abs(trimmed[0]! - 1)).toBeLessThan(0.1);
  });
});
