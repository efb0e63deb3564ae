import { packTlvs } from '../wire/codec.js';
import type { Tlv } from '../wire/messages.js';
import type { Neighbour } from './neighbour.js';
import type { Transmit } from './types.js';

/**
 * Control TLVs collected during one `handle` call, packed into as few packets as possible
 * when the call ends: unicast TLVs per neighbour, and TLVs for every usable neighbour, which
 * are encoded once and the same bytes sent on each link.
 */
export class Outbox {
  private readonly unicast = new Map<Neighbour, Tlv[]>();
  private readonly everyone: Tlv[] = [];

  /** Queues `tlv` for one neighbour. */
  toNeighbour(neighbour: Neighbour, tlv: Tlv): void {
    const queued = this.unicast.get(neighbour);
    if (queued === undefined) this.unicast.set(neighbour, [tlv]);
    else queued.push(tlv);
  }

  /** Queues `tlv` for every neighbour that is usable when the call ends. */
  toAll(tlv: Tlv): void {
    this.everyone.push(tlv);
  }

  /** True when nothing is queued. */
  isEmpty(): boolean {
    return this.unicast.size === 0 && this.everyone.length === 0;
  }

  /** Packs everything queued into transmits, returns the bytes sent, and empties the outbox. */
  flush(neighbours: readonly Neighbour[], out: Transmit[]): number {
    let bytesSent = 0;
    for (const [neighbour, tlvs] of this.unicast) {
      for (const bytes of packTlvs(tlvs)) {
        out.push({ link: neighbour.link, bytes });
        bytesSent += bytes.length;
      }
    }
    if (this.everyone.length > 0) {
      const packets = packTlvs(this.everyone);
      for (const neighbour of neighbours) {
        if (!neighbour.usable) continue;
        for (const bytes of packets) {
          out.push({ link: neighbour.link, bytes });
          bytesSent += bytes.length;
        }
      }
    }
    this.unicast.clear();
    this.everyone.length = 0;
    return bytesSent;
  }
}
