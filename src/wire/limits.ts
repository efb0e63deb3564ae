/** Wire format version carried in the first byte of every packet. */
export const wireVersion = 1;

/** Largest packet we encode or accept: fits a 1500-byte MTU with room for IP/UDP and later AEAD framing. */
export const packetBytesMax = 1400;

/** Most TLVs one packet may carry; bounds the work a single packet can cause. */
export const tlvsPerPacketMax = 128;

/** Bytes of the packet header (the version byte). */
export const packetHeaderBytes = 1;

/** Bytes of a TLV header: type (u8) and body length (u16, big-endian). */
export const tlvHeaderBytes = 3;

/** Fixed part of a Data TLV body: kind, hop limit, source, destination, id. */
export const dataHeaderBytes = 14;

/** Largest application payload one Data TLV can carry in a packet of its own. */
export const payloadBytesMax = packetBytesMax - packetHeaderBytes - tlvHeaderBytes - dataHeaderBytes;

/** Metric value meaning "unreachable" (RFC 8966 infinity); an Update with it is a retraction. */
export const metricInfinity = 0xffff;
