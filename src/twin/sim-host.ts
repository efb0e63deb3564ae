/**
 * The twin's simulated hosts: what a node's HostProbe would read if each simulated node ran on
 * a machine of its own. A healthy host's CPU follows the packets its node handles, plus a
 * little noise; its memory sits at a level drawn per host and wanders slowly. Exhaustion
 * faults (set through HostFaults) push CPU to 95-100 % at once, and memory to the same range
 * over a few seconds, as a leak would.
 */

import type { HostProbe, HostSample } from '../telemetry/host.js';
import type { Prng } from './prng.js';

/** Packets per second (sent and received) that would keep a host's CPU fully busy. */
export const hostCapacityPps = 20_000;
/** How long memory takes to climb from its level to exhaustion. */
export const memoryRampMs = 5000;
/** Share of CPU or memory an exhausted host reports, at least. */
export const exhaustedShareMin = 0.95;

/** Exhaustion faults in effect per node, counted so that overlapping faults nest. */
export class HostFaults {
  readonly cpu: Int32Array;
  readonly memory: Int32Array;
  /** When each node's memory exhaustion (the first of overlapping ones) began. */
  readonly memorySinceMs: Float64Array;

  constructor(nodeCount: number) {
    this.cpu = new Int32Array(nodeCount);
    this.memory = new Int32Array(nodeCount);
    this.memorySinceMs = new Float64Array(nodeCount);
  }

  /** Starts a CPU exhaustion of `node`; returns the undo. */
  exhaustCpu(node: number): () => void {
    this.cpu[node]!++;
    return () => {
      this.cpu[node]!--;
    };
  }

  /** Starts a memory exhaustion of `node` at `nowMs`; returns the undo. */
  exhaustMemory(node: number, nowMs: number): () => void {
    if (this.memory[node]!++ === 0) this.memorySinceMs[node] = nowMs;
    return () => {
      this.memory[node]!--;
    };
  }
}

/** One simulated host (a HostProbe); the twin tells it how much work its node did. */
export class SimHost implements HostProbe {
  private work = 0;
  private lastMs: number;
  private readonly baseCpu: number;
  private readonly baseMemory: number;
  private memoryDrift = 0;

  constructor(
    private readonly node: number,
    private readonly faults: HostFaults,
    private readonly rng: Prng,
    startMs: number,
  ) {
    this.lastMs = startMs;
    this.baseCpu = rng.uniform(0.02, 0.08);
    this.baseMemory = rng.uniform(0.25, 0.55);
  }

  /** The node sent or received `packets` more packets. */
  addWork(packets: number): void {
    this.work += packets;
  }

  /** CPU over the time since the last sample, and memory now. */
  sample(nowMs: number): HostSample {
    const elapsedS = Math.max(nowMs - this.lastMs, 1) / 1000;
    const load = Math.min(1, this.work / elapsedS / hostCapacityPps);
    this.work = 0;
    this.lastMs = nowMs;
    this.memoryDrift = clamp(this.memoryDrift + this.rng.normal(0, 0.004), -0.08, 0.08);
    const healthyCpu = clamp(this.baseCpu + 0.6 * load + this.rng.normal(0, 0.01), 0, 1);
    const healthyMemory = clamp(this.baseMemory + this.memoryDrift + this.rng.normal(0, 0.003), 0, 1);
    const cpu = this.faults.cpu[this.node]! > 0 ? this.exhausted() : healthyCpu;
    let memory = healthyMemory;
    if (this.faults.memory[this.node]! > 0) {
      const progress = Math.min(1, (nowMs - this.faults.memorySinceMs[this.node]!) / memoryRampMs);
      memory = healthyMemory + (this.exhausted() - healthyMemory) * progress;
    }
    return { cpu, memory };
  }

  private exhausted(): number {
    return this.rng.uniform(exhaustedShareMin + 0.01, 1);
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
