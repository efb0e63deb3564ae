import { timingSafeEqual } from 'node:crypto';
import { sha256 } from '../crypto/hash.js';
import { IdentityError, IdentityErrorCode } from './errors.js';

/**
 * One-time join tokens: `x0t1.<16 hex id>.<43 base64url secret>`. The CA keeps only the id and
 * a hash of the secret, so its token file cannot be replayed by whoever reads it. A token
 * works once, before it expires.
 */

/** Default and largest token lifetime. */
export const joinTokenTtlMsDefault = 10 * 60_000;
export const joinTokenTtlMsMax = 7 * 24 * 3600_000;
/** Most tokens a CA keeps (used and expired ones are pruned first). */
export const joinTokensMax = 10_000;

const tokenPattern = /^x0t1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

/** What the CA remembers of one token. */
export interface JoinTokenRecord {
  readonly idHex: string;
  readonly secretHashHex: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  usedAtMs: number | null;
  usedBy: string | null;
}

function fail(code: (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode], message: string): never {
  throw new IdentityError(code, message);
}

function secretHash(secret: string): Buffer {
  return Buffer.from(sha256(new TextEncoder().encode(secret)));
}

/** The tokens a CA has issued; plain data in and out (toJSON/fromJSON) so the daemon can store it. */
export class JoinTokenBook {
  private readonly records = new Map<string, JoinTokenRecord>();

  /** A book holding `records` (as loaded from the CA's directory). */
  constructor(records: readonly JoinTokenRecord[] = []) {
    for (const record of records) this.records.set(record.idHex, { ...record });
  }

  /** Issues a token valid for `ttlMs`; returns the token text (shown once) and its record. */
  issue(nowMs: number, ttlMs: number, random: (bytes: number) => Uint8Array): { token: string; record: JoinTokenRecord } {
    if (!(Number.isInteger(ttlMs) && ttlMs >= 1000 && ttlMs <= joinTokenTtlMsMax)) {
      throw new RangeError(`join token: expected a ttl of 1 s..${joinTokenTtlMsMax / 3600_000} h, got ${ttlMs} ms`);
    }
    this.prune(nowMs);
    if (this.records.size >= joinTokensMax) throw new RangeError(`join token: ${joinTokensMax} tokens are outstanding; revoke or wait for some to expire`);
    const idHex = Buffer.from(random(8)).toString('hex');
    const secret = Buffer.from(random(32)).toString('base64url');
    const record: JoinTokenRecord = { idHex, secretHashHex: secretHash(secret).toString('hex'), createdAtMs: nowMs, expiresAtMs: nowMs + ttlMs, usedAtMs: null, usedBy: null };
    this.records.set(idHex, record);
    return { token: `x0t1.${idHex}.${secret}`, record: { ...record } };
  }

  /** Checks `token` without using it up: ERR_TOKEN_FORMAT, _UNKNOWN, _USED or _EXPIRED when it cannot be used now. */
  check(token: string, nowMs: number): JoinTokenRecord {
    const match = tokenPattern.exec(token);
    if (match === null) fail(IdentityErrorCode.ERR_TOKEN_FORMAT, 'join token: expected x0t1.<16 hex digits>.<43 base64url characters>');
    const record = this.records.get(match[1]!);
    if (record === undefined || !timingSafeEqual(secretHash(match[2]!), Buffer.from(record.secretHashHex, 'hex'))) {
      fail(IdentityErrorCode.ERR_TOKEN_UNKNOWN, `join token ${match[1]}: not issued by this CA`);
    }
    if (record.usedAtMs !== null) fail(IdentityErrorCode.ERR_TOKEN_USED, `join token ${record.idHex}: already used at ${new Date(record.usedAtMs).toISOString()} by ${record.usedBy}`);
    if (nowMs >= record.expiresAtMs) fail(IdentityErrorCode.ERR_TOKEN_EXPIRED, `join token ${record.idHex}: expired at ${new Date(record.expiresAtMs).toISOString()}`);
    return { ...record };
  }

  /** Uses up `token` for `spiffeId` (after check, once the SVID exists). */
  consume(token: string, nowMs: number, spiffeId: string): void {
    const record = this.records.get(this.check(token, nowMs).idHex)!;
    record.usedAtMs = nowMs;
    record.usedBy = spiffeId;
  }

  /** Every record, for storage. */
  toJSON(): JoinTokenRecord[] {
    return [...this.records.values()].map((record) => ({ ...record }));
  }

  private prune(nowMs: number): void {
    for (const [id, record] of this.records) {
      if (record.usedAtMs !== null || nowMs >= record.expiresAtMs) this.records.delete(id);
    }
  }
}
