import assert from 'node:assert/strict';
import { aeadKeyBytes, aeadNonceBytes, aeadOpen, aeadSeal, aeadTagBytes } from '../crypto/aead.js';
import { ed25519SignatureBytes, ed25519Sign, ed25519Verify } from '../crypto/curve25519.js';
import { hashBytes, hkdfSha256, sha256 } from '../crypto/hash.js';
import { mlDsaSignatureBytes, mlDsaSign, mlDsaVerify } from '../crypto/mldsa.js';
import { networkKeyBytes } from '../crypto/obfuscation.js';
import { checkXWingPublicKey, xwingCiphertextBytes, xwingDecapsulate, xwingEncapsulate, xwingEncapsulationSeedBytes, xwingPublicKeyBytes, type XWingKey } from '../crypto/xwing.js';
import { concat, Reader, u16, u32, u64 } from './binary.js';
import { bundleBytesMax } from './bundle.js';
import type { MeshCa } from './ca.js';
import { parseCertificate, uriSansOf } from './certificate.js';
import { IdentityError, IdentityErrorCode, isIdentityError, type IdentityErrorCodeValue } from './errors.js';
import { parseSpiffeId } from './spiffe-id.js';
import { trustAnchorFrom, type TrustAnchor } from './svid.js';

/**
 * The sealed enrollment exchange: how a node gets its SVID and the mesh's network key over plain
 * HTTP without anyone on the path learning the join token or the network key.
 *
 * 1. Enrollment key. The CA service holds a short-lived X-Wing key pair and publishes its public
 *    half signed by the CA (Ed25519 and ML-DSA-65, both required), together with the CA
 *    certificate. The node checks the certificate against its pin (SHA-256 of the CA
 *    certificate, printed by `ca init` and `ca join-token`) and both signatures under it.
 *
 *      key    = 'x0tEK1' | CA certificate length u16 | CA certificate DER | X-Wing public key (1216)
 *             | issuedAtMs u64 | notAfterMs u64
 *      signed = key | Ed25519(context | key) (64) | ML-DSA-65(key, context) (3309)
 *
 * 2. Sealed request. The node seals its certificate request (which carries the join token) to
 *    the enrollment key, so only the CA reads the token:
 *
 *      request = 'x0tEQ1' | key id (16: SHA-256 of the X-Wing public key) | X-Wing ciphertext (1120)
 *              | ChaCha20-Poly1305(certificate request)
 *      key || nonce = HKDF-SHA256(ikm = ss_q, salt = key id, info = request label | SHA-256(ciphertext))
 *      AAD = everything before the AEAD part
 *
 * 3. Sealed response. The CA encapsulates to the node's X-Wing key (from its request) and keys
 *    the AEAD with both shared secrets, salted with the hash of the certificate request:
 *
 *      response = 'x0tES1' | X-Wing ciphertext (1120) | ChaCha20-Poly1305(payload)
 *      key || nonce = HKDF-SHA256(ikm = ss_s | ss_q, salt = SHA-256(certificate request),
 *                                 info = response label | SHA-256(ciphertext))
 *      AAD = 'x0tES1' | SHA-256(certificate request) | ciphertext
 *      payload = SVID length u16 | SVID | CA certificate length u16 | CA certificate
 *              | bundle length u32 | bundle JSON (UTF-8) | network key (32)
 *
 * Why: a passive observer sees two KEM ciphertexts and two AEAD boxes, and learns neither the
 * token nor the network key while either ML-KEM-768 or X25519 holds. An active attacker cannot
 * read the token (it needs the enrollment key, which only the pinned CA signs), so it cannot
 * enroll in the node's place; and it cannot forge a response: ss_q is known only to the node
 * and to the holder of the enrollment key, so a response that opens comes from the CA, answers
 * this very request (the request hash is in the salt and the AAD), and carries a network key
 * the CA chose. Every key is used for one message, so the derived nonce never repeats.
 */

/** Longest SVID or CA certificate the exchange carries (a hybrid certificate is about 7 KB). */
export const enrollmentCertificateBytesMax = 16 * 1024;
/** Longest certificate request the sealed request carries (a 256-byte token gives about 6.9 KB). */
export const enrollmentRequestBytesMax = 16 * 1024;
/** Longest lifetime of an enrollment key, and the clock skew allowed before its issuedAtMs. */
export const enrollmentKeyTtlMsMax = 7 * 24 * 3600_000;
export const enrollmentKeyClockSkewMs = 5 * 60_000;
/** Bytes of the key id that names an enrollment key in a sealed request. */
export const enrollmentKeyIdBytes = 16;
/** Context string of both signatures of an enrollment key. */
export const enrollmentKeySignatureContext = new TextEncoder().encode('x0tta6bl4 enrollment key v1');

const keyMagic = new TextEncoder().encode('x0tEK1');
const requestMagic = new TextEncoder().encode('x0tEQ1');
const responseMagic = new TextEncoder().encode('x0tES1');
const requestLabel = new TextEncoder().encode('x0tta6bl4 enrollment request v1');
const responseLabel = new TextEncoder().encode('x0tta6bl4 enrollment response v1');
const signaturesBytes = ed25519SignatureBytes + mlDsaSignatureBytes;
const u16Max = 0xffff;
const payloadBytesMax = 2 + enrollmentCertificateBytesMax + 2 + enrollmentCertificateBytesMax + 4 + bundleBytesMax + networkKeyBytes;

/** Most bytes of a signed enrollment key, a sealed request and a sealed response. */
export const enrollmentKeyBytesMax = keyMagic.length + 2 + enrollmentCertificateBytesMax + xwingPublicKeyBytes + 16 + signaturesBytes;
export const sealedRequestBytesMax = requestMagic.length + enrollmentKeyIdBytes + xwingCiphertextBytes + enrollmentRequestBytesMax + aeadTagBytes;
export const sealedResponseBytesMax = responseMagic.length + xwingCiphertextBytes + payloadBytesMax + aeadTagBytes;

assert(enrollmentCertificateBytesMax <= u16Max, 'enrollment: certificate lengths must fit their u16 fields');
assert(enrollmentKeyIdBytes <= hashBytes && bundleBytesMax < 2 ** 32, 'enrollment: key id and bundle length must fit');

/** A verified enrollment key: the CA it belongs to and the X-Wing key to seal requests to. */
export interface EnrollmentKey {
  readonly caCertificate: Uint8Array;
  readonly anchor: TrustAnchor;
  readonly xwingPublicKey: Uint8Array;
  readonly keyId: Uint8Array;
  readonly issuedAtMs: number;
  readonly notAfterMs: number;
}

/** What both ends keep of a sealed request to key the response: secret, used once. */
export interface EnrollmentExchange {
  readonly requestHash: Uint8Array;
  readonly requestSecret: Uint8Array;
}

/** What the CA hands back to an enrolled node. */
export interface EnrollmentPayload {
  readonly svid: Uint8Array;
  readonly caCertificate: Uint8Array;
  readonly bundleJson: string;
  readonly networkKey: Uint8Array;
}

function fail(code: IdentityErrorCodeValue, message: string): never {
  throw new IdentityError(code, message);
}

/** The id of an enrollment key: the first 16 bytes of SHA-256 of its X-Wing public key. */
export function enrollmentKeyId(xwingPublicKey: Uint8Array): Uint8Array {
  return sha256(xwingPublicKey).slice(0, enrollmentKeyIdBytes);
}

function checkKeyTimes(issuedAtMs: number, notAfterMs: number, code: IdentityErrorCodeValue): void {
  if (!(Number.isSafeInteger(issuedAtMs) && issuedAtMs >= 0 && Number.isSafeInteger(notAfterMs) && notAfterMs > issuedAtMs && notAfterMs - issuedAtMs <= enrollmentKeyTtlMsMax)) {
    fail(code, `enrollment key: expected 0 <= issuedAtMs < notAfterMs <= issuedAtMs + ${enrollmentKeyTtlMsMax} ms, got ${issuedAtMs}..${notAfterMs}`);
  }
}

/** Signs the service's enrollment key with both CA keys, valid from `issuedAtMs` to `notAfterMs`. */
export function signEnrollmentKey(ca: MeshCa, xwingPublicKey: Uint8Array, issuedAtMs: number, notAfterMs: number): Uint8Array {
  checkXWingPublicKey(xwingPublicKey);
  checkKeyTimes(issuedAtMs, notAfterMs, IdentityErrorCode.ERR_ENROLL_KEY_FORMAT);
  if (ca.certificateDer.length > enrollmentCertificateBytesMax) fail(IdentityErrorCode.ERR_ENROLL_KEY_FORMAT, `enrollment key: CA certificate longer than ${enrollmentCertificateBytesMax} bytes`);
  const body = concat(keyMagic, u16(ca.certificateDer.length), ca.certificateDer, xwingPublicKey, u64(issuedAtMs), u64(notAfterMs));
  const classic = ed25519Sign(ca.ed25519PrivateKey, concat(enrollmentKeySignatureContext, body));
  return concat(body, classic, mlDsaSign(ca.mlDsaSecretKey, body, enrollmentKeySignatureContext));
}

/** The trust anchor of a self-signed CA certificate at `nowMs`, its trust domain read from its own URI SAN. */
export function caAnchorOf(der: Uint8Array, nowMs: number): TrustAnchor {
  const uris = uriSansOf(parseCertificate(der));
  if (uris.length !== 1) fail(IdentityErrorCode.ERR_SVID_URI_SAN_COUNT, `CA certificate: expected exactly one URI SAN, found ${uris.length}`);
  return trustAnchorFrom(der, parseSpiffeId(uris[0]!).trustDomain, nowMs);
}

function enrollmentKeyAnchor(der: Uint8Array, nowMs: number): TrustAnchor {
  try {
    return caAnchorOf(der, nowMs);
  } catch (error) {
    const detail = isIdentityError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    return fail(IdentityErrorCode.ERR_ENROLL_KEY_FORMAT, `enrollment key: the CA certificate is not a valid CA: ${detail}`);
  }
}

/**
 * Verifies a signed enrollment key at `nowMs`: its CA certificate must be pinned (`isPinned`, e.g.
 * its SHA-256 equals the operator's pin) before anything else is believed, then it must be a valid
 * CA, both signatures must verify under it, and the key must be within its validity window.
 */
export function verifyEnrollmentKey(bytes: Uint8Array, isPinned: (caCertificate: Uint8Array) => boolean, nowMs: number): EnrollmentKey {
  const code = IdentityErrorCode.ERR_ENROLL_KEY_FORMAT;
  if (bytes.length > enrollmentKeyBytesMax) fail(code, `enrollment key: ${bytes.length} bytes, more than enrollmentKeyBytesMax ${enrollmentKeyBytesMax}`);
  if (bytes.length < signaturesBytes) fail(code, `enrollment key: ${bytes.length} bytes, fewer than its two signatures`);
  const body = bytes.subarray(0, bytes.length - signaturesBytes);
  const input = new Reader(body, code, 'enrollment key');
  input.magic(keyMagic);
  const caCertificate = input.sized(input.u16('CA certificate length'), enrollmentCertificateBytesMax, 'CA certificate').slice();
  const xwingPublicKey = input.take(xwingPublicKeyBytes, 'X-Wing public key').slice();
  const issuedAtMs = input.u64('issuedAtMs');
  const notAfterMs = input.u64('notAfterMs');
  input.end();
  checkKeyTimes(issuedAtMs, notAfterMs, code);
  if (!isPinned(caCertificate)) fail(IdentityErrorCode.ERR_ENROLL_KEY_PIN, `enrollment key: the CA certificate (SHA-256 ${Buffer.from(sha256(caCertificate)).toString('hex')}) is not the pinned CA; refusing to send the join token`);
  const anchor = enrollmentKeyAnchor(caCertificate, nowMs);
  const classic = bytes.subarray(body.length, body.length + ed25519SignatureBytes);
  const pq = bytes.subarray(body.length + ed25519SignatureBytes);
  if (!ed25519Verify(anchor.ed25519PublicKey, concat(enrollmentKeySignatureContext, body), classic) || !mlDsaVerify(anchor.mlDsaPublicKey, body, pq, enrollmentKeySignatureContext)) {
    fail(IdentityErrorCode.ERR_ENROLL_KEY_SIGNATURE, 'enrollment key: a signature does not verify under the pinned CA');
  }
  if (nowMs < issuedAtMs - enrollmentKeyClockSkewMs || nowMs > notAfterMs) {
    fail(IdentityErrorCode.ERR_ENROLL_KEY_EXPIRED, `enrollment key: valid ${new Date(issuedAtMs).toISOString()}..${new Date(notAfterMs).toISOString()}, now is ${new Date(nowMs).toISOString()}`);
  }
  return { caCertificate, anchor, xwingPublicKey, keyId: enrollmentKeyId(xwingPublicKey), issuedAtMs, notAfterMs };
}

/** The AEAD key and nonce of a message sealed to an X-Wing key (enrollment; network key grants). */
export function aeadKeyAndNonce(ikm: Uint8Array, salt: Uint8Array, label: Uint8Array, ciphertext: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  // HKDF's info is bounded (1024 bytes in node:crypto), so the 1120-byte ciphertext enters as its hash.
  const okm = hkdfSha256(ikm, salt, concat(label, sha256(ciphertext)), aeadKeyBytes + aeadNonceBytes);
  return { key: okm.subarray(0, aeadKeyBytes), nonce: okm.subarray(aeadKeyBytes) };
}

/** Seals a certificate request to a verified enrollment key; keep `exchange` to open the response. */
export function sealEnrollmentRequest(key: EnrollmentKey, request: Uint8Array, random: (bytes: number) => Uint8Array): { sealed: Uint8Array; exchange: EnrollmentExchange } {
  if (request.length === 0 || request.length > enrollmentRequestBytesMax) fail(IdentityErrorCode.ERR_ENROLL_REQUEST_FORMAT, `sealed request: the certificate request must be 1..${enrollmentRequestBytesMax} bytes, got ${request.length}`);
  const { ciphertext, sharedSecret } = xwingEncapsulate(key.xwingPublicKey, random(xwingEncapsulationSeedBytes));
  const header = concat(requestMagic, key.keyId, ciphertext);
  const { key: aeadKey, nonce } = aeadKeyAndNonce(sharedSecret, key.keyId, requestLabel, ciphertext);
  const sealed = concat(header, aeadSeal('chacha20-poly1305', aeadKey, nonce, request, header));
  return { sealed, exchange: { requestHash: sha256(request), requestSecret: sharedSecret } };
}

/** The X-Wing shared secret of `ciphertext`, or `code` when the ciphertext is unusable (a low-order X25519 part). */
export function decapsulate(ciphertext: Uint8Array, key: XWingKey, code: IdentityErrorCodeValue, what: string): Uint8Array {
  try {
    return xwingDecapsulate(ciphertext, key);
  } catch (error) {
    return fail(code, `${what}: the X-Wing ciphertext is unusable: ${(error as Error).message}`);
  }
}

/**
 * Opens a sealed request with the enrollment key `findKey` returns for its key id:
 * ERR_ENROLL_REQUEST_FORMAT, _KEY (unknown or retired key: fetch the key again), _AUTH.
 */
export function openEnrollmentRequest(sealed: Uint8Array, findKey: (keyId: Uint8Array) => XWingKey | undefined): { request: Uint8Array; exchange: EnrollmentExchange } {
  const code = IdentityErrorCode.ERR_ENROLL_REQUEST_FORMAT;
  if (sealed.length > sealedRequestBytesMax) fail(code, `sealed request: ${sealed.length} bytes, more than sealedRequestBytesMax ${sealedRequestBytesMax}`);
  const input = new Reader(sealed, code, 'sealed request');
  input.magic(requestMagic);
  const keyId = input.take(enrollmentKeyIdBytes, 'key id');
  const ciphertext = input.take(xwingCiphertextBytes, 'X-Wing ciphertext');
  const box = input.rest();
  if (box.length <= aeadTagBytes) fail(code, `sealed request: the AEAD part must be longer than its ${aeadTagBytes}-byte tag, got ${box.length}`);
  const key = findKey(keyId);
  if (key === undefined) fail(IdentityErrorCode.ERR_ENROLL_REQUEST_KEY, `sealed request: enrollment key ${Buffer.from(keyId).toString('hex')} is not (or no longer) this CA's; fetch /v1/enroll-key again`);
  const sharedSecret = decapsulate(ciphertext, key, IdentityErrorCode.ERR_ENROLL_REQUEST_AUTH, 'sealed request');
  const { key: aeadKey, nonce } = aeadKeyAndNonce(sharedSecret, keyId, requestLabel, ciphertext);
  let request: Uint8Array;
  try {
    request = aeadOpen('chacha20-poly1305', aeadKey, nonce, box, sealed.subarray(0, sealed.length - box.length));
  } catch {
    return fail(IdentityErrorCode.ERR_ENROLL_REQUEST_AUTH, 'sealed request: does not open under the enrollment key (altered, or sealed to another key)');
  }
  return { request, exchange: { requestHash: sha256(request), requestSecret: sharedSecret } };
}

function checkPayload(payload: EnrollmentPayload): Uint8Array {
  const code = IdentityErrorCode.ERR_ENROLL_RESPONSE_LIMIT;
  const bundle = new TextEncoder().encode(payload.bundleJson);
  for (const [field, value] of [['svid', payload.svid], ['caCertificate', payload.caCertificate]] as const) {
    if (value.length === 0 || value.length > enrollmentCertificateBytesMax) fail(code, `enrollment response: ${field} must be 1..${enrollmentCertificateBytesMax} bytes, got ${value.length}`);
  }
  if (bundle.length === 0 || bundle.length > bundleBytesMax) fail(code, `enrollment response: bundleJson must be 1..${bundleBytesMax} bytes, got ${bundle.length}`);
  if (payload.networkKey.length !== networkKeyBytes) fail(code, `enrollment response: networkKey must be ${networkKeyBytes} bytes, got ${payload.networkKey.length}`);
  return bundle;
}

function encodePayload(payload: EnrollmentPayload): Uint8Array {
  const bundle = checkPayload(payload);
  return concat(u16(payload.svid.length), payload.svid, u16(payload.caCertificate.length), payload.caCertificate, u32(bundle.length), bundle, payload.networkKey);
}

function decodePayload(bytes: Uint8Array): EnrollmentPayload {
  const input = new Reader(bytes, IdentityErrorCode.ERR_ENROLL_RESPONSE_FORMAT, 'enrollment response');
  const svid = input.sized(input.u16('SVID length'), enrollmentCertificateBytesMax, 'SVID').slice();
  const caCertificate = input.sized(input.u16('CA certificate length'), enrollmentCertificateBytesMax, 'CA certificate').slice();
  const bundle = input.sized(input.u32('bundle length'), bundleBytesMax, 'bundle');
  const networkKey = input.take(networkKeyBytes, 'network key').slice();
  input.end();
  let bundleJson: string;
  try {
    bundleJson = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bundle);
  } catch {
    return fail(IdentityErrorCode.ERR_ENROLL_RESPONSE_FORMAT, 'enrollment response: the bundle is not UTF-8');
  }
  return { svid, caCertificate, bundleJson, networkKey };
}

function responseAad(exchange: EnrollmentExchange, ciphertext: Uint8Array): Uint8Array {
  return concat(responseMagic, exchange.requestHash, ciphertext);
}

/** Seals `payload` to the node's X-Wing key, keyed by both shared secrets and bound to the request hash. */
export function sealEnrollmentResponse(exchange: EnrollmentExchange, nodeXwingPublicKey: Uint8Array, payload: EnrollmentPayload, random: (bytes: number) => Uint8Array): Uint8Array {
  const plaintext = encodePayload(payload);
  const { ciphertext, sharedSecret } = xwingEncapsulate(nodeXwingPublicKey, random(xwingEncapsulationSeedBytes));
  const { key, nonce } = aeadKeyAndNonce(concat(sharedSecret, exchange.requestSecret), exchange.requestHash, responseLabel, ciphertext);
  return concat(responseMagic, ciphertext, aeadSeal('chacha20-poly1305', key, nonce, plaintext, responseAad(exchange, ciphertext)));
}

/**
 * Opens a sealed response with the node's X-Wing key and the exchange of its request:
 * ERR_ENROLL_RESPONSE_FORMAT, _LIMIT, or _AUTH when it was altered, answers another request or
 * was not made by the holder of the enrollment key.
 */
export function openEnrollmentResponse(sealed: Uint8Array, exchange: EnrollmentExchange, nodeXwing: XWingKey): EnrollmentPayload {
  if (sealed.length > sealedResponseBytesMax) fail(IdentityErrorCode.ERR_ENROLL_RESPONSE_LIMIT, `enrollment response: ${sealed.length} bytes, more than sealedResponseBytesMax ${sealedResponseBytesMax}`);
  const input = new Reader(sealed, IdentityErrorCode.ERR_ENROLL_RESPONSE_FORMAT, 'enrollment response');
  input.magic(responseMagic);
  const ciphertext = input.take(xwingCiphertextBytes, 'X-Wing ciphertext');
  const box = input.rest();
  const sharedSecret = decapsulate(ciphertext, nodeXwing, IdentityErrorCode.ERR_ENROLL_RESPONSE_AUTH, 'enrollment response');
  const { key, nonce } = aeadKeyAndNonce(concat(sharedSecret, exchange.requestSecret), exchange.requestHash, responseLabel, ciphertext);
  let plaintext: Uint8Array;
  try {
    plaintext = aeadOpen('chacha20-poly1305', key, nonce, box, responseAad(exchange, ciphertext));
  } catch {
    return fail(IdentityErrorCode.ERR_ENROLL_RESPONSE_AUTH, 'enrollment response: does not open (altered, answers another request, or not from the CA)');
  }
  return decodePayload(plaintext);
}
