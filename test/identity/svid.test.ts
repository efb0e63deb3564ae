import { BasicConstraints, ExtendedKeyUsage, GeneralName, KeyUsage, SubjectAlternativeName, type Extension } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import { ed25519Sign } from '../../src/crypto/curve25519.js';
import { createCa, issueSvid, loadCa, nodeKeysFromSeeds, svidTtlMsDefault, type MeshCa, type NodeKeys } from '../../src/identity/ca.js';
import { parseCertificate } from '../../src/identity/certificate.js';
import { trustAnchorFrom, trustAnchorOf, validateSvid } from '../../src/identity/svid.js';
import { defaultExtensions, extension, keyUsageBit, oid, signCertificate, type CertificateSpec } from '../../src/identity/x509.js';
import { seeded } from '../seeded.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const td = 'mesh.test';


function node(label: string): NodeKeys {
  const random = seeded(label);
  return nodeKeysFromSeeds(random(32), random(32), random(32));
}

const { ca, secrets } = createCa(td, t0, seeded('ca'));
const other = createCa(td, t0, seeded('other ca')).ca;
const alice = node('alice');
const aliceSvid = issueSvid(ca, '/node/00000001', alice.publicKeys, t0, seeded('alice svid'));
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

/** A leaf spec for alice, to break one rule at a time. */
function leafSpec(overrides: Partial<CertificateSpec> = {}): CertificateSpec {
  return {
    serialNumber: new Uint8Array(16).fill(1),
    issuerCommonName: 'x0tta6bl4 mesh CA mesh.test',
    subjectCommonName: 'spiffe://mesh.test/node/00000001',
    notBeforeMs: t0 - 1000,
    notAfterMs: t0 + 3_600_000,
    ed25519PublicKey: alice.publicKeys.ed25519PublicKey,
    mlDsaPublicKey: alice.publicKeys.mlDsaPublicKey,
    xwingPublicKey: alice.publicKeys.xwingPublicKey,
    isCa: false,
    uriSan: 'spiffe://mesh.test/node/00000001',
    ...overrides,
  };
}

function signedBy(issuer: MeshCa, spec: CertificateSpec, edit?: (extensions: Extension[]) => Extension[]): Uint8Array {
  const extensions = defaultExtensions(spec);
  return signCertificate(spec, { ed25519PrivateKey: issuer.ed25519PrivateKey, mlDsaSecretKey: issuer.mlDsaSecretKey }, edit === undefined ? extensions : edit(extensions));
}

function replace(extensions: Extension[], extnID: string, replacement: Extension | null): Extension[] {
  const kept = extensions.filter((e) => e.extnID !== extnID);
  return replacement === null ? kept : [...kept, replacement];
}

/** The SVID re-signed by the CA's Ed25519 key alone, without its altSignatureValue. */
function withoutAltSignature(der: Uint8Array): Uint8Array {
  const preTbs = parseCertificate(der).preTbsDer;
  const signature = ed25519Sign(ca.ed25519PrivateKey, preTbs);
  const body = Buffer.concat([preTbs, Buffer.from('300506032b6570', 'hex'), Buffer.from([0x03, 0x41, 0x00]), signature]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]), body]));
}

function validate(der: Uint8Array, nowMs = t0): ReturnType<typeof validateSvid> {
  return validateSvid(der, [ca.anchor], td, nowMs);
}

describe('a node SVID issued by the mesh CA', () => {
  it('validates and binds the SPIFFE ID and all three node keys', () => {
    const identity = validate(aliceSvid);
    expect(identity.spiffeId).toBe('spiffe://mesh.test/node/00000001');
    expect(identity.path).toBe('/node/00000001');
    expect(identity.ed25519PublicKey).toEqual(alice.publicKeys.ed25519PublicKey);
    expect(identity.mlDsaPublicKey).toEqual(alice.publicKeys.mlDsaPublicKey);
    expect(identity.xwingPublicKey).toEqual(alice.publicKeys.xwingPublicKey);
    expect(identity.notAfterMs).toBe(t0 + svidTtlMsDefault);
  });

  it('has the X509-SVID shape: critical key usage with digitalSignature only, server and client EKU, cA false, one URI SAN', () => {
    const cert = parseCertificate(aliceSvid);
    expect(cert.extensions.get(oid.keyUsage)?.critical).toBe(true);
    expect([...cert.extensions.keys()]).toEqual(expect.arrayContaining([oid.basicConstraints, oid.subjectAltName, oid.extKeyUsage, oid.altSignatureValue, oid.nodeKemKey]));
  });

  it('is readable by OpenSSL (node:crypto X509Certificate) and its Ed25519 signature verifies there too', async () => {
    const { X509Certificate } = await import('node:crypto');
    const leaf = new X509Certificate(aliceSvid);
    expect(leaf.subjectAltName).toBe('URI:spiffe://mesh.test/node/00000001');
    expect(leaf.checkIssued(new X509Certificate(ca.certificateDer))).toBe(true);
    expect(leaf.verify(new X509Certificate(ca.certificateDer).publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
  });

  it('loadCa rebuilds the same CA from its secrets and refuses secrets of another CA', () => {
    expect(loadCa(td, ca.certificateDer, secrets, t0).anchor.ed25519PublicKey).toEqual(ca.anchor.ed25519PublicKey);
    const wrong = createCa(td, t0, seeded('wrong')).secrets;
    expect(() => loadCa(td, ca.certificateDer, wrong, t0)).toThrow(/do not match the CA certificate/);
  });

  it('refuses a lifetime outside 1 ms..30 days', () => {
    expect(() => issueSvid(ca, '/node/00000001', alice.publicKeys, t0, seeded('x'), 0)).toThrow(/ttlMs/);
  });
});

describe('SVIDs that break an X509-SVID rule are refused with the rule named', () => {
  it.each([
    ['a CA certificate as a leaf', () => ca.certificateDer, 'ERR_SVID_CA_AS_LEAF', /cA true/],
    ['keyCertSign on a leaf', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.keyUsage, extension(oid.keyUsage, true, new KeyUsage(keyUsageBit.digitalSignature | keyUsageBit.keyCertSign)))), 'ERR_SVID_LEAF_SIGNS_CERTIFICATES', /keyCertSign or cRLSign/],
    ['cRLSign on a leaf', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.keyUsage, extension(oid.keyUsage, true, new KeyUsage(keyUsageBit.digitalSignature | keyUsageBit.cRLSign)))), 'ERR_SVID_LEAF_SIGNS_CERTIFICATES', /cRLSign/],
    ['no digitalSignature', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.keyUsage, extension(oid.keyUsage, true, new KeyUsage(16)))), 'ERR_SVID_NO_DIGITAL_SIGNATURE', /digitalSignature/],
    ['no key usage', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.keyUsage, null)), 'ERR_SVID_KEY_USAGE_MISSING', /key usage missing/],
    ['key usage not critical', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.keyUsage, extension(oid.keyUsage, false, new KeyUsage(keyUsageBit.digitalSignature)))), 'ERR_SVID_KEY_USAGE_NOT_CRITICAL', /critical/],
    ['no basic constraints', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.basicConstraints, null)), 'ERR_SVID_BASIC_CONSTRAINTS', /basic constraints missing/],
    ['EKU without clientAuth', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.extKeyUsage, extension(oid.extKeyUsage, false, new ExtendedKeyUsage([oid.serverAuth])))), 'ERR_SVID_EXTENDED_KEY_USAGE', /serverAuth and clientAuth/],
    [
      'two URI SANs',
      () =>
        signedBy(ca, leafSpec(), (e) =>
          replace(e, oid.subjectAltName, extension(oid.subjectAltName, false, new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: 'spiffe://mesh.test/node/00000001' }), new GeneralName({ uniformResourceIdentifier: 'spiffe://mesh.test/node/00000002' })]))),
        ),
      'ERR_SVID_URI_SAN_COUNT',
      /exactly one URI SAN, found 2/,
    ],
    ['no URI SAN (a DNS SAN only)', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.subjectAltName, extension(oid.subjectAltName, false, new SubjectAlternativeName([new GeneralName({ dNSName: 'node.example' })])))), 'ERR_SVID_URI_SAN_COUNT', /found 0/],
    ['a URI SAN that is not a SPIFFE ID', () => signedBy(ca, leafSpec({ uriSan: 'https://mesh.test/node/1' })), 'ERR_SVID_SPIFFE_ID', /scheme spiffe/],
    ['a leaf with the trust domain root as its ID', () => signedBy(ca, leafSpec({ uriSan: 'spiffe://mesh.test' })), 'ERR_SVID_SPIFFE_ID', /has no path/],
    ['another trust domain', () => signedBy(ca, leafSpec({ uriSan: 'spiffe://other.test/node/00000001' })), 'ERR_SVID_TRUST_DOMAIN', /not in trust domain mesh.test/],
    ['expired', () => signedBy(ca, leafSpec({ notAfterMs: t0 - 1 })), 'ERR_SVID_EXPIRED', /expired at/],
    ['not yet valid', () => signedBy(ca, leafSpec({ notBeforeMs: t0 + 1000 })), 'ERR_SVID_NOT_YET_VALID', /not valid before/],
    ['signed by another CA of the same name', () => signedBy(other, leafSpec()), 'ERR_SVID_SIGNATURE', /no trust anchor of mesh.test signed/],
    ['no altSignatureAlgorithm', () => signedBy(ca, leafSpec(), (e) => replace(e, oid.altSignatureAlgorithm, null)), 'ERR_SVID_PQ_SIGNATURE', /altSignatureAlgorithm must name ML-DSA-65/],
    ['no ML-DSA co-signature (altSignatureValue removed, Ed25519 re-signed)', () => withoutAltSignature(aliceSvid), 'ERR_SVID_PQ_SIGNATURE', /co-signature is missing or does not verify/],
    ['no X-Wing key', () => signedBy(ca, leafSpec({ xwingPublicKey: null })), 'ERR_SVID_PQ_KEYS', /X-Wing/],
    ['an unknown critical extension', () => signedBy(ca, leafSpec(), (e) => [...e, extension('1.2.3.4', true, new BasicConstraints({ cA: false }))]), 'ERR_SVID_UNKNOWN_CRITICAL', /1\.2\.3\.4/],
    ['a duplicated extension', () => signedBy(ca, leafSpec(), (e) => [...e, extension(oid.basicConstraints, true, new BasicConstraints({ cA: false }))]), 'ERR_SVID_DUPLICATE_EXTENSION', /appears twice/],
    ['bytes that are not a certificate', () => new TextEncoder().encode('not a certificate'), 'ERR_SVID_PARSE', /not a DER X.509 certificate/],
    ['a truncated certificate', () => aliceSvid.subarray(0, 1000), 'ERR_SVID_PARSE', /not a DER/],
  ])('%s', (_what, make, code, message) => {
    const der = make();
    expect(() => validate(der)).toThrow(codeOf(code));
    expect(() => validate(der)).toThrow(message);
  });

  it('refuses an ML-DSA co-signature made with another key (the classical signature alone is not enough)', () => {
    const forged = signCertificate(leafSpec(), { ed25519PrivateKey: ca.ed25519PrivateKey, mlDsaSecretKey: other.mlDsaSecretKey });
    expect(() => validate(forged)).toThrow(codeOf('ERR_SVID_PQ_SIGNATURE'));
  });

  it('refuses a certificate whose outer signature algorithm is not Ed25519', () => {
    const der = aliceSvid.slice();
    const outer = Buffer.from(der).lastIndexOf(Buffer.from([0x06, 0x03, 0x2b, 0x65, 0x70]));
    der[outer + 4] = 0x71;
    expect(() => validate(der)).toThrow(codeOf('ERR_SVID_ALGORITHM'));
  });

  it('refuses a revoked SVID, naming its serial', () => {
    const serial = parseCertificate(aliceSvid).serialHex;
    expect(() => validateSvid(aliceSvid, [ca.anchor], td, t0, (identity) => identity.serialHex === serial)).toThrow(new RegExp(`serial ${serial}\\) is revoked`));
  });

  it('refuses any of 300 random single-bit flips', () => {
    const random = seeded('flips');
    for (let i = 0; i < 300; i++) {
      const position = new DataView(random(4).buffer).getUint32(0) % (aliceSvid.length * 8);
      const flipped = aliceSvid.slice();
      flipped[position >> 3]! ^= 1 << (position & 7);
      expect(() => validate(flipped)).toThrow(expect.objectContaining({ name: 'IdentityError' }) as Error);
    }
  });
});

describe('trust anchors', () => {
  it('refuses a leaf as a CA, a CA of another trust domain, and an expired CA', () => {
    expect(() => trustAnchorFrom(aliceSvid, td, t0)).toThrow(codeOf('ERR_SVID_NOT_CA'));
    expect(() => trustAnchorFrom(ca.certificateDer, 'other.test', t0)).toThrow(codeOf('ERR_SVID_TRUST_DOMAIN'));
    expect(() => trustAnchorFrom(ca.certificateDer, td, t0 + 11 * 365 * 24 * 3600_000)).toThrow(codeOf('ERR_SVID_EXPIRED'));
  });

  it('refuses a CA certificate whose key usage lacks keyCertSign', () => {
    const spec = { ...leafSpec({ isCa: true, uriSan: 'spiffe://mesh.test', xwingPublicKey: null }), ed25519PublicKey: ca.anchor.ed25519PublicKey, mlDsaPublicKey: ca.anchor.mlDsaPublicKey };
    const der = signedBy(ca, spec, (e) => replace(e, oid.keyUsage, extension(oid.keyUsage, true, new KeyUsage(keyUsageBit.digitalSignature))));
    expect(() => trustAnchorFrom(der, td, t0)).toThrow(/keyCertSign/);
    const pathful = signedBy(ca, { ...spec, uriSan: 'spiffe://mesh.test/ca' });
    expect(() => trustAnchorFrom(pathful, td, t0)).toThrow(/must not have a path/);
  });
});

describe('trustAnchorOf', () => {
  it('reads the trust domain from the CA certificate itself, and refuses what trustAnchorFrom refuses', () => {
    expect(trustAnchorOf(ca.certificateDer, t0).trustDomain).toBe(td);
    expect(() => trustAnchorOf(aliceSvid, t0)).toThrow(codeOf('ERR_SVID_NOT_CA'));
    const spec = { ...leafSpec({ isCa: true, uriSan: 'https://mesh.test', xwingPublicKey: null }), ed25519PublicKey: ca.anchor.ed25519PublicKey, mlDsaPublicKey: ca.anchor.mlDsaPublicKey };
    expect(() => trustAnchorOf(signedBy(ca, spec), t0)).toThrow(/CA certificate: its URI SAN is not a SPIFFE ID: .*scheme spiffe/);
    const withoutSan = signedBy(ca, { ...spec, uriSan: 'spiffe://mesh.test' }, (extensions) => extensions.filter((e) => e.extnID !== oid.subjectAltName));
    expect(() => trustAnchorOf(withoutSan, t0)).toThrow(codeOf('ERR_SVID_SPIFFE_ID'));
  });
});

describe('node KEM keys and anchor validity (review findings)', () => {
  it('refuses an SVID whose X-Wing key has a low-order X25519 half or an unreduced ML-KEM part', () => {
    const lowOrder = alice.publicKeys.xwingPublicKey.slice();
    lowOrder.fill(0, 1184);
    expect(() => validate(signedBy(ca, leafSpec({ xwingPublicKey: lowOrder })))).toThrow(/X-Wing public key is unusable/);
    const unreduced = alice.publicKeys.xwingPublicKey.slice();
    unreduced[0] = 0xff;
    unreduced[1]! |= 0x0f;
    expect(() => validate(signedBy(ca, leafSpec({ xwingPublicKey: unreduced })))).toThrow(codeOf('ERR_SVID_PQ_KEYS'));
  });

  it('no longer trusts an anchor whose own certificate has expired', () => {
    const later = t0 + 11 * 365 * 24 * 3600_000;
    const lateLeaf = signedBy(ca, leafSpec({ notBeforeMs: later - 1000, notAfterMs: later + 3_600_000 }));
    expect(() => validateSvid(lateLeaf, [ca.anchor], td, later)).toThrow(/no trust anchor of mesh.test signed this certificate \(0 anchors\)/);
  });
});

describe('certificate serial numbers', () => {
  it('are positive INTEGERs in minimal DER whatever the random bytes, so OpenSSL (node:crypto, TLS) reads every SVID', async () => {
    const { X509Certificate } = await import('node:crypto');
    for (const first of [0x00, 0x3f, 0x80, 0xff]) {
      const serialNumber = new Uint8Array(16).fill(0x01);
      serialNumber[0] = first;
      const der = signedBy(ca, leafSpec({ serialNumber }));
      const serialHex = parseCertificate(der).serialHex;
      expect(serialHex).toMatch(/^[4-7][0-9a-f]{31}$/);
      expect(new X509Certificate(Buffer.from(der)).serialNumber.toLowerCase()).toBe(serialHex);
    }
  });
});
