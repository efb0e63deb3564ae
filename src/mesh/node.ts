import { decodePacket, decodeProbePacket, newProbeRecord } from '../wire/codec.js';
import { WireError } from '../wire/errors.js';
import type { NodeId } from '../wire/ids.js';
import { metricInfinity } from '../wire/limits.js';
import {
  DataKind,
  ProbeState,
  type DataTlv,
  type ProbeTlv,
  type RouteRequestTlv,
  type QueryReplyTlv,
  type QueryTlv,
  type SeqnoRequestTlv,
  type Tlv,
  type UpdateTlv,
} from '../wire/messages.js';
import { hopLimitDefault, originate, receiveData, sendVia, type ForwardingContext } from './forwarding.js';
import { Neighbour, clockUs, type LinkId } from './neighbour.js';
import { Outbox } from './outbox.js';
import { detectionTimeMs, fastProfile, type TimingProfile } from './profiles.js';
import { QueryBook } from './queries.js';
import { RouteTable } from './route-table.js';
import { seqnoNewer, seqnoPlus } from './seqno.js';
import { newMeshStats, type LinkDataCounts, type MeshEvent, type MeshInput, type MeshOutput, type MeshStats, type PingInput, type SendInput, type Transmit } from './types.js';

/** A route's metric must move by at least this before a triggered update is sent. */
export const advertiseThreshold = 16;
/**
 * A freshly started node (with probes) selects no route for this many detection times: by then
 * every neighbour has heard its probes in state Down, or timed out the session of its former
 * self, and dropped the routes through it. One-way delays are assumed below one detection time.
 */
export const bootHoldFactor = 2;
/** Hop count put in seqno requests we originate (RFC 8966 suggests 64). */
export const seqnoRequestHopCount = 64;
/** Seqno requests sent for one starvation episode before giving up until routes change. */
export const seqnoRequestsMax = 5;
/** Most sources (destinations) one node keeps; updates for more are dropped, so a neighbour cannot exhaust memory. */
export const sourcesMax = 65_536;

/** How a node is set up. Randomness is passed in so the core stays deterministic under test. */
export interface MeshNodeConfig {
  readonly id: NodeId;
  /** Uniform random numbers in [0, 1): jitter and the initial seqno. */
  readonly random: () => number;
  readonly profile?: TimingProfile;
  readonly links?: readonly LinkId[];
  /** Emit a routeChanged event on every change of a selected route (the twin's invariant checks use it). */
  readonly emitRouteEvents?: boolean;
  /** Largest control packet to send (default: the wire's packetBytesMax); the secure layer needs less. */
  readonly packetBytesMax?: number;
  /**
   * The node's first own seqno (default: random). A daemon restarting passes one more than the
   * last it saved, so its seqnos never go back and no update of its former self looks newer.
   */
  readonly initialSeqno?: number;
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

/** A seqno request this node passed on: from whom, to whom, until when duplicates are dropped. */
interface ForwardedRequest {
  readonly request: SeqnoRequestTlv;
  readonly from: Neighbour;
  via: Neighbour;
  readonly untilMs: number;
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
  readonly stats: MeshStats = newMeshStats();

  private readonly random: () => number;
  private readonly emitRouteEvents: boolean;
  private readonly neighbours = new Map<LinkId, Neighbour>();
  private neighbourList: Neighbour[] = [];
  private readonly table = new RouteTable();
  /** Source slots waiting for a seqno (starvation). */
  private readonly starved = new Set<number>();
  /**
   * starved.size > 0 and deferredSlots.size > 0, kept in fields of the node: every call checks
   * both, and a Set's size is two pointers away (cache misses in a large twin).
   */
  private starving = false;
  private selectionDeferred = false;
  /** Seqno requests forwarded recently, by source: suppresses duplicates and re-forwards when `via` dies. */
  private readonly forwardedRequests = new Map<NodeId, ForwardedRequest>();
  private seqno: number;
  /** After a drain input: every route but our own is advertised as retracted, so neighbours go around us. */
  private draining = false;
  /** After a shutdown input: our own route is retracted too. */
  private retiring = false;
  private helloSeqno = 0;
  private started = false;
  private nextProbeAtMs = Number.POSITIVE_INFINITY;
  private nextHelloAtMs = Number.POSITIVE_INFINITY;
  private nextUpdateAtMs = Number.POSITIVE_INFINITY;
  private nextHousekeepingAtMs = Number.POSITIVE_INFINITY;
  private nowMs = 0;
  private readonly outbox: Outbox;
  private readonly pendingAdverts = new Set<number>();
  private selfAdvertPending = false;
  /** When pending non-urgent updates go out; infinity when none wait. */
  private advertFlushAtMs = Number.POSITIVE_INFINITY;
  /** Set when an update must go out at the end of this call (retraction, new seqno). */
  private urgentAdvert = false;
  /** Lower bound of every neighbour's next deadline, so timers need not scan neighbours on every call. */
  private neighbourDeadlineMs = Number.POSITIVE_INFINITY;
  /** Output buffers, reused by every call: what `handle` returns is valid until the next call. */
  private readonly sends: Transmit[] = [];
  private readonly events: MeshEvent[] = [];
  private readonly output: { sends: Transmit[]; events: MeshEvent[]; nextDeadlineMs: number } = {
    sends: this.sends,
    events: this.events,
    nextDeadlineMs: Number.POSITIVE_INFINITY,
  };
  private readonly forwarding: ForwardingContext;
  /** Route queries in progress; null when the profile does not use them. */
  private readonly queries: QueryBook | null;
  /**
   * Routes are selected only from this time on (see start): a restarted node waits until every
   * neighbour has dropped the routes it had through the node's former self.
   */
  private routesFromMs = Number.NEGATIVE_INFINITY;
  /** Sources whose selection waits for routesFromMs. */
  private readonly deferredSlots = new Set<number>();
  /** Where single-probe packets are decoded, without allocating (see onDatagram). */
  private readonly receivedProbe = newProbeRecord();

  constructor(config: MeshNodeConfig) {
    this.id = config.id;
    this.profile = config.profile ?? fastProfile;
    this.random = config.random;
    this.emitRouteEvents = config.emitRouteEvents ?? false;
    const randomSeqno = Math.floor(config.random() * 0x10000) & 0xffff;
    this.seqno = config.initialSeqno === undefined ? randomSeqno : seqnoPlus(config.initialSeqno, 0);
    if (this.profile.routeQueries && this.profile.probeIntervalMs === null) {
      // Without the three-way probe handshake a neighbour can come back without ever having
      // declared us down, still holding routes through us: the queries' argument fails.
      throw new RangeError(`MeshNode: profile ${this.profile.name}: routeQueries needs probes, got probeIntervalMs null`);
    }
    this.queries = this.profile.routeQueries ? new QueryBook(Math.floor(config.random() * 0x10000)) : null;
    this.outbox = new Outbox(config.packetBytesMax);
    for (const link of config.links ?? []) this.addLink(link);
    this.forwarding = {
      id: this.id,
      stats: this.stats,
      nextHop: (dst) => this.selectedNeighbour(dst),
      transmit: (transmit) => this.sendData(transmit),
      emit: (event) => this.events.push(event),
    };
  }

  /**
   * Processes one input at `nowMs` and returns what to send, what happened, and the next
   * deadline. The returned object and its arrays are reused: they are valid until the next call.
   */
  handle(nowMs: number, input: MeshInput): MeshOutput {
    this.nowMs = nowMs;
    // Setting length costs a runtime call (even on an empty array); these hold a few items.
    while (this.sends.length > 0) this.sends.pop();
    while (this.events.length > 0) this.events.pop();
    if (!this.started) this.start();
    this.dispatch(input);
    this.runTimers();
    this.flushAdverts();
    if (!this.outbox.isEmpty()) {
      const sendsBefore = this.sends.length;
      this.stats.controlBytesSent += this.outbox.flush(this.neighbourList, this.sends);
      this.stats.controlPacketsSent += this.sends.length - sendsBefore;
    }
    this.output.nextDeadlineMs = this.nextDeadlineMs();
    return this.output;
  }

  /**
   * Pins the NodeId that Hellos and probes on `link` must claim (null: any). A secure layer pins
   * the node its session authenticated, and a packet claiming another sender is dropped whole.
   */
  pinPeer(link: LinkId, peer: NodeId | null): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour !== undefined) neighbour.pinnedPeer = peer;
  }

  /** This node's current own seqno. */
  get ownSeqno(): number {
    return this.seqno;
  }

  /** The link of the selected route to `dst`, or null. */
  nextHopLink(dst: NodeId): LinkId | null {
    return this.selectedNeighbour(dst)?.link ?? null;
  }

  /** The metric of the selected route to `dst` (infinity when none, 0 for itself). */
  metricTo(dst: NodeId): number {
    if (dst === this.id) return 0;
    const slot = this.table.slotOf(dst);
    return slot < 0 ? metricInfinity : this.metricOfSlot(slot);
  }

  /**
   * A destination to send a transit probe to through the neighbour on `link`: of the routes
   * heard from that neighbour, the one with the least metric other than the neighbour itself
   * (usually one of its own neighbours, so the probe crosses it once). Null when it offers none.
   */
  transitProbeTarget(link: LinkId): NodeId | null {
    const table = this.table;
    const neighbour = this.neighbours.get(link);
    const k = neighbour === undefined || !neighbour.usable ? -1 : table.neighbours.indexOf(neighbour);
    if (k < 0) return null;
    let best: NodeId | null = null;
    let bestMetric = metricInfinity;
    for (const slot of table.slots()) {
      if (!table.hasRoute(slot, k)) continue;
      const dst = table.sourceAt(slot);
      const metric = table.advMetricOf(slot, k);
      if (dst === neighbour!.peer || dst === this.id || metric >= bestMetric) continue;
      bestMetric = metric;
      best = dst;
    }
    return best;
  }

  /** The selected routes, in ascending destination order. */
  routes(): RouteView[] {
    const table = this.table;
    const views: RouteView[] = [];
    for (const slot of table.slots()) {
      const k = table.selected[slot]!;
      if (k < 0) continue;
      const alternate = table.alternate(slot);
      views.push({
        dst: table.sourceAt(slot),
        link: table.neighbours[k]!.link,
        nextHop: table.neighbours[k]!.peer,
        metric: table.metricOf(slot, k),
        seqno: table.seqnoOf(slot, k),
        alternateLink: alternate < 0 ? null : table.neighbours[alternate]!.link,
      });
    }
    return views.sort((a, b) => a.dst - b.dst);
  }

  /** How many reachable destinations have a feasible alternate next hop ready (fast reroute coverage). */
  alternateCoverage(): { withAlternate: number; reachable: number } {
    let withAlternate = 0;
    let reachable = 0;
    for (const slot of this.table.slots()) {
      if (this.table.selected[slot]! < 0) continue;
      reachable++;
      if (this.table.alternate(slot) >= 0) withAlternate++;
    }
    return { withAlternate, reachable };
  }

  private selectedNeighbour(dst: NodeId): Neighbour | null {
    const slot = this.table.slotOf(dst);
    if (slot < 0) return null;
    const k = this.table.selected[slot]!;
    return k < 0 ? null : this.table.neighbours[k]!;
  }

  /** Neighbours with their peer, usability and cost, in link order. */
  neighbourViews(): { link: LinkId; peer: NodeId | null; usable: boolean; cost: number; rttMs: number; loss: number }[] {
    return this.neighbourList.map((n) => ({ link: n.link, peer: n.peer, usable: n.usable, cost: n.cost, rttMs: n.rttMs, loss: n.helloLossRatio() }));
  }

  private start(): void {
    this.started = true;
    const now = this.nowMs;
    const probeMs = this.profile.probeIntervalMs;
    if (probeMs !== null) {
      // Our first probes (state Down) tell neighbours within one interval that any former self of ours is gone.
      this.nextProbeAtMs = now + this.random() * probeMs;
      this.routesFromMs = now + bootHoldFactor * detectionTimeMs(this.profile);
    }
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
      case 'linkUnreachable':
        this.onLinkUnreachable(input.link);
        return;
      case 'linkPenalty':
        this.setLinkPenalty(input.link, input.extraCost);
        return;
      case 'send':
      case 'ping':
        this.originateLocal(input);
        return;
      case 'transit':
        this.setTransit(input.link, input.allowed);
        return;
      case 'drain':
      case 'shutdown':
        this.leave(input.kind === 'shutdown');
        return;
    }
  }

  /** The driver saw `link` unreachable: its neighbour goes down now, and routes through it move to alternates. */
  private onLinkUnreachable(link: LinkId): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined) return;
    neighbour.linkUnreachable();
    this.refreshNeighbour(neighbour);
  }

  /** Sets the penalty on `link` (see Neighbour.penalty); its routes are re-selected with the new cost. */
  private setLinkPenalty(link: LinkId, extraCost: number): void {
    if (!Number.isInteger(extraCost) || extraCost < 0 || extraCost >= metricInfinity) {
      throw new RangeError(`MeshNode: expected a link penalty in 0..${metricInfinity - 1}, got ${extraCost}`);
    }
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined || neighbour.penalty === extraCost) return;
    const raised = extraCost > neighbour.penalty;
    neighbour.penalty = extraCost;
    this.refreshNeighbour(neighbour);
    if (raised) this.requestSeqnosVia(neighbour);
  }

  /**
   * The routes through `neighbour` just got dearer. Where another neighbour offers a route that
   * is not feasible yet, ask the source for a new seqno (RFC 8966 §3.8.2.1), which makes it
   * feasible within a round trip instead of whenever the source next moves its seqno.
   */
  private requestSeqnosVia(neighbour: Neighbour): void {
    const table = this.table;
    for (const slot of table.slots()) {
      if (table.selected[slot] === neighbour.slot && table.hasUnfeasibleRoute(slot)) this.sendSeqnoRequest(slot);
    }
  }

  /** True once a drain (or shutdown) input came: the node offers no transit any more. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Applies a transit decision to a link's neighbour (see TransitInput). */
  private setTransit(link: LinkId, allowed: boolean): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined || neighbour.transitDenied === !allowed) return;
    neighbour.transitDenied = !allowed;
    if (allowed) {
      // It advertised routes we dropped: ask for all of them again.
      this.outbox.toNeighbour(neighbour, { type: 'routeRequest', source: null });
      return;
    }
    for (const slot of this.table.slots()) {
      if (this.table.sourceAt(slot) !== neighbour.peer && this.table.clearRoute(slot, neighbour.slot)) this.reselect(slot);
    }
  }

  /**
   * Drain: retract every route but our own at once (neighbours reroute around us while we still
   * forward what reaches us). Shutdown: retract our own route too, just before the node stops.
   */
  private leave(retire: boolean): void {
    this.draining = true;
    if (retire) this.retiring = true;
    this.sendFullDump(null);
    this.urgentAdvert = true;
  }

  private addLink(link: LinkId): void {
    if (this.neighbours.has(link)) return;
    const neighbour = new Neighbour(link, this.profile);
    const free = this.table.neighbours.indexOf(null);
    neighbour.slot = free >= 0 ? free : this.table.neighbours.length;
    this.table.ensureNeighbourSlot(neighbour.slot);
    this.table.neighbours[neighbour.slot] = neighbour;
    this.neighbours.set(link, neighbour);
    this.neighbourList = [...this.neighbours.values()].sort((a, b) => a.link - b.link);
  }

  private removeLink(link: LinkId): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined) return;
    const peer = neighbour.peer;
    const wasUsable = neighbour.usable;
    const holdUntilMs = this.silentLossHoldUntilMs(neighbour);
    neighbour.remove();
    this.neighbours.delete(link);
    this.neighbourList = this.neighbourList.filter((n) => n !== neighbour);
    if (wasUsable && peer !== null) this.events.push({ kind: 'neighbourDown', link, peer, reason: 'link-removed' });
    this.queries?.hold(neighbour, null, holdUntilMs);
    this.flushRoutesVia(neighbour);
    this.queries?.neighbourDown(neighbour);
    this.reforwardRequestsVia(neighbour);
    this.table.neighbours[neighbour.slot] = null;
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
    if (input.kind === 'ping' && input.via !== undefined) this.originateVia(input.via, tlv);
    else originate(this.forwarding, tlv);
  }

  /** Sends `tlv` on `link` whatever the routes say (a transit probe); no route when its neighbour is not usable. */
  private originateVia(link: LinkId, tlv: DataTlv): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined || !neighbour.usable || tlv.dst === this.id) {
      this.stats.dropNoRoute++;
      return;
    }
    sendVia(this.forwarding, neighbour, tlv);
  }

  private onDatagram(link: LinkId, bytes: Uint8Array): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined) {
      this.stats.unknownLink++;
      return;
    }
    let tlvs: Tlv[] | null = null;
    try {
      // Most packets are a lone probe; reading it in place spares two allocations per packet.
      if (!decodeProbePacket(bytes, this.receivedProbe)) tlvs = decodePacket(bytes);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.stats.decodeErrors++;
      return;
    }
    if (neighbour.pinnedPeer !== null && !sendersMatch(neighbour.pinnedPeer, tlvs ?? this.receivedProbe)) {
      this.stats.senderMismatch++;
      return;
    }
    if (tlvs === null) {
      this.onProbePacket(neighbour, this.receivedProbe);
      return;
    }
    for (const tlv of tlvs) {
      if (tlv.type === 'data') this.onDataReceived(neighbour, tlv);
      else this.onSensingTlv(neighbour, tlv);
    }
    this.refreshNeighbour(neighbour);
    this.neighbourDeadlineMs = Math.min(this.neighbourDeadlineMs, neighbour.nextDeadlineMs());
    if (!neighbour.usable) return;
    // A packet that is one Data TLV is forwarded as a copy with a new hop limit, not re-encoded.
    const alone = tlvs.length === 1 ? bytes : null;
    for (const tlv of tlvs) this.onRoutingTlv(neighbour, tlv, alone);
  }

  /** A data packet arrived from `neighbour`: evidence of liveness, and counted for transit accounting. */
  private onDataReceived(neighbour: Neighbour, tlv: DataTlv): void {
    neighbour.onData(this.nowMs);
    neighbour.dataReceived++;
    if (tlv.src !== neighbour.peer) neighbour.transitReceived++;
  }

  /** A packet holding one probe: what onDatagram does for it, minus the routing pass (a probe has no routing part). */
  private onProbePacket(neighbour: Neighbour, probe: ProbeTlv): void {
    this.onSensingTlv(neighbour, probe);
    this.refreshNeighbour(neighbour);
    this.neighbourDeadlineMs = Math.min(this.neighbourDeadlineMs, neighbour.nextDeadlineMs());
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
    if (neighbour.peer === sender) return;
    const oldPeer = neighbour.peer;
    const wasUsable = neighbour.usable;
    const holdUntilMs = this.silentLossHoldUntilMs(neighbour);
    if (!neighbour.notePeer(sender)) return;
    if (wasUsable && oldPeer !== null) {
      this.events.push({ kind: 'neighbourDown', link: neighbour.link, peer: oldPeer, reason: 'peer-changed' });
    }
    // The node that answered here before may still route through us.
    if (oldPeer !== null) this.queries?.hold(neighbour, oldPeer, holdUntilMs);
    this.flushRoutesVia(neighbour);
    this.queries?.neighbourDown(neighbour);
    this.reforwardRequestsVia(neighbour);
  }

  private onRoutingTlv(neighbour: Neighbour, tlv: Tlv, packet: Uint8Array | null): void {
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
        receiveData(this.forwarding, tlv, packet);
        return;
      case 'query':
        this.onQuery(neighbour, tlv);
        return;
      case 'queryReply':
        this.onQueryReply(neighbour, tlv);
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
      this.queries?.sessionUp(neighbour, peer);
      this.greet(neighbour);
    } else if (change === 'down') {
      const reason = neighbour.downReason();
      this.events.push({ kind: 'neighbourDown', link: neighbour.link, peer, reason });
      if (reason !== 'peer-down') this.noteSilentLoss(neighbour);
      this.flushRoutesVia(neighbour);
      this.queries?.neighbourDown(neighbour);
      this.reforwardRequestsVia(neighbour);
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

  /**
   * We declared `neighbour` down without hearing it say so. Tell it at once (a probe in state
   * Down, as BFD sends on every state change). It may still route through us until it hears
   * that or its own detection fires; route queries must respect that.
   */
  private noteSilentLoss(neighbour: Neighbour): void {
    this.queries?.hold(neighbour, neighbour.peer, this.silentLossHoldUntilMs(neighbour));
    const intervalMs = this.profile.probeIntervalMs;
    if (intervalMs !== null) this.outbox.toNeighbour(neighbour, this.probeFor(neighbour, intervalMs));
  }

  /**
   * Until when a neighbour lost now without a word may still route through us. Our probes may
   * have kept reaching it until we gave up (one direction can fail first), and it waits a whole
   * detection time after the last one arrived, which took one one-way delay to get there. No
   * estimate bounds that delay once samples stop (it may have grown just before the failure),
   * so the core assumes one-way delays below max(detection time, smoothed RTT), as the boot hold
   * does, and holds for one detection time plus that bound.
   */
  private silentLossHoldUntilMs(neighbour: Neighbour): number {
    const detectionMs = detectionTimeMs(this.profile);
    const delayBoundMs = Number.isNaN(neighbour.rttMs) ? detectionMs : Math.max(detectionMs, neighbour.rttMs);
    return this.nowMs + detectionMs + delayBoundMs;
  }

  /** Fast reroute: drop every route through a lost neighbour and reselect at once. */
  private flushRoutesVia(neighbour: Neighbour): void {
    for (const slot of this.table.slots()) {
      if (this.table.clearRoute(slot, neighbour.slot)) this.reselect(slot);
    }
  }

  /** A link cost changed: every route through it has a new metric, so reselect them. */
  private recomputeRoutesVia(neighbour: Neighbour): void {
    for (const slot of this.table.slots()) {
      if (this.table.hasRoute(slot, neighbour.slot)) this.reselect(slot);
    }
  }

  private onUpdate(neighbour: Neighbour, tlv: UpdateTlv): void {
    this.stats.updatesReceived++;
    if (tlv.source === this.id) return;
    const table = this.table;
    let slot = table.slotOf(tlv.source);
    if (tlv.metric === metricInfinity || (neighbour.transitDenied && tlv.source !== neighbour.peer)) {
      if (slot >= 0 && table.clearRoute(slot, neighbour.slot)) this.reselect(slot);
      return;
    }
    if (slot < 0) {
      if (table.size >= sourcesMax) {
        this.stats.sourcesRejected++;
        return;
      }
      slot = table.ensureSlot(tlv.source, this.nowMs);
    }
    const expiresAtMs = this.nowMs + tlv.intervalMs * this.profile.expiryFactor;
    if (!table.setRoute(slot, neighbour.slot, tlv.seqno, tlv.metric, expiresAtMs)) return;
    this.stats.updatesChanged++;
    this.reselect(slot);
  }

  private reselect(slot: number): void {
    if (this.nowMs < this.routesFromMs) {
      this.deferredSlots.add(slot);
      this.selectionDeferred = true;
      return;
    }
    const table = this.table;
    const previous = table.selected[slot]!;
    const next = table.select(slot);
    table.selected[slot] = next;
    if (next !== previous && this.emitRouteEvents) {
      const link = next < 0 ? null : table.neighbours[next]!.link;
      this.events.push({ kind: 'routeChanged', dst: table.sourceAt(slot), link, metric: this.metricOfSlot(slot) });
    }
    if (next < 0) {
      // The source is kept (with its feasibility distance) for sourceGcMs from the loss.
      if (previous >= 0) table.lastSelectedMs[slot] = this.nowMs;
      if (table.advertisedMetric[slot]! < metricInfinity) this.queueAdvert(slot, true);
      if (table.hasUnfeasibleRoute(slot)) this.startStarving(slot, previous);
      return;
    }
    this.queries?.cancel(slot);
    table.lastSelectedMs[slot] = this.nowMs;
    if (this.starving && this.starved.delete(slot)) {
      table.seqnoRetryAtMs[slot] = Number.POSITIVE_INFINITY;
      this.starving = this.starved.size > 0;
    }
    const advertised = table.advertisedMetric[slot]!;
    const newSeqno = advertised < metricInfinity && table.seqnoOf(slot, next) !== table.advertisedSeqno[slot];
    if (newSeqno || advertised >= metricInfinity || Math.abs(table.metricOf(slot, next) - advertised) >= advertiseThreshold) {
      this.queueAdvert(slot, newSeqno);
    }
  }

  private metricOfSlot(slot: number): number {
    const k = this.table.selected[slot]!;
    return k < 0 ? metricInfinity : this.table.metricOf(slot, k);
  }

  /** Queues a triggered update; urgent ones (retractions, new seqnos) leave at the end of this call. */
  private queueAdvert(slot: number, urgent: boolean): void {
    this.pendingAdverts.add(slot);
    if (urgent) this.urgentAdvert = true;
    else if (this.advertFlushAtMs === Number.POSITIVE_INFINITY) this.advertFlushAtMs = this.nowMs + this.profile.updateCoalesceMs;
  }

  private startStarving(slot: number, previous: number): void {
    const lostNextHop = previous >= 0 ? this.table.neighbours[previous]! : null;
    // The query follows the retraction out in this call (see sendQueries).
    if (this.queries?.start(slot, this.table.fdSeqno[slot]!, lostNextHop) === true) this.urgentAdvert = true;
    if (this.starved.has(slot)) return;
    this.starved.add(slot);
    this.starving = true;
    this.table.seqnoRequestsSent[slot] = 0;
    this.sendSeqnoRequest(slot);
  }

  /** Starvation (RFC 8966 3.8.2.1): ask the neighbours holding unfeasible routes for a newer seqno. */
  private sendSeqnoRequest(slot: number): void {
    const table = this.table;
    const fdSeqno = table.fdSeqno[slot]!;
    if (fdSeqno < 0 || table.seqnoRequestsSent[slot]! >= seqnoRequestsMax) {
      this.starved.delete(slot);
      this.starving = this.starved.size > 0;
      table.seqnoRetryAtMs[slot] = Number.POSITIVE_INFINITY;
      return;
    }
    const request: SeqnoRequestTlv = {
      type: 'seqnoRequest',
      source: table.sourceAt(slot),
      seqno: seqnoPlus(fdSeqno, 1),
      hopCount: seqnoRequestHopCount,
      requester: this.id,
    };
    for (const neighbour of this.neighbourList) {
      if (neighbour.usable && table.hasRoute(slot, neighbour.slot)) this.outbox.toNeighbour(neighbour, request);
    }
    this.stats.seqnoRequestsSent++;
    const sent = ++table.seqnoRequestsSent[slot]!;
    table.seqnoRetryAtMs[slot] = this.nowMs + this.profile.seqnoRequestRetryMs * 2 ** (sent - 1);
  }

  private onRouteRequest(neighbour: Neighbour, tlv: RouteRequestTlv): void {
    if (tlv.source === null) {
      this.sendFullDump(neighbour);
    } else if (tlv.source === this.id) {
      this.outbox.toNeighbour(neighbour, this.selfUpdate());
    } else {
      const slot = this.table.slotOf(tlv.source);
      if (slot >= 0) this.outbox.toNeighbour(neighbour, this.advertise(slot));
    }
  }

  /** RFC 8966 3.8.1.2: answer from our own route, bump our own seqno, or forward toward the source. */
  private onSeqnoRequest(neighbour: Neighbour, tlv: SeqnoRequestTlv): void {
    if (tlv.source === this.id) {
      // Only a strictly newer request moves our seqno: adopting one half-way from ours (which
      // the symmetric rule leaves incomparable) would make our routes unfeasible everywhere.
      if (seqnoNewer(tlv.seqno, this.seqno)) {
        this.seqno = tlv.seqno;
        this.selfAdvertPending = true;
        this.urgentAdvert = true;
      } else {
        this.outbox.toNeighbour(neighbour, this.selfUpdate());
      }
      return;
    }
    const table = this.table;
    const slot = table.slotOf(tlv.source);
    if (slot < 0) return;
    const k = table.selected[slot]!;
    if (k >= 0) {
      const seqno = table.seqnoOf(slot, k);
      if (seqno === tlv.seqno || seqnoNewer(seqno, tlv.seqno)) {
        this.outbox.toNeighbour(neighbour, this.advertise(slot));
        return;
      }
    }
    const target = this.requestTarget(slot, neighbour);
    if (tlv.hopCount < 2 || target === null) return;
    const previous = this.forwardedRequests.get(tlv.source);
    if (previous !== undefined && previous.request.seqno === tlv.seqno && previous.untilMs > this.nowMs) return;
    const request: SeqnoRequestTlv = { ...tlv, hopCount: tlv.hopCount - 1 };
    this.forwardedRequests.set(tlv.source, { request, from: neighbour, via: target, untilMs: this.nowMs + this.profile.seqnoRequestRetryMs });
    this.outbox.toNeighbour(target, request);
  }

  /**
   * Requests we forwarded to a neighbour that has just been declared down were most likely
   * lost with it (on a failed path the request often goes the way the data went). Sending them
   * on through the best remaining route at once saves the requester a retry interval.
   */
  private reforwardRequestsVia(lost: Neighbour): void {
    for (const forwarded of this.forwardedRequests.values()) {
      if (forwarded.via !== lost || forwarded.untilMs <= this.nowMs) continue;
      const slot = this.table.slotOf(forwarded.request.source);
      const target = slot < 0 ? null : this.requestTarget(slot, forwarded.from);
      if (target === null) continue;
      forwarded.via = target;
      this.outbox.toNeighbour(target, forwarded.request);
    }
  }

  /**
   * Where to forward a seqno request towards its source: the selected next hop, or, when
   * there is none or it is where the request came from, the neighbour with the best route of
   * any feasibility. Nodes on a failed path have often lost their own route too; sending the
   * request on through an unfeasible route still reaches the source, where dropping it would
   * leave the requester waiting for its retry timer.
   */
  private requestTarget(slot: number, from: Neighbour): Neighbour | null {
    const table = this.table;
    const k = table.selected[slot]!;
    if (k >= 0 && table.neighbours[k] !== from) return table.neighbours[k]!;
    let best: Neighbour | null = null;
    let bestMetric = metricInfinity;
    for (const candidate of this.neighbourList) {
      if (candidate === from || !candidate.usable || !table.hasRoute(slot, candidate.slot)) continue;
      const metric = table.metricOf(slot, candidate.slot);
      if (metric < bestMetric) {
        best = candidate;
        bestMetric = metric;
      }
    }
    return best;
  }

  /** The update we send for `slot` now; records it as advertised and tightens the feasibility distance. */
  private advertise(slot: number): UpdateTlv {
    this.stats.advertsSent++;
    const table = this.table;
    const k = table.selected[slot]!;
    const source = table.sourceAt(slot);
    const intervalMs = this.profile.updateIntervalMs;
    if (k < 0 || this.draining) {
      table.advertisedMetric[slot] = metricInfinity;
      return { type: 'update', source, seqno: table.advertisedSeqno[slot]!, metric: metricInfinity, intervalMs };
    }
    const seqno = table.seqnoOf(slot, k);
    const metric = table.metricOf(slot, k);
    table.advertisedSeqno[slot] = seqno;
    table.advertisedMetric[slot] = metric;
    table.advanceFeasibility(slot, seqno, metric);
    return { type: 'update', source, seqno, metric, intervalMs };
  }

  private selfUpdate(): UpdateTlv {
    const metric = this.retiring ? metricInfinity : 0;
    return { type: 'update', source: this.id, seqno: this.seqno, metric, intervalMs: this.profile.updateIntervalMs };
  }

  private sendFullDump(neighbour: Neighbour | null): void {
    const queue = (tlv: Tlv): void => (neighbour === null ? this.outbox.toAll(tlv) : this.outbox.toNeighbour(neighbour, tlv));
    queue(this.selfUpdate());
    for (const slot of this.table.slots()) {
      if (this.table.selected[slot]! >= 0) queue(this.advertise(slot));
    }
  }

  private flushAdverts(): void {
    if (!this.urgentAdvert && this.nowMs < this.advertFlushAtMs) return;
    this.urgentAdvert = false;
    this.advertFlushAtMs = Number.POSITIVE_INFINITY;
    if (this.selfAdvertPending) {
      this.outbox.toAll(this.selfUpdate());
      this.selfAdvertPending = false;
    }
    for (const slot of this.pendingAdverts) this.outbox.toAll(this.advertise(slot));
    this.pendingAdverts.clear();
    if (this.queries !== null) this.sendQueries(this.queries);
  }

  /** New queries go to every usable neighbour, after the retractions queued before them. */
  private sendQueries(queries: QueryBook): void {
    if (queries.size === 0) return;
    for (const { slot, nonce } of queries.takeUnsent(this.neighbourList.filter((n) => n.usable))) {
      this.outbox.toAll({ type: 'query', source: this.table.sourceAt(slot), nonce });
    }
  }

  /** Completes the queries every neighbour has answered (and whose hold is over): forget the distance, reselect. */
  private completeQueries(queries: QueryBook): void {
    if (queries.size === 0) return;
    for (const slot of queries.slots()) {
      // A query exists only while no route is selected: reselect cancels it on selection.
      if (queries.readyAtMs(slot, this.nowMs) > this.nowMs) continue;
      queries.completed(slot, this.table.fdSeqno[slot]!);
      this.table.forgetFeasibility(slot);
      this.stats.queriesCompleted++;
      this.reselect(slot);
    }
  }

  /**
   * A neighbour asks whether we still route to `source` through it. Its retraction normally
   * came just before, in the same packet; but packets split and get lost, so the query itself
   * counts as one: we drop its route first. The reply carries our current route, so that no
   * split packet can separate the answer from the route it vouches for.
   */
  private onQuery(neighbour: Neighbour, tlv: QueryTlv): void {
    let route: UpdateTlv | null = null;
    if (tlv.source === this.id) {
      route = this.selfUpdate();
    } else {
      const slot = this.table.slotOf(tlv.source);
      if (slot >= 0) {
        if (this.table.clearRoute(slot, neighbour.slot)) this.reselect(slot);
        route = this.advertise(slot);
      }
    }
    const seqno = route?.seqno ?? 0;
    const metric = route?.metric ?? metricInfinity;
    this.outbox.toNeighbour(neighbour, { type: 'queryReply', source: tlv.source, nonce: tlv.nonce, seqno, metric });
  }

  /** An answer to our query: the route it carries counts as an update, then the answer is noted. */
  private onQueryReply(neighbour: Neighbour, tlv: QueryReplyTlv): void {
    const slot = this.table.slotOf(tlv.source);
    if (slot < 0 || this.queries === null) return;
    const intervalMs = this.profile.updateIntervalMs;
    this.onUpdate(neighbour, { type: 'update', source: tlv.source, seqno: tlv.seqno, metric: tlv.metric, intervalMs });
    this.queries.answered(slot, tlv.nonce, neighbour);
  }

  private runTimers(): void {
    const now = this.nowMs;
    if (now >= this.nextProbeAtMs) this.sendProbes();
    if (now >= this.nextHelloAtMs) this.sendHellos();
    if (now >= this.nextUpdateAtMs) {
      this.sendFullDump(null);
      this.nextUpdateAtMs = now + this.profile.updateIntervalMs * (0.75 + 0.25 * this.random());
    }
    if (now >= this.neighbourDeadlineMs) this.expireNeighbours();
    if (now >= this.nextHousekeepingAtMs) this.housekeeping();
    if (this.queries !== null) this.completeQueries(this.queries);
    if (this.selectionDeferred && now >= this.routesFromMs) this.selectDeferred();
    if (this.starving) this.retrySeqnoRequests();
  }

  /** Resends the seqno requests whose retry time has come; stops for sources no longer starved. */
  private retrySeqnoRequests(): void {
    const now = this.nowMs;
    for (const slot of this.starved) {
      if (now < this.table.seqnoRetryAtMs[slot]!) continue;
      if (this.table.selected[slot]! < 0 && this.table.hasUnfeasibleRoute(slot)) {
        this.sendSeqnoRequest(slot);
      } else {
        this.starved.delete(slot);
        this.table.seqnoRetryAtMs[slot] = Number.POSITIVE_INFINITY;
      }
    }
    this.starving = this.starved.size > 0;
  }

  /** The boot hold is over: select the routes heard meanwhile. */
  private selectDeferred(): void {
    for (const slot of this.deferredSlots) this.reselect(slot);
    this.deferredSlots.clear();
    this.selectionDeferred = false;
  }

  private expireNeighbours(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const neighbour of this.neighbourList) {
      if (this.nowMs >= neighbour.nextDeadlineMs()) {
        neighbour.expire(this.nowMs);
        this.refreshNeighbour(neighbour);
      }
      earliest = Math.min(earliest, neighbour.nextDeadlineMs());
    }
    this.neighbourDeadlineMs = earliest;
  }

  /**
   * The driver could not send the data packet `data` this node handed it for `link` (no
   * session, too large, dropped on purpose): it is no evidence of liveness, so the next probe
   * round probes that neighbour, and it no longer counts as put on the link.
   */
  dataNotSent(link: LinkId, data: DataTlv): void {
    const neighbour = this.neighbours.get(link);
    if (neighbour === undefined) return;
    neighbour.dataSentAtMs = Number.NEGATIVE_INFINITY;
    neighbour.dataSent--;
    if (data.dst !== neighbour.peer) neighbour.transitSent--;
  }

  /** A data packet leaves on its link; the neighbour there takes it as evidence that we are alive. It is counted for transit accounting. */
  private sendData(transmit: Transmit): void {
    this.sends.push(transmit);
    const neighbour = this.neighbours.get(transmit.link);
    if (neighbour === undefined) return;
    neighbour.dataSentAtMs = this.nowMs;
    neighbour.dataSent++;
    // Forwarding hands every data transmit its DataTlv.
    if (transmit.data!.dst !== neighbour.peer) neighbour.transitSent++;
  }

  /**
   * Per link, the data packets this node put on it and received on it since the link was added
   * (totals that only grow), with the transit among them: what transit accounting counts
   * (src/mapek/transit-accounting.ts). A driver reads it once per window.
   */
  dataCounts(): LinkDataCounts[] {
    return this.neighbourList.map((n) => ({ link: n.link, peer: n.peer, usable: n.usable, sent: n.dataSent, handedTo: n.transitSent, received: n.dataReceived, receivedFrom: n.transitReceived }));
  }

  /**
   * Probes every neighbour, except those an up session already told we are alive: a data packet
   * sent to it within the last half interval counts as this round's probe (Neighbour.onData),
   * as long as a probe went to it within the last (detectMult - 1) intervals. A link busy with
   * data both ways then carries a probe every two or three rounds instead of every round. The
   * half interval keeps the longest gap the neighbour sees between our packets at 1.5
   * intervals; the probe at least every two intervals keeps its echo of our probes fresh, which
   * it needs before it takes our data as liveness.
   */
  private sendProbes(): void {
    const intervalMs = this.profile.probeIntervalMs!;
    const recentAfterMs = this.nowMs - intervalMs / 2;
    // Whatever the data, a probe at least every (detectMult - 1) intervals: the neighbour's
    // echo of it is what lets our data count as liveness there (Neighbour.onData).
    const probeDueMs = (this.profile.probeDetectMult - 1) * intervalMs;
    for (const neighbour of this.neighbourList) {
      const spare = neighbour.probeState === ProbeState.up && neighbour.dataSentAtMs >= recentAfterMs && this.nowMs - neighbour.probeSentAtMs < probeDueMs;
      if (spare) {
        this.stats.probesSpared++;
        continue;
      }
      this.outbox.toNeighbour(neighbour, this.probeFor(neighbour, intervalMs));
    }
    this.nextProbeAtMs = this.nowMs + intervalMs * (1 - this.profile.probeJitterFraction * this.random());
  }

  private probeFor(neighbour: Neighbour, intervalMs: number): Tlv {
    neighbour.noteProbeSent(this.nowMs, clockUs(this.nowMs));
    return {
      type: 'probe',
      sender: this.id,
      state: neighbour.probeState,
      detectMult: this.profile.probeDetectMult,
      intervalMs,
      txUs: clockUs(this.nowMs),
      echoUs: neighbour.probeEchoUs(),
      holdUs: neighbour.probeHoldUs(this.nowMs),
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

  /** Expires routes whose updates stopped (RFC 8966 3.5.5) and forgets idle sources. */
  private housekeeping(): void {
    const now = this.nowMs;
    const table = this.table;
    this.nextHousekeepingAtMs = now + this.housekeepingIntervalMs();
    for (const slot of [...table.slots()]) {
      if (table.expireRoutes(slot, now)) this.reselect(slot);
      const idle = table.selected[slot]! < 0 && !(this.starving && this.starved.has(slot)) && table.isEmpty(slot);
      if (idle && now - table.lastSelectedMs[slot]! >= this.profile.sourceGcMs) {
        this.queries?.forget(slot);
        table.freeSlot(slot);
      }
    }
    for (const [source, forwarded] of this.forwardedRequests) {
      if (forwarded.untilMs <= now) this.forwardedRequests.delete(source);
    }
  }

  private nextDeadlineMs(): number {
    let deadline = Math.min(this.nextProbeAtMs, this.nextHelloAtMs, this.nextUpdateAtMs, this.nextHousekeepingAtMs);
    deadline = Math.min(deadline, this.neighbourDeadlineMs, this.advertFlushAtMs);
    if (this.starving) {
      for (const slot of this.starved) deadline = Math.min(deadline, this.table.seqnoRetryAtMs[slot]!);
    }
    if (this.selectionDeferred) deadline = Math.min(deadline, this.routesFromMs);
    if (this.queries !== null && this.queries.size > 0) {
      for (const slot of this.queries.slots()) deadline = Math.min(deadline, this.queries.readyAtMs(slot, this.nowMs));
    }
    return deadline;
  }
}

/** True when every Hello and probe among `tlvs` (or the lone `probe`) names `peer` as its sender. */
function sendersMatch(peer: NodeId, tlvs: readonly Tlv[] | ProbeTlv): boolean {
  if (!Array.isArray(tlvs)) return (tlvs as ProbeTlv).sender === peer;
  for (const tlv of tlvs as readonly Tlv[]) {
    if ((tlv.type === 'hello' || tlv.type === 'probe') && tlv.sender !== peer) return false;
  }
  return true;
}
