/** Byte helpers shared by the client and the server state machines. */

/** True when `a` and `b` hold the same bytes. Used on public values only, so it need not be constant-time. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
