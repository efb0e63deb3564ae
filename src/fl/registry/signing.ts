/**
 * The aggregator's signature over a model id: hybrid, Ed25519 and ML-DSA-65 (FIPS 204) both,
 * as for SVIDs and the CA's other signed objects, so a forged model needs both schemes broken.
 * The id already covers the metadata and, through modelSha256, the parameters, so signing the
 * 32-byte id signs the whole version.
 *
 *   signature = Ed25519(context | id) (64 bytes) | ML-DSA-65(id, context) (3309 bytes)
 */
import { curveKeyBytes, ed25519PublicKey, ed25519SignatureBytes, ed25519Sign, ed25519Verify } from '../../crypto/curve25519.js';
import { mlDsaKeyPair, mlDsaPublicKeyBytes, mlDsaSign, mlDsaVerify } from '../../crypto/mldsa.js';
import { RegistryError, RegistryErrorCode } from './errors.js';
import { trustedAggregatorsMax, versionSignatureBytes } from './limits.js';
import type { ModelId } from './model-id.js';

/** Context string of both signatures over a model id (domain separation from SVIDs, renewals, ...). */
export const modelSignatureContext = new TextEncoder().encode('x0tta6bl4 fl model v1');

/** The aggregator's public keys; a node's NodePublicKeys or a CA's TrustAnchor fit as they are. */
export interface AggregatorPublicKey {
  readonly ed25519PublicKey: Uint8Array;
  readonly mlDsaPublicKey: Uint8Array;
}

/** The aggregator's signing keys; a node's NodeKeys fit as they are. */
export interface AggregatorKeys {
  readonly ed25519PrivateKey: Uint8Array;
  readonly mlDsaSecretKey: Uint8Array;
  readonly publicKeys: AggregatorPublicKey;
}

/** The aggregator keys a node accepts model versions from, in one list (at most trustedAggregatorsMax). */
export type AggregatorTrust = readonly AggregatorPublicKey[];

/** Aggregator keys grown from two 32-byte seeds (Ed25519 private key, ML-DSA-65 key-generation seed). */
export function aggregatorKeysFromSeeds(ed25519Seed: Uint8Array, mlDsaSeed: Uint8Array): AggregatorKeys {
  const mlDsa = mlDsaKeyPair(mlDsaSeed);
  return {
    ed25519PrivateKey: ed25519Seed.slice(),
    mlDsaSecretKey: mlDsa.secretKey,
    publicKeys: { ed25519PublicKey: ed25519PublicKey(ed25519Seed), mlDsaPublicKey: mlDsa.publicKey },
  };
}

/** Checks a trust list: 1..trustedAggregatorsMax keys of the right lengths; ERR_FL_TRUST names the bad entry. */
export function checkTrust(trust: AggregatorTrust): AggregatorTrust {
  if (trust.length === 0 || trust.length > trustedAggregatorsMax) {
    throw new RegistryError(RegistryErrorCode.ERR_FL_TRUST, `trust: expected 1..${trustedAggregatorsMax} aggregator keys, got ${trust.length}`);
  }
  trust.forEach((key, index) => {
    if (key.ed25519PublicKey.length !== curveKeyBytes || key.mlDsaPublicKey.length !== mlDsaPublicKeyBytes) {
      throw new RegistryError(
        RegistryErrorCode.ERR_FL_TRUST,
        `trust[${index}]: expected a ${curveKeyBytes}-byte Ed25519 key and a ${mlDsaPublicKeyBytes}-byte ML-DSA-65 key, got ${key.ed25519PublicKey.length} and ${key.mlDsaPublicKey.length}`,
      );
    }
  });
  return trust;
}

function idBytes(id: ModelId): Uint8Array {
  return new Uint8Array(Buffer.from(id, 'hex'));
}

/** The hybrid signature of `id` (deterministic ML-DSA, so a seed reproduces a run byte for byte). */
export function signModelId(keys: AggregatorKeys, id: ModelId): Uint8Array {
  const message = idBytes(id);
  const classic = ed25519Sign(keys.ed25519PrivateKey, new Uint8Array(Buffer.concat([modelSignatureContext, message])));
  const pq = mlDsaSign(keys.mlDsaSecretKey, message, modelSignatureContext);
  return new Uint8Array(Buffer.concat([classic, pq]));
}

/** True when `signature` verifies, both halves, under `key`. */
function verifiesUnder(key: AggregatorPublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  const classic = signature.subarray(0, ed25519SignatureBytes);
  const pq = signature.subarray(ed25519SignatureBytes);
  return ed25519Verify(key.ed25519PublicKey, new Uint8Array(Buffer.concat([modelSignatureContext, message])), classic) && mlDsaVerify(key.mlDsaPublicKey, message, pq, modelSignatureContext);
}

/** The index in `trust` of the aggregator whose keys both verify `signature` over `id`, or -1. */
export function signerOf(trust: AggregatorTrust, id: ModelId, signature: Uint8Array): number {
  if (signature.length !== versionSignatureBytes) return -1;
  const message = idBytes(id);
  return trust.findIndex((key) => verifiesUnder(key, message, signature));
}
