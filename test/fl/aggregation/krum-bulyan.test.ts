import { describe, expect, it } from 'vitest';
import { AggregationError, bulyan, bulyanSelection, krum, krumRanking, multiKrum } from '../../../src/fl/aggregation/index.js';
import { expectCodedError } from '../../coded-error.js';
import { f32, randomUpdates } from './helpers.js';

/** `honest` updates near `centre` (small seeded noise) followed by the `outliers` given. */
function cohort(honest: number, centre: number[], outliers: number[][], seed = 1): Float32Array[] {
  const noise = randomUpdates(honest, centre.length, seed, 0.05);
  return [...noise.map((row) => row.map((v, j) => v + centre[j]!)), ...f32(...outliers)];
}

describe('krum', () => {
  it('scores by the n - f - 2 nearest squared distances (hand-checked) and returns the best update', () => {
    // Points on a line: 0, 1, 2, 10, 20; n = 5, f = 1, so 2 nearest neighbours each.
    // Squared distances: 0 -> {1, 4}: 5; 1 -> {1, 1}: 2; 2 -> {1, 4}: 5; 10 -> {64, 81}: 145; 20 -> {100, 324}: 424.
    const updates = f32([0], [1], [2], [10], [20]);
    const { scores, order } = krumRanking(updates, 1);
    expect(Array.from(scores)).toEqual([5, 2, 5, 145, 424]);
    expect(order).toEqual([1, 0, 2, 3, 4]);
    expect(Array.from(krum(updates, 1))).toEqual([1]);
  });

  it('picks an honest client when f attackers send large updates', () => {
    const updates = cohort(7, [1, -1, 0.5], [
      [100, 100, 100],
      [-50, 80, 3],
    ]);
    const { order } = krumRanking(updates, 2);
    expect(order[0]).toBeLessThan(7);
    expect(order.slice(-2).sort()).toEqual([7, 8]);
  });

  it('returns a copy, not the caller’s array', () => {
    const updates = f32([0], [1], [2], [10], [20]);
    const chosen = krum(updates, 1);
    chosen[0] = 99;
    expect(updates[1]![0]).toBe(1);
  });

  it('needs n > 2f + 2 and an integer f >= 0', () => {
    expectCodedError(() => krum(f32([0], [1], [2], [3]), 1), AggregationError, 'ERR_FL_PRECONDITION', 'krum', 'n > 2f + 2', 'n = 4', 'f = 1');
    expectCodedError(() => krum(f32([0], [1], [2], [3], [4]), -1), AggregationError, 'ERR_FL_ARGUMENT', 'f');
    expectCodedError(() => krum(f32([0], [1], [2], [3], [4]), 0.5), AggregationError, 'ERR_FL_ARGUMENT', 'f');
    expect(Array.from(krum(f32([0], [1], [2], [3], [4]), 1))).toEqual([1]);
  });
});

describe('multiKrum', () => {
  it('averages the m best-scored updates (hand-checked)', () => {
    // Scores as in the krum test: best are clients 1 (2), then 0 and 2 (5 each).
    expect(Array.from(multiKrum(f32([0], [1], [2], [10], [20]), 1, 3))).toEqual([1]);
    expect(Array.from(multiKrum(f32([0], [1], [2], [10], [20]), 1, 2))).toEqual([0.5]);
  });

  it('leaves out the attackers when m = n - f', () => {
    const updates = cohort(8, [2, 2], [
      [1e6, -1e6],
      [5e5, 5e5],
    ]);
    const result = multiKrum(updates, 2, 8);
    expect(result[0]).toBeCloseTo(2, 1);
    expect(result[1]).toBeCloseTo(2, 1);
  });

  it('checks m and the precondition', () => {
    expectCodedError(() => multiKrum(f32([0], [1], [2], [3], [4]), 1, 0), AggregationError, 'ERR_FL_ARGUMENT', 'multiKrum', 'm');
    expectCodedError(() => multiKrum(f32([0], [1], [2], [3], [4]), 1, 6), AggregationError, 'ERR_FL_ARGUMENT', 'm');
    expectCodedError(() => multiKrum(f32([0], [1], [2], [3]), 1, 1), AggregationError, 'ERR_FL_PRECONDITION', 'multiKrum', 'n = 4', 'f = 1');
  });
});

describe('bulyan', () => {
  it('needs n >= 4f + 3', () => {
    expectCodedError(() => bulyan(randomUpdates(6, 3, 1), 1), AggregationError, 'ERR_FL_PRECONDITION', 'bulyan', 'n >= 4f + 3', 'n = 6', 'f = 1');
    expectCodedError(() => bulyan(randomUpdates(7, 3, 1), -2), AggregationError, 'ERR_FL_ARGUMENT', 'f');
  });

  it('selects theta = n - 2f clients by repeated Krum, leaving out the outliers', () => {
    const updates = cohort(9, [0, 0, 0, 0], [
      [40, 40, 40, 40],
      [-30, 10, 0, 0],
    ]);
    const selected = bulyanSelection(updates, 2);
    expect(selected).toHaveLength(7);
    expect(selected.every((i) => i < 9)).toBe(true);
  });

  it('averages, per coordinate, the beta = theta - 2f picked values nearest the median (hand-checked)', () => {
    // n = 7, f = 1: theta = 5, beta = 3. One far client; the 5 picked are 0..4 on every coordinate,
    // whose three values nearest the median 2 are 1, 2, 3.
    const updates = f32([0, 4], [1, 3], [2, 2], [3, 1], [4, 0], [100, -100], [5.5, 5.5]);
    expect(bulyanSelection(updates, 1).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(bulyan(updates, 1))).toEqual([2, 2]);
  });

  it('hides no large change in one coordinate that Krum would let through', () => {
    // Attackers agree with the honest clients except in coordinate 0; per-coordinate trimming removes it.
    const honest = cohort(11, [1, 1, 1], [], 7);
    const attackers = f32([1, 1, 1], [1, 1, 1]).map((row) => {
      row[0] = 3;
      return row;
    });
    const result = bulyan([...honest, ...attackers], 2);
    expect(Math.abs(result[0]! - 1)).toBeLessThan(0.1);
  });
});
