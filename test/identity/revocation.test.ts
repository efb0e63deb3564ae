import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519Sign } from '../../src/crypto/curve25519.js';
import { sha256 } from '../../src/crypto/hash.js';
import { mlDsaSign } from '../../src/crypto/mldsa.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa } from '../../src/identity/ca.js';
import {
  revocationBytesMax,
  revocationEntriesMax,
  revocationSignatureContext,
  RevocationSet,
  signRevocationList,
  verifyRevocationList,
  type RevocationEntry,
  type RevocationList,
} from '../../src/identity/revocation.js';
import { validateSvid, type SvidIdentity } from '../../src/identity/svid.js';
import { seeded } from '../seeded.js';
import { refusal } from './refusal.js';

const minuteMs = 60_000;
const dayMs = 24 * 3600_000;
const t0 = Date.UTC(2026, 10, 27, 12);
const td = 'mesh.test';
const aliceId = 'spiffe://mesh.test/node/00000001';
const bobId = 'spiffe://mesh.test/node/00000002';


// Fixtures, made once: CA creation and SVID issuance cost tens of milliseconds (ML-DSA in JS).
const ca = createCa(td, t0, seeded('ca')).ca;
/** A second CA of the same trust domain, as during a CA rotation. */
const nextCa = createCa(td, t0, seeded('next ca')).ca;
const foreignCa = createCa('other.test', t0, seeded('foreign ca')).ca;
const keys = nodeKeysFromSeeds(...([1, 2, 3].map((i) => sha256(Uint8Array.of(i))) as [Uint8Array, Uint8Array, Uint8Array])).publicKeys;
const aliceSvid = issueSvid(ca, '/node/00000001', keys, t0, seeded('alice svid'));
const bobSvid = issueSvid(ca, '/node/00000002', keys, t0, seeded('bob svid'));
const alice = validateSvid(aliceSvid, [ca.anchor], td, t0);
const bob = validateSvid(bobSvid, [ca.anchor], td, t0);

function list(overrides: Partial<RevocationList> = {}): RevocationList {
  return {
    trustDomain: td,
    sequence: 1,
    issuedAtMs: t0 + 10 * minuteMs,
    entries: [
      { spiffeId: bobId, serialHex: bob.serialHex, revokedAtMs: t0 + 5 * minuteMs },
      { spiffeId: aliceId, serialHex: null, revokedAtMs: t0 + 10 * minuteMs },
    ],
    ...overrides,
  };
}

const signed = signRevocationList(ca, list());


/** An independent encoder of the documented body layout, to build bodies the signer would refuse. */
function body(parts: { version?: number; trustDomain?: string; sequence?: bigint; issuedAtMs?: bigint; count?: number; entries?: { id: string; serial: number[]; atMs: bigint }[]; trailing?: number[] }): Uint8Array {
  const u64 = (value: bigint): Buffer => {
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(value);
    return out;
  };
  const entries = parts.entries ?? [{ id: aliceId, serial: [], atMs: 5n }];
  const trustDomain = Buffer.from(parts.trustDomain ?? td, 'latin1');
  const chunks = [Buffer.of(parts.version ?? 1, trustDomain.length), trustDomain, u64(parts.sequence ?? 1n), u64(parts.issuedAtMs ?? 10n), Buffer.of((parts.count ?? entries.length) >> 8, (parts.count ?? entries.length) & 0xff)];
  for (const entry of entries) {
    const id = Buffer.from(entry.id, 'latin1');
    chunks.push(Buffer.of(id.length >> 8, id.length & 0xff), id, Buffer.of(entry.serial.length, ...entry.serial), u64(entry.atMs));
  }
  chunks.push(Buffer.from(parts.trailing ?? []));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Signs `bytes` as the documented scheme does: Ed25519 over context | body, ML-DSA-65 over body with the context. */
function signBody(signer: MeshCa, bytes: Uint8Array): Uint8Array {
  const classical = ed25519Sign(signer.ed25519PrivateKey, new Uint8Array(Buffer.concat([revocationSignatureContext, bytes])));
  return new Uint8Array(Buffer.concat([bytes, classical, mlDsaSign(signer.mlDsaSecretKey, bytes, revocationSignatureContext)]));
}

const bodyLength = signed.length - 64 - 3309;

describe('signRevocationList and verifyRevocationList', () => {
  it('round-trip a list, entries in canonical order (by SPIFFE ID, then serial)', () => {
    const verified = verifyRevocationList(signed, [ca.anchor], td);
    expect(verified).toEqual({ ...list(), entries: [list().entries[1], list().entries[0]] });
  });

  it('write the documented layout: body, Ed25519 signature, ML-DSA-65 signature; the same list gives the same bytes', () => {
    const expected = body({ sequence: 1n, issuedAtMs: BigInt(t0 + 10 * minuteMs), entries: [
      { id: aliceId, serial: [], atMs: BigInt(t0 + 10 * minuteMs) },
      { id: bobId, serial: [...Buffer.from(bob.serialHex, 'hex')], atMs: BigInt(t0 + 5 * minuteMs) },
    ] });
    expect(Buffer.from(signed.subarray(0, bodyLength)).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    expect(signed).toEqual(signBody(ca, expected));
    expect(signRevocationList(ca, list())).toEqual(signed);
  });

  it('accept a list signed by either CA of the trust domain (CA rotation)', () => {
    const byNext = signRevocationList(nextCa, list());
    expect(verifyRevocationList(byNext, [ca.anchor, nextCa.anchor], td).sequence).toBe(1);
    expect(verifyRevocationList(signed, [nextCa.anchor, ca.anchor], td).sequence).toBe(1);
  });

  it('round-trip any list (property)', () => {
    const entry = fc.record({
      spiffeId: fc.integer({ min: 1, max: 0xffff_ffff }).map((n) => `spiffe://mesh.test/node/${n.toString(16).padStart(8, '0')}`),
      serialHex: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex'))),
      revokedAtMs: fc.integer({ min: 0, max: 1_000_000 }),
    });
    const lists = fc.record({
      trustDomain: fc.constant(td),
      sequence: fc.maxSafeNat(),
      issuedAtMs: fc.integer({ min: 1_000_000, max: Number.MAX_SAFE_INTEGER }),
      entries: fc.uniqueArray(entry, { maxLength: 8, selector: (e) => `${e.spiffeId} ${e.serialHex}` }),
    });
    fc.assert(
      fc.property(lists, (value: RevocationList) => {
        const verified = verifyRevocationList(signRevocationList(ca, value), [ca.anchor], td);
        expect(new Set(verified.entries.map((e) => JSON.stringify(e)))).toEqual(new Set(value.entries.map((e) => JSON.stringify(e))));
        expect(verified.sequence).toBe(value.sequence);
      }),
      { numRuns: 12 },
    );
  });
});

describe('lists verifyRevocationList refuses', () => {
  const [edOfCa, pqOfNext] = [signed.subarray(bodyLength, bodyLength + 64), signRevocationList(nextCa, list()).subarray(bodyLength + 64)];
  it.each([
    ['signed by another CA of the same name', () => signRevocationList(nextCa, list()), 'ERR_REVOCATION_SIGNATURE', /no trust anchor of mesh\.test made its Ed25519 signature \(1 anchors\)/],
    ['an ML-DSA-65 signature by another CA (the Ed25519 one alone is not enough)', () => new Uint8Array(Buffer.concat([signed.subarray(0, bodyLength), edOfCa, pqOfNext])), 'ERR_REVOCATION_SIGNATURE', /ML-DSA-65 signature does not verify/],
    ['a list of another trust domain', () => signRevocationList(foreignCa, { ...list(), trustDomain: 'other.test', entries: [] }), 'ERR_REVOCATION_TRUST_DOMAIN', /issued for trust domain other\.test, expected mesh\.test/],
    ['fewer bytes than an empty list', () => signed.subarray(0, 3000), 'ERR_REVOCATION_FORMAT', /fewer than the/],
    ['more than revocationBytesMax bytes', () => new Uint8Array(revocationBytesMax + 1), 'ERR_REVOCATION_LIMIT', /more than revocationBytesMax/],
    ['a byte appended', () => new Uint8Array([...signed, 0]), 'ERR_REVOCATION_FORMAT', /./],
    ['version 2', () => signBody(ca, body({ version: 2 })), 'ERR_REVOCATION_FORMAT', /version must be 1, got 2/],
    ['a byte after the last entry', () => signBody(ca, body({ trailing: [0] })), 'ERR_REVOCATION_FORMAT', /1 bytes after the last entry/],
    ['fewer entries than counted', () => signBody(ca, body({ count: 2 })), 'ERR_REVOCATION_FORMAT', /truncated: entries\[1\]\.spiffeId length/],
    ['more entries than revocationEntriesMax', () => signBody(ca, body({ count: revocationEntriesMax + 1 })), 'ERR_REVOCATION_LIMIT', /8193 entries, more than revocationEntriesMax 8192/],
    ['entries out of order', () => signBody(ca, body({ entries: [{ id: bobId, serial: [], atMs: 1n }, { id: aliceId, serial: [], atMs: 1n }] })), 'ERR_REVOCATION_FORMAT', /entries\[1\] is out of order or repeated/],
    ['an entry twice', () => signBody(ca, body({ entries: [{ id: aliceId, serial: [1], atMs: 1n }, { id: aliceId, serial: [1], atMs: 2n }] })), 'ERR_REVOCATION_FORMAT', /entries\[1\] is out of order or repeated/],
    ['a serial of 21 bytes', () => signBody(ca, body({ entries: [{ id: aliceId, serial: Array.from({ length: 21 }, () => 7), atMs: 1n }] })), 'ERR_REVOCATION_FORMAT', /entries\[0\]\.serialHex must be null or 1\.\.20 bytes/],
    ['a SPIFFE ID of another trust domain', () => signBody(ca, body({ entries: [{ id: 'spiffe://other.test/node/00000001', serial: [], atMs: 1n }] })), 'ERR_REVOCATION_FORMAT', /must name a workload in trust domain mesh\.test/],
    ['the trust domain itself as an entry', () => signBody(ca, body({ entries: [{ id: 'spiffe://mesh.test', serial: [], atMs: 1n }] })), 'ERR_REVOCATION_FORMAT', /must name a workload/],
    ['an entry that is not a SPIFFE ID', () => signBody(ca, body({ entries: [{ id: 'SPIFFE://mesh.test/node/1', serial: [], atMs: 1n }] })), 'ERR_REVOCATION_FORMAT', /entries\[0\]\.spiffeId: SPIFFE ID/],
    ['a byte above 0x7f in a SPIFFE ID', () => signBody(ca, body({ entries: [{ id: 'spiffe://mesh.test/n\u00e9', serial: [], atMs: 1n }] })), 'ERR_REVOCATION_FORMAT', /entries\[0\]\.spiffeId must be ASCII/],
    ['a trust domain that breaks the SPIFFE rules', () => signBody(ca, body({ trustDomain: 'Mesh.test', entries: [] })), 'ERR_REVOCATION_FORMAT', /trustDomain: SPIFFE ID/],
    ['a revocation later than the list', () => signBody(ca, body({ entries: [{ id: aliceId, serial: [], atMs: 11n }] })), 'ERR_REVOCATION_FORMAT', /entries\[0\]\.revokedAtMs 11 is later than issuedAtMs 10/],
    ['a sequence beyond 2^53-1', () => signBody(ca, body({ sequence: 2n ** 53n })), 'ERR_REVOCATION_FORMAT', /sequence must be at most 9007199254740991/],
  ])('%s', (_what, make, code, message) => {
    const error = refusal(() => verifyRevocationList(make(), [ca.anchor], td));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses a list when no anchor of the trust domain is given', () => {
    expect(refusal(() => verifyRevocationList(signed, [foreignCa.anchor], td)).message).toMatch(/\(0 anchors\)/);
  });

  it('refuses every single-bit change of the body and of a sample of signature bytes', () => {
    const random = seeded('flips');
    const positions = [...Array.from({ length: bodyLength }, (_, i) => i), ...Array.from({ length: 120 }, () => bodyLength + (new DataView(random(4).buffer).getUint32(0) % (signed.length - bodyLength)))];
    for (const position of positions) {
      const flipped = signed.slice();
      flipped[position]! ^= 1 << (position % 8);
      const error = refusal(() => verifyRevocationList(flipped, [ca.anchor], td));
      expect(['ERR_REVOCATION_FORMAT', 'ERR_REVOCATION_SIGNATURE', 'ERR_REVOCATION_TRUST_DOMAIN', 'ERR_REVOCATION_LIMIT']).toContain(error.code);
    }
  });
});

describe('lists signRevocationList refuses, as the verifier would', () => {
  const entry = (overrides: Partial<RevocationEntry>): RevocationEntry => ({ spiffeId: aliceId, serialHex: null, revokedAtMs: t0, ...overrides });
  const longId = (i: number): string => `spiffe://mesh.test/${'a'.repeat(1990)}/${i.toString().padStart(8, '0')}`;
  it.each([
    ['another trust domain than the CA', () => list({ trustDomain: 'other.test', entries: [] }), 'ERR_REVOCATION_TRUST_DOMAIN', /not the CA's trust domain mesh\.test/],
    ['a negative sequence', () => list({ sequence: -1 }), 'ERR_REVOCATION_FORMAT', /sequence must be an integer in 0\.\./],
    ['a fractional issuedAtMs', () => list({ issuedAtMs: 1.5, entries: [] }), 'ERR_REVOCATION_FORMAT', /issuedAtMs must be an integer/],
    ['an upper-case serial', () => list({ entries: [entry({ serialHex: 'AB' })] }), 'ERR_REVOCATION_FORMAT', /serialHex must be null or 1\.\.20 bytes of lower-case hex, got "AB"/],
    ['an odd-length serial', () => list({ entries: [entry({ serialHex: 'abc' })] }), 'ERR_REVOCATION_FORMAT', /serialHex/],
    ['an empty serial (null means the whole ID)', () => list({ entries: [entry({ serialHex: '' })] }), 'ERR_REVOCATION_FORMAT', /serialHex/],
    ['an entry twice', () => list({ entries: [entry({}), entry({})] }), 'ERR_REVOCATION_FORMAT', /entries\[1\] is out of order or repeated/],
    ['a negative revokedAtMs', () => list({ entries: [entry({ revokedAtMs: -1 })] }), 'ERR_REVOCATION_FORMAT', /entries\[0\]\.revokedAtMs must be an integer/],
    ['more than revocationEntriesMax entries', () => list({ entries: Array.from({ length: revocationEntriesMax + 1 }, (_, i) => entry({ serialHex: i.toString(16).padStart(4, '0') })) }), 'ERR_REVOCATION_LIMIT', /8193 entries/],
    ['more than revocationBytesMax bytes', () => list({ entries: Array.from({ length: 530 }, (_, i) => entry({ spiffeId: longId(i) })) }), 'ERR_REVOCATION_LIMIT', /more than revocationBytesMax 1048576/],
  ])('%s', (_what, make, code, message) => {
    const error = refusal(() => signRevocationList(ca, make()));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });
});

describe('RevocationSet', () => {
  const second = signRevocationList(ca, list({ sequence: 2, entries: [] }));

  it('revokes nothing before its first list', () => {
    const set = new RevocationSet(td);
    expect(set.list).toBeNull();
    expect(set.isRevoked(alice)).toBe(false);
  });

  it('takes only newer lists: an older or the same list returns false and keeps the newest', () => {
    const set = new RevocationSet(td);
    expect(set.update(signed, [ca.anchor])).toBe(true);
    expect(set.update(signed, [ca.anchor])).toBe(false);
    expect(set.update(second, [ca.anchor])).toBe(true);
    expect(set.update(signed, [ca.anchor])).toBe(false);
    expect(set.list?.sequence).toBe(2);
    expect(set.isRevoked(bob)).toBe(false);
  });

  it('takes the same list re-issued later (a fresher copy) and refuses an earlier copy: a replay of an old signature cannot pass for fresh', () => {
    const set = new RevocationSet(td);
    const issuedAtMs = t0 + 10 * minuteMs;
    const later = signRevocationList(ca, list({ issuedAtMs: issuedAtMs + minuteMs }));
    expect(set.update(signed, [ca.anchor])).toBe(true);
    expect(set.ageMs(issuedAtMs + 90_000)).toBe(90_000);
    expect(set.update(later, [ca.anchor])).toBe(true);
    expect(set.list?.issuedAtMs).toBe(issuedAtMs + minuteMs);
    expect(set.ageMs(issuedAtMs + 90_000)).toBe(30_000);
    // The earlier copy, replayed by someone on the path, changes nothing.
    expect(set.update(signed, [ca.anchor])).toBe(false);
    expect(set.update(later, [ca.anchor])).toBe(false);
    expect(set.list?.issuedAtMs).toBe(issuedAtMs + minuteMs);
    // A higher sequence is newer contents, even issued earlier (the CA's clock went back): it is taken.
    expect(set.update(signRevocationList(ca, list({ sequence: 2, issuedAtMs: issuedAtMs + 1 })), [ca.anchor])).toBe(true);
    expect(set.list?.sequence).toBe(2);
  });

  it('tells the age of its list: Infinity before the first, never negative for a list from a clock ahead', () => {
    const set = new RevocationSet(td);
    expect(set.ageMs(t0)).toBe(Infinity);
    set.update(signed, [ca.anchor]);
    expect(set.ageMs(t0)).toBe(0);
    expect(set.ageMs(t0 + 10 * minuteMs + 1)).toBe(1);
  });

  it('refuses a different list with the same sequence (the CA signed two lists with one number)', () => {
    const set = new RevocationSet(td);
    set.update(signed, [ca.anchor]);
    const rival = signRevocationList(ca, list({ entries: [] }));
    expect(refusal(() => set.update(rival, [ca.anchor])).code).toBe('ERR_REVOCATION_CONFLICT');
    // Issued later does not make other contents under the same number acceptable.
    const laterRival = signRevocationList(ca, list({ entries: [], issuedAtMs: t0 + 11 * minuteMs }));
    expect(refusal(() => set.update(laterRival, [ca.anchor])).message).toMatch(/two different lists carry sequence 1/);
    expect(set.list?.entries).toHaveLength(2);
  });

  it('keeps its list when an update fails verification', () => {
    const set = new RevocationSet(td);
    set.update(signed, [ca.anchor]);
    expect(refusal(() => set.update(signRevocationList(nextCa, list({ sequence: 9, entries: [] })), [ca.anchor])).code).toBe('ERR_REVOCATION_SIGNATURE');
    expect(set.list?.sequence).toBe(1);
  });

  it('refuses the list of another trust domain', () => {
    const set = new RevocationSet('other.test');
    expect(refusal(() => set.update(signed, [ca.anchor, foreignCa.anchor])).code).toBe('ERR_REVOCATION_TRUST_DOMAIN');
  });

  it('revokes by serial: that certificate only, whenever it was issued', () => {
    const set = new RevocationSet(td);
    set.update(signed, [ca.anchor]);
    expect(set.isRevoked(bob)).toBe(true);
    expect(set.isRevoked({ ...bob, serialHex: '01' })).toBe(false);
    expect(set.isRevoked({ ...bob, notBeforeMs: t0 + dayMs })).toBe(true);
  });

  it('revokes by SPIFFE ID every SVID whose notBefore is earlier than revokedAtMs', () => {
    const set = new RevocationSet(td);
    set.update(signed, [ca.anchor]);
    const revokedAtMs = t0 + 10 * minuteMs;
    expect(set.isRevoked({ ...alice, notBeforeMs: revokedAtMs - 1 })).toBe(true);
    expect(set.isRevoked({ ...alice, notBeforeMs: revokedAtMs })).toBe(false);
    expect(set.isRevoked({ ...alice, spiffeId: 'spiffe://mesh.test/node/00000003', notBeforeMs: 0 })).toBe(false);
  });

  it('end to end: validateSvid(..., set.isRevoked) refuses revoked SVIDs with ERR_SVID_REVOKED and accepts a re-admitted node', () => {
    const set = new RevocationSet(td);
    const at = t0 + 20 * minuteMs;
    expect(validateSvid(aliceSvid, [ca.anchor], td, at, set.isRevoked).spiffeId).toBe(aliceId);
    set.update(signed, [ca.anchor]);
    expect(refusal(() => validateSvid(aliceSvid, [ca.anchor], td, at, set.isRevoked)).code).toBe('ERR_SVID_REVOKED');
    expect(refusal(() => validateSvid(bobSvid, [ca.anchor], td, at, set.isRevoked)).message).toMatch(new RegExp(`serial ${bob.serialHex}\\) is revoked`));
    // An SVID alice obtained just before the revocation (rotated early) is refused too.
    const early = issueSvid(ca, '/node/00000001', keys, t0 + 9 * minuteMs, seeded('alice early'));
    expect(refusal(() => validateSvid(early, [ca.anchor], td, at, set.isRevoked)).code).toBe('ERR_SVID_REVOKED');
    // Re-admitted: an SVID issued after every pre-revocation SVID could have expired validates.
    const later = t0 + 31 * dayMs;
    const fresh = issueSvid(ca, '/node/00000001', keys, later, seeded('alice fresh'));
    const identity: SvidIdentity = validateSvid(fresh, [ca.anchor], td, later, set.isRevoked);
    expect(identity.spiffeId).toBe(aliceId);
  });
});
