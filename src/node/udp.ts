import { createSocket, type Socket } from 'node:dgram';
import { endpointOf, formatAddress, type Endpoint } from './links.js';

/**
 * The UDP transport: one socket per listen address (udp4 or udp6), datagrams in and out as
 * they are. It knows nothing of sessions; the runtime hands it sealed frames.
 */

/** A listen address. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Counters of the transport. */
export interface UdpStats {
  datagramsIn: number;
  datagramsOut: number;
  /** Sends that failed (no socket of the peer's family, or the kernel refused). */
  sendErrors: number;
}

function bind(address: ListenAddress, onDatagram: (from: Endpoint, bytes: Uint8Array) => void): Promise<Socket> {
  const socket = createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6 });
  socket.on('message', (bytes, info) => onDatagram(endpointOf('udp', info.address, info.port), new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(address.port, address.host, () => {
      socket.off('error', reject);
      // A datagram that cannot be delivered (ICMP unreachable) surfaces as an error on the socket; it is no reason to stop.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** Sockets bound to the listen addresses. */
export class UdpTransport {
  readonly stats: UdpStats = { datagramsIn: 0, datagramsOut: 0, sendErrors: 0 };
  private constructor(private readonly sockets: readonly { readonly socket: Socket; readonly family: 4 | 6 }[]) {}

  /** Binds every address (port 0: an ephemeral port); rejects naming the address that failed. */
  static async open(addresses: readonly ListenAddress[], onDatagram: (from: Endpoint, bytes: Uint8Array) => void): Promise<UdpTransport> {
    const sockets: { socket: Socket; family: 4 | 6 }[] = [];
    let transport: UdpTransport | null = null;
    const deliver = (from: Endpoint, bytes: Uint8Array): void => {
      if (transport !== null) transport.stats.datagramsIn++;
      onDatagram(from, bytes);
    };
    for (const address of addresses) {
      try {
        sockets.push({ socket: await bind(address, deliver), family: address.family });
      } catch (error) {
        for (const { socket } of sockets) socket.close();
        throw new Error(`udp: cannot listen on ${formatAddress(address.host, address.port)}: ${(error as Error).message}`);
      }
    }
    transport = new UdpTransport(sockets);
    return transport;
  }

  /** The bound addresses, as host:port. */
  addresses(): string[] {
    return this.sockets.map(({ socket }) => {
      const bound = socket.address();
      return formatAddress(bound.address, bound.port);
    });
  }

  /** Sends one datagram to `to` from the first socket of its family. */
  send(to: Endpoint, bytes: Uint8Array): void {
    const socket = this.sockets.find((candidate) => candidate.family === to.family)?.socket;
    if (socket === undefined) {
      this.stats.sendErrors++;
      return;
    }
    this.stats.datagramsOut++;
    socket.send(bytes, to.port, to.host, (error) => {
      if (error !== null && error !== undefined) this.stats.sendErrors++;
    });
  }

  /** Closes every socket. */
  async close(): Promise<void> {
    await Promise.all(this.sockets.map(({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}
