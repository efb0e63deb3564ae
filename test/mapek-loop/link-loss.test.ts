import { describe, expect, it } from 'vitest';
import { FaultClass } from '../../src/telemetry/types.js';
import { LinkLossMonitor, linkDeliveries, linkLossDefaults, type LinkDelivery } from '../../src/mapek/link-loss.js';
import type { TransitReport } from '../../src/mapek/transit-accounting.js';

const report = (reporter: number, subject: number, sent: number, received: number): TransitReport => ({ reporter, subject, handedTo: 0, receivedFrom: 0, sent, received });

/** Deliveries of link 1 -> 2 only. */
const window = (sent: number, received: number): Map<string, LinkDelivery> => new Map([['1>2', { from: 1, to: 2, sent, received }]]);

describe('linkDeliveries', () => {
  it('pairs what the sender put on a link with what the far end got, per direction', () => {
    const deliveries = linkDeliveries([report(1, 2, 100, 40), report(2, 1, 50, 97), report(1, 3, 10, 0)]);
    expect(deliveries.get('1>2')).toEqual({ from: 1, to: 2, sent: 100, received: 97 });
    expect(deliveries.get('2>1')).toEqual({ from: 2, to: 1, sent: 50, received: 40 });
    // Node 3 did not report (it is down or unknown): no verdict on 1 -> 3.
    expect(deliveries.has('1>3')).toBe(false);
  });

  it('never reports more received than sent (packets in flight at the window edge)', () => {
    expect(linkDeliveries([report(1, 2, 10, 0), report(2, 1, 0, 12)]).get('1>2')!.received).toBe(10);
  });

  it('refuses a report with a negative count', () => {
    expect(() => linkDeliveries([report(1, 2, -1, 0)])).toThrow(/linkDeliveries: .*reporter 1 about 2/);
  });
});

describe('LinkLossMonitor', () => {
  it('gives no verdict until the windows summed hold enough packets, then the loss over them', () => {
    const monitor = new LinkLossMonitor(1);
    expect(monitor.step([2], window(20, 20))).toEqual([]);
    expect(monitor.step([2], window(20, 19))).toEqual([]);
    const [finding] = monitor.step([2], window(20, 20));
    expect(finding).toMatchObject({ subject: { kind: 'link', from: 1, to: 2 }, cause: FaultClass.linkDegradation, evidence: { sent: 60, received: 59, windows: 3 } });
    expect(finding!.evidence['loss']).toBeCloseTo(1 / 60, 12);
    expect(finding!.score).toBeCloseTo(1 / 60 / (2 * linkLossDefaults.lossAtThreshold), 12);
  });

  it('sums only the newest windows it needs, at most windowsMax', () => {
    const monitor = new LinkLossMonitor(1, { packetsMin: 50, windowsMax: 2, lossAtThreshold: 0.02 });
    monitor.step([2], window(40, 0));
    expect(monitor.step([2], window(60, 60))[0]!.evidence).toMatchObject({ windows: 1, loss: 0 });
    expect(monitor.step([2], window(30, 30))[0]!.evidence).toMatchObject({ windows: 2, sent: 90 });
    expect(monitor.step([2], window(12, 12))).toEqual([]);
  });

  it('has no verdict once the traffic has moved away, whatever the old windows said', () => {
    const monitor = new LinkLossMonitor(1);
    monitor.step([2], window(100, 50));
    expect(monitor.step([2], window(100, 50))[0]!.score).toBe(1);
    expect(monitor.step([2], window(5, 5))).toEqual([]);
    // A link without deliveries this window (the far end did not report) counts as carrying nothing.
    expect(monitor.step([2], new Map())).toEqual([]);
  });

  it('forgets a neighbour that is gone', () => {
    const monitor = new LinkLossMonitor(1);
    monitor.step([2], window(40, 0));
    monitor.step([], new Map());
    expect(monitor.step([2], window(40, 40))).toEqual([]);
  });
});
