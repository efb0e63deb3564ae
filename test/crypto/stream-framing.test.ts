import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { datagramBytesMax, datagramBytesMin, deriveObfuscationKeys, obfsNonceBytes, sealHandshakeMessage } from '../../src/crypto/obfuscation.js';
import { deriveStreamLengthKey, encodeStreamRecord, streamBufferBytesMax, streamLengthBytes, StreamDecoder } from '../../src/crypto/stream-framing.js';
import { seeded } from '../seeded.js';

const seededBytes = (seed: number): ((bytes: number) => Uint8Array) => seeded(`stream-framing/${seed}`);

const networkKey = new Uint8Array(32).fill(7);
const lengthKey = deriveStreamLengthKey(networkKey);

function frameOf(length: number, seed: number): Uint8Array {
  return seededBytes(seed)(length);
}

describe('stream framing: obfuscated frames over TCP', () => {
  it('round-trips any sequence of frames however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: datagramBytesMin, max: datagramBytesMax }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (lengths, cuts) => {
        const frames = lengths.map((length, i) => frameOf(length, i + 1));
        const stream = Buffer.concat(frames.map((frame) => encodeStreamRecord(lengthKey, frame)));
        const decoder = new StreamDecoder(lengthKey);
        const out: Uint8Array[] = [];
        let offset = 0;
        for (let i = 0; offset < stream.length; i++) {
          const size = cuts[i % cuts.length]!;
          out.push(...decoder.push(new Uint8Array(stream.subarray(offset, offset + size))));
          offset += size;
        }
        expect(out.map((frame) => Buffer.from(frame).toString('hex'))).toEqual(frames.map((frame) => Buffer.from(frame).toString('hex')));
        expect(decoder.isDiscarding).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the frame nonce first, so a stream opens with the printable nonce of a flow-opening frame', () => {
    const keys = deriveObfuscationKeys(networkKey);
    const [first] = sealHandshakeMessage(keys, seededBytes(3), new Uint8Array(100).fill(1), { opensFlow: true });
    const record = encodeStreamRecord(lengthKey, first!);
    expect(Buffer.from(record.subarray(0, obfsNonceBytes))).toEqual(Buffer.from(first!.subarray(0, obfsNonceBytes)));
    expect([...record.subarray(0, obfsNonceBytes)].every((byte) => byte >= 0x20 && byte <= 0x7e)).toBe(true);
    expect(record.length).toBe(first!.length + streamLengthBytes);
  });

  it('masks the length with a keyed function of the nonce: the same length gives different bytes', () => {
    const fields = new Set<string>();
    for (let seed = 1; seed <= 32; seed++) {
      const record = encodeStreamRecord(lengthKey, frameOf(500, seed));
      fields.add(Buffer.from(record.subarray(obfsNonceBytes, obfsNonceBytes + streamLengthBytes)).toString('hex'));
    }
    expect(fields.size).toBeGreaterThan(28);
    // Another network key decodes another length (or none).
    const other = new StreamDecoder(deriveStreamLengthKey(new Uint8Array(32).fill(8)));
    const frames = other.push(encodeStreamRecord(lengthKey, frameOf(500, 1)));
    expect(frames.length === 0 || frames[0]!.length !== 500).toBe(true);
  });

  it('swallows a stream that does not decode from then on, yielding nothing', () => {
    const decoder = new StreamDecoder(lengthKey);
    const garbage = new Uint8Array(64).fill(0xff);
    let decoded = 0;
    for (let i = 0; i < 50 && !decoder.isDiscarding; i++) decoded += decoder.push(seededBytes(100 + i)(64)).length;
    expect(decoder.isDiscarding).toBe(true);
    expect(decoder.push(encodeStreamRecord(lengthKey, frameOf(300, 1)))).toEqual([]);
    expect(decoder.push(garbage)).toEqual([]);
    expect(decoder.discardedBytes).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(3);
  });

  it('never buffers more than a bound, and refuses to encode a frame no decoder accepts', () => {
    expect(streamBufferBytesMax).toBeGreaterThanOrEqual(datagramBytesMax + streamLengthBytes);
    expect(() => encodeStreamRecord(lengthKey, new Uint8Array(datagramBytesMax + 1))).toThrow(/expected/);
    expect(() => encodeStreamRecord(lengthKey, new Uint8Array(datagramBytesMin - 1))).toThrow(/expected/);
    expect(() => deriveStreamLengthKey(new Uint8Array(31))).toThrow(/network key/);
    const decoder = new StreamDecoder(lengthKey);
    const record = encodeStreamRecord(lengthKey, frameOf(datagramBytesMax, 5));
    // Only the header arrives: the decoder waits, holding the bytes.
    expect(decoder.push(record.subarray(0, 20))).toEqual([]);
    expect(decoder.isDiscarding).toBe(false);
    expect(decoder.push(record.subarray(20))).toHaveLength(1);
  });
});

describe('stream framing during a network key rotation', () => {
  const nextKey = deriveStreamLengthKey(new Uint8Array(32).fill(8));
  const marked = (frame: Uint8Array): 'frame' | null => (frame[obfsNonceBytes] === 0xaa ? 'frame' : null);
  const candidates = [
    { lengthKey, accepts: marked },
    { lengthKey: nextKey, accepts: marked },
  ];
  function markedFrame(length: number, seed: number): Uint8Array {
    const frame = frameOf(length, seed);
    frame[obfsNonceBytes] = 0xaa;
    return frame;
  }

  it('picks the key the first record is under, waits while it is incomplete, and stays on that key', () => {
    const frames = [markedFrame(300, 1), markedFrame(500, 2)];
    const stream = Buffer.concat(frames.map((frame) => encodeStreamRecord(nextKey, frame)));
    const decoder = new StreamDecoder(() => candidates);
    expect(decoder.push(new Uint8Array(stream.subarray(0, 100)))).toEqual([]);
    expect(decoder.pickedLengthKey).toBeNull();
    expect(decoder.isDiscarding).toBe(false);
    const out = decoder.push(new Uint8Array(stream.subarray(100)));
    expect(out.map((frame) => Buffer.from(frame).toString('hex'))).toEqual(frames.map((frame) => Buffer.from(frame).toString('hex')));
    expect(decoder.pickedLengthKey).toBe(nextKey);
    // The first key no longer applies to this stream.
    expect(decoder.push(encodeStreamRecord(lengthKey, markedFrame(400, 3)))).toEqual([]);
  });

  it('does not take a key whose frame is not accepted, and swallows a stream under no candidate', () => {
    const unaccepted = new StreamDecoder(() => candidates);
    expect(unaccepted.push(encodeStreamRecord(lengthKey, frameOf(300, 4)))).toEqual([]);
    expect(unaccepted.isDiscarding).toBe(true);
    const stranger = new StreamDecoder(() => candidates);
    expect(stranger.push(encodeStreamRecord(deriveStreamLengthKey(new Uint8Array(32).fill(9)), markedFrame(300, 5)))).toEqual([]);
    expect(stranger.isDiscarding).toBe(true);
  });
});

describe('stream framing: which candidate a first record picks', () => {
  it('prefers a candidate under which the frame authenticates to one under which it only looks like data', () => {
    const sameBytes = lengthKey.slice();
    const decoder = new StreamDecoder(() => [
      { lengthKey, accepts: () => 'data' as const },
      { lengthKey: sameBytes, accepts: () => 'frame' as const },
    ]);
    expect(decoder.push(encodeStreamRecord(lengthKey, frameOf(300, 7)))).toHaveLength(1);
    expect(decoder.pickedLengthKey).toBe(sameBytes);
    const lookAlikeOnly = new StreamDecoder(() => [{ lengthKey, accepts: () => 'data' as const }]);
    expect(lookAlikeOnly.push(encodeStreamRecord(lengthKey, frameOf(300, 8)))).toHaveLength(1);
    expect(lookAlikeOnly.pickedLengthKey).toBe(lengthKey);
  });
});

