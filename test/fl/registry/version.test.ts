import { describe, expect, it } from 'vitest';
import { decodeModel } from '../../../src/ml/format.js';
import { isRegistryError, type RegistryErrorCodeValue } from '../../../src/fl/registry/errors.js';
import { metadataBytesMax, versionSignatureBytes } from '../../../src/fl/registry/limits.js';
import { encodeMetadata } from '../../../src/fl/registry/metadata.js';
import { createVersion, decodeVersion, encodeVersion, modelFileOf, modelIdOfMetadata, versionModel } from '../../../src/fl/registry/version.js';
import { aggregator, chain, draft, smallConfig, smallParameterCount } from './fixtures.js';

function codeOf(action: () => unknown): RegistryErrorCodeValue | undefined {
  try {
    action();
  } catch (error) {
    if (isRegistryError(error)) return error.code;
    throw error;
  }
  return undefined;
}

const [first] = chain(1);
const encoded = encodeVersion(first!);

describe('model versions', () => {
  it('have the id of their canonical metadata and carry a hybrid signature', () => {
    expect(first!.id).toBe(modelIdOfMetadata(encodeMetadata(first!.metadata)));
    expect(first!.signature).toHaveLength(versionSignatureBytes);
    expect(first!.metadata.parentId).toBeNull();
    expect(createVersion(draft(0, null), aggregator)).toEqual(first);
  });

  it('encode to bytes that decode to the same version, with a model file src/ml loads', () => {
    expect(decodeVersion(encoded)).toEqual(first);
    expect(encodeVersion(decodeVersion(encoded))).toEqual(encoded);
    const model = versionModel(first!);
    expect(model.config).toEqual(smallConfig);
    expect(Array.from(decodeModel(modelFileOf(smallConfig, first!.parameters)).parameters)).toEqual(Array.from(first!.parameters));
    expect(model.parameters).not.toBe(first!.parameters);
  });

  it('refuses to encode a signature of the wrong length or parameters that do not fit the architecture', () => {
    expect(() => encodeVersion({ ...first!, signature: new Uint8Array(10) })).toThrow(/signature of 10 bytes, expected 3373/);
    expect(codeOf(() => modelFileOf(smallConfig, new Float32Array(smallParameterCount - 1)))).toBe('ERR_FL_VERSION_PARAMETERS');
  });

  it('decode strictly, naming what is wrong', () => {
    const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset);
    expect(() => decodeVersion(encoded.subarray(0, 20))).toThrow(/magic/);
    const badMagic = encoded.slice();
    badMagic[0] = 0;
    expect(() => decodeVersion(badMagic)).toThrow(/not a model version/);
    const hugeMetadata = encoded.slice();
    view(hugeMetadata).setUint32(40, metadataBytesMax + 1, true);
    expect(() => decodeVersion(hugeMetadata)).toThrow(/metadata of 65537 bytes exceeds 65536/);
    const metadataLength = view(encoded).getUint32(40, true);
    expect(() => decodeVersion(encoded.subarray(0, 44 + metadataLength + 2))).toThrow(/truncated before the model file length/);
    expect(() => decodeVersion(encoded.subarray(0, encoded.length - 1))).toThrow(/expected \d+ bytes .* got \d+/);
    expect(() => decodeVersion(Uint8Array.from([...encoded, 0]))).toThrow(/expected \d+ bytes/);
    const hugeModel = encoded.slice();
    view(hugeModel).setUint32(44 + metadataLength, 0xffff_ffff, true);
    expect(() => decodeVersion(hugeModel)).toThrow(/model file of 4294967295 bytes exceeds/);
  });

  it('refuses an embedded model file that is damaged or of another architecture', () => {
    const metadataLength = new DataView(encoded.buffer).getUint32(40, true);
    const parameterByte = 44 + metadataLength + 4 + 200;
    const damaged = encoded.slice();
    damaged[parameterByte]! ^= 1;
    expect(() => decodeVersion(damaged)).toThrow(/model file: decodeModel: SHA-256 mismatch/);
    expect(codeOf(() => decodeVersion(damaged))).toBe('ERR_FL_VERSION_PARAMETERS');
    const sigmoid = { ...smallConfig, head: 'sigmoid' as const };
    const other = createVersion(draft(0, null, { modelConfig: sigmoid }), aggregator);
    const swapped = encodeVersion({ ...first!, metadata: { ...first!.metadata } });
    const otherModel = modelFileOf(sigmoid, other.parameters);
    swapped.set(otherModel, 44 + metadataLength + 4);
    expect(() => decodeVersion(swapped)).toThrow(/the model file's architecture .* is not metadata.modelConfig/);
  });
});
