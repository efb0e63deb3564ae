import type { Flow } from './flows.js';

/**
 * Delivery of a chosen set of flows over time, by the send time of their packets: what a fault
 * did to the flows it sat on, and when they were whole again.
 */

/** The packets the flows sent in one bin [startMs, startMs + binMs), and how many of them arrived. */
export interface DeliveryBin {
  readonly startMs: number;
  readonly sent: number;
  readonly delivered: number;
}

/** Per-bin delivery of `flows` for packets sent in [startMs, endMs). */
export function deliveryBins(flows: readonly Flow[], startMs: number, endMs: number, binMs: number): DeliveryBin[] {
  if (!(binMs > 0) || !(endMs > startMs)) throw new RangeError(`deliveryBins: expected binMs > 0 and endMs > startMs, got binMs ${binMs}, ${startMs}..${endMs}`);
  const count = Math.ceil((endMs - startMs) / binMs);
  const sent = new Float64Array(count);
  const delivered = new Float64Array(count);
  for (const flow of flows) {
    for (let seq = 0; seq < flow.sent; seq++) {
      const atMs = flow.sentAtMs[seq]!;
      if (atMs < startMs || atMs >= endMs) continue;
      const bin = Math.floor((atMs - startMs) / binMs);
      sent[bin]!++;
      delivered[bin]! += flow.delivered[seq]!;
    }
  }
  return Array.from(sent, (s, i) => ({ startMs: startMs + i * binMs, sent: s, delivered: delivered[i]! }));
}

/** Delivered over sent for the bins that start at or after `fromMs`; null when they sent nothing. */
export function deliveryFrom(bins: readonly DeliveryBin[], fromMs: number): number | null {
  let sent = 0;
  let delivered = 0;
  for (const bin of bins) {
    if (bin.startMs < fromMs) continue;
    sent += bin.sent;
    delivered += bin.delivered;
  }
  return sent === 0 ? null : delivered / sent;
}

/**
 * Milliseconds from the first bin's start to the start of the first bin from which every bin
 * (that sent anything) delivered at least `ratio`; null when the last bin is still below it.
 */
export function recoveredAfterMs(bins: readonly DeliveryBin[], ratio: number): number | null {
  if (bins.length === 0) return null;
  let firstGood = bins.length;
  for (let i = bins.length - 1; i >= 0; i--) {
    const bin = bins[i]!;
    if (bin.sent > 0 && bin.delivered / bin.sent < ratio) break;
    firstGood = i;
  }
  return firstGood === bins.length ? null : bins[firstGood]!.startMs - bins[0]!.startMs;
}
