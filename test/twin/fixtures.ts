import type { SeedResult } from '../../src/twin/report.js';

/** A seed result with small, distinct numbers; `over` replaces fields. */
export function seedResult(over: Partial<SeedResult> = {}): SeedResult {
  return {
    seed: 1,
    recoveryMs: [],
    recoveryFloorMs: [],
    outageMs: [],
    detectMs: [],
    healRecoveryMs: [],
    steadySent: 0,
    steadyDelivered: 0,
    faultSent: 0,
    faultDelivered: 0,
    transientLoops: 0,
    affectedFlows: 0,
    partitionedFlows: 0,
    unrecoveredFlows: 0,
    floorClamped: 0,
    controlBytes: 0,
    measuredS: 10,
    nodes: 4,
    links: 5,
    alternates: { withAlternate: 0, reachable: 0 },
    oracle: null,
    faults: [],
    timeline: [],
    events: 0,
    wallMs: 0,
    topology: { positions: null, edges: [] },
    ...over,
  };
}
