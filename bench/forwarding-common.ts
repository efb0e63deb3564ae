import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseBundle } from '../src/identity/bundle.js';
import { RevocationSet } from '../src/identity/revocation.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../src/identity/spiffe-id.js';
import { trustAnchorFrom, type TrustAnchor } from '../src/identity/svid.js';
import { fastProfile } from '../src/mesh/profiles.js';
import type { MeshEvent } from '../src/mesh/types.js';
import { endpointOf } from '../src/node/links.js';
import { NodeRuntime, type PeerPolicy } from '../src/node/runtime.js';
import { readEnrollment, readNodeKeys } from '../src/node/state-dir.js';

/**
 * Helpers of the forwarding benchmark shared by its parent and its child processes: a
 * NodeRuntime built from an enrolled state directory (what `node init` left behind), and a child
 * process spoken to in JSON lines (one command on stdin, one answer on stdout).
 */

/** A policy that admits everyone (the bench's own runtimes; the daemon measured for memory runs its Cedar policy). */
export const allowAll: PeerPolicy = { mayPeer: () => true, mayTransit: () => true };

/** How long a child may take to print its ready line, and to answer a command. */
export const childReadyTimeoutMs = 60_000;
export const childAnswerTimeoutMs = 30_000;

/** A NodeRuntime (fast profile, end-to-end on, UDP on 127.0.0.1) for the node enrolled in `stateDir`, dialing `peerPorts`. */
export function runtimeFromStateDir(stateDir: string, peerPorts: readonly number[], onEvent?: (event: MeshEvent, nowMs: number) => void): NodeRuntime {
  const enrollment = readEnrollment(stateDir);
  const nowMs = Date.now();
  const anchors: readonly TrustAnchor[] =
    enrollment.bundleJson !== null ? parseBundle(enrollment.bundleJson, enrollment.trustDomain, nowMs).anchors : [trustAnchorFrom(enrollment.caCertificate, enrollment.trustDomain, nowMs)];
  return new NodeRuntime({
    identity: {
      spiffeId: enrollment.spiffeId,
      trustDomain: enrollment.trustDomain,
      nodeId: nodeIdOfSpiffeId(parseSpiffeId(enrollment.spiffeId)),
      certificate: enrollment.svid,
      keys: readNodeKeys(stateDir),
      networkKey: enrollment.networkKey,
    },
    anchors: () => anchors,
    revocations: new RevocationSet(enrollment.trustDomain),
    profile: fastProfile,
    endToEnd: true,
    udp: [{ host: '127.0.0.1', port: 0, family: 4 }],
    peers: peerPorts.map((port) => endpointOf('udp', '127.0.0.1', port)),
    policy: allowAll,
    ...(onEvent === undefined ? {} : { onEvent }),
  });
}

/** The port of a runtime's first UDP socket. */
export function portOf(runtime: NodeRuntime): number {
  return Number(runtime.udpAddresses()[0]!.split(':').at(-1));
}

/** CPU and memory of a process, as process.cpuUsage and process.memoryUsage give them. */
export interface Usage {
  readonly cpu: NodeJS.CpuUsage;
  readonly memory: NodeJS.MemoryUsage;
}

/** What a child's `usage` command answers (plus whatever the child adds). */
export function usageNow(): Usage {
  return { cpu: process.cpuUsage(), memory: process.memoryUsage() };
}

/** Runs `onCommand` for each line of stdin and writes its answer as one JSON line; exits when stdin closes (the parent is gone). */
export function serveCommands(onCommand: (command: string) => unknown): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    void Promise.resolve(onCommand(line.trim())).then(
      (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`),
      (error: unknown) => process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`),
    );
  });
  lines.on('close', () => process.exit(0));
}

/** A child process (`node --import tsx <script> ...args`) spoken to in JSON lines. */
export class LineChild {
  readonly process: ChildProcess;
  /** The child's first stdout line (its ready line). */
  readonly ready: Promise<unknown>;
  private readonly waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = [];
  private exited = false;

  constructor(
    readonly name: string,
    script: string,
    args: readonly string[],
    nodeFlags: readonly string[] = [],
  ) {
    this.process = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.ready = new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      const next = this.waiting.shift();
      if (next === undefined) return;
      try {
        next.resolve(JSON.parse(line));
      } catch {
        next.reject(new Error(`${name}: not a JSON line: ${line}`));
      }
    });
    this.process.once('exit', (code, signal) => {
      this.exited = true;
      for (const next of this.waiting.splice(0)) next.reject(new Error(`${name} exited (${code ?? signal}) before it answered`));
    });
  }

  /** The child's process id. */
  get pid(): number {
    return this.process.pid!;
  }

  /** Sends one command and resolves with the child's answer. */
  request<T>(command: string, timeoutMs = childAnswerTimeoutMs): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to ${command} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.process.stdin!.write(`${command}\n`);
    });
  }

  /** Closes the child's stdin (it exits) and kills it by its own pid if it has not gone within 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.stdin!.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

/** Resolves once `condition` holds, polling every 20 ms; rejects naming `what` after `limitMs`. */
export async function until(what: string, condition: () => boolean, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`bench: gave up waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
