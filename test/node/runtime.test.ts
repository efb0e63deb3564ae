import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa } from '../../src/identity/ca.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import type { MeshEvent } from '../../src/mesh/types.js';
import type { NodeEvent } from '../../src/api/backend.js';
import { auditLimitMax } from '../../src/api/schemas.js';
import { endpointOf } from '../../src/node/links.js';
import { DaemonBackend, subscribersMax, type DaemonFacts } from '../../src/node/node-backend.js';
import { monotonicEpochClock, sendCheckIntervalMs, type NodeRuntime, type PeerPolicy } from '../../src/node/runtime.js';
import { auditLogLimitMax, type AuditRecord } from '../../src/node/state-db.js';
import { nodeId } from '../../src/wire/ids.js';
import { allowAll, portOf, TestMesh, until } from './runtime-harness.js';

function facts(peersConfigured: number, audit: DaemonFacts['audit'] = () => []): DaemonFacts {
  return {
    version: '0.0.0-test',
    profile: 'fast',
    api: () => '127.0.0.1:0',
    svidNotAfterMs: () => Date.now() + 3600_000,
    peersConfigured,
    policyDenies: () => ({ peer: 0 }),
    drain: () => Promise.resolve(),
    isDraining: () => false,
    audit,
    incidents: () => [],
    mapekDecisions: () => ({}),
    mapekReports: () => ({}),
    revocationGossip: () => ({}),
    revocations: () => ({ ageMs: 0, stale: false }),
  };
}

const running: NodeRuntime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((runtime) => runtime.stop()));
});

async function started(runtime: NodeRuntime): Promise<NodeRuntime> {
  await runtime.start();
  running.push(runtime);
  return runtime;
}

describe('NodeRuntime: the secure mesh core on real UDP sockets', () => {
  it('three nodes in a line bring up sessions, learn routes over two hops, and deliver a datagram end to end', async () => {
    const mesh = new TestMesh();
    const delivered: MeshEvent[] = [];
    const a = await started(mesh.runtime(mesh.identity(1), []));
    const b = await started(mesh.runtime(mesh.identity(2), [portOf(a)]));
    const c = await started(mesh.runtime(mesh.identity(3), [portOf(b)], undefined, { onEvent: (event) => delivered.push(event) }));
    await until('a route from a to c', () => a.mesh.nextHopLink(nodeId(3)) !== null && c.mesh.nextHopLink(nodeId(1)) !== null);
    // a learnt b's address from b's first datagram: a provisional link.
    expect(a.links.all().map((record) => record.configured)).toEqual([false]);
    expect(c.mesh.routes().find((route) => route.dst === nodeId(1))).toMatchObject({ nextHop: nodeId(2) });
    a.step({ kind: 'send', dst: nodeId(3), id: 7, payload: new TextEncoder().encode('hello over two hops') });
    await until('the datagram at c', () => delivered.some((event) => event.kind === 'delivered'));
    const datagram = delivered.find((event) => event.kind === 'delivered');
    expect(datagram).toMatchObject({ src: nodeId(1), id: 7 });
    expect(new TextDecoder().decode((datagram as { payload: Uint8Array }).payload)).toBe('hello over two hops');
    expect(b.mesh.stats.dataForwarded).toBeGreaterThan(0);
  });
});

describe('NodeRuntime and DaemonBackend before start and after stop', () => {
  it('a runtime that never started aborts and stops quietly, has no addresses or transports, and does nothing after', async () => {
    const mesh = new TestMesh();
    const runtime = mesh.runtime(mesh.identity(9), []);
    expect([runtime.udpAddresses(), runtime.tcpAddresses(), runtime.udpStats(), runtime.tcpStats()]).toEqual([[], [], null, null]);
    await runtime.abort();
    await runtime.abort();
    await runtime.stop();
    runtime.step({ kind: 'timer' });
    expect(runtime.sessionPeers()).toEqual([]);
  });

  it('the backend says draining while the node drains, is not ready with peers to find and no neighbour, and caps its subscribers', () => {
    const mesh = new TestMesh();
    const runtime = mesh.runtime(mesh.identity(9), []);
    const backend = new DaemonBackend(runtime, { ...facts(1), isDraining: () => true });
    expect(backend.info().state).toBe('draining');
    expect(backend.ready()).toBe(false);
    // A link the core has not been told about yet shows as down, with no peer, cost or loss.
    runtime.links.addConfigured(endpointOf('udp', '127.0.0.1', 9), Date.now());
    expect(backend.neighbours()).toEqual([expect.objectContaining({ usable: false, cost: 0xffff, loss: 0, rttMs: 0, peerNodeId: null })]);
    for (let i = 0; i < subscribersMax; i++) backend.subscribe(() => undefined);
    expect(() => backend.subscribe(() => undefined)).toThrow(`events: at most ${subscribersMax} subscribers at once`);
  });
});

describe('DaemonBackend: what the API reads and does', () => {
  async function square(mesh: TestMesh, policyOf: (index: number) => PeerPolicy = () => allowAll): Promise<{ nodes: NodeRuntime[]; backends: DaemonBackend[] }> {
    // 1 - 2 - 4 and 1 - 3 - 4: two disjoint paths between 1 and 4.
    const backends: DaemonBackend[] = [];
    const nodes: NodeRuntime[] = [];
    const make = async (id: number, peers: number[]): Promise<void> => {
      let backend: DaemonBackend | null = null;
      const runtime = mesh.runtime(mesh.identity(id), peers, policyOf(id), { onEvent: (event, nowMs) => backend?.onEvent(event, nowMs) });
      backend = new DaemonBackend(runtime, facts(peers.length));
      nodes.push(await started(runtime));
      backends.push(backend);
    };
    await make(1, []);
    await make(2, [portOf(nodes[0]!)]);
    await make(3, [portOf(nodes[0]!)]);
    await make(4, [portOf(nodes[1]!), portOf(nodes[2]!)]);
    await until('full routing tables', () => nodes.every((node) => node.mesh.routes().length === 3));
    return { nodes, backends };
  }

  it('reports the node, its neighbours and routes, pings and traceroutes over two hops, and sends a datagram', async () => {
    const mesh = new TestMesh();
    const { backends } = await square(mesh);
    const [one, , , four] = backends as [DaemonBackend, DaemonBackend, DaemonBackend, DaemonBackend];
    await until('a ready alternate at node 1', () => one.routes().some((route) => route.dst === '00000004' && route.hasAlternate));
    expect(one.info()).toMatchObject({ nodeId: '00000001', spiffeId: 'spiffe://runtime.test/node/00000001', trustDomain: 'runtime.test', state: 'running', profile: 'fast', version: '0.0.0-test' });
    expect(one.neighbours()).toHaveLength(2);
    expect(one.neighbours().every((n) => n.secured && n.usable && n.peerSpiffeId?.startsWith('spiffe://runtime.test/node/'))).toBe(true);
    const toFour = one.routes().find((route) => route.dst === '00000004');
    expect(toFour).toMatchObject({ metric: expect.any(Number), hasAlternate: true });
    expect(['00000002', '00000003']).toContain(toFour!.nextHop);
    expect(one.ready()).toBe(true);

    const ping = await one.ping('00000004', { count: 2, intervalMs: 10, timeoutMs: 2000 });
    expect(ping.replies.map((reply) => [reply.seq, reply.outcome])).toEqual([
      [1, 'reply'],
      [2, 'reply'],
    ]);
    expect(ping.replies[0]!.rttMs).toBeGreaterThan(0);
    const trace = await one.traceroute('00000004', { maxHops: 8, timeoutMs: 2000 });
    expect(trace.map((hop) => hop.nodeId)).toEqual([toFour!.nextHop, '00000004']);
    const unknown = await one.ping('0000abcd', { count: 1, intervalMs: 10, timeoutMs: 500 });
    expect(unknown.replies[0]).toMatchObject({ outcome: 'unreachable', reporter: '00000001' });

    const received: NodeEvent[] = [];
    const unsubscribe = four.subscribe((event) => received.push(event));
    expect(one.send('00000004', new TextEncoder().encode('hi'))).toEqual({ id: 1, routed: true });
    await until('the datagram at node 4', () => received.some((event) => event.kind === 'datagram'));
    expect(received.find((event) => event.kind === 'datagram')).toMatchObject({ src: '00000001', id: 1, payloadBase64: Buffer.from('hi').toString('base64') });
    unsubscribe();
    expect(one.send('0000abcd', new Uint8Array(1))).toEqual({ id: 2, routed: false });
    const counters = one.counters();
    expect(counters.handshakesCompleted).toBeGreaterThanOrEqual(2);
    expect(counters.packetsDropped.noRoute).toBeGreaterThanOrEqual(1);
    expect(counters.policyDenies).toEqual({ peer: 0 });
  });

  it('maps the daemon audit log for the API: times as ISO 8601, since as epoch ms (never negative), limit unchanged', () => {
    const mesh = new TestMesh();
    const records: AuditRecord[] = [
      { id: 9, atMs: Date.UTC(2025, 0, 1, 0, 30), actor: 'operator', action: 'node.drain', subject: 'spiffe://runtime.test/node/00000001', outcome: 'ok', detail: null },
      { id: 8, atMs: Date.UTC(2025, 0, 1), actor: 'spiffe://runtime.test/node/00000002', action: 'policy.peer', subject: 'spiffe://runtime.test/node/00000001', outcome: 'denied', detail: 'policies quarantine' },
    ];
    const queries: Parameters<DaemonFacts['audit']>[0][] = [];
    const backend = new DaemonBackend(mesh.runtime(mesh.identity(1), []), facts(0, (query) => {
      queries.push(query);
      return records;
    }));
    expect(backend.audit({ limit: 2, since: '2025-01-01T00:00:00.000Z' })).toEqual([
      { id: 9, at: '2025-01-01T00:30:00.000Z', actor: 'operator', action: 'node.drain', subject: 'spiffe://runtime.test/node/00000001', outcome: 'ok', detail: null },
      { id: 8, at: '2025-01-01T00:00:00.000Z', actor: 'spiffe://runtime.test/node/00000002', action: 'policy.peer', subject: 'spiffe://runtime.test/node/00000001', outcome: 'denied', detail: 'policies quarantine' },
    ]);
    backend.audit({ limit: auditLimitMax });
    backend.audit({ limit: 1, since: '1969-12-31T23:59:59.000Z' });
    expect(queries).toEqual([{ limit: 2, sinceMs: Date.UTC(2025, 0, 1) }, { limit: auditLimitMax }, { limit: 1, sinceMs: 0 }]);
    expect(() => backend.audit({ limit: 1, since: 'yesterday' })).toThrow(/audit: since: expected an ISO 8601 date-time, got "yesterday"/);
    // The API's largest page must be a valid auditLog limit, or the daemon would answer 500.
    expect(auditLimitMax).toBeLessThanOrEqual(auditLogLimitMax);
  });

  it('reroutes when a transit node dies without a word, and records the recovery', async () => {
    const mesh = new TestMesh();
    const { nodes, backends } = await square(mesh);
    const one = backends[0]!;
    const via = one.routes().find((route) => route.dst === '00000004')!.nextHop!;
    const victim = nodes[Number.parseInt(via, 16) - 1]!;
    await victim.abort();
    await until('a route around the dead node', () => {
      const route = one.routes().find((r) => r.dst === '00000004');
      return route !== undefined && route.nextHop !== via;
    });
    const samples = one.takeRecoverySamples();
    expect(samples.length).toBeGreaterThanOrEqual(1);
    expect(one.takeRecoverySamples()).toEqual([]);
    const ping = await one.ping('00000004', { count: 1, intervalMs: 10, timeoutMs: 2000 });
    expect(ping.replies[0]!.outcome).toBe('reply');
  });

  it('a peer the policy denies never gets a session; a transit deny moves routes off a node', async () => {
    const mesh = new TestMesh();
    const deniedPeer = 'spiffe://runtime.test/node/00000003';
    // Node 1 refuses to peer with node 3, and node 4 refuses to route through node 2.
    const policyOf = (id: number): PeerPolicy => ({
      mayPeer: (peer) => !(id === 1 && peer === deniedPeer) && !(id === 3 && peer === 'spiffe://runtime.test/node/00000001'),
      mayTransit: (peer) => !(id === 4 && peer === 'spiffe://runtime.test/node/00000002'),
    });
    const backends: DaemonBackend[] = [];
    const nodes: NodeRuntime[] = [];
    for (const [id, peers] of [
      [1, []],
      [2, [0]],
      [3, [0]],
      [4, [1, 2]],
    ] as const) {
      let backend: DaemonBackend | null = null;
      const runtime = mesh.runtime(mesh.identity(id), peers.map((index) => portOf(nodes[index]!)), policyOf(id), { onEvent: (event, nowMs) => backend?.onEvent(event, nowMs) });
      backend = new DaemonBackend(runtime, facts(peers.length));
      nodes.push(await started(runtime));
      backends.push(backend);
    }
    // 1 reaches 4 only through 2; 4 reaches 1 only... through 2, which it refuses as transit: no route.
    await until('1 reaches 4 via 2', () => backends[0]!.routes().some((route) => route.dst === '00000004' && route.nextHop === '00000002'));
    await until('4 reaches 2 and 3', () => backends[3]!.routes().filter((route) => route.dst === '00000002' || route.dst === '00000003').length === 2);
    expect(backends[0]!.neighbours().filter((n) => n.secured).map((n) => n.peerNodeId)).toEqual(['00000002']);
    expect(backends[2]!.neighbours().filter((n) => n.secured).map((n) => n.peerNodeId)).toEqual(['00000004']);
    expect(nodes[0]!.secure.stats.credentialsRefused).toBeGreaterThan(0);
    const fourToOne = backends[3]!.routes().find((route) => route.dst === '00000001');
    expect(fourToOne).toBeUndefined();
    expect(backends[3]!.routes().find((route) => route.dst === '00000002')).toMatchObject({ nextHop: '00000002' });
  });
});

describe('NodeRuntime: links an operator takes down', () => {
  it('drops everything on a disabled link, so both ends see a cut and route around it; enabling brings it back', async () => {
    const mesh = new TestMesh();
    const a = await started(mesh.runtime(mesh.identity(1), []));
    const b = await started(mesh.runtime(mesh.identity(2), [portOf(a)]));
    const c = await started(mesh.runtime(mesh.identity(3), [portOf(a), portOf(b)]));
    await until('a full triangle', () => [a, b, c].every((node) => node.mesh.routes().length === 2));
    const direct = b.links.all()[0]!.link;
    expect(b.setLinkDisabled(direct, true)).toBe(true);
    expect(b.isLinkDisabled(direct)).toBe(true);
    expect(b.setLinkDisabled(999 as typeof direct, true)).toBe(false);
    await until('b reaches a through c', () => b.mesh.routes().find((route) => route.dst === nodeId(1))?.nextHop === nodeId(3));
    await until('a reaches b through c', () => a.mesh.routes().find((route) => route.dst === nodeId(2))?.nextHop === nodeId(3));
    b.setLinkDisabled(direct, false);
    expect(b.isLinkDisabled(direct)).toBe(false);
    await until('the direct link back', () => b.mesh.routes().find((route) => route.dst === nodeId(1))?.nextHop === nodeId(1));
  });
});

describe('NodeRuntime: LAN discovery', () => {
  it('two nodes that know nobody find each other by multicast beacons and bring up a session', async () => {
    const mesh = new TestMesh();
    // A port of its own per run, so that parallel test files do not hear each other.
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const discovery = { group: '239.255.74.70', port, interface: '127.0.0.1', intervalMs: 200 };
    const a = await started(mesh.runtime(mesh.identity(1), [], undefined, { discovery }));
    const b = await started(mesh.runtime(mesh.identity(2), [], undefined, { discovery }));
    await until('a session found by discovery', () => a.mesh.nextHopLink(nodeId(2)) !== null && b.mesh.nextHopLink(nodeId(1)) !== null);
    // Each heard its own beacons too, and dropped them before they made a link: one link each, to the other.
    expect(a.links.all()).toHaveLength(1);
    expect(a.links.all().filter((record) => a.secure.isSecured(record.link))).toHaveLength(1);
    expect(a.udpStats()!.beaconsOut).toBeGreaterThan(0);
    expect(a.udpStats()!.beaconsIn).toBeGreaterThan(0);
  });

  it('refuses a discovery port it cannot bind, naming it, and leaves no socket behind', async () => {
    const mesh = new TestMesh();
    const blocker = (await import('node:dgram')).createSocket('udp4');
    const port = await new Promise<number>((resolve) => blocker.bind(0, '0.0.0.0', () => resolve(blocker.address().port)));
    const runtime = mesh.runtime(mesh.identity(1), [], undefined, { discovery: { group: '239.255.74.70', port, interface: '127.0.0.1', intervalMs: 200 } });
    await expect(runtime.start()).rejects.toThrow(`udp: cannot listen for discovery on port ${port}`);
    blocker.close();
  });
});

describe('NodeRuntime: who never gets a session', () => {
  it('a node of another trust domain, and a node whose SVID is revoked, get no session; the others do', async () => {
    const mesh = new TestMesh();
    const foreignCa = createCa('elsewhere.test', Date.now(), (bytes) => new Uint8Array(randomBytes(bytes))).ca;
    const revokedIdentity = mesh.identity(3);
    const list = { trustDomain: mesh.trustDomain, sequence: 1, issuedAtMs: Date.now(), entries: [{ spiffeId: revokedIdentity.spiffeId, serialHex: null, revokedAtMs: Date.now() - 60_000 }] };
    expect(mesh.revocations.update(signRevocationList(mesh.ca, list), mesh.anchors)).toBe(true);
    const hub = await started(mesh.runtime(mesh.identity(1), []));
    const foreign = await started(mesh.runtime(mesh.identity(2, foreignCa), [portOf(hub)]));
    const revoked = await started(mesh.runtime(revokedIdentity, [portOf(hub)]));
    const friend = await started(mesh.runtime(mesh.identity(4), [portOf(hub)]));
    await until('the friend routed', () => friend.mesh.nextHopLink(nodeId(1)) !== null);
    // Give the outsiders time for several announcements and initiations.
    await until('hub refusing both outsiders', () => hub.secure.stats.credentialsRefused >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(hub.links.all().filter((record) => hub.secure.isSecured(record.link))).toHaveLength(1);
    expect(hub.mesh.routes().map((route) => route.dst)).toEqual([nodeId(4)]);
    for (const outsider of [foreign, revoked]) {
      expect(outsider.links.all().some((record) => outsider.secure.isSecured(record.link))).toBe(false);
      expect(outsider.mesh.routes()).toEqual([]);
    }
  });
});

describe('NodeRuntime and DaemonBackend before the sockets open', () => {
  it('report no addresses and no transport counters; with peers configured and none up the node is not ready; draining shows', () => {
    const mesh = new TestMesh();
    const runtime = mesh.runtime(mesh.identity(1), [4000]);
    let draining = false;
    const backend = new DaemonBackend(runtime, { ...facts(1), isDraining: () => draining });
    expect([runtime.udpAddresses(), runtime.tcpAddresses(), runtime.tcpStats(), runtime.udpStats()]).toEqual([[], [], null, null]);
    expect(runtime.tcpConnectionCounts()).toEqual({ accepted: 0, dialled: 0 });
    expect(backend.counters()).toMatchObject({ tcpConnectionsRefused: { perAddress: 0, total: 0 }, tcpConnections: { accepted: 0, dialled: 0 }, revocationListAgeS: 0, revocationListStale: false, newPeersRefused: 0 });
    expect(backend.ready()).toBe(false);
    expect(backend.setLinkDisabled(99, true)).toBe(false);
    draining = true;
    expect(backend.info().state).toBe('draining');
    const listeners = Array.from({ length: subscribersMax }, () => backend.subscribe(() => undefined));
    expect(() => backend.subscribe(() => undefined)).toThrow(`events: at most ${subscribersMax} subscribers at once`);
    for (const unsubscribe of listeners) unsubscribe();
  });

  it('shows a configured link nobody answers on as unusable, at cost 65535 without loss, and the node as not ready', async () => {
    const mesh = new TestMesh();
    const runtime = await started(mesh.runtime(mesh.identity(1), [9]));
    const backend = new DaemonBackend(runtime, facts(1));
    expect(backend.neighbours()).toEqual([expect.objectContaining({ peerNodeId: null, peerSpiffeId: null, secured: false, usable: false, cost: 0xffff, loss: 0, rttMs: 0 })]);
    expect(backend.ready()).toBe(false);
  });
});

describe('NodeRuntime: while the revocation list is stale', () => {
  it('refuses new peers and counts them; a peer with a session keeps it and rekeys; new peers get in again once the list is fresh', async () => {
    const mesh = new TestMesh();
    let stale = false;
    const hub = mesh.runtime(mesh.identity(1), [], allowAll, { admitsNewPeers: () => !stale });
    const hubBackend = new DaemonBackend(hub, { ...facts(0), revocations: () => ({ ageMs: stale ? 61_000 : 1000, stale }) });
    await started(hub);
    const friend = await started(mesh.runtime(mesh.identity(2), [portOf(hub)]));
    await until('the friend routed', () => friend.mesh.nextHopLink(nodeId(1)) !== null);
    expect([hubBackend.ready(), hubBackend.counters().revocationListStale]).toEqual([true, false]);

    stale = true;
    expect(hubBackend.ready()).toBe(false);
    expect(hubBackend.counters()).toMatchObject({ revocationListAgeS: 61, revocationListStale: true });
    const newcomer = await started(mesh.runtime(mesh.identity(3), [portOf(hub)]));
    await until('the hub refusing the newcomer', () => hub.newPeersRefused >= 2);
    // The friend's session goes through a rekey (every link rekeys after a renewal) and stays.
    const rekeys = hub.secure.stats.rekeys;
    hub.renewCertificate(hub.identity.certificate);
    await until('a rekey with the friend', () => hub.secure.stats.rekeys > rekeys);
    expect(hub.hasSessionWith('spiffe://runtime.test/node/00000002')).toBe(true);
    expect(hub.hasSessionWith('spiffe://runtime.test/node/00000003')).toBe(false);
    expect(newcomer.links.all().some((record) => newcomer.secure.isSecured(record.link))).toBe(false);
    expect(friend.mesh.nextHopLink(nodeId(1))).not.toBeNull();
    expect(hubBackend.counters().newPeersRefused).toBe(hub.newPeersRefused);

    stale = false;
    await until('the newcomer routed once the list is fresh', () => newcomer.mesh.nextHopLink(nodeId(1)) !== null, 30_000);
  });
});

describe('NodeRuntime: silence toward strangers', () => {
  async function rawSocket(): Promise<{ socket: import('node:dgram').Socket; received: Buffer[] }> {
    const socket = (await import('node:dgram')).createSocket('udp4');
    const received: Buffer[] = [];
    socket.on('message', (bytes) => received.push(bytes));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return { socket, received };
  }

  it('answers bytes that do not authenticate with nothing, and keeps no state for them', async () => {
    const mesh = new TestMesh();
    const node = await started(mesh.runtime(mesh.identity(1), []));
    const { socket, received } = await rawSocket();
    for (let i = 0; i < 20; i++) socket.send(randomBytes(40 + i * 50), portOf(node), '127.0.0.1');
    await until('the node to see them', () => node.strangerDatagrams === 20);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(received).toEqual([]);
    expect(node.links.all()).toEqual([]);
    socket.close();
  });

  it('a stranger holding the network key gets a passive link: nothing is said until a whole handshake message arrives', async () => {
    const mesh = new TestMesh();
    const node = await started(mesh.runtime(mesh.identity(1), []));
    const other = mesh.runtime(mesh.identity(2), []);
    const frames = other.secure.announcementFrames();
    expect(frames.length).toBeGreaterThan(1);
    const { socket, received } = await rawSocket();
    // One fragment of an announcement: authentic, but not a message yet.
    socket.send(frames[0]!, portOf(node), '127.0.0.1');
    await until('a passive link', () => node.links.all().length === 1);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(received).toEqual([]);
    // The rest of the announcement: now the node answers with its own.
    for (const frame of frames.slice(1)) socket.send(frame, portOf(node), '127.0.0.1');
    await until('an answer', () => received.length > 0);
    socket.close();
  });

  it('a node that is stopping ends pings in progress at once', async () => {
    const mesh = new TestMesh();
    let backend: DaemonBackend | null = null;
    const runtime = await started(mesh.runtime(mesh.identity(1), [], undefined, { onEvent: (event, nowMs) => backend?.onEvent(event, nowMs) }));
    backend = new DaemonBackend(runtime, facts(0));
    const pinging = backend.ping('0000abcd', { count: 50, intervalMs: 10_000, timeoutMs: 30_000 });
    const tracing = backend.traceroute('0000abcd', { maxHops: 64, timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    backend.close();
    const [ping, trace] = await Promise.all([pinging, tracing]);
    expect(ping.replies.length).toBeLessThanOrEqual(2);
    expect(trace.length).toBeLessThanOrEqual(1);
    expect((await backend.ping('0000abcd', { count: 3, intervalMs: 10, timeoutMs: 10 })).replies).toEqual([]);
  });

  it('refuses a discovery interface that is not ours, naming the group, and closes its sockets once', async () => {
    const mesh = new TestMesh();
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const runtime = mesh.runtime(mesh.identity(1), [], undefined, { discovery: { group: '239.255.74.70', port, interface: '192.0.2.254', intervalMs: 200 } });
    await expect(runtime.start()).rejects.toThrow('udp: cannot join discovery group 239.255.74.70 on 192.0.2.254');
    await runtime.abort();
  });
});

describe('monotonicEpochClock', () => {
  it('follows wall time forward and holds when it steps back', () => {
    const readings = [1000, 1500, 1200, 1400, 1600];
    const clock = monotonicEpochClock(() => readings.shift()!);
    expect([clock(), clock(), clock(), clock(), clock()]).toEqual([1000, 1500, 1500, 1500, 1600]);
  });
});

describe('NodeRuntime: end-to-end sessions across a restart', () => {
  it('a flow from a non-neighbour comes back after its destination restarts with its keys', async () => {
    const mesh = new TestMesh();
    const delivered: string[] = [];
    const a = await started(mesh.runtime(mesh.identity(1), []));
    const b = await started(mesh.runtime(mesh.identity(2), [portOf(a)]));
    const cIdentity = mesh.identity(3);
    const onEvent = (event: MeshEvent): void => {
      if (event.kind === 'delivered') delivered.push(new TextDecoder().decode(event.payload));
    };
    const c = await started(mesh.runtime(cIdentity, [portOf(b)], undefined, { onEvent }));
    const cPort = portOf(c);
    await until('a route from a to c', () => a.mesh.nextHopLink(nodeId(3)) !== null);
    let sent = 0;
    const send = (): void => a.step({ kind: 'send', dst: nodeId(3), id: ++sent, payload: new TextEncoder().encode(`m${sent}`) });
    send();
    await until('the first datagram', () => delivered.includes('m1'));
    // c dies and comes back at the same address with the same keys, but no sessions.
    await c.abort();
    running.splice(running.indexOf(c), 1);
    const again = await started(mesh.runtime(cIdentity, [portOf(b)], undefined, { onEvent, udp: [{ host: '127.0.0.1', port: cPort, family: 4 }] }));
    await until('c routed again', () => a.mesh.nextHopLink(nodeId(3)) !== null && again.mesh.nextHopLink(nodeId(1)) !== null, 30_000);
    // a still sends in its old end-to-end session; c asks for a's certificate, a starts afresh.
    await until('a datagram after the restart', () => {
      send();
      return delivered.some((text) => text !== 'm1');
    }, 30_000);
  });
});

describe('NodeRuntime: a send the network refuses as unreachable', () => {
  it('takes the link down at once (reason link-unreachable), at most once a second, and the link comes back by probes', async () => {
    const mesh = new TestMesh();
    const downs: MeshEvent[] = [];
    const a = await started(mesh.runtime(mesh.identity(1), []));
    const b = await started(mesh.runtime(mesh.identity(2), [portOf(a)], undefined, { onEvent: (event) => event.kind === 'neighbourDown' && downs.push(event) }));
    const c = await started(mesh.runtime(mesh.identity(3), [portOf(a), portOf(b)]));
    await until('a full triangle', () => [a, b, c].every((node) => node.mesh.routes().length === 2));
    const direct = b.links.all()[0]!;
    const udp = (b as unknown as { udp: { onUnreachable(to: unknown): void } }).udp;
    udp.onUnreachable(direct.endpoint);
    // The hint is handled in the same call: no detection time passes.
    expect(downs).toEqual([expect.objectContaining({ kind: 'neighbourDown', link: direct.link, reason: 'link-unreachable' })]);
    expect(b.mesh.routes().find((route) => route.dst === nodeId(1))?.nextHop).not.toBe(nodeId(1));
    udp.onUnreachable(direct.endpoint);
    udp.onUnreachable({ transport: 'udp', host: '127.0.0.1', port: 1, family: 4 }); // no link there: ignored
    expect(downs).toHaveLength(1);
    // Nothing was really wrong with the link: the three-way probe handshake brings it back.
    await until('the direct link back', () => b.mesh.routes().find((route) => route.dst === nodeId(1))?.nextHop === nodeId(1));
  });
});

describe('NodeRuntime: which sends have their outcome checked', () => {
  it('checks every control packet, and data at least once per sendCheckIntervalMs per link', async () => {
    const mesh = new TestMesh();
    const a = await started(mesh.runtime(mesh.identity(1), []));
    const b = await started(mesh.runtime(mesh.identity(2), [portOf(a)]));
    const link = b.links.all()[0]!.link;
    const inner = b as unknown as { udp: { send(to: unknown, bytes: Uint8Array, checked?: boolean): void }; transmit(transmit: unknown, nowMs: number): void };
    const checked: (boolean | undefined)[] = [];
    const send = inner.udp.send.bind(inner.udp);
    inner.udp.send = (to, bytes, check) => {
      checked.push(check);
      send(to, bytes, check);
    };
    const data = { type: 'data', kind: 0, hopLimit: 3, src: nodeId(1), dst: nodeId(3), id: 1, payload: new Uint8Array(0) };
    // Later than any real send the runtime has made so far.
    const t = Date.now() + 3600_000;
    const half = sendCheckIntervalMs / 2;
    const sends = [
      [t, true, true],
      [t, true, false],
      [t + half, true, false],
      // A control packet is always checked, and its check counts for the link.
      [t + half, false, true],
      [t + 2 * half, true, false],
      [t + 3 * half, true, true],
      [t + 3 * half, true, false],
    ] as const;
    for (const [nowMs, withData] of sends) inner.transmit(withData ? { link, bytes: new Uint8Array(1), data } : { link, bytes: new Uint8Array(1) }, nowMs);
    expect(checked).toEqual(sends.map(([, , expected]) => expected));
  });
});
