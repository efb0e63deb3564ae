import { sha256 } from '../../src/crypto/hash.js';
import type { CredentialVerifier, HandshakeConfig, LocalIdentity, PeerCredential } from '../../src/crypto/handshake.js';
import { xwingExpand } from '../../src/crypto/xwing.js';

import { seeded as seededRandom } from '../seeded.js';
export { seededRandom };

/**
 * Test certificates until X.509-SVIDs exist: the bytes "cert:" + SPIFFE ID + ":" + hex of the
 * static key. The verifier checks the format, a trust domain and a revocation set; that is all
 * the handshake needs from a certificate.
 */
export function testCertificate(spiffeId: string, staticPublicKey: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`cert:${spiffeId}:${Buffer.from(staticPublicKey).toString('hex')}`);
}

/** The verifier of test certificates: trust domain `trustDomain`, minus the revoked IDs. */
export function testVerifier(trustDomain: string, revoked: Set<string> = new Set()): CredentialVerifier {
  return {
    verify(certificate: Uint8Array): PeerCredential {
      const match = /^cert:(spiffe:\/\/([^/]+)\/[^:]+):([0-9a-f]+)$/.exec(new TextDecoder().decode(certificate));
      if (match === null) throw new Error('not a test certificate');
      const [, spiffeId, domain, keyHex] = match as unknown as [string, string, string, string];
      if (domain !== trustDomain) throw new Error(`trust domain ${domain} is not ${trustDomain}`);
      if (revoked.has(spiffeId)) throw new Error(`${spiffeId} is revoked`);
      return { spiffeId, staticPublicKey: new Uint8Array(Buffer.from(keyHex, 'hex')) };
    },
  };
}

/** A node identity with a static X-Wing key from `seedLabel`. */
export function testIdentity(spiffeId: string, seedLabel: string): LocalIdentity {
  const staticKey = xwingExpand(sha256(new TextEncoder().encode(seedLabel)));
  return { spiffeId, certificate: testCertificate(spiffeId, staticKey.publicKey), staticKey };
}

/** A handshake config for `identity` in trust domain mesh.test. */
export function testConfig(identity: LocalIdentity, randomLabel: string, revoked?: Set<string>): HandshakeConfig {
  return { local: identity, verifier: testVerifier('mesh.test', revoked), random: seededRandom(randomLabel), prologue: new TextEncoder().encode('mesh.test') };
}

/** What the initiator knows of the responder: its verified credential. */
export function credentialOf(identity: LocalIdentity): PeerCredential {
  return { spiffeId: identity.spiffeId, staticPublicKey: identity.staticKey.publicKey };
}
