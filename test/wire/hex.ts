/** Hex helpers for wire tests: golden vectors are written as spaced hex literals. */

/** Parses hex with optional whitespace ("01 000c ff") into bytes. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/.test(clean)) throw new Error(`fromHex: expected pairs of lower-case hex digits, got ${text}`);
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Formats bytes as unspaced lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
