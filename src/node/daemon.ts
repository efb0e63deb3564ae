import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import type { ApiCaller } from '../api/auth.js';
import { startApi, type RunningApi } from '../api/server.js';
import type { ApiTlsOptions } from '../api/tls.js';
import { parseBundle } from '../identity/bundle.js';
import { RevocationSet } from '../identity/revocation.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import { trustAnchorFrom, validateSvid, type TrustAnchor } from '../identity/svid.js';
import { CoreActuator } from '../mapek/core-actuator.js';
import type { Subject } from '../mapek/actions.js';
import { MapeK, type ActuatorResult, type AuditEntry as MapekAuditEntry } from '../mapek/loop.js';
import { fastProfile, rfc8966Profile } from '../mesh/profiles.js';
import { formatNodeId, type NodeId } from '../wire/ids.js';
import { callerRefFromSpiffeId, loadPolicyFiles, defaultPolicyDir, newPolicyStats, nodeRefFromSpiffeId, watchPolicyDir, type CallerRef, type NodeRef, type PolicyDenyRecord, type PolicyEngine } from '../policy/index.js';
import { SvidVerifier } from '../identity/verifier.js';
import type { NodeKeys } from '../identity/ca.js';
import type { SvidIdentity } from '../identity/svid.js';
import type { NodeConfig } from './config.js';
import { CaSync } from './ca-sync.js';
import { DaemonRevocationGossip } from './revocation-gossip-driver.js';
import { RevocationGossip } from './revocation-gossip.js';
import { endpointOf, type Endpoint } from './links.js';
import { DaemonBackend, mapekActor } from './node-backend.js';
import { NodeRuntime, type PeerPolicy } from './runtime.js';
import { DaemonSelfHealing } from './self-healing.js';
import { NodeStateDb, type AuditEntry } from './state-db.js';
import { readEnrollment, readNetworkKeys, readNodeKeys, StateError, type Enrollment } from './state-dir.js';

/**
 * The daemon: reads the state directory and config, opens the state database, loads and
 * watches the Cedar policy, starts the runtime (sockets, timers, core), the CA sync (revocations,
 * SVID renewal) and the HTTP API, and stops all of it in order.
 */

/** After `drain`, the node keeps forwarding for this long before it leaves. */
export const drainGraceMs = 2000;
/** A deny of the same action and principal is written to the audit log at most this often. */
export const denyAuditIntervalMs = 60_000;
/**
 * How long a node without a fresh revocation list waits for its first fetch before it opens its
 * sockets. Until a fresh list is in it refuses new peers anyway, and a refused peer comes back
 * only after its announcement backoff (up to 8 s), so opening later is joining sooner.
 */
export const firstRevocationWaitMs = 5000;
/** Bytes of a generated API token (base64url: 43 characters). */
export const apiTokenBytes = 32;

/** Lines the daemon writes (JSON, one object per line). */
export type DaemonLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** Reads the API token file, creating it (0600, random) on first start. */
export function ensureApiToken(path: string): string {
  if (!existsSync(path)) writeFileSync(path, `${Buffer.from(randomBytes(apiTokenBytes)).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new StateError(path, `${path}: the API token file is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path}`);
  const token = readFileSync(path, 'utf8').trim();
  if (token.length < 16) throw new StateError(path, `${path}: the API token must be at least 16 characters`);
  return token;
}

/** The API's tokens: the admin one, and the read-only viewer one when the config names a file for it (made like the admin's when missing). */
function apiTokens(api: NodeConfig['api']): { admin: string; viewer?: string } {
  const admin = ensureApiToken(api.tokenFile);
  if (api.viewerTokenFile === null) return { admin };
  const viewer = ensureApiToken(api.viewerTokenFile);
  if (viewer === admin) throw new StateError(api.viewerTokenFile, `${api.viewerTokenFile}: the viewer token must differ from the admin token in ${api.tokenFile}`);
  return { admin, viewer };
}

/** The policy's view of an API caller: an operator with its role, or the node or workload its SVID names. */
function callerRefOf(caller: ApiCaller): CallerRef {
  return caller.kind === 'operator' ? { kind: 'operator', id: caller.id, role: caller.role } : callerRefFromSpiffeId(caller.spiffeId);
}

function anchorsOf(enrollment: Enrollment, nowMs: number): readonly TrustAnchor[] {
  if (enrollment.bundleJson !== null) return parseBundle(enrollment.bundleJson, enrollment.trustDomain, nowMs).anchors;
  return [trustAnchorFrom(enrollment.caCertificate, enrollment.trustDomain, nowMs)];
}

/** The Cedar engine behind the runtime's peer policy, swapped on reload. */
class PolicyHolder implements PeerPolicy {
  readonly stats = newPolicyStats();
  engine: PolicyEngine;
  /** Peers the self-healing loop took out of transit (SPIFFE IDs), on top of what the policy files say. */
  readonly quarantined = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly local: NodeRef,
    private readonly onDeny: (record: PolicyDenyRecord) => void,
  ) {
    this.engine = loadPolicyFiles(dir, { stats: this.stats, onDeny });
  }

  hooks(): { stats: PolicyHolder['stats']; onDeny: (record: PolicyDenyRecord) => void } {
    return { stats: this.stats, onDeny: this.onDeny };
  }

  mayPeer(peerSpiffeId: string): boolean {
    return this.engine.canPeer(this.local, nodeRefFromSpiffeId(peerSpiffeId)).allowed;
  }

  mayTransit(peerSpiffeId: string): boolean {
    if (this.quarantined.has(peerSpiffeId)) return false;
    return this.engine.canTransit(this.local, nodeRefFromSpiffeId(peerSpiffeId)).allowed;
  }
}

/** What a daemon is built from, read from the state directory before anything starts. */
interface DaemonState {
  readonly config: NodeConfig;
  readonly enrollment: Enrollment;
  readonly keys: NodeKeys;
  readonly anchors: readonly TrustAnchor[];
  readonly svid: SvidIdentity;
  readonly db: NodeStateDb;
  readonly revocations: RevocationSet;
  /** The network key epochs last fetched from the CA, or null: the enrollment's key alone. */
  readonly networkKeys: readonly NetworkKeyEpoch[] | null;
}

function readState(config: NodeConfig): DaemonState {
  const enrollment = readEnrollment(config.stateDir);
  const keys = readNodeKeys(config.stateDir);
  const networkKeys = readNetworkKeys(config.stateDir)?.epochs ?? null;
  const nowMs = Date.now();
  const anchors = anchorsOf(enrollment, nowMs);
  const svid = validateSvid(enrollment.svid, anchors, enrollment.trustDomain, nowMs);
  const db = NodeStateDb.open(join(config.stateDir, 'node.db'));
  try {
    const revocations = new RevocationSet(enrollment.trustDomain);
    const saved = db.revocationList();
    if (saved !== null) revocations.update(saved.bytes, anchors);
    checkRouterId(db, enrollment.spiffeId, config.stateDir);
    return { config, enrollment, keys, anchors, svid, db, revocations, networkKeys };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The database remembers whose it is: a node.db copied next to another node's SVID is refused. */
function checkRouterId(db: NodeStateDb, spiffeId: string, stateDir: string): void {
  const id = nodeIdOfSpiffeId(parseSpiffeId(spiffeId));
  const saved = db.routerId();
  if (saved === null) db.saveRouterId(id);
  else if (saved !== id) throw new StateError(join(stateDir, 'node.db'), `${join(stateDir, 'node.db')}: holds the state of node ${formatNodeId(saved)}, but the SVID names node ${formatNodeId(id)}; move the file aside to start afresh`);
}

function peerEndpoints(config: NodeConfig): Endpoint[] {
  // parseNodeConfig already turned localhost into 127.0.0.1.
  return config.peers.map((peer) => endpointOf(peer.transport, peer.address.host, peer.address.port));
}

/** A running node daemon. */
export class NodeDaemon {
  readonly runtime: NodeRuntime;
  readonly backend: DaemonBackend;
  readonly db: NodeStateDb;
  /** The self-healing loop, acting through this node's core with Knowledge in its database. */
  readonly mapek: MapeK;
  /** What steps the loop: transit reports cut from the node's traffic, exchanged with its neighbours, judged (docs/mapek.md). */
  readonly selfHealing: DaemonSelfHealing;
  /** Decisions of the loop since start, by kind. */
  private readonly mapekDecisions: Record<string, number> = {};
  /** Resolves once the daemon has stopped (stop, or the end of a drain). */
  readonly stopped: Promise<void>;
  private readonly policy: PolicyHolder;
  private readonly caSync: CaSync;
  /** Revocation lists passed between neighbours (docs/ca.md, "Gossip"). */
  private readonly revocationGossip: DaemonRevocationGossip;
  private readonly lastDenyAuditMs = new Map<string, number>();
  private api: RunningApi | null = null;
  /** The API's base URL, set once it listens (a daemon is only handed out after that). */
  private apiUrl = '';
  private unwatch: () => void = () => undefined;
  private svidNotAfterMs: number;
  /** The node's current SVID (DER): the enrolled one, then each renewal. */
  private svid: Uint8Array;
  private draining = false;
  private stopping: Promise<void> | null = null;
  private resolveStopped: () => void = () => undefined;

  private constructor(
    private readonly state: DaemonState,
    private readonly log: DaemonLog,
    version: string,
  ) {
    const { config, enrollment } = state;
    this.db = state.db;
    this.svidNotAfterMs = state.svid.notAfterMs;
    this.svid = enrollment.svid;
    this.stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));
    const local = nodeRefFromSpiffeId(enrollment.spiffeId);
    this.policy = new PolicyHolder(config.policy.dir ?? defaultPolicyDir(), local, (record) => this.onDeny(record));
    this.runtime = new NodeRuntime({
      identity: { spiffeId: enrollment.spiffeId, trustDomain: enrollment.trustDomain, nodeId: nodeIdOfSpiffeId(parseSpiffeId(enrollment.spiffeId)), certificate: enrollment.svid, keys: state.keys, networkKey: enrollment.networkKey, ...(state.networkKeys === null ? {} : { networkKeys: state.networkKeys }) },
      anchors: () => state.anchors,
      revocations: state.revocations,
      profile: config.profile === 'fast' ? fastProfile : rfc8966Profile,
      endToEnd: config.endToEnd,
      udp: config.listen.udp,
      tcp: config.listen.tcp,
      tcpLimits: config.tcp,
      peers: peerEndpoints(config),
      ...(config.discovery.lan ? { discovery: config.discovery } : {}),
      policy: this.policy,
      admitsNewPeers: () => !this.caSync.isRevocationListStale(),
      seqnos: state.db,
      onEvent: (event, atMs) => this.backend.onEvent(event, atMs),
      onLinkMessage: (message, atMs) => {
        if (RevocationGossip.handles(message.payload[0]!)) this.revocationGossip.onLinkMessage(message);
        else this.selfHealing.onLinkMessage(message, atMs);
      },
      onError: (error, doing) => this.log('error', `failed ${doing}`, { error: error.message }),
      faults: config.faultInjection,
    });
    this.backend = this.createBackend(version);
    const actuator = new CoreActuator(
      {
        links: () => this.runtime.mesh.neighbourViews().map((view) => ({ link: view.link, peer: view.peer, usable: view.usable })),
        input: (input) => this.runtime.step(input),
      },
      { quarantineNode: { apply: (subject) => this.quarantine(subject, true), undo: (subject) => this.quarantine(subject, false) } },
    );
    this.mapek = new MapeK(actuator, this.db, (entry) => this.onMapekDecision(entry));
    this.selfHealing = new DaemonSelfHealing({
      runtime: this.runtime,
      loop: this.mapek,
      signingKey: state.keys.ed25519PrivateKey,
      trustDomain: enrollment.trustDomain,
      anchors: () => state.anchors,
      isRevoked: state.revocations.isRevoked,
      transitProbes: config.selfHealing.transitProbes,
      onError: (error, doing) => this.log('error', `failed ${doing}`, { error: error.message }),
    });
    this.caSync = new CaSync({
      enrollment,
      keys: state.keys,
      anchors: state.anchors,
      revocations: state.revocations,
      db: state.db,
      log,
      stateDir: config.stateDir,
      svid: state.svid,
      onRenewed: (certificate, notAfterMs) => {
        this.svidNotAfterMs = notAfterMs;
        this.svid = certificate;
        this.runtime.renewCertificate(certificate);
        this.api?.renewCertificate(certificate);
      },
      revocationMaxAgeMs: config.revocations.maxAgeMs,
      onStaleChange: (stale) => this.onRevocationsStale(stale),
      onInstalled: (bytes, list, newSequence, fromLink) => this.revocationGossip.installed(bytes, list, newSequence, fromLink),
      networkKeys: { current: () => this.runtime.networkKeyEpochs, install: (epochs) => this.runtime.setNetworkKeys(epochs) },
    });
    this.revocationGossip = this.createRevocationGossip();
  }

  /** The revocation gossip, holding the saved list in force from the start. */
  private createRevocationGossip(): DaemonRevocationGossip {
    const gossip = new DaemonRevocationGossip({
      runtime: this.runtime,
      offer: (bytes, source, fromLink) => this.caSync.offer(bytes, source, fromLink),
      maxAgeMs: this.state.config.revocations.maxAgeMs,
    });
    const saved = this.db.revocationList();
    const inForce = this.state.revocations.list;
    if (saved !== null && inForce !== null) gossip.core.setCurrent(saved.bytes, inForce);
    return gossip;
  }

  /** The API's view of this node (what it reads from the runtime, the policy, the database and the loops). */
  private createBackend(version: string): DaemonBackend {
    const { config } = this.state;
    return new DaemonBackend(this.runtime, {
      version,
      profile: config.profile,
      api: () => this.apiUrl,
      svidNotAfterMs: () => this.svidNotAfterMs,
      peersConfigured: config.peers.length,
      policyDenies: () => ({ ...this.policy.stats.denies }),
      drain: () => this.drain(),
      isDraining: () => this.draining,
      audit: (query) => this.db.auditLog(query),
      incidents: () => this.mapek.incidentViews(),
      mapekDecisions: () => ({ ...this.mapekDecisions }),
      mapekReports: () => this.selfHealing.counters(),
      revocationGossip: () => this.revocationGossip.counters(),
      revocations: () => ({ ageMs: this.caSync.revocationListAgeMs(), stale: this.caSync.isRevocationListStale() }),
    });
  }

  /** Starts a daemon from a checked config whose state directory holds an enrollment. */
  static async start(config: NodeConfig, log: DaemonLog, version: string): Promise<NodeDaemon> {
    const state = readState(config);
    let daemon: NodeDaemon;
    try {
      daemon = new NodeDaemon(state, log, version);
    } catch (error) {
      state.db.close();
      throw error;
    }
    await daemon.run();
    return daemon;
  }

  /** The API's base URL. */
  get apiAddress(): string {
    return this.apiUrl;
  }

  /** Fetches the revocation list now (also done every revocationPollMs). */
  syncWithCa(): Promise<void> {
    return this.caSync.pollRevocations();
  }

  /** Stops accepting transit at once and leaves after drainGraceMs; resolves when the drain began. */
  drain(): Promise<void> {
    if (this.draining) return Promise.resolve();
    this.draining = true;
    this.log('info', 'draining', { graceMs: drainGraceMs });
    this.audit('operator', 'node.drain', 'ok');
    this.runtime.step({ kind: 'drain' });
    this.backend.publish({ kind: 'lifecycle', at: new Date().toISOString(), state: 'draining', detail: `leaving in ${drainGraceMs} ms` });
    setTimeout(() => void this.stop('drained'), drainGraceMs);
    return Promise.resolve();
  }

  /** Retracts routes, closes sessions, sockets, the API and the database; idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.log('info', 'stopping', { reason });
      this.audit('node', 'node.stop', 'ok', reason);
      this.unwatch();
      this.caSync.stop();
      this.revocationGossip.stop();
      this.selfHealing.stop();
      this.backend.close();
      await this.runtime.stop();
      await this.api?.close();
      this.db.close();
      this.resolveStopped();
    })();
    return this.stopping;
  }

  private async run(): Promise<void> {
    const { config } = this.state;
    try {
      // Inside the try: a bad token file or an unwatchable policy directory must close the database too.
      const tokens = apiTokens(config.api);
      this.unwatch = watchPolicyDir(this.policy.dir, (engine) => this.onPolicyReload(engine), (error) => this.onPolicyError(error), this.policy.hooks());
      await this.startCaSync();
      await this.runtime.start();
      this.api = await this.startApi(tokens);
    } catch (error) {
      this.unwatch();
      this.caSync.stop();
      await this.runtime.abort();
      this.db.close();
      throw error;
    }
    this.apiUrl = this.api.address;
    this.selfHealing.start();
    this.revocationGossip.start();
    if (config.faultInjection.dropTransitShare > 0) this.log('warn', 'fault injection: this node drops a share of the data it forwards (a grey hole); for tests only', { dropTransitShare: config.faultInjection.dropTransitShare });
    const detail = `udp ${this.runtime.udpAddresses().join(' ')} tcp ${this.runtime.tcpAddresses().join(' ')} api ${this.api.address}`;
    this.audit('node', 'node.start', 'ok', detail);
    this.log('info', 'started', { nodeId: this.backend.info().nodeId, spiffeId: this.state.enrollment.spiffeId, udp: this.runtime.udpAddresses(), tcp: this.runtime.tcpAddresses(), api: this.api.address });
  }

  /** Starts the CA sync; without a fresh saved list, waits up to firstRevocationWaitMs for the first fetch (see there). */
  private async startCaSync(): Promise<void> {
    const first = this.caSync.start();
    if (!this.caSync.isRevocationListStale()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((resolve) => (timer = setTimeout(resolve, firstRevocationWaitMs)))]);
    clearTimeout(timer);
  }

  /** Starts the API, authorized by the Cedar policy, over TLS with api.mtls. */
  private async startApi(tokens: { admin: string; viewer?: string }): Promise<RunningApi> {
    const { config, enrollment } = this.state;
    const local = nodeRefFromSpiffeId(enrollment.spiffeId);
    const api = await startApi({
      backend: this.backend,
      adminToken: tokens.admin,
      ...(tokens.viewer === undefined ? {} : { viewerToken: tokens.viewer }),
      host: config.api.listen.host,
      port: config.api.listen.port,
      authorize: (caller, action) => this.policy.engine.canCallApi(local, callerRefOf(caller), action),
      ...(config.api.mtls ? { tls: this.apiTls(this.svid) } : {}),
    });
    // The CA sync already runs: a renewal that landed while the API was starting is served from now on.
    api.renewCertificate(this.svid);
    return api;
  }

  /**
   * TLS for the API (api.mtls): the node's SVID and key, the bundle's CAs for client chains, and
   * full SVID validation of each client certificate (both signatures, expiry, revocation). A stale
   * revocation list cannot vouch for a client SVID any more than for a peer's, so SVIDs are refused
   * then; the local token still works, so the operator can look at the node.
   */
  private apiTls(certificate: Uint8Array): ApiTlsOptions {
    const { enrollment, keys, anchors, revocations } = this.state;
    const svids = new SvidVerifier({ trustDomain: enrollment.trustDomain, anchors: () => anchors, isRevoked: revocations.isRevoked });
    return {
      certificate,
      ed25519Seed: keys.ed25519PrivateKey,
      clientCas: anchors.map((anchor) => anchor.certificate.der),
      verifyClient: (certificate) => {
        if (this.caSync.isRevocationListStale()) throw new Error('the revocation list is stale, so no SVID can be vouched for until a fresh one arrives (the bearer token still works)');
        return svids.verify(certificate, Date.now()).spiffeId;
      },
    };
  }

  private audit(actor: string, action: string, outcome: 'ok' | 'denied' | 'failed', detail?: string): void {
    this.auditEntry({ atMs: Date.now(), actor, action, subject: this.state.enrollment.spiffeId, outcome, ...(detail === undefined ? {} : { detail }) });
  }

  /** Writes one audit row; a failing database is logged, never thrown into the routing core. */
  private auditEntry(entry: AuditEntry): void {
    try {
      this.db.audit(entry);
    } catch (error) {
      this.log('error', 'failed writing the audit log', { error: (error as Error).message, action: entry.action });
    }
  }

  /**
   * Takes the neighbour a subject names out of transit through the policy (or lets it back):
   * the runtime asks the policy again at once, and every later decision (a reload, the neighbour
   * coming back) keeps asking the same policy.
   */
  private quarantine(subject: Subject, on: boolean): ActuatorResult {
    const node = subject.kind === 'node' ? subject.node : subject.to;
    const peers = this.runtime.mesh
      .neighbourViews()
      .filter((view) => view.peer === node)
      .map((view) => this.runtime.secure.peerOf(view.link))
      .filter((peer): peer is string => peer !== null);
    if (peers.length === 0) return { ok: false, reason: `no secured link of this node leads to node ${formatNodeId(node as NodeId)}` };
    for (const peer of peers) {
      if (on) this.policy.quarantined.add(peer);
      else this.policy.quarantined.delete(peer);
    }
    this.runtime.applyTransitPolicy();
    return { ok: true };
  }

  /** One decision of the self-healing loop: counted, logged and audited with its evidence. */
  private onMapekDecision(entry: MapekAuditEntry): void {
    this.mapekDecisions[entry.event] = (this.mapekDecisions[entry.event] ?? 0) + 1;
    const outcome = entry.event === 'actionFailed' ? 'failed' : entry.event === 'actionRefused' || entry.event === 'actionSuppressed' ? 'denied' : 'ok';
    const detail = JSON.stringify({ cause: entry.cause, action: entry.action, reason: entry.reason, evidence: entry.evidence });
    this.log(entry.event.startsWith('action') ? 'warn' : 'info', `self-healing: ${entry.event}`, { subject: entry.subject, cause: entry.cause, action: entry.action, reason: entry.reason });
    this.auditEntry({ atMs: entry.atMs, actor: mapekActor, action: `mapek.${entry.event}`, subject: entry.subject, outcome, detail });
  }

  private onDeny(record: PolicyDenyRecord): void {
    const key = `${record.action} ${record.principal}`;
    const atMs = Date.now();
    const fields = { action: record.action, principal: record.principal, policyIds: record.policyIds, errors: record.errors };
    // Every deny is logged (debug) and counted; a warning, an audit row and an event go out at
    // most once a minute per action and principal (a refused peer retries every second).
    if (atMs - (this.lastDenyAuditMs.get(key) ?? -Infinity) < denyAuditIntervalMs) {
      this.log('debug', 'policy denied', fields);
      return;
    }
    this.lastDenyAuditMs.set(key, atMs);
    this.log('warn', 'policy denied', fields);
    this.auditEntry({ atMs, actor: record.principal, action: `policy.${record.action}`, subject: record.resource, outcome: 'denied', detail: record.policyIds.join(',') });
    this.backend.publish({ kind: 'policyDeny', at: new Date(atMs).toISOString(), action: record.action, principal: record.principal, policyIds: record.policyIds });
  }

  /** Tells event subscribers that new peers are refused (stale list) or admitted again; CaSync has logged and audited it. */
  private onRevocationsStale(stale: boolean): void {
    const detail = stale ? 'the revocation list is stale: new peer sessions are refused, existing ones stay' : 'a fresh revocation list arrived: new peer sessions are admitted';
    this.backend.publish({ kind: 'lifecycle', at: new Date().toISOString(), state: stale ? 'revocationsStale' : 'revocationsFresh', detail });
  }

  private onPolicyReload(engine: PolicyEngine): void {
    this.policy.engine = engine;
    this.log('info', 'policy reloaded', { policies: engine.policyIds.length });
    this.audit('operator', 'policy.reload', 'ok', this.policy.dir);
    this.runtime.applyTransitPolicy();
  }

  private onPolicyError(error: unknown): void {
    const message = (error as Error).message;
    this.log('error', 'policy reload refused; the previous policy stays in force', { error: message });
    this.audit('operator', 'policy.reload', 'failed', message);
  }
}
