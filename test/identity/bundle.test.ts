import { createPublicKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { acceptNewerBundle, bundleBytesMax, bundleKeysMax, encodeBundle, parseBundle, type BundleContents } from '../../src/identity/bundle.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa } from '../../src/identity/ca.js';
import { SpiffeIdError } from '../../src/identity/spiffe-id.js';
import { validateSvid } from '../../src/identity/svid.js';
import { seeded } from '../seeded.js';
import { refusal } from './refusal.js';

const dayMs = 24 * 3600_000;
const t0 = Date.UTC(2026, 10, 27, 12);
const td = 'mesh.test';


// Fixtures, made once: CA creation and SVID issuance cost tens of milliseconds (ML-DSA in JS).
const oldCa = createCa(td, t0, seeded('old ca')).ca;
/** The replacement CA of a rotation, created a day later. */
const newCa = createCa(td, t0 + dayMs, seeded('new ca')).ca;
const foreignCa = createCa('other.test', t0, seeded('foreign ca')).ca;
/** When bundles are read: both CAs of mesh.test are valid. */
const tRead = t0 + 2 * dayMs;
const alice = nodeKeysFromSeeds(...([1, 2, 3].map((i) => sha256(Uint8Array.of(i))) as [Uint8Array, Uint8Array, Uint8Array]));
const aliceSvid = issueSvid(oldCa, '/node/00000001', alice.publicKeys, tRead, seeded('alice svid'));
const bobSvid = issueSvid(newCa, '/node/00000002', alice.publicKeys, tRead, seeded('bob svid'));

function contents(overrides: Partial<BundleContents> = {}): BundleContents {
  return { trustDomain: td, sequence: 1, refreshHintS: 300, caCertificates: [oldCa.certificateDer], ...overrides };
}

type Json = Record<string, unknown>;

/** The JWK entry encodeBundle writes for `ca`, to edit one member at a time. */
function entryOf(ca: MeshCa): Json {
  return (JSON.parse(encodeBundle(contents({ trustDomain: ca.trustDomain, caCertificates: [ca.certificateDer] }))) as { keys: Json[] }).keys[0]!;
}

function bundle(keys: unknown[], extra: Json = {}): string {
  return JSON.stringify({ keys, spiffe_sequence: 1, ...extra });
}


const oldEntry = entryOf(oldCa);
const newEntry = entryOf(newCa);

describe('encodeBundle and parseBundle', () => {
  it('round-trip sequence, refresh hint and CA certificate', () => {
    const parsed = parseBundle(encodeBundle(contents({ sequence: 7, refreshHintS: 2_419_200 })), td, tRead);
    expect(parsed.sequence).toBe(7);
    expect(parsed.refreshHintS).toBe(2_419_200);
    expect(parsed.anchors).toHaveLength(1);
    expect(parsed.anchors[0]!.certificate.der).toEqual(oldCa.certificateDer);
    expect(parsed.anchors[0]!.ed25519PublicKey).toEqual(oldCa.anchor.ed25519PublicKey);
    expect(parsed.anchors[0]!.mlDsaPublicKey).toEqual(oldCa.anchor.mlDsaPublicKey);
  });

  it('write X509-SVID 6.1 entries: use x509-svid, one x5c certificate, no kid, and the RFC 8037 key of that certificate', () => {
    const json = JSON.parse(encodeBundle(contents({ refreshHintS: null }))) as Json;
    expect(Object.keys(json)).toEqual(['keys', 'spiffe_sequence']);
    const entry = (json.keys as Json[])[0]!;
    expect(Object.keys(entry).sort()).toEqual(['crv', 'kty', 'use', 'x', 'x5c']);
    expect(entry).toMatchObject({ use: 'x509-svid', kty: 'OKP', crv: 'Ed25519' });
    expect(entry.x5c).toHaveLength(1);
    // OpenSSL reads both halves: the JWK as a key, x5c[0] as a certificate, and they are the same key.
    const fromJwk = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: entry.x as string }, format: 'jwk' });
    const fromCertificate = new X509Certificate(Buffer.from((entry.x5c as string[])[0]!, 'base64')).publicKey;
    expect(fromJwk.equals(fromCertificate)).toBe(true);
  });

  it('parse a bundle without a refresh hint as refreshHintS null, and encode deterministically', () => {
    expect(parseBundle(encodeBundle(contents({ refreshHintS: null })), td, tRead).refreshHintS).toBeNull();
    expect(encodeBundle(contents())).toBe(encodeBundle(contents()));
  });

  it('hold bundleKeysMax hybrid CA entries within bundleBytesMax', () => {
    const full = bundle(Array.from({ length: bundleKeysMax }, () => oldEntry), { spiffe_refresh_hint: 300 });
    expect(Buffer.byteLength(full)).toBeLessThan(bundleBytesMax);
    expect(parseBundle(full, td, tRead).anchors).toHaveLength(1);
  });
});

describe('CA rotation through the bundle', () => {
  const overlap = parseBundle(encodeBundle(contents({ sequence: 2, caCertificates: [oldCa.certificateDer, newCa.certificateDer] })), td, tRead);
  const after = parseBundle(encodeBundle(contents({ sequence: 3, caCertificates: [newCa.certificateDer] })), td, tRead);

  it('during the overlap a leaf of either CA validates', () => {
    expect(overlap.anchors).toHaveLength(2);
    expect(validateSvid(aliceSvid, overlap.anchors, td, tRead).spiffeId).toBe('spiffe://mesh.test/node/00000001');
    expect(validateSvid(bobSvid, overlap.anchors, td, tRead).spiffeId).toBe('spiffe://mesh.test/node/00000002');
  });

  it('once the old CA is dropped only leaves of the new CA validate', () => {
    expect(validateSvid(bobSvid, after.anchors, td, tRead).spiffeId).toBe('spiffe://mesh.test/node/00000002');
    expect(refusal(() => validateSvid(aliceSvid, after.anchors, td, tRead)).code).toBe('ERR_SVID_SIGNATURE');
  });

  it('a replayed older bundle never replaces a newer one', () => {
    expect(acceptNewerBundle(null, overlap)).toBe(true);
    expect(acceptNewerBundle(overlap, after)).toBe(true);
    expect(acceptNewerBundle(after, overlap)).toBe(false);
    expect(acceptNewerBundle(after, after)).toBe(false);
  });
});

describe('entries parseBundle ignores, as the specifications require', () => {
  it.each([
    ['an unknown use (4.2.2)', { use: 'wit-svid', kty: 'OKP', crv: 'Ed25519', x: 'AA', kid: 'k' }],
    ['a jwt-svid key (not an X.509 trust anchor)', { use: 'jwt-svid', kty: 'EC', crv: 'P-256', kid: 'k', x: 'AA', y: 'AA' }],
    ['an x509-svid entry without x5c (X509-SVID 6.2)', { ...oldEntry, x5c: undefined }],
    ['an x509-svid entry with an empty x5c (X509-SVID 6.2)', { ...oldEntry, x5c: [] }],
    ['a key type the mesh does not know (4.2.1)', { use: 'x509-svid', kty: 'RSA', n: 'AQAB', e: 'AQAB', x5c: oldEntry.x5c }],
    ['an OKP curve the mesh does not use', { ...oldEntry, crv: 'Ed448' }],
  ])('%s', (_what, ignored) => {
    const parsed = parseBundle(bundle([ignored, newEntry]), td, tRead);
    expect(parsed.anchors.map((anchor) => anchor.certificate.der)).toEqual([newCa.certificateDer]);
  });

  it('x5c values after the first (X509-SVID 6.2) and a certificate listed twice', () => {
    const extra = { ...oldEntry, x5c: [(oldEntry.x5c as string[])[0], 'not even base64!'] };
    expect(parseBundle(bundle([extra, oldEntry]), td, tRead).anchors).toHaveLength(1);
  });

  it('members the specifications do not define (4.1)', () => {
    expect(parseBundle(bundle([{ ...oldEntry, alg: 'EdDSA' }], { spiffe_refresh_hint: 60, issuer: 'x' }), td, tRead).anchors).toHaveLength(1);
  });

  it('a bundle with no X509-SVID entries: the trust domain has no X.509 CA (X509-SVID 6.2)', () => {
    expect(parseBundle(bundle([]), td, tRead).anchors).toEqual([]);
  });
});

describe('bundles parseBundle refuses, naming the rule and the field', () => {
  const x5cOld = (oldEntry.x5c as string[])[0]!;
  const base64Of = (der: Uint8Array): string => Buffer.from(der).toString('base64');
  it.each([
    ['bytes that are not JSON', () => '{"keys": [', 'ERR_BUNDLE_FORMAT', /not JSON/],
    ['a JSON array', () => '[]', 'ERR_BUNDLE_FORMAT', /expected a JSON object/],
    ['no keys', () => JSON.stringify({ spiffe_sequence: 1 }), 'ERR_BUNDLE_FORMAT', /"keys" must be an array/],
    ['keys that are an object', () => JSON.stringify({ keys: {}, spiffe_sequence: 1 }), 'ERR_BUNDLE_FORMAT', /"keys" must be an array/],
    ['no sequence', () => JSON.stringify({ keys: [] }), 'ERR_BUNDLE_FORMAT', /"spiffe_sequence" is missing/],
    ['a negative sequence', () => bundle([], { spiffe_sequence: -1 }), 'ERR_BUNDLE_FORMAT', /"spiffe_sequence" must be an integer in 0\.\./],
    ['a fractional sequence', () => bundle([], { spiffe_sequence: 1.5 }), 'ERR_BUNDLE_FORMAT', /"spiffe_sequence"/],
    ['a sequence as a string', () => bundle([], { spiffe_sequence: '1' }), 'ERR_BUNDLE_FORMAT', /got "1"/],
    ['a sequence beyond 2^53-1', () => '{"keys":[],"spiffe_sequence":9007199254740993}', 'ERR_BUNDLE_FORMAT', /"spiffe_sequence"/],
    ['a refresh hint of 0 s', () => bundle([], { spiffe_refresh_hint: 0 }), 'ERR_BUNDLE_FORMAT', /"spiffe_refresh_hint" must be a whole number of seconds/],
    ['a refresh hint of null (absent is written by leaving it out)', () => bundle([], { spiffe_refresh_hint: null }), 'ERR_BUNDLE_FORMAT', /got null/],
    ['a refresh hint as a string', () => bundle([], { spiffe_refresh_hint: '300' }), 'ERR_BUNDLE_FORMAT', /"spiffe_refresh_hint"/],
    ['a key that is not an object', () => bundle([null]), 'ERR_BUNDLE_FORMAT', /keys\[0\] must be a JSON object/],
    ['a key without use', () => bundle([{ ...oldEntry, use: undefined }]), 'ERR_BUNDLE_FORMAT', /keys\[0\]\.use must be a string \(SPIFFE Trust Domain and Bundle 4\.2\.2\)/],
    ['a key without kty', () => bundle([newEntry, { ...oldEntry, kty: undefined }]), 'ERR_BUNDLE_FORMAT', /keys\[1\]\.kty must be a string/],
    ['an OKP key without crv', () => bundle([{ ...oldEntry, crv: undefined }]), 'ERR_BUNDLE_FORMAT', /keys\[0\]\.crv must be a string \(RFC 8037 2\)/],
    ['an x509-svid entry with a kid', () => bundle([{ ...oldEntry, kid: 'ca-1' }]), 'ERR_BUNDLE_FORMAT', /X509-SVID 6\.1 forbids it/],
    ['x5c that is a string', () => bundle([{ ...oldEntry, x5c: x5cOld }]), 'ERR_BUNDLE_FORMAT', /x5c must be an array of base64 strings/],
    ['x5c holding a number', () => bundle([{ ...oldEntry, x5c: [5] }]), 'ERR_BUNDLE_FORMAT', /x5c must be an array/],
    ['no x', () => bundle([{ ...oldEntry, x: undefined }]), 'ERR_BUNDLE_FORMAT', /keys\[0\]\.x must be a string/],
    ['x with base64 padding', () => bundle([{ ...oldEntry, x: `${oldEntry.x as string}=` }]), 'ERR_BUNDLE_FORMAT', /x must be the 32-byte Ed25519 key in unpadded base64url/],
    ['an empty x', () => bundle([{ ...oldEntry, x: '' }]), 'ERR_BUNDLE_FORMAT', /unpadded base64url/],
    ['x5c in base64url', () => bundle([{ ...oldEntry, x5c: [Buffer.from(x5cOld, 'base64').toString('base64url')] }]), 'ERR_BUNDLE_FORMAT', /x5c\[0\] must be a DER certificate in padded standard base64/],
    ['x5c with a line break', () => bundle([{ ...oldEntry, x5c: [`${x5cOld.slice(0, 64)}\n${x5cOld.slice(64)}`] }]), 'ERR_BUNDLE_FORMAT', /padded standard base64/],
    ['x5c that is not a certificate', () => bundle([{ ...oldEntry, x5c: [base64Of(new TextEncoder().encode('hello'))] }]), 'ERR_SVID_PARSE', /keys\[0\]\.x5c\[0\]: certificate: not a DER/],
    ['x5c holding a leaf SVID', () => bundle([{ ...oldEntry, x5c: [base64Of(aliceSvid)] }]), 'ERR_SVID_NOT_CA', /keys\[0\]\.x5c\[0\]: CA certificate: basic constraints must set cA/],
    ['x5c holding the CA of another trust domain', () => bundle([entryOf(foreignCa)]), 'ERR_SVID_TRUST_DOMAIN', /not in trust domain mesh\.test/],
    ['x that is not the key of the certificate', () => bundle([{ ...oldEntry, x: newEntry.x }]), 'ERR_BUNDLE_KEY_MISMATCH', /keys\[0\]\.x does not match the key of the certificate in x5c\[0\] \(RFC 7517 4\.7\)/],
    ['more than bundleKeysMax keys', () => bundle(Array.from({ length: bundleKeysMax + 1 }, () => ({ use: 'other', kty: 'x' }))), 'ERR_BUNDLE_LIMIT', /33 elements, more than bundleKeysMax 32/],
    ['more than bundleBytesMax bytes', () => bundle([], { padding: 'x'.repeat(bundleBytesMax) }), 'ERR_BUNDLE_LIMIT', /more than bundleBytesMax/],
  ])('%s', (_what, make, code, message) => {
    const error = refusal(() => parseBundle(make(), td, tRead));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses a CA certificate outside its validity window at nowMs', () => {
    expect(refusal(() => parseBundle(bundle([newEntry]), td, t0)).code).toBe('ERR_SVID_NOT_YET_VALID');
    expect(refusal(() => parseBundle(bundle([oldEntry]), td, t0 + 11 * 365 * dayMs)).code).toBe('ERR_SVID_EXPIRED');
  });

  it('refuses a CA certificate with a changed byte (its self-signatures no longer verify)', () => {
    const der = Buffer.from(x5cOld, 'base64');
    der[der.length - 10]! ^= 1;
    expect(refusal(() => parseBundle(bundle([{ ...oldEntry, x5c: [der.toString('base64')] }]), td, tRead)).code).toBe('ERR_SVID_SIGNATURE');
  });

  it('refuses a trust domain name that breaks the SPIFFE ID rules', () => {
    expect(() => parseBundle(bundle([]), 'Mesh.Test', tRead)).toThrow(SpiffeIdError);
  });
});

describe('bundles encodeBundle refuses, as parseBundle would', () => {
  it.each([
    ['a leaf SVID as a CA', () => contents({ caCertificates: [aliceSvid] }), 'ERR_SVID_NOT_CA', /caCertificates\[0\]: CA certificate/],
    ['the CA of another trust domain', () => contents({ caCertificates: [oldCa.certificateDer, foreignCa.certificateDer] }), 'ERR_SVID_TRUST_DOMAIN', /caCertificates\[1\]/],
    ['bytes that are not a certificate', () => contents({ caCertificates: [Uint8Array.of(1, 2, 3)] }), 'ERR_SVID_PARSE', /caCertificates\[0\]/],
    ['the same certificate twice', () => contents({ caCertificates: [oldCa.certificateDer, oldCa.certificateDer] }), 'ERR_BUNDLE_FORMAT', /same certificate twice/],
    ['more than bundleKeysMax certificates', () => contents({ caCertificates: Array.from({ length: bundleKeysMax + 1 }, () => oldCa.certificateDer) }), 'ERR_BUNDLE_LIMIT', /more than bundleKeysMax/],
    ['a negative sequence', () => contents({ sequence: -1 }), 'ERR_BUNDLE_FORMAT', /"spiffe_sequence" must be an integer/],
    ['a refresh hint of 0 s', () => contents({ refreshHintS: 0 }), 'ERR_BUNDLE_FORMAT', /"spiffe_refresh_hint"/],
  ])('%s', (_what, make, code, message) => {
    const error = refusal(() => encodeBundle(make()));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses a trust domain name that breaks the SPIFFE ID rules', () => {
    expect(() => encodeBundle(contents({ trustDomain: 'mesh test' }))).toThrow(SpiffeIdError);
  });
});
