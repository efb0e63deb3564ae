import { createCipheriv, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dataHeaderBytes, dataPaddingBytesMax, dataPayloadBytesMax } from '../../src/crypto/data-frame.js';
import { fetVerdict } from '../../src/crypto/fet.js';
import { consumeResponse, createInitiation, initiationToSend, Responder } from '../../src/crypto/handshake.js';
import { cookieReplyBytes, initiationBytesMax, responseBytes } from '../../src/crypto/handshake-messages.js';
import { sha256 } from '../../src/crypto/hash.js';
import {
  cookieBodyBytesMax,
  datagramBytesMax,
  datagramBytesMin,
  deriveObfuscationKeys,
  FrameReceiver,
  fragmentBodyBytesMax,
  fragmentsPerMessageMax,
  handshakeMessageBytesMax,
  handshakePaddingBytesMax,
  ObfuscationErrorCode,
  openFrame,
  planFragmentSizes,
  reassembliesMax,
  reassembliesPerSourceMax,
  reassemblyBytesMax,
  reassemblyTimeoutMs,
  replayEntriesMax,
  replayWindowMs,
  sealCookieFrame,
  sealHandshakeFragment,
  sealHandshakeMessage,
  type HandshakeFragment,
  type ObfuscationKeys,
  type Received,
} from '../../src/crypto/obfuscation.js';
import { Session, type SessionKeys } from '../../src/crypto/session.js';
import { credentialOf, seededRandom, testConfig, testIdentity } from './handshake-fixtures.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

const t0 = 1_700_000_000_000;
const keys = deriveObfuscationKeys(sha256(utf8('network key of mesh.test')));
const otherNetworkKeys = deriveObfuscationKeys(sha256(utf8('network key of another mesh')));

/** A fast seeded byte stream (AES-256-CTR over zeros) for bulk message bodies; API randomness uses seededRandom. */
function bulkRandom(label: string): (count: number) => Uint8Array {
  const cipher = createCipheriv('aes-256-ctr', sha256(utf8(label)), new Uint8Array(16));
  return (count) => new Uint8Array(cipher.update(new Uint8Array(count)));
}

function refusedCode(result: Received | ReturnType<typeof openFrame>): string {
  return result.kind === 'refused' ? result.code : `accepted as ${result.kind}`;
}

function expectMessage(result: Received): Uint8Array {
  if (result.kind !== 'handshake') throw new Error(`expected a complete handshake message, got ${JSON.stringify(result)}`);
  return result.message;
}

/** Feeds datagrams to a fresh receiver and returns the last result. */
function deliver(datagrams: readonly Uint8Array[], receiver = new FrameReceiver(keys), nowMs = t0): Received {
  let last: Received = { kind: 'pending' };
  for (const datagram of datagrams) last = receiver.receive(nowMs, datagram, 'peer');
  return last;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

const aliceKeys: SessionKeys = { sendKey: new Uint8Array(32).fill(1), receiveKey: new Uint8Array(32).fill(2), localIndex: 7, remoteIndex: 9, isInitiator: true, establishedAtMs: t0 };
const bobKeys: SessionKeys = { sendKey: new Uint8Array(32).fill(2), receiveKey: new Uint8Array(32).fill(1), localIndex: 9, remoteIndex: 7, isInitiator: false, establishedAtMs: t0 };

/** A fresh initiator and responder session on shared keys: the sender and receiver of data frames. */
function sessionPair(): { alice: Session; bob: Session } {
  return { alice: new Session(aliceKeys), bob: new Session(bobKeys) };
}

/** Whether `bob` would accept `received` as a data packet: addressed to it, and opening under its key. */
function bobOpens(bob: Session, received: Received | null): boolean {
  if (received === null || received.kind !== 'data' || received.receiverIndex !== bob.localIndex) return false;
  try {
    bob.open(t0, received.counter, received.sealed);
    return true;
  } catch {
    return false;
  }
}

/**
 * The frame format as docs/obfuscation.md states it, written independently of the module:
 * nonce | AES-256-CTR(header | body | zeros) | HMAC-SHA-256(nonce | ciphertext)[0..16].
 */
function sealRaw(frameKeys: ObfuscationKeys, nonce: Uint8Array, plain: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-ctr', frameKeys.maskKey, nonce);
  const body = Buffer.concat([nonce, cipher.update(plain), cipher.final()]);
  const tag = createHmac('sha256', frameKeys.macKey).update(body).digest().subarray(0, 16);
  return new Uint8Array(Buffer.concat([body, tag]));
}

function openRaw(frameKeys: ObfuscationKeys, datagram: Uint8Array): Uint8Array {
  const decipher = createCipheriv('aes-256-ctr', frameKeys.maskKey, datagram.subarray(0, 16));
  return new Uint8Array(Buffer.concat([decipher.update(datagram.subarray(16, datagram.length - 16)), decipher.final()]));
}

/** The documented padding rule: HMAC(paddingKey, nonce | kind | u16 body) mod (max + 1). */
function canonicalPadding(nonce: Uint8Array, kind: number, bodyBytes: number, overhead: number, kindMax: number): number {
  const max = Math.min(kindMax, datagramBytesMax - overhead - bodyBytes);
  if (max <= 0) return 0;
  const prf = createHmac('sha256', keys.paddingKey).update(nonce).update(Uint8Array.of(kind, bodyBytes >> 8, bodyBytes & 0xff)).digest();
  return prf.readUInt32BE(0) % (max + 1);
}

/** A real initiation, response and cookie reply from the handshake module, with fixed seeds. */
function realHandshake(): { initiation: Uint8Array; response: Uint8Array; cookieReply: Uint8Array; responder: Responder; aliceConfig: ReturnType<typeof testConfig> } {
  const alice = testIdentity('spiffe://mesh.test/node/alice', 'obfs alice');
  const bob = testIdentity('spiffe://mesh.test/node/bob', 'obfs bob');
  const aliceConfig = testConfig(alice, 'obfs alice run');
  const responder = new Responder(testConfig(bob, 'obfs bob run'));
  const initiation = initiationToSend(createInitiation(aliceConfig, credentialOf(bob), t0), t0);
  const cookie = responder.handleInitiation(initiation, utf8('198.51.100.7:51820'), t0, true);
  if (cookie.kind !== 'cookie') throw new Error('expected a cookie reply under load');
  const answer = new Responder(testConfig(bob, 'obfs bob run 2')).handleInitiation(initiation, utf8('198.51.100.7:51820'), t0, false);
  if (answer.kind !== 'response') throw new Error('expected a response');
  return { initiation, response: answer.message, cookieReply: cookie.message, responder, aliceConfig };
}

const real = realHandshake();

describe('keys', () => {
  it('derives three distinct keys from the network key, the same every time', () => {
    const again = deriveObfuscationKeys(sha256(utf8('network key of mesh.test')));
    expect([hex(again.maskKey), hex(again.macKey), hex(again.paddingKey)]).toEqual([hex(keys.maskKey), hex(keys.macKey), hex(keys.paddingKey)]);
    expect(new Set([hex(keys.maskKey), hex(keys.macKey), hex(keys.paddingKey), hex(otherNetworkKeys.maskKey)]).size).toBe(4);
  });

  it('refuses a network key that is not 32 bytes', () => {
    expect(() => deriveObfuscationKeys(new Uint8Array(31))).toThrow(codeOf('ERR_CRYPTO_LENGTH'));
  });
});

describe('round trips', () => {
  it('carries a real initiation, response and cookie reply through the framing and completes the handshake', () => {
    const random = seededRandom('round trip handshake');
    const bobSide = new FrameReceiver(keys);
    const aliceSide = new FrameReceiver(keys);
    const initiation = expectMessage(deliver(sealHandshakeMessage(keys, random, real.initiation, { opensFlow: true }), bobSide));
    expect(hex(initiation)).toBe(hex(real.initiation));
    const response = expectMessage(deliver(sealHandshakeMessage(keys, random, real.response, { opensFlow: false }), aliceSide));
    expect(response).toHaveLength(responseBytes);
    const cookie = aliceSide.receive(t0, sealCookieFrame(keys, random, real.cookieReply));
    expect(cookie).toEqual({ kind: 'cookie', message: real.cookieReply });
    expect(real.cookieReply).toHaveLength(cookieReplyBytes);
  });

  it('carries session packets: index and counter in the masked header, the sealed bytes as the body', () => {
    const { alice, bob } = sessionPair();
    const receiver = new FrameReceiver(keys);
    for (const text of ['hello', '', 'x'.repeat(1000)]) {
      const received = receiver.receive(t0, keys.data.seal(t0, alice, utf8(text)));
      if (received.kind !== 'data') throw new Error(`expected data, got ${received.kind}`);
      expect(received.receiverIndex).toBe(bob.localIndex);
      expect(new TextDecoder().decode(keys.data.unpad(bob.open(t0, received.counter, received.sealed))!)).toBe(text);
    }
  });

  it('hands any data frame to the session untouched: index, counter and sealed bytes (property)', () => {
    const receiver = new FrameReceiver(keys);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.oneof(fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, 2 ** 52, Number.MAX_SAFE_INTEGER), fc.maxSafeNat()),
        fc.uint8Array({ minLength: datagramBytesMin - dataHeaderBytes, maxLength: datagramBytesMax - dataHeaderBytes }),
        (receiverIndex, counter, sealed) => {
          const datagram = keys.data.frame(receiverIndex, counter, sealed);
          expect(datagram.length).toBeLessThanOrEqual(datagramBytesMax);
          expect(receiver.receive(t0, datagram)).toEqual({ kind: 'data', receiverIndex, counter, sealed });
        },
      ),
      { numRuns: 300, seed: 7 },
    );
    expect(receiver.replayEntries).toBe(0);
  });

  it.each([1, 49, fragmentBodyBytesMax - 128, fragmentBodyBytesMax, responseBytes, 2400, 18_800, handshakeMessageBytesMax])('fragments and reassembles a %i-byte message in order', (length) => {
    const message = bulkRandom(`message ${length}`)(length);
    const datagrams = sealHandshakeMessage(keys, seededRandom(`fragments ${length}`), message, { opensFlow: true });
    expect(datagrams.every((datagram) => datagram.length <= datagramBytesMax)).toBe(true);
    expect(datagrams.length).toBeLessThanOrEqual(fragmentsPerMessageMax);
    expect(hex(expectMessage(deliver(datagrams)))).toBe(hex(message));
  });

  it('plans fragment sizes that add up, stay within a datagram and never use more than fragmentsPerMessageMax', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: handshakeMessageBytesMax }), fc.integer(), (length, seed) => {
        const sizes = planFragmentSizes(length, seededRandom(`plan ${seed}`));
        expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(length);
        expect(sizes.every((size) => size >= 1 && size <= fragmentBodyBytesMax)).toBe(true);
        expect(sizes.length).toBeLessThanOrEqual(fragmentsPerMessageMax);
      }),
      { numRuns: 500, seed: 11 },
    );
    expect(handshakeMessageBytesMax).toBeGreaterThanOrEqual(initiationBytesMax);
  });

  it('matches the documented format: an independent decoder reads header, body and canonical zero padding', () => {
    const datagram = sealCookieFrame(keys, seededRandom('format'), real.cookieReply);
    const plain = openRaw(keys, datagram);
    const nonce = datagram.subarray(0, 16);
    expect([plain[0], (plain[1]! << 8) | plain[2]!]).toEqual([3, cookieReplyBytes]);
    expect(hex(plain.subarray(3, 3 + cookieReplyBytes))).toBe(hex(real.cookieReply));
    expect(plain.length - 3 - cookieReplyBytes).toBe(canonicalPadding(nonce, 3, cookieReplyBytes, 35, handshakePaddingBytesMax));
    expect(plain.subarray(3 + cookieReplyBytes).every((byte) => byte === 0)).toBe(true);
    expect(hex(sealRaw(keys, nonce, plain))).toBe(hex(datagram));
  });
});

describe('reassembly', () => {
  const message = bulkRandom('reassembly message')(5000);
  const sealFive = (label: string): Uint8Array[] => sealHandshakeMessage(keys, seededRandom(label), message, { opensFlow: false });

  it('reassembles out of order: reversed and shuffled', () => {
    const datagrams = sealFive('out of order');
    expect(datagrams.length).toBeGreaterThanOrEqual(5);
    expect(hex(expectMessage(deliver([...datagrams].reverse())))).toBe(hex(message));
    const shuffled = [datagrams[2]!, datagrams[0]!, datagrams[4]!, datagrams[1]!, ...datagrams.slice(5), datagrams[3]!];
    expect(hex(expectMessage(deliver(shuffled)))).toBe(hex(message));
  });

  it('refuses a duplicated datagram as a replay and still completes the message', () => {
    const datagrams = sealFive('duplicates');
    const receiver = new FrameReceiver(keys);
    expect(receiver.receive(t0, datagrams[0]!, 'peer')).toEqual({ kind: 'pending' });
    expect(refusedCode(receiver.receive(t0, datagrams[0]!, 'peer'))).toBe('ERR_OBFS_REPLAY');
    expect(hex(expectMessage(deliver(datagrams.slice(1), receiver)))).toBe(hex(message));
  });

  it('ignores a fragment sent again under a new nonce, and refuses one whose contents changed', () => {
    const fragment = (index: number, body: Uint8Array, offset: number): HandshakeFragment => ({ messageId: 42, index, count: 2, messageBytes: 10, offset, body });
    const random = seededRandom('resend');
    const receiver = new FrameReceiver(keys);
    const first = fragment(0, message.subarray(0, 4), 0);
    expect(receiver.receive(t0, sealHandshakeFragment(keys, random, first, { opensFlow: false }))).toEqual({ kind: 'pending' });
    expect(receiver.receive(t0, sealHandshakeFragment(keys, random, first, { opensFlow: false }))).toEqual({ kind: 'pending' });
    const changed = fragment(0, Uint8Array.of(9, 9, 9, 9), 0);
    expect(refusedCode(receiver.receive(t0, sealHandshakeFragment(keys, random, changed, { opensFlow: false })))).toBe('ERR_OBFS_FRAGMENT');
    expect(receiver.reassemblyCount).toBe(0);
    expect(receiver.receive(t0, sealHandshakeFragment(keys, random, first, { opensFlow: false }))).toEqual({ kind: 'pending' });
    const longer = fragment(0, message.subarray(0, 5), 0);
    expect(refusedCode(receiver.receive(t0, sealHandshakeFragment(keys, random, longer, { opensFlow: false })))).toBe('ERR_OBFS_FRAGMENT');
  });

  it.each([
    ['a different fragment count', { count: 3 }],
    ['a different message length', { messageBytes: 11 }],
    ['an overlapping range', { offset: 3 }],
    ['an offset out of order with the index', { index: 0, offset: 6 }],
  ] as const)('refuses a fragment with %s and drops the message', (_, change) => {
    const random = seededRandom('inconsistent');
    const receiver = new FrameReceiver(keys);
    const base: HandshakeFragment = { messageId: 7, index: 1, count: 2, messageBytes: 10, offset: 4, body: message.subarray(4, 10) };
    expect(receiver.receive(t0, sealHandshakeFragment(keys, random, base, { opensFlow: false }))).toEqual({ kind: 'pending' });
    const other = { ...base, index: 0, offset: 0, body: message.subarray(0, 4), ...change };
    expect(refusedCode(receiver.receive(t0, sealHandshakeFragment(keys, random, other, { opensFlow: false })))).toBe('ERR_OBFS_FRAGMENT');
    expect([receiver.reassemblyCount, receiver.reassemblyBytes]).toEqual([0, 0]);
  });

  it('refuses fragments that leave a gap, and a single fragment that is not the whole message', () => {
    const random = seededRandom('gaps');
    const gap: HandshakeFragment[] = [
      { messageId: 1, index: 0, count: 2, messageBytes: 10, offset: 0, body: message.subarray(0, 4) },
      { messageId: 1, index: 1, count: 2, messageBytes: 10, offset: 5, body: message.subarray(5, 10) },
    ];
    expect(refusedCode(deliver(gap.map((fragment) => sealHandshakeFragment(keys, random, fragment, { opensFlow: false }))))).toBe('ERR_OBFS_FRAGMENT');
    const partial: HandshakeFragment = { messageId: 2, index: 0, count: 1, messageBytes: 10, offset: 2, body: message.subarray(0, 8) };
    expect(refusedCode(deliver([sealHandshakeFragment(keys, random, partial, { opensFlow: false })]))).toBe('ERR_OBFS_FRAGMENT');
  });

  it('keeps fragments from different sources apart', () => {
    const datagrams = sealHandshakeMessage(keys, seededRandom('sources'), message.subarray(0, 2000), { opensFlow: false });
    const receiver = new FrameReceiver(keys);
    expect(receiver.receive(t0, datagrams[0]!, 'a')).toEqual({ kind: 'pending' });
    expect(receiver.receive(t0, datagrams[1]!, 'b')).toEqual({ kind: 'pending' });
    expect(receiver.reassemblyCount).toBe(2);
  });

  it('times out a message with a missing fragment and frees its memory', () => {
    const datagrams = sealFive('timeout');
    const receiver = new FrameReceiver(keys);
    expect(receiver.nextDeadlineMs()).toBeNull();
    for (const datagram of datagrams.slice(0, -1)) receiver.receive(t0, datagram);
    expect([receiver.reassemblyCount, receiver.reassemblyBytes, receiver.nextDeadlineMs()]).toEqual([1, message.length, t0 + reassemblyTimeoutMs]);
    receiver.expire(t0 + reassemblyTimeoutMs - 1);
    expect(receiver.reassemblyCount).toBe(1);
    expect(receiver.receive(t0 + reassemblyTimeoutMs, datagrams.at(-1)!)).toEqual({ kind: 'pending' }); // starts afresh, cannot complete
    receiver.expire(t0 + 2 * reassemblyTimeoutMs);
    expect([receiver.reassemblyCount, receiver.reassemblyBytes, receiver.nextDeadlineMs()]).toEqual([0, 0, null]);
  });

  it(`refuses a ${reassembliesMax + 1}th concurrent message, and accepts again once one times out`, () => {
    const random = seededRandom('count limit');
    const receiver = new FrameReceiver(keys);
    const firstHalf = (messageId: number): Uint8Array =>
      sealHandshakeFragment(keys, random, { messageId, index: 0, count: 2, messageBytes: 100, offset: 0, body: message.subarray(0, 50) }, { opensFlow: false });
    // Distinct sources, so that only the global limit applies.
    for (let id = 0; id < reassembliesMax; id++) expect(receiver.receive(t0 + id, firstHalf(id), `s${id}`)).toEqual({ kind: 'pending' });
    expect(receiver.nextDeadlineMs()).toBe(t0 + reassemblyTimeoutMs);
    expect(refusedCode(receiver.receive(t0 + 100, firstHalf(reassembliesMax), 'another'))).toBe('ERR_OBFS_LIMIT');
    expect(receiver.receive(t0 + reassemblyTimeoutMs, firstHalf(reassembliesMax + 1), 'another')).toEqual({ kind: 'pending' });
    expect(receiver.reassemblyCount).toBe(reassembliesMax);
  });

  it(`lets one source hold at most ${reassembliesPerSourceMax} messages in reassembly, leaving room for the others`, () => {
    const random = seededRandom('per source limit');
    const receiver = new FrameReceiver(keys);
    const firstHalf = (messageId: number): Uint8Array =>
      sealHandshakeFragment(keys, random, { messageId, index: 0, count: 2, messageBytes: 100, offset: 0, body: message.subarray(0, 50) }, { opensFlow: false });
    for (let id = 0; id < reassembliesPerSourceMax; id++) expect(receiver.receive(t0, firstHalf(id), 'flooder')).toEqual({ kind: 'pending' });
    expect(refusedCode(receiver.receive(t0, firstHalf(99), 'flooder'))).toBe('ERR_OBFS_LIMIT');
    expect(receiver.receive(t0, firstHalf(100), 'honest')).toEqual({ kind: 'pending' });
    receiver.expire(t0 + reassemblyTimeoutMs);
    expect(receiver.receive(t0 + reassemblyTimeoutMs, firstHalf(101), 'flooder')).toEqual({ kind: 'pending' });
  });

  it(`refuses a message that would take reassembly past ${reassemblyBytesMax} bytes`, () => {
    const random = seededRandom('bytes limit');
    const receiver = new FrameReceiver(keys);
    const firstOfLargest = (messageId: number): Uint8Array =>
      sealHandshakeFragment(keys, random, { messageId, index: 0, count: 20, messageBytes: handshakeMessageBytesMax, offset: 0, body: message.subarray(0, 1000) }, { opensFlow: false });
    const fitting = Math.floor(reassemblyBytesMax / handshakeMessageBytesMax);
    for (let id = 0; id < fitting; id++) expect(receiver.receive(t0, firstOfLargest(id), `s${id}`)).toEqual({ kind: 'pending' });
    expect(refusedCode(receiver.receive(t0, firstOfLargest(fitting), 'another'))).toBe('ERR_OBFS_LIMIT');
    expect(receiver.reassemblyBytes).toBe(fitting * handshakeMessageBytesMax);
  });
});

describe('telling the frame kinds apart', () => {
  /** A seeded source that counts how many 16-byte nonces it handed out. */
  function countingRandom(label: string): { random: (bytes: number) => Uint8Array; nonces: () => number } {
    const inner = seededRandom(label);
    let nonces = 0;
    return {
      random: (bytes) => {
        if (bytes === 16) nonces++;
        return inner(bytes);
      },
      nonces: () => nonces,
    };
  }

  it('never sends a cookie frame that is data-shaped: it draws a new nonce instead (the receiver gives the cookie back)', () => {
    const { random, nonces } = countingRandom('cookie kinds');
    const receiver = new FrameReceiver(keys);
    const count = 6000;
    for (let i = 0; i < count; i++) {
      const datagram = sealCookieFrame(keys, random, real.cookieReply);
      expect(keys.data.isDataShaped(datagram)).toBe(false);
      expect(receiver.receive(t0, datagram)).toEqual({ kind: 'cookie', message: real.cookieReply });
    }
    // 1 draw in 256 is data-shaped and redrawn: ~23 extra nonces expected (standard deviation ~5).
    expect(nonces() - count).toBeGreaterThan(5);
    expect(nonces() - count).toBeLessThan(60);
  });

  it('never sends a handshake fragment that is data-shaped, first packets included (the receiver gives the message back)', () => {
    const { random, nonces } = countingRandom('handshake kinds');
    let fragments = 0;
    for (let i = 0; i < 1000; i++) {
      const datagrams = sealHandshakeMessage(keys, random, real.response, { opensFlow: false });
      expect(datagrams.every((datagram) => !keys.data.isDataShaped(datagram))).toBe(true);
      expect(hex(expectMessage(deliver(datagrams, new FrameReceiver(keys))))).toBe(hex(real.response));
      fragments += datagrams.length;
    }
    // ~3000 fragments, 1 in 256 redrawn: ~12 extra nonces expected (standard deviation ~3.4).
    expect(nonces() - fragments).toBeGreaterThan(2);
    expect(nonces() - fragments).toBeLessThan(40);
    const firsts = Array.from({ length: 500 }, () => sealHandshakeMessage(keys, random, real.initiation, { opensFlow: true })[0]!);
    expect(firsts.every((datagram) => !keys.data.isDataShaped(datagram))).toBe(true);
  });

  it('draws a new printable nonce when a first packet would be data-shaped', () => {
    const fragment: HandshakeFragment = { messageId: 3, index: 0, count: 1, messageBytes: 40, offset: 0, body: real.initiation.subarray(0, 40) };
    // Bytes below 190 map to printable characters one to one (0x20 + byte mod 95), so one draw makes a nonce.
    const candidates = bulkRandom('printable stuck');
    let stuck: Uint8Array | null = null;
    for (let tries = 0; tries < 4096 && stuck === null; tries++) {
      const draw = candidates(16).map((byte) => byte % 190);
      try {
        sealHandshakeFragment(keys, () => draw.slice(), fragment, { opensFlow: true });
      } catch (error) {
        expect(String(error)).toMatch(/data-shaped/);
        stuck = draw;
      }
    }
    if (stuck === null) throw new Error('expected a data-shaped printable nonce among 4096');
    const fresh = seededRandom('fresh printable');
    let draws = 0;
    const datagram = sealHandshakeFragment(keys, (bytes) => (draws++ === 0 ? stuck.slice() : fresh(bytes)), fragment, { opensFlow: true });
    expect(draws).toBeGreaterThan(1);
    expect(keys.data.isDataShaped(datagram)).toBe(false);
    expect(hex(datagram.subarray(0, 16))).not.toBe(hex(stuck.map((byte) => 0x20 + (byte % 95))));
    expect(datagram.subarray(0, 16).every((byte) => byte >= 0x20 && byte <= 0x7e)).toBe(true);
    expect(new FrameReceiver(keys).receive(t0, datagram)).toEqual({ kind: 'handshake', message: fragment.body });
  });
});

describe('replay of handshake datagrams', () => {
  it('refuses a replayed first fragment within the window; the handshake timestamp guards after it', () => {
    const [first] = sealHandshakeMessage(keys, seededRandom('replay'), real.initiation, { opensFlow: true });
    const receiver = new FrameReceiver(keys);
    expect(receiver.receive(t0, first!)).toEqual({ kind: 'pending' });
    expect(refusedCode(receiver.receive(t0 + 1, first!))).toBe('ERR_OBFS_REPLAY');
    expect(refusedCode(receiver.receive(t0 + replayWindowMs - 1, first!))).toBe('ERR_OBFS_REPLAY');
    expect(receiver.receive(t0 + replayWindowMs, first!)).toEqual({ kind: 'pending' });
  });

  it('keeps refusing replays within the window when the clock steps back', () => {
    const random = seededRandom('clock steps back');
    const receiver = new FrameReceiver(keys);
    const [late, early] = [sealCookieFrame(keys, random, real.cookieReply), sealCookieFrame(keys, random, real.cookieReply)];
    receiver.receive(t0 + 1000, late);
    receiver.receive(t0, early); // the clock stepped back by a second
    expect(refusedCode(receiver.receive(t0 + replayWindowMs - 1, early))).toBe('ERR_OBFS_REPLAY');
    expect(receiver.receive(t0 + replayWindowMs + 500, early).kind).toBe('cookie'); // past its window, behind a live entry
    expect(refusedCode(receiver.receive(t0 + replayWindowMs + 500, late))).toBe('ERR_OBFS_REPLAY');
  });

  it('refuses a replayed cookie reply but leaves data replay to the session', () => {
    const random = seededRandom('replay kinds');
    const receiver = new FrameReceiver(keys);
    const cookie = sealCookieFrame(keys, random, real.cookieReply);
    expect(receiver.receive(t0, cookie).kind).toBe('cookie');
    expect(refusedCode(receiver.receive(t0, cookie))).toBe('ERR_OBFS_REPLAY');
    const { alice, bob } = sessionPair();
    const data = keys.data.seal(t0, alice, utf8('once'));
    const [first, again] = [receiver.receive(t0, data), receiver.receive(t0, data)];
    expect([first.kind, again.kind, receiver.replayEntries]).toEqual(['data', 'data', 1]);
    expect(bobOpens(bob, first)).toBe(true);
    if (again.kind !== 'data') throw new Error('expected data');
    expect(() => bob.open(t0, again.counter, again.sealed)).toThrow(codeOf('ERR_SESSION_REPLAY'));
  });

  it(`remembers at most ${replayEntriesMax} datagrams, forgetting the oldest first`, () => {
    const random = seededRandom('replay capacity');
    const receiver = new FrameReceiver(keys);
    const body = Uint8Array.of(1);
    const oldest = sealCookieFrame(keys, random, body);
    receiver.receive(t0, oldest);
    for (let i = 0; i < replayEntriesMax; i++) receiver.receive(t0, sealCookieFrame(keys, random, body));
    expect(receiver.replayEntries).toBe(replayEntriesMax);
    expect(receiver.receive(t0, oldest).kind).toBe('cookie');
  });
});

describe('nothing that does not authenticate is accepted, and nothing throws', () => {
  const random = seededRandom('flips');
  const samples = {
    firstFragment: sealHandshakeMessage(keys, random, real.initiation, { opensFlow: true })[0]!,
    laterFragment: sealHandshakeMessage(keys, random, real.response, { opensFlow: false })[1]!,
    cookie: sealCookieFrame(keys, random, real.cookieReply),
  };
  const dataSample = (): { datagram: Uint8Array; bob: Session } => {
    const { alice, bob } = sessionPair();
    return { datagram: keys.data.seal(t0, alice, bulkRandom('sealed')(120)), bob };
  };

  /** What the receiving side makes of a damaged datagram: a refusal, or a data frame no session opens. */
  function expectNotAccepted(received: Received, bob: Session, codes: readonly string[]): void {
    if (received.kind === 'data') expect(bobOpens(bob, received)).toBe(false);
    else expect(codes).toContain(refusedCode(received));
  }

  it.each(Object.entries(samples))('refuses every single-bit flip of a %s (exhaustive)', (_, datagram) => {
    expect(openFrame(keys, datagram).kind).not.toBe('refused');
    const codes = new Set<string>();
    const receiver = new FrameReceiver(keys);
    const { bob } = sessionPair();
    for (let bit = 0; bit < datagram.length * 8; bit++) {
      codes.add(refusedCode(openFrame(keys, flipBit(datagram, bit))));
      // The receiver unmasks first: a flip may make the frame data-shaped (1/256), and then no session opens it.
      expectNotAccepted(receiver.receive(t0, flipBit(datagram, bit)), bob, ['ERR_OBFS_AUTH']);
    }
    expect([...codes]).toEqual(['ERR_OBFS_AUTH']);
  });

  it('refuses every single-bit flip of a data frame: the HMAC path refuses it, or the session does (exhaustive)', () => {
    const { datagram, bob } = dataSample();
    const receiver = new FrameReceiver(keys);
    const kinds = new Set<string>();
    for (let bit = 0; bit < datagram.length * 8; bit++) {
      const received = receiver.receive(t0, flipBit(datagram, bit));
      kinds.add(received.kind === 'data' ? 'data' : refusedCode(received));
      expectNotAccepted(received, bob, ['ERR_OBFS_AUTH']);
    }
    expect([...kinds].sort()).toEqual(['ERR_OBFS_AUTH', 'data']);
    expect(bobOpens(bob, receiver.receive(t0, datagram))).toBe(true);
  });

  it('refuses every flipped bit of random frames of every kind (property)', () => {
    const frame = fc.oneof(
      fc.record({ kind: fc.constant('handshake' as const), length: fc.integer({ min: 1, max: 4000 }), opensFlow: fc.boolean() }),
      fc.record({ kind: fc.constant('data' as const), length: fc.integer({ min: 0, max: dataPayloadBytesMax }), opensFlow: fc.constant(false) }),
      fc.record({ kind: fc.constant('cookie' as const), length: fc.integer({ min: 1, max: cookieBodyBytesMax }), opensFlow: fc.constant(false) }),
    );
    fc.assert(
      fc.property(frame, fc.nat(), fc.nat(), fc.nat(), ({ kind, length, opensFlow }, seed, which, bitSeed) => {
        const body = bulkRandom(`flip body ${seed}`)(length);
        const frameRandom = seededRandom(`flip ${seed}`);
        const { alice, bob } = sessionPair();
        const datagrams =
          kind === 'handshake'
            ? sealHandshakeMessage(keys, frameRandom, body, { opensFlow })
            : [kind === 'data' ? keys.data.seal(t0, alice, body) : sealCookieFrame(keys, frameRandom, body)];
        const datagram = datagrams[which % datagrams.length]!;
        const receiver = new FrameReceiver(keys);
        expectNotAccepted(receiver.receive(t0, flipBit(datagram, bitSeed % (datagram.length * 8))), bob, ['ERR_OBFS_AUTH']);
      }),
      { numRuns: 400, seed: 1234 },
    );
  });

  it('answers garbage of any length with a typed refusal, or a data frame no session opens', () => {
    const receiver = new FrameReceiver(keys);
    const { bob } = sessionPair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), (garbage) => {
        const result = receiver.receive(t0, garbage);
        const expected = garbage.length < datagramBytesMin || garbage.length > datagramBytesMax ? 'ERR_OBFS_LENGTH' : 'ERR_OBFS_AUTH';
        expectNotAccepted(result, bob, [expected]);
        expect(result.kind === 'data').toBe(keys.data.unmask(garbage) !== null);
      }),
      { numRuns: 2000, seed: 99 },
    );
  });

  it('refuses every truncation and extension of a valid datagram, and datagrams of another network', () => {
    const { datagram: data, bob } = dataSample();
    const receiver = new FrameReceiver(keys);
    for (const datagram of [...Object.values(samples), data]) {
      for (let length = 0; length < datagram.length; length++) {
        for (const cut of [datagram.subarray(0, length), datagram.subarray(datagram.length - length)]) {
          expect(['ERR_OBFS_LENGTH', 'ERR_OBFS_AUTH']).toContain(refusedCode(openFrame(keys, cut)));
          expectNotAccepted(receiver.receive(t0, cut), bob, ['ERR_OBFS_LENGTH', 'ERR_OBFS_AUTH']);
        }
      }
      const extended = new Uint8Array(datagram.length + 1);
      extended.set(datagram);
      expect(['ERR_OBFS_LENGTH', 'ERR_OBFS_AUTH']).toContain(refusedCode(openFrame(keys, extended)));
      expectNotAccepted(receiver.receive(t0, extended), bob, ['ERR_OBFS_LENGTH', 'ERR_OBFS_AUTH']);
      expect(refusedCode(openFrame(otherNetworkKeys, datagram))).toBe('ERR_OBFS_AUTH');
      // Under another network key a data frame unmasks to a random kind; this one is not data-shaped there.
      expect(refusedCode(new FrameReceiver(otherNetworkKeys).receive(t0, datagram))).toBe('ERR_OBFS_AUTH');
    }
  });
});

describe('frames only an insider could forge are still parsed strictly', () => {
  const nonce = bulkRandom('insider nonce')(16);
  const u16 = (value: number): number[] => [value >> 8, value & 0xff];
  const u32 = (value: number): number[] => [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
  const withCanonicalPadding = (head: number[], body: number[], kind: number, overhead: number, kindMax: number): Uint8Array =>
    Uint8Array.from([...head, ...body, ...new Array<number>(canonicalPadding(nonce, kind, body.length, overhead, kindMax)).fill(0)]);

  it('accepts a hand-built canonical frame of each kind (the encoding is the documented one)', () => {
    const cookie = withCanonicalPadding([3, ...u16(2)], [7, 8], 3, 35, handshakePaddingBytesMax);
    expect(openFrame(keys, sealRaw(keys, nonce, cookie))).toMatchObject({ kind: 'cookie', message: Uint8Array.of(7, 8) });
    const handshake = withCanonicalPadding([1, ...u32(77), 0, 1, ...u16(1), ...u16(0), ...u16(1)], [4], 1, 45, handshakePaddingBytesMax);
    expect(openFrame(keys, sealRaw(keys, nonce, handshake))).toMatchObject({ kind: 'handshake', fragment: { messageId: 77, index: 0, count: 1, messageBytes: 1, offset: 0 } });
  });

  it.each([
    ['an unknown kind', Uint8Array.from([9, 0, 1, 5])],
    ['a truncated handshake header', Uint8Array.from([1, 0, 0, 0])],
    ['a cookie without a body', Uint8Array.from([3, 0, 0, 0])],
    ['a body longer than the frame', Uint8Array.from([3, 0, 9, 1])],
    ['padding of the wrong length', withCanonicalPadding([3, ...u16(1)], [5], 3, 35, handshakePaddingBytesMax).subarray(0, 4 + 1)],
    ['handshake padding of the wrong length', Uint8Array.from([1, ...u32(1), 0, 1, ...u16(1), ...u16(0), ...u16(1), 1, ...new Array<number>(canonicalPadding(nonce, 1, 1, 45, handshakePaddingBytesMax) + 1).fill(0)])],
    ['padding that is not zero', (() => { const plain = withCanonicalPadding([3, ...u16(1)], [5], 3, 35, handshakePaddingBytesMax); plain[plain.length - 1] = 1; return plain; })()],
    ['fragment index not below the count', Uint8Array.from([1, ...u32(1), 2, 2, ...u16(10), ...u16(0), ...u16(1), 1])],
    ['more fragments than allowed', Uint8Array.from([1, ...u32(1), 0, fragmentsPerMessageMax + 1, ...u16(10), ...u16(0), ...u16(1), 1])],
    ['a message over the limit', Uint8Array.from([1, ...u32(1), 0, 2, ...u16(handshakeMessageBytesMax + 1), ...u16(0), ...u16(1), 1])],
    ['a fragment past the message end', Uint8Array.from([1, ...u32(1), 0, 2, ...u16(10), ...u16(10), ...u16(1), 1])],
    ['an empty fragment', Uint8Array.from([1, ...u32(1), 0, 2, ...u16(10), ...u16(0), ...u16(0)])],
  ])('refuses %s with ERR_OBFS_FORMAT', (_, plain) => {
    const result = new FrameReceiver(keys).receive(t0, sealRaw(keys, nonce, plain));
    expect(refusedCode(result)).toBe('ERR_OBFS_FORMAT');
  });

  it('refuses kind 2 inside an HMAC frame: data frames have their own format now (data-frame.ts)', () => {
    // What the old format's data header looked like: kind, index, counter, body length, then a body.
    const oldData = withCanonicalPadding([2, ...u32(5), ...u32(1), ...u32(2), ...u16(1)], [9], 2, 47, 64);
    const datagram = sealRaw(keys, nonce, oldData);
    expect(keys.data.isDataShaped(datagram)).toBe(false);
    const refusal = { kind: 'refused', code: ObfuscationErrorCode.ERR_OBFS_FORMAT, reason: 'unknown frame kind 2' };
    expect(openFrame(keys, datagram)).toEqual(refusal);
    expect(new FrameReceiver(keys).receive(t0, datagram)).toEqual(refusal);
  });
});

describe('what an observer sees', () => {
  /** Chi-square statistic of `counts` against a uniform distribution over `bins` values. */
  function chiSquare(counts: readonly number[], bins: number): number {
    const total = counts.reduce((sum, count) => sum + count, 0);
    const expected = total / bins;
    return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  }

  /** Datagrams of every kind except first packets: handshake fragments, data and cookie frames. */
  function mixedDatagrams(count: number): Uint8Array[] {
    const random = seededRandom('observer mixed');
    const bodies = bulkRandom('observer bodies');
    // One session, so that data frames share index and counter sequence: only the mask may hide them.
    const { alice } = sessionPair();
    const datagrams: Uint8Array[] = [];
    for (let i = 0; datagrams.length < count; i++) {
      if (i % 10 === 0) datagrams.push(...sealHandshakeMessage(keys, random, real.response, { opensFlow: false }));
      else if (i % 10 === 1) datagrams.push(sealCookieFrame(keys, random, real.cookieReply));
      else datagrams.push(keys.data.seal(t0, alice, bodies(i % 64)));
    }
    return datagrams.slice(0, count);
  }

  const mixed = mixedDatagrams(4096);
  const shortest = Math.min(...mixed.map((datagram) => datagram.length));

  it('has ~uniform bytes at every offset from the start and from the end (chi-square, 255 degrees of freedom)', () => {
    // Under uniformity the statistic has mean 255 and standard deviation ~22.6; 400 is >6 sigma.
    for (const fromEnd of [false, true]) {
      for (let offset = 0; offset < shortest; offset++) {
        const counts = new Array<number>(256).fill(0);
        for (const datagram of mixed) counts[datagram[fromEnd ? datagram.length - 1 - offset : offset]!]!++;
        expect(chiSquare(counts, 256), `offset ${offset} from the ${fromEnd ? 'end' : 'start'}`).toBeLessThan(400);
      }
    }
  });

  it('has ~uniform bytes at every offset of data frames alone, the masked header included (chi-square)', () => {
    // 4096 frames of one session: consecutive counters and one index, in a header masked per packet.
    const { alice } = sessionPair();
    const bodies = bulkRandom('data observer bodies');
    const frames = Array.from({ length: 4096 }, (_, i) => keys.data.seal(t0, alice, bodies(i % 32)));
    const shortestFrame = Math.min(...frames.map((frame) => frame.length));
    expect(shortestFrame).toBe(datagramBytesMin);
    for (const fromEnd of [false, true]) {
      for (let offset = 0; offset < shortestFrame; offset++) {
        const counts = new Array<number>(256).fill(0);
        for (const frame of frames) counts[frame[fromEnd ? frame.length - 1 - offset : offset]!]!++;
        expect(chiSquare(counts, 256), `offset ${offset} from the ${fromEnd ? 'end' : 'start'}`).toBeLessThan(400);
      }
    }
    const kinds = new Set(frames.map((frame) => frame[0]));
    expect(kinds.size).toBeGreaterThan(240);
  });

  it('carries no constant byte at any offset', () => {
    for (let offset = 0; offset < shortest; offset++) {
      const values = new Set(mixed.map((datagram) => datagram[offset]));
      expect(values.size, `offset ${offset}`).toBeGreaterThan(200);
    }
  });

  it('varies the lengths of cookie replies, responses and data packets of one size', () => {
    const random = seededRandom('lengths');
    const cookieLengths = new Set(Array.from({ length: 2000 }, () => sealCookieFrame(keys, random, real.cookieReply).length));
    expect(cookieLengths.size).toBeGreaterThan(handshakePaddingBytesMax * 0.9);
    const responseLengths = Array.from({ length: 500 }, () => sealHandshakeMessage(keys, random, real.response, { opensFlow: false }).map((datagram) => datagram.length));
    expect(new Set(responseLengths.map((lengths) => lengths[0])).size).toBeGreaterThan(200);
    expect(new Set(responseLengths.map((lengths) => lengths.join(','))).size).toBeGreaterThan(490);
    const { alice } = sessionPair();
    const dataLengths = new Set(Array.from({ length: 1000 }, () => keys.data.seal(t0, alice, new Uint8Array(100)).length));
    expect(dataLengths.size).toBe(dataPaddingBytesMax + 1);
  });

  it('never pins fragments of a large message at the datagram maximum', () => {
    const random = seededRandom('full fragments');
    const message = bulkRandom('large')(18_800);
    const lengths = Array.from({ length: 100 }, () => sealHandshakeMessage(keys, random, message, { opensFlow: false })).flat().map((datagram) => datagram.length);
    expect(lengths.filter((length) => length === datagramBytesMax).length / lengths.length).toBeLessThan(0.05);
    // 19 fragments of 989 +-128 bytes plus 0..255 of padding, capped at 1200: ~295 possible lengths.
    expect(new Set(lengths).size).toBeGreaterThan(200);
  });

  it('has a first packet of printable random bytes, uniform over the 95 printable characters at each of its 16 first offsets', () => {
    const random = seededRandom('printable');
    const firsts = Array.from({ length: 3000 }, () => sealHandshakeMessage(keys, random, real.initiation, { opensFlow: true })[0]!);
    for (let offset = 0; offset < 16; offset++) {
      const counts = new Array<number>(95).fill(0);
      for (const datagram of firsts) counts[datagram[offset]! - 0x20]!++;
      // 94 degrees of freedom: mean 94, standard deviation ~13.7.
      expect(chiSquare(counts, 95), `offset ${offset}`).toBeLessThan(180);
    }
  });
});

describe('the GFW fully-encrypted-traffic rules (Wu et al., USENIX Security 2023, Algorithm 1)', () => {
  it('exempt 100 % of our first packets over 10 000 seeded samples (by Ex2, first six bytes printable)', () => {
    const random = seededRandom('fet first packets');
    let exempt = 0;
    for (let i = 0; i < 10_000; i++) {
      const [first] = sealHandshakeMessage(keys, random, real.initiation, { opensFlow: true });
      const verdict = fetVerdict(first!);
      if (verdict.exemptBy === 'ex2-first-six-printable') exempt++;
    }
    expect(exempt / 10_000).toBe(1);
  });

  it('would subject nearly all other datagrams, which look uniformly random, to blocking', () => {
    const others = mixedSample();
    const blocked = others.filter((datagram) => fetVerdict(datagram).blocked).length / others.length;
    expect(blocked).toBeGreaterThan(0.97);
  });

  function mixedSample(): Uint8Array[] {
    const random = seededRandom('fet others');
    const { alice } = sessionPair();
    return Array.from({ length: 2000 }, (_, i) =>
      i % 2 === 0 ? sealHandshakeMessage(keys, random, real.initiation, { opensFlow: false })[0]! : keys.data.seal(t0, alice, new Uint8Array(184)),
    );
  }
});

describe('sender-side arguments', () => {
  const random = seededRandom('arguments');
  const fragment: HandshakeFragment = { messageId: 1, index: 0, count: 1, messageBytes: 1, offset: 0, body: new Uint8Array(1) };

  it.each([
    ['an empty handshake message', () => sealHandshakeMessage(keys, random, new Uint8Array(0), { opensFlow: false })],
    ['an oversized handshake message', () => sealHandshakeMessage(keys, random, new Uint8Array(handshakeMessageBytesMax + 1), { opensFlow: false })],
    ['an empty cookie reply', () => sealCookieFrame(keys, random, new Uint8Array(0))],
    ['an oversized cookie reply', () => sealCookieFrame(keys, random, new Uint8Array(cookieBodyBytesMax + 1))],
    ['a message id past 2^32-1', () => sealHandshakeFragment(keys, random, { ...fragment, messageId: 2 ** 32 }, { opensFlow: false })],
    ['a fragment count of 0', () => sealHandshakeFragment(keys, random, { ...fragment, count: 0 }, { opensFlow: false })],
    ['an index not below the count', () => sealHandshakeFragment(keys, random, { ...fragment, index: 1 }, { opensFlow: false })],
    ['a message length of 0', () => sealHandshakeFragment(keys, random, { ...fragment, messageBytes: 0 }, { opensFlow: false })],
    ['an empty fragment body', () => sealHandshakeFragment(keys, random, { ...fragment, body: new Uint8Array(0) }, { opensFlow: false })],
    ['a fragment past the message end', () => sealHandshakeFragment(keys, random, { ...fragment, offset: 1 }, { opensFlow: false })],
  ])('throws ERR_OBFS_ARGUMENT for %s', (_, call) => {
    expect(call).toThrow(codeOf(ObfuscationErrorCode.ERR_OBFS_ARGUMENT));
  });

  it('asserts on a broken random source rather than sending a weak nonce', () => {
    expect(() => sealHandshakeMessage(keys, (count) => new Uint8Array(count).fill(0xff), real.initiation, { opensFlow: true })).toThrow(/broken/);
    expect(() => sealCookieFrame(keys, () => new Uint8Array(3), real.cookieReply)).toThrow(/random source/);
  });

  it('asserts on a random source that repeats a nonce whose frame would be data-shaped, rather than send it', () => {
    // About 1 nonce in 256 makes this cookie frame data-shaped; a source stuck on it can never seal.
    const candidates = bulkRandom('stuck nonces');
    let stuck: Uint8Array | null = null;
    for (let tries = 0; tries < 4096 && stuck === null; tries++) {
      const nonce = candidates(16);
      try {
        sealCookieFrame(keys, () => nonce.slice(), real.cookieReply);
      } catch (error) {
        expect(String(error)).toMatch(/64 nonces in a row made data-shaped frames; the random source is broken/);
        stuck = nonce;
      }
    }
    expect(stuck).not.toBeNull();
  });
});

describe('end to end: a handshake and a data packet through the framing', () => {
  it('completes the handshake and opens the first data packet on both sides', () => {
    const random = seededRandom('end to end');
    const bobFrames = new FrameReceiver(keys);
    const aliceFrames = new FrameReceiver(keys);
    const alice = testIdentity('spiffe://mesh.test/node/alice', 'e2e alice');
    const bob = testIdentity('spiffe://mesh.test/node/bob', 'e2e bob');
    const aliceConfig = testConfig(alice, 'e2e alice run');
    const responder = new Responder(testConfig(bob, 'e2e bob run'));
    const pending = createInitiation(aliceConfig, credentialOf(bob), t0);
    const initiation = expectMessage(deliver(sealHandshakeMessage(keys, random, initiationToSend(pending, t0), { opensFlow: true }), bobFrames));
    const answer = responder.handleInitiation(initiation, utf8('alice:1'), t0, false);
    if (answer.kind !== 'response') throw new Error(`expected a response, got ${answer.kind}`);
    const response = expectMessage(deliver(sealHandshakeMessage(keys, random, answer.message, { opensFlow: false }), aliceFrames));
    const aliceSession = new Session(consumeResponse(aliceConfig, pending, response, t0 + 1));
    const bobSession = new Session(answer.keys);
    const received = bobFrames.receive(t0 + 2, keys.data.seal(t0 + 2, aliceSession, utf8('first data')));
    if (received.kind !== 'data') throw new Error(`expected data, got ${received.kind}`);
    expect(received.receiverIndex).toBe(bobSession.localIndex);
    expect(new TextDecoder().decode(keys.data.unpad(bobSession.open(t0 + 2, received.counter, received.sealed))!)).toBe('first data');
    expect(bobSession.confirmed).toBe(true);
    const reply = aliceFrames.receive(t0 + 3, keys.data.seal(t0 + 3, bobSession, utf8('reply')));
    if (reply.kind !== 'data') throw new Error(`expected data, got ${reply.kind}`);
    expect(new TextDecoder().decode(keys.data.unpad(aliceSession.open(t0 + 3, reply.counter, reply.sealed))!)).toBe('reply');
  });
});
