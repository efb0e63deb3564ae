/**
 * TLS for the node API (mTLS with X509-SVIDs). The node serves its own SVID and private key;
 * clients may present theirs. Our SVIDs are X.509 certificates with an Ed25519 subject key and
 * an Ed25519 CA signature, plus an ML-DSA-65 co-signature in non-critical extensions: OpenSSL's
 * TLS 1.3 (Node 20 ships OpenSSL 3.0) uses them as they are, verifying the Ed25519 chain and
 * ignoring the extensions it does not know. So the post-quantum half is checked by our own
 * validateSvid after the handshake (the `verifyClient` callback), and no second, TLS-only key is
 * needed. What TLS itself gives is classical: Ed25519 authentication and an X25519 (or P-256)
 * key exchange; see docs/api.md.
 */
import { X509Certificate } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { curveKeyBytes } from '../crypto/curve25519.js';

/** What the API needs to serve TLS and accept client SVIDs. */
export interface ApiTlsOptions {
  /** The server certificate: the node's X509-SVID (DER). */
  readonly certificate: Uint8Array;
  /** The 32-byte Ed25519 seed of the key the certificate binds (the node's keys.json). */
  readonly ed25519Seed: Uint8Array;
  /** CA certificates (DER) a client certificate must chain to: the mesh's trust bundle. */
  readonly clientCas: readonly Uint8Array[];
  /**
   * Validates a client certificate (DER) completely (SPIFFE rules, both signatures, expiry,
   * revocation) and returns its SPIFFE ID; throws an Error whose message names what is wrong.
   */
  readonly verifyClient: (certificate: Uint8Array) => string;
}

/** The DER prefix of a PKCS#8 Ed25519 private key (RFC 8410): the 32-byte seed follows it. */
const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A certificate (DER) as PEM text, as OpenSSL takes it; throws if the bytes are not a certificate. */
export function certificatePem(der: Uint8Array): string {
  return new X509Certificate(Buffer.from(der)).toString();
}

/** An Ed25519 private key from its 32-byte seed as PKCS#8 PEM; a RangeError for a seed of another length. */
export function ed25519KeyPem(seed: Uint8Array): string {
  if (seed.length !== curveKeyBytes) throw new RangeError(`ed25519KeyPem: expected a ${curveKeyBytes}-byte seed, got ${seed.length} bytes`);
  const der = Buffer.concat([pkcs8Ed25519Prefix, seed]);
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
}

/**
 * The options of the HTTPS server: TLS 1.3 only, the node's SVID and key, and a request for a
 * client certificate that the handshake does not insist on (bearer-token clients have none) and
 * does not judge: `presentedCertificate` reads OpenSSL's verdict and the API decides.
 */
export function httpsServerOptions(tls: Pick<ApiTlsOptions, 'certificate' | 'ed25519Seed' | 'clientCas'>): ServerOptions {
  return {
    cert: certificatePem(tls.certificate),
    key: ed25519KeyPem(tls.ed25519Seed),
    ca: tls.clientCas.map(certificatePem),
    minVersion: 'TLSv1.3',
    requestCert: true,
    rejectUnauthorized: false,
  };
}

/** A client certificate the TLS handshake received, with OpenSSL's verdict on its chain. */
export interface PresentedCertificate {
  readonly der: Uint8Array;
  /** Why OpenSSL could not verify the chain against clientCas, or null when it could. */
  readonly chainError: string | null;
}

/**
 * The certificate the client of `socket` presented, or null (plain HTTP, or no certificate).
 * The handshake has already proved the client holds the certificate's private key: TLS 1.3
 * checks its CertificateVerify signature whatever the chain verdict.
 */
export function presentedCertificate(socket: Socket): PresentedCertificate | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.getPeerCertificate === undefined) return null;
  const peer = tls.getPeerCertificate();
  // Without a client certificate Node answers an empty object.
  if (!Buffer.isBuffer(peer.raw) || peer.raw.length === 0) return null;
  return { der: new Uint8Array(peer.raw), chainError: tls.authorized === true ? null : String(tls.authorizationError) };
}
