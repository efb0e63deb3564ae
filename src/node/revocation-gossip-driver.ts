import type { RevocationList } from '../identity/revocation.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { LinkMessageEvent } from '../mesh/types.js';
import { formatNodeId } from '../wire/ids.js';
import { revocationPollMs } from './ca-sync.js';
import { RevocationGossip, type GossipSend } from './revocation-gossip.js';

/**
 * The daemon's side of the revocation gossip (src/node/revocation-gossip.ts): it passes gossip
 * link messages to the sans-IO core and what the core completes to CaSync.offer, sends a newly
 * installed sequence on, and once per poll interval asks every neighbour for a list newer than
 * its own (answered only when there is one worth sending: a higher sequence, or a fresher copy
 * once its own is older than half of revocations.maxAgeMs).
 */

/** What the driver needs from the daemon. */
export interface RevocationGossipDeps {
  /** The node's runtime: its authenticated neighbours, and a way to send them link messages. */
  readonly runtime: {
    sessionPeers(): readonly { readonly link: LinkId }[];
    sendLinkMessage(link: LinkId, message: Uint8Array): boolean;
  };
  /** Installs a list a neighbour passed on (CaSync.offer): installed, old (not newer than ours) or refused (did not verify). */
  readonly offer: (bytes: Uint8Array, source: string, fromLink: LinkId) => 'installed' | 'old' | 'refused';
  /** revocations.maxAgeMs: neighbours send a fresher copy of the same list once this node's is older than half of it. */
  readonly maxAgeMs: number;
  /** How often to ask (default revocationPollMs). */
  readonly askEveryMs?: number;
  readonly now?: () => number;
}

/** Gossip of revocation lists in a running daemon (see the module comment). */
export class DaemonRevocationGossip {
  readonly core: RevocationGossip;
  /** Lists offered to CaSync, by what it made of them. */
  readonly offers = { installed: 0, old: 0, refused: 0 };
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: RevocationGossipDeps) {
    this.now = deps.now ?? Date.now;
    this.core = new RevocationGossip(deps.maxAgeMs / 2);
  }

  /** Counters for the metrics: the core's by outcome, and what became of the lists offered. */
  counters(): Record<string, number> {
    return { ...this.core.stats, offersInstalled: this.offers.installed, offersOld: this.offers.old, offersRefused: this.offers.refused };
  }

  /** Starts asking (see ask). */
  start(): void {
    this.timer ??= setInterval(() => this.ask(), this.deps.askEveryMs ?? revocationPollMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** CaSync installed a list (onInstalled): it is what this node passes on now; a new sequence goes to every neighbour but its source. */
  installed(bytes: Uint8Array, list: RevocationList, newSequence: boolean, fromLink: LinkId | null): void {
    this.core.setCurrent(bytes, list);
    if (newSequence) this.send(this.core.announce(this.links(), fromLink));
  }

  /** A gossip link message from a neighbour. */
  onLinkMessage(message: LinkMessageEvent): void {
    const out = this.core.receive(this.now(), message.link, message.payload);
    this.send(out.sends);
    if (out.completed === null) return;
    this.offers[this.deps.offer(out.completed, `gossip from node ${formatNodeId(message.peer)}`, message.link)]++;
  }

  /** Asks every neighbour for a list worth sending (see the module comment). */
  ask(): void {
    this.send(this.core.requests(this.links()));
  }

  private links(): LinkId[] {
    return this.deps.runtime.sessionPeers().map((peer) => peer.link);
  }

  private send(sends: readonly GossipSend[]): void {
    for (const { link, bytes } of sends) this.deps.runtime.sendLinkMessage(link, bytes);
  }
}
