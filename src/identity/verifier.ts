import type { CredentialVerifier, PeerCredential } from '../crypto/handshake.js';
import { sha256 } from '../crypto/hash.js';
import { IdentityError, IdentityErrorCode } from './errors.js';
import { validateSvid, type SvidIdentity, type TrustAnchor } from './svid.js';

/** Verified certificates a node remembers (most recently used kept). */
export const verifiedCertificatesMax = 4096;

/** Where the verifier reads the current anchors and revocations (they change while a node runs). */
export interface TrustSource {
  readonly trustDomain: string;
  anchors(): readonly TrustAnchor[];
  isRevoked(identity: SvidIdentity): boolean;
}

/**
 * The handshake's certificate check, backed by SVID validation. A certificate seen before skips
 * the signature checks (its bytes' hash is the cache key), but expiry and revocation are checked
 * on every use, so a revocation or an expiry takes effect at the next handshake.
 */
export class SvidVerifier implements CredentialVerifier {
  private readonly cache = new Map<string, SvidIdentity>();
  /** Signature checks done and skipped, for metrics and the handshake benchmark. */
  misses = 0;
  hits = 0;

  /** A verifier over `trust`, remembering at most `cacheMax` verified certificates. */
  constructor(
    private readonly trust: TrustSource,
    private readonly cacheMax: number = verifiedCertificatesMax,
  ) {}

  /** The credential of a valid, unrevoked SVID; throws IdentityError naming the broken rule. */
  verify(certificate: Uint8Array, nowMs: number): PeerCredential {
    const key = Buffer.from(sha256(certificate)).toString('base64');
    let identity = this.cache.get(key);
    if (identity === undefined) {
      identity = validateSvid(certificate, this.trust.anchors(), this.trust.trustDomain, nowMs, (candidate) => this.trust.isRevoked(candidate));
      this.remember(key, identity);
      this.misses++;
    } else {
      this.recheck(identity, nowMs);
      this.cache.delete(key);
      this.cache.set(key, identity);
      this.hits++;
    }
    return { spiffeId: identity.spiffeId, staticPublicKey: identity.xwingPublicKey };
  }

  /** Forgets every cached certificate (after a bundle change that removed an anchor). */
  clear(): void {
    this.cache.clear();
  }

  private recheck(identity: SvidIdentity, nowMs: number): void {
    if (nowMs > identity.notAfterMs) throw new IdentityError(IdentityErrorCode.ERR_SVID_EXPIRED, `certificate: expired at ${new Date(identity.notAfterMs).toISOString()}`);
    // The anchor that signed it must still be trusted, and valid itself.
    const issuer = identity.issuer.certificate;
    if (!this.trust.anchors().includes(identity.issuer) || nowMs < issuer.notBeforeMs || nowMs > issuer.notAfterMs) {
      throw new IdentityError(IdentityErrorCode.ERR_SVID_SIGNATURE, `SVID: ${identity.spiffeId}: its issuer is no longer a valid trust anchor`);
    }
    if (this.trust.isRevoked(identity)) throw new IdentityError(IdentityErrorCode.ERR_SVID_REVOKED, `SVID: ${identity.spiffeId} (serial ${identity.serialHex}) is revoked`);
  }

  private remember(key: string, identity: SvidIdentity): void {
    if (this.cache.size >= this.cacheMax) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, identity);
  }
}
