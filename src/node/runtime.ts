import { randomBytes } from 'node:crypto';
import { SecureNode, meshPacketBytesMax } from '../channel/secure-node.js';
import type { NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import type { NodeKeys } from '../identity/ca.js';
import type { PeerCredential } from '../crypto/handshake.js';
import type { TrustAnchor } from '../identity/svid.js';
import type { RevocationSet } from '../identity/revocation.js';
import { SvidVerifier } from '../identity/verifier.js';
import type { LinkId } from '../mesh/neighbour.js';
import { MeshNode } from '../mesh/node.js';
import type { TimingProfile } from '../mesh/profiles.js';
import type { LinkMessageEvent, MeshEvent, MeshInput, Transmit } from '../mesh/types.js';
import type { DataTlv } from '../wire/messages.js';
import type { NodeId } from '../wire/ids.js';
import { networkInterfaces } from 'node:os';
import { formatAddress, LinkTable, type Endpoint, type LinkRecord } from './links.js';
import { TcpTransport, type TcpAcceptLimits } from './tcp.js';
import { UdpTransport, type DiscoveryGroup, type ListenAddress } from './udp.js';

/**
 * The daemon's driver: it runs the same SecureNode (and MeshNode behind it) as the twin, with
 * a monotonic millisecond clock, one timer armed at the core's next deadline, real UDP
 * sockets and a CSPRNG. Everything that decides lives in the core; this file only moves bytes
 * and time in and out, and tells the core about policy decisions.
 */

/** Housekeeping (provisional links, transit re-evaluation) runs this often. */
export const housekeepingIntervalMs = 1000;

/** What the node is and holds. */
export interface NodeIdentity {
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly nodeId: NodeId;
  /** The current SVID (DER); replaced by renewals. */
  readonly certificate: Uint8Array;
  readonly keys: NodeKeys;
  /** The mesh's obfuscation key (from enrollment). */
  readonly networkKey: Uint8Array;
  /** The network key's epochs when the node holds a ring fetched from its CA (they replace networkKey). */
  readonly networkKeys?: readonly NetworkKeyEpoch[];
}

/** Who may peer with this node and whom it may route through (the Cedar policy, in the daemon). */
export interface PeerPolicy {
  /** Whether the node named by `peerSpiffeId` may have a session with this node. */
  mayPeer(peerSpiffeId: string): boolean;
  /** Whether this node may route others' traffic through `peerSpiffeId`. */
  mayTransit(peerSpiffeId: string): boolean;
}

/** Where the own seqno is kept across restarts. */
export interface SeqnoStore {
  routerSeqno(): number | null;
  saveRouterSeqno(seqno: number): void;
}

/**
 * Faults a node injects into its own data path, for tests and rehearsals only (docs/node-config.md,
 * `faultInjection`): off unless an operator's config or a test turns them on, and never reachable
 * through the API.
 */
export interface FaultInjection {
  /** Share (0..1) of the data this node forwards for others that it drops, as a grey hole does; 0: none. */
  readonly dropTransitShare: number;
}

/** No fault injected. */
export const noFaults: FaultInjection = { dropTransitShare: 0 };

/** How a runtime is set up. */
export interface RuntimeOptions {
  readonly identity: NodeIdentity;
  readonly anchors: () => readonly TrustAnchor[];
  readonly revocations: RevocationSet;
  readonly profile: TimingProfile;
  readonly endToEnd: boolean;
  readonly udp: readonly ListenAddress[];
  /** TCP listen addresses (may be empty: the node still dials configured TCP peers). */
  readonly tcp?: readonly ListenAddress[];
  /** Limits on accepted TCP connections; default tcpAcceptLimitsDefault. */
  readonly tcpLimits?: TcpAcceptLimits;
  readonly peers: readonly Endpoint[];
  /** LAN discovery: beacons every intervalMs (jittered) to a multicast group; absent: off. */
  readonly discovery?: DiscoveryGroup & { readonly intervalMs: number };
  readonly policy: PeerPolicy;
  /**
   * Whether peers without a session may get one now (default: always). The daemon answers false
   * while its revocation list is stale: peers it has sessions with keep them (and rekey), others
   * are refused until a fresh list arrives.
   */
  readonly admitsNewPeers?: () => boolean;
  readonly seqnos?: SeqnoStore;
  /** Called with every event of the core, after the runtime's own bookkeeping (link messages go to onLinkMessage instead). */
  readonly onEvent?: (event: MeshEvent, nowMs: number) => void;
  /** Called with every link message a neighbour sent over its session (SecureNode link messages). */
  readonly onLinkMessage?: (message: LinkMessageEvent, nowMs: number) => void;
  /** Faults to inject from the start (default: none). */
  readonly faults?: FaultInjection;
  /** Told about failures the runtime rides out (a seqno it could not save, a beacon it could not send). */
  readonly onError?: (error: Error, doing: string) => void;
}

/** Who may get a new session now, as PolicyVerifier asks it. */
interface PeerAdmission {
  admitsNewPeers(): boolean;
  hasSession(spiffeId: string): boolean;
  /** Counts a peer refused because new peers were not admitted. */
  refused(): void;
}

/**
 * A verifier that also asks the peer policy, and while new peers are not admitted refuses any
 * peer without a session: a certificate that does not verify forms no session. Every handshake
 * and the periodic recheck of live sessions come through here, so a peer that has a session
 * keeps it and can rekey, which is what "existing sessions stay" means.
 */
class PolicyVerifier {
  constructor(
    private readonly inner: SvidVerifier,
    private readonly policy: PeerPolicy,
    private readonly admission: PeerAdmission,
  ) {}

  verify(certificate: Uint8Array, nowMs: number): PeerCredential {
    const credential = this.inner.verify(certificate, nowMs);
    if (!this.policy.mayPeer(credential.spiffeId)) throw new Error(`policy: peering with ${credential.spiffeId} denied`);
    if (!this.admission.admitsNewPeers() && !this.admission.hasSession(credential.spiffeId)) {
      this.admission.refused();
      throw new Error(`revocation list stale: no new session with ${credential.spiffeId} until a fresh list arrives`);
    }
    return credential;
  }
}

/**
 * Wall-clock epoch milliseconds that never go back: certificates and handshake timestamps need
 * wall time (and follow an NTP correction forward), while the core's timers must not see time
 * run backwards (a step back holds the clock until wall time catches up).
 */
export function monotonicEpochClock(wall: () => number = Date.now): () => number {
  let last = -Infinity;
  return () => {
    last = Math.max(last, wall());
    return last;
  };
}

function checkFaults(faults: FaultInjection): FaultInjection {
  const share = faults.dropTransitShare;
  if (!(share >= 0 && share <= 1)) throw new RangeError(`NodeRuntime: expected faults.dropTransitShare in 0..1, got ${share}`);
  return { ...faults };
}

/** The least time between two unreachable hints for one link while nothing is heard from it. */
export const unreachableHintMs = 1000;
/**
 * A data packet on a link goes out with its send outcome checked at least this often (control
 * packets always do): an unreachable network then shows within this long of traffic, while a
 * busy link does not pay for a checked send per datagram (see UdpTransport.send).
 */
export const sendCheckIntervalMs = 1;

/** One running node: sockets, timer, and the secure mesh core. */
export class NodeRuntime {
  readonly links = new LinkTable();
  readonly secure: SecureNode;
  readonly mesh: MeshNode;
  readonly clock = monotonicEpochClock();
  readonly startedAtMs: number;
  /** Datagrams from new addresses dropped because every provisional link was taken. */
  provisionalRefused = 0;
  /** Datagrams from addresses without a link that were not an authentic handshake frame (dropped in silence). */
  strangerDatagrams = 0;
  /** Forwarded data packets dropped by an injected grey hole (faultInjection). */
  faultDrops = 0;
  private faults: FaultInjection;
  /** Certificates of peers without a session refused because new peers were not admitted (a stale revocation list). */
  newPeersRefused = 0;
  /** host:port of every address this node sends from, for recognising its own beacons. */
  private readonly ownAddresses = new Set<string>();
  private udp: UdpTransport | null = null;
  private tcp: TcpTransport | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The deadline the timer is armed for. */
  private armedDeadlineMs = Infinity;
  private housekeeping: NodeJS.Timeout | null = null;
  private beaconTimer: NodeJS.Timeout | null = null;
  private savedSeqno: number | null = null;
  /** The transit decision last given to the core, per link. */
  private readonly transitAllowed = new Map<LinkId, boolean>();
  private stopped = false;
  private transitDirty = false;
  /** When each link was last reported unreachable to the core (see onUnreachable). */
  private readonly unreachableHintAtMs = new Map<LinkId, number>();
  /** Links an operator took down: nothing is sent or accepted on them. */
  private readonly disabledLinks = new Set<LinkId>();

  constructor(private readonly options: RuntimeOptions) {
    this.startedAtMs = this.clock();
    this.faults = checkFaults(options.faults ?? noFaults);
    const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
    const saved = options.seqnos?.routerSeqno() ?? null;
    this.mesh = new MeshNode({
      id: options.identity.nodeId,
      random: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
      profile: options.profile,
      emitRouteEvents: true,
      packetBytesMax: meshPacketBytesMax,
      ...(saved === null ? {} : { initialSeqno: (saved + 1) & 0xffff }),
    });
    const identity = options.identity;
    const svids = new SvidVerifier({ trustDomain: identity.trustDomain, anchors: options.anchors, isRevoked: options.revocations.isRevoked });
    this.secure = new SecureNode({
      mesh: this.mesh,
      links: [],
      handshake: {
        local: { spiffeId: identity.spiffeId, certificate: identity.certificate, staticKey: identity.keys.xwing },
        verifier: new PolicyVerifier(svids, options.policy, {
          admitsNewPeers: options.admitsNewPeers ?? (() => true),
          hasSession: (spiffeId) => this.hasSessionWith(spiffeId),
          refused: () => this.newPeersRefused++,
        }),
        random,
        prologue: new TextEncoder().encode(identity.trustDomain),
      },
      networkKey: identity.networkKey,
      ...(identity.networkKeys === undefined ? {} : { networkKeys: identity.networkKeys }),
      endToEnd: options.endToEnd,
    });
  }

  /** Binds the sockets, adds the configured peers' links and starts the core. */
  async start(): Promise<void> {
    this.udp = await UdpTransport.open(this.options.udp, (from, bytes) => this.onDatagram(from, bytes));
    this.udp.onUnreachable = (to) => this.onUnreachable(to);
    try {
      const streamKeys = { sendingLengthKey: () => this.secure.streamKeysAt(this.clock()).sending, candidates: () => this.secure.streamKeysAt(this.clock()).candidates };
      this.tcp = await TcpTransport.open(this.options.tcp ?? [], streamKeys, (from, bytes) => this.onDatagram(from, bytes), this.options.tcpLimits);
    } catch (error) {
      await this.udp.close();
      throw error;
    }
    if (this.options.discovery !== undefined) await this.startDiscovery(this.options.discovery);
    const nowMs = this.clock();
    for (const peer of this.options.peers) {
      this.step({ kind: 'addLink', link: this.links.addConfigured(peer, nowMs).link });
      if (peer.transport === 'tcp') this.tcp.dial(peer);
    }
    this.step({ kind: 'timer' });
    this.housekeeping = setInterval(() => this.houseKeep(), housekeepingIntervalMs);
  }

  private async startDiscovery(discovery: DiscoveryGroup & { readonly intervalMs: number }): Promise<void> {
    try {
      this.noteOwnAddresses();
      await this.udp!.joinDiscovery(discovery, (from, bytes) => this.onBeacon(from, bytes));
    } catch (error) {
      await this.closeTransports();
      throw error;
    }
    const beacon = (): void => {
      try {
        this.udp?.sendBeacon(this.secure.announcementFrames());
      } catch (error) {
        // The interface may have lost its address (a DHCP renumbering): try again next time.
        this.options.onError?.(error as Error, 'discovery beacon');
      }
      // 0.8 to 1.2 intervals, so that nodes started together do not beacon in step.
      this.beaconTimer = setTimeout(beacon, discovery.intervalMs * (0.8 + 0.4 * (randomBytes(1)[0]! / 255)));
    };
    beacon();
  }

  /** Our bound addresses; for a wildcard bind, every local interface address on that port. */
  private noteOwnAddresses(): void {
    const locals = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
    for (const bound of this.udp!.boundAddresses()) {
      const hosts = bound.host === '0.0.0.0' || bound.host === '::' ? locals : [bound.host];
      for (const host of hosts) this.ownAddresses.add(formatAddress(host, bound.port));
    }
  }

  /** Who this node is. */
  get identity(): NodeIdentity {
    return this.options.identity;
  }

  /** The addresses the UDP sockets are bound to. */
  udpAddresses(): string[] {
    return this.udp?.addresses() ?? [];
  }

  /** The addresses the TCP transport listens on. */
  tcpAddresses(): string[] {
    return this.tcp?.addresses() ?? [];
  }

  /** Counters of the TCP transport. */
  tcpStats(): TcpTransport['stats'] | null {
    return this.tcp?.stats ?? null;
  }

  /** TCP connections open now, by direction. */
  tcpConnectionCounts(): { readonly accepted: number; readonly dialled: number } {
    return this.tcp?.connectionCounts() ?? { accepted: 0, dialled: 0 };
  }

  /** Counters of the UDP transport. */
  udpStats(): UdpTransport['stats'] | null {
    return this.udp?.stats ?? null;
  }

  /** Hands one input to the core at the current time and carries out what it returns. */
  step(input: MeshInput): void {
    this.stepAt(this.clock(), input);
  }

  /** step at a time the caller has just read from the clock (a datagram's arrival: one clock read per datagram, not two). */
  private stepAt(nowMs: number, input: MeshInput): void {
    if (this.stopped) return;
    const output = this.secure.handle(nowMs, input);
    // The core's state has moved on: the timer is re-armed whatever the rest of this step does.
    try {
      for (const transmit of output.sends) this.transmit(transmit, nowMs);
      for (const event of output.events) this.onEvent(event, nowMs);
      this.persistSeqno();
    } finally {
      this.arm(output.nextDeadlineMs, nowMs);
    }
    if (this.transitDirty) {
      this.transitDirty = false;
      this.applyTransitPolicy();
    }
  }

  /**
   * Takes the network key epochs of a rotation (fetched from the CA): frames and new TCP
   * connections use the newest active epoch, every epoch not yet retired is accepted. Returns
   * false when they are the epochs in use; throws ERR_CRYPTO_KEY_RING for a malformed ring.
   */
  setNetworkKeys(epochs: readonly NetworkKeyEpoch[]): boolean {
    return this.secure.setNetworkKeys(epochs);
  }

  /** The network key epoch frames are sent under now. */
  networkKeyEpochNow(): number {
    return this.secure.sendingEpochAt(this.clock());
  }

  /** The network key epochs in use. */
  get networkKeyEpochs(): readonly NetworkKeyEpoch[] {
    return this.secure.networkKeyEpochs;
  }

  /** Presents a renewed SVID (same keys) from now on; every link rekeys with it. */
  renewCertificate(certificate: Uint8Array): void {
    this.secure.renewCertificate(certificate);
    this.step({ kind: 'timer' });
  }

  /**
   * Puts `message` (a link message, see SecureNode.sealLinkMessage) on `link` in its session;
   * false when the link has no working session.
   */
  sendLinkMessage(link: LinkId, message: Uint8Array): boolean {
    if (this.stopped) return false;
    const nowMs = this.clock();
    const frame = this.secure.sealLinkMessage(nowMs, link, message);
    if (frame === null) return false;
    this.transmit({ link, bytes: frame }, nowMs);
    return true;
  }

  /** The links whose neighbour is usable and whose session authenticated it, with that neighbour. */
  sessionPeers(): { link: LinkId; peer: NodeId }[] {
    return this.mesh.neighbourViews().flatMap((view) => (view.usable && view.peer !== null && this.secure.isSecured(view.link) ? [{ link: view.link, peer: view.peer }] : []));
  }

  /** Changes the injected faults (tests and rehearsals only; see FaultInjection). */
  setFaultInjection(faults: FaultInjection): void {
    this.faults = checkFaults(faults);
  }

  /** The faults injected now. */
  get faultInjection(): FaultInjection {
    return this.faults;
  }

  /** Re-asks the policy about every secured link (after a policy reload, and once a second). */
  applyTransitPolicy(): void {
    for (const record of this.links.all()) {
      const peer = this.secure.peerOf(record.link);
      if (peer === null) continue;
      const allowed = this.options.policy.mayTransit(peer);
      if (this.transitAllowed.get(record.link) === allowed) continue;
      this.transitAllowed.set(record.link, allowed);
      this.step({ kind: 'transit', link: record.link, allowed });
    }
  }

  /** Retracts every route (our own too), lets the packets leave, and closes the sockets. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.step({ kind: 'shutdown' });
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    if (this.beaconTimer !== null) clearTimeout(this.beaconTimer);
    // The retractions were handed to the kernel above; give it a moment to put them on the wire.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await this.closeTransports();
  }

  private async closeTransports(): Promise<void> {
    await this.udp?.close();
    await this.tcp?.close();
  }

  /**
   * Stops at once without a word to the neighbours, as a crash or kill -9 looks to them: timers
   * cleared and sockets closed, nothing retracted. (Tests use it; stop() is the graceful way.)
   */
  async abort(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    if (this.beaconTimer !== null) clearTimeout(this.beaconTimer);
    await this.closeTransports();
  }

  /**
   * Takes a link administratively down (or up again): everything sent or received on it is
   * dropped, which the neighbour sees as a cut link. Returns false for an unknown link.
   */
  setLinkDisabled(link: LinkId, disabled: boolean): boolean {
    if (this.links.get(link) === undefined) return false;
    if (disabled) this.disabledLinks.add(link);
    else this.disabledLinks.delete(link);
    return true;
  }

  /** Whether some link has a session with the node named `spiffeId`. */
  hasSessionWith(spiffeId: string): boolean {
    return this.links.all().some((record) => this.secure.peerOf(record.link) === spiffeId);
  }

  /** Whether an operator took `link` down. */
  isLinkDisabled(link: LinkId): boolean {
    return this.disabledLinks.has(link);
  }

  /** The link record of `link`. */
  link(link: LinkId): LinkRecord | undefined {
    return this.links.get(link);
  }

  /**
   * A datagram (or TCP frame) from `from`. From an address without a link, only a handshake
   * frame sealed under the network key is acted on, and it gets a passive link: a stranger's
   * bytes cost one MAC check and never make the node send anything.
   */
  private onDatagram(from: Endpoint, bytes: Uint8Array): void {
    if (this.stopped) return;
    let nowMs = this.clock();
    let record = this.links.find(from);
    if (record === undefined) {
      if (!this.secure.isAuthenticHandshakeFrame(bytes, this.clock())) {
        this.strangerDatagrams++;
        return;
      }
      const admitted = this.links.admit(from, nowMs);
      if (admitted === null) {
        this.provisionalRefused++;
        return;
      }
      record = admitted;
      this.step({ kind: 'addLink', link: record.link, passive: true });
      // That step read the clock again: the datagram must not reach the core at an earlier time.
      nowMs = this.clock();
    }
    record.lastHeardAtMs = nowMs;
    if (this.disabledLinks.has(record.link)) return;
    this.stepAt(nowMs, { kind: 'datagram', link: record.link, bytes });
  }

  /**
   * A send to `to` failed because the network there is unreachable (an interface or route went
   * away): its link's neighbour goes down now rather than a detection time later. Every probe
   * to it fails the same way until the link is back, so the hint is given at most once per
   * unreachableHintMs (hearing from the link does not reset that: unauthenticated bytes from
   * its address must not let anyone re-arm it).
   */
  private onUnreachable(to: Endpoint): void {
    const record = this.links.find(to);
    if (record === undefined || this.stopped) return;
    const nowMs = this.clock();
    const lastMs = this.unreachableHintAtMs.get(record.link);
    if (lastMs !== undefined && nowMs - lastMs < unreachableHintMs) return;
    this.unreachableHintAtMs.set(record.link, nowMs);
    this.step({ kind: 'linkUnreachable', link: record.link });
  }

  /** A discovery beacon: our own (it comes back from the group) is dropped before anything else. */
  private onBeacon(from: Endpoint, bytes: Uint8Array): void {
    if (this.ownAddresses.has(formatAddress(from.host, from.port))) return;
    this.onDatagram(from, bytes);
  }

  private transmit(transmit: Transmit, nowMs: number): void {
    const record = this.links.get(transmit.link);
    if (record === undefined || this.disabledLinks.has(transmit.link)) return;
    if (this.faults.dropTransitShare > 0 && transmit.data !== undefined && this.dropsAsGreyHole(transmit.link, transmit.data)) return;
    if (record.endpoint.transport === 'tcp') {
      this.tcp?.send(record.endpoint, transmit.bytes);
      return;
    }
    // Control packets are always checked; data at least once per sendCheckIntervalMs per link,
    // which is all the unreachable hint needs (every send to an unreachable network fails).
    const checked = transmit.data === undefined || nowMs - record.sendCheckedAtMs >= sendCheckIntervalMs;
    if (checked) record.sendCheckedAtMs = nowMs;
    this.udp?.send(record.endpoint, transmit.bytes, checked);
  }

  /**
   * The injected grey hole: drops its share of the data this node forwards for others (not what
   * it originates). The core hears that the packet did not go out, so it neither counts it as put
   * on the link nor takes it as a liveness signal to the neighbour, whose probes then carry on:
   * the node answers control traffic and loses data, as the twin's grey holes do.
   */
  private dropsAsGreyHole(link: LinkId, data: DataTlv): boolean {
    if (data.src === this.mesh.id || Math.random() >= this.faults.dropTransitShare) return false;
    this.mesh.dataNotSent(link, data);
    this.faultDrops++;
    return true;
  }

  private onEvent(event: MeshEvent, nowMs: number): void {
    if (event.kind === 'linkMessage') {
      this.options.onLinkMessage?.(event, nowMs);
      return;
    }
    // Decided after this step's outputs are out: a nested step would re-arm the timer out of order.
    if (event.kind === 'neighbourUp') this.transitDirty = true;
    if (event.kind === 'neighbourDown') this.transitAllowed.delete(event.link);
    this.options.onEvent?.(event, nowMs);
  }

  private persistSeqno(): void {
    const seqno = this.mesh.ownSeqno;
    if (seqno === this.savedSeqno || this.options.seqnos === undefined) return;
    try {
      this.options.seqnos.saveRouterSeqno(seqno);
      this.savedSeqno = seqno;
    } catch (error) {
      // A full or failing disk must not stop routing; the next change tries again.
      this.options.onError?.(error as Error, 'saving the seqno');
    }
  }

  private arm(deadlineMs: number, nowMs: number): void {
    // Most steps (a forwarded packet) leave the deadline where it was: keep the armed timer then.
    if (this.timer !== null && deadlineMs === this.armedDeadlineMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedDeadlineMs = deadlineMs;
    if (!Number.isFinite(deadlineMs)) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.step({ kind: 'timer' });
    }, Math.max(0, Math.ceil(deadlineMs - nowMs)));
  }

  private houseKeep(): void {
    const removed = this.links.expire(this.clock(), (link) => this.secure.isSecured(link));
    for (const link of removed) {
      this.transitAllowed.delete(link);
      this.disabledLinks.delete(link);
      this.step({ kind: 'removeLink', link });
    }
    this.applyTransitPolicy();
  }
}
