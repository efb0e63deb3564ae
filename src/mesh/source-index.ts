import type { NodeId } from '../wire/ids.js';

/** Pairs a new index has room for before it grows (a power of two). */
export const sourceIndexInitialCapacity = 16;
/** Returned by `get` for a source that is not in the index. */
const absent = -1;

/**
 * The route table's map from source NodeId to slot, in insertion order: what a
 * `Map<NodeId, number>` did, faster. A node looks a source up for every Update TLV it
 * receives (hundreds of thousands per second in a 1000-node twin), and a Map lookup hashes,
 * walks a chain and touches several cache lines. This is an open-addressing table with linear
 * probing whose keys and values sit side by side in one Int32Array, so a hit usually costs one
 * cache line; deletion shifts entries back instead of leaving tombstones.
 *
 * The order of `slots()` is the order of insertion, as a Map's would be: full dumps and
 * reselection walk the sources in it, so it is part of the node's observable behaviour.
 */
export class SourceIndex {
  /** (source as int32, slot) pairs; source 0 (never a NodeId) marks an empty pair. */
  private cells: Int32Array;
  private mask: number;
  private shift: number;
  private readonly order: number[] = [];

  /** An empty index. */
  constructor() {
    this.cells = new Int32Array(2 * sourceIndexInitialCapacity);
    this.mask = sourceIndexInitialCapacity - 1;
    this.shift = 32 - Math.log2(sourceIndexInitialCapacity);
  }

  /** Number of sources held. */
  get size(): number {
    return this.order.length;
  }

  /** Slots of every source, in the order the sources were added; the caller must not modify it, and it changes with the index. */
  slots(): readonly number[] {
    return this.order;
  }

  /** The slot of `source`, or -1. */
  get(source: NodeId): number {
    const key = source | 0;
    const cells = this.cells;
    const mask = this.mask;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const found = cells[2 * i]!;
      if (found === key) return cells[2 * i + 1]!;
      if (found === 0) return absent;
    }
  }

  /** Adds `source` (not yet held) with `slot`. */
  add(source: NodeId, slot: number): void {
    if (2 * (this.order.length + 1) > this.mask + 1) this.rehash(2 * (this.mask + 1));
    this.place(source | 0, slot);
    this.order.push(slot);
  }

  /** Removes `source`; returns whether it was held. */
  delete(source: NodeId): boolean {
    const key = source | 0;
    const cells = this.cells;
    const mask = this.mask;
    let hole = this.home(key);
    while (cells[2 * hole] !== key) {
      if (cells[2 * hole] === 0) return false;
      hole = (hole + 1) & mask;
    }
    this.order.splice(this.order.indexOf(cells[2 * hole + 1]!), 1);
    // Backward-shift deletion: move later entries of the probe run into the hole when their
    // home position does not lie cyclically in (hole, next].
    for (let next = (hole + 1) & mask; cells[2 * next] !== 0; next = (next + 1) & mask) {
      const home = this.home(cells[2 * next]!);
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      cells[2 * hole] = cells[2 * next]!;
      cells[2 * hole + 1] = cells[2 * next + 1]!;
      hole = next;
    }
    cells[2 * hole] = 0;
    return true;
  }

  /** Position where probing for `key` starts (Fibonacci hashing). */
  private home(key: number): number {
    return Math.imul(key, 0x9e37_79b1) >>> this.shift;
  }

  private place(key: number, slot: number): void {
    const cells = this.cells;
    let i = this.home(key);
    while (cells[2 * i] !== 0) i = (i + 1) & this.mask;
    cells[2 * i] = key;
    cells[2 * i + 1] = slot;
  }

  private rehash(capacity: number): void {
    const old = this.cells;
    this.cells = new Int32Array(2 * capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0) this.place(old[i]!, old[i + 1]!);
    }
  }
}
