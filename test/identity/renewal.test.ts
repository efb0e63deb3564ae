import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCa, issueSvid, nodeKeysFromSeeds, svidTtlMsDefault, type NodeKeys } from '../../src/identity/ca.js';
import { isIdentityError } from '../../src/identity/errors.js';
import { checkRenewal, decodeRenewalRequest, encodeRenewalRequest, renewalClockSkewMs, renewalExpiryGraceMs, renewalRequestBytesMax, type RenewalPolicy } from '../../src/identity/renewal.js';
import { RevocationSet, signRevocationList } from '../../src/identity/revocation.js';
import { seeded } from '../seeded.js';
import { refusal } from './refusal.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const { ca } = createCa('mesh.test', t0 - 3600_000, seeded('renewal ca'));
const { ca: otherCa } = createCa('mesh.test', t0 - 3600_000, seeded('renewal other ca'));

function nodeKeys(label: string): NodeKeys {
  const random = seeded(label);
  return nodeKeysFromSeeds(random(32), random(32), random(32));
}

const node = nodeKeys('renewal node');
const svid = issueSvid(ca, '/node/0000002a', node.publicKeys, t0, seeded('renewal svid'));
const notAfterMs = t0 + svidTtlMsDefault;
const policy: RenewalPolicy = { anchors: [ca.anchor], trustDomain: 'mesh.test', nowMs: t0 + 1000 };

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  out[index] = out[index]! ^ 1;
  return out;
}

describe('renewal request', () => {
  it('round-trips and is accepted for the keys the SVID binds', () => {
    const request = decodeRenewalRequest(encodeRenewalRequest(node, svid, t0 + 1000));
    expect(request.svid).toEqual(svid);
    expect(request.publicKeys).toEqual(node.publicKeys);
    expect(request.timestampMs).toBe(t0 + 1000);
    const identity = checkRenewal(request, policy);
    expect(identity.spiffeId).toBe('spiffe://mesh.test/node/0000002a');
    expect(identity.path).toBe('/node/0000002a');
  });

  it('is refused when signed by other keys than the SVID binds, or when a signature or carried key was altered', () => {
    const thief = nodeKeys('thief');
    const stolen = decodeRenewalRequest(encodeRenewalRequest(thief, svid, t0 + 1000));
    const error = refusal(() => checkRenewal(stolen, policy));
    expect([error.code, error.message]).toEqual(['ERR_RENEWAL_KEYS', expect.stringMatching(/not the ones spiffe:\/\/mesh.test\/node\/0000002a's SVID binds/)]);
    const bytes = encodeRenewalRequest(node, svid, t0 + 1000);
    const keysAt = 6 + 2 + svid.length;
    for (const index of [bytes.length - 1, bytes.length - 3309 - 1, keysAt, keysAt + 40, keysAt + 32 + 1952 + 5, 10]) {
      expect(refusal(() => decodeRenewalRequest(flip(bytes, index))).code).toBe('ERR_RENEWAL_SIGNATURE');
    }
  });

  it('is refused when its timestamp is further than the skew from the CA clock', () => {
    const stampMs = t0 + 20 * 60_000;
    const request = decodeRenewalRequest(encodeRenewalRequest(node, svid, stampMs));
    expect(checkRenewal(request, { ...policy, nowMs: stampMs + renewalClockSkewMs }).spiffeId).toMatch(/0000002a$/);
    expect(checkRenewal(request, { ...policy, nowMs: stampMs - renewalClockSkewMs }).spiffeId).toMatch(/0000002a$/);
    for (const nowMs of [stampMs + renewalClockSkewMs + 1, stampMs - renewalClockSkewMs - 1]) {
      expect(refusal(() => checkRenewal(request, { ...policy, nowMs })).code).toBe('ERR_RENEWAL_CLOCK');
    }
  });

  it('takes an SVID expired by at most the grace, and refuses one expired for longer', () => {
    const late = notAfterMs + renewalExpiryGraceMs;
    expect(checkRenewal(decodeRenewalRequest(encodeRenewalRequest(node, svid, late)), { ...policy, nowMs: late }).notAfterMs).toBe(notAfterMs);
    const error = refusal(() => checkRenewal(decodeRenewalRequest(encodeRenewalRequest(node, svid, late + 1)), { ...policy, nowMs: late + 1 }));
    expect([error.code, error.message]).toEqual(['ERR_SVID_EXPIRED', expect.stringMatching(/join again with a new token/)]);
  });

  it('refuses a revoked SVID, one of another CA, and one not yet valid', () => {
    const revocations = new RevocationSet('mesh.test');
    revocations.update(signRevocationList(ca, { trustDomain: 'mesh.test', sequence: 1, issuedAtMs: t0 + 500, entries: [{ spiffeId: 'spiffe://mesh.test/node/0000002a', serialHex: null, revokedAtMs: t0 + 500 }] }), [ca.anchor]);
    const request = decodeRenewalRequest(encodeRenewalRequest(node, svid, t0 + 1000));
    expect(refusal(() => checkRenewal(request, { ...policy, isRevoked: revocations.isRevoked })).code).toBe('ERR_SVID_REVOKED');
    expect(refusal(() => checkRenewal(request, { ...policy, anchors: [otherCa.anchor] })).code).toBe('ERR_SVID_SIGNATURE');
    const future = issueSvid(ca, '/node/0000002a', node.publicKeys, t0 + 3600_000, seeded('future'));
    expect(refusal(() => checkRenewal(decodeRenewalRequest(encodeRenewalRequest(node, future, t0)), { ...policy, nowMs: t0 })).code).toBe('ERR_SVID_NOT_YET_VALID');
  });

  it('is decoded strictly: magic, lengths, trailing bytes, timestamp range, size limit', () => {
    const bytes = encodeRenewalRequest(node, svid, t0);
    const cases: [Uint8Array, RegExp][] = [
      [flip(bytes, 0), /not an x0tRN1 request/],
      [bytes.subarray(0, 7), /not an x0tRN1 request/],
      [bytes.subarray(0, bytes.length - 1), /expected \d+ bytes for a \d+-byte SVID, got/],
      [new Uint8Array(Buffer.concat([bytes, Buffer.from([0])])), /expected \d+ bytes/],
      [new Uint8Array(Buffer.concat([bytes.subarray(0, 6), Buffer.from([0, 0]), bytes.subarray(8 + svid.length)])), /for a 0-byte SVID/],
      [new Uint8Array(renewalRequestBytesMax + 1), /more than renewalRequestBytesMax/],
    ];
    for (const [input, message] of cases) {
      const error = refusal(() => decodeRenewalRequest(input));
      expect([error.code, error.message]).toEqual(['ERR_RENEWAL_FORMAT', expect.stringMatching(message)]);
    }
    const huge = bytes.slice();
    new DataView(huge.buffer).setBigUint64(8 + svid.length + 32 + 1952 + 1216, 2n ** 63n);
    expect(refusal(() => decodeRenewalRequest(huge)).message).toMatch(/timestampMs must be at most/);
    expect(refusal(() => encodeRenewalRequest(node, svid, -1)).code).toBe('ERR_RENEWAL_FORMAT');
    expect(refusal(() => encodeRenewalRequest(node, new Uint8Array(0), t0)).code).toBe('ERR_RENEWAL_FORMAT');
  });

  it('never throws anything but an IdentityError on arbitrary bytes', () => {
    const prefix = new TextEncoder().encode('x0tRN1');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12_000 }), fc.boolean(), (tail, withMagic) => {
        try {
          decodeRenewalRequest(withMagic ? new Uint8Array(Buffer.concat([prefix, tail])) : tail);
        } catch (error) {
          expect(isIdentityError(error)).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });
});
