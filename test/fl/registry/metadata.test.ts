import { describe, expect, it } from 'vitest';
import { decodeMetadata, encodeMetadata, type ModelMetadata } from '../../../src/fl/registry/metadata.js';
import { metadataBytesMax, participantsMax, strategyParamsMax } from '../../../src/fl/registry/limits.js';
import { nodes, smallConfig } from './fixtures.js';

const base: ModelMetadata = {
  parentId: 'a'.repeat(64) as ModelMetadata['parentId'],
  round: 3,
  participants: nodes(2, 7, 11),
  strategy: { name: 'krum', params: { f: 1 } },
  privacy: { epsilonBudget: 8, delta: 1e-5, epsilonSpent: 1.25, order: 10, rounds: 3, steps: 3 },
  createdAtMs: 1_700_000_000_000,
  modelConfig: smallConfig,
  modelSha256: 'b'.repeat(64),
};

const text = (metadata: ModelMetadata): string => new TextDecoder().decode(encodeMetadata(metadata));
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

describe('model metadata encoding', () => {
  it('round-trips and sorts strategy parameters by name', () => {
    const metadata = { ...base, strategy: { name: 'multiKrum', params: { m: 3, f: 1, tag: 'x', on: true } } };
    const encoded = encodeMetadata(metadata);
    expect(new TextDecoder().decode(encoded)).toContain('"params":{"f":1,"m":3,"on":true,"tag":"x"}');
    expect(decodeMetadata(encoded)).toEqual({ ...metadata, strategy: { name: 'multiKrum', params: { f: 1, m: 3, on: true, tag: 'x' } } });
    expect(decodeMetadata(encodeMetadata({ ...base, parentId: null, privacy: null }))).toMatchObject({ parentId: null, privacy: null });
  });

  it('refuses bytes that are not the canonical form', () => {
    const canonical = text(base);
    expect(() => decodeMetadata(bytes(canonical.replace('"round":3', '"round": 3')))).toThrow(/not in canonical form/);
    expect(() => decodeMetadata(bytes(canonical.replace('}', ',"extra":1}')))).toThrow(/canonical/);
    expect(() => decodeMetadata(bytes(canonical.replace('"epsilonSpent":1.25', '"epsilonSpent":1.250')))).toThrow(/canonical/);
    expect(() => decodeMetadata(bytes('{"format":'))).toThrow(/not UTF-8 JSON/);
    expect(() => decodeMetadata(Uint8Array.of(0xff, 0xfe))).toThrow(/not UTF-8 JSON/);
    expect(() => decodeMetadata(bytes('[1]'))).toThrow(/metadata.\(root\): expected a JSON object/);
    expect(() => decodeMetadata(bytes(canonical.replace('x0tta6bl4/fl-model', 'other')))).toThrow(/metadata.format/);
    expect(() => decodeMetadata(bytes(canonical.replace('"version":1', '"version":2')))).toThrow(/metadata.version/);
    expect(() => decodeMetadata(new Uint8Array(metadataBytesMax + 1))).toThrow(/at most 65536 bytes/);
  });

  it('names the field that is wrong', () => {
    const cases: [Partial<Record<keyof ModelMetadata, unknown>>, RegExp][] = [
      [{ parentId: 'xyz' }, /metadata.parentId: expected null or a model id/],
      [{ modelSha256: 'B'.repeat(64) }, /metadata.modelSha256/],
      [{ round: -1 }, /metadata.round: expected an integer >= 0, got -1/],
      [{ round: 1.5 }, /metadata.round/],
      [{ createdAtMs: '1' }, /metadata.createdAtMs/],
      [{ participants: 'all' }, /metadata.participants: expected an array/],
      [{ participants: new Array(participantsMax + 1).fill(1) }, /metadata.participants: expected an array of at most 1024/],
      [{ participants: [0] }, /metadata.participants\[0\]: expected a node id/],
      [{ participants: [5, 5] }, /metadata.participants\[1\]: expected a node id above 5/],
      [{ participants: [7, 2] }, /metadata.participants\[1\]/],
      [{ strategy: null }, /metadata.strategy: expected a JSON object/],
      [{ strategy: { name: '1bad', params: {} } }, /metadata.strategy.name/],
      [{ strategy: { name: 'x'.repeat(65), params: {} } }, /metadata.strategy.name/],
      [{ strategy: { name: 7, params: {} } }, /metadata.strategy.name/],
      [{ strategy: { name: 'krum', params: [] } }, /metadata.strategy.params: expected a JSON object/],
      [{ strategy: { name: 'krum', params: { 'bad key': 1 } } }, /metadata.strategy.params key/],
      [{ strategy: { name: 'krum', params: { f: Number.NaN } } }, /metadata.strategy.params.f: expected a finite number/],
      [{ strategy: { name: 'krum', params: { f: 'x'.repeat(65) } } }, /metadata.strategy.params.f/],
      [{ strategy: { name: 'krum', params: { f: null } } }, /metadata.strategy.params.f/],
      [{ strategy: { name: 'krum', params: Object.fromEntries(Array.from({ length: strategyParamsMax + 1 }, (_, i) => [`p${i}`, i])) } }, /at most 16 parameters/],
      [{ privacy: { ...base.privacy, epsilonSpent: -1 } }, /metadata.privacy.epsilonSpent: expected a finite number >= 0/],
      [{ privacy: { ...base.privacy, steps: undefined } }, /metadata.privacy.steps/],
      [{ privacy: 3 }, /metadata.privacy: expected a JSON object/],
      [{ modelConfig: { ...smallConfig, head: 'relu' } }, /metadata.modelConfig: GraphSageConfig: expected head/],
      [{ modelConfig: null }, /metadata.modelConfig: expected a JSON object/],
    ];
    for (const [change, message] of cases) {
      expect(() => encodeMetadata({ ...base, ...change } as ModelMetadata), JSON.stringify(change).slice(0, 80)).toThrow(message);
    }
  });

  it('keeps the largest valid metadata under the byte limit the decoder enforces', () => {
    const params = Object.fromEntries(Array.from({ length: strategyParamsMax }, (_, i) => [`p${i}`.padEnd(64, 'q'), 'y'.repeat(64)]));
    const largest = { ...base, strategy: { name: 'x'.repeat(64), params }, participants: nodes(...Array.from({ length: participantsMax }, (_, i) => 4_000_000_000 + i)) };
    const encoded = encodeMetadata(largest);
    expect(encoded.length).toBeLessThan(metadataBytesMax / 2);
    expect(decodeMetadata(encoded).participants).toHaveLength(participantsMax);
  });
});
