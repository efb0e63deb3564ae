import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, eventQueueInitialCapacity, noEvent } from '../../src/twin/event-queue.js';

type Op = { readonly kind: 'push'; readonly timeMs: number } | { readonly kind: 'pop' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  // Few distinct times so that ties, which the seq must order, are common.
  fc.record({ kind: fc.constant('push' as const), timeMs: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ kind: fc.constant('push' as const), timeMs: fc.double({ min: 0, max: 1e9, noNaN: true }) }),
  fc.record({ kind: fc.constant('pop' as const) }),
);

function drain(queue: EventQueue): { item: number; timeMs: number }[] {
  const out: { item: number; timeMs: number }[] = [];
  while (queue.size > 0) {
    const item = queue.pop();
    out.push({ item, timeMs: queue.lastTimeMs });
  }
  return out;
}

describe('EventQueue ordering', () => {
  it('pops in the order of a stable sort by (time, insertion)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 1e6, noNaN: true }))), (times) => {
        const queue = new EventQueue(2);
        times.forEach((timeMs, index) => queue.push(timeMs, index));
        // Array.prototype.sort is stable, so equal times keep insertion order.
        const expected = times.map((timeMs, index) => ({ item: index, timeMs })).sort((x, y) => x.timeMs - y.timeMs);
        expect(drain(queue)).toEqual(expected);
      }),
    );
  });

  it('agrees with a sorted-list model under interleaved pushes and pops', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 300 }), (ops) => {
        const queue = new EventQueue(1);
        const model: { timeMs: number; seq: number }[] = [];
        let seq = 0;
        let lastTimeMs = Number.NaN;
        for (const op of ops) {
          if (op.kind === 'push') {
            queue.push(op.timeMs, seq);
            model.push({ timeMs: op.timeMs, seq: seq++ });
            continue;
          }
          model.sort((x, y) => x.timeMs - y.timeMs || x.seq - y.seq);
          const head = model.shift();
          if (head !== undefined) lastTimeMs = head.timeMs;
          expect(queue.pop()).toBe(head?.seq ?? noEvent);
          expect(queue.lastTimeMs).toBe(lastTimeMs);
          expect(queue.size).toBe(model.length);
          expect(queue.peekTimeMs()).toBe(model.length === 0 ? Infinity : Math.min(...model.map((e) => e.timeMs)));
        }
      }),
    );
  });

  it('is FIFO among equal times, including handles pushed after pops', () => {
    const queue = new EventQueue();
    queue.push(5, 10);
    queue.push(1, 99);
    queue.push(5, 11);
    queue.push(5, 12);
    expect(queue.pop()).toBe(99);
    queue.push(5, 13);
    queue.push(5, 14);
    expect(drain(queue).map((e) => e.item)).toEqual([10, 11, 12, 13, 14]);
  });

  it('accepts time 0 and -0 as the earliest times', () => {
    const queue = new EventQueue();
    queue.push(1, 3);
    queue.push(-0, 1);
    queue.push(0, 2);
    expect(drain(queue).map((e) => e.item)).toEqual([1, 2, 3]);
  });

  it('keeps the largest handle intact', () => {
    const queue = new EventQueue(1);
    queue.push(2, 0x7fff_ffff);
    queue.push(1, 0);
    expect(drain(queue).map((e) => e.item)).toEqual([0, 0x7fff_ffff]);
  });
});

describe('EventQueue state', () => {
  it('reports an empty queue', () => {
    const queue = new EventQueue();
    expect(queue.size).toBe(0);
    expect(queue.pop()).toBe(noEvent);
    expect(queue.peekTimeMs()).toBe(Infinity);
    expect(queue.lastTimeMs).toBeNaN();
  });

  it('keeps lastTimeMs when pop finds the queue empty', () => {
    const queue = new EventQueue();
    queue.push(7, 1);
    queue.pop();
    expect(queue.pop()).toBe(noEvent);
    expect(queue.lastTimeMs).toBe(7);
  });

  it('grows far beyond its initial capacity', () => {
    const queue = new EventQueue(1);
    const count = 10 * eventQueueInitialCapacity + 3;
    for (let i = count - 1; i >= 0; i--) queue.push(i, i);
    expect(queue.size).toBe(count);
    expect(queue.peekTimeMs()).toBe(0);
    const popped = drain(queue).map((e) => e.item);
    expect(popped).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('clear() empties the queue and resets lastTimeMs and the insertion order; it can be reused', () => {
    const queue = new EventQueue(4);
    for (let i = 0; i < 10; i++) queue.push(i % 3, i);
    queue.pop();
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.pop()).toBe(noEvent);
    expect(queue.lastTimeMs).toBeNaN();
    expect(queue.peekTimeMs()).toBe(Infinity);
    queue.push(2, 100);
    queue.push(2, 101);
    expect(drain(queue).map((e) => e.item)).toEqual([100, 101]);
  });
});

describe('EventQueue errors', () => {
  it.each([Number.NaN, -1, -Number.MIN_VALUE, Infinity, -Infinity])('push rejects time %s', (timeMs) => {
    const queue = new EventQueue();
    expect(() => queue.push(timeMs, 0)).toThrow(RangeError);
    expect(() => queue.push(timeMs, 0)).toThrow(`EventQueue.push: expected a finite timeMs >= 0, got ${timeMs}`);
    expect(queue.size).toBe(0);
  });

  it.each([-1, 1.5, 0x8000_0000, Number.NaN])('push rejects handle %s', (handle) => {
    const queue = new EventQueue();
    expect(() => queue.push(1, handle)).toThrow(new RangeError(`EventQueue.push: expected a handle in 0..2147483647, got ${handle}`));
    expect(queue.size).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('the constructor rejects capacity %s', (capacity) => {
    expect(() => new EventQueue(capacity)).toThrow(
      new RangeError(`EventQueue: expected initialCapacity to be an integer >= 1, got ${capacity}`),
    );
  });
});
