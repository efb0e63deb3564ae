/**
 * Seeded pseudo-random numbers for the twin.
 *
 * The generator is xoshiro128** 1.1 (Blackman and Vigna, "Scrambled linear pseudorandom
 * number generators", 2018, reference code at prng.di.unimi.it). It uses only 32-bit
 * integer operations (`Math.imul`, shifts, `>>> 0`), so the integer stream is the same on
 * every platform and engine. Its state is filled by splitmix32: a Weyl sequence with step
 * 0x9e3779b9 whose values go through MurmurHash3's `fmix32` finalizer.
 *
 * Every generator has a 64-bit key (two 32-bit words). `split(...labels)` hashes the key
 * and the labels into a child key, so a child's stream depends only on its parent's key
 * and the labels, never on how many numbers anyone has drawn: adding a draw in one node's
 * code does not shift the streams of other nodes or links. The key is 64 bits wide (two
 * FNV-1a lanes) so that thousands of per-node and per-link streams do not collide, which
 * 32-bit keys would do in a few per cent of large runs (birthday bound).
 *
 * The floating-point methods (`exponential`, `normal`) call `Math.log`, `Math.sqrt` and
 * `Math.cos`; V8 implements them with the same fdlibm port on every platform, so Node
 * results agree across machines, but another engine could differ in the last bit.
 */

const twoPow32 = 4_294_967_296;
const fnvOffsetBasis = 0x811c9dc5;
const fnvPrime = 0x01000193;
/** Start of the second FNV-1a lane of a child key; any constant other than the FNV basis works. */
const secondLaneBasis = 0x9e3779b9;
const weylStep = 0x9e3779b9;
const labelTagString = 0x73; // 's'
const labelTagNumber = 0x6e; // 'n'
const utf8 = new TextEncoder();

/** One label of a derived stream: a node index, a link index, a purpose such as 'loss'. */
export type PrngLabel = string | number;

/** FNV-1a 32 hash of `bytes`; the first lane of the child-key hash, exported to pin it to the published vectors. */
export function fnv1a32(bytes: Uint8Array): number {
  return fnv1a32From(fnvOffsetBasis, bytes);
}

function fnv1a32From(basis: number, bytes: Uint8Array): number {
  let h = basis | 0;
  for (const byte of bytes) h = Math.imul(h ^ byte, fnvPrime);
  return h >>> 0;
}

/** MurmurHash3 fmix32: a bijective avalanche mix of a 32-bit word. */
function fmix32(word: number): number {
  let z = Math.imul(word ^ (word >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Output `index` (1-based) of splitmix32 started at `start`. */
function splitmix32(start: number, index: number): number {
  return fmix32((start + Math.imul(weylStep, index)) | 0);
}

function rotl(word: number, bits: number): number {
  return (word << bits) | (word >>> (32 - bits));
}

function checkU32(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= twoPow32) {
    throw new RangeError(`${fn}: expected ${name} to be an integer in 0..2^32-1, got ${value}`);
  }
}

/** The canonical bytes hashed into a child key: parent key, then each label as tag, length, UTF-8 text. */
function childKeyBytes(k0: number, k1: number, labels: readonly PrngLabel[]): Uint8Array {
  const encoded = labels.map((label) => {
    if (typeof label === 'number') {
      if (!Number.isFinite(label)) throw new RangeError(`Prng.split: expected finite number labels, got ${label}`);
      return { tag: labelTagNumber, text: utf8.encode(String(label)) };
    }
    if (typeof label !== 'string') {
      throw new TypeError(`Prng.split: expected string or number labels, got ${typeof label}`);
    }
    return { tag: labelTagString, text: utf8.encode(label) };
  });
  const total = encoded.reduce((sum, part) => sum + 5 + part.text.length, 8);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, k0, true);
  view.setUint32(4, k1, true);
  let at = 8;
  for (const part of encoded) {
    view.setUint8(at, part.tag);
    view.setUint32(at + 1, part.text.length, true);
    bytes.set(part.text, at + 5);
    at += 5 + part.text.length;
  }
  return bytes;
}

/** A deterministic random stream (xoshiro128** keyed by splitmix32): the only source of randomness in the twin. */
export class Prng {
  private k0 = 0;
  private k1 = 0;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** A root generator for a 32-bit `seed`; its state is the first four splitmix32 outputs from the seed. */
  constructor(seed: number) {
    checkU32('Prng', 'seed', seed);
    this.rekey(seed, seed);
  }

  /** The stream for `seed` and `labels`, e.g. `Prng.fromSeed(seed, 'link', 17)`; same as `new Prng(seed).split(...labels)`. */
  static fromSeed(seed: number, ...labels: PrngLabel[]): Prng {
    return new Prng(seed).split(...labels);
  }

  /** A generator with raw xoshiro128** state words, for reference vectors; its split key is (s0 ^ s2, s1 ^ s3). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Prng {
    checkU32('Prng.fromState', 's0', s0);
    checkU32('Prng.fromState', 's1', s1);
    checkU32('Prng.fromState', 's2', s2);
    checkU32('Prng.fromState', 's3', s3);
    if ((s0 | s1 | s2 | s3) === 0) throw new RangeError('Prng.fromState: expected a non-zero state, got all zeros');
    const prng = new Prng(0);
    prng.k0 = (s0 ^ s2) >>> 0;
    prng.k1 = (s1 ^ s3) >>> 0;
    prng.s0 = s0 | 0;
    prng.s1 = s1 | 0;
    prng.s2 = s2 | 0;
    prng.s3 = s3 | 0;
    return prng;
  }

  /** A child stream keyed by this stream's key and `labels`; independent of how many numbers were drawn here. */
  split(...labels: PrngLabel[]): Prng {
    const bytes = childKeyBytes(this.k0, this.k1, labels);
    const child = new Prng(0);
    child.rekey(fnv1a32From(fnvOffsetBasis, bytes), fnv1a32From(secondLaneBasis, bytes));
    return child;
  }

  private rekey(k0: number, k1: number): void {
    this.k0 = k0;
    this.k1 = k1;
    // Outputs 1, 2 come from k0 and 3, 4 from k1: for a root (k0 = k1 = seed) that is the usual
    // "first four splitmix32 outputs", and for a child all 64 key bits reach the state. fmix32 is
    // a bijection, so outputs 1 and 2 (distinct inputs) are not both 0 and the state is never all zero.
    this.s0 = splitmix32(k0, 1) | 0;
    this.s1 = splitmix32(k0, 2) | 0;
    this.s2 = splitmix32(k1, 3) | 0;
    this.s3 = splitmix32(k1, 4) | 0;
  }

  /** The next 32-bit unsigned integer of the stream (xoshiro128** step); every other method draws through it. */
  nextU32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const s2 = this.s2 ^ s0;
    const s3 = this.s3 ^ s1;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    this.s2 = s2 ^ t;
    this.s3 = rotl(s3, 11);
    return result;
  }

  /** A number in [0, 1) with 32 random bits (one draw); 2^-32 resolution is ample for probabilities and delays. */
  next(): number {
    return this.nextU32() / twoPow32;
  }

  /** An unbiased integer in [lo, hi] (rejection sampling, no modulo bias); hi - lo must be below 2^32. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo)) throw new RangeError(`Prng.int: expected lo to be a safe integer, got ${lo}`);
    if (!Number.isSafeInteger(hi)) throw new RangeError(`Prng.int: expected hi to be a safe integer, got ${hi}`);
    if (lo > hi) throw new RangeError(`Prng.int: expected lo <= hi, got ${lo} > ${hi}`);
    if (hi - lo >= twoPow32) throw new RangeError(`Prng.int: expected hi - lo < 2^32, got ${hi - lo}`);
    return lo + this.below(hi - lo + 1);
  }

  /** An unbiased integer in [0, span) for span in 1..2^32: draws below the largest multiple of span are kept. */
  private below(span: number): number {
    const limit = twoPow32 - (twoPow32 % span);
    let u = this.nextU32();
    while (u >= limit) u = this.nextU32();
    return u % span;
  }

  /** A uniform number in [lo, hi) (hi itself only through floating-point rounding when |lo| dwarfs hi - lo). */
  uniform(lo: number, hi: number): number {
    if (!Number.isFinite(lo)) throw new RangeError(`Prng.uniform: expected a finite lo, got ${lo}`);
    if (!Number.isFinite(hi)) throw new RangeError(`Prng.uniform: expected a finite hi, got ${hi}`);
    if (lo > hi) throw new RangeError(`Prng.uniform: expected lo <= hi, got ${lo} > ${hi}`);
    if (!Number.isFinite(hi - lo)) throw new RangeError(`Prng.uniform: expected a finite hi - lo, got ${hi - lo}`);
    return lo + (hi - lo) * this.next();
  }

  /** True with probability p; always draws once, so a stream stays aligned whatever p is. */
  chance(p: number): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Prng.chance: expected p in [0, 1], got ${p}`);
    return this.next() < p;
  }

  /** An exponential variate with the given mean (inverse CDF, one draw), e.g. for inter-arrival times. */
  exponential(mean: number): number {
    if (!(mean > 0 && mean < Infinity)) {
      throw new RangeError(`Prng.exponential: expected a finite mean > 0, got ${mean}`);
    }
    // 1 - next() is in (0, 1], so the logarithm is finite; "0 -" turns a -0 into +0.
    return 0 - mean * Math.log(1 - this.next());
  }

  /** A normal variate (Box-Muller, cosine branch, exactly two draws and no cached spare), e.g. for jitter. */
  normal(mean: number, sd: number): number {
    if (!Number.isFinite(mean)) throw new RangeError(`Prng.normal: expected a finite mean, got ${mean}`);
    if (!(sd >= 0 && sd < Infinity)) throw new RangeError(`Prng.normal: expected a finite sd >= 0, got ${sd}`);
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    return mean + sd * radius * Math.cos(2 * Math.PI * this.next());
  }

  /** A uniformly chosen element of a non-empty array (one `int` draw). */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Prng.pick: expected a non-empty array, got length 0');
    return items[this.below(items.length)] as T;
  }

  /** Shuffles `items` in place (Fisher-Yates, one draw per position from the end) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }

  /** k distinct integers from 0..n-1 in random order (a partial Fisher-Yates over a sparse map: O(k) time and memory). */
  sample(k: number, n: number): number[] {
    if (!Number.isInteger(n) || n < 0 || n > twoPow32) {
      throw new RangeError(`Prng.sample: expected n to be an integer in 0..2^32, got ${n}`);
    }
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new RangeError(`Prng.sample: expected k to be an integer in 0..${n}, got ${k}`);
    }
    // Position p of the virtual array 0..n-1 holds moved.get(p) ?? p.
    const moved = new Map<number, number>();
    const out = new Array<number>(k);
    for (let i = 0; i < k; i++) {
      const j = i + this.below(n - i);
      out[i] = moved.get(j) ?? j;
      moved.set(j, moved.get(i) ?? i);
    }
    return out;
  }
}
