/**
 * Anti-replay window for session counters, after RFC 6479 ("IPsec Anti-Replay Algorithm without
 * Bit Shifting"): the bitmap is a ring of 32-bit blocks; moving the window forward clears whole
 * blocks as they come into range instead of shifting the bitmap, so an accept costs O(1) however
 * far the counter jumps (at most one pass over the ring).
 *
 * Counters are Numbers, not BigInts: this runs once per received packet and BigInt arithmetic is
 * several times slower. Numbers are exact up to 2^53 - 1, and the session refuses counters from
 * 2^52 on (rejectAfterMessages), long before precision could be lost.
 */
import assert from 'node:assert/strict';

/** Bits in the ring, as in WireGuard: the window's memory is 8192 bits = 1 KiB per session. */
export const replayWindowBits = 8192;

/** Bits per block of the ring; a block is the unit that is cleared when the window moves. */
export const replayBlockBits = 32;

/** Blocks in the ring (256). */
export const replayBlockCount = replayWindowBits / replayBlockBits;

/**
 * The largest distance behind the highest accepted counter that can still be accepted (8160).
 * RFC 6479 keeps one block more than the window so that the block holding the highest counter
 * may be partly in the future; the usable window is therefore the ring minus one block.
 */
export const replayLagPacketsMax = replayWindowBits - replayBlockBits;

assert(
  Number.isInteger(replayBlockCount) && replayBlockCount >= 2,
  `replay-window: expected replayWindowBits to be a multiple of ${replayBlockBits} spanning at least 2 blocks, got ${replayWindowBits}`,
);

/** Remembers which counters were accepted, refusing duplicates and counters too far behind the highest one. */
export class ReplayWindow {
  /** One bit per counter; counter c lives in block floor(c / 32) mod 256, bit c mod 32. */
  private readonly ring = new Uint32Array(replayBlockCount);
  private highestAccepted = -1;

  /** The highest counter accepted so far, or -1 before the first accept. */
  get highest(): number {
    return this.highestAccepted;
  }

  /** True when `counter` would be accepted: newer than the highest, or within the window and not yet seen. Changes nothing. */
  check(counter: number): boolean {
    expectCounter('ReplayWindow.check', counter);
    if (counter > this.highestAccepted) return true;
    if (this.highestAccepted - counter > replayLagPacketsMax) return false;
    return (this.ring[blockIndex(counter)]! & bitMask(counter)) === 0;
  }

  /**
   * Checks `counter` and, when it passes, marks it as seen (moving the window forward if it is the
   * new highest). Returns false for duplicates and counters too far behind, leaving the window as it was.
   */
  accept(counter: number): boolean {
    if (!this.check(counter)) return false;
    if (counter > this.highestAccepted) this.advanceTo(counter);
    const index = blockIndex(counter);
    this.ring[index] = this.ring[index]! | bitMask(counter);
    return true;
  }

  /** Clears the blocks that come into range between the old highest counter and `counter`; at most the whole ring. */
  private advanceTo(counter: number): void {
    const currentBlock = Math.floor(this.highestAccepted / replayBlockBits);
    const blocksAhead = Math.floor(counter / replayBlockBits) - currentBlock;
    const blocksToClear = Math.min(blocksAhead, replayBlockCount);
    for (let step = 1; step <= blocksToClear; step++) {
      this.ring[(currentBlock + step) % replayBlockCount] = 0;
    }
    this.highestAccepted = counter;
  }
}

/** Ring position of the block holding `counter`. Division, not shifts: counters exceed 32 bits. */
function blockIndex(counter: number): number {
  return Math.floor(counter / replayBlockBits) % replayBlockCount;
}

/** The bit of `counter` inside its block. */
function bitMask(counter: number): number {
  return 1 << counter % replayBlockBits;
}

/** Throws RangeError unless `counter` is an integer in 0..2^53-1: callers validate untrusted counters first, so this is a programming error. */
function expectCounter(fn: string, counter: number): void {
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new RangeError(`${fn}: expected a counter that is an integer in 0..2^53-1, got ${counter}`);
  }
}
