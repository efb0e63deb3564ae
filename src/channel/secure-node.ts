import { consumeCookieReply, consumeResponse, createInitiation, initiationToSend, Responder, type HandshakeConfig, type PendingInitiation } from '../crypto/handshake.js';
import { HandshakeError } from '../crypto/handshake-errors.js';
import { MessageType } from '../crypto/handshake-messages.js';
import { dataPayloadBytesMax } from '../crypto/data-frame.js';
import { datagramBytesMax } from '../crypto/frame-limits.js';
import { NetworkKeyRing, singleEpoch, type NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { FrameReceiver, openFrame, sealCookieFrame, sealHandshakeMessage, type ObfuscationKeys } from '../crypto/obfuscation.js';
import { rejectAfterMs, rekeyAgeMs, Session } from '../crypto/session.js';
import type { StreamKeyCandidate } from '../crypto/stream-framing.js';
import { EndToEnd, type E2eOutput } from './end-to-end.js';
import { bindPeer, keyHash, newLinkState, type LinkState, type PeerBinding, type SessionEntry } from './link-state.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { MeshNode } from '../mesh/node.js';
import type { MeshEvent, MeshInput, MeshOutput, Transmit } from '../mesh/types.js';
import type { NodeId } from '../wire/ids.js';

/**
 * The secure link layer: every datagram a MeshNode sends to a neighbour leaves sealed in a
 * session keyed by the hybrid handshake and framed by the obfuscation layer, and nothing
 * reaches the routing core unless it opened in such a session. The routing core does not
 * change: it sees a link only once its session carries its probes.
 *
 * How a link comes up: each end announces its certificate (an SVID) inside a handshake frame,
 * which only holders of the network key can open. Whoever verifies the other's certificate and
 * has the smaller static key hash initiates; the other initiates too if nothing arrives within
 * `initiationFallbackMs`. The initiator confirms the session with an empty data packet.
 */

/** Logical type of a certificate announcement (after the handshake's own 1-3). */
export const credentialMessageType = 4;
/** Announcements are repeated this often while a link has no session. */
export const announceIntervalMs = 500;
/** Longest interval between announcements on a link where nobody answers (a dead neighbour). */
export const announceIntervalMaxMs = 8000;
/** An initiation without an answer is replaced by a fresh one after this long. */
export const handshakeRetryMs = 1000;
/** The larger-keyed end initiates itself when no initiation came within this long of verifying the peer. */
export const initiationFallbackMs = 1500;

/** Every session's peer certificate is checked again this often (revocation, expiry). */
export const peerRecheckMs = 1000;
/** Above this many initiations in one second a node answers new ones with cookies first (WireGuard's under-load mode). */
export const initiationsPerSecondUnderLoad = 100;

/**
 * Largest mesh packet one data frame carries. The MeshNode behind a SecureNode must be built
 * with this as its packetBytesMax, so that its control packets fit; a larger packet (a single
 * Data TLV with a big payload) is dropped and counted.
 */
export const meshPacketBytesMax = dataPayloadBytesMax;

/**
 * A session plaintext whose first byte is at least this is a link message for the driver (the
 * self-healing loop's transit reports, src/mapek/report-codec.ts), not a mesh packet. Mesh
 * packets begin with the wire version (1); a node that predates link messages hands one to its
 * routing core, which drops it as a packet of an unknown version (one decode error) and nothing
 * else.
 */
export const linkMessageTypeMin = 0x80;

/** Counters of the secure layer. */
export interface ChannelStats {
  handshakesCompleted: number;
  handshakesRefused: number;
  credentialsRefused: number;
  framesRefused: number;
  openFailures: number;
  droppedNoSession: number;
  /** Mesh packets larger than meshPacketBytesMax (the MeshNode was not built with that limit, or a Data payload is too big). */
  droppedTooLarge: number;
  senderMismatch: number;
  /** Sessions torn down because their peer's certificate stopped verifying (revoked, expired). */
  peersDropped: number;
  /** Sessions that replaced a working session on the same link (rekeys by age or renewal). */
  rekeys: number;
}

/** Setup of one secure node. */
export interface SecureNodeConfig {
  readonly mesh: MeshNode;
  readonly links: readonly LinkId[];
  readonly handshake: HandshakeConfig;
  readonly networkKey: Uint8Array;
  /** The network key's epochs when a rotation is under way (network-key-ring.ts); without them, `networkKey` alone. */
  readonly networkKeys?: readonly NetworkKeyEpoch[];
  /**
   * Send application datagrams through end-to-end sessions (transit nodes cannot read them).
   * Without it the link layer authenticates neighbours only: a delivered datagram's source is
   * what the packet says, vouched for by no one.
   */
  readonly endToEnd?: boolean;
}

/** When `session` asks for a rekey by time (initiators first; responders after a grace). */
function rekeyDueAtMs(session: Session): number {
  return session.establishedAtMs + rekeyAgeMs(session.isInitiator);
}

/** A MeshNode behind the secure link layer; `handle` has the MeshNode's contract. */
export class SecureNode {
  readonly stats: ChannelStats = { handshakesCompleted: 0, handshakesRefused: 0, credentialsRefused: 0, framesRefused: 0, openFailures: 0, droppedNoSession: 0, droppedTooLarge: 0, senderMismatch: 0, peersDropped: 0, rekeys: 0 };
  readonly mesh: MeshNode;
  /** The end-to-end layer, or null when application datagrams travel as plain mesh payloads. */
  readonly endToEnd: EndToEnd | null;
  private readonly config: HandshakeConfig;
  /** Our identity as the handshakes see it; renewCertificate replaces its certificate in place. */
  private readonly local: { spiffeId: string; certificate: Uint8Array; staticKey: HandshakeConfig['local']['staticKey'] };
  private ring: NetworkKeyRing;
  /** The time of the call in progress (or the last one): what the network key ring is read at where no time is passed. */
  private nowMs = 0;
  private readonly receiver: FrameReceiver;
  private readonly responder: Responder;
  private readonly links = new Map<LinkId, LinkState>();
  private readonly sessions = new Map<number, SessionEntry>();
  private readonly ownKeyHash: string;
  private sends: Transmit[] = [];
  private events: MeshEvent[] = [];
  private meshDeadlineMs = 0;
  private nextRecheckAtMs = 0;
  /**
   * When the links' timers (announce, initiate, rekey, recheck, expire) next have work, as of
   * the last time they ran or their state changed. Most inputs are data frames that change none
   * of it, so the per-link scan runs only at this deadline or after a change (linkStateChanged),
   * not for every packet. Limits by message count (2^48, 2^52) are noticed at the next peer
   * recheck, at most peerRecheckMs later, as nothing else in the deadline counts packets.
   */
  private linkDeadlineMs = -Infinity;
  /** Link or session state changed since the links' timers last ran: they run in this call. */
  private linkStateChanged = true;
  /**
   * Where data frames are opened: one buffer for every packet instead of a new one each (a
   * forwarded packet's plaintext lives only while the routing core handles it). What it holds is
   * valid, as all of an output is, until the next call, which wipes it first.
   */
  private readonly opened = new Uint8Array(datagramBytesMax);
  private openedBytes = 0;
  /** Initiations that passed mac1 in the current one-second window, for the under-load decision. */
  private initiationWindow = { startMs: -Infinity, count: 0 };
  private started = false;

  constructor(config: SecureNodeConfig) {
    this.mesh = config.mesh;
    this.local = { ...config.handshake.local };
    this.config = { ...config.handshake, local: this.local };
    this.ring = new NetworkKeyRing(config.networkKeys ?? singleEpoch(config.networkKey));
    this.receiver = new FrameReceiver({ acceptedAt: (nowMs) => this.ring.acceptedAt(nowMs) });
    this.responder = new Responder(this.config);
    this.ownKeyHash = keyHash(config.handshake.local.staticKey.publicKey);
    for (const link of config.links) this.links.set(link, newLinkState(link, announceIntervalMs));
    this.endToEnd = config.endToEnd === true ? new EndToEnd(this.config) : null;
  }

  /** Processes one input as MeshNode.handle does; the returned arrays are fresh each call. */
  handle(nowMs: number, input: MeshInput): MeshOutput {
    this.sends = [];
    this.events = [];
    this.nowMs = nowMs;
    if (this.openedBytes > 0) this.wipeOpened();
    if (!this.started) this.start(nowMs);
    // Datagrams, sends and timers mark what they change themselves; any other input may change a link.
    if (input.kind !== 'datagram' && input.kind !== 'send' && input.kind !== 'timer') this.linkStateChanged = true;
    if (input.kind === 'datagram') {
      this.onDatagram(nowMs, input.link, input.bytes);
    } else if (input.kind === 'send' && this.endToEnd !== null) {
      this.sendEndToEnd(nowMs, (out) => this.endToEnd!.send(nowMs, input.dst, input.payload, out, input.id));
    } else {
      this.updateLinks(input);
      this.toMesh(nowMs, input);
    }
    this.runTimers(nowMs);
    if (nowMs >= this.meshDeadlineMs) this.toMesh(nowMs, { kind: 'timer' });
    return { sends: this.sends, events: this.events, nextDeadlineMs: this.nextDeadlineMs() };
  }

  /**
   * Takes a renewed SVID for the same keys (rotation): announcements and initiations carry it
   * from now on, and every link rekeys at its next timer call, so each neighbour's session
   * holds the new certificate long before the old one expires.
   */
  renewCertificate(certificate: Uint8Array): void {
    this.local.certificate = certificate.slice();
    this.endToEnd?.renewCertificate(certificate);
    for (const state of this.links.values()) if (state.current !== null) state.rekeyRequested = true;
    this.linkStateChanged = true;
  }

  /** The certificate this node presents now. */
  get certificate(): Uint8Array {
    return this.local.certificate;
  }

  /**
   * `message` (a link message: its first byte at least linkMessageTypeMin) sealed in `link`'s
   * session, as a frame for the driver to put on the link; null when the link has no working
   * session. The peer's driver receives it as a `linkMessage` event naming this node.
   */
  sealLinkMessage(nowMs: number, link: LinkId, message: Uint8Array): Uint8Array | null {
    if (message.length === 0 || message.length > meshPacketBytesMax || message[0]! < linkMessageTypeMin) {
      throw new RangeError(`SecureNode.sealLinkMessage: expected 1..${meshPacketBytesMax} bytes starting with a type >= ${linkMessageTypeMin}, got ${message.length} bytes starting with ${message[0]}`);
    }
    const session = this.links.get(link)?.current?.session;
    if (session === undefined || session.isExpired(nowMs)) return null;
    return this.ring.sendingAt(nowMs).obfuscation.data.seal(nowMs, session, message);
  }

  /** The certificate of the peer whose session carries `link`, or null. */
  peerCertificateOf(link: LinkId): Uint8Array | null {
    return this.links.get(link)?.current?.peer.certificate ?? null;
  }

  /** The SPIFFE ID of the peer whose session carries `link`, or null. */
  peerOf(link: LinkId): string | null {
    return this.links.get(link)?.current?.peer.credential.spiffeId ?? null;
  }

  /** Whether `link` has a session that can carry the mesh's packets. */
  isSecured(link: LinkId): boolean {
    return this.links.get(link)?.current != null;
  }

  /**
   * Whether `datagram` is a handshake frame sealed under this mesh's network key (an epoch
   * accepted at `nowMs`, by default the time of the latest call): the only thing from an unknown
   * address a driver should act on (by adding a passive link for it).
   */
  isAuthenticHandshakeFrame(datagram: Uint8Array, nowMs: number = this.nowMs): boolean {
    return this.ring.acceptedAt(nowMs).some((keys) => openFrame(keys.obfuscation, datagram).kind === 'handshake');
  }

  /**
   * Replaces the network key's epochs (a rotation fetched from the CA): frames are sent under
   * the newest active epoch and accepted under every epoch not yet retired, from the next call
   * on. Sessions are untouched. Throws ERR_CRYPTO_KEY_RING naming what is wrong with `epochs`;
   * returns false when they are the ones in use.
   */
  setNetworkKeys(epochs: readonly NetworkKeyEpoch[]): boolean {
    if (this.ring.sameAs(epochs)) return false;
    this.ring = new NetworkKeyRing(epochs);
    return true;
  }

  /** The epochs in use (copies of their entries, keys included: the caller persists them). */
  get networkKeyEpochs(): readonly NetworkKeyEpoch[] {
    return this.ring.epochs;
  }

  /** The TCP length keys of the ring at `nowMs` (NetworkKeyRing.streamKeysAt). */
  streamKeysAt(nowMs: number): { sending: Uint8Array; candidates: StreamKeyCandidate[] } {
    return this.ring.streamKeysAt(nowMs);
  }

  /** The epoch frames are sent under at `nowMs`. */
  sendingEpochAt(nowMs: number): number {
    return this.ring.sendingAt(nowMs).epoch;
  }

  /** The obfuscation keys frames are sent under now (at the time of the latest call). */
  private get keys(): ObfuscationKeys {
    return this.ring.sendingAt(this.nowMs).obfuscation;
  }

  private updateLinks(input: MeshInput): void {
    if (input.kind === 'addLink' && !this.links.has(input.link)) {
      const state = newLinkState(input.link, announceIntervalMs);
      if (input.passive === true) state.nextAnnounceAtMs = Infinity;
      this.links.set(input.link, state);
    } else if (input.kind === 'removeLink') {
      this.links.delete(input.link);
      for (const [index, entry] of this.sessions) if (entry.state.link === input.link) this.sessions.delete(index);
    }
  }

  private start(nowMs: number): void {
    this.started = true;
    for (const state of this.links.values()) if (state.nextAnnounceAtMs !== Infinity) state.nextAnnounceAtMs = nowMs + this.jitterMs(announceIntervalMs / 5);
  }

  private jitterMs(spanMs: number): number {
    const bytes = this.config.random(2);
    return (((bytes[0]! << 8) | bytes[1]!) / 0x10000) * spanMs;
  }

  private toMesh(nowMs: number, input: MeshInput): void {
    const output = this.mesh.handle(nowMs, input);
    for (const transmit of output.sends) this.sealForLink(nowMs, transmit);
    const delivered: { src: NodeId; payload: Uint8Array; hopLimit: number }[] = [];
    for (const event of output.events) {
      // The end-to-end layer is done with the payload (a view into `opened`) within this call.
      if (event.kind === 'delivered' && this.endToEnd !== null) delivered.push({ src: event.src, payload: event.payload, hopLimit: event.hopLimit });
      else this.events.push(this.ownedByCaller(event));
      if (event.kind === 'neighbourDown' || event.kind === 'neighbourUp') this.notePeerLiveness(nowMs, event.link, event.kind === 'neighbourDown');
    }
    this.meshDeadlineMs = output.nextDeadlineMs;
    for (const { src, payload, hopLimit } of delivered) this.sendEndToEnd(nowMs, (out) => this.endToEnd!.receive(nowMs, src, payload, out), hopLimit);
  }

  /** `event`, with a payload of its own when it is a view into `opened` (the application keeps what it is delivered). */
  private ownedByCaller(event: MeshEvent): MeshEvent {
    if (event.kind !== 'delivered' || event.payload.buffer !== this.opened.buffer) return event;
    return { ...event, payload: event.payload.slice() };
  }

  /** A session whose neighbour went silent: announce on its link again (see LinkState.peerSilent). */
  private notePeerLiveness(nowMs: number, link: LinkId, silent: boolean): void {
    const state = this.links.get(link);
    if (state === undefined || state.peerSilent === silent) return;
    state.peerSilent = silent;
    this.linkStateChanged = true;
    if (!silent || state.current === null) return;
    state.announceBackoffMs = announceIntervalMs;
    state.nextAnnounceAtMs = nowMs + this.jitterMs(announceIntervalMs);
  }

  /** Runs one end-to-end step, routes what it wants sent, and reports what it delivered. */
  private sendEndToEnd(nowMs: number, step: (out: E2eOutput) => void, hopLimit = 0): void {
    const out: E2eOutput = { toMesh: [], delivered: [] };
    step(out);
    for (const { src, payload, id } of out.delivered) this.events.push({ kind: 'delivered', src, id, payload, hopLimit });
    for (const { dst, payload, id } of out.toMesh) this.toMesh(nowMs, { kind: 'send', dst, id, payload });
  }

  private sealForLink(nowMs: number, transmit: Transmit): void {
    const session = this.links.get(transmit.link)?.current?.session;
    if (session === undefined || session.isExpired(nowMs)) {
      this.stats.droppedNoSession++;
      if (transmit.data !== undefined) this.mesh.dataNotSent(transmit.link, transmit.data);
      return;
    }
    if (transmit.bytes.length > meshPacketBytesMax) {
      this.stats.droppedTooLarge++;
      if (transmit.data !== undefined) this.mesh.dataNotSent(transmit.link, transmit.data);
      return;
    }
    const frame = this.keys.data.seal(nowMs, session, transmit.bytes);
    this.sends.push(transmit.data === undefined ? { link: transmit.link, bytes: frame } : { link: transmit.link, bytes: frame, data: transmit.data });
  }

  private sendHandshake(link: LinkId, message: Uint8Array, opensFlow: boolean): void {
    for (const bytes of sealHandshakeMessage(this.keys, this.config.random, message, { opensFlow })) this.sends.push({ link, bytes });
  }

  private onDatagram(nowMs: number, link: LinkId, bytes: Uint8Array): void {
    const state = this.links.get(link);
    if (state === undefined) return;
    const received = this.receiver.receive(nowMs, bytes, link, this.isReceiverIndex);
    // Cookies and handshake messages move a link's handshake on; refusals and data do not.
    if (received.kind === 'cookie' || received.kind === 'handshake') this.linkStateChanged = true;
    switch (received.kind) {
      case 'refused':
        this.stats.framesRefused++;
        return;
      case 'pending':
        return;
      case 'data':
        this.onData(nowMs, state, received.receiverIndex, received.counter, received.sealed);
        return;
      case 'cookie':
        if (state.pending !== null) this.guard(() => this.onCookie(nowMs, state, received.message));
        return;
      case 'handshake':
        this.onHandshakeMessage(nowMs, state, received.message);
        return;
    }
  }

  /** Keeps the responder's cookie for this link, for this attempt and the retries after it. */
  private onCookie(nowMs: number, state: LinkState, reply: Uint8Array): void {
    const pending = state.pending!;
    consumeCookieReply(pending, reply, nowMs);
    state.cookie = pending.cookie;
    state.cookieUntilMs = pending.cookieUntilMs;
  }

  /** Runs a handshake step; a HandshakeError is counted, never thrown (the peer hears nothing). */
  private guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.stats.handshakesRefused++;
    }
  }

  private onHandshakeMessage(nowMs: number, state: LinkState, message: Uint8Array): void {
    switch (message[0]) {
      case credentialMessageType:
        this.onCredential(nowMs, state, message.subarray(1));
        return;
      case MessageType.initiation:
        this.onInitiation(nowMs, state, message);
        return;
      case MessageType.response:
        this.guard(() => this.onResponse(nowMs, state, message));
        return;
      default:
        this.stats.handshakesRefused++;
    }
  }

  /** The peer behind `certificate` if it verifies now and names a node; null (counted) otherwise. */
  private verifiedPeer(nowMs: number, certificate: Uint8Array): PeerBinding | null {
    try {
      const binding = bindPeer(this.config.verifier.verify(certificate, nowMs), certificate);
      if (binding !== null) return binding;
    } catch {
      // counted below
    }
    this.stats.credentialsRefused++;
    return null;
  }

  /**
   * A certificate announcement. It only names whom we would initiate to: anyone holding the
   * network key can send one, so it never changes who an existing session speaks for.
   */
  private onCredential(nowMs: number, state: LinkState, certificate: Uint8Array): void {
    const peer = this.verifiedPeer(nowMs, certificate);
    // Our own announcement, come back (a LAN discovery beacon, a loop in the network): nobody to talk to.
    if (peer === null || keyHash(peer.credential.staticPublicKey) === this.ownKeyHash) return;
    state.candidate = peer;
    // The peer announces only while it has no session with us: it may have restarted and lost
    // our certificate too, so it hears ours, at most once an interval.
    if (nowMs >= state.lastAnnouncedAtMs + announceIntervalMs) this.announce(nowMs, state);
    if (state.pending !== null) return;
    const weInitiate = this.ownKeyHash < keyHash(peer.credential.staticPublicKey);
    state.initiateAtMs = Math.min(state.initiateAtMs, weInitiate ? nowMs : nowMs + initiationFallbackMs);
  }

  private onInitiation(nowMs: number, state: LinkState, message: Uint8Array): void {
    const outcome = this.responder.handleInitiation(message, new TextEncoder().encode(String(state.link)), nowMs, () => this.underLoad(nowMs));
    if (outcome.kind === 'drop') {
      this.stats.handshakesRefused++;
      return;
    }
    if (outcome.kind === 'cookie') {
      this.sends.push({ link: state.link, bytes: sealCookieFrame(this.keys, this.config.random, outcome.message) });
      return;
    }
    const peer = bindPeer(outcome.peer, outcome.certificate);
    if (peer === null) {
      this.stats.credentialsRefused++;
      return;
    }
    state.initiateAtMs = Infinity;
    const entry: SessionEntry = { state, session: new Session(outcome.keys), peer };
    this.sessions.set(entry.session.localIndex, entry);
    state.waitingConfirmation = entry;
    this.sendHandshake(state.link, outcome.message, false);
  }

  private underLoad(nowMs: number): boolean {
    const window = this.initiationWindow;
    if (nowMs - window.startMs >= 1000) {
      window.startMs = nowMs;
      window.count = 0;
    }
    window.count++;
    return window.count > initiationsPerSecondUnderLoad;
  }

  private onResponse(nowMs: number, state: LinkState, message: Uint8Array): void {
    if (state.pending === null || state.pendingPeer === null) return;
    const entry: SessionEntry = { state, session: new Session(consumeResponse(this.config, state.pending, message, nowMs)), peer: state.pendingPeer };
    state.pending = null;
    state.pendingPeer = null;
    this.sessions.set(entry.session.localIndex, entry);
    this.promote(state, entry);
    // An empty packet confirms the session to the responder at once (WireGuard's keepalive).
    this.sealForLink(nowMs, { link: state.link, bytes: new Uint8Array(0) });
  }

  private promote(state: LinkState, entry: SessionEntry): void {
    // The previous session stays registered for packets still in flight; expireSessions drops it.
    if (state.current !== null) this.stats.rekeys++;
    state.current = entry;
    state.initiateAtMs = Infinity;
    state.announceBackoffMs = announceIntervalMs;
    this.stats.handshakesCompleted++;
  }

  private wipeOpened(): void {
    this.opened.fill(0, 0, this.openedBytes);
    this.openedBytes = 0;
  }

  /** Whether a data frame's receiver index names one of our sessions (the key ring's test between look-alikes). */
  private readonly isReceiverIndex = (index: number): boolean => this.sessions.has(index);

  private onData(nowMs: number, state: LinkState, receiverIndex: number, counter: number, sealed: Uint8Array): void {
    const entry = this.sessions.get(receiverIndex);
    if (entry?.state !== state) {
      this.stats.openFailures++;
      return;
    }
    let plaintext: Uint8Array | null;
    try {
      // A data frame's sealed bytes are shorter than a datagram, so they always fit `opened`.
      this.openedBytes = entry.session.openInto(nowMs, counter, sealed, this.opened);
      plaintext = this.keys.data.unpad(this.opened.subarray(0, this.openedBytes));
    } catch {
      plaintext = null;
    }
    if (plaintext === null) {
      this.stats.openFailures++;
      return;
    }
    if (state.waitingConfirmation === entry) {
      state.waitingConfirmation = null;
      this.promote(state, entry);
      this.linkStateChanged = true;
    }
    if (plaintext.length === 0) return;
    if (plaintext[0]! >= linkMessageTypeMin) {
      // A link message speaks for this session's peer; the driver keeps its own copy.
      this.events.push({ kind: 'linkMessage', link: state.link, peer: entry.peer.nodeId, payload: plaintext.slice() });
      return;
    }
    // The routing core drops Hellos and probes that claim another node than this session's peer.
    this.mesh.pinPeer(state.link, entry.peer.nodeId);
    this.toMesh(nowMs, { kind: 'datagram', link: state.link, bytes: plaintext });
    this.stats.senderMismatch = this.mesh.stats.senderMismatch;
  }

  private runTimers(nowMs: number): void {
    if (this.linkStateChanged || nowMs >= this.linkDeadlineMs) this.runLinkTimers(nowMs);
    if (this.endToEnd !== null && nowMs >= this.endToEnd.nextDeadlineMs()) this.sendEndToEnd(nowMs, (out) => this.endToEnd!.onTimer(nowMs, out));
  }

  private runLinkTimers(nowMs: number): void {
    if (nowMs >= this.nextRecheckAtMs) this.recheckPeers(nowMs);
    for (const state of this.links.values()) {
      this.announceIfDue(nowMs, state);
      this.initiateIfDue(nowMs, state);
    }
    this.expireSessions(nowMs);
    // Anything these timers changed is in the deadline computed at the end of this call.
    this.linkStateChanged = true;
  }

  /** Tears down sessions whose peer's certificate no longer verifies (revoked, expired). */
  private recheckPeers(nowMs: number): void {
    this.nextRecheckAtMs = nowMs + peerRecheckMs;
    for (const [index, entry] of this.sessions) {
      try {
        this.config.verifier.verify(entry.peer.certificate, nowMs);
      } catch {
        // Sessions already replaced only go away; counting them would report every renewal.
        if (entry.state.current === entry || entry.state.waitingConfirmation === entry) this.stats.peersDropped++;
        this.dropSession(index, entry, nowMs);
      }
    }
  }

  private dropSession(index: number, entry: SessionEntry, nowMs: number): void {
    this.sessions.delete(index);
    const state = entry.state;
    if (state.waitingConfirmation === entry) state.waitingConfirmation = null;
    if (state.current === entry) {
      state.current = null;
      state.nextAnnounceAtMs = nowMs;
    }
  }

  private announceIfDue(nowMs: number, state: LinkState): void {
    if (nowMs < state.nextAnnounceAtMs) return;
    if (state.current !== null && !state.peerSilent) {
      state.nextAnnounceAtMs = Infinity;
      return;
    }
    state.nextAnnounceAtMs = nowMs + state.announceBackoffMs + this.jitterMs(state.announceBackoffMs / 5);
    state.announceBackoffMs = Math.min(announceIntervalMaxMs, state.announceBackoffMs * 2);
    this.announce(nowMs, state);
  }

  private announce(nowMs: number, state: LinkState): void {
    state.lastAnnouncedAtMs = nowMs;
    this.sendHandshake(state.link, this.credentialMessage(), true);
  }

  private credentialMessage(): Uint8Array {
    const message = new Uint8Array(1 + this.config.local.certificate.length);
    message[0] = credentialMessageType;
    message.set(this.config.local.certificate, 1);
    return message;
  }

  /**
   * This node's certificate announcement as sealed frames, for a driver to send where no link
   * exists yet (a LAN discovery beacon). Whoever holds the network key and receives them answers
   * on the link the frames arrived from, as to any announcement.
   */
  announcementFrames(): Uint8Array[] {
    return sealHandshakeMessage(this.keys, this.config.random, this.credentialMessage(), { opensFlow: true });
  }

  /** Whom to initiate to now, if anyone: a rekey goes to the current peer, anything else to the candidate. */
  private initiationTarget(nowMs: number, state: LinkState): PeerBinding | null {
    const current = state.current;
    const rekey = current !== null && (state.rekeyRequested || current.session.needsRekey(nowMs)) && state.pending === null;
    const retry = state.pending !== null && nowMs >= state.pendingSentAtMs + handshakeRetryMs;
    const scheduled = nowMs >= state.initiateAtMs && state.pending === null;
    if (rekey && !retry && !scheduled) return current.peer;
    if (!(retry || scheduled)) return null;
    return state.pendingPeer ?? state.candidate;
  }

  private initiateIfDue(nowMs: number, state: LinkState): void {
    const target = this.initiationTarget(nowMs, state);
    if (target === null) return;
    state.initiateAtMs = Infinity;
    state.rekeyRequested = false;
    // Every initiation re-checks the peer's certificate, so a revoked or expired peer is not rekeyed with.
    const peer = this.verifiedPeer(nowMs, target.certificate);
    const pending = peer === null ? null : this.tryInitiation(nowMs, peer);
    if (peer === null || pending === null) {
      // No handshake is possible with this peer: forget it, and whatever session we had with it,
      // so that no deadline stays due without anything to do.
      this.abandonPeer(state, target, nowMs);
      return;
    }
    // A cookie the responder gave this link still applies to a new attempt (it is bound to our address).
    pending.cookie = state.cookie;
    pending.cookieUntilMs = state.cookieUntilMs;
    state.pending = pending;
    state.pendingPeer = peer;
    state.pendingSentAtMs = nowMs;
    this.sendHandshake(state.link, initiationToSend(pending, nowMs), true);
  }

  private tryInitiation(nowMs: number, peer: PeerBinding): PendingInitiation | null {
    try {
      return createInitiation(this.config, peer.credential, nowMs);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.stats.handshakesRefused++;
      return null;
    }
  }

  private abandonPeer(state: LinkState, target: PeerBinding, nowMs: number): void {
    if (state.candidate === target) state.candidate = null;
    state.pending = null;
    state.pendingPeer = null;
    const current = state.current;
    if (current !== null && current.peer === target) {
      this.stats.peersDropped++;
      this.dropSession(current.session.localIndex, current, nowMs);
    }
  }

  private expireSessions(nowMs: number): void {
    for (const [index, entry] of this.sessions) if (entry.session.isExpired(nowMs)) this.dropSession(index, entry, nowMs);
  }

  private nextDeadlineMs(): number {
    if (this.linkStateChanged) {
      this.linkDeadlineMs = this.linkTimersDeadlineMs();
      this.linkStateChanged = false;
    }
    const deadline = Math.min(this.meshDeadlineMs, this.linkDeadlineMs);
    return this.endToEnd === null ? deadline : Math.min(deadline, this.endToEnd.nextDeadlineMs());
  }

  /** When runLinkTimers next has work (see linkDeadlineMs). */
  private linkTimersDeadlineMs(): number {
    let deadline = this.nextRecheckAtMs;
    for (const state of this.links.values()) {
      deadline = Math.min(deadline, state.nextAnnounceAtMs, state.initiateAtMs);
      if (state.pending !== null) deadline = Math.min(deadline, state.pendingSentAtMs + handshakeRetryMs);
      else if (state.current !== null) deadline = Math.min(deadline, rekeyDueAtMs(state.current.session));
    }
    for (const { session } of this.sessions.values()) deadline = Math.min(deadline, session.establishedAtMs + rejectAfterMs);
    return deadline;
  }
}
