import { describe, expect, it } from 'vitest';
import { unreachableDestination, unreachableSendErrors } from '../../src/node/udp.js';

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
