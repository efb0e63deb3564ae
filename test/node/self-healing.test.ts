import { afterEach, describe, expect, it } from 'vitest';
import { CoreActuator } from '../../src/mapek/core-actuator.js';
import { MemoryKnowledge } from '../../src/mapek/knowledge.js';
import { MapeK } from '../../src/mapek/loop.js';
import { encodeCertificateRequest } from '../../src/mapek/report-codec.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import type { LinkMessageEvent } from '../../src/mesh/types.js';
import type { NodeRuntime } from '../../src/node/runtime.js';
import { DaemonSelfHealing } from '../../src/node/self-healing.js';
import { nodeId } from '../../src/wire/ids.js';
import { allowAll, portOf, TestMesh, until } from './runtime-harness.js';

/**
 * The daemon's self-healing driver and the runtime's parts it uses, on real runtimes over UDP
 * loopback: link messages in sessions, the injected grey hole, window cuts and report exchange.
 */

const running: NodeRuntime[] = [];
const drivers: DaemonSelfHealing[] = [];

afterEach(async () => {
  for (const driver of drivers.splice(0)) driver.stop();
  await Promise.all(running.splice(0).map((runtime) => runtime.stop()));
});

interface Node {
  readonly runtime: NodeRuntime;
  readonly messages: LinkMessageEvent[];
  driver: DaemonSelfHealing | null;
}

/** A runtime peering with `peers`, whose link messages go to its driver (when it has one) and are recorded. */
async function node(mesh: TestMesh, id: number, peers: readonly Node[], dropTransitShare = 0): Promise<Node> {
  const entry: Node = { runtime: null as unknown as NodeRuntime, messages: [], driver: null };
  const runtime = mesh.runtime(mesh.identity(id), peers.map((peer) => portOf(peer.runtime)), allowAll, {
    faults: { dropTransitShare },
    onLinkMessage: (message, nowMs) => {
      entry.messages.push(message);
      entry.driver?.onLinkMessage(message, nowMs);
    },
  });
  (entry as { runtime: NodeRuntime }).runtime = runtime;
  await runtime.start();
  running.push(runtime);
  return entry;
}

function driverOf(mesh: TestMesh, entry: Node, errors: string[] = [], transitProbes = 0): DaemonSelfHealing {
  const runtime = entry.runtime;
  const loop = new MapeK(new CoreActuator({ links: () => runtime.mesh.neighbourViews(), input: (input) => runtime.step(input) }), new MemoryKnowledge(), () => undefined);
  const driver = new DaemonSelfHealing({
    runtime,
    loop,
    signingKey: runtime.identity.keys.ed25519PrivateKey,
    trustDomain: mesh.trustDomain,
    anchors: () => mesh.anchors,
    isRevoked: mesh.revocations.isRevoked,
    transitProbes,
    onError: (error, doing) => errors.push(`${doing}: ${error.message}`),
  });
  entry.driver = driver;
  drivers.push(driver);
  return driver;
}

describe('link messages and the injected grey hole in the runtime', () => {
  it('carries a link message to the peer\'s driver naming the sender; no session, or a stopped node, sends nothing', async () => {
    const mesh = new TestMesh();
    const a = await node(mesh, 1, []);
    const b = await node(mesh, 2, [a]);
    await until('a session between a and b', () => a.runtime.sessionPeers().length === 1 && b.runtime.sessionPeers().length === 1);
    const toB = a.runtime.sessionPeers()[0]!;
    expect(toB.peer).toBe(nodeId(2));
    expect(a.runtime.sendLinkMessage(toB.link, Uint8Array.of(0x90, 1, 2))).toBe(true);
    await until('the message at b', () => b.messages.length > 0);
    expect(b.messages[0]).toMatchObject({ kind: 'linkMessage', peer: nodeId(1), payload: Uint8Array.of(0x90, 1, 2) });
    expect(a.runtime.sendLinkMessage(99 as LinkId, Uint8Array.of(0x90))).toBe(false);
    await a.runtime.stop();
    expect(a.runtime.sendLinkMessage(toB.link, Uint8Array.of(0x90))).toBe(false);
  });

  it('a grey hole drops the data it forwards (and takes it off its counts) but not what it originates; its neighbours see it in their counts', async () => {
    const mesh = new TestMesh();
    const a = await node(mesh, 1, []);
    const b = await node(mesh, 2, [a], 1);
    const c = await node(mesh, 3, [b]);
    await until('routes across b', () => a.runtime.mesh.nextHopLink(nodeId(3)) !== null && c.runtime.mesh.nextHopLink(nodeId(1)) !== null);
    for (let id = 0; id < 20; id++) a.runtime.step({ kind: 'ping', dst: nodeId(3), id });
    b.runtime.step({ kind: 'ping', dst: nodeId(3), id: 100 });
    await until('the drops at b', () => b.runtime.faultDrops >= 20);
    const counts = (runtime: NodeRuntime, peer: number) => runtime.mesh.dataCounts().find((entry) => entry.peer === nodeId(peer))!;
    expect(counts(a.runtime, 2).handedTo).toBeGreaterThanOrEqual(20);
    expect(counts(b.runtime, 3).handedTo).toBe(0);
    await until('b\'s own ping at c', () => counts(c.runtime, 2).received >= 1);
    expect(counts(c.runtime, 2).receivedFrom).toBe(0);
    expect(b.runtime.faultInjection).toEqual({ dropTransitShare: 1 });
  });
});

describe('DaemonSelfHealing', () => {
  it('sends transit probes through a neighbour that carried none of its transit, and none through one that did', async () => {
    const mesh = new TestMesh();
    const a = await node(mesh, 1, []);
    const b = await node(mesh, 2, [a]);
    const c = await node(mesh, 3, [b]);
    await until('routes across b', () => a.runtime.mesh.nextHopLink(nodeId(3)) !== null && c.runtime.mesh.nextHopLink(nodeId(1)) !== null);
    const errors: string[] = [];
    const da = driverOf(mesh, a, errors, 3);
    const dc = driverOf(mesh, c, errors, 0);
    da.start();
    dc.start();
    // No traffic at all: at each window's end a sends 3 echo requests through b, to c (the nearest node beyond b).
    const counts = (runtime: NodeRuntime, peer: number) => runtime.mesh.dataCounts().find((entry) => entry.peer === nodeId(peer))!;
    await until('probes forwarded by b to c', () => counts(c.runtime, 2).receivedFrom >= 3, 5000);
    expect(da.probesTotal % 3).toBe(0);
    expect(dc.probesTotal).toBe(0);
    // While a sends its own transit through b every few milliseconds, b carries data from a in every window: no probes.
    const before = da.probesTotal;
    let id = 0;
    const busy = setInterval(() => a.runtime.step({ kind: 'send', dst: nodeId(3), id: id++, payload: Uint8Array.of(1) }), 20);
    try {
      const started = da.judge.stats.windows;
      await until('two more windows', () => da.judge.stats.windows >= started + 3, 6000);
      // At most the probes of the window the sends began in.
      expect(da.probesTotal - before).toBeLessThanOrEqual(3);
    } finally {
      clearInterval(busy);
    }
    expect(errors).toEqual([]);
  });

  it('cuts windows, signs and exchanges them over two hops, and judges them; it answers a request for its own certificate', async () => {
    const mesh = new TestMesh();
    const a = await node(mesh, 1, []);
    const b = await node(mesh, 2, [a]);
    const c = await node(mesh, 3, [b]);
    const [da, db, dc] = [driverOf(mesh, a), driverOf(mesh, b), driverOf(mesh, c)];
    for (const driver of [da, db, dc]) driver.start();
    // c's reports reach a through b; a fetches c's certificate from b first.
    await until('c\'s reports at a', () => da.exchange.stats.certificatesLearned >= 2 && da.exchange.stats.accepted >= 4, 15_000);
    expect(db.exchange.stats.relayed).toBeGreaterThan(0);
    expect(db.counters()).toMatchObject({ forged: 0, undecided: 0, late: 0 });
    expect(da.judge.stats.windows).toBeGreaterThan(0);
    const toB = a.runtime.sessionPeers()[0]!;
    const sent = db.exchange.stats.certificatesSent;
    db.onLinkMessage({ kind: 'linkMessage', link: b.runtime.sessionPeers().find((entry) => entry.peer === nodeId(1))!.link, peer: nodeId(1), payload: encodeCertificateRequest(nodeId(2)) }, Date.now());
    expect(db.exchange.stats.certificatesSent).toBe(sent + 1);
    // A certificate it does not hold (no session with that node) is not answered.
    db.onLinkMessage({ kind: 'linkMessage', link: toB.link, peer: nodeId(1), payload: encodeCertificateRequest(nodeId(77)) }, Date.now());
    expect(db.exchange.stats.certificatesSent).toBe(sent + 1);
    expect(toB.peer).toBe(nodeId(2));
  });

  it('reports an error in a window\'s work instead of throwing it into the event loop, and stops its timers', async () => {
    const mesh = new TestMesh();
    const a = await node(mesh, 1, []);
    const errors: string[] = [];
    const driver = driverOf(mesh, a, errors);
    (driver.judge as unknown as { judge: () => never }).judge = () => {
      throw new Error('judge broke');
    };
    driver.start();
    await until('an error report', () => errors.length > 0, 5000);
    expect(errors[0]).toBe('judging a transit window: judge broke');
    (driver.exchange as unknown as { receive: () => never }).receive = () => {
      throw new Error('exchange broke');
    };
    driver.onLinkMessage({ kind: 'linkMessage', link: 1 as LinkId, peer: nodeId(2), payload: Uint8Array.of(0x81) }, Date.now());
    expect(errors).toContain('handling a link message: exchange broke');
    driver.stop();
    driver.stop();
  });
});
