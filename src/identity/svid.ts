import { ed25519Verify } from '../crypto/curve25519.js';
import { mlDsaPublicKeyBytes, mlDsaVerify } from '../crypto/mldsa.js';
import { checkXWingPublicKey, xwingPublicKeyBytes } from '../crypto/xwing.js';
import {
  altAlgorithmIsMlDsa,
  altSignatureOf,
  basicConstraintsOf,
  extendedKeyUsageOf,
  extensionKeyOf,
  keyUsageOf,
  parseCertificate,
  uriSansOf,
  type ParsedCertificate,
} from './certificate.js';
import { IdentityError, IdentityErrorCode, type IdentityErrorCodeValue } from './errors.js';
import { parseSpiffeId, SpiffeIdError } from './spiffe-id.js';
import { certificateSignatureContext, keyUsageBit, oid } from './x509.js';

/**
 * Validation of X.509-SVIDs (SPIFFE X509-SVID standard, sections 4 and 5) plus the mesh's
 * post-quantum half: the issuer's ML-DSA-65 co-signature must verify too, and a leaf must bind
 * the node's ML-DSA-65 and X-Wing keys. Every refusal names the rule it applies.
 */

/** Extensions a verifier understands and may therefore see marked critical (RFC 5280 4.2). */
const understoodCritical = new Set<string>([oid.basicConstraints, oid.keyUsage, oid.subjectAltName, oid.extKeyUsage]);

/** A CA certificate of a trust domain, checked and ready to verify leaves with. */
export interface TrustAnchor {
  readonly trustDomain: string;
  readonly certificate: ParsedCertificate;
  readonly ed25519PublicKey: Uint8Array;
  readonly mlDsaPublicKey: Uint8Array;
}

/** What a valid SVID says about its holder. */
export interface SvidIdentity {
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly path: string;
  readonly serialHex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly ed25519PublicKey: Uint8Array;
  readonly mlDsaPublicKey: Uint8Array;
  readonly xwingPublicKey: Uint8Array;
  /** The trust anchor that signed it. */
  readonly issuer: TrustAnchor;
}

function fail(code: IdentityErrorCodeValue, message: string): never {
  throw new IdentityError(code, message);
}

function checkAlgorithms(cert: ParsedCertificate): void {
  if (cert.signatureAlgorithm !== oid.ed25519) fail(IdentityErrorCode.ERR_SVID_ALGORITHM, `certificate: signature algorithm ${cert.signatureAlgorithm} is not Ed25519`);
  if (cert.subjectKeyAlgorithm !== oid.ed25519 || cert.subjectKey.length !== 32) {
    fail(IdentityErrorCode.ERR_SVID_ALGORITHM, `certificate: subject key algorithm ${cert.subjectKeyAlgorithm} is not Ed25519`);
  }
  for (const [extensionOid, extension] of cert.extensions) {
    if (extension.critical && !understoodCritical.has(extensionOid)) fail(IdentityErrorCode.ERR_SVID_UNKNOWN_CRITICAL, `certificate: unknown critical extension ${extensionOid}`);
  }
}

/** Leaf rules of X509-SVID 4.1, 4.3, 4.4 and 5.2. */
function checkLeafConstraints(cert: ParsedCertificate): void {
  const constraints = basicConstraintsOf(cert);
  if (constraints === null) fail(IdentityErrorCode.ERR_SVID_BASIC_CONSTRAINTS, 'SVID: basic constraints missing (X509-SVID 4.1: a leaf sets cA to false)');
  if (constraints.cA) fail(IdentityErrorCode.ERR_SVID_CA_AS_LEAF, 'SVID: a CA certificate (cA true) cannot identify a node (X509-SVID 5.2)');
  const usage = keyUsageOf(cert);
  if (usage === null) fail(IdentityErrorCode.ERR_SVID_KEY_USAGE_MISSING, 'SVID: key usage missing (X509-SVID 4.3)');
  if (!usage.critical) fail(IdentityErrorCode.ERR_SVID_KEY_USAGE_NOT_CRITICAL, 'SVID: key usage must be critical (X509-SVID 4.3)');
  if ((usage.bits & (keyUsageBit.keyCertSign | keyUsageBit.cRLSign)) !== 0) {
    fail(IdentityErrorCode.ERR_SVID_LEAF_SIGNS_CERTIFICATES, 'SVID: a leaf must not set keyCertSign or cRLSign (X509-SVID 4.3, 5.2)');
  }
  if ((usage.bits & keyUsageBit.digitalSignature) === 0) fail(IdentityErrorCode.ERR_SVID_NO_DIGITAL_SIGNATURE, 'SVID: a leaf must set digitalSignature (X509-SVID 4.3)');
  const extended = extendedKeyUsageOf(cert);
  if (extended !== null && !(extended.includes(oid.serverAuth) && extended.includes(oid.clientAuth))) {
    fail(IdentityErrorCode.ERR_SVID_EXTENDED_KEY_USAGE, 'SVID: extended key usage must hold serverAuth and clientAuth (X509-SVID 4.4)');
  }
}

/** Exactly one URI SAN, a SPIFFE ID in `trustDomain`; a leaf's has a path, a CA's has none. */
function spiffeIdOf(cert: ParsedCertificate, trustDomain: string, isLeaf: boolean): { spiffeId: string; path: string } {
  const uris = uriSansOf(cert);
  if (uris.length !== 1) fail(IdentityErrorCode.ERR_SVID_URI_SAN_COUNT, `SVID: expected exactly one URI SAN, found ${uris.length} (X509-SVID 2)`);
  const spiffeId = uris[0]!;
  let parsed: { trustDomain: string; path: string };
  try {
    parsed = parseSpiffeId(spiffeId);
  } catch (error) {
    return fail(IdentityErrorCode.ERR_SVID_SPIFFE_ID, `SVID: URI SAN is not a SPIFFE ID: ${(error as SpiffeIdError).message}`);
  }
  if (isLeaf && parsed.path === '') fail(IdentityErrorCode.ERR_SVID_SPIFFE_ID, `SVID: ${spiffeId} has no path; a leaf's SPIFFE ID must (X509-SVID 3.1)`);
  if (!isLeaf && parsed.path !== '') fail(IdentityErrorCode.ERR_SVID_SPIFFE_ID, `CA certificate: ${spiffeId} must not have a path (X509-SVID 3.2)`);
  if (parsed.trustDomain !== trustDomain) fail(IdentityErrorCode.ERR_SVID_TRUST_DOMAIN, `SVID: ${spiffeId} is not in trust domain ${trustDomain}`);
  return { spiffeId, path: parsed.path };
}

function checkValidity(cert: ParsedCertificate, nowMs: number): void {
  if (nowMs < cert.notBeforeMs) fail(IdentityErrorCode.ERR_SVID_NOT_YET_VALID, `certificate: not valid before ${new Date(cert.notBeforeMs).toISOString()}`);
  if (nowMs > cert.notAfterMs) fail(IdentityErrorCode.ERR_SVID_EXPIRED, `certificate: expired at ${new Date(cert.notAfterMs).toISOString()}`);
}

/** Both signatures: Ed25519 over the TBS and ML-DSA-65 over the TBS without altSignatureValue. */
function checkSignatures(cert: ParsedCertificate, issuer: { ed25519PublicKey: Uint8Array; mlDsaPublicKey: Uint8Array }): void {
  if (!ed25519Verify(issuer.ed25519PublicKey, cert.tbsDer, cert.signature)) fail(IdentityErrorCode.ERR_SVID_SIGNATURE, 'certificate: the Ed25519 signature does not verify under the trust anchor');
  checkPqSignature(cert, issuer);
}

/** The ML-DSA-65 co-signature over the TBS without altSignatureValue. */
function checkPqSignature(cert: ParsedCertificate, issuer: { mlDsaPublicKey: Uint8Array }): void {
  if (!altAlgorithmIsMlDsa(cert)) fail(IdentityErrorCode.ERR_SVID_PQ_SIGNATURE, 'certificate: altSignatureAlgorithm must name ML-DSA-65');
  const pq = altSignatureOf(cert);
  if (pq === null || !mlDsaVerify(issuer.mlDsaPublicKey, cert.preTbsDer, pq, certificateSignatureContext)) {
    fail(IdentityErrorCode.ERR_SVID_PQ_SIGNATURE, 'certificate: the ML-DSA-65 co-signature is missing or does not verify under the trust anchor');
  }
}

/** The node's X-Wing key must be one a peer can encapsulate to (a bad one would make every handshake with it fail). */
export function checkNodeKemKey(key: Uint8Array, what: string): void {
  try {
    checkXWingPublicKey(key);
  } catch (error) {
    fail(IdentityErrorCode.ERR_SVID_PQ_KEYS, `${what}: the X-Wing public key is unusable: ${(error as Error).message}`);
  }
}

function mlDsaKeyOf(cert: ParsedCertificate, what: string): Uint8Array {
  const key = extensionKeyOf(cert, oid.subjectAltPublicKeyInfo, oid.mlDsa65);
  if (key?.length !== mlDsaPublicKeyBytes) fail(IdentityErrorCode.ERR_SVID_PQ_KEYS, `${what}: no ML-DSA-65 public key in subjectAltPublicKeyInfo`);
  return key;
}

/** Checks a self-signed CA certificate of `trustDomain` (cA, keyCertSign, both self-signatures). */
export function trustAnchorFrom(der: Uint8Array, trustDomain: string, nowMs: number): TrustAnchor {
  const cert = parseCertificate(der);
  checkAlgorithms(cert);
  if (basicConstraintsOf(cert)?.cA !== true) fail(IdentityErrorCode.ERR_SVID_NOT_CA, 'CA certificate: basic constraints must set cA (X509-SVID 3.2)');
  const usage = keyUsageOf(cert);
  if (usage === null || !usage.critical || (usage.bits & keyUsageBit.keyCertSign) === 0) {
    fail(IdentityErrorCode.ERR_SVID_NOT_CA, 'CA certificate: key usage must be critical and set keyCertSign (X509-SVID 4.3)');
  }
  spiffeIdOf(cert, trustDomain, false);
  checkValidity(cert, nowMs);
  const anchor = { trustDomain, certificate: cert, ed25519PublicKey: cert.subjectKey, mlDsaPublicKey: mlDsaKeyOf(cert, 'CA certificate') };
  checkSignatures(cert, anchor);
  return anchor;
}

/**
 * A trust anchor from a CA certificate alone, its trust domain read from the certificate's
 * SPIFFE ID (spiffe://<trust domain>); refused as trustAnchorFrom refuses.
 */
export function trustAnchorOf(der: Uint8Array, nowMs: number): TrustAnchor {
  const uris = uriSansOf(parseCertificate(der));
  let trustDomain: string;
  try {
    trustDomain = parseSpiffeId(uris[0] ?? '').trustDomain;
  } catch (error) {
    return fail(IdentityErrorCode.ERR_SVID_SPIFFE_ID, `CA certificate: its URI SAN is not a SPIFFE ID: ${(error as SpiffeIdError).message}`);
  }
  return trustAnchorFrom(der, trustDomain, nowMs);
}

/**
 * Validates a node's X.509-SVID against the trust anchors of `trustDomain` at `nowMs`:
 * structure and leaf rules first, then validity, then both signatures, then revocation.
 */
export function validateSvid(der: Uint8Array, anchors: readonly TrustAnchor[], trustDomain: string, nowMs: number, isRevoked: (identity: SvidIdentity) => boolean = () => false): SvidIdentity {
  const cert = parseCertificate(der);
  checkAlgorithms(cert);
  checkLeafConstraints(cert);
  const { spiffeId, path } = spiffeIdOf(cert, trustDomain, true);
  checkValidity(cert, nowMs);
  const mlDsaPublicKey = mlDsaKeyOf(cert, 'SVID');
  const xwingPublicKey = extensionKeyOf(cert, oid.nodeKemKey, oid.xwing);
  if (xwingPublicKey?.length !== xwingPublicKeyBytes) fail(IdentityErrorCode.ERR_SVID_PQ_KEYS, 'SVID: no X-Wing public key in the node KEM key extension');
  checkNodeKemKey(xwingPublicKey, 'SVID');
  // An anchor counts only while its own certificate is valid.
  const domainAnchors = anchors.filter((anchor) => anchor.trustDomain === trustDomain && nowMs >= anchor.certificate.notBeforeMs && nowMs <= anchor.certificate.notAfterMs);
  const issuer = domainAnchors.find((anchor) => ed25519Verify(anchor.ed25519PublicKey, cert.tbsDer, cert.signature));
  if (issuer === undefined) fail(IdentityErrorCode.ERR_SVID_SIGNATURE, `SVID: no trust anchor of ${trustDomain} signed this certificate (${domainAnchors.length} anchors)`);
  // find() above already verified the Ed25519 signature under `issuer`.
  checkPqSignature(cert, issuer);
  const identity: SvidIdentity = { spiffeId, trustDomain, path, serialHex: cert.serialHex, notBeforeMs: cert.notBeforeMs, notAfterMs: cert.notAfterMs, ed25519PublicKey: cert.subjectKey, mlDsaPublicKey, xwingPublicKey, issuer };
  if (isRevoked(identity)) fail(IdentityErrorCode.ERR_SVID_REVOKED, `SVID: ${spiffeId} (serial ${cert.serialHex}) is revoked`);
  return identity;
}
