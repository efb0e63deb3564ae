import { randomBytes } from 'node:crypto';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa } from '../../src/identity/ca.js';
import { RevocationSet } from '../../src/identity/revocation.js';
import { nodeSpiffeId } from '../../src/identity/spiffe-id.js';
import { trustAnchorFrom, type TrustAnchor } from '../../src/identity/svid.js';
import { fastProfile } from '../../src/mesh/profiles.js';
import { endpointOf } from '../../src/node/links.js';
import { NodeRuntime, type NodeIdentity, type PeerPolicy, type RuntimeOptions } from '../../src/node/runtime.js';
import { formatNodeId, nodeId, type NodeId } from '../../src/wire/ids.js';

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));

/** A mesh CA for in-process daemons, with its anchors and revocation set. */
export class TestMesh {
  readonly ca: MeshCa;
  readonly anchors: readonly TrustAnchor[];
  readonly revocations: RevocationSet;
  readonly networkKey = random(32);

  constructor(readonly trustDomain = 'runtime.test') {
    this.ca = createCa(trustDomain, Date.now(), random).ca;
    this.anchors = [trustAnchorFrom(this.ca.certificateDer, trustDomain, Date.now())];
    this.revocations = new RevocationSet(trustDomain);
  }

  /** A fresh node identity with an SVID for `id`, optionally issued by another CA. */
  identity(id: number, issuer: MeshCa = this.ca): NodeIdentity {
    const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
    const node: NodeId = nodeId(id);
    const certificate = issueSvid(issuer, `/node/${formatNodeId(node)}`, keys.publicKeys, Date.now(), random);
    return { spiffeId: nodeSpiffeId(issuer.trustDomain, node), trustDomain: this.trustDomain, nodeId: node, certificate, keys, networkKey: this.networkKey };
  }

  /** A runtime on 127.0.0.1 (ephemeral port) peering with `peerPorts`. */
  runtime(identity: NodeIdentity, peerPorts: readonly number[], policy: PeerPolicy = allowAll, extra: Partial<RuntimeOptions> = {}): NodeRuntime {
    return new NodeRuntime({
      identity,
      anchors: () => this.anchors,
      revocations: this.revocations,
      profile: fastProfile,
      endToEnd: true,
      udp: [{ host: '127.0.0.1', port: 0, family: 4 }],
      peers: peerPorts.map((port) => endpointOf('udp', '127.0.0.1', port)),
      policy,
      ...extra,
    });
  }
}

/** A policy that admits everyone. */
export const allowAll: PeerPolicy = { mayPeer: () => true, mayTransit: () => true };

/** The port a runtime's first socket is bound to. */
export function portOf(runtime: NodeRuntime): number {
  return Number(runtime.udpAddresses()[0]!.split(':').at(-1));
}

/** Resolves once `condition` holds, polling every 20 ms; rejects naming `what` after `limitMs`. */
export async function until(what: string, condition: () => boolean, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
