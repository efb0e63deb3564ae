import { pool, twinInChild } from './common.js';

/** Partition of a 300-node RGG into halves for 15 s, then heal (3 seeds), fast profile and RFC 8966 timers. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const [fast, rfc] = await pool(
    ['fast', 'rfc8966'].map((profile) => () => twinInChild(['scenarios/partition-halves-heal.yaml', '--profile', profile])),
    2,
  );
  const figures = {
    healRecoveryP95Ms: fast!.healRecoveryMs.p95,
    healRecoveryMaxMs: fast!.healRecoveryMs.max,
    healRecoverySamples: fast!.healRecoveryMs.count,
    partitionedFlows: fast!.partitionedFlows,
    transientLoops: fast!.transientLoops + rfc!.transientLoops,
    healRecoveryP95MsRfc8966: rfc!.healRecoveryMs.p95,
  };
  const details = [fast!, rfc!].map(({ recoverySamplesMs, timeline, topology, ...summary }) => summary);
  return { figures, details };
}
