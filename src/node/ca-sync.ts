import { randomBytes } from 'node:crypto';
import { notBeforeSkewMs, type NodeKeys } from '../identity/ca.js';
import type { RevocationSet } from '../identity/revocation.js';
import { retryAtMs, rotationAtMs } from '../identity/rotation.js';
import type { SvidIdentity, TrustAnchor } from '../identity/svid.js';
import { fetchRevocations, renewSvid, type CaConnection } from './enroll-client.js';
import type { NodeStateDb } from './state-db.js';
import { replaceSvid, type Enrollment } from './state-dir.js';

/**
 * What a running node keeps in step with its CA: the signed revocation list (fetched every
 * revocationPollMs, installed when newer, saved so a restart honours it before the CA answers)
 * and its own SVID (renewed at 45-55 % of its lifetime, retried with backoff until it expires).
 * A node enrolled without a CA URL does neither.
 */

/** How often the revocation list is fetched. */
export const revocationPollMs = 10_000;

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
  private svid: Uint8Array;
  private identity: SvidIdentity;
  private stopped = false;
  /** Renewals that failed in a row. */
  private failures = 0;

  constructor(private readonly options: CaSyncOptions) {
    this.svid = options.enrollment.svid;
    this.identity = options.svid;
  }

  /** Starts polling and schedules the first renewal; nothing happens without a CA URL. */
  start(): void {
    if (this.connection() === null) return;
    void this.pollRevocations();
    this.scheduleRenewal(renewalAtMs(this.identity));
  }

  /** Stops every timer. */
  stop(): void {
    this.stopped = true;
    if (this.revocationTimer !== null) clearTimeout(this.revocationTimer);
    if (this.renewalTimer !== null) clearTimeout(this.renewalTimer);
  }

  private connection(): CaConnection | null {
    const caUrl = this.options.enrollment.caUrl;
    return caUrl === null ? null : { caUrl, anchors: this.options.anchors, trustDomain: this.options.enrollment.trustDomain };
  }

  /** Fetches the revocation list once, installs it when newer, and schedules the next fetch. */
  async pollRevocations(): Promise<void> {
    const connection = this.connection();
    if (connection === null || this.stopped) return;
    try {
      const { bytes, list } = await fetchRevocations(connection);
      if (!this.stopped && this.options.revocations.update(bytes, this.options.anchors)) {
        this.options.db.saveRevocationList(bytes, list.sequence);
        this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'revocations.install', subject: connection.caUrl, outcome: 'ok', detail: `sequence ${list.sequence}, ${list.entries.length} entries` });
        this.options.log('info', 'revocation list installed', { sequence: list.sequence, entries: list.entries.length });
        this.noteIfRevoked();
      }
    } catch (error) {
      this.options.log('warn', 'revocation list fetch failed', { error: (error as Error).message });
    }
    if (this.stopped) return;
    // A poll called from outside (NodeDaemon.syncWithCa) replaces the pending one instead of starting a second chain.
    if (this.revocationTimer !== null) clearTimeout(this.revocationTimer);
    this.revocationTimer = setTimeout(() => void this.pollRevocations(), this.options.revocationPollMs ?? revocationPollMs);
  }

  /** This node's own SVID on the list: its peers will drop it; say so where the operator looks. */
  private noteIfRevoked(): void {
    if (!this.options.revocations.isRevoked(this.identity)) return;
    this.options.log('error', 'this node is revoked: peers refuse its SVID', { spiffeId: this.identity.spiffeId, serial: this.identity.serialHex });
    this.options.db.audit({ atMs: Date.now(), actor: 'ca', action: 'node.revoked', subject: this.identity.spiffeId, outcome: 'denied', detail: `serial ${this.identity.serialHex}` });
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
