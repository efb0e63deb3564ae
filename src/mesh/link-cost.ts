import { metricInfinity } from '../wire/limits.js';

/** Cost of a perfect link (RFC 8966 Appendix A: ETX with no loss). */
export const nominalLinkCost = 256;
/** RTT below which no delay penalty applies (RFC 9616 section 4.1 default). */
export const rttMinMs = 10;
/** RTT at and above which the full delay penalty applies (RFC 9616 default). */
export const rttMaxMs = 120;
/** Largest delay penalty added to a link cost (RFC 9616 default max-rtt-penalty). */
export const rttPenaltyMax = 150;
/** A recomputed link cost replaces the current one only when it differs by at least this. */
export const linkCostHysteresis = 16;
/** Bits of Hello history kept per neighbour (RFC 8966 Appendix A.1: 16). */
export const helloHistoryBits = 16;

/**
 * Receive cost from the Hello history, in the manner of ETX (RFC 8966 Appendix A.2.2):
 * 256 divided by the fraction of expected Hellos that arrived; infinite when none did.
 */
export function rxCostFromHistory(received: number, expected: number): number {
  if (expected === 0) return nominalLinkCost;
  if (received === 0) return metricInfinity;
  return Math.min(metricInfinity - 1, Math.floor((nominalLinkCost * expected) / received));
}

/** RTT penalty of RFC 9616: 0 below rttMin, linear up to rttPenaltyMax at rttMax. */
export function rttPenalty(rttMs: number): number {
  if (!(rttMs > rttMinMs)) return 0;
  if (rttMs >= rttMaxMs) return rttPenaltyMax;
  return Math.round((rttPenaltyMax * (rttMs - rttMinMs)) / (rttMaxMs - rttMinMs));
}

/** Link cost from receive cost, transmit cost (from IHU) and RTT: ETX = rx * tx / 256, plus the RTT penalty. */
export function linkCost(rxCost: number, txCost: number, rttMs: number): number {
  if (rxCost >= metricInfinity || txCost >= metricInfinity) return metricInfinity;
  const etx = Math.floor((Math.max(rxCost, nominalLinkCost) * Math.max(txCost, nominalLinkCost)) / nominalLinkCost);
  return Math.min(metricInfinity - 1, etx + rttPenalty(rttMs));
}

/** The metric of a route: advertised metric plus link cost, saturating at infinity. */
export function addMetric(advertised: number, cost: number): number {
  if (advertised >= metricInfinity || cost >= metricInfinity) return metricInfinity;
  return Math.min(metricInfinity, advertised + cost);
}

/** Which Hellos of a neighbour arrived, newest in bit 0 (RFC 8966 Appendix A.1). */
export class HelloHistory {
  private bits = 0;
  private length = 0;
  private lastSeqno = -1;

  /** Records a Hello with `seqno`; a jump backwards or of more than 16 means the peer restarted. */
  recordHello(seqno: number): void {
    if (this.lastSeqno < 0) {
      this.reset(seqno);
      return;
    }
    const gap = (seqno - this.lastSeqno) & 0xffff;
    if (gap === 0) {
      this.bits |= 1; // A Hello already counted as missed arrived late.
    } else if (gap > helloHistoryBits) {
      this.reset(seqno);
    } else {
      this.shift(gap - 1, 0);
      this.shift(1, 1);
      this.lastSeqno = seqno;
    }
  }

  /** Records that the Hello expected next did not arrive in time. */
  recordMiss(): void {
    if (this.lastSeqno < 0) return;
    this.shift(1, 0);
    this.lastSeqno = (this.lastSeqno + 1) & 0xffff;
  }

  /** Hellos received among the recorded ones. */
  received(): number {
    let count = 0;
    for (let bits = this.bits; bits !== 0; bits &= bits - 1) count++;
    return count;
  }

  /** Hellos recorded (received or missed), at most 16. */
  expected(): number {
    return this.length;
  }

  /** Babel's "2-out-of-3" liveness rule: at least two of the last three expected Hellos arrived. */
  twoOfThree(): boolean {
    if (this.length === 0) return false;
    if (this.length < 3) return (this.bits & 1) === 1;
    const lastThree = this.bits & 0b111;
    return lastThree === 0b111 || lastThree === 0b011 || lastThree === 0b101 || lastThree === 0b110;
  }

  private reset(seqno: number): void {
    this.bits = 1;
    this.length = 1;
    this.lastSeqno = seqno;
  }

  private shift(count: number, bit: 0 | 1): void {
    for (let i = 0; i < count; i++) {
      this.bits = ((this.bits << 1) | bit) & 0xffff;
      this.length = Math.min(helloHistoryBits, this.length + 1);
    }
  }
}
