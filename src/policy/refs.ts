import type { EntityJson, TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import { formatNodeId } from '../wire/ids.js';

/**
 * The parties a decision is about, and how they become Cedar entities of the schema in
 * policies/schema.cedarschema (namespace X0t). A node's entity id is its SPIFFE ID; an
 * operator's is the name the API authenticated; a workload's (an SVID that names no node) is
 * its SPIFFE ID.
 */

/** The schema namespace every entity type and action lives in. */
export const policyNamespace = 'X0t';

/** A mesh node as policies see it; make one with nodeRefFromSpiffeId. */
export interface NodeRef {
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** 8 lower-case hex digits, as in the SPIFFE path /node/<nodeId>. */
  readonly nodeId: string;
}

/** Who calls the API: an operator with a role, a node presenting its SVID, or another SVID holder. */
export type CallerRef =
  | { readonly kind: 'operator'; readonly id: string; readonly role: string }
  | { readonly kind: 'node'; readonly node: NodeRef }
  | { readonly kind: 'workload'; readonly spiffeId: string; readonly trustDomain: string; readonly path: string };

/** The API actions of the schema, one per group of endpoints (see docs/policy.md). */
export const apiActions = ['apiRead', 'apiPing', 'apiSend', 'apiEvents', 'apiDrain', 'apiLinks'] as const;

/** One API action. */
export type ApiAction = (typeof apiActions)[number];

/** Every action the engine asks about. */
export type PolicyAction = 'peer' | 'transit' | ApiAction;

/** A Cedar entity whose uid is written plainly as { type, id }, as the engine builds them. */
export type PolicyEntity = EntityJson & { readonly uid: TypeAndId };

/** The NodeRef of a node SPIFFE ID; throws the SpiffeIdError of parseSpiffeId or nodeIdOfSpiffeId. */
export function nodeRefFromSpiffeId(text: string): NodeRef {
  const id = parseSpiffeId(text);
  return { spiffeId: text, trustDomain: id.trustDomain, nodeId: formatNodeId(nodeIdOfSpiffeId(id)) };
}

/**
 * The caller a verified SVID names: X0t::Node when its SPIFFE ID is a node's
 * (spiffe://<td>/node/<8 hex digits>), X0t::Workload otherwise. Throws the SpiffeIdError of
 * parseSpiffeId for text that is not a SPIFFE ID.
 */
export function callerRefFromSpiffeId(text: string): CallerRef {
  const id = parseSpiffeId(text);
  try {
    return { kind: 'node', node: nodeRefFromSpiffeId(text) };
  } catch {
    return { kind: 'workload', spiffeId: text, trustDomain: id.trustDomain, path: id.path };
  }
}

/** The X0t::Node entity of `node`. */
export function nodeEntity(node: NodeRef): PolicyEntity {
  return { uid: { type: `${policyNamespace}::Node`, id: node.spiffeId }, attrs: { trustDomain: node.trustDomain, nodeId: node.nodeId }, parents: [] };
}

/** The entity of an API caller: X0t::Operator with its role, X0t::Node, or X0t::Workload. */
export function callerEntity(caller: CallerRef): PolicyEntity {
  if (caller.kind === 'node') return nodeEntity(caller.node);
  if (caller.kind === 'workload') return { uid: { type: `${policyNamespace}::Workload`, id: caller.spiffeId }, attrs: { trustDomain: caller.trustDomain, path: caller.path }, parents: [] };
  return { uid: { type: `${policyNamespace}::Operator`, id: caller.id }, attrs: { role: caller.role }, parents: [] };
}

/** The entity uid as Cedar writes it, e.g. X0t::Node::"spiffe://td/node/0000002a", for logs. */
export function entityText(entity: PolicyEntity): string {
  return `${entity.uid.type}::${JSON.stringify(entity.uid.id)}`;
}
