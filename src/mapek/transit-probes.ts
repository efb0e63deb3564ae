/**
 * Transit probes: what a node sends through a neighbour that carried none of its data lately.
 *
 * Data a node hands a neighbour is evidence of how the neighbour forwards (see
 * transit-accounting.ts): its neighbours count what goes in and what comes out. A neighbour that
 * carries no transit gives none, so a grey hole that routes have moved away from, or that
 * carries traffic only in bursts, looks healthy, and a node that dropped data for a reason that
 * has passed keeps looking guilty. A probe fills the silence: an echo request sent through the
 * neighbour (the `via` of a ping) to a destination just beyond it, counted by the neighbour's
 * neighbours like any data. A grey hole that drops all it forwards drops probes too; one that
 * reads the kind of each packet (visible where link encryption ends) could spare echo requests,
 * which probes sealed as application datagrams would prevent (not built).
 *
 * The planner is sans-IO: the driver tells it what transit the node put on each link during an
 * interval (data the neighbour must hand on; not data addressed to the neighbour, nor the node's
 * own probes), and asks at the end of the interval which links to probe. Transit is evidence
 * too, so a link that carried some in the interval gets no probe.
 */

import type { LinkId } from '../mesh/neighbour.js';

/** Choices of the planner. */
export interface TransitProbeRule {
  /** Probes sent through an idle neighbour per interval. */
  readonly probesPerInterval: number;
}

/** The defaults: two probes per idle neighbour and interval (a second). */
export const transitProbeDefaults: TransitProbeRule = { probesPerInterval: 2 };
/** Most probes per idle neighbour and interval a planner takes. */
export const transitProbesMax = 64;
/**
 * Echo ids of transit probes start here. Other echo requests (an operator's ping) use ids below
 * it, so that a probe's reply is never taken for theirs.
 */
export const transitProbeIdBase = 0x4000_0000;

/** Counts the data a node put on each link during the current interval (see the module comment). */
export class TransitProbePlanner {
  private readonly dataSent = new Map<LinkId, number>();

  constructor(readonly rule: TransitProbeRule = transitProbeDefaults) {
    if (!Number.isInteger(rule.probesPerInterval) || rule.probesPerInterval < 1 || rule.probesPerInterval > transitProbesMax) {
      throw new RangeError(`TransitProbePlanner: expected probesPerInterval to be an integer in 1..${transitProbesMax}, got ${rule.probesPerInterval}`);
    }
  }

  /** The node put `count` data packets that the neighbour on `link` must hand on (its own data or transit) on it. */
  sent(link: LinkId, count = 1): void {
    this.dataSent.set(link, (this.dataSent.get(link) ?? 0) + count);
  }

  /** Ends the interval: the links of `usableLinks` that carried no transit, each with the probes to send; then starts the next interval. */
  due(usableLinks: readonly LinkId[]): { readonly link: LinkId; readonly probes: number }[] {
    const idle = usableLinks.filter((link) => (this.dataSent.get(link) ?? 0) === 0).map((link) => ({ link, probes: this.rule.probesPerInterval }));
    this.dataSent.clear();
    return idle;
  }
}
