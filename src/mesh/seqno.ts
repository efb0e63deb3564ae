/**
 * Sequence numbers compared modulo 2^16 (RFC 8966 section 3.2.1).
 *
 * RFC 8966 defines s1 < s2 when 0 < ((s2 - s1) mod 2^16) < 32768 and leaves the
 * half-way distance 32768 open. babeld resolves it asymmetrically (which of the two
 * looks newer depends on argument order). We choose the symmetric rule: two seqnos
 * exactly half-way apart are *incomparable*, neither newer than the other. Feasibility
 * then rejects an update whose seqno is half-way from the feasibility distance, which
 * is the conservative choice: at worst it costs a seqno request, never a loop.
 */

/** Distance that RFC 8966 leaves undecided: neither seqno is newer. */
export const seqnoHalfway = 0x8000;

/** How `a` relates to `b`: -1 older, 0 equal, 1 newer, NaN incomparable (half-way apart). */
export function seqnoCompare(a: number, b: number): number {
  const distance = (a - b) & 0xffff;
  if (distance === 0) return 0;
  if (distance === seqnoHalfway) return Number.NaN;
  return distance < seqnoHalfway ? 1 : -1;
}

/** True when `a` is strictly newer than `b` modulo 2^16 (false in the half-way case). */
export function seqnoNewer(a: number, b: number): boolean {
  const distance = (a - b) & 0xffff;
  return distance !== 0 && distance < seqnoHalfway;
}

/** `seqno + n` modulo 2^16. */
export function seqnoPlus(seqno: number, n: number): number {
  return (seqno + n) & 0xffff;
}
