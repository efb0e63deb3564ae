import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seqnoCompare, seqnoHalfway, seqnoNewer, seqnoPlus } from '../../src/mesh/seqno.js';

const u16 = fc.integer({ min: 0, max: 0xffff });

describe('seqnoCompare vectors (RFC 8966 3.2.1)', () => {
  it.each([
    // [a, b, compare(a, b)]
    [0, 0, 0],
    [0xffff, 0xffff, 0],
    [1, 0, 1],
    [0, 1, -1],
    [0, 0xffff, 1], // wrap-around: 0 follows 0xffff
    [0xffff, 0, -1],
    [5, 0xfffe, 1],
    [0xfffe, 5, -1],
    [0x7fff, 0, 1], // largest distance that is still "newer"
    [0, 0x7fff, -1],
    [0x8001, 0, -1], // one past half-way: older
    [0, 0x8001, 1],
    [0x8000, 0x0001, 1],
    [0x0001, 0x8000, -1],
  ])('seqnoCompare(%i, %i) = %i', (a, b, expected) => {
    expect(seqnoCompare(a, b)).toBe(expected);
  });

  it.each([
    [0, 0x8000],
    [0x8000, 0],
    [1, 0x8001],
    [0x8001, 1],
    [0xffff, 0x7fff],
    [0x7fff, 0xffff],
  ])('half-way apart: seqnoCompare(%i, %i) is NaN and neither is newer', (a, b) => {
    expect(seqnoCompare(a, b)).toBeNaN();
    expect(seqnoNewer(a, b)).toBe(false);
    expect(seqnoNewer(b, a)).toBe(false);
  });

  it('names the half-way distance', () => {
    expect(seqnoHalfway).toBe(0x8000);
  });
});

describe('seqnoNewer vectors', () => {
  it.each([
    [1, 0, true],
    [0, 1, false],
    [0, 0, false],
    [0, 0xffff, true],
    [0xffff, 0, false],
    [0x7fff, 0, true],
    [0x8001, 0, false],
    [0, 0x8001, true],
    [0x1234, 0x1233, true],
  ])('seqnoNewer(%i, %i) = %s', (a, b, expected) => {
    expect(seqnoNewer(a, b)).toBe(expected);
  });
});

describe('seqnoPlus', () => {
  it.each([
    [0, 1, 1],
    [0xfffe, 1, 0xffff],
    [0xffff, 1, 0],
    [0xffff, 2, 1],
    [0, -1, 0xffff],
    [5, 0x10000, 5],
    [0x8000, 0x8000, 0],
    [7, 0, 7],
  ])('seqnoPlus(%i, %i) = %i', (seqno, n, expected) => {
    expect(seqnoPlus(seqno, n)).toBe(expected);
  });
});

describe('seqno properties', () => {
  it('compare is antisymmetric (NaN stays NaN, 0 stays 0)', () => {
    fc.assert(
      fc.property(u16, u16, (a, b) => {
        // 0 - x keeps 0 as +0 (toBe uses Object.is) and maps NaN to NaN.
        expect(seqnoCompare(b, a)).toBe(0 - seqnoCompare(a, b));
      }),
    );
  });

  it('newer agrees with compare, and at most one of a, b is newer', () => {
    fc.assert(
      fc.property(u16, u16, (a, b) => {
        expect(seqnoNewer(a, b)).toBe(seqnoCompare(a, b) === 1);
        expect(seqnoNewer(a, b) && seqnoNewer(b, a)).toBe(false);
      }),
    );
  });

  it('a seqno is equal to itself and never newer than itself', () => {
    fc.assert(
      fc.property(u16, (a) => {
        expect(seqnoCompare(a, a)).toBe(0);
        expect(seqnoNewer(a, a)).toBe(false);
      }),
    );
  });

  it('a + k is newer than a for 1 <= k < 0x8000', () => {
    fc.assert(
      fc.property(u16, fc.integer({ min: 1, max: 0x7fff }), (a, k) => {
        const later = seqnoPlus(a, k);
        expect(seqnoNewer(later, a)).toBe(true);
        expect(seqnoNewer(a, later)).toBe(false);
        expect(seqnoCompare(later, a)).toBe(1);
        expect(seqnoCompare(a, later)).toBe(-1);
      }),
    );
  });

  it('a + k is not newer than a for 0x8000 <= k <= 0xffff', () => {
    fc.assert(
      fc.property(u16, fc.integer({ min: 0x8000, max: 0xffff }), (a, k) => {
        const later = seqnoPlus(a, k);
        expect(seqnoNewer(later, a)).toBe(false);
        // Past the half-way point the order flips: a is then newer than a + k.
        expect(seqnoNewer(a, later)).toBe(k !== 0x8000);
      }),
    );
  });

  it('seqnoPlus stays in 0..0xffff and is additive modulo 2^16', () => {
    fc.assert(
      fc.property(u16, fc.integer({ min: -0x20000, max: 0x20000 }), fc.integer({ min: -0x20000, max: 0x20000 }), (a, m, n) => {
        const sum = seqnoPlus(a, m);
        expect(sum).toBeGreaterThanOrEqual(0);
        expect(sum).toBeLessThanOrEqual(0xffff);
        expect(seqnoPlus(sum, n)).toBe(seqnoPlus(a, m + n));
      }),
    );
  });
});
