/**
 * The twin's pending events, kept in typed columns indexed by a handle that the event queue
 * orders. Three kinds exist: a packet arriving at a node over one direction of an edge, a
 * node's timer, and a callback (faults, flows). As objects, one per event, they were tens of
 * millions of short-lived allocations per run; here a handle is taken from a free list when
 * an event is scheduled and given back when it is dispatched.
 */

/** Kinds of simulated events. */
export const SimEventKind = { packet: 0, timer: 1, callback: 2 } as const;
/** A simulated event's kind. */
export type SimEventKindValue = (typeof SimEventKind)[keyof typeof SimEventKind];

/** Initial number of events a pool holds before its columns grow (they double when full). */
export const simEventPoolInitialCapacity = 1024;

/** Typed columns of pending events with a free list of handles. */
export class SimEventPool {
  /** Kind of the event in each slot. */
  kind: Uint8Array;
  /** Node the event is for (packet, timer). */
  node: Int32Array;
  /** Edge a packet travels on. */
  edge: Int32Array;
  /** 1 when a packet travels the edge's forward direction (a to b). */
  forward: Uint8Array;
  /** The direction's epoch when a packet was sent, or the node's boot count for a timer. */
  stamp: Float64Array;
  /** A packet's bytes; undefined in free slots so that nothing is retained. */
  readonly bytes: (Uint8Array | undefined)[] = [];
  /** A callback's function; undefined in free slots. */
  readonly run: ((() => void) | undefined)[] = [];
  private freeHandles: Int32Array;
  private freeCount = 0;
  private capacity = 0;

  /** An empty pool with room for `initialCapacity` events before its columns grow. */
  constructor(initialCapacity: number = simEventPoolInitialCapacity) {
    if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
      throw new RangeError(`SimEventPool: expected initialCapacity to be an integer >= 1, got ${initialCapacity}`);
    }
    this.kind = new Uint8Array(0);
    this.node = new Int32Array(0);
    this.edge = new Int32Array(0);
    this.forward = new Uint8Array(0);
    this.stamp = new Float64Array(0);
    this.freeHandles = new Int32Array(0);
    this.grow(initialCapacity);
  }

  /** Events held (allocated and not yet released). */
  get size(): number {
    return this.capacity - this.freeCount;
  }

  /** A packet for `node` on `edge` (forward: a to b), sent in the direction's `epoch`. */
  packet(node: number, edge: number, forward: boolean, epoch: number, bytes: Uint8Array): number {
    const handle = this.take(SimEventKind.packet);
    this.node[handle] = node;
    this.edge[handle] = edge;
    this.forward[handle] = forward ? 1 : 0;
    this.stamp[handle] = epoch;
    this.bytes[handle] = bytes;
    return handle;
  }

  /** A timer call of `node` in its boot number `boot`. */
  timer(node: number, boot: number): number {
    const handle = this.take(SimEventKind.timer);
    this.node[handle] = node;
    this.stamp[handle] = boot;
    return handle;
  }

  /** A callback. */
  callback(run: () => void): number {
    const handle = this.take(SimEventKind.callback);
    this.run[handle] = run;
    return handle;
  }

  /** Gives `handle` back once its event has been read; drops its references. */
  release(handle: number): void {
    const kind = this.kind[handle];
    if (kind === SimEventKind.packet) this.bytes[handle] = undefined;
    else if (kind === SimEventKind.callback) this.run[handle] = undefined;
    this.freeHandles[this.freeCount++] = handle;
  }

  private take(kind: SimEventKindValue): number {
    if (this.freeCount === 0) this.grow(this.capacity * 2);
    const handle = this.freeHandles[--this.freeCount]!;
    this.kind[handle] = kind;
    return handle;
  }

  /** Grows every column to `capacity` and puts the new handles on the free list, lowest on top. */
  private grow(capacity: number): void {
    const old = this.capacity;
    this.kind = growColumn(this.kind, new Uint8Array(capacity));
    this.node = growColumn(this.node, new Int32Array(capacity));
    this.edge = growColumn(this.edge, new Int32Array(capacity));
    this.forward = growColumn(this.forward, new Uint8Array(capacity));
    this.stamp = growColumn(this.stamp, new Float64Array(capacity));
    const free = new Int32Array(capacity);
    free.set(this.freeHandles.subarray(0, this.freeCount));
    let count = this.freeCount;
    for (let handle = capacity - 1; handle >= old; handle--) free[count++] = handle;
    for (let handle = old; handle < capacity; handle++) {
      this.bytes.push(undefined);
      this.run.push(undefined);
    }
    this.freeHandles = free;
    this.freeCount = count;
    this.capacity = capacity;
  }
}

function growColumn<T extends Uint8Array | Int32Array | Float64Array>(old: T, next: T): T {
  next.set(old);
  return next;
}
