import { afterEach, describe, expect, it } from 'vitest';
import type { MeshEvent } from '../../src/mesh/types.js';
import type { NodeRuntime } from '../../src/node/runtime.js';
import { nodeId } from '../../src/wire/ids.js';
import { portOf, TestMesh, until } from './runtime-harness.js';

const running: NodeRuntime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((runtime) => runtime.stop()));
});

async function started(runtime: NodeRuntime): Promise<NodeRuntime> {
  await runtime.start();
  running.push(runtime);
  return runtime;
}

describe('NodeRuntime: the secure mesh core on real UDP sockets', () => {
  it('three nodes in a line bring up sessions, learn routes over two hops, and deliver a datagram end to end', async () => {
    const mesh = new TestMesh();
    const delivered: MeshEvent[] = [];
    const a = await started(mesh.runtime(mesh.identity(1), []));
    const b = await started(mesh.runtime(mesh.identity(2), [portOf(a)]));
    const c = await started(mesh.runtime(mesh.identity(3), [portOf(b)], undefined, { onEvent: (event) => delivered.push(event) }));
    await until('a route from a to c', () => a.mesh.nextHopLink(nodeId(3)) !== null && c.mesh.nextHopLink(nodeId(1)) !== null);
    // a learnt b's address from b's first datagram: a provisional link.
    expect(a.links.all().map((record) => record.configured)).toEqual([false]);
    expect(c.mesh.routes().find((route) => route.dst === nodeId(1))).toMatchObject({ nextHop: nodeId(2) });
    a.step({ kind: 'send', dst: nodeId(3), id: 7, payload: new TextEncoder().encode('hello over two hops') });
    await until('the datagram at c', () => delivered.some((event) => event.kind === 'delivered'));
    const datagram = delivered.find((event) => event.kind === 'delivered');
    expect(datagram).toMatchObject({ src: nodeId(1), id: 7 });
    expect(new TextDecoder().decode((datagram as { payload: Uint8Array }).payload)).toBe('hello over two hops');
    expect(b.mesh.stats.dataForwarded).toBeGreaterThan(0);
  });
});
