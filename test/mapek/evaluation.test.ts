/** Evaluation of a scorer: every figure of a small hand-scored dataset checked by hand. */
import { describe, expect, test } from 'vitest';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { calibrationItems, collectItems, evaluate, evaluateScored, scoreAll, type Scorer, type WindowScores } from '../../src/mapek/evaluation.js';
import type { Dataset, DatasetFault } from '../../src/telemetry/types.js';
import { datasetOf, expectDetectorError, windowOf } from './helpers.js';

const node = [0.1, 0.1];
const link = (from: number, to: number): [number, number, number, number] => [from, to, 0, 0];
// Node 2 is a grey hole in windows 1-2, node 0 has CPU exhaustion in window 3 (node 1 is down
// then); the link 0 - 1 is congested in window 2 (both directions).
const windows = [
  windowOf({ index: 0, nodes: [node, node, node], links: [link(0, 1), link(1, 0)] }),
  windowOf({ index: 1, nodes: [node, node, node], links: [link(0, 1), link(1, 0)], nodeLabels: [0, 0, 1] }),
  windowOf({ index: 2, nodes: [node, node, node], links: [link(0, 1), link(1, 0)], nodeLabels: [0, 0, 1], linkLabels: [5, 5] }),
  windowOf({ index: 3, nodes: [node, node, node], links: [], alive: [1, 0, 1], nodeLabels: [6, 0, 0] }),
];
const dataset = datasetOf(windows);
const scores: WindowScores[] = [
  { nodeScores: Float32Array.from([0.1, 0.2, 0.3]), linkScores: Float32Array.from([0.1, 0.1]), nodeCauses: new Uint8Array(3) },
  { nodeScores: Float32Array.from([0.6, 0.1, 0.4]), linkScores: Float32Array.from([0.2, 0.6]), nodeCauses: new Uint8Array(3) },
  { nodeScores: Float32Array.from([0.2, 0.3, 0.9]), linkScores: Float32Array.from([0.8, 0.4]), nodeCauses: Uint8Array.from([0, 0, 1]) },
  { nodeScores: Float32Array.from([0.7, Number.NaN, 0.2]), linkScores: new Float32Array(0), nodeCauses: Uint8Array.from([7, 0, 0]) },
];

class FixedScorer implements Scorer {
  readonly name = 'fixed';
  readonly nodeThreshold = 0.5;
  readonly linkThreshold = 0.5;
  constructor(private readonly byDataset: Map<Dataset, readonly WindowScores[]>) {}
  scoreDataset(d: Dataset): readonly WindowScores[] {
    return this.byDataset.get(d)!;
  }
}

const f = (x: number): number => Math.fround(x);

describe('evaluate', () => {
  const report = evaluate(new FixedScorer(new Map([[dataset, scores]])), [dataset]);

  test('overall node and link measures, pooled F1, false-positive share', () => {
    expect(report).toMatchObject({ scorer: 'fixed', datasets: 1, windows: 4, nodeThreshold: 0.5, linkThreshold: 0.5, nodeWindows: 11, linkWindows: 6, unscoredNodeWindows: 0, unscoredLinkWindows: 0 });
    expect(report.overall.node).toStrictEqual({
      positives: 3, negatives: 8, truePositives: 2, falsePositives: 1, trueNegatives: 7, falseNegatives: 1,
      precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, falsePositiveRate: 1 / 8, auroc: 23 / 24,
    });
    expect(report.overall.link).toMatchObject({ positives: 2, negatives: 4, truePositives: 1, falsePositives: 1, precision: 0.5, recall: 0.5, f1: 0.5, falsePositiveRate: 0.25, auroc: 7 / 8 });
    expect(report.overall.pooled).toStrictEqual({ truePositives: 3, falsePositives: 2, trueNegatives: 10, falseNegatives: 2, precision: 0.6, recall: 0.6, f1: 0.6 });
    expect(report.falsePositiveShare).toStrictEqual({ nodeWindows: 1 / 8, linkWindows: 0.25 });
  });

  test('per fault class, against healthy items only, with cause accuracy', () => {
    expect(Object.keys(report.perClass)).toStrictEqual(['greyHole', 'congestion', 'cpuExhaustion']);
    const grey = report.perClass['greyHole']!;
    expect(grey.node).toMatchObject({ positives: 2, negatives: 8, truePositives: 1, falsePositives: 1, falseNegatives: 1, f1: 0.5, auroc: 15 / 16 });
    expect(grey.link).toBeNull();
    expect(grey.causeAccuracy).toBe(1);
    const cpu = report.perClass['cpuExhaustion']!;
    expect(cpu.node).toMatchObject({ positives: 1, truePositives: 1, falsePositives: 1, precision: 0.5, recall: 1, f1: 2 / 3, auroc: 1 });
    expect(cpu.causeAccuracy).toBe(0);
    const congestion = report.perClass['congestion']!;
    expect(congestion.node).toBeNull();
    expect(congestion.link).toMatchObject({ positives: 2, f1: 0.5 });
    expect(congestion.causeAccuracy).toBeNull(); // the scorer names no link causes
  });

  test('per fault class with attribution: a hit must name the class as its cause', () => {
    // Grey hole: flagged at t2 with cause 1 (hit), missed at t1; the flagged healthy node at t1 names no cause.
    expect(report.perClass['greyHole']!.attributed).toStrictEqual({ truePositives: 1, falsePositives: 0, trueNegatives: 15, falseNegatives: 1, precision: 1, recall: 0.5, f1: 2 / 3 });
    // CPU exhaustion: flagged at t3 but blamed on memory: a miss for CPU, a false positive for memory.
    expect(report.perClass['cpuExhaustion']!.attributed).toMatchObject({ truePositives: 0, falsePositives: 0, falseNegatives: 1, f1: 0 });
    expect(report.perClass['congestion']!.attributed).toMatchObject({ truePositives: 0, falseNegatives: 2 });
    const blind = evaluateScored({ name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 }, [{ dataset, scores: scores.map(({ nodeScores, linkScores }) => ({ nodeScores, linkScores })) }]);
    expect(blind.perClass['greyHole']!.attributed).toBeNull();
  });

  test('detection delay from label episodes: onset window start to the end of the first flagged window', () => {
    expect(report.perClass['greyHole']!.delay).toStrictEqual({ episodes: 1, detected: 1, detectedShare: 1, meanMs: 2000, medianMs: 2000, p95Ms: 2000, maxMs: 2000, meanWindows: 1 });
    expect(report.perClass['congestion']!.delay).toMatchObject({ episodes: 2, detected: 1, detectedShare: 0.5, meanMs: 1000 });
    expect(report.delay).toStrictEqual({ episodes: 4, detected: 3, detectedShare: 0.75, meanMs: 4000 / 3, medianMs: 1000, p95Ms: 2000, maxMs: 2000, meanWindows: 1 / 3 });
  });

  test('detection delay from a dataset\'s fault list: from the fault\'s startMs; a missed fault counts', () => {
    const faults: DatasetFault[] = [
      { kind: 'greyHole', faultClass: 1, nodes: [2], links: [], startMs: 1500, endMs: 3000 },
      { kind: 'congestion', faultClass: 5, nodes: [], links: [[1, 0]], startMs: 2000, endMs: 3000 },
      { kind: 'cpu', faultClass: 6, nodes: [1], links: [], startMs: 0, endMs: 1000 },
    ];
    const labelled = { ...dataset, faults };
    const withFaults = evaluate(new FixedScorer(new Map([[labelled as Dataset, scores]])), [labelled]);
    expect(withFaults.perClass['greyHole']!.delay).toMatchObject({ episodes: 1, detected: 1, meanMs: 1500, meanWindows: 1 });
    expect(withFaults.perClass['congestion']!.delay).toMatchObject({ episodes: 1, detected: 1, meanMs: 1000, meanWindows: 0 });
    expect(withFaults.perClass['cpuExhaustion']!.delay).toMatchObject({ episodes: 1, detected: 0, detectedShare: 0, meanMs: null, medianMs: null, p95Ms: null, maxMs: null, meanWindows: null });
    expect(withFaults.delay).toMatchObject({ episodes: 3, detected: 2 });
  });

  test('thresholds can be overridden; no items of a kind gives null reports', () => {
    const strict = evaluateScored({ name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 }, [{ dataset, scores }], { nodeThreshold: 0.95, linkThreshold: 0.95 });
    expect(strict.overall.node!.truePositives).toBe(0);
    expect(strict.overall.link!.truePositives).toBe(0);
    const healthy = datasetOf([windows[0]!]);
    const quiet = evaluateScored({ name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 }, [{ dataset: healthy, scores: [scores[0]!] }]);
    expect(quiet.overall.node).toBeNull();
    expect(quiet.overall.link).toBeNull();
    expect(quiet.perClass).toStrictEqual({});
    expect(quiet.delay).toMatchObject({ episodes: 0, detected: 0, detectedShare: null });
    expect(quiet.falsePositiveShare).toStrictEqual({ nodeWindows: 0, linkWindows: 0 });
    // An item that was up but left unscored (NaN) is counted apart and not measured.
    const declined = { nodeScores: Float32Array.from([Number.NaN, 0.2, 0.3]), linkScores: Float32Array.from([Number.NaN, 0.1]) };
    const partial = evaluateScored({ name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 }, [{ dataset: healthy, scores: [declined] }]);
    expect(partial).toMatchObject({ nodeWindows: 2, linkWindows: 1, unscoredNodeWindows: 1, unscoredLinkWindows: 1 });
    const empty = evaluateScored({ name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 }, []);
    expect(empty.falsePositiveShare).toStrictEqual({ nodeWindows: null, linkWindows: null });
  });

  test('AUROC is null when there are no healthy items to rank against', () => {
    const allFaulty = datasetOf([windowOf({ nodes: [node], links: [], nodeLabels: [1] })]);
    const onlyFaulty = evaluateScored({ name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 }, [{ dataset: allFaulty, scores: [{ nodeScores: Float32Array.from([0.9]), linkScores: new Float32Array(0) }] }]);
    expect(onlyFaulty.overall.node).toMatchObject({ positives: 1, negatives: 0, auroc: null, f1: 1 });
  });

  test('the report is plain data: it survives JSON', () => {
    expect(JSON.parse(JSON.stringify(report))).toStrictEqual(report);
  });

  test('scoreAll and collectItems', () => {
    const scored = scoreAll(new FixedScorer(new Map([[dataset, scores]])), [dataset]);
    expect(scored[0]!.scores).toBe(scores);
    const items = calibrationItems();
    collectItems(windows[3]!, scores[3]!, items);
    expect(items).toStrictEqual({ nodeScores: [f(0.7), f(0.2)], nodeLabels: [1, 0], nodeClasses: [6, 0], linkScores: [], linkLabels: [], linkClasses: [] });
    collectItems(windows[2]!, { ...scores[2]!, linkScores: Float32Array.from([Number.NaN, 0.25]) }, items);
    expect(items.linkScores).toStrictEqual([0.25]);
    expect(items.linkLabels).toStrictEqual([1]);
    expect(items.linkClasses).toStrictEqual([5]);
  });
});

describe('refusals', () => {
  test('scores that do not fit the dataset are refused, naming scorer, dataset and window', () => {
    const scorer = { name: 'fixed', nodeThreshold: 0.5, linkThreshold: 0.5 };
    expectDetectorError(() => evaluateScored(scorer, [{ dataset, scores: scores.slice(1) }]), DetectorErrorCode.ERR_DETECTOR_INPUT, 'evaluate: fixed on hand/1: expected 4 window scores, got 3');
    const shortNodes = scores.map((s, t) => (t === 2 ? { ...s, nodeScores: new Float32Array(2) } : s));
    expectDetectorError(() => evaluateScored(scorer, [{ dataset, scores: shortNodes }]), DetectorErrorCode.ERR_DETECTOR_INPUT, 'window 2: expected 3 node scores, got 2');
    const shortLinks = scores.map((s, t) => (t === 1 ? { ...s, linkScores: new Float32Array(1) } : s));
    expectDetectorError(() => evaluateScored(scorer, [{ dataset, scores: shortLinks }]), DetectorErrorCode.ERR_DETECTOR_INPUT, 'window 1: expected 2 link scores, got 1');
  });
});
