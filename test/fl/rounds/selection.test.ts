import { describe, expect, it } from 'vitest';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { isRoundError } from '../../../src/fl/rounds/errors.js';
import { eligibleMax, participantsMax } from '../../../src/fl/rounds/limits.js';
import { checkSelectionRule, selectParticipants } from '../../../src/fl/rounds/selection.js';
import type { NodeId } from '../../../src/wire/ids.js';

const population = (count: number, from = 1): NodeId[] => Array.from({ length: count }, (_, index) => (from + index) as NodeId);

describe('participant selection', () => {
  it('Poisson: each node independently with probability q, reproducible from the seed, ascending', () => {
    const eligible = population(20_000);
    const first = selectParticipants(eligible, { kind: 'poisson', q: 0.05 }, seededNoiseSource('round 1'));
    const again = selectParticipants([...eligible].reverse(), { kind: 'poisson', q: 0.05 }, seededNoiseSource('round 1'));
    expect(again).toEqual(first);
    expect(first.eligibleCount).toBe(20_000);
    // Binomial(20000, 0.05): mean 1000, sd about 30.8; 6 sd either way.
    expect(Math.abs(first.selected.length - 1000)).toBeLessThan(185);
    expect([...first.selected].sort((a, b) => a - b)).toEqual(first.selected);
    const other = selectParticipants(eligible, { kind: 'poisson', q: 0.05 }, seededNoiseSource('round 2'));
    expect(other.selected).not.toEqual(first.selected);
    expect(selectParticipants(population(30), { kind: 'poisson', q: 1 }, seededNoiseSource('x')).selected).toHaveLength(30);
  });

  it('Poisson: every node is included at rate q (no position is favoured)', () => {
    const counts = new Array<number>(10).fill(0);
    const source = seededNoiseSource('inclusion');
    for (let trial = 0; trial < 4000; trial++) for (const id of selectParticipants(population(10), { kind: 'poisson', q: 0.3 }, source).selected) counts[id - 1]!++;
    // Binomial(4000, 0.3): mean 1200, sd about 29.
    for (const count of counts) expect(Math.abs(count - 1200)).toBeLessThan(175);
  });

  it('fixed size: that many distinct nodes (all of them when fewer are eligible), duplicates counted once', () => {
    const chosen = selectParticipants([...population(50), 7 as NodeId], { kind: 'fixed', size: 10 }, seededNoiseSource('f'));
    expect(chosen.selected).toHaveLength(10);
    expect(new Set(chosen.selected).size).toBe(10);
    expect(chosen.eligibleCount).toBe(50);
    expect(selectParticipants(population(4), { kind: 'fixed', size: 10 }, seededNoiseSource('f')).selected).toEqual(population(4));
  });

  it('refuses bad rules and populations by name', () => {
    const refusals: [() => unknown, RegExp][] = [
      [() => checkSelectionRule({ kind: 'poisson', q: 0 }), /expected q in \(0, 1\], got 0/],
      [() => checkSelectionRule({ kind: 'poisson', q: Number.NaN }), /got NaN/],
      [() => checkSelectionRule({ kind: 'poisson', q: 1.5 }), /got 1.5/],
      [() => checkSelectionRule({ kind: 'fixed', size: 0 }), /expected size an integer in 1..1024, got 0/],
      [() => checkSelectionRule({ kind: 'fixed', size: 2.5 }), /got 2.5/],
      [() => checkSelectionRule({ kind: 'fixed', size: participantsMax + 1 }), /got 1025/],
      [() => selectParticipants([0 as NodeId], { kind: 'fixed', size: 1 }, seededNoiseSource('x')), /eligible node 0 is not a node id/],
      [() => selectParticipants(new Array<NodeId>(eligibleMax + 1).fill(1 as NodeId), { kind: 'fixed', size: 1 }, seededNoiseSource('x')), /more than eligibleMax/],
      [() => selectParticipants(population(participantsMax + 1), { kind: 'poisson', q: 1 }, seededNoiseSource('x')), /1025 nodes drawn at q 1, more than participantsMax 1024; lower q/],
    ];
    for (const [action, message] of refusals) {
      expect(action).toThrow(message);
      try {
        action();
      } catch (error) {
        expect(isRoundError(error, 'ERR_FL_ROUND_CONFIG')).toBe(true);
      }
    }
    expect(isRoundError(new Error('x'))).toBe(false);
  });
});
