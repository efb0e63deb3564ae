/** The detector ensemble: training, averaging, shared preparation, the file format and its refusals. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeEnsemble, encodeEnsemble, ensembleBytesMax, ensembleFormatVersion, ensembleMagic, ensembleMembersMax } from '../../src/mapek/detector-ensemble-format.js';
import { DetectorEnsemble } from '../../src/mapek/detector-ensemble.js';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { AnomalyDetector, type DetectorOptions } from '../../src/mapek/detector.js';
import { evaluate } from '../../src/mapek/evaluation.js';
import type { Dataset } from '../../src/telemetry/types.js';
import { expectDetectorError, expectDetectorErrorAsync } from './helpers.js';
import { syntheticDataset, type SyntheticTopology } from './synthetic.js';

const make = (seed: number, topology: SyntheticTopology = 'geometric'): Dataset => syntheticDataset({ seed, topology, nodes: 16, windows: 16, faults: 5, churn: 0.01 });
const train = [make(1), make(2, 'preferential')];
const validation = [make(3), make(4, 'preferential')];
const quick: DetectorOptions = { seed: 11, hiddenDims: [6], epochsMax: 4, patience: 2, edgeEpochsMax: 3, edgePatience: 1 };
const { ensemble, report } = DetectorEnsemble.train(train, validation, { ...quick, members: 2 });
const [first, second] = ensemble.members as [AnomalyDetector, AnomalyDetector];
const directory = mkdtempSync(join(tmpdir(), 'x0t-ensemble-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('training and scoring', () => {
  test('members are the detectors of seeds seed and seed + 1; thresholds calibrated on the mean scores', () => {
    expect(first.encode()).toStrictEqual(AnomalyDetector.train(train, validation, quick).detector.encode());
    expect(second.encode()).toStrictEqual(AnomalyDetector.train(train, validation, { ...quick, seed: 12 }).detector.encode());
    expect(report.members.length).toBe(2);
    expect(ensemble.nodeThreshold).toBe(report.nodeCalibration.threshold);
    expect(ensemble.linkThreshold).toBe(report.linkCalibration!.threshold);
    // Trained on the same data, the members share their preparation of a window.
    expect(ensemble.preparations).toBe(1);
  });

  test('scores are the mean of the members; causes the argmax of the mean class probabilities', () => {
    const data = make(5);
    const window = data.windows[6]!;
    const history = data.windows.slice(0, 6);
    const got = ensemble.scoreWindow(window, history);
    const a = first.scoreWindow(window, history);
    const b = second.scoreWindow(window, history);
    got.nodeScores.forEach((x, v) => (Number.isNaN(x) ? expect(a.nodeScores[v]).toBeNaN() : expect(x).toBeCloseTo((a.nodeScores[v]! + b.nodeScores[v]!) / 2, 6)));
    got.linkScores.forEach((x, i) => (Number.isNaN(x) ? expect(a.linkScores[i]).toBeNaN() : expect(x).toBeCloseTo((a.linkScores[i]! + b.linkScores[i]!) / 2, 6)));
    expect(got.nodeClassScores[3]).toBeCloseTo((a.nodeClassScores[3]! + b.nodeClassScores[3]!) / 2, 6);
    expect(got.nodeCauses.length).toBe(window.nodeCount);
    expect(ensemble.scoreDataset(data)[6]).toStrictEqual(got);
  });

  test('calibration keeps the link threshold when the validation windows hold no link', () => {
    const noLinks = validation.map((d) => ({ ...d, windows: d.windows.map((w) => ({ ...w, linkFrom: new Int32Array(0), linkTo: new Int32Array(0), linkFeatures: new Float32Array(0), linkLabels: new Uint8Array(0) })) }));
    const { ensemble: again, linkCalibration } = ensemble.calibrated(noLinks, { objective: 'f1' });
    expect(linkCalibration).toBeNull();
    expect(again.linkThreshold).toBe(ensemble.linkThreshold);
  });

  test('it beats chance on held-out data', () => {
    expect(evaluate(ensemble, [make(6), make(7, 'lattice')]).overall.node!.auroc).toBeGreaterThan(0.8);
  });

  test('members with another standardisation or deltaLags get their own preparation, with the same result', () => {
    const lagged = AnomalyDetector.train(train, validation, { ...quick, deltaLags: 2, epochsMax: 1, edgeEpochsMax: 1 }).detector;
    const mixed = new DetectorEnsemble([first, lagged], 0.5, 0.5);
    expect(mixed.preparations).toBe(2);
    expect(mixed.deltaLags).toBe(2);
    const data = make(5);
    const got = mixed.scoreWindow(data.windows[6]!, data.windows.slice(0, 6));
    const a = first.scoreWindow(data.windows[6]!, data.windows.slice(0, 6));
    const b = lagged.scoreWindow(data.windows[6]!, data.windows.slice(0, 6));
    expect(got.nodeScores[0]).toBeCloseTo((a.nodeScores[0]! + b.nodeScores[0]!) / 2, 6);
    const shifted = AnomalyDetector.train([make(8)], validation, { ...quick, epochsMax: 1, edgeEpochsMax: 1 }).detector;
    expect(new DetectorEnsemble([first, shifted], 0.5, 0.5).preparations).toBe(2);
  });

  test('refusals: member count, thresholds, feature names, windows', () => {
    const argument = DetectorErrorCode.ERR_DETECTOR_ARGUMENT;
    expectDetectorError(() => new DetectorEnsemble([], 0.5, 0.5), argument, `expected 1..${ensembleMembersMax} members, got 0`);
    expectDetectorError(() => new DetectorEnsemble([first], Number.NaN, 0.5), argument, 'expected finite thresholds');
    expectDetectorError(() => DetectorEnsemble.train(train, validation, { ...quick, members: 0 }), argument, `members to be an integer in 1..${ensembleMembersMax}, got 0`);
    const other = { ...make(9), nodeFeatureNames: ['a', 'b', 'c', 'd', 'e'] };
    expectDetectorError(() => ensemble.scoreDataset(other), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'DetectorEnsemble.scoreDataset');
    const broken = { ...make(9).windows[0]!, nodeFeatures: new Float32Array(1) };
    expectDetectorError(() => ensemble.scoreWindow(broken), DetectorErrorCode.ERR_DETECTOR_INPUT, 'DetectorEnsemble.scoreWindow');
    expectDetectorError(() => ensemble.scoreWindow(make(9).windows[1]!, [broken]), DetectorErrorCode.ERR_DETECTOR_INPUT, 'history[0]');
  });
});

describe('file', () => {
  const bytes = ensemble.encode();
  const format = DetectorErrorCode.ERR_DETECTOR_FORMAT;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  const members = [first.encode(), second.encode()];

  /** An ensemble file with this header text, count and version, lengths and hash made right. */
  const sealed = (header: string, count = 2, version = ensembleFormatVersion, body: readonly Uint8Array[] = members): Uint8Array => {
    const text = new TextEncoder().encode(header);
    const parts = [text, ...body];
    const out = new Uint8Array(16 + parts.reduce((s, p) => s + p.length, 0) + 32);
    out.set(ensembleMagic);
    const v = new DataView(out.buffer);
    v.setUint16(8, version, true);
    v.setUint16(10, count, true);
    v.setUint32(12, text.length, true);
    let at = 16;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    out.set(createHash('sha256').update(out.subarray(0, at)).digest(), at);
    return out;
  };
  const headerText = new TextDecoder().decode(bytes.subarray(16, 16 + headerLength));

  test('round trip: same bytes, same scores; the members are detector files', () => {
    expect(headerText).toBe(`{"format":"x0tta6bl4/detector-ensemble","thresholds":{"node":${ensemble.nodeThreshold},"link":${ensemble.linkThreshold}},"memberBytes":[${members[0]!.length},${members[1]!.length}]}`);
    const decoded = DetectorEnsemble.decode(bytes, train[0]!);
    expect(decoded.encode()).toStrictEqual(bytes);
    const data = make(5);
    expect(decoded.scoreWindow(data.windows[4]!, data.windows.slice(0, 4))).toStrictEqual(ensemble.scoreWindow(data.windows[4]!, data.windows.slice(0, 4)));
    expect(sealed(headerText)).toStrictEqual(bytes);
    expect(decodeEnsemble(encodeEnsemble(members, 0.25, 0.75)).members).toStrictEqual(members);
  });

  test('save and load, refusing members trained on other features, unreadable and oversized files', async () => {
    const path = join(directory, 'ensemble.bin');
    await ensemble.save(path);
    expect((await DetectorEnsemble.load(path)).encode()).toStrictEqual(bytes);
    await expectDetectorErrorAsync(DetectorEnsemble.load(path, { nodeFeatureNames: ['cpu', 'memory'], linkFeatureNames: ['loss'] }), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'decodeDetector');
    await expectDetectorErrorAsync(DetectorEnsemble.load(join(directory, 'missing.bin')), DetectorErrorCode.ERR_DETECTOR_READ, 'cannot read');
    const huge = join(directory, 'huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, ensembleBytesMax + 1);
    await expectDetectorErrorAsync(DetectorEnsemble.load(huge), format, 'more than any ensemble file');
  });

  test('envelope refusals: magic, truncation, version, count, header size, trailing bytes, hash', () => {
    expectDetectorError(() => decodeEnsemble(members[0]!), format, 'not an ensemble file');
    expectDetectorError(() => decodeEnsemble(bytes.subarray(0, 10)), DetectorErrorCode.ERR_DETECTOR_TRUNCATED, 'fewer than the 16-byte prefix');
    expectDetectorError(() => decodeEnsemble(bytes.subarray(0, 20)), DetectorErrorCode.ERR_DETECTOR_TRUNCATED, 'the prefix promises a header');
    expectDetectorError(() => decodeEnsemble(bytes.subarray(0, bytes.length - 1)), DetectorErrorCode.ERR_DETECTOR_TRUNCATED, 'the header promises');
    expectDetectorError(() => decodeEnsemble(sealed(headerText, 2, 2)), DetectorErrorCode.ERR_DETECTOR_VERSION, 'format version 2, this code reads version 1');
    expectDetectorError(() => decodeEnsemble(sealed(headerText, 0)), format, '0 members');
    expectDetectorError(() => decodeEnsemble(sealed(headerText, ensembleMembersMax + 1)), format, `${ensembleMembersMax + 1} members`);
    expectDetectorError(() => decodeEnsemble(sealed(' '.repeat(5000))), format, 'header of 5000 bytes exceeds');
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expectDetectorError(() => decodeEnsemble(trailing), format, '1 trailing bytes');
    const altered = bytes.slice();
    altered[16 + headerLength + 30]! ^= 1;
    expectDetectorError(() => decodeEnsemble(altered), DetectorErrorCode.ERR_DETECTOR_HASH, 'SHA-256 mismatch');
  });

  test('header refusals: JSON, thresholds, member lengths, canonical form; a member is checked as a detector file', () => {
    expectDetectorError(() => decodeEnsemble(sealed('{"format":')), format, 'header is not JSON');
    expectDetectorError(() => decodeEnsemble(sealed(headerText.replace(/"node":[^,]+/, '"node":"x"'))), format, 'header.thresholds must hold finite');
    expectDetectorError(() => decodeEnsemble(sealed(headerText.replace(/"link":[^}]+/, '"link":null'))), format, 'header.thresholds must hold finite');
    expectDetectorError(() => decodeEnsemble(sealed('null')), format, 'header.thresholds must hold finite');
    expectDetectorError(() => decodeEnsemble(sealed(headerText.replace(/"memberBytes":\[\d+,/, '"memberBytes":['))), format, 'header.memberBytes must list 2 lengths');
    expectDetectorError(() => decodeEnsemble(sealed(headerText.replace(/"memberBytes":\[\d+/, '"memberBytes":[0'))), format, 'header.memberBytes must list 2 lengths');
    expectDetectorError(() => decodeEnsemble(sealed(headerText.replace('{"format"', '{ "format"'))), format, 'not in canonical form');
    const badMember = members[0]!.slice();
    badMember[40]! ^= 1;
    expectDetectorError(() => DetectorEnsemble.decode(sealed(headerText, 2, ensembleFormatVersion, [badMember, members[1]!])), DetectorErrorCode.ERR_DETECTOR_HASH, 'decodeDetector');
  });
});
