import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PingResult, RouteInfo } from '../../src/api/backend.js';
import { LocalCluster } from '../../src/node/cluster.js';
import { until } from './until.js';

/**
 * Real node processes on loopback: 0 - 1 - 2 - 3 with a bypass 0 - 4 - 2, so the route from 0
 * to 3 has three hops and two ways through its middle.
 */
const edges = [
  [0, 1],
  [1, 2],
  [2, 3],
  [0, 4],
  [4, 2],
] as const;

let cluster: LocalCluster;

async function routes(index: number): Promise<RouteInfo[]> {
  return cluster.api<RouteInfo[]>(index, 'GET', '/v1/routes');
}

beforeAll(async () => {
  cluster = await LocalCluster.create({ root: mkdtempSync(join(tmpdir(), 'x0t-e2e-')), nodes: 5, edges, command: [process.execPath, '--import', 'tsx', 'src/cli/main.ts'] });
  for (let index = 0; index < 5; index++) await cluster.start(index);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

describe('real node processes on loopback', () => {
  it('bring up sessions and a three-hop route, and deliver across it', async () => {
    const toThree = await until('a route from 0 to 3', async () => (await routes(0)).find((route) => route.dst === cluster.nodes[3]!.nodeId) ?? null);
    expect([cluster.nodes[1]!.nodeId, cluster.nodes[4]!.nodeId]).toContain(toThree.nextHop);
    const ping = await cluster.api<PingResult>(0, 'POST', '/v1/ping', { dst: cluster.nodes[3]!.nodeId, count: 2, intervalMs: 50, timeoutMs: 2000 });
    expect(ping.replies.map((reply) => reply.outcome)).toEqual(['reply', 'reply']);
    const trace = await cluster.api<{ nodeId: string | null }[]>(0, 'POST', '/v1/traceroute', { dst: cluster.nodes[3]!.nodeId, maxHops: 8, timeoutMs: 2000 });
    expect(trace.map((hop) => hop.nodeId)).toEqual([toThree.nextHop, cluster.nodes[2]!.nodeId, cluster.nodes[3]!.nodeId]);
  });

  it('fails over within a second of kill -9 of the middle node, and the node rejoins after a restart without going back in seqno', async () => {
    const before = (await routes(0)).find((route) => route.dst === cluster.nodes[3]!.nodeId)!;
    const middle = cluster.nodes.findIndex((node) => node.nodeId === before.nextHop);
    const seqnoBefore = (await routes(0)).find((route) => route.dst === cluster.nodes[middle]!.nodeId)!.seqno;
    const killedAt = Date.now();
    await cluster.kill(middle);
    const after = await until('a route around the dead node', async () => {
      const route = (await routes(0)).find((r) => r.dst === cluster.nodes[3]!.nodeId);
      return route !== undefined && route.nextHop !== before.nextHop ? route : null;
    });
    const failoverMs = Date.now() - killedAt;
    expect(after.nextHop).not.toBe(before.nextHop);
    expect(failoverMs).toBeLessThan(1000);
    const ping = await cluster.api<PingResult>(0, 'POST', '/v1/ping', { dst: cluster.nodes[3]!.nodeId, count: 1, intervalMs: 50, timeoutMs: 2000 });
    expect(ping.replies[0]!.outcome).toBe('reply');

    await cluster.start(middle);
    const back = await until('the restarted node', async () => (await routes(0)).find((route) => route.dst === cluster.nodes[middle]!.nodeId) ?? null);
    const advance = (back.seqno - seqnoBefore + 0x10000) % 0x10000;
    expect(advance).toBeGreaterThanOrEqual(1);
    expect(advance).toBeLessThanOrEqual(4);
  });
});
