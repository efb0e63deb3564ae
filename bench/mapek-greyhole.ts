import { rampStepMs } from '../src/twin/faults.js';
import { attachSelfHealing, assembleSeed } from '../src/twin/runner.js';
import { deliveryBins, deliveryFrom, recoveredAfterMs, type DeliveryBin } from '../src/twin/flow-delivery.js';
import type { Flow } from '../src/twin/flows.js';
import type { TwinReport } from '../src/twin/report.js';
import { loadScenario, type Scenario } from '../src/twin/scenario.js';
import { percentileOf, r1, twinInChild } from './common.js';

const greyHoleScenario = 'scenarios/mapek-greyhole.yaml';
const churnScenario = 'scenarios/mapek-churn-hour.yaml';
const degradationScenario = 'scenarios/mapek-degradation.yaml';
/** Traffic has left a link when its data packets per second fell below this share of the 10 s before the fault. */
const movedShare = 0.1;
const baselineBins = 10;
/** Delivery the flows through a grey hole must be back to, and how soon after the fault's onset. */
const recoveredRatio = 0.99;
const recoveryBarMs = 10_000;
const binMs = 1000;

/** What one grey hole did to the flows that ran through it when it started. */
interface GreyHoleOutcome {
  readonly seed: number;
  readonly mapek: boolean;
  readonly node: number;
  readonly dropShare: number;
  readonly startMs: number;
  readonly affectedFlows: number;
  /**
   * Affected flows with no path around the grey hole (one end's only neighbour is the grey hole,
   * or it is a cut vertex between them): no routing action can save them, so they are reported
   * here and left out of the delivery figures.
   */
  readonly flowsWithoutDetour: number;
  /** Delivery of the other affected flows over the whole fault, and from 10 s after its onset to its end. */
  readonly deliveryDuringFault: number | null;
  readonly deliveryAfter10s: number | null;
  /** Seconds from the onset until every later second delivered >= 99 %; null if never before the fault ended. */
  readonly secondsToRecover: number | null;
  readonly sent: number;
  readonly deliveredAfter10s: number;
  readonly sentAfter10s: number;
  readonly bins: readonly DeliveryBin[];
}

/**
 * A grey hole (50 %, 75 %, 100 % of the forwarded data dropped, control traffic answered) on
 * three on-path nodes of a 200-node mesh in turn, three seeds, each run with every node's MAPE-K
 * loop and again without: delivery of the flows that crossed the grey hole at its onset, and
 * when it was back at >= 99 %. In the same bench run, in a child process: one hour of churn
 * without faults on a 100-node mesh with the loops on, where every quarantine is a false one.
 */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const churn = twinInChild([churnScenario]);
  const scenario = loadScenario(greyHoleScenario);
  const outcomes: GreyHoleOutcome[] = [];
  for (let i = 0; i < scenario.seeds; i++) {
    for (const mapek of [true, false]) {
      const variant: Scenario = { ...scenario, selfHealing: { ...scenario.selfHealing, enabled: mapek } };
      outcomes.push(...greyHoleTrial(variant, scenario.seed + i));
      process.stderr.write(`mapek-greyhole: seed ${scenario.seed + i} ${mapek ? 'with' : 'without'} MAPE-K done\n`);
    }
  }
  const degradation = loadScenario(degradationScenario);
  const degradations: DegradationOutcome[] = [];
  for (let i = 0; i < degradation.seeds; i++) {
    for (const mapek of [true, false]) {
      degradations.push(...degradationTrial({ ...degradation, selfHealing: { ...degradation.selfHealing, enabled: mapek } }, degradation.seed + i));
      process.stderr.write(`mapek-greyhole: degradation seed ${degradation.seed + i} ${mapek ? 'with' : 'without'} MAPE-K done\n`);
    }
  }
  const churnReport = await churn;
  return {
    figures: { ...figuresOf(outcomes, churnReport), ...degradationFigures(degradations) },
    details: { greyHoles: outcomes, degradations, churnHour: churnDetails(churnReport) },
  };
}

/** What one slow degradation did: when the traffic left the link, and the link's loss then. */
interface DegradationOutcome {
  readonly seed: number;
  readonly mapek: boolean;
  readonly link: readonly [number, number];
  readonly startMs: number;
  /** Data packets per second on the link (both directions) in the 10 s before the onset. */
  readonly baselinePps: number;
  /** Seconds from the onset to the first second with less than 10 % of that; null if never. */
  readonly movedAfterS: number | null;
  /** The loss the ramp had reached then (null if the traffic never left). */
  readonly lossWhenMoved: number | null;
  readonly ppsPerSecond: readonly number[];
}

function degradationFigures(outcomes: readonly DegradationOutcome[]): Record<string, number | null> {
  const losses = (mapek: boolean): (number | null)[] => outcomes.filter((o) => o.mapek === mapek && o.baselinePps > 0).map((o) => o.lossWhenMoved);
  const worst = (values: (number | null)[]): number | null => (values.length === 0 || values.some((v) => v === null) ? null : Math.max(...(values as number[])));
  const withMapek = losses(true);
  return {
    degradationLossWhenMovedWithMapek: worst(withMapek),
    degradationLossWhenMovedWithoutMapek: worst(losses(false)),
    degradationsMovedBelow5Percent: withMapek.filter((v) => v !== null && v < 0.05).length,
    degradations: withMapek.length,
  };
}

/** One run of the degradation scenario with `seed`: the outcome of each degraded link. */
function degradationTrial(scenario: Scenario, seed: number): DegradationOutcome[] {
  const run = assembleSeed(scenario, seed);
  attachSelfHealing(scenario, run);
  const bins = Math.ceil(run.endMs / binMs);
  const perEdge = new Float64Array(run.network.edges.length * bins);
  run.network.addObserver({
    onTransmit(_from, edge, transmit) {
      if (transmit.data !== undefined) perEdge[edge.index * bins + Math.floor(run.network.nowMs / binMs)]!++;
    },
  });
  run.network.runUntil(run.endMs);
  return run.faults.labels.map((label) => {
    const edge = label.edges[0]!;
    const fault = scenario.faults.find((f) => f.kind === 'slowDegradation' && f.atS * 1000 === label.startMs);
    if (fault?.kind !== 'slowDegradation') throw new Error(`mapek-greyhole: no slowDegradation fault starts at ${label.startMs} ms`);
    const onsetBin = Math.floor(label.startMs / binMs);
    const endBin = Math.min(bins, Math.floor(Math.min(label.endMs, run.flowsEndMs) / binMs));
    const pps = Array.from(perEdge.subarray(edge * bins + onsetBin - baselineBins, edge * bins + endBin));
    const baselinePps = pps.slice(0, baselineBins).reduce((t, v) => t + v, 0) / baselineBins;
    const movedAt = pps.findIndex((v, i) => i >= baselineBins && v < movedShare * baselinePps);
    const movedAfterS = movedAt < 0 ? null : movedAt - baselineBins;
    const simEdge = run.network.edges[edge]!;
    return {
      seed,
      mapek: scenario.selfHealing.enabled,
      link: [simEdge.a, simEdge.b] as const,
      startMs: label.startMs,
      baselinePps,
      movedAfterS,
      // The ramp moves every 500 ms; the loss at the start of the second the traffic was gone in, plus one step of slack.
      lossWhenMoved: movedAfterS === null ? null : Math.round(fault.maxLoss * Math.min(1, (movedAfterS * 1000 + rampStepMs) / (fault.rampS * 1000)) * 1e4) / 1e4,
      ppsPerSecond: pps,
    };
  });
}

function figuresOf(outcomes: readonly GreyHoleOutcome[], churnReport: TwinReport): Record<string, number | null> {
  const pooled = (mapek: boolean): number | null => {
    const runs = outcomes.filter((o) => o.mapek === mapek);
    const sent = runs.reduce((t, o) => t + o.sentAfter10s, 0);
    return sent === 0 ? null : Math.round((runs.reduce((t, o) => t + o.deliveredAfter10s, 0) / sent) * 1e4) / 1e4;
  };
  // A grey hole all of whose flows had no detour has nothing to measure.
  const withMapek = outcomes.filter((o) => o.mapek && o.affectedFlows > 0);
  const recovered = withMapek.map((o) => o.secondsToRecover);
  const allRecovered = recovered.every((s) => s !== null);
  return {
    deliveryWithMapek: pooled(true),
    deliveryWithoutMapek: pooled(false),
    // The worst grey hole: null when some grey hole never got back to 99 % while it lasted.
    secondsToRecover: allRecovered ? r1(Math.max(...(recovered as number[]))) : null,
    secondsToRecoverMedian: allRecovered ? r1(percentileOf(recovered as number[], 50)) : null,
    greyHoles: outcomes.filter((o) => o.mapek).length,
    greyHolesMeasured: withMapek.length,
    greyHolesRecoveredWithin10s: recovered.filter((s) => s !== null && s * 1000 <= recoveryBarMs).length,
    affectedFlows: withMapek.reduce((t, o) => t + o.affectedFlows, 0),
    flowsWithoutDetour: outcomes.filter((o) => o.mapek).reduce((t, o) => t + o.flowsWithoutDetour, 0),
    churnHourQuarantines: churnReport.selfHealing?.quarantinedNodes.length ?? null,
    churnHourActions: churnReport.selfHealing?.actionsStarted ?? null,
  };
}

function churnDetails(report: TwinReport): unknown {
  const { recoverySamplesMs, timeline, topology, faults, ...summary } = report;
  return { ...summary, churnEvents: faults.length };
}

/** One run of `scenario` with `seed`: the outcome of each of its grey holes. */
function greyHoleTrial(scenario: Scenario, seed: number): GreyHoleOutcome[] {
  const run = assembleSeed(scenario, seed);
  attachSelfHealing(scenario, run);
  // Which nodes every flow crossed just before each fault's onset (the fault picks an on-path node then).
  const pathsAt = new Map<number, (readonly number[])[]>();
  for (const fault of scenario.faults) {
    if (fault.kind !== 'greyHole') continue;
    const atMs = fault.atS * 1000;
    run.network.at(atMs - 1, () => pathsAt.set(atMs, run.flows.flows.map((flow) => run.flows.currentPath(flow).nodes)));
  }
  run.network.runUntil(run.endMs);
  return run.faults.labels.map((label) => {
    const node = label.nodes[0]!;
    const paths = pathsAt.get(label.startMs) ?? [];
    const through: Flow[] = run.flows.flows.filter((_flow, i) => paths[i]?.includes(node) === true);
    const affected = through.filter((flow) => connectedWithout(run.topology.nodeCount, run.topology.edges, node, flow.src, flow.dst));
    const endMs = Math.min(label.endMs, run.flowsEndMs);
    const bins = deliveryBins(affected, label.startMs, endMs, binMs);
    const after = bins.filter((bin) => bin.startMs >= label.startMs + recoveryBarMs);
    const recoveredMs = recoveredAfterMs(bins, recoveredRatio);
    const fault = scenario.faults.find((f) => f.kind === 'greyHole' && f.atS * 1000 === label.startMs);
    return {
      seed,
      mapek: scenario.selfHealing.enabled,
      node,
      dropShare: fault?.kind === 'greyHole' ? fault.dropShare : Number.NaN,
      startMs: label.startMs,
      affectedFlows: affected.length,
      flowsWithoutDetour: through.length - affected.length,
      deliveryDuringFault: round4(deliveryFrom(bins, label.startMs)),
      deliveryAfter10s: round4(deliveryFrom(bins, label.startMs + recoveryBarMs)),
      secondsToRecover: recoveredMs === null ? null : recoveredMs / 1000,
      sent: bins.reduce((t, b) => t + b.sent, 0),
      deliveredAfter10s: after.reduce((t, b) => t + b.delivered, 0),
      sentAfter10s: after.reduce((t, b) => t + b.sent, 0),
      bins,
    };
  });
}

/** Whether `from` reaches `to` in the graph without passing `removed` (breadth-first). */
function connectedWithout(nodeCount: number, edges: readonly (readonly [number, number])[], removed: number, from: number, to: number): boolean {
  const neighbours: number[][] = Array.from({ length: nodeCount }, () => []);
  for (const [a, b] of edges) {
    if (a === removed || b === removed) continue;
    neighbours[a]!.push(b);
    neighbours[b]!.push(a);
  }
  const seen = new Uint8Array(nodeCount);
  const queue = [from];
  seen[from] = 1;
  for (let at = 0; at < queue.length; at++) {
    const node = queue[at]!;
    if (node === to) return true;
    for (const next of neighbours[node]!) {
      if (seen[next] === 1) continue;
      seen[next] = 1;
      queue.push(next);
    }
  }
  return false;
}

function round4(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1e4) / 1e4;
}
