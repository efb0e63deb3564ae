/** The GraphSAGE detector: training, scoring, determinism, the file format and its refusals. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { EdgeHead, edgeInputs } from '../../src/mapek/detector-edge.js';
import { DetectorErrorCode, detectorHeaderBytesMax, detectorModelBytesMax, isDetectorError } from '../../src/mapek/detector-errors.js';
import { linkRows, NodeInputBuilder, windowGraph } from '../../src/mapek/detector-features.js';
import { decodeDetector, detectorFormatVersion, detectorMagic } from '../../src/mapek/detector-format.js';
import { faultClassCount, headWidth } from '../../src/mapek/detector-loss.js';
import { prepareWindow, runModel, shuffled, unite, type PreparedWindow } from '../../src/mapek/detector-train.js';
import { Workspace } from '../../src/ml/engine.js';
import { denseFeatures } from '../../src/ml/features.js';
import { AnomalyDetector, detectorDefaults, type DetectorOptions } from '../../src/mapek/detector.js';
import { evaluate } from '../../src/mapek/evaluation.js';
import { encodeModel } from '../../src/ml/format.js';
import { GraphSage } from '../../src/ml/model.js';
import { seededRandom } from '../../src/ml/random.js';
import type { Dataset } from '../../src/telemetry/types.js';
import { expectDetectorError, expectDetectorErrorAsync } from './helpers.js';
import { syntheticDataset, type SyntheticTopology } from './synthetic.js';

const make = (seed: number, topology: SyntheticTopology = 'geometric', faults = 6): Dataset => syntheticDataset({ seed, topology, nodes: 20, windows: 24, faults, churn: 0.01 });
const train = [make(1), make(2, 'preferential'), make(3), make(4, 'preferential')];
const validation = [make(5), make(6, 'preferential')];
const quick: DetectorOptions = { seed: 7, hiddenDims: [8], epochsMax: 10, patience: 3, edgeEpochsMax: 6, edgePatience: 2 };
const { detector, report } = AnomalyDetector.train(train, validation, quick);
const directory = mkdtempSync(join(tmpdir(), 'x0t-detector-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('training', () => {
  test('reports its epochs, keeps the best, and calibrates thresholds on validation windows', () => {
    expect(report.trainWindows).toBe(96);
    expect(report.validationWindows).toBe(48);
    expect(report.nodeEpochs.length).toBeGreaterThan(report.nodeBestEpoch);
    expect(report.nodeEpochs.every((e) => Number.isFinite(e.trainLoss) && Number.isFinite(e.validationLoss))).toBe(true);
    expect(report.nodeEpochs[0]!.validationAveragePrecision).toBeGreaterThan(0);
    expect(report.edgeEpochs.length).toBeGreaterThan(report.edgeBestEpoch);
    expect(detector.nodeThreshold).toBe(report.nodeCalibration.threshold);
    expect(detector.linkThreshold).toBe(report.linkCalibration!.threshold);
    // Even this small model separates the synthetic faults well on validation data.
    expect(report.nodeCalibration.f1).toBeGreaterThan(0.6);
    expect(report.linkCalibration!.f1).toBeGreaterThan(0.6);
  });

  test('the same data and seed give the same detector, byte for byte; another seed another one', () => {
    const again = AnomalyDetector.train(train, validation, quick).detector;
    expect(again.encode()).toStrictEqual(detector.encode());
    const other = AnomalyDetector.train(train, validation, { ...quick, seed: 8, epochsMax: 1, edgeEpochsMax: 1 }).detector;
    expect(other.encode()).not.toStrictEqual(detector.encode());
  });

  test('weighting healthy rows near faults changes training, still deterministically', () => {
    const weighting = { ...quick, epochsMax: 2, edgeEpochsMax: 1, afterFaultWindows: 3, nearFaultHealthyWeight: 4 };
    const weighted = AnomalyDetector.train(train, validation, weighting).detector;
    expect(AnomalyDetector.train(train, validation, weighting).detector.encode()).toStrictEqual(weighted.encode());
    const plain = AnomalyDetector.train(train, validation, { ...weighting, afterFaultWindows: 0, nearFaultHealthyWeight: 1 }).detector;
    expect(weighted.encode()).not.toStrictEqual(plain.encode());
    expectDetectorError(() => AnomalyDetector.train(train, validation, { ...quick, nearFaultHealthyWeight: -1 }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'nearFaultHealthyWeight');
  });

  test('it beats chance on held-out data and names causes', () => {
    const result = evaluate(detector, [make(9), make(10, 'lattice')]);
    expect(result.overall.node!.auroc).toBeGreaterThan(0.9);
    expect(result.overall.link!.auroc).toBeGreaterThan(0.9);
    expect(result.perClass['greyHole']!.causeAccuracy).not.toBeNull();
  });

  test('windows with no node up, validation without faults or links: training still runs, the link threshold stays', () => {
    const downed = make(20);
    const down = { ...downed, windows: downed.windows.map((w) => ({ ...w, alive: new Uint8Array(w.nodeCount) })) };
    const quiet = make(21, 'geometric', 0);
    const linkless = {
      ...quiet,
      windows: quiet.windows.map((w) => ({ ...w, linkFrom: new Int32Array(0), linkTo: new Int32Array(0), linkFeatures: new Float32Array(0), linkLabels: new Uint8Array(0) })),
    };
    const run = AnomalyDetector.train([train[0]!, down], [linkless, down], { ...quick, batchWindows: 1, epochsMax: 2, edgeEpochsMax: 2 });
    expect(run.report.nodeEpochs[0]!.validationAveragePrecision).toBe(0);
    expect(run.report.edgeEpochs[0]!.validationLoss).toBe(0);
    expect(run.report.linkCalibration).toBeNull();
    expect(run.detector.linkThreshold).toBe(0.5);
    expectDetectorError(() => run.detector.calibrated([down], { objective: 'f1' }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'the validation windows hold no node that was up');
    const onlyDown = AnomalyDetector.train([train[0]!], [linkless], { ...quick, epochsMax: 1, edgeEpochsMax: 1 });
    expect(onlyDown.report.nodeEpochs).toHaveLength(1);
  });

  test('refuses what cannot train', () => {
    const argument = DetectorErrorCode.ERR_DETECTOR_ARGUMENT;
    expectDetectorError(() => AnomalyDetector.train([], validation, quick), argument, 'expected training and validation datasets, got 0 and 2');
    expectDetectorError(() => AnomalyDetector.train([make(11, 'geometric', 0)], validation, quick), argument, 'hold no faulty node');
    expectDetectorError(() => AnomalyDetector.train(train, validation, { ...quick, hiddenDims: [] }), argument, 'at least one hidden layer');
    expectDetectorError(() => AnomalyDetector.train(train, validation, { ...quick, dropout: 1 }), argument, 'dropout in [0, 1), got 1');
    expectDetectorError(() => AnomalyDetector.train(train, validation, { ...quick, batchWindows: 0 }), argument, 'batchWindows to be a positive integer, got 0');
    const renamed = { ...validation[0]!, nodeFeatureNames: ['cpu', 'memory', 'queue', 'forwarded', 'churn'] };
    expectDetectorError(() => AnomalyDetector.train(train, [renamed], quick), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'node features');
    expect(detectorDefaults.calibration).toStrictEqual({ objective: 'f1' });
  });
});

describe('scoring', () => {
  const dataset = make(12);
  const scores = detector.scoreDataset(dataset);

  test('one result per window; scores in [0, 1]; NaN for nodes that were down and their links; class scores sum to 1', () => {
    expect(scores).toHaveLength(dataset.windows.length);
    dataset.windows.forEach((window, t) => {
      const s = scores[t]!;
      for (let v = 0; v < window.nodeCount; v++) {
        if (window.alive[v] !== 1) {
          expect(s.nodeScores[v]).toBeNaN();
          expect(s.nodeCauses[v]).toBe(0);
          continue;
        }
        expect(s.nodeScores[v]).toBeGreaterThanOrEqual(0);
        expect(s.nodeScores[v]).toBeLessThanOrEqual(1);
        const row = s.nodeClassScores.subarray(v * faultClassCount, (v + 1) * faultClassCount);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(s.nodeCauses[v]).toBe(1 + row.indexOf(Math.max(...row)));
      }
      expect(s.linkScores).toHaveLength(window.linkFrom.length);
      expect(s.linkClassScores).toHaveLength(window.linkFrom.length * faultClassCount);
    });
  });

  test('scoreWindow with the previous windows gives exactly scoreDataset\'s result', () => {
    const t = 10;
    const single = detector.scoreWindow(dataset.windows[t]!, dataset.windows.slice(0, t));
    expect(single.nodeScores).toStrictEqual(scores[t]!.nodeScores);
    expect(single.linkScores).toStrictEqual(scores[t]!.linkScores);
    expect(detector.scoreWindow(dataset.windows[0]!).nodeScores).toStrictEqual(scores[0]!.nodeScores);
  });

  test('a window with no node up scores nothing', () => {
    const window = dataset.windows[0]!;
    const down = { ...window, alive: new Uint8Array(window.nodeCount) };
    const result = detector.scoreWindow(down);
    expect([...result.nodeScores].every(Number.isNaN)).toBe(true);
    expect([...result.linkScores].every(Number.isNaN)).toBe(true);
  });

  test('refuses data with other feature names, and malformed windows or history', () => {
    const renamed = { ...dataset, linkFeatureNames: ['loss', 'rtt', 'jitter', 'delivery', 'queueDrops'] };
    expectDetectorError(() => detector.scoreDataset(renamed), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'AnomalyDetector.scoreDataset: synthetic-geometric/12: link features');
    const broken = { ...dataset.windows[1]!, alive: new Uint8Array(3) };
    expectDetectorError(() => detector.scoreWindow(broken), DetectorErrorCode.ERR_DETECTOR_INPUT, 'AnomalyDetector.scoreWindow: expected alive of length 20');
    expectDetectorError(() => detector.scoreWindow(dataset.windows[2]!, [broken]), DetectorErrorCode.ERR_DETECTOR_INPUT, 'history[0]');
  });

  test('withThresholds changes only the thresholds', () => {
    const moved = detector.withThresholds(0.25, 0.75);
    expect([moved.nodeThreshold, moved.linkThreshold]).toStrictEqual([0.25, 0.75]);
    expect(moved.scoreWindow(dataset.windows[3]!).nodeScores).toStrictEqual(detector.scoreWindow(dataset.windows[3]!).nodeScores);
    expectDetectorError(() => detector.withThresholds(Number.NaN, 0.5), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'finite thresholds');
  });
});

describe('parts', () => {
  test('unite stacks windows block-diagonally', () => {
    const a = { graph: { nodes: Int32Array.from([0, 1]), graph: { nodeCount: 2, offsets: Int32Array.from([0, 1, 2]), neighbours: Int32Array.from([1, 0]) } }, input: Float32Array.from([1, 2]), labels: Uint8Array.from([0, 1]) };
    const b = { graph: { nodes: Int32Array.from([5]), graph: { nodeCount: 1, offsets: Int32Array.from([0, 0]), neighbours: new Int32Array(0) } }, input: Float32Array.from([3]), labels: Uint8Array.from([2]) };
    const united = unite([a, b, a] as unknown as PreparedWindow[], 1);
    expect([...united.graph.offsets]).toStrictEqual([0, 1, 2, 2, 3, 4]);
    expect([...united.graph.neighbours]).toStrictEqual([1, 0, 4, 3]);
    expect([...united.features.values]).toStrictEqual([1, 2, 3, 1, 2]);
    expect([...united.labels]).toStrictEqual([0, 1, 2, 0, 1]);
    expect(united.rowWeights).toBeNull();
    // Row weights where a window has them, 1 for the rows of windows without.
    const weighted = unite([a, { ...b, rowWeights: Float32Array.from([0]) }] as unknown as PreparedWindow[], 1);
    expect([...weighted.rowWeights!]).toStrictEqual([1, 1, 0]);
  });

  test('shuffled is a seeded permutation', () => {
    const order = shuffled(10, seededRandom(1));
    expect([...order].sort((x, y) => x - y)).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffled(10, seededRandom(1))).toStrictEqual(order);
  });

  test('edge inputs: both ends\' hidden rows, then the link\'s features; the edge head is linear', () => {
    const graph = windowGraph({ startMs: 0, endMs: 1, nodeCount: 2, alive: Uint8Array.from([1, 1]), linkFrom: Int32Array.from([1]), linkTo: Int32Array.from([0]), nodeFeatures: new Float32Array(0), linkFeatures: Float32Array.from([9]), nodeLabels: new Uint8Array(2), linkLabels: new Uint8Array(1) });
    const inputs = edgeInputs(Float32Array.from([1, 2, 3, 4]), 2, graph, Float32Array.from([9]), 1);
    expect([...inputs]).toStrictEqual([3, 4, 1, 2, 9]);
    const head = new EdgeHead(1, new Float32Array(EdgeHead.parameterCount(1)));
    head.weight.fill(2);
    head.bias.fill(1);
    expect([...head.logits(Float32Array.from([3]), 1)]).toStrictEqual(new Array<number>(headWidth).fill(7));
  });

  test('linkLogits (inference) equals logits of the built edge inputs up to rounding', () => {
    const dataset = make(13);
    const window = dataset.windows[4]!;
    const prepared = prepareWindow(new NodeInputBuilder(detector.schema, detector.deltaLags), detector.nodeStandardizer, window, dataset.windows.slice(3, 4));
    const rows = prepared.graph.nodes.length;
    const { hidden } = runModel(detector.model, prepared.graph.graph, denseFeatures(rows, detector.model.config.inputDim, prepared.input), new Workspace());
    const links = detector.linkStandardizer.apply(linkRows(window, prepared.graph, 5));
    const fast = detector.edgeHead.linkLogits(hidden, detector.hiddenDim, prepared.graph, links, 5);
    const slow = detector.edgeHead.logits(edgeInputs(hidden, detector.hiddenDim, prepared.graph, links, 5), prepared.graph.links.length);
    expect(fast.length).toBe(slow.length);
    expect(fast.length).toBeGreaterThan(0);
    fast.forEach((x, i) => expect(x).toBeCloseTo(slow[i]!, 4));
  });
});

describe('file', () => {
  const bytes = detector.encode();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const headerLength = view.getUint32(12, true);
  const headerText = new TextDecoder().decode(bytes.subarray(20, 20 + headerLength));
  const modelBytes = bytes.subarray(20 + headerLength, bytes.length - 32);

  /** A file with this header and model, lengths and hash made right (so only the content is wrong). */
  const sealed = (header: string, model: Uint8Array = modelBytes, version = detectorFormatVersion): Uint8Array => {
    const text = new TextEncoder().encode(header);
    const body = new Uint8Array(20 + text.length + model.length);
    body.set(detectorMagic);
    const v = new DataView(body.buffer);
    v.setUint16(8, version, true);
    v.setUint32(12, text.length, true);
    v.setUint32(16, model.length, true);
    body.set(text, 20);
    body.set(model, 20 + text.length);
    const out = new Uint8Array(body.length + 32);
    out.set(body);
    out.set(createHash('sha256').update(body).digest(), body.length);
    return out;
  };
  const header = (): Record<string, unknown> => JSON.parse(headerText) as Record<string, unknown>;
  const format = DetectorErrorCode.ERR_DETECTOR_FORMAT;

  test('round trip: same bytes, same scores, same names', () => {
    expect(headerText.startsWith('{"format":"x0tta6bl4/anomaly-detector","nodeFeatureNames":["cpu","memory","queue","forwarded","routeChanges"]')).toBe(true);
    const decoded = AnomalyDetector.decode(bytes, train[0]!);
    expect(decoded.encode()).toStrictEqual(bytes);
    const window = train[0]!.windows[5]!;
    expect(decoded.scoreWindow(window, train[0]!.windows.slice(0, 5))).toStrictEqual(detector.scoreWindow(window, train[0]!.windows.slice(0, 5)));
    expect(sealed(headerText)).toStrictEqual(bytes);
  });

  test('save and load, refusing a model trained on other features', async () => {
    const path = join(directory, 'detector.bin');
    await detector.save(path);
    expect((await AnomalyDetector.load(path)).encode()).toStrictEqual(bytes);
    const other = { nodeFeatureNames: ['cpu', 'memory'], linkFeatureNames: ['loss'] };
    await expectDetectorErrorAsync(AnomalyDetector.load(path, other), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'decodeDetector: node features ["cpu","memory"] differ from the model\'s');
    await expectDetectorErrorAsync(AnomalyDetector.load(join(directory, 'missing.bin')), DetectorErrorCode.ERR_DETECTOR_READ, 'cannot read');
    const huge = join(directory, 'huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, 20 + detectorHeaderBytesMax + detectorModelBytesMax + 33);
    await expectDetectorErrorAsync(AnomalyDetector.load(huge), format, 'more than any detector file');
  });

  test('envelope refusals: magic, truncation, version, reserved, lengths, trailing bytes, hash', () => {
    const copy = (): Uint8Array => bytes.slice();
    const foreign = copy();
    foreign[0] = 0x41;
    expectDetectorError(() => decodeDetector(foreign), format, 'not a detector file');
    expectDetectorError(() => decodeDetector(bytes.subarray(0, 5)), DetectorErrorCode.ERR_DETECTOR_TRUNCATED, 'fewer than the 20-byte prefix');
    for (const cut of [20, 100, bytes.length - 1]) expectDetectorError(() => decodeDetector(bytes.subarray(0, cut)), DetectorErrorCode.ERR_DETECTOR_TRUNCATED, `truncated: ${cut} bytes`);
    expectDetectorError(() => decodeDetector(sealed(headerText, modelBytes, 2)), DetectorErrorCode.ERR_DETECTOR_VERSION, 'format version 2, this code reads version 1');
    const reserved = copy();
    reserved[10] = 1;
    expectDetectorError(() => decodeDetector(reserved), format, 'reserved field is not 0');
    const longHeader = copy();
    new DataView(longHeader.buffer).setUint32(12, detectorHeaderBytesMax + 1, true);
    expectDetectorError(() => decodeDetector(longHeader), format, 'exceeds');
    const longModel = copy();
    new DataView(longModel.buffer).setUint32(16, detectorModelBytesMax + 1, true);
    expectDetectorError(() => decodeDetector(longModel), format, 'model of');
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expectDetectorError(() => decodeDetector(trailing), format, '1 trailing bytes');
    const altered = copy();
    altered[30]! ^= 1;
    expectDetectorError(() => decodeDetector(altered), DetectorErrorCode.ERR_DETECTOR_HASH, 'SHA-256 mismatch');
  });

  test('header refusals: every field checked, and only the canonical form accepted', () => {
    const withHeader = (patch: Record<string, unknown>): Uint8Array => sealed(JSON.stringify({ ...header(), ...patch }));
    expectDetectorError(() => decodeDetector(sealed('{"format":')), format, 'header is not JSON');
    expectDetectorError(() => decodeDetector(sealed('[]')), format, 'header is not a JSON object');
    const invalidUtf8 = sealed('{}');
    invalidUtf8[20] = 0xff;
    const resealed = sealed(new TextDecoder().decode(invalidUtf8.subarray(20, 22)));
    resealed[20] = 0xff;
    const body = resealed.subarray(0, resealed.length - 32);
    resealed.set(createHash('sha256').update(body).digest(), body.length);
    expectDetectorError(() => decodeDetector(resealed), format, 'header is not UTF-8');
    expectDetectorError(() => decodeDetector(withHeader({ format: 'other' })), format, 'header format is "other"');
    expectDetectorError(() => decodeDetector(withHeader({ nodeFeatureNames: ['cpu', 'cpu'] })), format, 'named twice');
    expectDetectorError(() => decodeDetector(withHeader({ deltaLags: 9 })), format, 'header.deltaLags is 9');
    expectDetectorError(() => decodeDetector(withHeader({ faultClasses: ['healthy'] })), format, 'header.faultClasses ["healthy"] differ');
    expectDetectorError(() => decodeDetector(withHeader({ deltaLags: 0 })), format, 'embedded model has inputDim');
    expectDetectorError(() => decodeDetector(withHeader({ standardization: { node: {}, link: {} } })), format, 'header.standardization.node.mean must be an array of');
    const standardization = header()['standardization'] as { node: { mean: number[]; scale: number[] }; link: unknown };
    const zeroScale = { ...standardization, node: { ...standardization.node, scale: standardization.node.scale.map((x, i) => (i === 2 ? 0 : x)) } };
    expectDetectorError(() => decodeDetector(withHeader({ standardization: zeroScale })), format, 'header.standardization.node.scale[2] is 0, expected a finite positive number');
    const textMean = { ...standardization, node: { ...standardization.node, mean: standardization.node.mean.map((x, i) => (i === 1 ? 'x' : x)) } };
    expectDetectorError(() => decodeDetector(withHeader({ standardization: textMean })), format, 'header.standardization.node.mean[1] is "x"');
    expectDetectorError(() => decodeDetector(withHeader({ standardization: 1 })), format, 'header.standardization is not a JSON object');
    expectDetectorError(() => decodeDetector(withHeader({ thresholds: { node: 'high', link: 0.5 } })), format, 'header.thresholds.node is "high"');
    expectDetectorError(() => decodeDetector(withHeader({ edgeHead: { inputDim: 1, parameters: [] } })), format, 'header.edgeHead.parameters must be an array of');
    expectDetectorError(() => decodeDetector(sealed(JSON.stringify(header(), null, 1))), format, 'not in canonical form');
    const thresholds = header()['thresholds'] as { node: number; link: number };
    expectDetectorError(() => decodeDetector(withHeader({ thresholds: { link: thresholds.link, node: thresholds.node } })), format, 'not in canonical form');
  });

  test('the embedded model must decode and fit the header', () => {
    const damaged = modelBytes.slice();
    damaged[damaged.length - 1]! ^= 1;
    expectDetectorError(() => decodeDetector(sealed(headerText, damaged)), DetectorErrorCode.ERR_DETECTOR_FORMAT, 'embedded model: decodeModel: SHA-256 mismatch');
    const inputDim = detector.model.config.inputDim;
    const shallow = GraphSage.create({ inputDim, hiddenDims: [], outputDim: headWidth, head: 'sigmoid', l2Normalize: false }, seededRandom(1));
    expectDetectorError(() => decodeDetector(sealed(headerText, encodeModel(shallow))), DetectorErrorCode.ERR_DETECTOR_FORMAT, '0 hidden layers');
    const error = (() => {
      try {
        decodeDetector(sealed(headerText, encodeModel(shallow)));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(isDetectorError(error, DetectorErrorCode.ERR_DETECTOR_FORMAT)).toBe(true);
    expect(isDetectorError(error, DetectorErrorCode.ERR_DETECTOR_HASH)).toBe(false);
    expect(isDetectorError(new Error('x'))).toBe(false);
  });
});
