/**
 * A stand-in NodeBackend for the API and CLI tests, until the daemon (src/node) implements the
 * real one. Its values are fixed so outputs can be compared as text; tests change the public
 * fields to steer it, and `failing` makes a method throw.
 */
import type { AuditInfo, AuditQuery, IncidentInfo, NeighbourInfo, NodeBackend, NodeCounters, NodeEvent, NodeInfo, PingReply, PingResult, RouteInfo, SendResult, TraceHop } from '../../src/api/backend.js';

/** Node IDs the fake knows. */
export const selfId = '0000abcd';
/** A neighbour, also the first hop of traces. */
export const peerA = '0000beef';
/** A second neighbour. */
export const peerB = '00c0ffee';
/** A destination that never answers pings. */
export const silentId = '0000dead';

/** Thrown by a method named in `failing`. */
export class FakeFailure extends Error {
  override readonly name = 'FakeFailure';
}

type Method = keyof NodeBackend;

/** The fake. */
export class FakeBackend implements NodeBackend {
  nodeInfo: NodeInfo = {
    nodeId: selfId,
    spiffeId: `spiffe://mesh.test/node/${selfId}`,
    trustDomain: 'mesh.test',
    version: '0.1.0',
    profile: 'fast',
    startedAt: '2025-01-01T00:00:00.000Z',
    uptimeS: 3723,
    listen: { udp: ['0.0.0.0:7400', '[::]:7400'], tcp: [] },
    api: '127.0.0.1:7480',
    state: 'running',
    svidNotAfter: '2025-01-02T00:00:00.000Z',
  };
  neighbourList: NeighbourInfo[] = [
    { link: 1, transport: 'udp', address: '10.0.0.2:7400', peerNodeId: peerA, peerSpiffeId: `spiffe://mesh.test/node/${peerA}`, secured: true, usable: true, cost: 96, rttMs: 1.25, loss: 0.0625, disabled: false },
    { link: 2, transport: 'tcp', address: '10.0.0.3:7401', peerNodeId: peerB, peerSpiffeId: `spiffe://mesh.test/node/${peerB}`, secured: true, usable: false, cost: 65535, rttMs: 0, loss: 1, disabled: true },
    { link: 3, transport: 'udp', address: '192.168.7.10:7400', peerNodeId: null, peerSpiffeId: null, secured: false, usable: false, cost: 65535, rttMs: 0, loss: 0, disabled: false },
  ];
  routeList: RouteInfo[] = [
    { dst: peerA, nextHop: peerA, link: 1, metric: 96, seqno: 7, hasAlternate: false },
    { dst: peerB, nextHop: peerA, link: 1, metric: 352, seqno: 12, hasAlternate: true },
  ];
  counterValues: NodeCounters = {
    handshakesCompleted: 4,
    handshakesRefused: 1,
    credentialsRefused: 2,
    rekeys: 3,
    packetsForwarded: 100,
    packetsDelivered: 50,
    packetsDropped: { noRoute: 5, hopLimit: 1 },
    policyDenies: { transit: 2 },
    controlBytesSent: 12_345,
    controlPacketsSent: 123,
    probesSpared: 45,
    dataBytesSent: 67_890,
    incidents: { confirmed: 1 },
    mapekDecisions: { incidentOpened: 1, actionStarted: 1 },
    mapekReports: { accepted: 12, forged: 1 },
    revocationGossip: { chunksIn: 8, offersInstalled: 2 },
    tcpConnectionsRefused: { perAddress: 3, total: 0 },
    tcpConnections: { accepted: 2, dialled: 1 },
    revocationListAgeS: 12.5,
    revocationListStale: false,
    networkKeyEpoch: 0,
    newPeersRefused: 6,
  };
  /** Newest first, as the node's audit log answers. */
  auditList: AuditInfo[] = [
    { id: 4, at: '2025-01-01T01:00:00.000Z', actor: 'operator', action: 'node.drain', subject: `spiffe://mesh.test/node/${selfId}`, outcome: 'ok', detail: null },
    { id: 3, at: '2025-01-01T00:30:00.000Z', actor: `spiffe://mesh.test/node/${selfId}`, action: 'svid.renew', subject: `spiffe://mesh.test/node/${selfId}`, outcome: 'failed', detail: 'CA unreachable' },
    { id: 2, at: '2025-01-01T00:10:00.000Z', actor: `spiffe://mesh.test/node/${peerB}`, action: 'policy.peer', subject: `spiffe://mesh.test/node/${selfId}`, outcome: 'denied', detail: 'policies quarantine' },
    { id: 1, at: '2025-01-01T00:00:00.000Z', actor: 'operator', action: 'node.start', subject: `spiffe://mesh.test/node/${selfId}`, outcome: 'ok', detail: null },
  ];
  isReady = true;
  recoverySamples: number[] = [40, 180, 900, 7000];
  /** Methods that throw FakeFailure when called. */
  readonly failing = new Set<Method>();
  /** Every call with its arguments, for assertions. */
  readonly calls: { readonly method: Method; readonly args: readonly unknown[] }[] = [];
  readonly listeners = new Set<(event: NodeEvent) => void>();
  drainCount = 0;
  drainRejects = false;

  #enter(method: Method, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failing.has(method)) throw new FakeFailure(`${method} failed on purpose`);
  }

  info(): NodeInfo {
    this.#enter('info');
    return this.nodeInfo;
  }

  neighbours(): readonly NeighbourInfo[] {
    this.#enter('neighbours');
    return this.neighbourList;
  }

  routes(): readonly RouteInfo[] {
    this.#enter('routes');
    return this.routeList;
  }

  counters(): NodeCounters {
    this.#enter('counters');
    return this.counterValues;
  }

  ready(): boolean {
    this.#enter('ready');
    return this.isReady;
  }

  /** Replies at 1.00, 1.25, 1.50 ... ms; silentId times out; peerB shows the other outcomes in turn. */
  async ping(dst: string, options: { readonly count: number; readonly intervalMs: number; readonly timeoutMs: number }): Promise<PingResult> {
    this.#enter('ping', dst, options);
    const replies: PingReply[] = [];
    for (let seq = 1; seq <= options.count; seq++) replies.push(fakeReply(dst, seq));
    return { dst, replies };
  }

  /** peerA at hop 1, a silent hop 2, then dst at hop 3 (or stars up to maxHops for silentId). */
  async traceroute(dst: string, options: { readonly maxHops: number; readonly timeoutMs: number }): Promise<readonly TraceHop[]> {
    this.#enter('traceroute', dst, options);
    const hops: TraceHop[] = [];
    for (let hop = 1; hop <= Math.min(options.maxHops, dst === silentId ? options.maxHops : 3); hop++) {
      if (hop === 1) hops.push({ hop, nodeId: peerA, rttMs: 0.5 });
      else if (hop === 3 && dst !== silentId) hops.push({ hop, nodeId: dst, rttMs: 2.75 });
      else hops.push({ hop, nodeId: null, rttMs: null });
    }
    return hops;
  }

  /** Routed unless dst is silentId; ids count from 1. */
  send(dst: string, payload: Uint8Array): SendResult {
    this.#enter('send', dst, payload);
    return { id: this.calls.filter((c) => c.method === 'send').length, routed: dst !== silentId };
  }

  /** Sets `disabled` on the neighbour of `link` (replacing the entry); false when neighbourList has no such link. */
  setLinkDisabled(link: number, disabled: boolean): boolean {
    this.#enter('setLinkDisabled', link, disabled);
    const index = this.neighbourList.findIndex((n) => n.link === link);
    if (index < 0) return false;
    this.neighbourList[index] = { ...this.neighbourList[index]!, disabled };
    return true;
  }

  async drain(): Promise<void> {
    this.#enter('drain');
    this.drainCount++;
    if (this.drainRejects) throw new FakeFailure('drain rejected on purpose');
  }

  subscribe(listener: (event: NodeEvent) => void): () => void {
    this.#enter('subscribe');
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  takeRecoverySamples(): readonly number[] {
    this.#enter('takeRecoverySamples');
    const samples = this.recoverySamples;
    this.recoverySamples = [];
    return samples;
  }

  incidentList: IncidentInfo[] = [
    { id: 1, subject: `node:${peerB}`, cause: 'greyHole', state: 'confirmed', openedAt: '2026-11-27T12:00:00.000Z', score: 0.93, action: 'quarantineNode', tried: ['quarantineNode'] },
  ];

  incidents(): readonly IncidentInfo[] {
    return this.incidentList;
  }

  /** The audit records of the self-healing loop, as the node selects them. */
  actions(query: AuditQuery): readonly AuditInfo[] {
    const sinceMs = query.since === undefined ? 0 : Date.parse(query.since);
    return this.auditList.filter((record) => record.actor === 'mape-k' && Date.parse(record.at) >= sinceMs).slice(0, query.limit);
  }

  /** auditList filtered as the node does: records at or after `since`, the first `limit`. */
  audit(query: AuditQuery): readonly AuditInfo[] {
    this.#enter('audit', query);
    const sinceMs = query.since === undefined ? -Infinity : Date.parse(query.since);
    return this.auditList.filter((record) => Date.parse(record.at) >= sinceMs).slice(0, query.limit);
  }

  /** Delivers `event` to every subscriber, synchronously. */
  emit(event: NodeEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

function fakeReply(dst: string, seq: number): PingReply {
  if (dst === silentId) return { seq, rttMs: null, outcome: 'timeout' };
  if (dst === peerB) {
    const outcomes: PingReply[] = [
      { seq, rttMs: 2, outcome: 'reply' },
      { seq, rttMs: null, outcome: 'timeout' },
      { seq, rttMs: null, outcome: 'unreachable', reporter: peerA },
      { seq, rttMs: null, outcome: 'hopLimitExceeded', reporter: peerA },
    ];
    return outcomes[(seq - 1) % outcomes.length]!;
  }
  return { seq, rttMs: 1 + (seq - 1) * 0.25, outcome: 'reply' };
}

/** Tokens the tests use. */
export const adminToken = 'admin-token-0123456789abcdef';
/** The viewer token of the tests. */
export const viewerToken = 'viewer-token-0123456789abcdef';
