import { decodePacket } from '../wire/codec.js';
import { WireError } from '../wire/errors.js';
import type { NodeId } from '../wire/ids.js';
import { metricInfinity } from '../wire/limits.js';
import {
  DataKind,
  type DataTlv,
  type RouteRequestTlv,
  type SeqnoRequestTlv,
  type Tlv,
  type UpdateTlv,
} from '../wire/messages.js';
import { advanceFeasibility } from './feasibility.js';
import { hopLimitDefault, originate, receiveData, type ForwardingContext } from './forwarding.js';
import { addMetric } from './link-cost.js';
import { Neighbour, clockUs, type LinkId } from './neighbour.js';
import { Outbox } from './outbox.js';
import { fastProfile, type TimingProfile } from './profiles.js';
import {
  bestAlternate,
  hasUnfeasibleRoute,
  newSourceEntry,
  removeRouteVia,
  routeVia,
  selectRoute,
  type SourceEntry,
} from './route-table.js';
import { seqnoNewer, seqnoPlus } from './seqno.js';
import type { MeshEvent, MeshInput, MeshOutput, MeshStats, PingInput, SendInput, Transmit } from './types.js';

/** A route's metric must move by at least this before a triggered update is sent. */
export const advertiseThreshold = 16;
/** Hop count put in seqno requests we originate (RFC 8966 suggests 64). */
export const seqnoRequestHopCount = 64;
/** Seqno requests sent for one starvation episode before giving up until routes change. */
export const seqnoRequestsMax = 5;

/** How a node is set up. Randomness is passed in so the core stays deterministic under test. */
export interface MeshNodeConfig {
  readonly id: NodeId;
  /** Uniform random numbers in [0, 1): jitter and the initial seqno. */
  readonly random: () => number;
  readonly profile?: TimingProfile;
  readonly links?: readonly LinkId[];
  /** Emit a routeChanged event on every change of a selected route (the twin's invariant checks use it). */
  readonly emitRouteEvents?: boolean;
}

/** A snapshot of one route for inspection (CLI, twin oracle, tests). */
export interface RouteView {
  readonly dst: NodeId;
  readonly link: LinkId;
  readonly nextHop: NodeId | null;
  readonly metric: number;
  readonly seqno: number;
  readonly alternateLink: LinkId | null;
}

/**
 * The sans-IO routing core of one node: neighbour sensing, RFC 8966 distance vector with
 * feasibility, fast reroute onto feasible alternates, and forwarding. The driver (daemon or
 * twin) calls `handle(nowMs, input)` and carries out the returned sends; it calls again with
 * `{ kind: 'timer' }` no later than `nextDeadlineMs`.
 */
export class MeshNode {
  readonly id: NodeId;
  readonly profile: TimingProfile;
  readonly stats: MeshStats = {
    decodeErrors: 0,
    unknownLink: 0,
    dataForwarded: 0,
    dataDelivered: 0,
    dropNoRoute: 0,
    dropHopLimit: 0,
    controlBytesSent: 0,
    dataBytesSent: 0,
    seqnoRequestsSent: 0,
  };
  private readonly random: () => number;
  private readonly emitRouteEvents: boolean;
  private readonly neighbours = new Map<LinkId, Neighbour>();
  private neighbourList: Neighbour[] = [];
  private readonly sources = new Map<NodeId, SourceEntry>();
  private readonly starved = new Set<SourceEntry>();
  private readonly forwardedRequests = new Map<NodeId, { seqno: number; untilMs: number }>();
  private seqno: number;
  private helloSeqno = 0;
  private started = false;
  private nextProbeAtMs = Number.POSITIVE_INFINITY;
  private nextHelloAtMs = Number.POSITIVE_INFINITY;
  private nextUpdateAtMs = Number.POSITIVE_INFINITY;
  private nextHousekeepingAtMs = Number.POSITIVE_INFINITY;
  private nowMs = 0;
  private readonly outbox = new Outbox();
  private readonly pendingAdverts = new Set<SourceEntry>();
  private selfAdvertPending = false;
  private sends: Transmit[] = [];
  private events: MeshEvent[] = [];
  private readonly forwarding: ForwardingContext;

  constructor(config: MeshNodeConfig) {
    this.id = config.id;
    this.profile = config.profile ?? fastProfile;
    this.random = config.random;
    this.emitRouteEvents = config.emitRouteEvents ?? false;
    this.seqno = Math.floor(config.random() * 0x10000) & 0xffff;
    for (const link of config.links ?? []) this.addLink(link);
    this.forwarding = {
      id: this.id,
      stats: this.stats,
      nextHop: (dst) => this.sources.get(dst)?.selected?.neighbour ?? null,
      transmit: (transmit) => this.sends.push(transmit),
      emit: (event) => this.events.push(event),
    };
  }

  /** Processes one input at `nowMs` and returns what to send, what happened, and the next deadline. */
  handle(nowMs: number, input: MeshInput): MeshOutput {
    this.nowMs = nowMs;
    this.sends = [];
    this.events = [];
    if (!this.started) this.start();
    this.dispatch(input);
    this.runTimers();
    this.flushAdverts();
    this.stats.controlBytesSent += this.outbox.flush(this.neighbourList, this.sends);
    return { sends: this.sends, events: this.events, nextDeadlineMs: this.nextDeadlineMs() };
  }

  /** This node's current own seqno. */
  get ownSeqno(): number {
    return this.seqno;
  }

  /** The link of the selected route to `dst`, or null. */
  nextHopLink(dst: NodeId): LinkId | null {
    return this.sources.get(dst)?.selected?.neighbour.link ?? null;
  }

  /** The metric of the selected route to `dst` (infinity when none, 0 for itself). */
  metricTo(dst: NodeId): number {
    if (dst === this.id) return 0;
    return this.sources.get(dst)?.selected?.metric ?? metricInfinity;
  }

  /** The selected routes, in ascending destination order. */
  routes(): RouteView[] {
    const views: RouteView[] = [];
    for (const entry of this.sources.values()) {
      const selected = entry.selected;
      if (selected === null) continue;
      views.push({
        dst: entry.source,
        link: selected.neighbour.link,
        nextHop: selected.neighbour.peer,
        metric: selected.metric,
        seqno: selected.seqno,
        alternateLink: bestAlternate(entry)?.neighbour.link ?? null,
      });
    }
    return views.sort((a, b) => a.dst - b.dst);
  }

  /** Fraction of reachable destinations that have a feasible alternate next hop ready. */
  alternateCoverage(): { withAlternate: number; reachable: number } {
    let withAlternate = 0;
    let reachable = 0;
    for (const entry of this.sources.values()) {
      if (entry.selected === null) continue;
      reachable++;
      if (bestAlternate(entry) !== null) withAlternate++;
    }
    return { withAlternate, reachable };
  }

  /** Neighbours with their peer, usability and cost, in link order. */
  neighbourViews(): { link: LinkId; peer: NodeId | null; usable: boolean; cost: number; rttMs: number }[] {
    return this.neighbourList.map((n) => ({ link: n.link, peer: n.peer, usable: n.usable, cost: n.cost, rttMs: n.rttMs }));
  }

  private start(): void {
    this.started = true;
    const now = this.nowMs;
    const probeMs = this.profile.probeIntervalMs;
    if (probeMs !== null) this.nextProbeAtMs = now + this.random() * probeMs;
    this.nextHelloAtMs = now + this.random() * Math.min(this.profile.helloIntervalMs, 100);
    this.nextUpdateAtMs = now + this.profile.updateIntervalMs * (0.5 + 0.5 * this.random());
    this.nextHousekeepingAtMs = now + this.housekeepingIntervalMs();
  }

  private housekeepingIntervalMs(): number {
    return this.profile.updateIntervalMs / 2;
  }

  private dispatch(input: MeshInput): void {
    switch (input.kind) {
      case 'timer':
        return;
      case 'datagram':
        this.onDatagram(input.link, input.bytes);
        return;
      case 'addLink':
        this.addLink(input.link);
        return;
      case 'removeLink':
        this.removeLink(input.link);
        return;
      case 'send':
      case 'ping':
        this.originateLocal(input);
        return;
    }
  }

  private addLink(link: LinkId): void {
    if (this.neighbours.has(link)) return;
    const neighbour = new Neighbour(link, this.profile);
    this.neighbours.set(link, neighbour);
    this.neighbourList = [...this.neighbours.values()].sort((a, b) => a.link - b.link);
  }

  private removeLink(link: LinkId): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined) return;
    const peer = neighbour.peer;
    const wasUsable = neighbour.usable;
    neighbour.remove();
    this.neighbours.delete(link);
    this.neighbourList = this.neighbourList.filter((n) => n !== neighbour);
    if (wasUsable && peer !== null) this.events.push({ kind: 'neighbourDown', link, peer, reason: 'link-removed' });
    this.flushRoutesVia(neighbour);
  }

  private originateLocal(input: SendInput | PingInput): void {
    const tlv: DataTlv = {
      type: 'data',
      kind: input.kind === 'send' ? DataKind.app : DataKind.echoRequest,
      hopLimit: input.hopLimit ?? hopLimitDefault,
      src: this.id,
      dst: input.dst,
      id: input.id,
      payload: input.payload ?? new Uint8Array(0),
    };
    originate(this.forwarding, tlv);
  }

  private onDatagram(link: LinkId, bytes: Uint8Array): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined) {
      this.stats.unknownLink++;
      return;
    }
    let tlvs: Tlv[];
    try {
      tlvs = decodePacket(bytes);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.stats.decodeErrors++;
      return;
    }
    for (const tlv of tlvs) this.onSensingTlv(neighbour, tlv);
    this.refreshNeighbour(neighbour);
    if (!neighbour.usable) return;
    for (const tlv of tlvs) this.onRoutingTlv(neighbour, tlv);
  }

  private onSensingTlv(neighbour: Neighbour, tlv: Tlv): void {
    if (tlv.type === 'probe') {
      this.notePeer(neighbour, tlv.sender);
      neighbour.onProbe(this.nowMs, tlv);
    } else if (tlv.type === 'hello') {
      const isNew = neighbour.peer !== tlv.sender;
      this.notePeer(neighbour, tlv.sender);
      neighbour.onHello(this.nowMs, tlv);
      // An unscheduled IHU lets a new neighbour become bidirectional without waiting a full IHU interval.
      if (isNew) this.outbox.toNeighbour(neighbour, this.ihuFor(neighbour));
    } else if (tlv.type === 'ihu' && neighbour.peer !== null) {
      neighbour.onIhu(this.nowMs, tlv);
    }
  }

  private notePeer(neighbour: Neighbour, sender: NodeId): void {
    const oldPeer = neighbour.peer;
    const wasUsable = neighbour.usable;
    if (!neighbour.notePeer(sender)) return;
    if (wasUsable && oldPeer !== null) {
      this.events.push({ kind: 'neighbourDown', link: neighbour.link, peer: oldPeer, reason: 'peer-changed' });
    }
    this.flushRoutesVia(neighbour);
  }

  private onRoutingTlv(neighbour: Neighbour, tlv: Tlv): void {
    switch (tlv.type) {
      case 'update':
        this.onUpdate(neighbour, tlv);
        return;
      case 'routeRequest':
        this.onRouteRequest(neighbour, tlv);
        return;
      case 'seqnoRequest':
        this.onSeqnoRequest(neighbour, tlv);
        return;
      case 'data':
        receiveData(this.forwarding, tlv);
        return;
      default:
        return;
    }
  }

  private refreshNeighbour(neighbour: Neighbour): void {
    const change = neighbour.evaluate();
    if (change === 'none') return;
    const peer = neighbour.peer!;
    if (change === 'up') {
      this.events.push({ kind: 'neighbourUp', link: neighbour.link, peer, cost: neighbour.cost });
      this.greet(neighbour);
    } else if (change === 'down') {
      this.events.push({ kind: 'neighbourDown', link: neighbour.link, peer, reason: neighbour.downReason() });
      this.flushRoutesVia(neighbour);
    } else {
      this.recomputeRoutesVia(neighbour);
    }
  }

  /**
   * A new neighbour gets, in one packet train: a probe carrying our new state (so that it
   * comes up before it reads the rest, as BFD sends on every state change), all our routes,
   * and a wildcard route request (in case it could not accept our routes yet).
   */
  private greet(neighbour: Neighbour): void {
    if (this.profile.probeIntervalMs !== null) this.outbox.toNeighbour(neighbour, this.probeFor(neighbour, this.profile.probeIntervalMs));
    this.sendFullDump(neighbour);
    this.outbox.toNeighbour(neighbour, { type: 'routeRequest', source: null });
  }

  /** Fast reroute: drop every route through a lost neighbour and reselect at once. */
  private flushRoutesVia(neighbour: Neighbour): void {
    for (const entry of this.sources.values()) {
      if (removeRouteVia(entry, neighbour) !== null) this.reselect(entry);
    }
  }

  private recomputeRoutesVia(neighbour: Neighbour): void {
    for (const entry of this.sources.values()) {
      const route = routeVia(entry, neighbour);
      if (route === undefined) continue;
      route.metric = addMetric(route.advMetric, neighbour.cost);
      this.reselect(entry);
    }
  }

  private onUpdate(neighbour: Neighbour, tlv: UpdateTlv): void {
    if (tlv.source === this.id) return;
    let entry = this.sources.get(tlv.source);
    if (entry === undefined) {
      if (tlv.metric === metricInfinity) return;
      entry = newSourceEntry(tlv.source, this.nowMs);
      this.sources.set(tlv.source, entry);
    }
    const route = routeVia(entry, neighbour);
    if (tlv.metric === metricInfinity) {
      if (route !== undefined) {
        removeRouteVia(entry, neighbour);
        this.reselect(entry);
      }
      return;
    }
    const expiresAtMs = this.nowMs + tlv.intervalMs * this.profile.expiryFactor;
    if (route === undefined) {
      entry.routes.push({ neighbour, seqno: tlv.seqno, advMetric: tlv.metric, metric: addMetric(tlv.metric, neighbour.cost), expiresAtMs });
    } else {
      route.expiresAtMs = expiresAtMs;
      if (route.seqno === tlv.seqno && route.advMetric === tlv.metric) return;
      route.seqno = tlv.seqno;
      route.advMetric = tlv.metric;
      route.metric = addMetric(tlv.metric, neighbour.cost);
    }
    this.reselect(entry);
  }

  private reselect(entry: SourceEntry): void {
    const previous = entry.selected;
    const next = selectRoute(entry);
    entry.selected = next;
    if (next !== previous && this.emitRouteEvents) {
      this.events.push({ kind: 'routeChanged', dst: entry.source, link: next?.neighbour.link ?? null, metric: next?.metric ?? metricInfinity });
    }
    if (next === null) {
      if (entry.advertisedMetric < metricInfinity) this.pendingAdverts.add(entry);
      if (hasUnfeasibleRoute(entry)) this.startStarving(entry);
      return;
    }
    entry.lastSelectedMs = this.nowMs;
    this.starved.delete(entry);
    entry.seqnoRetryAtMs = Number.POSITIVE_INFINITY;
    const moved = Math.abs(next.metric - entry.advertisedMetric);
    if (entry.advertisedMetric >= metricInfinity || next.seqno !== entry.advertisedSeqno || moved >= advertiseThreshold) {
      this.pendingAdverts.add(entry);
    }
  }

  private startStarving(entry: SourceEntry): void {
    if (this.starved.has(entry)) return;
    this.starved.add(entry);
    entry.seqnoRequestsSent = 0;
    this.sendSeqnoRequest(entry);
  }

  private sendSeqnoRequest(entry: SourceEntry): void {
    const fd = entry.fd;
    if (fd === null || entry.seqnoRequestsSent >= seqnoRequestsMax) {
      this.starved.delete(entry);
      entry.seqnoRetryAtMs = Number.POSITIVE_INFINITY;
      return;
    }
    const request: SeqnoRequestTlv = {
      type: 'seqnoRequest',
      source: entry.source,
      seqno: seqnoPlus(fd.seqno, 1),
      hopCount: seqnoRequestHopCount,
      requester: this.id,
    };
    for (const route of entry.routes) {
      if (route.metric < metricInfinity && route.neighbour.usable) this.outbox.toNeighbour(route.neighbour, request);
    }
    this.stats.seqnoRequestsSent++;
    entry.seqnoRequestsSent++;
    entry.seqnoRetryAtMs = this.nowMs + this.profile.seqnoRequestRetryMs * 2 ** (entry.seqnoRequestsSent - 1);
  }

  private onRouteRequest(neighbour: Neighbour, tlv: RouteRequestTlv): void {
    if (tlv.source === null) {
      this.sendFullDump(neighbour);
    } else if (tlv.source === this.id) {
      this.outbox.toNeighbour(neighbour, this.selfUpdate());
    } else {
      const entry = this.sources.get(tlv.source);
      if (entry !== undefined) this.outbox.toNeighbour(neighbour, this.advertise(entry));
    }
  }

  /** RFC 8966 3.8.1.2: answer from our own route, bump our own seqno, or forward toward the source. */
  private onSeqnoRequest(neighbour: Neighbour, tlv: SeqnoRequestTlv): void {
    if (tlv.source === this.id) {
      if (tlv.seqno !== this.seqno && !seqnoNewer(this.seqno, tlv.seqno)) {
        this.seqno = tlv.seqno;
        this.selfAdvertPending = true;
      } else {
        this.outbox.toNeighbour(neighbour, this.selfUpdate());
      }
      return;
    }
    const entry = this.sources.get(tlv.source);
    const selected = entry?.selected ?? null;
    if (entry === undefined || selected === null) return;
    if (selected.seqno === tlv.seqno || seqnoNewer(selected.seqno, tlv.seqno)) {
      this.outbox.toNeighbour(neighbour, this.advertise(entry));
      return;
    }
    if (tlv.hopCount < 2 || selected.neighbour === neighbour) return;
    const previous = this.forwardedRequests.get(tlv.source);
    if (previous !== undefined && previous.seqno === tlv.seqno && previous.untilMs > this.nowMs) return;
    this.forwardedRequests.set(tlv.source, { seqno: tlv.seqno, untilMs: this.nowMs + this.profile.seqnoRequestRetryMs });
    this.outbox.toNeighbour(selected.neighbour, { ...tlv, hopCount: tlv.hopCount - 1 });
  }

  /** The update we send for `entry` now; records it as advertised and tightens the feasibility distance. */
  private advertise(entry: SourceEntry): UpdateTlv {
    const selected = entry.selected;
    const intervalMs = this.profile.updateIntervalMs;
    if (selected === null) {
      entry.advertisedMetric = metricInfinity;
      return { type: 'update', source: entry.source, seqno: entry.advertisedSeqno, metric: metricInfinity, intervalMs };
    }
    entry.advertisedSeqno = selected.seqno;
    entry.advertisedMetric = selected.metric;
    entry.fd = advanceFeasibility(entry.fd, selected.seqno, selected.metric);
    return { type: 'update', source: entry.source, seqno: selected.seqno, metric: selected.metric, intervalMs };
  }

  private selfUpdate(): UpdateTlv {
    return { type: 'update', source: this.id, seqno: this.seqno, metric: 0, intervalMs: this.profile.updateIntervalMs };
  }

  private sendFullDump(neighbour: Neighbour | null): void {
    const queue = (tlv: Tlv): void => (neighbour === null ? this.outbox.toAll(tlv) : this.outbox.toNeighbour(neighbour, tlv));
    queue(this.selfUpdate());
    for (const entry of this.sources.values()) {
      if (entry.selected !== null) queue(this.advertise(entry));
    }
  }

  private flushAdverts(): void {
    if (this.selfAdvertPending) {
      this.outbox.toAll(this.selfUpdate());
      this.selfAdvertPending = false;
    }
    for (const entry of this.pendingAdverts) this.outbox.toAll(this.advertise(entry));
    this.pendingAdverts.clear();
  }

  private runTimers(): void {
    const now = this.nowMs;
    if (now >= this.nextProbeAtMs) this.sendProbes();
    if (now >= this.nextHelloAtMs) this.sendHellos();
    if (now >= this.nextUpdateAtMs) {
      this.sendFullDump(null);
      this.nextUpdateAtMs = now + this.profile.updateIntervalMs * (0.75 + 0.25 * this.random());
    }
    for (const neighbour of this.neighbourList) {
      if (now < neighbour.nextDeadlineMs()) continue;
      neighbour.expire(now);
      this.refreshNeighbour(neighbour);
    }
    if (now >= this.nextHousekeepingAtMs) this.housekeeping();
    for (const entry of this.starved) {
      if (now >= entry.seqnoRetryAtMs && entry.selected === null) this.sendSeqnoRequest(entry);
    }
  }

  private sendProbes(): void {
    const intervalMs = this.profile.probeIntervalMs!;
    for (const neighbour of this.neighbourList) this.outbox.toNeighbour(neighbour, this.probeFor(neighbour, intervalMs));
    this.nextProbeAtMs = this.nowMs + intervalMs * (1 - this.profile.probeJitterFraction * this.random());
  }

  private probeFor(neighbour: Neighbour, intervalMs: number): Tlv {
    const echo = neighbour.probeEcho(this.nowMs);
    return {
      type: 'probe',
      sender: this.id,
      state: echo.state,
      detectMult: this.profile.probeDetectMult,
      intervalMs,
      txUs: clockUs(this.nowMs),
      echoUs: echo.echoUs,
      holdUs: echo.holdUs,
    };
  }

  private sendHellos(): void {
    const withIhu = this.helloSeqno % this.profile.ihuEveryHellos === 0;
    const hello: Tlv = {
      type: 'hello',
      sender: this.id,
      seqno: this.helloSeqno,
      intervalMs: this.profile.helloIntervalMs,
      timestampUs: clockUs(this.nowMs),
    };
    for (const neighbour of this.neighbourList) {
      this.outbox.toNeighbour(neighbour, hello);
      if (withIhu && neighbour.peer !== null) this.outbox.toNeighbour(neighbour, this.ihuFor(neighbour));
    }
    this.helloSeqno = seqnoPlus(this.helloSeqno, 1);
    this.nextHelloAtMs = this.nowMs + this.profile.helloIntervalMs * (1 - 0.1 * this.random());
  }

  private ihuFor(neighbour: Neighbour): Tlv {
    const fields = neighbour.ihuFields(this.nowMs);
    const intervalMs = this.profile.helloIntervalMs * this.profile.ihuEveryHellos;
    return { type: 'ihu', rxCost: fields.rxCost, intervalMs, originUs: fields.originUs, holdUs: fields.holdUs };
  }

  /** Expires routes whose updates stopped (RFC 8966 3.5.? route expiry) and forgets idle sources. */
  private housekeeping(): void {
    const now = this.nowMs;
    this.nextHousekeepingAtMs = now + this.housekeepingIntervalMs();
    for (const [source, entry] of this.sources) {
      const before = entry.routes.length;
      for (let i = entry.routes.length - 1; i >= 0; i--) {
        if (entry.routes[i]!.expiresAtMs <= now) entry.routes.splice(i, 1);
      }
      if (entry.routes.length !== before) this.reselect(entry);
      const idle = entry.selected === null && entry.routes.length === 0 && !this.starved.has(entry);
      if (idle && now - entry.lastSelectedMs >= this.profile.sourceGcMs) this.sources.delete(source);
    }
    for (const [source, forwarded] of this.forwardedRequests) {
      if (forwarded.untilMs <= now) this.forwardedRequests.delete(source);
    }
  }

  private nextDeadlineMs(): number {
    let deadline = Math.min(this.nextProbeAtMs, this.nextHelloAtMs, this.nextUpdateAtMs, this.nextHousekeepingAtMs);
    for (const neighbour of this.neighbourList) deadline = Math.min(deadline, neighbour.nextDeadlineMs());
    for (const entry of this.starved) deadline = Math.min(deadline, entry.seqnoRetryAtMs);
    return deadline;
  }
}
