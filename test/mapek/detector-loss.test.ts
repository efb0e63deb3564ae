/** The detector's loss: hand-checked weights, the gradient against finite differences, and the head's scores. */
import { describe, expect, test } from 'vitest';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { countClasses, faultClassCount, headLoss, headWidth, lossWeights, scoresOfLogits } from '../../src/mapek/detector-loss.js';
import { seededRandom, uniform01 } from '../../src/ml/random.js';
import { expectDetectorError } from './helpers.js';

describe('lossWeights', () => {
  test('healthy 1, faulty the healthy/faulty ratio (capped), classes inversely to their share of faults', () => {
    const counts = new Float64Array(headWidth);
    countClasses([0, 0, 0, 0, 0, 0, 1, 1, 1, 2], counts);
    expect([...counts.subarray(0, 3)]).toStrictEqual([6, 3, 1]);
    const weights = lossWeights(counts, 50, 0.5);
    expect(weights.healthy).toBe(1);
    expect(weights.faulty).toBe(1.5);
    expect(weights.classes[0]).toBe(0);
    expect(weights.classes[1]).toBeCloseTo(4 / (2 * 3), 12);
    expect(weights.classes[2]).toBeCloseTo(4 / (2 * 1), 12);
    expect(weights.classes[3]).toBe(0);
    expect(weights.classLossWeight).toBe(0.5);
    expect(lossWeights(counts, 1.2, 1).faulty).toBe(1.2);
    expect(lossWeights(new Float64Array(headWidth).fill(0).fill(5, 0, 1), 50, 1).faulty).toBe(1);
    expectDetectorError(() => lossWeights(counts, 0.5, 1), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'faultyWeightMax >= 1');
  });
});

describe('headLoss', () => {
  const rows = 4;
  const labels = Uint8Array.from([0, 1, 6, 0]);
  const random = seededRandom(3);
  const logits = Float32Array.from({ length: rows * headWidth }, () => 4 * uniform01(random) - 2);
  const counts = new Float64Array(headWidth);
  countClasses([0, 0, 0, 1, 6, 6], counts);
  const weights = lossWeights(counts, 50, 0.7);

  /** Checks `gradient` (of headLoss at `logits`, with `rowWeights`) against central differences of the loss. */
  function expectFiniteDifferences(gradient: Float32Array, rowWeights?: Float32Array): void {
    const h = 1e-3;
    const lossAt = (values: Float64Array): number => headLoss(new Float32Array(values), rows, labels, weights, null, rowWeights);
    for (let at = 0; at < logits.length; at++) {
      const plus = Float64Array.from(logits);
      const minus = Float64Array.from(logits);
      plus[at]! += h;
      minus[at]! -= h;
      expect(gradient[at]).toBeCloseTo((lossAt(plus) - lossAt(minus)) / (2 * h), 3);
    }
  }

  test('the gradient matches finite differences of the loss', () => {
    const gradient = new Float32Array(rows * headWidth);
    const loss = headLoss(logits, rows, labels, weights, gradient);
    expect(headLoss(logits, rows, labels, weights, null)).toBe(loss);
    expectFiniteDifferences(gradient);
    // Healthy rows carry no class gradient.
    expect([...gradient.subarray(1, headWidth)].every((g) => g === 0)).toBe(true);
  });

  test('row weights scale each row in both parts: all 1 is the unweighted loss, 0 leaves a row out, and the gradient still matches', () => {
    expect(headLoss(logits, rows, labels, weights, null, new Float32Array(rows).fill(1))).toBeCloseTo(headLoss(logits, rows, labels, weights, null), 12);
    const withoutLast = headLoss(logits, rows, labels, weights, null, Float32Array.from([1, 1, 1, 0]));
    expect(withoutLast).toBeCloseTo(headLoss(logits, rows - 1, labels, weights, null), 6);
    expect(headLoss(logits, rows, labels, weights, null, new Float32Array(rows))).toBe(0);
    const rowWeights = Float32Array.from([3, 1, 0.5, 2]);
    const gradient = new Float32Array(rows * headWidth);
    headLoss(logits, rows, labels, weights, gradient, rowWeights);
    expectFiniteDifferences(gradient, rowWeights);
  });

  test('the loss by hand for one faulty row: BCE of the anomaly logit plus the weighted class cross-entropy', () => {
    const one = new Float32Array(headWidth);
    one[0] = 0; // sigmoid 0.5
    const loss = headLoss(one, 1, Uint8Array.from([2]), lossWeights(countsOf([2]), 50, 1), null);
    // BCE(0, 1) = ln 2; all class logits 0: cross-entropy ln 9.
    expect(loss).toBeCloseTo(Math.log(2) + Math.log(faultClassCount), 12);
  });
});

function countsOf(labels: number[]): Float64Array {
  const counts = new Float64Array(headWidth);
  countClasses(labels, counts);
  return counts;
}

describe('scoresOfLogits', () => {
  test('sigmoid of column 0, softmax of the class columns, written at the given rows', () => {
    const logits = new Float32Array(headWidth);
    logits[0] = Math.log(3); // sigmoid = 0.75
    logits[2] = Math.log(2);
    const scores = new Float32Array(3).fill(Number.NaN);
    const classScores = new Float32Array(3 * faultClassCount).fill(Number.NaN);
    scoresOfLogits(logits, 1, scores, classScores, [2]);
    expect(scores[0]).toBeNaN();
    expect(scores[2]).toBeCloseTo(0.75, 6);
    const row = classScores.subarray(2 * faultClassCount, 3 * faultClassCount);
    expect(row[1]).toBeCloseTo(2 / (faultClassCount + 1), 6);
    expect(row[0]).toBeCloseTo(1 / (faultClassCount + 1), 6);
    expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });
});
