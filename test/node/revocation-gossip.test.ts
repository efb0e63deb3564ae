import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import type { LinkMessageEvent } from '../../src/mesh/types.js';
import { DaemonRevocationGossip } from '../../src/node/revocation-gossip-driver.js';
import {
  answerIntervalMs,
  reassemblyTimeoutMs,
  revocationChunkBytes,
  revocationGossipBytesMax,
  RevocationGossip,
  RevocationGossipType,
  supersedesVersion,
  worthAnswering,
  type GossipSend,
} from '../../src/node/revocation-gossip.js';
import { nodeId } from '../../src/wire/ids.js';

/**
 * The revocation gossip's sans-IO core (chunks, reassembly, requests and who is answered) and
 * the daemon's driver around it (what is offered, sent on, and asked for). The lists here are
 * opaque bytes: signatures and freshness are CaSync.offer's job (test/node/ca-sync.test.ts).
 */

const link = (n: number): LinkId => n as LinkId;
/** A "list" of `bytes` bytes whose every byte depends on its offset and `seed`. */
const listBytes = (bytes: number, seed = 1): Uint8Array => Uint8Array.from({ length: bytes }, (_, i) => (i * 31 + seed) & 0xff);
/** Half of the default revocations.maxAgeMs, as the daemon passes it. */
const refreshAfterMs = 30_000;
const v = (sequence: number, issuedAtMs: number): { sequence: number; issuedAtMs: number } => ({ sequence, issuedAtMs });

/** Feeds every send meant for `to` into `receiver` and collects what it completed and sends back. */
function deliver(sends: readonly GossipSend[], to: LinkId, receiver: RevocationGossip, nowMs = 0): { completed: Uint8Array[]; replies: GossipSend[] } {
  const completed: Uint8Array[] = [];
  const replies: GossipSend[] = [];
  for (const send of sends.filter((s) => s.link === to)) {
    const out = receiver.receive(nowMs, to, send.bytes);
    replies.push(...out.sends);
    if (out.completed !== null) completed.push(out.completed);
  }
  return { completed, replies };
}

describe('RevocationGossip: chunks and reassembly', () => {
  it('splits a list into 1024-byte chunks, every link but the source gets them all, and the receiver gets the exact bytes back', () => {
    const list = listBytes(3 * revocationChunkBytes + 517);
    const sender = new RevocationGossip(refreshAfterMs);
    sender.setCurrent(list, v(4, 1000));
    const sends = sender.announce([link(1), link(2), link(3)], link(2));
    expect(sends.map((send) => send.link)).toEqual([1, 1, 1, 1, 3, 3, 3, 3]);
    expect(sends.map((send) => send.bytes.length)).toEqual([1035, 1035, 1035, 528, 1035, 1035, 1035, 528]);
    expect(sends.every((send) => send.bytes[0] === RevocationGossipType.listChunk)).toBe(true);
    expect(sender.stats.chunksOut).toBe(8);
    const receiver = new RevocationGossip(refreshAfterMs);
    // Out of order and one twice: still exactly one list.
    const forLink1 = sends.filter((send) => send.link === 1);
    const shuffled = [forLink1[2]!, forLink1[0]!, forLink1[0]!, forLink1[3]!, forLink1[1]!];
    const { completed } = deliver(shuffled, link(1), receiver);
    expect(completed).toEqual([list]);
    expect(receiver.stats).toMatchObject({ chunksIn: 5, listsCompleted: 1, malformed: 0 });
  });

  it('announces nothing without a list, or with one too long to gossip', () => {
    const gossip = new RevocationGossip(refreshAfterMs);
    expect(gossip.announce([link(1)])).toEqual([]);
    gossip.setCurrent(listBytes(revocationGossipBytesMax + 1), v(1, 1));
    expect(gossip.announce([link(1)])).toEqual([]);
    gossip.setCurrent(listBytes(revocationGossipBytesMax), v(1, 1));
    expect(gossip.announce([link(1)])).toHaveLength(revocationGossipBytesMax / revocationChunkBytes);
  });

  it('counts and drops malformed chunks: short, count 0 or over 64, index past count, a chunk that contradicts its list, an unknown type', () => {
    const gossip = new RevocationGossip(refreshAfterMs);
    const chunk = (index: number, count: number, bytes: number, digestByte = 7): Uint8Array => {
      const out = new Uint8Array(11 + bytes).fill(digestByte, 1, 9);
      out[0] = RevocationGossipType.listChunk;
      out[9] = index;
      out[10] = count;
      return out;
    };
    const bad = [chunk(0, 1, 0), chunk(0, 0, 10), chunk(0, 65, 10), chunk(2, 2, 10), Uint8Array.of(0x99, 1, 2)];
    for (const bytes of bad) expect(gossip.receive(0, link(1), bytes)).toEqual({ sends: [], completed: null });
    expect(gossip.stats.malformed).toBe(5);
    // A middle chunk that is not full, and a count that changes within one list.
    expect(gossip.receive(0, link(1), chunk(0, 3, 100)).completed).toBeNull();
    expect(gossip.receive(0, link(1), chunk(0, 3, revocationChunkBytes)).completed).toBeNull();
    expect(gossip.receive(0, link(1), chunk(1, 2, revocationChunkBytes)).completed).toBeNull();
    expect(gossip.stats.malformed).toBe(7);
    expect(gossip.stats.chunksIn).toBe(3);
  });

  it('refuses a list whose bytes do not match the digest its chunks name', () => {
    const sender = new RevocationGossip(refreshAfterMs);
    sender.setCurrent(listBytes(1500), v(1, 1));
    const sends = sender.announce([link(1)]);
    sends[1]!.bytes[20]! ^= 1;
    const receiver = new RevocationGossip(refreshAfterMs);
    expect(deliver(sends, link(1), receiver).completed).toEqual([]);
    expect(receiver.stats.digestMismatch).toBe(1);
  });

  it('drops a reassembly whose chunks stop coming, and a chunk of another list replaces the one in progress', () => {
    const a = new RevocationGossip(refreshAfterMs);
    a.setCurrent(listBytes(2500, 1), v(1, 1));
    const b = new RevocationGossip(refreshAfterMs);
    b.setCurrent(listBytes(2500, 2), v(2, 1));
    const receiver = new RevocationGossip(refreshAfterMs);
    const first = a.announce([link(1)]);
    deliver(first.slice(0, 2), link(1), receiver, 0);
    // The last chunk, too late: its list is gone, and alone it completes nothing.
    expect(deliver(first.slice(2), link(1), receiver, reassemblyTimeoutMs).completed).toEqual([]);
    expect(receiver.stats.timedOut).toBe(1);
    // Half of a, then all of b on the same link: b completes.
    deliver(a.announce([link(1)]).slice(0, 2), link(1), receiver, 10_000);
    expect(deliver(b.announce([link(1)]), link(1), receiver, 10_001).completed).toEqual([listBytes(2500, 2)]);
  });
});

describe('RevocationGossip: requests', () => {
  it('answers a higher sequence at once, a fresher copy of the same list only once the asker\'s is older than refreshAfterMs, each link at most once per answerIntervalMs', () => {
    const asker = new RevocationGossip(refreshAfterMs);
    asker.setCurrent(listBytes(1200, 1), v(3, 100_000));
    const holder = new RevocationGossip(refreshAfterMs);
    // Not newer: the same version.
    holder.setCurrent(listBytes(1200, 1), v(3, 100_000));
    expect(deliver(asker.requests([link(9)]), link(9), holder, 200_000).replies).toEqual([]);
    // A fresher copy while the asker's is 30 s old: not worth the bytes; past 30 s it is.
    holder.setCurrent(listBytes(1200, 2), v(3, 120_000));
    expect(deliver(asker.requests([link(9)]), link(9), holder, 100_000 + refreshAfterMs).replies).toEqual([]);
    const answer = deliver(asker.requests([link(9)]), link(9), holder, 100_001 + refreshAfterMs).replies;
    expect(answer).toHaveLength(2);
    expect(deliver(answer, link(9), asker).completed).toEqual([listBytes(1200, 2)]);
    // A higher sequence, asked again at once over the same link: not answered (rate); after the interval it is, and another link at once.
    holder.setCurrent(listBytes(1200, 3), v(4, 110_000));
    const t = 100_001 + refreshAfterMs;
    expect(deliver(asker.requests([link(9)]), link(9), holder, t + answerIntervalMs - 1).replies).toEqual([]);
    expect(deliver(asker.requests([link(9)]), link(9), holder, t + answerIntervalMs).replies).toHaveLength(2);
    expect(deliver(asker.requests([link(8)]), link(8), holder, t + answerIntervalMs).replies).toHaveLength(2);
    expect(holder.stats).toMatchObject({ requestsIn: 6, answered: 3, notAnswered: 3 });
    expect(asker.stats.requestsOut).toBe(6);
  });

  it('refuses a negative refreshAfterMs', () => {
    expect(() => new RevocationGossip(-1)).toThrow(/expected refreshAfterMs >= 0, got -1/);
  });

  it('a node without a list asks too and anyone with one answers; malformed requests are counted', () => {
    const empty = new RevocationGossip(refreshAfterMs);
    const holder = new RevocationGossip(refreshAfterMs);
    holder.setCurrent(listBytes(100), v(0, 1));
    expect(deliver(empty.requests([link(2)]), link(2), holder).replies).toHaveLength(1);
    // Nobody answers without a list of its own.
    expect(deliver(empty.requests([link(2)]), link(2), new RevocationGossip(refreshAfterMs)).replies).toEqual([]);
    const request = empty.requests([link(2)])[0]!.bytes;
    for (const bad of [request.subarray(0, 13), Uint8Array.of(...request.subarray(0, 1), 2, ...request.subarray(2))]) expect(holder.receive(0, link(2), bad).sends).toEqual([]);
    expect(holder.stats.malformed).toBe(2);
  });

  it('orders versions by sequence, then issue time; a fresher copy is worth sending only to an old one', () => {
    expect(worthAnswering(v(1, 0), null, 0, refreshAfterMs)).toBe(true);
    expect(worthAnswering(v(2, 0), v(1, 99), 0, refreshAfterMs)).toBe(true);
    expect(worthAnswering(v(1, 99), v(2, 0), 1e9, refreshAfterMs)).toBe(false);
    expect(worthAnswering(v(1, 99), v(1, 99), 1e9, refreshAfterMs)).toBe(false);
    expect(worthAnswering(v(1, 100), v(1, 99), 99 + refreshAfterMs + 1, refreshAfterMs)).toBe(true);
    expect(supersedesVersion(v(1, 0), null)).toBe(true);
    expect(supersedesVersion(v(2, 0), v(1, 99))).toBe(true);
    expect(supersedesVersion(v(1, 100), v(1, 99))).toBe(true);
    expect(supersedesVersion(v(1, 99), v(1, 99))).toBe(false);
    expect(supersedesVersion(v(1, 99), v(2, 0))).toBe(false);
    // A sequence past 32 bits travels as 2^32 - 1 and an issue time past 32 bits survives the trip.
    const asker = new RevocationGossip(refreshAfterMs);
    asker.setCurrent(listBytes(10), v(2 ** 33, 2 ** 40 + 5));
    const holder = new RevocationGossip(refreshAfterMs);
    holder.setCurrent(listBytes(10), v(2 ** 32 - 1, 2 ** 40 + 6));
    expect(deliver(asker.requests([link(1)]), link(1), holder, 2 ** 40 + 6 + refreshAfterMs).replies).toHaveLength(1);
  });
});

describe('DaemonRevocationGossip', () => {
  afterEach(() => vi.useRealTimers());

  function driver(offer: (bytes: Uint8Array) => 'installed' | 'old' | 'refused' = () => 'installed') {
    const sent: GossipSend[] = [];
    const offered: { bytes: Uint8Array; source: string; fromLink: LinkId }[] = [];
    const gossip = new DaemonRevocationGossip({
      runtime: { sessionPeers: () => [{ link: link(1) }, { link: link(2) }], sendLinkMessage: (l, bytes) => (sent.push({ link: l, bytes }), true) },
      offer: (bytes, source, fromLink) => (offered.push({ bytes, source, fromLink }), offer(bytes)),
      maxAgeMs: 60_000,
      askEveryMs: 1000,
      now: () => 0,
    });
    return { gossip, sent, offered };
  }
  const message = (from: LinkId, payload: Uint8Array): LinkMessageEvent => ({ kind: 'linkMessage', link: from, peer: nodeId(0x2a), payload });

  it('sends a new sequence to every neighbour but its source, and a fresher copy to nobody', () => {
    const { gossip, sent } = driver();
    gossip.installed(listBytes(1100), { trustDomain: 't', sequence: 5, issuedAtMs: 10, entries: [] }, true, link(2));
    expect(sent.map((send) => send.link)).toEqual([1, 1]);
    gossip.installed(listBytes(1100), { trustDomain: 't', sequence: 5, issuedAtMs: 20, entries: [] }, false, null);
    expect(sent).toHaveLength(2);
  });

  it('offers a completed list with its source and link, and counts what CaSync made of it', () => {
    const outcomes: ('installed' | 'old' | 'refused')[] = ['installed', 'old', 'refused'];
    const { gossip, offered } = driver(() => outcomes.shift()!);
    const source = new RevocationGossip(refreshAfterMs);
    source.setCurrent(listBytes(900), v(1, 1));
    for (let i = 0; i < 3; i++) for (const send of source.announce([link(2)])) gossip.onLinkMessage(message(link(2), send.bytes));
    expect(offered).toEqual([0, 1, 2].map(() => ({ bytes: listBytes(900), source: 'gossip from node 0000002a', fromLink: 2 })));
    expect(gossip.counters()).toMatchObject({ listsCompleted: 3, offersInstalled: 1, offersOld: 1, offersRefused: 1 });
  });

  it('asks every neighbour on its timer until stopped, and answers a request it can', () => {
    vi.useFakeTimers();
    const { gossip, sent } = driver();
    gossip.start();
    vi.advanceTimersByTime(999);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent.map((send) => [send.link, send.bytes[0]])).toEqual([
      [1, RevocationGossipType.request],
      [2, RevocationGossipType.request],
    ]);
    gossip.stop();
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(2);
    // A request from a neighbour with no list, answered with ours.
    gossip.installed(listBytes(10), { trustDomain: 't', sequence: 1, issuedAtMs: 1, entries: [] }, false, null);
    gossip.onLinkMessage(message(link(1), new RevocationGossip(refreshAfterMs).requests([link(1)])[0]!.bytes));
    expect(sent.at(-1)).toMatchObject({ link: 1 });
    expect(sent.at(-1)!.bytes[0]).toBe(RevocationGossipType.listChunk);
  });
});
