/** The mean one-vs-healthy F1 threshold: hand-checked choices, its placement, ties, refusals, and its use in calibrateScored. */
import { describe, expect, test } from 'vitest';
import { calibrateMeanClassF1 } from '../../src/mapek/class-calibration.js';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { calibrateScored } from '../../src/mapek/evaluation.js';
import { calibrateThreshold } from '../../src/ml/classification.js';
import { datasetOf, expectDetectorError, windowOf } from './helpers.js';

describe('calibrateMeanClassF1', () => {
  // Class 1 has three easy items; class 2 one item scored below two healthy ones.
  const scores = [0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.1];
  const classes = [1, 1, 1, 0, 0, 2, 0, 0];

  test('each class counts the same, unlike the pooled F1 of src/ml', () => {
    // Flag the top 3: class 1 F1 1, class 2 F1 0: mean 0.5. Flag the top 6: class 1 2*3/(3+3+2) = 0.75,
    // class 2 2/(1+1+2) = 0.5: mean 0.625, the best. Pooled over all faulty items, the top 3
    // (F1 6/7) beat the top 6 (F1 8/10).
    const chosen = calibrateMeanClassF1(scores, classes);
    expect(chosen.threshold).toBeCloseTo((0.5 + 0.4) / 2, 12);
    expect(chosen.truePositives).toBe(4);
    expect(chosen.falsePositives).toBe(2);
    const labels = classes.map((c) => (c === 0 ? 0 : 1));
    expect(calibrateThreshold(scores, labels, { objective: 'f1' }).threshold).toBeCloseTo((0.8 + 0.7) / 2, 12);
  });

  test('ties are never split; all flagged gives the lowest score, none a value above the highest', () => {
    expect(calibrateMeanClassF1([0.5, 0.5, 0.2], [1, 0, 0]).threshold).toBeCloseTo(0.35, 12);
    expect(calibrateMeanClassF1([0.3, 0.2], [1, 2]).threshold).toBe(0.2);
    // No fault class present: flagging nothing is perfect.
    expect(calibrateMeanClassF1([0.3, -0.5], [0, 0]).threshold).toBeCloseTo(1.3, 12);
  });

  test('refuses mismatched lengths, bad classes and scores, naming the item', () => {
    const argument = DetectorErrorCode.ERR_DETECTOR_ARGUMENT;
    expectDetectorError(() => calibrateMeanClassF1([0.1], [0, 1]), argument, '1 scores and 2 classes');
    expectDetectorError(() => calibrateMeanClassF1([], []), argument, 'at least one scored item');
    expectDetectorError(() => calibrateMeanClassF1([0.1, 0.2], [0, 1.5]), argument, 'classes[1] is 1.5');
    expectDetectorError(() => calibrateMeanClassF1([0.1, Number.NaN], [0, 1]), argument, 'scores[1] is NaN');
  });
});

describe('calibrateScored with meanClassF1', () => {
  test('chooses node and link thresholds by the classes of the items', () => {
    const node = [0, 0];
    const window = windowOf({ nodes: [node, node, node], links: [[0, 1, 0, 0], [1, 0, 0, 0]], nodeLabels: [1, 0, 2], linkLabels: [5, 0] });
    const scores = { nodeScores: Float32Array.from([0.9, 0.6, 0.3]), linkScores: Float32Array.from([0.8, 0.1]) };
    const { nodeCalibration, linkCalibration } = calibrateScored('t', [{ dataset: datasetOf([window]), scores: [scores] }], { objective: 'meanClassF1' });
    // Nodes: top 1 gives mean (1 + 0) / 2; all three (2/3 + 2/3) / 2 = 0.667, the best.
    expect(nodeCalibration.threshold).toBeCloseTo(0.3, 6);
    expect(linkCalibration!.threshold).toBeCloseTo(0.45, 6);
  });
});
