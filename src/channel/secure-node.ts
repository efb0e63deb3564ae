import { consumeCookieReply, consumeResponse, createInitiation, initiationToSend, Responder, type HandshakeConfig, type PeerCredential, type PendingInitiation } from '../crypto/handshake.js';
import { HandshakeError } from '../crypto/handshake-errors.js';
import { MessageType } from '../crypto/handshake-messages.js';
import { sha256 } from '../crypto/hash.js';
import { aeadTagBytes } from '../crypto/aead.js';
import { dataBodyBytesMax, deriveObfuscationKeys, FrameReceiver, sealDataFrame, sealHandshakeMessage, type ObfuscationKeys } from '../crypto/obfuscation.js';
import { rejectAfterMs, rekeyAfterMs, rekeyResponderGraceMs, Session } from '../crypto/session.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import { EndToEnd, type E2eOutput } from './end-to-end.js';
import { repackPacket } from './repack.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { MeshNode } from '../mesh/node.js';
import type { MeshEvent, MeshInput, MeshOutput, Transmit } from '../mesh/types.js';
import { decodePacket } from '../wire/codec.js';
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

/** Above this many initiations in one second a node answers new ones with cookies first (WireGuard's under-load mode). */
export const initiationsPerSecondUnderLoad = 100;

/** Largest mesh packet one data frame carries; larger ones are split into whole TLVs (repackPacket). */
export const meshPacketBytesMax = dataBodyBytesMax - aeadTagBytes;

/** Counters of the secure layer. */
export interface ChannelStats {
  handshakesCompleted: number;
  handshakesRefused: number;
  credentialsRefused: number;
  framesRefused: number;
  openFailures: number;
  droppedNoSession: number;
  /** Mesh packets that no split makes fit a data frame (a single TLV larger than meshPacketBytesMax). */
  droppedTooLarge: number;
  senderMismatch: number;
}

/** Setup of one secure node. */
export interface SecureNodeConfig {
  readonly mesh: MeshNode;
  readonly links: readonly LinkId[];
  readonly handshake: HandshakeConfig;
  readonly networkKey: Uint8Array;
  /** Send application datagrams through end-to-end sessions (transit nodes cannot read them). */
  readonly endToEnd?: boolean;
}

/** One link's security state. */
interface LinkState {
  readonly link: LinkId;
  peer: PeerCredential | null;
  peerNodeId: NodeId | null;
  pending: PendingInitiation | null;
  pendingSentAtMs: number;
  current: Session | null;
  waitingConfirmation: Session | null;
  nextAnnounceAtMs: number;
  lastAnnouncedAtMs: number;
  /** Announcements back off (doubling up to announceIntervalMaxMs) while nobody answers. */
  announceBackoffMs: number;
  initiateAtMs: number;
}

function newLinkState(link: LinkId): LinkState {
  return { link, peer: null, peerNodeId: null, pending: null, pendingSentAtMs: 0, current: null, waitingConfirmation: null, nextAnnounceAtMs: 0, lastAnnouncedAtMs: -Infinity, announceBackoffMs: announceIntervalMs, initiateAtMs: Infinity };
}

/** When `session` asks for a rekey by time (initiators first; responders after a grace). */
function rekeyDueAtMs(session: Session): number {
  return session.establishedAtMs + rekeyAfterMs + (session.isInitiator ? 0 : rekeyResponderGraceMs);
}

function keyHash(staticPublicKey: Uint8Array): string {
  return Buffer.from(sha256(staticPublicKey)).toString('hex');
}

/** A MeshNode behind the secure link layer; `handle` has the MeshNode's contract. */
export class SecureNode {
  readonly stats: ChannelStats = { handshakesCompleted: 0, handshakesRefused: 0, credentialsRefused: 0, framesRefused: 0, openFailures: 0, droppedNoSession: 0, droppedTooLarge: 0, senderMismatch: 0 };
  readonly mesh: MeshNode;
  private readonly config: HandshakeConfig;
  private readonly keys: ObfuscationKeys;
  private readonly receiver: FrameReceiver;
  private readonly responder: Responder;
  private readonly links = new Map<LinkId, LinkState>();
  private readonly sessions = new Map<number, { state: LinkState; session: Session }>();
  private readonly ownKeyHash: string;
  /** The end-to-end layer, or null when application datagrams travel as plain mesh payloads. */
  readonly endToEnd: EndToEnd | null;
  private sends: Transmit[] = [];
  private events: MeshEvent[] = [];
  private meshDeadlineMs = 0;
  /** Initiations seen in the current one-second window, for the under-load decision. */
  private initiationWindow = { startMs: -Infinity, count: 0 };
  private started = false;

  constructor(config: SecureNodeConfig) {
    this.mesh = config.mesh;
    this.config = config.handshake;
    this.keys = deriveObfuscationKeys(config.networkKey);
    this.receiver = new FrameReceiver(this.keys);
    this.responder = new Responder(config.handshake);
    this.ownKeyHash = keyHash(config.handshake.local.staticKey.publicKey);
    for (const link of config.links) this.links.set(link, newLinkState(link));
    this.endToEnd = config.endToEnd === true ? new EndToEnd(config.handshake) : null;
  }

  /** Processes one input as MeshNode.handle does; the returned arrays are fresh each call. */
  handle(nowMs: number, input: MeshInput): MeshOutput {
    this.sends = [];
    this.events = [];
    if (!this.started) this.start(nowMs);
    if (input.kind === 'datagram') {
      this.onDatagram(nowMs, input.link, input.bytes);
    } else if (input.kind === 'send' && this.endToEnd !== null) {
      this.sendEndToEnd(nowMs, (out) => this.endToEnd!.send(nowMs, input.dst, input.payload, out));
    } else {
      this.updateLinks(nowMs, input);
      this.toMesh(nowMs, input);
    }
    this.runTimers(nowMs);
    if (nowMs >= this.meshDeadlineMs) this.toMesh(nowMs, { kind: 'timer' });
    return { sends: this.sends, events: this.events, nextDeadlineMs: this.nextDeadlineMs() };
  }

  /** The authenticated peer on `link`, or null. */
  peerOf(link: LinkId): string | null {
    return this.links.get(link)?.peer?.spiffeId ?? null;
  }

  /** Whether `link` has a session that can carry the mesh's packets. */
  isSecured(link: LinkId): boolean {
    return this.links.get(link)?.current != null;
  }

  private updateLinks(nowMs: number, input: MeshInput): void {
    if (input.kind === 'addLink' && !this.links.has(input.link)) {
      const state = newLinkState(input.link);
      state.nextAnnounceAtMs = nowMs;
      this.links.set(input.link, state);
    } else if (input.kind === 'removeLink') {
      this.links.delete(input.link);
      for (const [index, entry] of this.sessions) if (entry.state.link === input.link) this.sessions.delete(index);
    }
  }

  private start(nowMs: number): void {
    this.started = true;
    for (const state of this.links.values()) state.nextAnnounceAtMs = nowMs + this.jitterMs(announceIntervalMs / 5);
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
      if (event.kind === 'delivered' && this.endToEnd !== null) delivered.push({ src: event.src, payload: event.payload.slice(), hopLimit: event.hopLimit });
      else this.events.push(event);
    }
    this.meshDeadlineMs = output.nextDeadlineMs;
    for (const { src, payload, hopLimit } of delivered) this.sendEndToEnd(nowMs, (out) => this.endToEnd!.receive(nowMs, src, payload, out), hopLimit);
  }

  /** Runs one end-to-end step, routes what it wants sent, and reports what it delivered. */
  private sendEndToEnd(nowMs: number, step: (out: E2eOutput) => void, hopLimit = 0): void {
    const out: E2eOutput = { toMesh: [], delivered: [] };
    step(out);
    for (const { src, payload } of out.delivered) this.events.push({ kind: 'delivered', src, id: 0, payload, hopLimit });
    for (const { dst, payload } of out.toMesh) this.toMesh(nowMs, { kind: 'send', dst, id: 0, payload });
  }

  private sealForLink(nowMs: number, transmit: Transmit): void {
    const session = this.links.get(transmit.link)?.current;
    if (session == null || session.isExpired(nowMs)) {
      this.stats.droppedNoSession++;
      return;
    }
    const packets = transmit.bytes.length <= meshPacketBytesMax ? [transmit.bytes] : repackPacket(transmit.bytes, meshPacketBytesMax);
    if (packets === null) {
      this.stats.droppedTooLarge++;
      return;
    }
    for (const packet of packets) {
      const { counter, sealed } = session.seal(nowMs, packet);
      const frame = sealDataFrame(this.keys, this.config.random, { receiverIndex: session.remoteIndex, counter, sealed });
      this.sends.push(transmit.data === undefined ? { link: transmit.link, bytes: frame } : { link: transmit.link, bytes: frame, data: transmit.data });
    }
  }

  private sendHandshake(link: LinkId, message: Uint8Array, opensFlow: boolean): void {
    for (const bytes of sealHandshakeMessage(this.keys, this.config.random, message, { opensFlow })) this.sends.push({ link, bytes });
  }

  private onDatagram(nowMs: number, link: LinkId, bytes: Uint8Array): void {
    const state = this.links.get(link);
    if (state === undefined) return;
    const received = this.receiver.receive(nowMs, bytes, String(link));
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
        if (state.pending !== null) this.guard(() => consumeCookieReply(state.pending!, received.message, nowMs));
        return;
      case 'handshake':
        this.onHandshakeMessage(nowMs, state, received.message);
        return;
    }
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

  private onCredential(nowMs: number, state: LinkState, certificate: Uint8Array): void {
    let peer: PeerCredential;
    try {
      peer = this.config.verifier.verify(certificate, nowMs);
    } catch {
      this.stats.credentialsRefused++;
      return;
    }
    this.adoptPeer(state, peer);
    // The peer announces only while it has no session with us: whatever we hold, it lost, and it
    // may not know our certificate either (it restarted), so it hears ours, at most once an interval.
    if (nowMs >= state.lastAnnouncedAtMs + announceIntervalMs) this.announce(nowMs, state);
    if (state.pending !== null) return;
    const weInitiate = this.ownKeyHash < keyHash(peer.staticPublicKey);
    state.initiateAtMs = Math.min(state.initiateAtMs, weInitiate ? nowMs : nowMs + initiationFallbackMs);
  }

  private adoptPeer(state: LinkState, peer: PeerCredential): void {
    if (state.peer !== null && state.peer.spiffeId === peer.spiffeId && Buffer.from(state.peer.staticPublicKey).equals(peer.staticPublicKey)) return;
    state.peer = peer;
    state.peerNodeId = nodeIdOfSpiffeId(parseSpiffeId(peer.spiffeId));
  }

  private onInitiation(nowMs: number, state: LinkState, message: Uint8Array): void {
    const outcome = this.responder.handleInitiation(message, new TextEncoder().encode(String(state.link)), nowMs, this.underLoad(nowMs));
    if (outcome.kind === 'drop') {
      this.stats.handshakesRefused++;
      return;
    }
    if (outcome.kind === 'cookie') {
      this.sendHandshake(state.link, outcome.message, false);
      return;
    }
    this.adoptPeer(state, outcome.peer);
    state.initiateAtMs = Infinity;
    const session = new Session(outcome.keys);
    this.register(state, session);
    state.waitingConfirmation = session;
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
    if (state.pending === null) return;
    const session = new Session(consumeResponse(this.config, state.pending, message, nowMs));
    state.pending = null;
    this.register(state, session);
    this.promote(state, session);
    // An empty packet confirms the session to the responder at once (WireGuard's keepalive).
    this.sealForLink(nowMs, { link: state.link, bytes: new Uint8Array(0) });
  }

  private register(state: LinkState, session: Session): void {
    this.sessions.set(session.localIndex, { state, session });
  }

  private promote(state: LinkState, session: Session): void {
    const previous = state.current;
    state.current = session;
    state.initiateAtMs = Infinity;
    this.stats.handshakesCompleted++;
    // The previous session stays registered for packets still in flight; expireSessions drops it.
    void previous;
    state.announceBackoffMs = announceIntervalMs;
  }

  private onData(nowMs: number, state: LinkState, receiverIndex: number, counter: number, sealed: Uint8Array): void {
    const entry = this.sessions.get(receiverIndex);
    if (entry === undefined || entry.state !== state) {
      this.stats.openFailures++;
      return;
    }
    let plaintext: Uint8Array;
    try {
      plaintext = entry.session.open(nowMs, counter, sealed);
    } catch {
      this.stats.openFailures++;
      return;
    }
    if (state.waitingConfirmation === entry.session) {
      state.waitingConfirmation = null;
      this.promote(state, entry.session);
    }
    if (plaintext.length === 0) return;
    if (!this.senderMatches(state, plaintext)) {
      this.stats.senderMismatch++;
      return;
    }
    this.toMesh(nowMs, { kind: 'datagram', link: state.link, bytes: plaintext });
  }

  /** The NodeId a neighbour claims in Hellos and probes must be the one its SVID names. */
  private senderMatches(state: LinkState, packet: Uint8Array): boolean {
    let tlvs;
    try {
      tlvs = decodePacket(packet);
    } catch {
      return true; // the routing core counts it as a decode error
    }
    for (const tlv of tlvs) {
      if ((tlv.type === 'hello' || tlv.type === 'probe') && tlv.sender !== state.peerNodeId) return false;
    }
    return true;
  }

  private runTimers(nowMs: number): void {
    for (const state of this.links.values()) {
      this.announceIfDue(nowMs, state);
      this.initiateIfDue(nowMs, state);
    }
    this.expireSessions(nowMs);
    if (this.endToEnd !== null && nowMs >= this.endToEnd.nextDeadlineMs()) this.sendEndToEnd(nowMs, (out) => this.endToEnd!.onTimer(nowMs, out));
  }

  private announceIfDue(nowMs: number, state: LinkState): void {
    if (nowMs < state.nextAnnounceAtMs) return;
    if (state.current !== null) {
      state.nextAnnounceAtMs = Infinity;
      return;
    }
    state.nextAnnounceAtMs = nowMs + state.announceBackoffMs + this.jitterMs(state.announceBackoffMs / 5);
    state.announceBackoffMs = Math.min(announceIntervalMaxMs, state.announceBackoffMs * 2);
    this.announce(nowMs, state);
  }

  private announce(nowMs: number, state: LinkState): void {
    state.lastAnnouncedAtMs = nowMs;
    const message = new Uint8Array(1 + this.config.local.certificate.length);
    message[0] = credentialMessageType;
    message.set(this.config.local.certificate, 1);
    this.sendHandshake(state.link, message, true);
  }

  private initiateIfDue(nowMs: number, state: LinkState): void {
    const rekey = state.current !== null && state.current.needsRekey(nowMs) && state.pending === null;
    const retry = state.pending !== null && nowMs >= state.pendingSentAtMs + handshakeRetryMs;
    const scheduled = nowMs >= state.initiateAtMs && state.pending === null;
    if (!(rekey || retry || scheduled) || state.peer === null) return;
    state.pending = createInitiation(this.config, state.peer, nowMs);
    state.pendingSentAtMs = nowMs;
    state.initiateAtMs = Infinity;
    this.sendHandshake(state.link, initiationToSend(state.pending, nowMs), true);
  }

  private expireSessions(nowMs: number): void {
    for (const [index, { state, session }] of this.sessions) {
      if (!session.isExpired(nowMs)) continue;
      this.sessions.delete(index);
      if (state.current === session) {
        state.current = null;
        state.nextAnnounceAtMs = nowMs;
      }
    }
  }

  private nextDeadlineMs(): number {
    let deadline = this.meshDeadlineMs;
    for (const state of this.links.values()) {
      deadline = Math.min(deadline, state.nextAnnounceAtMs, state.initiateAtMs);
      if (state.pending !== null) deadline = Math.min(deadline, state.pendingSentAtMs + handshakeRetryMs);
      else if (state.current !== null) deadline = Math.min(deadline, rekeyDueAtMs(state.current));
    }
    for (const { session } of this.sessions.values()) deadline = Math.min(deadline, session.establishedAtMs + rejectAfterMs);
    if (this.endToEnd !== null) deadline = Math.min(deadline, this.endToEnd.nextDeadlineMs());
    return deadline;
  }
}
