import { describe, expect, it } from 'vitest';
import { deliveryBins, deliveryFrom, recoveredAfterMs, type DeliveryBin } from '../../src/twin/flow-delivery.js';
import type { Flow } from '../../src/twin/flows.js';

/** A flow whose packet i was sent at times[i] and arrived when arrived[i]. */
function flow(times: number[], arrived: boolean[]): Flow {
  return {
    index: 0,
    src: 0,
    dst: 1,
    intervalMs: 100,
    sentAtMs: Float64Array.from(times),
    delivered: Uint8Array.from(arrived.map((a) => (a ? 1 : 0))),
    payload: new Uint8Array(1),
    sent: times.length,
    lastDeliveryMs: Number.NaN,
  };
}

const bins = (pairs: [number, number][]): DeliveryBin[] => pairs.map(([sent, delivered], i) => ({ startMs: 1000 + i * 1000, sent, delivered }));

describe('deliveryBins', () => {
  it('bins packets by send time within [start, end) over all flows', () => {
    const flows = [flow([999, 1000, 1500, 2100, 3000], [true, false, true, true, true]), flow([1999, 2999], [true, false])];
    expect(deliveryBins(flows, 1000, 3000, 1000)).toEqual([
      { startMs: 1000, sent: 3, delivered: 2 },
      { startMs: 2000, sent: 2, delivered: 1 },
    ]);
  });

  it('refuses an empty span or a bin of no length', () => {
    expect(() => deliveryBins([], 1000, 1000, 100)).toThrow(/endMs > startMs/);
    expect(() => deliveryBins([], 0, 1000, 0)).toThrow(/binMs > 0/);
  });
});

describe('deliveryFrom', () => {
  it('pools the bins from a time on, null when they sent nothing', () => {
    const b = bins([[10, 0], [10, 5], [10, 10]]);
    expect(deliveryFrom(b, 2000)).toBe(0.75);
    expect(deliveryFrom(b, 0)).toBe(0.5);
    expect(deliveryFrom(b, 4000)).toBeNull();
  });
});

describe('recoveredAfterMs', () => {
  it('is the start of the first bin from which every bin is at the ratio, relative to the first bin', () => {
    expect(recoveredAfterMs(bins([[10, 5], [10, 10], [10, 8], [10, 10], [0, 0], [10, 10]]), 0.99)).toBe(3000);
    expect(recoveredAfterMs(bins([[10, 10], [10, 10]]), 0.99)).toBe(0);
  });

  it('is null when the last bin is still below, or there are no bins', () => {
    expect(recoveredAfterMs(bins([[10, 10], [10, 9]]), 0.99)).toBeNull();
    expect(recoveredAfterMs([], 0.99)).toBeNull();
  });
});
