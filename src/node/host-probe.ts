/**
 * The daemon's host probe: CPU and memory from /proc (Linux). CPU is the share of one core the
 * daemon's process used between two samples (utime + stime of /proc/self/stat over wall time):
 * the routing core runs on one event loop, so one busy core is what starves it, whatever the
 * machine's core count. Memory is the host's, 1 - MemAvailable / MemTotal (/proc/meminfo),
 * because a host out of memory hurts the node whoever uses it.
 */

import { readFileSync } from 'node:fs';
import type { HostProbe, HostSample } from '../telemetry/host.js';
import { TelemetryError } from '../telemetry/errors.js';

/** Clock ticks per second of /proc/self/stat's utime and stime (USER_HZ; 100 on every Linux architecture Node runs on). */
export const clockTicksPerSDefault = 100;
/** Longest /proc text read; both files are a few hundred bytes to a few kilobytes. */
export const procTextCharsMax = 65_536;

/** The fields of /proc/self/stat the probe uses. */
export interface ProcStat {
  /** User-mode CPU time, in clock ticks. */
  readonly utimeTicks: number;
  /** Kernel-mode CPU time, in clock ticks. */
  readonly stimeTicks: number;
}

/** The fields of /proc/meminfo the probe uses. */
export interface MemInfo {
  readonly totalKb: number;
  readonly availableKb: number;
}

/**
 * Parses /proc/self/stat: "pid (comm) state ppid ...", where comm may hold spaces and
 * parentheses, so fields are counted from the last ")". utime and stime are fields 14 and 15.
 */
export function parseProcStat(text: string): ProcStat {
  const fail = (what: string): never => {
    throw new TelemetryError('ERR_HOST_PROC_STAT', `/proc/self/stat: ${what}`);
  };
  if (text.length > procTextCharsMax) fail(`expected at most ${procTextCharsMax} characters, got ${text.length}`);
  const close = text.lastIndexOf(')');
  if (!/^\d+ \(/.test(text) || close < 0) fail(`expected "pid (comm) ...", got ${JSON.stringify(text.slice(0, 40))}`);
  // After ") " come field 3 (state) onwards; utime is field 14, so index 11 here.
  const rest = text.slice(close + 1).trim().split(/\s+/);
  if (rest.length < 13) fail(`expected at least 15 fields, got ${rest.length + 2}`);
  const ticks = (index: number, name: string): number => {
    const field = rest[index]!;
    if (!/^\d+$/.test(field)) fail(`${name} (field ${index + 3}): expected a count of clock ticks, got ${JSON.stringify(field)}`);
    return Number(field);
  };
  return { utimeTicks: ticks(11, 'utime'), stimeTicks: ticks(12, 'stime') };
}

/** Parses /proc/meminfo for MemTotal and MemAvailable (kB). */
export function parseMemInfo(text: string): MemInfo {
  const fail = (what: string): never => {
    throw new TelemetryError('ERR_HOST_MEMINFO', `/proc/meminfo: ${what}`);
  };
  if (text.length > procTextCharsMax) fail(`expected at most ${procTextCharsMax} characters, got ${text.length}`);
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s*(\\S+)\\s*kB\\s*$`, 'm').exec(text);
    if (match === null) return fail(`expected a line "${name}: <n> kB"`);
    if (!/^\d+$/.test(match[1]!)) fail(`${name}: expected a number of kB, got ${JSON.stringify(match[1])}`);
    return Number(match[1]);
  };
  const totalKb = field('MemTotal');
  const availableKb = field('MemAvailable');
  if (totalKb === 0 || availableKb > totalKb) fail(`expected 0 <= MemAvailable <= MemTotal > 0, got ${availableKb} of ${totalKb} kB`);
  return { totalKb, availableKb };
}

/** Where the probe reads its text from (tests pass fixtures). */
export type ProcReader = (path: '/proc/self/stat' | '/proc/meminfo') => string;

const readProc: ProcReader = (path) => readFileSync(path, 'latin1');

/** A HostProbe over /proc; the first sample covers the time since the probe was made. */
export class ProcHostProbe implements HostProbe {
  private lastMs: number;
  private lastTicks: number;
  private readonly read: ProcReader;
  private readonly ticksPerS: number;

  /** A probe whose CPU baseline is read now, at `nowMs` (a monotonic clock in ms). */
  constructor(nowMs: number, options: { readonly read?: ProcReader; readonly clockTicksPerS?: number } = {}) {
    this.read = options.read ?? readProc;
    this.ticksPerS = options.clockTicksPerS ?? clockTicksPerSDefault;
    if (!(this.ticksPerS > 0)) throw new RangeError(`ProcHostProbe: expected clockTicksPerS > 0, got ${this.ticksPerS}`);
    this.lastMs = nowMs;
    this.lastTicks = this.cpuTicks();
  }

  /** CPU share of one core since the previous sample, and the host's memory in use. */
  sample(nowMs: number): HostSample {
    const ticks = this.cpuTicks();
    const elapsedS = (nowMs - this.lastMs) / 1000;
    const cpuS = (ticks - this.lastTicks) / this.ticksPerS;
    this.lastMs = nowMs;
    this.lastTicks = ticks;
    const memory = parseMemInfo(this.read('/proc/meminfo'));
    return {
      cpu: elapsedS > 0 ? Math.min(1, Math.max(0, cpuS / elapsedS)) : 0,
      memory: 1 - memory.availableKb / memory.totalKb,
    };
  }

  private cpuTicks(): number {
    const stat = parseProcStat(this.read('/proc/self/stat'));
    return stat.utimeTicks + stat.stimeTicks;
  }
}
