import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRoundError, RoundError, type RoundErrorCodeValue } from '../../../src/fl/rounds/errors.js';
import type { RoundConfig, UpdateSubmission } from '../../../src/fl/rounds/messages.js';
import {
  checkSender,
  configMagic,
  decodeDistribution,
  decodeRoundConfig,
  decodeRoundMessage,
  decodeUpdateSubmission,
  distributionMagic,
  encodeDistribution,
  encodeRoundConfig,
  encodeUpdateSubmission,
  updateMagic,
  wireParametersMax,
  wireVersionBytesMax,
} from '../../../src/fl/rounds/wire.js';
import type { ModelId } from '../../../src/fl/registry/model-id.js';
import { encodeVersion } from '../../../src/fl/registry/version.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { genesis } from './harness.js';

const config: RoundConfig = {
  kind: 'config',
  round: 7,
  modelId: genesis.id,
  strategy: { name: 'dpFedAvg', params: { clipNorm: 0.5, noiseMultiplier: 1.1 } },
  clipNorm: 0.5,
  deadlineMs: 1_795_857_001_000,
};

const submission: UpdateSubmission = { kind: 'update', round: 7, modelId: genesis.id, update: Float32Array.from([0.5, -0, -1.25, 3e-39]), examples: 42 };

function codeOf(run: () => unknown): RoundErrorCodeValue | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (!(error instanceof RoundError)) throw error;
    return error.code;
  }
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

/** `bytes` with the big-endian u32 at `at` replaced. */
function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value);
  return copy;
}

describe('round configuration encoding', () => {
  it('round-trips, with the layout the docs give', () => {
    const bytes = encodeRoundConfig(config);
    expect(decodeRoundConfig(bytes)).toEqual(config);
    expect(Buffer.from(bytes.subarray(0, 8)).toString()).toBe('X0TFLRC1');
    expect(new DataView(bytes.buffer).getUint32(8)).toBe(7);
    expect(Buffer.from(bytes.subarray(12, 44)).toString('hex')).toBe(genesis.id);
    expect(Number(new DataView(bytes.buffer).getBigUint64(44))).toBe(config.deadlineMs);
    // magic, round, id, deadline, flag + f64, name, count, 2 params (name + tag + f64 each)
    expect(bytes.length).toBe(8 + 4 + 32 + 8 + 9 + 9 + 1 + (1 + 8 + 1 + 8) + (1 + 15 + 1 + 8));
  });

  it('carries every parameter type and no clip norm', () => {
    const plain: RoundConfig = { ...config, clipNorm: null, strategy: { name: 'x.y-z_1', params: { a: true, b: false, c: 'héllo ✓', d: -0.25, e: '\uFEFFbom' } } };
    expect(decodeRoundConfig(encodeRoundConfig(plain))).toEqual(plain);
  });

  it('encodes parameters sorted by name whatever order the record has', () => {
    const reordered: RoundConfig = { ...config, strategy: { name: 'dpFedAvg', params: { noiseMultiplier: 1.1, clipNorm: 0.5 } } };
    expect(encodeRoundConfig(reordered)).toEqual(encodeRoundConfig(config));
  });

  it('round-trips arbitrary configurations (property)', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,20}$/);
    const value = fc.oneof(fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 64 }));
    fc.assert(
      fc.property(fc.nat(0xffff_ffff), fc.nat(), fc.option(fc.double({ min: 1e-9, max: 1e9, noNaN: true })), name, fc.dictionary(name, value, { maxKeys: 16 }), (round, deadlineMs, clipNorm, strategyName, params) => {
        const value: RoundConfig = { kind: 'config', round, modelId: genesis.id, strategy: { name: strategyName, params }, clipNorm, deadlineMs };
        const decoded = decodeRoundConfig(encodeRoundConfig(value));
        expect(decoded).toEqual({ ...value, strategy: { name: strategyName, params: Object.fromEntries(Object.keys(params).sort().map((key) => [key, params[key]])) } });
      }),
      { numRuns: 200 },
    );
  });

  it('refuses values it cannot encode, naming the field', () => {
    const cases: [Partial<RoundConfig>, string][] = [
      [{ round: -1 }, 'round'],
      [{ round: 2 ** 32 }, 'round'],
      [{ modelId: 'ab' as ModelId }, 'modelId'],
      [{ deadlineMs: 1.5 }, 'deadlineMs'],
      [{ clipNorm: 0 }, 'clipNorm'],
      [{ clipNorm: Number.NaN }, 'clipNorm'],
      [{ strategy: { name: '1abc', params: {} } }, 'strategy.name'],
      [{ strategy: { name: 'a', params: { x: Number.POSITIVE_INFINITY } } }, 'strategy.params.x'],
      [{ strategy: { name: 'a', params: { x: 'y'.repeat(65) } } }, 'strategy.params.x'],
      [{ strategy: { name: 'a', params: { 'bad key': 1 } } }, 'strategy.params key'],
      [{ strategy: { name: 'a', params: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, i])) } }, 'strategy.params'],
    ];
    for (const [override, field] of cases) {
      const run = (): Uint8Array => encodeRoundConfig({ ...config, ...override });
      expect(codeOf(run)).toBe('ERR_FL_ROUND_FORMAT');
      expect(messageOf(run)).toContain(`encodeRoundConfig: ${field}`);
    }
  });

  it('refuses every truncation, trailing bytes and a wrong magic', () => {
    const bytes = encodeRoundConfig(config);
    for (let length = 0; length < bytes.length; length++) expect(codeOf(() => decodeRoundConfig(bytes.subarray(0, length)))).toBe('ERR_FL_ROUND_FORMAT');
    expect(messageOf(() => decodeRoundConfig(Uint8Array.of(...bytes, 0)))).toContain('1 trailing bytes');
    const wrongMagic = bytes.slice();
    wrongMagic[7] = 0x32;
    expect(messageOf(() => decodeRoundConfig(wrongMagic))).toContain('magic');
  });

  it('refuses non-canonical and out-of-range fields, naming each', () => {
    const plain = encodeRoundConfig({ ...config, clipNorm: null, strategy: { name: 'a', params: { b: true, c: 'x', d: 1 } } });
    // Offsets: 52 flag, 53 name length, 54 'a', 55 count, 56 'b' length, 57 'b', 58 tag, 59 value, 60 'c' length, 61 'c', 62 tag, 63 length, 64 'x', 65 'd' length, 66 'd', 67 tag, 68.. f64.
    const tamper = (at: number, value: number): Uint8Array => {
      const copy = plain.slice();
      copy[at] = value;
      return copy;
    };
    const cases: [Uint8Array, string][] = [
      [tamper(52, 2), 'clipNorm flag: expected 0 or 1'],
      [tamper(54, 0x31), 'strategy.name'],
      [tamper(55, 17), 'strategy.params count'],
      [tamper(59, 2), 'strategy.params.b: expected 0 or 1'],
      [tamper(58, 9), 'strategy.params.b tag'],
      [tamper(61, 0x62), 'expected ascending, no repeats'],
      [tamper(64, 0xff), 'strategy.params.c: not UTF-8'],
      [withU32(plain, 44, 0x0020_0000), 'deadlineMs'],
    ];
    const infinite = plain.slice();
    new DataView(infinite.buffer).setFloat64(68, Number.NEGATIVE_INFINITY);
    cases.push([infinite, 'strategy.params.d: expected a finite number']);
    const clipped = encodeRoundConfig(config);
    new DataView(clipped.buffer).setFloat64(53, -1);
    cases.push([clipped, 'clipNorm: expected a finite number > 0']);
    for (const [bytes, message] of cases) {
      expect(codeOf(() => decodeRoundConfig(bytes))).toBe('ERR_FL_ROUND_FORMAT');
      expect(messageOf(() => decodeRoundConfig(bytes))).toContain(message);
    }
    const longString = encodeRoundConfig({ ...config, strategy: { name: 'a', params: { s: '✓'.repeat(64) } } });
    // 65 three-byte characters would need a longer length byte than the encoder writes; fake one by growing the string in place.
    const grown = new Uint8Array(longString.length + 3);
    grown.set(longString);
    grown.set([0xe2, 0x9c, 0x93], longString.length);
    grown[longString.length - 193] = 195;
    expect(messageOf(() => decodeRoundConfig(grown))).toContain('strategy.params.s: expected at most 64 characters');
  });

  it('never throws anything but a RoundError on random or mutated bytes (fuzz)', () => {
    const valid = encodeRoundConfig(config);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 120 }), (flips, random) => {
        const mutated = valid.slice();
        for (const [at, value] of flips) mutated[at] = value;
        for (const bytes of [mutated, random, Uint8Array.of(...configMagic, ...random)]) {
          try {
            const decoded = decodeRoundConfig(bytes);
            // Whatever decodes is canonical: it encodes back to the same bytes.
            expect(encodeRoundConfig(decoded)).toEqual(bytes);
          } catch (error) {
            expect(isRoundError(error, 'ERR_FL_ROUND_FORMAT')).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('update submission encoding', () => {
  it('round-trips with the participant, bit for bit, with the layout the docs give', () => {
    const bytes = encodeUpdateSubmission(9 as NodeId, submission);
    expect(bytes.length).toBe(8 + 4 + 32 + 4 + 4 + 4 + 4 * 4);
    expect(Buffer.from(bytes.subarray(0, 8)).toString()).toBe('X0TFLUS1');
    const view = new DataView(bytes.buffer);
    expect([view.getUint32(44), view.getUint32(48), view.getUint32(52), view.getFloat32(56)]).toEqual([9, 42, 4, 0.5]);
    const decoded = decodeUpdateSubmission(bytes);
    expect(decoded.participant).toBe(9);
    expect(decoded.submission).toEqual(submission);
    expect(Object.is(decoded.submission.update[1], -0)).toBe(true);
  });

  it('round-trips arbitrary finite updates (property)', () => {
    fc.assert(
      fc.property(fc.float32Array({ noDefaultInfinity: true, noNaN: true, maxLength: 300 }), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 0xffff_ffff }), (update, examples, participant) => {
        const decoded = decodeUpdateSubmission(encodeUpdateSubmission(participant as NodeId, { ...submission, update, examples }));
        expect(decoded).toEqual({ participant, submission: { ...submission, update, examples } });
      }),
      { numRuns: 200 },
    );
  });

  it('refuses NaN and infinities on both sides, naming the parameter', () => {
    const bad = Float32Array.from([1, 2, Number.NaN]);
    expect(codeOf(() => encodeUpdateSubmission(9 as NodeId, { ...submission, update: bad }))).toBe('ERR_FL_ROUND_NON_FINITE');
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const bytes = encodeUpdateSubmission(9 as NodeId, submission);
      new DataView(bytes.buffer).setFloat32(56 + 8, value);
      expect(codeOf(() => decodeUpdateSubmission(bytes))).toBe('ERR_FL_ROUND_NON_FINITE');
      expect(messageOf(() => decodeUpdateSubmission(bytes))).toContain('parameter 2 is');
    }
  });

  it('refuses bad example counts, participants, counts, lengths and magic, naming the field', () => {
    const bytes = encodeUpdateSubmission(9 as NodeId, submission);
    expect(codeOf(() => decodeUpdateSubmission(withU32(bytes, 48, 0)))).toBe('ERR_FL_ROUND_EXAMPLES');
    expect(codeOf(() => decodeUpdateSubmission(withU32(bytes, 48, 2 ** 30 + 1)))).toBe('ERR_FL_ROUND_EXAMPLES');
    expect(codeOf(() => encodeUpdateSubmission(9 as NodeId, { ...submission, examples: 0.5 }))).toBe('ERR_FL_ROUND_EXAMPLES');
    expect(messageOf(() => decodeUpdateSubmission(withU32(bytes, 44, 0)))).toContain('participant');
    expect(messageOf(() => encodeUpdateSubmission(0 as NodeId, submission))).toContain('participant');
    expect(messageOf(() => decodeUpdateSubmission(withU32(bytes, 52, wireParametersMax + 1)))).toContain('parameter count: expected at most');
    expect(messageOf(() => decodeUpdateSubmission(withU32(bytes, 52, 5)))).toContain('truncated in parameters');
    expect(messageOf(() => decodeUpdateSubmission(withU32(bytes, 52, 3)))).toContain('4 trailing bytes');
    expect(messageOf(() => encodeUpdateSubmission(9 as NodeId, { ...submission, round: -2 }))).toContain('round');
    expect(messageOf(() => encodeUpdateSubmission(9 as NodeId, { ...submission, update: { length: wireParametersMax + 1 } as Float32Array }))).toContain('parameters: expected at most');
    for (let length = 0; length < bytes.length; length++) expect(codeOf(() => decodeUpdateSubmission(bytes.subarray(0, length)))).toBe('ERR_FL_ROUND_FORMAT');
    expect(codeOf(() => decodeUpdateSubmission(encodeRoundConfig(config)))).toBe('ERR_FL_ROUND_FORMAT');
  });

  it('checkSender accepts the authenticated sender and refuses a submission in another node\'s name', () => {
    const update = decodeUpdateSubmission(encodeUpdateSubmission(9 as NodeId, submission));
    expect(checkSender(update, 9 as NodeId)).toEqual(submission);
    expect(codeOf(() => checkSender(update, 10 as NodeId))).toBe('ERR_FL_ROUND_SENDER');
  });

  it('never throws anything but a RoundError on mutated bytes (fuzz)', () => {
    const valid = encodeUpdateSubmission(9 as NodeId, submission);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(valid.length), (flips, cut) => {
        const mutated = valid.slice(0, cut);
        for (const [at, value] of flips) if (at < mutated.length) mutated[at] = value;
        try {
          const { participant, submission: decoded } = decodeUpdateSubmission(mutated);
          expect(encodeUpdateSubmission(participant, decoded)).toEqual(mutated);
        } catch (error) {
          expect(error).toBeInstanceOf(RoundError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('model distribution encoding', () => {
  const version = encodeVersion(genesis);

  it('wraps the version encoding unchanged', () => {
    const bytes = encodeDistribution({ kind: 'model', version });
    expect(bytes.length).toBe(12 + version.length);
    expect(Buffer.from(bytes.subarray(0, 8)).toString()).toBe('X0TFLMD1');
    expect(decodeDistribution(bytes)).toEqual({ kind: 'model', version });
  });

  it('refuses a wrong length, an oversized length, trailing bytes and truncation', () => {
    const bytes = encodeDistribution({ kind: 'model', version });
    expect(messageOf(() => decodeDistribution(withU32(bytes, 8, wireVersionBytesMax + 1)))).toContain('version length: expected at most');
    expect(messageOf(() => decodeDistribution(withU32(bytes, 8, version.length - 1)))).toContain('1 trailing bytes');
    expect(messageOf(() => decodeDistribution(bytes.subarray(0, bytes.length - 1)))).toContain('truncated in version');
    expect(messageOf(() => encodeDistribution({ kind: 'model', version: { length: wireVersionBytesMax + 1 } as Uint8Array }))).toContain('version: expected at most');
  });
});

describe('decodeRoundMessage', () => {
  it('dispatches on the magic', () => {
    expect(decodeRoundMessage(encodeRoundConfig(config))).toEqual(config);
    expect(decodeRoundMessage(encodeUpdateSubmission(3 as NodeId, submission))).toEqual({ participant: 3, submission });
    expect(decodeRoundMessage(encodeDistribution({ kind: 'model', version: Uint8Array.of(1) }))).toEqual({ kind: 'model', version: Uint8Array.of(1) });
    expect(messageOf(() => decodeRoundMessage(Uint8Array.of(...updateMagic.subarray(0, 7))))).toContain('decodeRoundMessage: magic');
    expect(codeOf(() => decodeRoundMessage(distributionMagic))).toBe('ERR_FL_ROUND_FORMAT');
  });
});
