/**
 * The model file: a versioned binary format with a content hash, so a model that travels
 * between nodes (federated rounds, the model registry) is either read exactly as written or
 * refused with a named error.
 *
 * Layout (integers little-endian):
 *
 *   offset       bytes  field
 *   0            8      magic "X0TGSAGE"
 *   8            2      format version (u16) = 1
 *   10           2      reserved (u16) = 0
 *   12           4      header length H in bytes (u32)
 *   16           4      parameter count P (u32)
 *   20           H      header: canonical JSON of the architecture and the parameter layout
 *   20+H         4P     parameters, float32, in layout order
 *   20+H+4P      32     SHA-256 of every byte before it
 */
import { createHash } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { checkConfig, parameterLayout, type GraphSageConfig, type ParameterEntry } from './config.js';
import { isMlError, MlError, MlErrorCode } from './errors.js';
import { firstNonFinite } from './features.js';
import { modelHeaderBytesMax, parameterCountMax } from './limits.js';
import { GraphSage } from './model.js';

/** The 8 bytes every model file starts with. */
export const modelMagic = new TextEncoder().encode('X0TGSAGE');
/** The format version this code writes and reads. */
export const modelFormatVersion = 1;
/** Bytes before the header: magic, version, reserved, header length, parameter count. */
export const modelPrefixBytes = 20;
/** Bytes of the SHA-256 trailer. */
export const modelHashBytes = 32;

const formatName = 'x0tta6bl4/graphsage';

/** The canonical header text for a model: fixed key order, no whitespace. */
function headerText(config: GraphSageConfig): string {
  const { entries, count } = parameterLayout(config);
  return JSON.stringify({
    format: formatName,
    architecture: {
      aggregator: 'mean',
      inputDim: config.inputDim,
      hiddenDims: [...config.hiddenDims],
      outputDim: config.outputDim,
      head: config.head,
      l2Normalize: config.l2Normalize,
    },
    parameterCount: count,
    parameters: entries.map(({ name, shape, offset }) => ({ name, shape: [...shape], offset })),
  });
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** The model as file bytes (see the layout above). */
export function encodeModel(model: GraphSage): Uint8Array {
  const header = new TextEncoder().encode(headerText(model.config));
  const count = model.parameters.length;
  const bodyEnd = modelPrefixBytes + header.length + 4 * count;
  const bytes = new Uint8Array(bodyEnd + modelHashBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(modelMagic, 0);
  view.setUint16(8, modelFormatVersion, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, header.length, true);
  view.setUint32(16, count, true);
  bytes.set(header, modelPrefixBytes);
  const at = modelPrefixBytes + header.length;
  for (let i = 0; i < count; i++) view.setFloat32(at + 4 * i, model.parameters[i]!, true);
  bytes.set(sha256(bytes.subarray(0, bodyEnd)), bodyEnd);
  return bytes;
}

function formatError(message: string): MlError {
  return new MlError(MlErrorCode.ERR_MODEL_FORMAT, `decodeModel: ${message}`);
}

/** Checks magic, version and lengths; returns the header length and parameter count. */
function checkPrefix(bytes: Uint8Array): { headerBytes: number; count: number } {
  const magicSeen = bytes.subarray(0, modelMagic.length);
  if (!magicSeen.every((byte, i) => byte === modelMagic[i])) throw formatError('not a model file (the first bytes are not the magic "X0TGSAGE")');
  if (bytes.length < modelPrefixBytes) {
    throw new MlError(MlErrorCode.ERR_MODEL_TRUNCATED, `decodeModel: truncated: ${bytes.length} bytes, fewer than the ${modelPrefixBytes}-byte prefix`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== modelFormatVersion) {
    throw new MlError(MlErrorCode.ERR_MODEL_VERSION, `decodeModel: format version ${version}, this code reads version ${modelFormatVersion}`);
  }
  if (view.getUint16(10, true) !== 0) throw formatError(`reserved field is ${view.getUint16(10, true)}, expected 0`);
  const headerBytes = view.getUint32(12, true);
  const count = view.getUint32(16, true);
  if (headerBytes > modelHeaderBytesMax) throw formatError(`header of ${headerBytes} bytes exceeds modelHeaderBytesMax ${modelHeaderBytesMax}`);
  if (count > parameterCountMax) throw formatError(`${count} parameters exceed parameterCountMax ${parameterCountMax}`);
  const expected = modelPrefixBytes + headerBytes + 4 * count + modelHashBytes;
  if (bytes.length < expected) {
    throw new MlError(MlErrorCode.ERR_MODEL_TRUNCATED, `decodeModel: truncated: the file says ${expected} bytes (header ${headerBytes}, ${count} parameters), got ${bytes.length}`);
  }
  if (bytes.length > expected) throw formatError(`${bytes.length - expected} bytes after the hash (the file says ${expected} bytes)`);
  return { headerBytes, count };
}

/**
 * Reads a model from file bytes, refusing (with an MlError) a file that is not ours
 * (ERR_MODEL_FORMAT), of another version (ERR_MODEL_VERSION), cut short (ERR_MODEL_TRUNCATED),
 * altered (ERR_MODEL_HASH), or whose header or parameters are malformed (ERR_MODEL_FORMAT).
 */
export function decodeModel(bytes: Uint8Array): GraphSage {
  if (bytes.length < modelMagic.length && bytes.every((byte, i) => byte === modelMagic[i])) {
    throw new MlError(MlErrorCode.ERR_MODEL_TRUNCATED, `decodeModel: truncated: ${bytes.length} bytes, fewer than the ${modelPrefixBytes}-byte prefix`);
  }
  const { headerBytes, count } = checkPrefix(bytes);
  const bodyEnd = modelPrefixBytes + headerBytes + 4 * count;
  const stored = bytes.subarray(bodyEnd);
  const computed = sha256(bytes.subarray(0, bodyEnd));
  if (!computed.every((byte, i) => byte === stored[i])) {
    throw new MlError(MlErrorCode.ERR_MODEL_HASH, 'decodeModel: SHA-256 mismatch: the header or parameters differ from what was written');
  }
  const config = parseHeader(bytes.subarray(modelPrefixBytes, modelPrefixBytes + headerBytes), count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + modelPrefixBytes + headerBytes, 4 * count);
  const parameters = new Float32Array(count);
  for (let i = 0; i < count; i++) parameters[i] = view.getFloat32(4 * i, true);
  const bad = firstNonFinite(parameters);
  if (bad >= 0) throw formatError(`parameter ${bad} is ${parameters[bad]}; parameters must be finite`);
  return GraphSage.fromParameters(config, parameters);
}

/** Parses and checks the header: JSON, known format, a valid architecture, the layout it implies, canonical bytes. */
function parseHeader(headerBytes: Uint8Array, count: number): GraphSageConfig {
  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    header = JSON.parse(text);
  } catch (error) {
    throw formatError(`header is not UTF-8 JSON (${(error as Error).message})`);
  }
  const record = asRecord(header, 'header');
  if (record['format'] !== formatName) throw formatError(`header format is ${JSON.stringify(record['format'])}, expected ${JSON.stringify(formatName)}`);
  const architecture = asRecord(record['architecture'], 'header.architecture');
  if (architecture['aggregator'] !== 'mean') throw formatError(`header.architecture.aggregator is ${JSON.stringify(architecture['aggregator'])}, expected "mean"`);
  const config = architecture as unknown as GraphSageConfig;
  try {
    checkConfig(config);
  } catch (error) {
    // checkConfig only throws MlErrors; the file is what is wrong, so the code becomes ERR_MODEL_FORMAT.
    throw formatError(`header.architecture: ${(error as Error).message}`);
  }
  if (record['parameterCount'] !== count) throw formatError(`header.parameterCount is ${JSON.stringify(record['parameterCount'])}, the prefix says ${count}`);
  checkEntries(record['parameters'], parameterLayout(config).entries);
  if (headerText(config) !== text) throw formatError('header is not in canonical form (unknown keys, key order or whitespace)');
  return { inputDim: config.inputDim, hiddenDims: [...config.hiddenDims], outputDim: config.outputDim, head: config.head, l2Normalize: config.l2Normalize };
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw formatError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The header's parameter list must be exactly the layout the architecture implies. */
function checkEntries(listed: unknown, expected: readonly ParameterEntry[]): void {
  if (!Array.isArray(listed) || listed.length !== expected.length) {
    throw formatError(`header.parameters must list the ${expected.length} parameters of the architecture`);
  }
  expected.forEach((entry, i) => {
    const seen = asRecord(listed[i], `header.parameters[${i}]`);
    const same = seen['name'] === entry.name && seen['offset'] === entry.offset && JSON.stringify(seen['shape']) === JSON.stringify(entry.shape);
    if (!same) {
      throw formatError(`header.parameters[${i}] is ${JSON.stringify(seen)}, the architecture implies ${JSON.stringify({ name: entry.name, shape: entry.shape, offset: entry.offset })}`);
    }
  });
}

/** Writes the model to `path` atomically (a temporary file renamed over it), so a reader never sees half a model. */
export async function saveModel(path: string, model: GraphSage): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, encodeModel(model));
  await rename(temporary, path);
}

/** Reads and decodes the model file at `path` (see decodeModel for the refusals; ERR_ML_READ when it cannot be read). */
export async function loadModel(path: string): Promise<GraphSage> {
  const bytesMax = modelPrefixBytes + modelHeaderBytesMax + 4 * parameterCountMax + modelHashBytes;
  let bytes: Uint8Array;
  try {
    const size = (await stat(path)).size;
    if (size > bytesMax) throw new MlError(MlErrorCode.ERR_MODEL_FORMAT, `loadModel: ${path} has ${size} bytes, more than any model file (${bytesMax})`);
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    if (isMlError(error)) throw error;
    throw new MlError(MlErrorCode.ERR_ML_READ, `loadModel: cannot read ${path} (${(error as Error).message})`);
  }
  return decodeModel(bytes);
}
