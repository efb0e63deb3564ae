import { describe, expect, it } from 'vitest';
import type { NetworkKeyEpoch } from '../../src/crypto/network-key-ring.js';
import { nodeId } from '../../src/wire/ids.js';
import { networkKey, SecureHarness } from './secure-harness.js';

const nextKey = new Uint8Array(32).fill(0x43);
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

/** Epoch 0 (the harness key) retiring at `retireAtMs`, epoch 1 active from `activeAtMs`. */
function rotation(activeAtMs: number, retireAtMs: number): NetworkKeyEpoch[] {
  return [
    { epoch: 0, key: networkKey, activeFromMs: 0, acceptUntilMs: retireAtMs },
    { epoch: 1, key: nextKey, activeFromMs: activeAtMs, acceptUntilMs: null },
  ];
}

describe('rotating the network key under running sessions', () => {
  it('keeps links between members up across the switch and shuts out the member left on the old key', () => {
    const h = new SecureHarness([
      [1, 2],
      [2, 3],
    ]);
    for (const id of [1, 2, 3]) h.boot({ id });
    h.run(3000);
    const [member, hub, revoked] = [h.nodes.get(1)!, h.nodes.get(2)!, h.nodes.get(3)!];
    expect(hub.isSecured(1 as never)).toBe(true);
    const start = h.nowMs;
    const epochs = rotation(start + 10_000, start + 20_000);
    // The two members fetch the new ring at different times inside the overlap; node 3 never gets it.
    expect(member.setNetworkKeys(epochs)).toBe(true);
    h.run(5000);
    expect(hub.setNetworkKeys(epochs)).toBe(true);
    expect(hub.setNetworkKeys(epochs)).toBe(false);
    expect(hub.sendingEpochAt(h.nowMs)).toBe(0);
    h.run(25_000);
    expect(hub.sendingEpochAt(h.nowMs)).toBe(1);
    expect(h.events.filter((e) => e.node === 1 && e.event.kind === 'neighbourDown')).toEqual([]);
    h.inject(1, { kind: 'send', dst: nodeId(2), id: 1, payload: new Uint8Array([9]) });
    h.run(100);
    expect(h.events.filter((e) => e.node === 2 && e.event.kind === 'delivered')).toHaveLength(1);
    // Node 3 lost the hub once the hub sent under epoch 1, and after epoch 0 retired it gets silence.
    expect(h.events.some((e) => e.node === 3 && e.event.kind === 'neighbourDown' && e.at < start + 20_000)).toBe(true);
    expect(hub.mesh.neighbourViews().filter((n) => n.usable).map((n) => n.peer)).toEqual([1]);
    const [refused, completed] = [hub.stats.framesRefused, hub.stats.handshakesCompleted];
    h.run(10_000);
    expect(hub.stats.framesRefused).toBeGreaterThan(refused);
    expect(hub.stats.handshakesCompleted).toBe(completed);
    expect(revoked.stats.handshakesCompleted).toBeGreaterThan(0);
  });

  it('refuses a malformed ring and keeps the one in use', () => {
    const h = new SecureHarness([[1, 2]]);
    const node = h.boot({ id: 1 });
    expect(() => node.setNetworkKeys([])).toThrow(codeOf('ERR_CRYPTO_KEY_RING'));
    expect(node.networkKeyEpochs).toHaveLength(1);
    expect(node.networkKeyEpochs[0]!.epoch).toBe(0);
  });
});
