// ChaCha20-Poly1305 (RFC 8439) in AssemblyScript, compiled to WebAssembly with SIMD by
// `npm run build:wasm` into src/crypto/chacha20-poly1305-wasm.ts (base64). Why: a forwarded
// packet costs one open and one seal, and node:crypto spends ~3 us of each on building a cipher
// object, against ~1 us of actual work for 1200 bytes. Here a call costs what the work costs.
//
// Written from RFC 8439 §2.1-2.8. Constant time: ChaCha20 is add-rotate-xor; Poly1305 uses
// 26-bit limbs with 64-bit products (two blocks at a time in SIMD lanes for longer messages)
// and a final reduction by masks, no branch or index depends on a secret; tags are compared
// by OR-ing the XOR of all their bytes. Key material left in memory is wiped at the end of
// every call.
//
// The caller (src/crypto/chacha20-poly1305.ts) writes inputs into fixed regions of memory:
//
//   KEY 0..32 | NONCE 32..44 | IV 48..64 | POLY_KEY 64..96 | BLOCK 128..192 | KEYSTREAM 256..512 |
//   AAD 512..1024 | DATA 1024.. (message, then its 16-byte tag)

const KEY: usize = 0;
const NONCE: usize = 32;
const IV: usize = 48;
const POLY_KEY: usize = 64;
const BLOCK: usize = 128;
const KEYSTREAM: usize = 256;
const AAD: usize = 512;
const DATA: usize = 1024;
const AAD_MAX: usize = DATA - AAD;

const SIGMA0: u32 = 0x61707865;
const SIGMA1: u32 = 0x3320646e;
const SIGMA2: u32 = 0x79622d32;
const SIGMA3: u32 = 0x6b206574;
const LIMB: u32 = 0x3ffffff;

// Where the caller puts the key, nonce, AAD and message, and the largest AAD.
export const keyAt: usize = KEY;
export const nonceAt: usize = NONCE;
export const ivAt: usize = IV;
export const aadAt: usize = AAD;
export const aadMax: usize = AAD_MAX;
export const dataAt: usize = DATA;
export const blockAt: usize = BLOCK;

@inline function rotl16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
@inline function rotl8(x: v128): v128 {
  return i8x16.shuffle(x, x, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
}
@inline function rotl12(x: v128): v128 {
  return v128.or(i32x4.shl(x, 12), i32x4.shr_u(x, 20));
}
@inline function rotl7(x: v128): v128 {
  return v128.or(i32x4.shl(x, 7), i32x4.shr_u(x, 25));
}

/**
 * One ChaCha20 block (RFC 8439 §2.3) for KEY and the 16 bytes at IV (a little-endian block
 * counter, then the nonce, as node:crypto's 'chacha20' takes them), written to BLOCK. For
 * header masks and other short keyed outputs, three per forwarded packet, so it runs on SIMD
 * rows: a column round is one quarter round on four lanes, and rotating the lanes of rows b, c
 * and d by one, two and three lines the diagonals up as columns for the next.
 */
export function block(): void {
  const a0 = i32x4(SIGMA0, SIGMA1, SIGMA2, SIGMA3), b0 = v128.load(KEY), c0 = v128.load(KEY + 16), d0 = v128.load(IV);
  let a = a0, b = b0, c = c0, d = d0;
  for (let i = 0; i < 10; i++) {
    a = i32x4.add(a, b); d = rotl16(v128.xor(d, a)); c = i32x4.add(c, d); b = rotl12(v128.xor(b, c));
    a = i32x4.add(a, b); d = rotl8(v128.xor(d, a)); c = i32x4.add(c, d); b = rotl7(v128.xor(b, c));
    b = i32x4.shuffle(b, b, 1, 2, 3, 0); c = i32x4.shuffle(c, c, 2, 3, 0, 1); d = i32x4.shuffle(d, d, 3, 0, 1, 2);
    a = i32x4.add(a, b); d = rotl16(v128.xor(d, a)); c = i32x4.add(c, d); b = rotl12(v128.xor(b, c));
    a = i32x4.add(a, b); d = rotl8(v128.xor(d, a)); c = i32x4.add(c, d); b = rotl7(v128.xor(b, c));
    b = i32x4.shuffle(b, b, 3, 0, 1, 2); c = i32x4.shuffle(c, c, 2, 3, 0, 1); d = i32x4.shuffle(d, d, 1, 2, 3, 0);
  }
  v128.store(BLOCK, i32x4.add(a, a0)); v128.store(BLOCK, i32x4.add(b, b0), 16);
  v128.store(BLOCK, i32x4.add(c, c0), 32); v128.store(BLOCK, i32x4.add(d, d0), 48);
  memory.fill(KEY, 0, 64);
}

/** Stores words a..d of four blocks (one lane per block) as 16 contiguous bytes of each block, at KEYSTREAM + 64b + at. */
@inline function storeTransposed(at: usize, a: v128, b: v128, c: v128, d: v128): void {
  const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(KEYSTREAM + at, i64x2.shuffle(ab01, cd01, 0, 2));
  v128.store(KEYSTREAM + 64 + at, i64x2.shuffle(ab01, cd01, 1, 3));
  v128.store(KEYSTREAM + 128 + at, i64x2.shuffle(ab23, cd23, 0, 2));
  v128.store(KEYSTREAM + 192 + at, i64x2.shuffle(ab23, cd23, 1, 3));
}

/** Four ChaCha20 blocks (counters counter..counter+3) at once, one per SIMD lane, written to KEYSTREAM (256 bytes). */
function keystream4(counter: u32): void {
  const k0 = v128.load32_splat(KEY), k1 = v128.load32_splat(KEY + 4), k2 = v128.load32_splat(KEY + 8), k3 = v128.load32_splat(KEY + 12);
  const k4 = v128.load32_splat(KEY + 16), k5 = v128.load32_splat(KEY + 20), k6 = v128.load32_splat(KEY + 24), k7 = v128.load32_splat(KEY + 28);
  const n0 = v128.load32_splat(NONCE), n1 = v128.load32_splat(NONCE + 4), n2 = v128.load32_splat(NONCE + 8);
  const c0 = i32x4.splat(SIGMA0), c1 = i32x4.splat(SIGMA1), c2 = i32x4.splat(SIGMA2), c3 = i32x4.splat(SIGMA3);
  const ctr = i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3));
  let x0 = c0, x1 = c1, x2 = c2, x3 = c3, x4 = k0, x5 = k1, x6 = k2, x7 = k3;
  let x8 = k4, x9 = k5, x10 = k6, x11 = k7, x12 = ctr, x13 = n0, x14 = n1, x15 = n2;
  for (let i = 0; i < 10; i++) {
    // Columns.
    x0 = i32x4.add(x0, x4); x12 = rotl16(v128.xor(x12, x0)); x8 = i32x4.add(x8, x12); x4 = rotl12(v128.xor(x4, x8));
    x0 = i32x4.add(x0, x4); x12 = rotl8(v128.xor(x12, x0)); x8 = i32x4.add(x8, x12); x4 = rotl7(v128.xor(x4, x8));
    x1 = i32x4.add(x1, x5); x13 = rotl16(v128.xor(x13, x1)); x9 = i32x4.add(x9, x13); x5 = rotl12(v128.xor(x5, x9));
    x1 = i32x4.add(x1, x5); x13 = rotl8(v128.xor(x13, x1)); x9 = i32x4.add(x9, x13); x5 = rotl7(v128.xor(x5, x9));
    x2 = i32x4.add(x2, x6); x14 = rotl16(v128.xor(x14, x2)); x10 = i32x4.add(x10, x14); x6 = rotl12(v128.xor(x6, x10));
    x2 = i32x4.add(x2, x6); x14 = rotl8(v128.xor(x14, x2)); x10 = i32x4.add(x10, x14); x6 = rotl7(v128.xor(x6, x10));
    x3 = i32x4.add(x3, x7); x15 = rotl16(v128.xor(x15, x3)); x11 = i32x4.add(x11, x15); x7 = rotl12(v128.xor(x7, x11));
    x3 = i32x4.add(x3, x7); x15 = rotl8(v128.xor(x15, x3)); x11 = i32x4.add(x11, x15); x7 = rotl7(v128.xor(x7, x11));
    // Diagonals.
    x0 = i32x4.add(x0, x5); x15 = rotl16(v128.xor(x15, x0)); x10 = i32x4.add(x10, x15); x5 = rotl12(v128.xor(x5, x10));
    x0 = i32x4.add(x0, x5); x15 = rotl8(v128.xor(x15, x0)); x10 = i32x4.add(x10, x15); x5 = rotl7(v128.xor(x5, x10));
    x1 = i32x4.add(x1, x6); x12 = rotl16(v128.xor(x12, x1)); x11 = i32x4.add(x11, x12); x6 = rotl12(v128.xor(x6, x11));
    x1 = i32x4.add(x1, x6); x12 = rotl8(v128.xor(x12, x1)); x11 = i32x4.add(x11, x12); x6 = rotl7(v128.xor(x6, x11));
    x2 = i32x4.add(x2, x7); x13 = rotl16(v128.xor(x13, x2)); x8 = i32x4.add(x8, x13); x7 = rotl12(v128.xor(x7, x8));
    x2 = i32x4.add(x2, x7); x13 = rotl8(v128.xor(x13, x2)); x8 = i32x4.add(x8, x13); x7 = rotl7(v128.xor(x7, x8));
    x3 = i32x4.add(x3, x4); x14 = rotl16(v128.xor(x14, x3)); x9 = i32x4.add(x9, x14); x4 = rotl12(v128.xor(x4, x9));
    x3 = i32x4.add(x3, x4); x14 = rotl8(v128.xor(x14, x3)); x9 = i32x4.add(x9, x14); x4 = rotl7(v128.xor(x4, x9));
  }
  storeTransposed(0, i32x4.add(x0, c0), i32x4.add(x1, c1), i32x4.add(x2, c2), i32x4.add(x3, c3));
  storeTransposed(16, i32x4.add(x4, k0), i32x4.add(x5, k1), i32x4.add(x6, k2), i32x4.add(x7, k3));
  storeTransposed(32, i32x4.add(x8, k4), i32x4.add(x9, k5), i32x4.add(x10, k6), i32x4.add(x11, k7));
  storeTransposed(48, i32x4.add(x12, ctr), i32x4.add(x13, n0), i32x4.add(x14, n1), i32x4.add(x15, n2));
}

/** XORs `len` bytes at `p` with KEYSTREAM from offset `from`. */
function xorKeystream(p: usize, from: usize, len: usize): void {
  let i: usize = 0;
  for (; i + 16 <= len; i += 16) v128.store(p + i, v128.xor(v128.load(p + i), v128.load(KEYSTREAM + from + i)));
  for (; i < len; i++) store<u8>(p + i, load<u8>(p + i) ^ load<u8>(KEYSTREAM + from + i));
}

/**
 * Derives the one-time Poly1305 key (block 0, RFC 8439 §2.6) into POLY_KEY, leaving blocks 1-3
 * of the same batch in KEYSTREAM for cipherFrom1.
 */
function polyKey(): void {
  keystream4(0);
  memory.copy(POLY_KEY, KEYSTREAM, 32);
}

/**
 * XORs `len` bytes at DATA with the keystream from block 1 on (§2.4), four blocks per batch.
 * Blocks 1-3 are the ones polyKey left in KEYSTREAM (Poly1305 does not touch it), so an open
 * that checked its tag first does not compute the first batch twice.
 */
function cipherFrom1(len: usize): void {
  const first = len < 192 ? len : 192;
  xorKeystream(DATA, 64, first);
  let counter: u32 = 4;
  for (let off: usize = first; off < len; off += 256) {
    keystream4(counter);
    counter += 4;
    xorKeystream(DATA + off, 0, len - off < 256 ? len - off : 256);
  }
}

// Poly1305 accumulator h and key r, in 26-bit limbs.
let h0: u32 = 0, h1: u32 = 0, h2: u32 = 0, h3: u32 = 0, h4: u32 = 0;
let r0: u32 = 0, r1: u32 = 0, r2: u32 = 0, r3: u32 = 0, r4: u32 = 0;

/** Loads r from POLY_KEY, clamped (RFC 8439 §2.5: the clamp is folded into the limb masks), and zeroes h. */
function polyStart(): void {
  const t0 = load<u32>(POLY_KEY), t1 = load<u32>(POLY_KEY, 4), t2 = load<u32>(POLY_KEY, 8), t3 = load<u32>(POLY_KEY, 12);
  r0 = t0 & 0x3ffffff;
  r1 = ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03;
  r2 = ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff;
  r3 = ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff;
  r4 = (t3 >>> 8) & 0x00fffff;
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0;
}

/** Absorbs `len` bytes at `p` (a multiple of 16) one block at a time: h = (h + block + 2^128) * r mod 2^130 - 5. */
function polyBlocksScalar(p: usize, len: usize): void {
  const s1: u64 = <u64>r1 * 5, s2: u64 = <u64>r2 * 5, s3: u64 = <u64>r3 * 5, s4: u64 = <u64>r4 * 5;
  const k0: u64 = r0, k1: u64 = r1, k2: u64 = r2, k3: u64 = r3, k4: u64 = r4;
  let a0 = h0, a1 = h1, a2 = h2, a3 = h3, a4 = h4;
  for (let off: usize = 0; off < len; off += 16) {
    const t0 = load<u32>(p + off), t1 = load<u32>(p + off, 4), t2 = load<u32>(p + off, 8), t3 = load<u32>(p + off, 12);
    a0 += t0 & LIMB;
    a1 += ((t0 >>> 26) | (t1 << 6)) & LIMB;
    a2 += ((t1 >>> 20) | (t2 << 12)) & LIMB;
    a3 += ((t2 >>> 14) | (t3 << 18)) & LIMB;
    a4 += (t3 >>> 8) | (1 << 24);
    const b0: u64 = a0, b1: u64 = a1, b2: u64 = a2, b3: u64 = a3, b4: u64 = a4;
    const d0: u64 = b0 * k0 + b1 * s4 + b2 * s3 + b3 * s2 + b4 * s1;
    let d1: u64 = b0 * k1 + b1 * k0 + b2 * s4 + b3 * s3 + b4 * s2;
    let d2: u64 = b0 * k2 + b1 * k1 + b2 * k0 + b3 * s4 + b4 * s3;
    let d3: u64 = b0 * k3 + b1 * k2 + b2 * k1 + b3 * k0 + b4 * s4;
    let d4: u64 = b0 * k4 + b1 * k3 + b2 * k2 + b3 * k1 + b4 * k0;
    d1 += d0 >> 26; a0 = <u32>d0 & LIMB;
    d2 += d1 >> 26; a1 = <u32>d1 & LIMB;
    d3 += d2 >> 26; a2 = <u32>d2 & LIMB;
    d4 += d3 >> 26; a3 = <u32>d3 & LIMB;
    a4 = <u32>d4 & LIMB;
    a0 += <u32>(d4 >> 26) * 5;
    a1 += a0 >>> 26;
    a0 &= LIMB;
  }
  h0 = a0; h1 = a1; h2 = a2; h3 = a3; h4 = a4;
}

/**
 * Absorbs `len` bytes at `p` (a multiple of 16) as full blocks. From four blocks on, pairs of
 * blocks go through polyPairs (two SIMD lanes); an odd block left over goes through the scalar
 * loop. The result is the same h (the tests check every length against OpenSSL).
 */
function polyBlocks(p: usize, len: usize): void {
  if (len < 64) {
    polyBlocksScalar(p, len);
    return;
  }
  const paired = len & ~(<usize>31);
  polyPairs(p, paired);
  if (paired < len) polyBlocksScalar(p + paired, len - paired);
}

/** Lanes 0 and 1 of the low halves of two 64-bit lanes, as 32-bit lanes 0 and 1. */
@inline function low32(x: v128): v128 {
  return i32x4.shuffle(x, x, 0, 2, 0, 2);
}

/** Sum of the five 26-bit limb products of a Poly1305 multiplication, per 64-bit lane. */
@inline function dot5(a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, k0: v128, k1: v128, k2: v128, k3: v128, k4: v128): v128 {
  let d = i64x2.extmul_low_i32x4_u(a0, k0);
  d = i64x2.add(d, i64x2.extmul_low_i32x4_u(a1, k1));
  d = i64x2.add(d, i64x2.extmul_low_i32x4_u(a2, k2));
  d = i64x2.add(d, i64x2.extmul_low_i32x4_u(a3, k3));
  return i64x2.add(d, i64x2.extmul_low_i32x4_u(a4, k4));
}

/**
 * Absorbs `len` bytes at `p` (a multiple of 32, at least 64) two blocks at a time: lane 0 takes
 * blocks 1, 3, 5, ... and lane 1 blocks 2, 4, 6, ..., each lane multiplying by r^2 per step, so
 * that block i ends up multiplied by r^(n - i + 1) as in the one-at-a-time loop, except that in
 * the last step lane 1 multiplies by r instead. h = lane 0 + lane 1 then, carried into 26-bit
 * limbs. Products are 26 x 26-bit limbs in 64-bit lanes (i64x2.extmul_low_i32x4_u), with the
 * same bounds as the scalar loop.
 */
function polyPairs(p: usize, len: usize): void {
  // r^2, from the scalar loop's own arithmetic on a copy of r as h.
  const s0 = h0, s1 = h1, s2 = h2, s3 = h3, s4 = h4;
  h0 = r0; h1 = r1; h2 = r2; h3 = r3; h4 = r4;
  polyMultiplyByR();
  const q0 = h0, q1 = h1, q2 = h2, q3 = h3, q4 = h4;
  const mask = i32x4.splat(LIMB);
  let x0 = i32x4.replace_lane(i32x4.splat(0), 0, s0), x1 = i32x4.replace_lane(i32x4.splat(0), 0, s1);
  let x2 = i32x4.replace_lane(i32x4.splat(0), 0, s2), x3 = i32x4.replace_lane(i32x4.splat(0), 0, s3);
  let x4 = i32x4.replace_lane(i32x4.splat(0), 0, s4);
  let k0 = i32x4.splat(q0), k1 = i32x4.splat(q1), k2 = i32x4.splat(q2), k3 = i32x4.splat(q3), k4 = i32x4.splat(q4);
  const five = i32x4.splat(5);
  let t1 = i32x4.mul(k1, five), t2 = i32x4.mul(k2, five), t3 = i32x4.mul(k3, five), t4 = i32x4.mul(k4, five);
  for (let off: usize = 0; off < len; off += 32) {
    if (off + 32 == len) {
      // The last step: lane 1 by r, lane 0 by r^2 as before.
      k0 = i32x4.replace_lane(k0, 1, r0); k1 = i32x4.replace_lane(k1, 1, r1); k2 = i32x4.replace_lane(k2, 1, r2);
      k3 = i32x4.replace_lane(k3, 1, r3); k4 = i32x4.replace_lane(k4, 1, r4);
      t1 = i32x4.mul(k1, five); t2 = i32x4.mul(k2, five); t3 = i32x4.mul(k3, five); t4 = i32x4.mul(k4, five);
    }
    const a = v128.load(p + off), b = v128.load(p + off, 16);
    const lo = i32x4.shuffle(a, b, 0, 4, 1, 5), hi = i32x4.shuffle(a, b, 2, 6, 3, 7);
    const lo1 = i32x4.shuffle(lo, lo, 2, 3, 2, 3), hi1 = i32x4.shuffle(hi, hi, 2, 3, 2, 3);
    x0 = i32x4.add(x0, v128.and(lo, mask));
    x1 = i32x4.add(x1, v128.and(v128.or(i32x4.shr_u(lo, 26), i32x4.shl(lo1, 6)), mask));
    x2 = i32x4.add(x2, v128.and(v128.or(i32x4.shr_u(lo1, 20), i32x4.shl(hi, 12)), mask));
    x3 = i32x4.add(x3, v128.and(v128.or(i32x4.shr_u(hi, 14), i32x4.shl(hi1, 18)), mask));
    x4 = i32x4.add(x4, v128.or(i32x4.shr_u(hi1, 8), i32x4.splat(1 << 24)));
    const d0 = dot5(x0, x1, x2, x3, x4, k0, t4, t3, t2, t1);
    let d1 = dot5(x0, x1, x2, x3, x4, k1, k0, t4, t3, t2);
    let d2 = dot5(x0, x1, x2, x3, x4, k2, k1, k0, t4, t3);
    let d3 = dot5(x0, x1, x2, x3, x4, k3, k2, k1, k0, t4);
    let d4 = dot5(x0, x1, x2, x3, x4, k4, k3, k2, k1, k0);
    const wide = i64x2.splat(LIMB);
    d1 = i64x2.add(d1, i64x2.shr_u(d0, 26));
    d2 = i64x2.add(d2, i64x2.shr_u(d1, 26));
    d3 = i64x2.add(d3, i64x2.shr_u(d2, 26));
    d4 = i64x2.add(d4, i64x2.shr_u(d3, 26));
    const c = i64x2.shr_u(d4, 26);
    let e0 = i64x2.add(v128.and(d0, wide), i64x2.add(i64x2.shl(c, 2), c));
    const e1 = i64x2.add(v128.and(d1, wide), i64x2.shr_u(e0, 26));
    e0 = v128.and(e0, wide);
    x0 = low32(e0); x1 = low32(e1); x2 = low32(v128.and(d2, wide)); x3 = low32(v128.and(d3, wide)); x4 = low32(v128.and(d4, wide));
  }
  h0 = i32x4.extract_lane(x0, 0) + i32x4.extract_lane(x0, 1);
  h1 = i32x4.extract_lane(x1, 0) + i32x4.extract_lane(x1, 1);
  h2 = i32x4.extract_lane(x2, 0) + i32x4.extract_lane(x2, 1);
  h3 = i32x4.extract_lane(x3, 0) + i32x4.extract_lane(x3, 1);
  h4 = i32x4.extract_lane(x4, 0) + i32x4.extract_lane(x4, 1);
  polyCarry();
}

/** h = h * r mod 2^130 - 5 (no block added), carried into 26-bit limbs as polyBlocksScalar leaves them. */
function polyMultiplyByR(): void {
  const b0: u64 = h0, b1: u64 = h1, b2: u64 = h2, b3: u64 = h3, b4: u64 = h4;
  const k0: u64 = r0, k1: u64 = r1, k2: u64 = r2, k3: u64 = r3, k4: u64 = r4;
  const s1: u64 = k1 * 5, s2: u64 = k2 * 5, s3: u64 = k3 * 5, s4: u64 = k4 * 5;
  const d0: u64 = b0 * k0 + b1 * s4 + b2 * s3 + b3 * s2 + b4 * s1;
  let d1: u64 = b0 * k1 + b1 * k0 + b2 * s4 + b3 * s3 + b4 * s2;
  let d2: u64 = b0 * k2 + b1 * k1 + b2 * k0 + b3 * s4 + b4 * s3;
  let d3: u64 = b0 * k3 + b1 * k2 + b2 * k1 + b3 * k0 + b4 * s4;
  let d4: u64 = b0 * k4 + b1 * k3 + b2 * k2 + b3 * k1 + b4 * k0;
  d1 += d0 >> 26; h0 = <u32>d0 & LIMB;
  d2 += d1 >> 26; h1 = <u32>d1 & LIMB;
  d3 += d2 >> 26; h2 = <u32>d2 & LIMB;
  d4 += d3 >> 26; h3 = <u32>d3 & LIMB;
  h4 = <u32>d4 & LIMB;
  h0 += <u32>(d4 >> 26) * 5;
  h1 += h0 >>> 26;
  h0 &= LIMB;
}

/** Carries h (limbs of up to 28 bits, the sum of two lanes) back into 26-bit limbs, folding 2^130 as 5. */
function polyCarry(): void {
  let c: u32 = h0 >>> 26; h0 &= LIMB;
  h1 += c; c = h1 >>> 26; h1 &= LIMB;
  h2 += c; c = h2 >>> 26; h2 &= LIMB;
  h3 += c; c = h3 >>> 26; h3 &= LIMB;
  h4 += c; c = h4 >>> 26; h4 &= LIMB;
  h0 += c * 5; c = h0 >>> 26; h0 &= LIMB;
  h1 += c;
}

/** Writes the tag, (h mod 2^130 - 5) + s mod 2^128, to `at`; the choice between h and h - p is made by masks. */
function polyFinish(at: usize): void {
  let a0 = h0, a1 = h1, a2 = h2, a3 = h3, a4 = h4;
  let c: u32 = a1 >>> 26; a1 &= LIMB;
  a2 += c; c = a2 >>> 26; a2 &= LIMB;
  a3 += c; c = a3 >>> 26; a3 &= LIMB;
  a4 += c; c = a4 >>> 26; a4 &= LIMB;
  a0 += c * 5; c = a0 >>> 26; a0 &= LIMB;
  a1 += c;
  let g0 = a0 + 5; c = g0 >>> 26; g0 &= LIMB;
  let g1 = a1 + c; c = g1 >>> 26; g1 &= LIMB;
  let g2 = a2 + c; c = g2 >>> 26; g2 &= LIMB;
  let g3 = a3 + c; c = g3 >>> 26; g3 &= LIMB;
  const g4 = a4 + c - (1 << 26);
  // All ones when h + 5 - 2^130 did not borrow, i.e. h >= p: then take g = h - p.
  const useG: u32 = (g4 >>> 31) - 1;
  a0 = (a0 & ~useG) | (g0 & useG);
  a1 = (a1 & ~useG) | (g1 & useG);
  a2 = (a2 & ~useG) | (g2 & useG);
  a3 = (a3 & ~useG) | (g3 & useG);
  a4 = (a4 & ~useG) | (g4 & useG);
  let f: u64 = <u64>(a0 | (a1 << 26)) + <u64>load<u32>(POLY_KEY, 16);
  store<u32>(at, <u32>f);
  f = <u64>((a1 >>> 6) | (a2 << 20)) + <u64>load<u32>(POLY_KEY, 20) + (f >> 32);
  store<u32>(at, <u32>f, 4);
  f = <u64>((a2 >>> 12) | (a3 << 14)) + <u64>load<u32>(POLY_KEY, 24) + (f >> 32);
  store<u32>(at, <u32>f, 8);
  f = <u64>((a3 >>> 18) | (a4 << 8)) + <u64>load<u32>(POLY_KEY, 28) + (f >> 32);
  store<u32>(at, <u32>f, 12);
}

/** Absorbs `len` bytes at `p` zero-padded to a multiple of 16 (RFC 8439 §2.8 pad16). */
function polyPadded(p: usize, len: usize): void {
  const full = len & ~(<usize>15);
  polyBlocks(p, full);
  if (len == full) return;
  memory.fill(BLOCK, 0, 16);
  memory.copy(BLOCK, p + full, len - full);
  polyBlocks(BLOCK, 16);
}

/** The AEAD tag over AAD (`aadLen`) and the ciphertext at DATA (`len`), written to `at`. */
function tag(aadLen: usize, len: usize, at: usize): void {
  polyStart();
  polyPadded(AAD, aadLen);
  polyPadded(DATA, len);
  store<u64>(BLOCK, <u64>aadLen);
  store<u64>(BLOCK, <u64>len, 8);
  polyBlocks(BLOCK, 16);
  polyFinish(at);
}

/** Wipes the key, nonce, one-time key, scratch block and keystream (not the message: it is the caller's output). */
function wipe(): void {
  memory.fill(KEY, 0, AAD);
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0;
  r0 = 0; r1 = 0; r2 = 0; r3 = 0; r4 = 0;
}

/** Encrypts `len` bytes at DATA in place and writes the tag after them. Returns 0, or 1 when a length is out of range. */
export function seal(aadLen: usize, len: usize): u32 {
  if (aadLen > AAD_MAX || len > capacity()) return 1;
  polyKey();
  cipherFrom1(len);
  tag(aadLen, len, DATA + len);
  wipe();
  return 0;
}

/**
 * Checks the tag after the `len` ciphertext bytes at DATA and, only if it verifies, decrypts
 * them in place. Returns 0 when it verified, 1 when it did not, 2 when a length is out of range.
 */
export function open(aadLen: usize, len: usize): u32 {
  if (aadLen > AAD_MAX || len > capacity()) return 2;
  polyKey();
  tag(aadLen, len, BLOCK + 32);
  const diff = (load<u64>(BLOCK + 32) ^ load<u64>(DATA + len)) | (load<u64>(BLOCK + 40) ^ load<u64>(DATA + len + 8));
  if (diff != 0) {
    wipe();
    return 1;
  }
  cipherFrom1(len);
  wipe();
  return 0;
}

/** Largest message (without its tag) that fits the memory. */
export function capacity(): usize {
  return (<usize>memory.size() << 16) - DATA - 16;
}
