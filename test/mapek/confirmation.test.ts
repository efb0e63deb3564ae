/** The confirmed scorer: what the MAPE-K loop acts on, scored per window. */
import { describe, expect, test } from 'vitest';
import { ConfirmedScorer, confirmWindowsMax } from '../../src/mapek/confirmation.js';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import type { Scorer, WindowScores } from '../../src/mapek/evaluation.js';
import type { Dataset } from '../../src/telemetry/types.js';
import { datasetOf, expectDetectorError, windowOf } from './helpers.js';

// Three nodes, windows 0..3; node 2 is down in window 1; the link 0->1 is missing in window 2,
// and window 3 lists its links in another order than window 0.
const links01 = [[0, 1, 0, 0], [1, 0, 0, 0]] as const;
const dataset: Dataset = datasetOf([
  windowOf({ index: 0, nodes: [[0, 0], [0, 0], [0, 0]], links: [...links01] }),
  windowOf({ index: 1, nodes: [[0, 0], [0, 0], [0, 0]], alive: [1, 1, 0], links: [...links01], nodeLabels: [1, 0, 0] }),
  windowOf({ index: 2, nodes: [[0, 0], [0, 0], [0, 0]], links: [[1, 0, 0, 0]], nodeLabels: [1, 0, 0] }),
  windowOf({ index: 3, nodes: [[0, 0], [0, 0], [0, 0]], links: [[1, 0, 0, 0], [0, 1, 0, 0]], nodeLabels: [1, 0, 0] }),
]);

/** Hand-set raw scores: per window, node scores (NaN = down) and link scores in the window's link order. */
const raw: WindowScores[] = [
  { nodeScores: Float32Array.of(0.9, 0.2, 0.8), linkScores: Float32Array.of(0.9, 0.1) },
  { nodeScores: Float32Array.of(0.7, 0.9, Number.NaN), linkScores: Float32Array.of(0.6, 0.3) },
  { nodeScores: Float32Array.of(0.8, 0.1, 0.9), linkScores: Float32Array.of(0.4) },
  { nodeScores: Float32Array.of(0.95, 0.6, 0.7), linkScores: Float32Array.of(0.5, Number.NaN) },
];
const fixed: Scorer = { name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.4, scoreDataset: () => raw };
const round = (a: Float32Array): number[] => Array.from(a, (x) => (Number.isNaN(x) ? Number.NaN : Math.round(x * 100) / 100));

describe('ConfirmedScorer', () => {
  test('one window is the inner scorer itself', () => {
    const one = new ConfirmedScorer(fixed, 1);
    expect(one.scoreDataset(dataset).map((s) => round(s.nodeScores))).toStrictEqual(raw.map((s) => round(s.nodeScores)));
    expect([one.nodeThreshold, one.linkThreshold]).toStrictEqual([0.5, 0.4]);
  });

  test('two windows: the minimum with the previous window; 0 where an item was not scored before; down stays NaN', () => {
    const scores = new ConfirmedScorer(fixed, 2).scoreDataset(dataset);
    expect(round(scores[0]!.nodeScores)).toStrictEqual([0, 0, 0]);
    expect(round(scores[1]!.nodeScores)).toStrictEqual([0.7, 0.2, Number.NaN]);
    // Node 2 was down in window 1: it cannot be confirmed in window 2.
    expect(round(scores[2]!.nodeScores)).toStrictEqual([0.7, 0.1, 0]);
    expect(round(scores[3]!.nodeScores)).toStrictEqual([0.8, 0.1, 0.7]);
  });

  test('links are matched by their ends, not by their position in the window', () => {
    const scores = new ConfirmedScorer(fixed, 2).scoreDataset(dataset);
    // No window before the first: nothing is confirmed there.
    expect(round(scores[0]!.linkScores)).toStrictEqual([0, 0]);
    expect(round(scores[1]!.linkScores)).toStrictEqual([0.6, 0.1]);
    // Window 2 has only 1->0 (position 0 there, position 1 in window 1).
    expect(round(scores[2]!.linkScores)).toStrictEqual([0.3]);
    // Window 3: 1->0 against 0.4 in window 2; 0->1 is not scored there, and stays unscored.
    expect(round(scores[3]!.linkScores)).toStrictEqual([0.4, Number.NaN]);
  });

  test('three windows reach two windows back', () => {
    const scores = new ConfirmedScorer(fixed, 3).scoreDataset(dataset);
    expect(round(scores[1]!.nodeScores)).toStrictEqual([0, 0, Number.NaN]);
    expect(round(scores[3]!.nodeScores)).toStrictEqual([0.7, 0.1, 0]);
  });

  test('calibration picks thresholds on the confirmed scores', () => {
    const { scorer, nodeCalibration, linkCalibration } = new ConfirmedScorer(fixed, 2).calibrated([dataset], { objective: 'f1' });
    // Faulty node 0 is confirmed at 0.7 and 0.8 in windows 1..3, every healthy item stays at or below 0.7 in window 3.
    expect(nodeCalibration.f1).toBeGreaterThan(0.8);
    expect(scorer.nodeThreshold).toBe(nodeCalibration.threshold);
    expect(scorer.linkThreshold).toBe(linkCalibration!.threshold);
    expect(scorer.name).toBe('fixed, confirmed over 2 windows');
  });

  test('calibration keeps the link threshold when no link was scored', () => {
    const noLinks = datasetOf([windowOf({ nodes: [[0, 0], [0, 0]], links: [], nodeLabels: [1, 0] }), windowOf({ index: 1, nodes: [[0, 0], [0, 0]], links: [], nodeLabels: [1, 0] })]);
    const inner: Scorer = { name: 'n', nodeThreshold: 0.5, linkThreshold: 0.3, scoreDataset: () => [0, 1].map(() => ({ nodeScores: Float32Array.of(0.9, 0.1), linkScores: new Float32Array(0) })) };
    const { scorer, linkCalibration } = new ConfirmedScorer(inner, 2).calibrated([noLinks], { objective: 'f1' });
    expect(linkCalibration).toBeNull();
    expect(scorer.linkThreshold).toBe(0.3);
  });

  test('refuses a confirmation length outside 1..confirmWindowsMax', () => {
    for (const bad of [0, 1.5, confirmWindowsMax + 1]) expectDetectorError(() => new ConfirmedScorer(fixed, bad), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `confirmWindows to be an integer in 1..${confirmWindowsMax}, got ${bad}`);
  });
});

describe('ConfirmedScorer on windows of different sizes', () => {
  test('a node beyond the earlier window (it did not exist then) cannot be confirmed', () => {
    const growing = datasetOf([windowOf({ nodes: [[0, 0]], links: [] }), windowOf({ index: 1, nodes: [[0, 0], [0, 0]], links: [] })]);
    const inner: Scorer = { name: 'g', nodeThreshold: 0.5, linkThreshold: 0.5, scoreDataset: () => [{ nodeScores: Float32Array.of(0.9), linkScores: new Float32Array(0) }, { nodeScores: Float32Array.of(0.8, 0.9), linkScores: new Float32Array(0) }] };
    expect(round(new ConfirmedScorer(inner, 2).scoreDataset(growing)[1]!.nodeScores)).toStrictEqual([0.8, 0]);
  });
});
