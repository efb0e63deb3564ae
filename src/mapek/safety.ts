/**
 * The self-healing loop's brakes (sans-IO, time passed in): a circuit breaker that stops all
 * actions after repeated failures, and a sliding-window rate limit. A loop that keeps acting
 * on a wrong diagnosis does more harm than the fault; these make sure it stops.
 */

/** Failures in a row that open the breaker. */
export const breakerFailuresToOpen = 5;
/** How long an open breaker refuses every action. */
export const breakerOpenMs = 60_000;
/** Actions one node may start per rateWindowMs. */
export const actionsPerWindowMax = 10;
export const rateWindowMs = 60_000;

/** Where the breaker is: closed (acting), open (refusing until `untilMs`), half-open (one trial action allowed). */
export type BreakerState = { readonly kind: 'closed' } | { readonly kind: 'open'; readonly untilMs: number } | { readonly kind: 'halfOpen' };

/**
 * Opens after breakerFailuresToOpen failed actions in a row and refuses everything for
 * breakerOpenMs; then lets one trial through (half-open): its success closes the breaker, its
 * failure opens it again for another breakerOpenMs.
 */
export class CircuitBreaker {
  private failuresInRow = 0;
  private openUntilMs = Number.NEGATIVE_INFINITY;
  private trialRunning = false;

  /** The state at `nowMs`. */
  state(nowMs: number): BreakerState {
    if (nowMs < this.openUntilMs) return { kind: 'open', untilMs: this.openUntilMs };
    return this.openUntilMs === Number.NEGATIVE_INFINITY ? { kind: 'closed' } : { kind: 'halfOpen' };
  }

  /** Whether an action may start now; a half-open breaker allows one trial at a time. */
  allows(nowMs: number): boolean {
    const state = this.state(nowMs);
    if (state.kind === 'open') return false;
    return state.kind === 'closed' || !this.trialRunning;
  }

  /** An action started (call only when `allows` said yes). */
  started(nowMs: number): void {
    if (this.state(nowMs).kind === 'halfOpen') this.trialRunning = true;
  }

  /** The outcome of an action that started. */
  finished(nowMs: number, succeeded: boolean): void {
    const wasTrial = this.trialRunning;
    this.trialRunning = false;
    if (succeeded) {
      this.failuresInRow = 0;
      this.openUntilMs = Number.NEGATIVE_INFINITY;
      return;
    }
    this.failuresInRow++;
    if (wasTrial || this.failuresInRow >= breakerFailuresToOpen) this.openUntilMs = nowMs + breakerOpenMs;
  }
}

/** At most actionsPerWindowMax starts in any rateWindowMs. */
export class RateLimit {
  private readonly startsMs: number[] = [];

  constructor(
    private readonly max = actionsPerWindowMax,
    private readonly windowMs = rateWindowMs,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`RateLimit: expected max >= 1, got ${max}`);
    if (!(windowMs > 0)) throw new RangeError(`RateLimit: expected windowMs > 0, got ${windowMs}`);
  }

  /** Whether one more start fits at `nowMs`. */
  allows(nowMs: number): boolean {
    this.forget(nowMs);
    return this.startsMs.length < this.max;
  }

  /** Records a start at `nowMs`. */
  started(nowMs: number): void {
    this.forget(nowMs);
    this.startsMs.push(nowMs);
  }

  private forget(nowMs: number): void {
    while (this.startsMs.length > 0 && this.startsMs[0]! <= nowMs - this.windowMs) this.startsMs.shift();
  }
}
