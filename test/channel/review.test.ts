import { describe, expect, it } from 'vitest';
import { EndToEnd, E2eFrame, e2eSessionsMax, type E2eOutput } from '../../src/channel/end-to-end.js';
import type { SecureNode } from '../../src/channel/secure-node.js';
import { createInitiation, initiationToSend, type HandshakeConfig } from '../../src/crypto/handshake.js';
import { hmacSha256, sha256 } from '../../src/crypto/hash.js';
import { mlKemCiphertextBytes } from '../../src/crypto/mlkem.js';
import { deriveObfuscationKeys, sealHandshakeMessage } from '../../src/crypto/obfuscation.js';
import type { Session } from '../../src/crypto/session.js';
import { xwingPublicKeyBytes } from '../../src/crypto/xwing.js';
import { issueSvid, nodeKeysFromSeeds } from '../../src/identity/ca.js';
import { SvidVerifier } from '../../src/identity/verifier.js';
import { encodePacket } from '../../src/wire/codec.js';
import { formatNodeId, nodeId } from '../../src/wire/ids.js';
import type { Tlv } from '../../src/wire/messages.js';
import { ca, networkKey, SecureHarness, seeded, t0, trustDomain } from './secure-harness.js';

// Regression tests for the findings of an adversarial review (each attack must now fail).

const keys = deriveObfuscationKeys(networkKey);
const attackerRandom = seeded('attacker');
type Internals = { config: HandshakeConfig; links: Map<number, { current: { session: Session } | null }> };
const internals = (node: SecureNode): Internals => node as unknown as Internals;

function announcement(certificate: Uint8Array): Uint8Array[] {
  return sealHandshakeMessage(keys, attackerRandom, Uint8Array.of(4, ...certificate), { opensFlow: true });
}

/** An initiation to `target` whose static ciphertext's X25519 half is the low-order point 0, with a correct mac1. */
function lowOrderInitiation(from: HandshakeConfig, target: HandshakeConfig, nowMs: number): Uint8Array {
  const message = initiationToSend(createInitiation(from, { spiffeId: target.local.spiffeId, staticPublicKey: target.local.staticKey.publicKey }, nowMs), nowMs);
  message.fill(0, 1 + 4 + xwingPublicKeyBytes + mlKemCiphertextBytes, 1 + 4 + xwingPublicKeyBytes + mlKemCiphertextBytes + 32);
  const mac1At = message.length - 32;
  message.set(hmacSha256(sha256(new TextEncoder().encode('mac1----'), target.local.staticKey.publicKey), message.subarray(0, mac1At)).subarray(0, 16), mac1At);
  return message;
}

describe('secure links resist the reviewed attacks', () => {
  it('an announcement of another node certificate does not re-label a link, and Hellos claiming that node are refused', () => {
    const h = new SecureHarness([
      [1, 2],
      [3, 4],
    ]);
    const a = h.boot({ id: 1 });
    const insider = h.boot({ id: 2 });
    const victim = h.boot({ id: 3 });
    h.boot({ id: 4 });
    h.run(3000);
    for (const bytes of announcement(internals(victim).config.local.certificate)) h.inject(1, { kind: 'datagram', link: 0 as never, bytes });
    expect(a.peerOf(0 as never)).toBe('spiffe://mesh.test/node/00000002');
    const session = internals(insider).links.get(0)!.current!.session;
    const hello: Tlv = { type: 'hello', sender: nodeId(3), seqno: 77, intervalMs: 1000, timestampUs: 1 };
    // Sealed in the insider's real session, padded and framed as every data frame is.
    const before = a.stats.senderMismatch;
    h.inject(1, { kind: 'datagram', link: 0 as never, bytes: keys.data.seal(h.nowMs, session, encodePacket([hello])) });
    expect(a.stats.senderMismatch).toBe(before + 1);
    expect(a.mesh.neighbourViews().find((n) => n.link === 0)!.peer).toBe(2);
  });

  it('a peer revoked after its session came up is dropped within a recheck interval and never rekeyed with', () => {
    const revoked = new Set<string>();
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1, revoked });
    const b = h.boot({ id: 2, revoked });
    h.run(3000);
    expect(a.isSecured(0 as never) && b.isSecured(0 as never)).toBe(true);
    revoked.add('spiffe://mesh.test/node/00000002');
    h.run(2000);
    expect(a.isSecured(0 as never)).toBe(false);
    expect(a.stats.peersDropped).toBeGreaterThan(0);
    h.run(600_000);
    expect(a.isSecured(0 as never)).toBe(false);
  });

  it('one initiation with a low-order X25519 share is dropped, not thrown out of handle', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    const b = h.boot({ id: 2 });
    h.run(3000);
    const forged = lowOrderInitiation(internals(b).config, internals(a).config, h.nowMs);
    const refusedBefore = a.stats.handshakesRefused;
    for (const bytes of sealHandshakeMessage(keys, attackerRandom, forged, { opensFlow: true })) a.handle(h.nowMs, { kind: 'datagram', link: 0 as never, bytes });
    expect(a.stats.handshakesRefused).toBe(refusedBefore + 1);
  });

  it('garbage initiations do not count as load, so a flood of them blocks no handshake', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    const b = h.boot({ id: 2 });
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 150; i++) {
        for (const node of [a, b]) for (const bytes of sealHandshakeMessage(keys, attackerRandom, Uint8Array.of(1), { opensFlow: false })) node.handle(h.nowMs, { kind: 'datagram', link: 0 as never, bytes });
      }
      h.run(250);
    }
    expect(a.isSecured(0 as never) && b.isSecured(0 as never)).toBe(true);
  });
});

function e2eConfig(id: number, path = `/node/${formatNodeId(nodeId(id))}`): HandshakeConfig {
  const random = seeded(`review e2e ${id} ${path}`);
  const nodeKeys = nodeKeysFromSeeds(random(32), random(32), random(32));
  const certificate = issueSvid(ca, path, nodeKeys.publicKeys, t0, random, 3600_000);
  const verifier = new SvidVerifier({ trustDomain, anchors: () => [ca.anchor], isRevoked: () => false });
  return { local: { spiffeId: `spiffe://${trustDomain}${path}`, certificate, staticKey: nodeKeys.xwing }, verifier, random, prologue: new TextEncoder().encode(trustDomain) };
}

/** The configuration EndToEnd uses for its own handshakes (its prologue). */
function asEndToEnd(config: HandshakeConfig, certificate = config.local.certificate): HandshakeConfig {
  return { ...config, prologue: new Uint8Array([...new TextEncoder().encode('x0tta6bl4 end-to-end/'), ...config.prologue]), local: { ...config.local, certificate } };
}

function controlFragments(kind: number, body: Uint8Array, id: Uint8Array): Uint8Array[] {
  const message = Uint8Array.of(kind, ...body);
  const count = Math.ceil(message.length / 1000);
  return Array.from({ length: count }, (_, i) => Uint8Array.of(E2eFrame.controlFragment, ...id, i, count, ...message.subarray(i * 1000, (i + 1) * 1000)));
}

const output = (): E2eOutput => ({ toMesh: [], delivered: [] });

describe('end-to-end sessions resist the reviewed attacks', () => {
  it('a forged initiation with a low-order X25519 share is refused, not thrown', () => {
    const bob = e2eConfig(2);
    const endpoint = new EndToEnd(bob);
    const forged = lowOrderInitiation(asEndToEnd(e2eConfig(66)), asEndToEnd(bob), t0);
    for (const fragment of controlFragments(3, forged, seeded('f1')(4))) endpoint.receive(t0, nodeId(66), fragment, output());
    expect(endpoint.stats.refused).toBe(1);
  });

  it('keeps one unconfirmed session per initiating peer and expires sessions', () => {
    const bob = e2eConfig(2);
    const endpoint = new EndToEnd(bob);
    const mallory = e2eConfig(5);
    for (const fragment of controlFragments(1, mallory.local.certificate, seeded('m cert')(4))) endpoint.receive(t0, nodeId(5), fragment, output());
    const reference = Uint8Array.of(0, ...sha256(mallory.local.certificate));
    const credential = { spiffeId: bob.local.spiffeId, staticPublicKey: bob.local.staticKey.publicKey };
    for (let i = 0; i < 50; i++) {
      const pending = createInitiation(asEndToEnd(mallory, reference), credential, t0 + i);
      for (const fragment of controlFragments(3, initiationToSend(pending, t0 + i), seeded(`m${i}`)(4))) endpoint.receive(t0 + i, nodeId(5), fragment, output());
    }
    const sessions = (endpoint as unknown as { sessions: Map<number, unknown> }).sessions;
    expect(sessions.size).toBe(1);
    endpoint.onTimer(t0 + 3600_000, output());
    expect(sessions.size).toBe(0);
    expect(e2eSessionsMax).toBeGreaterThan(1);
  });

  it('refuses an initiator whose SVID names no node, without throwing', () => {
    const bob = e2eConfig(2);
    const endpoint = new EndToEnd(bob);
    const workload = asEndToEnd(e2eConfig(7, '/workload/api'));
    const pending = createInitiation(workload, { spiffeId: bob.local.spiffeId, staticPublicKey: bob.local.staticKey.publicKey }, t0);
    for (const fragment of controlFragments(3, initiationToSend(pending, t0), seeded('w')(4))) endpoint.receive(t0, nodeId(7), fragment, output());
    expect(endpoint.stats.refused).toBe(1);
  });
});

describe('second review: no stuck deadlines, cookies that survive retries', () => {
  it('drops a session whose peer fails verification at rekey time instead of leaving the rekey due forever', () => {
    const revoked = new Set<string>();
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1, revoked });
    h.boot({ id: 2 });
    h.run(3000);
    const state = internals(a).links.get(0)!;
    const dueAtMs = state.current!.session.establishedAtMs + 130_000;
    // Revoke between two periodic rechecks, so the rekey is the first to notice.
    (a as unknown as { nextRecheckAtMs: number }).nextRecheckAtMs = Infinity;
    revoked.add('spiffe://mesh.test/node/00000002');
    // The first call drops the session and re-announces at once; the one after must have nothing left due.
    a.handle(dueAtMs, { kind: 'timer' });
    expect(a.handle(dueAtMs, { kind: 'timer' }).nextDeadlineMs).toBeGreaterThan(dueAtMs);
    expect(a.isSecured(0 as never)).toBe(false);
    expect(a.stats.peersDropped).toBe(1);
  });

  it('completes handshakes when both ends are under load: the cookie is kept for the retries of the link', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    const b = h.boot({ id: 2 });
    for (const node of [a, b]) (node as unknown as { underLoad: () => boolean }).underLoad = () => true;
    h.run(6000);
    expect(a.isSecured(0 as never) && b.isSecured(0 as never)).toBe(true);
  });
});
