import { createCipheriv } from 'node:crypto';
import { chacha20Poly1305WasmBase64 } from './chacha20-poly1305-wasm.js';
import { poolBytes } from '../wire/pool-bytes.js';

/**
 * ChaCha20-Poly1305 and the raw ChaCha20 block function from our own WebAssembly module
 * (wasm/chacha20-poly1305.ts, RFC 8439, SIMD), for the per-packet path: node:crypto spends
 * ~3 us of every call building a cipher object, which is most of the cost of sealing a
 * 1200-byte packet; here a call costs the work (~1 us) plus two copies. Results are
 * checked against node:crypto (OpenSSL) by every Wycheproof vector and a differential property
 * test. Where WebAssembly SIMD is missing, `wasmChaCha()` is null and callers use node:crypto.
 */

/** The parts of the WebAssembly JS API we use (this project's lib settings carry no DOM types). */
interface WasmGlobal {
  readonly value: unknown;
}
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}

/** What the module exports (see wasm/chacha20-poly1305.ts for the memory layout). */
interface ChaChaExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly keyAt: WasmGlobal;
  readonly nonceAt: WasmGlobal;
  readonly ivAt: WasmGlobal;
  readonly aadAt: WasmGlobal;
  readonly aadMax: WasmGlobal;
  readonly dataAt: WasmGlobal;
  readonly blockAt: WasmGlobal;
  seal(aadBytes: number, bytes: number): number;
  open(aadBytes: number, bytes: number): number;
  block(): void;
  capacity(): number;
}

const tagBytes = 16;
const blockBytes = 64;

/** ChaCha20-Poly1305 over one WebAssembly instance; synchronous, so one instance serves the whole thread. */
export class WasmChaCha {
  private readonly memory: Uint8Array;
  private readonly keyAt: number;
  private readonly nonceAt: number;
  private readonly ivAt: number;
  private readonly aadAt: number;
  private readonly dataAt: number;
  private readonly blockAt: number;
  /** Longest AAD and message (without tag) a call takes; longer ones are the caller's to do elsewhere. */
  readonly aadBytesMax: number;
  readonly messageBytesMax: number;
  /** BLOCK as a view made once: `block` returns it (a view per call costs an allocation per header mask). */
  private readonly blockOut: Uint8Array;

  /** Wraps an instance of the module. */
  constructor(private readonly exports: ChaChaExports) {
    // The module's memory cannot grow (its maximum is its initial size), so this view stays valid.
    this.memory = new Uint8Array(exports.memory.buffer);
    this.keyAt = exports.keyAt.value as number;
    this.nonceAt = exports.nonceAt.value as number;
    this.ivAt = exports.ivAt.value as number;
    this.aadAt = exports.aadAt.value as number;
    this.dataAt = exports.dataAt.value as number;
    this.blockAt = exports.blockAt.value as number;
    this.aadBytesMax = exports.aadMax.value as number;
    this.messageBytesMax = exports.capacity();
    this.blockOut = this.memory.subarray(this.blockAt, this.blockAt + blockBytes);
  }

  /** Whether a call with this much AAD and message fits. */
  fits(aadBytes: number, messageBytes: number): boolean {
    return aadBytes <= this.aadBytesMax && messageBytes <= this.messageBytesMax;
  }

  /** Seals `plaintext` under `aad` into `out` at `offset` as ciphertext || tag; throws a RangeError for sizes that do not fit. */
  sealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
    this.checkFits('sealInto', aad.length, plaintext.length);
    this.load(key, nonce, aad);
    this.memory.set(plaintext, this.dataAt);
    // Fail closed: never copy out what the module did not encrypt.
    if (this.exports.seal(aad.length, plaintext.length) !== 0) throw new Error('chacha20-poly1305 wasm: the module refused to seal');
    const end = this.dataAt + plaintext.length + tagBytes;
    out.set(this.memory.subarray(this.dataAt, end), offset);
    this.clear(end);
  }

  /** The plaintext of `sealed` (ciphertext || tag) if its tag verifies under `aad`, else null. The caller checked sizes. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
    const plaintext = poolBytes(Math.max(0, sealed.length - tagBytes));
    return this.openInto(key, nonce, sealed, aad, plaintext, 0) ? plaintext : null;
  }

  /**
   * Opens `sealed` (ciphertext || tag) under `aad` into `out` at `offset`, for a caller that
   * frames or reuses the plaintext; true when the tag verified, false (and `out` untouched)
   * otherwise. Throws a RangeError for sizes that do not fit.
   */
  openInto(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): boolean {
    const bodyBytes = sealed.length - tagBytes;
    this.checkFits('open', aad.length, bodyBytes);
    if (offset < 0 || offset + bodyBytes > out.length) throw new RangeError(`WasmChaCha.openInto: ${bodyBytes} bytes at offset ${offset} do not fit an output of ${out.length} bytes`);
    this.load(key, nonce, aad);
    this.memory.set(sealed, this.dataAt);
    const verified = this.exports.open(aad.length, bodyBytes) === 0;
    if (verified) out.set(new Uint8Array(this.memory.buffer, this.dataAt, bodyBytes), offset);
    this.clear(this.dataAt + sealed.length);
    return verified;
  }

  private checkFits(what: string, aadBytes: number, messageBytes: number): void {
    if (messageBytes < 0 || !this.fits(aadBytes, messageBytes)) {
      throw new RangeError(`WasmChaCha.${what}: expected AAD of at most ${this.aadBytesMax} and a message of 0..${this.messageBytesMax} bytes, got ${aadBytes} and ${messageBytes}`);
    }
  }

  /** Wipes the AAD and the message area up to `end`: no plaintext or AAD stays in the module's memory. */
  private clear(end: number): void {
    this.memory.fill(0, this.aadAt, end);
  }

  /**
   * The ChaCha20 block for `key` and a 16-byte `iv` read as node:crypto's 'chacha20' reads it
   * (32-bit little-endian block counter, then the 96-bit nonce): a view of 64 bytes, valid until
   * the next call. For header protection masks and keyed padding.
   */
  block(key: Uint8Array, iv: Uint8Array): Uint8Array {
    this.memory.set(key, this.keyAt);
    this.memory.set(iv, this.ivAt);
    this.exports.block();
    return this.blockOut;
  }

  private load(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): void {
    this.memory.set(key, this.keyAt);
    this.memory.set(nonce, this.nonceAt);
    this.memory.set(aad, this.aadAt);
  }
}

let instance: WasmChaCha | null | undefined;

/** The module's one instance in this thread, or null where WebAssembly (with SIMD) is unavailable. */
export function wasmChaCha(): WasmChaCha | null {
  if (instance === undefined) instance = loadWasmChaCha();
  return instance;
}

/**
 * A new instance of the module in `base64` (ours by default), or null when this runtime cannot
 * compile or run it, or when it fails the RFC 8439 §2.8.2 known answer at load (a broken
 * engine must not produce wrong ciphertext quietly; node:crypto takes over).
 */
export function loadWasmChaCha(base64: string = chacha20Poly1305WasmBase64): WasmChaCha | null {
  try {
    const api = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const module = new api.Module(Buffer.from(base64, 'base64'));
    const abort = (): never => {
      throw new Error('chacha20-poly1305 wasm: abort');
    };
    const chacha = new WasmChaCha(new api.Instance(module, { env: { abort } }).exports as ChaChaExports);
    return passesKnownAnswer(chacha) ? chacha : null;
  } catch {
    return null;
  }
}

/** Whether `chacha` seals and opens the RFC 8439 §2.8.2 AEAD test vector exactly. */
export function passesKnownAnswer(chacha: WasmChaCha): boolean {
  const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('070000004041424344454647');
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
  const expected =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  const sealed = new Uint8Array(plaintext.length + tagBytes);
  chacha.sealInto(key, nonce, plaintext, aad, sealed, 0);
  const opened = chacha.open(key, nonce, sealed, aad);
  return Buffer.from(sealed).toString('hex') === expected && opened !== null && Buffer.from(opened).equals(plaintext);
}

/** The ChaCha20 block for `key` and `iv` (as WasmChaCha.block) from node:crypto: the fallback, and the tests' reference. */
export function nodeChaChaBlock(key: Uint8Array, iv: Uint8Array): Uint8Array {
  return new Uint8Array(createCipheriv('chacha20', key, iv).update(new Uint8Array(blockBytes)));
}
