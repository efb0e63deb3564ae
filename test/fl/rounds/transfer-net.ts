/**
 * A test network of TransferEndpoints on a virtual clock: every datagram meets a seeded fate
 * (lost, delayed by a random amount so that datagrams overtake each other, delivered twice,
 * truncated), timers fire at the deadlines the endpoints ask for, and the run goes until idle.
 */
import { TransferEndpoint, type TransferInput, type TransferOptions, type TransferStep } from '../../../src/fl/rounds/transfer.js';
import { EventQueue } from '../../../src/twin/event-queue.js';
import { Prng } from '../../../src/twin/prng.js';
import type { NodeId } from '../../../src/wire/ids.js';

/** What happens to datagrams on the way, as probabilities, and their one-way delay range. */
export interface NetFaults {
  readonly loss: number;
  readonly duplicate: number;
  readonly truncate: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
}

export const perfect: NetFaults = { loss: 0, duplicate: 0, truncate: 0, delayMsMin: 5, delayMsMax: 5 };

interface Item {
  readonly node: NodeId;
  readonly input: TransferInput;
}

/** Everything the endpoints reported, by the node that reported it. */
export interface NetLog {
  readonly delivered: { node: NodeId; from: NodeId; transferId: number; message: Uint8Array; atMs: number }[];
  readonly sent: { node: NodeId; to: NodeId; transferId: number; atMs: number }[];
  readonly failed: { node: NodeId; to: NodeId; code: string; atMs: number }[];
  readonly refused: { node: NodeId; from: NodeId; code: string; atMs: number }[];
  datagrams: number;
  bytes: number;
}

export class TransferNet {
  readonly endpoints = new Map<NodeId, TransferEndpoint>();
  readonly log: NetLog = { delivered: [], sent: [], failed: [], refused: [], datagrams: 0, bytes: 0 };
  nowMs = 0;
  private readonly queue = new EventQueue();
  private readonly items: Item[] = [];
  private readonly timers = new Map<NodeId, number>();
  private readonly prng: Prng;
  /** Rewrites a datagram on its way (a lying sender, a tamperer), or null to keep it. */
  tamper: ((from: NodeId, to: NodeId, bytes: Uint8Array) => Uint8Array | null) | null = null;

  constructor(
    ids: readonly number[],
    private readonly faults: NetFaults = perfect,
    seed = 1,
    options: Partial<TransferOptions> = {},
  ) {
    for (const id of ids) this.endpoints.set(id as NodeId, new TransferEndpoint({ ...options, firstTransferId: 1000 * id }));
    this.prng = Prng.fromSeed(seed, 'transfer net');
  }

  /** Hands `input` to `node` now and carries out what it asks for. */
  inject(node: NodeId, input: TransferInput): TransferStep {
    const step = this.endpoints.get(node)!.handle(this.nowMs, input);
    this.apply(node, step);
    return step;
  }

  /** Sends `message` from `from` to `to` now; the transfer id. */
  send(from: number, to: number, message: Uint8Array): number {
    return this.inject(from as NodeId, { kind: 'send', node: to as NodeId, message }).transferId!;
  }

  private apply(node: NodeId, step: TransferStep): void {
    const atMs = this.nowMs;
    for (const { from, transferId, message } of step.delivered) this.log.delivered.push({ node, from, transferId, message, atMs });
    for (const { node: to, transferId } of step.sent) this.log.sent.push({ node, to, transferId, atMs });
    for (const { node: to, error } of step.failed) this.log.failed.push({ node, to, code: error.code, atMs });
    for (const { from, error } of step.refused) this.log.refused.push({ node, from, code: error.code, atMs });
    for (const { node: to, bytes } of step.datagrams) this.carry(node, to, bytes);
    if (step.nextDeadlineMs < Infinity && step.nextDeadlineMs !== this.timers.get(node)) {
      const at = Math.max(this.nowMs, step.nextDeadlineMs);
      this.timers.set(node, at);
      this.enqueue(at, { node, input: { kind: 'tick' } });
    }
  }

  private carry(from: NodeId, to: NodeId, original: Uint8Array): void {
    this.log.datagrams++;
    this.log.bytes += original.length;
    const { loss, duplicate, truncate, delayMsMin, delayMsMax } = this.faults;
    if (this.prng.chance(loss)) return;
    let bytes = this.tamper?.(from, to, original) ?? original;
    if (this.prng.chance(truncate)) bytes = bytes.subarray(0, this.prng.int(0, bytes.length - 1));
    const copies = this.prng.chance(duplicate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) this.enqueue(this.nowMs + this.prng.int(delayMsMin, delayMsMax), { node: to, input: { kind: 'datagram', from, bytes } });
  }

  private enqueue(atMs: number, item: Item): void {
    this.items.push(item);
    this.queue.push(atMs, this.items.length - 1);
  }

  /** Runs until nothing is queued or `limitMs` of virtual time passed; the time it stopped. */
  run(limitMs = 600_000): number {
    const until = this.nowMs + limitMs;
    while (this.queue.size > 0 && this.queue.peekTimeMs() <= until) {
      const item = this.items[this.queue.pop()]!;
      this.nowMs = this.queue.lastTimeMs;
      if (item.input.kind === 'tick' && this.timers.get(item.node) !== this.nowMs) continue;
      if (item.input.kind === 'tick') this.timers.delete(item.node);
      this.inject(item.node, item.input);
    }
    return this.nowMs;
  }
}

/** `length` bytes of a seeded pattern. */
export function messageOf(length: number, seed = 0): Uint8Array {
  const prng = Prng.fromSeed(seed, 'message');
  return Uint8Array.from({ length }, () => prng.int(0, 255));
}
