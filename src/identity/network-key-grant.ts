import { aeadOpen, aeadSeal } from '../crypto/aead.js';
import { ed25519SignatureBytes, ed25519Sign, ed25519Verify } from '../crypto/curve25519.js';
import { mlDsaSignatureBytes, mlDsaSign, mlDsaVerify } from '../crypto/mldsa.js';
import { checkNetworkKeyEpochs, networkKeyEpochsMax, type NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { networkKeyBytes } from '../crypto/obfuscation.js';
import { xwingCiphertextBytes, xwingEncapsulate, xwingEncapsulationSeedBytes, type XWingKey } from '../crypto/xwing.js';
import { concat, Reader, u16, u32, u64 } from './binary.js';
import type { MeshCa } from './ca.js';
import { aeadKeyAndNonce, decapsulate } from './enrollment-response.js';
import { IdentityError, IdentityErrorCode } from './errors.js';
import type { TrustAnchor } from './svid.js';

/**
 * A network key grant: the CA's answer to a node that asks for the network keys (POST
 * /v1/network-keys with a signed renewal-style request, docs/ca.md). It carries every epoch of
 * the ring in force (network-key-ring.ts), is signed by the CA with both of its keys, names the
 * node it is for, and is sealed to that node's X-Wing key from its SVID, so only the node can read
 * it and only the CA can have written it:
 *
 *   body   = 'x0tNK1' | recipient SPIFFE ID length u16 | ID | issuedAtMs u64
 *          | SHA-256 of the request it answers (32) | epochs u8
 *          | per epoch: epoch u32 | activeFromMs u64 | acceptUntilMs u64 (0: none) | key (32)
 *   signed = body | Ed25519(context | body) (64) | ML-DSA-65(body, context) (3309)
 *   sealed = 'x0tNKS' | X-Wing ciphertext (1120) | ChaCha20-Poly1305(signed), AAD = magic | ciphertext
 *
 * A revoked node is refused the request, so it never learns an epoch added after its revocation.
 * The grant names the request it answers, so an attacker on the path cannot answer a node's
 * request with an earlier grant (which could take a newer epoch away from it).
 */

/** A grant as the CA issues it. */
export interface NetworkKeyGrant {
  /** The SPIFFE ID of the node it is for. */
  readonly recipient: string;
  readonly issuedAtMs: number;
  /** SHA-256 of the request (POST /v1/network-keys body) this grant answers. */
  readonly requestHash: Uint8Array;
  readonly epochs: readonly NetworkKeyEpoch[];
}

/** Context string of both signatures of a grant. */
export const networkKeyGrantSignatureContext = new TextEncoder().encode('x0tta6bl4 network key grant v1');
const bodyMagic = new TextEncoder().encode('x0tNK1');
const sealedMagic = new TextEncoder().encode('x0tNKS');
const sealLabel = new TextEncoder().encode('x0tta6bl4 network key grant seal v1');
const recipientBytesMax = 2048;
const requestHashBytes = 32;
const epochBytes = 4 + 8 + 8 + networkKeyBytes;
const signaturesBytes = ed25519SignatureBytes + mlDsaSignatureBytes;
/** Most bytes of a sealed grant. */
export const sealedGrantBytesMax = sealedMagic.length + xwingCiphertextBytes + bodyMagic.length + 2 + recipientBytesMax + 8 + requestHashBytes + 1 + networkKeyEpochsMax * epochBytes + signaturesBytes + 16;

function fail(code: keyof typeof IdentityErrorCode, message: string): never {
  throw new IdentityError(IdentityErrorCode[code], `network key grant: ${message}`);
}

function encodeBody(grant: NetworkKeyGrant): Uint8Array {
  const recipient = new TextEncoder().encode(grant.recipient);
  if (recipient.length === 0 || recipient.length > recipientBytesMax) fail('ERR_NETWORK_KEYS_FORMAT', `recipient must be 1..${recipientBytesMax} bytes, got ${recipient.length}`);
  if (!Number.isSafeInteger(grant.issuedAtMs) || grant.issuedAtMs < 0) fail('ERR_NETWORK_KEYS_FORMAT', `issuedAtMs must be a time in ms, got ${grant.issuedAtMs}`);
  if (grant.requestHash.length !== requestHashBytes) fail('ERR_NETWORK_KEYS_FORMAT', `requestHash must be ${requestHashBytes} bytes, got ${grant.requestHash.length}`);
  checkEpochs(grant.epochs);
  const epochs = grant.epochs.map((entry) => concat(u32(entry.epoch), u64(entry.activeFromMs), u64(entry.acceptUntilMs ?? 0), entry.key));
  return concat(bodyMagic, u16(recipient.length), recipient, u64(grant.issuedAtMs), grant.requestHash, Uint8Array.of(grant.epochs.length), ...epochs);
}

function checkEpochs(epochs: readonly NetworkKeyEpoch[]): void {
  try {
    checkNetworkKeyEpochs(epochs);
  } catch (error) {
    // checkNetworkKeyEpochs throws only ERR_CRYPTO_KEY_RING; here it is a malformed grant.
    fail('ERR_NETWORK_KEYS_FORMAT', (error as Error).message);
  }
}

function decodeBody(body: Uint8Array): NetworkKeyGrant {
  const input = new Reader(body, IdentityErrorCode.ERR_NETWORK_KEYS_FORMAT, 'network key grant');
  input.magic(bodyMagic);
  const recipient = new TextDecoder().decode(input.sized(input.u16('recipient length'), recipientBytesMax, 'recipient'));
  const issuedAtMs = input.u64('issuedAtMs');
  const requestHash = input.take(requestHashBytes, 'requestHash').slice();
  const count = input.take(1, 'epoch count')[0]!;
  const epochs: NetworkKeyEpoch[] = [];
  for (let i = 0; i < count; i++) {
    const epoch = input.u32(`epochs[${i}].epoch`);
    const activeFromMs = input.u64(`epochs[${i}].activeFromMs`);
    const acceptUntilMs = input.u64(`epochs[${i}].acceptUntilMs`);
    epochs.push({ epoch, activeFromMs, acceptUntilMs: acceptUntilMs === 0 ? null : acceptUntilMs, key: input.take(networkKeyBytes, `epochs[${i}].key`).slice() });
  }
  input.end();
  checkEpochs(epochs);
  return { recipient, issuedAtMs, requestHash, epochs };
}

function ed25519Message(body: Uint8Array): Uint8Array {
  return concat(networkKeyGrantSignatureContext, body);
}

/** Signs `grant` with both of the CA's keys and seals it to the recipient's X-Wing public key (from its SVID). */
export function sealNetworkKeyGrant(ca: MeshCa, grant: NetworkKeyGrant, recipientXwingPublicKey: Uint8Array, random: (bytes: number) => Uint8Array): Uint8Array {
  const body = encodeBody(grant);
  const signed = concat(body, ed25519Sign(ca.ed25519PrivateKey, ed25519Message(body)), mlDsaSign(ca.mlDsaSecretKey, body, networkKeyGrantSignatureContext));
  const { ciphertext, sharedSecret } = xwingEncapsulate(recipientXwingPublicKey, random(xwingEncapsulationSeedBytes));
  const { key, nonce } = aeadKeyAndNonce(sharedSecret, sealedMagic, sealLabel, ciphertext);
  return concat(sealedMagic, ciphertext, aeadSeal('chacha20-poly1305', key, nonce, signed, concat(sealedMagic, ciphertext)));
}

/** What a node checks a grant against. */
export interface GrantExpectation {
  readonly xwing: XWingKey;
  readonly anchors: readonly TrustAnchor[];
  readonly trustDomain: string;
  /** The node's own SPIFFE ID. */
  readonly recipient: string;
  /** SHA-256 of the request the node sent: the grant must answer it. */
  readonly requestHash: Uint8Array;
}

/**
 * Opens and verifies a sealed grant: ERR_NETWORK_KEYS_FORMAT (malformed or too large),
 * _AUTH (does not open under this node's key), _SIGNATURE (not signed by a CA of the trust
 * domain), _RECIPIENT (made for another node), _REQUEST (answers another request: a replay).
 */
export function openNetworkKeyGrant(sealed: Uint8Array, expected: GrantExpectation): NetworkKeyGrant {
  if (sealed.length > sealedGrantBytesMax) fail('ERR_NETWORK_KEYS_FORMAT', `${sealed.length} bytes, more than ${sealedGrantBytesMax}`);
  const input = new Reader(sealed, IdentityErrorCode.ERR_NETWORK_KEYS_FORMAT, 'network key grant');
  input.magic(sealedMagic);
  const ciphertext = input.take(xwingCiphertextBytes, 'X-Wing ciphertext');
  const box = input.rest();
  const sharedSecret = decapsulate(ciphertext, expected.xwing, IdentityErrorCode.ERR_NETWORK_KEYS_AUTH, 'network key grant');
  const { key, nonce } = aeadKeyAndNonce(sharedSecret, sealedMagic, sealLabel, ciphertext);
  let signed: Uint8Array;
  try {
    signed = aeadOpen('chacha20-poly1305', key, nonce, box, concat(sealedMagic, ciphertext));
  } catch {
    return fail('ERR_NETWORK_KEYS_AUTH', 'does not open under this node\'s X-Wing key (altered, or sealed to another node)');
  }
  if (signed.length < signaturesBytes) fail('ERR_NETWORK_KEYS_FORMAT', `${signed.length} signed bytes, fewer than the signatures`);
  const body = signed.subarray(0, signed.length - signaturesBytes);
  const grant = decodeBody(body);
  checkSignatures(body, signed.subarray(body.length), expected);
  if (grant.recipient !== expected.recipient) fail('ERR_NETWORK_KEYS_RECIPIENT', `made for ${grant.recipient}, not for ${expected.recipient}`);
  if (!Buffer.from(grant.requestHash).equals(expected.requestHash)) fail('ERR_NETWORK_KEYS_REQUEST', 'answers another request than the one this node sent (a replayed grant?)');
  return grant;
}

function checkSignatures(body: Uint8Array, signatures: Uint8Array, expected: GrantExpectation): void {
  const classical = signatures.subarray(0, ed25519SignatureBytes);
  const pq = signatures.subarray(ed25519SignatureBytes);
  const anchors = expected.anchors.filter((anchor) => anchor.trustDomain === expected.trustDomain);
  const signer = anchors.find((anchor) => ed25519Verify(anchor.ed25519PublicKey, ed25519Message(body), classical));
  if (signer === undefined) fail('ERR_NETWORK_KEYS_SIGNATURE', `no trust anchor of ${expected.trustDomain} made its Ed25519 signature (${anchors.length} anchors)`);
  if (!mlDsaVerify(signer.mlDsaPublicKey, body, pq, networkKeyGrantSignatureContext)) fail('ERR_NETWORK_KEYS_SIGNATURE', 'the ML-DSA-65 signature does not verify under the CA that made the Ed25519 signature');
}
