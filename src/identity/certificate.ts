import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, BasicConstraints, Certificate, ExtendedKeyUsage, Extension, Extensions, KeyUsage, SubjectAlternativeName, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { tbsWithoutExtension } from './der.js';
import { IdentityError, IdentityErrorCode } from './errors.js';
import { oid } from './x509.js';

/** A certificate decoded into what mesh validation looks at. */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** The signed bytes (TBSCertificate) as they appear in `der`. */
  readonly tbsDer: Uint8Array;
  /** The TBSCertificate re-encoded without altSignatureValue: what the ML-DSA signature covers. */
  readonly preTbsDer: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly serialHex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly subjectKeyAlgorithm: string;
  readonly subjectKey: Uint8Array;
  /** Extensions by OID (duplicates are refused while parsing). */
  readonly extensions: ReadonlyMap<string, { readonly critical: boolean; readonly value: Uint8Array }>;
}

function fail(code: (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode], message: string): never {
  throw new IdentityError(code, message);
}

function bytes(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return buffer instanceof ArrayBuffer ? new Uint8Array(buffer.slice(0)) : new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
}

/**
 * asn1js decodes OID arcs above 2^53 (our 2.25 UUID arc) into its own notation, while it
 * encodes them correctly (OpenSSL reads them as written). Decoding one encoding of each such
 * OID once tells us that notation, so extensions are looked up by the canonical dotted form.
 */
const canonicalOids = new Map<string, string>(
  [oid.nodeKemKey].map((canonical) => {
    const probe = AsnConvert.parse(AsnConvert.serialize(new Extension({ extnID: canonical, critical: false, extnValue: new OctetString(new Uint8Array(1)) })), Extension);
    return [probe.extnID, canonical];
  }),
);

function canonicalOid(decoded: string): string {
  return canonicalOids.get(decoded) ?? decoded;
}

function extensionMap(extensions: Extensions | undefined): Map<string, { critical: boolean; value: Uint8Array }> {
  const map = new Map<string, { critical: boolean; value: Uint8Array }>();
  for (const extension of extensions ?? []) {
    const id = canonicalOid(extension.extnID);
    if (map.has(id)) fail(IdentityErrorCode.ERR_SVID_DUPLICATE_EXTENSION, `certificate: extension ${id} appears twice (RFC 5280 4.2)`);
    map.set(id, { critical: extension.critical, value: bytes(extension.extnValue) });
  }
  return map;
}

/** DER of the altSignatureValue OID (2.5.29.74): tag, length, value. */
const altSignatureValueOidDer = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x4a);

function preTbsOf(tbsDer: Uint8Array): Uint8Array {
  try {
    return tbsWithoutExtension(tbsDer, altSignatureValueOidDer);
  } catch (error) {
    return fail(IdentityErrorCode.ERR_SVID_PARSE, `certificate: ${(error as Error).message}`);
  }
}

/** Decodes DER into a ParsedCertificate; ERR_SVID_PARSE when it is not a certificate. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  let certificate: Certificate;
  try {
    certificate = AsnConvert.parse(der, Certificate);
  } catch (error) {
    return fail(IdentityErrorCode.ERR_SVID_PARSE, `certificate: not a DER X.509 certificate (${error instanceof Error ? error.message : String(error)})`);
  }
  const tbs = certificate.tbsCertificate;
  const tbsRaw = certificate.tbsCertificateRaw;
  if (tbsRaw === undefined) return fail(IdentityErrorCode.ERR_SVID_PARSE, 'certificate: TBSCertificate bytes missing');
  return {
    der: der.slice(),
    tbsDer: bytes(tbsRaw),
    preTbsDer: preTbsOf(bytes(tbsRaw)),
    signatureAlgorithm: certificate.signatureAlgorithm.algorithm,
    signature: bytes(certificate.signatureValue),
    serialHex: Buffer.from(bytes(tbs.serialNumber)).toString('hex'),
    notBeforeMs: tbs.validity.notBefore.getTime().getTime(),
    notAfterMs: tbs.validity.notAfter.getTime().getTime(),
    subjectKeyAlgorithm: tbs.subjectPublicKeyInfo.algorithm.algorithm,
    subjectKey: bytes(tbs.subjectPublicKeyInfo.subjectPublicKey),
    extensions: extensionMap(tbs.extensions),
  };
}

function decodeExtension<T>(value: Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(value, type);
  } catch {
    return fail(IdentityErrorCode.ERR_SVID_PARSE, `certificate: the ${what} extension is not well-formed`);
  }
}

/** Basic constraints, or null when absent. */
export function basicConstraintsOf(cert: ParsedCertificate): { readonly cA: boolean } | null {
  const extension = cert.extensions.get(oid.basicConstraints);
  return extension === undefined ? null : { cA: decodeExtension(extension.value, BasicConstraints, 'basic constraints').cA };
}

/** Key usage bits (see keyUsageBit) and criticality, or null when absent. */
export function keyUsageOf(cert: ParsedCertificate): { readonly bits: number; readonly critical: boolean } | null {
  const extension = cert.extensions.get(oid.keyUsage);
  return extension === undefined ? null : { bits: decodeExtension(extension.value, KeyUsage, 'key usage').toNumber(), critical: extension.critical };
}

/** Extended key usage OIDs, or null when absent. */
export function extendedKeyUsageOf(cert: ParsedCertificate): readonly string[] | null {
  const extension = cert.extensions.get(oid.extKeyUsage);
  return extension === undefined ? null : [...decodeExtension(extension.value, ExtendedKeyUsage, 'extended key usage')];
}

/** Every URI subject alternative name. */
export function uriSansOf(cert: ParsedCertificate): string[] {
  const extension = cert.extensions.get(oid.subjectAltName);
  if (extension === undefined) return [];
  return [...decodeExtension(extension.value, SubjectAlternativeName, 'subject alternative name')].flatMap((entry) => (entry.uniformResourceIdentifier === undefined ? [] : [entry.uniformResourceIdentifier]));
}

/** The public key of a SubjectPublicKeyInfo extension (subjectAltPublicKeyInfo, node KEM key) if its algorithm is `algorithm`. */
export function extensionKeyOf(cert: ParsedCertificate, extensionOid: string, algorithm: string): Uint8Array | null {
  const extension = cert.extensions.get(extensionOid);
  if (extension === undefined) return null;
  const info = decodeExtension(extension.value, SubjectPublicKeyInfo, extensionOid);
  return info.algorithm.algorithm === algorithm ? bytes(info.subjectPublicKey) : null;
}

/** The issuer's ML-DSA signature from altSignatureValue, or null. */
export function altSignatureOf(cert: ParsedCertificate): Uint8Array | null {
  const extension = cert.extensions.get(oid.altSignatureValue);
  return extension === undefined ? null : bytes(decodeExtension(extension.value, BitString, 'alt signature value').value);
}

/** True when altSignatureAlgorithm is present and names ML-DSA-65 (the only co-signature the mesh accepts). */
export function altAlgorithmIsMlDsa(cert: ParsedCertificate): boolean {
  const extension = cert.extensions.get(oid.altSignatureAlgorithm);
  return extension !== undefined && decodeExtension(extension.value, AlgorithmIdentifier, 'alt signature algorithm').algorithm === oid.mlDsa65;
}
