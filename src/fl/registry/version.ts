/**
 * A model version: metadata, parameters, id and the aggregator's signature, and its canonical
 * binary encoding (what the distribution message carries and what the directory store writes).
 * The parameters travel as a src/ml model file, so an installed version can be saved and
 * loaded by loadModel as it is.
 *
 * Layout (integers little-endian):
 *
 *   offset   bytes  field
 *   0        8      magic "X0TFLMV1"
 *   8        32     id = SHA-256("x0tta6bl4 fl model id v1" | metadata)
 *   40       4      metadata length M (u32)
 *   44       M      metadata, canonical JSON (metadata.ts)
 *   44+M     4      model file length B (u32)
 *   48+M     B      src/ml model file of (modelConfig, parameters)
 *   48+M+B   3373   signature: Ed25519 (64) | ML-DSA-65 (3309) over the id (signing.ts)
 */
import { sha256 } from '../../crypto/hash.js';
import { decodeModel, encodeModel } from '../../ml/format.js';
import { GraphSage } from '../../ml/model.js';
import type { GraphSageConfig } from '../../ml/config.js';
import { RegistryError, RegistryErrorCode } from './errors.js';
import { metadataBytesMax, modelFileBytesMax, versionSignatureBytes } from './limits.js';
import { decodeMetadata, encodeMetadata, type ModelMetadata } from './metadata.js';
import { modelIdOf, type ModelId } from './model-id.js';
import { signModelId, type AggregatorKeys } from './signing.js';

/** One global model: what it is, where it came from, and who vouches for it. */
export interface ModelVersion {
  readonly id: ModelId;
  readonly metadata: ModelMetadata;
  /** Flat GraphSAGE parameters in the layout of metadata.modelConfig. */
  readonly parameters: Float32Array;
  /** Hybrid signature over the id (signing.ts). */
  readonly signature: Uint8Array;
}

/** What the aggregator knows when it makes a version; the registry fills in hashes, id and signature. */
export interface VersionDraft extends Omit<ModelMetadata, 'modelSha256'> {
  readonly parameters: Float32Array;
}

/** The 8 bytes every encoded version starts with. */
export const versionMagic = new TextEncoder().encode('X0TFLMV1');
const idDomain = new TextEncoder().encode('x0tta6bl4 fl model id v1');
const prefixBytes = versionMagic.length + 32 + 4;

/** The model id of canonical metadata bytes. */
export function modelIdOfMetadata(metadataBytes: Uint8Array): ModelId {
  return modelIdOf(sha256(idDomain, metadataBytes));
}

/** The src/ml model file bytes of (config, parameters); ERR_FL_VERSION_PARAMETERS when they do not fit together. */
export function modelFileOf(config: GraphSageConfig, parameters: Float32Array): Uint8Array {
  try {
    return encodeModel(GraphSage.fromParameters(config, parameters));
  } catch (error) {
    throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_PARAMETERS, `parameters: ${(error as Error).message}`);
  }
}

/** The hex SHA-256 of the model file of (config, parameters): what metadata.modelSha256 records. */
export function modelSha256Of(config: GraphSageConfig, parameters: Float32Array): string {
  return Buffer.from(sha256(modelFileOf(config, parameters))).toString('hex');
}

/** Builds and signs the version of `draft` with the aggregator's `keys`. */
export function createVersion(draft: VersionDraft, keys: AggregatorKeys): ModelVersion {
  const { parameters, ...rest } = draft;
  const bytes = encodeMetadata({ ...rest, modelSha256: modelSha256Of(draft.modelConfig, parameters) });
  const metadata = decodeMetadata(bytes);
  const id = modelIdOfMetadata(bytes);
  return { id, metadata, parameters: parameters.slice(), signature: signModelId(keys, id) };
}

/** The version's parameters as a GraphSAGE model (a copy) for the detector to load. */
export function versionModel(version: ModelVersion): GraphSage {
  return GraphSage.fromParameters(version.metadata.modelConfig, version.parameters);
}

/** The canonical bytes of `version` (see the layout above); encodes what it is given, verification is verify.ts's job. */
export function encodeVersion(version: ModelVersion): Uint8Array {
  const metadata = encodeMetadata(version.metadata);
  const model = modelFileOf(version.metadata.modelConfig, version.parameters);
  if (version.signature.length !== versionSignatureBytes) formatError(`signature of ${version.signature.length} bytes, expected ${versionSignatureBytes}`);
  const bytes = new Uint8Array(prefixBytes + metadata.length + 4 + model.length + versionSignatureBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(versionMagic, 0);
  bytes.set(Buffer.from(version.id, 'hex'), versionMagic.length);
  view.setUint32(prefixBytes - 4, metadata.length, true);
  bytes.set(metadata, prefixBytes);
  view.setUint32(prefixBytes + metadata.length, model.length, true);
  bytes.set(model, prefixBytes + metadata.length + 4);
  bytes.set(version.signature, bytes.length - versionSignatureBytes);
  return bytes;
}

function formatError(message: string): never {
  throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_FORMAT, `decodeVersion: ${message}`);
}

/** Reads a length field at `at` and checks that it fits in `bytes` and under `max`. */
function lengthAt(bytes: Uint8Array, at: number, max: number, what: string): number {
  if (bytes.length < at + 4) formatError(`truncated before the ${what} length (${bytes.length} bytes)`);
  const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
  if (length > max) formatError(`${what} of ${length} bytes exceeds ${max}`);
  return length;
}

/**
 * Reads an encoded version strictly: magic, lengths, canonical metadata, a valid model file whose
 * architecture is the metadata's, a signature of the right length and no trailing bytes. It does
 * not check the id, the hashes or the signature: verifyVersion does, so a refusal names them.
 */
export function decodeVersion(bytes: Uint8Array): ModelVersion {
  if (bytes.length < prefixBytes || !versionMagic.every((byte, index) => bytes[index] === byte)) formatError('not a model version (magic "X0TFLMV1")');
  const id = modelIdOf(bytes.subarray(versionMagic.length, versionMagic.length + 32));
  const metadataLength = lengthAt(bytes, prefixBytes - 4, metadataBytesMax, 'metadata');
  const modelAt = prefixBytes + metadataLength + 4;
  const modelLength = lengthAt(bytes, modelAt - 4, modelFileBytesMax, 'model file');
  const expected = modelAt + modelLength + versionSignatureBytes;
  if (bytes.length !== expected) formatError(`expected ${expected} bytes (metadata ${metadataLength}, model file ${modelLength}, signature ${versionSignatureBytes}), got ${bytes.length}`);
  const metadata = decodeMetadata(bytes.subarray(prefixBytes, prefixBytes + metadataLength));
  let model: GraphSage;
  try {
    model = decodeModel(bytes.subarray(modelAt, modelAt + modelLength));
  } catch (error) {
    throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_PARAMETERS, `decodeVersion: model file: ${(error as Error).message}`);
  }
  if (JSON.stringify(model.config) !== JSON.stringify(metadata.modelConfig)) {
    throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_PARAMETERS, `decodeVersion: the model file's architecture ${JSON.stringify(model.config)} is not metadata.modelConfig ${JSON.stringify(metadata.modelConfig)}`);
  }
  return { id, metadata, parameters: model.parameters, signature: bytes.slice(expected - versionSignatureBytes) };
}
