import { SecureNode } from '../channel/secure-node.js';
import { createCa, issueSvid, nodeKeysFromSeeds, svidTtlMsMax, type MeshCa } from '../identity/ca.js';
import { rotationAtMs } from '../identity/rotation.js';
import { nodeSpiffeId } from '../identity/spiffe-id.js';
import { encodeBundle, parseBundle } from '../identity/bundle.js';
import { RevocationSet, signRevocationList, type RevocationList } from '../identity/revocation.js';
import type { TrustAnchor } from '../identity/svid.js';
import { SvidVerifier } from '../identity/verifier.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { MeshNode } from '../mesh/node.js';
import { formatNodeId, type NodeId } from '../wire/ids.js';
import { twinNodeId } from './network.js';
import type { Prng } from './prng.js';
import type { SecuritySpec } from './scenario.js';

/**
 * The twin's identity infrastructure: a mesh CA, one SVID per node (issued at virtual time 0
 * and valid for the whole run), a network key, and the misbehaving nodes a scenario asks for
 * (revoked, from another trust domain, without a certificate). Everything is drawn from the
 * scenario's seeded streams, so a run stays reproducible byte for byte.
 */

/** Trust domain of twin meshes, and of the foreign CA that enrolls `foreignTrustDomain` nodes. */
export const twinTrustDomain = 'twin.mesh';
export const foreignTrustDomain = 'foreign.mesh';

/** Revocation time of the scenario's revoked nodes: later than any run, so every SVID they get is covered. */
const revokeEverythingBeforeMs = 365 * 24 * 3600_000;

/** Runs `run` at virtual time `atMs` if the node it concerns is still the one that asked (not crashed or rebooted). */
export type Scheduler = (atMs: number, run: () => void) => void;

/** Random bytes from a twin stream. */
export function prngBytes(rng: Prng): (bytes: number) => Uint8Array {
  return (bytes) => {
    const out = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) out[i] = Math.floor(rng.next() * 256);
    return out;
  };
}

/** What the twin needs to put nodes behind the secure link layer. */
export class TwinSecurity {
  readonly networkKey: Uint8Array;
  private readonly ca: MeshCa;
  private readonly foreign: MeshCa;
  /** The trust anchors every node reads from the CA's SPIFFE bundle. */
  private readonly anchors: readonly TrustAnchor[];
  /** The CA's signed revocation list, as every node honours it. */
  private readonly revocations = new RevocationSet(twinTrustDomain);
  private readonly ttlMs: number;
  /** SVIDs renewed so far (rotation at half of their lifetime). */
  renewals = 0;

  constructor(
    private readonly spec: SecuritySpec,
    private readonly rng: Prng,
  ) {
    this.ca = createCa(twinTrustDomain, 0, prngBytes(rng.split('ca'))).ca;
    this.foreign = createCa(foreignTrustDomain, 0, prngBytes(rng.split('foreign ca'))).ca;
    this.networkKey = prngBytes(rng.split('network key'))(32);
    this.ttlMs = Math.min(svidTtlMsMax, spec.svidTtlS * 1000);
    const bundle = encodeBundle({ trustDomain: twinTrustDomain, sequence: 1, refreshHintS: null, caCertificates: [this.ca.certificateDer] });
    this.anchors = parseBundle(bundle, twinTrustDomain, 0).anchors;
    this.revocations.update(signRevocationList(this.ca, this.revocationList()), this.anchors);
  }

  /** Revokes, by SPIFFE ID, every SVID the scenario's `revoked` nodes get during the run. */
  private revocationList(): RevocationList {
    const atMs = revokeEverythingBeforeMs;
    const entries = this.spec.revoked.map((index) => ({ spiffeId: nodeSpiffeId(twinTrustDomain, twinNodeId(index)), serialHex: null, revokedAtMs: atMs }));
    entries.sort((a, b) => (a.spiffeId < b.spiffeId ? -1 : 1));
    return { trustDomain: twinTrustDomain, sequence: 1, issuedAtMs: atMs, entries };
  }

  /**
   * Wraps the MeshNode of node `index` (booted for the `boot`-th time, at `nowMs`) in a
   * SecureNode with fresh keys and an SVID valid for `svidTtlS`. `schedule(atMs, run)` lets it
   * renew the SVID at 45-55 % of its lifetime for as long as the node lives.
   */
  secure(index: number, id: NodeId, boot: number, mesh: MeshNode, links: readonly LinkId[], nowMs: number, schedule: Scheduler): SecureNode {
    const random = prngBytes(this.rng.split('node', index, 'boot', boot));
    const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
    const foreign = this.spec.foreignTrustDomain.includes(index);
    const issuer = foreign ? this.foreign : this.ca;
    const path = `/node/${formatNodeId(id)}`;
    const spiffeId = nodeSpiffeId(issuer.trustDomain, id);
    const invalid = this.spec.invalidCertificate.includes(index);
    const issue = (atMs: number): Uint8Array => issueSvid(issuer, path, keys.publicKeys, atMs, random, this.ttlMs);
    const certificate = invalid ? new TextEncoder().encode(`no certificate for node ${index}`) : issue(nowMs);
    const verifier = new SvidVerifier({ trustDomain: twinTrustDomain, anchors: () => this.anchors, isRevoked: this.revocations.isRevoked });
    const node = new SecureNode({
      mesh,
      links,
      handshake: { local: { spiffeId, certificate, staticKey: keys.xwing }, verifier, random, prologue: new TextEncoder().encode(twinTrustDomain) },
      networkKey: this.networkKey,
      endToEnd: this.spec.endToEnd,
    });
    if (!invalid) this.scheduleRenewal(node, nowMs, issue, random, schedule);
    return node;
  }

  /** Renews `node`'s SVID at 45-55 % of its lifetime, again and again; `schedule` drops the call once the node is gone. */
  private scheduleRenewal(node: SecureNode, issuedAtMs: number, issue: (atMs: number) => Uint8Array, random: (bytes: number) => Uint8Array, schedule: Scheduler): void {
    // The lifetime asked for, not the backdated notBefore: a short-lived SVID would otherwise renew in the past.
    const atMs = rotationAtMs(issuedAtMs, issuedAtMs + this.ttlMs, random);
    schedule(atMs, () => {
      node.renewCertificate(issue(atMs));
      this.renewals++;
      this.scheduleRenewal(node, atMs, issue, random, schedule);
    });
  }
}
