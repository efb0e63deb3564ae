import { describe, expect, it } from 'vitest';
import { percentile, ratio, round1, summarise } from '../../src/twin/stats.js';

describe('percentile (nearest rank)', () => {
  // The worked example of the nearest-rank method: rank = ceil(p/100 * n), 1-based.
  const sorted = [15, 20, 35, 40, 50];
  it.each([
    [5, 15],
    [30, 20],
    [40, 20],
    [50, 35],
    [95, 50],
    [100, 50],
  ])('p%d of [15, 20, 35, 40, 50] is %d', (p, expected) => {
    expect(percentile(sorted, p)).toBe(expected);
  });

  it('p0 is the smallest value: the rank is never below 1', () => {
    expect(percentile(sorted, 0)).toBe(15);
  });

  it('takes the rank just above an exact boundary', () => {
    const tens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(tens, 50)).toBe(5);
    expect(percentile(tens, 50.1)).toBe(6);
    expect(percentile(tens, 90)).toBe(9);
    expect(percentile(tens, 95)).toBe(10);
  });

  it('returns the only value of a single-element sample for every p', () => {
    for (const p of [0, 1, 50, 99, 100]) expect(percentile([7], p)).toBe(7);
  });

  it('is null for an empty sample', () => {
    expect(percentile([], 50)).toBeNull();
  });
});

describe('summarise', () => {
  it('gives count 0 and nulls for an empty sample', () => {
    expect(summarise([])).toEqual({ count: 0, p50: null, p95: null, max: null, mean: null });
  });

  it('sorts its input without changing it and rounds to 0.1', () => {
    const values = [3.14159, 1.05, 2.26, 10.04];
    const copy = [...values];
    expect(summarise(values)).toEqual({ count: 4, p50: 2.3, p95: 10, max: 10, mean: 4.1 });
    expect(values).toEqual(copy);
  });

  it('reports the nearest-rank median and p95 of 1..20', () => {
    const values = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(summarise(values)).toEqual({ count: 20, p50: 10, p95: 19, max: 20, mean: 10.5 });
  });
});

describe('round1', () => {
  it('rounds to one decimal and keeps null', () => {
    expect(round1(1.25)).toBe(1.3);
    expect(round1(0.04)).toBe(0);
    expect(round1(123.456)).toBe(123.5);
    expect(round1(null)).toBeNull();
  });
});

describe('ratio', () => {
  it('is null when the whole is 0', () => {
    expect(ratio(0, 0)).toBeNull();
    expect(ratio(5, 0)).toBeNull();
  });

  it('rounds to 6 decimals', () => {
    expect(ratio(1, 3)).toBe(0.333333);
    expect(ratio(2, 3)).toBe(0.666667);
    expect(ratio(10, 10)).toBe(1);
    expect(ratio(0, 7)).toBe(0);
  });
});
