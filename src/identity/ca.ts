import { curveKeyBytes, ed25519PublicKey } from '../crypto/curve25519.js';
import { mlDsaKeyPair, mlDsaSeedBytes } from '../crypto/mldsa.js';
import { xwingExpand, type XWingKey } from '../crypto/xwing.js';
import { formatSpiffeId, parseTrustDomain } from './spiffe-id.js';
import { trustAnchorFrom, type TrustAnchor } from './svid.js';
import { signCertificate } from './x509.js';

/** Default lifetime of the CA certificate: ten years. */
export const caValidityMsDefault = 10 * 365 * 24 * 3600_000;
/** Default lifetime of a node SVID (the issue: 1 h); nodes rotate at half of it. */
export const svidTtlMsDefault = 3600_000;
/** Longest SVID lifetime the CA grants. */
export const svidTtlMsMax = 30 * 24 * 3600_000;
/** Backdating of notBefore, so that a verifier whose clock is a little behind still accepts a fresh SVID. */
export const notBeforeSkewMs = 60_000;
/** Bytes of a certificate serial number (positive, random). */
export const serialBytes = 16;

/** The secrets a CA is made of: two 32-byte seeds (its Ed25519 and ML-DSA-65 keys grow from them). */
export interface CaSecrets {
  readonly ed25519Seed: Uint8Array;
  readonly mlDsaSeed: Uint8Array;
}

/** A loaded mesh CA: its certificate, keys and the trust anchor made of the certificate. */
export interface MeshCa {
  readonly trustDomain: string;
  readonly certificateDer: Uint8Array;
  readonly anchor: TrustAnchor;
  readonly ed25519PrivateKey: Uint8Array;
  readonly mlDsaSecretKey: Uint8Array;
}

/** The public keys a node asks to have certified. */
export interface NodePublicKeys {
  readonly ed25519PublicKey: Uint8Array;
  readonly mlDsaPublicKey: Uint8Array;
  readonly xwingPublicKey: Uint8Array;
}

/** A node's own keys, grown from three 32-byte seeds (what its state directory stores). */
export interface NodeKeys {
  readonly ed25519PrivateKey: Uint8Array;
  readonly mlDsaSecretKey: Uint8Array;
  readonly xwing: XWingKey;
  readonly publicKeys: NodePublicKeys;
}

/** Expands a node's seeds into its keys. */
export function nodeKeysFromSeeds(ed25519Seed: Uint8Array, mlDsaSeed: Uint8Array, xwingSeed: Uint8Array): NodeKeys {
  const mlDsa = mlDsaKeyPair(mlDsaSeed);
  const xwing = xwingExpand(xwingSeed);
  const publicKeys = { ed25519PublicKey: ed25519PublicKey(ed25519Seed), mlDsaPublicKey: mlDsa.publicKey, xwingPublicKey: xwing.publicKey };
  return { ed25519PrivateKey: ed25519Seed.slice(), mlDsaSecretKey: mlDsa.secretKey, xwing, publicKeys };
}

function commonName(trustDomain: string): string {
  return `x0tta6bl4 mesh CA ${trustDomain}`;
}

/** Rebuilds a CA from its certificate and secrets, checking that they belong together. */
export function loadCa(trustDomain: string, certificateDer: Uint8Array, secrets: CaSecrets, nowMs: number): MeshCa {
  const anchor = trustAnchorFrom(certificateDer, trustDomain, nowMs);
  const mlDsa = mlDsaKeyPair(secrets.mlDsaSeed);
  if (!Buffer.from(ed25519PublicKey(secrets.ed25519Seed)).equals(anchor.ed25519PublicKey) || !Buffer.from(mlDsa.publicKey).equals(anchor.mlDsaPublicKey)) {
    throw new RangeError(`loadCa: the CA keys do not match the CA certificate of ${trustDomain}`);
  }
  return { trustDomain, certificateDer: certificateDer.slice(), anchor, ed25519PrivateKey: secrets.ed25519Seed.slice(), mlDsaSecretKey: mlDsa.secretKey };
}

/** Creates a new CA for `trustDomain`: fresh seeds from `random`, a self-signed hybrid certificate. */
export function createCa(trustDomain: string, nowMs: number, random: (bytes: number) => Uint8Array, validityMs: number = caValidityMsDefault): { ca: MeshCa; secrets: CaSecrets } {
  parseTrustDomain(trustDomain);
  const secrets = { ed25519Seed: random(curveKeyBytes), mlDsaSeed: random(mlDsaSeedBytes) };
  const mlDsa = mlDsaKeyPair(secrets.mlDsaSeed);
  const certificateDer = signCertificate(
    {
      serialNumber: random(serialBytes),
      issuerCommonName: commonName(trustDomain),
      subjectCommonName: commonName(trustDomain),
      notBeforeMs: nowMs - notBeforeSkewMs,
      notAfterMs: nowMs + validityMs,
      ed25519PublicKey: ed25519PublicKey(secrets.ed25519Seed),
      mlDsaPublicKey: mlDsa.publicKey,
      xwingPublicKey: null,
      isCa: true,
      uriSan: formatSpiffeId({ trustDomain, path: '' }),
    },
    { ed25519PrivateKey: secrets.ed25519Seed, mlDsaSecretKey: mlDsa.secretKey },
  );
  return { ca: loadCa(trustDomain, certificateDer, secrets, nowMs), secrets };
}

/** Issues an X.509-SVID for `path` (e.g. /node/0000002a) binding `keys`, valid for `ttlMs` from `nowMs`. */
export function issueSvid(ca: MeshCa, path: string, keys: NodePublicKeys, nowMs: number, random: (bytes: number) => Uint8Array, ttlMs: number = svidTtlMsDefault): Uint8Array {
  if (!(ttlMs > 0 && ttlMs <= svidTtlMsMax)) throw new RangeError(`issueSvid: expected ttlMs in 1..${svidTtlMsMax}, got ${ttlMs}`);
  const spiffeId = formatSpiffeId({ trustDomain: ca.trustDomain, path });
  return signCertificate(
    {
      serialNumber: random(serialBytes),
      issuerCommonName: commonName(ca.trustDomain),
      subjectCommonName: spiffeId,
      notBeforeMs: nowMs - notBeforeSkewMs,
      notAfterMs: nowMs + ttlMs,
      ed25519PublicKey: keys.ed25519PublicKey,
      mlDsaPublicKey: keys.mlDsaPublicKey,
      xwingPublicKey: keys.xwingPublicKey,
      isCa: false,
      uriSan: spiffeId,
    },
    { ed25519PrivateKey: ca.ed25519PrivateKey, mlDsaSecretKey: ca.mlDsaSecretKey },
  );
}
