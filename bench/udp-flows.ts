import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NetnsTopology } from '../src/node/netns-topology.js';

/**
 * Plain UDP flows between namespaces of a topology, routed by the kernel (by babeld's routes),
 * with bench/netns-pinger.ts as sender and receiver: the kernel-routing counterpart of
 * LiveTraffic, with the same recovery: from the fault to the first delivered packet sent after
 * it. Times are CLOCK_MONOTONIC milliseconds (monotonicMs), shared with the pinger processes.
 */

/** Datagrams per second of each flow (10 ms grain, as LiveTraffic). */
export const udpFlowIntervalMs = 10;
/** UDP port of the receivers. */
const flowPort = 47_000;
/** How long a receiver may take to bind. */
const listenTimeoutMs = 15_000;
const pinger = [process.execPath, '--import', 'tsx', 'bench/netns-pinger.ts'];

/** CLOCK_MONOTONIC in milliseconds (the clock of the pinger processes). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** One flow: node `src` to node `dst`'s host address. */
export interface UdpFlow {
  readonly src: number;
  readonly dst: number;
}

/** Running flows; stop() kills every process they started. */
export class UdpFlows {
  private readonly children: ChildProcess[] = [];
  /** Per flow: [sent, received] times of each delivered datagram, in arrival order. */
  private readonly delivered: [number, number][][];

  private constructor(
    private readonly topology: NetnsTopology,
    readonly flows: readonly UdpFlow[],
  ) {
    this.delivered = flows.map(() => []);
  }

  /** Starts a receiver in each destination namespace, waits until they listen, then the senders (stopping by themselves after limitS). */
  static async start(topology: NetnsTopology, flows: readonly UdpFlow[], limitS: number): Promise<UdpFlows> {
    const running = new UdpFlows(topology, flows);
    try {
      await Promise.all([...new Set(flows.map((flow) => flow.dst))].map((dst) => running.receiver(dst)));
      flows.forEach((flow, id) => running.spawn(flow.src, ['send', topology.hostAddress(flow.dst), String(flowPort), String(id), String(udpFlowIntervalMs), String(limitS)]));
    } catch (error) {
      running.stop();
      throw error;
    }
    return running;
  }

  private spawn(index: number, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.topology.namespaces[index]!, ...pinger, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('error', () => undefined);
    this.children.push(child);
    return child;
  }

  private receiver(dst: number): Promise<void> {
    const child = this.spawn(dst, ['recv', String(flowPort)]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`udp flows: the receiver in node ${dst} did not listen within ${listenTimeoutMs} ms`)), listenTimeoutMs);
      child.once('exit', (code) => reject(new Error(`udp flows: the receiver in node ${dst} exited with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'listening') {
          clearTimeout(timer);
          resolve();
          return;
        }
        const [flow, , sentNs, receivedNs] = line.split(' ');
        this.delivered[Number(flow)]?.push([Number(sentNs) / 1e6, Number(receivedNs) / 1e6]);
      });
    });
  }

  /** Per flow: from `faultAtMs` to the first delivery of a datagram sent at or after `inEffectAtMs`; null when none came. */
  recoveries(faultAtMs: number, inEffectAtMs: number): (number | null)[] {
    return this.delivered.map((deliveries) => {
      const first = deliveries.find(([sentMs]) => sentMs >= inEffectAtMs);
      return first === undefined ? null : first[1] - faultAtMs;
    });
  }

  /** Kills every sender and receiver. */
  stop(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
