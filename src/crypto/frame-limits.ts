/**
 * Sizes every frame kind shares (obfuscation.ts for handshake and cookie frames, data-frame.ts
 * for session data), in a module of their own so the two framing modules need not import each
 * other.
 */

/**
 * Largest datagram we send or accept. IPv6 guarantees 1280-byte packets end to end (RFC 8200
 * §5); minus 40 bytes of IPv6 header and 8 of UDP that leaves 1232, and 1200 keeps 32 bytes for
 * a tunnel or extension header on the path, as QUIC does (RFC 9000 §14). Nothing we send then
 * needs IP fragmentation, whose reassembly middleboxes often drop.
 */
export const datagramBytesMax = 1200;
/** Bytes of the per-datagram nonce at the start of every handshake and cookie datagram (the AES-CTR initial counter block). */
export const obfsNonceBytes = 16;
/** Bytes of the truncated HMAC-SHA-256 tag at the end of every handshake and cookie datagram. */
export const obfsTagBytes = 16;
/** Encrypted header bytes of a cookie frame (kind byte and body length). */
export const cookieHeaderBytes = 3;
/** Smallest datagram of any kind: a cookie frame with a 1-byte body (data frames are padded up to it). */
export const datagramBytesMin = obfsNonceBytes + cookieHeaderBytes + obfsTagBytes + 1;
