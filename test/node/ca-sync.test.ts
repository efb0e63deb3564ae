import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { singleEpoch, type NetworkKeyEpoch } from '../../src/crypto/network-key-ring.js';
import { parseBundle } from '../../src/identity/bundle.js';
import type { MeshCa } from '../../src/identity/ca.js';
import { parseCertificate } from '../../src/identity/certificate.js';
import { RevocationSet, signRevocationList } from '../../src/identity/revocation.js';
import { validateSvid } from '../../src/identity/svid.js';
import { CaSync, networkKeysRefetchPolls, type CaSyncOptions } from '../../src/node/ca-sync.js';
import { startCaService, type CaService } from '../../src/node/ca-service.js';
import { networkKeysDigestHeader, rotateNetworkKey } from '../../src/node/ca-network-keys.js';
import { openCaDirectory, readTokens, revokeInCaDirectory, saveTokens, withCaLock } from '../../src/node/ca-store.js';
import { enrollNode } from '../../src/node/enroll-client.js';
import { NodeStateDb } from '../../src/node/state-db.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { readEnrollment, readNetworkKeys, readNodeKeys, statePaths } from '../../src/node/state-dir.js';
import { until } from './runtime-harness.js';
import { deadUrl, startTestCa, type TestCa } from './ca-fixture.js';

/**
 * CaSync against a CA service in this process: revocation lists fetched, installed when newer,
 * saved and audited; SVIDs renewed and stored, failures retried with backoff; timers that stop
 * with it.
 */

const passphrase = 'ca sync test passphrase';
const trustDomain = 'sync.test';
const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
/** A poll interval longer than any test: the scheduled polls never fire by themselves. */
const pollMsLong = 3_333_333;

let root: string;
let caDir: string;
let ca: MeshCa;
let pin: string;
let service: CaService;
let nodeCount = 0;

let testCa: TestCa | undefined;

beforeAll(async () => {
  testCa = await startTestCa('x0t-ca-sync-', trustDomain, passphrase);
  ({ root, caDir, ca, pin, service } = testCa);
});

afterAll(async () => {
  await testCa?.close();
});

function newToken(): string {
  return withCaLock(caDir, () => {
    const tokens = readTokens(caDir);
    const { token } = tokens.issue(Date.now(), 600_000, random);
    saveTokens(caDir, tokens);
    return token;
  });
}

function revoke(spiffeId: string): number {
  return revokeInCaDirectory(caDir, ca, { spiffeId, serialHex: null, revokedAtMs: Date.now() }, 'test', Date.now()).sequence;
}

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
  readonly atMs: number;
}

interface Fixture {
  readonly stateDir: string;
  readonly db: NodeStateDb;
  readonly revocations: RevocationSet;
  readonly logs: LogLine[];
  readonly renewed: { certificate: Uint8Array; notAfterMs: number }[];
  readonly options: CaSyncOptions;
  readonly sync: CaSync;
}

const open: Fixture[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  for (const fixture of open.splice(0)) {
    fixture.sync.stop();
    fixture.db.close();
  }
});

/** A node enrolled through `caUrl` (default: the shared service), with a CaSync built as the daemon builds it. */
async function fixture(overrides: { caUrl?: string | null; revocationPollMs?: number; enrollVia?: string } & Pick<CaSyncOptions, 'revocationMaxAgeMs' | 'now' | 'onStaleChange' | 'onInstalled' | 'networkKeys' | 'networkKeysJitterMs'> = {}): Promise<Fixture> {
  const stateDir = join(root, `node-${nodeCount++}`);
  await enrollNode({ caUrl: overrides.enrollVia ?? service.address, token: newToken(), stateDir, caSha256: pin });
  const stored = readEnrollment(stateDir);
  const enrollment = overrides.caUrl === undefined ? stored : { ...stored, caUrl: overrides.caUrl };
  const anchors = parseBundle(stored.bundleJson!, trustDomain, Date.now()).anchors;
  const db = NodeStateDb.open(join(stateDir, 'node.db'));
  const revocations = new RevocationSet(trustDomain);
  const logs: LogLine[] = [];
  const renewed: Fixture['renewed'] = [];
  const options: CaSyncOptions = {
    enrollment,
    keys: readNodeKeys(stateDir),
    anchors,
    revocations,
    db,
    stateDir,
    svid: validateSvid(stored.svid, anchors, trustDomain, Date.now()),
    log: (level, message, fields = {}) => logs.push({ level, message, fields, atMs: Date.now() }),
    onRenewed: (certificate, notAfterMs) => renewed.push({ certificate, notAfterMs }),
    revocationPollMs: overrides.revocationPollMs ?? pollMsLong,
    ...(overrides.revocationMaxAgeMs === undefined ? {} : { revocationMaxAgeMs: overrides.revocationMaxAgeMs }),
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
    ...(overrides.onStaleChange === undefined ? {} : { onStaleChange: overrides.onStaleChange }),
    ...(overrides.onInstalled === undefined ? {} : { onInstalled: overrides.onInstalled }),
    ...(overrides.networkKeys === undefined ? {} : { networkKeys: overrides.networkKeys }),
    ...(overrides.networkKeysJitterMs === undefined ? {} : { networkKeysJitterMs: overrides.networkKeysJitterMs }),
  };
  const made = { stateDir, db, revocations, logs, renewed, options, sync: new CaSync(options) };
  open.push(made);
  return made;
}


type Arming = 'pollRevocations' | 'scheduleRenewal' | 'checkRevocationFreshness';

/**
 * Watches setTimeout and clearTimeout (passing through to the real ones) and tells which timers
 * CaSync armed, by the method that armed them, are still pending: neither cleared nor fired.
 */
function watchTimers(): { pending: (by: Arming) => number; delays: (by: Arming) => number[] } {
  const realSetTimeout = globalThis.setTimeout;
  const armed: { by: string; delayMs: number; handle: NodeJS.Timeout }[] = [];
  const done = new Set<NodeJS.Timeout>();
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: (...args: unknown[]) => void, delayMs?: number, ...args: unknown[]) => {
    const handle: NodeJS.Timeout = realSetTimeout(() => {
      done.add(handle);
      callback(...args);
    }, delayMs);
    // The innermost CaSync method on the stack armed it.
    const by = /at CaSync\.(\w+) /.exec(new Error().stack ?? '')?.[1] ?? 'other';
    armed.push({ by, delayMs: Number(delayMs ?? 0), handle });
    return handle;
  }) as unknown as typeof setTimeout);
  const clear = vi.spyOn(globalThis, 'clearTimeout');
  const pending = (by: Arming): number[] => {
    const cleared = new Set(clear.mock.calls.map(([handle]) => handle));
    return armed.filter((timer) => timer.by === by && !cleared.has(timer.handle) && !done.has(timer.handle)).map((timer) => timer.delayMs);
  };
  return { pending: (by) => pending(by).length, delays: pending };
}

function audits(db: NodeStateDb, action: string): ReturnType<NodeStateDb['auditLog']> {
  return db.auditLog({ limit: 1000 }).filter((entry) => entry.action === action);
}

describe('CaSync: revocation lists', () => {
  it('installs a newer list (set, database, audit), ignores the same sequence, and keeps one poll timer', async () => {
    const node = await fixture();
    const timers = watchTimers();
    const first = revoke(`spiffe://${trustDomain}/node/0000a001`);
    await node.sync.pollRevocations();
    expect(node.revocations.list?.sequence).toBe(first);
    expect(node.revocations.isRevoked({ spiffeId: `spiffe://${trustDomain}/node/0000a001`, serialHex: '01', notBeforeMs: 0, notAfterMs: Date.now() + 3600_000 })).toBe(true);
    expect(node.db.revocationList()?.sequence).toBe(first);
    expect(audits(node.db, 'revocations.install')).toEqual([expect.objectContaining({ actor: 'ca', subject: service.address, outcome: 'ok', detail: expect.stringMatching(new RegExp(`^sequence ${first}, \\d+ entries$`)) })]);
    expect(node.logs.filter((line) => line.message === 'revocation list installed')).toHaveLength(1);

    await node.sync.pollRevocations();
    expect(audits(node.db, 'revocations.install')).toHaveLength(1);
    expect(node.logs.filter((line) => line.message === 'revocation list installed')).toHaveLength(1);

    const second = revoke(`spiffe://${trustDomain}/node/0000a002`);
    await node.sync.pollRevocations();
    expect(second).toBe(first + 1);
    expect(node.revocations.list?.sequence).toBe(second);
    expect(node.db.revocationList()?.sequence).toBe(second);
    expect(audits(node.db, 'revocations.install')).toHaveLength(2);
    // Three polls called from outside: still one chain of polls, not three.
    expect(timers.pending('pollRevocations')).toBe(1);
    node.sync.stop();
    expect(timers.pending('pollRevocations')).toBe(0);
  });

  it('offer: a list a neighbour passed on is installed when newer (audited with its source), old when not, refused when it does not verify; a node without a CA takes it too', async () => {
    const installs: { sequence: number; newSequence: boolean; fromLink: number | null }[] = [];
    const node = await fixture({ caUrl: null, onInstalled: (_bytes, list, newSequence, fromLink) => installs.push({ sequence: list.sequence, newSequence, fromLink }) });
    const list = revokeInCaDirectory(caDir, ca, { spiffeId: `spiffe://${trustDomain}/node/0000b001`, serialHex: null, revokedAtMs: Date.now() }, 'gossip test', Date.now());
    const signed = signRevocationList(ca, list);
    expect(node.sync.offer(signed, 'gossip from node 0000000c', 3 as LinkId)).toBe('installed');
    expect(node.revocations.list?.sequence).toBe(list.sequence);
    expect(node.db.revocationList()?.sequence).toBe(list.sequence);
    expect(audits(node.db, 'revocations.install')).toEqual([expect.objectContaining({ subject: 'gossip from node 0000000c', outcome: 'ok' })]);
    // The same list again (another neighbour was slower): old, nothing audited twice.
    expect(node.sync.offer(signed, 'gossip from node 0000000d', 4 as LinkId)).toBe('old');
    // A fresher copy of the same list: installed, but not a new sequence.
    expect(node.sync.offer(signRevocationList(ca, { ...list, issuedAtMs: list.issuedAtMs + 10_000 }), 'gossip from node 0000000d', 4 as LinkId)).toBe('installed');
    expect(installs).toEqual([
      { sequence: list.sequence, newSequence: true, fromLink: 3 },
      { sequence: list.sequence, newSequence: false, fromLink: 4 },
    ]);
    expect(audits(node.db, 'revocations.install')).toHaveLength(1);
    const forged = signed.slice();
    forged[forged.length - 5]! ^= 1;
    expect(node.sync.offer(forged, 'gossip from node 0000000e', 5 as LinkId)).toBe('refused');
    expect(node.logs.filter((line) => line.message === 'revocation list from a neighbour refused')).toEqual([expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ from: 'gossip from node 0000000e' }) })]);
    node.sync.stop();
    expect(node.sync.offer(signed, 'gossip from node 0000000c', 3 as LinkId)).toBe('refused');
  });

  it('a list naming this very node is audited and logged as node.revoked', async () => {
    const node = await fixture();
    revoke(node.options.svid.spiffeId);
    await node.sync.pollRevocations();
    expect(audits(node.db, 'node.revoked')).toEqual([expect.objectContaining({ actor: 'ca', subject: node.options.svid.spiffeId, outcome: 'denied' })]);
    expect(node.logs.filter((line) => line.level === 'error' && line.message === 'this node is revoked: peers refuse its SVID')).toHaveLength(1);
    node.sync.stop();
  });

  it('survives a CA that is down (warns, installs nothing) and installs the list at the next scheduled poll', async () => {
    const own = await startCaService({ dir: caDir, passphrase, listen: '127.0.0.1:0' });
    const port = Number(new URL(own.address).port);
    const node = await fixture({ enrollVia: own.address, revocationPollMs: 100 });
    await own.close();
    await node.sync.pollRevocations();
    expect(node.logs).toEqual([
      expect.objectContaining({ level: 'warn', message: 'revocation list fetch failed', fields: { error: expect.stringContaining(`cannot reach the CA at ${own.address}`) } }),
      // Without any list the node cannot vouch for its peers: stale from the start.
      expect.objectContaining({ level: 'error', message: 'revocation list is stale: new peer sessions are refused until a fresh one arrives', fields: { sequence: null, ageS: null, maxAgeS: 60 } }),
    ]);
    expect(node.db.revocationList()).toBeNull();
    expect(node.revocations.list).toBeNull();
    expect([node.sync.isRevocationListStale(), node.sync.revocationListAgeMs()]).toEqual([true, Infinity]);
    expect(audits(node.db, 'revocations.stale')).toEqual([expect.objectContaining({ outcome: 'failed', detail: 'no revocation list yet; revocations.maxAgeMs 60000' })]);

    const back = await startCaService({ dir: caDir, passphrase, listen: `127.0.0.1:${port}` });
    try {
      await until('the next scheduled poll to install the list', () => node.db.revocationList() !== null);
      expect(audits(node.db, 'revocations.install')).toHaveLength(1);
      expect(audits(node.db, 'revocations.fresh')).toHaveLength(1);
      expect(node.sync.isRevocationListStale()).toBe(false);
    } finally {
      node.sync.stop();
      await back.close();
    }
  });

  it('a list answered after stop() is not installed, and no poll is scheduled', async () => {
    const node = await fixture();
    const timers = watchTimers();
    const polling = node.sync.pollRevocations();
    node.sync.stop();
    await polling;
    expect(node.db.revocationList()).toBeNull();
    expect(node.revocations.list).toBeNull();
    expect(timers.pending('pollRevocations')).toBe(0);
    await node.sync.pollRevocations();
    expect(node.logs).toEqual([]);
  });
});

/** A CA stand-in on 127.0.0.1 that answers GET /v1/revocations with `bytes`, or drops the connection while `bytes` is null (a path attacker). */
async function revocationStub(): Promise<{ url: string; serve: (bytes: Uint8Array | null) => void; close: () => Promise<void> }> {
  let served: Uint8Array | null = null;
  const server = createServer((request, response) => {
    if (served === null) request.socket.destroy();
    else response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(served));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (bytes) => (served = bytes),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('CaSync: freshness of the revocation list', () => {
  const maxAgeMs = 30_000;

  it('turns stale once the newest list is older than revocationMaxAgeMs (logged, audited, told once); a replayed copy keeps it stale, a re-signed copy makes it fresh', async () => {
    const stub = await revocationStub();
    const issuedAtMs = Date.now();
    let clock = issuedAtMs;
    const changes: boolean[] = [];
    const node = await fixture({ caUrl: stub.url, revocationMaxAgeMs: maxAgeMs, now: () => clock, onStaleChange: (stale) => changes.push(stale) });
    const timers = watchTimers();
    try {
      const list = { trustDomain, sequence: 7, issuedAtMs, entries: [] };
      const old = signRevocationList(ca, list);
      stub.serve(old);
      await node.sync.pollRevocations();
      expect([node.sync.isRevocationListStale(), node.sync.revocationListAgeMs()]).toEqual([false, 0]);
      // The check is armed for the moment the list turns stale.
      expect(timers.delays('checkRevocationFreshness')).toEqual([maxAgeMs + 1]);
      clock += maxAgeMs;
      expect(node.sync.isRevocationListStale()).toBe(false);
      clock += 1;
      expect(node.sync.isRevocationListStale()).toBe(true);
      node.sync.checkRevocationFreshness();
      expect(changes).toEqual([true]);
      expect(timers.pending('checkRevocationFreshness')).toBe(0);
      expect(node.logs.filter((line) => line.level === 'error')).toEqual([expect.objectContaining({ message: 'revocation list is stale: new peer sessions are refused until a fresh one arrives', fields: { sequence: 7, ageS: 30, maxAgeS: 30 } })]);
      expect(audits(node.db, 'revocations.stale')).toEqual([
        expect.objectContaining({ actor: 'ca', subject: stub.url, outcome: 'failed', detail: `sequence 7 issued ${new Date(issuedAtMs).toISOString()}, 30 s old; revocations.maxAgeMs 30000` }),
      ]);

      // Someone on the path answers with the old copy, then drops the fetches: still stale, reported once.
      await node.sync.pollRevocations();
      stub.serve(null);
      await node.sync.pollRevocations();
      expect(changes).toEqual([true]);
      expect(audits(node.db, 'revocations.stale')).toHaveLength(1);

      // The CA's re-signed copy (same sequence, later issue time) gets through: fresh again, saved, not a new install.
      const fresh = signRevocationList(ca, { ...list, issuedAtMs: clock - 1000 });
      stub.serve(fresh);
      await node.sync.pollRevocations();
      expect(changes).toEqual([true, false]);
      expect(node.sync.revocationListAgeMs()).toBe(1000);
      expect(node.db.revocationList()).toEqual({ bytes: fresh, sequence: 7 });
      expect(audits(node.db, 'revocations.fresh')).toEqual([expect.objectContaining({ outcome: 'ok' })]);
      expect(audits(node.db, 'revocations.install')).toHaveLength(1);
      expect(node.logs.filter((line) => line.message === 'revocation list is fresh again: new peer sessions are admitted')).toHaveLength(1);
      expect(timers.delays('checkRevocationFreshness')).toEqual([maxAgeMs - 1000 + 1]);
      node.sync.stop();
      expect(timers.pending('checkRevocationFreshness')).toBe(0);
      node.sync.checkRevocationFreshness();
      expect(timers.pending('checkRevocationFreshness')).toBe(0);
    } finally {
      await stub.close();
    }
  });

  it('is never stale without a CA URL, and refuses a maximum age not above the poll interval', async () => {
    const node = await fixture({ caUrl: null, revocationMaxAgeMs: maxAgeMs });
    expect([node.sync.isRevocationListStale(), node.sync.revocationListAgeMs()]).toEqual([false, Infinity]);
    node.sync.checkRevocationFreshness();
    expect(node.db.auditLog()).toEqual([]);
    expect(() => new CaSync({ ...node.options, revocationMaxAgeMs: 10_000 })).toThrow('CaSync: revocationMaxAgeMs: expected an integer above the poll interval (10000 ms), got 10000');
  });
});

describe('CaSync: SVID renewal', () => {
  it('renews: svid.der replaced, onRenewed told the new expiry, audited, next renewal scheduled; renews again from the new SVID', async () => {
    const node = await fixture();
    const timers = watchTimers();
    const original = readFileSync(statePaths(node.stateDir).svid);
    await node.sync.renew();
    expect(node.renewed).toHaveLength(1);
    const renewed = node.renewed[0]!;
    const stored = new Uint8Array(readFileSync(statePaths(node.stateDir).svid));
    expect(Buffer.from(stored).equals(original)).toBe(false);
    expect(Buffer.from(stored).equals(renewed.certificate)).toBe(true);
    const identity = validateSvid(stored, node.options.anchors, trustDomain, Date.now());
    expect(identity.spiffeId).toBe(node.options.enrollment.spiffeId);
    expect(renewed.notAfterMs).toBe(identity.notAfterMs);
    expect(identity.serialHex).not.toBe(parseCertificate(new Uint8Array(original)).serialHex);
    expect(audits(node.db, 'svid.renew')).toEqual([expect.objectContaining({ actor: 'ca', subject: identity.spiffeId, outcome: 'ok', detail: expect.stringContaining(`serial ${identity.serialHex}`) })]);
    expect(node.logs).toEqual([expect.objectContaining({ level: 'info', message: 'SVID renewed', fields: { notAfter: new Date(identity.notAfterMs).toISOString() } })]);
    expect(timers.pending('scheduleRenewal')).toBe(1);

    await node.sync.renew();
    expect(node.renewed).toHaveLength(2);
    expect(parseCertificate(node.renewed[1]!.certificate).serialHex).not.toBe(identity.serialHex);
    expect(audits(node.db, 'svid.renew').map((entry) => entry.outcome)).toEqual(['ok', 'ok']);
    // The second renewal replaced the first one's timer.
    expect(timers.pending('scheduleRenewal')).toBe(1);
    node.sync.stop();
    expect(timers.pending('scheduleRenewal')).toBe(0);
  });

  it('a failed renewal logs, audits "failed", keeps the SVID and retries with backoff from 0.5-1 s', async () => {
    const node = await fixture({ caUrl: await deadUrl() });
    const original = readFileSync(statePaths(node.stateDir).svid);
    const before = Date.now();
    await node.sync.renew();
    const after = Date.now();
    expect(node.logs).toHaveLength(1);
    const failed = node.logs[0]!;
    expect(failed).toMatchObject({ level: 'error', message: 'SVID renewal failed', fields: { error: expect.stringContaining('cannot reach the CA') } });
    // The first retry is attempt 0 of the backoff: half of 1 s plus up to the other half.
    const retryAtMs = Date.parse(failed.fields.retryAt as string);
    expect(retryAtMs).toBeGreaterThanOrEqual(before + 500);
    expect(retryAtMs).toBeLessThanOrEqual(after + 1000);
    expect(audits(node.db, 'svid.renew')).toEqual([expect.objectContaining({ outcome: 'failed', subject: node.options.enrollment.spiffeId, detail: expect.stringContaining('cannot reach the CA') })]);
    expect(node.renewed).toEqual([]);
    expect(readFileSync(statePaths(node.stateDir).svid).equals(original)).toBe(true);

    await until('the scheduled retry', () => node.logs.length >= 2);
    const retried = node.logs[1]!;
    expect(retried.message).toBe('SVID renewal failed');
    // The second retry backs off further: 1-2 s after the failure that scheduled it.
    const secondRetryAtMs = Date.parse(retried.fields.retryAt as string);
    expect(secondRetryAtMs - retried.atMs).toBeGreaterThanOrEqual(1000 - 50);
    expect(secondRetryAtMs - retried.atMs).toBeLessThanOrEqual(2000);
    expect(audits(node.db, 'svid.renew')).toHaveLength(2);
    node.sync.stop();
  });

  it('a short-lived SVID is renewed at 45-55 % of the time from its issue, not at once (its notBefore is backdated for clock skew)', async () => {
    const ttlMs = 30_000;
    const shortLived = await startCaService({ dir: caDir, passphrase, listen: '127.0.0.1:0', svidTtlMs: ttlMs });
    try {
      const node = await fixture({ enrollVia: shortLived.address });
      const issuedAtMs = node.options.svid.notAfterMs - ttlMs;
      const timers = watchTimers();
      const before = Date.now();
      node.sync.start();
      const after = Date.now();
      await until('the first poll', () => node.db.revocationList() !== null);
      const renewalDelays = timers.delays('scheduleRenewal');
      expect(renewalDelays).toHaveLength(1);
      expect(renewalDelays[0]).toBeGreaterThanOrEqual(issuedAtMs + 0.45 * ttlMs - after);
      expect(renewalDelays[0]).toBeLessThanOrEqual(issuedAtMs + 0.55 * ttlMs - before);

      await node.sync.renew();
      const renewedIssuedAtMs = node.renewed[0]!.notAfterMs - ttlMs;
      const next = timers.delays('scheduleRenewal');
      expect(next).toHaveLength(1);
      expect(next[0]).toBeGreaterThanOrEqual(renewedIssuedAtMs + 0.45 * ttlMs - Date.now());
    } finally {
      await shortLived.close();
    }
  });

  it('a failed renewal too close to expiry is not retried: the node has to join again', async () => {
    // An SVID that lives 4 s is always within retryBeforeExpiryMs (5 s) of its end.
    const shortLived = await startCaService({ dir: caDir, passphrase, listen: '127.0.0.1:0', svidTtlMs: 4000 });
    const node = await fixture({ enrollVia: shortLived.address, caUrl: await deadUrl() });
    await shortLived.close();
    const timers = watchTimers();
    await node.sync.renew();
    expect(node.logs).toEqual([expect.objectContaining({ level: 'error', message: 'SVID renewal failed', fields: { error: expect.stringContaining('cannot reach the CA'), retryAt: null } })]);
    expect(audits(node.db, 'svid.renew')).toEqual([expect.objectContaining({ outcome: 'failed' })]);
    expect(timers.pending('scheduleRenewal')).toBe(0);
  });

  it('a renewal that fails after stop() neither touches the closed database nor retries', async () => {
    const node = await fixture({ caUrl: await deadUrl() });
    const renewing = node.sync.renew();
    node.sync.stop();
    node.db.close();
    await expect(renewing).resolves.toBeUndefined();
    expect(node.logs).toEqual([]);
    open.splice(open.indexOf(node), 1);
  });

  it('a renewal answered after stop() is dropped: nothing stored, nothing reported', async () => {
    const node = await fixture();
    const original = readFileSync(statePaths(node.stateDir).svid);
    const renewing = node.sync.renew();
    node.sync.stop();
    await renewing;
    expect(node.renewed).toEqual([]);
    expect(readFileSync(statePaths(node.stateDir).svid).equals(original)).toBe(true);
    expect(audits(node.db, 'svid.renew')).toEqual([]);
  });
});

describe('CaSync: start and stop', () => {
  it('start() polls at once and schedules the renewal; stop() cancels both timers', async () => {
    const node = await fixture();
    const timers = watchTimers();
    node.sync.start();
    await until('the first poll', () => node.db.revocationList() !== null);
    expect(timers.pending('pollRevocations')).toBe(1);
    expect(timers.pending('scheduleRenewal')).toBe(1);
    expect(timers.pending('checkRevocationFreshness')).toBe(1);
    node.sync.stop();
    expect(timers.pending('pollRevocations')).toBe(0);
    expect(timers.pending('scheduleRenewal')).toBe(0);
    expect(timers.pending('checkRevocationFreshness')).toBe(0);
    // A stopped CaSync stays stopped.
    node.sync.start();
    expect(timers.pending('pollRevocations') + timers.pending('scheduleRenewal')).toBe(0);
  });

  it('without a CA URL nothing is polled, renewed or scheduled', async () => {
    const node = await fixture({ caUrl: null });
    const timers = watchTimers();
    const original = readFileSync(statePaths(node.stateDir).svid);
    node.sync.start();
    await node.sync.pollRevocations();
    await node.sync.renew();
    expect(timers.pending('pollRevocations') + timers.pending('scheduleRenewal')).toBe(0);
    expect(node.db.revocationList()).toBeNull();
    expect(node.db.auditLog()).toEqual([]);
    expect(node.logs).toEqual([]);
    expect(readFileSync(statePaths(node.stateDir).svid).equals(original)).toBe(true);
  });
});

/** A proxy in front of the CA that can answer POST /v1/network-keys with an earlier answer, or strip the schedule digest, as an attacker on the path would. */
async function meddlingProxy(target: string): Promise<{ url: string; replay: (on: boolean) => void; stripDigest: (on: boolean) => void; close: () => Promise<void> }> {
  let replaying = false;
  let stripping = false;
  let recorded: Buffer | null = null;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const isKeys = request.url === '/v1/network-keys';
        if (isKeys && replaying && recorded !== null) {
          response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(recorded);
          return;
        }
        const forwarded = await fetch(`${target}${request.url}`, request.method === 'POST' ? { method: 'POST', body: Buffer.concat(chunks) } : {});
        const body = Buffer.from(await forwarded.arrayBuffer());
        if (isKeys && forwarded.ok && recorded === null) recorded = body;
        const headers = Object.fromEntries([...forwarded.headers].filter(([name]) => !(stripping && name === networkKeysDigestHeader)));
        response.writeHead(forwarded.status, headers).end(body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    replay: (on) => (replaying = on),
    stripDigest: (on) => (stripping = on),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('CaSync: network keys', () => {
  const timing = { activateInMs: 600_000, retireAfterMs: 600_000 };

  async function networkKeysFixture(caUrl: string): Promise<{ f: Fixture; inUse: () => number[] }> {
    let inUse: readonly NetworkKeyEpoch[] = [];
    const f = await fixture({ caUrl, networkKeys: { current: () => inUse, install: (epochs) => (inUse = epochs) }, networkKeysJitterMs: 0 });
    inUse = singleEpoch(readEnrollment(f.stateDir).networkKey);
    return { f, inUse: () => inUse.map((entry) => entry.epoch) };
  }

  it('fetches the epochs when the CA\'s schedule changes (saved, installed, audited); a replayed earlier grant is refused, then retried after a back-off', async () => {
    const proxy = await meddlingProxy(service.address);
    try {
      const { f, inUse } = await networkKeysFixture(proxy.url);
      await f.sync.pollRevocations();
      expect(inUse()).toEqual([0]);
      const opened = openCaDirectory(caDir, passphrase, Date.now());
      rotateNetworkKey(caDir, opened, Date.now(), timing, random);
      await f.sync.pollRevocations();
      expect(inUse()).toEqual([0, 1]);
      expect(readNetworkKeys(f.stateDir)?.epochs.map((entry) => entry.epoch)).toEqual([0, 1]);
      expect(f.db.auditLog().find((entry) => entry.action === 'network-keys.install')).toMatchObject({ outcome: 'ok', detail: expect.stringMatching(/^epochs 0 from .* until .*; 1 from /) });

      rotateNetworkKey(caDir, opened, Date.now(), timing, random);
      proxy.replay(true);
      await f.sync.pollRevocations();
      expect(inUse()).toEqual([0, 1]);
      expect(f.logs.filter((line) => line.message === 'network key fetch failed').map((line) => line.fields.error)).toEqual([expect.stringContaining('a replayed grant?')]);
      expect(f.db.auditLog().filter((entry) => entry.action === 'network-keys.install' && entry.outcome === 'failed')).toHaveLength(1);
      proxy.replay(false);
      await f.sync.pollRevocations();
      expect(inUse()).toEqual([0, 1]);
      await f.sync.pollRevocations();
      expect(inUse()).toEqual([0, 1, 2]);
    } finally {
      await proxy.close();
    }
  });

  it('fetches every 30 polls even when the digest is stripped, and refuses a CA whose newest epoch went back', async () => {
    const proxy = await meddlingProxy(service.address);
    try {
      const { f, inUse } = await networkKeysFixture(proxy.url);
      const opened = openCaDirectory(caDir, passphrase, Date.now());
      await f.sync.pollRevocations();
      const before = inUse();
      proxy.stripDigest(true);
      rotateNetworkKey(caDir, opened, Date.now(), timing, random);
      for (let poll = 1; poll < networkKeysRefetchPolls; poll++) await f.sync.pollRevocations();
      expect(inUse()).toEqual(before);
      await f.sync.pollRevocations();
      expect(inUse().at(-1)).toBe(before.at(-1)! + 1);

      // The CA loses network-keys.json (restored from an old backup): its ring is epoch 0 alone again.
      proxy.stripDigest(false);
      const path = join(caDir, 'network-keys.json');
      const saved = readFileSync(path, 'utf8');
      rmSync(path);
      try {
        await f.sync.pollRevocations();
        expect(inUse().at(-1)).toBe(before.at(-1)! + 1);
        expect(f.logs.at(-1)).toMatchObject({ message: 'network key fetch failed', fields: { error: expect.stringMatching(/the CA's newest epoch is 0, older than epoch \d+ in use/) } });
      } finally {
        writeFileSync(path, saved, { mode: 0o600 });
      }
    } finally {
      await proxy.close();
    }
  });
});

