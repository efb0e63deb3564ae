import { sha256 } from '../crypto/hash.js';
import type { LinkId } from '../mesh/neighbour.js';

/**
 * Revocation lists passed between neighbours, so that a node whose fetches from the CA fail (a
 * blocked or unreachable CA, a path attacker dropping them) still gets new revocations and fresh
 * copies of the list from any neighbour that has them, and so that a node enrolled without a CA
 * URL learns revocations at all. Sans-IO: the daemon hands it link messages and sends what it
 * returns; the list's signature, trust domain and age are checked where it is installed
 * (CaSync.offer with RevocationSet.update), never here: a neighbour can waste a verification,
 * not forge or roll back a list.
 *
 * Two link messages (types >= 0x80, see SecureNode.linkMessageTypeMin), inside the link's
 * authenticated session:
 *
 *   list chunk (0x84): u8 type | 8-byte digest (SHA-256 prefix of the whole list) | u8 index |
 *                      u8 count | bytes (revocationChunkBytes, the last one shorter)
 *   request    (0x85): u8 type | u8 hasList | u32 sequence | u32 issuedAt high | u32 issuedAt low
 *
 * When they are sent: a node that installs a list with a new sequence (from the CA or from a
 * neighbour) sends it to every neighbour but the one it came from. Every node also sends each
 * neighbour a request once per poll interval (14 bytes), which is how a neighbour that missed a
 * push (its session was down at the time) catches up. A request is answered with the list when
 * the answerer's has a higher sequence, or the same sequence issued later while the asker's copy
 * is older than `refreshAfterMs` (its own fetches are failing: the CA re-signs its list every
 * 10 s, so copies that differ only by a few seconds are not worth the bytes), and at most once
 * per answerIntervalMs per link. With a reachable CA the gossip costs the requests and the rare
 * new sequence.
 */

export const RevocationGossipType = { listChunk: 0x84, request: 0x85 } as const;
/** Bytes of list per chunk (a chunk then fits one data frame with room to spare). */
export const revocationChunkBytes = 1024;
/** Largest list passed on: 64 chunks. A longer one still comes from the CA, it is just not gossiped. */
export const revocationGossipBytesMax = 64 * revocationChunkBytes;
/** A list whose chunks do not all arrive within this is dropped. */
export const reassemblyTimeoutMs = 5_000;
/** A link is answered at most once per this. */
export const answerIntervalMs = 5_000;

const digestBytes = 8;
const chunkHeaderBytes = 1 + digestBytes + 2;
const requestBytes = 14;
const twoPow32 = 2 ** 32;

/** What a node's list is: its sequence and issue time (what decides which of two lists is newer). */
export interface ListVersion {
  readonly sequence: number;
  readonly issuedAtMs: number;
}

/** A link message to send. */
export interface GossipSend {
  readonly link: LinkId;
  readonly bytes: Uint8Array;
}

/** What became of gossip messages, by outcome. */
export interface RevocationGossipStats {
  chunksIn: number;
  listsCompleted: number;
  /** Chunks or requests that do not parse, or a chunk that contradicts the others of its list. */
  malformed: number;
  /** Reassembled lists whose bytes do not match the digest their chunks named. */
  digestMismatch: number;
  /** Reassemblies dropped because their chunks stopped coming. */
  timedOut: number;
  requestsIn: number;
  /** Requests answered with this node's list. */
  answered: number;
  /** Requests not answered: this node's list is not newer, or the link was answered lately. */
  notAnswered: number;
  chunksOut: number;
  requestsOut: number;
}

/** One list being put together from one link's chunks. */
interface Reassembly {
  readonly digest: string;
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  readonly startedAtMs: number;
}

/** Whether `list` is newer than `than` (null: no list), as RevocationSet.update judges it. */
export function supersedesVersion(list: ListVersion, than: ListVersion | null): boolean {
  return than === null || list.sequence > than.sequence || (list.sequence === than.sequence && list.issuedAtMs > than.issuedAtMs);
}

/** Whether a node holding `mine` answers a request from one holding `theirs` at `nowMs` (see the module comment). */
export function worthAnswering(mine: ListVersion, theirs: ListVersion | null, nowMs: number, refreshAfterMs: number): boolean {
  if (theirs === null || mine.sequence > theirs.sequence) return true;
  return mine.sequence === theirs.sequence && mine.issuedAtMs > theirs.issuedAtMs && nowMs - theirs.issuedAtMs > refreshAfterMs;
}

/** The gossip state of one node (see the module comment). */
export class RevocationGossip {
  readonly stats: RevocationGossipStats = { chunksIn: 0, listsCompleted: 0, malformed: 0, digestMismatch: 0, timedOut: 0, requestsIn: 0, answered: 0, notAnswered: 0, chunksOut: 0, requestsOut: 0 };
  private current: { readonly bytes: Uint8Array; readonly version: ListVersion; readonly chunks: readonly Uint8Array[] | null } | null = null;
  private readonly reassemblies = new Map<LinkId, Reassembly>();
  private readonly answeredAtMs = new Map<LinkId, number>();

  /** `refreshAfterMs`: a fresher copy of the same list is sent to an asker whose copy is older than this (half of revocations.maxAgeMs). */
  constructor(private readonly refreshAfterMs: number) {
    if (!(refreshAfterMs >= 0)) throw new RangeError(`RevocationGossip: expected refreshAfterMs >= 0, got ${refreshAfterMs}`);
  }

  /** The list this node holds now (installed and verified), which it passes on; null chunks when it is too long to gossip. */
  setCurrent(bytes: Uint8Array, version: ListVersion): void {
    this.current = { bytes, version, chunks: bytes.length <= revocationGossipBytesMax ? chunksOf(bytes) : null };
  }

  /** The list's chunks for every link in `links` but `except` (where the list came from); none when there is no list to pass on. */
  announce(links: readonly LinkId[], except: LinkId | null = null): GossipSend[] {
    const chunks = this.current?.chunks;
    if (chunks === null || chunks === undefined) return [];
    const sends = links.filter((link) => link !== except).flatMap((link) => chunks.map((bytes) => ({ link, bytes })));
    this.stats.chunksOut += sends.length;
    return sends;
  }

  /** A request to every link in `links`: "send your list if it supersedes mine". */
  requests(links: readonly LinkId[]): GossipSend[] {
    const message = encodeRequest(this.current?.version ?? null);
    this.stats.requestsOut += links.length;
    return links.map((link) => ({ link, bytes: message }));
  }

  /**
   * A gossip message from `link`. Returns what to send back (the answer to a request) and, when
   * a chunk completed a list whose digest matches, the list's bytes, still to be verified and
   * installed by the caller. Never throws on any bytes.
   */
  receive(nowMs: number, link: LinkId, payload: Uint8Array): { sends: GossipSend[]; completed: Uint8Array | null } {
    this.expire(nowMs);
    if (payload[0] === RevocationGossipType.request) return { sends: this.onRequest(nowMs, link, payload), completed: null };
    if (payload[0] === RevocationGossipType.listChunk) return { sends: [], completed: this.onChunk(nowMs, link, payload) };
    this.stats.malformed++;
    return { sends: [], completed: null };
  }

  /** Whether `type` (a link message's first byte) is one of this module's. */
  static handles(type: number): boolean {
    return type === RevocationGossipType.listChunk || type === RevocationGossipType.request;
  }

  private onRequest(nowMs: number, link: LinkId, payload: Uint8Array): GossipSend[] {
    const theirs = decodeRequest(payload);
    if (theirs === undefined) {
      this.stats.malformed++;
      return [];
    }
    this.stats.requestsIn++;
    const answeredAtMs = this.answeredAtMs.get(link);
    const mine = this.current;
    const recentlyAnswered = answeredAtMs !== undefined && nowMs - answeredAtMs < answerIntervalMs;
    if (mine === null || mine.chunks === null || recentlyAnswered || !worthAnswering(mine.version, theirs, nowMs, this.refreshAfterMs)) {
      this.stats.notAnswered++;
      return [];
    }
    this.answeredAtMs.set(link, nowMs);
    this.stats.answered++;
    return this.announce([link]);
  }

  private onChunk(nowMs: number, link: LinkId, payload: Uint8Array): Uint8Array | null {
    const chunk = decodeChunk(payload);
    if (chunk === null) {
      this.stats.malformed++;
      return null;
    }
    this.stats.chunksIn++;
    let reassembly = this.reassemblies.get(link);
    // A chunk of another list replaces the one in progress: a link carries one list at a time.
    if (reassembly === undefined || reassembly.digest !== chunk.digest) {
      reassembly = { digest: chunk.digest, parts: new Array<Uint8Array | undefined>(chunk.count), received: 0, startedAtMs: nowMs };
      this.reassemblies.set(link, reassembly);
    }
    if (reassembly.parts.length !== chunk.count || !chunkFits(chunk.index, chunk.count, chunk.bytes.length)) {
      this.reassemblies.delete(link);
      this.stats.malformed++;
      return null;
    }
    if (reassembly.parts[chunk.index] === undefined) reassembly.received++;
    reassembly.parts[chunk.index] = chunk.bytes.slice();
    if (reassembly.received < chunk.count) return null;
    this.reassemblies.delete(link);
    return this.completed(reassembly);
  }

  private completed(reassembly: Reassembly): Uint8Array | null {
    const bytes = concat(reassembly.parts as Uint8Array[]);
    if (digestOf(bytes) !== reassembly.digest) {
      this.stats.digestMismatch++;
      return null;
    }
    this.stats.listsCompleted++;
    return bytes;
  }

  private expire(nowMs: number): void {
    for (const [link, reassembly] of this.reassemblies) {
      if (nowMs - reassembly.startedAtMs < reassemblyTimeoutMs) continue;
      this.reassemblies.delete(link);
      this.stats.timedOut++;
    }
  }
}

/** Every chunk but the last is full; the last holds 1..revocationChunkBytes. */
function chunkFits(index: number, count: number, bytes: number): boolean {
  return index < count - 1 ? bytes === revocationChunkBytes : bytes >= 1 && bytes <= revocationChunkBytes;
}

function digestOf(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes).subarray(0, digestBytes)).toString('hex');
}

function chunksOf(list: Uint8Array): Uint8Array[] {
  const digest = sha256(list).subarray(0, digestBytes);
  const count = Math.ceil(list.length / revocationChunkBytes);
  const chunks: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const body = list.subarray(index * revocationChunkBytes, (index + 1) * revocationChunkBytes);
    const chunk = new Uint8Array(chunkHeaderBytes + body.length);
    chunk[0] = RevocationGossipType.listChunk;
    chunk.set(digest, 1);
    chunk[1 + digestBytes] = index;
    chunk[2 + digestBytes] = count;
    chunk.set(body, chunkHeaderBytes);
    chunks.push(chunk);
  }
  return chunks;
}

/** A chunk's fields, or null when its header is impossible (count 0 or over the limit, index past count, no bytes). */
function decodeChunk(payload: Uint8Array): { digest: string; index: number; count: number; bytes: Uint8Array } | null {
  if (payload.length <= chunkHeaderBytes) return null;
  const index = payload[1 + digestBytes]!;
  const count = payload[2 + digestBytes]!;
  if (count === 0 || count > revocationGossipBytesMax / revocationChunkBytes || index >= count) return null;
  return { digest: Buffer.from(payload.subarray(1, 1 + digestBytes)).toString('hex'), index, count, bytes: payload.subarray(chunkHeaderBytes) };
}

function encodeRequest(version: ListVersion | null): Uint8Array {
  const bytes = new Uint8Array(requestBytes);
  const view = new DataView(bytes.buffer);
  bytes[0] = RevocationGossipType.request;
  if (version === null) return bytes;
  bytes[1] = 1;
  // A sequence past 2^32 - 1 (never in practice) is sent as that: the answerer then errs towards answering.
  view.setUint32(2, Math.min(version.sequence, 0xffff_ffff));
  view.setUint32(6, Math.floor(version.issuedAtMs / twoPow32));
  view.setUint32(10, version.issuedAtMs % twoPow32);
  return bytes;
}

/** The asker's version (null: it has no list), or undefined when the request is malformed. */
function decodeRequest(payload: Uint8Array): ListVersion | null | undefined {
  if (payload.length !== requestBytes || payload[1]! > 1) return undefined;
  if (payload[1] === 0) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  return { sequence: view.getUint32(2), issuedAtMs: view.getUint32(6) * twoPow32 + view.getUint32(10) };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
