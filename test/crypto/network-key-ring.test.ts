import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { checkNetworkKeyEpochs, NetworkKeyRing, networkKeyEpochsMax, singleEpoch, type NetworkKeyEpoch } from '../../src/crypto/network-key-ring.js';
import { FrameReceiver, sealHandshakeFragment, type HandshakeFragment } from '../../src/crypto/obfuscation.js';
import { seededRandom } from './handshake-fixtures.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const keyOf = (label: string): Uint8Array => sha256(utf8(label));
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

const t0 = 1_800_000_000_000;
const old: NetworkKeyEpoch = { epoch: 0, key: keyOf('epoch 0'), activeFromMs: 0, acceptUntilMs: t0 + 20_000 };
const next: NetworkKeyEpoch = { epoch: 1, key: keyOf('epoch 1'), activeFromMs: t0 + 10_000, acceptUntilMs: null };

function fragmentOf(body: Uint8Array): HandshakeFragment {
  return { messageId: 7, index: 0, count: 1, messageBytes: body.length, offset: 0, body };
}

describe('the network key ring over a rotation', () => {
  it('sends under the old epoch until the new one activates, and accepts both until the old one retires', () => {
    const ring = new NetworkKeyRing([old, next]);
    expect(ring.sendingAt(t0).epoch).toBe(0);
    expect(ring.acceptedAt(t0).map((keys) => keys.epoch)).toEqual([0, 1]);
    expect(ring.sendingAt(t0 + 10_000).epoch).toBe(1);
    expect(ring.acceptedAt(t0 + 10_000).map((keys) => keys.epoch)).toEqual([1, 0]);
    expect(ring.acceptedAt(t0 + 19_999).map((keys) => keys.epoch)).toEqual([1, 0]);
    expect(ring.acceptedAt(t0 + 20_000).map((keys) => keys.epoch)).toEqual([1]);
    // A clock that steps back is read afresh, not from the cached answer.
    expect(ring.sendingAt(t0).epoch).toBe(0);
  });

  it('falls back to the newest epoch when none is active yet or every one has retired', () => {
    const early = new NetworkKeyRing([{ ...next, activeFromMs: t0 }]);
    expect(early.sendingAt(t0 - 1).epoch).toBe(1);
    const retired = new NetworkKeyRing([{ ...old, acceptUntilMs: t0 }]);
    expect(retired.sendingAt(t0 + 1).epoch).toBe(0);
    expect(retired.acceptedAt(t0 + 1).map((keys) => keys.epoch)).toEqual([0]);
  });

  it('derives distinct keys per epoch and copies what it is given', () => {
    const key = keyOf('mutable');
    const ring = new NetworkKeyRing([{ ...old, key }, next]);
    key.fill(0);
    expect(Buffer.from(ring.epochs[0]!.key).equals(keyOf('mutable'))).toBe(true);
    const [a, b] = ring.acceptedAt(t0);
    expect(Buffer.from(a!.streamLength).equals(b!.streamLength)).toBe(false);
    expect(Buffer.from(a!.obfuscation.macKey).equals(b!.obfuscation.macKey)).toBe(false);
  });

  it('tells a ring that only repeats its epochs from one that changes them', () => {
    const ring = new NetworkKeyRing([old, next]);
    expect(ring.sameAs([old, next])).toBe(true);
    expect(ring.sameAs([old])).toBe(false);
    expect(ring.sameAs([old, { ...next, acceptUntilMs: t0 + 99_000 }])).toBe(false);
    expect(ring.sameAs([old, { ...next, key: keyOf('other') }])).toBe(false);
    expect(new NetworkKeyRing(singleEpoch(old.key)).sameAs(singleEpoch(old.key))).toBe(true);
  });

  it('refuses malformed epochs, naming the field', () => {
    const bad: [readonly NetworkKeyEpoch[], string][] = [
      [[], 'expected 1..4 epochs, got 0'],
      [Array.from({ length: networkKeyEpochsMax + 1 }, (_, epoch) => ({ ...next, epoch })), 'expected 1..4 epochs, got 5'],
      [[{ ...old, epoch: -1 }], 'epochs[0].epoch'],
      [[{ ...old, epoch: 2 ** 32 }], 'epochs[0].epoch'],
      [[{ ...old, key: new Uint8Array(31) }], 'epochs[0].key: expected 32 bytes, got 31'],
      [[{ ...old, key: 'key' as unknown as Uint8Array }], 'epochs[0].key: expected 32 bytes, got string'],
      [[{ ...old, activeFromMs: -1 }], 'epochs[0].activeFromMs'],
      [[{ ...old, activeFromMs: 1.5 }], 'epochs[0].activeFromMs'],
      [[{ ...old, acceptUntilMs: 0 }], 'epochs[0].acceptUntilMs'],
      [[next, old], 'epochs[1].epoch: expected epochs in rising order'],
      [[{ ...old, activeFromMs: t0 + 50_000, acceptUntilMs: null }, next], 'epochs[1].activeFromMs: a later epoch may not activate before an earlier one'],
    ];
    for (const [epochs, message] of bad) {
      expect(() => checkNetworkKeyEpochs(epochs)).toThrow(message);
      expect(() => new NetworkKeyRing(epochs)).toThrow(codeOf('ERR_CRYPTO_KEY_RING'));
    }
  });
});

describe('a frame receiver over a key ring', () => {
  it('opens handshake frames under any accepted epoch and refuses them under a retired one', () => {
    const ring = new NetworkKeyRing([old, next]);
    const random = seededRandom('ring frames');
    const [oldKeys, nextKeys] = ring.acceptedAt(t0);
    const underOld = sealHandshakeFragment(oldKeys!.obfuscation, random, fragmentOf(utf8('hello under epoch 0')), { opensFlow: false });
    const underNext = sealHandshakeFragment(nextKeys!.obfuscation, random, fragmentOf(utf8('hello under epoch 1')), { opensFlow: false });
    const receiver = new FrameReceiver(ring);
    expect(receiver.receive(t0, underOld)).toMatchObject({ kind: 'handshake', message: utf8('hello under epoch 0') });
    expect(receiver.receive(t0, underNext)).toMatchObject({ kind: 'handshake', message: utf8('hello under epoch 1') });
    const late = sealHandshakeFragment(oldKeys!.obfuscation, random, fragmentOf(utf8('too late')), { opensFlow: false });
    expect(receiver.receive(t0 + 20_000, late)).toMatchObject({ kind: 'refused', code: 'ERR_OBFS_AUTH' });
  });

  it('does not let a frame that only looks like data under one epoch hide the handshake it is under another', () => {
    const ring = new NetworkKeyRing([old, next]);
    const [oldKeys, nextKeys] = ring.acceptedAt(t0);
    const random = seededRandom('look-alikes');
    // About 1 in 256 handshake frames under epoch 1 looks like a data frame under epoch 0.
    let lookAlike: Uint8Array | null = null;
    for (let attempt = 0; attempt < 20_000 && lookAlike === null; attempt++) {
      const frame = sealHandshakeFragment(nextKeys!.obfuscation, random, fragmentOf(utf8(`attempt ${attempt}`)), { opensFlow: false });
      if (oldKeys!.obfuscation.data.isDataShaped(frame)) lookAlike = frame;
    }
    expect(lookAlike).not.toBeNull();
    const receiver = new FrameReceiver(ring);
    expect(receiver.receive(t0, lookAlike!, 'peer', () => false).kind).toBe('handshake');
  });

  it('hands on a data look-alike that names no session and authenticates under no key, for the session layer to count', () => {
    const ring = new NetworkKeyRing([old, next]);
    const [oldKeys] = ring.acceptedAt(t0);
    // A well-formed data frame under epoch 0 for a session nobody has.
    const junk = oldKeys!.obfuscation.data.frame(1234, 5, seededRandom('junk')(100));
    const receiver = new FrameReceiver(ring);
    expect(receiver.receive(t0, junk, 'peer', () => false)).toMatchObject({ kind: 'data', receiverIndex: 1234, counter: 5 });
    expect(receiver.receive(t0, new Uint8Array(200).fill(1), 'peer', () => false).kind).toBe('refused');
  });
});
