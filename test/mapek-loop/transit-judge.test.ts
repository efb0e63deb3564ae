import { describe, expect, it } from 'vitest';
import { LinkLossMonitor } from '../../src/mapek/link-loss.js';
import type { Finding } from '../../src/mapek/loop.js';
import { conservationDefaults, conserve, SlidingConservation, type TransitReport } from '../../src/mapek/transit-accounting.js';
import { reporterMemoryWindows, TransitJudge, TransitTotals, windowFindings } from '../../src/mapek/transit-judge.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import type { LinkDataCounts } from '../../src/mesh/types.js';
import { FaultClass } from '../../src/telemetry/types.js';
import { nodeId } from '../../src/wire/ids.js';

/**
 * Node 1 judges its neighbour 5, which has neighbours 1, 2 and 3: 1 and 2 hand it transit, 3
 * gets it back from it.
 */
function report(reporter: number, subject: number, handedTo: number, receivedFrom: number): TransitReport {
  return { reporter, subject, handedTo, receivedFrom, sent: handedTo, received: receivedFrom };
}

/** One window of reports about 5 in which 5 passes on `share` of what it gets (and 5's own reports about its neighbours). */
function windowAbout5(share: number, reporters: readonly number[] = [1, 2, 3]): TransitReport[] {
  const all = [report(1, 5, 50, 0), report(2, 5, 50, 0), report(3, 5, 0, Math.round(100 * share)), report(5, 1, 0, 50), report(5, 2, 0, 50), report(5, 3, Math.round(100 * share), 0)];
  return all.filter((entry) => entry.subject === 5 ? reporters.includes(entry.reporter) : true);
}

function aboutNode5(findings: readonly Finding[]): Finding[] {
  return findings.filter((finding) => finding.subject.kind === 'node' && finding.subject.node === 5);
}

describe('TransitJudge', () => {
  it('finds a grey hole from the reports of all its neighbours, and nothing about a healthy node', () => {
    const judge = new TransitJudge(1);
    judge.add(10, windowAbout5(1));
    expect(aboutNode5(judge.judge(10, [5]).findings)).toEqual([expect.objectContaining({ score: 0, cause: FaultClass.greyHole })]);
    judge.add(11, windowAbout5(0.3));
    const findings = aboutNode5(judge.judge(11, [5]).findings);
    expect(findings).toEqual([expect.objectContaining({ cause: FaultClass.greyHole })]);
    expect(findings[0]!.score).toBeGreaterThan(0.5);
    expect(findings[0]!.evidence).toMatchObject({ handedIn: 100, handedOn: 30, reporters: 3 });
    expect(judge.stats).toMatchObject({ windows: 2, incomplete: 0 });
  });

  it('leaves a neighbour undecided while a reporter it expects is silent, then judges it without that reporter', () => {
    const judge = new TransitJudge(1);
    judge.add(10, windowAbout5(1));
    judge.judge(10, [5]);
    // 3's report (what 5 handed on) goes missing: without the rule 5 would look like a black hole.
    for (let window = 11; window <= 11 + reporterMemoryWindows; window++) {
      judge.add(window, windowAbout5(1, [1, 2]));
      const verdict = judge.judge(window, [5]);
      expect(aboutNode5(verdict.findings)).toEqual([]);
      expect(verdict.undecided).toEqual([{ kind: 'node', node: 5 }]);
    }
    expect(judge.stats.incomplete).toBe(reporterMemoryWindows + 1);
    judge.add(12 + reporterMemoryWindows, windowAbout5(1, [1, 2]));
    const verdict = judge.judge(12 + reporterMemoryWindows, [5]);
    expect(aboutNode5(verdict.findings)).toEqual([expect.objectContaining({ cause: FaultClass.blackHole, score: 1 })]);
    expect(verdict.undecided).toEqual([]);
  });

  it('expects a report from every neighbour the subject lists, from the first window: a reporter not heard yet is not taken for a zero', () => {
    const judge = new TransitJudge(1);
    // 5's own report lists 1, 2 and 3; 3's report has not arrived (its key is still being fetched).
    judge.add(10, windowAbout5(1, [1, 2]));
    expect(judge.judge(10, [5]).undecided).toEqual([{ kind: 'node', node: 5 }]);
    // A neighbour that 5 lists but that never reports stops counting after the memory: 5 cannot hide behind it.
    for (let window = 11; window <= 11 + reporterMemoryWindows; window++) {
      judge.add(window, windowAbout5(1, [1, 2]));
      judge.judge(window, [5]);
    }
    judge.add(12 + reporterMemoryWindows, windowAbout5(1, [1, 2]));
    expect(judge.judge(12 + reporterMemoryWindows, [5]).undecided).toEqual([]);
    // A neighbour this node hands nothing is never undecided (it gets no finding at all).
    judge.add(30, [report(1, 5, 0, 0), report(5, 3, 0, 0)]);
    expect(judge.judge(30, [5])).toEqual({ findings: [], undecided: [] });
  });

  it('measures its own links from its and the far end\'s reports, and drops reports of windows already judged', () => {
    const judge = new TransitJudge(1);
    for (let window = 0; window < 3; window++) {
      judge.add(window, [{ reporter: 1, subject: 5, handedTo: 0, receivedFrom: 0, sent: 40, received: 0 }, { reporter: 5, subject: 1, handedTo: 0, receivedFrom: 0, sent: 0, received: 30 }]);
      const findings = judge.judge(window, [5]).findings;
      if (window === 0) expect(findings).toEqual([]);
      else expect(findings).toEqual([expect.objectContaining({ subject: { kind: 'link', from: 1, to: 5 }, cause: FaultClass.linkDegradation })]);
    }
    judge.add(1, [report(5, 1, 1, 1)]);
    expect(judge.stats.late).toBe(1);
    expect(judge.judge(7, []).findings).toEqual([]);
  });
});

describe('windowFindings', () => {
  it('is what the twin computes: conservation findings about the neighbours handed transit, then the links\' loss findings', () => {
    const reports = windowAbout5(0.2);
    const verdicts = new SlidingConservation().push(conserve(reports));
    const own = reports.filter((entry) => entry.reporter === 1);
    const findings = windowFindings(own, verdicts, new Map([['1>5', { from: 1, to: 5, sent: 100, received: 50 }]]), [5], new LinkLossMonitor(1), conservationDefaults);
    expect(findings.map((finding) => finding.subject.kind)).toEqual(['node', 'link']);
  });
});

describe('TransitTotals', () => {
  const counts = (link: number, peer: number | null, usable: boolean, sent: number, handedTo: number, received: number, receivedFrom: number): LinkDataCounts => ({
    link: link as LinkId,
    peer: peer === null ? null : nodeId(peer),
    usable,
    sent,
    handedTo,
    received,
    receivedFrom,
  });

  it('cuts per-window reports from totals that only grow, one per usable neighbour (zeros included), in subject order', () => {
    const totals = new TransitTotals(1);
    expect(totals.cut([counts(2, 9, true, 10, 4, 6, 3), counts(1, 5, true, 0, 0, 0, 0), counts(3, null, false, 5, 5, 5, 5)])).toEqual([
      { reporter: 1, subject: 5, handedTo: 0, receivedFrom: 0, sent: 0, received: 0 },
      { reporter: 1, subject: 9, handedTo: 4, receivedFrom: 3, sent: 10, received: 6 },
    ]);
    // Next window: the differences; a neighbour no longer usable is reported while it still carried data, then left out.
    expect(totals.cut([counts(2, 9, false, 15, 6, 6, 3), counts(1, 5, true, 1, 1, 2, 2)])).toEqual([
      { reporter: 1, subject: 5, handedTo: 1, receivedFrom: 2, sent: 1, received: 2 },
      { reporter: 1, subject: 9, handedTo: 2, receivedFrom: 0, sent: 5, received: 0 },
    ]);
    expect(totals.cut([counts(2, 9, false, 15, 6, 6, 3)])).toEqual([]);
  });

  it('restarts a link whose totals went back (removed and added again), and sums two links to one neighbour', () => {
    const totals = new TransitTotals(1);
    totals.cut([counts(2, 9, true, 100, 50, 100, 50)]);
    expect(totals.cut([counts(2, 9, true, 3, 1, 2, 1), counts(4, 9, true, 1, 1, 1, 1), counts(5, 1, true, 7, 7, 7, 7)])).toEqual([{ reporter: 1, subject: 9, handedTo: 2, receivedFrom: 2, sent: 4, received: 3 }]);
    // A count that went back on its own (never in a core, whose totals only grow) gives 0, not a negative count.
    expect(totals.cut([counts(2, 9, true, 3, 0, 2, 0)])).toEqual([{ reporter: 1, subject: 9, handedTo: 0, receivedFrom: 0, sent: 0, received: 0 }]);
  });
});
