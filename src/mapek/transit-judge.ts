import type { LinkDataCounts } from '../mesh/types.js';
import { LinkLossMonitor, linkDeliveries, linkLossDefaults, type LinkDelivery, type LinkLossRule } from './link-loss.js';
import type { Subject } from './actions.js';
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
 * false one. A neighbour X of this node is judged in a window only when every node expected to
 * report about X did: each node that reported about X lately, and each node X's own report lists
 * as its neighbour. Otherwise X's handed-on transit could be short by exactly the missing report,
 * and X would look like a grey hole; X is then undecided (the loop holds its incident where it
 * is). An expected reporter stops being expected once it has been silent for more than
 * reporterMemoryWindows windows. So X gains little by suppressing reports that can reach this
 * node only through X, or by listing neighbours that never report: either postpones its verdict
 * by reporterMemoryWindows windows at most, after which it is judged without the silent
 * reporter's handed-on share, which can only make it look worse.
 */

/** Windows an expected reporter may stay silent before it no longer counts as expected (then it counts as gone). */
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
      const minus = (total: number, before: number | undefined): number => Math.max(0, total - (before ?? 0));
      const delta = { handedTo: minus(now.handedTo, since?.handedTo), receivedFrom: minus(now.receivedFrom, since?.receivedFrom), sent: minus(now.sent, since?.sent), received: minus(now.received, since?.received) };
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
  /** Neighbour-windows left undecided because an expected reporter was missing. */
  incomplete: number;
  /** Reports that came for a window already judged (or too old). */
  late: number;
}

/** What a judge decided about one window. */
export interface JudgeVerdict {
  readonly findings: Finding[];
  /** Neighbours it handed transit to but could not judge (an expected report is missing). */
  readonly undecided: Subject[];
}

/** What the judge remembers of one (subject, reporter) pair. */
interface ReporterState {
  /** The last window the reporter reported about the subject, or the subject listed the reporter as its neighbour. */
  lastSeen: number;
  /** The first window of the reporter's current silence about the subject; null while it reports. */
  silentSince: number | null;
}

/** One daemon node's judging of its neighbours from the reports that reached it (see the module comment). */
export class TransitJudge {
  readonly stats: JudgeStats = { windows: 0, incomplete: 0, late: 0 };
  private readonly rules: JudgeRules;
  /** Reports by window, keyed `reporter>subject`. */
  private readonly windows = new Map<number, Map<string, TransitReport>>();
  /** Per subject, what is known of each node expected to report about it. */
  private readonly reporters = new Map<number, Map<number, ReporterState>>();
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
   * Judges `window` about this node's neighbours (`neighbours`: its usable neighbours now), and
   * forgets that window and any before it.
   */
  judge(window: number, neighbours: Iterable<number>): JudgeVerdict {
    const reports = [...(this.windows.get(window)?.values() ?? [])];
    for (const held of this.windows.keys()) if (held <= window) this.windows.delete(held);
    this.judgedUpTo = Math.max(this.judgedUpTo, window);
    this.stats.windows++;
    const own = reports.filter((report) => report.reporter === this.self);
    const { complete, incomplete } = this.split(window, own, reports);
    const verdicts = this.conservation.push(conserve(complete, reports));
    const findings = windowFindings(own, verdicts, linkDeliveries(reports), neighbours, this.links, this.rules.conservation);
    const undecided = own.filter((report) => report.handedTo > 0 && incomplete.has(report.subject)).map((report): Subject => ({ kind: 'node', node: report.subject }));
    return { findings, undecided };
  }

  /** The reports about this node's neighbours (the subjects of `own`) whose expected reporters all reported, and the neighbours left incomplete. */
  private split(window: number, own: readonly TransitReport[], reports: readonly TransitReport[]): { complete: TransitReport[]; incomplete: Set<number> } {
    const complete: TransitReport[] = [];
    const incomplete = new Set<number>();
    for (const { subject } of own) {
      const about = reports.filter((report) => report.subject === subject);
      const listed = reports.filter((report) => report.reporter === subject).map((report) => report.subject);
      if (this.expectedMissing(window, subject, new Set(about.map((report) => report.reporter)), listed)) {
        incomplete.add(subject);
        this.stats.incomplete++;
      } else {
        complete.push(...about);
      }
    }
    this.forget(window);
    return { complete, incomplete };
  }

  /** Notes who reported about `subject` in `window` and whom it listed; true when an expected reporter is missing. */
  private expectedMissing(window: number, subject: number, present: ReadonlySet<number>, listed: readonly number[]): boolean {
    const known = this.reporters.get(subject) ?? new Map<number, ReporterState>();
    this.reporters.set(subject, known);
    for (const reporter of [...present, ...listed]) {
      const state = known.get(reporter) ?? { lastSeen: window, silentSince: null };
      state.lastSeen = window;
      known.set(reporter, state);
    }
    let missing = false;
    for (const [reporter, state] of known) {
      if (present.has(reporter)) {
        state.silentSince = null;
        continue;
      }
      state.silentSince ??= window;
      if (state.silentSince >= window - this.rules.reporterMemoryWindows) missing = true;
    }
    return missing;
  }

  /** Forgets reporters neither heard nor listed for longer than the memory. */
  private forget(window: number): void {
    for (const [subject, known] of this.reporters) {
      for (const [reporter, state] of known) if (state.lastSeen < window - this.rules.reporterMemoryWindows) known.delete(reporter);
      if (known.size === 0) this.reporters.delete(subject);
    }
  }
}
