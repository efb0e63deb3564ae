import { createCipheriv, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { aeadTagBytes, type AeadName } from '../../src/crypto/aead.js';
import { dataFrameKind, DataFraming, dataHeaderBytes, dataOverheadBytes, dataPaddingBytesMax, dataPayloadBytesMax } from '../../src/crypto/data-frame.js';
import { datagramBytesMax, datagramBytesMin } from '../../src/crypto/frame-limits.js';
import { sha256 } from '../../src/crypto/hash.js';
import { wasmChaCha } from '../../src/crypto/chacha20-poly1305.js';
import { deriveObfuscationKeys } from '../../src/crypto/obfuscation.js';
import { Session, type SessionKeys } from '../../src/crypto/session.js';
import { toHex } from './vectors.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

const t0 = 1_700_000_000_000;
const twoPow32 = 2 ** 32;
/** The largest counter high word a data frame may carry: counters stay below 2^53. */
const counterHighMax = 2 ** 21 - 1;
const networkKey = sha256(utf8('data frame test network key'));
const keys = deriveObfuscationKeys(networkKey);

// ---------------------------------------------------------------------------------------------
// The format as docs/obfuscation.md states it, written from node:crypto primitives and the RFCs,
// independently of src/crypto/data-frame.ts, so that pinned values are checked, not just recorded.
// ---------------------------------------------------------------------------------------------

/** HKDF-SHA-256 (RFC 5869) for one 32-byte output block: extract, then T(1) = HMAC(PRK, info | 0x01). */
function hkdf32(ikm: Uint8Array, salt: string, info: string): Uint8Array {
  const prk = createHmac('sha256', utf8(salt)).update(ikm).digest();
  return new Uint8Array(createHmac('sha256', prk).update(utf8(info)).update(Uint8Array.of(1)).digest());
}

/** The data-frame keys: HKDF-SHA-256(networkKey, salt 'x0tta6bl4 obfuscation v1', one label each). */
function referenceKeys(network: Uint8Array): { headerKey: Uint8Array; paddingKey: Uint8Array } {
  return { headerKey: hkdf32(network, 'x0tta6bl4 obfuscation v1', 'data header'), paddingKey: hkdf32(network, 'x0tta6bl4 obfuscation v1', 'data padding') };
}

/**
 * The first 16 bytes of the ChaCha20 (RFC 8439) block for `key` at the 16-byte `iv`, read as in
 * RFC 9001 §5.4.4: bytes 0..4 the block counter (little-endian), bytes 4..16 the nonce. OpenSSL's
 * 'chacha20' takes exactly that layout as its IV, and its keystream is the block.
 */
function chachaBlock(key: Uint8Array, iv: Uint8Array): Uint8Array {
  return new Uint8Array(createCipheriv('chacha20', key, iv).update(new Uint8Array(16)));
}

/** The unmasked header: kind 0x02 | receiver index u32 BE | counter u64 BE, the counter given as its two 32-bit words. */
function referenceHeader(receiverIndex: number, counterHigh: number, counterLow: number, kind = 0x02): Uint8Array {
  const header = Buffer.alloc(13);
  header[0] = kind;
  header.writeUInt32BE(receiverIndex, 1);
  header.writeUInt32BE(counterHigh, 5);
  header.writeUInt32BE(counterLow, 9);
  return new Uint8Array(header);
}

/** header ^ ChaCha20_headerKey(iv = last 16 bytes of the datagram)[0..13], then the sealed bytes. */
function referenceFrame(headerKey: Uint8Array, header: Uint8Array, sealed: Uint8Array): Uint8Array {
  const datagram = new Uint8Array(header.length + sealed.length);
  datagram.set(header, 0);
  datagram.set(sealed, header.length);
  const mask = chachaBlock(headerKey, datagram.subarray(datagram.length - 16));
  for (let i = 0; i < 13; i++) datagram[i] = datagram[i]! ^ mask[i]!;
  return datagram;
}

/**
 * The padding length: u32 BE of ChaCha20_paddingKey(iv = index u32 | counter u64 | payload length u16 | 0 0)
 * mod (max - min + 1) plus min: max = min(64, room left in 1200 bytes), min = what reaches 36 bytes (uniform over min..max).
 */
function referencePadding(paddingKey: Uint8Array, receiverIndex: number, counter: number, payloadBytes: number): number {
  const block = Buffer.alloc(16);
  block.writeUInt32BE(receiverIndex, 0);
  block.writeUInt32BE(Math.floor(counter / twoPow32), 4);
  block.writeUInt32BE(counter % twoPow32, 8);
  block.writeUInt16BE(payloadBytes, 12);
  const value = Buffer.from(chachaBlock(paddingKey, block)).readUInt32BE(0);
  const unpadded = 13 + 1 + 16 + payloadBytes;
  const max = Math.min(64, 1200 - unpadded);
  const min = Math.max(0, 36 - unpadded);
  return min + (value % (max - min + 1));
}

/** ChaCha20-Poly1305 with the WireGuard nonce (4 zero bytes, then the counter as u64 LE) and no AAD: ciphertext || tag. */
function referenceSeal(sendKey: Uint8Array, counter: number, plaintext: Uint8Array): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(counter), 4);
  const cipher = createCipheriv('chacha20-poly1305', sendKey, nonce, { authTagLength: 16 });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([body, cipher.getAuthTag()]));
}

/** The whole data frame of packet `counter` of a session, from the network key and the session's send key. */
function referenceDataFrame(network: Uint8Array, session: Pick<SessionKeys, 'sendKey' | 'remoteIndex'>, counter: number, payload: Uint8Array): Uint8Array {
  const { headerKey, paddingKey } = referenceKeys(network);
  const paddingBytes = referencePadding(paddingKey, session.remoteIndex, counter, payload.length);
  const plaintext = new Uint8Array(payload.length + paddingBytes + 1);
  plaintext.set(payload, 0);
  plaintext[plaintext.length - 1] = paddingBytes;
  const header = referenceHeader(session.remoteIndex, Math.floor(counter / twoPow32), counter % twoPow32);
  return referenceFrame(headerKey, header, referenceSeal(session.sendKey, counter, plaintext));
}

const { headerKey } = referenceKeys(networkKey);

// ---------------------------------------------------------------------------------------------

const aliceToBob = new Uint8Array(32).fill(0x11);
const bobToAlice = new Uint8Array(32).fill(0x22);
const aliceKeys: SessionKeys = { sendKey: aliceToBob, receiveKey: bobToAlice, localIndex: 0x0a0b_0c0d, remoteIndex: 0x0102_0304, isInitiator: true, establishedAtMs: t0 };
const bobKeys: SessionKeys = { sendKey: bobToAlice, receiveKey: aliceToBob, localIndex: 0x0102_0304, remoteIndex: 0x0a0b_0c0d, isInitiator: false, establishedAtMs: t0 };

/** A confirmed initiator and a not yet confirmed responder that share keys, as after a handshake. */
function sessionPair(aead: AeadName = 'chacha20-poly1305'): { alice: Session; bob: Session } {
  return { alice: new Session(aliceKeys, aead), bob: new Session(bobKeys, aead) };
}

/** Takes a datagram apart as a receiver does: unmask, the session for the index, open, unpad. */
function receive(receiver: Session, datagram: Uint8Array): Uint8Array {
  const frame = keys.data.unmask(datagram);
  if (frame === null) throw new Error('expected a data frame');
  expect(frame.receiverIndex).toBe(receiver.localIndex);
  const payload = keys.data.unpad(receiver.open(t0, frame.counter, frame.sealed));
  if (payload === null) throw new Error('expected canonical padding');
  return payload;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe('limits', () => {
  it('has a 13-byte header, 30 bytes of overhead and room for 1170 payload bytes in 1200', () => {
    expect([dataHeaderBytes, dataOverheadBytes, dataPayloadBytesMax, dataPaddingBytesMax, dataFrameKind]).toEqual([13, 30, 1170, 64, 2]);
    expect(dataHeaderBytes + 1 + aeadTagBytes + dataPayloadBytesMax).toBe(datagramBytesMax);
    expect(datagramBytesMin).toBe(36);
  });
});

describe('round trips through real sessions', () => {
  const sizes = [0, 1, 1000, dataPayloadBytesMax];

  it.each(['chacha20-poly1305', 'aes-256-gcm'] as const)('carries payloads of 0, 1, 1000 and dataPayloadBytesMax bytes both ways (%s)', (aead) => {
    const { alice, bob } = sessionPair(aead);
    const payloads = sizes.map((size) => new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff));
    // Seal all first, open after: a datagram must not share bytes with the next one sealed.
    const datagrams = payloads.map((payload) => keys.data.seal(t0, alice, payload));
    for (const [counter, datagram] of datagrams.entries()) {
      expect(datagram.length).toBeLessThanOrEqual(datagramBytesMax);
      expect(datagram.length).toBeGreaterThanOrEqual(datagramBytesMin);
      expect(Buffer.isBuffer(datagram)).toBe(false);
      expect(keys.data.isDataShaped(datagram)).toBe(true);
      expect(keys.data.unmask(datagram)).toMatchObject({ receiverIndex: bob.localIndex, counter });
      expect(toHex(receive(bob, datagram))).toBe(toHex(payloads[counter]!));
    }
    expect(datagrams.at(-1)).toHaveLength(datagramBytesMax);
    expect(bob.confirmed).toBe(true);
    for (const payload of payloads) expect(toHex(receive(alice, keys.data.seal(t0, bob, payload)))).toBe(toHex(payload));
  });

  it('lifts an empty payload to at least datagramBytesMin and fills the largest exactly', () => {
    const { alice } = sessionPair();
    const empties = Array.from({ length: 300 }, () => keys.data.seal(t0, alice, new Uint8Array(0)).length);
    expect(Math.min(...empties)).toBe(datagramBytesMin);
    expect(Math.max(...empties)).toBe(dataOverheadBytes + dataPaddingBytesMax);
    expect(keys.data.seal(t0, alice, new Uint8Array(dataPayloadBytesMax)).length).toBe(datagramBytesMax);
  });
});

describe('frame and unmask', () => {
  it('frames chosen indices and counters the documented way and unmasks them again (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(0, 0xffff_ffff), fc.integer({ min: 0, max: 0xffff_ffff })),
        fc.oneof(fc.constantFrom(0, twoPow32 - 1, twoPow32, 2 ** 52, Number.MAX_SAFE_INTEGER), fc.maxSafeNat()),
        fc.uint8Array({ minLength: datagramBytesMin - dataHeaderBytes, maxLength: datagramBytesMax - dataHeaderBytes }),
        (receiverIndex, counter, sealed) => {
          const datagram = keys.data.frame(receiverIndex, counter, sealed);
          expect(datagram).toHaveLength(dataHeaderBytes + sealed.length);
          expect(keys.data.unmask(datagram)).toEqual({ receiverIndex, counter, sealed });
          expect(toHex(datagram)).toBe(toHex(referenceFrame(headerKey, referenceHeader(receiverIndex, Math.floor(counter / twoPow32), counter % twoPow32), sealed)));
        },
      ),
      { numRuns: 300, seed: 2024 },
    );
  });

  it('returns the sealed bytes as a view, without copying', () => {
    const datagram = keys.data.frame(1, 2, new Uint8Array(40));
    const frame = keys.data.unmask(datagram)!;
    expect(frame.sealed.buffer).toBe(datagram.buffer);
    expect(frame.sealed.byteOffset).toBe(datagram.byteOffset + dataHeaderBytes);
  });

  it.each([
    ['shorter than datagramBytesMin', datagramBytesMin - 1],
    ['longer than datagramBytesMax', datagramBytesMax + 1],
  ])('returns null for a datagram %s, even one framed exactly like data', (_, length) => {
    // Built by the reference so that only the length is wrong: with a valid header and mask.
    const datagram = referenceFrame(headerKey, referenceHeader(5, 0, 1), new Uint8Array(length - 13).fill(0x5a));
    expect([keys.data.unmask(datagram), keys.data.isDataShaped(datagram)]).toEqual([null, false]);
    const inRange = referenceFrame(headerKey, referenceHeader(5, 0, 1), new Uint8Array(length === datagramBytesMin - 1 ? 23 : 1187).fill(0x5a));
    expect(keys.data.unmask(inRange)).toMatchObject({ receiverIndex: 5, counter: 1 });
    expect([keys.data.unmask(new Uint8Array(0)), keys.data.isDataShaped(new Uint8Array(0))]).toEqual([null, false]);
  });

  it('returns null for a counter high word above 2^21-1 and accepts 2^53-1', () => {
    const sealed = new Uint8Array(40).fill(0xa5);
    for (const high of [counterHighMax + 1, 0xffff_ffff]) {
      const datagram = referenceFrame(headerKey, referenceHeader(7, high, 0), sealed);
      expect(keys.data.isDataShaped(datagram)).toBe(true);
      expect(keys.data.unmask(datagram)).toBeNull();
    }
    const largest = referenceFrame(headerKey, referenceHeader(7, counterHighMax, 0xffff_ffff), sealed);
    expect(keys.data.unmask(largest)).toMatchObject({ receiverIndex: 7, counter: Number.MAX_SAFE_INTEGER });
  });

  it('returns null for any other unmasked kind', () => {
    for (const kind of [0x00, 0x01, 0x03, 0x82, 0xff]) {
      const datagram = referenceFrame(headerKey, referenceHeader(7, 0, 0, kind), new Uint8Array(40));
      expect([keys.data.unmask(datagram), keys.data.isDataShaped(datagram)]).toEqual([null, false]);
    }
  });

  it('does not unmask frames of another network key (it sees random kinds) and never opens them', () => {
    const other = deriveObfuscationKeys(sha256(utf8('another network')));
    const { alice, bob } = sessionPair();
    const count = 4096;
    let dataShaped = 0;
    for (let i = 0; i < count; i++) {
      const datagram = other.data.seal(t0, alice, Uint8Array.of(i & 0xff));
      if (keys.data.isDataShaped(datagram)) dataShaped++;
      const frame = keys.data.unmask(datagram);
      // A chance kind byte (1/256) still needs a counter high word below 2^21 (1/2048) and the session key.
      if (frame !== null) expect(() => bob.open(t0, frame.counter, frame.sealed)).toThrow();
    }
    // 1/256 of them by chance: 16 expected, standard deviation 4.
    expect(dataShaped).toBeGreaterThan(0);
    expect(dataShaped).toBeLessThan(40);
    expect(bob.packetsReceived).toBe(0);
  });
});

describe('tampering', () => {
  it('leaves no single-bit flip of a sealed frame that unmasks for the same session and opens (exhaustive)', () => {
    const { alice, bob } = sessionPair();
    const datagram = keys.data.seal(t0, alice, utf8('hi'));
    const outcomes = { notData: 0, otherIndex: 0, refusedBySession: 0, opened: 0 };
    for (let bit = 0; bit < datagram.length * 8; bit++) {
      const frame = keys.data.unmask(flipBit(datagram, bit));
      if (frame === null) outcomes.notData++;
      else if (frame.receiverIndex !== bob.localIndex) outcomes.otherIndex++;
      else {
        try {
          bob.open(t0, frame.counter, frame.sealed);
          outcomes.opened++;
        } catch {
          outcomes.refusedBySession++;
        }
      }
    }
    expect(outcomes.opened).toBe(0);
    // The 8 bits of the kind byte, the 32 of the index, and everything past the header.
    expect(outcomes.notData).toBeGreaterThanOrEqual(8);
    expect(outcomes.otherIndex).toBeGreaterThanOrEqual(32);
    expect(outcomes.refusedBySession).toBeGreaterThanOrEqual(64);
    expect(bob.packetsReceived).toBe(0);
    expect(toHex(receive(bob, datagram))).toBe(toHex(utf8('hi')));
  });
});

describe('unpad', () => {
  it.each([
    ['an empty plaintext', [], null],
    ['a padding length past the plaintext', [1, 2, 3], null],
    ['a padding length one past the plaintext', [0, 0, 3], null],
    ['non-zero padding', [7, 0, 1, 2], null],
    ['non-zero padding next to the payload', [7, 1, 0, 2], null],
    ['no padding and no payload', [0], []],
    ['no padding', [7, 8, 0], [7, 8]],
    ['zero padding', [7, 0, 0, 2], [7]],
    ['only padding', [0, 0, 0, 3], []],
  ] as const)('for %s', (_, plaintext, expected) => {
    const payload = keys.data.unpad(Uint8Array.from(plaintext));
    expect(payload === null ? null : [...payload]).toEqual(expected);
  });

  it('lets a receiver refuse a packet that opened but whose padding is not canonical (only the session peer can send one)', () => {
    const { alice, bob } = sessionPair();
    // Payload 9 x 7, then padding [0, 1] (not zero) and its length 2: sealed as the peer would, then framed.
    const { counter, sealed } = alice.seal(t0, Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 0, 1, 2));
    const frame = keys.data.unmask(keys.data.frame(alice.remoteIndex, counter, sealed))!;
    const opened = bob.open(t0, frame.counter, frame.sealed);
    expect([...opened]).toEqual([9, 9, 9, 9, 9, 9, 9, 0, 1, 2]);
    expect(keys.data.unpad(opened)).toBeNull();
  });
});

describe('refusals', () => {
  it('refuses a payload over dataPayloadBytesMax with a RangeError and spends no counter', () => {
    const { alice } = sessionPair();
    expect(() => keys.data.seal(t0, alice, new Uint8Array(dataPayloadBytesMax + 1))).toThrow(new RangeError(`DataFraming.seal: expected a payload of at most 1170 bytes, got 1171`));
    expect(alice.packetsSent).toBe(0);
  });

  it('passes on the session refusals: unconfirmed responder, expired session', () => {
    const { alice, bob } = sessionPair();
    expect(() => keys.data.seal(t0, bob, utf8('too early'))).toThrow(codeOf('ERR_SESSION_UNCONFIRMED'));
    expect(() => keys.data.seal(t0 + 180_000, alice, utf8('too late'))).toThrow(codeOf('ERR_SESSION_EXPIRED'));
    expect([alice.packetsSent, bob.packetsSent]).toEqual([0, 0]);
  });

  it.each([
    ['a negative receiver index', -1, 0, 40, /receiverIndex in 0\.\.2\^32-1, got -1/],
    ['a fractional receiver index', 1.5, 0, 40, /receiverIndex in 0\.\.2\^32-1, got 1\.5/],
    ['a receiver index past 2^32-1', twoPow32, 0, 40, /receiverIndex in 0\.\.2\^32-1, got 4294967296/],
    ['a negative counter', 1, -1, 40, /counter in 0\.\.2\^53-1, got -1/],
    ['a fractional counter', 1, 1.5, 40, /counter in 0\.\.2\^53-1, got 1\.5/],
    ['a counter past 2^53-1', 1, 2 ** 53, 40, /counter in 0\.\.2\^53-1, got 9007199254740992/],
    ['a NaN counter', 1, Number.NaN, 40, /counter in 0\.\.2\^53-1, got NaN/],
    ['no sealed bytes', 1, 0, 0, /sealed bytes making a datagram of 36\.\.1200 bytes, got 0 sealed bytes/],
    ['sealed bytes shorter than a tag and a padding-length byte', 1, 0, aeadTagBytes, /sealed bytes .* got 16 sealed bytes/],
    ['sealed bytes making a datagram under datagramBytesMin', 1, 0, datagramBytesMin - dataHeaderBytes - 1, /sealed bytes .* got 22 sealed bytes/],
    ['sealed bytes making a datagram over datagramBytesMax', 1, 0, datagramBytesMax - dataHeaderBytes + 1, /sealed bytes .* got 1188 sealed bytes/],
  ])('frame() throws a RangeError for %s, naming the argument', (_, receiverIndex, counter, sealedBytes, message) => {
    const call = (): Uint8Array => keys.data.frame(receiverIndex, counter, new Uint8Array(sealedBytes));
    expect(call).toThrow(RangeError);
    expect(call).toThrow(message);
  });
});

describe('padding', () => {
  it('follows the documented keyed function for every packet', () => {
    const { alice } = sessionPair();
    const { paddingKey } = referenceKeys(networkKey);
    for (let counter = 0; counter < 300; counter++) {
      const payloadBytes = (counter * 37) % (dataPayloadBytesMax + 1);
      const datagram = keys.data.seal(t0, alice, new Uint8Array(payloadBytes));
      expect(datagram.length, `packet ${counter}`).toBe(dataOverheadBytes + payloadBytes + referencePadding(paddingKey, alice.remoteIndex, counter, payloadBytes));
    }
  });

  it.each([
    ['room for all of it', 100, dataPaddingBytesMax + 1, 100 + dataOverheadBytes],
    ['clipped at datagramBytesMax', dataPayloadBytesMax - 10, 11, datagramBytesMax - 10],
    ['raised to datagramBytesMin', 0, dataPaddingBytesMax + 1 - (datagramBytesMin - dataOverheadBytes), datagramBytesMin],
  ])('varies the length of one payload size over every allowed value (%s)', (_, payloadBytes, distinct, shortest) => {
    const { alice } = sessionPair();
    const lengths = Array.from({ length: 1500 }, () => keys.data.seal(t0, alice, new Uint8Array(payloadBytes)).length);
    expect(new Set(lengths).size).toBe(distinct);
    expect(Math.min(...lengths)).toBe(shortest);
    expect(Math.max(...lengths)).toBe(Math.min(datagramBytesMax, payloadBytes + dataOverheadBytes + dataPaddingBytesMax));
  });
});

describe('known answer', () => {
  const fixedNetworkKey = Uint8Array.from({ length: 32 }, (_, i) => i);
  const fixedKeys: SessionKeys = {
    sendKey: Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i),
    receiveKey: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i),
    localIndex: 0x1122_3344,
    remoteIndex: 0xdead_beef,
    isInitiator: true,
    establishedAtMs: 0,
  };
  // Computed once from the module, and checked below against the reference written from node:crypto.
  const firstFrameHex = 'b3cfb49aad847dedce220cbaac423976c15176cea6a8424dffa4ddad2a76c86ab9c37ac168a73252a613180b8b148b5b62de5c4f6c83245f4d60c8b09097b2ede57bd714282fb00edf5a681829e2bf098ae0957cc927e548b840088a822945e7346ed01b6ffb';

  it('pins the first frame of a session and re-derives it from node:crypto primitives', () => {
    const framing = deriveObfuscationKeys(fixedNetworkKey).data;
    const session = new Session(fixedKeys);
    const first = framing.seal(0, session, utf8('hello, mesh'));
    expect(toHex(first)).toBe(firstFrameHex);
    expect(toHex(referenceDataFrame(fixedNetworkKey, fixedKeys, 0, utf8('hello, mesh')))).toBe(firstFrameHex);
    for (const [counter, payload] of [new Uint8Array(0), new Uint8Array(500).fill(0x33), new Uint8Array(dataPayloadBytesMax).fill(1)].entries()) {
      expect(toHex(framing.seal(0, session, payload)), `packet ${counter + 1}`).toBe(toHex(referenceDataFrame(fixedNetworkKey, fixedKeys, counter + 1, payload)));
    }
  });
});

describe('implementations', () => {
  afterEach(() => {
    vi.doUnmock('../../src/crypto/chacha20-poly1305.js');
    vi.resetModules();
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new DataFraming(new Uint8Array(31), new Uint8Array(32))).toThrow(codeOf('ERR_CRYPTO_LENGTH'));
    expect(() => new DataFraming(new Uint8Array(32), new Uint8Array(33))).toThrow(codeOf('ERR_CRYPTO_LENGTH'));
  });

  it('frames the same bytes with the node:crypto fallback as with WebAssembly, and unmasks the other\'s', async () => {
    const { headerKey: h, paddingKey: p } = referenceKeys(networkKey);
    // Otherwise both sides below would be the fallback and the comparison would prove nothing.
    expect(wasmChaCha()).not.toBeNull();
    vi.resetModules();
    vi.doMock('../../src/crypto/chacha20-poly1305.js', async (importOriginal) => ({ ...(await importOriginal<object>()), wasmChaCha: () => null }));
    expect((await import('../../src/crypto/chacha20-poly1305.js')).wasmChaCha()).toBeNull();
    const fallback = new (await import('../../src/crypto/data-frame.js')).DataFraming(h, p);
    const wasm = new DataFraming(h, p);
    const [viaWasm, viaNode] = [sessionPair(), sessionPair()];
    for (const size of [0, 1, 100, 1000, dataPayloadBytesMax]) {
      const payload = new Uint8Array(size).fill(size & 0xff);
      const [a, b] = [wasm.seal(t0, viaWasm.alice, payload), fallback.seal(t0, viaNode.alice, payload)];
      expect(toHex(b)).toBe(toHex(a));
      expect(fallback.unmask(a)).toEqual(wasm.unmask(a));
      expect(fallback.isDataShaped(a)).toBe(true);
    }
  });
});
