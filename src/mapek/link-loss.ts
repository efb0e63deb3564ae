import { FaultClass } from '../telemetry/types.js';
import type { Finding } from './loop.js';
import { checkCounts, type TransitReport } from './transit-accounting.js';

/**
 * Loss of a directed link, measured on the data it carries: what the sender put on the link
 * against what the receiver got, from the two ends' reports (see transit-accounting.ts). Data
 * is the signal that counts (a link is degrading for the traffic on it), and there is far more
 * of it than of Hellos, whose 16-Hello history moves in steps of 6 %: a slowly degrading link
 * shows up here at 2-3 % loss, before it costs the traffic much.
 *
 * Each acting node keeps a sliding window per outgoing link: the newest windows are summed
 * until they hold enough packets for a verdict, at most windowsMax of them. A link whose
 * newest window carried less than packetsMin / windowsMax packets gets no verdict: once the
 * traffic has moved away, old windows must not keep an incident open.
 */

/** When a link's loss turns into a finding. */
export interface LinkLossRule {
  /** Fewest packets sent for a verdict. */
  readonly packetsMin: number;
  /** Most windows summed to reach packetsMin. */
  readonly windowsMax: number;
  /** Loss that maps to the loop's default threshold (score 0.5); score = loss / (2 x this), capped at 1. */
  readonly lossAtThreshold: number;
}

/** Defaults: a verdict needs 50 packets within the last 5 windows; 2 % loss is the threshold. */
export const linkLossDefaults: LinkLossRule = { packetsMin: 50, windowsMax: 5, lossAtThreshold: 0.02 };

/** What one directed link carried in one window. */
export interface LinkDelivery {
  readonly from: number;
  readonly to: number;
  readonly sent: number;
  readonly received: number;
}

/** The deliveries of every directed link both of whose ends reported, keyed `from>to`. */
export function linkDeliveries(reports: Iterable<TransitReport>): Map<string, LinkDelivery> {
  const byPair = new Map<string, TransitReport>();
  for (const report of reports) {
    checkCounts('linkDeliveries', report);
    byPair.set(`${report.reporter}>${report.subject}`, report);
  }
  const out = new Map<string, LinkDelivery>();
  for (const [key, sender] of byPair) {
    const receiver = byPair.get(`${sender.subject}>${sender.reporter}`);
    if (receiver === undefined) continue;
    out.set(key, { from: sender.reporter, to: sender.subject, sent: sender.sent, received: Math.min(sender.sent, receiver.received) });
  }
  return out;
}

/** One acting node's sliding windows over its outgoing links. */
export class LinkLossMonitor {
  /** Per neighbour, the newest windows first. */
  private readonly history = new Map<number, { sent: number; received: number }[]>();

  constructor(
    private readonly self: number,
    private readonly rule: LinkLossRule = linkLossDefaults,
  ) {}

  /** Adds this window's deliveries of the node's links to `neighbours` and returns the findings. */
  step(neighbours: Iterable<number>, deliveries: ReadonlyMap<string, LinkDelivery>): Finding[] {
    const findings: Finding[] = [];
    const current = new Set<number>();
    for (const neighbour of neighbours) {
      current.add(neighbour);
      const delivery = deliveries.get(`${this.self}>${neighbour}`);
      const windows = this.history.get(neighbour) ?? [];
      windows.unshift({ sent: delivery?.sent ?? 0, received: delivery?.received ?? 0 });
      windows.length = Math.min(windows.length, this.rule.windowsMax);
      this.history.set(neighbour, windows);
      const finding = this.judge(neighbour, windows);
      if (finding !== null) findings.push(finding);
    }
    for (const neighbour of [...this.history.keys()]) if (!current.has(neighbour)) this.history.delete(neighbour);
    return findings;
  }

  private judge(neighbour: number, windows: readonly { sent: number; received: number }[]): Finding | null {
    // Traffic that has moved away says nothing more about the link: no verdict on old windows alone.
    if (windows[0]!.sent * this.rule.windowsMax < this.rule.packetsMin) return null;
    let sent = 0;
    let received = 0;
    let used = 0;
    for (const window of windows) {
      sent += window.sent;
      received += window.received;
      used++;
      if (sent >= this.rule.packetsMin) break;
    }
    if (sent < this.rule.packetsMin) return null;
    const loss = 1 - received / sent;
    return {
      subject: { kind: 'link', from: this.self, to: neighbour },
      cause: FaultClass.linkDegradation,
      score: Math.min(1, loss / (2 * this.rule.lossAtThreshold)),
      evidence: { sent, received, loss, windows: used },
    };
  }
}
