import { describe, expect, it } from 'vitest';
import { assembleSeed, runScenario } from '../../src/twin/runner.js';
import { parseScenario } from '../../src/twin/scenario.js';

const secure100 = `name: secure-100
topology: { kind: rgg, nodes: 100, avgDegree: 4 }
timing: { warmupS: 4, durationS: 1, settleS: 1 }
traffic: { flows: 4, ratePps: 100 }
security: { enabled: true }
`;

const misbehaving = `name: secure-misbehaving
topology: { kind: rgg, nodes: 16, avgDegree: 4 }
timing: { warmupS: 4, durationS: 1, settleS: 0 }
traffic: { pairs: [[0, 1]], ratePps: 10 }
security: { enabled: true, revoked: [3], foreignTrustDomain: [5], invalidCertificate: [7] }
`;

describe('the twin with the secure link layer', () => {
  it('brings up every link of a 100-node mesh with real certificates and handshakes, and routes over them', () => {
    const report = runScenario(parseScenario(secure100, 'secure-100.yaml'));
    expect(report.security).toMatchObject({ securedLinks: report.links, handshakesRefused: 0, credentialsRefused: 0, framesRefused: 0, isolatedNodes: [] });
    expect(report.security!.handshakesCompleted).toBeGreaterThanOrEqual(2 * report.links);
    expect(report.deliveryRatio.steady).toBe(1);
    expect(report.transientLoops).toBe(0);
    expect(report.oracle?.missing).toBe(0);
  });

  it('never gives a session to a node with a revoked SVID, an SVID of another trust domain, or no certificate', () => {
    const scenario = parseScenario(misbehaving, 'misbehaving.yaml');
    const report = runScenario(scenario);
    expect(report.security!.isolatedNodes).toEqual([3, 5, 7]);
    expect(report.security!.credentialsRefused).toBeGreaterThan(0);
    const run = assembleSeed(scenario, scenario.seed);
    run.network.runUntil(5000);
    for (const bad of [3, 5, 7]) {
      expect(run.network.nodes[bad]!.mesh!.neighbourViews().filter((n) => n.usable)).toEqual([]);
      for (const edge of run.network.nodes[bad]!.edges) {
        const peer = run.network.peerOf(run.network.edges[edge]!, bad);
        expect(run.secureNodes.get(peer)!.isSecured(edge as never)).toBe(false);
      }
    }
  });

  it('is deterministic: the same seed gives the same report', () => {
    const scenario = parseScenario(misbehaving, 'misbehaving.yaml');
    const strip = (r: ReturnType<typeof runScenario>): unknown => ({ ...r, wallMs: 0, eventsPerS: 0 });
    expect(strip(runScenario(scenario))).toEqual(strip(runScenario(scenario)));
  });
});

describe('SVID rotation in the twin', () => {
  it('renews every SVID at half of its lifetime and keeps every link up across the old ones expiring', () => {
    const report = runScenario(
      parseScenario(
        `name: rotation
topology: { kind: ring, nodes: 6 }
timing: { warmupS: 5, durationS: 55, settleS: 1 }
traffic: { flows: 2, ratePps: 10 }
security: { enabled: true, svidTtlS: 20 }
`,
        'rotation.yaml',
      ),
    );
    // 61 s with 20 s SVIDs renewed at 45-55 %: five or six renewals per node.
    expect(report.security!.svidRenewals).toBeGreaterThanOrEqual(6 * 5);
    expect(report.security).toMatchObject({ securedLinks: 6, peersDropped: 0, isolatedNodes: [] });
    expect(report.detectMs.count).toBe(0);
    expect(report.deliveryRatio.steady).toBe(1);
  });
});

describe('flows end to end in the twin', () => {
  it('delivers every flow packet through end-to-end sessions, traced by its own id', () => {
    const report = runScenario(
      parseScenario(
        `name: e2e
topology: { kind: rgg, nodes: 12, avgDegree: 4 }
timing: { warmupS: 4, durationS: 3, settleS: 2 }
traffic: { flows: 4, ratePps: 20 }
security: { enabled: true, endToEnd: true }
`,
        'e2e.yaml',
      ),
    );
    expect(report.deliveryRatio.steady).toBe(1);
    expect(report.security!.securedLinks).toBe(report.links);
  });
});
