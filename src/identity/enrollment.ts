import { curveKeyBytes, ed25519SignatureBytes, ed25519Sign, ed25519Verify } from '../crypto/curve25519.js';
import { mlDsaPublicKeyBytes, mlDsaSign, mlDsaSignatureBytes, mlDsaVerify } from '../crypto/mldsa.js';
import { checkXWingPublicKey, xwingPublicKeyBytes } from '../crypto/xwing.js';
import { issueSvid, svidTtlMsDefault, type MeshCa, type NodeKeys, type NodePublicKeys } from './ca.js';
import { IdentityError, IdentityErrorCode } from './errors.js';
import type { JoinTokenBook } from './join-token.js';
import { nodePathPrefix } from './spiffe-id.js';
import { formatNodeId, nodeId } from '../wire/ids.js';

/**
 * Attestation by join token: a node sends a certificate request (its three public keys and the
 * token, signed with both its Ed25519 and its ML-DSA-65 key to prove it holds them); the CA
 * checks the token, picks a node ID, issues the SVID and only then uses the token up, so a
 * refused request changes nothing.
 */

const magic = new TextEncoder().encode('x0tCSR1');
const requestContext = new TextEncoder().encode('x0tta6bl4 certificate request v1');
/** Longest token text a request may carry. */
export const requestTokenBytesMax = 256;

/** A certificate request after its signatures verified. */
export interface CertificateRequest {
  readonly token: string;
  readonly publicKeys: NodePublicKeys;
}

function body(token: string, keys: NodePublicKeys): Uint8Array {
  const tokenBytes = new TextEncoder().encode(token);
  if (tokenBytes.length > requestTokenBytesMax) throw new IdentityError(IdentityErrorCode.ERR_REQUEST_FORMAT, `certificate request: token longer than ${requestTokenBytesMax} bytes`);
  return new Uint8Array(Buffer.concat([magic, Buffer.from([tokenBytes.length >> 8, tokenBytes.length & 0xff]), tokenBytes, keys.ed25519PublicKey, keys.mlDsaPublicKey, keys.xwingPublicKey]));
}

/** The request a node sends with `token`, signed with its keys. */
export function encodeCertificateRequest(token: string, keys: NodeKeys): Uint8Array {
  const signed = body(token, keys.publicKeys);
  const classic = ed25519Sign(keys.ed25519PrivateKey, signed);
  const pq = mlDsaSign(keys.mlDsaSecretKey, signed, requestContext);
  return new Uint8Array(Buffer.concat([signed, classic, pq]));
}

function formatError(detail: string): IdentityError {
  return new IdentityError(IdentityErrorCode.ERR_REQUEST_FORMAT, `certificate request: ${detail}`);
}

/** Decodes a request and checks both proofs of possession; ERR_REQUEST_FORMAT / ERR_REQUEST_SIGNATURE. */
export function decodeCertificateRequest(bytes: Uint8Array): CertificateRequest {
  const keysBytes = curveKeyBytes + mlDsaPublicKeyBytes + xwingPublicKeyBytes;
  const signaturesBytes = ed25519SignatureBytes + mlDsaSignatureBytes;
  if (bytes.length < magic.length + 2 + keysBytes + signaturesBytes || !Buffer.from(bytes.subarray(0, magic.length)).equals(magic)) throw formatError('not an x0tCSR1 request');
  const tokenBytes = (bytes[magic.length]! << 8) | bytes[magic.length + 1]!;
  const keysAt = magic.length + 2 + tokenBytes;
  if (bytes.length !== keysAt + keysBytes + signaturesBytes) throw formatError(`expected ${keysAt + keysBytes + signaturesBytes} bytes for a ${tokenBytes}-byte token, got ${bytes.length}`);
  const signed = bytes.subarray(0, keysAt + keysBytes);
  const publicKeys = {
    ed25519PublicKey: bytes.slice(keysAt, keysAt + curveKeyBytes),
    mlDsaPublicKey: bytes.slice(keysAt + curveKeyBytes, keysAt + curveKeyBytes + mlDsaPublicKeyBytes),
    xwingPublicKey: bytes.slice(keysAt + curveKeyBytes + mlDsaPublicKeyBytes, keysAt + keysBytes),
  };
  const classic = bytes.subarray(signed.length, signed.length + ed25519SignatureBytes);
  const pq = bytes.subarray(signed.length + ed25519SignatureBytes);
  if (!ed25519Verify(publicKeys.ed25519PublicKey, signed, classic) || !mlDsaVerify(publicKeys.mlDsaPublicKey, signed, pq, requestContext)) {
    throw new IdentityError(IdentityErrorCode.ERR_REQUEST_SIGNATURE, 'certificate request: a signature does not verify with the keys it carries');
  }
  try {
    checkXWingPublicKey(publicKeys.xwingPublicKey);
  } catch (error) {
    throw formatError(`the X-Wing public key is unusable: ${(error as Error).message}`);
  }
  return { token: new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(magic.length + 2, keysAt)), publicKeys };
}

/** What enrollment hands back to the node. */
export interface Enrollment {
  readonly spiffeId: string;
  readonly svid: Uint8Array;
  readonly caCertificate: Uint8Array;
}

function randomNodePath(random: (bytes: number) => Uint8Array): string {
  for (;;) {
    const bytes = random(4);
    const value = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    if (value !== 0) return `${nodePathPrefix}${formatNodeId(nodeId(value))}`;
  }
}

/** Enrolls a node: request checked, token checked, SVID issued, then the token used up. */
export function enroll(ca: MeshCa, tokens: JoinTokenBook, requestBytes: Uint8Array, nowMs: number, random: (bytes: number) => Uint8Array, ttlMs: number = svidTtlMsDefault): Enrollment {
  const request = decodeCertificateRequest(requestBytes);
  tokens.check(request.token, nowMs);
  const path = randomNodePath(random);
  const svid = issueSvid(ca, path, request.publicKeys, nowMs, random, ttlMs);
  const spiffeId = `spiffe://${ca.trustDomain}${path}`;
  tokens.consume(request.token, nowMs, spiffeId);
  return { spiffeId, svid, caCertificate: ca.certificateDer.slice() };
}
