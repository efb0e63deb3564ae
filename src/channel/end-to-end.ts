import { consumeResponse, createInitiation, initiationToSend, Responder, type CredentialVerifier, type HandshakeConfig, type PeerCredential, type PendingInitiation } from '../crypto/handshake.js';
import { HandshakeError } from '../crypto/handshake-errors.js';
import { MessageType } from '../crypto/handshake-messages.js';
import { aeadTagBytes } from '../crypto/aead.js';
import { dataPayloadBytesMax } from '../crypto/data-frame.js';
import { sha256 } from '../crypto/hash.js';
import { rejectAfterMs, Session } from '../crypto/session.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import type { NodeId } from '../wire/ids.js';
import { dataHeaderBytes as meshDataHeaderBytes, packetHeaderBytes, tlvHeaderBytes } from '../wire/limits.js';
import { poolBytes } from '../wire/pool-bytes.js';

/**
 * End-to-end sessions between a source and a destination, carried in the payloads of routed
 * Data packets, so that transit nodes forward bytes they can neither read nor alter. The same
 * handshake as on links, with two differences: the peers first swap certificates (a node does
 * not know a far destination's), and the initiation then names its certificate by hash, which
 * keeps it to two fragments.
 */

/** Frame types in the first byte of an end-to-end payload: a fragment of a control message, or sealed data. */
export const E2eFrame = { controlFragment: 3, data: 4 } as const;
/** Kinds of control message (the first byte of a reassembled one). */
export const E2eControl = { credentialRequest: 1, credential: 2, handshake: 3 } as const;
/** Bytes of handshake message per fragment (a fragment must fit one mesh packet with room to spare). */
export const e2eFragmentBytesMax = 1000;
/** Payloads waiting for a session, per destination; more are dropped. */
export const e2eQueuedPayloadsMax = 64;
/** A credential request or an initiation without an answer is repeated after this long. */
export const e2eRetryMs = 2000;
/** Certificates announced to us that an initiation may name by hash. */
export const e2eKnownCertificatesMax = 1024;
/** End-to-end sessions one node keeps (established and awaiting confirmation). */
export const e2eSessionsMax = 4096;
/** Partial handshake messages kept, and how long. */
export const e2eReassembliesMax = 64;
export const e2eReassemblyTimeoutMs = 5000;

/** Packet id of control messages (the application's ids travel inside the sealed data). */
export const e2eControlId = 0xffff_ffff;
/** Bytes of the application datagram id at the start of every sealed data plaintext. */
const appIdBytes = 4;

const certificateReferenceTag = 0x00;
const fragmentHeaderBytes = 1 + 4 + 1 + 1;
const dataHeaderBytes = 1 + 4 + 8;

/**
 * Largest application datagram that travels end to end in one mesh packet: a link datagram's
 * payload (dataPayloadBytesMax, the SecureNode's mesh packet limit) less the mesh packet, TLV and
 * Data headers, less this layer's data header, datagram id and AEAD tag. A larger one is dropped
 * by the mesh; protocols that carry more (the FL bulk transfer) split their messages to fit.
 */
export const e2eApplicationBytesMax = dataPayloadBytesMax - packetHeaderBytes - tlvHeaderBytes - meshDataHeaderBytes - dataHeaderBytes - appIdBytes - aeadTagBytes;

/** What one call produced: payloads to route to destinations, and payloads delivered to the application. */
export interface E2eOutput {
  /** Payloads to route; `id` is the routed packet's id (the application's, or e2eControlId). */
  readonly toMesh: { dst: NodeId; payload: Uint8Array; id: number }[];
  readonly delivered: { src: NodeId; payload: Uint8Array; id: number }[];
}

/** End-to-end counters. */
export interface E2eStats {
  sessionsEstablished: number;
  refused: number;
  droppedQueueFull: number;
}

interface PeerState {
  readonly node: NodeId;
  credential: PeerCredential | null;
  /** The certificate `credential` came from, checked again before every initiation. */
  certificate: Uint8Array | null;
  /** Our index of the session this peer initiated and has not confirmed yet (one at a time). */
  unconfirmedIndex: number | null;
  credentialAskedAtMs: number;
  pending: PendingInitiation | null;
  pendingSentAtMs: number;
  current: Session | null;
  queue: QueuedDatagram[];
}

/** An application datagram waiting for a session. */
interface QueuedDatagram {
  readonly payload: Uint8Array;
  readonly id: number;
}

interface Reassembly {
  readonly count: number;
  readonly parts: Map<number, Uint8Array>;
  readonly deadlineMs: number;
}

/** True when `spiffeId` is the node identity of `node` (false for any other or malformed ID). */
function namesNode(spiffeId: string, node: NodeId): boolean {
  try {
    return nodeIdOfSpiffeId(parseSpiffeId(spiffeId)) === node;
  } catch {
    return false;
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const twoPow32 = 2 ** 32;

/** Writes `value` (0..2^32-1) big-endian at `at`: a DataView per datagram would be an allocation per datagram. */
function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/** Reads a big-endian uint32 at `at` (the caller checked the length). */
function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** The end-to-end layer of one node. */
export class EndToEnd {
  readonly stats: E2eStats = { sessionsEstablished: 0, refused: 0, droppedQueueFull: 0 };
  private readonly peers = new Map<NodeId, PeerState>();
  /** When we last asked a source that sent data for a session we do not have (see askAfterLostSession). */
  private readonly lostSessionAskedAtMs = new Map<NodeId, number>();
  private readonly sessions = new Map<number, { peer: PeerState; session: Session }>();
  private readonly known = new Map<string, Uint8Array>();
  private readonly reassemblies = new Map<string, Reassembly>();
  private readonly responder: Responder;
  private referenceHandshake: HandshakeConfig;
  /**
   * nextDeadlineMs as last computed, or null when something it reads may have changed. Sealing
   * in an established session and opening data change none of it, so a node that sends or
   * receives a stream of datagrams does not rescan its peers and sessions for each one.
   */
  private deadlineMs: number | null = null;

  private config: HandshakeConfig;

  /** An end-to-end layer for the node `config` describes; its handshakes use a prologue of their own, so a link initiation never passes here. */
  constructor(linkConfig: HandshakeConfig) {
    const prologue = concat(new TextEncoder().encode('x0tta6bl4 end-to-end/'), linkConfig.prologue);
    this.config = { ...linkConfig, prologue };
    const ownReference = concat(Uint8Array.of(certificateReferenceTag), sha256(linkConfig.local.certificate));
    this.referenceHandshake = { ...this.config, local: { ...this.config.local, certificate: ownReference } };
    this.responder = new Responder({ ...this.config, verifier: this.resolvingVerifier(linkConfig.verifier) });
  }

  /** Uses a renewed certificate (same keys) in certificate swaps and initiations from now on. */
  renewCertificate(certificate: Uint8Array): void {
    this.config = { ...this.config, local: { ...this.config.local, certificate: certificate.slice() } };
    const reference = concat(Uint8Array.of(certificateReferenceTag), sha256(certificate));
    this.referenceHandshake = { ...this.config, local: { ...this.config.local, certificate: reference } };
  }

  /**
   * Sends `payload` (application datagram `id`) to `dst` end to end: at once when a session
   * exists, else after one is set up. The id travels sealed and is delivered with the payload.
   */
  send(nowMs: number, dst: NodeId, payload: Uint8Array, out: E2eOutput, id = 0): void {
    const peer = this.peer(dst);
    if (peer.current !== null && !peer.current.isExpired(nowMs) && !peer.current.needsRekey(nowMs)) {
      this.seal(nowMs, peer, peer.current, { payload, id }, out);
      return;
    }
    this.deadlineMs = null;
    if (peer.queue.length >= e2eQueuedPayloadsMax) {
      this.stats.droppedQueueFull++;
      return;
    }
    peer.queue.push({ payload, id });
    this.advance(nowMs, peer, out);
  }

  /** Handles an end-to-end payload that the mesh delivered from `src` (as the packet claims). */
  receive(nowMs: number, src: NodeId, payload: Uint8Array, out: E2eOutput): void {
    // Data only opens or confirms a session already counted in the deadline; control messages change it.
    if (payload[0] !== E2eFrame.data) this.deadlineMs = null;
    try {
      this.dispatch(nowMs, src, payload, out);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.stats.refused++;
    }
  }

  /** Repeats unanswered requests and initiations; forgets stale reassemblies. */
  onTimer(nowMs: number, out: E2eOutput): void {
    this.deadlineMs = null;
    for (const peer of this.peers.values()) if (peer.queue.length > 0) this.advance(nowMs, peer, out);
    for (const [key, reassembly] of this.reassemblies) if (nowMs >= reassembly.deadlineMs) this.reassemblies.delete(key);
    this.expireSessions(nowMs);
  }

  private expireSessions(nowMs: number): void {
    for (const [index, { peer, session }] of this.sessions) {
      if (!session.isExpired(nowMs)) continue;
      this.sessions.delete(index);
      if (peer.current === session) peer.current = null;
      if (peer.unconfirmedIndex === index) peer.unconfirmedIndex = null;
    }
  }

  /** When onTimer next has work. */
  nextDeadlineMs(): number {
    this.deadlineMs ??= this.computeDeadlineMs();
    return this.deadlineMs;
  }

  private computeDeadlineMs(): number {
    let deadline = Infinity;
    for (const peer of this.peers.values()) {
      if (peer.queue.length === 0) continue;
      deadline = Math.min(deadline, peer.pending !== null ? peer.pendingSentAtMs + e2eRetryMs : peer.credentialAskedAtMs + e2eRetryMs);
    }
    for (const reassembly of this.reassemblies.values()) deadline = Math.min(deadline, reassembly.deadlineMs);
    for (const { session } of this.sessions.values()) deadline = Math.min(deadline, session.establishedAtMs + rejectAfterMs);
    return deadline;
  }

  private peer(node: NodeId): PeerState {
    let peer = this.peers.get(node);
    if (peer === undefined) {
      peer = { node, credential: null, certificate: null, unconfirmedIndex: null, credentialAskedAtMs: -Infinity, pending: null, pendingSentAtMs: -Infinity, current: null, queue: [] };
      this.peers.set(node, peer);
    }
    return peer;
  }

  /** Next step towards a session with `peer`: ask for its certificate, or initiate. */
  private advance(nowMs: number, peer: PeerState, out: E2eOutput): void {
    // Every initiation re-checks the peer's certificate: a revoked or expired peer gets no new session.
    if (peer.certificate !== null && this.verifiedFrom(nowMs, peer.node, peer.certificate) === null) {
      peer.credential = null;
      peer.certificate = null;
    }
    if (peer.credential === null) {
      if (nowMs < peer.credentialAskedAtMs + e2eRetryMs) return;
      peer.credentialAskedAtMs = nowMs;
      this.sendControl(peer.node, E2eControl.credentialRequest, this.config.local.certificate, out);
      return;
    }
    if (peer.pending !== null && nowMs < peer.pendingSentAtMs + e2eRetryMs) return;
    peer.pending = createInitiation(this.referenceHandshake, peer.credential, nowMs);
    peer.pendingSentAtMs = nowMs;
    this.sendControl(peer.node, E2eControl.handshake, initiationToSend(peer.pending, nowMs), out);
  }

  /** Sends a control message in as many fragments as it needs. */
  private sendControl(dst: NodeId, kind: number, body: Uint8Array, out: E2eOutput): void {
    const message = concat(Uint8Array.of(kind), body);
    const count = Math.ceil(message.length / e2eFragmentBytesMax);
    const id = this.config.random(4);
    for (let index = 0; index < count; index++) {
      const payload = concat(Uint8Array.of(E2eFrame.controlFragment), id, Uint8Array.of(index, count), message.subarray(index * e2eFragmentBytesMax, (index + 1) * e2eFragmentBytesMax));
      out.toMesh.push({ dst, payload, id: e2eControlId });
    }
  }

  /**
   * Seals a datagram (id, then payload), or an empty keepalive when `datagram` is null. The
   * plaintext is laid out in the frame itself and sealed in place: one buffer per datagram, and
   * no plaintext is left behind in a copy.
   */
  private seal(nowMs: number, peer: PeerState, session: Session, datagram: QueuedDatagram | null, out: E2eOutput): void {
    const plaintextBytes = datagram === null ? 0 : appIdBytes + datagram.payload.length;
    const frame = poolBytes(dataHeaderBytes + plaintextBytes + aeadTagBytes);
    const plaintext = frame.subarray(dataHeaderBytes, dataHeaderBytes + plaintextBytes);
    if (datagram !== null) {
      writeU32(plaintext, 0, datagram.id);
      plaintext.set(datagram.payload, appIdBytes);
    }
    const counter = session.sealInto(nowMs, plaintext, frame, dataHeaderBytes);
    frame[0] = E2eFrame.data;
    writeU32(frame, 1, session.remoteIndex);
    writeU32(frame, 5, Math.floor(counter / twoPow32));
    writeU32(frame, 9, counter % twoPow32);
    out.toMesh.push({ dst: peer.node, payload: frame, id: datagram?.id ?? e2eControlId });
  }

  private dispatch(nowMs: number, src: NodeId, payload: Uint8Array, out: E2eOutput): void {
    switch (payload[0]) {
      case E2eFrame.controlFragment:
        this.onFragment(nowMs, src, payload, out);
        return;
      case E2eFrame.data:
        this.onData(nowMs, src, payload, out);
        return;
      default:
        this.stats.refused++;
    }
  }

  /** A verified certificate from `src` whose SPIFFE ID names `src`; null (counted) otherwise. */
  private verifiedFrom(nowMs: number, src: NodeId, certificate: Uint8Array): PeerCredential | null {
    try {
      const credential = this.config.verifier.verify(certificate, nowMs);
      if (namesNode(credential.spiffeId, src)) return credential;
    } catch {
      // refused below
    }
    this.stats.refused++;
    return null;
  }

  /**
   * Data for a session we do not have: we probably restarted and lost it, while `src` still
   * sends in it. Asking for its certificate tells it so (see onCredentialRequest); at most once
   * per e2eRetryMs per source, and for a bounded number of sources.
   */
  private askAfterLostSession(nowMs: number, src: NodeId, out: E2eOutput): void {
    if (nowMs < (this.lostSessionAskedAtMs.get(src) ?? -Infinity) + e2eRetryMs) return;
    if (this.lostSessionAskedAtMs.size >= e2eKnownCertificatesMax) this.lostSessionAskedAtMs.delete(this.lostSessionAskedAtMs.keys().next().value!);
    this.lostSessionAskedAtMs.set(src, nowMs);
    this.sendControl(src, E2eControl.credentialRequest, this.config.local.certificate, out);
  }

  private onCredentialRequest(nowMs: number, src: NodeId, certificate: Uint8Array, out: E2eOutput): void {
    if (this.verifiedFrom(nowMs, src, certificate) === null) return;
    this.remember(certificate);
    this.sendControl(src, E2eControl.credential, this.config.local.certificate, out);
    // A peer asks for our certificate although we hold a session with it: it has lost that
    // session (a restart). Drop ours, so that the next datagram starts a new handshake. The
    // request is not authenticated, so a session at least e2eRetryMs old is dropped, no younger:
    // a forger can cost us a handshake every e2eRetryMs, and no more.
    const peer = this.peers.get(src);
    if (peer?.current != null && nowMs >= peer.current.establishedAtMs + e2eRetryMs) peer.current = null;
  }

  private onCredential(nowMs: number, src: NodeId, certificate: Uint8Array, out: E2eOutput): void {
    const peer = this.peers.get(src);
    const credential = this.verifiedFrom(nowMs, src, certificate);
    if (credential === null) return;
    // Kept even with nothing to send: it answers our request after a lost session, and the peer's
    // next initiation will name this certificate by its hash.
    this.remember(certificate);
    if (peer === undefined || peer.queue.length === 0) return;
    peer.credential = credential;
    peer.certificate = certificate.slice();
    this.advance(nowMs, peer, out);
  }

  private remember(certificate: Uint8Array): void {
    if (this.known.size >= e2eKnownCertificatesMax) this.known.delete(this.known.keys().next().value!);
    this.known.set(hex(sha256(certificate)), certificate.slice());
  }

  /** A verifier that also accepts a certificate named by hash, if that certificate was announced to us. */
  private resolvingVerifier(inner: CredentialVerifier): CredentialVerifier {
    return {
      verify: (certificate, nowMs) => {
        if (certificate.length === 33 && certificate[0] === certificateReferenceTag) {
          const full = this.known.get(hex(certificate.subarray(1)));
          if (full === undefined) throw new Error('certificate named by hash was never announced');
          return inner.verify(full, nowMs);
        }
        return inner.verify(certificate, nowMs);
      },
    };
  }

  private onFragment(nowMs: number, src: NodeId, payload: Uint8Array, out: E2eOutput): void {
    if (payload.length <= fragmentHeaderBytes) throw new HandshakeError('ERR_HANDSHAKE_FORMAT', 'end-to-end fragment: no body');
    const [index, count] = [payload[5]!, payload[6]!];
    if (count === 0 || index >= count || count > 32) throw new HandshakeError('ERR_HANDSHAKE_FORMAT', `end-to-end fragment ${index} of ${count}`);
    const key = `${src}/${hex(payload.subarray(1, 5))}`;
    let reassembly = this.reassemblies.get(key);
    if (reassembly === undefined) {
      if (this.reassemblies.size >= e2eReassembliesMax) throw new HandshakeError('ERR_HANDSHAKE_FORMAT', 'end-to-end reassembly limit');
      reassembly = { count, parts: new Map(), deadlineMs: nowMs + e2eReassemblyTimeoutMs };
      this.reassemblies.set(key, reassembly);
    }
    if (reassembly.count !== count) throw new HandshakeError('ERR_HANDSHAKE_FORMAT', 'end-to-end fragments disagree on their count');
    reassembly.parts.set(index, payload.slice(fragmentHeaderBytes));
    if (reassembly.parts.size < count) return;
    this.reassemblies.delete(key);
    const message = concat(...Array.from({ length: count }, (_, i) => reassembly.parts.get(i)!));
    this.onControl(nowMs, src, message, out);
  }

  private onControl(nowMs: number, src: NodeId, message: Uint8Array, out: E2eOutput): void {
    const body = message.subarray(1);
    if (message[0] === E2eControl.credentialRequest) this.onCredentialRequest(nowMs, src, body, out);
    else if (message[0] === E2eControl.credential) this.onCredential(nowMs, src, body, out);
    else if (message[0] === E2eControl.handshake) this.onHandshake(nowMs, src, body, out);
    else throw new HandshakeError('ERR_HANDSHAKE_FORMAT', `end-to-end control message of kind ${message[0]}`);
  }

  private onHandshake(nowMs: number, src: NodeId, message: Uint8Array, out: E2eOutput): void {
    if (message[0] === MessageType.initiation) this.onInitiation(nowMs, src, message, out);
    else if (message[0] === MessageType.response) this.onResponse(nowMs, src, message, out);
    else throw new HandshakeError('ERR_HANDSHAKE_FORMAT', `end-to-end handshake message of type ${message[0]}`);
  }

  private onInitiation(nowMs: number, src: NodeId, message: Uint8Array, out: E2eOutput): void {
    if (this.sessions.size >= e2eSessionsMax) throw new HandshakeError('ERR_HANDSHAKE_STATE', `end-to-end: already ${e2eSessionsMax} sessions`);
    const outcome = this.responder.handleInitiation(message, new TextEncoder().encode(String(src)), nowMs, false);
    if (outcome.kind !== 'response') throw outcome.kind === 'drop' ? outcome.error : new HandshakeError('ERR_HANDSHAKE_STATE', 'unexpected cookie');
    if (!namesNode(outcome.peer.spiffeId, src)) throw new HandshakeError('ERR_HANDSHAKE_CERTIFICATE', 'initiator is not the node the packet names');
    const peer = this.peer(src);
    peer.credential = outcome.peer;
    peer.certificate = outcome.certificate.slice();
    // One unconfirmed session per peer: a newer initiation replaces the one never confirmed.
    if (peer.unconfirmedIndex !== null) this.sessions.delete(peer.unconfirmedIndex);
    peer.unconfirmedIndex = outcome.keys.localIndex;
    this.sessions.set(outcome.keys.localIndex, { peer, session: new Session(outcome.keys) });
    this.sendControl(src, E2eControl.handshake, outcome.message, out);
  }

  private onResponse(nowMs: number, src: NodeId, message: Uint8Array, out: E2eOutput): void {
    const peer = this.peers.get(src);
    if (peer?.pending == null) throw new HandshakeError('ERR_HANDSHAKE_STATE', 'end-to-end response without an initiation');
    const session = new Session(consumeResponse(this.referenceHandshake, peer.pending, message, nowMs));
    peer.pending = null;
    this.establish(peer, session);
    const queued: (QueuedDatagram | null)[] = peer.queue.length > 0 ? peer.queue : [null];
    peer.queue = [];
    for (const datagram of queued) this.seal(nowMs, peer, session, datagram, out);
  }

  private establish(peer: PeerState, session: Session): void {
    peer.current = session;
    this.sessions.set(session.localIndex, { peer, session });
    this.stats.sessionsEstablished++;
  }

  private onData(nowMs: number, src: NodeId, payload: Uint8Array, out: E2eOutput): void {
    if (payload.length < dataHeaderBytes) throw new HandshakeError('ERR_HANDSHAKE_FORMAT', 'end-to-end data frame too short');
    const entry = this.sessions.get(readU32(payload, 1));
    if (entry === undefined) {
      this.askAfterLostSession(nowMs, src, out);
      throw new HandshakeError('ERR_HANDSHAKE_STATE', 'end-to-end data for an unknown session');
    }
    let plaintext: Uint8Array;
    try {
      // Counters of 2^53 and more come out inexact, and the session refuses them (from 2^52) all the same.
      plaintext = entry.session.open(nowMs, readU32(payload, 5) * twoPow32 + readU32(payload, 9), payload.subarray(dataHeaderBytes));
    } catch {
      throw new HandshakeError('ERR_HANDSHAKE_DECRYPT', 'end-to-end data does not open');
    }
    if (!entry.session.isInitiator && entry.peer.current !== entry.session) {
      if (entry.peer.unconfirmedIndex === entry.session.localIndex) entry.peer.unconfirmedIndex = null;
      this.establish(entry.peer, entry.session);
    }
    if (plaintext.length === 0) return; // a keepalive: it confirmed the session
    if (plaintext.length < appIdBytes) throw new HandshakeError('ERR_HANDSHAKE_FORMAT', 'end-to-end data shorter than its datagram id');
    const id = readU32(plaintext, 0);
    // The sender is the session's authenticated peer, whatever the packet's source field said.
    out.delivered.push({ src: entry.peer.node, payload: plaintext.subarray(appIdBytes), id });
  }
}
