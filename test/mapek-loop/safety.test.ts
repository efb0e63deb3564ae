import { describe, expect, it } from 'vitest';
import { breakerOpenMs, CircuitBreaker, RateLimit } from '../../src/mapek/safety.js';

describe('CircuitBreaker', () => {
  it('is closed, opens after five failures in a row, half-opens for one trial, and closes on its success', () => {
    const breaker = new CircuitBreaker();
    expect(breaker.state(0)).toEqual({ kind: 'closed' });
    for (let i = 0; i < 4; i++) breaker.finished(0, false);
    expect(breaker.allows(0)).toBe(true);
    breaker.finished(10, true); // a success resets the count
    for (let i = 0; i < 5; i++) breaker.finished(20, false);
    expect(breaker.state(21)).toEqual({ kind: 'open', untilMs: 20 + breakerOpenMs });
    expect(breaker.allows(21)).toBe(false);
    const later = 20 + breakerOpenMs;
    expect(breaker.state(later)).toEqual({ kind: 'halfOpen' });
    expect(breaker.allows(later)).toBe(true);
    breaker.started(later);
    expect(breaker.allows(later)).toBe(false); // one trial at a time
    breaker.finished(later + 1, true);
    expect(breaker.state(later + 1)).toEqual({ kind: 'closed' });
  });
});

describe('RateLimit', () => {
  it('allows max starts per window, counting only the last window', () => {
    const rate = new RateLimit(2, 1000);
    rate.started(0);
    rate.started(500);
    expect(rate.allows(999)).toBe(false);
    expect(rate.allows(1000)).toBe(true);
  });

  it('refuses a limit that could never allow anything', () => {
    expect(() => new RateLimit(0, 1000)).toThrow('RateLimit: expected max >= 1, got 0');
    expect(() => new RateLimit(1, 0)).toThrow('RateLimit: expected windowMs > 0, got 0');
  });
});
