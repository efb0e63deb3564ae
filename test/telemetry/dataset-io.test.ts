import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  datasetFormatVersion,
  datasetManifest,
  decodeWindows,
  encodeWindows,
  labelCounts,
  manifestFileName,
  parseManifest,
  readDataset,
  windowsFileName,
  windowsHeaderBytes,
  writeDataset,
  type DatasetManifest,
} from '../../src/telemetry/dataset-io.js';
import { TelemetryError, type TelemetryErrorCode } from '../../src/telemetry/errors.js';
import { FaultClass, type LabelledDataset, type TelemetryWindow } from '../../src/telemetry/types.js';
import { expectCodedError } from '../coded-error.js';

const folders: string[] = [];
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'x0t-dataset-'));
  folders.push(dir);
  return dir;
}

/** Window `i` of a 3-node dataset with `links` directed links, values derived from i so that windows differ. */
function window(i: number, links: number): TelemetryWindow {
  const from = Int32Array.from({ length: links }, (_, k) => k % 3);
  const to = Int32Array.from({ length: links }, (_, k) => (k + 1) % 3);
  return {
    startMs: 1000 * i,
    endMs: 1000 * (i + 1),
    nodeCount: 3,
    alive: Uint8Array.of(1, i % 2, 1),
    linkFrom: from,
    linkTo: to,
    nodeFeatures: Float32Array.from({ length: 3 * 2 }, (_, k) => (k + i) / 10),
    linkFeatures: Float32Array.from({ length: links * 3 }, (_, k) => (k * i) / 100),
    nodeLabels: Uint8Array.of(0, FaultClass.greyHole, i === 1 ? FaultClass.cpuExhaustion : 0),
    linkLabels: Uint8Array.from({ length: links }, (_, k) => (k === 0 ? FaultClass.censorship : 0)),
  };
}

function dataset(windows: TelemetryWindow[] = [window(0, 2), window(1, 0), window(2, 3)]): LabelledDataset {
  return {
    version: datasetFormatVersion,
    scenario: 'unit',
    seed: 7,
    topology: 'ring-3',
    windowMs: 1000,
    nodeFeatureNames: ['cpu', 'memory'],
    linkFeatureNames: ['loss', 'rtt', 'drops'],
    windows,
    faults: [{ kind: 'greyHole', faultClass: FaultClass.greyHole, nodes: [1], links: [], startMs: 500, endMs: 3000 }],
  };
}

function refusal(fn: () => unknown, code: TelemetryErrorCode, message: string): void {
  expectCodedError(fn, TelemetryError, code, message);
}

describe('dataset files', () => {
  it('round-trip: what readDataset returns equals what was written', () => {
    const dir = tempDir();
    const written = dataset();
    const manifest = writeDataset(dir, written);
    const read = readDataset(dir);
    expect(read).toEqual(written);
    expect(manifest.windowsBytes).toBe(readFileSync(join(dir, windowsFileName)).length);
    expect(JSON.parse(readFileSync(join(dir, manifestFileName), 'utf8'))).toEqual(JSON.parse(JSON.stringify(manifest)));
  });

  it('the manifest says what the dataset holds: counts, faults by class name, labels per class', () => {
    const manifest = datasetManifest(dataset(), 123);
    expect(manifest).toMatchObject({ version: datasetFormatVersion, scenario: 'unit', seed: 7, topology: 'ring-3', windowMs: 1000, nodeCount: 3, windowCount: 3, linkRows: 5, windowsFile: 'windows.bin', windowsBytes: 123 });
    expect(manifest.faults).toEqual([{ kind: 'greyHole', faultClass: 1, className: 'greyHole', nodes: [1], links: [], startMs: 500, endMs: 3000 }]);
    expect(manifest.labelCounts.nodes).toMatchObject({ healthy: 5, greyHole: 3, cpuExhaustion: 1, blackHole: 0 });
    expect(manifest.labelCounts.links).toMatchObject({ healthy: 3, censorship: 2 });
    expect(labelCounts([])).toEqual({ nodes: expect.objectContaining({ healthy: 0 }), links: expect.objectContaining({ healthy: 0 }) });
    expect(datasetManifest(dataset([]), windowsHeaderBytes).nodeCount).toBe(0);
  });

  it('an empty dataset round-trips too', () => {
    const dir = tempDir();
    writeDataset(dir, dataset([]));
    expect(readDataset(dir).windows).toEqual([]);
  });

  it('refuses to encode windows of different node counts', () => {
    const odd = { ...window(1, 0), nodeCount: 2, alive: Uint8Array.of(1, 1), nodeLabels: Uint8Array.of(0, 0), nodeFeatures: new Float32Array(4) };
    expect(() => encodeWindows(dataset([window(0, 1), odd]))).toThrow(/expected every window to have 3 nodes, got 2/);
  });
});

/** A written dataset's folder, its manifest as JSON and its windows file. */
function written(): { dir: string; manifest: Record<string, unknown>; bytes: Uint8Array } {
  const dir = tempDir();
  writeDataset(dir, dataset());
  return {
    dir,
    manifest: JSON.parse(readFileSync(join(dir, manifestFileName), 'utf8')) as Record<string, unknown>,
    bytes: new Uint8Array(readFileSync(join(dir, windowsFileName))),
  };
}

function withManifest(change: (m: Record<string, unknown>) => void): string {
  const { dir, manifest } = written();
  change(manifest);
  writeFileSync(join(dir, manifestFileName), JSON.stringify(manifest));
  return dir;
}

function withWindows(change: (bytes: Uint8Array) => Uint8Array): string {
  const { dir, bytes } = written();
  writeFileSync(join(dir, windowsFileName), change(bytes));
  return dir;
}

describe('readDataset refuses', () => {
  it('a folder without a manifest, or a manifest without its windows file', () => {
    refusal(() => readDataset(join(tempDir(), 'none')), 'ERR_DATASET_READ', 'manifest.json: cannot read');
    const { dir } = written();
    rmSync(join(dir, windowsFileName));
    refusal(() => readDataset(dir), 'ERR_DATASET_READ', 'windows.bin: cannot read');
  });

  it('a manifest of another format version, in the manifest or in the windows file', () => {
    refusal(() => readDataset(withManifest((m) => (m.version = 1))), 'ERR_DATASET_VERSION', 'version: expected 2, got 1');
    refusal(() => readDataset(withManifest((m) => (m.version = '2'))), 'ERR_DATASET_MANIFEST', 'version: expected a number; got "2"');
    const dir = withWindows((bytes) => {
      new DataView(bytes.buffer).setUint32(4, 9, true);
      return bytes;
    });
    refusal(() => readDataset(dir), 'ERR_DATASET_VERSION', 'windows.bin: expected format version 2, got 9');
  });

  it('a truncated windows file', () => {
    refusal(() => readDataset(withWindows((bytes) => bytes.subarray(0, bytes.length - 1))), 'ERR_DATASET_TRUNCATED', 'bytes (manifest), got');
    const { bytes } = written();
    const manifest = parseManifest(readFileSync(join(written().dir, manifestFileName), 'utf8'), 'm');
    refusal(() => decodeWindows(bytes.subarray(0, 10), manifest, 'w.bin'), 'ERR_DATASET_TRUNCATED', 'w.bin: expected a 32-byte header, got 10 bytes');
    refusal(() => decodeWindows(bytes.subarray(0, windowsHeaderBytes + 10), manifest, 'w.bin'), 'ERR_DATASET_TRUNCATED', 'w.bin: window 0: expected 20 more bytes at offset 32');
    refusal(() => decodeWindows(bytes.subarray(0, bytes.length - 4), manifest, 'w.bin'), 'ERR_DATASET_TRUNCATED', 'w.bin: window 2: expected');
  });

  it('a windows file whose shape disagrees with the manifest', () => {
    const header = (index: number, value: number) => (bytes: Uint8Array): Uint8Array => {
      new DataView(bytes.buffer).setUint32(4 + 4 * index, value, true);
      return bytes;
    };
    const cases: [(bytes: Uint8Array) => Uint8Array, string][] = [
      [header(1, 4), 'windowCount: expected 3 (manifest), got 4'],
      [header(2, 5), 'nodeCount: expected 3 (manifest), got 5'],
      [header(3, 1), 'nodeFeatureCount: expected 2 (manifest), got 1'],
      [header(4, 2), 'linkFeatureCount: expected 3 (manifest), got 2'],
      [header(5, 4), 'linkRows: expected 5 (manifest), got 4'],
      [(bytes) => Uint8Array.of(...new TextEncoder().encode('JUNK'), ...bytes.subarray(4)), 'expected the magic "X0TW", got "JUNK"'],
      [(bytes) => Uint8Array.of(...bytes, 0, 0, 0), 'expected the file to end after 3 windows'],
    ];
    for (const [change, message] of cases) refusal(() => readDataset(withWindows(change)), 'ERR_DATASET_SHAPE', message);
    // Link rows that add up to more, or less, than the header says.
    const { bytes } = written();
    const manifest = parseManifest(readFileSync(join(written().dir, manifestFileName), 'utf8'), 'm');
    const fewer = bytes.slice();
    new DataView(fewer.buffer).setUint32(4 + 4 * 5, 1, true);
    refusal(() => decodeWindows(fewer, { ...manifest, linkRows: 1 }, 'w.bin'), 'ERR_DATASET_SHAPE', 'window 0: expected at most 1 link rows in all, got more');
    const more = bytes.slice();
    new DataView(more.buffer).setUint32(4 + 4 * 5, 9, true);
    refusal(() => decodeWindows(more, { ...manifest, linkRows: 9 }, 'w.bin'), 'ERR_DATASET_SHAPE', 'linkRows (sum over windows): expected 9 (manifest), got 5');
  });

  it('a value out of range in the windows file', () => {
    // The first window's alive[0] follows the header and the window's fixed 20 bytes.
    const dir = withWindows((bytes) => {
      bytes[windowsHeaderBytes + 20] = 7;
      return bytes;
    });
    refusal(() => readDataset(dir), 'ERR_DATASET_VALUE', 'window 0: alive[0]: expected 0 or 1, got 7');
  });

  it('a manifest that is not JSON, not an object, or has a field of the wrong kind', () => {
    const { dir } = written();
    writeFileSync(join(dir, manifestFileName), '{ not json');
    refusal(() => readDataset(dir), 'ERR_DATASET_MANIFEST', 'expected JSON, got a parse error');
    refusal(() => parseManifest('[1]', 'm.json'), 'ERR_DATASET_MANIFEST', 'm.json: (top level): expected an object; got [1]');
    const cases: [(m: Record<string, unknown>) => void, string][] = [
      [(m) => delete m.scenario, 'scenario: expected a string; got nothing'],
      [(m) => (m.seed = -1), 'seed: expected an integer >= 0; got -1'],
      [(m) => (m.windowMs = 0), 'windowMs: expected a number > 0; got 0'],
      [(m) => (m.nodeFeatureNames = ['cpu', 3]), 'nodeFeatureNames: expected a list of names; got ["cpu",3]'],
      [(m) => (m.windowsFile = '../etc/passwd'), 'windowsFile: expected a file name in the dataset folder; got "../etc/passwd"'],
      [(m) => (m.faults = {}), 'faults: expected a list; got {}'],
      [(m) => (m.faults = [3]), 'faults[0]: expected an object; got 3'],
      [(m) => ((m.faults as Record<string, unknown>[])[0]!.faultClass = 10), 'faults[0].faultClass: expected a fault class 0..9; got 10'],
      [(m) => ((m.faults as Record<string, unknown>[])[0]!.kind = 1), 'faults[0].kind: expected a string; got 1'],
      [(m) => ((m.faults as Record<string, unknown>[])[0]!.nodes = [-1]), 'faults[0].nodes: expected a list of node indexes; got [-1]'],
      [(m) => ((m.faults as Record<string, unknown>[])[0]!.links = [[1]]), 'faults[0].links: expected a list of [a, b] node pairs; got [[1]]'],
      [(m) => ((m.faults as Record<string, unknown>[])[0]!.endMs = 0), 'faults[0].endMs: expected startMs and endMs numbers, endMs >= startMs; got [500,0]'],
      [(m) => (m.labelCounts = null), 'labelCounts: expected an object; got null'],
      [(m) => (m.labelCounts = { nodes: {} }), 'labelCounts.nodes.healthy: expected an integer; got nothing'],
      [(m) => ((m.labelCounts as Record<string, unknown>).links = 5), 'labelCounts.links: expected an object of counts by class; got 5'],
    ];
    for (const [change, message] of cases) refusal(() => readDataset(withManifest(change)), 'ERR_DATASET_MANIFEST', message);
  });

  it('names the manifest file in its messages', () => {
    const dir = withManifest((m) => (m.topology = 5));
    refusal(() => readDataset(dir), 'ERR_DATASET_MANIFEST', `${join(dir, manifestFileName)}: topology: expected a string; got 5`);
  });
});

describe('parseManifest', () => {
  it('reads back what datasetManifest wrote', () => {
    const manifest: DatasetManifest = datasetManifest(dataset(), 99);
    expect(parseManifest(JSON.stringify(manifest), 'm')).toEqual(manifest);
  });
});
