/** The rule and z-score baselines: hand-checked scores, causes, history handling, calibration and refusals. */
import { describe, expect, test } from 'vitest';
import { RuleBaseline, ruleLimits, ZScoreBaseline } from '../../src/mapek/baselines.js';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { FaultClass } from '../../src/telemetry/types.js';
import { datasetOf, expectDetectorError, tinySchema, windowOf } from './helpers.js';

const ratio = (r: number): number => Math.fround(r / (1 + r));

describe('RuleBaseline', () => {
  // cpu over 90 %, memory over 85 %, a lossy link (10 %) between 2 and 3, node 4 down.
  const window = windowOf({
    nodes: [[0.95, 0.5], [0.5, 0.9], [0.45, 0.425], [0.1, 0.1], [0.99, 0.99]],
    alive: [1, 1, 1, 1, 0],
    links: [
      [2, 3, 0.1, 0],
      [3, 2, 0.01, 0],
      [3, 4, 0.5, 0],
    ],
  });
  const [scores] = new RuleBaseline().scoreDataset(datasetOf([window]));

  test('node score r / (1 + r) for the largest of cpu / 0.9, memory / 0.85, loss / 0.05 on any of its links', () => {
    expect(ruleLimits).toStrictEqual({ cpuMax: 0.9, memoryMax: 0.85, lossMax: 0.05 });
    expect(scores!.nodeScores[0]).toBeCloseTo(ratio(0.95 / 0.9), 6);
    expect(scores!.nodeScores[1]).toBeCloseTo(ratio(0.9 / 0.85), 6);
    expect(scores!.nodeScores[2]).toBeCloseTo(2 / 3, 6);
    expect(scores!.nodeScores[3]).toBeCloseTo(2 / 3, 6);
    expect(scores!.nodeScores[4]).toBeNaN();
    expect([...scores!.nodeCauses!]).toStrictEqual([FaultClass.cpuExhaustion, FaultClass.memoryExhaustion, FaultClass.linkDegradation, FaultClass.linkDegradation, 0]);
  });

  test('link score from its loss alone; links to a down node are not scored', () => {
    expect(scores!.linkScores[0]).toBeCloseTo(2 / 3, 6);
    expect(scores!.linkScores[1]).toBeCloseTo(0.2 / 1.2, 6);
    expect(scores!.linkScores[2]).toBeNaN();
    expect([...scores!.linkCauses!]).toStrictEqual([FaultClass.linkDegradation, 0, 0]);
  });

  test('the threshold 0.5 is exactly the rule', () => {
    const rules = new RuleBaseline();
    expect([rules.nodeThreshold, rules.linkThreshold]).toStrictEqual([0.5, 0.5]);
    const flagged = [...scores!.nodeScores].map((s) => s >= rules.nodeThreshold);
    expect(flagged).toStrictEqual([true, true, true, true, false]);
    const calm = new RuleBaseline().scoreDataset(datasetOf([windowOf({ nodes: [[0.89, 0.84]], links: [] })]));
    expect(calm[0]!.nodeScores[0]! < 0.5).toBe(true);
  });

  test('refuses data without the required features', () => {
    const schema = { nodeFeatureNames: ['cpu', 'mem'], linkFeatureNames: ['loss', 'rtt'] };
    expectDetectorError(() => new RuleBaseline().scoreDataset(datasetOf([window], schema)), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'the node features ["cpu","mem"] lack the required "memory"');
    const noLoss = { nodeFeatureNames: ['cpu', 'memory'], linkFeatureNames: ['drop', 'rtt'] };
    expectDetectorError(() => new RuleBaseline().scoreDataset(datasetOf([window], noLoss)), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'lack the required "loss"');
  });
});

describe('ZScoreBaseline', () => {
  // One node with a link to a second, quiet node; node 0's CPU: 0.50, 0.52, 0.48, 0.80.
  const cpu = [0.5, 0.52, 0.48, 0.8];
  const series = (alive: number[][] = cpu.map(() => [1, 1])) =>
    datasetOf(cpu.map((c, t) => windowOf({ index: t, nodes: [[c, 0.3], [0.2, 0.2]], links: [[0, 1, t === 3 ? 0.4 : 0.01, 0.1]], alive: alive[t]! })));

  test('z against the node\'s own previous K windows, max over features, score z / (1 + z); too little history scores 0', () => {
    const baseline = new ZScoreBaseline({ historyWindows: 3, historyMin: 2, scaleFloor: 0.01 }, 0.5, 0.5);
    const scores = baseline.scoreDataset(series());
    expect(scores[0]!.nodeScores[0]).toBe(0);
    expect(scores[1]!.nodeScores[0]).toBe(0);
    // Window 2: history 0.50, 0.52 (mean 0.51, std 0.01): z = 3.
    expect(scores[2]!.nodeScores[0]).toBeCloseTo(0.75, 3);
    // Window 3: history 0.50, 0.52, 0.48 (mean 0.50, std 0.01633): z = 18.37; the link's loss jumps too, but node 0's in/out loss columns give the same z as cpu or less.
    const z3 = 0.3 / Math.sqrt(0.0008 / 3);
    expect(scores[3]!.nodeScores[0]).toBeGreaterThanOrEqual(ratio(z3) - 1e-4);
    // The link: loss 0.01 three times (std 0 -> floor 0.01), then 0.4: z = 39.
    expect(scores[3]!.linkScores[0]).toBeCloseTo(ratio(39), 3);
    expect(scores[2]!.linkScores[0]).toBeCloseTo(0, 3);
  });

  test('windows in which the node was down are skipped in its history, and it is not scored then', () => {
    const baseline = new ZScoreBaseline({ historyWindows: 3, historyMin: 2, scaleFloor: 0.01 }, 0.5, 0.5);
    const scores = baseline.scoreDataset(series([[1, 1], [1, 1], [0, 1], [1, 1]]));
    expect(scores[2]!.nodeScores[0]).toBeNaN();
    expect(scores[2]!.linkScores[0]).toBeNaN();
    // Window 3 compares with 0.50 and 0.52 only: z = (0.80 - 0.51) / 0.01 = 29.
    expect(scores[3]!.nodeScores[0]).toBeGreaterThanOrEqual(ratio(29) - 1e-3);
  });

  test('calibrate chooses thresholds on validation data that separate a fault from noise', () => {
    const labelled = series();
    const faulty = { ...labelled, windows: labelled.windows.map((w, t) => (t === 3 ? { ...w, nodeLabels: Uint8Array.from([6, 0]), linkLabels: Uint8Array.from([3]) } : w)) };
    const baseline = ZScoreBaseline.calibrate([faulty], { historyWindows: 3, historyMin: 2 });
    expect(baseline.name).toBe('zscore');
    expect(baseline.nodeThreshold).toBeGreaterThan(0.75);
    expect(baseline.nodeThreshold).toBeLessThan(ratio(18));
    expect(baseline.linkThreshold).toBeGreaterThan(0);
    expect(baseline.linkThreshold).toBeLessThan(ratio(39));
    expect(baseline.options).toStrictEqual({ historyWindows: 3, historyMin: 2, scaleFloor: 0.01 });
    const defaults = ZScoreBaseline.calibrate([]);
    expect([defaults.nodeThreshold, defaults.linkThreshold]).toStrictEqual([0.5, 0.5]);
    expect(defaults.options).toStrictEqual({ historyWindows: 10, historyMin: 3, scaleFloor: 0.01 });
  });

  test('refuses settings out of range and malformed data', () => {
    expectDetectorError(() => new ZScoreBaseline({ historyWindows: 0 }, 0.5, 0.5), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, '1 <= historyMin <= historyWindows <= 256');
    expectDetectorError(() => new ZScoreBaseline({ historyWindows: 2, historyMin: 3 }, 0.5, 0.5), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'got 3 and 2');
    expectDetectorError(() => new ZScoreBaseline({ scaleFloor: 0 }, 0.5, 0.5), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'scaleFloor > 0, got 0');
    const broken = datasetOf([{ ...windowOf({ nodes: [[0, 0]], links: [] }), nodeCount: 2 }], tinySchema);
    expectDetectorError(() => new ZScoreBaseline({}, 0.5, 0.5).scoreDataset(broken), DetectorErrorCode.ERR_DETECTOR_INPUT, 'ZScoreBaseline');
  });
});
