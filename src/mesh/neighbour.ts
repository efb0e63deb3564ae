import type { NodeId } from '../wire/ids.js';
import { metricInfinity } from '../wire/limits.js';
import { ProbeState, type HelloTlv, type IhuTlv, type ProbeStateValue, type ProbeTlv } from '../wire/messages.js';
import { HelloHistory, linkCost, linkCostHysteresis, rxCostFromHistory } from './link-cost.js';
import type { TimingProfile } from './profiles.js';

/** A node-local handle for one point-to-point link (an adjacency), chosen by the driver. */
export type LinkId = number & { readonly __brand: 'LinkId' };

/** Why a neighbour stopped being usable. */
export type DownReason = 'probe-timeout' | 'peer-down' | 'hello-loss' | 'ihu-expired' | 'peer-changed' | 'link-removed' | 'link-unreachable';

/** What `evaluate` found changed about a neighbour. */
export type NeighbourChange = 'none' | 'up' | 'down' | 'cost';

/** Weight of a new RTT sample in the smoothed RTT (TCP's SRTT gain, 1/8). */
const rttGain = 1 / 8;
/** Largest RTT sample believed; larger ones come from clock wrap or a peer's bug. */
const rttSampleMsMax = 10_000;

/** Data extends a neighbour's liveness only this many detection times after its last fresh probe. */
export const freshProbeSpan = 2;
/** Our recent probes remembered per neighbour, for recognising their echoes. */
const sentProbesKept = 16;

/** Microseconds of `nowMs` modulo 2^32, the clock carried in probes, Hellos and IHUs. */
export function clockUs(nowMs: number): number {
  return Math.round(nowMs * 1000) >>> 0;
}

/**
 * What one node knows about the neighbour at the other end of one link: the BFD-like probe
 * session (RFC 5880 three-way states and detection time), the Hello history and IHU (RFC 8966),
 * the smoothed RTT (RFC 9616) and the resulting link cost.
 */
export class Neighbour {
  /** Column of this neighbour in the node's route table, assigned by the node. */
  slot = -1;
  peer: NodeId | null = null;
  probeState: ProbeStateValue = ProbeState.down;
  probeDetectAtMs = Number.POSITIVE_INFINITY;
  helloExpectedAtMs = Number.POSITIVE_INFINITY;
  ihuExpiresAtMs = Number.POSITIVE_INFINITY;
  txCost = metricInfinity;
  rttMs = Number.NaN;
  /** The cost routing uses for this link; infinite while the neighbour is not usable. */
  cost = metricInfinity;
  usable = false;
  /** The only NodeId this link's Hellos and probes may claim (set by a secure layer), or null for any. */
  pinnedPeer: NodeId | null = null;
  /** Set by a transit input: routes through this neighbour to anyone but itself are refused. */
  transitDenied = false;
  /**
   * Extra cost an operator or the self-healing loop put on this link (a penalty), added to the
   * measured cost; 0 for none. Routes then prefer other links without losing this one.
   */
  penalty = 0;
  /** When we last sent this neighbour a data packet (its evidence that we are alive; see MeshNode.sendProbes). */
  dataSentAtMs = Number.NEGATIVE_INFINITY;
  /** When we last sent this neighbour a probe. */
  probeSentAtMs = Number.NEGATIVE_INFINITY;
  /**
   * Data packets put on this link and received on it since the link was added, for transit
   * accounting (src/mapek/transit-accounting.ts): all of them, and the transit among them (sent:
   * addressed to a third node; received: originated by a third node). Totals that only grow; the
   * driver takes differences per window. Plain fields, as they move with every data packet.
   */
  dataSent = 0;
  transitSent = 0;
  dataReceived = 0;
  transitReceived = 0;
  /** Set when the probe session went down since the last `evaluate`, with the reason. */
  private pendingDown: DownReason | null = null;
  private history = new HelloHistory();
  private peerHelloIntervalMs = 0;
  private lastHelloUs = 0;
  private lastHelloRxMs = Number.NaN;
  private lastProbeUs = 0;
  private lastProbeRxMs = Number.NaN;
  /** Detection time the peer asked for in its last probe (its multiplier x its interval). */
  private peerDetectMs = 0;
  /** txUs of our recent probes to this neighbour, newest last, with when we sent them. */
  private readonly sentProbes: { txUs: number; atMs: number }[] = [];
  /** When a probe arrived that echoed one of our recent probes: proof the neighbour is alive now, not a delayed old packet. */
  private freshProbeAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly link: LinkId,
    private readonly profile: TimingProfile,
  ) {}

  /** Learns the peer's NodeId; returns true when a different node now answers on this link. */
  notePeer(sender: NodeId): boolean {
    if (this.peer === sender) return false;
    const replaced = this.peer !== null;
    this.resetState();
    this.peer = sender;
    return replaced;
  }

  /** Processes a probe: three-way state machine, detection time, RTT sample. */
  onProbe(nowMs: number, probe: ProbeTlv): void {
    this.lastProbeUs = probe.txUs;
    this.lastProbeRxMs = nowMs;
    this.peerDetectMs = probe.detectMult * probe.intervalMs;
    this.probeDetectAtMs = nowMs + this.peerDetectMs;
    if (this.echoesRecentProbe(nowMs, probe.echoUs)) this.freshProbeAtMs = nowMs;
    this.advanceProbeState(probe.state);
    if (probe.echoUs !== 0) this.sampleRtt(nowMs, probe.echoUs, probe.holdUs);
  }

  /**
   * A data packet arrived from this neighbour, authenticated as its own: evidence that it is
   * alive, as good as a probe, while the probe session is up and a fresh probe (one echoing one
   * of ours from the last freshProbeSpan detection times) came recently. Then it pushes the
   * detection time out as a probe would. It cannot bring a session up (that takes the three-way
   * probe handshake), and packets an attacker captured and releases late cannot keep a dead
   * neighbour alive for longer than that span, because their probes echo old probes of ours.
   * A neighbour that sends us data may skip some of its probes (MeshNode.sendProbes).
   */
  onData(nowMs: number): void {
    if (this.probeState !== ProbeState.up || nowMs - this.freshProbeAtMs > freshProbeSpan * this.peerDetectMs) return;
    this.probeDetectAtMs = Math.max(this.probeDetectAtMs, nowMs + this.peerDetectMs);
  }

  /** Records a probe we send to this neighbour (its echo later proves the neighbour's probes fresh). */
  noteProbeSent(nowMs: number, txUs: number): void {
    this.probeSentAtMs = nowMs;
    this.sentProbes.push({ txUs, atMs: nowMs });
    if (this.sentProbes.length > sentProbesKept) this.sentProbes.shift();
  }

  private echoesRecentProbe(nowMs: number, echoUs: number): boolean {
    if (echoUs === 0) return false;
    const spanMs = freshProbeSpan * Math.max(this.peerDetectMs, 1);
    return this.sentProbes.some((sent) => sent.txUs === echoUs && nowMs - sent.atMs <= spanMs);
  }

  /**
   * The driver could not send on this link because the network there is unreachable (its
   * interface went down, its route left): the probe session goes Down now instead of after a
   * detection time. It comes back up by the usual three-way probe handshake. Without probes
   * (profile rfc8966) the hint changes nothing: Hellos decide.
   */
  linkUnreachable(): void {
    if (this.probeState !== ProbeState.down) this.goDown('link-unreachable');
  }

  /** Processes a Hello: history, and when the next one is due. */
  onHello(nowMs: number, hello: HelloTlv): void {
    this.history.recordHello(hello.seqno);
    this.peerHelloIntervalMs = hello.intervalMs;
    this.helloExpectedAtMs = nowMs + hello.intervalMs * 1.5;
    this.lastHelloUs = hello.timestampUs;
    this.lastHelloRxMs = nowMs;
  }

  /** Processes an IHU: our transmit cost as the peer sees it, its expiry, an RTT sample. */
  onIhu(nowMs: number, ihu: IhuTlv): void {
    this.txCost = ihu.rxCost;
    this.ihuExpiresAtMs = nowMs + ihu.intervalMs * this.profile.expiryFactor;
    if (ihu.originUs !== 0) this.sampleRtt(nowMs, ihu.originUs, ihu.holdUs);
  }

  /** Applies every timer due at `nowMs`: probe detection, missed Hellos, IHU expiry. */
  expire(nowMs: number): void {
    if (nowMs >= this.probeDetectAtMs) {
      this.probeDetectAtMs = Number.POSITIVE_INFINITY;
      if (this.probeState !== ProbeState.down) this.goDown('probe-timeout');
    }
    while (nowMs >= this.helloExpectedAtMs) {
      this.history.recordMiss();
      this.helloExpectedAtMs += this.peerHelloIntervalMs;
      if (this.history.received() === 0) this.helloExpectedAtMs = Number.POSITIVE_INFINITY;
    }
    if (nowMs >= this.ihuExpiresAtMs) {
      this.ihuExpiresAtMs = Number.POSITIVE_INFINITY;
      this.txCost = metricInfinity;
    }
  }

  /** The earliest time at which `expire` has something to do. */
  nextDeadlineMs(): number {
    return Math.min(this.probeDetectAtMs, this.helloExpectedAtMs, this.ihuExpiresAtMs);
  }

  /** Recomputes usability and cost (with hysteresis) and says what changed. */
  evaluate(): NeighbourChange {
    const wasUsable = this.usable;
    this.usable = this.peer !== null && this.isAlive();
    if (!this.usable) {
      this.cost = metricInfinity;
      return wasUsable ? 'down' : 'none';
    }
    this.pendingDown = null;
    const computed = this.computeCost();
    if (!wasUsable) {
      this.cost = computed;
      return 'up';
    }
    if (computed === this.cost) return 'none';
    if (computed >= metricInfinity || this.cost >= metricInfinity || Math.abs(computed - this.cost) >= linkCostHysteresis) {
      this.cost = computed;
      return 'cost';
    }
    return 'none';
  }

  /** Why the neighbour went down, for the event the node emits. */
  downReason(): DownReason {
    const reason = this.pendingDown;
    this.pendingDown = null;
    if (reason !== null) return reason;
    if (this.txCost >= metricInfinity && this.history.twoOfThree()) return 'ihu-expired';
    return 'hello-loss';
  }

  /** Fields of the next probe to this neighbour: our state and the echo for its RTT. */
  probeEcho(nowMs: number): { state: ProbeStateValue; echoUs: number; holdUs: number } {
    return { state: this.probeState, echoUs: this.probeEchoUs(), holdUs: this.probeHoldUs(nowMs) };
  }

  /** The echo field of the next probe: txUs of the last probe heard from this neighbour, 0 when none. */
  probeEchoUs(): number {
    return Number.isNaN(this.lastProbeRxMs) ? 0 : this.lastProbeUs;
  }

  /** The hold field of the next probe sent at `nowMs`: time since that probe arrived, 0 when none. */
  probeHoldUs(nowMs: number): number {
    return Number.isNaN(this.lastProbeRxMs) ? 0 : clockUs(nowMs - this.lastProbeRxMs);
  }

  /** The share of this neighbour's recent Hellos that did not arrive (0 with no Hello expected yet). */
  helloLossRatio(): number {
    const expected = this.history.expected();
    return expected === 0 ? 0 : 1 - this.history.received() / expected;
  }

  /** Fields of the next IHU to this neighbour (RFC 8966 rxcost and RFC 9616 origin/hold). */
  ihuFields(nowMs: number): { rxCost: number; originUs: number; holdUs: number } {
    const rxCost = rxCostFromHistory(this.history.received(), this.history.expected());
    if (Number.isNaN(this.lastHelloRxMs)) return { rxCost, originUs: 0, holdUs: 0 };
    return { rxCost, originUs: this.lastHelloUs, holdUs: clockUs(nowMs - this.lastHelloRxMs) };
  }

  /** Marks the link administratively removed. */
  remove(): void {
    this.resetState();
    this.peer = null;
  }

  private isAlive(): boolean {
    if (this.profile.probeIntervalMs !== null) return this.probeState === ProbeState.up;
    return this.history.twoOfThree() && this.txCost < metricInfinity;
  }

  private computeCost(): number {
    const rxCost = rxCostFromHistory(this.history.received(), this.history.expected());
    // With probes the link is known to be bidirectional before the first IHU arrives.
    const txCost = this.txCost >= metricInfinity && this.profile.probeIntervalMs !== null ? 256 : this.txCost;
    const measured = linkCost(rxCost, txCost, this.rttMs);
    // A penalty never makes a usable link unusable: it stays a route of last resort.
    return measured >= metricInfinity ? measured : Math.min(metricInfinity - 1, measured + this.penalty);
  }

  private advanceProbeState(remote: ProbeStateValue): void {
    const wasUp = this.probeState === ProbeState.up;
    this.advanceProbeStateMachine(remote);
    // A new session starts a new Hello history: the Hellos missed while the link was down
    // say nothing about its loss rate now, and would inflate its ETX cost for 16 Hellos.
    if (!wasUp && this.probeState === ProbeState.up) this.history = new HelloHistory();
  }

  private advanceProbeStateMachine(remote: ProbeStateValue): void {
    if (this.probeState === ProbeState.down) {
      if (remote === ProbeState.down) this.probeState = ProbeState.init;
      else if (remote === ProbeState.init) this.probeState = ProbeState.up;
    } else if (this.probeState === ProbeState.init) {
      if (remote !== ProbeState.down) this.probeState = ProbeState.up;
    } else if (remote === ProbeState.down) {
      this.goDown('peer-down');
    }
  }

  private goDown(reason: DownReason): void {
    this.probeState = ProbeState.down;
    this.pendingDown = reason;
  }

  private sampleRtt(nowMs: number, originUs: number, holdUs: number): void {
    const rttUs = (clockUs(nowMs) - originUs - holdUs) >>> 0;
    const sampleMs = rttUs / 1000;
    if (sampleMs > rttSampleMsMax) return;
    this.rttMs = Number.isNaN(this.rttMs) ? sampleMs : this.rttMs + (sampleMs - this.rttMs) * rttGain;
  }

  private resetState(): void {
    this.probeState = ProbeState.down;
    this.probeDetectAtMs = Number.POSITIVE_INFINITY;
    this.helloExpectedAtMs = Number.POSITIVE_INFINITY;
    this.ihuExpiresAtMs = Number.POSITIVE_INFINITY;
    this.txCost = metricInfinity;
    this.rttMs = Number.NaN;
    this.cost = metricInfinity;
    this.pendingDown = null;
    this.lastProbeRxMs = Number.NaN;
    this.lastHelloRxMs = Number.NaN;
    this.peerDetectMs = 0;
    this.dataSentAtMs = Number.NEGATIVE_INFINITY;
    this.probeSentAtMs = Number.NEGATIVE_INFINITY;
    this.sentProbes.length = 0;
    this.freshProbeAtMs = Number.NEGATIVE_INFINITY;
    this.history = new HelloHistory();
    this.usable = false;
  }
}
