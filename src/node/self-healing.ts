import { ed25519Signer } from '../crypto/curve25519.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import { validateSvid, type SvidIdentity, type TrustAnchor } from '../identity/svid.js';
import type { MapeK } from '../mapek/loop.js';
import { reportWindowMs } from '../mapek/report-codec.js';
import { ReportExchange, type CertifiedKey, type LinkSend } from '../mapek/report-exchange.js';
import { TransitJudge, TransitTotals } from '../mapek/transit-judge.js';
import type { TransitReport } from '../mapek/transit-accounting.js';
import { transitProbeIdBase, TransitProbePlanner } from '../mapek/transit-probes.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { LinkMessageEvent } from '../mesh/types.js';
import type { NodeId } from '../wire/ids.js';
import type { NodeRuntime } from './runtime.js';

/**
 * MAPE-K in the daemon, fed by the node's own traffic with the twin's rules (src/twin/self-healing.ts
 * is the twin's driver of the same pieces). Monitor: the routing core counts, per link, the data
 * it puts on the link and receives on it, and the transit among it (MeshNode.dataCounts). At
 * every multiple of reportWindowMs (epoch time, so that all nodes cut the same windows) this
 * driver cuts the counts into the window's reports (TransitTotals) and sends them, signed, to the
 * neighbours, which relay them one hop further (ReportExchange). Analyze: reportGraceMs later,
 * when the reports of the node's neighbours' neighbours have arrived, the node judges its
 * neighbours' transit conservation and its own links' loss (TransitJudge, windowFindings). Plan
 * and Execute: the node's MapeK, acting through its core and policy.
 *
 * A neighbour that carried none of this node's transit in a window gets transit probes in the
 * middle of the next (src/mapek/transit-probes.ts): echo requests through it to the nearest destination beyond
 * it, so that its neighbours keep measuring a node that routes moved away from.
 */

/** How long after a window's end the node judges it: time for its reports to cross two hops. */
export const reportGraceMs = 300;

/** What the driver needs of the daemon. */
export interface SelfHealingDeps {
  readonly runtime: NodeRuntime;
  readonly loop: MapeK;
  /** The node's Ed25519 identity key (seed), the one its SVID certifies. */
  readonly signingKey: Uint8Array;
  readonly trustDomain: string;
  readonly anchors: () => readonly TrustAnchor[];
  readonly isRevoked: (identity: SvidIdentity) => boolean;
  /** Echo requests a window through each neighbour that carried none of this node's transit (0: none; see TransitProbePlanner). */
  readonly transitProbes: number;
  /** Told about failures the driver rides out (a window it could not judge). */
  readonly onError?: (error: Error, doing: string) => void;
}

/** The daemon's self-healing driver (see the module comment). */
export class DaemonSelfHealing {
  readonly exchange: ReportExchange;
  readonly judge: TransitJudge;
  private readonly totals: TransitTotals;
  private readonly self: NodeId;
  private cutTimer: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly planner: TransitProbePlanner | null;
  /** Probes sent through each neighbour (by NodeId) in the current window: they are in its counts. */
  private probesSent = new Map<number, number>();
  private nextProbeId = transitProbeIdBase;
  /** Transit probes sent since start. */
  probesTotal = 0;

  constructor(private readonly deps: SelfHealingDeps) {
    const runtime = deps.runtime;
    this.self = runtime.mesh.id;
    this.totals = new TransitTotals(this.self);
    this.judge = new TransitJudge(this.self);
    this.planner = deps.transitProbes > 0 ? new TransitProbePlanner({ probesPerInterval: deps.transitProbes }) : null;
    this.exchange = new ReportExchange({
      self: this.self,
      sign: ed25519Signer(deps.signingKey),
      verifyCertificate: (certificate, nowMs) => this.verifyCertificate(certificate, nowMs),
      certificateOf: (node) => this.certificateOf(node),
    });
  }

  /** Starts cutting windows at the next window boundary. */
  start(): void {
    this.scheduleCut();
  }

  /** Stops the timers; nothing is cut or judged afterwards. */
  stop(): void {
    if (this.cutTimer !== null) clearTimeout(this.cutTimer);
    this.cutTimer = null;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** What became of the transit reports since start, by outcome (the exchange's counters and the undecided and late ones of the judge). */
  counters(): Record<string, number> {
    return { ...this.exchange.stats, undecided: this.judge.stats.incomplete, late: this.judge.stats.late };
  }

  /** A link message from a neighbour (the runtime's onLinkMessage). */
  onLinkMessage(message: LinkMessageEvent, nowMs: number): void {
    // A neighbour's bytes must never throw into the runtime's datagram handler.
    this.guard('handling a link message', () => {
      const out = this.exchange.receive(nowMs, { link: message.link, peer: message.peer }, message.payload, this.deps.runtime.sessionPeers());
      this.send(out.sends);
      if (out.accepted !== null) this.judge.add(out.accepted.window, out.accepted.reports);
    });
  }

  private scheduleCut(): void {
    const nowMs = this.deps.runtime.clock();
    const window = Math.floor(nowMs / reportWindowMs);
    this.cutTimer = setTimeout(() => this.guard('cutting a transit window', () => this.cut(window)), (window + 1) * reportWindowMs - nowMs);
  }

  /** `window` ended: its reports go to the judge and, signed, to the neighbours; it is judged after the grace. */
  private cut(window: number): void {
    this.scheduleCut();
    const runtime = this.deps.runtime;
    const own = this.totals.cut(runtime.mesh.dataCounts());
    this.judge.add(window, own);
    this.send(this.exchange.publish(runtime.clock(), window, own, runtime.sessionPeers()));
    // Half a window on, so that both ends of each link count the probes in the same window (cuts are aligned only to the clocks).
    this.later(reportWindowMs / 2, 'sending transit probes', () => this.probeIdle(own));
    this.later(reportGraceMs, 'judging a transit window', () => this.judgeWindow(window));
  }

  /** Runs `work` after `delayMs` unless the driver stops first. */
  private later(delayMs: number, doing: string, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.guard(doing, work);
    }, delayMs);
    this.timers.add(timer);
  }

  /**
   * Sends transit probes through each usable neighbour that carried none of this node's transit
   * in the window (`own`, this node's reports of it), the probes sent during that window left
   * out of that count.
   */
  private probeIdle(own: readonly TransitReport[]): void {
    if (this.planner === null) return;
    const mesh = this.deps.runtime.mesh;
    const linkOf = new Map<number, LinkId>();
    for (const view of mesh.neighbourViews()) if (view.usable && view.peer !== null && !linkOf.has(view.peer)) linkOf.set(view.peer, view.link);
    for (const report of own) {
      const link = linkOf.get(report.subject);
      const carried = report.handedTo - (this.probesSent.get(report.subject) ?? 0);
      if (link !== undefined && carried > 0) this.planner.sent(link, carried);
    }
    this.probesSent = new Map();
    const peerOf = new Map([...linkOf].map(([peer, link]) => [link, peer]));
    for (const { link, probes } of this.planner.due([...linkOf.values()])) {
      const target = mesh.transitProbeTarget(link);
      if (target === null) continue;
      for (let i = 0; i < probes; i++) this.deps.runtime.step({ kind: 'ping', dst: target, id: this.nextProbeId++, via: link });
      this.probesSent.set(peerOf.get(link)!, probes);
      this.probesTotal += probes;
    }
  }

  private judgeWindow(window: number): void {
    const runtime = this.deps.runtime;
    const neighbours = runtime.sessionPeers().map((entry) => entry.peer as number);
    const verdict = this.judge.judge(window, neighbours);
    this.deps.loop.step(runtime.clock(), verdict.findings, verdict.undecided);
  }

  private send(sends: readonly LinkSend[]): void {
    for (const { link, bytes } of sends) this.deps.runtime.sendLinkMessage(link, bytes);
  }

  /** Runs a timer's or a message's work; an error is reported, never thrown into the event loop (it would end the daemon). */
  private guard(doing: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.deps.onError?.(error as Error, doing);
    }
  }

  /** A reporter's SVID, checked against the anchors and revocations now: whose Ed25519 key it certifies. */
  private verifyCertificate(certificate: Uint8Array, nowMs: number): CertifiedKey {
    const svid = validateSvid(certificate, this.deps.anchors(), this.deps.trustDomain, nowMs, this.deps.isRevoked);
    return { node: nodeIdOfSpiffeId(parseSpiffeId(svid.spiffeId)), publicKey: svid.ed25519PublicKey, notAfterMs: svid.notAfterMs };
  }

  /** This node's certificate, or the one the session with neighbour `node` holds. */
  private certificateOf(node: NodeId): Uint8Array | null {
    const runtime = this.deps.runtime;
    if (node === this.self) return runtime.secure.certificate;
    const entry = runtime.sessionPeers().find((candidate) => candidate.peer === node);
    return entry === undefined ? null : runtime.secure.peerCertificateOf(entry.link);
  }
}
