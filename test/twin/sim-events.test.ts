import { describe, expect, it } from 'vitest';
import { SimEventKind, SimEventPool, simEventPoolInitialCapacity } from '../../src/twin/sim-events.js';

describe('SimEventPool', () => {
  it('stores each kind of event in its columns', () => {
    const pool = new SimEventPool();
    const bytes = new Uint8Array([1, 2, 3]);
    const run = (): void => undefined;
    const packet = pool.packet(4, 7, true, 2, bytes);
    const timer = pool.timer(5, 3);
    const callback = pool.callback(run);
    expect(new Set([packet, timer, callback]).size).toBe(3);
    expect([pool.kind[packet], pool.node[packet], pool.edge[packet], pool.forward[packet], pool.stamp[packet]]).toEqual([SimEventKind.packet, 4, 7, 1, 2]);
    expect(pool.bytes[packet]).toBe(bytes);
    expect([pool.kind[timer], pool.node[timer], pool.stamp[timer]]).toEqual([SimEventKind.timer, 5, 3]);
    expect(pool.kind[callback]).toBe(SimEventKind.callback);
    expect(pool.run[callback]).toBe(run);
    expect(pool.size).toBe(3);
    expect(pool.forward[pool.packet(1, 1, false, 0, bytes)]).toBe(0);
  });

  it('reuses released handles and drops their references', () => {
    const pool = new SimEventPool(2);
    const packet = pool.packet(0, 0, true, 0, new Uint8Array(1));
    const callback = pool.callback(() => undefined);
    const timer = pool.timer(0, 1);
    pool.release(packet);
    pool.release(callback);
    pool.release(timer);
    expect(pool.size).toBe(0);
    expect(pool.bytes[packet]).toBeUndefined();
    expect(pool.run[callback]).toBeUndefined();
    // Last released, first reused.
    expect(pool.timer(1, 1)).toBe(timer);
    expect(pool.timer(1, 1)).toBe(callback);
  });

  it('grows beyond its initial capacity, keeping what it holds', () => {
    const pool = new SimEventPool(1);
    const count = 3 * simEventPoolInitialCapacity + 5;
    const handles = Array.from({ length: count }, (_, i) => pool.timer(i, i + 1));
    expect(new Set(handles).size).toBe(count);
    expect(handles.every((h, i) => pool.node[h] === i && pool.stamp[h] === i + 1)).toBe(true);
    expect(pool.size).toBe(count);
  });

  it.each([0, -1, 1.5, Number.NaN])('the constructor rejects capacity %s', (capacity) => {
    expect(() => new SimEventPool(capacity)).toThrow(new RangeError(`SimEventPool: expected initialCapacity to be an integer >= 1, got ${capacity}`));
  });
});
