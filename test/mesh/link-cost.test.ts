import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HelloHistory,
  addMetric,
  helloHistoryBits,
  linkCost,
  linkCostHysteresis,
  nominalLinkCost,
  rttMaxMs,
  rttMinMs,
  rttPenalty,
  rttPenaltyMax,
  rxCostFromHistory,
} from '../../src/mesh/link-cost.js';
import { metricInfinity } from '../../src/wire/limits.js';

describe('constants', () => {
  it('match RFC 8966 Appendix A and the RFC 9616 defaults', () => {
    expect(nominalLinkCost).toBe(256);
    expect(rttMinMs).toBe(10);
    expect(rttMaxMs).toBe(120);
    expect(rttPenaltyMax).toBe(150);
    expect(linkCostHysteresis).toBe(16);
    expect(helloHistoryBits).toBe(16);
  });
});

describe('rxCostFromHistory', () => {
  it.each([
    [0, 0, 256], // nothing expected yet: nominal
    [0, 1, metricInfinity],
    [0, 16, metricInfinity],
    [1, 1, 256],
    [16, 16, 256],
    [8, 16, 512],
    [15, 16, 273], // floor(256 * 16 / 15) = floor(273.07)
    [2, 3, 384],
    [1, 3, 768],
    [1, 16, 4096],
    [3, 7, 597], // floor(256 * 7 / 3) = floor(597.33)
    [1, 1000, metricInfinity - 1], // capped below infinity: loss alone is never a retraction
  ])('received %i of %i -> %i', (received, expected, cost) => {
    expect(rxCostFromHistory(received, expected)).toBe(cost);
  });
});

describe('rttPenalty (RFC 9616 4.1 shape)', () => {
  it.each([
    [Number.NaN, 0], // no RTT sample yet
    [-5, 0],
    [0, 0],
    [9.999, 0],
    [10, 0],
    [10.3, 0], // 0.41 rounds down
    [10.5, 1], // 0.68 rounds up
    [11, 1], // 1.36
    [21, 15], // exactly 150 * 11 / 110
    [21.8, 16], // 16.09
    [35, 34], // 34.09
    [65, 75], // half-way: exactly 75
    [119, 149], // 148.64
    [119.99, 150], // 149.99 rounds up to the maximum
    [120, 150],
    [1000, 150],
    [Number.POSITIVE_INFINITY, 150],
  ])('rttPenalty(%d ms) = %i', (rttMs, penalty) => {
    expect(rttPenalty(rttMs)).toBe(penalty);
  });

  it('is an integer in 0..150 and non-decreasing in the RTT', () => {
    const rtt = fc.double({ min: -10, max: 500, noNaN: true });
    fc.assert(
      fc.property(rtt, rtt, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const penalty = rttPenalty(lo);
        expect(Number.isInteger(penalty)).toBe(true);
        expect(penalty).toBeGreaterThanOrEqual(0);
        expect(penalty).toBeLessThanOrEqual(rttPenaltyMax);
        expect(rttPenalty(hi)).toBeGreaterThanOrEqual(penalty);
      }),
    );
  });
});

describe('linkCost', () => {
  it.each([
    [256, 256, Number.NaN, 256],
    [256, 256, 0, 256],
    [512, 256, 0, 512],
    [256, 512, 0, 512],
    [512, 512, 0, 1024], // ETX multiplies: 2 * 2 = 4 expected transmissions
    [273, 384, 0, 409], // floor(273 * 384 / 256) = floor(409.5)
    [100, 100, 0, 256], // costs below nominal count as nominal
    [0, 0, 0, 256],
    [256, 256, 65, 331], // plus the RTT penalty of 75
    [256, 256, 120, 406],
    [512, 512, 200, 1174],
    [4096, 4096, 0, metricInfinity - 1], // 65536 is capped below infinity
    [0xfffe, 256, 120, metricInfinity - 1],
    [metricInfinity, 256, 0, metricInfinity],
    [256, metricInfinity, 0, metricInfinity],
    [metricInfinity + 1, 256, 0, metricInfinity],
    [256, metricInfinity + 1, 0, metricInfinity],
    [metricInfinity, metricInfinity, 120, metricInfinity],
  ])('linkCost(%i, %i, %d ms) = %i', (rx, tx, rttMs, cost) => {
    expect(linkCost(rx, tx, rttMs)).toBe(cost);
  });

  it('is finite and at least nominal whenever both directions are', () => {
    const cost = fc.integer({ min: 0, max: metricInfinity - 1 });
    fc.assert(
      fc.property(cost, cost, fc.double({ min: 0, max: 1000, noNaN: true }), (rx, tx, rttMs) => {
        const result = linkCost(rx, tx, rttMs);
        expect(result).toBeGreaterThanOrEqual(nominalLinkCost);
        expect(result).toBeLessThan(metricInfinity);
        expect(Number.isInteger(result)).toBe(true);
      }),
    );
  });
});

describe('addMetric', () => {
  it.each([
    [0, 256, 256],
    [100, 200, 300],
    [0, 0, 0],
    [metricInfinity - 257, 256, metricInfinity - 1],
    [metricInfinity - 256, 256, metricInfinity], // saturates exactly at infinity
    [0xff00, 0x200, metricInfinity], // would overflow 16 bits
    [metricInfinity, 0, metricInfinity],
    [0, metricInfinity, metricInfinity],
    [metricInfinity + 5, 1, metricInfinity],
    [1, metricInfinity + 5, metricInfinity],
  ])('addMetric(%i, %i) = %i', (advertised, cost, metric) => {
    expect(addMetric(advertised, cost)).toBe(metric);
  });

  it('never exceeds infinity and never decreases the advertised metric', () => {
    const metric = fc.integer({ min: 0, max: metricInfinity });
    fc.assert(
      fc.property(metric, metric, (advertised, cost) => {
        const sum = addMetric(advertised, cost);
        expect(sum).toBeLessThanOrEqual(metricInfinity);
        expect(sum).toBeGreaterThanOrEqual(advertised);
        expect(sum).toBe(Math.min(metricInfinity, advertised + cost));
      }),
    );
  });
});

/** Receive count, expected count and 2-of-3 verdict, the observable state of a history. */
function stateOf(history: HelloHistory): [number, number, boolean] {
  return [history.received(), history.expected(), history.twoOfThree()];
}

/** A history fed in-order Hellos from `first` for `count` seqnos (wrapping modulo 2^16). */
function historyOf(first: number, count: number): HelloHistory {
  const history = new HelloHistory();
  for (let i = 0; i < count; i++) history.recordHello((first + i) & 0xffff);
  return history;
}

describe('HelloHistory', () => {
  it('starts empty: nothing received, nothing expected, not alive', () => {
    expect(stateOf(new HelloHistory())).toEqual([0, 0, false]);
  });

  it('ignores a miss before any Hello', () => {
    const history = new HelloHistory();
    history.recordMiss();
    history.recordMiss();
    expect(stateOf(history)).toEqual([0, 0, false]);
    history.recordHello(40);
    expect(stateOf(history)).toEqual([1, 1, true]);
    // The miss did not advance a phantom seqno: 41 is the next in order.
    history.recordHello(41);
    expect(stateOf(history)).toEqual([2, 2, true]);
  });

  it('counts in-order Hellos', () => {
    expect(stateOf(historyOf(100, 1))).toEqual([1, 1, true]);
    expect(stateOf(historyOf(100, 4))).toEqual([4, 4, true]);
    expect(stateOf(historyOf(100, 16))).toEqual([16, 16, true]);
  });

  it('keeps at most 16 Hellos', () => {
    expect(stateOf(historyOf(100, 40))).toEqual([16, 16, true]);
  });

  it('counts a seqno gap as missed Hellos', () => {
    const history = historyOf(10, 1);
    history.recordHello(13); // 11 and 12 missed
    expect(stateOf(history)).toEqual([2, 4, false]); // last three: 0 0 1 -> 1 of 3
    history.recordHello(14);
    expect(stateOf(history)).toEqual([3, 5, true]); // last three: 0 1 1 -> 2 of 3
  });

  it('a miss advances the expected seqno, so the next Hello in order is not counted twice', () => {
    const history = historyOf(10, 1);
    history.recordMiss(); // 11 missed
    history.recordMiss(); // 12 missed
    history.recordHello(13);
    expect(stateOf(history)).toEqual([2, 4, false]);
  });

  it('a late Hello fills the miss recorded for it', () => {
    const history = historyOf(10, 3); // 10, 11, 12
    history.recordMiss(); // 13 considered missed
    expect(stateOf(history)).toEqual([3, 4, true]);
    history.recordHello(13); // arrives late
    expect(stateOf(history)).toEqual([4, 4, true]);
    history.recordHello(13); // a duplicate changes nothing
    expect(stateOf(history)).toEqual([4, 4, true]);
    history.recordHello(14);
    expect(stateOf(history)).toEqual([5, 5, true]);
  });

  it('a jump of exactly 16 keeps the history; more than 16 resets it', () => {
    const within = historyOf(0, 1);
    within.recordHello(15); // 1..14 missed: all 16 seqnos 0..15 fit the window
    expect(stateOf(within)).toEqual([2, 16, false]);

    const kept = historyOf(0, 1);
    kept.recordHello(16); // 1..15 missed; Hello 0 is now 17 seqnos back and leaves the window
    expect(stateOf(kept)).toEqual([1, 16, false]);

    const reset = historyOf(0, 5);
    reset.recordHello(5 + 16); // one past the window: peer restarted
    expect(stateOf(reset)).toEqual([1, 1, true]);
  });

  it('a jump backwards means the peer restarted', () => {
    const history = historyOf(1000, 6);
    history.recordHello(3);
    expect(stateOf(history)).toEqual([1, 1, true]);
    history.recordHello(4);
    expect(stateOf(history)).toEqual([2, 2, true]);
  });

  it('counts across the 16-bit seqno wrap', () => {
    expect(stateOf(historyOf(0xfffd, 6))).toEqual([6, 6, true]);
    const gapped = historyOf(0xfffe, 1);
    gapped.recordHello(1); // 0xffff and 0 missed
    expect(stateOf(gapped)).toEqual([2, 4, false]);
    const missed = historyOf(0xffff, 1);
    missed.recordMiss(); // 0 missed
    missed.recordHello(1);
    expect(stateOf(missed)).toEqual([2, 3, true]);
  });

  it('forgets received Hellos after 16 misses', () => {
    const history = historyOf(0, 16);
    for (let i = 0; i < 15; i++) history.recordMiss();
    expect(stateOf(history)).toEqual([1, 16, false]);
    history.recordMiss();
    expect(stateOf(history)).toEqual([0, 16, false]);
    expect(rxCostFromHistory(history.received(), history.expected())).toBe(metricInfinity);
    history.recordHello(32); // the seqno expected next after 16 received and 16 missed
    expect(stateOf(history)).toEqual([1, 16, false]);
  });

  describe('twoOfThree', () => {
    // Bit patterns of the last three expected Hellos, newest last, on a history of four.
    it.each([
      ['000', false],
      ['001', false],
      ['010', false],
      ['100', false],
      ['011', true],
      ['101', true],
      ['110', true],
      ['111', true],
    ])('last three %s -> %s', (pattern, alive) => {
      const history = historyOf(50, 1);
      let seqno = 50;
      for (const bit of pattern) {
        seqno++;
        if (bit === '1') history.recordHello(seqno);
        else history.recordMiss();
      }
      expect(history.expected()).toBe(4);
      expect(history.received()).toBe(1 + [...pattern].filter((bit) => bit === '1').length);
      expect(history.twoOfThree()).toBe(alive);
    });

    it('with fewer than three expected, follows the newest Hello', () => {
      const one = historyOf(7, 1);
      expect(one.twoOfThree()).toBe(true);
      const two = historyOf(7, 2);
      expect(two.twoOfThree()).toBe(true);
      const hitThenMiss = historyOf(7, 1);
      hitThenMiss.recordMiss();
      expect(stateOf(hitThenMiss)).toEqual([1, 2, false]);
      hitThenMiss.recordHello(8); // late: fills the miss
      expect(stateOf(hitThenMiss)).toEqual([2, 2, true]);
    });
  });
});
