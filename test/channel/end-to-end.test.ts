import { describe, expect, it } from 'vitest';
import { EndToEnd, E2eFrame, e2eQueuedPayloadsMax, e2eRetryMs, type E2eOutput } from '../../src/channel/end-to-end.js';
import { rejectAfterMs } from '../../src/crypto/session.js';
import { createCa, issueSvid, nodeKeysFromSeeds } from '../../src/identity/ca.js';
import { SvidVerifier } from '../../src/identity/verifier.js';
import { formatNodeId, nodeId, type NodeId } from '../../src/wire/ids.js';
import { ca, seeded, t0, trustDomain } from './secure-harness.js';

function endpoint(id: number, options: { svidNodeId?: number; issuer?: typeof ca } = {}): EndToEnd {
  const random = seeded(`e2e ${id}`);
  const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
  const path = `/node/${formatNodeId(nodeId(options.svidNodeId ?? id))}`;
  const certificate = issueSvid(options.issuer ?? ca, path, keys.publicKeys, t0, random, 3600_000);
  const verifier = new SvidVerifier({ trustDomain, anchors: () => [ca.anchor], isRevoked: () => false });
  return new EndToEnd({ local: { spiffeId: `spiffe://${trustDomain}${path}`, certificate, staticKey: keys.xwing }, verifier, random, prologue: new TextEncoder().encode(trustDomain) });
}

function output(): E2eOutput {
  return { toMesh: [], delivered: [] };
}

/** Carries payloads between endpoints (as the mesh would, with the source field it claims) until quiet. */
function pump(endpoints: Map<number, EndToEnd>, first: { from: number; out: E2eOutput }, nowMs: number, tamper?: (payload: Uint8Array) => Uint8Array): { to: number; src: NodeId; payload: Uint8Array }[] {
  const delivered: { to: number; src: NodeId; payload: Uint8Array }[] = [];
  const queue = first.out.toMesh.map((m) => ({ from: first.from, ...m }));
  let transits = 0;
  while (queue.length > 0 && transits++ < 100) {
    const { from, dst, payload } = queue.shift()!;
    const out = output();
    endpoints.get(dst)?.receive(nowMs, nodeId(from), tamper === undefined ? payload : tamper(payload), out);
    for (const d of out.delivered) delivered.push({ to: dst, ...d });
    for (const m of out.toMesh) queue.push({ from: dst, ...m });
  }
  return delivered;
}

describe('end-to-end sessions', () => {
  it('set up on first send (certificates swapped, then a handshake) and deliver the queued payloads', () => {
    const endpoints = new Map([
      [1, endpoint(1)],
      [2, endpoint(2)],
    ]);
    const out = output();
    endpoints.get(1)!.send(t0, nodeId(2), new TextEncoder().encode('hello'), out);
    expect(new Set(out.toMesh.map((m) => m.payload[0]))).toEqual(new Set([E2eFrame.controlFragment]));
    expect(out.toMesh.length).toBeGreaterThan(1);
    const delivered = pump(endpoints, { from: 1, out }, t0);
    expect(delivered.map((d) => [d.to, d.src, new TextDecoder().decode(d.payload)])).toEqual([[2, 1, 'hello']]);
    const next = output();
    endpoints.get(1)!.send(t0 + 1, nodeId(2), new TextEncoder().encode('again'), next);
    expect(next.toMesh.map((m) => m.payload[0])).toEqual([E2eFrame.data]);
    expect(pump(endpoints, { from: 1, out: next }, t0 + 1).map((d) => new TextDecoder().decode(d.payload))).toEqual(['again']);
    const back = output();
    endpoints.get(2)!.send(t0 + 2, nodeId(1), new TextEncoder().encode('reply'), back);
    expect(pump(endpoints, { from: 2, out: back }, t0 + 2).map((d) => [d.to, new TextDecoder().decode(d.payload)])).toEqual([[1, 'reply']]);
  });

  it('keeps payloads from transit nodes: the sealed bytes never contain the plaintext, and an altered byte is refused', () => {
    const endpoints = new Map([
      [1, endpoint(1)],
      [2, endpoint(2)],
    ]);
    const out = output();
    const secret = new TextEncoder().encode('the plaintext a transit node must not read');
    endpoints.get(1)!.send(t0, nodeId(2), secret, out);
    const seen: Uint8Array[] = [];
    pump(endpoints, { from: 1, out }, t0, (payload) => (seen.push(payload), payload));
    expect(seen.some((p) => Buffer.from(p).includes(Buffer.from(secret)))).toBe(false);
    const next = output();
    endpoints.get(1)!.send(t0 + 1, nodeId(2), secret, next);
    const flipped = pump(endpoints, { from: 1, out: next }, t0 + 1, (payload) => {
      const copy = payload.slice();
      copy[copy.length - 1]! ^= 1;
      return copy;
    });
    expect(flipped).toEqual([]);
    expect(endpoints.get(2)!.stats.refused).toBeGreaterThan(0);
  });

  it('refuses a peer whose certificate names another node than the one it claims to be', () => {
    const endpoints = new Map([
      [1, endpoint(1)],
      [2, endpoint(2, { svidNodeId: 9 })],
    ]);
    const out = output();
    endpoints.get(1)!.send(t0, nodeId(2), new Uint8Array([1]), out);
    expect(pump(endpoints, { from: 1, out }, t0)).toEqual([]);
    expect(endpoints.get(1)!.stats.refused).toBe(1);
  });

  it('refuses a peer of another CA', () => {
    const other = createCa(trustDomain, t0, seeded('e2e other ca')).ca;
    const endpoints = new Map([
      [1, endpoint(1)],
      [2, endpoint(2, { issuer: other })],
    ]);
    const out = output();
    endpoints.get(2)!.send(t0, nodeId(1), new Uint8Array([1]), out);
    expect(pump(endpoints, { from: 2, out }, t0)).toEqual([]);
    expect(endpoints.get(1)!.stats.refused).toBe(1);
  });

  it('retries an unanswered request after e2eRetryMs, and bounds the queue', () => {
    const a = endpoint(1);
    const out = output();
    for (let i = 0; i < e2eQueuedPayloadsMax + 3; i++) a.send(t0, nodeId(2), new Uint8Array([i]), out);
    expect(out.toMesh.length).toBeGreaterThan(1);
    expect(a.stats.droppedQueueFull).toBe(3);
    expect(a.nextDeadlineMs()).toBe(t0 + 2000);
    const later = output();
    a.onTimer(t0 + 1999, later);
    expect(later.toMesh.length).toBe(0);
    a.onTimer(t0 + 2000, later);
    expect(later.toMesh.length).toBe(out.toMesh.length);
  });

  it('keeps its deadline current as a session comes and goes, with data in between', () => {
    const endpoints = new Map([
      [1, endpoint(1)],
      [2, endpoint(2)],
    ]);
    const [a, b] = [endpoints.get(1)!, endpoints.get(2)!];
    expect(a.nextDeadlineMs()).toBe(Infinity);
    const out = output();
    a.send(t0, nodeId(2), Uint8Array.of(1), out);
    expect(a.nextDeadlineMs()).toBe(t0 + e2eRetryMs);
    expect(pump(endpoints, { from: 1, out }, t0)).toHaveLength(1);
    // The queue went out in the new session: only its expiry is left, on both ends.
    expect(a.nextDeadlineMs()).toBe(t0 + rejectAfterMs);
    expect(b.nextDeadlineMs()).toBe(t0 + rejectAfterMs);
    const data = output();
    a.send(t0 + 5, nodeId(2), Uint8Array.of(2), data);
    expect(pump(endpoints, { from: 1, out: data }, t0 + 5)).toHaveLength(1);
    expect(a.nextDeadlineMs()).toBe(t0 + rejectAfterMs);
    a.onTimer(t0 + rejectAfterMs, output());
    expect(a.nextDeadlineMs()).toBe(Infinity);
  });

  it('refuses malformed frames of every type without throwing', () => {
    const a = endpoint(1);
    const out = output();
    for (const payload of [Uint8Array.of(9), Uint8Array.of(E2eFrame.controlFragment, 1, 2, 3, 4, 0, 0), Uint8Array.of(E2eFrame.controlFragment, 1, 2, 3, 4, 5, 2, 7), Uint8Array.of(E2eFrame.data, 1), new Uint8Array(40).fill(E2eFrame.data), Uint8Array.of(E2eFrame.controlFragment, 9, 9, 9, 9, 0, 1, 2, 1, 2)]) {
      a.receive(t0, nodeId(2), payload, out);
    }
    expect(out.delivered).toEqual([]);
    expect(a.stats.refused).toBeGreaterThanOrEqual(4);
  });
});

describe('end-to-end protocol errors', () => {
  it('drops fragments that disagree on their count, handshake messages of unknown type, and responses without an initiation', () => {
    const a = endpoint(1);
    const out = output();
    a.receive(t0, nodeId(2), Uint8Array.of(E2eFrame.controlFragment, 1, 1, 1, 1, 0, 2, 7), out);
    a.receive(t0, nodeId(2), Uint8Array.of(E2eFrame.controlFragment, 1, 1, 1, 1, 1, 3, 7), out);
    a.receive(t0, nodeId(2), Uint8Array.of(E2eFrame.controlFragment, 2, 2, 2, 2, 0, 1, 9), out);
    a.receive(t0, nodeId(2), Uint8Array.of(E2eFrame.controlFragment, 3, 3, 3, 3, 0, 1, 3, 0), out);
    expect(a.stats.refused).toBe(3);
    expect(a.nextDeadlineMs()).toBe(t0 + 5000);
    a.onTimer(t0 + 5000, out);
    expect(a.nextDeadlineMs()).toBe(Infinity);
  });

  it('ignores a certificate nobody asked for', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const request = output();
    b.send(t0, nodeId(1), new Uint8Array([1]), request);
    const reply = output();
    for (const m of request.toMesh) a.receive(t0, nodeId(2), m.payload, reply);
    const unsolicited = output();
    const c = endpoint(3);
    for (const m of reply.toMesh) c.receive(t0, nodeId(1), m.payload, unsolicited);
    expect(reply.toMesh.length).toBeGreaterThan(0);
    expect(unsolicited.toMesh).toEqual([]);
    expect(c.stats.refused).toBe(0);
  });
});
