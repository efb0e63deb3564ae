import type { TwinReport } from '../src/twin/report.js';
import { percentileOf, pool, r1, twinInChild } from './common.js';

const scenarios = ['scenarios/rgg-1000-link-failures.yaml', 'scenarios/rgg-1000-node-crashes.yaml'] as const;
const profileNames = ['fast', 'rfc8966'] as const;

/** Sums a count over reports. */
const total = (reports: readonly TwinReport[], pick: (r: TwinReport) => number): number => reports.reduce((t, r) => t + pick(r), 0);

/**
 * Recovery of the 1000-node RGG from 50 single link failures and 50 single node crashes
 * (2 seeds each), under the fast profile and, in the same run, under Babel's default timers.
 */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const jobs = profileNames.flatMap((profile) => scenarios.map((scenario) => ({ profile, scenario })));
  const reports = await pool(
    jobs.map((job) => () => twinInChild([job.scenario, '--profile', job.profile])),
    2,
  );
  const byProfile = (profile: string): TwinReport[] => reports.filter((r) => r.profile === profile);
  const samples = (profile: string, pick: (r: TwinReport) => readonly number[]): number[] => byProfile(profile).flatMap(pick);
  const fast = byProfile('fast');
  const recoveryFast = samples('fast', (r) => r.recoverySamplesMs);
  const recoveryRfc = samples('rfc8966', (r) => r.recoverySamplesMs);
  const p95Fast = percentileOf(recoveryFast, 95);
  const p95Rfc = percentileOf(recoveryRfc, 95);
  const steadySent = fast.map((r) => r.deliveryRatio.steady ?? 0);
  const figures = {
    recoveryP95MsFast: r1(p95Fast),
    recoveryMaxMsFast: r1(percentileOf(recoveryFast, 100)),
    recoveryP50MsFast: r1(percentileOf(recoveryFast, 50)),
    recoverySamplesFast: recoveryFast.length,
    // Reports carry only summaries of these, so like outage and detection: the worst run's p95.
    recoveryFloorP95MsFast: r1(Math.max(...fast.map((r) => r.recoveryFloorMs.p95 ?? 0))),
    recoveryAboveFloorP95MsFast: r1(Math.max(...fast.map((r) => r.recoveryAboveFloorMs.p95 ?? 0))),
    recoveryP95MsRfc8966: r1(p95Rfc),
    recoverySamplesRfc8966: recoveryRfc.length,
    recoveryRatio: p95Fast === null || p95Rfc === null ? null : r1(p95Rfc / p95Fast),
    outageP95MsFast: r1(Math.max(...fast.map((r) => r.outageMs.p95 ?? 0))),
    detectP95MsFast: r1(Math.max(...fast.map((r) => r.detectMs.p95 ?? 0))),
    transientLoops: total(reports, (r) => r.transientLoops),
    steadyDeliveryRatio: Math.min(...steadySent),
    unrecoveredFlowsFast: total(fast, (r) => r.unrecoveredFlows),
    overheadBytesPerNodeS: Math.round(total(fast, (r) => r.overheadBytesPerNodeS ?? 0) / fast.length),
    overheadBytesPerLinkS: Math.round(total(fast, (r) => r.overheadBytesPerLinkS ?? 0) / fast.length),
    alternateCoverage: Math.min(...fast.map((r) => r.alternateCoverage ?? 0)),
  };
  const details = reports.map(({ recoverySamplesMs, timeline, topology, faults, ...summary }) => ({ ...summary, faultCount: faults.length }));
  return { figures, details };
}
