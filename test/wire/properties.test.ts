/**
 * Property tests: round trips for every TLV type and for packets, canonicity (a decoded packet
 * re-encodes to the same bytes), and robustness (any input either decodes or throws WireError).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodePacket, encodePacket, tlvBytes } from '../../src/wire/codec.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import { packetBytesMax, payloadBytesMax } from '../../src/wire/limits.js';
import type { Tlv } from '../../src/wire/messages.js';
import {
  anyTlvArb,
  dataArb,
  helloArb,
  ihuArb,
  packetTlvsArb,
  probeArb,
  queryArb,
  queryReplyArb,
  routeRequestArb,
  seqnoRequestArb,
  updateArb,
} from './arbitraries.js';
import { toHex } from './hex.js';

/** Decodes `bytes`; on success asserts canonicity, on failure asserts a WireError. Returns 'ok' or the error code. */
function decodesCanonicallyOrThrowsWireError(bytes: Uint8Array): string {
  let tlvs: Tlv[];
  try {
    tlvs = decodePacket(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(WireError);
    return (error as WireError).code;
  }
  expect(toHex(encodePacket(tlvs))).toBe(toHex(bytes));
  return 'ok';
}

describe('round trips', () => {
  const perType: [string, fc.Arbitrary<Tlv>][] = [
    ['hello', helloArb],
    ['ihu', ihuArb],
    ['probe', probeArb],
    ['update', updateArb],
    ['routeRequest', routeRequestArb],
    ['seqnoRequest', seqnoRequestArb],
    ['data', dataArb(payloadBytesMax)],
    ['query', queryArb],
    ['queryReply', queryReplyArb],
  ];

  test.each(perType)('%s: decode(encode(x)) deep-equals x and the size is 1 + tlvBytes', (_name, arb) => {
    fc.assert(
      fc.property(arb, (tlv) => {
        const bytes = encodePacket([tlv]);
        expect(bytes.length).toBe(1 + tlvBytes(tlv));
        expect(decodePacket(bytes)).toStrictEqual([tlv]);
      }),
      { numRuns: 500 },
    );
  });

  test('packets: decode(encode(tlvs)) deep-equals tlvs', () => {
    fc.assert(
      fc.property(packetTlvsArb, (tlvs) => {
        const bytes = encodePacket(tlvs);
        expect(bytes.length).toBe(tlvs.reduce((sum, tlv) => sum + tlvBytes(tlv), 1));
        expect(bytes.length).toBeLessThanOrEqual(packetBytesMax);
        expect(decodePacket(bytes)).toStrictEqual(tlvs);
      }),
      { numRuns: 300 },
    );
  });

  test('encoding is a function of the value: equal values give equal bytes', () => {
    fc.assert(
      fc.property(packetTlvsArb, (tlvs) => {
        const copy = tlvs.map((tlv) => (tlv.type === 'data' ? { ...tlv, payload: tlv.payload.slice() } : { ...tlv }));
        expect(toHex(encodePacket(copy))).toBe(toHex(encodePacket(tlvs)));
      }),
      { numRuns: 100 },
    );
  });
});

describe('robustness: decode either succeeds canonically or throws WireError', () => {
  test('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: packetBytesMax + 8 }), (bytes) => void decodesCanonicallyOrThrowsWireError(bytes)), {
      numRuns: 2000,
    });
  });

  test('random bytes after a valid version byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (rest) => void decodesCanonicallyOrThrowsWireError(Uint8Array.of(1, ...rest))),
      { numRuns: 2000 },
    );
  });

  // Random TLV-shaped input reaches the body decoders far more often than uniform bytes do: the
  // type code is usually known, the body usually has that type's length, and the declared length
  // usually tells the truth, so each rule (and success) is hit often.
  const bodyBytesByCode = [0, 12, 12, 20, 10, 5, 12, 14, 6, 10, 0, 0];
  const rawTlvArb = fc
    .record({
      code: fc.integer({ min: 0, max: 11 }),
      bodyBytesDelta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 8 }) }),
      lie: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }),
      seed: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    })
    .map(({ code, bodyBytesDelta, lie, seed }) => {
      const bodyBytes = Math.max(0, bodyBytesByCode[code]! + bodyBytesDelta);
      const declared = Math.max(0, bodyBytes + lie);
      return Uint8Array.of(code, declared >>> 8, declared & 0xff, ...seed.subarray(0, bodyBytes));
    });

  test('random TLV-shaped packets', () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(fc.array(rawTlvArb, { minLength: 1, maxLength: 6 }), (raws) => {
        const bytes = Uint8Array.of(1, ...raws.flatMap((raw) => Array.from(raw)));
        outcomes.add(decodesCanonicallyOrThrowsWireError(bytes));
      }),
      { numRuns: 3000 },
    );
    // Guard against a generator that drifts into exercising only one rule.
    for (const outcome of ['ok', 'ERR_WIRE_TRUNCATED', 'ERR_WIRE_TLV_TYPE', 'ERR_WIRE_TLV_LENGTH', 'ERR_WIRE_FIELD']) {
      expect(outcomes).toContain(outcome);
    }
  });

  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 0xff }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

  function mutate(bytes: Uint8Array, mutation: Mutation): Uint8Array {
    switch (mutation.kind) {
      case 'flip': {
        const out = bytes.slice();
        const at = mutation.at % out.length;
        out[at] = out[at]! ^ mutation.xor;
        return out;
      }
      case 'truncate':
        return bytes.slice(0, mutation.at % bytes.length);
      case 'extend':
        return Uint8Array.of(...bytes, ...mutation.tail);
    }
  }

  test('mutated valid packets (flipped bytes, truncations, extensions)', () => {
    fc.assert(
      fc.property(packetTlvsArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (tlvs, mutations) => {
        const original = encodePacket(tlvs);
        const mutated = mutations.reduce(mutate, original);
        if (decodesCanonicallyOrThrowsWireError(mutated) === 'ok' && toHex(mutated) !== toHex(original)) {
          // Canonicity implies different bytes decode to different values.
          expect(decodePacket(mutated)).not.toStrictEqual(tlvs);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a truncated valid packet never decodes to a prefix silently', () => {
    fc.assert(
      fc.property(anyTlvArb, fc.nat(), (tlv, cut) => {
        const bytes = encodePacket([tlv]);
        const truncated = bytes.subarray(0, cut % bytes.length);
        expect(() => decodePacket(truncated)).toThrow(WireError);
      }),
      { numRuns: 500 },
    );
  });
});

describe('robustness: encode either succeeds or throws ERR_WIRE_ENCODE', () => {
  test('-0 is accepted as 0 (it arises from ordinary arithmetic such as Math.round(-0.2))', () => {
    const tlv: Tlv = { type: 'ihu', rxCost: -0, intervalMs: 1, originUs: Math.round(-0.2), holdUs: 0 };
    expect(decodePacket(encodePacket([tlv]))).toStrictEqual([{ ...tlv, rxCost: 0, originUs: 0 }]);
  });

  test('a valid TLV with one field replaced by anything', () => {
    fc.assert(
      fc.property(anyTlvArb, fc.nat(), fc.anything(), (tlv, pick, value) => {
        const keys = Object.keys(tlv).filter((key) => key !== 'type');
        const key = keys[pick % keys.length]!;
        const bad = { ...tlv, [key]: value } as Tlv;
        let bytes: Uint8Array;
        try {
          bytes = encodePacket([bad]);
        } catch (error) {
          expect(error).toBeInstanceOf(WireError);
          expect((error as WireError).code).toBe(WireErrorCode.ERR_WIRE_ENCODE);
          return;
        }
        // Whatever was accepted must round-trip; -0 is accepted as the integer 0 and decodes as +0.
        const expected = Object.is(value, -0) ? { ...tlv, [key]: 0 } : bad;
        expect(decodePacket(bytes)).toStrictEqual([expected]);
      }),
      { numRuns: 2000 },
    );
  });
});
