/**
 * The whole detector experiment on the synthetic split: the detector must reach F1 >= 0.9 on
 * the held-out data and beat both baselines there; every figure the benchmark reports is
 * present. Behaviour only: inference time is measured with an injected clock, never asserted.
 */
import { describe, expect, test } from 'vitest';
import { ConfirmedScorer } from '../../src/mapek/confirmation.js';
import { f1PerFaultType, trainAndEvaluate } from '../../src/mapek/detector-pipeline.js';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { expectDetectorError } from './helpers.js';
import { syntheticDataset, syntheticSplit } from './synthetic.js';

const split = syntheticSplit();
let tick = 0;
const result = trainAndEvaluate({ ...split, seed: 1, clock: () => (tick += 2) });
const { figures } = result;

describe('trainAndEvaluate on the synthetic split', () => {
  test('the detector reaches F1 >= 0.9 on held-out seeds and a held-out topology', () => {
    expect(figures.overallF1).toBeGreaterThanOrEqual(0.9);
    expect(result.detector.test.overall.node!.f1).toBeGreaterThanOrEqual(0.9);
    expect(result.detector.test.overall.link!.f1).toBeGreaterThanOrEqual(0.9);
    expect(figures.overallF1UnseenTopologies).toBeGreaterThanOrEqual(0.85);
    expect(result.detector.test.overall.node!.auroc).toBeGreaterThan(0.99);
  });

  test('it beats both baselines, by a wide margin', () => {
    expect(figures.overallF1).toBeGreaterThan(figures.ruleOverallF1);
    expect(figures.overallF1).toBeGreaterThan(figures.zScoreOverallF1);
    expect(figures.f1MarginOverBaseline).toBe(figures.overallF1 - Math.max(figures.ruleOverallF1, figures.zScoreOverallF1));
    expect(figures.f1MarginOverBaseline).toBeGreaterThan(0.1);
    // The rules cannot see grey and black holes (they answer probes; CPU, memory and loss stay normal).
    expect(result.rules.test.perClass['greyHole']!.node!.recall).toBe(0);
    expect(result.detector.test.perClass['greyHole']!.node!.recall).toBeGreaterThan(0.9);
  });

  test('few false positives on healthy runs with churn, and faults detected soon after onset', () => {
    expect(figures.falsePositiveRate).toBeLessThan(0.01);
    expect(figures.falsePositiveRate).toBe(result.detector.healthy.falsePositiveShare.nodeWindows);
    expect(result.detector.healthy.overall.node).toBeNull();
    expect(figures.detectedFaultShare).toBeGreaterThan(0.9);
    expect(figures.detectionDelayMedianMs).toBe(1000); // in the onset window
    expect(figures.detectionDelayP95Ms).toBeGreaterThanOrEqual(figures.detectionDelayMedianMs!);
  });

  test('every figure the benchmark needs, per fault type and per topology group', () => {
    expect(Object.keys(figures.f1PerFaultType).sort()).toStrictEqual(['blackHole', 'congestion', 'cpuExhaustion', 'greyHole', 'linkDegradation', 'memoryExhaustion']);
    expect(figures.greyholeF1).toBe(figures.f1PerFaultType['greyHole']);
    expect(figures.attributedF1PerFaultType['greyHole']).toBe(result.detector.test.perClass['greyHole']!.attributed!.f1);
    expect(result.rules.test.perClass['greyHole']!.attributed!.truePositives).toBe(0);
    expect(result.zScore.test.perClass['greyHole']!.attributed).toBeNull();
    expect(figures.blackholeF1).toBe(figures.f1PerFaultType['blackHole']);
    expect(figures.f1PerFaultType['congestion']).toBe(result.detector.test.perClass['congestion']!.link!.f1);
    expect(result.detector.seenTopologies!.datasets).toBe(3);
    expect(result.detector.unseenTopologies!.datasets).toBe(2);
    expect(result.detector.test.datasets).toBe(5);
    expect(figures.ruleFalsePositiveRate).toBe(result.rules.healthy.falsePositiveShare.nodeWindows);
    expect(figures.zScoreFalsePositiveRate).toBe(result.zScore.healthy.falsePositiveShare.nodeWindows);
    expect(result.training.members.map((m) => m.trainWindows)).toStrictEqual([320]);
    expect(result.model.nodeThreshold).toBe(result.training.nodeCalibration.threshold);
    expect(result.scorer).toBe(result.model);
    expect(JSON.parse(JSON.stringify(figures))).toStrictEqual(figures);
  });

  test('inference is timed on the largest window with the given clock (median of the repeats)', () => {
    expect(figures.inferenceMs).toBe(2);
    expect(figures.inferenceNodes).toBe(40);
    expect(figures.inferenceLinks).toBeGreaterThan(0);
    expect(figures.inferenceMs1000Nodes).toBeNull();
  });
});

describe('options and refusals', () => {
  const small = (seed: number, faults: number) => syntheticDataset({ seed, topology: 'geometric', nodes: 12, windows: 16, faults });
  const quick = { hiddenDims: [4], epochsMax: 2, edgeEpochsMax: 2 };

  test('an explicit inference window; a window of 1000 nodes fills inferenceMs1000Nodes', () => {
    const big = syntheticDataset({ seed: 9, topology: 'lattice', nodes: 1000, windows: 2, faults: 0 });
    let t = 0;
    const run = trainAndEvaluate({ train: [small(1, 6)], validation: [small(2, 6)], test: [small(3, 6)], healthy: [small(4, 0)], seed: 2, detector: quick, inferenceWindow: { window: big.windows[1]!, history: [big.windows[0]!] }, inferenceRepeats: 3, clock: () => (t += 5) });
    expect(run.figures.inferenceNodes).toBe(1000);
    expect(run.figures.inferenceMs1000Nodes).toBe(5);
    expect(run.detector.unseenTopologies).toBeNull();
  });

  test('an ensemble of members, evaluated as the loop confirms: thresholds recalibrated, detection a window later', () => {
    const data = { train: [small(1, 6)], validation: [small(2, 6)], test: [small(3, 6)], healthy: [small(4, 0)], seed: 2, detector: quick, inferenceRepeats: 1, clock: () => 0 };
    const single = trainAndEvaluate(data);
    const run = trainAndEvaluate({ ...data, members: 2, confirmWindows: 2 });
    expect(run.model.members.length).toBe(2);
    expect(run.training.members.length).toBe(2);
    expect(run.scorer).toBeInstanceOf(ConfirmedScorer);
    expect(run.scorer.nodeThreshold).not.toBe(run.model.nodeThreshold);
    expect(run.detector.test.nodeThreshold).toBe(run.scorer.nodeThreshold);
    // A confirmed item was flagged in the window before too, so no fault is caught in its onset window.
    expect(run.figures.detectionDelayMedianMs ?? 2000).toBeGreaterThanOrEqual(2000);
    expect(single.figures.detectionDelayMedianMs).toBe(1000);
    // The model's own per-window scores are reported beside, at its own thresholds.
    expect(single.unconfirmed).toBeNull();
    const raw = run.unconfirmed!;
    expect(raw.reports.test.nodeThreshold).toBe(run.model.nodeThreshold);
    expect(raw.figures.overallF1).toBe(raw.reports.test.overall.pooled.f1);
    expect(raw.figures.greyholeF1).toBe(f1PerFaultType(raw.reports.test)['greyHole'] ?? null);
    expect(raw.figures.falsePositiveRate).toBe(raw.reports.healthy.falsePositiveShare.nodeWindows);
    expectDetectorError(() => trainAndEvaluate({ ...data, confirmWindows: 0 }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'confirmWindows to be an integer');
  });

  test('refuses nothing to time and bad repeat counts', () => {
    const base = { train: [small(1, 6)], validation: [small(2, 6)], seed: 2, detector: quick, clock: () => 0 };
    expectDetectorError(() => trainAndEvaluate({ ...base, test: [], healthy: [] }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'no window to time inference on');
    expectDetectorError(() => trainAndEvaluate({ ...base, test: [], healthy: [], inferenceRepeats: 0 }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'inferenceRepeats to be a positive integer, got 0');
  });
});

describe('figures', () => {
  test('f1PerFaultType reads node items, else link items, else null', () => {
    const binary = (f1: number) => ({ f1 }) as never;
    const report = { perClass: { greyHole: { node: binary(0.9), link: null }, congestion: { node: null, link: binary(0.8) }, flapping: { node: null, link: null } } } as never;
    expect(f1PerFaultType(report)).toStrictEqual({ greyHole: 0.9, congestion: 0.8, flapping: null });
  });

  test('the default clock is performance.now', () => {
    const small = (seed: number, faults: number) => syntheticDataset({ seed, topology: 'geometric', nodes: 12, windows: 16, faults });
    const run = trainAndEvaluate({ train: [small(1, 6)], validation: [small(2, 6)], test: [small(3, 6)], healthy: [small(4, 0)], seed: 3, detector: { hiddenDims: [4], epochsMax: 1, edgeEpochsMax: 1 }, inferenceRepeats: 1, clock: () => 0 });
    expect(run.figures.inferenceMs).toBeGreaterThanOrEqual(0);
  });
});
