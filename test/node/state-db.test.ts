import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeStateDb, auditDetailCharsMax, auditFieldCharsMax, stateDbSchemaVersion, type AuditEntry } from '../../src/node/state-db.js';
import { isStateError, type StateError } from '../../src/node/state-dir.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';

const root = mkdtempSync(join(tmpdir(), 'x0t-db-'));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const opened: NodeStateDb[] = [];
afterAll(() => {
  for (const db of opened) db.close();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
const freshPath = (): string => join(root, `node-${counter++}.db`);

function open(path: string, options: Parameters<typeof NodeStateDb.open>[1] = {}): NodeStateDb {
  const db = NodeStateDb.open(path, options);
  opened.push(db);
  return db;
}

/** Runs `action` and returns the StateError it throws; fails when it throws nothing or something else. */
function stateRefusal(action: () => unknown): StateError {
  try {
    action();
  } catch (error) {
    if (isStateError(error)) return error;
    throw error;
  }
  throw new Error('expected a StateError, nothing was thrown');
}

/** A second, plain connection to inspect what is on disk. */
function inspect<T>(path: string, look: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return look(db);
  } finally {
    db.close();
  }
}

const entry = (atMs: number, action = 'route.avoid'): AuditEntry => ({ atMs, actor: 'mape-k', action, subject: 'link 3', outcome: 'ok' });

describe('state database: file and schema', () => {
  it('creates the file in WAL mode at the current schema version', () => {
    const path = freshPath();
    open(path).close();
    expect(inspect(path, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
    expect(inspect(path, (db) => db.pragma('user_version', { simple: true }))).toBe(stateDbSchemaVersion);
    // Bytes 18 and 19 of the header are 2 in a WAL database.
    expect([...readFileSync(path).subarray(18, 20)]).toEqual([2, 2]);
  });

  it('refuses a database written by a newer program, and leaves it untouched', () => {
    const path = freshPath();
    open(path).close();
    inspect(path, (db) => db.pragma('user_version = 99'));
    const error = stateRefusal(() => NodeStateDb.open(path));
    expect(error.code).toBe('ERR_STATE');
    expect(error.message).toBe(`${path}: database schema version 99 is newer than this program knows (${stateDbSchemaVersion}); run a newer x0tta6bl4 or move the file aside`);
    expect(inspect(path, (db) => db.pragma('user_version', { simple: true }))).toBe(99);
  });

  it('refuses a file that is not a SQLite database, naming it', () => {
    const path = freshPath();
    writeFileSync(path, 'this is not a database\n'.repeat(100));
    const error = stateRefusal(() => NodeStateDb.open(path));
    expect(error.path).toBe(path);
    expect(error.message).toMatch(/: not a usable state database \(SQLITE_NOTADB: file is not a database\); is it corrupt\?$/);
  });

  it('names the file when its directory is missing or WAL is impossible', () => {
    const path = join(root, 'absent', 'node.db');
    expect(stateRefusal(() => NodeStateDb.open(path)).message).toMatch(/absent\/node\.db: cannot open the state database \(.*directory does not exist\)/);
    expect(stateRefusal(() => NodeStateDb.open(':memory:')).message).toBe(':memory:: cannot switch the database to WAL mode (journal_mode is memory)');
  });

  it('turns a failing statement into a StateError naming the file and the operation', () => {
    const path = freshPath();
    const db = open(path);
    inspect(path, (other) => other.exec('DROP TABLE setting'));
    expect(stateRefusal(() => db.setting('lifecycle')).message).toBe(`${path}: reading setting lifecycle failed (SQLITE_ERROR: no such table: setting)`);
    expect(stateRefusal(() => db.saveSetting('lifecycle', 'draining')).message).toMatch(/saving setting lifecycle failed/);
  });

  it('passes errors that are not SQLite failures through, such as use after close', () => {
    const db = NodeStateDb.open(freshPath());
    db.close();
    expect(() => db.routerSeqno()).toThrow(TypeError);
  });

  it('checks its retention options', () => {
    expect(() => NodeStateDb.open(freshPath(), { auditPruneEveryInserts: 0 })).toThrow('NodeStateDb.open: auditPruneEveryInserts: expected an integer in 1..');
    expect(() => NodeStateDb.open(freshPath(), { auditEntriesMax: 5, auditPruneEveryInserts: 10 })).toThrow('NodeStateDb.open: auditEntriesMax: expected an integer in 10..');
  });
});

describe('state database: router seqno and id', () => {
  it('starts empty, keeps the last saved values across close and reopen', () => {
    const path = freshPath();
    const db = open(path);
    expect([db.routerSeqno(), db.routerId()]).toEqual([null, null]);
    db.saveRouterSeqno(0);
    expect(db.routerSeqno()).toBe(0);
    db.saveRouterSeqno(65535);
    db.saveRouterId(nodeId(0xdeadbeef));
    db.close();
    const again = open(path);
    expect(again.routerSeqno()).toBe(65535);
    expect(again.routerId()).toBe(0xdeadbeef);
  });

  it('refuses seqnos outside 0..65535 and ids that are not NodeIds, keeping the stored value', () => {
    const db = open(freshPath());
    db.saveRouterSeqno(7);
    for (const bad of [-1, 65536, 1.5, Number.NaN]) expect(() => db.saveRouterSeqno(bad)).toThrow(RangeError);
    expect(db.routerSeqno()).toBe(7);
    expect(() => db.saveRouterId(0 as NodeId)).toThrow('saveRouterId: expected a NodeId, got 0');
    expect(db.routerId()).toBeNull();
  });

  it('keeps a seqno written by a process killed with SIGKILL right after the write', async () => {
    const path = freshPath();
    const module = join(repoRoot, 'src/node/state-db.ts');
    // The interval keeps `db` reachable: a collected connection would be closed and checkpointed,
    // and the test would no longer show that the WAL alone carries the commit.
    const script = `import { NodeStateDb } from ${JSON.stringify(module)};
const db = NodeStateDb.open(${JSON.stringify(path)});
db.saveRouterSeqno(4241);
db.saveRouterSeqno(4242);
process.stdout.write('written\\n');
setInterval(() => db, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('written')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before writing: ${stderr}`)));
    });
    expect(existsSync(`${path}-wal`)).toBe(true);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(open(path).routerSeqno()).toBe(4242);
  });
});

describe('state database: revocation list', () => {
  it('keeps the newest list only; the same sequence replaces it (a fresher copy the CA re-signed)', () => {
    const path = freshPath();
    const db = open(path);
    expect(db.revocationList()).toBeNull();
    expect(db.saveRevocationList(new Uint8Array([5]), 5)).toBe(true);
    expect(db.saveRevocationList(new Uint8Array([4]), 4)).toBe(false);
    expect(db.saveRevocationList(new Uint8Array([5, 5]), 5)).toBe(true);
    expect(db.revocationList()).toEqual({ bytes: new Uint8Array([5, 5]), sequence: 5 });
    expect(db.saveRevocationList(new Uint8Array([6, 6, 6]), 6)).toBe(true);
    db.close();
    expect(open(path).revocationList()).toEqual({ bytes: new Uint8Array([6, 6, 6]), sequence: 6 });
  });

  it('refuses an empty or oversized list and a bad sequence', () => {
    const db = open(freshPath());
    expect(() => db.saveRevocationList(new Uint8Array(0), 1)).toThrow('saveRevocationList: expected 1..1048576 bytes, got 0');
    expect(() => db.saveRevocationList(new Uint8Array(1024 * 1024 + 1), 1)).toThrow(RangeError);
    expect(() => db.saveRevocationList(new Uint8Array(1), -1)).toThrow('saveRevocationList: sequence: expected an integer in 0..');
    expect(db.revocationList()).toBeNull();
  });
});

describe('state database: audit log', () => {
  it('appends entries and lists them newest first, filtered by time and limited', () => {
    const db = open(freshPath());
    expect(db.auditLog()).toEqual([]);
    const first = db.audit({ atMs: 1000, actor: 'spiffe://mesh.test/node/00000001', action: 'node.drain', subject: 'self', outcome: 'denied', detail: 'policy forbids' });
    db.audit(entry(3000, 'key.rotate'));
    db.audit(entry(2000, 'probe.raise'));
    expect(first).toBe(1);
    expect(db.auditLog().map((row) => [row.id, row.action])).toEqual([
      [3, 'probe.raise'],
      [2, 'key.rotate'],
      [1, 'node.drain'],
    ]);
    expect(db.auditLog({ limit: 1 })[0]).toEqual({ id: 3, atMs: 2000, actor: 'mape-k', action: 'probe.raise', subject: 'link 3', outcome: 'ok', detail: null });
    expect(db.auditLog({ sinceMs: 2000 }).map((row) => row.id)).toEqual([3, 2]);
    expect(db.auditLog({ sinceMs: 1000 }).at(-1)).toEqual({ id: 1, atMs: 1000, actor: 'spiffe://mesh.test/node/00000001', action: 'node.drain', subject: 'self', outcome: 'denied', detail: 'policy forbids' });
  });

  it('cuts over-long texts instead of failing, and checks its arguments', () => {
    const db = open(freshPath());
    db.audit({ ...entry(1), subject: 's'.repeat(auditFieldCharsMax + 10), detail: 'd'.repeat(auditDetailCharsMax + 10) });
    const [row] = db.auditLog();
    expect(row!.subject).toHaveLength(auditFieldCharsMax);
    expect(row!.subject.endsWith('…')).toBe(true);
    expect(row!.detail).toHaveLength(auditDetailCharsMax);
    expect(() => db.audit(entry(-1))).toThrow('audit: atMs: expected an integer in 0..');
    expect(() => db.auditLog({ limit: 0 })).toThrow('auditLog: limit: expected an integer in 1..10000, got 0');
    expect(() => db.auditLog({ sinceMs: 0.5 })).toThrow(RangeError);
  });

  it('never holds more than auditEntriesMax rows and keeps the newest', () => {
    const db = open(freshPath(), { auditEntriesMax: 10, auditPruneEveryInserts: 4 });
    let largest = 0;
    for (let i = 1; i <= 50; i++) {
      expect(db.audit(entry(i))).toBe(i);
      const count = db.auditLog({ limit: 100 }).length;
      largest = Math.max(largest, count);
      expect(count).toBeLessThanOrEqual(10);
    }
    expect(largest).toBe(10);
    const ids = db.auditLog({ limit: 100 }).map((row) => row.id);
    expect(ids[0]).toBe(50);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => 50 - i));
  });

  it('prunes on open when the limit is lower than what the file holds', () => {
    const path = freshPath();
    const db = open(path);
    for (let i = 1; i <= 30; i++) db.audit(entry(i));
    db.close();
    const smaller = open(path, { auditEntriesMax: 10, auditPruneEveryInserts: 1 });
    expect(smaller.auditLog({ limit: 100 }).map((row) => row.id)).toEqual(Array.from({ length: 10 }, (_, i) => 30 - i));
  });
});

describe('state database: settings', () => {
  it('stores, replaces and deletes settings across reopen', () => {
    const path = freshPath();
    const db = open(path);
    expect(db.setting('lifecycle')).toBeNull();
    db.saveSetting('lifecycle', 'running');
    db.saveSetting('lifecycle', 'draining');
    db.saveSetting('obfuscation.profile', 'b');
    db.close();
    const again = open(path);
    expect([again.setting('lifecycle'), again.setting('obfuscation.profile')]).toEqual(['draining', 'b']);
    again.saveSetting('lifecycle', null);
    expect(again.setting('lifecycle')).toBeNull();
  });

  it('refuses bad keys and over-long values', () => {
    const db = open(freshPath());
    for (const key of ['', '1abc', 'has space', 'a'.repeat(65)]) expect(() => db.setting(key)).toThrow(/setting key: expected 1\.\.64 characters/);
    expect(() => db.saveSetting('big', 'x'.repeat(4097))).toThrow('saveSetting: value of big: more than 4096 characters');
    expect(db.setting('big')).toBeNull();
  });
});

describe('NodeStateDb as MAPE-K Knowledge', () => {
  it('keeps outcomes per cause and action across a reopen, and ranks with them', async () => {
    const { rankActions } = await import('../../src/mapek/knowledge.js');
    const dir = mkdtempSync(join(tmpdir(), 'x0t-knowledge-'));
    const path = join(dir, 'state.db');
    const db = NodeStateDb.open(path);
    expect(db.record(1, 'quarantineNode')).toEqual({ attempts: 0, successes: 0, meanRecoveryMs: null });
    db.addOutcome(1, 'quarantineNode', true, 3000, 10);
    db.addOutcome(1, 'quarantineNode', true, 1000, 20);
    db.addOutcome(1, 'avoidLink', false, null, 30);
    db.close();
    const again = NodeStateDb.open(path);
    expect(again.record(1, 'quarantineNode')).toEqual({ attempts: 2, successes: 2, meanRecoveryMs: 2000 });
    expect(again.record(1, 'avoidLink')).toEqual({ attempts: 1, successes: 0, meanRecoveryMs: null });
    expect(again.record(2, 'quarantineNode').attempts).toBe(0);
    expect(rankActions(again, 1, ['avoidLink', 'quarantineNode'])).toEqual(['quarantineNode', 'avoidLink']);
    again.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
