/**
 * Short-lived byte arrays for the per-packet path, carved from slabs of slabBytes: a forwarded
 * packet needs three (plaintext, re-framed packet, datagram), and Node's own pool behind
 * Buffer.allocUnsafe holds 8 KiB, so it made a new ArrayBuffer every two or three packets, which
 * cost more than the carving. A slab is freed once no view into it is left.
 */

/** Bytes of one slab (some 200 datagrams). */
export const poolSlabBytes = 256 * 1024;
/** Larger requests get an ArrayBuffer of their own, so that one of them cannot pin a slab. */
export const poolBytesMax = 4096;

let slab = new ArrayBuffer(0);
let used = 0;

/**
 * `bytes` bytes as a plain Uint8Array (so slice copies, as everywhere else) that may share its
 * ArrayBuffer with other such arrays; its contents are unspecified until the caller writes
 * every byte, as callers here do before anyone reads.
 */
export function poolBytes(bytes: number): Uint8Array {
  if (bytes > poolBytesMax) return new Uint8Array(bytes);
  if (used + bytes > slab.byteLength) {
    // Not zeroed (as Node's own pool is not): callers write every byte before anyone reads.
    slab = Buffer.allocUnsafeSlow(poolSlabBytes).buffer;
    used = 0;
  }
  const view = new Uint8Array(slab, used, bytes);
  // Eight-byte aligned, as Node's pool is: a caller may lay a DataView or wider typed array over it.
  used += (bytes + 7) & ~7;
  return view;
}
