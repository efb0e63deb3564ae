import { ed25519PublicKey, ed25519Sign, ed25519Verify } from '../src/crypto/curve25519.js';
import { consumeResponse, createInitiation, initiationToSend, Responder, type CredentialVerifier, type HandshakeConfig, type LocalIdentity, type PeerCredential } from '../src/crypto/handshake.js';
import { mlDsaKeyPair, mlDsaSign, mlDsaVerify } from '../src/crypto/mldsa.js';
import { sha256 } from '../src/crypto/hash.js';
import { xwingExpand } from '../src/crypto/xwing.js';
import { randomBytes } from 'node:crypto';

/** Handshakes measured per configuration (after warm-up). */
const rounds = 200;
const warmup = 30;
const address = new TextEncoder().encode('192.0.2.1:4500');
const context = new TextEncoder().encode('x0tta6bl4 bench certificate');

/** The CA keys that sign bench certificates (Ed25519 and ML-DSA-65, as SVIDs will carry). */
const caEd25519 = randomBytes(32);
const caMlDsa = mlDsaKeyPair(randomBytes(32));
const caEd25519Public = ed25519PublicKey(caEd25519);

/**
 * A bench certificate: SPIFFE ID and static key, signed by the CA with Ed25519 and ML-DSA-65.
 * The uncached verifier checks both signatures, which is the cryptographic work an X.509-SVID
 * check does; X.509 parsing is not in the figure.
 */
function certificate(spiffeId: string, staticPublicKey: Uint8Array): Uint8Array {
  const body = new Uint8Array([...new TextEncoder().encode(spiffeId), 0, ...staticPublicKey]);
  const classic = ed25519Sign(caEd25519, body);
  const pq = mlDsaSign(caMlDsa.secretKey, body, context);
  const out = new Uint8Array(4 + body.length + classic.length + pq.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  out.set(classic, 4 + body.length);
  out.set(pq, 4 + body.length + classic.length);
  return out;
}

function parse(cert: Uint8Array): { body: Uint8Array; classic: Uint8Array; pq: Uint8Array; credential: PeerCredential } {
  const bodyBytes = new DataView(cert.buffer, cert.byteOffset).getUint32(0);
  const body = cert.subarray(4, 4 + bodyBytes);
  const zero = body.indexOf(0);
  const credential = { spiffeId: new TextDecoder().decode(body.subarray(0, zero)), staticPublicKey: body.slice(zero + 1) };
  return { body, classic: cert.subarray(4 + bodyBytes, 4 + bodyBytes + 64), pq: cert.subarray(4 + bodyBytes + 64), credential };
}

const uncachedVerifier: CredentialVerifier = {
  verify(cert) {
    const { body, classic, pq, credential } = parse(cert);
    if (!ed25519Verify(caEd25519Public, body, classic) || !mlDsaVerify(caMlDsa.publicKey, body, pq, context)) throw new Error('bad signature');
    return credential;
  },
};

function cachedVerifier(): CredentialVerifier {
  const cache = new Map<string, PeerCredential>();
  return {
    verify(cert, nowMs) {
      const key = Buffer.from(sha256(cert)).toString('hex');
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      const credential = uncachedVerifier.verify(cert, nowMs);
      cache.set(key, credential);
      return credential;
    },
  };
}

function identity(n: number): LocalIdentity {
  const spiffeId = `spiffe://bench.test/node/${n.toString(16).padStart(8, '0')}`;
  const staticKey = xwingExpand(randomBytes(32));
  return { spiffeId, certificate: certificate(spiffeId, staticKey.publicKey), staticKey };
}

function config(local: LocalIdentity, verifier: CredentialVerifier): HandshakeConfig {
  return { local, verifier, random: (n) => new Uint8Array(randomBytes(n)), prologue: new TextEncoder().encode('bench.test') };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 1000) / 1000;
}

/** Times each side of `count` handshakes; one thread, so wall time is CPU time. */
function measure(verifierFor: () => CredentialVerifier, count: number): { initiatorMs: number[]; responderMs: number[]; sizes: { initiation: number; response: number } } {
  const alice = identity(1);
  const bob = identity(2);
  const aliceConfig = config(alice, verifierFor());
  const responder = new Responder(config(bob, verifierFor()));
  const bobCredential = { spiffeId: bob.spiffeId, staticPublicKey: bob.staticKey.publicKey };
  const initiatorMs: number[] = [];
  const responderMs: number[] = [];
  let sizes = { initiation: 0, response: 0 };
  for (let i = 0; i < count; i++) {
    const now = 1_800_000_000_000 + i;
    let t = performance.now();
    const pending = createInitiation(aliceConfig, bobCredential, now);
    const initiation = initiationToSend(pending, now);
    const initiateMs = performance.now() - t;
    t = performance.now();
    const outcome = responder.handleInitiation(initiation, address, now, false);
    responderMs.push(performance.now() - t);
    if (outcome.kind !== 'response') throw new Error(`bench handshake failed: ${outcome.kind}`);
    t = performance.now();
    consumeResponse(aliceConfig, pending, outcome.message, now);
    initiatorMs.push(initiateMs + performance.now() - t);
    sizes = { initiation: initiation.length, response: outcome.message.length };
  }
  return { initiatorMs: initiatorMs.slice(warmup), responderMs: responderMs.slice(warmup), sizes };
}

/** Initiations a responder completes per second on one core, every certificate already cached. */
function responderRate(): number {
  const bob = identity(2);
  const responder = new Responder(config(bob, cachedVerifier()));
  const bobCredential = { spiffeId: bob.spiffeId, staticPublicKey: bob.staticKey.publicKey };
  const initiators = Array.from({ length: 20 }, (_, i) => identity(100 + i));
  const initiations = initiators.flatMap((local) => {
    const c = config(local, cachedVerifier());
    return Array.from({ length: 20 }, (_, k) => initiationToSend(createInitiation(c, bobCredential, 1_800_000_000_000 + k), 1_800_000_000_000 + k));
  });
  // Warm the certificate cache and the JIT, then time fresh initiations (later timestamps).
  for (const message of initiations.slice(0, 20)) responder.handleInitiation(message, address, 1_800_000_000_000, false);
  responder.lastTimestampMs.clear();
  const started = performance.now();
  for (const message of initiations) {
    if (responder.handleInitiation(message, address, 1_800_000_000_000, false).kind !== 'response') throw new Error('bench: initiation refused');
  }
  return Math.round(initiations.length / ((performance.now() - started) / 1000));
}

/** Handshake CPU per side (cached and uncached peer certificate), responder rate, and message sizes. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const cached = measure(cachedVerifier, rounds + warmup);
  const uncached = measure(() => uncachedVerifier, rounds + warmup);
  const rate = responderRate();
  const sideMedian = (m: typeof cached): number => Math.max(median(m.initiatorMs), median(m.responderMs));
  const figures = {
    handshakeCpuMsMedianCached: sideMedian(cached),
    handshakeCpuMsMedianUncached: sideMedian(uncached),
    handshakesPerSecond: rate,
    initiatorCpuMsMedianCached: median(cached.initiatorMs),
    responderCpuMsMedianCached: median(cached.responderMs),
    initiatorCpuMsMedianUncached: median(uncached.initiatorMs),
    responderCpuMsMedianUncached: median(uncached.responderMs),
    initiationBytes: cached.sizes.initiation,
    responseBytes: cached.sizes.response,
    certificateBytes: identity(3).certificate.length,
  };
  return await Promise.resolve({ figures, details: { rounds, warmup, note: 'uncached = the peer certificate is checked with one Ed25519 and one ML-DSA-65 signature verification per handshake (X.509 parsing not included)' } });
}
