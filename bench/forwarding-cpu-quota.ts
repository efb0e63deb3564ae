import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A CPU quota for the process in the middle of the forwarding benchmark: a cgroup of its own
 * with the CFS bandwidth limit `quotaUs` per `periodUs`, so that the source and the sink can
 * offer it more datagrams than it can forward. A middle that keeps up with its offered load wakes
 * for nearly every datagram and pays the wake-up each time; one that always has datagrams waiting
 * reads several per wake-up, but under a quota it is also stopped every period and resumes with
 * cold caches. The benchmark reports the rate per CPU-second both ways; with the limit, both
 * middles (ours and the plain relay) are saturated the same way.
 *
 * cgroup v1 (`/sys/fs/cgroup/cpu`, cpu.cfs_quota_us) and v2 (a `cpu` controller enabled at
 * `/sys/fs/cgroup`, cpu.max) are both handled; anything else (no root, no controller) gives a
 * reason instead of a quota, and the benchmark reports no saturated figures.
 */
export interface CpuQuota {
  /** The CPU share the quota allows (quota / period). */
  readonly share: number;
  readonly periodUs: number;
  readonly quotaUs: number;
  /** Which interface set it. */
  readonly kind: 'cgroup-v1' | 'cgroup-v2';
  /** Moves process `pid` (all its threads) under the quota. */
  add(pid: number): void;
  /** Removes the cgroup (its processes must have exited). */
  remove(): void;
}

const v1Root = '/sys/fs/cgroup/cpu';
const v2Root = '/sys/fs/cgroup';

/** A fresh cgroup limited to `quotaUs` of CPU per `periodUs`, or why there is none. */
export function createCpuQuota(name: string, periodUs: number, quotaUs: number): CpuQuota | { readonly unavailable: string } {
  if (!Number.isInteger(periodUs) || !Number.isInteger(quotaUs) || quotaUs < 1000 || periodUs < quotaUs) {
    throw new RangeError(`createCpuQuota: expected integer microseconds with 1000 <= quota <= period, got quota ${quotaUs} and period ${periodUs}`);
  }
  const attempts: string[] = [];
  for (const make of [v1Quota, v2Quota]) {
    try {
      const quota = make(name, periodUs, quotaUs);
      if (quota !== null) return quota;
    } catch (error) {
      attempts.push((error as Error).message);
    }
  }
  return { unavailable: attempts.length === 0 ? 'no cgroup cpu controller (neither /sys/fs/cgroup/cpu nor a v2 cpu controller)' : attempts.join('; ') };
}

function v1Quota(name: string, periodUs: number, quotaUs: number): CpuQuota | null {
  if (!existsSync(join(v1Root, 'cpu.cfs_quota_us'))) return null;
  const dir = join(v1Root, name);
  mkdirSync(dir);
  // The period first: a quota is checked against the period in force.
  writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
  writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  return quotaIn(dir, 'cgroup-v1', periodUs, quotaUs);
}

function v2Quota(name: string, periodUs: number, quotaUs: number): CpuQuota | null {
  const controllers = join(v2Root, 'cgroup.subtree_control');
  if (!existsSync(controllers) || !readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) return null;
  const dir = join(v2Root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
  return quotaIn(dir, 'cgroup-v2', periodUs, quotaUs);
}

function quotaIn(dir: string, kind: CpuQuota['kind'], periodUs: number, quotaUs: number): CpuQuota {
  return {
    share: quotaUs / periodUs,
    periodUs,
    quotaUs,
    kind,
    add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
    remove: () => rmdirSync(dir),
  };
}
