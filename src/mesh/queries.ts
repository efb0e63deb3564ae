import type { NodeId } from '../wire/ids.js';
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
 * One more case needs care: a peer we lost without hearing it say so (timeout, link removed,
 * another node answering on its link) may not yet know, and may still route through us. The
 * node records a hold for that session (`hold`), and completion waits for every hold but the
 * one of the next hop whose loss started the query: that one cannot have routed through us
 * while we routed through it (the feasibility condition forbids it). A hold ends early when the
 * same peer comes up again on the same link, since the three-way probe handshake proves it
 * went Down (and dropped its routes through us) in between.
 *
 * Dropping the distance also lets stale routes back in: when the source itself is gone, a
 * node may take a neighbour's route that is about to be retracted, lose it, query again, and
 * so on, a loop-free cousin of counting to infinity that kept a 200-node twin busy with
 * thousands of queries a second for as long as a crashed node stayed down. So a node drops
 * its distance for a source at most once per seqno of that source: after a reset it queries
 * again only once a newer seqno has arrived (the source is alive), and otherwise falls back
 * to Babel's seqno requests.
 */

/** A session that may still route through us: its link, its peer, and until when. */
interface Hold {
  readonly neighbour: Neighbour;
  readonly peer: NodeId | null;
  readonly untilMs: number;
}

/** One query in progress, for one source slot. */
interface ActiveQuery {
  readonly nonce: number;
  /** The next hop whose loss started the query, exempt from the hold; null when none was lost. */
  readonly lostNextHop: Neighbour | null;
  readonly lostPeer: NodeId | null;
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
  /**
   * active.size, kept in a field: the node asks for it on every call, and reading a Map's
   * size follows two more pointers (cache misses in a large twin) than reading a field.
   */
  private activeCount = 0;
  /** Slot -> the seqno of the feasibility distance the last completed query dropped. */
  private readonly resetSeqno = new Map<number, number>();
  private holds: Hold[] = [];
  private unsent = 0;
  private nextNonce: number;

  /** `firstNonce`: where nonces start (random per boot, like seqnos). */
  constructor(firstNonce = 0) {
    this.nextNonce = firstNonce & 0xffff;
  }

  /** Queries in progress. */
  get size(): number {
    return this.activeCount;
  }

  /** True while a query for `slot` is in progress. */
  has(slot: number): boolean {
    return this.active.has(slot);
  }

  /**
   * Starts a query for `slot` (whose feasibility distance has seqno `fdSeqno`) lost through
   * `lostNextHop` (null when no next hop was lost), unless one is in progress or a query already
   * dropped a distance of that seqno. Returns true when a new query was created; it goes out at
   * the next `takeUnsent`.
   */
  start(slot: number, fdSeqno: number, lostNextHop: Neighbour | null): boolean {
    if (this.active.has(slot)) return false;
    const reset = this.resetSeqno.get(slot);
    if (reset !== undefined) {
      if (!seqnoNewer(fdSeqno, reset)) return false;
      this.resetSeqno.delete(slot);
    }
    this.active.set(slot, { nonce: this.nextNonce, lostNextHop, lostPeer: lostNextHop?.peer ?? null, waiting: new Set(), sent: false });
    this.activeCount++;
    this.nextNonce = (this.nextNonce + 1) & 0xffff;
    this.unsent++;
    return true;
  }

  /** The query for `slot` completed and dropped a feasibility distance of seqno `fdSeqno`. */
  completed(slot: number, fdSeqno: number): void {
    this.cancel(slot);
    this.resetSeqno.set(slot, fdSeqno);
  }

  /** Abandons the query for `slot` (a feasible route came back). */
  cancel(slot: number): void {
    const query = this.active.get(slot);
    if (query === undefined) return;
    if (!query.sent) this.unsent--;
    this.active.delete(slot);
    this.activeCount--;
  }

  /** The source of `slot` was garbage-collected: so is everything about its queries. */
  forget(slot: number): void {
    this.cancel(slot);
    this.resetSeqno.delete(slot);
  }

  /** The queries not sent yet, now addressed to `usable` (the neighbours they go to). */
  takeUnsent(usable: readonly Neighbour[]): QueryToSend[] {
    if (this.unsent === 0) return [];
    const toSend: QueryToSend[] = [];
    for (const [slot, query] of this.active) {
      if (query.sent) continue;
      query.sent = true;
      for (const neighbour of usable) query.waiting.add(neighbour);
      toSend.push({ slot, nonce: query.nonce });
    }
    this.unsent = 0;
    return toSend;
  }

  /** Records an answer from `from`; stale nonces and unknown slots are ignored. */
  answered(slot: number, nonce: number, from: Neighbour): void {
    const query = this.active.get(slot);
    if (query !== undefined && query.sent && query.nonce === nonce) query.waiting.delete(from);
  }

  /** A neighbour went down: it will not answer. */
  neighbourDown(neighbour: Neighbour): void {
    for (const query of this.active.values()) query.waiting.delete(neighbour);
  }

  /** `peer`, on `neighbour`'s link, may still route through us until `untilMs`. */
  hold(neighbour: Neighbour, peer: NodeId | null, untilMs: number): void {
    this.holds.push({ neighbour, peer, untilMs });
  }

  /** `peer` came up again on `neighbour`'s link: the handshake proves it went Down in between. */
  sessionUp(neighbour: Neighbour, peer: NodeId | null): void {
    if (this.holds.length === 0) return;
    this.holds = this.holds.filter((h) => h.neighbour !== neighbour || h.peer !== peer);
  }

  /**
   * When the query for `slot` may complete: infinity while answers are missing (or there is
   * no such query), else the end of the latest hold but the exempt one, which may be in the
   * past. Holds over by `nowMs` are dropped.
   */
  readyAtMs(slot: number, nowMs: number): number {
    const query = this.active.get(slot);
    if (query === undefined || !query.sent || query.waiting.size > 0) return Number.POSITIVE_INFINITY;
    if (this.holds.length > 0 && this.holds.some((h) => h.untilMs <= nowMs)) this.holds = this.holds.filter((h) => h.untilMs > nowMs);
    let readyAt = Number.NEGATIVE_INFINITY;
    for (const hold of this.holds) {
      if (hold.neighbour === query.lostNextHop && hold.peer === query.lostPeer) continue;
      readyAt = Math.max(readyAt, hold.untilMs);
    }
    return readyAt;
  }

  /** Slots with a query in progress. */
  slots(): IterableIterator<number> {
    return this.active.keys();
  }
}
