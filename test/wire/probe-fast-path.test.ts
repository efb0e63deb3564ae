/**
 * decodeProbePacket must agree with decodePacket on every packet that holds one Probe TLV
 * (same fields, same WireError) and decline every other packet.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodePacket, decodeProbePacket, encodePacket, newProbeRecord } from '../../src/wire/codec.js';
import type { ProbeTlv } from '../../src/wire/messages.js';
import { packetTlvsArb, probeArb } from './arbitraries.js';

/** What decodePacket makes of `bytes`: its TLVs or its error. */
function slowPath(bytes: Uint8Array): { tlvs: unknown } | { error: unknown } {
  try {
    return { tlvs: decodePacket(bytes) };
  } catch (error) {
    return { error };
  }
}

describe('decodeProbePacket', () => {
  test('reads a single-probe packet as decodePacket does, into the same record each time', () => {
    const record = newProbeRecord();
    fc.assert(
      fc.property(probeArb, (probe) => {
        expect(decodeProbePacket(encodePacket([probe]), record)).toBe(true);
        expect(record).toEqual(probe);
      }),
    );
  });

  test('declines every packet that is not one probe alone, leaving the record untouched', () => {
    const record = newProbeRecord();
    const untouched = { ...record };
    fc.assert(
      fc.property(packetTlvsArb, (tlvs) => {
        fc.pre(!(tlvs.length === 1 && tlvs[0]!.type === 'probe'));
        expect(decodeProbePacket(encodePacket(tlvs), record)).toBe(false);
        expect(record).toEqual(untouched);
      }),
    );
    expect(decodeProbePacket(new Uint8Array(0), record)).toBe(false);
  });

  test('accepts or rejects any probe-shaped packet exactly as decodePacket does', () => {
    const probe: ProbeTlv = { type: 'probe', sender: 7 as ProbeTlv['sender'], state: 2, detectMult: 3, intervalMs: 50, txUs: 1, echoUs: 2, holdUs: 3 };
    const valid = encodePacket([probe]);
    // Every body byte in turn set to values that break a field (0 and 0xff) or keep it.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.constantFrom(0, 1, 2, 3, 0xff), (index, value) => {
        const bytes = valid.slice();
        bytes[index] = value;
        const record = newProbeRecord();
        const expected = slowPath(bytes);
        let accepted: boolean | undefined;
        let error: unknown;
        try {
          accepted = decodeProbePacket(bytes, record);
        } catch (thrown) {
          error = thrown;
        }
        if ('error' in expected) {
          // Either declined (then decodePacket reports it) or the same error.
          if (error === undefined) expect(accepted).toBe(false);
          else expect(error).toEqual(expected.error);
        } else if (accepted === true) {
          expect([record]).toEqual(expected.tlvs);
        } else {
          expect(error).toBeUndefined();
        }
      }),
      { numRuns: 500 },
    );
  });

  test('rejects a probe with a bad field with decodePacket\'s error', () => {
    const bytes = encodePacket([{ type: 'probe', sender: 9 as ProbeTlv['sender'], state: 1, detectMult: 3, intervalMs: 50, txUs: 0, echoUs: 0, holdUs: 0 }]);
    for (const [index, value] of [
      [7, 0], // sender 0 (its low byte, the others being 0)
      [8, 3], // state
      [9, 0], // detectMult
      [11, 0], // intervalMs low byte, with the high byte below
    ] as const) {
      const broken = bytes.slice();
      broken[index] = value;
      if (index === 11) broken[10] = 0;
      const record = newProbeRecord();
      expect(() => decodeProbePacket(broken, record)).toThrow((slowPath(broken) as { error: Error }).error);
      expect(record).toEqual(newProbeRecord());
    }
  });
});
