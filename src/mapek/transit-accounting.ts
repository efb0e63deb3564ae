import { FaultClass } from '../telemetry/types.js';
import type { Finding } from './loop.js';

/**
 * Conservation of transit flow, judged by a node's neighbours (the idea of the Watchers
 * protocol, Bradley et al. 1998): what the neighbours of X handed X for others must come out of
 * X again at its neighbours. X cannot hide a grey hole behind its own counters, because none of
 * its counters are used: each neighbour N counts the transit data N put on its link to X (not
 * addressed to X) and the transit data N received from X (not originated by X). Summed over
 * X's neighbours, the shortfall is what X dropped, plus what the links lost and what was in
 * flight at the window's edges.
 *
 * Sans-IO: the driver feeds the counters from what its node sent and received, cuts them once
 * per window into reports, and hands each node the reports of its neighbours' neighbours. In the
 * twin the reports travel by the simulator (one window late at most); carrying them over the
 * wire is the daemon's part.
 */

/** One reporter's data counts about one neighbour (the subject) for one window. */
export interface TransitReport {
  readonly reporter: number;
  readonly subject: number;
  /** Transit data the reporter handed the subject (addressed to a third node). */
  readonly handedTo: number;
  /** Transit data the reporter received from the subject (originated by a third node). */
  readonly receivedFrom: number;
  /** All data the reporter put on its link to the subject, and all it received on it (link loss, see link-loss.ts). */
  readonly sent: number;
  readonly received: number;
}

/** The conservation of one subject in one window, summed over the neighbours that reported. */
export interface Conservation {
  readonly subject: number;
  readonly handedIn: number;
  readonly handedOn: number;
  readonly reporters: number;
  /** Share of the transit handed in that did not come out: 0..1. */
  readonly dropShare: number;
}

/** When a subject's conservation turns into a finding. */
export interface ConservationRule {
  /** Fewest transit packets handed in for a verdict. */
  readonly handedInMin: number;
  /** Most windows summed to reach handedInMin (SlidingConservation). */
  readonly windowsMax: number;
  /** Drop share that maps to the loop's default threshold (score 0.5); score = dropShare / (2 x this), capped at 1. */
  readonly dropShareAtThreshold: number;
  /** A drop share from here on is a black hole, below it a grey hole. */
  readonly blackHoleShare: number;
}

/**
 * Defaults: a verdict needs 40 transit packets within the last 5 windows; 30 % of them missing
 * is the threshold. A healthy node's shortfall is its links' loss and the packets in flight at
 * the window's edges (a few percent); a grey hole in the sense of the fault model drops half
 * or more.
 */
export const conservationDefaults: ConservationRule = { handedInMin: 40, windowsMax: 5, dropShareAtThreshold: 0.3, blackHoleShare: 0.95 };

/** Counts of one neighbour in one window. */
interface Counts {
  handedTo: number;
  receivedFrom: number;
  sent: number;
  received: number;
}

/** One node's data counts per neighbour for the current window. */
export class TransitCounters {
  private readonly counts = new Map<number, Counts>();

  constructor(readonly reporter: number) {}

  /** The node put a data packet on its link to `neighbour`; `transit` when it is addressed to a third node. */
  sent(neighbour: number, transit: boolean): void {
    const count = this.entry(neighbour);
    count.sent++;
    if (transit) count.handedTo++;
  }

  /** The node received a data packet from `neighbour`; `transit` when a third node originated it. */
  received(neighbour: number, transit: boolean): void {
    const count = this.entry(neighbour);
    count.received++;
    if (transit) count.receivedFrom++;
  }

  /**
   * This window's reports: one per neighbour in `neighbours` (zeros included: a neighbour that
   * got nothing from us must say so) and per other neighbour that carried data; starts the
   * next window.
   */
  cut(neighbours: Iterable<number>): TransitReport[] {
    for (const neighbour of neighbours) this.entry(neighbour);
    const reports = [...this.counts].map(([subject, count]) => ({ reporter: this.reporter, subject, ...count }));
    this.counts.clear();
    return reports;
  }

  /** Forgets the window so far (the node restarted: its counts start again). */
  reset(): void {
    this.counts.clear();
  }

  private entry(neighbour: number): Counts {
    let count = this.counts.get(neighbour);
    if (count === undefined) {
      count = { handedTo: 0, receivedFrom: 0, sent: 0, received: 0 };
      this.counts.set(neighbour, count);
    }
    return count;
  }
}

/**
 * Sums the reports per subject. `all` (default: `reports`) are every report of the window, the
 * subjects' own among them: where the subject reported what it received on its link from a
 * reporter, the reporter's handedTo counts scaled by that link's delivery (the subject's
 * received over the reporter's sent, at most 1). So neither a reporter that inflates what it
 * handed the subject (a lying neighbour framing it) nor a lossy link into the subject counts as
 * the subject's drop. A subject that under-reports what it received only moves the shortfall onto
 * that link, which the reporter judges as its own outgoing link's loss (link-loss.ts) and acts on.
 */
export function conserve(reports: Iterable<TransitReport>, all?: Iterable<TransitReport>): Map<number, Conservation> {
  const listed = [...reports];
  const receivedBy = new Map<string, number>();
  for (const report of all ?? listed) receivedBy.set(`${report.reporter}>${report.subject}`, report.received);
  const sums = new Map<number, { handedIn: number; handedOn: number; reporters: number }>();
  for (const report of listed) {
    checkCounts('conserve', report);
    const sum = sums.get(report.subject) ?? { handedIn: 0, handedOn: 0, reporters: 0 };
    sum.handedIn += report.handedTo * linkDelivery(report, receivedBy.get(`${report.subject}>${report.reporter}`));
    sum.handedOn += report.receivedFrom;
    sum.reporters++;
    sums.set(report.subject, sum);
  }
  const out = new Map<number, Conservation>();
  for (const [subject, sum] of sums) {
    out.set(subject, { subject, ...sum, dropShare: dropShareOf(sum.handedIn, sum.handedOn) });
  }
  return out;
}

/** The share of what `report`'s reporter sent its subject that the subject says it received (1 when it did not say, or nothing was sent). */
function linkDelivery(report: TransitReport, receivedBySubject: number | undefined): number {
  if (receivedBySubject === undefined || report.sent === 0) return 1;
  return Math.min(1, receivedBySubject / report.sent);
}

/**
 * Conservation over a sliding window: per subject, the newest windows are summed until they
 * hold handedInMin transit packets, at most windowsMax of them, so that a grey hole on a
 * path with little traffic is judged too (a few windows later). A subject whose newest window
 * had less than handedInMin / windowsMax packets handed in gets no verdict: once the traffic
 * has moved away (it was quarantined), old windows must not keep its incident open.
 */
export class SlidingConservation {
  /** The newest window first. */
  private readonly history: ReadonlyMap<number, Conservation>[] = [];

  constructor(private readonly rule: ConservationRule = conservationDefaults) {}

  /** Adds one window's conservation and returns the summed verdicts. */
  push(window: ReadonlyMap<number, Conservation>): Map<number, Conservation> {
    this.history.unshift(window);
    this.history.length = Math.min(this.history.length, this.rule.windowsMax);
    const verdicts = new Map<number, Conservation>();
    for (const [subject, newest] of window) {
      if (newest.handedIn * this.rule.windowsMax < this.rule.handedInMin) continue;
      verdicts.set(subject, this.summed(subject, newest.reporters));
    }
    return verdicts;
  }

  private summed(subject: number, reporters: number): Conservation {
    let handedIn = 0;
    let handedOn = 0;
    for (const window of this.history) {
      const entry = window.get(subject);
      if (entry === undefined) break;
      handedIn += entry.handedIn;
      handedOn += entry.handedOn;
      if (handedIn >= this.rule.handedInMin) break;
    }
    return { subject, handedIn, handedOn, reporters, dropShare: dropShareOf(handedIn, handedOn) };
  }
}

/**
 * The findings of one acting node about its neighbours, from its own reports of this window:
 * one per neighbour it handed transit to whose conservation had enough transit to judge. A
 * node judges only the neighbours it routes others' traffic through: once it has quarantined
 * one, it hands it nothing, its incident clears and the quarantine counts as a success even
 * when other traffic (a leaf behind the suspect) must still cross the suspect. A neighbour
 * without a verdict gets no finding (the loop reads that as below threshold).
 */
export function conservationFindings(ownReports: readonly TransitReport[], conservation: ReadonlyMap<number, Conservation>, rule: ConservationRule = conservationDefaults): Finding[] {
  const findings: Finding[] = [];
  for (const report of ownReports) {
    const verdict = conservation.get(report.subject);
    if (report.handedTo === 0 || verdict === undefined || verdict.handedIn < rule.handedInMin) continue;
    findings.push({
      subject: { kind: 'node', node: report.subject },
      cause: verdict.dropShare >= rule.blackHoleShare ? FaultClass.blackHole : FaultClass.greyHole,
      score: Math.min(1, verdict.dropShare / (2 * rule.dropShareAtThreshold)),
      evidence: { handedIn: verdict.handedIn, handedOn: verdict.handedOn, reporters: verdict.reporters, dropShare: verdict.dropShare, ownHandedTo: report.handedTo },
    });
  }
  return findings;
}

/** The share of `handedIn` that did not come out, in 0..1 (more out than in: packets in flight at a window edge). */
function dropShareOf(handedIn: number, handedOn: number): number {
  return handedIn === 0 ? 0 : Math.min(1, Math.max(0, 1 - handedOn / handedIn));
}

/** Throws unless every count of `report` is a number >= 0. */
export function checkCounts(caller: string, report: TransitReport): void {
  const { handedTo, receivedFrom, sent, received } = report;
  if (!(handedTo >= 0 && receivedFrom >= 0 && sent >= 0 && received >= 0)) {
    throw new RangeError(`${caller}: expected counts >= 0 from reporter ${report.reporter} about ${report.subject}, got ${handedTo}, ${receivedFrom}, ${sent}, ${received}`);
  }
}
