import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NeighbourInfo, RouteInfo } from '../../src/api/backend.js';
import { LocalCluster } from '../../src/node/cluster.js';
import { LiveTraffic, type Flow } from '../../src/node/live-traffic.js';
import { canCreateNamespaces, run, type NamespaceSupport } from '../../src/node/netns.js';
import { NetnsTopology, vethName } from '../../src/node/netns-topology.js';
import { until } from './until.js';

/**
 * Real node processes, each in its own network namespace, in a ring of four joined by veth
 * pairs: 0 - 1 - 2 - 3 - 0. The link 0-1 fails silently (an nftables rule in node 0's namespace
 * drops everything in and out of its veth; both ends stay up, so no node hears of it) while
 * flows cross it both ways, and the flows must come back, around the ring, within a second.
 *
 * Where namespaces cannot be created (not root, no `ip netns`, no `nft`) the test prints why and
 * returns without asserting: the one place where a test here may pass without checking
 * anything, as the issue allows for machines that cannot run it. .ci/run installs nftables.
 */

const nodes = 4;
const edges = [
  [0, 1],
  [1, 2],
  [2, 3],
  [3, 0],
] as const;
/** The bar of the issue: recovery from a silent link failure within a second. */
const recoveryMsMax = 1000;

let support: NamespaceSupport = { ok: false, reason: 'not probed' };
let topology: NetnsTopology | null = null;
let cluster: LocalCluster | null = null;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The kernel's view of a veth: UP unless someone set it (or its peer) down. */
async function operState(ns: string, name: string): Promise<string> {
  const [link] = JSON.parse(await run(['ip', '-n', ns, '-j', 'link', 'show', name])) as { operstate: string }[];
  return link!.operstate;
}

beforeAll(async () => {
  support = await canCreateNamespaces();
  if (!support.ok) return;
  topology = await NetnsTopology.create({ nodes, edges, management: true });
  cluster = await LocalCluster.create({
    root: mkdtempSync(join(tmpdir(), 'x0t-netns-')),
    nodes,
    edges,
    command: [process.execPath, '--import', 'tsx', 'src/cli/main.ts'],
    placement: topology.placement(),
  });
  for (let index = 0; index < nodes; index++) await cluster.start(index);
}, 120_000);

afterAll(async () => {
  // Each step runs even when the one before failed: no process, namespace or rule outlives the test.
  await cluster?.close().catch(() => undefined);
  await topology?.destroy();
});

describe('real node processes in network namespaces', () => {
  it('recover flows within a second from a silent link failure (an nftables drop, no link event)', async () => {
    if (!support.ok) {
      console.log(`netns test not run: cannot create network namespaces here (${support.reason})`);
      return;
    }
    const mesh = cluster!;
    const ids = mesh.nodes.map((node) => node.nodeId);
    // Every node has a route to every other before traffic starts.
    await until('all routes', async () => ((await Promise.all(mesh.nodes.map((node) => mesh.api<RouteInfo[]>(node.index, 'GET', '/v1/routes')))).every((table) => table.length === nodes - 1) ? true : null));
    const direct = (await mesh.api<RouteInfo[]>(0, 'GET', '/v1/routes')).find((route) => route.dst === ids[1]);
    expect(direct?.nextHop).toBe(ids[1]);

    const flows: Flow[] = [
      { id: 0, src: 0, dst: 1 },
      { id: 1, src: 1, dst: 0 },
    ];
    const traffic = new LiveTraffic(mesh, flows);
    await traffic.start();
    try {
      await sleep(1000);
      // The rule takes effect some time while `nft` runs: recovery counts from before the command, and only packets sent after it returned count as recovered.
      const faultAtMs = traffic.clock();
      await topology!.silence(0, 1);
      const inEffectAtMs = traffic.clock();
      await sleep(2000);
      traffic.stopSending();
      const recoveries = traffic.recoveries(flows, faultAtMs, inEffectAtMs);
      console.log(`netns silent failure of link 0-1 (nft took ${(inEffectAtMs - faultAtMs).toFixed(0)} ms): recovery ${recoveries.map((r) => `${r.flow.src}->${r.flow.dst} ${r.recoveryMs?.toFixed(0) ?? 'none'} ms (lost ${r.lost})`).join(', ')}`);
      for (const recovery of recoveries) {
        expect(recovery.recoveryMs, `flow ${recovery.flow.src}->${recovery.flow.dst}`).not.toBeNull();
        expect(recovery.recoveryMs!, `flow ${recovery.flow.src}->${recovery.flow.dst}`).toBeLessThan(recoveryMsMax);
      }
    } finally {
      traffic.close();
    }
    // The failure was silent: both veth ends are still up, so only missing packets told the nodes.
    expect(await operState(topology!.namespaces[0]!, vethName(1))).toBe('UP');
    expect(await operState(topology!.namespaces[1]!, vethName(0))).toBe('UP');
    // The route now goes around the ring, and node 0 has declared the silent neighbour down.
    const around = (await mesh.api<RouteInfo[]>(0, 'GET', '/v1/routes')).find((route) => route.dst === ids[1]);
    expect(around?.nextHop).toBe(ids[3]);
    const neighbours = await mesh.api<NeighbourInfo[]>(0, 'GET', '/v1/neighbours');
    expect(neighbours.find((neighbour) => neighbour.peerNodeId === ids[1])?.usable ?? false).toBe(false);

    // Lifting the drop brings the direct link back.
    await topology!.restore(0, 1);
    await until('the direct route again', async () => ((await mesh.api<RouteInfo[]>(0, 'GET', '/v1/routes')).find((route) => route.dst === ids[1])?.nextHop === ids[1] ? true : null));
  });
});
