import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteInfo } from '../src/api/backend.js';
import { LocalCluster } from '../src/node/cluster.js';
import { LiveTraffic, pathOf, type Flow } from '../src/node/live-traffic.js';
import { canCreateNamespaces } from '../src/node/netns.js';
import { NetnsTopology } from '../src/node/netns-topology.js';
import { BabeldMesh, babeldDefaultHelloS, kernelPath, vethPacketsSent } from './babeld-mesh.js';
import { percentileOf, r1 } from './common.js';
import { UdpFlows, monotonicMs, type UdpFlow } from './udp-flows.js';

/**
 * Recovery on real processes in network namespaces, and babeld in the same topologies.
 *
 * Two graphs (a ring of 6 and a 4x4 grid), one namespace per node and a veth pair per edge.
 * First our daemon (fast profile, one process per namespace, flows of 100 packets/s through the
 * nodes' APIs): silent link failures (an nftables drop on one veth end: no link event anywhere),
 * kill -9 of a transit node and link-downs (both veth ends set down), repaired or restarted
 * between them. Then babeld in the same namespaces with kernel routes and plain UDP flows, at
 * its defaults, with a Hello interval that sends about as many control packets per link as our
 * daemon does (matched), and with 10 ms Hellos, against silent failures and link-downs.
 *
 * A sample is one flow's recovery: from the fault to the first delivered packet sent after it
 * (for a fault applied by a command, recovery counts from before the command and only packets
 * sent after it returned count). A black hole is a flow with no such packet within 2 s. A flow
 * that delivered nothing in the second before the fault was broken before it, and is counted
 * apart rather than as a recovery sample.
 */

const command = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'];
/** Our faults per graph: silent, kill, silent, kill, link-down, repeated. */
const oursFaultsPerGraph = 14;
const oursKinds: readonly FaultKind[] = ['silent', 'kill', 'silent', 'kill', 'linkDown'];
/** babeld faults per graph, kind and configuration. */
const babeldTrialsPerKind = 5;
const babeldDefaultsTrialsPerKind = 3;
const blackHoleMs = 2000;
/** Traffic runs this long before each fault. */
const settleMs = 1000;
/** How long a fault is watched at most (babeld at its defaults needs long for a silent failure). */
const oursObserveMs = 3000;
const babeldTunedObserveMs = 20_000;
const babeldDefaultsObserveMs = 45_000;
/** How long babeld at its defaults may take to route the flows of a fault across its site again. */
const babeldDefaultsCrossingWaitMs = 120_000;
/** Windows over which control traffic is counted. */
const controlWindowMs = 5000;
const babeldDefaultsControlWindowMs = 16_000;

type FaultKind = 'silent' | 'linkDown' | 'kill';

/**
 * Cleanups of what runs now (node processes, babelds, pingers, namespaces), for a run stopped
 * by SIGINT or SIGTERM: the normal paths clean up in their finally blocks.
 */
const running = new Set<() => Promise<unknown>>();

/** Runs `body` with `cleanup` registered for an interrupted run, then runs `cleanup`. */
async function holding<T>(cleanup: () => Promise<unknown>, body: () => Promise<T>): Promise<T> {
  running.add(cleanup);
  try {
    return await body();
  } finally {
    running.delete(cleanup);
    await cleanup();
  }
}

/** c - a - b in a line: a fault on link a-b or at node a, with flows that cross it. */
interface Site {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

interface Graph {
  readonly name: string;
  readonly nodes: number;
  readonly edges: readonly (readonly [number, number])[];
  readonly sites: readonly Site[];
}

/** One fault and what its flows saw. */
interface Trial {
  readonly system: string;
  readonly graph: string;
  readonly kind: FaultKind;
  readonly site: string;
  /** One per flow that delivered before the fault; null: nothing sent after the fault arrived. */
  readonly recoveriesMs: readonly (number | null)[];
  /** Flows whose path did not cross the fault (not measured). */
  readonly skippedFlows: number;
  /** Flows (src->dst) that delivered nothing in the second before the fault: broken already, so not a recovery sample. */
  readonly brokenBeforeFault: readonly string[];
  /** How long the command that applied the fault took. */
  readonly commandMs: number;
}

function ringGraph(n: number): Graph {
  const edges = Array.from({ length: n }, (_, i) => [i, (i + 1) % n] as const);
  return { name: `ring${n}`, nodes: n, edges, sites: Array.from({ length: n }, (_, a) => ({ a, b: (a + 1) % n, c: (a + n - 1) % n })) };
}

function gridGraph(w: number): Graph {
  const edges: (readonly [number, number])[] = [];
  for (let r = 0; r < w; r++) for (let c = 0; c + 1 < w; c++) edges.push([r * w + c, r * w + c + 1], [c * w + r, (c + 1) * w + r]);
  const sites: Site[] = [];
  for (let k = 1; k + 1 < w; k++) {
    sites.push({ a: k * w + 1, b: k * w + 2, c: k * w }, { a: w + k, b: 2 * w + k, c: k });
    sites.push({ a: k * w + 2, b: k * w + 1, c: k * w + 3 }, { a: 2 * w + k, b: w + k, c: 3 * w + k });
  }
  return { name: `grid${w}x${w}`, nodes: w * w, edges, sites };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 100 ms until it is true or `limitMs` passed; returns the last answer. */
async function until(probe: () => Promise<boolean> | boolean, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    if (await Promise.resolve(probe()).catch(() => false)) return true;
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
}

function flowsFor(kind: FaultKind, site: Site): UdpFlow[] {
  return kind === 'kill'
    ? [
        { src: site.c, dst: site.b },
        { src: site.b, dst: site.c },
      ]
    : [
        { src: site.a, dst: site.b },
        { src: site.b, dst: site.a },
        { src: site.c, dst: site.b },
      ];
}

function crosses(kind: FaultKind, site: Site, path: readonly number[] | null): boolean {
  if (path === null) return false;
  if (kind === 'kill') return path.slice(1, -1).includes(site.a);
  return path.some((node, hop) => (node === site.a && path[hop + 1] === site.b) || (node === site.b && path[hop + 1] === site.a));
}

/** Applies a fault; `kill` kills a node (ours only). */
async function inflict(topology: NetnsTopology, kind: FaultKind, site: Site, kill: (index: number) => Promise<void>): Promise<void> {
  if (kind === 'silent') await topology.silence(site.a, site.b);
  else if (kind === 'linkDown') await topology.setEdgeUp(site.a, site.b, false);
  else await kill(site.a);
}

async function repair(topology: NetnsTopology, kind: FaultKind, site: Site, restart: (index: number) => Promise<void>): Promise<void> {
  if (kind === 'silent') await topology.restore(site.a, site.b);
  else if (kind === 'linkDown') await topology.setEdgeUp(site.a, site.b, true);
  else await restart(site.a);
}

const siteName = (site: Site): string => `${site.c}-${site.a}-${site.b}`;

/** The recoveries of the flows that delivered before the fault, and the names of those that did not. */
function splitByLiveness(flows: readonly UdpFlow[], deliveredBefore: readonly boolean[], recoveriesMs: readonly (number | null)[]): Pick<Trial, 'recoveriesMs' | 'brokenBeforeFault'> {
  return {
    recoveriesMs: recoveriesMs.filter((_, i) => deliveredBefore[i]).map((ms) => (ms === null ? null : r1(ms))),
    brokenBeforeFault: flows.filter((_, i) => !deliveredBefore[i]).map((flow) => `${flow.src}->${flow.dst}`),
  };
}

// ---- our daemon ----

async function routeTables(cluster: LocalCluster): Promise<RouteInfo[][]> {
  return Promise.all(cluster.nodes.map((node) => cluster.api<RouteInfo[]>(node.index, 'GET', '/v1/routes')));
}

async function controlPacketsSent(cluster: LocalCluster): Promise<number> {
  const counts = await Promise.all(
    cluster.nodes.map(async (node) => {
      const text = await (await fetch(`${node.api}/metrics`, { headers: { authorization: `Bearer ${node.token}` } })).text();
      const match = /^x0t_control_packets_sent_total (\d+)/m.exec(text);
      if (match === null) throw new Error(`node ${node.index}: no x0t_control_packets_sent_total in /metrics`);
      return Number(match[1]);
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/** Control packets per second per veth (one direction of a link): from the daemons' counters, and everything the veths sent. */
async function oursControlRate(cluster: LocalCluster, topology: NetnsTopology, windowMs: number): Promise<{ counter: number; veth: number }> {
  const [counterBefore, vethBefore] = await Promise.all([controlPacketsSent(cluster), vethPacketsSent(topology)]);
  const startedMs = performance.now();
  await sleep(windowMs);
  const [counterAfter, vethAfter] = await Promise.all([controlPacketsSent(cluster), vethPacketsSent(topology)]);
  const seconds = (performance.now() - startedMs) / 1000;
  return { counter: r1((counterAfter - counterBefore) / vethAfter.veths / seconds)!, veth: r1((vethAfter.packets - vethBefore.packets) / vethAfter.veths / seconds)! };
}

async function oursTrial(cluster: LocalCluster, topology: NetnsTopology, graph: Graph, kind: FaultKind, site: Site): Promise<Trial> {
  const ids = cluster.nodes.map((node) => node.nodeId);
  const wanted: Flow[] = flowsFor(kind, site).map((flow, id) => ({ id, ...flow }));
  let flows: Flow[] = [];
  // After the previous repair the routes may still be moving back: wait until every flow crosses the fault site.
  await until(async () => {
    const tables = await routeTables(cluster);
    flows = wanted.filter((flow) => crosses(kind, site, pathOf(tables, ids, flow.src, flow.dst)));
    return flows.length === wanted.length;
  }, 15_000);
  const base = { system: 'ours', graph: graph.name, kind, site: siteName(site), skippedFlows: wanted.length - flows.length };
  if (flows.length === 0) return { ...base, recoveriesMs: [], brokenBeforeFault: [], commandMs: 0 };
  const traffic = new LiveTraffic(cluster, flows);
  await traffic.start();
  try {
    const startedAtMs = traffic.clock();
    await sleep(settleMs);
    const deliveredBefore = traffic.recoveries(flows, startedAtMs).map((r) => r.recoveryMs !== null);
    const faultAtMs = traffic.clock();
    await inflict(topology, kind, site, (index) => cluster.kill(index));
    const inEffectAtMs = traffic.clock();
    await until(() => traffic.recoveries(flows, faultAtMs, inEffectAtMs).every((r, i) => r.recoveryMs !== null || !deliveredBefore[i]), oursObserveMs);
    traffic.stopSending();
    const recoveriesMs = traffic.recoveries(flows, faultAtMs, inEffectAtMs).map((r) => r.recoveryMs);
    return { ...base, ...splitByLiveness(flows, deliveredBefore, recoveriesMs), commandMs: r1(inEffectAtMs - faultAtMs)! };
  } finally {
    traffic.close();
    await repair(topology, kind, site, async (index) => void (await cluster.start(index)));
  }
}

/** Our daemon on one graph: control traffic idle and with flows, then the faults. */
async function oursOnGraph(graph: Graph, topology: NetnsTopology, root: string): Promise<{ trials: Trial[]; controlIdle: { counter: number; veth: number }; controlWithFlows: { counter: number; veth: number } }> {
  const cluster = await LocalCluster.create({ root, nodes: graph.nodes, edges: graph.edges, command, placement: topology.placement() });
  return holding(() => cluster.close(), async () => {
    for (let index = 0; index < graph.nodes; index++) await cluster.start(index);
    const converged = await until(async () => (await routeTables(cluster)).every((table) => table.length === graph.nodes - 1), 60_000);
    if (!converged) throw new Error(`daemon-recovery: our mesh on ${graph.name} did not converge within 60 s`);
    await sleep(2000);
    const controlIdle = await oursControlRate(cluster, topology, controlWindowMs);
    const traffic = new LiveTraffic(cluster, flowsFor('silent', graph.sites[0]!).map((flow, id) => ({ id, ...flow })));
    await traffic.start();
    const controlWithFlows = await oursControlRate(cluster, topology, controlWindowMs).finally(() => traffic.close());
    const trials: Trial[] = [];
    for (let i = 0; i < oursFaultsPerGraph; i++) {
      trials.push(await oursTrial(cluster, topology, graph, oursKinds[i % oursKinds.length]!, graph.sites[i % graph.sites.length]!));
      process.stderr.write(`daemon-recovery: ours ${graph.name} ${JSON.stringify(trials.at(-1))}\n`);
    }
    return { trials, controlIdle, controlWithFlows };
  });
}

// ---- babeld ----

/** Control packets per second per veth while babeld runs and no flow does (everything the veths send is babeld's, bar a little IPv6 neighbour discovery). */
async function babeldControlRate(topology: NetnsTopology, windowMs: number): Promise<number> {
  const before = await vethPacketsSent(topology);
  const startedMs = performance.now();
  await sleep(windowMs);
  const after = await vethPacketsSent(topology);
  return r1((after.packets - before.packets) / after.veths / ((performance.now() - startedMs) / 1000))!;
}

async function babeldTrial(topology: NetnsTopology, graph: Graph, config: string, kind: FaultKind, site: Site, observeMs: number): Promise<Trial> {
  const wanted = flowsFor(kind, site);
  let flows: UdpFlow[] = [];
  await until(async () => {
    const paths = await Promise.all(wanted.map((flow) => kernelPath(topology, flow.src, flow.dst)));
    flows = wanted.filter((_, i) => crosses(kind, site, paths[i]!));
    return flows.length === wanted.length;
  }, config === 'defaults' ? babeldDefaultsCrossingWaitMs : 15_000);
  const base = { system: `babeld-${config}`, graph: graph.name, kind, site: siteName(site), skippedFlows: wanted.length - flows.length };
  if (flows.length === 0) return { ...base, recoveriesMs: [], brokenBeforeFault: [], commandMs: 0 };
  const udp = await UdpFlows.start(topology, flows, (settleMs + observeMs) / 1000 + 30);
  const stopFlows = (): Promise<void> => Promise.resolve(udp.stop());
  running.add(stopFlows);
  try {
    const startedAtMs = monotonicMs();
    await sleep(settleMs);
    const deliveredBefore = udp.recoveries(startedAtMs, startedAtMs).map((ms) => ms !== null);
    const faultAtMs = monotonicMs();
    await inflict(topology, kind, site, () => Promise.reject(new Error('babeld trials kill no node')));
    const inEffectAtMs = monotonicMs();
    await until(() => udp.recoveries(faultAtMs, inEffectAtMs).every((ms, i) => ms !== null || !deliveredBefore[i]), observeMs);
    return { ...base, ...splitByLiveness(flows, deliveredBefore, udp.recoveries(faultAtMs, inEffectAtMs)), commandMs: r1(inEffectAtMs - faultAtMs)! };
  } finally {
    running.delete(stopFlows);
    udp.stop();
    await repair(topology, kind, site, () => Promise.resolve());
  }
}

/** Starts babeld with `helloS` and waits for every route; rejects when it does not converge. */
async function startBabeld(topology: NetnsTopology, helloS: number | null, stateDir: string, denyPrefix: string): Promise<BabeldMesh> {
  const mesh = BabeldMesh.start(topology, helloS, stateDir, denyPrefix);
  if (await until(() => mesh.converged(), helloS === null ? 90_000 : 30_000)) return mesh;
  const health = mesh.health();
  await mesh.stop();
  throw new Error(`daemon-recovery: babeld (hello ${helloS ?? 'default'} s) did not converge${health.running ? '' : `: ${health.stderr}`}`);
}

/** The babeld Hello interval (centiseconds, as babeld counts) whose control traffic per veth is nearest `targetPerS`. */
async function matchHello(topology: NetnsTopology, stateDir: string, denyPrefix: string, targetPerS: number): Promise<{ helloS: number; tried: { helloS: number; perS: number }[] }> {
  const estimateCs = Math.max(1, Math.round(100 / targetPerS));
  const tried: { helloS: number; perS: number }[] = [];
  for (const cs of [estimateCs - 1, estimateCs, estimateCs + 1].filter((value) => value >= 1)) {
    const mesh = await startBabeld(topology, cs / 100, stateDir, denyPrefix);
    try {
      await sleep(1000);
      tried.push({ helloS: cs / 100, perS: await babeldControlRate(topology, controlWindowMs) });
    } finally {
      await mesh.stop();
    }
  }
  const best = tried.reduce((x, y) => (Math.abs(y.perS - targetPerS) < Math.abs(x.perS - targetPerS) ? y : x));
  return { helloS: best.helloS, tried };
}

interface BabeldRun {
  readonly config: string;
  readonly helloS: number;
  readonly controlPerS: number;
  readonly trials: Trial[];
}

/**
 * babeld in one configuration on one graph: its control traffic with no flow running, then
 * silent failures and link-downs on a different site each time. A babeld with tuned Hellos is
 * started afresh for each fault: babeld smooths route metrics (4 s half-life) and a repaired
 * link's routes come back from an infinite metric, so after a repair the flows keep the long
 * way round for half a minute; a fresh start converges in about a second. At its defaults it
 * keeps running (a start takes 15 s or more) and each fault waits until the flows cross again.
 */
async function babeldConfig(topology: NetnsTopology, graph: Graph, stateDir: string, denyPrefix: string, config: string, helloS: number | null): Promise<BabeldRun> {
  const start = (): Promise<BabeldMesh> => startBabeld(topology, helloS, stateDir, denyPrefix);
  let mesh = await start();
  // Stops whichever babeld runs when it is called (the mesh is replaced between faults).
  const stopMesh = (): Promise<void> => mesh.stop();
  running.add(stopMesh);
  try {
    const controlPerS = await babeldControlRate(topology, helloS === null ? babeldDefaultsControlWindowMs : controlWindowMs);
    const trials: Trial[] = [];
    const perKind = helloS === null ? babeldDefaultsTrialsPerKind : babeldTrialsPerKind;
    for (let i = 0; i < 2 * perKind; i++) {
      if (helloS !== null && i > 0) {
        await mesh.stop();
        mesh = await start();
      }
      const kind: FaultKind = i % 2 === 0 ? 'silent' : 'linkDown';
      trials.push(await babeldTrial(topology, graph, config, kind, graph.sites[i % graph.sites.length]!, helloS === null ? babeldDefaultsObserveMs : babeldTunedObserveMs));
      process.stderr.write(`daemon-recovery: babeld ${graph.name} ${JSON.stringify(trials.at(-1))}\n`);
      if (!mesh.health().running) throw new Error(`daemon-recovery: babeld stopped: ${mesh.health().stderr}`);
    }
    return { config, helloS: helloS ?? babeldDefaultHelloS, controlPerS, trials };
  } finally {
    running.delete(stopMesh);
    await mesh.stop();
  }
}

// ---- the run ----

function samplesOf(trials: readonly Trial[]): number[] {
  // A flow that never recovered counts as an infinite recovery: it pushes the percentiles up, never down.
  return trials.flatMap((trial) => trial.recoveriesMs.map((ms) => ms ?? Number.POSITIVE_INFINITY));
}

function quantile(trials: readonly Trial[], p: number): number | null {
  const value = percentileOf(samplesOf(trials), p);
  return value === null || !Number.isFinite(value) ? null : r1(value);
}

/**
 * The mean of the silent-failure and link-down medians: both systems weigh the two kinds alike
 * (a pooled median would compare different mixes, as the two runs have different numbers of
 * each kind, and ours has kill -9 faults babeld's has not).
 */
function kindBalancedMedian(trials: readonly Trial[]): number | null {
  const medians = (['silent', 'linkDown'] as const).map((kind) => quantile(trials.filter((t) => t.kind === kind), 50));
  if (medians.some((m) => m === null)) return null;
  return r1((medians[0]! + medians[1]!) / 2);
}

function blackHoles(trials: readonly Trial[]): number {
  return samplesOf(trials).filter((ms) => ms > blackHoleMs).length;
}

function brokenBeforeFault(trials: readonly Trial[]): number {
  return trials.reduce((n, t) => n + t.brokenBeforeFault.length, 0);
}

function summary(trials: readonly Trial[]): Record<string, number | null> {
  return { faults: trials.filter((t) => t.recoveriesMs.length > 0).length, samples: samplesOf(trials).length, p50Ms: quantile(trials, 50), p95Ms: quantile(trials, 95), maxMs: quantile(trials, 100), blackHoles: blackHoles(trials), skippedFlows: trials.reduce((n, t) => n + t.skippedFlows, 0), brokenBeforeFault: brokenBeforeFault(trials) };
}

async function graphRun(graph: Graph, work: string): Promise<{ graph: string; ours: Awaited<ReturnType<typeof oursOnGraph>>; matchedTried: { helloS: number; perS: number }[]; babeld: BabeldRun[] }> {
  const topology = await NetnsTopology.create({ nodes: graph.nodes, edges: graph.edges, management: true, forwarding: true });
  return holding(() => topology.destroy(), async () => {
    const ours = await oursOnGraph(graph, topology, mkdtempSync(join(work, `${graph.name}-`)));
    const second = topology.management[0]!.address.split('.')[1];
    const denyPrefix = `10.${second}.0.0/16`;
    const matched = await matchHello(topology, work, denyPrefix, ours.controlIdle.counter);
    const babeld: BabeldRun[] = [];
    babeld.push(await babeldConfig(topology, graph, work, denyPrefix, 'matched', matched.helloS));
    babeld.push(await babeldConfig(topology, graph, work, denyPrefix, 'hello10ms', 0.01));
    babeld.push(await babeldConfig(topology, graph, work, denyPrefix, 'defaults', null));
    return { graph: graph.name, ours, matchedTried: matched.tried, babeld };
  });
}

/** Figures from both graphs. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const support = await canCreateNamespaces();
  if (!support.ok) throw new Error(`daemon-recovery needs network namespaces: ${support.reason}`);
  const work = mkdtempSync(join(tmpdir(), 'x0t-bench-daemon-recovery-'));
  const interrupted = (): void => {
    process.stderr.write('daemon-recovery: interrupted; stopping every process and removing the namespaces\n');
    void Promise.allSettled([...running].map((cleanup) => cleanup())).then(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const runs = [];
    for (const graph of [ringGraph(6), gridGraph(4)]) runs.push(await graphRun(graph, work));
    const ours = runs.flatMap((r) => r.ours.trials);
    const babeldMatched = runs.flatMap((r) => r.babeld.find((b) => b.config === 'matched')!.trials);
    const ofKind = (trials: readonly Trial[], kind: FaultKind): Trial[] => trials.filter((t) => t.kind === kind);
    const mean = (values: readonly number[]): number => r1(values.reduce((x, y) => x + y, 0) / values.length)!;
    const figures = {
      recoveryP95Ms: quantile(ours, 95),
      failures: ours.filter((t) => t.recoveriesMs.length > 0).length,
      controlPacketsPerSPerLink: mean(runs.map((r) => r.ours.controlIdle.counter)),
      oursRecoveryMedianMsMatched: kindBalancedMedian(ours),
      babeldRecoveryMedianMsMatched: kindBalancedMedian(babeldMatched),
      oursSilentMedianMs: quantile(ofKind(ours, 'silent'), 50),
      babeldSilentMedianMsMatched: quantile(ofKind(babeldMatched, 'silent'), 50),
      oursLinkDownMedianMs: quantile(ofKind(ours, 'linkDown'), 50),
      babeldLinkDownMedianMsMatched: quantile(ofKind(babeldMatched, 'linkDown'), 50),
      babeldControlPacketsPerSPerLinkMatched: mean(runs.map((r) => r.babeld.find((b) => b.config === 'matched')!.controlPerS)),
      oursBlackHoles: blackHoles(ours),
      oursFlowsBrokenBeforeFault: brokenBeforeFault(ours),
      babeldBlackHolesMatched: blackHoles(babeldMatched),
    };
    const details = runs.map((r) => ({
      graph: r.graph,
      ours: { controlIdle: r.ours.controlIdle, controlWithFlows: r.ours.controlWithFlows, all: summary(r.ours.trials), byKind: byKind(r.ours.trials), trials: r.ours.trials },
      babeldMatchedHelloTried: r.matchedTried,
      babeld: r.babeld.map((b) => ({ config: b.config, helloS: b.helloS, controlPerS: b.controlPerS, byKind: byKind(b.trials), trials: b.trials })),
    }));
    return { figures, details };
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    rmSync(work, { recursive: true, force: true });
  }
}

function byKind(trials: readonly Trial[]): Record<string, Record<string, number | null>> {
  const kinds = [...new Set(trials.map((t) => t.kind))];
  return Object.fromEntries(kinds.map((kind) => [kind, summary(trials.filter((t) => t.kind === kind))]));
}
