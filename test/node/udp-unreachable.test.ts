import { describe, expect, it } from 'vitest';
import { endpointOf } from '../../src/node/links.js';
import { UdpTransport, unreachableDestination, unreachableSendErrors } from '../../src/node/udp.js';

function sendError(code: string, address: unknown = '10.0.0.2', port: unknown = 4500): Error {
  return Object.assign(new Error(`send ${code} ${String(address)}:${String(port)}`), { code, address, port, syscall: 'send' });
}

describe('unreachableDestination', () => {
  it('names the destination of a send refused because the network is unreachable', () => {
    for (const code of unreachableSendErrors) expect(unreachableDestination(sendError(code))).toEqual({ transport: 'udp', host: '10.0.0.2', port: 4500, family: 4 });
    expect(unreachableDestination(sendError('ENETUNREACH', '::ffff:10.0.0.9', 9))).toEqual({ transport: 'udp', host: '10.0.0.9', port: 9, family: 4 });
    expect(unreachableDestination(sendError('EHOSTUNREACH', 'fd00::2', 9))).toMatchObject({ host: 'fd00::2', family: 6 });
  });

  it('ignores other errors (a local firewall says nothing about the link) and errors without a destination', () => {
    expect(unreachableDestination(sendError('EPERM'))).toBeNull();
    expect(unreachableDestination(sendError('EMSGSIZE'))).toBeNull();
    expect(unreachableDestination(new Error('no code'))).toBeNull();
    expect(unreachableDestination(sendError('ENETUNREACH', null))).toBeNull();
    expect(unreachableDestination(sendError('ENETUNREACH', '10.0.0.2', '4500'))).toBeNull();
  });
});

describe('UdpTransport.send with and without its outcome checked', () => {
  it('delivers either way, and counts a refused send only when it was checked', async () => {
    const received: number[] = [];
    const sink = await UdpTransport.open([{ host: '127.0.0.1', port: 0, family: 4 }], (_from, bytes) => received.push(bytes.length));
    const source = await UdpTransport.open([{ host: '127.0.0.1', port: 0, family: 4 }], () => undefined);
    try {
      const to = endpointOf('udp', '127.0.0.1', sink.boundAddresses()[0]!.port);
      source.send(to, new Uint8Array(100), false);
      source.send(to, new Uint8Array(200));
      // Larger than any UDP datagram: the kernel refuses it at once (EMSGSIZE).
      source.send(to, new Uint8Array(70_000), false);
      source.send(to, new Uint8Array(70_000), true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received.sort((a, b) => a - b)).toEqual([100, 200]);
      expect(source.stats).toMatchObject({ datagramsOut: 4, sendErrors: 1, unreachableErrors: 0 });
    } finally {
      await source.close();
      await sink.close();
    }
  });
});
