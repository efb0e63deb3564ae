import Database from 'better-sqlite3';
import { revocationBytesMax } from '../identity/revocation.js';
import type { ActionKind } from '../mapek/actions.js';
import { withOutcome, type ActionRecord, type KnowledgeStore } from '../mapek/knowledge.js';
import type { FaultClassValue } from '../telemetry/types.js';
import { isNodeId, nodeId, type NodeId } from '../wire/ids.js';
import { StateError } from './state-dir.js';

/**
 * The node's SQLite database (<stateDir>/node.db): its own Babel seqno and router id, the newest
 * revocation list, an append-only audit log with bounded retention, and a few settings. The
 * schema version lives in `user_version` and grows by migrations; a database written by a newer
 * program is refused rather than guessed at.
 *
 * Durability: WAL mode with `synchronous = FULL`, so every commit is fsynced to the WAL before it
 * returns. NORMAL would already survive a crash of the process (kill -9): a commit is written to
 * the WAL with write(2), which puts it in the kernel's page cache, and the kernel writes it out
 * whether or not the process lives on; only a power loss or kernel crash could drop the last
 * commits. FULL closes that gap too, so the seqno a node restarts from never goes back even after
 * a power cut. Its cost is one fsync per commit, and commits here are rare (a seqno change, an
 * audited action), not per packet.
 */

/** Highest Babel seqno (16 bits, RFC 8966 compares them modulo 2^16). */
export const routerSeqnoMax = 0xffff;
/** Most audit rows kept; older ones are deleted. */
export const auditEntriesMax = 100_000;
/** Retention runs when an inserted audit row's id is a multiple of this. */
export const auditPruneEveryInserts = 100;
/** Longest actor, action or subject stored, in characters; longer ones are cut (an audit record must not fail). */
export const auditFieldCharsMax = 1024;
/** Longest audit detail stored, in characters; longer ones are cut. */
export const auditDetailCharsMax = 8192;
/** Most audit rows one auditLog call returns. */
export const auditLogLimitMax = 10_000;
/** Default number of audit rows auditLog returns. */
export const auditLogLimitDefault = 100;
/** Longest setting key, in characters. */
export const settingKeyCharsMax = 64;
/** Longest setting value, in characters. */
export const settingValueCharsMax = 4096;
/** How long a write waits for another process's lock (the CLI may read while the daemon writes). */
export const busyTimeoutMs = 5000;

/** Migrations: entry i moves the schema from version i to i + 1. Never edit one that has shipped. */
const migrations: readonly string[] = [
  `CREATE TABLE router (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     seqno INTEGER CHECK (seqno BETWEEN 0 AND 65535),
     router_id INTEGER CHECK (router_id BETWEEN 1 AND 4294967295)
   ) STRICT;
   INSERT INTO router (singleton, seqno, router_id) VALUES (1, NULL, NULL);
   CREATE TABLE revocation (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     sequence INTEGER NOT NULL CHECK (sequence >= 0),
     bytes BLOB NOT NULL
   ) STRICT;
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at_ms INTEGER NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     subject TEXT NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
     detail TEXT
   ) STRICT;
   CREATE INDEX audit_at_ms ON audit (at_ms);
   CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;`,
  // MAPE-K Knowledge: what each action achieved against each cause (decisions go to the audit log).
  `CREATE TABLE knowledge (
     cause INTEGER NOT NULL CHECK (cause BETWEEN 0 AND 255),
     action TEXT NOT NULL,
     attempts INTEGER NOT NULL CHECK (attempts >= 1),
     successes INTEGER NOT NULL CHECK (successes BETWEEN 0 AND attempts),
     mean_recovery_ms REAL,
     last_at_ms INTEGER NOT NULL,
     PRIMARY KEY (cause, action)
   ) STRICT, WITHOUT ROWID;`,
];

/** The schema version this program writes. */
export const stateDbSchemaVersion = migrations.length;

/** An audited action. */
export interface AuditEntry {
  readonly atMs: number;
  /** Who acted: a SPIFFE ID, 'operator' or 'mape-k'. */
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly outcome: 'ok' | 'denied' | 'failed';
  readonly detail?: string;
}

/** A stored audit row: the entry with its sequence id (ids grow in order of appending). */
export interface AuditRecord {
  readonly id: number;
  readonly atMs: number;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly outcome: 'ok' | 'denied' | 'failed';
  readonly detail: string | null;
}

/** Overrides of the retention limits (tests use small ones). */
export interface StateDbOptions {
  readonly auditEntriesMax?: number;
  readonly auditPruneEveryInserts?: number;
}

interface AuditRow {
  id: number;
  atMs: number;
  actor: string;
  action: string;
  subject: string;
  outcome: AuditRecord['outcome'];
  detail: string | null;
}

function cut(text: string, charsMax: number): string {
  return text.length <= charsMax ? text : `${text.slice(0, charsMax - 1)}…`;
}

function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw new RangeError(`${what}: expected an integer in ${min}..${max}, got ${value}`);
}

function sqliteText(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`;
}

/** Sets WAL and durability, then brings the schema up to date in one write transaction. */
function prepareDatabase(db: Database.Database, path: string): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new StateError(path, `${path}: cannot switch the database to WAL mode (journal_mode is ${String(mode)})`);
  db.pragma('synchronous = FULL');
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > stateDbSchemaVersion) {
      throw new StateError(path, `${path}: database schema version ${version} is newer than this program knows (${stateDbSchemaVersion}); run a newer x0tta6bl4 or move the file aside`);
    }
    for (let next = version; next < stateDbSchemaVersion; next++) db.exec(migrations[next]!);
    if (version !== stateDbSchemaVersion) db.pragma(`user_version = ${stateDbSchemaVersion}`);
  }).immediate();
}

/** The node's state database; one instance per open file, statements prepared once. */
export class NodeStateDb implements KnowledgeStore {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #auditKeep: number;
  readonly #pruneEvery: number;
  readonly #getRouter;
  readonly #setSeqno;
  readonly #setRouterId;
  readonly #getRevocation;
  readonly #putRevocation;
  readonly #insertAudit;
  readonly #pruneAudit;
  readonly #selectAudit;
  readonly #getSetting;
  readonly #putSetting;
  readonly #deleteSetting;
  readonly #getKnowledge;
  readonly #putKnowledge;

  private constructor(db: Database.Database, path: string, entriesMax: number, pruneEvery: number) {
    this.#db = db;
    this.#path = path;
    // Pruning keeps entriesMax - pruneEvery + 1 rows, so the table never holds more than
    // entriesMax rows even just before the next prune.
    this.#auditKeep = entriesMax - pruneEvery + 1;
    this.#pruneEvery = pruneEvery;
    this.#getRouter = db.prepare<[], { seqno: number | null; routerId: number | null }>('SELECT seqno, router_id AS routerId FROM router WHERE singleton = 1');
    this.#setSeqno = db.prepare<[number]>('UPDATE router SET seqno = ? WHERE singleton = 1');
    this.#setRouterId = db.prepare<[number]>('UPDATE router SET router_id = ? WHERE singleton = 1');
    this.#getRevocation = db.prepare<[], { sequence: number; bytes: Buffer }>('SELECT sequence, bytes FROM revocation WHERE singleton = 1');
    this.#putRevocation = db.prepare<[number, Buffer]>(
      'INSERT INTO revocation (singleton, sequence, bytes) VALUES (1, ?, ?) ON CONFLICT (singleton) DO UPDATE SET sequence = excluded.sequence, bytes = excluded.bytes',
    );
    this.#insertAudit = db.prepare<[number, string, string, string, string, string | null]>(
      'INSERT INTO audit (at_ms, actor, action, subject, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#pruneAudit = db.prepare<[number]>('DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?');
    this.#selectAudit = db.prepare<[number, string | null, string | null, number], AuditRow>(
      'SELECT id, at_ms AS atMs, actor, action, subject, outcome, detail FROM audit WHERE at_ms >= ? AND (? IS NULL OR actor = ?) ORDER BY id DESC LIMIT ?',
    );
    this.#getSetting = db.prepare<[string], { value: string }>('SELECT value FROM setting WHERE key = ?');
    this.#putSetting = db.prepare<[string, string]>('INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.#deleteSetting = db.prepare<[string]>('DELETE FROM setting WHERE key = ?');
    this.#getKnowledge = db.prepare<[number, string], { attempts: number; successes: number; meanRecoveryMs: number | null }>(
      'SELECT attempts, successes, mean_recovery_ms AS meanRecoveryMs FROM knowledge WHERE cause = ? AND action = ?',
    );
    this.#putKnowledge = db.prepare<[number, string, number, number, number | null, number]>(
      `INSERT INTO knowledge (cause, action, attempts, successes, mean_recovery_ms, last_at_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (cause, action) DO UPDATE SET attempts = excluded.attempts, successes = excluded.successes,
         mean_recovery_ms = excluded.mean_recovery_ms, last_at_ms = excluded.last_at_ms`,
    );
  }

  /** Opens (creating if needed) the database at `path`, in WAL mode, migrated; StateError naming the file otherwise. */
  static open(path: string, options: StateDbOptions = {}): NodeStateDb {
    const entriesMax = options.auditEntriesMax ?? auditEntriesMax;
    const pruneEvery = options.auditPruneEveryInserts ?? auditPruneEveryInserts;
    checkInteger('NodeStateDb.open: auditPruneEveryInserts', pruneEvery, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('NodeStateDb.open: auditEntriesMax', entriesMax, pruneEvery, Number.MAX_SAFE_INTEGER);
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: busyTimeoutMs });
    } catch (error) {
      throw new StateError(path, `${path}: cannot open the state database (${sqliteText(error)})`);
    }
    try {
      prepareDatabase(db, path);
      const opened = new NodeStateDb(db, path, entriesMax, pruneEvery);
      opened.#write('audit retention', () => opened.#pruneAudit.run(opened.#auditKeep));
      return opened;
    } catch (error) {
      db.close();
      if (error instanceof StateError) throw error;
      throw new StateError(path, `${path}: not a usable state database (${sqliteText(error)}); is it corrupt?`);
    }
  }

  /** Closes the database; the object is unusable afterwards. */
  close(): void {
    this.#db.close();
  }

  /** Runs `action` in a write transaction; SQLite failures become a StateError naming the file and the operation. */
  #write<T>(what: string, action: () => T): T {
    return this.#guard(what, () => this.#db.transaction(action).immediate());
  }

  #guard<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (error instanceof Database.SqliteError) throw new StateError(this.#path, `${this.#path}: ${what} failed (${sqliteText(error)})`);
      throw error;
    }
  }

  /** The node's last saved own seqno, or null before the first save. */
  routerSeqno(): number | null {
    return this.#guard('reading the router seqno', () => this.#getRouter.get()!.seqno);
  }

  /** Saves the node's own seqno (0..65535); durable when this returns. */
  saveRouterSeqno(seqno: number): void {
    checkInteger('saveRouterSeqno', seqno, 0, routerSeqnoMax);
    this.#write('saving the router seqno', () => this.#setSeqno.run(seqno));
  }

  /** The node's saved router id, or null before the first save. */
  routerId(): NodeId | null {
    const id = this.#guard('reading the router id', () => this.#getRouter.get()!.routerId);
    return id === null ? null : nodeId(id);
  }

  /** Saves the node's router id. */
  saveRouterId(id: NodeId): void {
    if (!isNodeId(id)) throw new RangeError(`saveRouterId: expected a NodeId, got ${id}`);
    this.#write('saving the router id', () => this.#setRouterId.run(id));
  }

  /**
   * Stores a signed revocation list unless the stored one has a higher sequence; returns whether
   * it was stored. The same sequence replaces the stored list: it is a fresher copy the CA
   * re-signed, which the caller's RevocationSet has already judged newer (the database does not
   * decode lists).
   */
  saveRevocationList(bytes: Uint8Array, sequence: number): boolean {
    checkInteger('saveRevocationList: sequence', sequence, 0, Number.MAX_SAFE_INTEGER);
    if (bytes.length === 0 || bytes.length > revocationBytesMax) throw new RangeError(`saveRevocationList: expected 1..${revocationBytesMax} bytes, got ${bytes.length}`);
    return this.#write('saving the revocation list', () => {
      const current = this.#getRevocation.get();
      if (current !== undefined && current.sequence > sequence) return false;
      this.#putRevocation.run(sequence, Buffer.from(bytes));
      return true;
    });
  }

  /** The newest stored revocation list, or null. */
  revocationList(): { bytes: Uint8Array; sequence: number } | null {
    const row = this.#guard('reading the revocation list', () => this.#getRevocation.get());
    return row === undefined ? null : { bytes: new Uint8Array(row.bytes), sequence: row.sequence };
  }

  /** Appends an audit entry (over-long texts are cut); returns its id. Retention runs in the same transaction. */
  audit(entry: AuditEntry): number {
    checkInteger('audit: atMs', entry.atMs, 0, Number.MAX_SAFE_INTEGER);
    const fields = [cut(entry.actor, auditFieldCharsMax), cut(entry.action, auditFieldCharsMax), cut(entry.subject, auditFieldCharsMax)] as const;
    const detail = entry.detail === undefined ? null : cut(entry.detail, auditDetailCharsMax);
    return this.#write('appending to the audit log', () => {
      const id = Number(this.#insertAudit.run(entry.atMs, ...fields, entry.outcome, detail).lastInsertRowid);
      if (id % this.#pruneEvery === 0) this.#pruneAudit.run(this.#auditKeep);
      return id;
    });
  }

  /**
   * Audit entries at or after `sinceMs` (of `actor` only, when given), newest (last appended)
   * first, at most `limit` (default auditLogLimitDefault).
   */
  auditLog(query: { readonly sinceMs?: number; readonly limit?: number; readonly actor?: string } = {}): AuditRecord[] {
    const sinceMs = query.sinceMs ?? 0;
    const limit = query.limit ?? auditLogLimitDefault;
    const actor = query.actor ?? null;
    checkInteger('auditLog: limit', limit, 1, auditLogLimitMax);
    checkInteger('auditLog: sinceMs', sinceMs, 0, Number.MAX_SAFE_INTEGER);
    return this.#guard('reading the audit log', () => this.#selectAudit.all(sinceMs, actor, actor, limit));
  }

  /** A stored setting (e.g. 'lifecycle' = 'draining'), or null. */
  setting(key: string): string | null {
    checkSettingKey(key);
    return this.#guard(`reading setting ${key}`, () => this.#getSetting.get(key)?.value ?? null);
  }

  /** Stores a setting; null deletes it. */
  saveSetting(key: string, value: string | null): void {
    checkSettingKey(key);
    if (value !== null && value.length > settingValueCharsMax) throw new RangeError(`saveSetting: value of ${key}: more than ${settingValueCharsMax} characters`);
    this.#write(`saving setting ${key}`, () => (value === null ? this.#deleteSetting.run(key) : this.#putSetting.run(key, value)));
  }

  /** What MAPE-K's Knowledge holds for `action` against `cause` (a KnowledgeStore). */
  record(cause: FaultClassValue, action: ActionKind): ActionRecord {
    return this.#guard('reading knowledge', () => this.#getKnowledge.get(cause, action)) ?? { attempts: 0, successes: 0, meanRecoveryMs: null };
  }

  /** Adds one outcome to Knowledge, durably (recoveryMs counts only for successes). */
  addOutcome(cause: FaultClassValue, action: ActionKind, succeeded: boolean, recoveryMs: number | null, atMs: number): void {
    this.#write('saving knowledge', () => {
      const next = withOutcome(this.record(cause, action), succeeded, recoveryMs);
      this.#putKnowledge.run(cause, action, next.attempts, next.successes, next.meanRecoveryMs, Math.round(atMs));
    });
  }

}

function checkSettingKey(key: string): void {
  if (!/^[a-zA-Z][a-zA-Z0-9._-]*$/.test(key) || key.length > settingKeyCharsMax) throw new RangeError(`setting key: expected 1..${settingKeyCharsMax} characters [a-zA-Z0-9._-] starting with a letter, got ${JSON.stringify(key)}`);
}
