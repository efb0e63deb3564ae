import { describe, expect, it } from 'vitest';
import { createCa } from '../../src/identity/ca.js';
import { peerRecheckMs, type SecureNode } from '../../src/channel/secure-node.js';
import { nodeId } from '../../src/wire/ids.js';
import { SecureHarness, seeded, t0, trustDomain } from './secure-harness.js';

function delivered(h: SecureHarness, node: number): number {
  return h.events.filter((e) => e.node === node && e.event.kind === 'delivered').length;
}

describe('secure links between mesh nodes', () => {
  it('bring up every link of a line of three with real handshakes; data crosses two hops', () => {
    const h = new SecureHarness([
      [1, 2],
      [2, 3],
    ]);
    for (const id of [1, 2, 3]) h.boot({ id });
    h.run(3000);
    expect(h.nodes.get(2)!.isSecured(0 as never)).toBe(true);
    expect(h.nodes.get(2)!.isSecured(1 as never)).toBe(true);
    expect(h.nodes.get(1)!.peerOf(0 as never)).toBe('spiffe://mesh.test/node/00000002');
    expect(h.nodes.get(1)!.mesh.metricTo(nodeId(3))).toBeLessThan(0xffff);
    h.inject(1, { kind: 'send', dst: nodeId(3), id: 7, payload: new Uint8Array([1, 2, 3]) });
    h.run(100);
    expect(delivered(h, 3)).toBe(1);
    expect(h.nodes.get(2)!.stats.handshakesCompleted).toBe(2);
  });

  it('never gives a session to a node with a revoked SVID, an SVID of another trust domain, or no valid SVID', () => {
    const other = createCa('other.test', t0, seeded('other')).ca;
    const h = new SecureHarness([
      [1, 2],
      [1, 3],
      [1, 4],
      [1, 5],
    ]);
    h.boot({ id: 1, revoked: new Set(['spiffe://mesh.test/node/00000002']) });
    h.boot({ id: 2 });
    h.boot({ id: 3, issuer: other });
    h.boot({ id: 4, certificate: new TextEncoder().encode('not a certificate') });
    h.boot({ id: 5 });
    h.run(10_000);
    const hub = h.nodes.get(1)!;
    expect([0, 1, 2, 3].map((link) => hub.isSecured(link as never))).toEqual([false, false, false, true]);
    expect(hub.mesh.neighbourViews().filter((n) => n.usable).map((n) => n.peer)).toEqual([5]);
    expect(hub.stats.credentialsRefused).toBeGreaterThan(0);
    expect(hub.stats.handshakesRefused + hub.stats.credentialsRefused).toBeGreaterThan(0);
    expect(trustDomain).toBe('mesh.test');
  });

  it('stays silent toward a node of another network: its frames are refused and it gets nothing back', () => {
    const h = new SecureHarness([[1, 2]]);
    const stranger = h.boot({ id: 1, networkKey: new Uint8Array(32).fill(7) });
    const member = h.boot({ id: 2 });
    h.run(5000);
    expect(member.stats.framesRefused).toBeGreaterThan(0);
    expect(stranger.stats.framesRefused).toBeGreaterThan(0);
    expect(member.isSecured(0 as never) || stranger.isSecured(0 as never)).toBe(false);
    expect(member.stats.handshakesCompleted + stranger.stats.handshakesCompleted).toBe(0);
  });

  it('drops Hellos and probes whose sender is not the node its SVID names', () => {
    const h = new SecureHarness([[1, 2]]);
    h.boot({ id: 1 });
    h.boot({ id: 2, svidNodeId: 9 });
    h.run(3000);
    expect(h.nodes.get(1)!.stats.senderMismatch).toBeGreaterThan(0);
    expect(h.nodes.get(1)!.mesh.neighbourViews()[0]!.usable).toBe(false);
  });

  it('rekeys before 120 s without the neighbour ever going down, and keeps delivering', () => {
    const h = new SecureHarness([[1, 2]]);
    h.boot({ id: 1 });
    h.boot({ id: 2 });
    h.run(200_000);
    const completed = h.nodes.get(1)!.stats.handshakesCompleted + h.nodes.get(2)!.stats.handshakesCompleted;
    expect(completed).toBeGreaterThanOrEqual(4);
    expect(h.events.filter((e) => e.event.kind === 'neighbourDown')).toEqual([]);
    h.inject(1, { kind: 'send', dst: nodeId(2), id: 1, payload: new Uint8Array(0) });
    h.run(50);
    expect(delivered(h, 2)).toBe(1);
  });

  it('re-establishes the session after a neighbour restarts with its state lost', () => {
    const h = new SecureHarness([[1, 2]]);
    h.boot({ id: 1 });
    h.boot({ id: 2 });
    h.run(2000);
    h.crash(2);
    h.run(1000);
    h.boot({ id: 2 });
    h.run(4000);
    expect(h.nodes.get(1)!.isSecured(0 as never)).toBe(true);
    h.inject(1, { kind: 'send', dst: nodeId(2), id: 2, payload: new Uint8Array(0) });
    h.run(50);
    expect(delivered(h, 2)).toBe(1);
  });
});

describe('secure layer edge cases', () => {
  it('brings up a link added at run time and forgets a removed one', () => {
    const h = new SecureHarness([
      [1, 2],
      [2, 3],
    ]);
    h.boot({ id: 1 });
    h.boot({ id: 2 });
    h.run(2000);
    expect(h.nodes.get(2)!.isSecured(1 as never)).toBe(false);
    h.boot({ id: 3 });
    h.inject(2, { kind: 'removeLink', link: 0 as never });
    h.run(3000);
    expect(h.nodes.get(2)!.isSecured(1 as never)).toBe(true);
    expect(h.nodes.get(2)!.isSecured(0 as never)).toBe(false);
    expect(h.nodes.get(2)!.peerOf(0 as never)).toBeNull();
    h.inject(2, { kind: 'addLink', link: 0 as never });
    h.run(3000);
    expect(h.nodes.get(2)!.isSecured(0 as never)).toBe(true);
  });

  it('answers a flood of initiations with cookies and still completes the handshake from the same link', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    const b = h.boot({ id: 2 });
    // Saturate b's initiation counter for this second with junk it must drop.
    for (let i = 0; i < 150; i++) (b as unknown as { underLoad(now: number): boolean }).underLoad(h.nowMs);
    h.run(5000);
    expect(a.isSecured(0 as never) && b.isSecured(0 as never)).toBe(true);
  });

  it('refuses data for an unknown session and counts it', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    h.boot({ id: 2 });
    h.run(2000);
    expect(a.stats.openFailures).toBe(0);
    h.inject(1, { kind: 'datagram', link: 0 as never, bytes: new Uint8Array(100) });
    expect(a.stats.framesRefused).toBeGreaterThan(0);
  });
});

describe('link timers while only data arrives', () => {
  /** Data frames from b to a over link 0, sealed at `nowMs`, handed to a at `nowMs` (no timer inputs). */
  function dataOnly(a: SecureNode, b: SecureNode, nowMs: number, count: number): void {
    for (let i = 0; i < count; i++) {
      for (const send of b.handle(nowMs, { kind: 'send', dst: nodeId(1), id: i, payload: new Uint8Array(100) }).sends) a.handle(nowMs, { kind: 'datagram', link: send.link, bytes: send.bytes });
    }
  }

  it('still run at their deadlines: a peer revoked mid-stream loses its session at the next recheck, through data inputs alone', () => {
    const revoked = new Set<string>();
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1, revoked });
    const b = h.boot({ id: 2, revoked });
    h.run(3000);
    expect(a.isSecured(0 as never)).toBe(true);
    const deadlineMs = a.handle(h.nowMs, { kind: 'timer' }).nextDeadlineMs;
    revoked.add('spiffe://mesh.test/node/00000002');
    // Before any deadline of a's, data changes nothing: the session stands.
    dataOnly(a, b, h.nowMs, 20);
    expect(a.isSecured(0 as never)).toBe(true);
    // Within one recheck interval, a data frame alone brings the recheck that drops the revoked peer.
    const laterMs = Math.max(deadlineMs, h.nowMs + peerRecheckMs);
    dataOnly(a, b, laterMs, 1);
    expect(a.isSecured(0 as never)).toBe(false);
    expect(a.stats.peersDropped).toBe(1);
  });

  it('report the same deadline whether or not data frames came in between', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    const b = h.boot({ id: 2 });
    h.run(3000);
    const before = a.handle(h.nowMs, { kind: 'timer' }).nextDeadlineMs;
    dataOnly(a, b, h.nowMs, 5);
    expect(a.handle(h.nowMs, { kind: 'timer' }).nextDeadlineMs).toBe(before);
  });
});

describe('plaintext of opened data frames', () => {
  it('is the application\'s to keep once delivered, and wiped from the secure layer by its next call', () => {
    const h = new SecureHarness([[1, 2]]);
    h.boot({ id: 1 });
    const b = h.boot({ id: 2 });
    h.run(3000);
    for (const [id, word] of [[1, 'first'], [2, 'second']] as const) h.inject(1, { kind: 'send', dst: nodeId(2), id, payload: new TextEncoder().encode(word) });
    h.run(50);
    const payloads = h.events.filter((e) => e.node === 2 && e.event.kind === 'delivered').map((e) => (e.event.kind === 'delivered' ? new TextDecoder().decode(e.event.payload) : ''));
    expect(payloads).toEqual(['first', 'second']);
    // Nothing of the last packet opened is left once b has handled something else.
    b.handle(h.nowMs, { kind: 'timer' });
    expect((b as unknown as { opened: Uint8Array }).opened.every((byte) => byte === 0)).toBe(true);
  });
});

describe('application datagrams end to end over secure links', () => {
  it('reach the destination two hops away, sealed end to end, with the authenticated source', () => {
    const h = new SecureHarness([
      [1, 2],
      [2, 3],
    ]);
    for (const id of [1, 2, 3]) h.boot({ id, endToEnd: true });
    h.run(3000);
    h.inject(1, { kind: 'send', dst: nodeId(3), id: 5, payload: new TextEncoder().encode('end to end') });
    h.run(500);
    const got = h.events.filter((e) => e.node === 3 && e.event.kind === 'delivered').map((e) => e.event);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ kind: 'delivered', src: 1 });
    expect(new TextDecoder().decode((got[0] as { payload: Uint8Array }).payload)).toBe('end to end');
    expect(h.nodes.get(2)!.endToEnd!.stats.sessionsEstablished).toBe(0);
    expect(h.nodes.get(1)!.endToEnd!.stats.sessionsEstablished).toBe(1);
  });
});

describe('certificate renewal', () => {
  it('rekeys every link at once with the renewed certificate, and end-to-end traffic carries on', () => {
    const h = new SecureHarness([
      [1, 2],
      [2, 3],
    ]);
    for (const id of [1, 2, 3]) h.boot({ id, endToEnd: true });
    h.run(3000);
    const middle = h.nodes.get(2)!;
    const before = middle.stats.handshakesCompleted;
    middle.renewCertificate(middle.certificate);
    h.inject(2, { kind: 'timer' });
    h.run(500);
    expect(middle.stats.handshakesCompleted).toBe(before + 2);
    h.inject(1, { kind: 'send', dst: nodeId(3), id: 1, payload: new TextEncoder().encode('after renewal') });
    h.run(500);
    expect(delivered(h, 3)).toBe(1);
  });
});

describe('packet sizes behind the secure layer', () => {
  it('sends control packets within a data frame, and drops (and counts) a datagram too large for one', () => {
    const h = new SecureHarness([[1, 2]]);
    const a = h.boot({ id: 1 });
    h.boot({ id: 2 });
    h.run(3000);
    h.inject(1, { kind: 'send', dst: nodeId(2), id: 1, payload: new Uint8Array(1300) });
    expect(a.stats.droppedTooLarge).toBe(1);
    h.inject(1, { kind: 'send', dst: nodeId(2), id: 2, payload: new Uint8Array(1000) });
    h.run(50);
    expect(delivered(h, 2)).toBe(1);
  });
});
