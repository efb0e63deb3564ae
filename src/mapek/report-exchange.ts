import { ed25519Verifier } from '../crypto/curve25519.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { NodeId } from '../wire/ids.js';
import {
  bundlePartsMax,
  certificateChunkBytes,
  decodeReportMessage,
  encodeBundle,
  encodeCertificateFragments,
  encodeCertificateRequest,
  ReportError,
  reportsPerBundleMax,
  reportWindowMs,
  type ReportBundle,
  type ReportMessage,
} from './report-codec.js';
import type { TransitReport } from './transit-accounting.js';

/**
 * How transit reports travel between nodes (sans-IO: time, link messages and the node's links
 * come in, link messages to send and verified reports go out; see docs/mapek.md).
 *
 * Once per window every node signs its reports with its identity key and sends them to each
 * neighbour over their link's session. A node that receives a bundle straight from its reporter
 * (the session's authenticated peer is the reporter) relays it once more, unchanged, to its other
 * neighbours; a relayed bundle is never relayed again. So the reports about a node X, made by X's
 * neighbours, reach X's other neighbours, which are at most two hops from each reporter, and
 * relaying through X itself is harmless: X cannot forge or alter a bundle, whose signature a
 * receiver checks against the reporter's certified key, only drop it.
 *
 * A receiver learns a reporter's key from the reporter's SVID: a direct neighbour's from its
 * session, a reporter two hops away by asking the link the bundle came from for the reporter's
 * certificate (the relay holds it from its own session), which it verifies against the trust
 * anchors like any SVID. Until then that reporter's bundles are dropped, which the judge reads as
 * a missing reporter. Bundles are accepted for the last few windows only, each (reporter, window,
 * part) once, and only after the signature verified, so a forged copy arriving first cannot shut
 * out the genuine one; each link may make a node check at most bundlesPerLinkPerWindowMax bundles
 * per window.
 */

/** Windows behind the current one whose bundles are still accepted (the judge takes a window after a grace). */
export const reportWindowsBehindMax = 2;
/** Bundles one link may have checked per window: a neighbour relays its own and its other neighbours'. */
export const bundlesPerLinkPerWindowMax = 128;
/** Reporters' keys kept (least recently learnt dropped first). */
export const reporterKeysMax = 4096;
/** A certificate asked for is asked again after this long without it; an answer to one link is not repeated sooner than half of it. */
export const certificateRetryMs = 2000;
/** Certificates being asked for at once. */
export const certificateRequestsMax = 64;

/** The window `nowMs` (epoch milliseconds) falls in. */
export function reportWindowOf(nowMs: number): number {
  return Math.floor(nowMs / reportWindowMs);
}

/** A link with a session and the node its session authenticated. */
export interface LinkPeer {
  readonly link: LinkId;
  readonly peer: NodeId;
}

/** A link message to put on a link. */
export interface LinkSend {
  readonly link: LinkId;
  readonly bytes: Uint8Array;
}

/** What a verified certificate binds: the node it names and its Ed25519 key, until when. */
export interface CertifiedKey {
  readonly node: NodeId;
  readonly publicKey: Uint8Array;
  readonly notAfterMs: number;
}

/** What the exchange needs of the node. */
export interface ReportExchangeConfig {
  readonly self: NodeId;
  /** Signs with this node's identity key (the Ed25519 key its SVID certifies). */
  readonly sign: (message: Uint8Array) => Uint8Array;
  /** Checks a certificate (an SVID) against the trust anchors now; throws when it does not verify. */
  readonly verifyCertificate: (certificate: Uint8Array, nowMs: number) => CertifiedKey;
  /** The certificate of `node` if it is this node or the peer of one of its sessions, else null. */
  readonly certificateOf: (node: NodeId) => Uint8Array | null;
}

/** What one received link message led to. */
export interface ExchangeOutput {
  readonly sends: LinkSend[];
  /** The bundle the message carried, when it verified and was new. */
  accepted: ReportBundle | null;
}

/** Counters of the exchange, by what happened to a message. */
export interface ExchangeStats {
  published: number;
  /** Reports left out because a node had more neighbours than bundlePartsMax bundles hold. */
  unpublished: number;
  accepted: number;
  relayed: number;
  duplicate: number;
  stale: number;
  malformed: number;
  forged: number;
  unknownKey: number;
  overBudget: number;
  certificatesRequested: number;
  certificatesLearned: number;
  certificatesRefused: number;
  certificatesSent: number;
  unsolicited: number;
}

type Verify = (message: Uint8Array, signature: Uint8Array) => boolean;

/** A certificate asked for, and what of it has arrived. */
interface PendingCertificate {
  readonly link: LinkId;
  readonly askedAtMs: number;
  buffer: Uint8Array | null;
  readonly offsets: Set<number>;
}

/** The report exchange of one node (see the module comment). */
export class ReportExchange {
  readonly stats: ExchangeStats = {
    published: 0,
    unpublished: 0,
    accepted: 0,
    relayed: 0,
    duplicate: 0,
    stale: 0,
    malformed: 0,
    forged: 0,
    unknownKey: 0,
    overBudget: 0,
    certificatesRequested: 0,
    certificatesLearned: 0,
    certificatesRefused: 0,
    certificatesSent: 0,
    unsolicited: 0,
  };
  private readonly keys = new Map<NodeId, { readonly verify: Verify; readonly notAfterMs: number }>();
  /** Per window, reporter x bundlePartsMax + part of every bundle accepted (or sent) in it. */
  private readonly seen = new Map<number, Set<number>>();
  private readonly budgets = new Map<LinkId, { window: number; checked: number }>();
  private readonly requests = new Map<NodeId, PendingCertificate>();
  private readonly answeredAtMs = new Map<string, number>();

  constructor(private readonly config: ReportExchangeConfig) {}

  /** This node's reports of `window`, signed, in bundles for each of `links`. */
  publish(nowMs: number, window: number, reports: readonly TransitReport[], links: readonly LinkPeer[]): LinkSend[] {
    this.forget(nowMs);
    const sorted = [...reports].sort((a, b) => a.subject - b.subject);
    const parts = Math.min(bundlePartsMax, Math.ceil(sorted.length / reportsPerBundleMax));
    this.stats.unpublished += Math.max(0, sorted.length - parts * reportsPerBundleMax);
    const sends: LinkSend[] = [];
    for (let part = 0; part < parts; part++) {
      const bytes = encodeBundle(this.config.self, window, part, sorted.slice(part * reportsPerBundleMax, (part + 1) * reportsPerBundleMax), this.config.sign);
      this.markSeen(window, this.config.self, part);
      this.stats.published++;
      for (const { link } of links) sends.push({ link, bytes });
    }
    return sends;
  }

  /** A link message from `from`'s authenticated peer; `links` are this node's links with sessions (for relays). */
  receive(nowMs: number, from: LinkPeer, bytes: Uint8Array, links: readonly LinkPeer[]): ExchangeOutput {
    const out: ExchangeOutput = { sends: [], accepted: null };
    let message: ReportMessage;
    try {
      message = decodeReportMessage(bytes);
    } catch (error) {
      if (!(error instanceof ReportError)) throw error;
      this.stats.malformed++;
      return out;
    }
    if (message.kind === 'reports') this.onBundle(nowMs, from, bytes, message.bundle, links, out);
    else if (message.kind === 'certificateRequest') this.onCertificateRequest(nowMs, from, message.node, out);
    else this.onFragment(nowMs, from, message);
    return out;
  }

  private onBundle(nowMs: number, from: LinkPeer, bytes: Uint8Array, bundle: ReportBundle, links: readonly LinkPeer[], out: ExchangeOutput): void {
    const current = reportWindowOf(nowMs);
    if (bundle.window > current + 1 || bundle.window < current - reportWindowsBehindMax) {
      this.stats.stale++;
      return;
    }
    // Our own bundle come back through a neighbour counts as a duplicate too.
    if (this.seen.get(bundle.window)?.has(bundle.reporter * bundlePartsMax + bundle.part) === true) {
      this.stats.duplicate++;
      return;
    }
    if (!this.spend(from.link, current)) {
      this.stats.overBudget++;
      return;
    }
    const verify = this.keyOf(nowMs, bundle.reporter, from, out);
    if (verify === null) {
      this.stats.unknownKey++;
      return;
    }
    if (!verify(bundle.signed, bundle.signature)) {
      this.stats.forged++;
      return;
    }
    this.markSeen(bundle.window, bundle.reporter, bundle.part);
    this.stats.accepted++;
    out.accepted = bundle;
    if (from.peer !== bundle.reporter) return;
    for (const { link, peer } of links) {
      if (link === from.link || peer === bundle.reporter) continue;
      out.sends.push({ link, bytes });
      this.stats.relayed++;
    }
  }

  /** Counts one check against `link`'s budget for `window`; false when it is spent. */
  private spend(link: LinkId, window: number): boolean {
    const budget = this.budgets.get(link);
    if (budget === undefined || budget.window !== window) {
      this.budgets.set(link, { window, checked: 1 });
      return true;
    }
    if (budget.checked >= bundlesPerLinkPerWindowMax) return false;
    budget.checked++;
    return true;
  }

  private markSeen(window: number, reporter: NodeId, part: number): void {
    let seen = this.seen.get(window);
    if (seen === undefined) {
      seen = new Set();
      this.seen.set(window, seen);
    }
    seen.add(reporter * bundlePartsMax + part);
  }

  /** The verifier of `node`'s key: known, or from the session when `node` is the link's peer; else it is asked for (null). */
  private keyOf(nowMs: number, node: NodeId, from: LinkPeer, out: ExchangeOutput): Verify | null {
    const known = this.keys.get(node);
    if (known !== undefined && nowMs <= known.notAfterMs) return known.verify;
    if (from.peer === node) {
      const certificate = this.config.certificateOf(node);
      return certificate === null ? null : this.learn(nowMs, node, certificate);
    }
    this.ask(nowMs, node, from.link, out);
    return null;
  }

  /** Verifies `certificate` as `node`'s and keeps its key; null (counted) when it does not verify or names another node. */
  private learn(nowMs: number, node: NodeId, certificate: Uint8Array): Verify | null {
    let key: CertifiedKey;
    try {
      key = this.config.verifyCertificate(certificate, nowMs);
    } catch {
      this.stats.certificatesRefused++;
      return null;
    }
    const verify = key.node === node ? ed25519Verifier(key.publicKey) : null;
    if (verify === null) {
      this.stats.certificatesRefused++;
      return null;
    }
    this.keys.delete(node);
    if (this.keys.size >= reporterKeysMax) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(node, { verify, notAfterMs: key.notAfterMs });
    this.stats.certificatesLearned++;
    return verify;
  }

  private ask(nowMs: number, node: NodeId, link: LinkId, out: ExchangeOutput): void {
    const pending = this.requests.get(node);
    if (pending !== undefined && nowMs < pending.askedAtMs + certificateRetryMs) return;
    if (pending === undefined && this.requests.size >= certificateRequestsMax) return;
    this.requests.set(node, { link, askedAtMs: nowMs, buffer: null, offsets: new Set() });
    out.sends.push({ link, bytes: encodeCertificateRequest(node) });
    this.stats.certificatesRequested++;
  }

  /** A neighbour asks for `node`'s certificate: sent in fragments if this node holds it, at most once per half retry interval per link. */
  private onCertificateRequest(nowMs: number, from: LinkPeer, node: NodeId, out: ExchangeOutput): void {
    const key = `${from.link}/${node}`;
    if (nowMs < (this.answeredAtMs.get(key) ?? -Infinity) + certificateRetryMs / 2) return;
    const certificate = this.config.certificateOf(node);
    if (certificate === null) return;
    this.answeredAtMs.set(key, nowMs);
    for (const bytes of encodeCertificateFragments(node, certificate)) out.sends.push({ link: from.link, bytes });
    this.stats.certificatesSent++;
  }

  /** A fragment of a certificate this node asked `from` for; anything else is dropped. */
  private onFragment(nowMs: number, from: LinkPeer, fragment: Extract<ReportMessage, { kind: 'certificateFragment' }>): void {
    const pending = this.requests.get(fragment.node);
    if (pending?.link !== from.link || nowMs > pending.askedAtMs + certificateRetryMs) {
      this.stats.unsolicited++;
      return;
    }
    if (pending.buffer?.length !== fragment.totalBytes) {
      pending.buffer = new Uint8Array(fragment.totalBytes);
      pending.offsets.clear();
    }
    pending.buffer.set(fragment.bytes, fragment.offset);
    pending.offsets.add(fragment.offset);
    if (pending.offsets.size < Math.ceil(fragment.totalBytes / certificateChunkBytes)) return;
    this.requests.delete(fragment.node);
    this.learn(nowMs, fragment.node, pending.buffer);
  }

  /** Forgets bundles of windows no longer accepted, past budgets, requests nobody answered, and old answers. */
  private forget(nowMs: number): void {
    const oldest = reportWindowOf(nowMs) - reportWindowsBehindMax;
    for (const window of this.seen.keys()) if (window < oldest) this.seen.delete(window);
    for (const [link, budget] of this.budgets) if (budget.window < reportWindowOf(nowMs)) this.budgets.delete(link);
    for (const [node, pending] of this.requests) if (nowMs > pending.askedAtMs + certificateRetryMs) this.requests.delete(node);
    for (const [key, atMs] of this.answeredAtMs) if (nowMs >= atMs + certificateRetryMs) this.answeredAtMs.delete(key);
  }
}
