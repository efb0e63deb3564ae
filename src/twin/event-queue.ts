/**
 * The twin's future-event list: a 4-ary min-heap of integer handles keyed by (timeMs, seq).
 *
 * `seq` is an insertion counter the queue assigns, so events at the same time leave in the
 * order they were pushed; with no ties left to chance, a run is reproducible from its seed.
 *
 * This is the simulator's hottest structure (tens of millions of push/pop per run). It holds
 * integer handles, not objects: the caller keeps its events in typed columns (see
 * SimEventPool) and the handle indexes them. So keys and handles live in parallel typed arrays
 * (times and seqs in growable Float64Arrays, handles in an Int32Array), the sifts move a "hole"
 * instead of swapping, and moving an entry is three typed stores: no allocation, no closure
 * and no garbage-collector write barrier per operation. `pop()` returns only the handle and
 * records its time in `lastTimeMs`, which is faster than returning a `{ timeMs, handle }` pair.
 */

/** Initial slots of a queue when the caller does not say; the arrays double when full. */
export const eventQueueInitialCapacity = 1024;
/** What `pop()` returns when the queue is empty (handles are >= 0). */
export const noEvent = -1;
/** Largest handle the queue stores (handles are int32). */
export const eventHandleMax = 0x7fff_ffff;

/** A deterministic min-priority queue of integer event handles by time, FIFO among equal times (the twin's scheduler). */
export class EventQueue {
  private times: Float64Array;
  private seqs: Float64Array;
  private handles: Int32Array;
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
    this.handles = new Int32Array(initialCapacity);
  }

  /** Number of events waiting. */
  get size(): number {
    return this.count;
  }

  /** Time of the handle most recently returned by `pop()`; NaN before the first pop and after `clear()`. */
  get lastTimeMs(): number {
    return this.lastPoppedTimeMs;
  }

  /** Time of the earliest waiting event, or Infinity when none waits (so `min(deadline, peek)` needs no branch). */
  peekTimeMs(): number {
    return this.count === 0 ? Infinity : this.times[0]!;
  }

  /** Schedules `handle` (an integer in 0..eventHandleMax) at `timeMs` (finite, >= 0); it leaves after every earlier-pushed handle with the same time. */
  push(timeMs: number, handle: number): void {
    if (!(timeMs >= 0 && timeMs < Infinity)) {
      throw new RangeError(`EventQueue.push: expected a finite timeMs >= 0, got ${timeMs}`);
    }
    if ((handle | 0) !== handle || handle < 0) {
      throw new RangeError(`EventQueue.push: expected a handle in 0..${eventHandleMax}, got ${handle}`);
    }
    if (this.count === this.times.length) this.grow();
    const seq = this.nextSeq++;
    const times = this.times;
    const seqs = this.seqs;
    const handles = this.handles;
    // Sift up: move parents later than (timeMs, seq) down one level until the hole fits.
    // A new seq is larger than every seq in the heap, so a parent with an equal time stays.
    let hole = this.count++;
    while (hole > 0) {
      const parent = (hole - 1) >>> 2;
      const parentTime = times[parent]!;
      if (parentTime <= timeMs) break;
      times[hole] = parentTime;
      seqs[hole] = seqs[parent]!;
      handles[hole] = handles[parent]!;
      hole = parent;
    }
    times[hole] = timeMs;
    seqs[hole] = seq;
    handles[hole] = handle;
  }

  /** Removes and returns the earliest handle (FIFO among equal times) and sets `lastTimeMs`; `noEvent` (-1) when empty. */
  pop(): number {
    if (this.count === 0) return noEvent;
    const times = this.times;
    const top = this.handles[0]!;
    this.lastPoppedTimeMs = times[0]!;
    const last = --this.count;
    if (last > 0) this.siftDownFromRoot(times[last]!, this.seqs[last]!, this.handles[last]!);
    return top;
  }

  /** Places (time, seq, handle) taken from the last slot, starting from the emptied root. */
  private siftDownFromRoot(time: number, seq: number, handle: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const handles = this.handles;
    const count = this.count;
    let hole = 0;
    for (;;) {
      const first = 4 * hole + 1;
      if (first >= count) break;
      const end = first + 4 < count ? first + 4 : count;
      let child = first;
      let childTime = times[first]!;
      for (let next = first + 1; next < end; next++) {
        const nextTime = times[next]!;
        if (nextTime < childTime || (nextTime === childTime && seqs[next]! < seqs[child]!)) {
          child = next;
          childTime = nextTime;
        }
      }
      if (time < childTime || (time === childTime && seq < seqs[child]!)) break;
      times[hole] = childTime;
      seqs[hole] = seqs[child]!;
      handles[hole] = handles[child]!;
      hole = child;
    }
    times[hole] = time;
    seqs[hole] = seq;
    handles[hole] = handle;
  }

  /** Removes every event and resets the insertion counter and `lastTimeMs`; capacity is kept for reuse. */
  clear(): void {
    this.count = 0;
    this.nextSeq = 0;
    this.lastPoppedTimeMs = Number.NaN;
  }

  private grow(): void {
    const capacity = this.times.length * 2;
    const times = new Float64Array(capacity);
    const seqs = new Float64Array(capacity);
    const handles = new Int32Array(capacity);
    times.set(this.times);
    seqs.set(this.seqs);
    handles.set(this.handles);
    this.times = times;
    this.seqs = seqs;
    this.handles = handles;
  }
}
