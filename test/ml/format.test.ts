/** The model file: bit-exact round trips and one refusal per error code. */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import type { GraphSageConfig } from '../../src/ml/config.js';
import { MlErrorCode } from '../../src/ml/errors.js';
import { decodeModel, encodeModel, loadModel, modelFormatVersion, modelHashBytes, modelMagic, modelPrefixBytes, saveModel } from '../../src/ml/format.js';
import { GraphSage } from '../../src/ml/model.js';
import { seededRandom } from '../../src/ml/random.js';
import { expectMlError, expectMlErrorAsync, randomDense, randomGraph } from './helpers.js';

const config: GraphSageConfig = { inputDim: 5, hiddenDims: [4, 3], outputDim: 2, head: 'sigmoid', l2Normalize: true };
const model = GraphSage.create(config, seededRandom(9));
model.parameter('layer2.bias').set([0.25, -1.5]);
const bytes = encodeModel(model);
const headerBytes = new DataView(bytes.buffer).getUint32(12, true);
const bodyEnd = bytes.length - modelHashBytes;
const directory = mkdtempSync(join(tmpdir(), 'x0t-ml-format-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A copy of the file with its prefix+header+parameters replaced by `body` and a correct hash: passes the hash check. */
function resealed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + modelHashBytes);
  out.set(body);
  out.set(createHash('sha256').update(body).digest(), body.length);
  return out;
}

/** The file with its header text replaced by `header` (lengths fixed, hash recomputed). */
function withHeader(header: string): Uint8Array {
  const text = new TextEncoder().encode(header);
  const parameters = bytes.subarray(modelPrefixBytes + headerBytes, bodyEnd);
  const body = new Uint8Array(modelPrefixBytes + text.length + parameters.length);
  body.set(bytes.subarray(0, modelPrefixBytes));
  new DataView(body.buffer).setUint32(12, text.length, true);
  body.set(text, modelPrefixBytes);
  body.set(parameters, modelPrefixBytes + text.length);
  return resealed(body);
}

const headerJson = (): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes.subarray(modelPrefixBytes, modelPrefixBytes + headerBytes))) as Record<string, unknown>;

describe('round trip', () => {
  test('decode(encode(model)) has the same architecture and bit-identical parameters', () => {
    const decoded = decodeModel(bytes);
    expect(decoded.config).toStrictEqual(config);
    expect(new Uint8Array(decoded.parameters.buffer)).toStrictEqual(new Uint8Array(model.parameters.buffer));
    expect(encodeModel(decoded)).toStrictEqual(bytes);
  });

  test('the layout: magic, version, lengths, header, parameters, hash', () => {
    expect(bytes.subarray(0, 8)).toStrictEqual(modelMagic);
    const view = new DataView(bytes.buffer);
    expect(view.getUint16(8, true)).toBe(modelFormatVersion);
    expect(view.getUint16(10, true)).toBe(0);
    expect(view.getUint32(16, true)).toBe(model.parameters.length);
    expect(bytes.length).toBe(modelPrefixBytes + headerBytes + 4 * model.parameters.length + modelHashBytes);
    expect(headerJson()['architecture']).toStrictEqual({ aggregator: 'mean', ...config });
    expect(view.getFloat32(bodyEnd - 4, true)).toBe(-1.5);
    expect(bytes.subarray(bodyEnd)).toStrictEqual(new Uint8Array(createHash('sha256').update(bytes.subarray(0, bodyEnd)).digest()));
  });

  test('saveModel and loadModel round-trip through a file, and the loaded model infers the same', async () => {
    const path = join(directory, 'model.bin');
    await saveModel(path, model);
    expect(new Uint8Array(readFileSync(path))).toStrictEqual(bytes);
    const loaded = await loadModel(path);
    const graph = randomGraph(9, 12, 1);
    const features = randomDense(9, 5, 2);
    expect(loaded.predict(graph, features)).toStrictEqual(model.predict(graph, features));
  });
});

describe('refusals', () => {
  test('every strict prefix of the file is refused as truncated', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (length) => {
        expectMlError(() => decodeModel(bytes.subarray(0, length)), MlErrorCode.ERR_MODEL_TRUNCATED, 'truncated');
      }),
    );
  });

  test('a changed byte in the header, parameters or hash is refused by the hash', () => {
    fc.assert(
      fc.property(fc.integer({ min: modelPrefixBytes, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const tampered = bytes.slice();
        tampered[at]! ^= flip;
        expectMlError(() => decodeModel(tampered), MlErrorCode.ERR_MODEL_HASH, 'SHA-256 mismatch');
      }),
    );
  });

  test('wrong magic is refused as not a model file, however long', () => {
    for (const input of [Uint8Array.from([0x50, 0x4b, 3, 4]), (() => { const b = bytes.slice(); b[3] = 0x21; return b; })()]) {
      expectMlError(() => decodeModel(input), MlErrorCode.ERR_MODEL_FORMAT, 'not a model file');
    }
  });

  test('another format version is refused with both versions named', () => {
    const other = bytes.slice();
    new DataView(other.buffer).setUint16(8, 2, true);
    expectMlError(() => decodeModel(other), MlErrorCode.ERR_MODEL_VERSION, 'format version 2', 'reads version 1');
  });

  test('a non-zero reserved field, oversized lengths and trailing bytes are format errors', () => {
    const reserved = bytes.slice();
    new DataView(reserved.buffer).setUint16(10, 1, true);
    expectMlError(() => decodeModel(reserved), MlErrorCode.ERR_MODEL_FORMAT, 'reserved field is 1');
    const longHeader = bytes.slice();
    new DataView(longHeader.buffer).setUint32(12, 1 << 20, true);
    expectMlError(() => decodeModel(longHeader), MlErrorCode.ERR_MODEL_FORMAT, 'exceeds modelHeaderBytesMax');
    const manyParameters = bytes.slice();
    new DataView(manyParameters.buffer).setUint32(16, 0xffffffff, true);
    expectMlError(() => decodeModel(manyParameters), MlErrorCode.ERR_MODEL_FORMAT, 'exceed parameterCountMax');
    const trailing = new Uint8Array(bytes.length + 3);
    trailing.set(bytes);
    expectMlError(() => decodeModel(trailing), MlErrorCode.ERR_MODEL_FORMAT, '3 bytes after the hash');
  });

  test('a header that is hashed correctly but wrong is a format error naming what is wrong', () => {
    const canonical = JSON.stringify(headerJson());
    expect(decodeModel(withHeader(canonical)).config).toStrictEqual(config);
    const edit = (change: (header: Record<string, unknown>) => void): string => {
      const header = headerJson();
      change(header);
      return JSON.stringify(header);
    };
    const architecture = (header: Record<string, unknown>) => header['architecture'] as Record<string, unknown>;
    const cases: [string, string][] = [
      ['{"format": ', 'not UTF-8 JSON'],
      ['[1,2]', 'header is not a JSON object'],
      [edit((h) => (h['format'] = 'onnx')), 'header format is "onnx"'],
      [edit((h) => (h['architecture'] = 7)), 'header.architecture is not a JSON object'],
      [edit((h) => (architecture(h)['aggregator'] = 'max')), 'aggregator is "max"'],
      [edit((h) => (architecture(h)['head'] = 'relu')), "header.architecture: GraphSageConfig: expected head 'softmax' or 'sigmoid'"],
      [edit((h) => (h['parameterCount'] = 3)), 'header.parameterCount is 3'],
      [edit((h) => (h['parameters'] = [])), 'must list the 9 parameters'],
      [edit((h) => ((h['parameters'] as unknown[])[4] = 'x')), 'header.parameters[4] is not a JSON object'],
      [edit((h) => (((h['parameters'] as Record<string, unknown>[])[1]!['name'] = 'layer0.otherWeight'))), 'header.parameters[1] is {"name":"layer0.otherWeight"'],
      [edit((h) => (((h['parameters'] as Record<string, unknown>[])[2]!['shape'] = [5]))), 'the architecture implies {"name":"layer0.bias","shape":[4]'],
      [edit((h) => (h['comment'] = 'hi')), 'not in canonical form'],
      [` ${canonical}`, 'not in canonical form'],
    ];
    for (const [header, part] of cases) expectMlError(() => decodeModel(withHeader(header)), MlErrorCode.ERR_MODEL_FORMAT, part);
    const invalidUtf8 = new Uint8Array(headerBytes).fill(0xff);
    const body = bytes.slice(0, bodyEnd);
    body.set(invalidUtf8, modelPrefixBytes);
    expectMlError(() => decodeModel(resealed(body)), MlErrorCode.ERR_MODEL_FORMAT, 'not UTF-8 JSON');
  });

  test('a non-finite parameter is a format error', () => {
    const body = bytes.slice(0, bodyEnd);
    new DataView(body.buffer).setFloat32(modelPrefixBytes + headerBytes + 4 * 6, Number.NaN, true);
    expectMlError(() => decodeModel(resealed(body)), MlErrorCode.ERR_MODEL_FORMAT, 'parameter 6 is NaN');
  });

  test('loadModel: a missing file is a read error, a tampered file a hash error', async () => {
    await expectMlErrorAsync(loadModel(join(directory, 'missing.bin')), MlErrorCode.ERR_ML_READ, 'missing.bin');
    const path = join(directory, 'tampered.bin');
    const tampered = bytes.slice();
    tampered[bodyEnd - 1]! ^= 1;
    writeFileSync(path, tampered);
    await expectMlErrorAsync(loadModel(path), MlErrorCode.ERR_MODEL_HASH);
  });

  test('loadModel refuses a file larger than any model before reading it', async () => {
    const path = join(directory, 'huge.bin');
    writeFileSync(path, '');
    truncateSync(path, 80 << 20); // sparse: no disk space used
    await expectMlErrorAsync(loadModel(path), MlErrorCode.ERR_MODEL_FORMAT, 'more than any model file');
  });
});
