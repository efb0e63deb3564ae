import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectorFindings, loadWindowScorer, loopScore, strongestFindings } from '../../src/mapek/detector-findings.js';
import { DetectorEnsemble } from '../../src/mapek/detector-ensemble.js';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { AnomalyDetector, type DetectorOptions } from '../../src/mapek/detector.js';
import { expectDetectorError } from '../mapek/helpers.js';
import { syntheticDataset, syntheticLinkFeatures, syntheticNodeFeatures } from '../mapek/synthetic.js';
import type { Finding } from '../../src/mapek/loop.js';
import { FaultClass } from '../../src/telemetry/types.js';

/**
 * The detector as an analyser of the loop: its scores on the loop's scale, the causes that make
 * node findings, and the merge with the rules' findings.
 */

describe('loopScore', () => {
  it('maps the detector threshold onto the loop threshold, piecewise linearly, keeping 0 and 1', () => {
    expect(loopScore(0.3, 0.3, 0.5)).toBeCloseTo(0.5);
    expect(loopScore(0, 0.3, 0.5)).toBe(0);
    expect(loopScore(1, 0.3, 0.5)).toBe(1);
    expect(loopScore(0.15, 0.3, 0.5)).toBeCloseTo(0.25);
    expect(loopScore(0.65, 0.3, 0.5)).toBeCloseTo(0.75);
    // Out of range scores are clipped, and the order is kept.
    expect(loopScore(1.5, 0.3, 0.5)).toBe(1);
    expect(loopScore(-1, 0.3, 0.5)).toBe(0);
    expect(loopScore(0.31, 0.3, 0.5)).toBeGreaterThan(loopScore(0.29, 0.3, 0.5));
  });

  it('refuses thresholds at or outside 0 and 1, naming both', () => {
    for (const [threshold, loop] of [[0, 0.5], [1, 0.5], [0.3, 0], [Number.NaN, 0.5]] as const) {
      expect(() => loopScore(0.5, threshold, loop)).toThrow(/loopScore: expected thresholds strictly between 0 and 1, got/);
    }
  });
});

describe('detectorFindings', () => {
  const scores = {
    nodeScores: Float32Array.of(0.9, 0.2, Number.NaN, 0.8, 0.7, 0.6),
    linkScores: new Float32Array(0),
    nodeCauses: Uint8Array.of(FaultClass.greyHole, FaultClass.blackHole, FaultClass.greyHole, FaultClass.congestion, FaultClass.cpuExhaustion, FaultClass.healthy),
  };

  it('gives one finding per scored neighbour whose cause is one the rules cannot see, named by its NodeId, on the loop scale', () => {
    const mine = { ...scores, nodeCauses: Uint8Array.of(FaultClass.bogusMetrics, FaultClass.memoryExhaustion, FaultClass.bogusMetrics, FaultClass.congestion, FaultClass.cpuExhaustion, FaultClass.healthy) };
    const findings = detectorFindings(mine, 0.4, [0, 1, 2, 3, 4, 5], (row) => 100 + row);
    expect(findings.map((finding) => [finding.subject, finding.cause])).toEqual([
      [{ kind: 'node', node: 100 }, FaultClass.bogusMetrics],
      [{ kind: 'node', node: 101 }, FaultClass.memoryExhaustion],
      [{ kind: 'node', node: 104 }, FaultClass.cpuExhaustion],
    ]);
    expect(findings[0]!.score).toBeCloseTo(loopScore(0.9, 0.4, 0.5));
    expect(findings[1]!.score).toBeCloseTo(0.25);
    expect(findings[0]!.evidence).toEqual({ detectorScore: expect.closeTo(0.9, 5), detectorThreshold: 0.4 });
  });

  it('leaves grey and black holes to conservation: no finding for those causes', () => {
    expect(detectorFindings(scores, 0.4, [0, 1, 2], (row) => row)).toEqual([]);
  });

  it('gives nothing about rows it was not asked about, or without causes', () => {
    expect(detectorFindings(scores, 0.4, [4], (row) => row)).toHaveLength(1);
    expect(detectorFindings({ nodeScores: scores.nodeScores, linkScores: scores.linkScores }, 0.4, [0, 1], (row) => row)).toEqual([]);
    expect(detectorFindings(scores, 0.4, [17], (row) => row)).toEqual([]);
  });
});

describe('strongestFindings', () => {
  const finding = (subject: Finding['subject'], score: number, cause: Finding['cause'] = FaultClass.greyHole): Finding => ({ subject, cause, score, evidence: {} });

  it('keeps per subject the finding with the highest score, whichever analyser made it', () => {
    const rules = [finding({ kind: 'node', node: 7 }, 0.2), finding({ kind: 'link', from: 1, to: 7 }, 0.6, FaultClass.linkDegradation)];
    const detector = [finding({ kind: 'node', node: 7 }, 0.8, FaultClass.bogusMetrics), finding({ kind: 'node', node: 9 }, 0.1)];
    const merged = strongestFindings(rules, detector);
    expect(merged).toHaveLength(3);
    expect(merged.find((f) => f.subject.kind === 'node' && f.subject.node === 7)).toMatchObject({ score: 0.8, cause: FaultClass.bogusMetrics });
    expect(merged.find((f) => f.subject.kind === 'link')).toMatchObject({ score: 0.6 });
    expect(strongestFindings(detector, rules).find((f) => f.subject.kind === 'node' && f.subject.node === 7)).toMatchObject({ score: 0.8 });
  });
});

describe('loadWindowScorer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'x0t-scorer-'));
  const data = syntheticDataset({ seed: 1, topology: 'geometric', nodes: 12, windows: 8, faults: 3, churn: 0 });
  const quick: DetectorOptions = { seed: 5, hiddenDims: [4], epochsMax: 2, patience: 1, edgeEpochsMax: 1, edgePatience: 1 };
  const schema = { nodeFeatureNames: [...syntheticNodeFeatures], linkFeatureNames: [...syntheticLinkFeatures] };
  const write = (name: string, bytes: Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('loads an ensemble file and a one-model file alike, and they score as the originals', () => {
    const model = AnomalyDetector.train([data], [data], quick).detector;
    const ensemble = DetectorEnsemble.train([data], [data], { ...quick, members: 2 }).ensemble;
    const window = data.windows.at(-1)!;
    for (const [name, original] of [['one.x0d', model], ['two.x0e', ensemble]] as const) {
      const loaded = loadWindowScorer(write(name, original.encode()), schema);
      expect(loaded.nodeThreshold).toBe(original.nodeThreshold);
      expect(loaded.scoreWindow(window, data.windows.slice(-3, -1)).nodeScores).toEqual(original.scoreWindow(window, data.windows.slice(-3, -1)).nodeScores);
    }
  });

  it('refuses a missing file, a file that is no detector, and a model of other features, naming the file', () => {
    const missing = join(dir, 'missing.x0d');
    expectDetectorError(() => loadWindowScorer(missing, schema), DetectorErrorCode.ERR_DETECTOR_READ, missing, 'cannot read the detector file');
    const junk = write('junk.bin', new TextEncoder().encode('definitely not a model'));
    expectDetectorError(() => loadWindowScorer(junk, schema), DetectorErrorCode.ERR_DETECTOR_FORMAT, junk, 'neither X0TDENSB nor X0TDETEC');
    const model = write('other.x0d', AnomalyDetector.train([data], [data], quick).detector.encode());
    expectDetectorError(() => loadWindowScorer(model, { ...schema, nodeFeatureNames: ['cpu'] }), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, model);
    const truncated = write('cut.x0d', AnomalyDetector.train([data], [data], quick).detector.encode().subarray(0, 40));
    expectDetectorError(() => loadWindowScorer(truncated, schema), DetectorErrorCode.ERR_DETECTOR_TRUNCATED, truncated);
  });
});
