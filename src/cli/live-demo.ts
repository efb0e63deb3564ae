import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NeighbourInfo, RouteInfo } from '../api/backend.js';
import { LocalCluster } from '../node/cluster.js';
import { LiveTraffic, pathOf, type Flow, type FlowRecovery } from '../node/live-traffic.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import type { StopSignal } from './node.js';

/**
 * `x0tta6bl4 demo`, the main job: seven real node processes on loopback in a ring with chords,
 * enrolled with a CA started for the occasion; traffic through their APIs; a kill -9 of a
 * transit node and later a cut link; and a table of the recovery times the flows saw.
 */

/** Nodes of the demo mesh. */
export const demoNodes = 7;
/** A ring of seven with three chords. */
export const demoEdges: readonly (readonly [number, number])[] = [...Array.from({ length: demoNodes }, (_, i) => [i, (i + 1) % demoNodes] as const), [0, 3], [1, 5], [2, 6]];
/** Flows that cross a fault, at most (each sends flowRatePerS packets a second). */
export const demoFlowsMax = 4;
/** Traffic runs this long before the first fault, and after each. */
const settleMs = 2000;
const observeMs = 3000;

/** Options of the demo. */
export interface DemoOptions {
  /** argv prefix that runs this CLI (the node processes). */
  readonly command: readonly string[];
  /** Keep the mesh running after the table until the stop signal. */
  readonly keep: boolean;
  readonly json: string | null;
}

/** What the demo measured, for --json. */
export interface DemoReport {
  readonly nodes: readonly { index: number; nodeId: string; api: string; udpPort: number }[];
  readonly routesUpMs: number;
  readonly faults: readonly { fault: string; recoveries: readonly FlowRecovery[] }[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseDemo(argv: readonly string[], command: readonly string[]): DemoOptions {
  try {
    const { values } = parseArgs({ args: [...argv], options: { keep: { type: 'boolean' }, json: { type: 'string' } }, allowPositionals: false, strict: true });
    return { command, keep: values.keep === true, json: values.json ?? null };
  } catch (error) {
    throw new UsageError(`demo: ${(error as Error).message}`);
  }
}

/** The argv prefix that runs this very CLI again (same Node, same loader flags, same script). */
export function selfCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!];
}

/** `x0tta6bl4 demo [--keep] [--json FILE]`. */
export async function liveDemoCommand(argv: readonly string[], io: CliIo, signal: StopSignal, command: readonly string[] = selfCommand()): Promise<number> {
  const options = parseDemo(argv, command);
  const root = mkdtempSync(join(tmpdir(), 'x0tta6bl4-demo-'));
  io.stdout(`x0tta6bl4 live demo: ${demoNodes} node processes on 127.0.0.1, a ring with chords ${demoEdges.slice(demoNodes).map(([a, b]) => `${a}-${b}`).join(' ')}\n  state in ${root} (removed at the end)\n`);
  const cluster = await LocalCluster.create({ root, nodes: demoNodes, edges: demoEdges, command: options.command });
  const stopped = signal.promise.then((name) => name);
  try {
    const running = runDemo(cluster, io);
    // Once stopped, the cluster goes away under the demo's feet: its failure then is expected.
    running.catch(() => undefined);
    const report = await Promise.race([running, stopped]);
    if (typeof report === 'string') {
      io.stderr(`demo: stopped by ${report}; every node process killed and ${root} removed\n`);
      return 130;
    }
    printReport(report, io);
    if (options.json !== null) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    if (options.keep) {
      io.stdout('\nthe mesh keeps running: try `x0tta6bl4 status --api <api> --token-file <state>/api-token`; Ctrl-C stops it and removes the state\n');
      await stopped;
    }
    return 0;
  } finally {
    await cluster.close();
  }
}

async function runDemo(cluster: LocalCluster, io: CliIo): Promise<DemoReport> {
  for (let index = 0; index < demoNodes; index++) {
    const node = await cluster.start(index);
    io.stdout(`  node ${index}  ${node.nodeId}  udp 127.0.0.1:${node.udpPort}  api ${node.api}\n`);
  }
  const startedAtMs = performance.now();
  await waitForFullRoutes(cluster);
  const routesUpMs = performance.now() - startedAtMs;
  io.stdout(`all ${demoNodes * (demoNodes - 1)} routes up ${(routesUpMs / 1000).toFixed(1)} s after the last node started\n`);
  const faults = [await killTransitNode(cluster, io), await cutBusiestLink(cluster, io)];
  return { nodes: cluster.nodes.map((node) => ({ index: node.index, nodeId: node.nodeId, api: node.api, udpPort: node.udpPort })), routesUpMs, faults };
}

async function tables(cluster: LocalCluster, live: readonly number[]): Promise<RouteInfo[][]> {
  const all: RouteInfo[][] = cluster.nodes.map(() => []);
  await Promise.all(live.map(async (index) => (all[index] = await cluster.api<RouteInfo[]>(index, 'GET', '/v1/routes'))));
  return all;
}

async function waitForFullRoutes(cluster: LocalCluster): Promise<void> {
  const everyone = cluster.nodes.map((node) => node.index);
  for (let attempt = 0; attempt < 300; attempt++) {
    if ((await tables(cluster, everyone)).every((table) => table.length === demoNodes - 1)) return;
    await sleep(100);
  }
  throw new Error('the demo mesh did not converge within 30 s');
}

/** Ordered pairs of `endpoints` whose path (in `routeTables`) `crosses`, at most demoFlowsMax, one per source. */
function flowsCrossing(ids: readonly string[], routeTables: readonly (readonly RouteInfo[])[], live: readonly number[], crosses: (path: readonly number[]) => boolean): Flow[] {
  const flows: Flow[] = [];
  for (const src of live) {
    for (const dst of live) {
      const path = src === dst ? null : pathOf(routeTables, ids, src, dst);
      if (path !== null && crosses(path) && flows.length < demoFlowsMax && !flows.some((flow) => flow.src === src)) flows.push({ id: flows.length, src, dst });
    }
  }
  return flows;
}

/** Runs `flows`, applies `fault` after settleMs, observes, and returns what each flow saw. */
async function measure(cluster: LocalCluster, flows: readonly Flow[], fault: () => Promise<void>): Promise<FlowRecovery[]> {
  const traffic = new LiveTraffic(cluster, flows);
  await traffic.start();
  await sleep(settleMs);
  const faultAtMs = traffic.clock();
  await fault();
  await sleep(observeMs);
  traffic.close();
  return traffic.recoveries(flows, faultAtMs);
}

async function killTransitNode(cluster: LocalCluster, io: CliIo): Promise<{ fault: string; recoveries: FlowRecovery[] }> {
  const everyone = cluster.nodes.map((node) => node.index);
  const routeTables = await tables(cluster, everyone);
  const ids = cluster.nodes.map((node) => node.nodeId);
  const transitCount = everyone.map((candidate) => everyone.flatMap((src) => everyone.map((dst) => pathOf(routeTables, ids, src, dst))).filter((path) => path !== null && path.slice(1, -1).includes(candidate)).length);
  const victim = transitCount.indexOf(Math.max(...transitCount));
  const live = everyone.filter((index) => index !== victim);
  const flows = flowsCrossing(ids, routeTables, live, (path) => path.slice(1, -1).includes(victim));
  const fault = `kill -9 node ${victim} (${ids[victim]}), transit for ${transitCount[victim]} paths`;
  io.stdout(`${fault}: ${flows.length} flows through it at 100 packets/s each\n`);
  return { fault, recoveries: await measure(cluster, flows, () => cluster.kill(victim)) };
}

async function cutBusiestLink(cluster: LocalCluster, io: CliIo): Promise<{ fault: string; recoveries: FlowRecovery[] }> {
  const live = cluster.nodes.filter((node) => node.process !== null && node.process.exitCode === null && node.process.signalCode === null).map((node) => node.index);
  const routeTables = await tables(cluster, live);
  const ids = cluster.nodes.map((node) => node.nodeId);
  const uses = new Map<string, number>();
  for (const src of live) {
    for (const dst of live) {
      const path = src === dst ? null : pathOf(routeTables, ids, src, dst);
      for (let hop = 0; path !== null && hop + 1 < path.length; hop++) {
        const key = [path[hop]!, path[hop + 1]!].sort((x, y) => x - y).join('-');
        uses.set(key, (uses.get(key) ?? 0) + 1);
      }
    }
  }
  const [busiest] = [...uses.entries()].sort((x, y) => y[1] - x[1])[0]!;
  const [a, b] = busiest.split('-').map(Number) as [number, number];
  const flows = flowsCrossing(ids, routeTables, live, (path) => path.some((node, hop) => (node === a && path[hop + 1] === b) || (node === b && path[hop + 1] === a)));
  const neighbours = await cluster.api<NeighbourInfo[]>(a, 'GET', '/v1/neighbours');
  const link = neighbours.find((neighbour) => neighbour.peerNodeId === ids[b])!.link;
  const fault = `link ${a}-${b} cut (taken down at node ${a}), carried ${uses.get(busiest)} paths`;
  io.stdout(`${fault}: ${flows.length} flows over it\n`);
  return { fault, recoveries: await measure(cluster, flows, () => cluster.api(a, 'POST', `/v1/neighbours/${link}/down`).then(() => undefined)) };
}

function describe(values: readonly number[]): string {
  if (values.length === 0) return 'none recovered';
  const sorted = [...values].sort((x, y) => x - y);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return `p50 ${p50.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`;
}

function printReport(report: DemoReport, io: CliIo): void {
  io.stdout('\nrecovery on real sockets (fault to the first packet delivered that was sent after it):\n');
  for (const { fault, recoveries } of report.faults) {
    const recovered = recoveries.map((r) => r.recoveryMs).filter((ms): ms is number => ms !== null);
    io.stdout(`  ${fault}\n    ${recoveries.length} flows: ${describe(recovered)}; lost in the first second: ${recoveries.map((r) => r.lost).join(', ')} packets\n`);
    for (const { flow, recoveryMs } of recoveries) io.stdout(`      node ${flow.src} -> node ${flow.dst}: ${recoveryMs === null ? 'no packet arrived' : `${recoveryMs.toFixed(0)} ms`}\n`);
  }
  io.stdout('\nAPIs (token in <state dir>/api-token):\n');
  for (const node of report.nodes) io.stdout(`  node ${node.index}  ${node.nodeId}  ${node.api}\n`);
}
