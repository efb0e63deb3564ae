import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng, fnv1a32 } from '../../src/twin/prng.js';

const utf8 = new TextEncoder();

function draws(prng: Prng, count: number): number[] {
  return Array.from({ length: count }, () => prng.nextU32());
}

/** Pearson's chi-square statistic of observed counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((sum, count) => sum + count, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

describe('reference vectors', () => {
  it('matches xoshiro128** output of the C reference implementation', () => {
    // State and outputs from edorfaus/xoshiro-6502 test-rom/testdata.asm, which were produced
    // by the reference C code (seed bytes 0C 4A 4D 96 ... read as little-endian words).
    const prng = Prng.fromState(0x964d4a0c, 0xd40ab895, 0xad7fdecb, 0x3006f0f0);
    expect(draws(prng, 4)).toEqual([0xf1391922, 0x6fe53806, 0xa5be2840, 0xf510ee70]);
  });

  it('matches the published FNV-1a 32 vectors', () => {
    expect(fnv1a32(utf8.encode(''))).toBe(0x811c9dc5);
    expect(fnv1a32(utf8.encode('a'))).toBe(0xe40c292c);
    expect(fnv1a32(utf8.encode('foobar'))).toBe(0xbf9cf968);
  });
});

describe('golden outputs (frozen from this implementation)', () => {
  it('root streams: splitmix32 seeding then xoshiro128**', () => {
    // Seed 42 was also cross-checked against the reference C step seeded with splitmix32 (fmix32 finalizer).
    expect(draws(new Prng(42), 6)).toEqual([2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290]);
    expect(draws(new Prng(0), 3)).toEqual([3809008728, 1133695204, 53579671]);
    expect(draws(new Prng(0xffffffff), 3)).toEqual([835879718, 1921286648, 2356205009]);
  });

  it('derived streams', () => {
    expect(draws(Prng.fromSeed(42, 'node', 7), 3)).toEqual([2531891606, 2395190663, 2493266860]);
    expect(draws(Prng.fromSeed(42), 3)).toEqual([2055204207, 1831976139, 2279597161]);
  });

  it('every method, in sequence on one stream', () => {
    // Floating-point results rely on V8's fdlibm Math.log/cos, identical on every platform Node runs on.
    const prng = new Prng(7);
    expect(prng.next()).toBe(0.23382771760225296);
    expect(prng.next()).toBe(0.5122324188705534);
    expect(Array.from({ length: 5 }, () => prng.int(-5, 5))).toEqual([0, 4, 1, -1, -4]);
    expect(prng.uniform(10, 20)).toBe(13.568299845792353);
    expect(Array.from({ length: 8 }, () => prng.chance(0.5))).toEqual([false, true, false, true, true, true, true, true]);
    expect(prng.exponential(100)).toBe(95.83621783854062);
    expect(prng.normal(50, 5)).toBe(51.314724989815765);
    expect(prng.pick(['a', 'b', 'c', 'd'])).toBe('b');
    expect(prng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([9, 8, 2, 6, 5, 0, 7, 4, 3, 1]);
    expect(prng.sample(5, 100)).toEqual([73, 83, 2, 77, 28]);
  });
});

describe('determinism and stream derivation', () => {
  it('the same seed gives the same stream', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (seed) => {
        expect(draws(new Prng(seed), 8)).toEqual(draws(new Prng(seed), 8));
      }),
    );
  });

  it('fromSeed(seed, ...labels) is new Prng(seed).split(...labels)', () => {
    expect(draws(Prng.fromSeed(9, 'link', 3), 4)).toEqual(draws(new Prng(9).split('link', 3), 4));
  });

  it('a child stream does not depend on how many numbers the parent drew', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }),
        fc.nat({ max: 200 }),
        (seed, labels, drawn) => {
          const parent = new Prng(seed);
          const before = draws(parent.split(...labels), 4);
          draws(parent, drawn);
          expect(draws(parent.split(...labels), 4)).toEqual(before);
        },
      ),
    );
  });

  it('drawing from a child does not move its parent or its siblings', () => {
    const parent = new Prng(5);
    const reference = new Prng(5);
    const child = parent.split('node', 1);
    draws(child, 100);
    expect(draws(parent, 4)).toEqual(draws(reference, 4));
    expect(draws(parent.split('node', 2), 4)).toEqual(draws(reference.split('node', 2), 4));
  });

  it('different labels, seeds, label types, groupings and nesting give different streams', () => {
    const first = (prng: Prng): number => prng.nextU32();
    const root = new Prng(1);
    const outputs = [
      first(new Prng(1)),
      first(new Prng(2)),
      first(root.split()),
      first(root.split('a')),
      first(root.split('b')),
      first(root.split(1)),
      first(root.split('1')),
      first(root.split('ab')),
      first(root.split('a', 'b')),
      first(root.split('a').split('b')),
      first(new Prng(2).split('a')),
    ];
    expect(new Set(outputs).size).toBe(outputs.length);
  });

  it('children of 20000 labels do not collide (64-bit keys)', () => {
    const root = new Prng(3);
    const firsts = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const child = root.split('link', i);
      firsts.add(`${child.nextU32()},${child.nextU32()}`);
    }
    expect(firsts.size).toBe(20_000);
  });
});

describe('ranges', () => {
  it('next() is in [0, 1) and nextU32() is an unsigned 32-bit integer', () => {
    const prng = new Prng(11);
    for (let i = 0; i < 10_000; i++) {
      const u = prng.nextU32();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
      const x = prng.next();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });

  it('int(lo, hi) stays in [lo, hi]', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer(), fc.nat({ max: 1000 }), (seed, lo, width) => {
        const prng = new Prng(seed);
        for (let i = 0; i < 20; i++) {
          const value = prng.int(lo, lo + width);
          expect(Number.isInteger(value) && value >= lo && value <= lo + width).toBe(true);
        }
      }),
    );
  });

  it('int covers full 2^32 spans and spans that force rejections', () => {
    const prng = new Prng(12);
    expect(prng.int(0, 2 ** 32 - 1)).toBe(new Prng(12).nextU32());
    // Span 2^31 + 1 rejects almost half of all draws; the result stays in range and unbiased halves balance.
    let low = 0;
    for (let i = 0; i < 2000; i++) {
      const value = prng.int(0, 2 ** 31);
      expect(value >= 0 && value <= 2 ** 31).toBe(true);
      if (value < 2 ** 30) low++;
    }
    expect(low).toBeGreaterThan(850);
    expect(low).toBeLessThan(1150);
    expect(prng.int(5, 5)).toBe(5);
  });

  it('uniform(lo, hi) stays in [lo, hi)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e3, noNaN: true }),
        (seed, lo, width) => {
          const value = new Prng(seed).uniform(lo, lo + width);
          expect(value >= lo && value <= lo + width).toBe(true);
        },
      ),
    );
    expect(new Prng(1).uniform(3, 3)).toBe(3);
  });

  it('chance(0) is never true, chance(1) always, and each call draws once', () => {
    const prng = new Prng(13);
    const twin = new Prng(13);
    for (let i = 0; i < 1000; i++) {
      expect(prng.chance(0)).toBe(false);
      expect(prng.chance(1)).toBe(true);
    }
    draws(twin, 2000);
    expect(prng.nextU32()).toBe(twin.nextU32());
  });

  it('exponential and normal draw once and twice and have the requested moments', () => {
    const prng = new Prng(14);
    const count = 20_000;
    const exps = Array.from({ length: count }, () => prng.exponential(40));
    expect(Math.min(...exps)).toBeGreaterThanOrEqual(0);
    expect(Math.abs(exps.reduce((sum, x) => sum + x, 0) / count - 40)).toBeLessThan(1); // sd of the mean is 0.28
    const normals = Array.from({ length: count }, () => prng.normal(10, 3));
    const mean = normals.reduce((sum, x) => sum + x, 0) / count;
    const variance = normals.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (count - 1);
    expect(Math.abs(mean - 10)).toBeLessThan(0.1);
    expect(Math.abs(Math.sqrt(variance) - 3)).toBeLessThan(0.1);
    const a = new Prng(15);
    const b = new Prng(15);
    a.exponential(1);
    a.normal(0, 1);
    draws(b, 3);
    expect(a.nextU32()).toBe(b.nextU32());
    expect(new Prng(16).normal(7, 0)).toBe(7);
  });

  it('exponential never returns -0 or Infinity, even for the extreme draws', () => {
    // Draw 0 gives 1 - 0 = 1 and log 1 = 0; the largest draw gives log(2^-32), still finite.
    const zeroDraw = Prng.fromState(1, 0, 0, 0); // s1 = 0 makes the first output 0
    expect(Object.is(zeroDraw.exponential(5), 0)).toBe(true);
    expect(Number.isFinite(new Prng(17).exponential(1e300))).toBe(true);
  });
});

describe('uniformity (chi-square with generous bounds)', () => {
  it('int(0, 9) over 10k draws for a few seeds', () => {
    for (const seed of [1, 2, 3, 0xdeadbeef]) {
      const prng = new Prng(seed);
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < 10_000; i++) counts[prng.int(0, 9)]!++;
      // 9 degrees of freedom: P(chi2 > 35) is about 6e-5.
      expect(chiSquare(counts)).toBeLessThan(35);
    }
  });

  it('next() in 16 bins and the low byte of nextU32()', () => {
    const prng = Prng.fromSeed(99, 'uniformity');
    const bins = new Array<number>(16).fill(0);
    const bytes = new Array<number>(256).fill(0);
    for (let i = 0; i < 10_000; i++) bins[Math.floor(prng.next() * 16)]!++;
    for (let i = 0; i < 51_200; i++) bytes[prng.nextU32() & 0xff]!++;
    expect(chiSquare(bins)).toBeLessThan(50); // 15 dof
    expect(chiSquare(bytes)).toBeLessThan(360); // 255 dof, mean 255, sd about 23
  });

  it('shuffle gives every permutation of 3 items equally often', () => {
    const prng = new Prng(21);
    const counts = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const key = prng.shuffle(['a', 'b', 'c']).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    expect(chiSquare([...counts.values()])).toBeLessThan(30); // 5 dof
  });

  it('sample picks every element equally often', () => {
    const prng = new Prng(22);
    const counts = new Array<number>(20).fill(0);
    for (let i = 0; i < 2000; i++) for (const x of prng.sample(5, 20)) counts[x]!++;
    expect(chiSquare(counts)).toBeLessThan(60); // 19 dof
  });
});

describe('collections', () => {
  it('pick returns an element, shuffle permutes in place', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.array(fc.integer(), { minLength: 1, maxLength: 30 }), (seed, items) => {
        const prng = new Prng(seed);
        expect(items).toContain(prng.pick(items));
        const copy = [...items];
        expect(prng.shuffle(copy)).toBe(copy);
        expect([...copy].sort((x, y) => x - y)).toEqual([...items].sort((x, y) => x - y));
      }),
    );
    expect(new Prng(1).shuffle([])).toEqual([]);
  });

  it('sample returns k distinct integers of 0..n-1', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 200 }), fc.nat({ max: 200 }), (seed, a, b) => {
        const [k, n] = a <= b ? [a, b] : [b, a];
        const picked = new Prng(seed).sample(k, n);
        expect(picked).toHaveLength(k);
        expect(new Set(picked).size).toBe(k);
        for (const x of picked) expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
      }),
    );
    expect(new Prng(1).sample(5, 5).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4]);
    expect(new Prng(1).sample(0, 0)).toEqual([]);
    const huge = new Prng(2).sample(3, 2 ** 32);
    expect(new Set(huge).size).toBe(3);
  });
});

describe('argument validation', () => {
  const prng = new Prng(1);

  it.each([
    [() => new Prng(-1), 'Prng: expected seed to be an integer in 0..2^32-1, got -1'],
    [() => new Prng(2 ** 32), 'Prng: expected seed to be an integer in 0..2^32-1, got 4294967296'],
    [() => new Prng(1.5), 'Prng: expected seed to be an integer in 0..2^32-1, got 1.5'],
    [() => Prng.fromSeed(Number.NaN), 'Prng: expected seed to be an integer in 0..2^32-1, got NaN'],
    [() => Prng.fromState(0, 0, 0, 0), 'Prng.fromState: expected a non-zero state, got all zeros'],
    [() => Prng.fromState(-1, 0, 0, 0), 'Prng.fromState: expected s0 to be an integer in 0..2^32-1, got -1'],
    [() => Prng.fromState(1, 0.5, 0, 0), 'Prng.fromState: expected s1 to be an integer in 0..2^32-1, got 0.5'],
    [() => Prng.fromState(1, 0, 2 ** 32, 0), 'Prng.fromState: expected s2 to be an integer in 0..2^32-1, got 4294967296'],
    [() => Prng.fromState(1, 0, 0, -2), 'Prng.fromState: expected s3 to be an integer in 0..2^32-1, got -2'],
    [() => prng.split(Number.NaN), 'Prng.split: expected finite number labels, got NaN'],
    [() => prng.split('x', Infinity), 'Prng.split: expected finite number labels, got Infinity'],
    [() => prng.int(5, 3), 'Prng.int: expected lo <= hi, got 5 > 3'],
    [() => prng.int(0.5, 3), 'Prng.int: expected lo to be a safe integer, got 0.5'],
    [() => prng.int(0, 2 ** 53), 'Prng.int: expected hi to be a safe integer, got 9007199254740992'],
    [() => prng.int(0, 2 ** 32), 'Prng.int: expected hi - lo < 2^32, got 4294967296'],
    [() => prng.uniform(Number.NaN, 1), 'Prng.uniform: expected a finite lo, got NaN'],
    [() => prng.uniform(0, Infinity), 'Prng.uniform: expected a finite hi, got Infinity'],
    [() => prng.uniform(2, 1), 'Prng.uniform: expected lo <= hi, got 2 > 1'],
    [() => prng.uniform(-1e308, 1e308), 'Prng.uniform: expected a finite hi - lo, got Infinity'],
    [() => prng.chance(1.5), 'Prng.chance: expected p in [0, 1], got 1.5'],
    [() => prng.chance(Number.NaN), 'Prng.chance: expected p in [0, 1], got NaN'],
    [() => prng.exponential(0), 'Prng.exponential: expected a finite mean > 0, got 0'],
    [() => prng.exponential(Infinity), 'Prng.exponential: expected a finite mean > 0, got Infinity'],
    [() => prng.normal(Number.NaN, 1), 'Prng.normal: expected a finite mean, got NaN'],
    [() => prng.normal(0, -1), 'Prng.normal: expected a finite sd >= 0, got -1'],
    [() => prng.pick([]), 'Prng.pick: expected a non-empty array, got length 0'],
    [() => prng.sample(1, -1), 'Prng.sample: expected n to be an integer in 0..2^32, got -1'],
    [() => prng.sample(1, 2 ** 32 + 1), 'Prng.sample: expected n to be an integer in 0..2^32, got 4294967297'],
    [() => prng.sample(4, 3), 'Prng.sample: expected k to be an integer in 0..3, got 4'],
    [() => prng.sample(1.5, 3), 'Prng.sample: expected k to be an integer in 0..3, got 1.5'],
  ])('%#: throws a RangeError naming the method and value', (call, message) => {
    expect(call).toThrow(RangeError);
    expect(call).toThrow(message);
  });

  it('rejects labels that are neither strings nor numbers with a TypeError', () => {
    expect(() => prng.split({} as never)).toThrow(new TypeError('Prng.split: expected string or number labels, got object'));
  });

  it('a rejected call draws nothing', () => {
    const a = new Prng(8);
    const b = new Prng(8);
    expect(() => a.int(3, 1)).toThrow(RangeError);
    expect(a.nextU32()).toBe(b.nextU32());
  });
});
