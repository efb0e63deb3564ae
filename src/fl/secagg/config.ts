/**
 * The parameters every party of one secure aggregation agrees on before round 0: the session,
 * the roster of clients with their Ed25519 identity keys, the communication graph, the Shamir
 * threshold, the vector length and the fixed-point format. They are checked once here, so the
 * state machines can rely on them.
 */
import { curveKeyBytes } from '../../crypto/curve25519.js';
import { parameterError } from './errors.js';
import { clientIdMax, clientsMax, dimensionMax, neighboursMax, sessionIdBytes } from './limits.js';
import { checkQuantisation, type Quantisation } from './quantise.js';

declare const clientIdBrand: unique symbol;
/** A client's id within one aggregation: an integer in 0..2^32-2 (its Shamir x-coordinate is id + 1). */
export type SecAggClientId = number & { readonly [clientIdBrand]: true };

/** Brands `value` as a client id after checking its range. */
export function secAggClientId(value: number): SecAggClientId {
  if (!Number.isInteger(value) || value < 0 || value > clientIdMax) throw parameterError('secAggClientId', 'id', `an integer in 0..${clientIdMax}`, value);
  return value as SecAggClientId;
}

/** Who takes part and how they are linked: the neighbours of each client, sorted ascending. */
export type CommunicationGraph = ReadonlyMap<SecAggClientId, readonly SecAggClientId[]>;

/** What every party of one aggregation is configured with. */
export interface SecAggConfig {
  /** 32 bytes unique to this aggregation (round, group, model): binds every signature, key and ciphertext to it. */
  readonly sessionId: Uint8Array;
  /** Each client's Ed25519 public key, from the mesh identity; a message verifies only under its sender's key. */
  readonly roster: ReadonlyMap<SecAggClientId, Uint8Array>;
  /** The k-regular communication graph: a client masks with and shares its secrets among its neighbours only. */
  readonly graph: CommunicationGraph;
  /** t: shares needed to rebuild a secret; 2t > k, so no client reveals enough for both secrets of one neighbour. */
  readonly threshold: number;
  /** Fewest clients whose masked inputs must arrive for the server to unmask (>= t): a smaller sum would expose too few. */
  readonly minimumClients: number;
  /** Length d of every update. */
  readonly dimension: number;
  /** The fixed-point format; it must hold the sum of all roster clients without wrapping. */
  readonly quantisation: Quantisation;
}

/** The x-coordinate of the Shamir share a client holds. */
export function shareX(id: SecAggClientId): number {
  return id + 1;
}

function checkGraph(config: SecAggConfig): number {
  const where = 'secAggConfig';
  let degree = -1;
  for (const id of config.roster.keys()) {
    const neighbours = config.graph.get(id);
    if (neighbours === undefined) throw parameterError(where, `the neighbours of client ${id}`, 'a list', 'none');
    if (degree >= 0 && neighbours.length !== degree) throw parameterError(where, `client ${id}'s neighbour count`, `${degree} (a regular graph)`, neighbours.length);
    degree = neighbours.length;
    for (const [index, peer] of neighbours.entries()) {
      if (peer === id || !config.roster.has(peer)) throw parameterError(where, `client ${id}'s neighbour ${index}`, 'another roster client', peer);
      if (index > 0 && peer <= neighbours[index - 1]!) throw parameterError(where, `client ${id}'s neighbours`, 'sorted ascending without repeats', neighbours.join(','));
      if (!config.graph.get(peer)!.includes(id)) throw parameterError(where, `the edge ${id}-${peer}`, 'listed at both ends', `missing at ${peer}`);
    }
  }
  if (config.graph.size !== config.roster.size) throw parameterError(where, 'graph size', `${config.roster.size} (the roster size)`, config.graph.size);
  return degree;
}

function checkRoster(config: SecAggConfig): void {
  const where = 'secAggConfig';
  if (config.roster.size < 2 || config.roster.size > clientsMax) throw parameterError(where, 'roster size', `in 2..${clientsMax}`, config.roster.size);
  for (const [id, key] of config.roster) {
    secAggClientId(id);
    if (key.length !== curveKeyBytes) throw parameterError(where, `client ${id}'s Ed25519 key length`, '32 bytes', key.length);
  }
}

/** Checks every relation between the parameters; returns the graph degree k. */
export function checkSecAggConfig(config: SecAggConfig): number {
  const where = 'secAggConfig';
  if (config.sessionId.length !== sessionIdBytes) throw parameterError(where, 'sessionId length', `${sessionIdBytes} bytes`, config.sessionId.length);
  checkRoster(config);
  const degree = checkGraph(config);
  if (degree < 1 || degree > neighboursMax) throw parameterError(where, 'neighbour count k', `in 1..${neighboursMax}`, degree);
  const { threshold, minimumClients, dimension } = config;
  // 2t > k: an honest client answers one unmasking request, revealing for each neighbour either
  // the self-mask share or the mask-key share, so no server can gather t of both.
  if (!Number.isInteger(threshold) || 2 * threshold <= degree || threshold > degree) throw parameterError(where, 'threshold t', `an integer with k/2 < t <= k = ${degree}`, threshold);
  if (!Number.isInteger(minimumClients) || minimumClients < threshold || minimumClients > config.roster.size) {
    throw parameterError(where, 'minimumClients', `an integer in t..n = ${threshold}..${config.roster.size}`, minimumClients);
  }
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > dimensionMax) throw parameterError(where, 'dimension', `an integer in 1..${dimensionMax}`, dimension);
  checkQuantisation(config.quantisation, config.roster.size);
  return degree;
}
