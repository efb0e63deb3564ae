import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { run } from '../src/node/netns.js';
import type { NetnsTopology } from '../src/node/netns-topology.js';

/**
 * babeld (the reference Babel daemon, Debian package `babeld`) on every namespace of a
 * NetnsTopology, speaking on the veths `to<j>`, announcing the namespace's addresses and
 * installing kernel routes; plus what the benchmark reads of the kernel: a node's path to
 * another by following `ip route get` hop by hop, and packets sent on the veths.
 */

/** Hops a kernel path may have before it counts as a loop. */
const pathHopsMax = 64;
/** babeld's default Hello interval (seconds) on wired and wireless interfaces. */
export const babeldDefaultHelloS = 4;

/** The veth names of node `index` (every `to<j>` of its edges). */
export function vethsOf(topology: NetnsTopology, index: number): string[] {
  return topology.options.edges.filter(([a, b]) => a === index || b === index).map(([a, b]) => `to${a === index ? b : a}`);
}

/** babeld on every node of a topology, with one Hello interval (null: babeld's defaults). */
export class BabeldMesh {
  private readonly stderr: string[][] = [];

  private constructor(
    private readonly topology: NetnsTopology,
    private readonly processes: ChildProcess[],
  ) {}

  /**
   * Starts babeld in every namespace. `helloS` sets the Hello interval on wired and wireless
   * interfaces alike (babeld counts it in centiseconds); the IHU and Update intervals follow
   * from it as babeld's defaults do (3 and 4 Hello intervals). `denyPrefix` is kept out of the
   * announcements (the management veths). State files go to `stateDir`.
   */
  static start(topology: NetnsTopology, helloS: number | null, stateDir: string, denyPrefix: string | null): BabeldMesh {
    const processes: ChildProcess[] = [];
    const mesh = new BabeldMesh(topology, processes);
    for (let i = 0; i < topology.namespaces.length; i++) {
      const args = ['-c', '/dev/null', '-I', '', '-S', join(stateDir, `babel-state-${i}`), '-d', '0'];
      if (helloS !== null) args.push('-h', String(helloS), '-H', String(helloS));
      if (denyPrefix !== null) args.push('-C', `redistribute local ip ${denyPrefix} le 32 deny`);
      const child = spawn('ip', ['netns', 'exec', topology.namespaces[i]!, 'babeld', ...args, ...vethsOf(topology, i)], { stdio: ['ignore', 'ignore', 'pipe'] });
      const lines: string[] = [];
      mesh.stderr.push(lines);
      child.stderr!.on('data', (chunk: Buffer) => {
        lines.push(chunk.toString());
        if (lines.length > 20) lines.shift();
      });
      child.on('error', () => undefined);
      processes.push(child);
    }
    return mesh;
  }

  /** True when every node has a babeld route to every other node's host address. */
  async converged(): Promise<boolean> {
    const n = this.topology.namespaces.length;
    const counts = await Promise.all(
      this.topology.namespaces.map(async (ns) => (await run(['ip', '-n', ns, 'route', 'show', 'proto', 'babel'])).split('\n').filter((line) => line.startsWith('10.2.')).length),
    );
    return counts.every((count) => count === n - 1);
  }

  /** Whether every babeld still runs (and, when not, the last words of those that stopped). */
  health(): { running: boolean; stderr: string } {
    const dead = this.processes.map((child, i) => ({ child, i })).filter(({ child }) => child.exitCode !== null || child.signalCode !== null);
    return { running: dead.length === 0, stderr: dead.map(({ i }) => `babeld ${i}: ${this.stderr[i]!.join('').trim()}`).join('\n') };
  }

  /** Stops every babeld (SIGTERM: it retracts its routes) and flushes whatever babel routes remain. */
  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await Promise.all(this.topology.namespaces.map((ns) => run(['ip', '-n', ns, 'route', 'flush', 'proto', 'babel']).catch(() => undefined)));
  }
}

/** The kernel's path from node `src` to node `dst`'s host address (node indices), or null (no route, loop). */
export async function kernelPath(topology: NetnsTopology, src: number, dst: number): Promise<number[] | null> {
  const path = [src];
  for (let at = src; at !== dst; ) {
    if (path.length > pathHopsMax) return null;
    const answer = await run(['ip', '-n', topology.namespaces[at]!, 'route', 'get', topology.hostAddress(dst)]).catch(() => '');
    const device = / dev to(\d+)/.exec(answer);
    if (device === null) return null;
    at = Number(device[1]);
    if (path.includes(at)) return null;
    path.push(at);
  }
  return path;
}

/** Packets sent on every `to<j>` veth of the topology so far, and how many veths that is. */
export async function vethPacketsSent(topology: NetnsTopology): Promise<{ packets: number; veths: number }> {
  let packets = 0;
  let veths = 0;
  await Promise.all(
    topology.namespaces.map(async (ns) => {
      const links = JSON.parse(await run(['ip', '-n', ns, '-s', '-j', 'link', 'show'])) as { ifname: string; stats64?: { tx: { packets: number } } }[];
      for (const link of links) {
        if (!/^to\d+$/.test(link.ifname) || link.stats64 === undefined) continue;
        packets += link.stats64.tx.packets;
        veths++;
      }
    }),
  );
  return { packets, veths };
}
