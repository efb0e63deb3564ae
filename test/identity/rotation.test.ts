import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  retryAtMs,
  retryBeforeExpiryMs,
  retryDelayMsBase,
  retryDelayMsMax,
  rotationAtMs,
  rotationFractionMax,
  rotationFractionMin,
} from '../../src/identity/rotation.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const hourMs = 3600_000;

/** Randomness that always returns `byte` repeated: 0x00 gives the fraction 0, 0xff the largest below 1. */
function constant(byte: number): (bytes: number) => Uint8Array {
  return (bytes) => new Uint8Array(bytes).fill(byte);
}

/** Randomness that returns the big-endian u32 `value`. */
function u32(value: number): (bytes: number) => Uint8Array {
  return () => {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return out;
  };
}

describe('rotationAtMs', () => {
  it('renews a one-hour SVID between 27 and 33 minutes after notBefore', () => {
    expect(rotationAtMs(t0, t0 + hourMs, constant(0))).toBe(t0 + 0.45 * hourMs);
    expect(rotationAtMs(t0, t0 + hourMs, u32(2 ** 31))).toBe(t0 + 0.5 * hourMs);
    const latest = rotationAtMs(t0, t0 + hourMs, constant(0xff));
    expect(latest).toBeLessThan(t0 + 0.55 * hourMs);
    expect(latest).toBeGreaterThan(t0 + 0.55 * hourMs - 2);
  });

  it('stays in [min, max) of the lifetime and before notAfter for any lifetime and draw (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (notBeforeMs, lifetimeMs, bytes) => {
        const at = rotationAtMs(notBeforeMs, notBeforeMs + lifetimeMs, () => bytes);
        expect(Number.isSafeInteger(at)).toBe(true);
        expect(at).toBeGreaterThanOrEqual(notBeforeMs + Math.floor(lifetimeMs * rotationFractionMin));
        expect(at).toBeLessThanOrEqual(notBeforeMs + Math.floor(lifetimeMs * rotationFractionMax));
        expect(at).toBeLessThan(notBeforeMs + lifetimeMs);
      }),
    );
  });

  it('spreads a fleet issued at once over the whole window', () => {
    const times = Array.from({ length: 1000 }, (_, i) => rotationAtMs(t0, t0 + hourMs, u32(Math.floor((i / 1000) * 2 ** 32))));
    const windowMs = (rotationFractionMax - rotationFractionMin) * hourMs;
    expect(Math.min(...times) - t0).toBe(rotationFractionMin * hourMs);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(0.99 * windowMs);
    expect(new Set(times).size).toBe(1000);
  });

  it('refuses an empty or reversed lifetime, non-integer times and short randomness', () => {
    expect(() => rotationAtMs(t0, t0, constant(0))).toThrow(/expected notAfterMs > notBeforeMs/);
    expect(() => rotationAtMs(t0 + 1, t0, constant(0))).toThrow(RangeError);
    expect(() => rotationAtMs(0.5, t0, constant(0))).toThrow(/notBeforeMs to be an integer/);
    expect(() => rotationAtMs(t0, Number.NaN, constant(0))).toThrow(/notAfterMs/);
    expect(() => rotationAtMs(t0, t0 + hourMs, () => new Uint8Array(3))).toThrow(/returned 3 bytes/);
  });
});

describe('retryAtMs', () => {
  const now = t0 + 30 * 60_000;
  const notAfter = t0 + hourMs;

  it('doubles the delay step from retryDelayMsBase, waiting between half and all of it', () => {
    for (const attempt of [0, 1, 2, 3, 4]) {
      const stepMs = retryDelayMsBase * 2 ** attempt;
      expect(retryAtMs(attempt, now, constant(0), notAfter)).toBe(now + stepMs / 2);
      const latest = retryAtMs(attempt, now, constant(0xff), notAfter)!;
      expect(latest).toBeLessThan(now + stepMs);
      expect(latest).toBeGreaterThanOrEqual(now + stepMs - 1);
    }
  });

  it('caps the step at retryDelayMsMax, however many attempts failed', () => {
    for (const attempt of [6, 7, 31, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(retryAtMs(attempt, now, constant(0), notAfter)).toBe(now + retryDelayMsMax / 2);
      expect(retryAtMs(attempt, now, constant(0xff), notAfter)!).toBeLessThan(now + retryDelayMsMax);
    }
  });

  it('never retries later than retryBeforeExpiryMs before notAfter, and gives up after that', () => {
    const deadline = notAfter - retryBeforeExpiryMs;
    expect(retryAtMs(10, deadline - 1000, constant(0xff), notAfter)).toBe(deadline);
    expect(retryAtMs(0, deadline - 1, constant(0), notAfter)).toBe(deadline);
    expect(retryAtMs(0, deadline, constant(0), notAfter)).toBeNull();
    expect(retryAtMs(0, notAfter + 1, constant(0), notAfter)).toBeNull();
  });

  it('is always after now and before the deadline (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100 }), fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: -hourMs, max: 2 * hourMs }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (attempt, nowMs, untilExpiryMs, bytes) => {
        const at = retryAtMs(attempt, nowMs, () => bytes, nowMs + untilExpiryMs);
        if (untilExpiryMs <= retryBeforeExpiryMs) {
          expect(at).toBeNull();
          return;
        }
        expect(at).not.toBeNull();
        expect(at!).toBeGreaterThan(nowMs);
        expect(at!).toBeLessThanOrEqual(nowMs + untilExpiryMs - retryBeforeExpiryMs);
        expect(at! - nowMs).toBeLessThan(retryDelayMsMax);
      }),
    );
  });

  it('refuses a negative or fractional attempt and non-integer times', () => {
    expect(() => retryAtMs(-1, now, constant(0), notAfter)).toThrow(/attempt to be an integer >= 0, got -1/);
    expect(() => retryAtMs(1.5, now, constant(0), notAfter)).toThrow(RangeError);
    expect(() => retryAtMs(0, Number.POSITIVE_INFINITY, constant(0), notAfter)).toThrow(/nowMs/);
    expect(() => retryAtMs(0, now, constant(0), 1.5)).toThrow(/notAfterMs/);
  });
});
