import { meshPacketBytesMax, SecureNode } from '../../src/channel/secure-node.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa } from '../../src/identity/ca.js';
import type { SvidIdentity } from '../../src/identity/svid.js';
import { SvidVerifier } from '../../src/identity/verifier.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { MeshNode } from '../../src/mesh/node.js';
import type { MeshEvent, MeshInput } from '../../src/mesh/types.js';
import { EventQueue } from '../../src/twin/event-queue.js';
import { formatNodeId, nodeId } from '../../src/wire/ids.js';

import { seeded } from '../seeded.js';
export { seeded };

export const t0 = Date.UTC(2026, 10, 27, 12);
export const trustDomain = 'mesh.test';
export const networkKey = new Uint8Array(32).fill(0x42);
export const { ca } = createCa(trustDomain, t0, seeded('harness ca'));

/** How one harness node is made; every field has a sane default. */
export interface NodeSpec {
  readonly id: number;
  /** The node ID its SVID names (default: id). */
  readonly svidNodeId?: number;
  readonly issuer?: MeshCa;
  readonly certificate?: Uint8Array;
  readonly networkKey?: Uint8Array;
  readonly revoked?: ReadonlySet<string>;
  readonly endToEnd?: boolean;
}

/** Decides a link datagram's fate: its arrival time at the peer, or null to lose it. */
export type LinkFate = (nowMs: number, from: number, link: LinkId, bytes: Uint8Array) => number | null;

type QueuedItem = { node: number; input: MeshInput } | { node: number; call: () => void };

/** Nodes on point-to-point links with a fixed one-way delay, driven by a virtual clock. */
export class SecureHarness {
  readonly nodes = new Map<number, SecureNode>();
  readonly events: { at: number; node: number; event: MeshEvent }[] = [];
  /** When set, decides each link datagram's fate (loss, queueing); the fixed delay otherwise. */
  linkFate: LinkFate | null = null;
  /** When set, sees every event as its node emits it (applications on top of the mesh). */
  onEvent: ((node: number, event: MeshEvent) => void) | null = null;
  private readonly queue = new EventQueue();
  /** Queued items by the handle the queue orders. */
  private readonly items: QueuedItem[] = [];
  private readonly timers = new Map<number, number>();
  private readonly specs = new Map<number, NodeSpec>();
  nowMs = t0;

  constructor(
    private readonly edges: readonly [number, number][],
    private readonly delayMs = 5,
  ) {}

  /** Creates (or re-creates, state lost) node `spec.id` and starts it now. */
  boot(spec: NodeSpec): SecureNode {
    this.specs.set(spec.id, spec);
    const links = this.edges.flatMap(([a, b], i) => (a === spec.id || b === spec.id ? [i as LinkId] : []));
    const random = seeded(`node ${spec.id} boot ${this.nowMs}`);
    const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
    const path = `/node/${formatNodeId(nodeId(spec.svidNodeId ?? spec.id))}`;
    const certificate = spec.certificate ?? issueSvid(spec.issuer ?? ca, path, keys.publicKeys, this.nowMs, random, 3600_000);
    const revoked = spec.revoked ?? new Set<string>();
    const verifier = new SvidVerifier({ trustDomain, anchors: () => [ca.anchor], isRevoked: (identity: SvidIdentity) => revoked.has(identity.spiffeId) });
    const mesh = new MeshNode({ id: nodeId(spec.id), random: () => random(4)[0]! / 256, links, packetBytesMax: meshPacketBytesMax });
    const node = new SecureNode({
      mesh,
      links,
      handshake: { local: { spiffeId: `spiffe://${trustDomain}${path}`, certificate, staticKey: keys.xwing }, verifier, random, prologue: new TextEncoder().encode(trustDomain) },
      networkKey: spec.networkKey ?? networkKey,
      endToEnd: spec.endToEnd ?? false,
    });
    this.nodes.set(spec.id, node);
    this.deliver(spec.id, { kind: 'timer' });
    return node;
  }

  /** Stops node `id` (its pending inputs are dropped). */
  crash(id: number): void {
    this.nodes.delete(id);
  }

  /** Runs the clock forward by `ms`. */
  run(ms: number): void {
    const until = this.nowMs + ms;
    while (this.queue.peekTimeMs() <= until) {
      const item = this.items[this.queue.pop()]!;
      this.nowMs = this.queue.lastTimeMs;
      if ('call' in item) {
        item.call();
        continue;
      }
      if (item.input.kind === 'timer' && this.timers.get(item.node) !== this.nowMs) continue;
      this.deliver(item.node, item.input);
    }
    this.nowMs = until;
  }

  private deliver(id: number, input: MeshInput): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    const output = node.handle(this.nowMs, input);
    for (const event of output.events) this.events.push({ at: this.nowMs, node: id, event });
    for (const send of output.sends) {
      const [a, b] = this.edges[send.link]!;
      const peer = a === id ? b : a;
      const atMs = this.linkFate === null ? this.nowMs + this.delayMs : this.linkFate(this.nowMs, id, send.link, send.bytes);
      if (atMs !== null) this.enqueue(atMs, { node: peer, input: { kind: 'datagram', link: send.link, bytes: send.bytes } });
    }
    // Queued, not called: what the application does in turn (inject) must not re-enter this node's delivery.
    for (const event of output.events) if (this.onEvent !== null) this.at(this.nowMs, () => this.onEvent?.(id, event));
    if (output.nextDeadlineMs < Infinity && output.nextDeadlineMs !== this.timers.get(id)) {
      const at = Math.max(this.nowMs, output.nextDeadlineMs);
      this.timers.set(id, at);
      this.enqueue(at, { node: id, input: { kind: 'timer' } });
    }
  }

  /** Calls `call` at virtual time `atMs` (an application's timer). */
  at(atMs: number, call: () => void): void {
    this.enqueue(Math.max(atMs, this.nowMs), { node: 0, call });
  }

  private enqueue(atMs: number, item: QueuedItem): void {
    this.items.push(item);
    this.queue.push(atMs, this.items.length - 1);
  }

  /** Hands `input` to node `id` now. */
  inject(id: number, input: MeshInput): void {
    this.deliver(id, input);
  }
}
