/**
 * The plaintext one client seals for a neighbour in round 1: sender id, recipient id (u32 each,
 * so a ciphertext cannot be re-addressed unnoticed even inside the AEAD), then the neighbour's
 * share of the sender's self-mask seed and of its mask key (33 bytes each).
 */
import type { SecAggClientId } from './config.js';
import { shareBytes } from './shamir.js';

/** Bytes of a share plaintext. */
export const sharePlaintextBytes = 8 + 2 * shareBytes;

/** The decoded plaintext. */
export interface SharePlaintext {
  readonly sender: SecAggClientId;
  readonly recipient: SecAggClientId;
  readonly selfMask: Uint8Array;
  readonly maskKey: Uint8Array;
}

/** Encodes the two shares `sender` gives `recipient`. */
export function encodeSharePlaintext(sender: SecAggClientId, recipient: SecAggClientId, selfMask: Uint8Array, maskKey: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(sharePlaintextBytes);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, sender);
  view.setUint32(4, recipient);
  bytes.set(selfMask, 8);
  bytes.set(maskKey, 8 + shareBytes);
  return bytes;
}

/** Decodes a plaintext, or null when its length is wrong. */
export function decodeSharePlaintext(bytes: Uint8Array): SharePlaintext | null {
  if (bytes.length !== sharePlaintextBytes) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    sender: view.getUint32(0) as SecAggClientId,
    recipient: view.getUint32(4) as SecAggClientId,
    selfMask: bytes.slice(8, 8 + shareBytes),
    maskKey: bytes.slice(8 + shareBytes),
  };
}
