import { curveKeyBytes, ed25519SignatureBytes, ed25519Sign, ed25519Verify } from '../crypto/curve25519.js';
import { mlDsaPublicKeyBytes, mlDsaSignatureBytes, mlDsaSign, mlDsaVerify } from '../crypto/mldsa.js';
import { xwingPublicKeyBytes } from '../crypto/xwing.js';
import type { NodeKeys, NodePublicKeys } from './ca.js';
import { parseCertificate } from './certificate.js';
import { enrollmentCertificateBytesMax } from './enrollment-response.js';
import { IdentityError, IdentityErrorCode, type IdentityErrorCodeValue } from './errors.js';
import { validateSvid, type SvidIdentity, type TrustAnchor } from './svid.js';

/**
 * SVID renewal: a node asks its CA for a new SVID while the current one is still valid, proving
 * that it holds the keys the SVID binds. The request is signed with both of the node's keys
 * (Ed25519 and ML-DSA-65; the CA requires both) over the current SVID, the public keys and a
 * timestamp:
 *
 *   body    = 'x0tRN1' | SVID length u16 | SVID DER | Ed25519 public key (32)
 *           | ML-DSA-65 public key (1952) | X-Wing public key (1216) | timestampMs u64
 *   request = body | Ed25519(context | body) (64) | ML-DSA-65(body, context) (3309)
 *
 * The CA renews only for the keys the SVID already binds (same SPIFFE ID, same keys), so a stolen
 * SVID alone is worth nothing; it refuses a revoked SVID, one expired for longer than
 * renewalExpiryGraceMs, and a timestamp further than renewalClockSkewMs from its clock, which
 * bounds how long a captured request can be replayed (the service also remembers the requests
 * it served within that window).
 */

/** How far the request's timestamp may be from the CA's clock, either way. */
export const renewalClockSkewMs = 5 * 60_000;
/** How long after notAfter an SVID may still be renewed (a node whose clock lags, or a late retry). */
export const renewalExpiryGraceMs = 2 * 60_000;
/** Context string of both signatures of a renewal request. */
export const renewalSignatureContext = new TextEncoder().encode('x0tta6bl4 renewal request v1');
/**
 * Context of the same request asking for the network key epochs (POST /v1/network-keys): a
 * request signed for one purpose does not verify for the other, so neither can be replayed as
 * the other.
 */
export const networkKeysRequestSignatureContext = new TextEncoder().encode('x0tta6bl4 network key request v1');
/** What a renewal-style request is signed for. */
export type RequestPurpose = 'renewal' | 'networkKeys';

function contextOf(purpose: RequestPurpose): Uint8Array {
  return purpose === 'renewal' ? renewalSignatureContext : networkKeysRequestSignatureContext;
}

const magic = new TextEncoder().encode('x0tRN1');
const keysBytes = curveKeyBytes + mlDsaPublicKeyBytes + xwingPublicKeyBytes;
const signaturesBytes = ed25519SignatureBytes + mlDsaSignatureBytes;
/** Most bytes of an encoded renewal request. */
export const renewalRequestBytesMax = magic.length + 2 + enrollmentCertificateBytesMax + keysBytes + 8 + signaturesBytes;

/** A renewal request whose two signatures verified under the keys it carries. */
export interface RenewalRequest {
  readonly svid: Uint8Array;
  readonly publicKeys: NodePublicKeys;
  readonly timestampMs: number;
}

/** What the CA needs to judge a renewal. */
export interface RenewalPolicy {
  readonly anchors: readonly TrustAnchor[];
  readonly trustDomain: string;
  readonly nowMs: number;
  readonly isRevoked?: (identity: SvidIdentity) => boolean;
}

function fail(code: IdentityErrorCodeValue, message: string): never {
  throw new IdentityError(code, `renewal request: ${message}`);
}

function body(svid: Uint8Array, keys: NodePublicKeys, timestampMs: number): Uint8Array {
  if (svid.length === 0 || svid.length > enrollmentCertificateBytesMax) fail(IdentityErrorCode.ERR_RENEWAL_FORMAT, `the SVID must be 1..${enrollmentCertificateBytesMax} bytes, got ${svid.length}`);
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) fail(IdentityErrorCode.ERR_RENEWAL_FORMAT, `timestampMs must be an integer in 0..${Number.MAX_SAFE_INTEGER}, got ${timestampMs}`);
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(timestampMs));
  const length = Uint8Array.of(svid.length >>> 8, svid.length & 0xff);
  return new Uint8Array(Buffer.concat([magic, length, svid, keys.ed25519PublicKey, keys.mlDsaPublicKey, keys.xwingPublicKey, time]));
}

function signedMessage(signed: Uint8Array, context: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([context, signed]));
}

/** The renewal request (or, with `purpose`, the network key request) of a node holding `keys` and `svid`, stamped `timestampMs` and signed with both keys. */
export function encodeRenewalRequest(keys: NodeKeys, svid: Uint8Array, timestampMs: number, purpose: RequestPurpose = 'renewal'): Uint8Array {
  const signed = body(svid, keys.publicKeys, timestampMs);
  const context = contextOf(purpose);
  const classic = ed25519Sign(keys.ed25519PrivateKey, signedMessage(signed, context));
  return new Uint8Array(Buffer.concat([signed, classic, mlDsaSign(keys.mlDsaSecretKey, signed, context)]));
}

/** Decodes a request signed for `purpose` strictly and checks both signatures with the keys it carries: ERR_RENEWAL_FORMAT / _SIGNATURE. */
export function decodeRenewalRequest(bytes: Uint8Array, purpose: RequestPurpose = 'renewal'): RenewalRequest {
  const context = contextOf(purpose);
  const header = magic.length + 2;
  if (bytes.length > renewalRequestBytesMax) fail(IdentityErrorCode.ERR_RENEWAL_FORMAT, `${bytes.length} bytes, more than renewalRequestBytesMax ${renewalRequestBytesMax}`);
  if (bytes.length < header || !Buffer.from(bytes.subarray(0, magic.length)).equals(magic)) fail(IdentityErrorCode.ERR_RENEWAL_FORMAT, 'not an x0tRN1 request');
  const svidBytes = (bytes[magic.length]! << 8) | bytes[magic.length + 1]!;
  const keysAt = header + svidBytes;
  const expected = keysAt + keysBytes + 8 + signaturesBytes;
  if (svidBytes === 0 || bytes.length !== expected) fail(IdentityErrorCode.ERR_RENEWAL_FORMAT, `expected ${expected} bytes for a ${svidBytes}-byte SVID, got ${bytes.length}`);
  const signedBytes = keysAt + keysBytes + 8;
  const signed = bytes.subarray(0, signedBytes);
  const publicKeys: NodePublicKeys = {
    ed25519PublicKey: bytes.slice(keysAt, keysAt + curveKeyBytes),
    mlDsaPublicKey: bytes.slice(keysAt + curveKeyBytes, keysAt + curveKeyBytes + mlDsaPublicKeyBytes),
    xwingPublicKey: bytes.slice(keysAt + curveKeyBytes + mlDsaPublicKeyBytes, keysAt + keysBytes),
  };
  const timestamp = new DataView(bytes.slice(keysAt + keysBytes, signedBytes).buffer).getBigUint64(0);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) fail(IdentityErrorCode.ERR_RENEWAL_FORMAT, `timestampMs must be at most ${Number.MAX_SAFE_INTEGER}, got ${timestamp}`);
  const classic = bytes.subarray(signedBytes, signedBytes + ed25519SignatureBytes);
  const pq = bytes.subarray(signedBytes + ed25519SignatureBytes);
  if (!ed25519Verify(publicKeys.ed25519PublicKey, signedMessage(signed, context), classic) || !mlDsaVerify(publicKeys.mlDsaPublicKey, signed, pq, context)) {
    fail(IdentityErrorCode.ERR_RENEWAL_SIGNATURE, `a signature does not verify with the keys it carries (for a ${purpose === 'renewal' ? 'renewal' : 'network key'} request)`);
  }
  return { svid: bytes.slice(header, keysAt), publicKeys, timestampMs: Number(timestamp) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(b);
}

/**
 * The CA's judgement of a decoded request: the timestamp within renewalClockSkewMs, the SVID valid
 * under `anchors` and not revoked (expired by at most renewalExpiryGraceMs), and the request's
 * keys exactly the SVID's. Returns the SVID's identity, to issue the new SVID for.
 */
export function checkRenewal(request: RenewalRequest, policy: RenewalPolicy): SvidIdentity {
  const { nowMs } = policy;
  if (Math.abs(request.timestampMs - nowMs) > renewalClockSkewMs) {
    fail(IdentityErrorCode.ERR_RENEWAL_CLOCK, `timestamp ${new Date(request.timestampMs).toISOString()} is more than ${renewalClockSkewMs / 1000} s from the CA's clock ${new Date(nowMs).toISOString()}`);
  }
  // The SVID is validated at the earlier of now and its notAfter, then the grace is applied, so
  // every other rule (signatures, anchors, revocation) is checked as usual.
  const notAfterMs = parseCertificate(request.svid).notAfterMs;
  if (nowMs > notAfterMs + renewalExpiryGraceMs) {
    throw new IdentityError(IdentityErrorCode.ERR_SVID_EXPIRED, `renewal request: the SVID expired at ${new Date(notAfterMs).toISOString()}, more than ${renewalExpiryGraceMs / 1000} s ago; join again with a new token`);
  }
  const identity = validateSvid(request.svid, policy.anchors, policy.trustDomain, Math.min(nowMs, notAfterMs), policy.isRevoked);
  const keys = request.publicKeys;
  if (!sameBytes(keys.ed25519PublicKey, identity.ed25519PublicKey) || !sameBytes(keys.mlDsaPublicKey, identity.mlDsaPublicKey) || !sameBytes(keys.xwingPublicKey, identity.xwingPublicKey)) {
    fail(IdentityErrorCode.ERR_RENEWAL_KEYS, `the request's keys are not the ones ${identity.spiffeId}'s SVID binds`);
  }
  return identity;
}
