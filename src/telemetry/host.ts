/**
 * What a node learns about the machine it runs on. The daemon reads /proc
 * (`src/node/host-probe.ts`); the twin simulates a host per node (`src/twin/sim-host.ts`).
 */

/** CPU and memory use, each as a share of 1. */
export interface HostSample {
  /** Share of one CPU core the node's process used since the previous sample. */
  readonly cpu: number;
  /** Share of the host's memory in use. */
  readonly memory: number;
}

/** A source of host samples; `sample(nowMs)` covers the time since the previous call. */
export interface HostProbe {
  sample(nowMs: number): HostSample;
}
