import type { Prng } from './prng.js';

/** Parameters of one direction of a simulated link. */
export interface LinkParams {
  /** Fixed one-way propagation delay. */
  readonly delayMs: number;
  /** Each packet gets an extra delay uniform in [0, jitterMs]; FIFO order is kept. */
  readonly jitterMs: number;
  /** Probability that a packet is lost. */
  readonly loss: number;
  /** Serialisation rate; packets queue behind each other at this rate. */
  readonly bandwidthBps: number;
  /** Bytes the transmit queue holds; a packet that would overflow it is dropped. */
  readonly queueBytesMax: number;
}

/** Why the link model did not deliver a packet. */
export type LinkDrop = 'down' | 'loss' | 'queue';

/**
 * One direction of a simulated link: delay with jitter, random loss, a bandwidth-limited
 * FIFO queue with a byte bound, plus the fault state (cut, extra loss, extra delay) that
 * scenarios change at run time.
 */
export class LinkDirection {
  /** Faults holding this direction down; it carries packets only when none does. */
  private cuts = 0;
  /** Counts how often the direction went down; a packet sent in an earlier epoch is lost with the link. */
  epoch = 0;
  extraLoss = 0;
  extraDelayMs = 0;
  private busyUntilMs = 0;
  private lastArrivalMs = 0;
  drops = { down: 0, loss: 0, queue: 0 };
  bytesCarried = 0;
  // Copies of the parameters: transmit runs for every packet, and reading them here saves
  // following a pointer to a separate object (a cache miss in a large twin).
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly loss: number;
  private readonly bandwidthBps: number;
  private readonly queueBytesMax: number;

  constructor(
    readonly params: LinkParams,
    private readonly rng: Prng,
  ) {
    this.delayMs = params.delayMs;
    this.jitterMs = params.jitterMs;
    this.loss = params.loss;
    this.bandwidthBps = params.bandwidthBps;
    this.queueBytesMax = params.queueBytesMax;
  }

  /** True while no fault holds this direction down. */
  get up(): boolean {
    return this.cuts === 0;
  }

  /** Sets the state directly: false is one more cut, true clears every cut (tests and tools). */
  set up(value: boolean) {
    if (!value) this.cut();
    else if (this.cuts > 0) {
      this.cuts = 0;
      this.reset();
    }
  }

  /** One more fault holds the direction down; packets in flight are lost. */
  cut(): void {
    if (this.cuts++ === 0) this.epoch++;
  }

  /** One fault that held the direction down is repaired; it comes back when none remains. */
  restore(): void {
    if (this.cuts === 0) return;
    if (--this.cuts === 0) this.reset();
  }

  /** When a packet of `bytes` sent at `nowMs` arrives, or why it does not. */
  transmit(nowMs: number, bytes: number): number | LinkDrop {
    if (this.cuts !== 0) return this.drop('down');
    const loss = this.loss + this.extraLoss;
    if (loss > 0 && this.rng.next() < loss) return this.drop('loss');
    const serialiseMs = (bytes * 8 * 1000) / this.bandwidthBps;
    const startMs = Math.max(nowMs, this.busyUntilMs);
    const queuedBytes = ((startMs - nowMs) * this.bandwidthBps) / 8000;
    if (queuedBytes + bytes > this.queueBytesMax) return this.drop('queue');
    this.busyUntilMs = startMs + serialiseMs;
    const jitter = this.jitterMs > 0 ? this.rng.next() * this.jitterMs : 0;
    const arrival = Math.max(this.busyUntilMs + this.delayMs + this.extraDelayMs + jitter, this.lastArrivalMs);
    this.lastArrivalMs = arrival;
    this.bytesCarried += bytes;
    return arrival;
  }

  /** Empties the queue, as when the link goes down and comes back. */
  reset(): void {
    this.busyUntilMs = 0;
    this.lastArrivalMs = 0;
  }

  private drop(reason: LinkDrop): LinkDrop {
    this.drops[reason]++;
    return reason;
  }
}
