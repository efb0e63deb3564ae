import type { PeerCredential, PendingInitiation } from '../crypto/handshake.js';
import { sha256 } from '../crypto/hash.js';
import type { Session } from '../crypto/session.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { NodeId } from '../wire/ids.js';

/** A verified peer: its credential, the certificate it came from (for rechecks) and the NodeId its SPIFFE ID names. */
export interface PeerBinding {
  readonly credential: PeerCredential;
  readonly certificate: Uint8Array;
  readonly nodeId: NodeId;
}

/** A session and the peer it was established with; packets that open in it speak for that peer only. */
export interface SessionEntry {
  readonly state: LinkState;
  readonly session: Session;
  readonly peer: PeerBinding;
}

/** One link's security state. */
export interface LinkState {
  readonly link: LinkId;
  /** Who announced itself on this link: whom we would initiate to. Never changes an existing session. */
  candidate: PeerBinding | null;
  pending: PendingInitiation | null;
  pendingPeer: PeerBinding | null;
  pendingSentAtMs: number;
  current: SessionEntry | null;
  waitingConfirmation: SessionEntry | null;
  nextAnnounceAtMs: number;
  lastAnnouncedAtMs: number;
  /** Announcements back off (doubling up to announceIntervalMaxMs) while nobody answers. */
  announceBackoffMs: number;
  initiateAtMs: number;
  /** Rekey at the next timer call (our certificate was renewed). */
  rekeyRequested: boolean;
  /**
   * The routing core declared the neighbour on this link down while its session stood: the peer
   * may have restarted with a link it will not speak on first (a passive one), so this end
   * announces again, with backoff, until the neighbour is back.
   */
  peerSilent: boolean;
  /** The responder's last cookie for this link (bound to our address) and until when to use it. */
  cookie: Uint8Array | null;
  cookieUntilMs: number;
}

/** A link with no peer and no session. */
export function newLinkState(link: LinkId, announceIntervalMs: number): LinkState {
  return {
    link,
    candidate: null,
    pending: null,
    pendingPeer: null,
    pendingSentAtMs: 0,
    current: null,
    waitingConfirmation: null,
    nextAnnounceAtMs: 0,
    lastAnnouncedAtMs: -Infinity,
    announceBackoffMs: announceIntervalMs,
    initiateAtMs: Infinity,
    rekeyRequested: false,
    peerSilent: false,
    cookie: null,
    cookieUntilMs: -Infinity,
  };
}

/** Binds a verified credential to its certificate and NodeId; null when its SPIFFE ID names no node. */
export function bindPeer(credential: PeerCredential, certificate: Uint8Array): PeerBinding | null {
  try {
    return { credential, certificate: certificate.slice(), nodeId: nodeIdOfSpiffeId(parseSpiffeId(credential.spiffeId)) };
  } catch {
    return null;
  }
}

/** Hex of the SHA-256 of a static key: the initiator tie-break compares these. */
export function keyHash(staticPublicKey: Uint8Array): string {
  return Buffer.from(sha256(staticPublicKey)).toString('hex');
}
