import { packTlvsInto } from '../wire/codec.js';
import { packetBytesMax as wirePacketBytesMax } from '../wire/limits.js';

/** Smallest packet limit an outbox takes: room for the largest control TLV and then some. */
export const packetBytesMin = 256;
import type { Tlv } from '../wire/messages.js';
import type { Neighbour } from './neighbour.js';
import type { Transmit } from './types.js';

/**
 * Control TLVs collected during one `handle` call, packed into as few packets as possible
 * when the call ends: unicast TLVs per neighbour, and TLVs for every usable neighbour, which
 * are encoded once and the same bytes sent on each link.
 *
 * Unicast queues are indexed by the neighbour's route-table slot (unique among a node's
 * neighbours) and kept for reuse, and the neighbours with something queued are listed in
 * the order they were first queued to: a node queues a probe to every neighbour every 50 ms,
 * and a map of fresh arrays per call was a large share of the twin's allocations.
 */
export class Outbox {
  /** Unicast TLVs by neighbour slot; empty between calls. */
  private readonly queues: Tlv[][] = [];
  /** The neighbour each non-empty queue belongs to, by slot. */
  private readonly owners: (Neighbour | null)[] = [];
  /** Neighbours with unicast TLVs queued, in the order of their first one. */
  private readonly targets: Neighbour[] = [];
  private readonly everyone: Tlv[] = [];
  /** TLVs queued since the last flush: isEmpty runs on every call and reads this field, not two arrays. */
  private queued = 0;
  /** Packets of the queue being flushed (reused; emptied before each use). */
  private readonly packets: Uint8Array[] = [];

  /** An outbox whose packets are at most `packetBytesMax` bytes (the wire's limit unless a carrier needs less). */
  constructor(private readonly packetBytesMax: number = wirePacketBytesMax) {
    if (!Number.isInteger(packetBytesMax) || packetBytesMax < packetBytesMin || packetBytesMax > wirePacketBytesMax) {
      throw new RangeError(`Outbox: expected packetBytesMax in ${packetBytesMin}..${wirePacketBytesMax}, got ${packetBytesMax}`);
    }
  }

  /** Queues `tlv` for one neighbour (whose slot must be assigned: an integer >= 0). */
  toNeighbour(neighbour: Neighbour, tlv: Tlv): void {
    const slot = neighbour.slot;
    const queue = this.queues[slot] ?? this.addQueues(slot);
    if (queue.length === 0) {
      this.owners[slot] = neighbour;
      this.targets.push(neighbour);
    } else if (this.owners[slot] !== neighbour) {
      throw new Error(`Outbox.toNeighbour: two neighbours share slot ${slot} (links ${this.owners[slot]?.link} and ${neighbour.link})`);
    }
    queue.push(tlv);
    this.queued++;
  }

  /** Queues `tlv` for every neighbour that is usable when the call ends. */
  toAll(tlv: Tlv): void {
    this.everyone.push(tlv);
    this.queued++;
  }

  /** True when nothing is queued. */
  isEmpty(): boolean {
    return this.queued === 0;
  }

  /** Packs everything queued into transmits, returns the bytes sent, and empties the outbox. */
  flush(neighbours: readonly Neighbour[], out: Transmit[]): number {
    let bytesSent = 0;
    this.queued = 0;
    if (this.targets.length > 0) {
      for (const neighbour of this.targets) {
        const queue = this.queues[neighbour.slot]!;
        const packets = this.packets;
        truncate(packets);
        packTlvsInto(queue, packets, this.packetBytesMax);
        for (const bytes of packets) {
          out.push({ link: neighbour.link, bytes });
          bytesSent += bytes.length;
        }
        truncate(queue);
        this.owners[neighbour.slot] = null;
      }
      truncate(this.targets);
    }
    if (this.everyone.length > 0) {
      const packets = this.packets;
      truncate(packets);
      packTlvsInto(this.everyone, packets, this.packetBytesMax);
      for (const neighbour of neighbours) {
        if (!neighbour.usable) continue;
        for (const bytes of packets) {
          out.push({ link: neighbour.link, bytes });
          bytesSent += bytes.length;
        }
      }
      truncate(this.everyone);
    }
    return bytesSent;
  }

  /** Adds empty queues up to `slot` (checked to be a slot) and returns its queue. */
  private addQueues(slot: number): Tlv[] {
    if (!Number.isInteger(slot) || slot < 0) {
      throw new RangeError(`Outbox.toNeighbour: expected a neighbour slot (an integer >= 0), got ${slot}`);
    }
    while (this.queues.length <= slot) {
      this.queues.push([]);
      this.owners.push(null);
    }
    return this.queues[slot]!;
  }
}

/** Empties `array`; queues are mostly one or two long, and popping them is cheaper than setting length, a runtime call. */
function truncate(array: unknown[]): void {
  while (array.length > 0) array.pop();
}
