import type { LinkId } from '../mesh/neighbour.js';

/**
 * The daemon's links: one per (transport, remote address). Configured peers get a link at
 * start and keep it. A datagram from an address nobody configured gets a provisional link, so
 * that a node can be reached by peers it does not know; provisional links are bounded in
 * number and dropped when they carry no session for a while, so strangers cannot grow state.
 */

/** Most provisional links at once (addresses that reached us without being configured). */
export const provisionalLinksMax = 64;
/** A provisional link without a session is dropped after this long without traffic. */
export const provisionalIdleMs = 30_000;

/** Transports a link can run over. */
export type TransportKind = 'udp' | 'tcp';

/** Where a link leads: a transport and a remote address. */
export interface Endpoint {
  readonly transport: TransportKind;
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** One link of the table. */
export interface LinkRecord {
  readonly link: LinkId;
  readonly endpoint: Endpoint;
  /** Text form, `host:port` or `[v6]:port`. */
  readonly address: string;
  readonly configured: boolean;
  lastHeardAtMs: number;
  /** When a datagram on this link last went out with its outcome checked (see UdpTransport.send). */
  sendCheckedAtMs: number;
}

/** host:port, with IPv6 hosts in brackets and IPv4-mapped IPv6 shown as IPv4. */
export function formatAddress(host: string, port: number): string {
  const plain = unmapIpv4(host);
  return plain.includes(':') ? `[${plain}]:${port}` : `${plain}:${port}`;
}

/** `::ffff:1.2.3.4` (what a dual-stack socket reports for IPv4 peers) as `1.2.3.4`. */
export function unmapIpv4(host: string): string {
  // Most addresses are not mapped: skip the expression for them (this runs for every datagram).
  if (!host.startsWith('::ffff:') && !host.startsWith('::FFFF:')) return host;
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return match === null ? host : match[1]!;
}

/** The endpoint a socket reports for a sender, normalised (IPv4-mapped addresses become IPv4). */
export function endpointOf(transport: TransportKind, host: string, port: number): Endpoint {
  const plain = unmapIpv4(host);
  return { transport, host: plain, port, family: plain.includes(':') ? 6 : 4 };
}

/** The link table of one daemon. */
export class LinkTable {
  /**
   * Records by transport, then host (already unmapped: see endpointOf), then port. Nested maps
   * rather than one keyed by a `transport|host|port` string: find runs for every datagram, and
   * building and hashing that string cost more than the lookups.
   */
  private readonly byEndpoint: Record<TransportKind, Map<string, Map<number, LinkRecord>>> = { udp: new Map(), tcp: new Map() };
  private readonly byLink = new Map<LinkId, LinkRecord>();
  private nextLink = 1;
  private provisional = 0;

  /** Adds a configured link (idempotent) and returns it. */
  addConfigured(endpoint: Endpoint, nowMs: number): LinkRecord {
    return this.find(endpoint) ?? this.add(endpoint, true, nowMs);
  }

  /** A new provisional link for `endpoint` (which has none: see find), or null when they are all taken. */
  admit(endpoint: Endpoint, nowMs: number): LinkRecord | null {
    return this.provisional >= provisionalLinksMax ? null : this.add(endpoint, false, nowMs);
  }

  /** The link of `endpoint`, if it has one (nothing is created). */
  find(endpoint: Endpoint): LinkRecord | undefined {
    return this.byEndpoint[endpoint.transport].get(endpoint.host)?.get(endpoint.port);
  }

  /** The record of `link`, or undefined. */
  get(link: LinkId): LinkRecord | undefined {
    return this.byLink.get(link);
  }

  /** Every link, in link order. */
  all(): LinkRecord[] {
    return [...this.byLink.values()];
  }

  /** Removes provisional links idle for provisionalIdleMs without a session; returns them. */
  expire(nowMs: number, hasSession: (link: LinkId) => boolean): LinkId[] {
    const removed: LinkId[] = [];
    for (const record of this.byLink.values()) {
      if (record.configured || hasSession(record.link) || nowMs - record.lastHeardAtMs < provisionalIdleMs) continue;
      this.byLink.delete(record.link);
      this.unindex(record.endpoint);
      this.provisional--;
      removed.push(record.link);
    }
    return removed;
  }

  private add(endpoint: Endpoint, configured: boolean, nowMs: number): LinkRecord {
    const record: LinkRecord = { link: this.nextLink++ as LinkId, endpoint, address: formatAddress(endpoint.host, endpoint.port), configured, lastHeardAtMs: nowMs, sendCheckedAtMs: -Infinity };
    const hosts = this.byEndpoint[endpoint.transport];
    const ports = hosts.get(endpoint.host) ?? new Map<number, LinkRecord>();
    hosts.set(endpoint.host, ports.set(endpoint.port, record));
    this.byLink.set(record.link, record);
    if (!configured) this.provisional++;
    return record;
  }

  private unindex(endpoint: Endpoint): void {
    const hosts = this.byEndpoint[endpoint.transport];
    const ports = hosts.get(endpoint.host);
    ports?.delete(endpoint.port);
    // An emptied host goes too, so that expired strangers leave nothing behind.
    if (ports?.size === 0) hosts.delete(endpoint.host);
  }
}
