import { describe, expect, it } from 'vitest';
import { FaultClass } from '../../src/telemetry/types.js';
import { conservationDefaults, conservationFindings, conserve, SlidingConservation, TransitCounters, type TransitReport } from '../../src/mapek/transit-accounting.js';

/** Reports of neighbours 1 and 2 about node 9: `handedIn` each handed it, `handedOn` each got back. */
function reportsAbout(subject: number, handedIn: number, handedOn: number): TransitReport[] {
  return [
    { reporter: 1, subject, handedTo: handedIn, receivedFrom: handedOn, sent: handedIn, received: handedOn },
    { reporter: 2, subject, handedTo: handedIn, receivedFrom: handedOn, sent: handedIn, received: handedOn },
  ];
}

describe('TransitCounters', () => {
  it('counts all data and transit per neighbour, cuts one report per neighbour and starts the next window empty', () => {
    const counters = new TransitCounters(7);
    counters.sent(3, true);
    counters.sent(3, true);
    counters.sent(3, false);
    counters.received(3, true);
    counters.received(4, true);
    counters.received(4, false);
    expect(counters.cut([])).toEqual([
      { reporter: 7, subject: 3, handedTo: 2, receivedFrom: 1, sent: 3, received: 1 },
      { reporter: 7, subject: 4, handedTo: 0, receivedFrom: 1, sent: 0, received: 2 },
    ]);
    expect(counters.cut([])).toEqual([]);
  });

  it('reports zeros about a current neighbour that carried nothing (it must say it got nothing)', () => {
    const counters = new TransitCounters(7);
    counters.sent(3, false);
    expect(counters.cut([5, 3])).toEqual([
      { reporter: 7, subject: 3, handedTo: 0, receivedFrom: 0, sent: 1, received: 0 },
      { reporter: 7, subject: 5, handedTo: 0, receivedFrom: 0, sent: 0, received: 0 },
    ]);
  });

  it('forgets the window so far on reset', () => {
    const counters = new TransitCounters(7);
    counters.sent(3, true);
    counters.reset();
    expect(counters.cut([])).toEqual([]);
  });
});

describe('conserve', () => {
  it('sums handed-in and handed-on over the reporters and gives the shortfall as the drop share', () => {
    const verdict = conserve([...reportsAbout(9, 50, 20), { reporter: 3, subject: 5, handedTo: 10, receivedFrom: 10, sent: 10, received: 10 }]);
    expect(verdict.get(9)).toEqual({ subject: 9, handedIn: 100, handedOn: 40, reporters: 2, dropShare: 0.6 });
    expect(verdict.get(5)?.dropShare).toBe(0);
  });

  it('keeps the drop share in 0..1: more out than in (packets in flight at the window edge) is no negative drop', () => {
    expect(conserve(reportsAbout(9, 10, 12)).get(9)?.dropShare).toBe(0);
    expect(conserve(reportsAbout(9, 0, 5)).get(9)?.dropShare).toBe(0);
  });

  it('scales what a reporter handed the subject by what the subject says it received on that link: a lying reporter cannot frame it, a lossy link into it is not its drop', () => {
    // Node 9 forwards all it gets: 1 and 2 each hand it 50 and get 50 back.
    const honest = reportsAbout(9, 50, 50);
    // Node 9's own reports: what it received from 1 and 2 (all of it).
    const ownOf9 = (from1: number, from2: number): TransitReport[] => [
      { reporter: 9, subject: 1, handedTo: 50, receivedFrom: 50, sent: 50, received: from1 },
      { reporter: 9, subject: 2, handedTo: 50, receivedFrom: 50, sent: 50, received: from2 },
    ];
    // 1 lies: it claims it handed 9 a thousand packets more than it did.
    const lying: TransitReport = { ...honest[0]!, handedTo: 1050, sent: 1050 };
    expect(conserve([lying, honest[1]!]).get(9)?.dropShare).toBeGreaterThan(0.9);
    expect(conserve([lying, honest[1]!], [lying, honest[1]!, ...ownOf9(50, 50)]).get(9)).toMatchObject({ handedIn: 100, handedOn: 100, dropShare: 0 });
    // The link 1 -> 9 loses 20 %: 9 got 40 of 50 and handed on those 40.
    const lossy: TransitReport[] = [{ ...honest[0]!, receivedFrom: 40, received: 40 }, honest[1]!];
    expect(conserve(lossy, [...lossy, ...ownOf9(40, 50)]).get(9)).toMatchObject({ handedIn: 90, handedOn: 90, dropShare: 0 });
    // A grey hole that owns up to what it got is still judged on it.
    const greyHole = reportsAbout(9, 50, 10);
    expect(conserve(greyHole, [...greyHole, ...ownOf9(50, 50)]).get(9)?.dropShare).toBeCloseTo(0.8);
    // One that under-reports what it got shifts its drop onto the links into it: 1 and 2 see their links to 9 lose 80 % (link-loss.ts).
    expect(conserve(greyHole, [...greyHole, ...ownOf9(10, 10)]).get(9)?.dropShare).toBe(0);
    // A subject that says it received more than was sent (window edges) is taken at the reporter's word; nothing sent, nothing scaled.
    expect(conserve(honest, [...honest, ...ownOf9(60, 50)]).get(9)?.handedIn).toBe(100);
    const idle: TransitReport[] = [{ reporter: 1, subject: 9, handedTo: 0, receivedFrom: 0, sent: 0, received: 0 }];
    expect(conserve(idle, [...idle, ...ownOf9(0, 0)]).get(9)?.handedIn).toBe(0);
  });

  it('refuses a report with a negative or non-numeric count, naming the reporter and subject', () => {
    expect(() => conserve([{ reporter: 4, subject: 9, handedTo: -1, receivedFrom: 0, sent: 0, received: 0 }])).toThrow(/conserve: .*reporter 4 about 9.*-1/);
    expect(() => conserve([{ reporter: 4, subject: 9, handedTo: 1, receivedFrom: Number.NaN, sent: 0, received: 0 }])).toThrow(RangeError);
    expect(() => conserve([{ reporter: 4, subject: 9, handedTo: 1, receivedFrom: 1, sent: 0, received: -2 }])).toThrow(/-2/);
  });
});

/** The acting node 1's own reports: it handed each of `subjects` 7 transit packets. */
const own = (...subjects: number[]): TransitReport[] => subjects.map((subject) => ({ reporter: 1, subject, handedTo: 7, receivedFrom: 0, sent: 7, received: 0 }));

describe('conservationFindings', () => {
  it('judges only neighbours with enough transit, and maps the drop share to a score and a cause', () => {
    const conservation = conserve([...reportsAbout(9, 50, 25), ...reportsAbout(8, 50, 0), ...reportsAbout(6, 50, 49), ...reportsAbout(5, 10, 0)]);
    const findings = conservationFindings(own(9, 8, 6, 5, 4), conservation);
    expect(findings.map((f) => f.subject)).toEqual([9, 8, 6].map((node) => ({ kind: 'node', node })));
    const [grey, black, healthy] = findings;
    expect(grey!.cause).toBe(FaultClass.greyHole);
    expect(grey!.score).toBeCloseTo(0.5 / 0.6, 10);
    expect(grey!.evidence).toEqual({ handedIn: 100, handedOn: 50, reporters: 2, dropShare: 0.5, ownHandedTo: 7 });
    expect(black!.cause).toBe(FaultClass.blackHole);
    expect(black!.score).toBe(1);
    expect(healthy!.score).toBeCloseTo(0.02 / 0.6, 10);
  });

  it('judges only the neighbours the node hands transit to (a quarantined one gets none, so its incident clears)', () => {
    const conservation = conserve(reportsAbout(9, 50, 0));
    expect(conservationFindings(own(9), conservation)).toHaveLength(1);
    expect(conservationFindings([{ ...own(9)[0]!, handedTo: 0, sent: 3 }], conservation)).toEqual([]);
  });

  it('puts the default threshold (0.5) at the rule drop share', () => {
    const atThreshold = conserve(reportsAbout(9, 50, 50 * (1 - conservationDefaults.dropShareAtThreshold)));
    expect(conservationFindings(own(9), atThreshold)[0]!.score).toBeCloseTo(0.5, 10);
  });

  it('takes the rule it is given', () => {
    const conservation = conserve(reportsAbout(9, 5, 0));
    expect(conservationFindings(own(9), conservation)).toEqual([]);
    expect(conservationFindings(own(9), conservation, { handedInMin: 10, windowsMax: 1, dropShareAtThreshold: 0.25, blackHoleShare: 1.01 })[0]).toMatchObject({ cause: FaultClass.greyHole, score: 1 });
  });
});

describe('SlidingConservation', () => {
  it('sums the newest windows until they hold enough transit, at most windowsMax', () => {
    const sliding = new SlidingConservation({ ...conservationDefaults, handedInMin: 40, windowsMax: 3 });
    expect(sliding.push(conserve(reportsAbout(9, 10, 10))).get(9)).toMatchObject({ handedIn: 20, handedOn: 20, dropShare: 0 });
    expect(sliding.push(conserve(reportsAbout(9, 10, 0))).get(9)).toMatchObject({ handedIn: 40, handedOn: 20, dropShare: 0.5 });
    // The newest window alone holds enough: the older ones are not summed.
    expect(sliding.push(conserve(reportsAbout(9, 30, 30))).get(9)).toMatchObject({ handedIn: 60, handedOn: 60, dropShare: 0 });
  });

  it('stops at a window without the subject (it carried nothing or was down then)', () => {
    const sliding = new SlidingConservation({ ...conservationDefaults, handedInMin: 100, windowsMax: 5 });
    sliding.push(conserve(reportsAbout(9, 40, 0)));
    sliding.push(conserve(reportsAbout(5, 40, 40)));
    expect(sliding.push(conserve(reportsAbout(9, 20, 20))).get(9)).toMatchObject({ handedIn: 40, handedOn: 40 });
  });

  it('gives no verdict once the transit has moved away, whatever the old windows said', () => {
    const sliding = new SlidingConservation();
    sliding.push(conserve(reportsAbout(9, 50, 0)));
    expect(sliding.push(conserve(reportsAbout(9, 3, 0))).has(9)).toBe(false);
  });
});
