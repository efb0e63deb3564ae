import { randomBytes } from 'node:crypto';
import type { NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { notBeforeSkewMs, type NodeKeys } from '../identity/ca.js';
import type { RevocationList, RevocationSet } from '../identity/revocation.js';
import { retryAtMs, rotationAtMs } from '../identity/rotation.js';
import type { SvidIdentity, TrustAnchor } from '../identity/svid.js';
import type { LinkId } from '../mesh/neighbour.js';
import { epochsInForce, networkKeyScheduleDigest } from './ca-network-keys.js';
import { fetchNetworkKeys, fetchRevocations, renewSvid, type CaConnection } from './enroll-client.js';
import type { NodeStateDb } from './state-db.js';
import { replaceSvid, writeNetworkKeys, type Enrollment } from './state-dir.js';

/**
 * What a running node keeps in step with its CA: the signed revocation list (fetched every
 * revocationPollMs, installed when newer, saved so a restart honours it before the CA answers)
 * and its own SVID (renewed at 45-55 % of its lifetime, retried with backoff until it expires).
 * A node enrolled without a CA URL does neither.
 *
 * The list's freshness is watched too. The CA re-signs its list every revocationRefreshMs
 * (ca-service.ts), so a list whose issue time is older than revocationMaxAgeMs means the fetches
 * have been failing, or someone on the path drops them or answers with an old copy, maybe to keep
 * a revoked peer admitted. The list is then stale: the daemon refuses new peer sessions and
 * reports itself not ready until a fresh list arrives (docs/ca.md). Turning stale and fresh again
 * are logged and audited here.
 */

/** How often the revocation list is fetched. */
export const revocationPollMs = 10_000;
/** Default of revocations.maxAgeMs: a list issued longer ago than this is stale. */
export const revocationMaxAgeMsDefault = 60_000;

/** Network keys are fetched at least once per this many revocation polls (5 min), whatever the digest header says. */
export const networkKeysRefetchPolls = 30;
/** Default longest random pause before a network key fetch. */
export const networkKeysJitterMsDefault = 5_000;

/** What CaSync needs. */
export interface CaSyncOptions {
  readonly enrollment: Enrollment;
  readonly keys: NodeKeys;
  readonly anchors: readonly TrustAnchor[];
  readonly revocations: RevocationSet;
  readonly db: NodeStateDb;
  readonly stateDir: string;
  readonly svid: SvidIdentity;
  readonly log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Called with each renewed SVID and its expiry. */
  readonly onRenewed: (certificate: Uint8Array, notAfterMs: number) => void;
  /** Override of revocationPollMs (tests). */
  readonly revocationPollMs?: number;
  /** A list issued longer ago than this is stale; more than the poll interval. Default revocationMaxAgeMsDefault. */
  readonly revocationMaxAgeMs?: number;
  /** Told when the list turns stale (true) and when it is fresh again (false), after the log and audit. */
  readonly onStaleChange?: (stale: boolean) => void;
  /**
   * Told of every list installed (from the CA or offered by a neighbour, see offer), with whether
   * its sequence is new (not just a fresher copy) and the link it came over (null: the CA).
   */
  readonly onInstalled?: (bytes: Uint8Array, list: RevocationList, newSequence: boolean, fromLink: LinkId | null) => void;
  /** The wall clock the list's age is measured on; default Date.now (tests step their own). */
  readonly now?: () => number;
  /**
   * The network key epochs in use and where new ones go (the runtime's). With it, every
   * revocation poll compares the CA's schedule digest with the epochs in use and fetches the
   * epochs when they differ (docs/ca.md, "Rotating the network key"); they are saved to the
   * state directory before they are installed.
   */
  readonly networkKeys?: { current(): readonly NetworkKeyEpoch[]; install(epochs: readonly NetworkKeyEpoch[]): void };
  /** Longest random pause before a network key fetch; default networkKeysJitterMsDefault (tests: 0). */
  readonly networkKeysJitterMs?: number;
}

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));

/**
 * When to renew `identity`: at 45-55 % of the time it was issued for. The CA backdates notBefore
 * by notBeforeSkewMs; counted from there, an SVID shorter than about two minutes would be due at
 * once, and every renewal would ask again at once.
 */
function renewalAtMs(identity: SvidIdentity): number {
  const issuedAtMs = Math.min(identity.notBeforeMs + notBeforeSkewMs, identity.notAfterMs - 1);
  return rotationAtMs(issuedAtMs, identity.notAfterMs, random);
}

function pause(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** `epoch from ISO[ until ISO]; ...`, for the audit log. */
function describeEpochs(epochs: readonly NetworkKeyEpoch[]): string {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return epochs.map((entry) => `${entry.epoch} from ${iso(entry.activeFromMs)}${entry.acceptUntilMs === null ? '' : ` until ${iso(entry.acceptUntilMs)}`}`).join('; ');
}

/**
 * Refuses epochs whose newest is older than the newest in use: the grant answers this node's
 * own request, so that takes a CA whose network-keys.json went back (restored from a backup,
 * deleted), which would take a newer epoch away from the node.
 */
function checkGrantOrder(epochs: readonly NetworkKeyEpoch[], current: readonly NetworkKeyEpoch[]): void {
  const newest = epochs.at(-1)!.epoch;
  const newestInUse = current.at(-1)?.epoch ?? 0;
  if (newest < newestInUse) throw new Error(`network keys: the CA's newest epoch is ${newest}, older than epoch ${newestInUse} in use (was the CA's network-keys.json restored or removed?)`);
}

/** Revocation polling and SVID renewal against the node's CA. */
export class CaSync {
  private revocationTimer: NodeJS.Timeout | null = null;
  private renewalTimer: NodeJS.Timeout | null = null;
  private freshnessTimer: NodeJS.Timeout | null = null;
  private svid: Uint8Array;
  private identity: SvidIdentity;
  private stopped = false;
  /** Renewals that failed in a row. */
  private failures = 0;
  /** Whether the list was last reported stale. */
  private reportedStale = false;
  /** Network key fetches that failed in a row (only the first of a run is audited). */
  private networkKeyFailures = 0;
  /** Revocation polls since the network keys were last fetched (or last failed). */
  private networkKeyPolls = 0;
  /** Whether a network key fetch is out now. */
  private networkKeysFetching = false;
  private readonly networkKeysJitterMs: number;
  private readonly pollMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  /**
   * Throws a RangeError naming the option when revocationMaxAgeMs is not longer than
   * revocationPollMs: a list fetched on time must never be stale. (The tests' poll override is
   * not held to it.)
   */
  constructor(private readonly options: CaSyncOptions) {
    this.svid = options.enrollment.svid;
    this.identity = options.svid;
    this.pollMs = options.revocationPollMs ?? revocationPollMs;
    this.maxAgeMs = options.revocationMaxAgeMs ?? revocationMaxAgeMsDefault;
    this.now = options.now ?? Date.now;
    this.networkKeysJitterMs = options.networkKeysJitterMs ?? networkKeysJitterMsDefault;
    if (!Number.isSafeInteger(this.maxAgeMs) || this.maxAgeMs <= revocationPollMs) {
      throw new RangeError(`CaSync: revocationMaxAgeMs: expected an integer above the poll interval (${revocationPollMs} ms), got ${this.maxAgeMs}`);
    }
  }

  /** How old the newest verified revocation list is now, in ms (Infinity before the first). */
  revocationListAgeMs(): number {
    return this.options.revocations.ageMs(this.now());
  }

  /** Whether the list is stale: the node has a CA to fetch from, and its newest list is older than revocationMaxAgeMs. */
  isRevocationListStale(): boolean {
    return this.connection() !== null && this.revocationListAgeMs() > this.maxAgeMs;
  }

  /**
   * Starts polling and schedules the first renewal; nothing happens without a CA URL. Resolves
   * once the first poll is done, successful or not (it never rejects).
   */
  start(): Promise<void> {
    if (this.connection() === null) return Promise.resolve();
    const first = this.pollRevocations();
    this.scheduleRenewal(renewalAtMs(this.identity));
    return first;
  }

  /** Stops every timer. */
  stop(): void {
    this.stopped = true;
    if (this.revocationTimer !== null) clearTimeout(this.revocationTimer);
    if (this.renewalTimer !== null) clearTimeout(this.renewalTimer);
    if (this.freshnessTimer !== null) clearTimeout(this.freshnessTimer);
  }

  private connection(): CaConnection | null {
    const caUrl = this.options.enrollment.caUrl;
    return caUrl === null ? null : { caUrl, anchors: this.options.anchors, trustDomain: this.options.enrollment.trustDomain };
  }

  /** Fetches the revocation list once, installs it when newer or fresher, checks freshness, and schedules the next fetch. */
  async pollRevocations(): Promise<void> {
    const connection = this.connection();
    if (connection === null || this.stopped) return;
    try {
      const { bytes, networkKeysDigest } = await fetchRevocations(connection);
      if (!this.stopped) this.install(bytes, connection.caUrl, null);
      await this.syncNetworkKeys(connection, networkKeysDigest);
    } catch (error) {
      this.options.log('warn', 'revocation list fetch failed', { error: (error as Error).message });
    }
    if (this.stopped) return;
    this.checkRevocationFreshness();
    // A poll called from outside (NodeDaemon.syncWithCa) replaces the pending one instead of starting a second chain.
    if (this.revocationTimer !== null) clearTimeout(this.revocationTimer);
    this.revocationTimer = setTimeout(() => void this.pollRevocations(), this.pollMs);
  }

  /**
   * Takes a verified list if it is newer than the one in force (new contents, audited) or a fresher
   * copy of it (the CA's periodic re-signing: saved, so a restart starts fresh, but not audited).
   * An older list or copy, as a replay would be, changes nothing.
   */
  private install(bytes: Uint8Array, source: string, fromLink: LinkId | null): boolean {
    const before = this.options.revocations.list?.sequence ?? null;
    // update verifies the list (signatures, trust domain) and throws when it does not.
    if (!this.options.revocations.update(bytes, this.options.anchors)) return false;
    const list = this.options.revocations.list!;
    this.options.db.saveRevocationList(bytes, list.sequence);
    const newSequence = list.sequence !== before;
    if (newSequence) {
      this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'revocations.install', subject: source, outcome: 'ok', detail: `sequence ${list.sequence}, ${list.entries.length} entries` });
      this.options.log('info', 'revocation list installed', { sequence: list.sequence, entries: list.entries.length, from: source });
      this.noteIfRevoked();
    }
    this.options.onInstalled?.(bytes, list, newSequence, fromLink);
    return true;
  }

  /**
   * A list a neighbour passed on (src/node/revocation-gossip.ts): installed as a fetched one is
   * when it verifies under this node's anchors and supersedes the list in force. Returns
   * 'installed', 'old' (it verified but is not newer: another neighbour was first) or 'refused'
   * (it does not verify: a broken or hostile neighbour; logged, never thrown).
   */
  offer(bytes: Uint8Array, source: string, fromLink: LinkId): 'installed' | 'old' | 'refused' {
    if (this.stopped) return 'refused';
    let installed: boolean;
    try {
      installed = this.install(bytes, source, fromLink);
    } catch (error) {
      this.options.log('warn', 'revocation list from a neighbour refused', { from: source, error: (error as Error).message });
      return 'refused';
    }
    if (!installed) return 'old';
    this.checkRevocationFreshness();
    return 'installed';
  }

  /**
   * Reports the list turning stale or fresh again (log, audit, onStaleChange), and while it is
   * fresh arms a check for the moment it would turn stale, in case no fresher list comes first.
   * Runs after every poll, and on that timer.
   */
  checkRevocationFreshness(): void {
    if (this.stopped || this.connection() === null) return;
    const stale = this.isRevocationListStale();
    if (stale !== this.reportedStale) {
      this.reportedStale = stale;
      this.reportFreshness(stale);
    }
    if (this.freshnessTimer !== null) clearTimeout(this.freshnessTimer);
    this.freshnessTimer = stale ? null : setTimeout(() => this.checkRevocationFreshness(), this.maxAgeMs - this.revocationListAgeMs() + 1);
  }

  private reportFreshness(stale: boolean): void {
    const list = this.options.revocations.list;
    const ageMs = this.revocationListAgeMs();
    const fields = { sequence: list?.sequence ?? null, ageS: Number.isFinite(ageMs) ? Math.round(ageMs / 1000) : null, maxAgeS: this.maxAgeMs / 1000 };
    const about = list === null ? 'no revocation list yet' : `sequence ${list.sequence} issued ${new Date(list.issuedAtMs).toISOString()}, ${fields.ageS} s old`;
    const detail = `${about}; revocations.maxAgeMs ${this.maxAgeMs}`;
    const subject = this.options.enrollment.caUrl!;
    if (stale) {
      this.options.log('error', 'revocation list is stale: new peer sessions are refused until a fresh one arrives', fields);
      this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'revocations.stale', subject, outcome: 'failed', detail });
    } else {
      this.options.log('info', 'revocation list is fresh again: new peer sessions are admitted', fields);
      this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'revocations.fresh', subject, outcome: 'ok', detail });
    }
    this.options.onStaleChange?.(stale);
  }

  /** This node's own SVID on the list: its peers will drop it; say so where the operator looks. */
  private noteIfRevoked(): void {
    if (!this.options.revocations.isRevoked(this.identity)) return;
    this.options.log('error', 'this node is revoked: peers refuse its SVID', { spiffeId: this.identity.spiffeId, serial: this.identity.serialHex });
    this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'node.revoked', subject: this.identity.spiffeId, outcome: 'denied', detail: `serial ${this.identity.serialHex}` });
  }

  /**
   * Fetches and installs the CA's network key epochs when `digest` (the CA's schedule, null when
   * its answer carried none) differs from the live epochs in use, and in any case every
   * networkKeysRefetchPolls polls (the digest header is not authenticated: an attacker on the
   * path could strip it). One fetch at a time, after a random pause of up to
   * networkKeysJitterMs (a rotation does not make every node ask in the same instant), and
   * after a failure only once per 2^failures polls (up to 32).
   */
  private async syncNetworkKeys(connection: CaConnection, digest: string | null): Promise<void> {
    const networkKeys = this.options.networkKeys;
    if (networkKeys === undefined || this.stopped || this.networkKeysFetching) return;
    this.networkKeyPolls++;
    if (!this.networkKeysDue(digest, networkKeys.current())) return;
    this.networkKeysFetching = true;
    try {
      await pause(Math.floor(Math.random() * this.networkKeysJitterMs));
      if (this.stopped) return;
      const grant = await fetchNetworkKeys({ ...connection, keys: this.options.keys, svid: this.svid });
      if (this.stopped) return;
      checkGrantOrder(grant.epochs, networkKeys.current());
      if (networkKeyScheduleDigest(grant.epochs) === networkKeyScheduleDigest(networkKeys.current())) return;
      writeNetworkKeys(this.options.stateDir, grant);
      networkKeys.install(grant.epochs);
      this.networkKeyFailures = 0;
      this.auditNetworkKeys('ok', `epochs ${describeEpochs(grant.epochs)}`);
      this.options.log('info', 'network key epochs installed', { epochs: grant.epochs.map((entry) => entry.epoch) });
    } catch (error) {
      if (this.stopped) return;
      this.options.log('warn', 'network key fetch failed', { error: (error as Error).message });
      if (this.networkKeyFailures++ === 0) this.auditNetworkKeys('failed', (error as Error).message);
    } finally {
      this.networkKeysFetching = false;
      this.networkKeyPolls = 0;
    }
  }

  /** Whether this poll should fetch: the schedule differs, or the periodic check is due; not while backing off. */
  private networkKeysDue(digest: string | null, current: readonly NetworkKeyEpoch[]): boolean {
    const backoffPolls = this.networkKeyFailures === 0 ? 0 : Math.min(32, 2 ** (this.networkKeyFailures - 1));
    if (this.networkKeyPolls <= backoffPolls) return false;
    const changed = digest !== null && digest !== networkKeyScheduleDigest(epochsInForce(current, this.now()));
    return changed || this.networkKeyPolls >= networkKeysRefetchPolls;
  }

  private auditNetworkKeys(outcome: 'ok' | 'failed', detail: string): void {
    this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'network-keys.install', subject: this.identity.spiffeId, outcome, detail });
  }

  private scheduleRenewal(atMs: number): void {
    if (this.stopped) return;
    if (this.renewalTimer !== null) clearTimeout(this.renewalTimer);
    this.renewalTimer = setTimeout(() => void this.renew(), Math.max(0, atMs - Date.now()));
  }

  /** Renews the SVID once; on failure retries with backoff while the SVID is still valid. */
  async renew(): Promise<void> {
    const connection = this.connection();
    if (connection === null || this.stopped) return;
    try {
      const renewed = await renewSvid({ ...connection, keys: this.options.keys, svid: this.svid });
      if (this.stopped) return;
      this.svid = renewed.svid;
      this.identity = renewed.identity;
      this.failures = 0;
      replaceSvid(this.options.stateDir, renewed.svid);
      this.options.onRenewed(renewed.svid, renewed.identity.notAfterMs);
      this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'svid.renew', subject: renewed.identity.spiffeId, outcome: 'ok', detail: `serial ${renewed.identity.serialHex}, valid until ${new Date(renewed.identity.notAfterMs).toISOString()}` });
      this.options.log('info', 'SVID renewed', { notAfter: new Date(renewed.identity.notAfterMs).toISOString() });
      this.scheduleRenewal(renewalAtMs(renewed.identity));
    } catch (error) {
      // Stopped while the request was out: the database may be closed already, and no retry is wanted.
      if (this.stopped) return;
      // retryAtMs counts attempts from 0 (the retry after the first failure).
      const retry = retryAtMs(this.failures, Date.now(), random, this.identity.notAfterMs);
      this.failures++;
      this.options.log('error', 'SVID renewal failed', { error: (error as Error).message, retryAt: retry === null ? null : new Date(retry).toISOString() });
      this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'svid.renew', subject: this.identity.spiffeId, outcome: 'failed', detail: (error as Error).message });
      if (retry !== null) this.scheduleRenewal(retry);
    }
  }
}
