/**
 * The detector file: a JSON header with everything the model needs besides its GraphSAGE
 * parameters (feature names, input layout, standardisation, thresholds, the edge head), then
 * the GraphSAGE model in the src/ml file format (itself versioned and hashed), then a SHA-256
 * over all of it. A detector is read exactly as written or refused with a DetectorError.
 *
 * Layout (integers little-endian):
 *
 *   offset       bytes  field
 *   0            8      magic "X0TDETEC"
 *   8            2      format version (u16) = 1
 *   10           2      reserved (u16) = 0
 *   12           4      header length H in bytes (u32)
 *   16           4      model length M in bytes (u32)
 *   20           H      header: canonical JSON (fixed key order, no whitespace)
 *   20+H         M      the GraphSAGE model file (src/ml/format.ts)
 *   20+H+M       32     SHA-256 of every byte before it
 *
 * Numbers in the header are written by JSON.stringify, which round-trips float64 exactly (and so
 * float32 values too), so a decoded detector scores bit for bit as the encoded one.
 */
import { createHash } from 'node:crypto';
import { decodeModel, encodeModel } from '../ml/format.js';
import type { GraphSage } from '../ml/model.js';
import { faultClassNames } from '../telemetry/types.js';
import { deltaLagsMax, DetectorError, DetectorErrorCode, detectorHeaderBytesMax, detectorModelBytesMax } from './detector-errors.js';
import { checkFeatureNames, checkSchema, inputFeatureNames, type FeatureSchema } from './detector-features.js';
import { headWidth } from './detector-loss.js';

/** Everything a detector file holds. */
export interface DetectorParts {
  readonly schema: FeatureSchema;
  readonly deltaLags: number;
  readonly nodeMean: Float64Array;
  readonly nodeScale: Float64Array;
  readonly linkMean: Float64Array;
  readonly linkScale: Float64Array;
  readonly nodeThreshold: number;
  readonly linkThreshold: number;
  readonly model: GraphSage;
  /** The edge head's flat parameters ([inputDim x headWidth] weights, then biases). */
  readonly edgeParameters: Float32Array;
}

/** The 8 bytes every detector file starts with. */
export const detectorMagic = new TextEncoder().encode('X0TDETEC');
/** The detector file version this code writes and reads. */
export const detectorFormatVersion = 1;
const prefixBytes = 20;
const hashBytes = 32;
const formatName = 'x0tta6bl4/anomaly-detector';

function formatError(message: string): DetectorError {
  return new DetectorError(DetectorErrorCode.ERR_DETECTOR_FORMAT, `decodeDetector: ${message}`);
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** The canonical header text of a detector. */
function headerText(parts: DetectorParts): string {
  return JSON.stringify({
    format: formatName,
    nodeFeatureNames: parts.schema.nodeFeatureNames,
    linkFeatureNames: parts.schema.linkFeatureNames,
    deltaLags: parts.deltaLags,
    inputNames: inputFeatureNames(parts.schema, parts.deltaLags),
    faultClasses: faultClassNames.slice(1),
    standardization: {
      node: { mean: [...parts.nodeMean], scale: [...parts.nodeScale] },
      link: { mean: [...parts.linkMean], scale: [...parts.linkScale] },
    },
    thresholds: { node: parts.nodeThreshold, link: parts.linkThreshold },
    edgeHead: { inputDim: parts.edgeParameters.length / headWidth - 1, parameters: [...parts.edgeParameters] },
  });
}

/** The detector as file bytes (see the layout above). */
export function encodeDetector(parts: DetectorParts): Uint8Array {
  const header = new TextEncoder().encode(headerText(parts));
  const model = encodeModel(parts.model);
  const bodyEnd = prefixBytes + header.length + model.length;
  const bytes = new Uint8Array(bodyEnd + hashBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(detectorMagic, 0);
  view.setUint16(8, detectorFormatVersion, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, header.length, true);
  view.setUint32(16, model.length, true);
  bytes.set(header, prefixBytes);
  bytes.set(model, prefixBytes + header.length);
  bytes.set(sha256(bytes.subarray(0, bodyEnd)), bodyEnd);
  return bytes;
}

/** Checks magic, version, reserved field, lengths and hash; returns the header and model byte ranges. */
function checkEnvelope(bytes: Uint8Array): { header: Uint8Array; model: Uint8Array } {
  const magicSeen = bytes.subarray(0, detectorMagic.length);
  if (!magicSeen.every((byte, i) => byte === detectorMagic[i])) throw formatError('not a detector file (magic is not X0TDETEC)');
  if (bytes.length < prefixBytes) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_TRUNCATED, `decodeDetector: truncated: ${bytes.length} bytes, fewer than the ${prefixBytes}-byte prefix`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint16(8, true);
  if (version !== detectorFormatVersion) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_VERSION, `decodeDetector: format version ${version}, this code reads version ${detectorFormatVersion}`);
  }
  if (view.getUint16(10, true) !== 0) throw formatError('reserved field is not 0');
  const headerLength = view.getUint32(12, true);
  const modelLength = view.getUint32(16, true);
  if (headerLength > detectorHeaderBytesMax) throw formatError(`header of ${headerLength} bytes exceeds ${detectorHeaderBytesMax}`);
  if (modelLength > detectorModelBytesMax) throw formatError(`model of ${modelLength} bytes exceeds ${detectorModelBytesMax}`);
  const bodyEnd = prefixBytes + headerLength + modelLength;
  if (bytes.length < bodyEnd + hashBytes) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_TRUNCATED, `decodeDetector: truncated: ${bytes.length} bytes, the prefix promises ${bodyEnd + hashBytes}`);
  }
  if (bytes.length > bodyEnd + hashBytes) throw formatError(`${bytes.length - bodyEnd - hashBytes} trailing bytes after the hash`);
  const stored = bytes.subarray(bodyEnd);
  if (!sha256(bytes.subarray(0, bodyEnd)).every((byte, i) => byte === stored[i])) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_HASH, 'decodeDetector: SHA-256 mismatch: the header or model differ from what was written');
  }
  return { header: bytes.subarray(prefixBytes, prefixBytes + headerLength), model: bytes.subarray(prefixBytes + headerLength, bodyEnd) };
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw formatError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A JSON array of `length` finite numbers (positive ones when `positive`) as a Float64Array. */
function numbers(value: unknown, what: string, length: number, positive = false): Float64Array {
  if (!Array.isArray(value) || value.length !== length) throw formatError(`${what} must be an array of ${length} numbers`);
  value.forEach((x: unknown, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || (positive && !(x > 0))) throw formatError(`${what}[${i}] is ${JSON.stringify(x)}, expected a finite${positive ? ' positive' : ''} number`);
  });
  return Float64Array.from(value as number[]);
}

function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw formatError(`${what} is ${JSON.stringify(value)}, expected a finite number`);
  return value;
}

/** Decodes the embedded GraphSAGE model and checks that it fits the header: input width, head width, a hidden layer. */
function embeddedModel(bytes: Uint8Array, inputDim: number): GraphSage {
  let model: GraphSage;
  try {
    model = decodeModel(bytes);
  } catch (error) {
    throw formatError(`embedded model: ${(error as Error).message}`);
  }
  const { config } = model;
  if (config.inputDim !== inputDim || config.outputDim !== headWidth || config.hiddenDims.length === 0) {
    throw formatError(`embedded model has inputDim ${config.inputDim}, outputDim ${config.outputDim} and ${config.hiddenDims.length} hidden layers; the header needs ${inputDim}, ${headWidth} and at least 1`);
  }
  return model;
}

/** Parses and checks the header against the model; refuses anything that would not re-encode to the same bytes. */
function parseParts(text: string, modelBytes: Uint8Array): DetectorParts {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw formatError(`header is not JSON (${(error as Error).message})`);
  }
  const header = asRecord(parsed, 'header');
  if (header['format'] !== formatName) throw formatError(`header format is ${JSON.stringify(header['format'])}, expected ${JSON.stringify(formatName)}`);
  const schema = { nodeFeatureNames: header['nodeFeatureNames'], linkFeatureNames: header['linkFeatureNames'] } as FeatureSchema;
  try {
    checkSchema('header', schema);
  } catch (error) {
    throw formatError((error as Error).message);
  }
  const deltaLags = header['deltaLags'];
  if (typeof deltaLags !== 'number' || !Number.isInteger(deltaLags) || deltaLags < 0 || deltaLags > deltaLagsMax) {
    throw formatError(`header.deltaLags is ${JSON.stringify(deltaLags)}, expected an integer in 0..${deltaLagsMax}`);
  }
  if (JSON.stringify(header['faultClasses']) !== JSON.stringify(faultClassNames.slice(1))) {
    throw formatError(`header.faultClasses ${JSON.stringify(header['faultClasses'])} differ from this code's ${JSON.stringify(faultClassNames.slice(1))}`);
  }
  const inputDim = inputFeatureNames(schema, deltaLags).length;
  const model = embeddedModel(modelBytes, inputDim);
  const linkDim = schema.linkFeatureNames.length;
  const standardization = asRecord(header['standardization'], 'header.standardization');
  const node = asRecord(standardization['node'], 'header.standardization.node');
  const link = asRecord(standardization['link'], 'header.standardization.link');
  const thresholds = asRecord(header['thresholds'], 'header.thresholds');
  const edgeHead = asRecord(header['edgeHead'], 'header.edgeHead');
  const edgeInputDim = 2 * model.config.hiddenDims.at(-1)! + linkDim;
  const parts: DetectorParts = {
    schema,
    deltaLags,
    nodeMean: numbers(node['mean'], 'header.standardization.node.mean', inputDim),
    nodeScale: numbers(node['scale'], 'header.standardization.node.scale', inputDim, true),
    linkMean: numbers(link['mean'], 'header.standardization.link.mean', linkDim),
    linkScale: numbers(link['scale'], 'header.standardization.link.scale', linkDim, true),
    nodeThreshold: finite(thresholds['node'], 'header.thresholds.node'),
    linkThreshold: finite(thresholds['link'], 'header.thresholds.link'),
    model,
    edgeParameters: Float32Array.from(numbers(edgeHead['parameters'], 'header.edgeHead.parameters', (edgeInputDim + 1) * headWidth)),
  };
  if (headerText(parts) !== text) throw formatError('header is not in canonical form (unknown keys, key order, whitespace, input names or values that are not float32)');
  return parts;
}

/**
 * Decodes a detector file. Refuses a file that is not one (ERR_DETECTOR_FORMAT), of another
 * version (ERR_DETECTOR_VERSION), cut short (ERR_DETECTOR_TRUNCATED), altered (ERR_DETECTOR_HASH),
 * or, when `expected` is given, trained on other feature names (ERR_DETECTOR_FEATURE_NAMES).
 */
export function decodeDetector(bytes: Uint8Array, expected?: FeatureSchema): DetectorParts {
  const envelope = checkEnvelope(bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(envelope.header);
  } catch {
    throw formatError('header is not UTF-8');
  }
  const parts = parseParts(text, envelope.model);
  if (expected !== undefined) checkFeatureNames('decodeDetector', parts.schema, expected);
  return parts;
}
