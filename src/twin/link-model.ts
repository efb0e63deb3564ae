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
export type LinkDrop = 'down' | 'loss' | 'queue' | 'censored';

/** A lower bandwidth and a smaller queue a fault puts on a direction (congestion). */
export interface LinkLimit {
  readonly bandwidthBps: number;
  readonly queueBytesMax: number;
}

/** Sizes of data packets a censor on the link drops, in wire bytes, both ends inclusive. */
export interface SizeBand {
  readonly minBytes: number;
  readonly maxBytes: number;
}

/**
 * One direction of a simulated link: delay with jitter, random loss, a bandwidth-limited
 * FIFO queue with a byte bound, plus the fault state (cut, extra loss, extra delay, a tighter
 * bandwidth and queue, censored size bands) that scenarios change at run time.
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
  /** Data packets a censor on the direction dropped. */
  censoredDrops = 0;
  bytesCarried = 0;
  // Copies of the parameters: transmit runs for every packet, and reading them here saves
  // following a pointer to a separate object (a cache miss in a large twin).
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly loss: number;
  private bandwidthBps: number;
  private queueBytesMax: number;
  /** Limits faults put on the direction; the tightest applies. */
  private readonly limits: LinkLimit[] = [];
  /** Size bands censors drop; empty on almost every link, so the check costs one length test. */
  private readonly censored: SizeBand[] = [];

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

  /** Puts `limit` on the direction at `nowMs` until `removeLimit(limit)`; the tightest of the limits applies. */
  addLimit(limit: LinkLimit, nowMs: number): void {
    this.limits.push(limit);
    this.applyLimits(nowMs);
  }

  /** Takes away a limit `addLimit` put on. */
  removeLimit(limit: LinkLimit, nowMs: number): void {
    const at = this.limits.indexOf(limit);
    if (at >= 0) this.limits.splice(at, 1);
    this.applyLimits(nowMs);
  }

  /** Drops data packets whose size is in `band` until `removeCensor(band)`. */
  addCensor(band: SizeBand): void {
    this.censored.push(band);
  }

  /** Takes away a band `addCensor` put on. */
  removeCensor(band: SizeBand): void {
    const at = this.censored.indexOf(band);
    if (at >= 0) this.censored.splice(at, 1);
  }

  /** When a packet of `bytes` sent at `nowMs` arrives, or why it does not; `data` marks routed datagrams (censors look only at those). */
  transmit(nowMs: number, bytes: number, data = false): number | LinkDrop {
    if (this.cuts !== 0) return this.drop('down');
    if (this.censored.length !== 0 && data && this.isCensored(bytes)) {
      this.censoredDrops++;
      return 'censored';
    }
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

  private isCensored(bytes: number): boolean {
    for (const band of this.censored) if (bytes >= band.minBytes && bytes <= band.maxBytes) return true;
    return false;
  }

  /** Sets the tightest limit; the bytes still queued then drain at the new rate. */
  private applyLimits(nowMs: number): void {
    const queuedBytes = (Math.max(0, this.busyUntilMs - nowMs) * this.bandwidthBps) / 8000;
    this.bandwidthBps = this.params.bandwidthBps;
    this.queueBytesMax = this.params.queueBytesMax;
    for (const limit of this.limits) {
      this.bandwidthBps = Math.min(this.bandwidthBps, limit.bandwidthBps);
      this.queueBytesMax = Math.min(this.queueBytesMax, limit.queueBytesMax);
    }
    if (queuedBytes > 0) this.busyUntilMs = nowMs + (queuedBytes * 8000) / this.bandwidthBps;
  }

  private drop(reason: keyof LinkDirection['drops']): LinkDrop {
    this.drops[reason]++;
    return reason;
  }
}
