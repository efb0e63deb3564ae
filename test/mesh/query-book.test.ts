import { describe, expect, it } from 'vitest';
import { Neighbour, type LinkId } from '../../src/mesh/neighbour.js';
import { detectionTimeMs, fastProfile, rfc8966Profile } from '../../src/mesh/profiles.js';
import { QueryBook } from '../../src/mesh/queries.js';

const infinity = Number.POSITIVE_INFINITY;

/**
 * A neighbour on `link`, usable unless told otherwise; `holdUntilMs` is until when it may still
 * route through us (set by the node when it declares the neighbour down without hearing it say so).
 */
function neighbour(link: number, usable = true, holdUntilMs = Number.NEGATIVE_INFINITY): Neighbour {
  const n = new Neighbour(link as LinkId, fastProfile);
  n.usable = usable;
  n.mayRouteThroughUsUntilMs = holdUntilMs;
  return n;
}

describe('detectionTimeMs', () => {
  it('is the probe detection time with probes, and the IHU expiry without', () => {
    expect(detectionTimeMs(fastProfile)).toBe(150);
    expect(detectionTimeMs(rfc8966Profile)).toBe(4000 * 3 * 3.5);
  });
});

describe('QueryBook: starting and sending', () => {
  it('start is idempotent while a query is in progress: one query, one nonce', () => {
    const book = new QueryBook();
    const lost = neighbour(0, false, 500); // lost silently: held, unless exempt
    expect(book.has(3)).toBe(false);
    expect(book.start(3, 1, lost)).toBe(true);
    expect(book.start(3, 1, null)).toBe(true);
    expect(book.has(3)).toBe(true);
    expect([...book.slots()]).toEqual([3]);
    const e = neighbour(1);
    expect(book.takeUnsent([e])).toEqual([{ slot: 3, nonce: 0 }]);
    // Starting again after sending changes nothing either (whatever the seqno): no new query goes out.
    expect(book.start(3, 2, null)).toBe(true);
    expect(book.takeUnsent([e])).toEqual([]);
    // The repeated starts used no nonce: the next query gets 1.
    book.start(4, 1, null);
    expect(book.takeUnsent([e])).toEqual([{ slot: 4, nonce: 1 }]);
    // And the first start's lost next hop is the one kept (exempt from the hold, see below).
    book.answered(3, 0, e);
    expect(book.readyAtMs(3, [lost, e])).toBe(Number.NEGATIVE_INFINITY);
  });

  it('numbers queries 0, 1, 2, ... and wraps from 0xffff to 0', () => {
    const book = new QueryBook();
    const nonces: number[] = [];
    for (let i = 0; i <= 0x10000; i++) {
      book.start(i % 7, 1, null);
      nonces.push(book.takeUnsent([])[0]!.nonce);
      book.cancel(i % 7);
    }
    expect(nonces.slice(0, 3)).toEqual([0, 1, 2]);
    expect(nonces.at(-2)).toBe(0xffff);
    expect(nonces.at(-1)).toBe(0);
    expect(nonces.every((n, i) => n === (i & 0xffff))).toBe(true);
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
      expect(book.readyAtMs(slot, [b, e, f])).toBe(infinity);
      book.answered(slot, slot === 5 ? 0 : 1, b);
      expect(book.readyAtMs(slot, [b, e, f])).toBe(infinity);
      book.answered(slot, slot === 5 ? 0 : 1, e);
      expect(book.readyAtMs(slot, [b, e, f])).toBe(Number.NEGATIVE_INFINITY);
    }
    // A query started later goes out alone, to the neighbours usable at its own sending.
    book.start(11, 1, null);
    expect(book.takeUnsent([f])).toEqual([{ slot: 11, nonce: 2 }]);
    expect(book.readyAtMs(11, [b, e, f])).toBe(infinity);
    book.answered(11, 2, f);
    expect(book.readyAtMs(11, [b, e, f])).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a query sent to nobody is ready at once', () => {
    const book = new QueryBook();
    book.start(1, 1, null);
    expect(book.takeUnsent([])).toEqual([{ slot: 1, nonce: 0 }]);
    expect(book.readyAtMs(1, [])).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('QueryBook: answers', () => {
  it('ignores answers with a stale nonce, for an unknown slot, from a neighbour not asked, or before sending', () => {
    const book = new QueryBook();
    const [b, e, stranger] = [neighbour(0), neighbour(1), neighbour(2)];
    book.start(2, 1, null);
    // Before the query is sent its nonce is already fixed, but an answer cannot be real yet.
    book.answered(2, 0, b);
    expect(book.takeUnsent([b, e])).toEqual([{ slot: 2, nonce: 0 }]);
    book.answered(2, 1, b); // stale or future nonce
    book.answered(2, 0xffff, e);
    book.answered(7, 0, b); // no query for slot 7
    book.answered(2, 0, stranger); // not asked
    expect(book.readyAtMs(2, [b, e, stranger])).toBe(infinity);
    book.answered(2, 0, b);
    book.answered(2, 0, b); // a duplicate is harmless
    expect(book.readyAtMs(2, [b, e, stranger])).toBe(infinity);
    book.answered(2, 0, e);
    expect(book.readyAtMs(2, [b, e, stranger])).toBe(Number.NEGATIVE_INFINITY);
  });

  it('an answer to a cancelled query that was started again (new nonce) is stale', () => {
    const book = new QueryBook();
    const b = neighbour(0);
    book.start(2, 1, null);
    book.takeUnsent([b]);
    book.cancel(2);
    book.start(2, 1, null);
    expect(book.takeUnsent([b])).toEqual([{ slot: 2, nonce: 1 }]);
    book.answered(2, 0, b);
    expect(book.readyAtMs(2, [b])).toBe(infinity);
    book.answered(2, 1, b);
    expect(book.readyAtMs(2, [b])).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a neighbour going down stops every query from waiting for it', () => {
    const book = new QueryBook();
    const [b, e] = [neighbour(0), neighbour(1)];
    book.start(1, 1, null);
    book.start(2, 1, null);
    book.takeUnsent([b, e]);
    book.answered(1, 0, e);
    book.neighbourDown(b); // usable stays true here: readiness below is about `waiting` alone
    expect(book.readyAtMs(1, [b, e])).toBe(Number.NEGATIVE_INFINITY);
    expect(book.readyAtMs(2, [b, e])).toBe(infinity);
    book.neighbourDown(e);
    expect(book.readyAtMs(2, [b, e])).toBe(Number.NEGATIVE_INFINITY);
    // A neighbour that was not asked changes nothing, and there may be no query at all.
    new QueryBook().neighbourDown(b);
  });

  it('a neighbour down before the query is sent is simply not asked', () => {
    const book = new QueryBook();
    const [b, e] = [neighbour(0), neighbour(1)];
    book.start(1, 1, null);
    book.neighbourDown(b);
    book.takeUnsent([b, e]);
    expect(book.readyAtMs(1, [b, e])).toBe(infinity);
    book.answered(1, 0, e);
    expect(book.readyAtMs(1, [b, e])).toBe(infinity);
    book.answered(1, 0, b);
    expect(book.readyAtMs(1, [b, e])).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('QueryBook: readiness and the hold', () => {
  it('is never ready without a query, before sending, or while answers are missing', () => {
    const book = new QueryBook();
    const b = neighbour(0);
    expect(book.readyAtMs(0, [b])).toBe(infinity);
    book.start(0, 1, null);
    expect(book.readyAtMs(0, [b])).toBe(infinity);
    expect(book.readyAtMs(0, [])).toBe(infinity);
    book.takeUnsent([b]);
    expect(book.readyAtMs(0, [b])).toBe(infinity);
  });

  it('waits until no neighbour lost silently may still route through us, the latest hold deciding', () => {
    const book = new QueryBook();
    const e = neighbour(1);
    const f = neighbour(2, false, 1000);
    const g = neighbour(3, false, 1040);
    const old = neighbour(4, false, 10);
    const never = neighbour(5, false); // never up, never declared down: no hold
    book.start(0, 1, null);
    book.takeUnsent([e]);
    book.answered(0, 0, e);
    expect(book.readyAtMs(0, [e, f])).toBe(1000);
    expect(book.readyAtMs(0, [e, f, g, old, never])).toBe(1040);
    expect(book.readyAtMs(0, [e, old])).toBe(10); // in the past: ready
    expect(book.readyAtMs(0, [e, never])).toBe(Number.NEGATIVE_INFINITY);
    expect(book.readyAtMs(0, [])).toBe(Number.NEGATIVE_INFINITY);
  });

  it('ignores neighbours that are usable again, whatever their hold', () => {
    const book = new QueryBook();
    const e = neighbour(1, true, 5000);
    book.start(0, 1, null);
    book.takeUnsent([e]);
    book.answered(0, 0, e);
    expect(book.readyAtMs(0, [e])).toBe(Number.NEGATIVE_INFINITY);
    e.usable = false;
    expect(book.readyAtMs(0, [e])).toBe(5000);
  });

  it('exempts the lost next hop that started the query, and only it', () => {
    const book = new QueryBook();
    const b = neighbour(0, false, 2000); // the next hop whose loss started the query
    const f = neighbour(2, false, 1990); // lost at about the same time
    const e = neighbour(1);
    book.start(7, 1, b);
    book.takeUnsent([e]);
    book.answered(7, 0, e);
    expect(book.readyAtMs(7, [b, e])).toBe(Number.NEGATIVE_INFINITY);
    expect(book.readyAtMs(7, [b, e, f])).toBe(1990);
    // The same neighbour is not exempt from another query that it did not start.
    book.start(8, 1, null);
    book.takeUnsent([e]);
    book.answered(8, 1, e);
    expect(book.readyAtMs(8, [b, e])).toBe(2000);
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
    expect(book.readyAtMs(3, [e])).toBe(infinity);
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
    expect(book.readyAtMs(3, [e])).toBe(infinity);
    book.answered(3, 2, e);
    expect(book.readyAtMs(3, [e])).toBe(Number.NEGATIVE_INFINITY);
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
    book.forget(2);
    book.forget(5);
    book.forget(99);
    expect(book.has(5)).toBe(false);
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
    expect([...book.slots()]).toEqual([6]);
    book.answered(4, 0, b);
    expect(book.readyAtMs(4, [b])).toBe(infinity);
    // A cancelled unsent query is not sent either.
    book.start(5, 1, null);
    book.cancel(5);
    expect(book.takeUnsent([b])).toEqual([]);
    expect(book.has(6)).toBe(true);
  });
});
