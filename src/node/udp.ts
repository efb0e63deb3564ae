import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
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

/** Where LAN discovery beacons go and are heard: an IPv4 multicast group and port, on one interface. */
export interface DiscoveryGroup {
  readonly group: string;
  readonly port: number;
  /** The local IPv4 address of the interface to use; null lets the system choose. */
  readonly interface: string | null;
}

/**
 * Errors of a send that say the network toward the peer is unreachable from here now (its
 * interface went down, its route left): the caller can treat the link as down at once. EPERM
 * and the like (a local firewall) are not among them: they say nothing about the link.
 */
export const unreachableSendErrors: ReadonlySet<string> = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN']);

/** The destination of a failed send when its error says the network is unreachable (see unreachableSendErrors), else null. */
export function unreachableDestination(error: Error): Endpoint | null {
  const failed = error as NodeJS.ErrnoException & { address?: unknown; port?: unknown };
  if (failed.code === undefined || !unreachableSendErrors.has(failed.code)) return null;
  if (typeof failed.address !== 'string' || typeof failed.port !== 'number') return null;
  return endpointOf('udp', failed.address, failed.port);
}

/** Counters of the transport. */
export interface UdpStats {
  datagramsIn: number;
  datagramsOut: number;
  /**
   * Sends seen to fail: no socket of the peer's family, or the kernel refused one of the sends
   * whose outcome was asked for (see UdpTransport.send: not every data packet's is).
   */
  sendErrors: number;
  /** Of those, sends the kernel refused because the network was unreachable. */
  unreachableErrors: number;
  beaconsOut: number;
  beaconsIn: number;
}

/**
 * The address lookup of our sockets: an IP literal of the socket's family (every address this
 * node sends to: configured peers are literals, the others are where datagrams came from) is its
 * own answer, given at once. dgram's default, dns.lookup, answers literals one process.nextTick
 * later, which cost each datagram sent a trip through the tick queue. Anything else goes to
 * dns.lookup as before.
 */
export function literalLookup(address: string, options: LookupOneOptions | number, callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  // Node passes the socket's family as a number; the typings say options. Both are handled.
  const family = typeof options === 'number' ? options : options.family;
  if (family !== undefined && literalFamily(address) === family) callback(null, address, family);
  else if (typeof options === 'number') dnsLookup(address, options, callback);
  else dnsLookup(address, options, callback);
}

/** Most addresses literalFamily remembers; past this it starts afresh. */
export const literalCacheEntriesMax = 1024;
const literalFamilies = new Map<string, number>();

/**
 * isIP(address), remembered: a node sends to a few addresses over and over, and isIP runs a
 * regular expression for each datagram. Bounded, so that many peers cannot grow it.
 */
export function literalFamily(address: string): number {
  let family = literalFamilies.get(address);
  if (family === undefined) {
    if (literalFamilies.size >= literalCacheEntriesMax) literalFamilies.clear();
    family = isIP(address);
    literalFamilies.set(address, family);
  }
  return family;
}

function bind(address: ListenAddress, onDatagram: (from: Endpoint, bytes: Uint8Array) => void): Promise<Socket> {
  const socket = createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6, lookup: literalLookup });
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
  readonly stats: UdpStats = { datagramsIn: 0, datagramsOut: 0, sendErrors: 0, unreachableErrors: 0, beaconsOut: 0, beaconsIn: 0 };
  /** Told about every send that failed because the network toward its destination is unreachable. */
  onUnreachable: (to: Endpoint) => void = () => undefined;
  private discovery: { socket: Socket; group: DiscoveryGroup } | null = null;
  private closed = false;
  /** The first socket of each family, where datagrams to that family leave (looked up for every datagram). */
  private readonly v4: Socket | undefined;
  private readonly v6: Socket | undefined;

  private constructor(private readonly sockets: readonly { readonly socket: Socket; readonly family: 4 | 6 }[]) {
    this.v4 = sockets.find((candidate) => candidate.family === 4)?.socket;
    this.v6 = sockets.find((candidate) => candidate.family === 6)?.socket;
  }

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

  /** The bound addresses. */
  boundAddresses(): { host: string; port: number }[] {
    return this.sockets.map(({ socket }) => {
      const bound = socket.address();
      return { host: bound.address, port: bound.port };
    });
  }

  /** The bound addresses, as host:port. */
  addresses(): string[] {
    return this.sockets.map(({ socket }) => {
      const bound = socket.address();
      return formatAddress(bound.address, bound.port);
    });
  }

  /**
   * Sends one datagram to `to` from the first socket of its family. With `checked` false the
   * outcome is not asked for: dgram reports a send that succeeded at once through a trip of its
   * callback through the tick queue, which costs a busy link about half a microsecond per
   * datagram. A failure of such a send goes unseen (and uncounted); callers check at least one
   * send per link in every short interval (see sendCheckIntervalMs), so an unreachable network
   * still shows within that interval.
   */
  send(to: Endpoint, bytes: Uint8Array, checked = true): void {
    const socket = to.family === 4 ? this.v4 : this.v6;
    if (socket === undefined) {
      this.stats.sendErrors++;
      return;
    }
    this.stats.datagramsOut++;
    if (checked) socket.send(bytes, to.port, to.host, this.afterSend);
    else socket.send(bytes, to.port, to.host);
  }

  /** One callback for every send (not a closure per datagram): without one, dgram drops send errors unreported. */
  private readonly afterSend = (error: Error | null): void => {
    if (error === null || error === undefined) return;
    this.stats.sendErrors++;
    const destination = unreachableDestination(error);
    if (destination === null) return;
    this.stats.unreachableErrors++;
    this.onUnreachable(destination);
  };

  /**
   * Listens for LAN discovery beacons: a socket on the group's port (shared with other nodes of
   * this host), joined to the group. Datagrams that arrive there go to `onDatagram` as if they had
   * come to a mesh socket: a beacon is an announcement, answered on the sender's mesh address.
   */
  async joinDiscovery(group: DiscoveryGroup, onDatagram: (from: Endpoint, bytes: Uint8Array) => void): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (bytes, info) => {
      this.stats.beaconsIn++;
      onDatagram(endpointOf('udp', info.address, info.port), new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(group.port, () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve();
      });
    }).catch((error: unknown) => {
      socket.close();
      throw new Error(`udp: cannot listen for discovery on port ${group.port}: ${(error as Error).message}`);
    });
    try {
      socket.addMembership(group.group, group.interface ?? undefined);
    } catch (error) {
      socket.close();
      throw new Error(`udp: cannot join discovery group ${group.group} on ${group.interface ?? 'the default interface'}: ${(error as Error).message}`);
    }
    this.discovery = { socket, group };
  }

  /**
   * Sends beacon frames to the discovery group from the first IPv4 mesh socket (so that answers
   * come to the node's mesh address), with a TTL of 1: beacons never leave the local network.
   */
  sendBeacon(frames: readonly Uint8Array[]): void {
    const sender = this.sockets.find((candidate) => candidate.family === 4)?.socket;
    const discovery = this.discovery;
    if (sender === undefined || discovery === null) return;
    sender.setMulticastTTL(1);
    if (discovery.group.interface !== null) sender.setMulticastInterface(discovery.group.interface);
    for (const frame of frames) {
      this.stats.beaconsOut++;
      sender.send(frame, discovery.group.port, discovery.group.group, (error) => {
        if (error !== null && error !== undefined) this.stats.sendErrors++;
      });
    }
  }

  /** Closes every socket; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const discovery = this.discovery === null ? [] : [this.discovery.socket];
    await Promise.all([...this.sockets.map(({ socket }) => socket), ...discovery].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}
