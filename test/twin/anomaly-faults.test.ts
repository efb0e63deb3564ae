import { describe, expect, it } from 'vitest';
import { FaultClass } from '../../src/telemetry/types.js';
import { encodePacket } from '../../src/wire/codec.js';
import { nodeId } from '../../src/wire/ids.js';
import { rampStepMs } from '../../src/twin/faults.js';
import { carriesProbe, Misbehaviour } from '../../src/twin/misbehaviour.js';
import { assembleSeed, runScenario, type SeedRun } from '../../src/twin/runner.js';
import { parseScenario, ScenarioError, type Scenario } from '../../src/twin/scenario.js';
import { exhaustedShareMin, HostFaults, memoryRampMs, SimHost } from '../../src/twin/sim-host.js';
import { Prng } from '../../src/twin/prng.js';

/**
 * A 3 x 5 grid (nodes 0-14, row-major) with flows that cross node 7 in the middle (5 -> 9 and
 * 9 -> 5 along the middle row), flows that do not (0 -> 14 along the top and right, 10 -> 4),
 * and flows that start or end at node 7 itself.
 */
const grid = '{ kind: grid, rows: 3, cols: 5 }';

function scenario(faults: string[], extra = '', traffic = '{ pairs: [[5, 9], [9, 5], [0, 14], [10, 4], [7, 9], [5, 7]], ratePps: 20 }'): Scenario {
  return parseScenario(
    `name: anomaly\ntopology: ${grid}\ntiming: { warmupS: 5, durationS: 30, settleS: 0 }\ntraffic: ${traffic}\ninvariants: { loops: false, oracle: false }\n${extra}faults: [${faults.join(', ')}]\n`,
    'anomaly.yaml',
  );
}

/** Assembles the run and records every neighbourDown (time, node, link). */
function start(s: Scenario): SeedRun & { downs: { atMs: number; node: number; link: number }[] } {
  const run = assembleSeed(s, s.seed, { emitRouteEvents: true });
  const downs: { atMs: number; node: number; link: number }[] = [];
  const base = run.network.observer;
  run.network.observer = {
    ...base,
    onMeshEvent(node, event) {
      base.onMeshEvent?.(node, event);
      if (event.kind === 'neighbourDown') downs.push({ atMs: run.network.nowMs, node, link: event.link });
    },
  };
  return Object.assign(run, { downs });
}

/** Delivered / sent of flow `index` for packets sent in [fromMs, toMs). */
function delivery(run: SeedRun, index: number, fromMs: number, toMs: number): number {
  const flow = run.flows.flows[index]!;
  let sent = 0;
  let delivered = 0;
  for (let seq = 0; seq < flow.sent; seq++) {
    const t = flow.sentAtMs[seq]!;
    if (t < fromMs || t >= toMs) continue;
    sent++;
    delivered += flow.delivered[seq]!;
  }
  expect(sent).toBeGreaterThan(0);
  return delivered / sent;
}

/** The misbehaviour layer the fault injector put into the network. */
function misbehaviour(run: SeedRun): Misbehaviour {
  expect(run.network.shaper).toBeInstanceOf(Misbehaviour);
  return run.network.shaper as Misbehaviour;
}

describe('grey and black holes', () => {
  it('a black hole drops all the data it forwards, none it originates or receives, and routing keeps using it', () => {
    const run = start(scenario(['{ kind: blackHole, node: 7, atS: 10, untilS: 25 }']));
    run.network.runUntil(10_000);
    const pathBefore = run.flows.currentPath(run.flows.flows[0]!).nodes;
    expect(pathBefore).toEqual([5, 6, 7, 8, 9]);
    run.network.runUntil(24_000);
    // Through node 7: nothing arrives. Around it, from it and to it: everything.
    // (Packets sent in the last half second may still be in flight.)
    for (const [flow, expected] of [[0, 0], [1, 0], [2, 1], [3, 1], [4, 1], [5, 1]] as const) expect(delivery(run, flow, 10_500, 23_500)).toBe(expected);
    // It answers probes in place of the data it dropped: no session around it went down, and
    // the flows still go through it.
    expect(run.downs.filter((d) => d.atMs >= 10_000)).toEqual([]);
    expect(run.flows.currentPath(run.flows.flows[0]!).nodes).toEqual(pathBefore);
    expect(misbehaviour(run).dropped[7]).toBeGreaterThan(500);
    // After the fault, data flows through it again.
    run.network.runUntil(35_000);
    expect(delivery(run, 0, 26_000, 34_000)).toBe(1);
  });

  it('a grey hole drops about its share of forwarded data', () => {
    const run = start(scenario(['{ kind: greyHole, node: 7, atS: 10, untilS: 30, dropShare: 0.5 }']));
    run.network.runUntil(30_000);
    const through = (delivery(run, 0, 10_500, 29_500) + delivery(run, 1, 10_500, 29_500)) / 2;
    expect(through).toBeGreaterThan(0.4);
    expect(through).toBeLessThan(0.6);
    expect(delivery(run, 4, 10_500, 29_500)).toBe(1);
    expect(run.downs).toEqual([]);
  });

  it('overlapping grey holes on one node drop the largest share, and each undo restores the rest', () => {
    const run = start(scenario(['{ kind: greyHole, node: 7, atS: 10, untilS: 20, dropShare: 0.5 }', '{ kind: blackHole, node: 7, atS: 12, untilS: 16 }']));
    run.network.runUntil(20_500);
    expect(delivery(run, 0, 12_500, 15_900)).toBe(0);
    const half = delivery(run, 0, 16_500, 19_900);
    expect(half).toBeGreaterThan(0.2);
    expect(half).toBeLessThan(0.8);
    run.network.runUntil(30_000);
    expect(delivery(run, 0, 21_000, 29_000)).toBe(1);
  });

  it('without probes (rfc8966 profile) a black hole simply drops: Hellos keep the sessions', () => {
    const run = start(scenario(['{ kind: blackHole, node: 7, atS: 15, untilS: 30 }'], 'profile: rfc8966\n'));
    run.network.runUntil(30_000);
    expect(delivery(run, 5, 16_000, 29_000)).toBe(1);
    expect(misbehaviour(run).dropped[7]).toBeGreaterThan(0);
  });

  it('a node fault without a node picks an on-path node that is no flow endpoint', () => {
    const s = scenario(['{ kind: greyHole, atS: 10, untilS: 20 }', '{ kind: cpuExhaustion, atS: 10, untilS: 20 }'], '', '{ pairs: [[5, 9]], ratePps: 20 }');
    const run = start(s);
    run.network.runUntil(21_000);
    const picked = run.faults.labels.map((l) => l.nodes[0]!);
    for (const node of picked) expect([6, 7, 8]).toContain(node);
    expect(run.faults.records.map((r) => r.kind)).toEqual(['greyHole', 'cpuExhaustion']);
  });
});

describe('bogus metrics', () => {
  it('a node advertising metric 0 for the routes it forwards attracts routes through it', () => {
    const routesVia = (run: SeedRun, via: number): number => {
      let count = 0;
      for (const node of run.network.nodes) {
        if (node.index === via) continue;
        for (const route of node.mesh!.routes()) if (route.nextHop === nodeId(via + 1) && route.dst !== nodeId(via + 1)) count++;
      }
      return count;
    };
    const honest = start(scenario([]));
    const lying = start(scenario(['{ kind: bogusMetrics, node: 7, atS: 6, untilS: 35 }']));
    honest.network.runUntil(33_000);
    lying.network.runUntil(33_000);
    expect(routesVia(lying, 7)).toBeGreaterThan(routesVia(honest, 7) + 5);
    expect(misbehaviour(lying).rewritten[7]).toBeGreaterThan(0);
  });

  it('is refused with the secure layer on, which seals control packets (and so are grey holes, whose stand-in probes are plaintext)', () => {
    expect(() => scenario(['{ kind: bogusMetrics, node: 7, atS: 6 }'], 'security: { enabled: true }\n')).toThrow(
      'faults[0].kind: expected no bogusMetrics while security.enabled is true (it rewrites plaintext control packets); got "bogusMetrics"',
    );
    expect(() => scenario(['{ kind: blackHole, node: 7, atS: 6 }'], 'security: { enabled: true }\n')).toThrow(
      'faults[0].kind: expected no blackHole while security.enabled is true (the probes it sends in place of dropped data are plaintext); got "blackHole"',
    );
    expect(() => scenario(['{ kind: greyHole, atS: 6 }'], 'security: { enabled: true }\n')).toThrow('expected no greyHole while security.enabled is true');
  });
});

describe('link behaviour faults', () => {
  it('censorship drops the data packets of one size band on the link, both ways, and nothing else', () => {
    // Flows 0 (64-byte payloads) and 1 (1100) go 5 -> 9 through link 7-8; flows 2 and 3 go back.
    const traffic = '{ pairs: [[5, 9], [5, 9], [9, 5], [9, 5]], ratePps: 20, payloadSizes: [64, 1100] }';
    const run = start(scenario(['{ kind: censorship, link: [7, 8], atS: 10, untilS: 25 }'], '', traffic));
    run.network.runUntil(35_000);
    expect(delivery(run, 0, 10_500, 24_500)).toBe(1);
    expect(delivery(run, 1, 10_500, 24_500)).toBe(0);
    expect(delivery(run, 2, 10_500, 24_500)).toBe(1);
    expect(delivery(run, 3, 10_500, 24_500)).toBe(0);
    expect(delivery(run, 1, 26_000, 34_000)).toBe(1);
    expect(run.downs).toEqual([]);
    const edge = run.network.edges.find((e) => e.a === 7 && e.b === 8)!;
    expect(edge.forward.censoredDrops).toBeGreaterThan(200);
    expect(edge.backward.censoredDrops).toBeGreaterThan(200);
  });

  it('congestion limits the link so that its queue overflows under load', () => {
    const traffic = '{ pairs: [[5, 9], [6, 9]], ratePps: 50, payloadSizes: [1100] }';
    const run = start(scenario(['{ kind: congestion, link: [7, 8], atS: 10, untilS: 20, bandwidthKbps: 200, queueBytes: 3000 }'], '', traffic));
    const edge = run.network.edges.find((e) => e.a === 7 && e.b === 8)!;
    run.network.runUntil(10_000);
    expect(edge.forward.drops.queue).toBe(0);
    run.network.runUntil(20_000);
    expect(edge.forward.drops.queue).toBeGreaterThan(50);
    const during = edge.forward.drops.queue;
    run.network.runUntil(35_000);
    // Back at 100 Mbit/s, nothing more overflows.
    expect(edge.forward.drops.queue).toBe(during);
  });

  it('a random congested link is one the flows cross', () => {
    const run = start(scenario(['{ kind: congestion, atS: 10, untilS: 20 }'], '', '{ pairs: [[5, 9]], ratePps: 20 }'));
    run.network.runUntil(11_000);
    const [edge] = run.faults.labels[0]!.edges;
    const ends = [run.network.edges[edge!]!.a, run.network.edges[edge!]!.b];
    expect([5, 6, 7, 8, 9]).toEqual(expect.arrayContaining(ends));
  });

  it('slow degradation ramps loss and delay linearly to their maxima, holds them, then lifts them', () => {
    const run = start(scenario(['{ kind: slowDegradation, link: [7, 8], atS: 10, rampS: 10, untilS: 25, maxLoss: 0.2, maxExtraDelayMs: 40 }']));
    const edge = run.network.edges.find((e) => e.a === 7 && e.b === 8)!;
    run.network.runUntil(15_000);
    expect(edge.forward.extraLoss).toBeCloseTo(0.1, 6);
    expect(edge.backward.extraDelayMs).toBeCloseTo(20, 6);
    run.network.runUntil(15_000 + rampStepMs / 2);
    expect(edge.forward.extraLoss).toBeCloseTo(0.1, 6);
    run.network.runUntil(22_000);
    expect(edge.forward.extraLoss).toBeCloseTo(0.2, 6);
    expect(edge.forward.extraDelayMs).toBeCloseTo(40, 6);
    run.network.runUntil(26_000);
    expect([edge.forward.extraLoss, edge.forward.extraDelayMs, edge.backward.extraLoss, edge.backward.extraDelayMs]).toEqual([0, 0, 0, 0]);
  });

  it('a degradation that ends during its ramp stops ramping', () => {
    const run = start(scenario(['{ kind: slowDegradation, link: [7, 8], atS: 10, rampS: 10, maxLoss: 0.2 }', '{ kind: degrade, link: [7, 8], atS: 10, untilS: 30, loss: 0.05 }']));
    const edge = run.network.edges.find((e) => e.a === 7 && e.b === 8)!;
    run.network.runUntil(21_000);
    // The ramp's 0.2 and the other fault's 0.05 add up; untilS absent: held until the end.
    expect(edge.forward.extraLoss).toBeCloseTo(0.25, 6);
  });
});

describe('host exhaustion', () => {
  it('CPU exhaustion delays every input of the node and marks its host exhausted, until it ends', () => {
    const run = start(scenario(['{ kind: cpuExhaustion, node: 7, atS: 10, untilS: 20, inputDelayMs: 6 }']));
    const inbound = run.network.nodes[7]!.edges.map((e) => (run.network.edges[e]!.a === 7 ? run.network.edges[e]!.backward : run.network.edges[e]!.forward));
    const outbound = run.network.nodes[7]!.edges.map((e) => (run.network.edges[e]!.a === 7 ? run.network.edges[e]!.forward : run.network.edges[e]!.backward));
    run.network.runUntil(15_000);
    expect(inbound.map((d) => d.extraDelayMs)).toEqual(inbound.map(() => 6));
    expect(outbound.map((d) => d.extraDelayMs)).toEqual(outbound.map(() => 0));
    expect(run.faults.hosts.cpu[7]).toBe(1);
    run.network.runUntil(21_000);
    expect(inbound.map((d) => d.extraDelayMs)).toEqual(inbound.map(() => 0));
    expect(run.faults.hosts.cpu[7]).toBe(0);
    expect(run.downs).toEqual([]);
  });

  it('simulated hosts: CPU follows the load, exhaustion pushes CPU and (over a ramp) memory to 95 % and more', () => {
    const faults = new HostFaults(2);
    const host = new SimHost(0, faults, Prng.fromSeed(1, 'host'), 0);
    const idle = host.sample(1000);
    host.addWork(10_000);
    const busy = host.sample(2000);
    expect(busy.cpu).toBeGreaterThan(idle.cpu + 0.2);
    for (const s of [idle, busy]) {
      expect(s.memory).toBeGreaterThan(0.1);
      expect(s.memory).toBeLessThan(0.7);
    }
    const undoCpu = faults.exhaustCpu(0);
    const undoMemory = faults.exhaustMemory(0, 3000);
    const early = host.sample(3000 + memoryRampMs / 5);
    expect(early.cpu).toBeGreaterThanOrEqual(exhaustedShareMin);
    expect(early.memory).toBeLessThan(exhaustedShareMin);
    const late = host.sample(3000 + memoryRampMs);
    expect(late.memory).toBeGreaterThanOrEqual(exhaustedShareMin);
    undoCpu();
    undoMemory();
    const after = host.sample(20_000);
    expect(after.cpu).toBeLessThan(0.5);
    expect(after.memory).toBeLessThan(0.7);
    // Overlapping memory faults keep the first onset.
    faults.exhaustMemory(1, 100);
    faults.exhaustMemory(1, 900);
    expect(faults.memorySinceMs[1]).toBe(100);
  });
});

describe('labels', () => {
  it('every labelling fault records its class, its target and its active interval', () => {
    const s = scenario([
      '{ kind: greyHole, node: 6, atS: 10, untilS: 12 }',
      '{ kind: blackHole, node: 8, atS: 11 }',
      '{ kind: memoryExhaustion, node: 2, atS: 12, untilS: 20 }',
      '{ kind: bogusMetrics, node: 12, atS: 12, untilS: 14, metric: 3 }',
      '{ kind: flap, link: [1, 2], atS: 13, periodS: 2, count: 3 }',
      '{ kind: degrade, link: [3, 4], atS: 14, untilS: 16, loss: 0.1 }',
      '{ kind: censorship, link: [10, 11], atS: 15, untilS: 18, minBytes: 60, maxBytes: 70 }',
      '{ kind: nodeDown, node: 14, atS: 15, untilS: 20 }',
    ]);
    const run = start(s);
    run.network.runUntil(35_000);
    const edge = (a: number, b: number): number => run.network.edges.find((e) => e.a === a && e.b === b)!.index;
    expect(run.faults.labels).toEqual([
      { kind: 'greyHole', faultClass: FaultClass.greyHole, nodes: [6], edges: [], startMs: 10_000, endMs: 12_000 },
      { kind: 'blackHole', faultClass: FaultClass.blackHole, nodes: [8], edges: [], startMs: 11_000, endMs: 35_000 },
      { kind: 'memoryExhaustion', faultClass: FaultClass.memoryExhaustion, nodes: [2], edges: [], startMs: 12_000, endMs: 20_000 },
      { kind: 'bogusMetrics', faultClass: FaultClass.bogusMetrics, nodes: [12], edges: [], startMs: 12_000, endMs: 14_000 },
      // Three flaps of 1 s down every 2 s: the last comes back at 13 + 2 * 2 + 1 s.
      { kind: 'flap', faultClass: FaultClass.flapping, nodes: [], edges: [edge(1, 2)], startMs: 13_000, endMs: 18_000 },
      { kind: 'degrade', faultClass: FaultClass.linkDegradation, nodes: [], edges: [edge(3, 4)], startMs: 14_000, endMs: 16_000 },
      { kind: 'censorship', faultClass: FaultClass.censorship, nodes: [], edges: [edge(10, 11)], startMs: 15_000, endMs: 18_000 },
    ]);
  });

  it('a random flap keeps flapping the link it picked first', () => {
    const run = start(scenario(['{ kind: flap, atS: 10, periodS: 2, count: 3 }'], '', '{ pairs: [[5, 9]], ratePps: 20 }'));
    run.network.runUntil(20_000);
    const targets = run.faults.records.map((r) => r.target);
    expect(targets).toHaveLength(3);
    expect(new Set(targets).size).toBe(1);
    expect(run.faults.labels).toHaveLength(1);
  });

  it('a fault with a random target and no flow to take it from does nothing', () => {
    const run = start(scenario(['{ kind: greyHole, atS: 10, untilS: 12 }', '{ kind: congestion, atS: 10, untilS: 12 }', '{ kind: censorship, atS: 10 }'], '', '{ flows: 0 }'));
    run.network.runUntil(15_000);
    expect(run.faults.labels).toEqual([]);
    expect(run.faults.records).toEqual([]);
    expect(run.network.shaper).toBeNull();
  });

  it('scenarios without behaviour faults put nothing between nodes and links', () => {
    const run = start(scenario(['{ kind: linkCut, link: [7, 8], atS: 10, untilS: 12 }', '{ kind: cpuExhaustion, node: 3, atS: 10, untilS: 12 }']));
    run.network.runUntil(15_000);
    expect(run.network.shaper).toBeNull();
    expect(run.faults.labels.map((l) => l.kind)).toEqual(['cpuExhaustion']);
  });
});

describe('every new kind runs under twin run', () => {
  it('reports each as a fault and keeps the run going', () => {
    const s = scenario([
      '{ kind: greyHole, atS: 10, untilS: 15 }',
      '{ kind: blackHole, atS: 12, untilS: 14 }',
      '{ kind: slowDegradation, atS: 10, rampS: 4, maxLoss: 0.1 }',
      '{ kind: congestion, atS: 10, untilS: 15 }',
      '{ kind: cpuExhaustion, atS: 10, untilS: 15 }',
      '{ kind: memoryExhaustion, atS: 10, untilS: 15 }',
      '{ kind: bogusMetrics, atS: 10, untilS: 15 }',
      '{ kind: censorship, atS: 10, untilS: 15 }',
    ]);
    const report = runScenario(s);
    expect(report.faults.map((f) => f.kind).sort()).toEqual(['blackHole', 'bogusMetrics', 'censorship', 'congestion', 'cpuExhaustion', 'greyHole', 'memoryExhaustion', 'slowDegradation']);
  });
});

describe('carriesProbe', () => {
  it('finds a probe among the TLVs of a plain packet and assumes one in sealed bytes', () => {
    const probe = { type: 'probe', sender: nodeId(1), state: 2, detectMult: 3, intervalMs: 50, txUs: 1, echoUs: 0, holdUs: 0 } as const;
    const hello = { type: 'hello', sender: nodeId(1), seqno: 1, intervalMs: 1000, timestampUs: 5 } as const;
    expect(carriesProbe(encodePacket([probe]))).toBe(true);
    expect(carriesProbe(encodePacket([hello, probe]))).toBe(true);
    expect(carriesProbe(encodePacket([hello]))).toBe(false);
    expect(carriesProbe(Uint8Array.of(0x9c, 1, 2, 3))).toBe(true);
  });
});

describe('validation of the new kinds', () => {
  const invalid = (fault: string, extra = ''): string => {
    try {
      scenario([fault], extra);
    } catch (error) {
      expect(error).toBeInstanceOf(ScenarioError);
      return (error as Error).message;
    }
    throw new Error('expected a ScenarioError');
  };

  it('names the field and what was expected', () => {
    expect(invalid('{ kind: greyHole, atS: 10, dropShare: 0.4 }')).toContain('faults[0].dropShare: expected a number in [0.5, 1]; got 0.4');
    expect(invalid('{ kind: greyHole, node: 15, atS: 10 }')).toContain('faults[0].node: expected a node index in 0..14 (the topology has 15 nodes); got 15');
    expect(invalid('{ kind: blackHole, atS: 10, untilS: 5 }')).toContain('faults[0].untilS: expected a time after atS (10); got 5');
    expect(invalid('{ kind: congestion, link: [0, 6], atS: 10 }')).toContain('faults[0].link: expected a link of the grid topology; got [0,6]');
    expect(invalid('{ kind: congestion, atS: 10, queueBytes: 100 }')).toContain('faults[0].queueBytes: expected an integer in 1500..67108864; got 100');
    expect(invalid('{ kind: censorship, atS: 10, minBytes: 500, maxBytes: 400 }')).toContain('faults[0].maxBytes: expected a size >= minBytes (500); got 400');
    expect(invalid('{ kind: censorship, atS: 10, maxBytes: 1401 }')).toContain('faults[0].maxBytes: expected an integer in 1..1400; got 1401');
    expect(invalid('{ kind: slowDegradation, atS: 10, rampS: 5 }')).toContain('faults[0].maxLoss: expected maxLoss > 0 or maxExtraDelayMs > 0 (otherwise the fault does nothing); got 0');
    expect(invalid('{ kind: slowDegradation, atS: 10, rampS: 10, untilS: 15, maxLoss: 0.1 }')).toContain('faults[0].untilS: expected a time >= the end of the ramp, atS + rampS (20); got 15');
    expect(invalid('{ kind: slowDegradation, atS: 30, rampS: 10, maxLoss: 0.1 }')).toContain('faults[0].rampS: expected the end of the ramp (atS + rampS) within the run, <= 35 s');
    expect(invalid('{ kind: cpuExhaustion, atS: 10, inputDelayMs: 2000 }')).toContain('faults[0].inputDelayMs: expected a number in [0, 1000]; got 2000');
    expect(invalid('{ kind: bogusMetrics, atS: 10, metric: 65535 }')).toContain('faults[0].metric: expected an integer in 0..65534; got 65535');
    expect(invalid('{ kind: memoryExhaustion, atS: 10, share: 1 }')).toContain('faults[0].share: unknown key; expected one of kind, node, atS, untilS');
  });

  it('checks the payload mix', () => {
    const traffic = (sizes: string): string => {
      try {
        scenario([], '', `{ flows: 2, ratePps: 10, payloadSizes: ${sizes} }`);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(traffic('[]')).toContain('traffic.payloadSizes: expected a list of 1..16 payload sizes; got []');
    expect(traffic('[64, 1201]')).toContain('traffic.payloadSizes[1]: expected a payload size in 0..1200; got 1201');
    expect(traffic('[64, 1100]')).toBe('');
    const run = start(scenario([], '', '{ pairs: [[0, 1], [1, 2], [2, 3]], ratePps: 10, payloadSizes: [64, 1100] }'));
    expect(run.flows.flows.map((f) => f.payload.length)).toEqual([64, 1100, 64]);
  });
});

describe('LinkDirection limits and censors', () => {
  const params = { delayMs: 1, jitterMs: 0, loss: 0, bandwidthBps: 8_000_000, queueBytesMax: 10_000 };

  it('the tightest limit applies, and bytes queued under it drain at the new rate when it lifts', async () => {
    const { LinkDirection } = await import('../../src/twin/link-model.js');
    const d = new LinkDirection(params, Prng.fromSeed(1, 'l'));
    const slow = { bandwidthBps: 8000, queueBytesMax: 3000 };
    const slower = { bandwidthBps: 4000, queueBytesMax: 5000 };
    d.addLimit(slow, 0);
    d.addLimit(slower, 0);
    // 4 kbit/s and a 3000-byte queue: 1000 bytes take 2 s; the fourth packet overflows.
    expect(d.transmit(0, 1000)).toBeCloseTo(2001, 6);
    expect(d.transmit(0, 1000)).toBeCloseTo(4001, 6);
    expect(d.transmit(0, 1000)).toBeCloseTo(6001, 6);
    expect(d.transmit(0, 1000)).toBe('queue');
    d.removeLimit(slower, 0);
    d.removeLimit(slow, 0);
    d.removeLimit(slow, 0);
    // Back at 8 Mbit/s with the 10 000-byte queue, the 3000 bytes still queued take 3 ms, so
    // 7000 more fit (had the backlog kept its 6 s at the slow rate, nothing would).
    expect(typeof d.transmit(0, 7000)).toBe('number');
    expect(d.transmit(0, 1)).toBe('queue');
  });

  it('a censor drops data packets in its band only, and stops when removed', async () => {
    const { LinkDirection } = await import('../../src/twin/link-model.js');
    const d = new LinkDirection(params, Prng.fromSeed(1, 'l'));
    const band = { minBytes: 100, maxBytes: 200 };
    d.addCensor(band);
    expect(d.transmit(0, 150, true)).toBe('censored');
    expect(d.transmit(0, 150, false)).not.toBe('censored');
    expect(d.transmit(0, 99, true)).not.toBe('censored');
    expect(d.transmit(0, 201, true)).not.toBe('censored');
    expect(d.censoredDrops).toBe(1);
    d.removeCensor(band);
    d.removeCensor(band);
    expect(d.transmit(0, 150, true)).not.toBe('censored');
  });
});
