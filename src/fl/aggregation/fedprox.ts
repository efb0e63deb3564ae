import { requireNumber, requireVector } from './validate.js';

/**
 * FedProx (Li et al. 2020, "Federated optimization in heterogeneous networks") changes the
 * client, not the server: each client minimises F_k(w) + (mu / 2) ||w - w_global||^2 during its
 * local epochs, which keeps heterogeneous clients from drifting far from the global model. The
 * server then aggregates with fedAvg as usual. These helpers are what a client's training loop
 * adds: the gradient term mu (w - w_global) to its loss gradient, and the term's value for logs.
 */

/** mu * (local - global): add it to the local loss gradient at every local step (writes into `out` when given). */
export function proximalGradient(local: Float32Array, global: Float32Array, mu: number, out: Float32Array = new Float32Array(local.length)): Float32Array {
  checkProximal(local, global, mu);
  requireVector('proximalGradient', 'out', out, local.length);
  for (let j = 0; j < local.length; j++) out[j] = mu * (local[j]! - global[j]!);
  return out;
}

/** (mu / 2) * ||local - global||^2, the proximal term's contribution to the local loss (f64). */
export function proximalLoss(local: Float32Array, global: Float32Array, mu: number): number {
  checkProximal(local, global, mu);
  let sum = 0;
  for (let j = 0; j < local.length; j++) sum += (local[j]! - global[j]!) ** 2;
  return (mu / 2) * sum;
}

function checkProximal(local: Float32Array, global: Float32Array, mu: number): void {
  requireNumber('fedProx', 'mu', mu, 0, Number.POSITIVE_INFINITY);
  requireVector('fedProx', 'local model', local, local.length);
  requireVector('fedProx', 'global model', global, local.length);
}
