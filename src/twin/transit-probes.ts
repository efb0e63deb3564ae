/**
 * Transit probes in the twin: every node runs a TransitProbePlanner (src/mapek/transit-probes.ts)
 * over what it puts on its links, and at the end of every interval sends echo requests through
 * each usable neighbour that carried none of its transit, to the nearest destination beyond that
 * neighbour (MeshNode.transitProbeTarget). The probes are ordinary inputs of the node's core.
 */

import { transitProbeIdBase, TransitProbePlanner, type TransitProbeRule } from '../mapek/transit-probes.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { Transmit } from '../mesh/types.js';
import { DataKind } from '../wire/messages.js';
import type { Network, SimEdge } from './network.js';

export { transitProbeIdBase } from '../mapek/transit-probes.js';

/** Choices of the twin's probes. */
export interface TransitProbeOptions {
  /** Length of an interval. */
  readonly intervalMs: number;
  /** First interval start. */
  readonly startMs: number;
  /** No interval ends after this. */
  readonly endMs: number;
  readonly rule: TransitProbeRule;
}

/** The probes of every node of a twin run (see the module comment). */
export class TwinTransitProbes {
  /** Probes sent so far. */
  sentTotal = 0;
  private readonly planners: TransitProbePlanner[];
  private nextId = transitProbeIdBase;

  constructor(
    private readonly network: Network,
    private readonly options: TransitProbeOptions,
  ) {
    if (!(options.intervalMs > 0)) throw new RangeError(`TwinTransitProbes: expected intervalMs > 0, got ${options.intervalMs}`);
    this.planners = network.nodes.map(() => new TransitProbePlanner(options.rule));
  }

  /** Hooks into the network's observer and schedules the intervals. */
  attach(): void {
    this.network.addObserver({
      onTransmit: (from, edge, transmit) => {
        if (this.isTransitEvidence(from, edge, transmit)) this.planners[from]!.sent(edge.index as LinkId);
      },
    });
    this.network.at(this.options.startMs + this.options.intervalMs, () => this.interval());
  }

  /**
   * True when `transmit` tests how the neighbour forwards: data the neighbour must hand on (not
   * data addressed to it), other than a probe `from` sent itself. Probes are evidence for the
   * probed node's neighbours, but they must not make the prober think the link carried data and
   * stop probing it every other interval.
   */
  private isTransitEvidence(from: number, edge: SimEdge, transmit: Transmit): boolean {
    const data = transmit.data;
    if (data === undefined) return false;
    const nodes = this.network.nodes;
    if (data.dst === nodes[this.network.peerOf(edge, from)]!.id) return false;
    return !(data.kind === DataKind.echoRequest && data.id >= transitProbeIdBase && data.src === nodes[from]!.id);
  }

  private interval(): void {
    const now = this.network.nowMs;
    for (const node of this.network.nodes) {
      const mesh = node.mesh;
      const planner = this.planners[node.index]!;
      if (mesh === null) {
        planner.due([]);
        continue;
      }
      const usable = mesh.neighbourViews().filter((view) => view.usable).map((view) => view.link);
      for (const { link, probes } of planner.due(usable)) this.probe(node.index, link, probes);
    }
    const next = now + this.options.intervalMs;
    if (next <= this.options.endMs) this.network.at(next, () => this.interval());
  }

  /** Sends `probes` echo requests through the neighbour on `link` of node `index`. */
  private probe(index: number, link: LinkId, probes: number): void {
    const target = this.network.nodes[index]!.mesh!.transitProbeTarget(link);
    if (target === null) return;
    for (let i = 0; i < probes; i++) {
      this.network.input(index, { kind: 'ping', dst: target, id: this.nextId++, via: link });
      this.sentTotal++;
    }
  }
}
