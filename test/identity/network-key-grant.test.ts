import { describe, expect, it } from 'vitest';
import { createCa, nodeKeysFromSeeds, type NodeKeys } from '../../src/identity/ca.js';
import { openNetworkKeyGrant, sealedGrantBytesMax, sealNetworkKeyGrant, type GrantExpectation, type NetworkKeyGrant } from '../../src/identity/network-key-grant.js';
import { seeded } from '../seeded.js';

const t0 = Date.UTC(2026, 10, 28, 9);
const { ca } = createCa('mesh.test', t0 - 3600_000, seeded('grant ca'));
const { ca: otherCa } = createCa('mesh.test', t0 - 3600_000, seeded('grant other ca'));
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

function nodeKeys(label: string): NodeKeys {
  const random = seeded(label);
  return nodeKeysFromSeeds(random(32), random(32), random(32));
}

const node = nodeKeys('grant node');
const recipient = 'spiffe://mesh.test/node/0000002a';
const grant: NetworkKeyGrant = {
  recipient,
  issuedAtMs: t0,
  requestHash: new Uint8Array(32).fill(5),
  epochs: [
    { epoch: 0, key: new Uint8Array(32).fill(1), activeFromMs: 0, acceptUntilMs: t0 + 1_200_000 },
    { epoch: 1, key: new Uint8Array(32).fill(2), activeFromMs: t0 + 600_000, acceptUntilMs: null },
  ],
};
const expectation: GrantExpectation = { xwing: node.xwing, anchors: [ca.anchor], trustDomain: 'mesh.test', recipient, requestHash: new Uint8Array(32).fill(5) };

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  out[index] = out[index]! ^ 1;
  return out;
}

describe('network key grants', () => {
  it('round-trip: the node reads exactly the epochs the CA put in', () => {
    const sealed = sealNetworkKeyGrant(ca, grant, node.publicKeys.xwingPublicKey, seeded('seal'));
    expect(sealed.length).toBeLessThanOrEqual(sealedGrantBytesMax);
    expect(openNetworkKeyGrant(sealed, expectation)).toEqual(grant);
  });

  it('can be read only by the node it was sealed to, and not once altered', () => {
    const sealed = sealNetworkKeyGrant(ca, grant, node.publicKeys.xwingPublicKey, seeded('seal'));
    expect(() => openNetworkKeyGrant(sealed, { ...expectation, xwing: nodeKeys('someone else').xwing })).toThrow(codeOf('ERR_NETWORK_KEYS_AUTH'));
    for (const index of [0, 10, 1200, sealed.length - 1]) {
      const code = index < 6 ? 'ERR_NETWORK_KEYS_FORMAT' : 'ERR_NETWORK_KEYS_AUTH';
      expect(() => openNetworkKeyGrant(flip(sealed, index), expectation)).toThrow(codeOf(code));
    }
  });

  it('is refused when another CA signed it, or when it names another node', () => {
    const forged = sealNetworkKeyGrant(otherCa, grant, node.publicKeys.xwingPublicKey, seeded('forged'));
    expect(() => openNetworkKeyGrant(forged, expectation)).toThrow(codeOf('ERR_NETWORK_KEYS_SIGNATURE'));
    expect(() => openNetworkKeyGrant(forged, { ...expectation, trustDomain: 'other.test' })).toThrow('no trust anchor of other.test');
    const forSomeoneElse = sealNetworkKeyGrant(ca, { ...grant, recipient: 'spiffe://mesh.test/node/00000007' }, node.publicKeys.xwingPublicKey, seeded('other'));
    expect(() => openNetworkKeyGrant(forSomeoneElse, expectation)).toThrow(codeOf('ERR_NETWORK_KEYS_RECIPIENT'));
    // A grant the CA really made for this node, but for an earlier request: a replay.
    const sealed = sealNetworkKeyGrant(ca, grant, node.publicKeys.xwingPublicKey, seeded('earlier'));
    expect(() => openNetworkKeyGrant(sealed, { ...expectation, requestHash: new Uint8Array(32).fill(6) })).toThrow(codeOf('ERR_NETWORK_KEYS_REQUEST'));
  });

  it('refuses to seal a grant no node would accept, naming the field', () => {
    const seal = (bad: NetworkKeyGrant): Uint8Array => sealNetworkKeyGrant(ca, bad, node.publicKeys.xwingPublicKey, seeded('bad'));
    expect(() => seal({ ...grant, recipient: '' })).toThrow('recipient must be 1..2048 bytes, got 0');
    expect(() => seal({ ...grant, issuedAtMs: -1 })).toThrow('issuedAtMs must be a time in ms');
    expect(() => seal({ ...grant, requestHash: new Uint8Array(31) })).toThrow('requestHash must be 32 bytes, got 31');
    expect(() => seal({ ...grant, epochs: [] })).toThrow(codeOf('ERR_NETWORK_KEYS_FORMAT'));
    expect(() => seal({ ...grant, epochs: [grant.epochs[1]!, grant.epochs[0]!] })).toThrow('epochs[1].epoch');
  });

  it('refuses input that is too long or cut short', () => {
    const sealed = sealNetworkKeyGrant(ca, grant, node.publicKeys.xwingPublicKey, seeded('seal'));
    expect(() => openNetworkKeyGrant(new Uint8Array(sealedGrantBytesMax + 1), expectation)).toThrow(codeOf('ERR_NETWORK_KEYS_FORMAT'));
    expect(() => openNetworkKeyGrant(sealed.subarray(0, 100), expectation)).toThrow('truncated');
    expect(() => openNetworkKeyGrant(sealed.subarray(0, sealed.length - 1), expectation)).toThrow(codeOf('ERR_NETWORK_KEYS_AUTH'));
  });
});
