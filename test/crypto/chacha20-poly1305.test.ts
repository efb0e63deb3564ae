import { createCipheriv, createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aeadOpen, aeadOpenInto, aeadSeal, useChaChaImplementation } from '../../src/crypto/aead.js';
import { loadWasmChaCha, nodeChaChaBlock, passesKnownAnswer, wasmChaCha, type WasmChaCha } from '../../src/crypto/chacha20-poly1305.js';
import { chacha20Poly1305WasmBase64 } from '../../src/crypto/chacha20-poly1305-wasm.js';

function wasm(): WasmChaCha {
  const instance = wasmChaCha();
  if (instance === null) throw new Error('expected WebAssembly SIMD on Node 20');
  return instance;
}

/** ChaCha20-Poly1305 by OpenSSL, the reference. */
function opensslSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

function opensslOpens(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): boolean {
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  decipher.setAAD(aad, { plaintextLength: sealed.length - 16 });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  decipher.update(sealed.subarray(0, sealed.length - 16));
  try {
    decipher.final();
    return true;
  } catch {
    return false;
  }
}

function sealWith(chacha: WasmChaCha, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + 16);
  chacha.sealInto(key, nonce, plaintext, aad, out, 0);
  return out;
}

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex');

describe('our ChaCha20-Poly1305 (WebAssembly) against OpenSSL', () => {
  it('seals exactly as OpenSSL does and opens what it seals, for any key, nonce, AAD and message (property)', () => {
    const chacha = wasm();
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 3000 }), (key, nonce, aad, plaintext) => {
        const sealed = sealWith(chacha, key, nonce, plaintext, aad);
        expect(hex(sealed)).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
        expect(hex(chacha.open(key, nonce, sealed, aad)!)).toBe(hex(plaintext));
      }),
      { numRuns: 400, seed: 8439 },
    );
  });

  it('covers every length around the SIMD batch and Poly1305 block boundaries', () => {
    const chacha = wasm();
    const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const nonce = new Uint8Array(12).map((_, i) => 255 - i);
    for (let length = 0; length <= 1300; length++) {
      const plaintext = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
      const aad = plaintext.subarray(0, length % 33);
      expect(hex(sealWith(chacha, key, nonce, plaintext, aad))).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
    }
  });

  it('tags ciphertexts and AADs of all-ones blocks (the largest Poly1305 limbs, through the two-lane path) as OpenSSL does', () => {
    const chacha = wasm();
    const key = new Uint8Array(32).fill(0xfe);
    const nonce = new Uint8Array(12).fill(0x01);
    for (const length of [63, 64, 65, 96, 127, 128, 160, 1171, 1184, 2048]) {
      // Sealing zeros gives the keystream; XOR-ing it with ones makes a plaintext whose ciphertext is all ones.
      const keystream = sealWith(chacha, key, nonce, new Uint8Array(length), new Uint8Array(0)).subarray(0, length);
      const plaintext = keystream.map((byte) => byte ^ 0xff);
      for (const aad of [new Uint8Array(0), new Uint8Array(100).fill(0xff)]) {
        const sealed = sealWith(chacha, key, nonce, plaintext, aad);
        expect(sealed.subarray(0, length).every((byte) => byte === 0xff)).toBe(true);
        expect(hex(sealed)).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
        expect(hex(chacha.open(key, nonce, sealed, aad)!)).toBe(hex(plaintext));
      }
    }
  });

  it('opens into a buffer the same way through node:crypto and through WebAssembly (aeadOpenInto)', () => {
    const key = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(12).fill(4);
    const plaintext = new Uint8Array(1171).map((_, i) => (i * 13) & 0xff);
    const sealed = aeadSeal('chacha20-poly1305', key, nonce, plaintext, new Uint8Array(0));
    try {
      for (const implementation of ['node', 'wasm'] as const) {
        useChaChaImplementation(implementation);
        const out = new Uint8Array(1200);
        expect(aeadOpenInto('chacha20-poly1305', key, nonce, sealed, new Uint8Array(0), out, 10)).toBe(1171);
        expect(hex(out.subarray(10, 1181))).toBe(hex(plaintext));
        const forged = sealed.slice();
        forged[0]! ^= 1;
        expect(() => aeadOpenInto('chacha20-poly1305', key, nonce, forged, new Uint8Array(0), out, 0)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_AEAD_AUTH' }));
        expect(() => aeadOpenInto('chacha20-poly1305', key, nonce, sealed, new Uint8Array(0), out, 30)).toThrow('aeadOpenInto: 1171 bytes at offset 30 do not fit an output of 1200 bytes');
      }
    } finally {
      useChaChaImplementation('wasm');
    }
  });

  it('opens into a caller\'s buffer at an offset, and leaves it untouched when the tag fails', () => {
    const chacha = wasm();
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(12).fill(8);
    const plaintext = new Uint8Array(300).map((_, i) => i & 0xff);
    const sealed = sealWith(chacha, key, nonce, plaintext, new Uint8Array(0));
    const out = new Uint8Array(310).fill(0xee);
    expect(chacha.openInto(key, nonce, sealed, new Uint8Array(0), out, 5)).toBe(true);
    expect(hex(out.subarray(5, 305))).toBe(hex(plaintext));
    expect(out[4]).toBe(0xee);
    expect(out[305]).toBe(0xee);
    sealed[10]! ^= 1;
    const untouched = new Uint8Array(300).fill(0x11);
    expect(chacha.openInto(key, nonce, sealed, new Uint8Array(0), untouched, 0)).toBe(false);
    expect(untouched.every((byte) => byte === 0x11)).toBe(true);
    expect(() => chacha.openInto(key, nonce, sealed, new Uint8Array(0), new Uint8Array(300), 1)).toThrow('WasmChaCha.openInto: 300 bytes at offset 1 do not fit an output of 300 bytes');
  });

  it('refuses every single-bit change of ciphertext, tag and AAD, as OpenSSL does, and leaves no plaintext', () => {
    const chacha = wasm();
    const key = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(12).fill(9);
    const aad = Uint8Array.of(1, 2, 3);
    const sealed = sealWith(chacha, key, nonce, new Uint8Array(40).fill(0x5a), aad);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const forged = sealed.slice();
      forged[bit >> 3]! ^= 1 << (bit & 7);
      expect(chacha.open(key, nonce, forged, aad)).toBeNull();
      expect(opensslOpens(key, nonce, forged, aad)).toBe(false);
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      const forgedAad = aad.slice();
      forgedAad[bit >> 3]! ^= 1 << (bit & 7);
      expect(chacha.open(key, nonce, sealed, forgedAad)).toBeNull();
    }
  });

  it('gives the same ChaCha20 block as OpenSSL for any key and 16-byte IV (counter then nonce)', () => {
    const chacha = wasm();
    fc.assert(
      fc.property(bytes(32), bytes(16), (key, iv) => {
        expect(hex(chacha.block(key, iv))).toBe(hex(nodeChaChaBlock(key, iv)));
      }),
      { numRuns: 300, seed: 5 },
    );
    // The largest 32-bit block counter.
    const iv = new Uint8Array(16).fill(0xff);
    expect(hex(chacha.block(new Uint8Array(32), iv))).toBe(hex(nodeChaChaBlock(new Uint8Array(32), iv)));
  });

  it('says which sizes fit its memory, and aeadSeal/aeadOpen take larger ones to OpenSSL', () => {
    const chacha = wasm();
    expect(chacha.fits(chacha.aadBytesMax, chacha.messageBytesMax)).toBe(true);
    expect(chacha.fits(chacha.aadBytesMax + 1, 0)).toBe(false);
    expect(chacha.fits(0, chacha.messageBytesMax + 1)).toBe(false);
    const key = new Uint8Array(32).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const big = new Uint8Array(chacha.messageBytesMax + 10).fill(4);
    const bigAad = new Uint8Array(chacha.aadBytesMax + 1).fill(5);
    for (const [plaintext, aad] of [
      [big, new Uint8Array(0)],
      [Uint8Array.of(1), bigAad],
    ] as const) {
      const sealed = aeadSeal('chacha20-poly1305', key, nonce, plaintext, aad);
      expect(hex(sealed)).toBe(hex(opensslSeal(key, nonce, plaintext, aad)));
      expect(hex(aeadOpen('chacha20-poly1305', key, nonce, sealed, aad))).toBe(hex(plaintext));
    }
  });

  it('leaves no key material, AAD or message in its memory after a call', () => {
    const chacha = loadWasmChaCha()!;
    const key = new Uint8Array(32).fill(0xa5);
    const nonce = new Uint8Array(12).fill(0xa5);
    const aad = new Uint8Array(20).fill(0x5c);
    const sealed = new Uint8Array(116);
    chacha.sealInto(key, nonce, new Uint8Array(100).fill(0x77), aad, sealed, 0);
    const memory = new Uint8Array((chacha as unknown as { exports: { memory: { buffer: ArrayBuffer } } }).exports.memory.buffer, 0, 4096);
    expect(memory.every((byte) => byte === 0)).toBe(true);
    expect(chacha.open(key, nonce, sealed, aad)).toEqual(new Uint8Array(100).fill(0x77));
    expect(memory.every((byte) => byte === 0)).toBe(true);
    sealed[0]! ^= 1;
    expect(chacha.open(key, nonce, sealed, aad)).toBeNull();
    expect(memory.every((byte) => byte === 0)).toBe(true);
    chacha.block(key, new Uint8Array(16));
    // BLOCK (128..192) holds the block's output; nothing else is left.
    expect([...memory.subarray(0, 128), ...memory.subarray(192)].every((byte) => byte === 0)).toBe(true);
  });

  it('fails closed on sizes that do not fit, whoever calls it', () => {
    const chacha = wasm();
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    const big = new Uint8Array(chacha.messageBytesMax + 1);
    expect(() => chacha.sealInto(key, nonce, big, new Uint8Array(0), new Uint8Array(big.length + 16), 0)).toThrow(
      `WasmChaCha.sealInto: expected AAD of at most ${chacha.aadBytesMax} and a message of 0..${chacha.messageBytesMax} bytes, got 0 and ${big.length}`,
    );
    expect(() => chacha.open(key, nonce, new Uint8Array(20), new Uint8Array(chacha.aadBytesMax + 1))).toThrow(/WasmChaCha.open/);
    expect(() => chacha.open(key, nonce, new Uint8Array(10), new Uint8Array(0))).toThrow(/got 0 and -6/);
  });

  it('checks itself against the RFC 8439 known answer, and a module that gets it wrong is not used', () => {
    const good = loadWasmChaCha()!;
    expect(passesKnownAnswer(good)).toBe(true);
    const wrong = loadWasmChaCha()!;
    const exports = (wrong as unknown as { exports: { seal: (aad: number, bytes: number) => number } }).exports;
    const seal = exports.seal.bind(exports);
    // A broken engine: one keystream bit off.
    (wrong as unknown as { exports: { seal: (aad: number, bytes: number) => number } }).exports = { ...exports, seal: (aad, bytes) => {
      const result = seal(aad, bytes);
      new Uint8Array((exports as unknown as { memory: { buffer: ArrayBuffer } }).memory.buffer)[1024]! ^= 1;
      return result;
    } } as typeof exports;
    expect(passesKnownAnswer(wrong)).toBe(false);
    expect(loadWasmChaCha(Buffer.from(chacha20Poly1305WasmBase64, 'base64').subarray(0, 100).toString('base64'))).toBeNull();
  });
});

describe('choosing the implementation', () => {
  it('is null for a module this runtime cannot compile, and node:crypto is used when asked for', () => {
    expect(loadWasmChaCha(Buffer.from('not a wasm module').toString('base64'))).toBeNull();
    expect(useChaChaImplementation('node')).toBe('node');
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(12);
    const sealed = aeadSeal('chacha20-poly1305', key, nonce, Uint8Array.of(1, 2, 3), new Uint8Array(0));
    expect(useChaChaImplementation('wasm')).toBe('wasm');
    expect(aeadOpen('chacha20-poly1305', key, nonce, sealed, new Uint8Array(0))).toEqual(Uint8Array.of(1, 2, 3));
  });
});
