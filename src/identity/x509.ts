import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyUsage,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
} from '@peculiar/asn1-x509';
import { ed25519Sign } from '../crypto/curve25519.js';
import { mlDsaSign } from '../crypto/mldsa.js';

/**
 * X.509 certificates of the mesh: Ed25519 for the classical chain (RFC 8410), and the
 * post-quantum half carried in the hybrid-certificate extensions of ITU-T X.509 (10/2019)
 * section 9.8: subjectAltPublicKeyInfo holds the subject's ML-DSA-65 key, altSignatureAlgorithm
 * and altSignatureValue hold the issuer's ML-DSA-65 signature over the TBSCertificate without
 * the altSignatureValue extension. A node's X-Wing key (for the handshake) sits in one more,
 * private, extension. A verifier checks both signatures.
 */

/** Object identifiers used in mesh certificates. */
export const oid = {
  ed25519: '1.3.101.112',
  mlDsa65: '2.16.840.1.101.3.4.3.18',
  /** X-Wing (draft-connolly-cfrg-xwing-kem). */
  xwing: '1.3.6.1.4.1.62253.25722',
  commonName: '2.5.4.3',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  subjectAltPublicKeyInfo: '2.5.29.72',
  altSignatureAlgorithm: '2.5.29.73',
  altSignatureValue: '2.5.29.74',
  /** The node's X-Wing public key; a 2.25 (UUID) arc needs no registration. */
  nodeKemKey: '2.25.321185346991069108474088642754853995049',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** Key usage bits (RFC 5280 4.2.1.3) as @peculiar/asn1-x509 numbers them. */
export const keyUsageBit = { digitalSignature: 1, keyCertSign: 32, cRLSign: 64 } as const;

/** What to put in a certificate. */
export interface CertificateSpec {
  /** 1..20 bytes; the first bit is cleared so the serial stays positive. */
  readonly serialNumber: Uint8Array;
  readonly issuerCommonName: string;
  readonly subjectCommonName: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly ed25519PublicKey: Uint8Array;
  readonly mlDsaPublicKey: Uint8Array;
  /** The leaf's X-Wing key; absent on CA certificates. */
  readonly xwingPublicKey: Uint8Array | null;
  readonly isCa: boolean;
  readonly uriSan: string;
}

/** The issuer's private keys. */
export interface IssuerKeys {
  readonly ed25519PrivateKey: Uint8Array;
  readonly mlDsaSecretKey: Uint8Array;
}

/** Context string of the ML-DSA certificate signature (FIPS 204 domain separation). */
export const certificateSignatureContext = new TextEncoder().encode('x0tta6bl4 certificate v1');

function name(commonName: string): Name {
  const attribute = new AttributeTypeAndValue({ type: oid.commonName, value: new AttributeValue({ utf8String: commonName }) });
  return new Name([new RelativeDistinguishedName([attribute])]);
}

function spki(algorithm: string, key: Uint8Array): SubjectPublicKeyInfo {
  return new SubjectPublicKeyInfo({ algorithm: new AlgorithmIdentifier({ algorithm }), subjectPublicKey: toArrayBuffer(key) });
}

/** A copy of `bytes` as a standalone ArrayBuffer (what the ASN.1 classes take). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/** One extension holding the DER of `value` (an @peculiar/asn1-x509 structure). */
export function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** The extensions a mesh certificate carries for `spec` (before the ML-DSA signature is added). */
export function defaultExtensions(spec: CertificateSpec): Extension[] {
  const usage = spec.isCa ? keyUsageBit.keyCertSign | keyUsageBit.cRLSign : keyUsageBit.digitalSignature;
  const list = [
    extension(oid.basicConstraints, true, new BasicConstraints({ cA: spec.isCa })),
    extension(oid.keyUsage, true, new KeyUsage(usage)),
    extension(oid.subjectAltName, false, new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: spec.uriSan })])),
    extension(oid.subjectAltPublicKeyInfo, false, spki(oid.mlDsa65, spec.mlDsaPublicKey)),
    extension(oid.altSignatureAlgorithm, false, new AlgorithmIdentifier({ algorithm: oid.mlDsa65 })),
  ];
  if (!spec.isCa) list.push(extension(oid.extKeyUsage, false, new ExtendedKeyUsage([oid.serverAuth, oid.clientAuth])));
  if (spec.xwingPublicKey !== null) list.push(extension(oid.nodeKemKey, false, spki(oid.xwing, spec.xwingPublicKey)));
  return list;
}

function tbsOf(spec: CertificateSpec, extensions: Extension[]): TBSCertificate {
  // A positive INTEGER in minimal DER: the first byte in 0x40..0x7f is neither a sign bit nor a
  // leading zero (OpenSSL refuses a certificate whose serial has one), and the serial never 0.
  const serial = spec.serialNumber.slice();
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return new TBSCertificate({
    version: 2,
    serialNumber: toArrayBuffer(serial),
    signature: new AlgorithmIdentifier({ algorithm: oid.ed25519 }),
    issuer: name(spec.issuerCommonName),
    validity: new Validity({ notBefore: new Date(spec.notBeforeMs), notAfter: new Date(spec.notAfterMs) }),
    subject: name(spec.subjectCommonName),
    subjectPublicKeyInfo: spki(oid.ed25519, spec.ed25519PublicKey),
    extensions: new Extensions(extensions),
  });
}

/**
 * Builds and signs a certificate: first the issuer's ML-DSA-65 signature over the TBS without
 * altSignatureValue, then that value is added and the whole TBS is signed with Ed25519. DER out.
 */
export function signCertificate(spec: CertificateSpec, issuer: IssuerKeys, extensions: Extension[] = defaultExtensions(spec)): Uint8Array {
  const preTbs = new Uint8Array(AsnConvert.serialize(tbsOf(spec, extensions)));
  const pqSignature = mlDsaSign(issuer.mlDsaSecretKey, preTbs, certificateSignatureContext);
  const altSignature = new Extension({ extnID: oid.altSignatureValue, critical: false, extnValue: new OctetString(AsnConvert.serialize(new BitString(toArrayBuffer(pqSignature)))) });
  const tbs = tbsOf(spec, [...extensions, altSignature]);
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: oid.ed25519 }),
    signatureValue: toArrayBuffer(ed25519Sign(issuer.ed25519PrivateKey, tbsDer)),
  });
  return new Uint8Array(AsnConvert.serialize(certificate));
}
