/**
 * Reliable delivery of large messages (round messages: an update is ~184 KB) over the mesh's
 * unreliable end-to-end datagrams, as a sans-IO state machine. One endpoint per node sends and
 * receives. The driver calls `handle(nowMs, input)` with a message to send, a datagram received
 * from an authenticated node, or a timer tick, and gets back datagrams to send, completed
 * messages, finished and failed sends, refused transfers and the next deadline.
 *
 * Sending: the message is cut into chunks (transfer-frame.ts) tagged with a transfer id, index,
 * count and the SHA-256 of the whole message. At most `windowChunks` chunks are in flight per
 * transfer; a chunk not acknowledged `retransmitMs` after it was sent is sent again. The
 * transfer ends when the receiver reports it complete, refuses it, or at `sendDeadlineMs`.
 *
 * Receiving: chunks are placed in a buffer of the announced length, allocated only within the
 * per-sender limits (concurrent transfers, bytes) and the endpoint's total. The receiver
 * acknowledges with a bitmap after `ackEveryChunks` new chunks or `ackDelayMs` after the first
 * unacknowledged one, and at once when the message is whole; a whole message whose SHA-256 is
 * not the announced digest is refused (a lying or broken sender). A transfer that makes no
 * progress for `receiveIdleMs` is dropped. Finished transfers are remembered for a while so that
 * late duplicates are answered, not delivered twice.
 */
import { sha256 } from '../../crypto/hash.js';
import type { NodeId } from '../../wire/ids.js';
import { RoundError, RoundErrorCode, type RoundErrorCodeValue } from './errors.js';
import {
  bitmapBytesOf,
  chunkCountOf,
  decodeTransferFrame,
  encodeAck,
  encodeChunk,
  hasBit,
  RefusalReason,
  setBit,
  transferChunkBodyBytes,
  transferMessageBytesMax,
  type AckFrame,
  type ChunkFrame,
  type RefusalReasonValue,
} from './transfer-frame.js';

/** How an endpoint paces, waits and limits; every field has a default (transferDefaults). */
export interface TransferOptions {
  /** Chunks of one transfer sent and not yet acknowledged, at most: the rate is about windowChunks per round trip. */
  readonly windowChunks: number;
  /** A chunk not acknowledged this long after it was sent is sent again (above a round trip plus ackDelayMs). */
  readonly retransmitMs: number;
  /** A sender gives up a transfer this long after it began. */
  readonly sendDeadlineMs: number;
  /** Outgoing transfers in progress at once, at most. */
  readonly sendTransfersMax: number;
  /** The receiver acknowledges after this many new chunks ... */
  readonly ackEveryChunks: number;
  /** ... or this long after the first chunk it has not acknowledged. */
  readonly ackDelayMs: number;
  /** A partial transfer with no new chunk for this long is dropped. */
  readonly receiveIdleMs: number;
  /** Largest message accepted. */
  readonly messageBytesMax: number;
  /** Partial transfers from one sender at once, at most. */
  readonly receiveTransfersPerSenderMax: number;
  /** Bytes of partial transfers from one sender, at most. */
  readonly receiveBytesPerSenderMax: number;
  /** Bytes of partial transfers from all senders, at most. */
  readonly receiveBytesMax: number;
  /** How long a finished transfer is remembered (to answer duplicates), and how many per sender. */
  readonly finishedMemoryMs: number;
  readonly finishedPerSenderMax: number;
  /** Id of the first transfer this endpoint sends (ids then count up, skipping 0). */
  readonly firstTransferId: number;
}

/** Defaults for a mesh of a few hops: round trips of tens of milliseconds, messages up to 1 MiB. */
export const transferDefaults: TransferOptions = {
  windowChunks: 32,
  retransmitMs: 400,
  sendDeadlineMs: 120_000,
  sendTransfersMax: 1024,
  ackEveryChunks: 16,
  ackDelayMs: 20,
  receiveIdleMs: 10_000,
  messageBytesMax: 1 << 20,
  receiveTransfersPerSenderMax: 4,
  receiveBytesPerSenderMax: 2 << 20,
  receiveBytesMax: 64 << 20,
  finishedMemoryMs: 240_000,
  finishedPerSenderMax: 64,
  firstTransferId: 1,
};

/** What drives an endpoint. */
export type TransferInput =
  | { readonly kind: 'send'; readonly node: NodeId; readonly message: Uint8Array }
  | { readonly kind: 'datagram'; readonly from: NodeId; readonly bytes: Uint8Array }
  | { readonly kind: 'tick' };

/** What one call of `handle` produced. */
export interface TransferStep {
  /** The id a 'send' input got, else null. */
  readonly transferId: number | null;
  readonly datagrams: { readonly node: NodeId; readonly bytes: Uint8Array }[];
  /** Whole messages received, digest checked. */
  readonly delivered: { readonly from: NodeId; readonly transferId: number; readonly message: Uint8Array }[];
  /** Sends the receiver reported complete. */
  readonly sent: { readonly node: NodeId; readonly transferId: number }[];
  /** Sends given up: deadline passed, or the receiver refused them. */
  readonly failed: { readonly node: NodeId; readonly transferId: number; readonly error: RoundError }[];
  /** Datagrams or transfers this endpoint refused as a receiver. */
  readonly refused: { readonly from: NodeId; readonly error: RoundError }[];
  /** When to tick next (Infinity when nothing waits). */
  readonly nextDeadlineMs: number;
}

interface Outgoing {
  readonly node: NodeId;
  readonly transferId: number;
  readonly message: Uint8Array;
  readonly digest: Uint8Array;
  readonly count: number;
  readonly acked: Uint8Array;
  /** When each chunk was last sent (-Infinity: never). */
  readonly sentAtMs: Float64Array;
  /** The order of each chunk's last sending (0: never), to tell which were overtaken (see onAck). */
  readonly sentOrder: Float64Array;
  sends: number;
  readonly deadlineMs: number;
}

interface Incoming {
  readonly from: NodeId;
  readonly transferId: number;
  readonly count: number;
  readonly digest: Uint8Array;
  readonly buffer: Uint8Array;
  readonly received: Uint8Array;
  receivedCount: number;
  lastProgressMs: number;
  newSinceAck: number;
  ackDueMs: number;
}

interface Finished {
  readonly digest: Uint8Array;
  readonly count: number;
  readonly ack: AckFrame;
  readonly untilMs: number;
}

const refusalCodes: Record<RefusalReasonValue, RoundErrorCodeValue> = {
  [RefusalReason.digest]: RoundErrorCode.ERR_FL_ROUND_TRANSFER_DIGEST,
  [RefusalReason.limit]: RoundErrorCode.ERR_FL_ROUND_TRANSFER_LIMIT,
  [RefusalReason.timeout]: RoundErrorCode.ERR_FL_ROUND_TRANSFER_TIMEOUT,
};

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/** Relationships between the options, checked once (a wrong one is a programming error). */
function checkOptions(options: TransferOptions): void {
  const positive = (name: keyof TransferOptions): void => {
    const value = options[name];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`TransferEndpoint: expected ${name} an integer >= 1, got ${value}`);
  };
  for (const name of Object.keys(transferDefaults) as (keyof TransferOptions)[]) positive(name);
  const rule = (holds: boolean, message: string): void => {
    if (!holds) throw new RangeError(`TransferEndpoint: ${message}`);
  };
  rule(options.messageBytesMax <= transferMessageBytesMax, `messageBytesMax ${options.messageBytesMax} above what the chunk format carries (${transferMessageBytesMax})`);
  rule(options.receiveBytesPerSenderMax >= options.messageBytesMax, 'receiveBytesPerSenderMax must hold one message of messageBytesMax');
  rule(options.receiveBytesMax >= options.receiveBytesPerSenderMax, 'receiveBytesMax must hold one sender\'s bytes');
  rule(options.retransmitMs > options.ackDelayMs, 'retransmitMs must exceed ackDelayMs, or every chunk is sent twice');
  rule(options.firstTransferId <= 0xffff_ffff, `firstTransferId must fit 32 bits, got ${options.firstTransferId}`);
}

/**
 * Marks as due at once the unacknowledged chunks that were sent before a chunk `received` holds
 * (RACK's rule, by sending order rather than time): on the single path the mesh routes a
 * transfer along, a chunk overtaken by a later one was lost, so it need not wait for
 * retransmitMs. A chunk sent again after the ack's newest one is left alone.
 */
function markOvertaken(outgoing: Outgoing, received: Uint8Array): void {
  let newest = 0;
  for (let index = 0; index < outgoing.count; index++) if (hasBit(received, index)) newest = Math.max(newest, outgoing.sentOrder[index]!);
  for (let index = 0; index < outgoing.count; index++) {
    const order = outgoing.sentOrder[index]!;
    if (order !== 0 && order < newest && !hasBit(received, index) && !hasBit(outgoing.acked, index)) outgoing.sentAtMs[index] = -Infinity;
  }
}

/** One node's side of the bulk transfer; see the module comment. */
export class TransferEndpoint {
  private readonly options: TransferOptions;
  private readonly outgoing = new Map<number, Outgoing>();
  private readonly incoming = new Map<string, Incoming>();
  private readonly finished = new Map<NodeId, Map<number, Finished>>();
  private nextTransferId: number;
  private receiveBytes = 0;
  private step!: { -readonly [K in keyof TransferStep]: TransferStep[K] };

  /** An endpoint with `options` over the defaults; a RangeError for options that cannot work together. */
  constructor(options: Partial<TransferOptions> = {}) {
    this.options = { ...transferDefaults, ...options };
    checkOptions(this.options);
    this.nextTransferId = this.options.firstTransferId;
  }

  /** Transfers in progress: outgoing, and partial incoming. */
  get pending(): { readonly outgoing: number; readonly incoming: number } {
    return { outgoing: this.outgoing.size, incoming: this.incoming.size };
  }

  /** Advances the endpoint by one input at time `nowMs`. */
  handle(nowMs: number, input: TransferInput): TransferStep {
    this.step = { transferId: null, datagrams: [], delivered: [], sent: [], failed: [], refused: [], nextDeadlineMs: Infinity };
    if (input.kind === 'send') this.step.transferId = this.start(nowMs, input.node, input.message);
    else if (input.kind === 'datagram') this.receive(nowMs, input.from, input.bytes);
    else this.tick(nowMs);
    this.step.nextDeadlineMs = this.nextDeadline(nowMs);
    return this.step;
  }

  private start(nowMs: number, node: NodeId, message: Uint8Array): number {
    const { messageBytesMax, sendTransfersMax, sendDeadlineMs } = this.options;
    if (message.length < 1 || message.length > messageBytesMax) throw new RangeError(`TransferEndpoint.send: expected 1..${messageBytesMax} bytes, got ${message.length}`);
    if (this.outgoing.size >= sendTransfersMax) throw new RangeError(`TransferEndpoint.send: already ${sendTransfersMax} transfers in progress`);
    const transferId = this.nextTransferId;
    this.nextTransferId = transferId === 0xffff_ffff ? 1 : transferId + 1;
    const count = chunkCountOf(message.length);
    const outgoing: Outgoing = {
      node,
      transferId,
      message: message.slice(),
      digest: sha256(message),
      count,
      acked: new Uint8Array(bitmapBytesOf(count)),
      sentAtMs: new Float64Array(count).fill(-Infinity),
      sentOrder: new Float64Array(count),
      sends: 0,
      deadlineMs: nowMs + sendDeadlineMs,
    };
    this.outgoing.set(transferId, outgoing);
    this.pump(nowMs, outgoing);
    return transferId;
  }

  /** Sends the chunks that are due (never sent, or unacknowledged for retransmitMs) while the window has room. */
  private pump(nowMs: number, outgoing: Outgoing): void {
    const { windowChunks, retransmitMs } = this.options;
    let inFlight = 0;
    const due: number[] = [];
    for (let index = 0; index < outgoing.count; index++) {
      if (hasBit(outgoing.acked, index)) continue;
      if (nowMs < outgoing.sentAtMs[index]! + retransmitMs) inFlight++;
      else due.push(index);
    }
    for (const index of due.slice(0, Math.max(0, windowChunks - inFlight))) {
      outgoing.sentAtMs[index] = nowMs;
      outgoing.sentOrder[index] = ++outgoing.sends;
      this.step.datagrams.push({ node: outgoing.node, bytes: encodeChunk(outgoing.transferId, index, outgoing.message, outgoing.digest) });
    }
  }

  private receive(nowMs: number, from: NodeId, bytes: Uint8Array): void {
    let frame;
    try {
      frame = decodeTransferFrame(bytes);
    } catch (error) {
      this.step.refused.push({ from, error: error as RoundError });
      return;
    }
    if (frame.kind === 'chunk') this.onChunk(nowMs, from, frame);
    else this.onAck(nowMs, from, frame);
  }

  private onAck(nowMs: number, from: NodeId, ack: AckFrame): void {
    const outgoing = this.outgoing.get(ack.transferId);
    // An ack from another node, or for another message under a reused id, says nothing about ours.
    if (outgoing === undefined || outgoing.node !== from || outgoing.count !== ack.count) return;
    if (ack.status === 'partial') {
      markOvertaken(outgoing, ack.received);
      for (let byte = 0; byte < ack.received.length; byte++) outgoing.acked[byte]! |= ack.received[byte]!;
      this.pump(nowMs, outgoing);
      return;
    }
    this.outgoing.delete(ack.transferId);
    if (ack.status === 'complete') this.step.sent.push({ node: from, transferId: ack.transferId });
    else this.fail(outgoing, RoundErrorCode.ERR_FL_ROUND_TRANSFER_REFUSED, `refused by the receiver (${refusalCodes[ack.reason]})`);
  }

  private fail(outgoing: Outgoing, code: RoundErrorCodeValue, why: string): void {
    const error = new RoundError(code, `transfer ${outgoing.transferId} to node ${outgoing.node} (${outgoing.message.length} bytes): ${why}`);
    this.step.failed.push({ node: outgoing.node, transferId: outgoing.transferId, error });
  }

  private onChunk(nowMs: number, from: NodeId, chunk: ChunkFrame): void {
    const key = `${from}/${chunk.transferId}`;
    const finished = this.finished.get(from)?.get(chunk.transferId);
    if (finished !== undefined && finished.count === chunk.count && sameBytes(finished.digest, chunk.digest)) {
      // A late duplicate: the sender has not heard how its transfer ended. Tell it again.
      this.step.datagrams.push({ node: from, bytes: encodeAck(finished.ack) });
      return;
    }
    let incoming = this.incoming.get(key);
    if (incoming !== undefined && (incoming.count !== chunk.count || !sameBytes(incoming.digest, chunk.digest))) {
      this.refuseDatagram(from, `chunk ${chunk.index} of transfer ${chunk.transferId} disagrees with its earlier chunks on the count or digest`);
      return;
    }
    incoming ??= this.open(nowMs, from, key, chunk) ?? undefined;
    if (incoming === undefined) return;
    if (hasBit(incoming.received, chunk.index)) {
      // A duplicate: the sender may have missed our last ack.
      incoming.ackDueMs = Math.min(incoming.ackDueMs, nowMs + this.options.ackDelayMs);
      return;
    }
    incoming.buffer.set(chunk.body, chunk.index * transferChunkBodyBytes);
    setBit(incoming.received, chunk.index);
    incoming.receivedCount++;
    incoming.newSinceAck++;
    incoming.lastProgressMs = nowMs;
    if (incoming.receivedCount === incoming.count) this.complete(nowMs, key, incoming);
    else if (incoming.newSinceAck >= this.options.ackEveryChunks) this.sendPartialAck(incoming);
    else incoming.ackDueMs = Math.min(incoming.ackDueMs, nowMs + this.options.ackDelayMs);
  }

  private refuseDatagram(from: NodeId, message: string): void {
    this.step.refused.push({ from, error: new RoundError(RoundErrorCode.ERR_FL_ROUND_FORMAT, message) });
  }

  /** A new partial transfer from `from`, or null (and a refusal) when it would pass a limit. */
  private open(nowMs: number, from: NodeId, key: string, chunk: ChunkFrame): Incoming | null {
    const { messageBytesMax, receiveTransfersPerSenderMax, receiveBytesPerSenderMax, receiveBytesMax } = this.options;
    const ofSender = [...this.incoming.values()].filter((incoming) => incoming.from === from);
    const senderBytes = ofSender.reduce((sum, incoming) => sum + incoming.buffer.length, 0);
    let why: string | null = null;
    if (chunk.messageBytes > messageBytesMax) why = `a message of ${chunk.messageBytes} bytes, above messageBytesMax ${messageBytesMax}`;
    else if (ofSender.length >= receiveTransfersPerSenderMax) why = `already ${ofSender.length} partial transfers from this sender (receiveTransfersPerSenderMax)`;
    else if (senderBytes + chunk.messageBytes > receiveBytesPerSenderMax) why = `${senderBytes} + ${chunk.messageBytes} bytes from this sender, above receiveBytesPerSenderMax ${receiveBytesPerSenderMax}`;
    else if (this.receiveBytes + chunk.messageBytes > receiveBytesMax) why = `${this.receiveBytes} + ${chunk.messageBytes} bytes in all, above receiveBytesMax ${receiveBytesMax}`;
    if (why !== null) {
      this.endIncoming(nowMs, from, chunk.transferId, chunk.count, chunk.digest, RefusalReason.limit, why);
      return null;
    }
    const incoming: Incoming = {
      from,
      transferId: chunk.transferId,
      count: chunk.count,
      digest: chunk.digest.slice(),
      buffer: new Uint8Array(chunk.messageBytes),
      received: new Uint8Array(bitmapBytesOf(chunk.count)),
      receivedCount: 0,
      lastProgressMs: nowMs,
      newSinceAck: 0,
      ackDueMs: Infinity,
    };
    this.incoming.set(key, incoming);
    this.receiveBytes += chunk.messageBytes;
    return incoming;
  }

  private sendPartialAck(incoming: Incoming): void {
    incoming.newSinceAck = 0;
    incoming.ackDueMs = Infinity;
    const ack: AckFrame = { kind: 'ack', status: 'partial', transferId: incoming.transferId, count: incoming.count, received: incoming.received.slice() };
    this.step.datagrams.push({ node: incoming.from, bytes: encodeAck(ack) });
  }

  private close(key: string, incoming: Incoming): void {
    this.incoming.delete(key);
    this.receiveBytes -= incoming.buffer.length;
  }

  private complete(nowMs: number, key: string, incoming: Incoming): void {
    this.close(key, incoming);
    const { from, transferId, count, digest, buffer } = incoming;
    if (!sameBytes(sha256(buffer), digest)) {
      this.endIncoming(nowMs, from, transferId, count, digest, RefusalReason.digest, `the ${buffer.length} bytes received do not hash to the digest the chunks announced`);
      return;
    }
    const ack: AckFrame = { kind: 'ack', status: 'complete', transferId, count };
    this.remember(from, transferId, { digest, count, ack, untilMs: nowMs + this.options.finishedMemoryMs });
    this.step.datagrams.push({ node: from, bytes: encodeAck(ack) });
    this.step.delivered.push({ from, transferId, message: buffer });
  }

  /** Refuses transfer `transferId` from `from` for `reason`: a refusal for the driver, a refused ack for the sender, and a memory of it. */
  private endIncoming(nowMs: number, from: NodeId, transferId: number, count: number, digest: Uint8Array, reason: RefusalReasonValue, why: string): void {
    const ack: AckFrame = { kind: 'ack', status: 'refused', transferId, count, reason };
    this.remember(from, transferId, { digest: digest.slice(), count, ack, untilMs: nowMs + this.options.finishedMemoryMs });
    this.step.datagrams.push({ node: from, bytes: encodeAck(ack) });
    this.step.refused.push({ from, error: new RoundError(refusalCodes[reason], `transfer ${transferId} from node ${from}: ${why}`) });
  }

  private remember(from: NodeId, transferId: number, finished: Finished): void {
    let ofSender = this.finished.get(from);
    if (ofSender === undefined) {
      ofSender = new Map();
      this.finished.set(from, ofSender);
    }
    ofSender.delete(transferId);
    ofSender.set(transferId, finished);
    // The oldest memory goes first: a sender that floods refusals forgets only its own transfers.
    if (ofSender.size > this.options.finishedPerSenderMax) ofSender.delete(ofSender.keys().next().value!);
  }

  private tick(nowMs: number): void {
    for (const [key, incoming] of this.incoming) {
      if (nowMs >= incoming.lastProgressMs + this.options.receiveIdleMs) {
        this.close(key, incoming);
        this.endIncoming(nowMs, incoming.from, incoming.transferId, incoming.count, incoming.digest, RefusalReason.timeout, `no new chunk for ${this.options.receiveIdleMs} ms (${incoming.receivedCount} of ${incoming.count} received)`);
      } else if (nowMs >= incoming.ackDueMs) {
        this.sendPartialAck(incoming);
      }
    }
    for (const [transferId, outgoing] of this.outgoing) {
      if (nowMs < outgoing.deadlineMs) {
        this.pump(nowMs, outgoing);
        continue;
      }
      this.outgoing.delete(transferId);
      this.fail(outgoing, RoundErrorCode.ERR_FL_ROUND_TRANSFER_TIMEOUT, `not acknowledged complete within sendDeadlineMs ${this.options.sendDeadlineMs}`);
    }
    for (const [from, ofSender] of this.finished) {
      for (const [transferId, finished] of ofSender) if (nowMs >= finished.untilMs) ofSender.delete(transferId);
      if (ofSender.size === 0) this.finished.delete(from);
    }
  }

  /**
   * When `outgoing` next needs a pump: now when a chunk is due and the window has room (an input
   * for another transfer came first), else when the first chunk in flight expires. After a pump
   * no chunk is due with room left, so this never asks for a tick now twice in a row.
   */
  private pumpDeadline(nowMs: number, outgoing: Outgoing): number {
    const { retransmitMs, windowChunks } = this.options;
    let inFlight = 0;
    let due = false;
    let deadline = Infinity;
    for (let index = 0; index < outgoing.count; index++) {
      if (hasBit(outgoing.acked, index)) continue;
      const expiresMs = outgoing.sentAtMs[index]! + retransmitMs;
      if (expiresMs > nowMs) {
        inFlight++;
        deadline = Math.min(deadline, expiresMs);
      } else {
        due = true;
      }
    }
    return due && inFlight < windowChunks ? nowMs : deadline;
  }

  /** The earliest of: a receive timeout or due ack, a retransmission or send deadline, a memory to forget. */
  private nextDeadline(nowMs: number): number {
    const { receiveIdleMs } = this.options;
    let deadline = Infinity;
    for (const incoming of this.incoming.values()) deadline = Math.min(deadline, incoming.ackDueMs, incoming.lastProgressMs + receiveIdleMs);
    for (const outgoing of this.outgoing.values()) deadline = Math.min(deadline, outgoing.deadlineMs, this.pumpDeadline(nowMs, outgoing));
    for (const ofSender of this.finished.values()) for (const finished of ofSender.values()) deadline = Math.min(deadline, finished.untilMs);
    return deadline;
  }
}
