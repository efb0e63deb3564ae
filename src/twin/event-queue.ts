/**
 * The twin's future-event list: a binary min-heap keyed by (timeMs, seq).
 *
 * `seq` is an insertion counter the queue assigns, so events at the same time leave in the
 * order they were pushed; with no ties left to chance, a run is reproducible from its seed.
 *
 * This is the simulator's hottest structure (tens of millions of push/pop per run), so keys
 * and items live in parallel arrays (times and seqs in growable Float64Arrays, items in a
 * plain array) and the sifts move a "hole" instead of swapping: no allocation and no closure
 * per operation. `pop()` returns only the item and records its time in `lastTimeMs`, which
 * is faster than returning a `{ timeMs, item }` pair (one object per event) or making a
 * second heap access through a separate `popTimeMs()` call.
 */

/** Initial slots of a queue when the caller does not say; the arrays double when full. */
export const eventQueueInitialCapacity = 1024;

/** A deterministic min-priority queue of events by time, FIFO among equal times (the twin's scheduler). */
export class EventQueue<T> {
  private times: Float64Array;
  private seqs: Float64Array;
  private items: (T | undefined)[];
  private count = 0;
  private nextSeq = 0;
  private lastPoppedTimeMs = Number.NaN;

  /** An empty queue with room for `initialCapacity` events before its arrays grow. */
  constructor(initialCapacity: number = eventQueueInitialCapacity) {
    if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
      throw new RangeError(`EventQueue: expected initialCapacity to be an integer >= 1, got ${initialCapacity}`);
    }
    this.times = new Float64Array(initialCapacity);
    this.seqs = new Float64Array(initialCapacity);
    this.items = [];
  }

  /** Number of events waiting. */
  get size(): number {
    return this.count;
  }

  /** Time of the item most recently returned by `pop()`; NaN before the first pop and after `clear()`. */
  get lastTimeMs(): number {
    return this.lastPoppedTimeMs;
  }

  /** Time of the earliest waiting event, or Infinity when none waits (so `min(deadline, peek)` needs no branch). */
  peekTimeMs(): number {
    return this.count === 0 ? Infinity : this.times[0]!;
  }

  /** Schedules `item` at `timeMs` (finite, >= 0); it leaves after every earlier-pushed item with the same time. */
  push(timeMs: number, item: T): void {
    if (!(timeMs >= 0 && timeMs < Infinity)) {
      throw new RangeError(`EventQueue.push: expected a finite timeMs >= 0, got ${timeMs}`);
    }
    if (this.count === this.times.length) this.grow();
    const seq = this.nextSeq++;
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    // Sift up: move parents later than (timeMs, seq) down one level until the hole fits.
    // A new seq is larger than every seq in the heap, so a parent with an equal time stays.
    let hole = this.count++;
    while (hole > 0) {
      const parent = (hole - 1) >>> 1;
      const parentTime = times[parent]!;
      if (parentTime <= timeMs) break;
      times[hole] = parentTime;
      seqs[hole] = seqs[parent]!;
      items[hole] = items[parent];
      hole = parent;
    }
    times[hole] = timeMs;
    seqs[hole] = seq;
    items[hole] = item;
  }

  /** Removes and returns the earliest event (FIFO among equal times) and sets `lastTimeMs`; undefined when empty. */
  pop(): T | undefined {
    if (this.count === 0) return undefined;
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const top = items[0];
    this.lastPoppedTimeMs = times[0]!;
    const last = --this.count;
    if (last > 0) this.siftDownFromRoot(times[last]!, seqs[last]!, items[last]);
    // Drop the reference so a popped item can be collected.
    items[last] = undefined;
    return top;
  }

  /** Places (time, seq, item) taken from the last slot, starting from the emptied root. */
  private siftDownFromRoot(time: number, seq: number, item: T | undefined): void {
    const times = this.times;
    const seqs = this.seqs;
    const items = this.items;
    const count = this.count;
    const firstLeaf = count >>> 1;
    let hole = 0;
    while (hole < firstLeaf) {
      let child = 2 * hole + 1;
      let childTime = times[child]!;
      let childSeq = seqs[child]!;
      const right = child + 1;
      if (right < count) {
        const rightTime = times[right]!;
        const rightSeq = seqs[right]!;
        if (rightTime < childTime || (rightTime === childTime && rightSeq < childSeq)) {
          child = right;
          childTime = rightTime;
          childSeq = rightSeq;
        }
      }
      if (time < childTime || (time === childTime && seq < childSeq)) break;
      times[hole] = childTime;
      seqs[hole] = childSeq;
      items[hole] = items[child];
      hole = child;
    }
    times[hole] = time;
    seqs[hole] = seq;
    items[hole] = item;
  }

  /** Removes every event and resets the insertion counter and `lastTimeMs`; capacity is kept for reuse. */
  clear(): void {
    this.items.fill(undefined, 0, this.count);
    this.count = 0;
    this.nextSeq = 0;
    this.lastPoppedTimeMs = Number.NaN;
  }

  private grow(): void {
    const capacity = this.times.length * 2;
    const times = new Float64Array(capacity);
    const seqs = new Float64Array(capacity);
    times.set(this.times);
    seqs.set(this.seqs);
    this.times = times;
    this.seqs = seqs;
  }
}
