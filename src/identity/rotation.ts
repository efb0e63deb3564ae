import assert from 'node:assert/strict';

/**
 * When a node renews its SVID. A node asks for a new SVID at about half of the current one's
 * lifetime, so that a CA outage of up to half a lifetime costs nothing. The moment is drawn
 * uniformly from [0.45, 0.55] of the lifetime: a fleet issued at once (a restart, a new CA) would
 * otherwise come back to the CA in the same millisecond. With one-hour SVIDs the requests of such
 * a fleet spread over six minutes, 27 to 33 minutes after notBefore.
 *
 * A failed request is retried with exponential backoff and "equal jitter": the n-th retry waits
 * half of min(retryDelayMsMax, retryDelayMsBase * 2^n) plus a uniform draw of up to the other
 * half, so retries spread out but never come back at once. No retry is scheduled later than
 * retryBeforeExpiryMs before notAfter, while the old SVID can still authenticate the request;
 * past that point there is none left and the node has to join again.
 *
 * Randomness is injected: `random(4)` gives four bytes, read as a fraction in [0, 1).
 */

/** Earliest point of the lifetime at which a node renews. */
export const rotationFractionMin = 0.45;
/** Latest point of the lifetime at which a node renews (exclusive). */
export const rotationFractionMax = 0.55;
/** Delay step of the first retry. */
export const retryDelayMsBase = 1_000;
/** Longest delay step of a retry. */
export const retryDelayMsMax = 60_000;
/** The last retry happens at least this long before notAfter, so its request can finish under the old SVID. */
export const retryBeforeExpiryMs = 5_000;
/** Attempts beyond this use the same (capped) delay step; keeps 2^attempt exact. */
const retryExponentMax = 30;

assert(rotationFractionMin > 0 && rotationFractionMin < rotationFractionMax && rotationFractionMax < 1, 'rotation: the renewal window must lie inside the lifetime');
assert(retryDelayMsBase > 0 && retryDelayMsBase <= retryDelayMsMax && retryDelayMsMax <= retryDelayMsBase * 2 ** retryExponentMax, 'rotation: retry delays must be ordered');

const randomBytes = 4;
const u32Range = 2 ** 32;

/** A fraction in [0, 1) from four bytes of `random`. */
function unitFraction(random: (bytes: number) => Uint8Array): number {
  const bytes = random(randomBytes);
  if (bytes.length !== randomBytes) throw new RangeError(`rotation: random(${randomBytes}) returned ${bytes.length} bytes`);
  return new DataView(bytes.buffer, bytes.byteOffset, randomBytes).getUint32(0) / u32Range;
}

function checkTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`rotation: expected ${name} to be an integer number of milliseconds, got ${value}`);
}

/**
 * When to renew an SVID valid from `notBeforeMs` to `notAfterMs`: notBefore plus a uniform
 * fraction in [rotationFractionMin, rotationFractionMax) of the lifetime, in whole milliseconds.
 */
export function rotationAtMs(notBeforeMs: number, notAfterMs: number, random: (bytes: number) => Uint8Array): number {
  checkTime('notBeforeMs', notBeforeMs);
  checkTime('notAfterMs', notAfterMs);
  if (notAfterMs <= notBeforeMs) throw new RangeError(`rotationAtMs: expected notAfterMs > notBeforeMs, got ${notAfterMs} <= ${notBeforeMs}`);
  const lifetimeMs = notAfterMs - notBeforeMs;
  const fraction = rotationFractionMin + (rotationFractionMax - rotationFractionMin) * unitFraction(random);
  return notBeforeMs + Math.floor(lifetimeMs * fraction);
}

/**
 * When to retry a renewal after `attempt` failures (0 = after the first one), at `nowMs`, for an
 * SVID that expires at `notAfterMs`: exponential backoff with equal jitter, never later than
 * retryBeforeExpiryMs before notAfter; null when that moment has passed (the node must rejoin).
 */
export function retryAtMs(attempt: number, nowMs: number, random: (bytes: number) => Uint8Array, notAfterMs: number): number | null {
  if (!Number.isSafeInteger(attempt) || attempt < 0) throw new RangeError(`retryAtMs: expected attempt to be an integer >= 0, got ${attempt}`);
  checkTime('nowMs', nowMs);
  checkTime('notAfterMs', notAfterMs);
  const stepMs = Math.min(retryDelayMsMax, retryDelayMsBase * 2 ** Math.min(attempt, retryExponentMax));
  const delayMs = stepMs / 2 + Math.floor((stepMs / 2) * unitFraction(random));
  const deadlineMs = notAfterMs - retryBeforeExpiryMs;
  if (nowMs >= deadlineMs) return null;
  return Math.min(nowMs + delayMs, deadlineMs);
}
