import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NetworkKeyRing, type NetworkKeyEpoch } from '../../src/crypto/network-key-ring.js';
import { sealHandshakeFragment } from '../../src/crypto/obfuscation.js';
import { endpointOf } from '../../src/node/links.js';
import type { NodeRuntime } from '../../src/node/runtime.js';
import { dialledConnectionsMax, TcpTransport } from '../../src/node/tcp.js';
import { nodeId } from '../../src/wire/ids.js';
import { seeded } from '../seeded.js';
import { TestMesh, until } from './runtime-harness.js';

const running: NodeRuntime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((runtime) => runtime.stop()));
});

const loopback = { host: '127.0.0.1', port: 0, family: 4 } as const;

function tcpPort(runtime: NodeRuntime): number {
  return Number(runtime.tcpAddresses()[0]!.split(':').at(-1));
}

describe('TCP transport: the secure mesh over a byte stream', () => {
  it('two nodes peer over TCP only, route and deliver; the dialling side redials after the listener restarts', async () => {
    const mesh = new TestMesh();
    const one = mesh.runtime(mesh.identity(1), [], undefined, { udp: [], tcp: [loopback] });
    await one.start();
    running.push(one);
    const port = tcpPort(one);
    const delivered: string[] = [];
    const two = mesh.runtime(mesh.identity(2), [], undefined, {
      udp: [],
      peers: [endpointOf('tcp', '127.0.0.1', port)],
      onEvent: (event) => {
        if (event.kind === 'delivered') delivered.push(new TextDecoder().decode(event.payload));
      },
    });
    await two.start();
    running.push(two);
    await until('a TCP session and routes', () => two.mesh.nextHopLink(nodeId(1)) !== null && one.mesh.nextHopLink(nodeId(2)) !== null);
    expect(one.links.all().map((record) => record.endpoint.transport)).toEqual(['tcp']);
    one.step({ kind: 'send', dst: nodeId(2), id: 1, payload: new TextEncoder().encode('over tcp') });
    await until('delivery over tcp', () => delivered.includes('over tcp'));
    expect(one.tcpStats()!.accepted).toBe(1);
    expect(two.tcpStats()!.framesIn).toBeGreaterThan(0);
    expect(one.udpAddresses()).toEqual([]);

    // The listener dies and comes back on the same port: the dialler reconnects by itself.
    await one.abort();
    const again = mesh.runtime(mesh.identity(1), [], undefined, { udp: [], tcp: [{ ...loopback, port }] });
    await again.start();
    running.push(again);
    await until('routes again after the redial', () => again.mesh.nextHopLink(nodeId(2)) !== null, 30_000);
  });

  it('answers a prober sending random bytes with nothing, and keeps the connection open', async () => {
    const mesh = new TestMesh();
    const node = mesh.runtime(mesh.identity(1), [], undefined, { udp: [], tcp: [loopback] });
    await node.start();
    running.push(node);
    const socket = connect({ host: '127.0.0.1', port: tcpPort(node) });
    const received: Buffer[] = [];
    let closed = false;
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('close', () => (closed = true));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.alloc(600, 0x41));
    await until('the transport to give up decoding', () => node.tcpStats()!.undecodable === 1);
    socket.write(Buffer.alloc(5000, 0x42));
    // A round trip through the node's event loop: a ping of its own API would do; a 200 ms wait bounds it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toEqual([]);
    expect(closed).toBe(false);
    // No frame decoded, so no link either: a prober costs the node one socket, no mesh state.
    expect(node.links.all()).toHaveLength(0);
    expect(node.secure.stats.framesRefused).toBe(0);
    socket.destroy();
  });

  it('refuses a listen address it cannot bind, naming it', async () => {
    const first = await TcpTransport.open([loopback], new Uint8Array(32), () => undefined);
    const port = Number(first.addresses()[0]!.split(':').at(-1));
    await expect(TcpTransport.open([{ ...loopback, port }], new Uint8Array(32), () => undefined)).rejects.toThrow(`tcp: cannot listen on 127.0.0.1:${port}`);
    first.send(endpointOf('tcp', '127.0.0.1', 1), new Uint8Array(100));
    expect(first.stats.sendErrors).toBe(1);
    await first.close();
  });
});

/** A client connection to `port` from `localAddress`, with what it received and whether it was closed. */
async function probe(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; received: Buffer[]; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const received: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, received, closed: () => closed };
}

describe('TCP transport: connection limits', () => {
  it('closes the connection beyond perAddressMax from one address without a byte, counts it, and takes that address again once one leaves', async () => {
    const transport = await TcpTransport.open([loopback], new Uint8Array(32), () => undefined, { acceptedMax: 10, perAddressMax: 2 });
    const port = Number(transport.addresses()[0]!.split(':').at(-1));
    try {
      const first = await probe(port);
      const second = await probe(port);
      await until('two accepted', () => transport.stats.accepted === 2);
      const third = await probe(port);
      await until('the third closed', () => third.closed());
      expect(third.received).toEqual([]);
      expect(transport.stats).toMatchObject({ accepted: 2, refusedPerAddress: 1, refusedTotal: 0 });
      // Another address (127.0.0.2 is loopback too) still gets in.
      const other = await probe(port, '127.0.0.2');
      await until('the other address accepted', () => transport.stats.accepted === 3);
      expect(transport.connectionCounts()).toEqual({ accepted: 3, dialled: 0 });
      first.socket.destroy();
      await until('the slot given back', () => transport.connectionCounts().accepted === 2);
      const again = await probe(port);
      await until('the address taken again', () => transport.stats.accepted === 4);
      expect([first, second, other, again].map((p) => p.received.length)).toEqual([0, 0, 0, 0]);
      expect([second.closed(), other.closed(), again.closed()]).toEqual([false, false, false]);
      for (const p of [second, other, again]) p.socket.destroy();
    } finally {
      await transport.close();
    }
  });

  it('dialled and accepted connections have separate budgets: strangers filling the listener do not stop the node reaching its peers', async () => {
    const mesh = new TestMesh();
    const listener = await started(mesh.runtime(mesh.identity(1), [], undefined, { udp: [], tcp: [loopback] }));
    const limits = { acceptedMax: 1, perAddressMax: 1 };
    const node = await started(mesh.runtime(mesh.identity(2), [], undefined, { udp: [], tcp: [loopback], tcpLimits: limits, peers: [endpointOf('tcp', '127.0.0.1', tcpPort(listener))] }));
    const squatter = await probe(tcpPort(node));
    await until('the squatter accepted', () => node.tcpStats()!.accepted === 1);
    const refusedSameAddress = await probe(tcpPort(node));
    const refusedOtherAddress = await probe(tcpPort(node), '127.0.0.2');
    await until('both refused', () => refusedSameAddress.closed() && refusedOtherAddress.closed());
    expect(node.tcpStats()).toMatchObject({ refusedPerAddress: 1, refusedTotal: 1 });
    expect([refusedSameAddress.received, refusedOtherAddress.received]).toEqual([[], []]);
    // The one accepted slot is taken, yet the node's own connection to its peer works.
    await until('a route to the dialled peer', () => node.mesh.nextHopLink(nodeId(1)) !== null, 30_000);
    expect(node.tcpConnectionCounts()).toEqual({ accepted: 1, dialled: 1 });
    squatter.socket.destroy();
  });

  it('dials at most dialledConnectionsMax peers and counts the rest', async () => {
    const transport = await TcpTransport.open([], new Uint8Array(32), () => undefined);
    try {
      const results = Array.from({ length: dialledConnectionsMax + 1 }, (_, index) => transport.dial(endpointOf('tcp', '127.0.0.1', 10_000 + index)));
      expect(results.filter((ok) => !ok)).toHaveLength(1);
      expect(results.at(-1)).toBe(false);
      // Dialling a peer again is not a new dial.
      expect(transport.dial(endpointOf('tcp', '127.0.0.1', 10_000))).toBe(true);
      expect(transport.stats.dialsRefused).toBe(1);
      expect(transport.connectionCounts().dialled).toBe(dialledConnectionsMax);
    } finally {
      await transport.close();
    }
  });
});

async function started(runtime: NodeRuntime): Promise<NodeRuntime> {
  await runtime.start();
  running.push(runtime);
  return runtime;
}

describe('TCP transport across a network key rotation', () => {
  const switchAtMs = 1_000_000;
  const epoch0: NetworkKeyEpoch = { epoch: 0, key: new Uint8Array(32).fill(1), activeFromMs: 0, acceptUntilMs: switchAtMs + 60_000 };
  const epoch1: NetworkKeyEpoch = { epoch: 1, key: new Uint8Array(32).fill(2), activeFromMs: switchAtMs, acceptUntilMs: null };
  const open: TcpTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((transport) => transport.close()));
  });

  /** A transport whose keys come from `ring()` at `clock.nowMs`, as the runtime's do; frames it receives are collected. */
  async function transport(ring: () => NetworkKeyRing, clock: { nowMs: number }, listen: boolean): Promise<{ tcp: TcpTransport; frames: Uint8Array[] }> {
    const frames: Uint8Array[] = [];
    const keys = { sendingLengthKey: () => ring().streamKeysAt(clock.nowMs).sending, candidates: () => ring().streamKeysAt(clock.nowMs).candidates };
    const tcp = await TcpTransport.open(listen ? [loopback] : [], keys, (_from, frame) => frames.push(frame));
    open.push(tcp);
    return { tcp, frames };
  }

  /** A handshake frame sealed under the epoch `ring` sends under at `nowMs`. */
  function frameUnder(ring: NetworkKeyRing, nowMs: number, text: string): Uint8Array {
    const body = new TextEncoder().encode(text);
    return sealHandshakeFragment(ring.sendingAt(nowMs).obfuscation, seeded(text), { messageId: 1, index: 0, count: 1, messageBytes: body.length, offset: 0, body }, { opensFlow: false });
  }

  function listenerEndpoint(tcp: TcpTransport): ReturnType<typeof endpointOf> {
    return endpointOf('tcp', '127.0.0.1', Number(tcp.addresses()[0]!.split(':').at(-1)));
  }

  it('a connection opened just before the switch and first written just after it is read', async () => {
    const ring = new NetworkKeyRing([epoch0, epoch1]);
    const clock = { nowMs: switchAtMs - 10 };
    const server = await transport(() => ring, clock, true);
    const client = await transport(() => ring, clock, false);
    const to = listenerEndpoint(server.tcp);
    client.tcp.dial(to);
    await until('the connection', () => client.tcp.connectionCounts().dialled === 1 && server.tcp.connectionCounts().accepted === 1);
    clock.nowMs = switchAtMs + 10;
    client.tcp.send(to, frameUnder(ring, clock.nowMs, 'after the switch'));
    await until('the frame', () => server.frames.length === 1);
    expect(server.tcp.stats.undecodable).toBe(0);
  });

  it('a stream under an epoch the receiver did not have yet is closed once it has it, and the redial is read; a retired key closes the connection', async () => {
    const clock = { nowMs: switchAtMs + 10 };
    let serverRing = new NetworkKeyRing([{ ...epoch0, acceptUntilMs: null }]);
    const clientRing = new NetworkKeyRing([epoch0, epoch1]);
    const server = await transport(() => serverRing, clock, true);
    const client = await transport(() => clientRing, clock, false);
    const to = listenerEndpoint(server.tcp);
    client.tcp.dial(to);
    await until('the connection', () => server.tcp.connectionCounts().accepted === 1);
    client.tcp.send(to, frameUnder(clientRing, clock.nowMs, 'too early'));
    await until('the stream to stop decoding', () => server.tcp.stats.undecodable === 1);
    server.tcp.checkKeys();
    expect(server.tcp.stats.closedForKeys).toBe(0);

    serverRing = new NetworkKeyRing([epoch0, epoch1]);
    server.tcp.checkKeys();
    expect(server.tcp.stats.closedForKeys).toBe(1);
    await until('the redial', () => server.tcp.stats.accepted === 2, 10_000);
    client.tcp.send(to, frameUnder(clientRing, clock.nowMs, 'after the fetch'));
    await until('the frame', () => server.frames.length === 1);

    // Epoch 1 retires (a later rotation): the connection written and read under it is closed.
    serverRing = new NetworkKeyRing([{ ...epoch1, acceptUntilMs: switchAtMs + 100 }, { epoch: 2, key: new Uint8Array(32).fill(3), activeFromMs: switchAtMs + 50, acceptUntilMs: null }]);
    clock.nowMs = switchAtMs + 200;
    server.tcp.checkKeys();
    expect(server.tcp.stats.closedForKeys).toBe(2);
  });
});
