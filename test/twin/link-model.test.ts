import { describe, expect, it } from 'vitest';
import { LinkDirection, type LinkParams } from '../../src/twin/link-model.js';
import { Prng } from '../../src/twin/prng.js';

/** 1 Mbit/s: a 125-byte packet takes exactly 1 ms to serialise. */
const base: LinkParams = { delayMs: 10, jitterMs: 0, loss: 0, bandwidthBps: 1_000_000, queueBytesMax: 10_000 };

function link(over: Partial<LinkParams> = {}, seed = 1): LinkDirection {
  return new LinkDirection({ ...base, ...over }, Prng.fromSeed(seed, 'link-model-test'));
}

describe('LinkDirection delay and queueing', () => {
  it('adds serialisation time and the fixed delay', () => {
    const l = link();
    expect(l.transmit(0, 125)).toBe(11);
    expect(l.transmit(100, 250)).toBe(112);
    expect(l.bytesCarried).toBe(375);
  });

  it('queues packets sent back to back behind each other', () => {
    const l = link();
    expect(l.transmit(0, 125)).toBe(11);
    expect(l.transmit(0, 125)).toBe(12);
    expect(l.transmit(0.5, 125)).toBe(13);
    // Once the queue has drained, a packet starts at once.
    expect(l.transmit(50, 125)).toBe(61);
  });

  it('adds the fault extra delay', () => {
    const l = link();
    l.extraDelayMs = 40;
    expect(l.transmit(0, 125)).toBe(51);
  });
});

describe('LinkDirection jitter', () => {
  const serialiseMs = (100 * 8 * 1000) / 1e9;

  it('adds a delay uniform in [0, jitter] to packets sent far apart', () => {
    const jitterMs = 8;
    const l = link({ jitterMs, bandwidthBps: 1e9 });
    const offsets: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const sentAt = i * 20;
      const arrival = l.transmit(sentAt, 100) as number;
      offsets.push(arrival - (sentAt + serialiseMs + base.delayMs));
    }
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...offsets)).toBeLessThanOrEqual(jitterMs);
    // The jitter is really drawn: offsets spread over the range, with a mean near its middle.
    expect(Math.min(...offsets)).toBeLessThan(0.5);
    expect(Math.max(...offsets)).toBeGreaterThan(jitterMs - 0.5);
    const mean = offsets.reduce((a, b) => a + b, 0) / offsets.length;
    expect(mean).toBeGreaterThan(3.5);
    expect(mean).toBeLessThan(4.5);
  });

  it('never reorders packets sent closer together than the jitter', () => {
    const jitterMs = 8;
    const l = link({ jitterMs, bandwidthBps: 1e9 });
    let previous = -1;
    let held = 0;
    for (let i = 0; i < 2000; i++) {
      const sentAt = i * 0.5;
      const arrival = l.transmit(sentAt, 100) as number;
      const lowest = sentAt + serialiseMs + base.delayMs;
      expect(arrival).toBeGreaterThanOrEqual(lowest);
      expect(arrival).toBeGreaterThanOrEqual(previous);
      // A packet is held behind its predecessor, never later than that or its own jittered time.
      expect(arrival).toBeLessThanOrEqual(Math.max(previous, lowest + jitterMs));
      if (arrival === previous) held++;
      previous = arrival;
    }
    expect(held).toBeGreaterThan(0);
  });

  it('draws the same jitter from the same stream', () => {
    const a = link({ jitterMs: 5 }, 9);
    const b = link({ jitterMs: 5 }, 9);
    for (let i = 0; i < 50; i++) expect(a.transmit(i * 20, 64)).toBe(b.transmit(i * 20, 64));
  });
});

describe('LinkDirection loss', () => {
  it('loses about a fraction p of packets', () => {
    const l = link({ loss: 0.2, bandwidthBps: 1e9 });
    const n = 20_000;
    let lost = 0;
    for (let i = 0; i < n; i++) if (l.transmit(i, 64) === 'loss') lost++;
    expect(lost).toBe(l.drops.loss);
    expect(lost / n).toBeGreaterThan(0.18);
    expect(lost / n).toBeLessThan(0.22);
    expect(l.drops.queue + l.drops.down).toBe(0);
  });

  it('adds fault loss to the base loss', () => {
    const l = link({ loss: 0.1, bandwidthBps: 1e9 });
    l.extraLoss = 0.4;
    const n = 20_000;
    let lost = 0;
    for (let i = 0; i < n; i++) if (l.transmit(i, 64) === 'loss') lost++;
    expect(lost / n).toBeGreaterThan(0.47);
    expect(lost / n).toBeLessThan(0.53);
  });

  it('never loses a packet without loss', () => {
    const l = link({ bandwidthBps: 1e9 });
    for (let i = 0; i < 1000; i++) expect(typeof l.transmit(i, 64)).toBe('number');
  });
});

describe('LinkDirection queue bound', () => {
  // 8000 bit/s: one byte per millisecond, so queued bytes equal queued milliseconds.
  const slow = { bandwidthBps: 8000, queueBytesMax: 1500, delayMs: 0 };

  it("drops a packet that would overflow the queue with reason 'queue'", () => {
    const l = link(slow);
    expect(l.transmit(0, 1000)).toBe(1000);
    // 1000 bytes still queued + 1000 > 1500.
    expect(l.transmit(0, 1000)).toBe('queue');
    // 1000 + 500 fits exactly.
    expect(l.transmit(0, 500)).toBe(1500);
    expect(l.transmit(0, 1)).toBe('queue');
    expect(l.drops).toEqual({ down: 0, loss: 0, queue: 2 });
    expect(l.bytesCarried).toBe(1500);
  });

  it('accepts packets again as the queue drains', () => {
    const l = link(slow);
    l.transmit(0, 1500);
    expect(l.transmit(100, 200)).toBe('queue');
    expect(l.transmit(300, 200)).toBe(1700);
  });

  it('drops a single packet larger than the queue', () => {
    expect(link(slow).transmit(0, 1501)).toBe('queue');
  });
});

describe('LinkDirection down and reset', () => {
  it("drops everything with reason 'down' while down, and carries again when up", () => {
    const l = link();
    l.up = false;
    expect(l.transmit(0, 125)).toBe('down');
    expect(l.transmit(1, 125)).toBe('down');
    expect(l.drops).toEqual({ down: 2, loss: 0, queue: 0 });
    expect(l.bytesCarried).toBe(0);
    l.up = true;
    expect(l.transmit(2, 125)).toBe(13);
  });

  it('checks down before loss, so a down link draws no randomness', () => {
    const a = link({ loss: 0.5, jitterMs: 3 }, 4);
    const b = link({ loss: 0.5, jitterMs: 3 }, 4);
    a.up = false;
    for (let i = 0; i < 10; i++) a.transmit(i, 64);
    a.up = true;
    for (let i = 0; i < 20; i++) expect(a.transmit(100 + i * 10, 64)).toEqual(b.transmit(100 + i * 10, 64));
  });

  it('reset empties the queue for the overflow check', () => {
    const l = link({ bandwidthBps: 8000, queueBytesMax: 1500, delayMs: 0 });
    l.transmit(0, 1500);
    expect(l.transmit(10, 1000)).toBe('queue');
    l.reset();
    expect(typeof l.transmit(10, 1000)).toBe('number');
    expect(l.drops.queue).toBe(1);
  });
});
