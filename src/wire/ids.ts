/** A node's identity on the mesh: an unsigned 32-bit integer, never 0 (0 is reserved). */
export type NodeId = number & { readonly __brand: 'NodeId' };

/** The largest NodeId value. */
export const nodeIdMax = 0xffff_ffff;

/** True when `value` is a valid NodeId (an integer in 1..2^32-1). */
export function isNodeId(value: number): value is NodeId {
  return Number.isInteger(value) && value >= 1 && value <= nodeIdMax;
}

/** Brands `value` as a NodeId; throws a RangeError naming the value when it is not one. */
export function nodeId(value: number): NodeId {
  if (!isNodeId(value)) {
    throw new RangeError(`nodeId: expected an integer in 1..${nodeIdMax}, got ${value}`);
  }
  return value;
}

/** Formats a NodeId as 8 lower-case hex digits, the form used in logs, reports and SPIFFE paths. */
export function formatNodeId(id: NodeId): string {
  return id.toString(16).padStart(8, '0');
}

/** Parses 8 hex digits into a NodeId; throws a RangeError naming the text when it is not one. */
export function parseNodeId(text: string): NodeId {
  if (!/^[0-9a-f]{8}$/.test(text)) {
    throw new RangeError(`parseNodeId: expected 8 lower-case hex digits, got ${JSON.stringify(text)}`);
  }
  return nodeId(Number.parseInt(text, 16));
}
