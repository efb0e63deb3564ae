import { randomBytes } from 'node:crypto';
import { consumeResponse, createInitiation, initiationToSend, Responder, type CredentialVerifier, type HandshakeConfig, type LocalIdentity } from '../src/crypto/handshake.js';
import { createCa, issueSvid, nodeKeysFromSeeds } from '../src/identity/ca.js';
import { SvidVerifier, type TrustSource } from '../src/identity/verifier.js';

/** Handshakes measured per configuration (after warm-up). */
const rounds = 200;
const warmup = 30;
const address = new TextEncoder().encode('192.0.2.1:4500');
const trustDomain = 'bench.mesh';
const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
const { ca } = createCa(trustDomain, Date.now(), random);
const trust: TrustSource = { trustDomain, anchors: () => [ca.anchor], isRevoked: () => false };

/** A node with a real hybrid X.509-SVID from the bench CA. */
function identity(n: number): LocalIdentity {
  const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
  const path = `/node/${n.toString(16).padStart(8, '0')}`;
  return { spiffeId: `spiffe://${trustDomain}${path}`, certificate: issueSvid(ca, path, keys.publicKeys, Date.now(), random), staticKey: keys.xwing };
}

/** Cached: one SvidVerifier remembers certificates it checked. Uncached: every handshake parses and checks the SVID in full. */
const verifiers = {
  cached: (): (() => CredentialVerifier) => {
    const shared = new SvidVerifier(trust);
    return () => shared;
  },
  uncached: (): (() => CredentialVerifier) => () => ({ verify: (certificate, nowMs) => new SvidVerifier(trust).verify(certificate, nowMs) }),
};

function config(local: LocalIdentity, verifier: CredentialVerifier): HandshakeConfig {
  return { local, verifier, random, prologue: new TextEncoder().encode(trustDomain) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 1000) / 1000;
}

/** Times each side of `count` handshakes; one thread, so wall time is CPU time. */
function measure(verifierFor: () => CredentialVerifier, count: number): { initiatorMs: number[]; responderMs: number[]; sizes: { initiation: number; response: number; certificate: number } } {
  const alice = identity(1);
  const bob = identity(2);
  const aliceConfig = config(alice, verifierFor());
  const responder = new Responder(config(bob, verifierFor()));
  const initiatorMs: number[] = [];
  const responderMs: number[] = [];
  let sizes = { initiation: 0, response: 0, certificate: alice.certificate.length };
  for (let i = 0; i < count; i++) {
    const now = Date.now() + i;
    let t = performance.now();
    // The initiator checks the responder's certificate before it can initiate (cached after the first time).
    const bobCredential = aliceConfig.verifier.verify(bob.certificate, now);
    const pending = createInitiation(aliceConfig, bobCredential, now);
    const initiation = initiationToSend(pending, now);
    const initiateMs = performance.now() - t;
    t = performance.now();
    const outcome = responder.handleInitiation(initiation, address, now, false);
    responderMs.push(performance.now() - t);
    if (outcome.kind !== 'response') throw new Error(`bench handshake failed: ${outcome.kind === 'drop' ? outcome.error.message : outcome.kind}`);
    t = performance.now();
    consumeResponse(aliceConfig, pending, outcome.message, now);
    initiatorMs.push(initiateMs + performance.now() - t);
    sizes = { initiation: initiation.length, response: outcome.message.length, certificate: alice.certificate.length };
  }
  return { initiatorMs: initiatorMs.slice(warmup), responderMs: responderMs.slice(warmup), sizes };
}

/** Initiations a responder completes per second on one core, every certificate already cached. */
function responderRate(): number {
  const bob = identity(2);
  const responder = new Responder(config(bob, new SvidVerifier(trust)));
  const bobCredential = new SvidVerifier(trust).verify(bob.certificate, Date.now());
  const now = Date.now();
  const initiations = Array.from({ length: 20 }, (_, i) => identity(100 + i)).flatMap((local) => {
    const c = config(local, new SvidVerifier(trust));
    return Array.from({ length: 20 }, (_, k) => initiationToSend(createInitiation(c, bobCredential, now + k), now + k));
  });
  // Warm the certificate cache and the JIT, then time fresh initiations.
  for (const message of initiations.slice(0, 20)) responder.handleInitiation(message, address, now, false);
  responder.lastTimestampMs.clear();
  const started = performance.now();
  for (const message of initiations) {
    if (responder.handleInitiation(message, address, now, false).kind !== 'response') throw new Error('bench: initiation refused');
  }
  return Math.round(initiations.length / ((performance.now() - started) / 1000));
}

/** Handshake CPU per side (certificate cached, or parsed and verified every time), responder rate, message sizes. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const cached = measure(verifiers.cached(), rounds + warmup);
  const uncached = measure(verifiers.uncached(), rounds + warmup);
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
    certificateBytes: cached.sizes.certificate,
  };
  const note = 'real hybrid X.509-SVIDs; uncached = each side parses the peer SVID and verifies its Ed25519 and ML-DSA-65 signatures in every handshake; the figure per side is the larger of the two sides';
  return await Promise.resolve({ figures, details: { rounds, warmup, note } });
}
