import { createServer, connect, type Server, type Socket } from 'node:net';
import { deriveStreamLengthKey, encodeStreamRecord, StreamDecoder, type StreamKeyCandidate } from '../crypto/stream-framing.js';
import { AcceptBudget } from './connection-budget.js';
import { endpointOf, formatAddress, type Endpoint } from './links.js';
import type { ListenAddress } from './udp.js';

/**
 * The TCP transport, for networks that block UDP: the same obfuscated frames, as stream
 * records (src/crypto/stream-framing.ts), one connection per link. Configured peers are dialled
 * and redialled with backoff; accepted connections become links of their remote address. A
 * connection whose bytes do not decode is never answered; it is read and discarded until the
 * other side gives up or it has been idle for idleTimeoutMs.
 *
 * Dialled and accepted connections have separate budgets, so strangers filling the listener
 * cannot keep the node from reaching its configured peers; accepted connections are also
 * bounded per remote address (connection-budget.ts). A connection over a budget is closed
 * at once without a byte written: a prober learns nothing it could not learn from the open port.
 */

/** First redial delay after a failed or lost connection; doubles up to redialDelayMsMax. */
export const redialDelayMsMin = 500;
/** Longest redial delay. */
export const redialDelayMsMax = 30_000;
/** A connection that carried nothing for this long is closed (a prober's, or a dead peer's). */
export const idleTimeoutMs = 120_000;
/** A connection whose unsent bytes exceed this drops further frames (a stalled peer must not grow memory). */
export const writeBufferBytesMax = 1024 * 1024;
/** Most dialled peers (each has at most one connection); the config allows at most peersMax (256) peers. */
export const dialledConnectionsMax = 256;

/** Limits on accepted connections. */
export interface TcpAcceptLimits {
  /** Most accepted connections open at once. */
  readonly acceptedMax: number;
  /** Most accepted connections open at once from one remote address (an IPv6 /64). */
  readonly perAddressMax: number;
}

/** The default limits: 256 accepted connections, 8 from one address. */
export const tcpAcceptLimitsDefault: TcpAcceptLimits = Object.freeze({ acceptedMax: 256, perAddressMax: 8 });

/** Counters of the transport. */
export interface TcpStats {
  framesIn: number;
  framesOut: number;
  /** Frames for an endpoint without an open connection. */
  sendErrors: number;
  accepted: number;
  /** Accepted connections closed at once because their address had perAddressMax open. */
  refusedPerAddress: number;
  /** Accepted connections closed at once because acceptedMax were open. */
  refusedTotal: number;
  /** Peers not dialled because dialledConnectionsMax were dialled. */
  dialsRefused: number;
  /** Connections whose bytes stopped decoding (then discarded). */
  undecodable: number;
  /** Connections closed because a network key rotation left them on a retired or unknown length key (checkKeys). */
  closedForKeys: number;
}

function keyOf(endpoint: Endpoint): string {
  return formatAddress(endpoint.host, endpoint.port);
}

/**
 * Where TCP gets its length keys (from the network key ring, in the runtime): a connection
 * writes under the key in use at its first send, and a received stream is under the key its
 * first record picks among the candidates (see StreamDecoder).
 */
export interface StreamKeySource {
  sendingLengthKey(): Uint8Array;
  candidates(): readonly StreamKeyCandidate[];
}

/** The source for one network key, no rotation. */
function singleKeySource(networkKey: Uint8Array): StreamKeySource {
  const lengthKey = deriveStreamLengthKey(networkKey);
  const candidates = [{ lengthKey, accepts: () => 'frame' as const }];
  return { sendingLengthKey: () => lengthKey, candidates: () => candidates };
}

/** How often connections are checked against the length keys in force (see TcpTransport.checkKeys). */
export const keyCheckIntervalMs = 1000;

/** One open connection. */
interface Connection {
  readonly socket: Socket;
  readonly decoder: StreamDecoder;
  /** The length key its records are written under: chosen at its first send, kept for its life. */
  lengthKey: Uint8Array | null;
  /** The candidate keys (as a string) when its stream stopped decoding, or null while it decodes. */
  keysWhenUndecodable: string | null;
}

function keysSignature(candidates: readonly StreamKeyCandidate[]): string {
  return candidates.map((candidate) => Buffer.from(candidate.lengthKey).toString('hex')).join(',');
}

/** Listening sockets, dialled peers and open connections. */
export class TcpTransport {
  readonly stats: TcpStats = { framesIn: 0, framesOut: 0, sendErrors: 0, accepted: 0, refusedPerAddress: 0, refusedTotal: 0, dialsRefused: 0, undecodable: 0, closedForKeys: 0 };
  /** Open connections by address. */
  private readonly connections = new Map<string, Connection>();
  private readonly dialled = new Map<string, { endpoint: Endpoint; delayMs: number; timer: NodeJS.Timeout | null }>();
  private readonly keys: StreamKeySource;
  private readonly keyCheck: NodeJS.Timeout;
  private readonly acceptBudget: AcceptBudget;
  private closed = false;

  private constructor(
    private readonly servers: readonly Server[],
    keys: Uint8Array | StreamKeySource,
    private readonly onFrame: (from: Endpoint, frame: Uint8Array) => void,
    limits: TcpAcceptLimits,
  ) {
    this.keys = keys instanceof Uint8Array ? singleKeySource(keys) : keys;
    this.keyCheck = setInterval(() => this.checkKeys(), keyCheckIntervalMs);
    this.keyCheck.unref();
    this.acceptBudget = new AcceptBudget(limits.acceptedMax, limits.perAddressMax);
  }

  /**
   * Listens on every address (port 0: ephemeral); rejects naming the address that failed. Throws
   * a RangeError naming a bad limit. `keys`: the network key, or a source that follows its ring.
   */
  static async open(addresses: readonly ListenAddress[], keys: Uint8Array | StreamKeySource, onFrame: (from: Endpoint, frame: Uint8Array) => void, limits: TcpAcceptLimits = tcpAcceptLimitsDefault): Promise<TcpTransport> {
    const servers: Server[] = [];
    const transport = new TcpTransport(servers, keys, onFrame, limits);
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

  /** Open connections by direction (an accepted one replaced by a dial to the same address counts until it closes). */
  connectionCounts(): { readonly accepted: number; readonly dialled: number } {
    return { accepted: this.acceptBudget.open, dialled: this.dialled.size };
  }

  /** Keeps a connection to `endpoint` open, redialling with backoff whenever it fails or drops; false (counted) when dialledConnectionsMax peers are dialled. */
  dial(endpoint: Endpoint): boolean {
    const key = keyOf(endpoint);
    if (this.dialled.has(key) || this.closed) return true;
    if (this.dialled.size >= dialledConnectionsMax) {
      this.stats.dialsRefused++;
      return false;
    }
    this.dialled.set(key, { endpoint, delayMs: redialDelayMsMin, timer: null });
    this.connectTo(key);
    return true;
  }

  /** Sends one frame on the connection of `to`; counted as an error when there is none. */
  send(to: Endpoint, frame: Uint8Array): void {
    const connection = this.connections.get(keyOf(to));
    if (connection === undefined || connection.socket.destroyed || connection.socket.writableLength > writeBufferBytesMax) {
      this.stats.sendErrors++;
      return;
    }
    this.stats.framesOut++;
    connection.lengthKey ??= this.keys.sendingLengthKey();
    connection.socket.write(encodeStreamRecord(connection.lengthKey, frame));
  }

  /** Closes every connection and listening socket and stops redialling; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keyCheck);
    for (const dial of this.dialled.values()) if (dial.timer !== null) clearTimeout(dial.timer);
    for (const { socket } of this.connections.values()) socket.destroy();
    this.connections.clear();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  /** A new incoming connection: kept if the budgets allow, otherwise closed without a byte. */
  private accept(socket: Socket): void {
    const host = socket.remoteAddress;
    const port = socket.remotePort;
    // A socket whose peer already left has no address; nothing to count or keep.
    if (this.closed || host === undefined || port === undefined) {
      socket.destroy();
      return;
    }
    const refusal = this.acceptBudget.admit(host);
    if (refusal !== null) {
      if (refusal === 'perAddress') this.stats.refusedPerAddress++;
      else this.stats.refusedTotal++;
      socket.destroy();
      return;
    }
    this.stats.accepted++;
    socket.once('close', () => this.acceptBudget.release(host));
    this.attach(socket, endpointOf('tcp', host, port));
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

  private onData(endpoint: Endpoint, connection: Connection, chunk: Buffer): void {
    const { decoder } = connection;
    const wasDiscarding = decoder.isDiscarding;
    for (const frame of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
      this.stats.framesIn++;
      this.onFrame(endpoint, frame);
    }
    if (decoder.isDiscarding && !wasDiscarding) {
      this.stats.undecodable++;
      connection.keysWhenUndecodable = keysSignature(this.keys.candidates());
    }
  }

  /**
   * Closes the connections a network key rotation has left behind (the side that dialled dials
   * again): one written or read under a length key no longer accepted (its epoch retired), and
   * one whose stream stopped decoding before the keys changed (its first record came under an
   * epoch this node had not fetched yet). A stream that fails to decode is otherwise kept open
   * and swallowed, as before: closing at once would tell a prober something.
   */
  checkKeys(): void {
    const candidates = this.keys.candidates();
    const inForce = new Set(candidates.map((candidate) => Buffer.from(candidate.lengthKey).toString('hex')));
    const signature = keysSignature(candidates);
    const retired = (lengthKey: Uint8Array | null): boolean => lengthKey !== null && !inForce.has(Buffer.from(lengthKey).toString('hex'));
    for (const { socket, decoder, lengthKey, keysWhenUndecodable } of this.connections.values()) {
      const stale = retired(lengthKey) || retired(decoder.pickedLengthKey) || (keysWhenUndecodable !== null && keysWhenUndecodable !== signature);
      if (stale) {
        this.stats.closedForKeys++;
        socket.destroy();
      }
    }
  }

  /** Wires a connection to the frame handler; `onGone` runs once it is closed for any reason. */
  private attach(socket: Socket, endpoint: Endpoint, onGone?: () => void): void {
    const key = keyOf(endpoint);
    this.connections.get(key)?.socket.destroy();
    const connection: Connection = { socket, decoder: new StreamDecoder(() => this.keys.candidates()), lengthKey: null, keysWhenUndecodable: null };
    this.connections.set(key, connection);
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(endpoint, connection, chunk));
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      if (this.connections.get(key)?.socket === socket) this.connections.delete(key);
      onGone?.();
    });
  }
}
