import { summarise, ratio, type Summary } from './stats.js';
import type { FaultRecord } from './faults.js';
import type { SelfHealingSummary } from './self-healing.js';

/** Everything one seed of a scenario measured (raw samples kept for aggregation across seeds). */
export interface SeedResult {
  readonly seed: number;
  readonly recoveryMs: readonly number[];
  /** One floor per recovery sample, in the same order. */
  readonly recoveryFloorMs: readonly number[];
  readonly outageMs: readonly number[];
  readonly detectMs: readonly number[];
  readonly healRecoveryMs: readonly number[];
  readonly steadySent: number;
  readonly steadyDelivered: number;
  readonly faultSent: number;
  readonly faultDelivered: number;
  readonly transientLoops: number;
  readonly affectedFlows: number;
  readonly partitionedFlows: number;
  readonly unrecoveredFlows: number;
  readonly floorClamped: number;
  readonly controlBytes: number;
  readonly measuredS: number;
  readonly nodes: number;
  readonly links: number;
  readonly alternates: { readonly withAlternate: number; readonly reachable: number };
  readonly oracle: { readonly pairs: number; readonly missing: number; readonly mismatched: number; readonly stretchMean: number | null } | null;
  readonly faults: readonly FaultRecord[];
  readonly timeline: readonly { readonly tS: number; readonly sent: number; readonly delivered: number }[];
  readonly events: number;
  readonly wallMs: number;
  readonly topology: { readonly positions: readonly (readonly [number, number])[] | null; readonly edges: readonly (readonly [number, number])[] };
  /** Secure link layer counters, when the scenario enables it. */
  readonly security?: SecuritySummary;
  /** What the nodes' MAPE-K loops did, when the scenario enables them. */
  readonly selfHealing?: SelfHealingSummary;
}

/** What the secure link layer did in a run (summed over nodes; links counted once). */
export interface SecuritySummary {
  /** Links with a session at both ends at the end of the run, and all links. */
  readonly securedLinks: number;
  readonly links: number;
  readonly handshakesCompleted: number;
  readonly handshakesRefused: number;
  readonly credentialsRefused: number;
  readonly framesRefused: number;
  /** Sessions torn down because the peer's certificate stopped verifying. */
  readonly peersDropped: number;
  /** Node SVIDs renewed during the run. */
  readonly svidRenewals: number;
  /** Nodes that ended the run without a single session (sorted indexes). */
  readonly isolatedNodes: readonly number[];
}

/** The machine-readable report of `twin run` (the contract of issue 2, section 3a). */
export interface TwinReport {
  readonly scenario: string;
  readonly seed: number;
  readonly seeds: readonly number[];
  readonly profile: string;
  readonly nodes: number;
  readonly links: number;
  readonly recoveryMs: Summary;
  /** Per recovery sample: detection by the upstream node plus the least propagation delay left from there. */
  readonly recoveryFloorMs: Summary;
  /** Per recovery sample: recovery minus its floor, the part the routing protocol is responsible for. */
  readonly recoveryAboveFloorMs: Summary;
  readonly outageMs: Summary;
  readonly detectMs: Summary;
  readonly healRecoveryMs: Summary;
  readonly deliveryRatio: { readonly steady: number | null; readonly duringFault: number | null };
  readonly transientLoops: number;
  readonly affectedFlows: number;
  readonly partitionedFlows: number;
  readonly unrecoveredFlows: number;
  /** Recovery samples whose floor exceeded the sample and was cut down to it. */
  readonly floorClamped: number;
  readonly overheadBytesPerNodeS: number | null;
  readonly overheadBytesPerLinkS: number | null;
  readonly alternateCoverage: number | null;
  readonly oracle: { readonly pairs: number; readonly missing: number; readonly mismatched: number; readonly stretchMean: number | null } | null;
  readonly faults: readonly FaultRecord[];
  /** Every recovery sample, ascending, for CDF plots. */
  readonly recoverySamplesMs: readonly number[];
  readonly timeline: readonly { readonly tS: number; readonly sent: number; readonly delivered: number }[];
  readonly events: number;
  readonly wallMs: number;
  readonly eventsPerS: number;
  /** The first seed's topology, for drawing: node positions (null when the graph has none) and edges. */
  readonly topology: SeedResult['topology'];
  /** Secure link layer counters summed over seeds (isolated nodes of the first seed); absent when the layer is off. */
  readonly security?: SecuritySummary;
  /** What the nodes' MAPE-K loops did, summed over seeds (quarantined nodes per seed, as `seed:index`); absent when off. */
  readonly selfHealing?: SelfHealingTotals;
}

/** SelfHealingSummary summed over seeds. */
export interface SelfHealingTotals extends Omit<SelfHealingSummary, 'quarantinedNodes'> {
  readonly quarantinedNodes: readonly string[];
}

/** Combines the results of one or more seeds into one report; samples are pooled, counts summed. */
export function buildReport(scenario: string, profile: string, results: readonly SeedResult[], wallMs: number): TwinReport {
  const first = results[0]!;
  const pool = (pick: (r: SeedResult) => readonly number[]): number[] => results.flatMap(pick);
  const sum = (pick: (r: SeedResult) => number): number => results.reduce((total, r) => total + pick(r), 0);
  const recovery = pool((r) => r.recoveryMs);
  const aboveFloor = pool(recoveryAboveFloorMs);
  const events = sum((r) => r.events);
  const nodeSeconds = sum((r) => r.nodes * r.measuredS);
  const linkSeconds = sum((r) => r.links * r.measuredS);
  const oracles = results.map((r) => r.oracle).filter((o) => o !== null);
  return {
    scenario,
    seed: first.seed,
    seeds: results.map((r) => r.seed),
    profile,
    nodes: first.nodes,
    links: first.links,
    recoveryMs: summarise(recovery),
    recoveryFloorMs: summarise(pool((r) => r.recoveryFloorMs)),
    recoveryAboveFloorMs: summarise(aboveFloor),
    outageMs: summarise(pool((r) => r.outageMs)),
    detectMs: summarise(pool((r) => r.detectMs)),
    healRecoveryMs: summarise(pool((r) => r.healRecoveryMs)),
    deliveryRatio: {
      steady: ratio(sum((r) => r.steadyDelivered), sum((r) => r.steadySent)),
      duringFault: ratio(sum((r) => r.faultDelivered), sum((r) => r.faultSent)),
    },
    transientLoops: sum((r) => r.transientLoops),
    affectedFlows: sum((r) => r.affectedFlows),
    partitionedFlows: sum((r) => r.partitionedFlows),
    unrecoveredFlows: sum((r) => r.unrecoveredFlows),
    floorClamped: sum((r) => r.floorClamped),
    overheadBytesPerNodeS: nodeSeconds === 0 ? null : Math.round(sum((r) => r.controlBytes) / nodeSeconds),
    overheadBytesPerLinkS: linkSeconds === 0 ? null : Math.round(sum((r) => r.controlBytes) / linkSeconds),
    alternateCoverage: ratio(sum((r) => r.alternates.withAlternate), sum((r) => r.alternates.reachable)),
    oracle:
      oracles.length === 0
        ? null
        : {
            pairs: oracles.reduce((t, o) => t + o.pairs, 0),
            missing: oracles.reduce((t, o) => t + o.missing, 0),
            mismatched: oracles.reduce((t, o) => t + o.mismatched, 0),
            stretchMean: pooledStretch(oracles),
          },
    faults: results.flatMap((r) => r.faults.map((f) => ({ ...f, seed: r.seed }))),
    recoverySamplesMs: [...recovery].sort((a, b) => a - b).map((v) => Math.round(v * 10) / 10),
    timeline: first.timeline,
    events,
    wallMs: Math.round(wallMs),
    eventsPerS: wallMs === 0 ? 0 : Math.round(events / (wallMs / 1000)),
    topology: first.topology,
    ...(first.security === undefined ? {} : { security: sumSecurity(results) }),
    ...(first.selfHealing === undefined ? {} : { selfHealing: sumSelfHealing(results) }),
  };
}

function sumSelfHealing(results: readonly SeedResult[]): SelfHealingTotals {
  const all = results.flatMap((r) => (r.selfHealing === undefined ? [] : [{ seed: r.seed, summary: r.selfHealing }]));
  const sum = (pick: (s: SelfHealingSummary) => number): number => all.reduce((total, entry) => total + pick(entry.summary), 0);
  return {
    windows: sum((s) => s.windows),
    incidentsOpened: sum((s) => s.incidentsOpened),
    actionsStarted: sum((s) => s.actionsStarted),
    actionsSucceeded: sum((s) => s.actionsSucceeded),
    actionsFailed: sum((s) => s.actionsFailed),
    actionsRefused: sum((s) => s.actionsRefused),
    quarantinedNodes: all.flatMap((entry) => entry.summary.quarantinedNodes.map((node) => `${entry.seed}:${node}`)),
  };
}

function sumSecurity(results: readonly SeedResult[]): SecuritySummary {
  const all = results.flatMap((r) => (r.security === undefined ? [] : [r.security]));
  const sum = (pick: (s: SecuritySummary) => number): number => all.reduce((total, s) => total + pick(s), 0);
  return {
    securedLinks: sum((s) => s.securedLinks),
    links: sum((s) => s.links),
    handshakesCompleted: sum((s) => s.handshakesCompleted),
    handshakesRefused: sum((s) => s.handshakesRefused),
    credentialsRefused: sum((s) => s.credentialsRefused),
    framesRefused: sum((s) => s.framesRefused),
    peersDropped: sum((s) => s.peersDropped),
    svidRenewals: sum((s) => s.svidRenewals),
    isolatedNodes: all[0]!.isolatedNodes,
  };
}

/** The report as canonical JSON text; `deterministic` zeroes the two wall-clock fields so runs compare byte for byte. */
export function reportJson(report: unknown, deterministic: boolean): string {
  const replacer = (key: string, value: unknown): unknown => (deterministic && (key === 'wallMs' || key === 'eventsPerS') ? 0 : value);
  return `${JSON.stringify(report, replacer, 2)}\n`;
}

/** Each recovery sample of `result` less its floor. */
function recoveryAboveFloorMs(result: SeedResult): number[] {
  if (result.recoveryFloorMs.length !== result.recoveryMs.length) {
    throw new RangeError(`buildReport: seed ${result.seed} has ${result.recoveryMs.length} recovery samples but ${result.recoveryFloorMs.length} floors`);
  }
  return result.recoveryMs.map((recoveryMs, i) => recoveryMs - result.recoveryFloorMs[i]!);
}

/** Mean stretch over all seeds, weighted by the pairs each seed routed. */
function pooledStretch(oracles: readonly { pairs: number; missing: number; stretchMean: number | null }[]): number | null {
  let weighted = 0;
  let routed = 0;
  for (const o of oracles) {
    if (o.stretchMean === null) continue;
    weighted += o.stretchMean * (o.pairs - o.missing);
    routed += o.pairs - o.missing;
  }
  return routed === 0 ? null : Math.round((weighted / routed) * 1e4) / 1e4;
}
