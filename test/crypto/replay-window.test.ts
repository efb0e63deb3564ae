import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayBlockBits, replayBlockCount, replayLagPacketsMax, replayWindowBits, ReplayWindow } from '../../src/crypto/replay-window.js';

/** A window that has accepted every counter in `from..to` (inclusive), in order. */
function windowWithRange(from: number, to: number): ReplayWindow {
  const window = new ReplayWindow();
  for (let counter = from; counter <= to; counter++) expect(window.accept(counter)).toBe(true);
  return window;
}

/** Counters in `from..to` (inclusive) that `window` would accept. */
function acceptable(window: ReplayWindow, from: number, to: number): number[] {
  const found: number[] = [];
  for (let counter = from; counter <= to; counter++) if (window.check(counter)) found.push(counter);
  return found;
}

describe('ReplayWindow limits', () => {
  it('keeps 8192 bits in 256 blocks of 32 and accepts up to 8160 behind the highest counter', () => {
    expect(replayWindowBits).toBe(8192);
    expect(replayBlockBits).toBe(32);
    expect(replayBlockCount).toBe(256);
    expect(replayLagPacketsMax).toBe(8192 - 32);
  });
});

describe('ReplayWindow in order, out of order, duplicates', () => {
  it('starts empty: highest is -1 and counter 0 is accepted once', () => {
    const window = new ReplayWindow();
    expect(window.highest).toBe(-1);
    expect(window.check(0)).toBe(true);
    expect(window.accept(0)).toBe(true);
    expect(window.highest).toBe(0);
    expect(window.check(0)).toBe(false);
    expect(window.accept(0)).toBe(false);
  });

  it('accepts 20 000 counters in order, each exactly once', () => {
    const window = windowWithRange(0, 20_000);
    expect(window.highest).toBe(20_000);
    expect(acceptable(window, 20_000 - replayLagPacketsMax, 20_000)).toEqual([]);
  });

  it('accepts counters behind the highest that were not seen, once, and check does not mark them', () => {
    const window = new ReplayWindow();
    expect(window.accept(100)).toBe(true);
    for (const counter of [50, 99, 0, 64, 63]) {
      expect(window.check(counter)).toBe(true);
      expect(window.check(counter)).toBe(true);
      expect(window.accept(counter)).toBe(true);
      expect(window.accept(counter)).toBe(false);
    }
    expect(window.highest).toBe(100);
  });

  it('a refused counter leaves the window as it was', () => {
    const window = windowWithRange(9000, 9005);
    expect(window.accept(9003)).toBe(false);
    expect(window.accept(100)).toBe(false);
    expect(window.highest).toBe(9005);
    expect(acceptable(window, 9000, 9010)).toEqual([9006, 9007, 9008, 9009, 9010]);
  });

  it('keeps the bits of one block apart, including bit 31 (the sign bit of a 32-bit word)', () => {
    const window = new ReplayWindow();
    for (const counter of [31, 32, 63, 64, 0]) expect(window.accept(counter)).toBe(true);
    expect(acceptable(window, 0, 65)).toEqual(Array.from({ length: 66 }, (_, i) => i).filter((c) => ![0, 31, 32, 63, 64].includes(c)));
  });
});

describe('ReplayWindow too old', () => {
  it.each([0, 17, 31])('with the highest at bit %i of its block, accepts exactly 8160 behind and refuses 8161', (bit) => {
    const highest = 40 * replayBlockBits + bit + replayWindowBits;
    const window = new ReplayWindow();
    window.accept(highest);
    expect(window.check(highest - replayLagPacketsMax)).toBe(true);
    expect(window.check(highest - replayLagPacketsMax - 1)).toBe(false);
    expect(window.accept(highest - replayLagPacketsMax - 1)).toBe(false);
    expect(window.accept(highest - replayLagPacketsMax)).toBe(true);
  });

  it('works the same near Number.MAX_SAFE_INTEGER', () => {
    const top = Number.MAX_SAFE_INTEGER;
    const window = new ReplayWindow();
    expect(window.accept(top - 5)).toBe(true);
    expect(window.accept(top)).toBe(true);
    expect(window.accept(top - 5)).toBe(false);
    expect(window.accept(top - 4)).toBe(true);
    expect(window.check(top - replayLagPacketsMax)).toBe(true);
    expect(window.check(top - replayLagPacketsMax - 1)).toBe(false);
  });
});

describe('ReplayWindow jumps', () => {
  it('after a jump far ahead, accepts every counter of the new window and refuses the old ones', () => {
    const window = windowWithRange(0, 99);
    expect(window.accept(1_000_000)).toBe(true);
    const lowest = 1_000_000 - replayLagPacketsMax;
    expect(acceptable(window, lowest, 1_000_000)).toHaveLength(replayLagPacketsMax);
    expect(window.check(lowest - 1)).toBe(false);
    expect(acceptable(window, 0, 99)).toEqual([]);
  });

  it('after a jump that reuses part of the ring, refuses what it saw inside the window and accepts what it never saw', () => {
    const window = windowWithRange(0, 8191);
    expect(window.accept(12_000)).toBe(true);
    const lowest = 12_000 - replayLagPacketsMax; // 3840
    expect(acceptable(window, 0, lowest - 1)).toEqual([]); // too old
    expect(acceptable(window, lowest, 8191)).toEqual([]); // seen before the jump
    expect(acceptable(window, 8192, 12_000)).toHaveLength(12_000 - 8192); // never seen, in reused blocks
  });

  it.each([replayWindowBits, replayLagPacketsMax, replayBlockBits * (replayBlockCount - 1), replayBlockBits * replayBlockCount + 1])(
    'after a jump of %i from a full window, only the new counters in between are acceptable',
    (jump) => {
      const start = 3 * replayWindowBits + 5;
      const window = windowWithRange(start - replayLagPacketsMax, start);
      expect(window.accept(start + jump)).toBe(true);
      const lowest = Math.max(start + jump - replayLagPacketsMax, 0);
      const expected = Array.from({ length: jump - 1 }, (_, i) => start + 1 + i).filter((c) => c >= lowest);
      expect(acceptable(window, lowest - 1, start + jump)).toEqual(expected);
    },
  );

  it('a jump across whole blocks clears the blocks in between and keeps the current one', () => {
    const window = new ReplayWindow();
    window.accept(33); // block 1
    window.accept(5 * 32 + 3); // block 5; blocks 2..5 cleared, block 1 kept
    expect(acceptable(window, 0, 5 * 32 + 3)).toHaveLength(5 * 32 + 3 - 1);
    expect(window.check(33)).toBe(false);
  });
});

describe('ReplayWindow input', () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses counter %s with a RangeError naming it', (counter) => {
    const window = new ReplayWindow();
    expect(() => window.check(counter)).toThrow(RangeError);
    expect(() => window.accept(counter)).toThrow(`expected a counter that is an integer in 0..2^53-1, got ${counter}`);
  });
});

/** The reference: every accepted counter in a Set, the highest, and the same lag rule. */
class ModelWindow {
  private readonly seen = new Set<number>();
  highest = -1;

  accept(counter: number): boolean {
    const ok = !this.seen.has(counter) && (counter > this.highest || this.highest - counter <= replayLagPacketsMax);
    if (ok) {
      this.seen.add(counter);
      this.highest = Math.max(this.highest, counter);
    }
    return ok;
  }
}

/** Steps relative to the highest counter: mostly near it (behind or ahead), sometimes a jump of up to three rings. */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -replayLagPacketsMax - 40, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 * replayWindowBits }) },
);

describe('ReplayWindow against a reference model', () => {
  it.each([0, 2 ** 52, Number.MAX_SAFE_INTEGER - 200_000])('agrees with a Set-and-highest model for every counter, starting at %i', (base) => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 400 }), (steps) => {
        const window = new ReplayWindow();
        const model = new ModelWindow();
        const accepted = new Set<number>();
        for (const delta of steps) {
          const counter = Math.max(base, Math.max(model.highest, base) + delta);
          const expected = model.accept(counter);
          expect(window.check(counter)).toBe(expected);
          const got = window.accept(counter);
          expect(got).toBe(expected);
          if (got) {
            expect(accepted.has(counter)).toBe(false);
            accepted.add(counter);
          }
          expect(window.highest).toBe(model.highest);
        }
      }),
      { numRuns: 200 },
    );
  });
});
