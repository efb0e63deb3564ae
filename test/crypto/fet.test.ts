import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fetVerdict, isFetPrintable, type FetExemption } from '../../src/crypto/fet.js';
import { sha256 } from '../../src/crypto/hash.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const bytes = (...parts: (string | number[] | Uint8Array)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === 'string' ? [...utf8(part)] : [...part])));
const repeat = (byte: number, count: number): number[] => new Array<number>(count).fill(byte);

/** A fast seeded byte stream (AES-256-CTR over zeros): bulk random payloads for the statistics. */
function bulkRandom(label: string): (count: number) => Uint8Array {
  const cipher = createCipheriv('aes-256-ctr', sha256(utf8(label)), new Uint8Array(16));
  return (count) => new Uint8Array(cipher.update(new Uint8Array(count)));
}

/**
 * Non-printable filler whose bytes have exactly 4 set bits (0x99 = 1001 1001), so that it keeps a
 * payload inside Ex1's blocked band (3.4, 4.6) and out of Ex2..Ex4: what remains is the rule under test.
 */
const neutral = (count: number): number[] => repeat(0x99, count);

/** Algorithm 1 written as plainly as the paper states it, with floating point: the oracle for the property test. */
function referenceExempt(pkt: Uint8Array): boolean {
  if (pkt.length === 0) return true;
  const printable = (b: number): boolean => b >= 0x20 && b <= 0x7e;
  let ones = 0;
  for (const b of pkt) for (let bit = 0; bit < 8; bit++) ones += (b >> bit) & 1;
  const perByte = ones / pkt.length;
  const ex1 = perByte <= 3.4 || perByte >= 4.6;
  const ex2 = pkt.length >= 6 && [...pkt.subarray(0, 6)].every(printable);
  const ex3 = [...pkt].filter(printable).length / pkt.length > 0.5;
  let run = 0;
  let longest = 0;
  for (const b of pkt) {
    run = printable(b) ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  const head = String.fromCharCode(...pkt.subarray(0, 5)).toUpperCase();
  const tls = (pkt[0] === 0x16 || pkt[0] === 0x17) && pkt[1] === 0x03 && pkt.length >= 3 && pkt[2]! <= 0x09;
  const http = ['GET ', 'PUT ', 'POST ', 'HEAD '].some((method) => head.startsWith(method));
  return ex1 || ex2 || ex3 || longest > 20 || tls || http;
}

describe('fetVerdict: Ex1, set bits per byte (Wu et al. 2023, §4.1)', () => {
  // Ten non-printable bytes: 0xe0 has 3 set bits, 0xf0 has 4, 0xf8 has 5.
  const withPopcount = (threes: number, fours: number, fives: number): Uint8Array => bytes(repeat(0xe0, threes), repeat(0xf0, fours), repeat(0xf8, fives));

  it.each([
    ['exactly 3.4 is exempt', withPopcount(6, 4, 0), 3.4, 'ex1-popcount'],
    ['3.5 is not', withPopcount(5, 5, 0), 3.5, null],
    ['4.5 is not', withPopcount(0, 5, 5), 4.5, null],
    ['exactly 4.6 is exempt', withPopcount(0, 4, 6), 4.6, 'ex1-popcount'],
  ] as const)('%s', (_, payload, perByte, exemptBy) => {
    const verdict = fetVerdict(payload);
    expect(verdict.popcountPerByte).toBeCloseTo(perByte, 12);
    expect(verdict.exemptBy).toBe(exemptBy);
    expect(verdict.blocked).toBe(exemptBy === null);
  });

  it('decides the threshold exactly on long payloads (3400 set bits in 1000 bytes is exempt, 3401 is not)', () => {
    const payload = new Uint8Array(1000).fill(0xe0); // 3000 set bits
    payload.fill(0xf0, 0, 400); // +400
    expect(fetVerdict(payload)).toEqual({ blocked: false, exemptBy: 'ex1-popcount', popcountPerByte: 3.4 });
    payload[500] = 0xf0; // +1
    expect(fetVerdict(payload).blocked).toBe(true);
  });

  it('exempts all-zero and all-one payloads and the empty payload', () => {
    expect(fetVerdict(new Uint8Array(50)).exemptBy).toBe('ex1-popcount');
    expect(fetVerdict(new Uint8Array(50).fill(0xff)).exemptBy).toBe('ex1-popcount');
    expect(fetVerdict(new Uint8Array(0))).toEqual({ blocked: false, exemptBy: 'ex1-popcount', popcountPerByte: 0 });
  });

  it('blocks exactly the 40 of 256 one-byte patterns the paper found blocked: 4 bits set, not printable (§4.1)', () => {
    const blocked: number[] = [];
    for (let byte = 0; byte < 256; byte++) {
      const weight = byte.toString(2).split('').filter((bit) => bit === '1').length;
      const verdict = fetVerdict(new Uint8Array(100).fill(byte));
      expect(verdict.blocked, `byte 0x${byte.toString(16)}`).toBe(weight === 4 && !isFetPrintable(byte));
      if (verdict.blocked) blocked.push(byte);
    }
    expect(blocked).toHaveLength(40);
  });
});

describe('fetVerdict: Ex2..Ex4, printable ASCII (§4.2)', () => {
  it('exempts six leading printable bytes, not five, and counts 0x20 and 0x7e but not 0x7f as printable', () => {
    expect(fetVerdict(bytes('cefcef', neutral(100))).exemptBy).toBe('ex2-first-six-printable');
    expect(fetVerdict(bytes(' ~cef~', neutral(100))).exemptBy).toBe('ex2-first-six-printable');
    expect(fetVerdict(bytes('cefce', neutral(101))).blocked).toBe(true);
    expect(fetVerdict(bytes('cefce', [0x7f], neutral(100))).blocked).toBe(true);
    expect(fetVerdict(bytes('cefce', [0x1f], neutral(100))).blocked).toBe(true);
  });

  it('exempts more than half printable bytes, not exactly half', () => {
    const half = bytes(...Array.from({ length: 50 }, () => [0x99, 0x63])); // alternate non-printable and 'c'
    expect(fetVerdict(half).blocked).toBe(true);
    const more = half.slice();
    more[40] = 0x63;
    expect(fetVerdict(more).exemptBy).toBe('ex3-half-printable');
  });

  it('exempts a run of more than 20 printable bytes, not of exactly 20', () => {
    expect(fetVerdict(bytes(neutral(100), repeat(0x63, 20), neutral(100))).blocked).toBe(true);
    expect(fetVerdict(bytes(neutral(100), repeat(0x63, 21), neutral(100))).exemptBy).toBe('ex4-contiguous-printable');
    expect(fetVerdict(bytes(neutral(100), repeat(0x63, 21))).exemptBy).toBe('ex4-contiguous-printable');
  });
});

describe('fetVerdict: Ex5, TLS and HTTP fingerprints (§4.3)', () => {
  it.each([
    [[0x16, 0x03, 0x00], true],
    [[0x16, 0x03, 0x09], true],
    [[0x17, 0x03, 0x03], true],
    [[0x16, 0x03, 0x0a], false],
    [[0x15, 0x03, 0x01], false],
    [[0x18, 0x03, 0x01], false],
    [[0x16, 0x02, 0x01], false],
  ])('TLS record header %j exempt: %s', (prefix, exempt) => {
    const verdict = fetVerdict(bytes(prefix, neutral(100)));
    expect(verdict.exemptBy).toBe(exempt ? 'ex5-protocol' : null);
  });

  it.each([
    ['GET ', true],
    ['PUT ', true],
    ['POST ', true],
    ['HEAD ', true],
    ['get ', true],
    ['hEaD ', true],
    ['GET', false],
    ['POST', false],
    ['GOT ', false],
  ])('HTTP prefix %j exempt: %s', (prefix, exempt) => {
    const verdict = fetVerdict(bytes(prefix, neutral(100)));
    expect(verdict.exemptBy).toBe(exempt ? 'ex5-protocol' : null);
  });

  it('looks at the third byte of a TLS header, and only at the start of the payload', () => {
    expect(fetVerdict(bytes([0x16, 0x03], neutral(100))).blocked).toBe(true);
    expect(fetVerdict(bytes(neutral(1), [0x16, 0x03, 0x01], neutral(100))).blocked).toBe(true);
    expect(fetVerdict(bytes(neutral(1), 'GET ', neutral(100))).blocked).toBe(true);
  });
});

describe('fetVerdict against a plain transcription of Algorithm 1', () => {
  const skewedByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x99, 0x16, 0x17, 0x03, 0x47, 0x45, 0x54, 0x20));
  it('agrees on random and printable-heavy payloads', () => {
    fc.assert(
      fc.property(fc.array(skewedByte, { maxLength: 80 }), (values) => {
        const payload = Uint8Array.from(values);
        expect(!fetVerdict(payload).blocked).toBe(referenceExempt(payload));
      }),
      { numRuns: 3000, seed: 20_230_809 },
    );
  });
});

describe('uniformly random payloads', () => {
  function blockedFraction(label: string, lengthOf: (draw: Uint8Array) => number, samples: number): { fraction: number; byRule: Map<FetExemption | null, number> } {
    const random = bulkRandom(label);
    const byRule = new Map<FetExemption | null, number>();
    for (let i = 0; i < samples; i++) {
      const verdict = fetVerdict(random(lengthOf(random(2))));
      byRule.set(verdict.exemptBy, (byRule.get(verdict.exemptBy) ?? 0) + 1);
    }
    return { fraction: (byRule.get(null) ?? 0) / samples, byRule };
  }

  it('are mostly subject to blocking (lengths 1..1200: at least 0.7; measured 0.989)', () => {
    const { fraction } = blockedFraction('fet random 1..1200', (draw) => 1 + (((draw[0]! << 8) | draw[1]!) % 1200), 10_000);
    expect(fraction).toBeGreaterThanOrEqual(0.7);
    expect(fraction).toBeGreaterThan(0.95);
  });

  it('of 1200 bytes are subject to blocking unless their first six bytes happen to be printable (~0.26 %)', () => {
    const { fraction, byRule } = blockedFraction('fet random 1200', () => 1200, 10_000);
    expect(fraction).toBeGreaterThan(0.99);
    expect([...byRule.keys()].filter((rule) => rule !== null)).toEqual(['ex2-first-six-printable']);
  });

  it('of a few bytes are often exempt by Ex1 or Ex3, as short packets vary widely in bits per byte', () => {
    const { fraction } = blockedFraction('fet random 8', () => 8, 10_000);
    expect(fraction).toBeLessThan(0.8);
    expect(fraction).toBeGreaterThan(0.3);
  });
});
