import { decodePacket, encodePacket, tlvBytes } from '../wire/codec.js';
import { packetHeaderBytes } from '../wire/limits.js';
import type { Tlv } from '../wire/messages.js';

/**
 * Splits a mesh packet that is too large for one data frame into several packets of whole
 * TLVs, each at most `maxBytes`. The routing core packs up to the wire's packet limit; the
 * secure layer's frames leave less room, and TLVs are independent, so splitting loses nothing.
 * Returns null when the packet cannot be split to fit (one TLV alone is too large, or the bytes
 * do not decode).
 */
export function repackPacket(packet: Uint8Array, maxBytes: number): Uint8Array[] | null {
  let tlvs: Tlv[];
  try {
    tlvs = decodePacket(packet);
  } catch {
    return null;
  }
  const packets: Uint8Array[] = [];
  let group: Tlv[] = [];
  let groupBytes = packetHeaderBytes;
  for (const tlv of tlvs) {
    const bytes = tlvBytes(tlv);
    if (packetHeaderBytes + bytes > maxBytes) return null;
    if (groupBytes + bytes > maxBytes) {
      packets.push(encodePacket(group));
      group = [];
      groupBytes = packetHeaderBytes;
    }
    group.push(tlv);
    groupBytes += bytes;
  }
  if (group.length > 0) packets.push(encodePacket(group));
  return packets;
}
