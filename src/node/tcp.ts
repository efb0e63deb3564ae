import { createServer, connect, type Server, type Socket } from 'node:net';
import { deriveStreamLengthKey, encodeStreamRecord, StreamDecoder } from '../crypto/stream-framing.js';
import { endpointOf, formatAddress, type Endpoint } from './links.js';
import type { ListenAddress } from './udp.js';

/**
 * The TCP transport, for networks that block UDP: the same obfuscated frames, as stream
 * records (src/crypto/stream-framing.ts), one connection per link. Configured peers are dialled
 * and redialled with backoff; accepted connections become links of their remote address. A
 * connection whose bytes do not decode is never answered; it is read and discarded until the
 * other side gives up or it has been idle for idleTimeoutMs.
 */

/** First redial delay after a failed or lost connection; doubles up to redialDelayMsMax. */
export const redialDelayMsMin = 500;
/** Longest redial delay. */
export const redialDelayMsMax = 30_000;
/** A connection that carried nothing for this long is closed (a prober's, or a dead peer's). */
export const idleTimeoutMs = 120_000;
/** A connection whose unsent bytes exceed this drops further frames (a stalled peer must not grow memory). */
export const writeBufferBytesMax = 1024 * 1024;
/** Most connections at once (accepted and dialled). */
export const connectionsMax = 256;

/** Counters of the transport. */
export interface TcpStats {
  framesIn: number;
  framesOut: number;
  /** Frames for an endpoint without an open connection. */
  sendErrors: number;
  accepted: number;
  refusedOverLimit: number;
  /** Connections whose bytes stopped decoding (then discarded). */
  undecodable: number;
}

function keyOf(endpoint: Endpoint): string {
  return formatAddress(endpoint.host, endpoint.port);
}

/** Listening sockets, dialled peers and open connections. */
export class TcpTransport {
  readonly stats: TcpStats = { framesIn: 0, framesOut: 0, sendErrors: 0, accepted: 0, refusedOverLimit: 0, undecodable: 0 };
  private readonly connections = new Map<string, Socket>();
  private readonly dialled = new Map<string, { endpoint: Endpoint; delayMs: number; timer: NodeJS.Timeout | null }>();
  private readonly lengthKey: Uint8Array;
  private closed = false;

  private constructor(
    private readonly servers: readonly Server[],
    networkKey: Uint8Array,
    private readonly onFrame: (from: Endpoint, frame: Uint8Array) => void,
  ) {
    this.lengthKey = deriveStreamLengthKey(networkKey);
  }

  /** Listens on every address (port 0: ephemeral); rejects naming the address that failed. */
  static async open(addresses: readonly ListenAddress[], networkKey: Uint8Array, onFrame: (from: Endpoint, frame: Uint8Array) => void): Promise<TcpTransport> {
    const servers: Server[] = [];
    const transport = new TcpTransport(servers, networkKey, onFrame);
    for (const address of addresses) {
      const server = createServer((socket) => transport.accept(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: address.host, port: address.port, ipv6Only: address.family === 6 }, () => resolve());
        });
      } catch (error) {
        await transport.close();
        throw new Error(`tcp: cannot listen on ${formatAddress(address.host, address.port)}: ${(error as Error).message}`);
      }
      servers.push(server);
    }
    return transport;
  }

  /** The listening addresses, as host:port. */
  addresses(): string[] {
    return this.servers.map((server) => {
      const bound = server.address() as { address: string; port: number };
      return formatAddress(bound.address, bound.port);
    });
  }

  /** Keeps a connection to `endpoint` open, redialling with backoff whenever it fails or drops. */
  dial(endpoint: Endpoint): void {
    const key = keyOf(endpoint);
    if (this.dialled.has(key) || this.closed) return;
    this.dialled.set(key, { endpoint, delayMs: redialDelayMsMin, timer: null });
    this.connectTo(key);
  }

  /** Sends one frame on the connection of `to`; counted as an error when there is none. */
  send(to: Endpoint, frame: Uint8Array): void {
    const socket = this.connections.get(keyOf(to));
    if (socket === undefined || socket.destroyed || socket.writableLength > writeBufferBytesMax) {
      this.stats.sendErrors++;
      return;
    }
    this.stats.framesOut++;
    socket.write(encodeStreamRecord(this.lengthKey, frame));
  }

  /** Closes every connection and listening socket and stops redialling; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const dial of this.dialled.values()) if (dial.timer !== null) clearTimeout(dial.timer);
    for (const socket of this.connections.values()) socket.destroy();
    this.connections.clear();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private accept(socket: Socket): void {
    if (this.closed || this.connections.size >= connectionsMax || socket.remoteAddress === undefined || socket.remotePort === undefined) {
      this.stats.refusedOverLimit++;
      socket.destroy();
      return;
    }
    this.stats.accepted++;
    this.attach(socket, endpointOf('tcp', socket.remoteAddress, socket.remotePort));
  }

  private connectTo(key: string): void {
    const dial = this.dialled.get(key)!;
    dial.timer = null;
    const socket = connect({ host: dial.endpoint.host, port: dial.endpoint.port });
    socket.once('connect', () => {
      dial.delayMs = redialDelayMsMin;
    });
    this.attach(socket, dial.endpoint, () => this.redial(key));
  }

  private redial(key: string): void {
    const dial = this.dialled.get(key);
    if (dial === undefined || this.closed) return;
    dial.timer = setTimeout(() => this.connectTo(key), dial.delayMs);
    dial.delayMs = Math.min(redialDelayMsMax, dial.delayMs * 2);
  }

  /** Wires a connection to the frame handler; `onGone` runs once it is closed for any reason. */
  private attach(socket: Socket, endpoint: Endpoint, onGone?: () => void): void {
    const key = keyOf(endpoint);
    this.connections.get(key)?.destroy();
    this.connections.set(key, socket);
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    const decoder = new StreamDecoder(this.lengthKey);
    socket.on('data', (chunk: Buffer) => {
      const wasDiscarding = decoder.isDiscarding;
      for (const frame of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
        this.stats.framesIn++;
        this.onFrame(endpoint, frame);
      }
      if (decoder.isDiscarding && !wasDiscarding) this.stats.undecodable++;
    });
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      if (this.connections.get(key) === socket) this.connections.delete(key);
      onGone?.();
    });
  }
}
