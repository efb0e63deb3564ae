/**
 * Dataset files as `x0tta6bl4 twin dataset` writes them: DIR/manifest.json (what the dataset
 * is, in JSON) and DIR/windows.bin (every window's arrays, little-endian binary). The format is
 * described in docs/telemetry.md; `readDataset` refuses anything else with a named error.
 *
 * windows.bin:
 *   header, 32 bytes: magic "X0TW", then u32 version, windowCount, nodeCount,
 *                     nodeFeatureCount, linkFeatureCount, linkRows (total), 0
 *   each window:      f64 startMs, f64 endMs, u32 linkCount,
 *                     u8 alive[nodeCount], u8 nodeLabels[nodeCount], u8 linkLabels[linkCount],
 *                     i32 linkFrom[linkCount], i32 linkTo[linkCount],
 *                     f32 nodeFeatures[nodeCount * nodeFeatureCount],
 *                     f32 linkFeatures[linkCount * linkFeatureCount]
 */

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TelemetryError } from './errors.js';
import { faultClassNames, type DatasetFault, type FaultClassValue, type LabelledDataset, type TelemetryWindow } from './types.js';
import { checkWindow } from './window.js';

/** Version of the dataset format (manifest and windows file). */
export const datasetFormatVersion = 2;
/** The manifest's file name inside a dataset folder. */
export const manifestFileName = 'manifest.json';
/** The windows file's name inside a dataset folder. */
export const windowsFileName = 'windows.bin';
/** First four bytes of a windows file. */
export const windowsMagic = 'X0TW';
/** Bytes of the windows file header. */
export const windowsHeaderBytes = 32;
/** Bytes of a window's fixed part (startMs, endMs, linkCount). */
const windowFixedBytes = 20;

/** How many node windows and directed-link windows carry each fault class. */
export interface LabelCounts {
  readonly nodes: Record<string, number>;
  readonly links: Record<string, number>;
}

/** A fault in the manifest: DatasetFault plus its class by name. */
export interface ManifestFault extends DatasetFault {
  readonly className: string;
}

/** manifest.json. */
export interface DatasetManifest {
  readonly version: number;
  readonly scenario: string;
  readonly seed: number;
  readonly topology: string;
  readonly windowMs: number;
  readonly nodeCount: number;
  readonly nodeFeatureNames: readonly string[];
  readonly linkFeatureNames: readonly string[];
  readonly windowCount: number;
  /** Directed-link rows over all windows. */
  readonly linkRows: number;
  readonly faults: readonly ManifestFault[];
  readonly labelCounts: LabelCounts;
  readonly windowsFile: string;
  readonly windowsBytes: number;
}

/** Node windows and link windows per fault class name. */
export function labelCounts(windows: readonly TelemetryWindow[]): LabelCounts {
  const nodes = new Array<number>(faultClassNames.length).fill(0);
  const links = new Array<number>(faultClassNames.length).fill(0);
  for (const w of windows) {
    for (const label of w.nodeLabels) nodes[label]!++;
    for (const label of w.linkLabels) links[label]!++;
  }
  const named = (counts: number[]): Record<string, number> => Object.fromEntries(faultClassNames.map((name, i) => [name, counts[i]!]));
  return { nodes: named(nodes), links: named(links) };
}

/** The manifest that describes `dataset` with a windows file of `windowsBytes`. */
export function datasetManifest(dataset: LabelledDataset, windowsBytes: number): DatasetManifest {
  return {
    version: datasetFormatVersion,
    scenario: dataset.scenario,
    seed: dataset.seed,
    topology: dataset.topology,
    windowMs: dataset.windowMs,
    nodeCount: dataset.windows[0]?.nodeCount ?? 0,
    nodeFeatureNames: dataset.nodeFeatureNames,
    linkFeatureNames: dataset.linkFeatureNames,
    windowCount: dataset.windows.length,
    linkRows: dataset.windows.reduce((sum, w) => sum + w.linkFrom.length, 0),
    faults: dataset.faults.map((f) => ({ ...f, className: faultClassNames[f.faultClass]! })),
    labelCounts: labelCounts(dataset.windows),
    windowsFile: windowsFileName,
    windowsBytes,
  };
}

/** The windows file of `dataset` (every window must have the same node count). */
export function encodeWindows(dataset: LabelledDataset): Uint8Array {
  const nf = dataset.nodeFeatureNames.length;
  const lf = dataset.linkFeatureNames.length;
  const nodeCount = dataset.windows[0]?.nodeCount ?? 0;
  let bytes = windowsHeaderBytes;
  for (const w of dataset.windows) {
    if (w.nodeCount !== nodeCount) throw new RangeError(`encodeWindows: expected every window to have ${nodeCount} nodes, got ${w.nodeCount}`);
    checkWindow(w, nf, lf, `window at ${w.startMs} ms`);
    bytes += windowBytes(nodeCount, w.linkFrom.length, nf, lf);
  }
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(windowsMagic), 0);
  const header = [datasetFormatVersion, dataset.windows.length, nodeCount, nf, lf, dataset.windows.reduce((s, w) => s + w.linkFrom.length, 0), 0];
  header.forEach((value, i) => view.setUint32(4 + 4 * i, value, true));
  let at = windowsHeaderBytes;
  for (const w of dataset.windows) at = writeWindow(view, out, at, w);
  return out;
}

function windowBytes(nodeCount: number, links: number, nf: number, lf: number): number {
  return windowFixedBytes + 2 * nodeCount + links + 8 * links + 4 * (nodeCount * nf + links * lf);
}

function writeWindow(view: DataView, out: Uint8Array, start: number, w: TelemetryWindow): number {
  let at = start;
  view.setFloat64(at, w.startMs, true);
  view.setFloat64(at + 8, w.endMs, true);
  view.setUint32(at + 16, w.linkFrom.length, true);
  at += windowFixedBytes;
  for (const bytes of [w.alive, w.nodeLabels, w.linkLabels]) {
    out.set(bytes, at);
    at += bytes.length;
  }
  for (const ints of [w.linkFrom, w.linkTo]) {
    for (const x of ints) {
      view.setInt32(at, x, true);
      at += 4;
    }
  }
  for (const floats of [w.nodeFeatures, w.linkFeatures]) {
    for (const x of floats) {
      view.setFloat32(at, x, true);
      at += 4;
    }
  }
  return at;
}

/** Writes `dataset` to DIR/windows.bin and DIR/manifest.json (the manifest last, so a half-written dataset has none). */
export function writeDataset(dir: string, dataset: LabelledDataset): DatasetManifest {
  mkdirSync(dir, { recursive: true });
  const windows = encodeWindows(dataset);
  const manifest = datasetManifest(dataset, windows.length);
  writeFileSync(join(dir, windowsFileName), windows);
  const temporary = join(dir, `${manifestFileName}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temporary, join(dir, manifestFileName));
  return manifest;
}

/** Reads and checks a dataset folder; any problem is a TelemetryError naming the file and what was wrong. */
export function readDataset(dir: string): LabelledDataset {
  const manifestPath = join(dir, manifestFileName);
  const manifest = parseManifest(readText(manifestPath), manifestPath);
  const windowsPath = join(dir, manifest.windowsFile);
  const bytes = readBytes(windowsPath);
  if (bytes.length < manifest.windowsBytes) {
    throw new TelemetryError('ERR_DATASET_TRUNCATED', `${windowsPath}: expected ${manifest.windowsBytes} bytes (manifest), got ${bytes.length}`);
  }
  const windows = decodeWindows(bytes, manifest, windowsPath);
  return {
    version: manifest.version,
    scenario: manifest.scenario,
    seed: manifest.seed,
    topology: manifest.topology,
    windowMs: manifest.windowMs,
    nodeFeatureNames: manifest.nodeFeatureNames,
    linkFeatureNames: manifest.linkFeatureNames,
    windows,
    faults: manifest.faults.map(({ className: _className, ...fault }) => fault),
  };
}

function readText(path: string): string {
  return new TextDecoder().decode(readBytes(path));
}

function readBytes(path: string): Uint8Array {
  try {
    // A plain Uint8Array view, so that the label arrays sliced from it are not Buffers.
    const buffer = readFileSync(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw new TelemetryError('ERR_DATASET_READ', `${path}: cannot read: ${(error as Error).message}`);
  }
}

/** Decodes a windows file whose header must agree with `manifest`. */
export function decodeWindows(bytes: Uint8Array, manifest: DatasetManifest, source: string): TelemetryWindow[] {
  if (bytes.length < windowsHeaderBytes) throw new TelemetryError('ERR_DATASET_TRUNCATED', `${source}: expected a ${windowsHeaderBytes}-byte header, got ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== windowsMagic) throw new TelemetryError('ERR_DATASET_SHAPE', `${source}: expected the magic ${JSON.stringify(windowsMagic)}, got ${JSON.stringify(magic)}`);
  const [version, windowCount, nodeCount, nf, lf, linkRows] = [0, 1, 2, 3, 4, 5].map((i) => view.getUint32(4 + 4 * i, true)) as [number, number, number, number, number, number];
  if (version !== datasetFormatVersion) throw new TelemetryError('ERR_DATASET_VERSION', `${source}: expected format version ${datasetFormatVersion}, got ${version}`);
  const expect = (field: string, inManifest: number, inFile: number): void => {
    if (inManifest !== inFile) throw new TelemetryError('ERR_DATASET_SHAPE', `${source}: ${field}: expected ${inManifest} (manifest), got ${inFile}`);
  };
  expect('windowCount', manifest.windowCount, windowCount);
  expect('nodeCount', manifest.nodeCount, nodeCount);
  expect('nodeFeatureCount', manifest.nodeFeatureNames.length, nf);
  expect('linkFeatureCount', manifest.linkFeatureNames.length, lf);
  expect('linkRows', manifest.linkRows, linkRows);
  const windows: TelemetryWindow[] = [];
  let at = windowsHeaderBytes;
  let rows = 0;
  for (let i = 0; i < windowCount; i++) {
    const where = `${source}: window ${i}`;
    const need = (n: number): void => {
      if (at + n > bytes.length) throw new TelemetryError('ERR_DATASET_TRUNCATED', `${where}: expected ${n} more bytes at offset ${at}, the file has ${bytes.length - at}`);
    };
    need(windowFixedBytes);
    const links = view.getUint32(at + 16, true);
    rows += links;
    if (rows > linkRows) throw new TelemetryError('ERR_DATASET_SHAPE', `${where}: expected at most ${linkRows} link rows in all, got more`);
    need(windowBytes(nodeCount, links, nf, lf));
    const window = readWindow(view, bytes, at, nodeCount, links, nf, lf);
    checkWindow(window, nf, lf, where);
    windows.push(window);
    at += windowBytes(nodeCount, links, nf, lf);
  }
  expect('linkRows (sum over windows)', linkRows, rows);
  if (at !== bytes.length) throw new TelemetryError('ERR_DATASET_SHAPE', `${source}: expected the file to end after ${windowCount} windows at byte ${at}, got ${bytes.length - at} more bytes`);
  return windows;
}

function readWindow(view: DataView, bytes: Uint8Array, start: number, nodeCount: number, links: number, nf: number, lf: number): TelemetryWindow {
  let at = start + windowFixedBytes;
  const u8 = (n: number): Uint8Array => {
    const out = bytes.slice(at, at + n);
    at += n;
    return out;
  };
  const i32 = (n: number): Int32Array => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++, at += 4) out[i] = view.getInt32(at, true);
    return out;
  };
  const f32 = (n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++, at += 4) out[i] = view.getFloat32(at, true);
    return out;
  };
  const alive = u8(nodeCount);
  const nodeLabels = u8(nodeCount);
  const linkLabels = u8(links);
  const linkFrom = i32(links);
  const linkTo = i32(links);
  const nodeFeatures = f32(nodeCount * nf);
  const linkFeatures = f32(links * lf);
  return { startMs: view.getFloat64(start, true), endMs: view.getFloat64(start + 8, true), nodeCount, alive, linkFrom, linkTo, nodeFeatures, linkFeatures, nodeLabels, linkLabels };
}

/** Parses and checks manifest.json; `source` names the file in errors. */
export function parseManifest(text: string, source: string): DatasetManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TelemetryError('ERR_DATASET_MANIFEST', `${source}: expected JSON, got a parse error: ${(error as Error).message}`);
  }
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new TelemetryError('ERR_DATASET_MANIFEST', `${source}: ${field}: expected ${expected}; got ${JSON.stringify(got) ?? 'nothing'}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('(top level)', 'an object', raw);
  const m = raw as Record<string, unknown>;
  if (m.version !== datasetFormatVersion) {
    if (typeof m.version !== 'number') return bad('version', 'a number', m.version);
    throw new TelemetryError('ERR_DATASET_VERSION', `${source}: version: expected ${datasetFormatVersion}, got ${m.version}`);
  }
  const count = (field: string): number => (Number.isSafeInteger(m[field]) && (m[field] as number) >= 0 ? (m[field] as number) : bad(field, 'an integer >= 0', m[field]));
  const text_ = (field: string): string => (typeof m[field] === 'string' ? (m[field] as string) : bad(field, 'a string', m[field]));
  const names = (field: string): string[] => (Array.isArray(m[field]) && (m[field] as unknown[]).every((x) => typeof x === 'string') ? (m[field] as string[]) : bad(field, 'a list of names', m[field]));
  const windowMs = typeof m.windowMs === 'number' && m.windowMs > 0 ? m.windowMs : bad('windowMs', 'a number > 0', m.windowMs);
  const windowsFile = text_('windowsFile');
  if (!/^[\w.-]+$/.test(windowsFile)) bad('windowsFile', 'a file name in the dataset folder', windowsFile);
  return {
    version: datasetFormatVersion,
    scenario: text_('scenario'),
    seed: count('seed'),
    topology: text_('topology'),
    windowMs,
    nodeCount: count('nodeCount'),
    nodeFeatureNames: names('nodeFeatureNames'),
    linkFeatureNames: names('linkFeatureNames'),
    windowCount: count('windowCount'),
    linkRows: count('linkRows'),
    faults: parseFaults(m.faults, bad),
    labelCounts: parseLabelCounts(m.labelCounts, bad),
    windowsFile,
    windowsBytes: count('windowsBytes'),
  };
}

type Bad = (field: string, expected: string, got: unknown) => never;

function parseFaults(raw: unknown, bad: Bad): ManifestFault[] {
  if (!Array.isArray(raw)) return bad('faults', 'a list', raw);
  return raw.map((f: unknown, i): ManifestFault => {
    const at = `faults[${i}]`;
    if (typeof f !== 'object' || f === null) return bad(at, 'an object', f);
    const o = f as Record<string, unknown>;
    const isIndex = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
    const faultClass = o.faultClass;
    if (!isIndex(faultClass) || (faultClass as number) >= faultClassNames.length) bad(`${at}.faultClass`, `a fault class 0..${faultClassNames.length - 1}`, faultClass);
    if (typeof o.kind !== 'string') bad(`${at}.kind`, 'a string', o.kind);
    if (!Array.isArray(o.nodes) || !o.nodes.every(isIndex)) bad(`${at}.nodes`, 'a list of node indexes', o.nodes);
    const isPair = (l: unknown): boolean => Array.isArray(l) && l.length === 2 && l.every(isIndex);
    if (!Array.isArray(o.links) || !o.links.every(isPair)) bad(`${at}.links`, 'a list of [a, b] node pairs', o.links);
    if (typeof o.startMs !== 'number' || typeof o.endMs !== 'number' || !(o.endMs >= o.startMs)) bad(`${at}.endMs`, 'startMs and endMs numbers, endMs >= startMs', [o.startMs, o.endMs]);
    return {
      kind: o.kind as string,
      faultClass: faultClass as FaultClassValue,
      className: faultClassNames[faultClass as number]!,
      nodes: o.nodes as number[],
      links: o.links as [number, number][],
      startMs: o.startMs as number,
      endMs: o.endMs as number,
    };
  });
}

function parseLabelCounts(raw: unknown, bad: Bad): LabelCounts {
  const side = (key: 'nodes' | 'links'): Record<string, number> => {
    const value = (raw as Record<string, unknown> | null)?.[key];
    if (typeof value !== 'object' || value === null) return bad(`labelCounts.${key}`, 'an object of counts by class', value);
    const counts = value as Record<string, unknown>;
    for (const name of faultClassNames) if (!Number.isSafeInteger(counts[name])) bad(`labelCounts.${key}.${name}`, 'an integer', counts[name]);
    return Object.fromEntries(faultClassNames.map((name) => [name, counts[name] as number]));
  };
  if (typeof raw !== 'object' || raw === null) return bad('labelCounts', 'an object', raw);
  return { nodes: side('nodes'), links: side('links') };
}
