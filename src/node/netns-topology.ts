import type { NodePlacement } from './cluster.js';
import {
  addNamespace,
  addVethPair,
  deleteNamespacesWithPrefix,
  freeManagementBlock,
  inNamespace,
  restoreInterface,
  run,
  runPrefix,
  setLinkUp,
  silenceInterface,
  subnet30,
  type VethEnd,
} from './netns.js';

/**
 * A graph laid out in network namespaces: one namespace per node, one veth pair per edge (in
 * node i's namespace the end towards node j is named `to<j>`, with an address of its own /30 of
 * 10.1.0.0/16), a host address 10.2.x.y/32 on each namespace's loopback (for routing daemons to
 * announce), and optionally a management veth per namespace to this process's namespace, in a
 * free 10.x.0.0/16 block, over which this process reaches services inside (a node's API).
 */

/** Second octet of the link subnets (inside the namespaces only). */
const linkBlock = 1;
/** Second octet of the host addresses (inside the namespaces only). */
const hostBlock = 2;
/** Most nodes (interface names `to<j>` and the /30 numbering stay in range). */
export const topologyNodesMax = 1000;

/** How a topology is laid out. */
export interface NetnsTopologyOptions {
  readonly nodes: number;
  /** Edges as node index pairs, at most one between two nodes. */
  readonly edges: readonly (readonly [number, number])[];
  /** A management veth from this process's namespace into each node's. */
  readonly management: boolean;
  /** Enables IPv4 forwarding in every namespace (for kernel routing daemons). */
  readonly forwarding?: boolean;
}

/** One edge: its two veth ends, `a` in the namespace of edge[0]. */
export interface NetnsLink {
  readonly a: VethEnd;
  readonly b: VethEnd;
}

/** The interface in node `from`'s namespace that leads to node `to`. */
export function vethName(to: number): string {
  return `to${to}`;
}

/** A topology in namespaces, created by create() and removed by destroy(). */
export class NetnsTopology {
  readonly namespaces: readonly string[];
  readonly links: NetnsLink[] = [];
  /** The namespace end of each management veth (address reachable from here), once created. */
  readonly management: VethEnd[] = [];
  /** The address of this namespace's end of each management veth (reachable from node i's namespace). */
  readonly managementRoot: string[] = [];

  private constructor(
    readonly prefix: string,
    readonly options: NetnsTopologyOptions,
  ) {
    this.namespaces = Array.from({ length: options.nodes }, (_, i) => `${prefix}-${i}`);
  }

  /** Creates every namespace, veth and address; on any failure removes what it created and rejects. */
  static async create(options: NetnsTopologyOptions): Promise<NetnsTopology> {
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > topologyNodesMax) {
      throw new Error(`NetnsTopology: expected 1..${topologyNodesMax} nodes, got ${options.nodes}`);
    }
    const topology = new NetnsTopology(runPrefix(), options);
    try {
      await topology.build();
    } catch (error) {
      await topology.destroy().catch(() => undefined);
      throw error;
    }
    return topology;
  }

  private async build(): Promise<void> {
    const { nodes, edges } = this.options;
    const seen = new Set<string>();
    for (const [a, b] of edges) {
      const key = `${Math.min(a, b)}-${Math.max(a, b)}`;
      if (a === b || a < 0 || b < 0 || a >= nodes || b >= nodes || seen.has(key)) throw new Error(`NetnsTopology: bad or repeated edge ${a}-${b}`);
      seen.add(key);
    }
    for (let i = 0; i < nodes; i++) {
      const ns = this.namespaces[i]!;
      await addNamespace(ns);
      // Link-local IPv6 addresses usable at once (no duplicate address detection): routing daemons speak over them.
      await run(inNamespace(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']));
      await run(['ip', '-n', ns, 'addr', 'add', `${this.hostAddress(i)}/32`, 'dev', 'lo']);
      if (this.options.forwarding === true) await run(inNamespace(ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    }
    for (const [index, [a, b]] of edges.entries()) {
      const [addressA, addressB] = subnet30(linkBlock, index);
      const link = { a: { ns: this.namespaces[a]!, name: vethName(b), address: addressA }, b: { ns: this.namespaces[b]!, name: vethName(a), address: addressB } };
      await addVethPair(link.a, link.b);
      this.links.push(link);
    }
    if (!this.options.management) return;
    const block = await freeManagementBlock();
    for (let i = 0; i < nodes; i++) {
      const [rootAddress, nsAddress] = subnet30(block, i);
      const inside = { ns: this.namespaces[i]!, name: 'mgmt', address: nsAddress };
      await addVethPair({ ns: null, name: `${this.prefix}m${i}`, address: rootAddress }, inside);
      this.management.push(inside);
      this.managementRoot.push(rootAddress);
    }
  }

  /** Node `index`'s host address (on its loopback; routing daemons announce it). */
  hostAddress(index: number): string {
    return `10.${hostBlock}.${Math.floor((index + 1) / 256)}.${(index + 1) % 256}`;
  }

  /** The veth ends of the edge between `from` and `to`: [the end at `from`, the end at `to`]. */
  ends(from: number, to: number): readonly [VethEnd, VethEnd] {
    const fromNs = this.namespaces[from];
    const toNs = this.namespaces[to];
    for (const link of this.links) {
      if (link.a.ns === fromNs && link.b.ns === toNs) return [link.a, link.b];
      if (link.b.ns === fromNs && link.a.ns === toNs) return [link.b, link.a];
    }
    throw new Error(`NetnsTopology: no edge between ${from} and ${to}`);
  }

  /** Silent failure of edge from-to: everything in and out of `from`'s end dropped; no link event anywhere. */
  async silence(from: number, to: number): Promise<void> {
    const [end] = this.ends(from, to);
    await silenceInterface(end.ns!, end.name);
  }

  /** Lifts silence(from, to). */
  async restore(from: number, to: number): Promise<void> {
    const [end] = this.ends(from, to);
    await restoreInterface(end.ns!, end.name);
  }

  /** Sets both ends of edge a-b down (a link-down both ends see) or up again. */
  async setEdgeUp(a: number, b: number, up: boolean): Promise<void> {
    const [endA, endB] = this.ends(a, b);
    await Promise.all([setLinkUp(endA.ns, endA.name, up), setLinkUp(endB.ns, endB.name, up)]);
  }

  /**
   * Cluster placement: node i runs in namespace i and listens on every address of it (its veths
   * only lead to its neighbours), dials each neighbour at the neighbour's end of their veth, and
   * serves its API on its management address. The cluster's CA service listens on every address
   * of this namespace, and node i reaches it at this end of its management veth: a node must
   * fetch its revocation list, or it admits no new peers (docs/ca.md).
   */
  placement(): NodePlacement {
    if (this.management.length !== this.options.nodes) throw new Error('NetnsTopology.placement: the topology was created without management veths');
    return {
      wrap: (index) => ['ip', 'netns', 'exec', this.namespaces[index]!],
      udpListen: (_index, port) => `0.0.0.0:${port}`,
      peerHost: (index, peer) => this.ends(index, peer)[1].address,
      apiListen: (index) => `${this.management[index]!.address}:0`,
      caListen: '0.0.0.0:0',
      caHost: (index) => this.managementRoot[index]!,
    };
  }

  /**
   * Removes every namespace of this run, and so every veth and nftables rule in them. The root
   * ends of the management veths are deleted too: a namespace that some leftover process still
   * holds outlives its name, and its veths with it.
   */
  async destroy(): Promise<void> {
    const namespaces = deleteNamespacesWithPrefix(`${this.prefix}-`);
    const managed = this.options.management ? this.options.nodes : 0;
    // Deleting a root end that is already gone (with its namespace) fails; that is the usual case.
    const rootEnds = Promise.all(Array.from({ length: managed }, (_, i) => run(['ip', 'link', 'del', `${this.prefix}m${i}`]).catch(() => undefined)));
    await Promise.all([namespaces, rootEnds]);
  }
}
