import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sha256 } from '../crypto/hash.js';
import { formatNodeId } from '../wire/ids.js';
import { startCaService, type CaService } from './ca-service.js';
import { initCaDirectory, saveTokens } from './ca-store.js';
import { enrollNode } from './enroll-client.js';

/**
 * A mesh of real node processes, for the live demo and the end-to-end tests: a CA with its
 * enrollment service in this process, one state directory per node enrolled with a one-time
 * token, and `x0tta6bl4 node start` processes whose UDP ports are fixed at their first start (so
 * a restarted node comes back at the same address). By default every node runs here on
 * loopback; a placement runs each one elsewhere (in its own network namespace, say) with its
 * own addresses.
 */

/** How long a node process may take to print its ready line. */
export const nodeReadyTimeoutMs = 30_000;
/** The CA passphrase of a throwaway cluster (it lives in a temporary directory). */
const clusterPassphrase = 'throwaway cluster passphrase';

/** How a cluster is laid out and launched. */
export interface ClusterOptions {
  /** An empty directory for every file of the cluster (removed by close). */
  readonly root: string;
  readonly nodes: number;
  /** Links as node index pairs; the later-started end of each dials the other. */
  readonly edges: readonly (readonly [number, number])[];
  /** argv prefix that runs the CLI, e.g. [process.execPath, 'dist/src/cli/main.js']. */
  readonly command: readonly string[];
  readonly trustDomain?: string;
  /** Lines each node process writes (JSON logs), with the node's index. */
  readonly onLine?: (index: number, line: string) => void;
  /** Extra YAML appended to node `index`'s config. */
  readonly extraConfig?: (index: number) => string;
  /** Where each node runs and listens; default: loopbackPlacement. */
  readonly placement?: NodePlacement;
}

/**
 * Where each node process runs and which addresses it uses. The API address must be reachable
 * from this process, which calls it.
 */
export interface NodePlacement {
  /** argv put before node `index`'s command, e.g. ['ip', 'netns', 'exec', ns]. */
  readonly wrap: (index: number) => readonly string[];
  /** Node `index`'s UDP listen address for `port` (0 at the first start, then the port it got). */
  readonly udpListen: (index: number, port: number) => string;
  /** The host node `index` dials neighbour `peer` at (the peer's port is added). */
  readonly peerHost: (index: number, peer: number) => string;
  /** Node `index`'s API listen address (host:port). */
  readonly apiListen: (index: number) => string;
  /** Where the CA service listens (host:port); default 127.0.0.1:0, this namespace's loopback. */
  readonly caListen?: string;
  /**
   * The host node `index` reaches the CA service at (default 127.0.0.1). The node is enrolled
   * there, and polls its revocation list there: a node that cannot reach it turns stale and
   * admits no new peers.
   */
  readonly caHost?: (index: number) => string;
}

/** Every node in this process's namespace, on 127.0.0.1 with ephemeral ports. */
export const loopbackPlacement: NodePlacement = {
  wrap: () => [],
  udpListen: (_index, port) => `127.0.0.1:${port}`,
  peerHost: () => '127.0.0.1',
  apiListen: () => '127.0.0.1:0',
};

/** One enrolled node of the cluster. */
export interface ClusterNode {
  readonly index: number;
  readonly nodeId: string;
  readonly spiffeId: string;
  readonly stateDir: string;
  udpPort: number;
  api: string;
  token: string;
  process: ChildProcess | null;
}

interface ReadyLine {
  readonly msg: string;
  readonly api: string;
  readonly udp: readonly string[];
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** A running (or partly running) local mesh. */
export class LocalCluster {
  readonly nodes: ClusterNode[] = [];
  readonly caSha256: string;
  private constructor(
    private readonly options: ClusterOptions,
    private readonly ca: CaService,
    caSha256: string,
  ) {
    this.caSha256 = caSha256;
  }

  /** Creates the CA and its service and enrolls every node (no process starts yet). */
  static async create(options: ClusterOptions): Promise<LocalCluster> {
    const caDir = join(options.root, 'ca');
    const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
    const opened = initCaDirectory(caDir, options.trustDomain ?? 'demo.x0tta6bl4.mesh', clusterPassphrase, Date.now(), random);
    const tokens = Array.from({ length: options.nodes }, () => opened.tokens.issue(Date.now(), 600_000, random).token);
    saveTokens(caDir, opened.tokens);
    const ca = await startCaService({ dir: caDir, passphrase: clusterPassphrase, listen: options.placement?.caListen ?? '127.0.0.1:0' });
    const cluster = new LocalCluster(options, ca, Buffer.from(sha256(opened.ca.certificateDer)).toString('hex'));
    try {
      for (let index = 0; index < options.nodes; index++) await cluster.enroll(index, tokens[index]!);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private get placement(): NodePlacement {
    return this.options.placement ?? loopbackPlacement;
  }

  /** The CA service's URL. */
  get caUrl(): string {
    return this.ca.address;
  }

  private async enroll(index: number, token: string): Promise<void> {
    const stateDir = join(this.options.root, `node-${index}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const host = this.placement.caHost?.(index) ?? '127.0.0.1';
    const caUrl = `http://${host.includes(':') ? `[${host}]` : host}:${new URL(this.ca.address).port}`;
    const enrolled = await enrollNode({ caUrl, token, stateDir, caSha256: this.caSha256 });
    this.nodes.push({ index, nodeId: formatNodeId(enrolled.nodeId), spiffeId: enrolled.spiffeId, stateDir, udpPort: 0, api: '', token: '', process: null });
  }

  /** Node `index`'s config: its port (fixed after the first start) and the started neighbours it dials. */
  private writeConfig(index: number): string {
    const node = this.nodes[index]!;
    const placement = this.placement;
    const peers = this.options.edges
      .filter(([a, b]) => a === index || b === index)
      .map(([a, b]) => this.nodes[a === index ? b : a]!)
      .filter((peer) => peer.udpPort !== 0)
      .map((peer) => `  - address: "${placement.peerHost(index, peer.index)}:${peer.udpPort}"\n`);
    const text = [
      `stateDir: ${JSON.stringify(node.stateDir)}\n`,
      `listen:\n  udp: ["${placement.udpListen(index, node.udpPort)}"]\n`,
      peers.length === 0 ? 'peers: []\n' : `peers:\n${peers.join('')}`,
      `api:\n  listen: "${placement.apiListen(index)}"\n`,
      `profile: fast\nlog:\n  level: info\n`,
      this.options.extraConfig?.(index) ?? '',
    ].join('');
    const path = join(node.stateDir, 'node.yaml');
    writeFileSync(path, text);
    return path;
  }

  /** Starts node `index`'s process and resolves once it printed its ready line. */
  async start(index: number): Promise<ClusterNode> {
    const node = this.nodes[index]!;
    const [program, ...prefix] = [...this.placement.wrap(index), ...this.options.command];
    const child = spawn(program!, [...prefix, 'node', 'start', '--config', this.writeConfig(index)], { stdio: ['ignore', 'pipe', 'pipe'] });
    node.process = child;
    const ready = await this.readyLine(index, child);
    node.api = ready.api;
    node.udpPort = portOf(ready.udp[0]!);
    node.token = readFileSync(join(node.stateDir, 'api-token'), 'utf8').trim();
    return node;
  }

  private readyLine(index: number, child: ChildProcess): Promise<ReadyLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${index}: no ready line within ${nodeReadyTimeoutMs} ms`)), nodeReadyTimeoutMs);
      const stderr: string[] = [];
      createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
      child.once('exit', (code) => reject(new Error(`node ${index} exited with ${code} before it was ready: ${stderr.join('\n')}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        this.options.onLine?.(index, line);
        if (!line.includes('"msg":"ready"')) return;
        clearTimeout(timer);
        resolve(JSON.parse(line) as ReadyLine);
      });
    });
  }

  /** Kills node `index` (SIGKILL by default) and resolves once it is gone. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.nodes[index]?.process;
    if (child === null || child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await gone;
  }

  /** Calls node `index`'s API with its admin token; resolves with the JSON answer, rejects on an error status. */
  async api<T>(index: number, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const node = this.nodes[index]!;
    const response = await fetch(`${node.api}${path}`, {
      method,
      headers: { authorization: `Bearer ${node.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`node ${index} ${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** Kills every process, stops the CA service and removes the cluster's directory. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node.index)));
    await this.ca.close();
    rmSync(this.options.root, { recursive: true, force: true });
  }
}
