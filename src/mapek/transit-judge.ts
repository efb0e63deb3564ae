import type { LinkDataCounts } from '../mesh/types.js';
import { LinkLossMonitor, linkDeliveries, linkLossDefaults, type LinkDelivery, type LinkLossRule } from './link-loss.js';
import type { Finding } from './loop.js';
import { conservationDefaults, conservationFindings, conserve, SlidingConservation, type Conservation, type ConservationRule, type TransitReport } from './transit-accounting.js';

/**
 * Judging a node's neighbours from transit reports, the same way in the twin and in the daemon.
 *
 * `windowFindings` is the step both drivers share: a node's findings for one window are the
 * conservation verdicts about the neighbours it hands transit to (conservationFindings) and the
 * loss of its own outgoing links (LinkLossMonitor). The twin computes the verdicts once for all
 * nodes from every report (its reports travel by the simulator and none is lost); a daemon
 * computes its own from the reports that reached it, with TransitJudge below.
 *
 * TransitJudge adds the one rule the wire needs: a missing reporter gives no verdict rather than a
 * false one. A neighbour X of this node is judged in a window only when every node that reported
 * about X in the last reporterMemoryWindows windows reported again; otherwise X's handed-on
 * transit could be short by exactly the missing report, and X would look like a grey hole. X
 * itself may suppress reports that can reach this node only through X: that postpones its
 * verdict by reporterMemoryWindows windows at most, after which the silent reporter no longer
 * counts as expected and X is judged without its handed-on share, which can only make X look
 * worse.
 */

/** Windows a reporter stays expected after its last report about a subject (then it counts as gone). */
export const reporterMemoryWindows = 5;

/**
 * The findings of one acting node for one window: its neighbours' conservation verdicts (about
 * those it handed transit to, from its own reports `own`) and its own links' loss.
 */
export function windowFindings(
  own: readonly TransitReport[],
  verdicts: ReadonlyMap<number, Conservation>,
  deliveries: ReadonlyMap<string, LinkDelivery>,
  neighbours: Iterable<number>,
  links: LinkLossMonitor,
  rule: ConservationRule = conservationDefaults,
): Finding[] {
  return [...conservationFindings(own, verdicts, rule), ...links.step(neighbours, deliveries)];
}

/**
 * A core's per-link data totals (MeshNode.dataCounts) cut into one report per neighbour and
 * window, as TransitCounters does for counts fed packet by packet: one per usable neighbour (zeros
 * included) and per other neighbour that carried data in the window.
 */
export class TransitTotals {
  private last = new Map<number, LinkDataCounts>();

  constructor(readonly reporter: number) {}

  /** This window's reports, from the totals now; starts the next window. */
  cut(totals: readonly LinkDataCounts[]): TransitReport[] {
    const bySubject = new Map<number, { handedTo: number; receivedFrom: number; sent: number; received: number }>();
    const next = new Map<number, LinkDataCounts>();
    for (const now of totals) {
      next.set(now.link, now);
      // A link whose totals went back was removed and added again: its totals start from zero.
      const before = this.last.get(now.link);
      const since = before === undefined || before.sent > now.sent || before.received > now.received ? null : before;
      const delta = { handedTo: now.handedTo - (since?.handedTo ?? 0), receivedFrom: now.receivedFrom - (since?.receivedFrom ?? 0), sent: now.sent - (since?.sent ?? 0), received: now.received - (since?.received ?? 0) };
      if (now.peer === null || now.peer === this.reporter || (!now.usable && delta.sent === 0 && delta.received === 0)) continue;
      const sum = bySubject.get(now.peer) ?? { handedTo: 0, receivedFrom: 0, sent: 0, received: 0 };
      bySubject.set(now.peer, { handedTo: sum.handedTo + delta.handedTo, receivedFrom: sum.receivedFrom + delta.receivedFrom, sent: sum.sent + delta.sent, received: sum.received + delta.received });
    }
    this.last = next;
    return [...bySubject]
      .sort(([a], [b]) => a - b)
      .map(([subject, counts]) => ({ reporter: this.reporter, subject, ...counts }));
  }
}

/** Rules of a TransitJudge; every field has a default. */
export interface JudgeRules {
  readonly conservation: ConservationRule;
  readonly linkLoss: LinkLossRule;
  readonly reporterMemoryWindows: number;
}

/** Windows a judge counts, for metrics. */
export interface JudgeStats {
  windows: number;
  /** Neighbour-windows left without a verdict because an expected reporter was missing. */
  incomplete: number;
  /** Reports that came for a window already judged (or too old). */
  late: number;
}

/** One daemon node's judging of its neighbours from the reports that reached it (see the module comment). */
export class TransitJudge {
  readonly stats: JudgeStats = { windows: 0, incomplete: 0, late: 0 };
  private readonly rules: JudgeRules;
  /** Reports by window, keyed `reporter>subject`. */
  private readonly windows = new Map<number, Map<string, TransitReport>>();
  /** Per subject, the last window each reporter reported about it. */
  private readonly lastReported = new Map<number, Map<number, number>>();
  private readonly conservation: SlidingConservation;
  private readonly links: LinkLossMonitor;
  private judgedUpTo = -Infinity;

  constructor(
    readonly self: number,
    rules: Partial<JudgeRules> = {},
  ) {
    this.rules = { conservation: conservationDefaults, linkLoss: linkLossDefaults, reporterMemoryWindows, ...rules };
    this.conservation = new SlidingConservation(this.rules.conservation);
    this.links = new LinkLossMonitor(self, this.rules.linkLoss);
  }

  /** Reports of `window` that reached this node (its own included); a later copy of a report replaces the earlier one. */
  add(window: number, reports: readonly TransitReport[]): void {
    if (window <= this.judgedUpTo) {
      this.stats.late += reports.length;
      return;
    }
    let held = this.windows.get(window);
    if (held === undefined) {
      held = new Map();
      this.windows.set(window, held);
    }
    for (const report of reports) held.set(`${report.reporter}>${report.subject}`, report);
  }

  /**
   * The findings of `window` about this node's neighbours (`neighbours`: its usable neighbours
   * now); forgets that window and any before it.
   */
  judge(window: number, neighbours: Iterable<number>): Finding[] {
    const reports = [...(this.windows.get(window)?.values() ?? [])];
    for (const held of this.windows.keys()) if (held <= window) this.windows.delete(held);
    this.judgedUpTo = Math.max(this.judgedUpTo, window);
    this.stats.windows++;
    const own = reports.filter((report) => report.reporter === this.self);
    const verdicts = this.conservation.push(conserve(this.complete(window, own, reports)));
    return windowFindings(own, verdicts, linkDeliveries(reports), neighbours, this.links, this.rules.conservation);
  }

  /** The reports about this node's neighbours (the subjects of `own`) whose expected reporters all reported. */
  private complete(window: number, own: readonly TransitReport[], reports: readonly TransitReport[]): TransitReport[] {
    const bySubject = new Map<number, TransitReport[]>();
    for (const report of reports) bySubject.set(report.subject, [...(bySubject.get(report.subject) ?? []), report]);
    const oldest = window - this.rules.reporterMemoryWindows;
    const complete: TransitReport[] = [];
    for (const { subject } of own) {
      const about = bySubject.get(subject)!;
      const present = new Set(about.map((report) => report.reporter));
      const last = this.lastReported.get(subject) ?? new Map<number, number>();
      const missing = [...last].some(([reporter, lastWindow]) => !present.has(reporter) && lastWindow >= oldest);
      if (missing) this.stats.incomplete++;
      else complete.push(...about);
      for (const reporter of present) last.set(reporter, window);
      this.lastReported.set(subject, last);
    }
    for (const [subject, last] of this.lastReported) {
      for (const [reporter, lastWindow] of last) if (lastWindow < oldest) last.delete(reporter);
      if (last.size === 0) this.lastReported.delete(subject);
    }
    return complete;
  }
}
