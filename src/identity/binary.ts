import { IdentityError, type IdentityErrorCodeValue } from './errors.js';

/** Byte-level encoding helpers of the identity messages (big-endian integers, bounds-checked reads). */

function fail(code: IdentityErrorCodeValue, message: string): never {
  throw new IdentityError(code, message);
}

/** The parts one after another in a new array. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** `value` (0..2^16-1) as 2 bytes. */
export function u16(value: number): Uint8Array {
  return Uint8Array.of(value >>> 8, value & 0xff);
}

/** `value` (0..2^32-1) as 4 bytes. */
export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** `value` (a safe integer >= 0) as 8 bytes. */
export function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** Bounds-checked reads; every failure is `code` with a message naming the field. */
export class Reader {
  #offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly code: IdentityErrorCodeValue,
    private readonly what: string,
  ) {}

  take(count: number, field: string): Uint8Array {
    if (this.#offset + count > this.bytes.length) fail(this.code, `${this.what}: truncated: ${field} at byte ${this.#offset} needs ${count} bytes, ${this.bytes.length - this.#offset} left`);
    const out = this.bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  magic(expected: Uint8Array): void {
    if (!Buffer.from(this.take(expected.length, 'magic')).equals(expected)) fail(this.code, `${this.what}: not an ${Buffer.from(expected).toString('ascii')} message`);
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u32(field: string): number {
    return new DataView(this.take(4, field).slice().buffer).getUint32(0);
  }

  u64(field: string): number {
    const value = new DataView(this.take(8, field).slice().buffer).getBigUint64(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(this.code, `${this.what}: ${field} must be at most ${Number.MAX_SAFE_INTEGER}, got ${value}`);
    return Number(value);
  }

  /** A length-prefixed field whose length was read by `length` and must be 1..max. */
  sized(length: number, max: number, field: string): Uint8Array {
    if (length === 0 || length > max) fail(this.code, `${this.what}: ${field} must be 1..${max} bytes, got ${length}`);
    return this.take(length, field);
  }

  end(): void {
    const left = this.bytes.length - this.#offset;
    if (left !== 0) fail(this.code, `${this.what}: ${left} bytes after the last field`);
  }

  rest(): Uint8Array {
    return this.take(this.bytes.length - this.#offset, 'rest');
  }
}
