import { describe, expect, it } from 'vitest';
import { Neighbour, type LinkId } from '../../src/mesh/neighbour.js';
import { detectionTimeMs, fastProfile, rfc8966Profile } from '../../src/mesh/profiles.js';
import { QueryBook } from '../../src/mesh/queries.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';

const infinity = Number.POSITIVE_INFINITY;
const ready = Number.NEGATIVE_INFINITY;

/** A neighbour on `link` answered by `peer` (default: node 100 + link); null for a removed link. */
function neighbour(link: number, peer: NodeId | null = nodeId(100 + link)): Neighbour {
  const n = new Neighbour(link as LinkId, fastProfile);
  n.peer = peer;
  n.usable = peer !== null;
  return n;
}

/** A book whose query for `slot` was sent to `e` alone and answered, started with `lostNextHop`. */
function answeredQuery(slot: number, lostNextHop: Neighbour | null, book = new QueryBook()): { book: QueryBook; e: Neighbour } {
  const e = neighbour(50);
  expect(book.start(slot, 1, lostNextHop)).toBe(true);
  const [sent] = book.takeUnsent([e]);
  book.answered(slot, sent!.nonce, e);
  return { book, e };
}

describe('detectionTimeMs', () => {
  it('is the probe detection time with probes, and the IHU expiry without', () => {
    expect(detectionTimeMs(fastProfile)).toBe(150);
    expect(detectionTimeMs(rfc8966Profile)).toBe(4000 * 3 * 3.5);
  });
});

describe('QueryBook: starting and sending', () => {
  it('start returns true only when it creates a query: not while one is in progress, sent or not', () => {
    const book = new QueryBook();
    const lost = neighbour(0);
    expect(book.has(3)).toBe(false);
    expect(book.size).toBe(0);
    expect(book.start(3, 1, lost)).toBe(true);
    expect(book.start(3, 1, null)).toBe(false);
    expect(book.start(3, 2, null)).toBe(false); // even with a newer seqno
    expect(book.has(3)).toBe(true);
    expect(book.size).toBe(1);
    expect([...book.slots()]).toEqual([3]);
    const e = neighbour(1);
    expect(book.takeUnsent([e])).toEqual([{ slot: 3, nonce: 0 }]);
    expect(book.start(3, 2, null)).toBe(false);
    expect(book.takeUnsent([e])).toEqual([]);
    // The refused starts used no nonce: the next query gets 1.
    expect(book.start(4, 1, null)).toBe(true);
    expect(book.size).toBe(2);
    expect(book.takeUnsent([e])).toEqual([{ slot: 4, nonce: 1 }]);
    // The first start's lost next hop is the one kept: its hold is exempt for slot 3 only.
    book.hold(lost, lost.peer, 500);
    book.answered(3, 0, e);
    book.answered(4, 1, e);
    expect(book.readyAtMs(3, 0)).toBe(ready);
    expect(book.readyAtMs(4, 0)).toBe(500);
  });

  it('numbers queries from the constructor\'s first nonce (16 bits, default 0), wrapping from 0xffff to 0', () => {
    const nonces = (book: QueryBook, count: number): number[] =>
      Array.from({ length: count }, (_, i) => {
        book.start(i % 7, 1, null);
        const nonce = book.takeUnsent([])[0]!.nonce;
        book.cancel(i % 7);
        return nonce;
      });
    expect(nonces(new QueryBook(), 3)).toEqual([0, 1, 2]);
    expect(nonces(new QueryBook(0xfffe), 4)).toEqual([0xfffe, 0xffff, 0, 1]);
    expect(nonces(new QueryBook(0x1_0005), 2)).toEqual([5, 6]);
    // A whole cycle from a random start: every nonce once, in order.
    const all = nonces(new QueryBook(12_345), 0x10001);
    expect(all.every((n, i) => n === ((12_345 + i) & 0xffff))).toBe(true);
    expect(new Set(all).size).toBe(0x10000);
  });

  it('takeUnsent hands out each query once, addressed to the neighbours usable then', () => {
    const book = new QueryBook();
    const [b, e, f] = [neighbour(0), neighbour(1), neighbour(2)];
    expect(book.takeUnsent([b, e])).toEqual([]);
    book.start(5, 1, null);
    book.start(9, 1, null);
    expect(book.takeUnsent([b, e])).toEqual([
      { slot: 5, nonce: 0 },
      { slot: 9, nonce: 1 },
    ]);
    expect(book.takeUnsent([b, e, f])).toEqual([]);
    // Both wait for b and e (but not f, which was not asked).
    for (const slot of [5, 9]) {
      expect(book.readyAtMs(slot, 0)).toBe(infinity);
      book.answered(slot, slot === 5 ? 0 : 1, b);
      expect(book.readyAtMs(slot, 0)).toBe(infinity);
      book.answered(slot, slot === 5 ? 0 : 1, e);
      expect(book.readyAtMs(slot, 0)).toBe(ready);
    }
    // A query started later goes out alone, to the neighbours usable at its own sending.
    book.start(11, 1, null);
    expect(book.takeUnsent([f])).toEqual([{ slot: 11, nonce: 2 }]);
    expect(book.readyAtMs(11, 0)).toBe(infinity);
    book.answered(11, 2, f);
    expect(book.readyAtMs(11, 0)).toBe(ready);
  });

  it('takeUnsent counts the unsent queries right through cancel, completed and forget', () => {
    const book = new QueryBook();
    const b = neighbour(0);
    // Unsent queries dropped before sending: nothing left to send.
    book.start(1, 1, null);
    book.start(2, 1, null);
    book.start(3, 1, null);
    book.cancel(1);
    book.completed(2, 1);
    book.forget(3);
    expect(book.size).toBe(0);
    expect(book.takeUnsent([b])).toEqual([]);
    // One unsent dropped, one kept: the kept one still goes out.
    book.start(4, 1, null);
    book.start(5, 1, null);
    book.cancel(4);
    expect(book.takeUnsent([b])).toEqual([{ slot: 5, nonce: 4 }]);
    // Dropping a query already sent does not hide the next unsent one.
    book.cancel(5);
    book.start(6, 1, null);
    expect(book.takeUnsent([b])).toEqual([{ slot: 6, nonce: 5 }]);
    book.completed(6, 1);
    book.start(7, 1, null);
    expect(book.takeUnsent([b])).toEqual([{ slot: 7, nonce: 6 }]);
  });

  it('a query sent to nobody is ready at once', () => {
    const book = new QueryBook();
    book.start(1, 1, null);
    expect(book.takeUnsent([])).toEqual([{ slot: 1, nonce: 0 }]);
    expect(book.readyAtMs(1, 0)).toBe(ready);
  });
});

describe('QueryBook: answers', () => {
  it('ignores answers with a stale nonce, for an unknown slot, from a neighbour not asked, or before sending', () => {
    const book = new QueryBook(40);
    const [b, e, stranger] = [neighbour(0), neighbour(1), neighbour(2)];
    book.start(2, 1, null);
    // Before the query is sent its nonce is already fixed, but an answer cannot be real yet.
    book.answered(2, 40, b);
    expect(book.takeUnsent([b, e])).toEqual([{ slot: 2, nonce: 40 }]);
    book.answered(2, 41, b); // stale or future nonce
    book.answered(2, 39, e);
    book.answered(7, 40, b); // no query for slot 7
    book.answered(2, 40, stranger); // not asked
    expect(book.readyAtMs(2, 0)).toBe(infinity);
    book.answered(2, 40, b);
    book.answered(2, 40, b); // a duplicate is harmless
    expect(book.readyAtMs(2, 0)).toBe(infinity);
    book.answered(2, 40, e);
    expect(book.readyAtMs(2, 0)).toBe(ready);
  });

  it('an answer to a cancelled query that was started again (new nonce) is stale', () => {
    const book = new QueryBook();
    const b = neighbour(0);
    book.start(2, 1, null);
    book.takeUnsent([b]);
    book.cancel(2);
    expect(book.start(2, 1, null)).toBe(true);
    expect(book.takeUnsent([b])).toEqual([{ slot: 2, nonce: 1 }]);
    book.answered(2, 0, b);
    expect(book.readyAtMs(2, 0)).toBe(infinity);
    book.answered(2, 1, b);
    expect(book.readyAtMs(2, 0)).toBe(ready);
  });

  it('a neighbour going down stops every query from waiting for it', () => {
    const book = new QueryBook();
    const [b, e] = [neighbour(0), neighbour(1)];
    book.start(1, 1, null);
    book.start(2, 1, null);
    book.takeUnsent([b, e]);
    book.answered(1, 0, e);
    book.neighbourDown(b);
    expect(book.readyAtMs(1, 0)).toBe(ready);
    expect(book.readyAtMs(2, 0)).toBe(infinity);
    book.neighbourDown(e);
    expect(book.readyAtMs(2, 0)).toBe(ready);
    // A neighbour that was not asked changes nothing, and there may be no query at all.
    new QueryBook().neighbourDown(b);
  });

  it('a neighbour down before the query is sent is simply not asked', () => {
    const book = new QueryBook();
    const [b, e] = [neighbour(0), neighbour(1)];
    book.start(1, 1, null);
    book.neighbourDown(b);
    book.takeUnsent([b, e]);
    expect(book.readyAtMs(1, 0)).toBe(infinity);
    book.answered(1, 0, e);
    expect(book.readyAtMs(1, 0)).toBe(infinity);
    book.answered(1, 0, b);
    expect(book.readyAtMs(1, 0)).toBe(ready);
  });
});

describe('QueryBook: readiness and the holds', () => {
  it('is never ready without a query, before sending, or while answers are missing, whatever the holds', () => {
    const book = new QueryBook();
    const b = neighbour(0);
    expect(book.readyAtMs(0, 0)).toBe(infinity);
    book.start(0, 1, null);
    expect(book.readyAtMs(0, 0)).toBe(infinity);
    book.takeUnsent([b]);
    expect(book.readyAtMs(0, 0)).toBe(infinity);
    book.hold(neighbour(1), nodeId(101), 100);
    expect(book.readyAtMs(0, 0)).toBe(infinity);
    expect(book.readyAtMs(0, 1000)).toBe(infinity);
  });

  it('waits for the latest hold still running, whichever neighbour it is on and whether or not it is usable', () => {
    const [f, g] = [neighbour(2), neighbour(3)];
    const { book } = answeredQuery(0, null);
    expect(book.readyAtMs(0, 0)).toBe(ready);
    book.hold(f, f.peer, 1000);
    expect(book.readyAtMs(0, 0)).toBe(1000);
    book.hold(g, g.peer, 1040);
    book.hold(f, f.peer, 900); // an earlier end does not shorten the later one
    expect(book.readyAtMs(0, 0)).toBe(1040);
    // Usability plays no part: a neighbour back up may still be a session that never saw us go.
    g.usable = true;
    f.usable = false;
    expect(book.readyAtMs(0, 1000)).toBe(1040);
    // Holds added after the answers count too (the node adds them as it loses neighbours).
    book.hold(neighbour(4), nodeId(104), 1100);
    expect(book.readyAtMs(0, 1000)).toBe(1100);
  });

  it('drops holds that are over by nowMs (an end at nowMs is over), for every query', () => {
    const [f, g, x] = [neighbour(2), neighbour(3), neighbour(4)];
    const { book } = answeredQuery(0, null);
    book.hold(f, f.peer, 1000);
    book.hold(g, g.peer, 1040);
    book.hold(x, x.peer, 3000);
    expect(book.readyAtMs(0, 999)).toBe(3000);
    // Asked at 3000, all three are over: ready, and they are gone for good, so that asking
    // again with an earlier time (which the node never does) shows they were dropped.
    expect(book.readyAtMs(0, 3000)).toBe(ready);
    expect(book.readyAtMs(0, 0)).toBe(ready);
    // Dropping is per hold: the one still running stays.
    book.hold(f, f.peer, 1000);
    book.hold(g, g.peer, 5000);
    expect(book.readyAtMs(0, 1000)).toBe(5000);
    expect(book.readyAtMs(0, 0)).toBe(5000);
    // The holds are the node's, not one query's: another query sees what the first dropped.
    const { book: same } = answeredQuery(1, null, book);
    expect(same.readyAtMs(1, 0)).toBe(5000);
  });

  it('exempts only the hold of the lost next hop\'s link and peer as they were when the query started', () => {
    const b = neighbour(0); // the next hop whose loss started the query
    const peerB = b.peer!;
    const other = nodeId(99);
    const { book } = answeredQuery(7, b);
    book.hold(b, peerB, 2000);
    expect(book.readyAtMs(7, 0)).toBe(ready);
    // Another node that answered on the same link may still route through us.
    book.hold(b, other, 1990);
    expect(book.readyAtMs(7, 0)).toBe(1990);
    // So may the same node on another link (a node with two links to us).
    const f = neighbour(2, peerB);
    book.hold(f, peerB, 1995);
    expect(book.readyAtMs(7, 0)).toBe(1995);
    // What counts is the peer at the start: a peer change on the link since then moves nothing.
    b.peer = other;
    expect(book.readyAtMs(7, 0)).toBe(1995);
    // The same link and peer is not exempt for a query it did not start.
    const { book: second } = answeredQuery(8, null, book);
    expect(second.readyAtMs(8, 0)).toBe(2000);
  });

  it('exempts the hold of a removed next hop (no peer any more) for the query its removal started', () => {
    // As the node does on removeLink: the neighbour loses its peer, is held with peer null,
    // and the routes through it are flushed, which starts the query.
    const b = neighbour(0);
    b.peer = null;
    const { book } = answeredQuery(3, b);
    book.hold(b, null, 2000);
    expect(book.readyAtMs(3, 0)).toBe(ready);
    const c = neighbour(1);
    c.peer = null;
    book.hold(c, null, 1500);
    expect(book.readyAtMs(3, 0)).toBe(1500);
  });

  it('sessionUp drops the holds of that link and peer only: the handshake proves that peer went Down', () => {
    const b = neighbour(0);
    const peerB = b.peer!;
    const other = nodeId(99);
    const f = neighbour(2, peerB);
    const { book } = answeredQuery(0, null);
    book.sessionUp(b, peerB); // no holds at all: nothing to do
    book.hold(b, peerB, 1000);
    book.hold(b, peerB, 1200);
    book.hold(b, other, 900);
    book.hold(f, peerB, 800);
    expect(book.readyAtMs(0, 0)).toBe(1200);
    // Another node coming up on b's link proves nothing about peerB.
    book.sessionUp(b, nodeId(98));
    expect(book.readyAtMs(0, 0)).toBe(1200);
    // peerB back on b's link: both of its holds there go; the other peer's and f's stay.
    book.sessionUp(b, peerB);
    expect(book.readyAtMs(0, 0)).toBe(900);
    book.sessionUp(b, other);
    expect(book.readyAtMs(0, 0)).toBe(800);
    book.sessionUp(f, peerB);
    expect(book.readyAtMs(0, 0)).toBe(ready);
  });
});

describe('QueryBook: at most one reset per seqno', () => {
  it('after a completed query, starts again for the slot only once its distance has a newer seqno', () => {
    const book = new QueryBook();
    const e = neighbour(1);
    expect(book.start(3, 100, null)).toBe(true);
    book.takeUnsent([e]);
    book.completed(3, 100);
    expect(book.has(3)).toBe(false);
    expect(book.size).toBe(0);
    expect(book.readyAtMs(3, 0)).toBe(infinity);
    // Same seqno, an older one, one half-way round (not newer): refused, nothing to send.
    for (const seqno of [100, 99, 100 - 0x7fff, 100 + 0x8000]) {
      expect(book.start(3, seqno & 0xffff, null)).toBe(false);
      expect(book.has(3)).toBe(false);
    }
    expect(book.takeUnsent([e])).toEqual([]);
    // Other slots are not affected.
    expect(book.start(4, 100, null)).toBe(true);
    // A newer seqno (modulo 2^16) allows a new query, with the next nonce.
    expect(book.start(3, 101, null)).toBe(true);
    expect(book.takeUnsent([e])).toEqual([
      { slot: 4, nonce: 1 },
      { slot: 3, nonce: 2 },
    ]);
    // The refusals used no nonce; an answer to the completed query's nonce is stale.
    book.answered(3, 0, e);
    expect(book.readyAtMs(3, 0)).toBe(infinity);
    book.answered(3, 2, e);
    expect(book.readyAtMs(3, 0)).toBe(ready);
  });

  it('a start with a newer seqno deletes the mark: it cannot refuse a later start once seqnos wrap', () => {
    const book = new QueryBook();
    book.start(3, 100, null);
    book.completed(3, 100);
    expect(book.start(3, 101, null)).toBe(true);
    book.cancel(3);
    // Had the mark (100) stayed, 100 + 0x8000 (not newer than 100) would be refused; it is
    // gone, so any seqno may query again, the old one included.
    expect(book.start(3, (100 + 0x8000) & 0xffff, null)).toBe(true);
    book.cancel(3);
    expect(book.start(3, 100, null)).toBe(true);
    // Completing sets a fresh mark.
    book.completed(3, 100);
    expect(book.start(3, 100, null)).toBe(false);
  });

  it('compares seqnos modulo 2^16: 0 is newer than 0xffff', () => {
    const book = new QueryBook();
    book.start(0, 0xffff, null);
    book.completed(0, 0xffff);
    expect(book.start(0, 0xfffe, null)).toBe(false);
    expect(book.start(0, 0, null)).toBe(true);
  });

  it('a cancelled query leaves no mark: the slot may query again at the same seqno', () => {
    const book = new QueryBook();
    book.start(2, 7, null);
    book.cancel(2);
    expect(book.start(2, 7, null)).toBe(true);
    book.completed(2, 7);
    book.cancel(2); // cancelling after completion does not lift the mark either
    expect(book.start(2, 7, null)).toBe(false);
  });

  it('forget drops the query in progress and the mark of the last reset', () => {
    const book = new QueryBook();
    book.start(2, 7, null);
    book.completed(2, 7);
    book.start(5, 7, null);
    expect(book.size).toBe(1);
    book.forget(2);
    book.forget(5);
    book.forget(99);
    expect(book.has(5)).toBe(false);
    expect(book.size).toBe(0);
    expect([...book.slots()]).toEqual([]);
    expect(book.takeUnsent([])).toEqual([]);
    // A new source in the reused slot starts from scratch, whatever its seqno.
    expect(book.start(2, 7, null)).toBe(true);
    expect(book.start(5, 1, null)).toBe(true);
  });
});

describe('QueryBook: cancel', () => {
  it('forgets the query: not in progress, never ready, answers ignored; unknown slots are fine', () => {
    const book = new QueryBook();
    const b = neighbour(0);
    book.start(4, 1, null);
    book.start(6, 1, null);
    book.takeUnsent([b]);
    book.cancel(4);
    book.cancel(99);
    expect(book.has(4)).toBe(false);
    expect(book.size).toBe(1);
    expect([...book.slots()]).toEqual([6]);
    book.answered(4, 0, b);
    expect(book.readyAtMs(4, 0)).toBe(infinity);
    // A cancelled unsent query is not sent either.
    book.start(5, 1, null);
    book.cancel(5);
    expect(book.takeUnsent([b])).toEqual([]);
    expect(book.has(6)).toBe(true);
  });
});
