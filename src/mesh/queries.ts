import type { Neighbour } from './neighbour.js';
import { seqnoNewer } from './seqno.js';

/**
 * Route queries (see QueryTlv): a node that lost its last feasible route to a source retracts
 * it, then asks every usable neighbour to answer once it no longer routes there through this
 * node. When all have answered, nothing routes through this node towards the source (it
 * advertises infinity, so nobody can adopt it meanwhile), and it may forget its feasibility
 * distance and take any route, as a freshly booted node may. Babel alone must wait for a new
 * seqno from the source, a round trip across the network; a query is a round trip to the
 * neighbours.
 *
 * One more case needs care: a neighbour that has just been declared down by timeout may not
 * yet have declared *us* down, and may still route through us (the node records until when in
 * `Neighbour.mayRouteThroughUsUntilMs`), so completion waits for that. The next hop whose loss
 * started the query is exempt: it cannot have routed through us while we routed through it
 * (the feasibility condition forbids it).
 *
 * Dropping the distance also lets stale routes back in: when the source itself is gone, a
 * node may take a neighbour's route that is about to be retracted, lose it, query again, and
 * so on, a loop-free cousin of counting to infinity that kept a 200-node twin busy with
 * thousands of queries a second for as long as a crashed node stayed down. So a node drops
 * its distance for a source at most once per seqno of that source: after a reset it queries
 * again only once a newer seqno has arrived (the source is alive), and otherwise falls back
 * to Babel's seqno requests.
 */

/** One query in progress, for one source slot. */
interface ActiveQuery {
  readonly nonce: number;
  /** The next hop whose loss started the query, exempt from the hold; null when none was lost. */
  readonly lostNextHop: Neighbour | null;
  /** Neighbours asked that have neither answered nor gone down. */
  readonly waiting: Set<Neighbour>;
  sent: boolean;
}

/** A query ready to go out: the source slot and the nonce its answers must carry. */
export interface QueryToSend {
  readonly slot: number;
  readonly nonce: number;
}

/** The queries of one node, by source slot. Sans-IO bookkeeping only; the node does the sending. */
export class QueryBook {
  private readonly active = new Map<number, ActiveQuery>();
  /** Slot -> the seqno of the feasibility distance the last completed query dropped. */
  private readonly resetSeqno = new Map<number, number>();
  private nextNonce = 0;

  /** True while a query for `slot` is in progress. */
  has(slot: number): boolean {
    return this.active.has(slot);
  }

  /**
   * Starts a query for `slot` (whose feasibility distance has seqno `fdSeqno`) unless one is in
   * progress or a query already dropped a distance of that seqno; it goes out at the next
   * `takeUnsent`. Returns whether a query is now in progress.
   */
  start(slot: number, fdSeqno: number, lostNextHop: Neighbour | null): boolean {
    if (this.active.has(slot)) return true;
    const reset = this.resetSeqno.get(slot);
    if (reset !== undefined && !seqnoNewer(fdSeqno, reset)) return false;
    this.active.set(slot, { nonce: this.nextNonce, lostNextHop, waiting: new Set(), sent: false });
    this.nextNonce = (this.nextNonce + 1) & 0xffff;
    return true;
  }

  /** The query for `slot` completed and dropped a feasibility distance of seqno `fdSeqno`. */
  completed(slot: number, fdSeqno: number): void {
    this.active.delete(slot);
    this.resetSeqno.set(slot, fdSeqno);
  }

  /** The source of `slot` was forgotten: so is everything about its queries. */
  forget(slot: number): void {
    this.active.delete(slot);
    this.resetSeqno.delete(slot);
  }

  /** Abandons the query for `slot` (a feasible route came back, or the source was forgotten). */
  cancel(slot: number): void {
    this.active.delete(slot);
  }

  /** The queries not sent yet, now addressed to `usable` (the neighbours they go to). */
  takeUnsent(usable: readonly Neighbour[]): QueryToSend[] {
    const toSend: QueryToSend[] = [];
    for (const [slot, query] of this.active) {
      if (query.sent) continue;
      query.sent = true;
      for (const neighbour of usable) query.waiting.add(neighbour);
      toSend.push({ slot, nonce: query.nonce });
    }
    return toSend;
  }

  /** Records an answer from `from`; stale nonces and unknown slots are ignored. */
  answered(slot: number, nonce: number, from: Neighbour): void {
    const query = this.active.get(slot);
    if (query !== undefined && query.sent && query.nonce === nonce) query.waiting.delete(from);
  }

  /** A neighbour went down: it will not answer, and it no longer routes through us. */
  neighbourDown(neighbour: Neighbour): void {
    for (const query of this.active.values()) query.waiting.delete(neighbour);
  }

  /**
   * When the query for `slot` may complete: infinity while answers are missing (or there is
   * no such query), else the latest time until which a neighbour lost by timeout (but the
   * exempt one) may still route through us, which may be in the past.
   */
  readyAtMs(slot: number, neighbours: readonly Neighbour[]): number {
    const query = this.active.get(slot);
    if (query === undefined || !query.sent || query.waiting.size > 0) return Number.POSITIVE_INFINITY;
    let readyAt = Number.NEGATIVE_INFINITY;
    for (const neighbour of neighbours) {
      if (neighbour.usable || neighbour === query.lostNextHop) continue;
      readyAt = Math.max(readyAt, neighbour.mayRouteThroughUsUntilMs);
    }
    return readyAt;
  }

  /** Slots with a query in progress. */
  slots(): IterableIterator<number> {
    return this.active.keys();
  }
}
