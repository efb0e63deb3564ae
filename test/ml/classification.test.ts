/** Binary classification measures: hand-checked small cases, edge cases, refusals, and properties against brute force. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { auroc, averagePrecision, binaryMetrics, calibrateThreshold, confusionAt, oneVsRest, prCurve, ratesOf } from '../../src/ml/classification.js';
import { MlErrorCode } from '../../src/ml/errors.js';
import { expectMlError } from './helpers.js';

// Sorted by score: 0.9+ 0.8+ 0.7- 0.6+ 0.55- 0.4-
const scores = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4];
const labels = [1, 1, 0, 1, 0, 0];

describe('at a threshold', () => {
  test('confusion counts, precision, recall, F1 and false-positive rate (flag when score >= threshold)', () => {
    expect(binaryMetrics(scores, labels, 0.65)).toStrictEqual({
      threshold: 0.65,
      truePositives: 2,
      falsePositives: 1,
      trueNegatives: 2,
      falseNegatives: 1,
      precision: 2 / 3,
      recall: 2 / 3,
      f1: 2 / 3,
      falsePositiveRate: 1 / 3,
    });
    // A score equal to the threshold is flagged.
    expect(confusionAt(scores, labels, 0.6)).toStrictEqual({ truePositives: 3, falsePositives: 1, trueNegatives: 2, falseNegatives: 0 });
  });

  test('conventions when a denominator is zero', () => {
    // Nothing flagged: precision 1 (no false claim); positives missed: recall 0, F1 0.
    expect(ratesOf({ truePositives: 0, falsePositives: 0, trueNegatives: 3, falseNegatives: 2 })).toStrictEqual({ precision: 1, recall: 0, f1: 0, falsePositiveRate: 0 });
    // Nothing to find and nothing flagged: perfect.
    expect(ratesOf({ truePositives: 0, falsePositives: 0, trueNegatives: 3, falseNegatives: 0 })).toStrictEqual({ precision: 1, recall: 1, f1: 1, falsePositiveRate: 0 });
    // Nothing to find but false alarms: F1 0.
    expect(ratesOf({ truePositives: 0, falsePositives: 1, trueNegatives: 2, falseNegatives: 0 })).toStrictEqual({ precision: 0, recall: 1, f1: 0, falsePositiveRate: 1 / 3 });
    // No negatives: the false-positive rate is 0.
    expect(ratesOf({ truePositives: 2, falsePositives: 0, trueNegatives: 0, falseNegatives: 0 }).falsePositiveRate).toBe(0);
  });
});

describe('auroc', () => {
  test('counts pairs a positive wins: 8 of 9', () => {
    expect(auroc(scores, labels)).toBeCloseTo(8 / 9, 12);
  });

  test('ties get midranks: a tied pair counts one half', () => {
    expect(auroc([0.2, 0.5, 0.5, 0.8], [0, 1, 0, 1])).toBe(0.875);
    expect(auroc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBe(0.5);
  });

  test('perfect, inverted, and undefined with one class', () => {
    expect(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])).toBe(0);
    expect(auroc([0.1, 0.9], [1, 1])).toBeNaN();
    expect(auroc([0.1, 0.9], [0, 0])).toBeNaN();
  });

  test('equals the brute-force pair count (property)', () => {
    const item = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 1 }));
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 40 }), (items) => {
        const s = items.map(([v]) => v / 4);
        const l = items.map(([, y]) => y);
        let wins = 0;
        let pairs = 0;
        for (let i = 0; i < s.length; i++) {
          for (let j = 0; j < s.length; j++) {
            if (l[i] !== 1 || l[j] !== 0) continue;
            pairs++;
            wins += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
          }
        }
        const got = auroc(s, l);
        if (pairs === 0) expect(got).toBeNaN();
        else expect(got).toBeCloseTo(wins / pairs, 12);
      }),
    );
  });
});

describe('prCurve', () => {
  test('one point per distinct score, thresholds descending', () => {
    const curve = prCurve(scores, labels);
    expect(curve.positives).toBe(3);
    expect(curve.negatives).toBe(3);
    expect([...curve.thresholds]).toStrictEqual([0.9, 0.8, 0.7, 0.6, 0.55, 0.4]);
    expect([...curve.truePositives]).toStrictEqual([1, 2, 2, 3, 3, 3]);
    expect([...curve.falsePositives]).toStrictEqual([0, 0, 1, 1, 2, 3]);
    expect([...curve.precision]).toStrictEqual([1, 1, 2 / 3, 3 / 4, 3 / 5, 1 / 2]);
    expect([...curve.recall]).toStrictEqual([1 / 3, 2 / 3, 2 / 3, 1, 1, 1]);
    expect([...curve.f1]).toStrictEqual([0.5, 0.8, 2 / 3, 6 / 7, 0.75, 2 / 3]);
    expect([...curve.falsePositiveRate]).toStrictEqual([0, 0, 1 / 3, 1 / 3, 2 / 3, 1]);
  });

  test('tied scores form one point', () => {
    const curve = prCurve([0.5, 0.5, 0.2], [1, 0, 0]);
    expect([...curve.thresholds]).toStrictEqual([0.5, 0.2]);
    expect([...curve.truePositives]).toStrictEqual([1, 1]);
    expect([...curve.falsePositives]).toStrictEqual([1, 2]);
  });
});

describe('averagePrecision', () => {
  test('recall gained at each point times the precision there: 1/3 + 1/3 + 1/3 x 3/4', () => {
    expect(averagePrecision(scores, labels)).toBeCloseTo(11 / 12, 12);
    expect(averagePrecision([0.1, 0.9], [0, 1])).toBe(1);
    expect(averagePrecision([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(averagePrecision([0.1, 0.9], [0, 0])).toBeNaN();
  });
});

describe('calibrateThreshold', () => {
  test('maximum F1, halfway between the lowest flagged and the highest unflagged score', () => {
    const chosen = calibrateThreshold(scores, labels, { objective: 'f1' });
    expect(chosen.threshold).toBeCloseTo(0.575, 12);
    expect(chosen.f1).toBeCloseTo(6 / 7, 12);
    expect(chosen.truePositives).toBe(3);
    expect(chosen.falsePositives).toBe(1);
  });

  test('maximum F1 among thresholds within a false-positive rate', () => {
    const chosen = calibrateThreshold(scores, labels, { objective: 'f1', falsePositiveRateMax: 0 });
    expect(chosen.threshold).toBeCloseTo(0.75, 12);
    expect(chosen.f1).toBeCloseTo(0.8, 12);
  });

  test('lowest threshold keeping the false-positive rate at most the target', () => {
    expect(calibrateThreshold(scores, labels, { objective: 'falsePositiveRate', falsePositiveRateMax: 0 }).threshold).toBeCloseTo(0.75, 12);
    const third = calibrateThreshold(scores, labels, { objective: 'falsePositiveRate', falsePositiveRateMax: 1 / 3 });
    expect(third.threshold).toBeCloseTo(0.575, 12);
    expect(third.falsePositiveRate).toBeCloseTo(1 / 3, 12);
    // A rate of 1 allows flagging everything: the threshold is the lowest score.
    expect(calibrateThreshold(scores, labels, { objective: 'falsePositiveRate', falsePositiveRateMax: 1 }).threshold).toBe(0.4);
  });

  test('when the highest score is a negative and no false positive is allowed, nothing is flagged', () => {
    const chosen = calibrateThreshold([0.9, 0.5], [0, 1], { objective: 'falsePositiveRate', falsePositiveRateMax: 0 });
    expect(chosen.threshold).toBe(1.9);
    expect(chosen.truePositives + chosen.falsePositives).toBe(0);
    expect(calibrateThreshold([-2, -3], [0, 1], { objective: 'falsePositiveRate', falsePositiveRateMax: 0 }).threshold).toBe(0);
  });

  test('all positive: flag everything; all negative: flag nothing; all tied: one choice', () => {
    const allPositive = calibrateThreshold([0.1, 0.9], [1, 1], { objective: 'f1' });
    expect(allPositive.threshold).toBe(0.1);
    expect(allPositive.recall).toBe(1);
    const allNegative = calibrateThreshold([0.3, 0.7], [0, 0], { objective: 'f1' });
    expect(allNegative.threshold).toBe(1.7);
    expect(allNegative.falsePositives).toBe(0);
    expect(allNegative.f1).toBe(1);
    const tied = calibrateThreshold([0.5, 0.5, 0.5], [1, 0, 1], { objective: 'f1' });
    expect(tied.threshold).toBe(0.5);
    expect(tied.f1).toBeCloseTo(0.8, 12);
  });

  test('the chosen threshold reaches the best F1 on the curve (property)', () => {
    const item = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 1 }));
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 40 }), (items) => {
        const s = items.map(([v]) => v / 10);
        const l = items.map(([, y]) => y);
        const curve = prCurve(s, l);
        const best = Math.max(curve.positives === 0 ? 1 : 0, ...curve.f1);
        expect(calibrateThreshold(s, l, { objective: 'f1' }).f1).toBeCloseTo(best, 12);
      }),
    );
  });
});

describe('oneVsRest', () => {
  test('each class against the rest, at 0.5 or given thresholds', () => {
    const classScores = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4];
    const [c0, c1, c2] = oneVsRest(classScores, 3, [0, 1, 1]);
    expect(c0).toMatchObject({ classIndex: 0, positives: 1, truePositives: 1, falsePositives: 0, auroc: 1 });
    expect(c1).toMatchObject({ classIndex: 1, positives: 2, truePositives: 1, falseNegatives: 1, recall: 0.5, auroc: 1 });
    expect(c2!.positives).toBe(0);
    expect(c2!.auroc).toBeNaN();
    expect(c2!.f1).toBe(1);
    const lowered = oneVsRest(classScores, 3, [0, 1, 1], [0.5, 0.25, 0.5]);
    expect(lowered[1]!.recall).toBe(1);
  });
});

describe('refusals', () => {
  test('empty input, length mismatch, bad labels, non-finite scores, NaN threshold', () => {
    expectMlError(() => auroc([], []), MlErrorCode.ERR_ML_ARGUMENT, 'auroc: no scores');
    expectMlError(() => prCurve([0.1, 0.2], [1]), MlErrorCode.ERR_ML_SHAPE, 'prCurve: expected as many labels as scores, got 2 scores and 1 labels');
    expectMlError(() => binaryMetrics([0.1], [2], 0.5), MlErrorCode.ERR_ML_ARGUMENT, 'confusionAt: labels[0] is 2, expected 0 or 1');
    expectMlError(() => auroc([0.1, Number.NaN], [0, 1]), MlErrorCode.ERR_ML_NON_FINITE, 'auroc: scores[1] is NaN');
    expectMlError(() => confusionAt([0.1], [1], Number.NaN), MlErrorCode.ERR_ML_ARGUMENT, 'threshold is NaN');
  });

  test('calibration settings', () => {
    expectMlError(() => calibrateThreshold([0.1], [1], { objective: 'f1', falsePositiveRateMax: 1.5 }), MlErrorCode.ERR_ML_ARGUMENT, 'falsePositiveRateMax in [0, 1], got 1.5');
    const unknown = { objective: 'accuracy' } as unknown as Parameters<typeof calibrateThreshold>[2];
    expectMlError(() => calibrateThreshold([0.1], [1], unknown), MlErrorCode.ERR_ML_ARGUMENT, "objective 'f1' or 'falsePositiveRate', got accuracy");
    expectMlError(() => calibrateThreshold([], [], { objective: 'f1' }), MlErrorCode.ERR_ML_ARGUMENT, 'prCurve: no scores');
  });

  test('one-vs-rest shapes and classes', () => {
    expectMlError(() => oneVsRest([0.5], 1, [0]), MlErrorCode.ERR_ML_ARGUMENT, 'classCount to be an integer >= 2, got 1');
    expectMlError(() => oneVsRest([0.5, 0.5, 0.5], 2, [0, 1]), MlErrorCode.ERR_ML_SHAPE, 'expected [2 x 2] = 4 scores for 2 items, got 3');
    expectMlError(() => oneVsRest([0.5, 0.5], 2, [0], [0.5]), MlErrorCode.ERR_ML_SHAPE, 'expected 2 thresholds');
    expectMlError(() => oneVsRest([0.5, 0.5], 2, [2]), MlErrorCode.ERR_ML_ARGUMENT, 'classes[0] is 2, outside 0..1');
  });
});
