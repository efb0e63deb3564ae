import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { e2eApplicationBytesMax } from '../../../src/channel/end-to-end.js';
import { isRoundError, RoundError } from '../../../src/fl/rounds/errors.js';
import {
  chunkCountOf,
  chunkHeaderBytes,
  decodeTransferFrame,
  encodeAck,
  encodeChunk,
  transferChunkBodyBytes,
  transferChunksMax,
  transferMessageBytesMax,
  type AckFrame,
} from '../../../src/fl/rounds/transfer-frame.js';
import { TransferEndpoint, transferDefaults } from '../../../src/fl/rounds/transfer.js';
import { sha256 } from '../../../src/crypto/hash.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { messageOf, TransferNet, type NetFaults } from './transfer-net.js';

const update = messageOf(184_468, 1); // an update of the 46,103-parameter model
const a = 1 as NodeId;
const b = 2 as NodeId;

function formatMessage(bytes: Uint8Array): string {
  try {
    decodeTransferFrame(bytes);
  } catch (error) {
    expect(isRoundError(error, 'ERR_FL_ROUND_FORMAT')).toBe(true);
    return (error as Error).message;
  }
  return 'decoded';
}

describe('transfer datagrams', () => {
  const message = messageOf(3000, 2);
  const digest = sha256(message);

  it('fit one end-to-end application datagram, and cut a message into the fewest chunks', () => {
    expect(chunkHeaderBytes + transferChunkBodyBytes).toBe(e2eApplicationBytesMax);
    expect(e2eApplicationBytesMax).toBe(1119);
    expect(chunkCountOf(update.length)).toBe(Math.ceil(184_468 / transferChunkBodyBytes));
    const chunks = [0, 1, 2].map((index) => encodeChunk(7, index, message, digest));
    expect(chunks.map((chunk) => chunk.length)).toEqual([e2eApplicationBytesMax, e2eApplicationBytesMax, chunkHeaderBytes + 3000 - 2 * transferChunkBodyBytes]);
    const last = decodeTransferFrame(chunks[2]!);
    expect(last).toMatchObject({ kind: 'chunk', transferId: 7, index: 2, count: 3, messageBytes: 3000 });
    expect(last.kind === 'chunk' && Buffer.from(last.body).equals(Buffer.from(message.subarray(2 * transferChunkBodyBytes)))).toBe(true);
  });

  it('round-trip every kind of ack', () => {
    const received = Uint8Array.of(0b1010_0000);
    const acks: AckFrame[] = [
      { kind: 'ack', status: 'partial', transferId: 0xffff_ffff, count: 3, received },
      { kind: 'ack', status: 'complete', transferId: 1, count: 3 },
      { kind: 'ack', status: 'refused', transferId: 1, count: 3, reason: 2 },
    ];
    for (const ack of acks) expect(decodeTransferFrame(encodeAck(ack))).toEqual(ack);
    expect(encodeAck(acks[0]!).length).toBe(9);
  });

  it('refuse truncated, padded and inconsistent chunks, naming the field', () => {
    const chunk = encodeChunk(7, 0, message, digest);
    const set16 = (at: number, value: number): Uint8Array => {
      const copy = chunk.slice();
      new DataView(copy.buffer).setUint16(at, value);
      return copy;
    };
    const set32 = (at: number, value: number): Uint8Array => {
      const copy = chunk.slice();
      new DataView(copy.buffer).setUint32(at, value);
      return copy;
    };
    expect(formatMessage(chunk.subarray(0, chunk.length - 1))).toContain('body: expected 1074 bytes for chunk 0 of 3, got 1073');
    expect(formatMessage(Uint8Array.of(...chunk, 0))).toContain('body');
    expect(formatMessage(chunk.subarray(0, 20))).toContain('chunk: expected at least 45 bytes');
    expect(formatMessage(set16(5, 3))).toContain('index: expected 0..2, got 3');
    expect(formatMessage(set16(7, 4))).toContain('count: expected 3 for 3000 bytes, got 4');
    expect(formatMessage(set32(9, 0))).toContain('message bytes');
    expect(formatMessage(set32(9, transferMessageBytesMax + 1))).toContain('message bytes');
    expect(formatMessage(new Uint8Array(0))).toContain('kind: expected 17 (chunk) or 18 (ack), got no bytes');
    expect(formatMessage(Uint8Array.of(9))).toContain('got 9');
  });

  it('refuse malformed acks, naming the field', () => {
    const partial = encodeAck({ kind: 'ack', status: 'partial', transferId: 1, count: 3, received: Uint8Array.of(0x80) });
    const tampered = (at: number, value: number, from = partial): Uint8Array => {
      const copy = from.slice();
      copy[at] = value;
      return copy;
    };
    const complete = encodeAck({ kind: 'ack', status: 'complete', transferId: 1, count: 3 });
    expect(formatMessage(partial.subarray(0, 7))).toContain('ack: expected at least 8 bytes');
    expect(formatMessage(tampered(8, 0x90))).toContain('bits set past chunk 2');
    expect(formatMessage(tampered(7, 3))).toContain('ack status: expected 0..2, got 3');
    expect(formatMessage(Uint8Array.of(...partial, 0))).toContain('ack bitmap: expected 1 bytes');
    expect(formatMessage(tampered(6, 0))).toContain('ack count');
    expect(formatMessage(Uint8Array.of(...complete, 0))).toContain('trailing bytes after a complete status');
    expect(formatMessage(Uint8Array.of(...complete.subarray(0, 7), 2, 4))).toContain('ack reason');
    expect(formatMessage(Uint8Array.of(...complete.subarray(0, 7), 2))).toContain('ack reason');
    const full = encodeAck({ kind: 'ack', status: 'partial', transferId: 1, count: transferChunksMax, received: new Uint8Array(transferChunksMax / 8).fill(0xff) });
    expect(full.length).toBeLessThanOrEqual(e2eApplicationBytesMax);
    expect(decodeTransferFrame(full)).toMatchObject({ count: transferChunksMax });
  });

  it('never throw anything but a RoundError on mutated datagrams (fuzz)', () => {
    const chunk = encodeChunk(7, 2, message, digest);
    const ack = encodeAck({ kind: 'ack', status: 'partial', transferId: 1, count: 13, received: Uint8Array.of(0xff, 0xf8) });
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(60), fc.nat(255)), { maxLength: 3 }), fc.nat(80), (isChunk, flips, cut) => {
        const bytes = (isChunk ? chunk : ack).slice(0, cut);
        for (const [at, value] of flips) if (at < bytes.length) bytes[at] = value;
        try {
          const frame = decodeTransferFrame(bytes);
          if (frame.kind === 'ack') expect(encodeAck(frame)).toEqual(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(RoundError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the transfer endpoint', () => {
  it('delivers a 184 KB update over a perfect link with the fewest datagrams', () => {
    const net = new TransferNet([1, 2]);
    const transferId = net.send(1, 2, update);
    net.run();
    const doneMs = net.log.sent[0]!.atMs;
    expect(net.log.delivered).toHaveLength(1);
    expect(Buffer.from(net.log.delivered[0]!.message).equals(Buffer.from(update))).toBe(true);
    expect(net.log.sent).toEqual([{ node: 1, to: 2, transferId, atMs: expect.any(Number) }]);
    const chunks = chunkCountOf(update.length);
    // Every chunk once, a partial ack every 16 chunks, one complete ack.
    expect(net.log.datagrams).toBe(chunks + Math.floor((chunks - 1) / 16) + 1);
    // The window of 32 slides on acks: about chunks / 16 round trips of 10 ms.
    expect(doneMs).toBeLessThan(20 * Math.ceil(chunks / 16));
    expect(net.endpoints.get(a)!.pending).toEqual({ outgoing: 0, incoming: 0 });
  });

  const lossy: NetFaults = { loss: 0.15, duplicate: 0.1, truncate: 0.05, delayMsMin: 2, delayMsMax: 40 };

  it('delivers exactly once, intact, under loss, reordering, duplication and truncation (many seeds)', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const net = new TransferNet([1, 2, 3], lossy, seed);
      const messages = [messageOf(50_000, seed), messageOf(1, seed), messageOf(transferChunkBodyBytes, seed), messageOf(transferChunkBodyBytes + 1, seed)];
      const ids = messages.map((message, index) => net.send(index % 2 === 0 ? 1 : 3, 2, message));
      net.run();
      expect(net.log.failed).toEqual([]);
      expect(net.log.delivered.map((entry) => entry.transferId).sort()).toEqual([...ids].sort());
      for (const entry of net.log.delivered) expect(Buffer.from(entry.message).equals(Buffer.from(messages[ids.indexOf(entry.transferId)]!))).toBe(true);
      // Truncated datagrams are refused by name and nothing else is.
      expect(new Set(net.log.refused.map((entry) => entry.code))).toEqual(new Set(net.log.refused.length > 0 ? ['ERR_FL_ROUND_FORMAT'] : []));
      expect(net.log.sent).toHaveLength(messages.length);
      for (const endpoint of net.endpoints.values()) expect(endpoint.pending).toEqual({ outgoing: 0, incoming: 0 });
    }
  });

  it('delivers under loss for arbitrary sizes and seeds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40_000 }), fc.nat(1000), fc.double({ min: 0, max: 0.3, noNaN: true }), (size, seed, loss) => {
        const net = new TransferNet([1, 2], { ...lossy, loss }, seed);
        const message = messageOf(size, seed);
        net.send(1, 2, message);
        net.run();
        expect(net.log.delivered).toHaveLength(1);
        expect(Buffer.from(net.log.delivered[0]!.message).equals(Buffer.from(message))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a lying sender whose chunks do not hash to their digest, and the sender learns it', () => {
    const net = new TransferNet([1, 2]);
    // The liar sends the chunks of one message under the digest of another.
    net.tamper = (_from, _to, bytes) => {
      if (bytes[0] !== 0x11) return null;
      const copy = bytes.slice();
      copy.set(sha256(Uint8Array.of(1)), 13);
      return copy;
    };
    net.send(1, 2, messageOf(5000));
    net.run();
    expect(net.log.delivered).toEqual([]);
    expect(net.log.refused.map((entry) => entry.code)).toEqual(['ERR_FL_ROUND_TRANSFER_DIGEST']);
    expect(net.log.failed.map((entry) => entry.code)).toEqual(['ERR_FL_ROUND_TRANSFER_REFUSED']);
  });

  it('refuses chunks that disagree with the transfer\'s earlier ones', () => {
    const receiver = new TransferEndpoint();
    const message = messageOf(3000);
    receiver.handle(0, { kind: 'datagram', from: a, bytes: encodeChunk(5, 0, message, sha256(message)) });
    const other = messageOf(3000, 9);
    const step = receiver.handle(1, { kind: 'datagram', from: a, bytes: encodeChunk(5, 1, other, sha256(other)) });
    expect(step.refused.map((entry) => entry.error.message)).toEqual(['chunk 1 of transfer 5 disagrees with its earlier chunks on the count or digest']);
    // The same id from another sender is another transfer.
    expect(receiver.handle(2, { kind: 'datagram', from: b, bytes: encodeChunk(5, 1, other, sha256(other)) }).refused).toEqual([]);
    expect(receiver.pending.incoming).toBe(2);
  });

  it('enforces the per-sender and total limits, and tells the sender', () => {
    const options = { messageBytesMax: 10_000, receiveTransfersPerSenderMax: 2, receiveBytesPerSenderMax: 15_000, receiveBytesMax: 25_000 };
    const receiver = new TransferEndpoint(options);
    const first = (transferId: number, size: number, from = a): { refused: string[]; acks: number[] } => {
      const message = messageOf(size, transferId);
      const step = receiver.handle(0, { kind: 'datagram', from, bytes: encodeChunk(transferId, 0, message, sha256(message)) });
      return { refused: step.refused.map((entry) => `${entry.error.code} ${entry.error.message}`), acks: step.datagrams.map((datagram) => datagram.bytes[7]!) };
    };
    expect(first(1, 10_001).refused[0]).toMatch(/ERR_FL_ROUND_TRANSFER_LIMIT .*above messageBytesMax/);
    expect(first(1, 10_001).acks).toEqual([2]); // a duplicate is answered with the same refusal
    expect(first(2, 8000).refused).toEqual([]);
    expect(first(3, 8000).refused[0]).toContain('above receiveBytesPerSenderMax');
    expect(first(4, 5000).refused).toEqual([]);
    expect(first(5, 100).refused[0]).toContain('already 2 partial transfers from this sender');
    expect(first(6, 9000, b).refused).toEqual([]);
    expect(first(7, 9000, 3 as NodeId).refused[0]).toContain('above receiveBytesMax');
  });

  it('drops a stalled partial transfer after receiveIdleMs, then frees its bytes', () => {
    const net = new TransferNet([1, 2], { loss: 0, duplicate: 0, truncate: 0, delayMsMin: 5, delayMsMax: 5 }, 1, { receiveIdleMs: 1000 });
    // Only the first chunk ever arrives.
    let chunks = 0;
    net.tamper = (_from, _to, bytes) => (bytes[0] === 0x11 && chunks++ > 0 ? new Uint8Array(0) : null);
    net.send(1, 2, messageOf(5000));
    net.run();
    const refused = net.log.refused.filter((entry) => entry.code !== 'ERR_FL_ROUND_FORMAT');
    expect(refused).toEqual([{ node: 2, from: 1, code: 'ERR_FL_ROUND_TRANSFER_TIMEOUT', atMs: 1005 }]);
    expect(net.log.failed.map((entry) => entry.code)).toEqual(['ERR_FL_ROUND_TRANSFER_REFUSED']);
    expect(net.endpoints.get(b)!.pending.incoming).toBe(0);
  });

  it('gives up at the send deadline when nothing gets through, retransmitting on the timer meanwhile', () => {
    const net = new TransferNet([1, 2], { loss: 1, duplicate: 0, truncate: 0, delayMsMin: 5, delayMsMax: 5 }, 1, { sendDeadlineMs: 2000, retransmitMs: 500, windowChunks: 4 });
    net.send(1, 2, messageOf(20_000));
    const endMs = net.run();
    expect(net.log.failed).toEqual([{ node: 1, to: 2, code: 'ERR_FL_ROUND_TRANSFER_TIMEOUT', atMs: 2000 }]);
    expect(endMs).toBe(2000);
    // The window bounds the rate: 4 chunks at 0, 500, 1000 and 1500 ms.
    expect(net.log.datagrams).toBe(16);
  });

  it('answers a late duplicate of a finished transfer without delivering it again, and forgets it later', () => {
    const sender = new TransferEndpoint();
    const receiver = new TransferEndpoint({ finishedMemoryMs: 1000 });
    const message = messageOf(100);
    const chunk = sender.handle(0, { kind: 'send', node: b, message }).datagrams[0]!.bytes;
    const first = receiver.handle(1, { kind: 'datagram', from: a, bytes: chunk });
    expect(first.delivered).toHaveLength(1);
    expect(first.nextDeadlineMs).toBe(1001);
    const again = receiver.handle(2, { kind: 'datagram', from: a, bytes: chunk });
    expect(again.delivered).toEqual([]);
    expect(again.datagrams.map((datagram) => decodeTransferFrame(datagram.bytes))).toEqual([{ kind: 'ack', status: 'complete', transferId: 1, count: 1 }]);
    expect(receiver.handle(1001, { kind: 'tick' }).nextDeadlineMs).toBe(Infinity);
    expect(receiver.handle(1002, { kind: 'datagram', from: a, bytes: chunk }).delivered).toHaveLength(1);
    // The sender ignores acks for transfers it does not have, from other nodes, or of another size.
    expect(sender.handle(3, { kind: 'datagram', from: a, bytes: again.datagrams[0]!.bytes }).sent).toEqual([]);
    expect(sender.handle(3, { kind: 'datagram', from: b, bytes: encodeAck({ kind: 'ack', status: 'complete', transferId: 1, count: 2 }) }).sent).toEqual([]);
    expect(sender.handle(3, { kind: 'datagram', from: b, bytes: encodeAck({ kind: 'ack', status: 'complete', transferId: 99, count: 1 }) }).sent).toEqual([]);
    expect(sender.handle(4, { kind: 'datagram', from: b, bytes: again.datagrams[0]!.bytes }).sent).toEqual([{ node: b, transferId: 1 }]);
  });

  it('keeps at most finishedPerSenderMax memories per sender, oldest first out', () => {
    const receiver = new TransferEndpoint({ finishedPerSenderMax: 2 });
    const chunks = [1, 2, 3].map((transferId) => {
      const message = messageOf(10, transferId);
      return encodeChunk(transferId, 0, message, sha256(message));
    });
    for (const chunk of chunks) receiver.handle(0, { kind: 'datagram', from: a, bytes: chunk });
    expect(receiver.handle(1, { kind: 'datagram', from: a, bytes: chunks[0]! }).delivered).toHaveLength(1);
    expect(receiver.handle(1, { kind: 'datagram', from: a, bytes: chunks[2]! }).delivered).toHaveLength(0);
  });

  it('acknowledges a duplicate chunk of a partial transfer after ackDelayMs', () => {
    const receiver = new TransferEndpoint();
    const message = messageOf(3000);
    const chunk = encodeChunk(1, 0, message, sha256(message));
    expect(receiver.handle(0, { kind: 'datagram', from: a, bytes: chunk }).nextDeadlineMs).toBe(20);
    const ack = receiver.handle(20, { kind: 'tick' });
    expect(ack.datagrams.map((datagram) => decodeTransferFrame(datagram.bytes))).toEqual([{ kind: 'ack', status: 'partial', transferId: 1, count: 3, received: Uint8Array.of(0x80) }]);
    expect(ack.nextDeadlineMs).toBe(transferDefaults.receiveIdleMs);
    expect(receiver.handle(30, { kind: 'datagram', from: a, bytes: chunk }).nextDeadlineMs).toBe(50);
  });

  it('resumes a transfer whose chunks expired while another transfer\'s input came first', () => {
    const sender = new TransferEndpoint({ windowChunks: 2, retransmitMs: 100 });
    sender.handle(0, { kind: 'send', node: b, message: messageOf(5000) });
    // At 100 ms both chunks are overdue; a datagram handled first must ask for a tick now.
    expect(sender.handle(100, { kind: 'datagram', from: b, bytes: Uint8Array.of(1) }).nextDeadlineMs).toBe(100);
    const tick = sender.handle(100, { kind: 'tick' });
    expect(tick.datagrams).toHaveLength(2);
    expect(tick.nextDeadlineMs).toBe(200);
  });

  it('resends a chunk overtaken by a later one at once, without waiting for the timer', () => {
    const sender = new TransferEndpoint({ windowChunks: 4 });
    const receiver = new TransferEndpoint({ ackEveryChunks: 3 });
    const first = sender.handle(0, { kind: 'send', node: b, message: messageOf(5000) });
    const indexOf = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint16(5);
    expect(first.datagrams.map((datagram) => indexOf(datagram.bytes))).toEqual([0, 1, 2, 3]);
    // Chunk 1 is lost; 0, 2 and 3 arrive and make an ack.
    let ack: Uint8Array | undefined;
    for (const at of [0, 2, 3]) ack = receiver.handle(5, { kind: 'datagram', from: a, bytes: first.datagrams[at]!.bytes }).datagrams[0]?.bytes ?? ack;
    const resent = sender.handle(10, { kind: 'datagram', from: b, bytes: ack! });
    expect(resent.datagrams.map((datagram) => indexOf(datagram.bytes))).toEqual([1, 4]);
    // An ack that says nothing newer leaves the resent chunk to its timer.
    expect(sender.handle(11, { kind: 'datagram', from: b, bytes: ack! }).datagrams).toEqual([]);
  });

  it('delivers a new message under a transfer id a restarted sender reuses', () => {
    const receiver = new TransferEndpoint();
    for (const seed of [1, 2]) {
      const restarted = new TransferEndpoint();
      const message = messageOf(100, seed);
      const chunk = restarted.handle(0, { kind: 'send', node: b, message }).datagrams[0]!.bytes;
      const step = receiver.handle(1, { kind: 'datagram', from: a, bytes: chunk });
      expect(step.delivered.map((entry) => [entry.transferId, Buffer.from(entry.message).equals(Buffer.from(message))])).toEqual([[1, true]]);
    }
  });

  it('is deterministic: the same seed gives the same datagrams and times', () => {
    const run = (): string => {
      const net = new TransferNet([1, 2], lossy, 5);
      net.send(1, 2, messageOf(30_000));
      net.send(2, 1, messageOf(20_000));
      net.run();
      return JSON.stringify([net.log.datagrams, net.log.bytes, net.log.sent, net.log.delivered.map((entry) => entry.atMs)]);
    };
    expect(run()).toBe(run());
  });

  it('numbers transfers from firstTransferId, wrapping past 2^32 - 1 to 1', () => {
    const sender = new TransferEndpoint({ firstTransferId: 0xffff_ffff });
    expect(sender.handle(0, { kind: 'send', node: b, message: Uint8Array.of(1) }).transferId).toBe(0xffff_ffff);
    expect(sender.handle(0, { kind: 'send', node: b, message: Uint8Array.of(1) }).transferId).toBe(1);
  });

  it('refuses bad sends and options as programming errors', () => {
    expect(() => new TransferEndpoint().handle(0, { kind: 'send', node: b, message: new Uint8Array(0) })).toThrow(/expected 1\.\.1048576 bytes, got 0/);
    const full = new TransferEndpoint({ sendTransfersMax: 1 });
    full.handle(0, { kind: 'send', node: b, message: Uint8Array.of(1) });
    expect(() => full.handle(0, { kind: 'send', node: b, message: Uint8Array.of(1) })).toThrow(/already 1 transfers/);
    expect(() => new TransferEndpoint({ windowChunks: 0 })).toThrow(/windowChunks an integer >= 1/);
    expect(() => new TransferEndpoint({ messageBytesMax: transferMessageBytesMax + 1, receiveBytesPerSenderMax: 1e9, receiveBytesMax: 1e9 })).toThrow(/messageBytesMax/);
    expect(() => new TransferEndpoint({ receiveBytesPerSenderMax: 1000 })).toThrow(/receiveBytesPerSenderMax/);
    expect(() => new TransferEndpoint({ receiveBytesMax: 1 << 20 })).toThrow(/receiveBytesMax/);
    expect(() => new TransferEndpoint({ retransmitMs: 20 })).toThrow(/retransmitMs/);
    expect(() => new TransferEndpoint({ firstTransferId: 2 ** 32 })).toThrow(/firstTransferId/);
  });
});
