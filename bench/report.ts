import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { BenchResult } from './common.js';

/** What each benchmark measures and the bar the issue sets, shown above its figures. */
const about: Record<string, string> = {
  'twin-recovery':
    'Recovery of a 1000-node RGG (average degree 8, links 5-20 ms) from 50 single link failures and 50 single node crashes over 2 seeds each, fast profile, and the same scenarios with RFC 8966 default timers in the same run. Bars: fast recovery p95 <= 200 ms, max <= 400 ms, zero transient loops, steady delivery >= 99.9 %; RFC 8966 p95 at least 20x the fast p95.',
  'twin-partition': 'A 300-node RGG split into halves for 15 s, then healed (3 seeds). Bar: routes across the former cut restored with p95 <= 1 s after the heal, zero loops.',
  handshake:
    'CPU per side of the hybrid handshake (X-Wing KEM authentication) between nodes with real hybrid X.509-SVIDs, median over 200 handshakes after 30 warm-up ones (the larger of the two sides), with the peer SVID cached and with it parsed and both its signatures (Ed25519, ML-DSA-65) verified in every handshake; initiations a responder completes per second on one core; message sizes. Bars: <= 5 ms cached, <= 15 ms uncached.',
  'live-recovery':
    'Recovery on real sockets: the live demo (`npm start`: 7 node processes on 127.0.0.1, a ring with chords, enrolled with a CA service, fast profile), run 3 times. Each run kills a transit node with SIGKILL, then cuts the busiest remaining link (taken down at one end through the API), with up to 4 flows of 100 packets/s sent through the nodes\' HTTP APIs across each fault. A sample is one flow\'s time from the fault to its first delivered packet sent after it (the twin\'s definition, on a real clock; it includes detection, 100-150 ms with probes every 50 ms x 3). routesUpMsMedian: from the last node\'s start to all 42 routes selected. The issue names no bar; the end-to-end test asserts failover within 1 s.',
  'daemon-recovery':
    'Recovery on real processes in network namespaces (run as root; needs `nft` and `babeld`): a ring of 6 and a 4x4 grid, one namespace per node, a veth pair per link. Our daemon (fast profile, one process per namespace, flows of 100 packets/s through the nodes\' APIs) against 14 faults per graph: silent link failures (an nftables rule drops everything in and out of one veth: no link event reaches anyone), kill -9 of a transit node, and link-downs (both veth ends set down), each repaired or restarted before the next. Then babeld (Debian package) in the same namespaces, with kernel routes and plain UDP flows (10 ms grain): at its defaults (4 s Hellos), with the Hello interval whose control packets per veth come nearest ours (matched, chosen among three measured), and with 10 ms Hellos, against silent failures and link-downs. A sample is one flow\'s time from the fault to its first delivered packet sent after it; a fault applied by a command counts from before the command, and only packets sent after it returned count. A black hole is a flow with no such packet within 2 s. A flow that delivered nothing in the second before its fault was broken already: it is no recovery sample and is counted in oursFlowsBrokenBeforeFault (these were flows to or from a node restarted earlier in the run, whose end-to-end session the other end still used). Control packets per second per link are per veth (one direction of a link), with no flow running: ours from x0t_control_packets_sent_total, babeld\'s from the veths\' packet counters. oursRecoveryMedianMsMatched and babeldRecoveryMedianMsMatched are kind-balanced: the mean of the silent-failure and link-down medians (the two runs have different numbers of each kind, and only ours has kill -9), each of which is also given. Bars: recoveryP95Ms <= 300 over >= 20 failures; zero black holes; at least as fast as babeld at matched control traffic.',
  detector: 'The GraphSAGE anomaly detector (src/mapek/detector.ts) against a rule baseline (CPU > 90 %, memory > 85 %, loss > 5 %) and a per-node z-score baseline, on labelled twin data generated in the same run (src/twin/dataset.ts): trained on two seeds each of scenarios/anomaly-train.yaml (100-node RGG, 6 minutes, every fault kind, light churn) and anomaly-train-ba.yaml (the same on a 100-node Barabasi-Albert graph), validated on a third seed of each (threshold calibration, early stopping), tested on held-out seeds of both kinds (anomaly-train seed 104, anomaly-test.yaml seed 202) and on anomaly-test-grid.yaml (a 10 x 10 grid, a topology kind no training run has; overallF1UnseenTopologies); every run has transit probes on (docs/telemetry.md); false positives on scenarios/anomaly-healthy-churn.yaml (one hour, churn, no faults). The detector is an ensemble of 3 seeds whose node model weighs healthy node-windows next to a fault 5 times in its loss, with thresholds that maximise the mean one-vs-healthy F1 of the fault classes on validation, measured as the MAPE-K loop confirms (2 windows in a row). F1 per fault type is one-vs-healthy on node items (node faults) or link items (link faults); overallF1 pools node and link items; f1MarginOverBaseline is overallF1 minus the better baseline. Detection delay: from fault onset to the end of the first window that flags it. inferenceMs1000Nodes: median time to score every node and link of the last window of scenarios/anomaly-inference-1000.yaml. Bars: grey and black hole F1 >= 0.90; margin >= 0.10; false positives <= 1 % of healthy node-windows; inference < 50 ms.',
  cora: 'GraphSAGE (mean aggregator, 2 layers, src/ml) on Cora with the public Planetoid split (140 train / 500 validation / 1000 test): test accuracy at the best-validation epoch, mean and std over 10 seeds (hidden width and input dropout chosen on validation accuracy only, with two other seeds); time per training epoch (forward + backward + Adam, hidden 16, one thread), median after warm-up: `epochMsMedian` computes the 2-hop neighbourhood of the training nodes (the same loss and gradient as a pass over all nodes, tested), `epochAllNodesMsMedian` every node as PyTorch Geometric does. Baseline: bench/cora-pytorch.py, the same model in PyTorch, runs in the same bench run when PyTorch is installed (Debian: `apt-get install python3-torch`); without it the PyTorch figures are null and the details carry the issue\'s reference (about 3 ms per epoch, 81.5 % accuracy). Bars: accuracy >= 0.80, epoch <= 6 ms (2x PyTorch). `inference1000NodesMs`: scores for every node of a synthetic 1000-node graph (average degree 6, 32 features), median.',
  aead: 'Seal at one Session and open at its peer, 1200-byte packets, one thread: payload MB/s and packets/s for ChaCha20-Poly1305 (the default) and AES-256-GCM; bytes of overhead per data packet before obfuscation.',
  forwarding:
    'Forwarding through one transit node on 127.0.0.1: source -> transit -> sink, the transit a NodeRuntime alone in its own process (link encryption and obfuscation; the datagrams sealed end to end by the source), the source and sink NodeRuntimes in the bench process. Every frame is 1200 bytes on both hops (datagramBytesMax; payloadBytes is the application payload that fills it); the source keeps at most 64 datagrams undelivered, released by delivery events at the sink. Baseline in the same run, the same way: a minimal plain Node UDP relay (dgram, one socket) in its own process, 1200-byte datagrams. Two phases of 3 rounds alternating ours and plain, 5 s each after 2 s of warm-up; each figure is the best of its 3 intervals. Saturated phase (`forwardingMbPerS`, `plainRelayMbPerS`, `forwardingRatioToPlainUdp` and the packet figures beside them): the middle process (transit or relay) runs in a cgroup with a CPU quota of 1 ms per 2.5 ms (0.4 of a core), below what the endpoints offer either of them, so it always has datagrams waiting; the figures are payload megabits and packets per second of the middle\'s own CPU time (user + system). Offered phase, no quota: `deliveredMbPerS` and `plainDeliveredMbPerS` are wall-clock at the sink and limited by the bench process, whose source and sink spend more CPU per datagram than the transit (`endpointsCpuShare` against `transitCpuShare`); `unsaturated*` divide by the middle\'s CPU time at that load. Neither per-CPU reading is clean: unsaturated, a middle that keeps up wakes for nearly every datagram and pays each wake-up; under the quota, it is stopped every 2.5 ms and resumes with cold caches, which costs the larger working set (ours) more. On a quiet machine the unsaturated reading is the higher of the two for ours; under load from other processes the saturated one is. Both are reported, and the bar is judged on both. Bar: forwardingRatioToPlainUdp >= 0.5. Memory: RSS and JS heap used after two full collections of a real `x0tta6bl4 node start` process (src/ compiled by tsc, fast profile, default Cedar policy), idle with no neighbours, and with 50 neighbours (50 runtimes in another process, all sessions up, a route to each). The issue names no memory bar.',
  'mapek-greyhole':
    'Grey holes against the MAPE-K loops in the twin (scenarios/mapek-greyhole.yaml): a 200-node RGG (average degree 8, fast profile, 200 flows of 20 packets/s), three seeds; in each, three on-path nodes in turn drop 50 %, 75 % and 100 % of the data they forward for 40 s while answering all control traffic. Every node runs its own loop (src/twin/self-healing.ts): it judges its neighbours by the conservation of their transit (what their neighbours handed them against what came out at their neighbours, src/mapek/transit-accounting.ts) and quarantines one that loses it. Each seed runs with the loops and again without them. The flows measured are those whose path crossed the grey hole just before its onset and that have a path around it in the topology (`flowsWithoutDetour` counts those that have none, such as flows to or from a node whose only neighbour is the grey hole: no routing action can save them); `deliveryWithMapek` / `deliveryWithoutMapek` are their delivery from 10 s after the onset to the end of the fault (pooled over the nine grey holes), `secondsToRecover` the worst grey hole\'s time from onset until every later second delivered >= 99 % (1 s bins). In the same run, in a child process: one hour of virtual time with churn (2 nodes a minute down for 15 s, state lost) and no fault on a 100-node mesh with the loops on (scenarios/mapek-churn-hour.yaml): `churnHourQuarantines` counts nodes quarantined there, all of them false. Also in the same run, slow degradation (scenarios/mapek-degradation.yaml): on the same kind of mesh, three seeds, two on-path links in turn ramp from 0 to 20 % loss over 60 s, with and without the loops; the traffic has left a link when its data packets per second fall below 10 % of the 10 s before the onset, and `degradationLossWhenMovedWithMapek` is the largest loss the ramp had reached by then (null: some link kept its traffic to the end). Bars: delivery back >= 99 % within 10 s of the onset; no false quarantine in the hour; traffic moved before loss exceeds 5 %.',
  'fl-aggregation':
    'Aggregation rules of src/fl/aggregation (WebAssembly SIMD kernels, plain TypeScript fallback) against numpy doing the same rule on the same data in the same run (bench/fl-aggregation-numpy.py, Debian python3-numpy): median ms per call for n in {10, 50} clients and d in {46 103, 1 000 000} parameters; `<rule>_<n>x<d>_ms` ours, `_numpyMs` numpy; `speedupVsNumpyMin` the smallest numpy/ours ratio over all rules and sizes. Bar: at least as fast as numpy.',
  'fl-accountant':
    'The Renyi-DP accountant of the sampled Gaussian mechanism (src/fl/dp) against published figures: Opacus (q 0.04, z 1.5, 2250 steps, delta 1e-5: eps 7.3291, improved conversion, Opacus orders) and Google dp_accounting (q 0.01, z 2.5, 50 steps: RDP at orders 5, 50, 100); `maxRelErrorVsPublished` the largest relative error; `accountantMsPerCall` one eps computation for 2250 steps.',
  'fl-secagg':
    'SecAgg+ (src/fl/secagg) with 100 clients, d = 46 103, k = 20 neighbours, threshold 12, fixed point with 24 fraction bits in a 32-bit ring, 10 clients dropping out after they shared their keys (their masks rebuilt from shares): the largest absolute error of the recovered sum against the plain float sum and the quantisation bound it must stay within; client CPU per round (median over clients) and server CPU per round (process.cpuUsage); bytes sent and received per client per round.',
  'twin-speed': 'Wall time of the twin: 1000 nodes for 300 s of virtual time (bar: <= 60 s on 2 cores), and a sweep of node counts over 20 s of virtual time (10 s of it start-up convergence); a sweep point stopped after 8 minutes is reported as null.',
};

/** Regenerates BENCHMARKS.md from bench/results/*.json. */
function main(): void {
  const dir = 'bench/results';
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const sections = files.map((file) => section(JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as BenchResult));
  const text = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench:report` from `bench/results/*.json`; every figure below comes from the command shown with it.',
    'Timings are wall-clock on the machine named; comparisons (ratios) are between runs made in the same command.',
    '',
    ...sections,
  ].join('\n');
  writeFileSync('BENCHMARKS.md', `${text}\n`);
}

function section(result: BenchResult): string {
  const m = result.machine;
  const rows = Object.entries(result.figures).map(([key, value]) => `| \`${key}\` | ${value ?? 'n/a'} |`);
  return [
    `## ${result.name}`,
    '',
    about[result.name] ?? '',
    '',
    `Command: \`${result.command}\`  `,
    `Run: ${result.date}, commit \`${result.commit}\`, ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    ...rows,
    '',
    ...runTable(result.details),
    ...recoveryTable(result.details),
  ].join('\n');
}

interface RunSummary {
  readonly scenario: string;
  readonly profile: string;
  readonly seeds: readonly number[];
  readonly recoveryMs: { count: number; p50: number | null; p95: number | null; max: number | null };
  /** Absent from results recorded before the floor existed. */
  readonly recoveryFloorMs?: { p95: number | null };
  readonly outageMs: { p95: number | null };
  readonly detectMs: { p95: number | null };
  readonly healRecoveryMs: { p95: number | null };
  readonly deliveryRatio: { steady: number | null; duringFault: number | null };
  readonly transientLoops: number;
  readonly affectedFlows: number;
  readonly partitionedFlows: number;
  readonly unrecoveredFlows: number;
  readonly wallMs: number;
}

/** A table of the individual twin runs behind the figures, when the details hold them. */
function runTable(details: unknown): string[] {
  if (!Array.isArray(details) || details.length === 0 || typeof (details[0] as RunSummary).scenario !== 'string') return [];
  const runs = details as RunSummary[];
  const v = (x: number | null): string => (x === null ? 'n/a' : String(x));
  return [
    'Runs behind these figures (ms; recovery as p50 / p95 / max over the affected flows of all seeds):',
    '',
    '| scenario | profile | seeds | recovery | samples | floor p95 | outage p95 | detect p95 | heal p95 | delivery steady / during faults | loops | affected / partitioned / unrecovered | wall s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map(
      (r) =>
        `| ${r.scenario} | ${r.profile} | ${r.seeds.join(',')} | ${v(r.recoveryMs.p50)} / ${v(r.recoveryMs.p95)} / ${v(r.recoveryMs.max)} | ${r.recoveryMs.count} | ${v(r.recoveryFloorMs?.p95 ?? null)} | ${v(r.outageMs.p95)} | ${v(r.detectMs.p95)} | ${v(r.healRecoveryMs.p95)} | ${v(r.deliveryRatio.steady)} / ${v(r.deliveryRatio.duringFault)} | ${r.transientLoops} | ${r.affectedFlows} / ${r.partitionedFlows} / ${r.unrecoveredFlows} | ${Math.round(r.wallMs / 1000)} |`,
    ),
    '',
  ];
}

main();

interface KindSummary {
  readonly samples: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly blackHoles: number;
}

interface GraphRecovery {
  readonly graph: string;
  readonly ours: { readonly controlIdle: { readonly counter: number }; readonly byKind: Readonly<Record<string, KindSummary>> };
  readonly babeld: readonly { readonly config: string; readonly helloS: number; readonly controlPerS: number; readonly byKind: Readonly<Record<string, KindSummary>> }[];
}

/** A table of daemon-recovery's systems per graph, when the details hold them (babeld at its defaults appears only here). */
function recoveryTable(details: unknown): string[] {
  if (!Array.isArray(details) || details.length === 0 || typeof (details[0] as GraphRecovery).ours?.byKind !== 'object') return [];
  const graphs = details as GraphRecovery[];
  const cell = (kind: KindSummary | undefined): string => (kind === undefined ? '-' : `${kind.p50Ms ?? 'n/a'} / ${kind.p95Ms ?? 'n/a'} (${kind.samples}, ${kind.blackHoles})`);
  const rows = graphs.flatMap((g) => [
    `| ${g.graph} | ours, fast profile | ${g.ours.controlIdle.counter} | ${cell(g.ours.byKind['silent'])} | ${cell(g.ours.byKind['linkDown'])} | ${cell(g.ours.byKind['kill'])} |`,
    ...g.babeld.map((b) => `| ${g.graph} | babeld ${b.config}, Hello ${b.helloS * 1000} ms | ${b.controlPerS} | ${cell(b.byKind['silent'])} | ${cell(b.byKind['linkDown'])} | - |`),
  ]);
  return [
    'Per graph and system (recovery p50 / p95 in ms, then samples and black holes; control packets per second per veth with no flow running):',
    '',
    '| graph | system | control/s per veth | silent failure | link down | kill -9 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ];
}
