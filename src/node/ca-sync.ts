import { randomBytes } from 'node:crypto';
import type { NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { notBeforeSkewMs, type NodeKeys } from '../identity/ca.js';
import type { RevocationList, RevocationSet } from '../identity/revocation.js';
import { renewalClockSkewMs } from '../identity/renewal.js';
import { retryAtMs, rotationAtMs } from '../identity/rotation.js';
import type { SvidIdentity, TrustAnchor } from '../identity/svid.js';
import type { LinkId } from '../mesh/neighbour.js';
import { networkKeyScheduleDigest } from './ca-network-keys.js';
import { fetchNetworkKeys, fetchRevocations, renewSvid, type CaConnection } from './enroll-client.js';
import type { NodeStateDb } from './state-db.js';
import { readNetworkKeys, replaceSvid, writeNetworkKeys, type Enrollment } from './state-dir.js';

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
  /** When the CA issued the network key epochs in use (0: the enrollment's key); an older grant is a replay. */
  private networkKeysIssuedAtMs: number;
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
    this.networkKeysIssuedAtMs = readNetworkKeys(options.stateDir)?.issuedAtMs ?? 0;
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
      if (networkKeysDigest !== null) await this.syncNetworkKeys(connection, networkKeysDigest);
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

  /** Fetches and installs the CA's network key epochs when `digest` (the CA's schedule) differs from the epochs in use. */
  private async syncNetworkKeys(connection: CaConnection, digest: string): Promise<void> {
    const networkKeys = this.options.networkKeys;
    if (networkKeys === undefined || this.stopped || digest === networkKeyScheduleDigest(networkKeys.current())) return;
    try {
      const requestedAtMs = this.now();
      const grant = await fetchNetworkKeys({ ...connection, keys: this.options.keys, svid: this.svid });
      if (this.stopped) return;
      this.checkGrantTime(grant.issuedAtMs, requestedAtMs);
      writeNetworkKeys(this.options.stateDir, grant);
      networkKeys.install(grant.epochs);
      this.networkKeysIssuedAtMs = grant.issuedAtMs;
      this.networkKeyFailures = 0;
      const schedule = grant.epochs.map((entry) => `${entry.epoch} from ${new Date(entry.activeFromMs).toISOString()}${entry.acceptUntilMs === null ? '' : ` until ${new Date(entry.acceptUntilMs).toISOString()}`}`).join('; ');
      this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'network-keys.install', subject: this.identity.spiffeId, outcome: 'ok', detail: `epochs ${schedule}` });
      this.options.log('info', 'network key epochs installed', { epochs: grant.epochs.map((entry) => entry.epoch) });
    } catch (error) {
      if (this.stopped) return;
      this.options.log('warn', 'network key fetch failed', { error: (error as Error).message });
      if (this.networkKeyFailures++ === 0) this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'network-keys.install', subject: this.identity.spiffeId, outcome: 'failed', detail: (error as Error).message });
    }
  }

  /**
   * Refuses a grant issued before the one in use, or long before it was asked for: both are what
   * an attacker on the path replaying an old answer would send (it would take a newer epoch
   * away from the node).
   */
  private checkGrantTime(issuedAtMs: number, requestedAtMs: number): void {
    if (issuedAtMs <= this.networkKeysIssuedAtMs || issuedAtMs < requestedAtMs - renewalClockSkewMs) {
      const inUse = this.networkKeysIssuedAtMs === 0 ? 'none' : new Date(this.networkKeysIssuedAtMs).toISOString();
      throw new Error(`network keys: the CA's answer was issued at ${new Date(issuedAtMs).toISOString()}, not after the epochs in use (issued ${inUse}) or more than ${renewalClockSkewMs / 60_000} min before it was asked for: a replayed answer?`);
    }
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
