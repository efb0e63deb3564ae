/**
 * The wire module's error catalogue. Every failure of the codec is a WireError whose `code` is
 * one of these stable strings, so callers and tests can branch on the code and never parse
 * the message. Decoding errors mean the input was bad; ERR_WIRE_ENCODE means the caller passed
 * a value the wire format cannot carry, which is a bug in the caller.
 */
export const WireErrorCode = {
  /** Zero-length input, or a packet with a version byte and no TLV. */
  ERR_WIRE_EMPTY: 'ERR_WIRE_EMPTY',
  /** Packet longer than packetBytesMax. */
  ERR_WIRE_TOO_LONG: 'ERR_WIRE_TOO_LONG',
  /** First byte is not wireVersion. */
  ERR_WIRE_VERSION: 'ERR_WIRE_VERSION',
  /** A TLV header or body runs past the end of the packet. */
  ERR_WIRE_TRUNCATED: 'ERR_WIRE_TRUNCATED',
  /** Unknown TLV type code. */
  ERR_WIRE_TLV_TYPE: 'ERR_WIRE_TLV_TYPE',
  /** Body length is not the one the TLV type requires (or a Data body is shorter than its header). */
  ERR_WIRE_TLV_LENGTH: 'ERR_WIRE_TLV_LENGTH',
  /** More than tlvsPerPacketMax TLVs in one packet. */
  ERR_WIRE_TOO_MANY_TLVS: 'ERR_WIRE_TOO_MANY_TLVS',
  /** A decoded field is outside its allowed range (NodeId 0, interval 0, reserved bits set, ...). */
  ERR_WIRE_FIELD: 'ERR_WIRE_FIELD',
  /** The encoder was given a value it cannot encode (out-of-range integer, packet too large, ...). */
  ERR_WIRE_ENCODE: 'ERR_WIRE_ENCODE',
} as const;

/** One of the codes in WireErrorCode. */
export type WireErrorCodeValue = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** The only exception the wire codec throws; `code` says which rule was broken. */
export class WireError extends Error {
  override readonly name = 'WireError';

  /** Builds an error with a stable `code` and a message naming the function, the expectation and the finding. */
  constructor(
    readonly code: WireErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a WireError, optionally with the given code; a narrowing helper for callers and tests. */
export function isWireError(value: unknown, code?: WireErrorCodeValue): value is WireError {
  return value instanceof WireError && (code === undefined || value.code === code);
}
