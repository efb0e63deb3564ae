/**
 * MAPE-K in the twin: every node runs its own loop (src/mapek) over its own core, as the daemon
 * does. Monitor: each node counts the data it hands its neighbours and receives from them
 * (TransitCounters). Analyze: once per window the counters are cut into reports, and each node
 * judges its neighbours by the conservation of their transit, summed over the reports of their
 * neighbours, and its own outgoing links by their loss, from its and the far end's reports
 * (windowFindings, the step the daemon's judges share). The reports travel by the simulator
 * here and none is lost; the daemon carries them over its links (src/mapek/report-exchange.ts).
 * Plan and Execute: the node's MapeK picks an action and carries it out through a CoreActuator
 * that hands inputs to that node's core, like any other input of the twin.
 *
 * A node that restarts gets a fresh loop and fresh counters (its core forgot the inputs the old
 * loop gave it); the Knowledge of a node survives restarts, as the daemon's SQLite does.
 */

import { CoreActuator, type CoreHandle } from '../mapek/core-actuator.js';
import { MemoryKnowledge } from '../mapek/knowledge.js';
import { MapeK, type AuditEntry, type LoopConfig } from '../mapek/loop.js';
import { LinkLossMonitor, linkDeliveries, linkLossDefaults, type LinkLossRule } from '../mapek/link-loss.js';
import { conservationDefaults, conserve, SlidingConservation, TransitCounters, type ConservationRule, type TransitReport } from '../mapek/transit-accounting.js';
import { windowFindings } from '../mapek/transit-judge.js';
import { detectorFindings, strongestFindings, type WindowScorer } from '../mapek/detector-findings.js';
import type { WindowScores } from '../mapek/evaluation.js';
import type { TelemetryTap } from './telemetry-tap.js';
import type { Transmit } from '../mesh/types.js';
import type { LinkDrop } from './link-model.js';
import type { Network, SimEdge } from './network.js';

/** Choices of the twin's loops. */
export interface SelfHealingOptions {
  /** Length of a monitoring window. */
  readonly windowMs: number;
  /** First window start (flows usually start after a warm-up). */
  readonly startMs: number;
  /** No window ends after this. */
  readonly endMs: number;
  readonly loop?: Partial<LoopConfig>;
  readonly conservation?: ConservationRule;
  readonly linkLoss?: LinkLossRule;
  /**
   * The GraphSAGE detector as a second analyser (src/mapek/detector-findings.ts): each window the
   * tap's newest telemetry window is scored once, and every loop gets findings about its
   * neighbours from it, merged with the rules' (the stronger per subject). The tap cuts its
   * windows on the same clock; a window it has not cut yet is scored at the next cut.
   */
  readonly detector?: { readonly scorer: WindowScorer; readonly tap: TelemetryTap };
}

/** What the loops did in a run, for reports. */
export interface SelfHealingSummary {
  readonly windows: number;
  readonly incidentsOpened: number;
  readonly actionsStarted: number;
  readonly actionsSucceeded: number;
  readonly actionsFailed: number;
  readonly actionsRefused: number;
  /** Distinct nodes some neighbour quarantined, by twin index. */
  readonly quarantinedNodes: readonly number[];
}

/** One node's loop and counters, for one boot of the node. */
interface NodeLoop {
  readonly boot: number;
  readonly loop: MapeK;
  readonly counters: TransitCounters;
  readonly links: LinkLossMonitor;
}

/** The loops of every node of a twin run (see the module comment). */
export class TwinSelfHealing {
  /** Every decision of every node, in time order, with the node (twin index) that made it. */
  readonly audit: (AuditEntry & { readonly node: number })[] = [];
  private readonly loops: (NodeLoop | null)[];
  private readonly knowledge: MemoryKnowledge[];
  private windows = 0;
  /** Every node judges its neighbours from the same reports, so the sums over windows are kept once for all. */
  private readonly conservation: SlidingConservation;
  /** Telemetry windows of the tap scored so far. */
  private scoredWindows = 0;
  private readonly indexOfId: ReadonlyMap<number, number>;

  constructor(
    private readonly network: Network,
    private readonly options: SelfHealingOptions,
  ) {
    if (!(options.windowMs > 0)) throw new RangeError(`TwinSelfHealing: expected windowMs > 0, got ${options.windowMs}`);
    this.loops = network.nodes.map(() => null);
    this.knowledge = network.nodes.map(() => new MemoryKnowledge());
    this.conservation = new SlidingConservation(options.conservation ?? conservationDefaults);
    this.indexOfId = new Map(network.nodes.map((node) => [node.id, node.index]));
  }

  /** Hooks into the network's observer and schedules the windows. */
  attach(): void {
    this.network.addObserver({ onTransmit: (from, edge, transmit, arrival) => this.count(from, edge, transmit, arrival) });
    this.network.at(this.options.startMs, () => {
      for (const node of this.network.nodes) this.loopOf(node.index)?.counters.reset();
      this.scheduleWindow(this.options.startMs);
    });
  }

  /** Totals of the audit so far. */
  summary(): SelfHealingSummary {
    const count = (event: AuditEntry['event']): number => this.audit.filter((entry) => entry.event === event).length;
    const indexOfId = this.indexOfId;
    const quarantined = new Set<number>();
    for (const entry of this.audit) {
      // Subjects name nodes by NodeId (see CoreActuator); the summary names them by twin index.
      if (entry.event === 'actionStarted' && entry.action === 'quarantineNode') quarantined.add(indexOfId.get(Number(entry.subject.slice('node:'.length)))!);
    }
    return {
      windows: this.windows,
      incidentsOpened: count('incidentOpened'),
      actionsStarted: count('actionStarted'),
      actionsSucceeded: count('actionSucceeded'),
      actionsFailed: count('actionFailed'),
      actionsRefused: count('actionRefused'),
      quarantinedNodes: [...quarantined].sort((a, b) => a - b),
    };
  }

  /** What each node's own counters see of a data transmit: the sender's handedTo, the receiver's receivedFrom. */
  private count(from: number, edge: SimEdge, transmit: Transmit, arrival: number | LinkDrop): void {
    const data = transmit.data;
    if (data === undefined) return;
    const nodes = this.network.nodes;
    const to = edge.a === from ? edge.b : edge.a;
    this.loopOf(from)?.counters.sent(nodes[to]!.id, data.dst !== nodes[to]!.id);
    // Booked when sent, as a receiver that reads the link's packet counters knows which of the sent ones it got.
    if (typeof arrival === 'number') this.loopOf(to)?.counters.received(nodes[from]!.id, data.src !== nodes[from]!.id);
  }

  private scheduleWindow(startMs: number): void {
    const endMs = startMs + this.options.windowMs;
    if (endMs > this.options.endMs) return;
    this.network.at(endMs, () => {
      this.cut(endMs);
      this.scheduleWindow(endMs);
    });
  }

  /** The window ended: reports from every live node, then every live node's loop steps on its neighbours' conservation. */
  private cut(nowMs: number): void {
    this.windows++;
    const neighbours = this.network.nodes.map((node) => node.mesh?.neighbourViews().flatMap((view) => (view.usable && view.peer !== null ? [view.peer as number] : [])) ?? []);
    const ownReports = this.network.nodes.map((node): TransitReport[] => this.loopOf(node.index)?.counters.cut(neighbours[node.index]!) ?? []);
    const reports = ownReports.flat();
    const conservation = this.conservation.push(conserve(reports));
    const deliveries = linkDeliveries(reports);
    const scores = this.scoreNewestWindow();
    for (const node of this.network.nodes) {
      const state = this.loopOf(node.index);
      if (state === null) continue;
      const rules = windowFindings(ownReports[node.index]!, conservation, deliveries, neighbours[node.index]!, state.links, this.options.conservation ?? conservationDefaults);
      state.loop.step(nowMs, scores === null ? rules : strongestFindings(rules, this.detectorFindingsOf(scores, ownReports[node.index]!)));
    }
  }

  /** The detector's scores of the tap's newest window, once per window (null without a detector or a new window). */
  private scoreNewestWindow(): WindowScores | null {
    const detector = this.options.detector;
    if (detector === undefined || detector.tap.windows.length === this.scoredWindows) return null;
    const windows = detector.tap.windows;
    this.scoredWindows = windows.length;
    return detector.scorer.scoreWindow(windows.at(-1)!, windows.slice(-4, -1));
  }

  /**
   * The detector's findings for one loop: about the neighbours it handed transit to in the window
   * (`own`, its reports of it), as conservation judges only those. Once the loop has quarantined
   * a node it hands it nothing, so the incident clears and the action counts as a success; the
   * detector's features remember a node's past loss for many windows (deliveryRecent), and
   * judging it on them would fail every action that worked.
   */
  private detectorFindingsOf(scores: WindowScores, own: readonly TransitReport[]): ReturnType<typeof detectorFindings> {
    const rows = own.flatMap((report) => (report.handedTo > 0 ? (this.indexOfId.get(report.subject) ?? []) : []));
    return detectorFindings(scores, this.options.detector!.scorer.nodeThreshold, rows, (row) => this.network.nodes[row]!.id);
  }

  /** The loop of the node's current boot (made on first use after a boot), or null while it is down. */
  private loopOf(index: number): NodeLoop | null {
    const node = this.network.nodes[index]!;
    if (node.mesh === null) return null;
    const current = this.loops[index];
    if (current !== null && current !== undefined && current.boot === node.boots) return current;
    const fresh: NodeLoop = { boot: node.boots, loop: this.newLoop(index), counters: new TransitCounters(node.id), links: new LinkLossMonitor(node.id, this.options.linkLoss ?? linkLossDefaults) };
    this.loops[index] = fresh;
    return fresh;
  }

  private newLoop(index: number): MapeK {
    const network = this.network;
    const handle: CoreHandle = {
      links: () => network.nodes[index]!.mesh?.neighbourViews() ?? [],
      input: (input) => network.input(index, input),
    };
    return new MapeK(new CoreActuator(handle), this.knowledge[index]!, (entry) => this.audit.push({ ...entry, node: index }), this.options.loop);
  }
}
