import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { NeighbourInfo, NodeInfo, RouteInfo } from '../../src/api/backend.js';
import type { CliIo } from '../../src/cli/io.js';
import { httpCall } from '../../src/cli/http.js';
import { runCliAsync } from '../../src/cli/run.js';
import { createCa, type MeshCa } from '../../src/identity/ca.js';
import { nextRevocationList, signRevocationList } from '../../src/identity/revocation.js';
import { trustAnchorOf } from '../../src/identity/svid.js';
import { startCaService, type CaService } from '../../src/node/ca-service.js';
import { rotateNetworkKey } from '../../src/node/ca-network-keys.js';
import { openCaDirectory, readTokens, revokeInCaDirectory, saveTokens, withCaLock } from '../../src/node/ca-store.js';
import { loadNodeConfig } from '../../src/node/config.js';
import { NodeDaemon, type DaemonLog } from '../../src/node/daemon.js';
import { NodeStateDb } from '../../src/node/state-db.js';
import { readEnrollment, statePaths } from '../../src/node/state-dir.js';
import { FaultClass } from '../../src/telemetry/types.js';
import { parseNodeId, type NodeId } from '../../src/wire/ids.js';
import { startTestCa, type TestCa } from './ca-fixture.js';

/**
 * The node daemon in this process: nodes enrolled with `node init` against a CA service on
 * loopback, started with `node start` (or NodeDaemon.start where a test needs the daemon
 * object), talking over real UDP sockets and answering on their real HTTP API.
 */

const passphrase = 'daemon test passphrase';
const trustDomain = 'daemon.test';
const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
const repoPolicies = resolve(import.meta.dirname, '../../policies');
/** A stop signal that never fires (node init, client commands). */
const never = { promise: new Promise<string>(() => undefined) };

let root: string;
let caDir: string;
let ca: MeshCa;
let pin: string;
let service: CaService;

let testCa: TestCa | undefined;

beforeAll(async () => {
  testCa = await startTestCa('x0t-daemon-', trustDomain, passphrase);
  ({ root, caDir, ca, pin, service } = testCa);
});

afterAll(async () => {
  await testCa?.close();
});

interface Captured {
  readonly io: CliIo;
  out(): string;
  err(): string;
  /** The JSON log lines written so far. */
  lines(): Record<string, unknown>[];
}

function capture(): Captured {
  let out = '';
  let err = '';
  return {
    io: { stdout: (text) => (out += text), stderr: (text) => (err += text), isTTY: false },
    out: () => out,
    err: () => err,
    lines: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Resolves once `probe` gives a value other than null, undefined or false; polls every 20 ms, gives up after `limitMs`. */
async function eventually<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function newToken(): string {
  return withCaLock(caDir, () => {
    const tokens = readTokens(caDir);
    const { token } = tokens.issue(Date.now(), 600_000, random);
    saveTokens(caDir, tokens);
    return token;
  });
}

interface Enrolled {
  readonly name: string;
  readonly stateDir: string;
  readonly spiffeId: string;
  readonly nodeId: string;
}

/** Enrolls node `name` with `node init` (exit 0, output naming its SPIFFE ID). */
async function enroll(name: string, json = false, caUrl = service.address): Promise<Enrolled> {
  const stateDir = join(root, name);
  const c = capture();
  const code = await runCliAsync(['node', 'init', '--join', newToken(), '--ca', caUrl, '--ca-sha256', pin, '--dir', stateDir, ...(json ? ['--json'] : [])], c.io, never);
  expect([code, c.err()]).toEqual([0, '']);
  const { spiffeId } = readEnrollment(stateDir);
  const nodeId = spiffeId.slice(spiffeId.lastIndexOf('/') + 1);
  if (json) expect(JSON.parse(c.out())).toMatchObject({ spiffeId, nodeId, trustDomain, stateDir });
  else expect(c.out()).toContain(`enrolled ${spiffeId} (node ${nodeId})`);
  return { name, stateDir, spiffeId, nodeId };
}

interface ConfigOptions {
  readonly udpPort?: number;
  readonly peers?: readonly number[];
  /** How the peers' host is written (localhost means 127.0.0.1). */
  readonly peerHost?: string;
  readonly api?: string;
  readonly profile?: 'fast' | 'rfc8966';
  readonly policyDir?: string;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Serve the API over HTTPS with client SVIDs (api.mtls). */
  readonly mtls?: boolean;
  /** api.viewerTokenFile, as written. */
  readonly viewerTokenFile?: string;
  readonly extra?: string;
}

/** Writes node.yaml for `node` next to its state directory and returns its path. */
function writeConfig(node: Enrolled, options: ConfigOptions = {}): string {
  const peers = options.peers ?? [];
  const text = [
    `stateDir: ${JSON.stringify(node.stateDir)}\n`,
    `listen:\n  udp: ["127.0.0.1:${options.udpPort ?? 0}"]\n`,
    peers.length === 0 ? 'peers: []\n' : `peers:\n${peers.map((port) => `  - address: "${options.peerHost ?? '127.0.0.1'}:${port}"\n`).join('')}`,
    `api:\n  listen: ${JSON.stringify(options.api ?? '127.0.0.1:0')}\n${options.mtls === true ? '  mtls: true\n' : ''}`,
    options.viewerTokenFile === undefined ? '' : `  viewerTokenFile: ${JSON.stringify(options.viewerTokenFile)}\n`,
    `profile: ${options.profile ?? 'fast'}\nlog:\n  level: ${options.logLevel ?? 'info'}\n`,
    options.policyDir === undefined ? '' : `policy:\n  dir: ${JSON.stringify(options.policyDir)}\n`,
    options.extra ?? '',
  ].join('');
  const path = join(root, `${node.name}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** A policy directory holding the shipped schema and default policy, plus `extra` files. */
function policyDir(name: string, extra: Record<string, string> = {}): string {
  const dir = join(root, `policy-${name}`);
  mkdirSync(dir);
  copyFileSync(join(repoPolicies, 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  copyFileSync(join(repoPolicies, 'default.cedar'), join(dir, 'default.cedar'));
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(dir, file), text);
  return dir;
}

/** True once the node's database is closed: SQLite removes the WAL file when its last connection closes. */
function dbClosed(node: Enrolled): boolean {
  return !existsSync(join(node.stateDir, 'node.db-wal'));
}

function auditActions(node: Enrolled): { action: string; outcome: string; actor: string; detail: string | null }[] {
  const db = NodeStateDb.open(join(node.stateDir, 'node.db'));
  try {
    return db
      .auditLog({ limit: 1000 })
      .reverse()
      .map(({ action, outcome, actor, detail }) => ({ action, outcome, actor, detail }));
  } finally {
    db.close();
  }
}

/** A node started with `node start`. */
interface CliNode {
  readonly node: Enrolled;
  readonly output: Captured;
  readonly api: string;
  readonly udpPort: number;
  readonly tokenFile: string;
  readonly token: string;
  readonly exit: Promise<number>;
  stop(reason: string): void;
}

const cliNodes: CliNode[] = [];
const daemons: NodeDaemon[] = [];

afterEach(async () => {
  vi.unstubAllEnvs();
  const stopping = cliNodes.splice(0);
  for (const running of stopping) running.stop('cleanup');
  await Promise.all(stopping.map((running) => running.exit));
  await Promise.all(daemons.splice(0).map((daemon) => daemon.stop('cleanup')));
});

/** Runs `node start --config <path>` and resolves once it printed its ready line. */
async function startCli(node: Enrolled, configPath: string): Promise<CliNode> {
  const output = capture();
  let stop: (reason: string) => void = () => undefined;
  const promise = new Promise<string>((resolve) => (stop = resolve));
  let exited: number | null = null;
  const exit = runCliAsync(['node', 'start', '--config', configPath], output.io, { promise }).then((code) => (exited = code));
  const ready = await eventually('the ready line', () => {
    if (exited !== null) throw new Error(`node start of ${node.name} exited with ${exited} before it was ready: ${output.err()}`);
    return output.lines().find((line) => line.msg === 'ready') as { api: string; udp: string[]; nodeId: string; tokenFile: string } | undefined;
  });
  expect(ready.nodeId).toBe(node.nodeId);
  const running: CliNode = {
    node,
    output,
    api: ready.api,
    udpPort: Number(ready.udp[0]!.split(':').at(-1)),
    tokenFile: ready.tokenFile,
    token: readFileSync(ready.tokenFile, 'utf8').trim(),
    exit,
    stop,
  };
  cliNodes.push(running);
  return running;
}

/** Stops a node started with startCli and returns its exit code. */
async function stopCli(running: CliNode, reason = 'SIGTERM'): Promise<number> {
  running.stop(reason);
  cliNodes.splice(cliNodes.indexOf(running), 1);
  return running.exit;
}

/** Starts a daemon directly (not through the CLI) from the config at `configPath`. */
async function startDaemon(configPath: string, lines: unknown[][] = []): Promise<NodeDaemon> {
  const log: DaemonLog = (...line) => lines.push(line);
  const daemon = await NodeDaemon.start(loadNodeConfig(configPath), log, 'test');
  daemons.push(daemon);
  return daemon;
}

function udpPortOf(daemon: NodeDaemon): number {
  return Number(daemon.runtime.udpAddresses()[0]!.split(':').at(-1));
}

/** GET `path` from the node's API with its admin token: parsed JSON, or the text of /metrics. */
async function api<T>(running: Pick<CliNode, 'api' | 'token'>, path: string): Promise<T> {
  const response = await fetch(`${running.api}${path}`, { headers: { authorization: `Bearer ${running.token}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${text}`);
  return (path === '/metrics' ? text : JSON.parse(text)) as T;
}

async function routeTo(running: CliNode, dst: Enrolled): Promise<RouteInfo | undefined> {
  return (await api<RouteInfo[]>(running, '/v1/routes')).find((route) => route.dst === dst.nodeId);
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await runCliAsync(argv, c.io, never);
  return { code, out: c.out(), err: c.err() };
}

/** Sessions refused by a node: handshakes and credentials that did not verify (revoked, or denied by policy). */
function refusals(daemon: NodeDaemon): number {
  const stats = daemon.runtime.secure.stats;
  return stats.handshakesRefused + stats.credentialsRefused;
}

/** The neighbour entry of `daemon` for the link from `peer`'s UDP socket, if `peer` has reached it. */
function linkFrom(daemon: NodeDaemon, peer: NodeDaemon): NeighbourInfo | undefined {
  return daemon.backend.neighbours().find((neighbour) => neighbour.address === `127.0.0.1:${udpPortOf(peer)}`);
}

function securedWith(neighbours: readonly NeighbourInfo[], node: Enrolled): boolean {
  return neighbours.some((neighbour) => neighbour.secured && neighbour.peerSpiffeId === node.spiffeId);
}

/** A UDP port that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** Whether a UDP socket can bind 127.0.0.1:`port` now (and releases it again). */
async function udpPortBindable(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return bound;
}

describe('node init and node start through the CLI', () => {
  it('enrolls, serves the API with a 0600 token, brings up a session the client commands show, and stops on the signal with exit 0', async () => {
    const a = await enroll('basic-a');
    const b = await enroll('basic-b', true);
    const nodeA = await startCli(a, writeConfig(a));
    const nodeB = await startCli(b, writeConfig(b, { peers: [nodeA.udpPort], peerHost: 'localhost' }));

    expect(nodeA.tokenFile).toBe(join(a.stateDir, 'api-token'));
    expect(statSync(nodeA.tokenFile).mode & 0o777).toBe(0o600);
    expect(nodeA.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const info = await api<NodeInfo>(nodeA, '/v1/node');
    expect(info).toMatchObject({ nodeId: a.nodeId, spiffeId: a.spiffeId, trustDomain, state: 'running', profile: 'fast', api: nodeA.api });
    expect(info.listen.udp).toEqual([`127.0.0.1:${nodeA.udpPort}`]);
    expect((await fetch(`${nodeA.api}/v1/node`)).status).toBe(401);

    await eventually('a route from a to b', () => routeTo(nodeA, b));
    await eventually('a route from b to a', () => routeTo(nodeB, a));
    expect(securedWith(await api<NeighbourInfo[]>(nodeA, '/v1/neighbours'), b)).toBe(true);

    const flags = ['--api', nodeA.api, '--token-file', nodeA.tokenFile];
    const status = await cli(['status', ...flags]);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`^node\\s+${a.nodeId}$`, 'm'));
    expect(status.out).toMatch(new RegExp(`^spiffe id\\s+${a.spiffeId}$`, 'm'));
    expect(status.out).toMatch(/^state\s+running$/m);
    const routes = await cli(['routes', ...flags]);
    expect(routes.code).toBe(0);
    expect(routes.out).toMatch(new RegExp(`^${b.nodeId}\\s+${b.nodeId}\\s+\\d+`, 'm'));
    const ping = await cli(['ping', b.nodeId, '--count', '1', ...flags]);
    expect([ping.code, ping.err]).toEqual([0, '']);
    expect(ping.out).toContain(`reply from ${b.nodeId}: seq=1 time=`);
    expect(ping.out).toContain('1 sent, 1 received, 0% loss');

    expect(dbClosed(b)).toBe(false);
    expect(await stopCli(nodeB, 'SIGTERM')).toBe(0);
    expect(nodeB.output.lines()).toContainEqual(expect.objectContaining({ level: 'info', msg: 'stopping', reason: 'SIGTERM' }));
    expect(dbClosed(b)).toBe(true);
    const audit = auditActions(b).filter((entry) => entry.action.startsWith('node.'));
    expect(audit.map((entry) => entry.action)).toEqual(['node.start', 'node.stop']);
    expect(audit[0]!.detail).toContain(`udp 127.0.0.1:${nodeB.udpPort}`);
    expect(audit[1]!.detail).toBe('SIGTERM');
  });

  it('finds a peer by LAN discovery when the config names none', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const discovery = `discovery:\n  lan: true\n  port: ${port}\n  interface: 127.0.0.1\n  intervalMs: 200\n`;
    const a = await enroll('lan-a');
    const b = await enroll('lan-b');
    const nodeA = await startCli(a, writeConfig(a, { extra: discovery }));
    const nodeB = await startCli(b, writeConfig(b, { extra: discovery }));
    await eventually('a route from a to b found by discovery', () => routeTo(nodeA, b));
    await eventually('a route from b to a', () => routeTo(nodeB, a));
    expect(await stopCli(nodeA)).toBe(0);
    expect(await stopCli(nodeB)).toBe(0);
  });

  it('writes the ready line whatever the log level, and nothing else at level error', async () => {
    const quiet = await enroll('quiet');
    const node = await startCli(quiet, writeConfig(quiet, { logLevel: 'error' }));
    expect(node.output.lines().map((line) => line.msg)).toEqual(['ready']);
    expect(await stopCli(node, 'SIGINT')).toBe(0);
    expect(node.output.lines().map((line) => line.msg)).toEqual(['ready']);
  });

  it('node drain (POST /v1/drain) retracts the node and stops it: node start resolves 0; the audit log holds start, drain and stop', async () => {
    const a = await enroll('drain-a');
    const b = await enroll('drain-b');
    // An enrollment without a trust bundle: the node trusts ca.der alone.
    rmSync(statePaths(b.stateDir).bundle);
    const nodeA = await startCli(a, writeConfig(a));
    const nodeB = await startCli(b, writeConfig(b, { peers: [nodeA.udpPort] }));
    await eventually('a route from a to b', () => routeTo(nodeA, b));

    // `node drain` is the CLI front end of POST /v1/drain.
    const drain = await cli(['node', 'drain', '--api', nodeB.api, '--token-file', nodeB.tokenFile, '--json']);
    expect([drain.code, drain.err]).toEqual([0, '']);
    expect(JSON.parse(drain.out)).toEqual({ status: 'draining' });
    const again = await cli(['node', 'drain', '--api', nodeB.api, '--token-file', nodeB.tokenFile]);
    expect([again.code, again.err]).toEqual([0, '']);
    expect(await nodeB.exit).toBe(0);
    cliNodes.splice(cliNodes.indexOf(nodeB), 1);
    const messages = nodeB.output.lines().map((line) => line.msg);
    expect(messages.indexOf('draining')).toBeGreaterThan(messages.indexOf('ready'));
    expect(nodeB.output.lines()).toContainEqual(expect.objectContaining({ msg: 'stopping', reason: 'drained' }));
    expect(dbClosed(b)).toBe(true);
    expect(auditActions(b).filter((entry) => entry.action.startsWith('node.'))).toEqual([
      expect.objectContaining({ action: 'node.start', outcome: 'ok' }),
      { action: 'node.drain', outcome: 'ok', actor: 'operator', detail: null },
      expect.objectContaining({ action: 'node.stop', outcome: 'ok', detail: 'drained' }),
    ]);
    await eventually('a to lose its route to b', async () => (await routeTo(nodeA, b)) === undefined);
  });

  it('reloads policy: a broken file is refused and the node keeps running; a transit quarantine withdraws the routes through the quarantined node', async () => {
    const a = await enroll('policy-a');
    const b = await enroll('policy-b');
    const c = await enroll('policy-c');
    const policies = policyDir('reload');
    const nodeA = await startCli(a, writeConfig(a, { policyDir: policies }));
    const nodeB = await startCli(b, writeConfig(b, { peers: [nodeA.udpPort] }));
    await startCli(c, writeConfig(c, { peers: [nodeB.udpPort] }));
    const viaB = await eventually('a route from a to c', () => routeTo(nodeA, c));
    expect(viaB.nextHop).toBe(b.nodeId);

    writeFileSync(join(policies, 'quarantine.cedar'), 'permit (principal, action, resource'); // not Cedar
    const refused = await eventually('the refused reload', () => nodeA.output.lines().find((line) => line.msg === 'policy reload refused; the previous policy stays in force'));
    expect(refused).toMatchObject({ level: 'error', error: expect.stringContaining('quarantine.cedar') });
    expect((await api<NodeInfo>(nodeA, '/v1/node')).state).toBe('running');
    expect(await routeTo(nodeA, c)).toMatchObject({ nextHop: b.nodeId });

    writeFileSync(join(policies, 'quarantine.cedar'), `@id("quarantine-b")\nforbid (principal == X0t::Node::${JSON.stringify(b.spiffeId)}, action == X0t::Action::"transit", resource);\n`);
    await eventually('the reload', () => nodeA.output.lines().some((line) => line.msg === 'policy reloaded'));
    await eventually('a to drop its route to c through b', async () => (await routeTo(nodeA, c)) === undefined);
    // b itself stays a neighbour and a destination.
    expect(await routeTo(nodeA, b)).toMatchObject({ nextHop: b.nodeId });

    const reloads = auditActions(a).filter((entry) => entry.action === 'policy.reload');
    expect(reloads.map((entry) => entry.outcome)).toContain('failed');
    expect(reloads.find((entry) => entry.outcome === 'failed')!.detail).toContain('quarantine.cedar');
    expect(reloads.at(-1)).toEqual({ action: 'policy.reload', outcome: 'ok', actor: 'operator', detail: policies });
  });

  it('a peer-deny policy keeps the peer out: no session, denies in /metrics, one audit row for repeated denies', async () => {
    const a = await enroll('deny-a');
    const b = await enroll('deny-b');
    const policies = policyDir('deny', { 'deny.cedar': `@id("deny-b")\nforbid (principal is X0t::Node, action == X0t::Action::"peer", resource) when { principal.nodeId == "${b.nodeId}" };\n` });
    const nodeA = await startCli(a, writeConfig(a, { policyDir: policies }));
    const nodeB = await startCli(b, writeConfig(b, { peers: [nodeA.udpPort] }));

    const denies = await eventually('two peer denies', async () => {
      const count = Number(/^x0t_policy_denies_total\{action="peer"\} (\d+)$/m.exec(await api<string>(nodeA, '/metrics'))?.[1] ?? 0);
      return count >= 2 ? count : null;
    });
    expect(denies).toBeGreaterThanOrEqual(2);
    expect(securedWith(await api<NeighbourInfo[]>(nodeA, '/v1/neighbours'), b)).toBe(false);
    expect((await api<NeighbourInfo[]>(nodeB, '/v1/neighbours')).some((neighbour) => neighbour.secured)).toBe(false);
    expect(await routeTo(nodeA, b)).toBeUndefined();
    // Repeated denies of one peer are audited and logged once a minute, not per attempt.
    const denied = auditActions(a).filter((entry) => entry.action === 'policy.peer');
    expect(denied).toEqual([{ action: 'policy.peer', outcome: 'denied', actor: `X0t::Node::${JSON.stringify(b.spiffeId)}`, detail: 'deny-b' }]);
    expect(nodeA.output.lines().filter((line) => line.msg === 'policy denied')).toEqual([expect.objectContaining({ level: 'warn', action: 'peer', policyIds: ['deny-b'] })]);
  });
});

describe('revocation in a running mesh', () => {
  it('a revoked peer loses its session at the next poll and is refused afterwards; a node revoked before start never gets one; a restart keeps refusing', async () => {
    const a = await enroll('revoke-a');
    const b = await enroll('revoke-b');
    const logA: unknown[][] = [];
    const daemonA = await startDaemon(writeConfig(a), logA);
    const portA = udpPortOf(daemonA);
    const daemonB = await startDaemon(writeConfig(b, { peers: [portA] }));
    await eventually('a session between a and b', () => securedWith(daemonA.backend.neighbours(), b) && securedWith(daemonB.backend.neighbours(), a));

    vi.stubEnv('X0TTA6BL4_CA_PASSPHRASE', passphrase);
    const revoked = await cli(['ca', 'revoke', b.spiffeId, '--dir', caDir, '--reason', 'test']);
    expect([revoked.code, revoked.err]).toEqual([0, '']);
    expect(revoked.out).toContain(`revoked ${b.spiffeId}`);
    await daemonA.syncWithCa();
    const installed = daemonA.db.auditLog().find((entry) => entry.action === 'revocations.install');
    expect(installed).toMatchObject({ outcome: 'ok', subject: service.address });
    expect(logA).toContainEqual(['info', 'revocation list installed', expect.objectContaining({ entries: 1 })]);

    await eventually('a to drop the session with b', () => !securedWith(daemonA.backend.neighbours(), b));
    expect(daemonA.runtime.secure.stats.peersDropped).toBeGreaterThanOrEqual(1);
    const refusedAtDrop = refusals(daemonA);
    await eventually('a to refuse b again', () => refusals(daemonA) > refusedAtDrop);
    expect(securedWith(daemonA.backend.neighbours(), b)).toBe(false);

    const c = await enroll('revoke-c');
    revokeInCaDirectory(caDir, ca, { spiffeId: c.spiffeId, serialHex: null, revokedAtMs: Date.now() }, 'before start', Date.now());
    await daemonA.syncWithCa();
    const daemonC = await startDaemon(writeConfig(c, { peers: [portA], profile: 'rfc8966' }));
    expect(daemonC.backend.info().profile).toBe('rfc8966');
    // a opens a link when c's first credential arrives, and refuses that credential in the same step.
    await eventually('c to reach a', () => linkFrom(daemonA, daemonC));
    const refusedAfterC = refusals(daemonA);
    await eventually('another round of refusals at a', () => refusals(daemonA) > refusedAfterC);
    expect(linkFrom(daemonA, daemonC)).toMatchObject({ secured: false, peerSpiffeId: null });
    expect(daemonC.backend.neighbours().some((neighbour) => neighbour.secured)).toBe(false);

    await daemonA.stop('restart');
    expect(() => daemonA.db.auditLog()).toThrow(/not open/);
    expect(dbClosed(a)).toBe(true);
    // Restarted on its port, a loads the saved list; b and c keep knocking and stay out.
    const restarted = await startDaemon(writeConfig(a, { udpPort: portA }));
    await eventually('b and c to reach the restarted a', () => linkFrom(restarted, daemonB) && linkFrom(restarted, daemonC));
    const refusedAfterRestart = refusals(restarted);
    await eventually('refusals at the restarted a', () => refusals(restarted) > refusedAfterRestart);
    expect(restarted.backend.neighbours().some((neighbour) => neighbour.secured)).toBe(false);
    const actions = restarted.db.auditLog({ limit: 1000 }).map((entry) => entry.action);
    expect(actions.filter((action) => action === 'node.start')).toHaveLength(2);
    expect(actions).toContain('node.stop');
  });
});

describe('rotating the network key in a running mesh', () => {
  it('members fetch the new epoch and keep their session; a revoked node is refused the key and meets silence once the old key retires; a restart keeps the epoch', async () => {
    const a = await enroll('netkey-a');
    const b = await enroll('netkey-b');
    const c = await enroll('netkey-c');
    const daemonA = await startDaemon(writeConfig(a));
    const portA = udpPortOf(daemonA);
    const daemonB = await startDaemon(writeConfig(b, { peers: [portA] }));
    const daemonC = await startDaemon(writeConfig(c, { peers: [portA] }));
    await eventually('sessions a-b and a-c', () => securedWith(daemonA.backend.neighbours(), b) && securedWith(daemonA.backend.neighbours(), c));

    revokeInCaDirectory(caDir, ca, { spiffeId: c.spiffeId, serialHex: null, revokedAtMs: Date.now() }, 'left the mesh', Date.now());
    // Rotated as of 55 s ago (the shortest steps are 30 s): epoch 1 is active already, epoch 0 retires in 5 s.
    const opened = openCaDirectory(caDir, passphrase, Date.now());
    const epochs = rotateNetworkKey(caDir, opened, Date.now() - 55_000, { activateInMs: 30_000, retireAfterMs: 30_000 }, (bytes) => new Uint8Array(randomBytes(bytes)));
    await Promise.all([daemonA.syncWithCa(), daemonB.syncWithCa(), daemonC.syncWithCa()]);
    for (const member of [daemonA, daemonB]) {
      expect(member.runtime.networkKeyEpochs.map((entry) => entry.epoch)).toEqual([0, 1]);
      expect(member.backend.counters().networkKeyEpoch).toBe(1);
      expect(member.db.auditLog().find((entry) => entry.action === 'network-keys.install')).toMatchObject({ outcome: 'ok' });
    }
    expect(statSync(join(a.stateDir, 'network-keys.json')).mode & 0o777).toBe(0o600);
    expect(daemonC.runtime.networkKeyEpochs.map((entry) => entry.epoch)).toEqual([0]);
    expect(daemonC.backend.counters().networkKeyEpoch).toBe(0);
    expect(daemonC.db.auditLog().find((entry) => entry.action === 'network-keys.install')).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('ERR_SVID_REVOKED') });

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, epochs[0]!.acceptUntilMs! - Date.now() + 200)));
    const stats = daemonA.runtime.secure.stats;
    const [framesRefused, credentialsRefused] = [stats.framesRefused, stats.credentialsRefused];
    await eventually('a to refuse c\'s frames under the retired key', () => stats.framesRefused > framesRefused + 2);
    expect(stats.credentialsRefused).toBe(credentialsRefused);
    expect(securedWith(daemonA.backend.neighbours(), b)).toBe(true);
    expect(securedWith(daemonA.backend.neighbours(), c)).toBe(false);

    await daemonA.stop('restart');
    const restarted = await startDaemon(writeConfig(a, { udpPort: portA }));
    expect(restarted.runtime.networkKeyEpochs.map((entry) => entry.epoch)).toEqual([0, 1]);
    await eventually('b to get a session with the restarted a', () => securedWith(restarted.backend.neighbours(), b));
  });
});

/** An HTTP proxy in front of the CA service that can drop the revocation fetches, as an attacker on the path would. */
async function caProxy(target: string): Promise<{ url: string; dropRevocations: (drop: boolean) => void; close: () => Promise<void> }> {
  let drop = false;
  const server = createHttpServer((request, response) => {
    if (drop && request.url === '/v1/revocations') {
      request.socket.destroy();
      return;
    }
    const upstream = httpRequest(`${target}${request.url ?? '/'}`, { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropRevocations: (value) => (drop = value),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('revocation gossip between running nodes', () => {
  it('a node whose CA fetches are dropped learns a new revocation from its neighbour over their link: installed, audited with its source, counted in /metrics', async () => {
    const proxy = await caProxy(service.address);
    try {
      const a = await enroll('gossip-a', false, proxy.url);
      const b = await enroll('gossip-b');
      const daemonB = await startDaemon(writeConfig(b));
      const logA: unknown[][] = [];
      const daemonA = await startDaemon(writeConfig(a, { peers: [udpPortOf(daemonB)] }), logA);
      await eventually('a session between a and b', () => securedWith(daemonA.backend.neighbours(), b) && securedWith(daemonB.backend.neighbours(), a));
      const sequenceBefore = daemonA.db.revocationList()?.sequence ?? -1;
      proxy.dropRevocations(true);
      const revokedId = `spiffe://${trustDomain}/node/0000c0de`;
      const sequence = revokeInCaDirectory(caDir, ca, { spiffeId: revokedId, serialHex: null, revokedAtMs: Date.now() }, 'gossip test', Date.now()).sequence;
      await daemonA.syncWithCa();
      expect(daemonA.db.revocationList()?.sequence).toBe(sequenceBefore);
      // b fetches it from the CA and passes it on; a's own fetch keeps failing.
      await daemonB.syncWithCa();
      await eventually('a to install the list from b', () => daemonA.db.revocationList()?.sequence === sequence);
      const install = daemonA.db.auditLog({ limit: 1000 }).find((entry) => entry.action === 'revocations.install' && (entry.detail ?? '').startsWith(`sequence ${sequence},`));
      expect(install).toMatchObject({ outcome: 'ok', subject: `gossip from node ${b.spiffeId.split('/').at(-1)!}` });
      expect(logA).toContainEqual(['info', 'revocation list installed', expect.objectContaining({ sequence, from: install!.subject })]);
      const text = await (await fetch(`${daemonA.apiAddress}/metrics`, { headers: { authorization: `Bearer ${readFileSync(join(a.stateDir, 'api-token'), 'utf8').trim()}` } })).text();
      expect(text).toMatch(/^x0t_revocation_gossip_total\{outcome="offersInstalled"\} 1$/m);
      expect(text).toMatch(/^x0t_revocation_gossip_total\{outcome="listsCompleted"\} 1$/m);
    } finally {
      await proxy.close();
    }
  });
});

describe('a stale revocation list in a running node', () => {
  it('fails closed: not ready, audited, new peers and client SVIDs refused; once a fresh list arrives the node is ready and the peer gets its session', async () => {
    const proxy = await caProxy(service.address);
    try {
      const a = await enroll('stale-a', false, proxy.url);
      const b = await enroll('stale-b');
      proxy.dropRevocations(true);
      const logA: unknown[][] = [];
      const daemonA = await startDaemon(writeConfig(a, { mtls: true }), logA);
      const events: string[] = [];
      daemonA.backend.subscribe((event) => {
        if (event.kind === 'lifecycle') events.push(event.state);
      });
      const anchor = trustAnchorOf(readEnrollment(a.stateDir).caCertificate, Date.now());
      const token = readFileSync(join(a.stateDir, 'api-token'), 'utf8').trim();
      /** GET over TLS with the node's token (or none). */
      const get = (path: string, withToken = true): Promise<{ status: number; text: string }> =>
        httpCall(`${daemonA.apiAddress}${path}`, { method: 'GET', headers: withToken ? { authorization: `Bearer ${token}` } : {}, timeoutMs: 10_000, tls: { anchor } });
      const asSvid = ['status', '--api', daemonA.apiAddress, '--identity', a.stateDir];
      // A new node without a saved list: the first fetch fails, so it has nothing to vouch with.
      await eventually('a to report its list stale', () => daemonA.db.auditLog().some((entry) => entry.action === 'revocations.stale'));
      expect(logA).toContainEqual(['error', 'revocation list is stale: new peer sessions are refused until a fresh one arrives', expect.objectContaining({ sequence: null, maxAgeS: 60 })]);
      expect((await get('/health/ready', false)).status).toBe(503);
      const metrics = (await get('/metrics')).text;
      expect(metrics).toMatch(/^x0t_revocation_list_stale 1$/m);
      expect(metrics).toMatch(/^x0t_revocation_list_age_seconds \+Inf$/m);
      expect((await cli(asSvid)).err).toContain('HTTP 401 unauthorized: client certificate refused: the revocation list is stale');

      const daemonB = await startDaemon(writeConfig(b, { peers: [udpPortOf(daemonA)] }));
      await eventually('a to refuse b', () => daemonA.runtime.newPeersRefused >= 2);
      expect(securedWith(daemonA.backend.neighbours(), b)).toBe(false);
      expect((await get('/metrics')).text).toMatch(/^x0t_new_peers_refused_total [1-9]\d*$/m);

      proxy.dropRevocations(false);
      await daemonA.syncWithCa();
      expect(daemonA.db.auditLog().find((entry) => entry.action.startsWith('revocations.'))).toMatchObject({ action: 'revocations.fresh', outcome: 'ok', subject: proxy.url });
      // (The revocationsStale event went out during start, before anyone could subscribe.)
      expect(events).toEqual(['revocationsFresh']);
      expect((await get('/health/ready', false)).status).toBe(200);
      expect((await get('/metrics')).text).toMatch(/^x0t_revocation_list_stale 0$/m);
      // The SVID is authenticated again (and then denied by the default policy: nodes may not call the API).
      expect((await cli(asSvid)).err).toContain('HTTP 403 forbidden');
      await eventually('a session between a and b', () => securedWith(daemonA.backend.neighbours(), b) && securedWith(daemonB.backend.neighbours(), a));
    } finally {
      await proxy.close();
    }
  });
});

describe('the self-healing loop in a running node', () => {
  it('quarantines a neighbour through the policy when findings say so: routes move to the other neighbour, /v1/incidents and /v1/actions show it, Knowledge keeps the outcome', async () => {
    const [a, b, d, c] = [await enroll('heal-a'), await enroll('heal-b'), await enroll('heal-d'), await enroll('heal-c')];
    const daemonA = await startDaemon(writeConfig(a));
    const portA = udpPortOf(daemonA);
    const daemonB = await startDaemon(writeConfig(b, { peers: [portA] }));
    const daemonD = await startDaemon(writeConfig(d, { peers: [portA] }));
    await startDaemon(writeConfig(c, { peers: [udpPortOf(daemonB), udpPortOf(daemonD)] }));
    const cId = parseNodeId(c.nodeId);
    const nextHop = (): NodeId | null => daemonA.runtime.mesh.routes().find((route) => route.dst === cId)?.nextHop ?? null;
    const first = await eventually('a route from a to c', () => nextHop());
    const other = first === parseNodeId(b.nodeId) ? parseNodeId(d.nodeId) : parseNodeId(b.nodeId);
    const finding = { subject: { kind: 'node' as const, node: first }, cause: FaultClass.greyHole, score: 0.9, evidence: { deliveryThrough: 0.1 } };
    daemonA.mapek.step(Date.now(), [finding]);
    daemonA.mapek.step(Date.now(), [finding]);
    await eventually('a to route to c around the quarantined node', () => nextHop() === other);
    const running = { api: daemonA.apiAddress, token: readFileSync(join(a.stateDir, 'api-token'), 'utf8').trim() };
    const incidents = await api<{ subject: string; state: string; action: string | null }[]>(running, '/v1/incidents');
    expect(incidents).toEqual([expect.objectContaining({ subject: `node:${first}`, state: 'confirmed', action: 'quarantineNode', cause: 'greyHole' })]);
    const actions = await api<{ actor: string; action: string; outcome: string }[]>(running, '/v1/actions');
    expect(actions.map((entry) => entry.action)).toEqual(['mapek.actionStarted', 'mapek.incidentConfirmed', 'mapek.incidentOpened']);
    expect(actions.every((entry) => entry.actor === 'mape-k')).toBe(true);
    expect(await api<string>(running, '/metrics')).toContain('x0t_mapek_decisions_total{decision="actionStarted"} 1');
    // The symptom clears: the action worked, and the node's database remembers it.
    daemonA.mapek.step(Date.now(), []);
    daemonA.mapek.step(Date.now(), []);
    expect(daemonA.db.record(FaultClass.greyHole, 'quarantineNode')).toMatchObject({ attempts: 1, successes: 1 });
  });
});

describe('self-healing from real traffic', () => {
  it('a transit node turned grey hole: both its neighbours\' loops judge it from signed reports relayed over the mesh, open an incident, quarantine it, and routes move around it', async () => {
    const [a, b, d, c] = [await enroll('grey-a'), await enroll('grey-b'), await enroll('grey-d'), await enroll('grey-c')];
    const daemonA = await startDaemon(writeConfig(a));
    const portA = udpPortOf(daemonA);
    const daemonB = await startDaemon(writeConfig(b, { peers: [portA] }));
    const daemonD = await startDaemon(writeConfig(d, { peers: [portA] }));
    const daemonC = await startDaemon(writeConfig(c, { peers: [udpPortOf(daemonB), udpPortOf(daemonD)] }));
    const [aId, bId, cId, dId] = [a, b, c, d].map((node) => parseNodeId(node.nodeId)) as [NodeId, NodeId, NodeId, NodeId];
    const nextHop = (from: NodeDaemon, dst: NodeId): NodeId | null => from.runtime.mesh.routes().find((route) => route.dst === dst)?.nextHop ?? null;
    // An operator's penalty on a's and c's links to d makes the path through b the one they take, so that only the loops move it.
    for (const end of [daemonA, daemonC]) {
      const toD = await eventually('a session with d', () => end.runtime.sessionPeers().find((entry) => entry.peer === dId));
      end.runtime.step({ kind: 'linkPenalty', link: toD.link, extraCost: 512 });
    }
    await eventually('routes between a and c through b', () => nextHop(daemonA, cId) === bId && nextHop(daemonC, aId) === bId);
    const delivered = new Map<NodeDaemon, number>([
      [daemonA, 0],
      [daemonC, 0],
    ]);
    const unsubscribe = [daemonA, daemonC].map((end) => end.backend.subscribe((event) => event.kind === 'datagram' && delivered.set(end, delivered.get(end)! + 1)));
    let id = 0;
    const traffic = setInterval(() => {
      daemonA.runtime.step({ kind: 'send', dst: cId, id: id++, payload: new Uint8Array(64) });
      daemonC.runtime.step({ kind: 'send', dst: aId, id: id++, payload: new Uint8Array(64) });
    }, 10);
    try {
      // Healthy traffic first: the reports flow and nobody is suspected.
      await eventually('reports relayed between a and c', () => [daemonA, daemonC].every((end) => end.selfHealing.exchange.stats.accepted >= 6 && delivered.get(end)! > 50));
      expect([...daemonA.mapek.incidentViews(), ...daemonC.mapek.incidentViews()]).toEqual([]);
      daemonB.runtime.setFaultInjection({ dropTransitShare: 0.8 });
      for (const [end, far] of [
        [daemonA, cId],
        [daemonC, aId],
      ] as const) {
        const incident = await eventually('a quarantine of the grey hole', () => end.mapek.incidentViews().find((view) => view.subject === `node:${bId}` && view.action === 'quarantineNode'), 30_000);
        expect(['greyHole', 'blackHole']).toContain(incident.cause);
        await eventually('a route around the grey hole', () => nextHop(end, far) === dId);
      }
      expect(daemonB.runtime.faultDrops).toBeGreaterThan(0);
      // Delivery is back through d, both ways.
      const after = new Map(delivered);
      await eventually('deliveries around the grey hole', () => [daemonA, daemonC].every((end) => delivered.get(end)! >= after.get(end)! + 100));
    } finally {
      clearInterval(traffic);
      for (const stop of unsubscribe) stop();
    }
    // No verdict against the healthy nodes, no forged report, and the audit log holds the decisions.
    for (const end of [daemonA, daemonC]) {
      expect(end.mapek.incidentViews().map((view) => view.subject)).toEqual([`node:${bId}`]);
      expect(end.selfHealing.exchange.stats.forged).toBe(0);
    }
    const actions = auditActions(a).filter((entry) => entry.actor === 'mape-k').map((entry) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(['mapek.incidentOpened', 'mapek.incidentConfirmed', 'mapek.actionStarted']));
  }, 90_000);

  it('turns a grey hole on from the config, says so in a warning, and never by default', async () => {
    const node = await enroll('fault-knob');
    const lines: unknown[][] = [];
    const daemon = await startDaemon(writeConfig(node, { extra: 'faultInjection:\n  dropTransitShare: 0.5\n' }), lines);
    expect(daemon.runtime.faultInjection).toEqual({ dropTransitShare: 0.5 });
    expect(lines).toContainEqual(['warn', expect.stringMatching(/fault injection/), { dropTransitShare: 0.5 }]);
    expect(() => daemon.runtime.setFaultInjection({ dropTransitShare: 2 })).toThrow(/dropTransitShare in 0\.\.1, got 2/);
    const plainNode = await enroll('no-fault-knob');
    const plain = await startDaemon(writeConfig(plainNode));
    expect(plain.runtime.faultInjection).toEqual({ dropTransitShare: 0 });
    // A finding about a node it has no session with: the loop's actions are refused, never faked, and audited as denied.
    const stranger = { subject: { kind: 'node' as const, node: 12345 }, cause: FaultClass.greyHole, score: 0.9, evidence: {} };
    plain.mapek.step(Date.now(), [stranger]);
    plain.mapek.step(Date.now(), [stranger]);
    expect(auditActions(plainNode).filter((entry) => entry.action === 'mapek.actionRefused').map((entry) => [entry.outcome, JSON.parse(entry.detail!).reason as string])).toEqual([
      ['denied', 'no secured link of this node leads to node 00003039'],
      ['denied', 'no link of this node leads to node 12345'],
    ]);
  });
});

/** The certificate a TLS server at `url` presents (DER), read without checking it. */
async function servedCertificate(url: string): Promise<Uint8Array> {
  const { hostname, port } = new URL(url);
  const socket = tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false });
  try {
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return new Uint8Array(socket.getPeerCertificate().raw);
  } finally {
    socket.destroy();
  }
}

describe('the API over mTLS in a running node', () => {
  it('serves HTTPS with its SVID; an operator SVID from ca issue reads but may not drain (Cedar), the node token works over TLS, a revoked SVID gets 401', async () => {
    const a = await enroll('mtls-a');
    const policies = policyDir('mtls', { 'mtls-operators.cedar': readFileSync(join(repoPolicies, 'examples', 'mtls-operators.cedar'), 'utf8') });
    vi.stubEnv('X0TTA6BL4_CA_PASSPHRASE', passphrase);
    const alice = join(root, 'mtls-alice');
    const issued = await cli(['ca', 'issue', '/operator/alice', '--dir', caDir, '--out', alice]);
    expect([issued.code, issued.err]).toEqual([0, '']);
    const daemon = await startDaemon(writeConfig(a, { mtls: true, policyDir: policies }));
    expect(daemon.apiAddress).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await servedCertificate(daemon.apiAddress)).toEqual(readEnrollment(a.stateDir).svid);
    const asAlice = ['--api', daemon.apiAddress, '--identity', alice];

    const status = await cli(['status', ...asAlice, '--json']);
    expect([status.code, status.err]).toEqual([0, '']);
    expect(JSON.parse(status.out)).toMatchObject({ nodeId: a.nodeId, api: daemon.apiAddress });
    const drain = await cli(['drain', ...asAlice]);
    expect(drain).toEqual({ code: 1, out: '', err: 'x0tta6bl4: POST /v1/drain: HTTP 403 forbidden: policy denies apiDrain to spiffe://daemon.test/operator/alice (action apiDrain, policies api-svid-no-drain)\n' });
    const denied = daemon.db.auditLog().find((entry) => entry.action === 'policy.apiDrain');
    expect(denied).toMatchObject({ actor: 'X0t::Workload::"spiffe://daemon.test/operator/alice"', outcome: 'denied', detail: 'api-svid-no-drain' });
    // The node's own SVID calls as X0t::Node, which the policies do not admit to the API.
    const asNode = await cli(['status', '--api', daemon.apiAddress, '--identity', a.stateDir]);
    expect(asNode.err).toContain(`HTTP 403 forbidden: policy denies apiRead to ${a.spiffeId} (action apiRead, policies none)`);
    // The local token, over TLS, checked against the node's ca.der.
    const withToken = await cli(['routes', '--api', daemon.apiAddress, '--ca', join(a.stateDir, 'ca.der'), '--token-file', join(a.stateDir, 'api-token')]);
    expect([withToken.code, withToken.err]).toEqual([0, '']);
    expect((await fetch(`${daemon.apiAddress.replace('https:', 'http:')}/health/live`).catch((error: Error) => error)) instanceof Error).toBe(true);

    const revoked = await cli(['ca', 'revoke', 'spiffe://daemon.test/operator/alice', '--dir', caDir]);
    expect(revoked.code).toBe(0);
    await daemon.syncWithCa();
    const refused = await cli(['status', ...asAlice]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/HTTP 401 unauthorized: client certificate refused: SVID: spiffe:\/\/daemon\.test\/operator\/alice \(serial [0-9a-f]+\) is revoked/);
  });
});

describe('SVID renewal in a running node', () => {
  it('renews at half the SVID lifetime, stores and installs the new SVID, and keeps its session past the old one\'s expiry', async () => {
    const ttlMs = 6000;
    const shortLived = await startCaService({ dir: caDir, passphrase, listen: '127.0.0.1:0', svidTtlMs: ttlMs });
    try {
      const r = await enroll('renew-r', false, shortLived.address);
      const p = await enroll('renew-p');
      const original = readEnrollment(r.stateDir).svid;
      const daemonR = await startDaemon(writeConfig(r, { mtls: true }));
      const daemonP = await startDaemon(writeConfig(p, { peers: [udpPortOf(daemonR)] }));
      const firstNotAfter = daemonR.backend.info().svidNotAfter;
      await eventually('a session between r and p', () => securedWith(daemonP.backend.neighbours(), r));

      await eventually('the renewed SVID in /v1/node', () => daemonR.backend.info().svidNotAfter > firstNotAfter);
      expect(Buffer.from(readEnrollment(r.stateDir).svid).equals(original)).toBe(false);
      // The API serves the renewed SVID too.
      expect(await servedCertificate(daemonR.apiAddress)).toEqual(readEnrollment(r.stateDir).svid);
      expect(daemonR.db.auditLog().find((entry) => entry.action === 'svid.renew')).toMatchObject({ outcome: 'ok', subject: r.spiffeId });
      // The old SVID has expired by now; p holds the session with r on the renewed one.
      const expiredAtMs = Date.parse(firstNotAfter);
      await eventually('the old SVID to expire with the session up', () => Date.now() > expiredAtMs + 1000 && securedWith(daemonP.backend.neighbours(), r));
      expect(daemonP.runtime.secure.stats.peersDropped).toBe(0);
    } finally {
      await Promise.all(daemons.splice(0).map((daemon) => daemon.stop('test')));
      await shortLived.close();
    }
  });
});

describe('node start refuses to run, and leaves nothing behind', () => {
  it('a bad config: exit 2 naming the field', async () => {
    const path = join(root, 'bad-profile.yaml');
    writeFileSync(path, `stateDir: ${JSON.stringify(join(root, 'nowhere'))}\nprofile: slow\n`);
    const result = await cli(['node', 'start', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.err).toBe(`x0tta6bl4: ${path}: profile: expected one of "fast", "rfc8966", got "slow"\n`);
    expect(result.out).toBe('');
  });

  it('a state directory without an enrollment: exit 2 naming the missing file', async () => {
    const empty: Enrolled = { name: 'empty', stateDir: join(root, 'empty-state'), spiffeId: '', nodeId: '' };
    mkdirSync(empty.stateDir, { mode: 0o700 });
    const result = await cli(['node', 'start', '--config', writeConfig(empty)]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(statePaths(empty.stateDir).node);
    expect(existsSync(join(empty.stateDir, 'node.db'))).toBe(false);
  });

  it('an API port in use: exit 1, the UDP socket released and the database closed', async () => {
    const node = await enroll('busy-api');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const apiPort = (blocker.address() as AddressInfo).port;
      const udpPort = await freeUdpPort();
      const result = await cli(['node', 'start', '--config', writeConfig(node, { udpPort, api: `127.0.0.1:${apiPort}` })]);
      expect(result.code).toBe(1);
      expect(result.err).toContain('EADDRINUSE');
      expect(result.out).not.toContain('"msg":"ready"');
      expect(await udpPortBindable(udpPort)).toBe(true);
      expect(dbClosed(node)).toBe(true);
      expect(auditActions(node).map((entry) => entry.action)).not.toContain('node.start');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('a policy directory that does not load: exit 2 naming the file, the database closed', async () => {
    const node = await enroll('bad-policy');
    const policies = policyDir('broken', { 'broken.cedar': 'forbid (' });
    const result = await cli(['node', 'start', '--config', writeConfig(node, { policyDir: policies })]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(join(policies, 'broken.cedar'));
    expect(dbClosed(node)).toBe(true);
  });

  it('api.viewerTokenFile: a read-only token made 0600 when missing, which reads /metrics and /v1/node and is refused drain (403)', async () => {
    const node = await enroll('viewer');
    const daemon = await startDaemon(writeConfig(node, { viewerTokenFile: 'viewer-token' }));
    const viewerFile = join(node.stateDir, 'viewer-token');
    expect(statSync(viewerFile).mode & 0o777).toBe(0o600);
    const viewer = readFileSync(viewerFile, 'utf8').trim();
    expect(viewer).not.toBe(readFileSync(join(node.stateDir, 'api-token'), 'utf8').trim());
    const call = (method: string, path: string, token: string): Promise<Response> => fetch(`${daemon.apiAddress}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    const metrics = await call('GET', '/metrics', viewer);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^x0t_links_up /m);
    expect((await call('GET', '/v1/node', viewer)).status).toBe(200);
    const drain = await call('POST', '/v1/drain', viewer);
    expect(drain.status).toBe(403);
    expect(await drain.json()).toMatchObject({ error: 'forbidden', action: 'apiDrain' });
    expect((await call('GET', '/v1/node', 'not-a-token-of-this-node')).status).toBe(401);
  });

  it('a viewer token equal to the admin token: exit 2 naming the file, the database closed', async () => {
    const node = await enroll('same-tokens');
    const token = 'the-same-token-for-both-roles';
    writeFileSync(join(node.stateDir, 'api-token'), `${token}\n`, { mode: 0o600 });
    writeFileSync(join(node.stateDir, 'viewer-token'), `${token}\n`, { mode: 0o600 });
    const result = await cli(['node', 'start', '--config', writeConfig(node, { udpPort: await freeUdpPort(), viewerTokenFile: 'viewer-token' })]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${join(node.stateDir, 'viewer-token')}: the viewer token must differ from the admin token in ${join(node.stateDir, 'api-token')}`);
    expect(dbClosed(node)).toBe(true);
  });

  it('an API token file that is too short: exit 2 (bad input) naming the file, the database closed', async () => {
    const node = await enroll('short-token');
    writeFileSync(join(node.stateDir, 'api-token'), 'short\n', { mode: 0o600 });
    const udpPort = await freeUdpPort();
    const result = await cli(['node', 'start', '--config', writeConfig(node, { udpPort })]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${join(node.stateDir, 'api-token')}: the API token must be at least 16 characters`);
    expect(dbClosed(node)).toBe(true);
    expect(await udpPortBindable(udpPort)).toBe(true);
  });

  it('a node.db copied from another node: exit 2 naming both nodes', async () => {
    const first = await enroll('db-first');
    const second = await enroll('db-second');
    const running = await startCli(first, writeConfig(first));
    expect(await stopCli(running)).toBe(0);
    copyFileSync(join(first.stateDir, 'node.db'), join(second.stateDir, 'node.db'));
    const result = await cli(['node', 'start', '--config', writeConfig(second)]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`holds the state of node ${first.nodeId}, but the SVID names node ${second.nodeId}`);
  });

  it('an API token file others can read: exit 2 naming the file and the mode', async () => {
    const node = await enroll('open-token');
    writeFileSync(join(node.stateDir, 'api-token'), 'a-long-enough-token-for-the-api\n', { mode: 0o644 });
    chmodSync(join(node.stateDir, 'api-token'), 0o644);
    const result = await cli(['node', 'start', '--config', writeConfig(node)]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${join(node.stateDir, 'api-token')}: the API token file is readable by others (mode 0644)`);
    expect(dbClosed(node)).toBe(true);
  });

  it('a saved revocation list the CA did not sign: exit 2, the database closed', async () => {
    const node = await enroll('forged-list');
    const impostor = createCa(trustDomain, Date.now(), random).ca;
    const forged = signRevocationList(impostor, nextRevocationList(null, trustDomain, { spiffeId: node.spiffeId, serialHex: null, revokedAtMs: Date.now() }, Date.now()));
    const db = NodeStateDb.open(join(node.stateDir, 'node.db'));
    db.saveRevocationList(forged, 1);
    db.close();
    const result = await cli(['node', 'start', '--config', writeConfig(node)]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('revocation list');
    expect(dbClosed(node)).toBe(true);
  });

  it('a node.json whose SPIFFE ID names no node: exit 2, the database closed', async () => {
    const node = await enroll('not-a-node');
    const path = statePaths(node.stateDir).node;
    const file = JSON.parse(readFileSync(path, 'utf8')) as { spiffeId: string };
    writeFileSync(path, JSON.stringify({ ...file, spiffeId: `spiffe://${trustDomain}/workload/web` }));
    const result = await cli(['node', 'start', '--config', writeConfig(node)]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`spiffe://${trustDomain}/workload/web`);
    expect(dbClosed(node)).toBe(true);
  });
});
