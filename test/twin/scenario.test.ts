import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ScenarioError,
  applyOverrides,
  faultKinds,
  loadScenario,
  parseScenario,
  partitionModes,
  scenarioLimits,
  scenarioToYaml,
  staticNodeCount,
  topologyKinds,
  type Scenario,
  type ScenarioErrorCode,
  type ScenarioOverrides,
} from '../../src/twin/scenario.js';

const fixtures = fileURLToPath(new URL('../fixtures/scenarios/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);
const tempDir = mkdtempSync(join(tmpdir(), 'scenario-test-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

/** The defaults every omitted field takes, for a scenario with only a name and a topology. */
const defaults = {
  description: '',
  seed: 1,
  seeds: 1,
  profile: 'fast',
  links: {
    delayMs: { min: 5, max: 20 },
    jitterMs: 1,
    loss: 0,
    bandwidthMbps: 100,
    queueBytes: 65_536,
    asymmetric: false,
  },
  timing: { warmupS: 10, durationS: 60, settleS: 5 },
  traffic: { flows: 20, pairs: null, ratePps: 100, payloadBytes: 64, payloadSizes: null },
  faults: [],
  invariants: { loops: true, oracle: true },
  security: { enabled: false, endToEnd: false, revoked: [], foreignTrustDomain: [], invalidCertificate: [], svidTtlS: 3600 },
  selfHealing: { enabled: false, windowMs: 1000, detector: null },
  transitProbes: { enabled: false, intervalMs: 1000, probesPerInterval: 2 },
} as const;

/** Runs `fn`, asserts a ScenarioError with `code`, and returns it for further checks. */
function scenarioError(fn: () => unknown, code: ScenarioErrorCode = 'ERR_SCENARIO_INVALID'): ScenarioError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    const error = err as ScenarioError;
    expect(error.code).toBe(code);
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.message.split('\n')).toHaveLength(error.issues.length);
    return error;
  }
  throw new Error('expected a ScenarioError, but nothing was thrown');
}

/** The full message of parsing `yaml` as `scenarios/x.yaml`. */
function invalid(yaml: string): string {
  return scenarioError(() => parseScenario(yaml, 'scenarios/x.yaml')).message;
}

/** A scenario body on a ring of 8 nodes with the given extra YAML lines. */
const ring8 = (extra: string): string => `name: t\ntopology: { kind: ring, nodes: 8 }\n${extra}`;

/** The message for a single fault (flow-style YAML) on a ring of 8 nodes; the run lasts 70 s. */
const faultMessage = (fault: string): string => invalid(ring8(`faults:\n  - ${fault}\n`));

describe('parseScenario and loadScenario: valid files', () => {
  it('reads a file with every section and every fault kind into the expected object', () => {
    const expected: Scenario = {
      name: 'ring-full-1',
      description: 'Ring of 12 nodes with one fault of each kind.',
      seed: 42,
      seeds: 3,
      profile: 'rfc8966',
      topology: { kind: 'ring', nodes: 12 },
      links: {
        delayMs: { min: 2, max: 8 },
        jitterMs: 0.5,
        loss: 0.01,
        bandwidthMbps: 10,
        queueBytes: 32_768,
        asymmetric: true,
      },
      timing: { warmupS: 5, durationS: 100, settleS: 3 },
      traffic: { flows: 2, pairs: [[0, 6], [3, 9]], ratePps: 50, payloadBytes: 200, payloadSizes: [200, 1100] },
      faults: [
        { kind: 'linkFailure', count: 3, startS: 10, everyS: 20, downS: 4, target: 'any' },
        { kind: 'nodeCrash', count: 2, startS: 15, everyS: 30, downS: 10, target: 'onPath' },
        { kind: 'linkCut', link: [0, 1], atS: 20, untilS: 30 },
        { kind: 'nodeDown', node: 5, atS: 25, untilS: null },
        { kind: 'flap', link: [11, 0], atS: 40, periodS: 2, count: 5 },
        { kind: 'degrade', link: [3, 4], atS: 50, untilS: 60, loss: 0.2, extraDelayMs: 30 },
        { kind: 'degrade', link: null, atS: 55, untilS: 65, loss: 0, extraDelayMs: 10 },
        { kind: 'partition', mode: 'isolate', atS: 70, healS: 80, node: 7 },
        { kind: 'partition', mode: 'oneWay', atS: 85, healS: null, node: null },
        { kind: 'churn', ratePerMin: 6, startS: 60, untilS: 90, downS: 2 },
        { kind: 'greyHole', node: 2, atS: 10, untilS: 20, dropShare: 0.6 },
        { kind: 'blackHole', node: null, atS: 10, untilS: null },
        { kind: 'slowDegradation', link: [5, 6], atS: 10, rampS: 30, untilS: 50, maxLoss: 0.2, maxExtraDelayMs: 40 },
        { kind: 'congestion', link: null, atS: 10, untilS: 30, bandwidthKbps: 128, queueBytes: 3000 },
        { kind: 'cpuExhaustion', node: 4, atS: 10, untilS: 30, inputDelayMs: 5 },
        { kind: 'memoryExhaustion', node: null, atS: 10, untilS: 30 },
        { kind: 'bogusMetrics', node: 8, atS: 10, untilS: 60, metric: 0 },
        { kind: 'censorship', link: [8, 9], atS: 10, untilS: 30, minBytes: 1000, maxBytes: 1200 },
      ],
      invariants: { loops: true, oracle: false },
      security: { enabled: false, endToEnd: false, revoked: [], foreignTrustDomain: [], invalidCertificate: [], svidTtlS: 3600 },
      selfHealing: { enabled: true, windowMs: 500, detector: null },
      transitProbes: { enabled: true, intervalMs: 2000, probesPerInterval: 3 },
    };
    const scenario = loadScenario(fixture('full.yaml'));
    expect(scenario).toEqual(expected);
    expect(new Set(scenario.faults.map((f) => f.kind))).toEqual(new Set(faultKinds));
  });

  it('fills every default into a minimal file', () => {
    expect(loadScenario(fixture('minimal.yaml'))).toEqual({
      name: 'minimal',
      topology: { kind: 'line', nodes: 4 },
      ...defaults,
    });
  });

  it('fills topology defaults and derives the node count of a grid', () => {
    const topology = (yaml: string): Scenario['topology'] => parseScenario(`name: t\ntopology: ${yaml}\n`, 't.yaml').topology;
    expect(topology('{ kind: grid, rows: 3, cols: 4 }')).toEqual({ kind: 'grid', rows: 3, cols: 4, nodes: 12 });
    expect(topology('{ kind: rgg, nodes: 100 }')).toEqual({ kind: 'rgg', nodes: 100, avgDegree: 8 });
    expect(topology('{ kind: rgg, nodes: 100, avgDegree: 4.5 }')).toEqual({ kind: 'rgg', nodes: 100, avgDegree: 4.5 });
    expect(topology('{ kind: ba, nodes: 50 }')).toEqual({ kind: 'ba', nodes: 50, m: 2 });
    expect(topology('{ kind: ba, nodes: 50, m: 3 }')).toEqual({ kind: 'ba', nodes: 50, m: 3 });
    expect(topology('{ kind: ring, nodes: 3 }')).toEqual({ kind: 'ring', nodes: 3 });
  });

  it('resolves an edge-list path against the scenario folder, the given base or the working directory', () => {
    const fromFile = loadScenario(fixture('edges/from-file.yaml'));
    expect(fromFile.topology).toEqual({ kind: 'edges', file: fixture('tiny.edges') });
    // The node count of an edge list is unknown statically, so index 99 is accepted.
    expect(fromFile.faults[0]).toEqual({ kind: 'linkCut', link: [0, 99], atS: 5, untilS: null });
    const yaml = 'name: e\ntopology: { kind: edges, file: net/a.edges }\n';
    expect(parseScenario(yaml, 'e.yaml', '/srv/scenarios').topology).toEqual({ kind: 'edges', file: resolve('/srv/scenarios/net/a.edges') });
    expect(parseScenario(yaml, 'e.yaml').topology).toEqual({ kind: 'edges', file: resolve('net/a.edges') });
    expect(staticNodeCount(fromFile.topology)).toBeNull();
    expect(staticNodeCount({ kind: 'grid', rows: 2, cols: 3, nodes: 6 })).toBe(6);
  });

  it('resolves selfHealing.detector against the scenario folder, and refuses one that is not a path', () => {
    const yaml = 'name: d\ntopology: { kind: ring, nodes: 6 }\nselfHealing: { enabled: true, detector: models/d.x0e }\n';
    expect(parseScenario(yaml, 'd.yaml', '/srv/scenarios').selfHealing).toEqual({ enabled: true, windowMs: 1000, detector: resolve('/srv/scenarios/models/d.x0e') });
    expect(parseScenario('name: d\ntopology: { kind: ring, nodes: 6 }\n', 'd.yaml').selfHealing.detector).toBeNull();
    for (const bad of ['7', '""']) {
      const error = scenarioError(() => parseScenario(`name: d\ntopology: { kind: ring, nodes: 6 }\nselfHealing: { detector: ${bad} }\n`, 'd.yaml'));
      expect(error.message).toMatch(/d\.yaml: selfHealing\.detector: expected a file path or null/);
    }
  });

  it('sets flows to the number of pairs, and accepts an explicit flows that matches', () => {
    const traffic = parseScenario(ring8('traffic: { flows: 1, pairs: [[1, 5]] }\n'), 't.yaml').traffic;
    expect(traffic).toEqual({ flows: 1, pairs: [[1, 5]], ratePps: 100, payloadBytes: 64, payloadSizes: null });
    expect(parseScenario(ring8('traffic: { flows: 0 }\n'), 't.yaml').traffic.flows).toBe(0);
  });

  it('accepts faults up to the end of the run, restores after it, and links that exist in line, ring and grid', () => {
    const yaml = `name: t
topology: { kind: grid, rows: 3, cols: 3 }
faults:
  - { kind: linkCut, link: [4, 1], atS: 0, untilS: 70 }
  - { kind: linkCut, link: [2, 5], atS: 70 }
  - { kind: flap, link: [3, 4], atS: 60, periodS: 5, count: 3 }
  - { kind: linkFailure, count: 3, startS: 50, everyS: 10, downS: 30 }
  - { kind: churn, ratePerMin: 1, startS: 0, untilS: 70 }
  - { kind: partition, mode: isolate, atS: 1 }
`;
    expect(parseScenario(yaml, 't.yaml').faults).toHaveLength(6);
    expect(parseScenario('name: t\ntopology: { kind: line, nodes: 3 }\nfaults: [{ kind: linkCut, link: [2, 1], atS: 1 }]\n', 't').faults).toHaveLength(1);
  });

  it('exports the vocabulary and limits it validates against', () => {
    expect(topologyKinds).toContain('edges');
    expect(partitionModes).toContain('majorityRing');
    expect(scenarioLimits.nodesMax).toBe(20_000);
  });
});

describe('scenarioToYaml', () => {
  it('round-trips full, minimal, grid and edge-list scenarios through parseScenario', () => {
    const grid = parseScenario('name: g\ntopology: { kind: grid, rows: 2, cols: 5 }\n', 'g.yaml');
    for (const scenario of [
      loadScenario(fixture('full.yaml')),
      loadScenario(fixture('minimal.yaml')),
      loadScenario(fixture('edges/from-file.yaml')),
      grid,
    ]) {
      expect(parseScenario(scenarioToYaml(scenario), 'round-trip.yaml')).toEqual(scenario);
    }
  });

  it('writes links on one line and leaves out unset optional fields and derived grid nodes', () => {
    const yaml = scenarioToYaml(loadScenario(fixture('full.yaml')));
    expect(yaml).toContain('link: [ 0, 1 ]');
    expect(yaml).not.toContain('null');
    const grid = scenarioToYaml(parseScenario('name: g\ntopology: { kind: grid, rows: 2, cols: 5 }\n', 'g.yaml'));
    expect(grid).not.toContain('nodes');
  });
});

describe('parseScenario: schema errors name the file, the path and the expectation', () => {
  it('reports an unknown key with the keys that are allowed there', () => {
    const error = scenarioError(() => loadScenario(fixture('typo.yaml')));
    expect(error.message).toBe(`${fixture('typo.yaml')}: timing.durationSec: unknown key; expected one of warmupS, durationS, settleS`);
    expect(error.issues).toEqual([{ path: 'timing.durationSec', message: 'unknown key; expected one of warmupS, durationS, settleS' }]);
    expect(error.source).toBe(fixture('typo.yaml'));
    expect(error.name).toBe('ScenarioError');
    expect(invalid(ring8('bogus: 1\n'))).toContain('scenarios/x.yaml: bogus: unknown key; expected one of name, description, seed');
    expect(invalid('name: t\ntopology: { kind: line, nodes: 3, rows: 2 }\n')).toContain('topology.rows: unknown key; expected one of kind, nodes');
    expect(faultMessage('{ kind: nodeDown, node: 1, atS: 1, until: 3 }')).toContain('faults[0].until: unknown key; expected one of kind, node, atS, untilS');
  });

  it('quotes keys that are not plain identifiers', () => {
    expect(invalid(ring8('"bad key": 1\n'))).toContain('scenarios/x.yaml: ["bad key"]: unknown key');
    expect(invalid(ring8('links: { "a.b": 1 }\n'))).toContain('links["a.b"]: unknown key');
  });

  it('reports a wrong type with what was found', () => {
    expect(invalid(ring8('seed: "1"\n'))).toBe('scenarios/x.yaml: seed: expected an integer in 0..4294967295; got "1"');
    expect(invalid(ring8('seeds: 1.5\n'))).toContain('seeds: expected an integer in 1..64; got 1.5');
    expect(invalid(ring8('invariants: { loops: yes }\n'))).toContain('invariants.loops: expected true or false; got "yes"');
    expect(invalid(ring8('security: { enabled: true, revoked: [8] }\n'))).toContain('security.revoked[0]: expected a node index in 0..7 (the topology has 8 nodes); got 8');
    expect(invalid(ring8('security: { revoked: [1] }\n'))).toContain('security.revoked: expected an empty list while security.enabled is false; got [1]');
    expect(invalid(ring8('security: { enabled: true, foreignTrustDomain: 3 }\n'))).toContain('security.foreignTrustDomain: expected a list of at most 20000 node indexes; got 3');
    expect(invalid(ring8('security: { secure: true }\n'))).toContain('security.secure: unknown key; expected one of enabled, endToEnd, revoked, foreignTrustDomain, invalidCertificate, svidTtlS');
    expect(invalid(ring8('links: { asymmetric: 1 }\n'))).toContain('links.asymmetric: expected true or false; got 1');
    expect(invalid(ring8('description: 5\n'))).toContain('description: expected a string of at most 4096 characters; got 5');
    expect(invalid(ring8('links: 5\n'))).toContain('scenarios/x.yaml: links: expected a mapping; got 5');
    expect(invalid('name: t\ntopology: ring\n')).toContain('topology: expected a mapping with a kind; got "ring"');
    expect(faultMessage('3')).toContain('faults[0]: expected a mapping with a kind; got 3');
    expect(invalid(ring8('faults: { kind: nodeDown }\n'))).toContain('faults: expected a list of at most 1000 faults; got {"kind":"nodeDown"}');
    expect(faultMessage('{ kind: linkCut, link: [1], atS: 1 }')).toContain('faults[0].link: expected a link [a, b] of two node indexes; got [1]');
    expect(faultMessage('{ kind: linkCut, link: [1, x], atS: 1 }')).toContain('faults[0].link[1]: expected a node index in 0..19999; got "x"');
    expect(invalid(ring8('traffic: { pairs: 3 }\n'))).toContain('traffic.pairs: expected a list of at most 10000 node index pairs [a, b]; got 3');
    expect(invalid('name: t\ntopology: { kind: edges, file: "" }\n')).toContain('topology.file: expected a file path; got ""');
  });

  it('describes found values of every shape', () => {
    expect(invalid(ring8('seed: null\n'))).toContain('seed: expected an integer in 0..4294967295; got null');
    expect(invalid(ring8('seed: true\n'))).toContain('got true');
    expect(invalid(ring8('seed: .inf\n'))).toContain('got Infinity');
    expect(invalid(ring8('seed: .nan\n'))).toContain('got NaN');
    expect(invalid(ring8('seed: { a: 1 }\n'))).toContain('got {"a":1}');
    expect(invalid(ring8(`seed: { ${'k'.repeat(70)}: 1 }\n`))).toContain('seed: expected an integer in 0..4294967295; got a mapping');
    expect(invalid(ring8(`seed: [${'1, '.repeat(40)}1]\n`))).toContain('got a list of 41 items');
    expect(invalid(ring8('seed: &x [*x]\n'))).toContain('got a list of 1 item');
    const long = invalid(`name: ${'a'.repeat(100)}\ntopology: { kind: ring, nodes: 8 }\n`);
    expect(long).toContain(`name: expected a name of 1..64 characters from a-z, 0-9 and -; got "${'a'.repeat(57)}..."`);
  });

  it('reports values out of range', () => {
    expect(invalid(ring8('links: { loss: 1 }\n'))).toContain('links.loss: expected a number in [0, 1); got 1');
    expect(invalid(ring8('links: { bandwidthMbps: 0 }\n'))).toContain('links.bandwidthMbps: expected a number in (0, 100000]; got 0');
    expect(invalid(ring8('links: { queueBytes: 1000 }\n'))).toContain('links.queueBytes: expected an integer in 1500..67108864; got 1000');
    expect(invalid(ring8('traffic: { ratePps: 10001, payloadBytes: 1201 }\n'))).toContain('traffic.ratePps: expected a number in (0, 10000]; got 10001');
    expect(invalid(ring8('timing: { durationS: 0 }\n'))).toContain('timing.durationS: expected a number in (0, 604800]; got 0');
    expect(invalid(ring8('seed: -1\n'))).toContain('seed: expected an integer in 0..4294967295; got -1');
    expect(invalid(ring8('seeds: 65\n'))).toContain('seeds: expected an integer in 1..64; got 65');
    expect(invalid('name: t\ntopology: { kind: ring, nodes: 2 }\n')).toContain('topology.nodes: expected an integer in 3..20000; got 2');
    expect(invalid('name: t\ntopology: { kind: line, nodes: 20001 }\n')).toContain('topology.nodes: expected an integer in 2..20000; got 20001');
    expect(invalid(ring8(`faults: [${'{ kind: nodeDown, node: 1, atS: 1 }, '.repeat(1001)}]\n`))).toContain(
      'faults: expected a list of at most 1000 faults; got a list of 1001 items',
    );
    expect(invalid('name: Ring_1\ntopology: { kind: ring, nodes: 8 }\n')).toContain('name: expected a name of 1..64 characters from a-z, 0-9 and -; got "Ring_1"');
  });

  it('reports a bad enum value with the allowed values', () => {
    const message = scenarioError(() => loadScenario(fixture('bad-fault-kind.yaml'))).message;
    expect(message).toBe(
      `${fixture('bad-fault-kind.yaml')}: faults[2].kind: expected one of linkFailure, nodeCrash, linkCut, nodeDown, flap, degrade, partition, churn, greyHole, blackHole, slowDegradation, congestion, cpuExhaustion, memoryExhaustion, bogusMetrics, censorship; got "linkfail"`,
    );
    expect(invalid(ring8('profile: slow\n'))).toContain('profile: expected one of fast, rfc8966; got "slow"');
    expect(invalid('name: t\ntopology: { kind: star, nodes: 8 }\n')).toContain('topology.kind: expected one of line, ring, grid, rgg, ba, edges; got "star"');
    expect(faultMessage('{ kind: partition, mode: thirds, atS: 1 }')).toContain(
      'faults[0].mode: expected one of halves, randomHalves, isolate, bridge, majorityRing, oneWay; got "thirds"',
    );
    expect(faultMessage('{ kind: nodeCrash, count: 1, startS: 1, everyS: 1, target: all }')).toContain('faults[0].target: expected one of onPath, any; got "all"');
  });

  it('reports missing required fields', () => {
    expect(invalid('name: t\n')).toBe('scenarios/x.yaml: topology: missing; expected a mapping with a kind');
    expect(invalid('topology: { kind: line, nodes: 3 }\n')).toContain('name: missing; expected a name of 1..64 characters');
    expect(invalid('name: t\ntopology: { kind: line }\n')).toContain('topology.nodes: missing; expected an integer in 2..20000');
    expect(invalid('name: t\ntopology: { kind: grid, rows: 2 }\n')).toContain('topology.cols: missing; expected an integer in 1..20000');
    expect(invalid('name: t\ntopology: { nodes: 3 }\n')).toContain('topology.kind: missing; expected one of line, ring');
    expect(invalid(ring8('links: { delayMs: { min: 1 } }\n'))).toContain('links.delayMs.max: missing; expected a number in [0, 10000]');
    expect(faultMessage('{ kind: linkFailure, startS: 1, everyS: 5 }')).toContain('faults[0].count: missing; expected an integer in 1..100000');
    expect(faultMessage('{ kind: degrade, atS: 1, loss: 0.1 }')).toContain('faults[0].untilS: missing; expected a number in [0, 604800]');
  });

  it('reports every issue of a file, one per line', () => {
    const error = scenarioError(() => parseScenario('name: X\nseed: -1\ntopology: { kind: line }\n', 'x.yaml'));
    expect(error.issues.map((i) => i.path)).toEqual(['name', 'seed', 'topology.nodes']);
    expect(error.message.split('\n').every((line) => line.startsWith('x.yaml: '))).toBe(true);
  });

  it('reports a document that is not a mapping', () => {
    expect(invalid('- 1\n')).toBe('scenarios/x.yaml: expected a mapping; got [1]');
    expect(invalid('')).toBe('scenarios/x.yaml: expected a mapping; got null');
  });
});

describe('parseScenario: YAML errors carry line and column', () => {
  it('reports a syntax error with its position', () => {
    const error = scenarioError(() => loadScenario(fixture('syntax.yaml')));
    expect(error.message).toMatch(/syntax\.yaml: line 5, column 1: invalid YAML: Flow sequence/);
  });

  it('reports duplicate keys, several documents and unknown tags', () => {
    expect(invalid('name: a\nname: b\n')).toMatch(/^scenarios\/x\.yaml: line 2, column 1: invalid YAML: Map keys must be unique/);
    expect(invalid('name: a\n---\nname: b\n')).toMatch(/line 2, column 1: invalid YAML: .*multiple documents/);
    expect(invalid(ring8('seed: !big 5\n'))).toMatch(/line 3, column 7: invalid YAML: Unresolved tag: !big/);
  });

  it('reports an alias without an anchor', () => {
    expect(invalid(ring8('seed: *nope\n'))).toMatch(/^scenarios\/x\.yaml: invalid YAML: .*Unresolved alias/);
  });

  it('rejects text over the size limit before parsing it', () => {
    const text = `# ${'x'.repeat(scenarioLimits.bytesMax)}\n`;
    expect(invalid(text)).toBe(`scenarios/x.yaml: expected a file of at most ${scenarioLimits.bytesMax} bytes; got ${text.length} bytes`);
  });
});

describe('loadScenario: read errors', () => {
  it('names a missing file', () => {
    const path = fixture('no-such-scenario.yaml');
    const error = scenarioError(() => loadScenario(path), 'ERR_SCENARIO_READ');
    expect(error.message).toContain(`${path}: cannot read the scenario file: ENOENT`);
  });

  it('names a folder given as a file', () => {
    expect(scenarioError(() => loadScenario(fixtures), 'ERR_SCENARIO_READ').message).toContain('EISDIR');
  });

  it('rejects a file over the size limit without reading it', () => {
    const path = join(tempDir, 'huge.yaml');
    writeFileSync(path, Buffer.alloc(scenarioLimits.bytesMax + 1, 0x20));
    const error = scenarioError(() => loadScenario(path));
    expect(error.message).toBe(`${path}: expected a file of at most ${scenarioLimits.bytesMax} bytes; got ${scenarioLimits.bytesMax + 1} bytes`);
  });
});

describe('parseScenario: static checks across fields', () => {
  it('reports fault times outside the run', () => {
    const file = fixture('late-fault.yaml');
    const error = scenarioError(() => loadScenario(file));
    expect(error.message.split('\n')).toEqual([
      `${file}: faults[0].atS: expected a time within the run, <= 40 s (warmupS + durationS); got 45`,
      `${file}: faults[1].untilS: expected untilS within the run, <= 40 s (warmupS + durationS); got 41`,
      `${file}: faults[2].node: expected a node index in 0..19 (the topology has 20 nodes); got 20`,
    ]);
  });

  it('reports recurring faults whose last event falls after the run', () => {
    expect(faultMessage('{ kind: linkFailure, count: 8, startS: 10, everyS: 10 }')).toContain(
      'faults[0].count: expected the last failure (startS + (count - 1) * everyS) within the run, <= 70 s (warmupS + durationS); got 80',
    );
    expect(faultMessage('{ kind: nodeCrash, count: 1, startS: 71, everyS: 10 }')).toContain('faults[0].startS: expected a time within the run, <= 70 s');
    expect(faultMessage('{ kind: flap, link: [0, 1], atS: 60, periodS: 4, count: 4 }')).toContain(
      'faults[0].count: expected the last flap (atS + (count - 1) * periodS) within the run, <= 70 s (warmupS + durationS); got 72',
    );
    expect(faultMessage('{ kind: churn, ratePerMin: 2, startS: 10, untilS: 71 }')).toContain(
      'faults[0].untilS: expected untilS within the run, <= 70 s (warmupS + durationS); got 71',
    );
    expect(faultMessage('{ kind: partition, mode: halves, atS: 10, healS: 75 }')).toContain('faults[0].healS: expected healS within the run');
    expect(faultMessage('{ kind: degrade, atS: 80, untilS: 90, loss: 0.5 }')).toContain('faults[0].atS: expected a time within the run');
  });

  it('reports end times that do not come after the start', () => {
    expect(faultMessage('{ kind: linkCut, link: [0, 1], atS: 10, untilS: 10 }')).toContain('faults[0].untilS: expected a time after atS (10); got 10');
    expect(faultMessage('{ kind: degrade, atS: 10, untilS: 5, loss: 0.1 }')).toContain('faults[0].untilS: expected a time after atS (10); got 5');
    expect(faultMessage('{ kind: partition, mode: bridge, atS: 10, healS: 2 }')).toContain('faults[0].healS: expected a time after atS (10); got 2');
    expect(faultMessage('{ kind: churn, ratePerMin: 2, startS: 10, untilS: 10 }')).toContain('faults[0].untilS: expected a time after startS (10); got 10');
  });

  it('reports node and link indexes outside the topology', () => {
    expect(faultMessage('{ kind: nodeDown, node: 8, atS: 1 }')).toContain('faults[0].node: expected a node index in 0..7 (the topology has 8 nodes); got 8');
    expect(faultMessage('{ kind: linkCut, link: [9, 10], atS: 1 }')).toContain('faults[0].link[0]: expected a node index in 0..7');
    expect(faultMessage('{ kind: linkCut, link: [9, 10], atS: 1 }')).toContain('faults[0].link[1]: expected a node index in 0..7');
    expect(faultMessage('{ kind: partition, mode: isolate, atS: 1, node: 12 }')).toContain('faults[0].node: expected a node index in 0..7');
    expect(faultMessage('{ kind: degrade, link: [1, 1], atS: 1, untilS: 2, loss: 0.1 }')).toContain(
      'faults[0].link: expected two different node indexes; got [1,1]',
    );
    expect(invalid(ring8('traffic: { pairs: [[0, 1], [2, 2], [3, 8]] }\n'))).toMatch(
      /traffic\.pairs\[1\]: expected two different node indexes; got \[2,2\]\n.*traffic\.pairs\[2\]\[1\]: expected a node index in 0\.\.7/,
    );
  });

  it('reports links that the line, ring or grid topology does not have', () => {
    expect(faultMessage('{ kind: flap, link: [0, 2], atS: 1, periodS: 1, count: 1 }')).toContain(
      'faults[0].link: expected a link of the ring topology; got [0,2]',
    );
    const cut = (topology: string, link: string): string =>
      invalid(`name: t\ntopology: ${topology}\nfaults: [{ kind: linkCut, link: ${link}, atS: 1 }]\n`);
    expect(cut('{ kind: line, nodes: 5 }', '[4, 0]')).toContain('faults[0].link: expected a link of the line topology; got [4,0]');
    // In a 2 x 3 grid node 2 ends the first row and node 3 starts the second: not neighbours.
    expect(cut('{ kind: grid, rows: 2, cols: 3 }', '[2, 3]')).toContain('expected a link of the grid topology; got [2,3]');
    expect(cut('{ kind: grid, rows: 2, cols: 3 }', '[0, 4]')).toContain('expected a link of the grid topology; got [0,4]');
    // Random graphs decide their links from the seed, so any in-range pair is accepted.
    expect(parseScenario(`name: t\ntopology: { kind: ba, nodes: 9 }\nfaults: [{ kind: linkCut, link: [0, 8], atS: 1 }]\n`, 't').faults).toHaveLength(1);
  });

  it('reports a node on a partition mode that takes none, and a degrade that changes nothing', () => {
    expect(faultMessage('{ kind: partition, mode: halves, atS: 1, node: 3 }')).toContain('faults[0].node: expected no node (only mode isolate takes one); got 3');
    expect(faultMessage('{ kind: degrade, atS: 1, untilS: 2 }')).toContain(
      'faults[0].loss: expected loss > 0 or extraDelayMs > 0 (otherwise the fault does nothing); got 0',
    );
  });

  it('reports flows that disagree with pairs, a delay range upside down and seeds past 32 bits', () => {
    expect(invalid(ring8('traffic: { flows: 5, pairs: [[0, 1]] }\n'))).toContain('traffic.flows: expected the number of pairs (1) or no flows key; got 5');
    expect(invalid(ring8('links: { delayMs: { min: 30, max: 10 } }\n'))).toContain('links.delayMs.max: expected a number >= min (30); got 10');
    expect(invalid(ring8('seed: 4294967295\nseeds: 2\n'))).toContain('seeds: expected seed + seeds - 1 <= 4294967295; got 4294967296');
  });

  it('reports topology parameters that do not fit together', () => {
    expect(invalid('name: t\ntopology: { kind: grid, rows: 1, cols: 1 }\n')).toContain('topology.rows: expected rows * cols in 2..20000; got 1');
    expect(invalid('name: t\ntopology: { kind: grid, rows: 200, cols: 101 }\n')).toContain('topology.rows: expected rows * cols in 2..20000; got 20200');
    expect(invalid('name: t\ntopology: { kind: rgg, nodes: 5 }\n')).toContain('topology.avgDegree: expected a number below nodes - 1 (4); got 8');
    expect(invalid('name: t\ntopology: { kind: ba, nodes: 3, m: 3 }\n')).toContain('topology.m: expected an integer below nodes (3); got 3');
  });
});

describe('applyOverrides', () => {
  const base = loadScenario(fixture('full.yaml'));

  it('sets seed, seeds and profile and keeps everything else', () => {
    const result = applyOverrides(base, { seed: 7, seeds: 10, profile: 'fast' });
    expect(result).toEqual({ ...base, seed: 7, seeds: 10, profile: 'fast' });
    expect(base.seed).toBe(42);
    expect(applyOverrides(base, {})).toEqual(base);
  });

  it('treats an override given as undefined as absent', () => {
    const overrides = { seed: undefined } as unknown as ScenarioOverrides;
    expect(applyOverrides(base, overrides).seed).toBe(42);
  });

  it('changes the node count of line, ring, rgg and ba topologies', () => {
    const ring = parseScenario(ring8('faults: [{ kind: linkCut, link: [6, 7], atS: 1 }]\n'), 'r.yaml');
    expect(applyOverrides(ring, { nodes: 9 }).topology).toEqual({ kind: 'ring', nodes: 9 });
    expect(applyOverrides(loadScenario(fixture('minimal.yaml')), { nodes: 9 }).topology).toEqual({ kind: 'line', nodes: 9 });
    const rgg = parseScenario('name: r\ntopology: { kind: rgg, nodes: 100, avgDegree: 6 }\n', 'r.yaml');
    expect(applyOverrides(rgg, { nodes: 500 }).topology).toEqual({ kind: 'rgg', nodes: 500, avgDegree: 6 });
  });

  it('makes a grid square with about the requested node count', () => {
    const grid = parseScenario('name: g\ntopology: { kind: grid, rows: 2, cols: 8 }\n', 'g.yaml');
    expect(applyOverrides(grid, { nodes: 1000 }).topology).toEqual({ kind: 'grid', rows: 32, cols: 32, nodes: 1024 });
    expect(applyOverrides(grid, { nodes: 30 }).topology).toEqual({ kind: 'grid', rows: 5, cols: 5, nodes: 25 });
  });

  it('rejects bad override values, naming the override', () => {
    expect(scenarioError(() => applyOverrides(base, { nodes: 1 })).message).toBe(
      'scenario "ring-full-1" overrides: nodes: expected an integer in 2..20000; got 1',
    );
    expect(scenarioError(() => applyOverrides(base, { seeds: 0 })).message).toContain('seeds: expected an integer in 1..64; got 0');
    const slow = { profile: 'slow' } as unknown as ScenarioOverrides;
    expect(scenarioError(() => applyOverrides(base, slow)).message).toContain('profile: expected one of fast, rfc8966; got "slow"');
    const typo = { node: 5 } as unknown as ScenarioOverrides;
    expect(scenarioError(() => applyOverrides(base, typo)).message).toContain('node: unknown key; expected one of seed, seeds, nodes, profile');
  });

  it('validates the result like a file', () => {
    const error = scenarioError(() => applyOverrides(base, { nodes: 6 }));
    expect(error.source).toBe('scenario "ring-full-1" with overrides');
    expect(error.message).toContain('scenario "ring-full-1" with overrides: traffic.pairs[0][1]: expected a node index in 0..5 (the topology has 6 nodes); got 6');
    expect(error.message).toContain('faults[4].link[0]: expected a node index in 0..5 (the topology has 6 nodes); got 11');
    // On a larger ring the wrap-around link 11-0 of the file is no longer a link.
    expect(scenarioError(() => applyOverrides(base, { nodes: 40 })).message).toBe(
      'scenario "ring-full-1" with overrides: faults[4].link: expected a link of the ring topology; got [11,0]',
    );
    const ba = parseScenario('name: b\ntopology: { kind: ba, nodes: 10, m: 4 }\n', 'b.yaml');
    expect(scenarioError(() => applyOverrides(ba, { nodes: 4 })).message).toContain('topology.m: expected an integer below nodes (4); got 4');
    const grid = parseScenario('name: g\ntopology: { kind: grid, rows: 2, cols: 2 }\n', 'g.yaml');
    expect(scenarioError(() => applyOverrides(grid, { nodes: 2 })).message).toContain('topology.rows: expected rows * cols in 2..20000; got 1');
  });

  it('refuses a node count for an edge-list topology', () => {
    const edges = loadScenario(fixture('edges/from-file.yaml'));
    expect(scenarioError(() => applyOverrides(edges, { nodes: 10 })).message).toBe(
      'scenario "from-file" overrides: nodes: expected no nodes override for an edges topology (its file fixes the node count); got 10',
    );
    expect(applyOverrides(edges, { seed: 3 }).topology).toEqual(edges.topology);
  });
});
