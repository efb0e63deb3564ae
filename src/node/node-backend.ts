import type { AuditInfo, AuditQuery, IncidentInfo, NeighbourInfo, NodeBackend, NodeCounters, NodeEvent, NodeInfo, PingReply, PingResult, RouteInfo, SendResult, TraceHop } from '../api/backend.js';
import type { IncidentView } from '../mapek/loop.js';
import { transitProbeIdBase } from '../mapek/transit-probes.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { MeshEvent } from '../mesh/types.js';
import { formatNodeId, parseNodeId, type NodeId } from '../wire/ids.js';
import type { NodeRuntime } from './runtime.js';
import type { AuditRecord } from './state-db.js';

/**
 * The running node as the HTTP API sees it: reads the runtime's core, turns its events into
 * API events, and carries out pings, traceroutes and sends through the core's own inputs.
 */

/** A recovery that has not happened within this long after a neighbour loss is no longer waited for. */
export const recoveryWaitMs = 30_000;
/** Recovery samples kept between two scrapes. */
export const recoverySamplesMax = 10_000;
/** Most subscribers of the event stream at once. */
export const subscribersMax = 64;

/** What the daemon knows about itself that the runtime does not. */
export interface DaemonFacts {
  readonly version: string;
  readonly profile: 'fast' | 'rfc8966';
  readonly api: () => string;
  readonly svidNotAfterMs: () => number;
  readonly peersConfigured: number;
  readonly policyDenies: () => Readonly<Record<string, number>>;
  /** Starts draining; resolves when the node has left. */
  readonly drain: () => Promise<void>;
  readonly isDraining: () => boolean;
  /** The audit log, newest first (NodeStateDb.auditLog): at most `limit` records at or after `sinceMs`, of `actor` only when given. */
  readonly audit: (query: { readonly limit: number; readonly sinceMs?: number; readonly actor?: string }) => readonly AuditRecord[];
  /** The self-healing loop's incidents (MapeK.incidentViews). */
  readonly incidents: () => readonly IncidentView[];
  /** The self-healing loop's decisions since start, by kind. */
  readonly mapekDecisions: () => Readonly<Record<string, number>>;
  /** The self-healing loop's transit reports since start, by outcome. */
  readonly mapekReports: () => Readonly<Record<string, number>>;
  /** What became of revocation gossip messages and the lists they carried, by outcome. */
  readonly revocationGossip: () => Readonly<Record<string, number>>;
  /** The revocation list's age (Infinity before the first) and whether it is stale (CaSync). */
  readonly revocations: () => { readonly ageMs: number; readonly stale: boolean };
}

/** The audit actor of the self-healing loop's decisions. */
export const mapekActor = 'mape-k';

interface PendingEcho {
  readonly sentAtMs: number;
  readonly resolve: (reply: { outcome: PingReply['outcome']; rttMs: number | null; reporter?: NodeId }) => void;
}

/**
 * Milliseconds since the epoch of an ISO 8601 time, for NodeStateDb.auditLog. Times before 1970
 * become 0: no record is older, and the database takes no negative times.
 */
function sinceMsOf(since: string): number {
  const ms = Date.parse(since);
  if (Number.isNaN(ms)) throw new RangeError(`audit: since: expected an ISO 8601 date-time, got ${JSON.stringify(since)}`);
  return Math.max(0, ms);
}

/** How many times each value occurs. */
function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** NodeBackend over a NodeRuntime. Call `onEvent` with every event the runtime reports. */
export class DaemonBackend implements NodeBackend {
  private readonly listeners = new Set<(event: NodeEvent) => void>();
  private readonly pendingEchoes = new Map<number, PendingEcho>();
  private nextEchoId = 1;
  private nextSendId = 1;
  /** Route per destination, as the core's routeChanged events tell it. */
  private readonly routeLinks = new Map<NodeId, LinkId>();
  /** Destinations that lost their route with a neighbour, and when. */
  private readonly lostRoutes = new Map<NodeId, number>();
  private recoverySamples: number[] = [];
  /** Set by close(): pings and traceroutes in progress end at once. */
  private closed = false;
  /** Wake-ups of pings waiting between echoes (close() calls them all). */
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly runtime: NodeRuntime,
    private readonly facts: DaemonFacts,
  ) {}

  info(): NodeInfo {
    const identity = this.runtime.identity;
    const nowMs = this.runtime.clock();
    return {
      nodeId: formatNodeId(identity.nodeId),
      spiffeId: identity.spiffeId,
      trustDomain: identity.trustDomain,
      version: this.facts.version,
      profile: this.facts.profile,
      startedAt: new Date(this.runtime.startedAtMs).toISOString(),
      uptimeS: Math.round((nowMs - this.runtime.startedAtMs) / 1000),
      listen: { udp: this.runtime.udpAddresses(), tcp: this.runtime.tcpAddresses() },
      api: this.facts.api(),
      state: this.facts.isDraining() ? 'draining' : 'running',
      svidNotAfter: new Date(this.facts.svidNotAfterMs()).toISOString(),
    };
  }

  neighbours(): readonly NeighbourInfo[] {
    const views = new Map(this.runtime.mesh.neighbourViews().map((view) => [view.link, view]));
    return this.runtime.links.all().map((record) => {
      const view = views.get(record.link);
      const peer = view?.peer ?? null;
      return {
        link: record.link,
        transport: record.endpoint.transport,
        address: record.address,
        peerNodeId: peer === null ? null : formatNodeId(peer),
        peerSpiffeId: this.runtime.secure.peerOf(record.link),
        secured: this.runtime.secure.isSecured(record.link),
        usable: view?.usable ?? false,
        cost: view?.cost ?? 0xffff,
        rttMs: view === undefined || Number.isNaN(view.rttMs) ? 0 : Math.round(view.rttMs * 100) / 100,
        loss: Math.round((view?.loss ?? 0) * 1000) / 1000,
        disabled: this.runtime.isLinkDisabled(record.link),
      };
    });
  }

  routes(): readonly RouteInfo[] {
    return this.runtime.mesh.routes().map((route) => ({
      dst: formatNodeId(route.dst),
      nextHop: route.nextHop === null ? null : formatNodeId(route.nextHop),
      link: route.link,
      metric: route.metric,
      seqno: route.seqno,
      hasAlternate: route.alternateLink !== null,
    }));
  }

  counters(): NodeCounters {
    const mesh = this.runtime.mesh.stats;
    const secure = this.runtime.secure.stats;
    return {
      handshakesCompleted: secure.handshakesCompleted,
      handshakesRefused: secure.handshakesRefused,
      credentialsRefused: secure.credentialsRefused,
      rekeys: secure.rekeys,
      packetsForwarded: mesh.dataForwarded,
      packetsDelivered: mesh.dataDelivered,
      packetsDropped: {
        noRoute: mesh.dropNoRoute,
        hopLimit: mesh.dropHopLimit,
        decodeError: mesh.decodeErrors,
        senderMismatch: mesh.senderMismatch,
        noSession: secure.droppedNoSession,
        tooLarge: secure.droppedTooLarge,
        openFailure: secure.openFailures,
        frameRefused: secure.framesRefused,
        provisionalFull: this.runtime.provisionalRefused,
        faultInjection: this.runtime.faultDrops,
      },
      policyDenies: this.facts.policyDenies(),
      controlBytesSent: mesh.controlBytesSent,
      controlPacketsSent: mesh.controlPacketsSent,
      probesSpared: mesh.probesSpared,
      dataBytesSent: mesh.dataBytesSent,
      incidents: countBy(this.facts.incidents().map((incident) => incident.state)),
      mapekDecisions: this.facts.mapekDecisions(),
      mapekReports: this.facts.mapekReports(),
      revocationGossip: this.facts.revocationGossip(),
      ...this.tcpCounters(),
      ...this.revocationCounters(),
    };
  }

  private revocationCounters(): Pick<NodeCounters, 'revocationListAgeS' | 'revocationListStale' | 'newPeersRefused' | 'networkKeyEpoch'> {
    const { ageMs, stale } = this.facts.revocations();
    return { revocationListAgeS: ageMs / 1000, revocationListStale: stale, newPeersRefused: this.runtime.newPeersRefused, networkKeyEpoch: this.runtime.networkKeyEpochNow() };
  }

  /** The TCP transport's refusals and open connections (zero when it has not started). */
  private tcpCounters(): Pick<NodeCounters, 'tcpConnectionsRefused' | 'tcpConnections'> {
    const stats = this.runtime.tcpStats();
    return {
      tcpConnectionsRefused: { perAddress: stats?.refusedPerAddress ?? 0, total: stats?.refusedTotal ?? 0 },
      tcpConnections: this.runtime.tcpConnectionCounts(),
    };
  }

  /** Ready: a fresh revocation list, and a usable neighbour with a route (or no peers configured). */
  ready(): boolean {
    // A node that cannot vouch for its revocations admits no new peers: not ready for traffic.
    if (this.facts.revocations().stale) return false;
    if (this.facts.peersConfigured === 0) return true;
    return this.runtime.mesh.neighbourViews().some((view) => view.usable) && this.runtime.mesh.routes().length > 0;
  }

  async ping(dst: string, options: { readonly count: number; readonly intervalMs: number; readonly timeoutMs: number }): Promise<PingResult> {
    const target = parseNodeId(dst);
    const replies: Promise<PingReply>[] = [];
    for (let seq = 1; seq <= options.count && !this.closed; seq++) {
      if (seq > 1) await this.pause(options.intervalMs);
      replies.push(this.echo(target, 64, options.timeoutMs).then((reply): PingReply => {
        const base = { seq, outcome: reply.outcome, rttMs: reply.rttMs };
        return reply.reporter === undefined ? base : { ...base, reporter: formatNodeId(reply.reporter) };
      }));
    }
    return { dst, replies: await Promise.all(replies) };
  }

  async traceroute(dst: string, options: { readonly maxHops: number; readonly timeoutMs: number }): Promise<readonly TraceHop[]> {
    const target = parseNodeId(dst);
    const hops: TraceHop[] = [];
    for (let hop = 1; hop <= options.maxHops && !this.closed; hop++) {
      const reply = await this.echo(target, hop, options.timeoutMs);
      const answered = reply.outcome === 'reply' ? target : (reply.reporter ?? null);
      hops.push({ hop, nodeId: answered === null ? null : formatNodeId(answered), rttMs: reply.rttMs });
      if (reply.outcome === 'reply' || reply.outcome === 'unreachable') break;
    }
    return hops;
  }

  send(dst: string, payload: Uint8Array): SendResult {
    const target = parseNodeId(dst);
    const id = this.nextSendId++;
    const routed = target === this.runtime.identity.nodeId || this.runtime.mesh.nextHopLink(target) !== null;
    this.runtime.step({ kind: 'send', dst: target, id, payload });
    return { id, routed };
  }

  setLinkDisabled(link: number, disabled: boolean): boolean {
    return this.runtime.setLinkDisabled(link as LinkId, disabled);
  }

  drain(): Promise<void> {
    return this.facts.drain();
  }

  subscribe(listener: (event: NodeEvent) => void): () => void {
    if (this.listeners.size >= subscribersMax) throw new Error(`events: at most ${subscribersMax} subscribers at once`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  takeRecoverySamples(): readonly number[] {
    const samples = this.recoverySamples;
    this.recoverySamples = [];
    return samples;
  }

  audit(query: AuditQuery): readonly AuditInfo[] {
    return this.auditRecords(query);
  }

  actions(query: AuditQuery): readonly AuditInfo[] {
    return this.auditRecords(query, mapekActor);
  }

  incidents(): readonly IncidentInfo[] {
    return this.facts.incidents().map((incident) => ({
      id: incident.id,
      subject: incident.subject,
      cause: incident.cause,
      state: incident.state,
      openedAt: new Date(incident.openedAtMs).toISOString(),
      score: incident.score,
      action: incident.action,
      tried: incident.tried,
    }));
  }

  private auditRecords(query: AuditQuery, actor?: string): readonly AuditInfo[] {
    const since = query.since === undefined ? {} : { sinceMs: sinceMsOf(query.since) };
    const records = this.facts.audit({ limit: query.limit, ...since, ...(actor === undefined ? {} : { actor }) });
    return records.map((record) => ({
      id: record.id,
      at: new Date(record.atMs).toISOString(),
      actor: record.actor,
      action: record.action,
      subject: record.subject,
      outcome: record.outcome,
      detail: record.detail,
    }));
  }

  /**
   * The node is stopping: every echo still waiting is answered as timed out now, and pings and
   * traceroutes send nothing more, so that no API request holds the shutdown up.
   */
  close(): void {
    this.closed = true;
    for (const wake of this.sleepers) wake();
    for (const [id, pending] of this.pendingEchoes) {
      this.pendingEchoes.delete(id);
      pending.resolve({ outcome: 'timeout', rttMs: null });
    }
  }

  /** Publishes an event to the stream's subscribers. */
  publish(event: NodeEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Takes one event of the core (the runtime's onEvent hook). */
  onEvent(event: MeshEvent, nowMs: number): void {
    const at = new Date(nowMs).toISOString();
    switch (event.kind) {
      case 'echoReply':
        this.settleEcho(event.id, 'reply');
        return;
      case 'unreachable':
      case 'hopLimitExceeded':
        this.settleEcho(event.id, event.kind, event.reporter);
        return;
      case 'routeChanged':
        this.onRouteChanged(event.dst, event.link, nowMs);
        return;
      case 'delivered':
        this.publish({ kind: 'datagram', at, src: formatNodeId(event.src), id: event.id, payloadBase64: Buffer.from(event.payload).toString('base64') });
        return;
      case 'neighbourUp':
        this.publish({ kind: 'neighbourUp', at, link: event.link, peer: formatNodeId(event.peer) });
        return;
      case 'neighbourDown':
        this.noteLoss(event.link, nowMs);
        this.publish({ kind: 'neighbourDown', at, link: event.link, peer: formatNodeId(event.peer), reason: event.reason });
        return;
    }
  }

  /** Waits `ms`, or less if the node closes meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private echo(dst: NodeId, hopLimit: number, timeoutMs: number): Promise<{ outcome: PingReply['outcome']; rttMs: number | null; reporter?: NodeId }> {
    const id = this.nextEchoId;
    // Ids from transitProbeIdBase up are the self-healing loop's transit probes.
    this.nextEchoId = (this.nextEchoId % (transitProbeIdBase - 1)) + 1;
    if (this.closed) return Promise.resolve({ outcome: 'timeout', rttMs: null });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingEchoes.delete(id);
        resolve({ outcome: 'timeout', rttMs: null });
      }, timeoutMs);
      this.pendingEchoes.set(id, {
        // A monotonic clock with sub-millisecond resolution: loopback round trips take well under 1 ms.
        sentAtMs: performance.now(),
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
      this.runtime.step({ kind: 'ping', dst, id, hopLimit });
    });
  }

  private settleEcho(id: number, outcome: PingReply['outcome'], reporter?: NodeId): void {
    const pending = this.pendingEchoes.get(id);
    if (pending === undefined) return;
    this.pendingEchoes.delete(id);
    const rttMs = Math.round((performance.now() - pending.sentAtMs) * 1000) / 1000;
    pending.resolve(reporter === undefined ? { outcome, rttMs } : { outcome, rttMs, reporter });
  }

  /** A neighbour was lost: every destination routed through it waits for a new route. */
  private noteLoss(link: LinkId, nowMs: number): void {
    for (const [dst, routeLink] of this.routeLinks) if (routeLink === link) this.lostRoutes.set(dst, nowMs);
  }

  /** Route changes close pending recoveries (the histogram's samples: detection to a new route). */
  private onRouteChanged(dst: NodeId, link: LinkId | null, nowMs: number): void {
    if (link === null) {
      this.routeLinks.delete(dst);
      return;
    }
    this.routeLinks.set(dst, link);
    const lostAtMs = this.lostRoutes.get(dst);
    if (lostAtMs === undefined) return;
    this.lostRoutes.delete(dst);
    if (nowMs - lostAtMs <= recoveryWaitMs && this.recoverySamples.length < recoverySamplesMax) this.recoverySamples.push(nowMs - lostAtMs);
  }
}
