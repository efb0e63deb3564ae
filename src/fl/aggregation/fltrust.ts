import { AggregationError } from './errors.js';
import { checkShape, requireFinite, requireVector } from './validate.js';
import { norms, weightedSumInto } from './weighted-sum.js';

/**
 * FLTrust (Cao, Fang, Liu, Gong 2021, "FLTrust: Byzantine-robust federated learning via trust
 * bootstrapping"): the server trains on a small clean root dataset of its own each round, from
 * the same global model, and its update g0 is the root of trust. Client i's trust score is
 * TS_i = ReLU(cos(g_i, g0)); its update is rescaled to the norm of g0; the aggregate is
 * sum_i TS_i (||g0|| / ||g_i||) g_i / sum_i TS_i. An update pointing away from g0 (a sign flip,
 * IPM) gets weight 0, and no update, however large, moves the aggregate by more than ||g0||.
 */

/** The trust scores ReLU(cos(g_i, g0)) of `updates` against the server's update `serverUpdate` (0 for a zero update). */
export function flTrustScores(updates: readonly Float32Array[], serverUpdate: Float32Array): Float64Array {
  const { d } = checkShape('flTrust', updates);
  requireFinite('flTrust', updates);
  requireVector('flTrust', 'server update', serverUpdate, d);
  const serverNorm = norms('flTrust', [serverUpdate])[0]!;
  if (!(serverNorm > 0)) throw new AggregationError('ERR_FL_ARGUMENT', 'flTrust: the server update is zero; it gives no direction to trust');
  const updateNorms = norms('flTrust', updates);
  return Float64Array.from(updates, (update, i) => {
    if (!(updateNorms[i]! > 0)) return 0;
    let dot = 0;
    for (let j = 0; j < d; j++) dot += update[j]! * serverUpdate[j]!;
    return Math.max(0, dot / (updateNorms[i]! * serverNorm));
  });
}

/** Options of FLTrust. */
export interface FlTrustOptions {
  /**
   * The trust score of the server's own update, which then joins the weighted mean like a client's
   * (cos(g0, g0) = 1 would be its score). 0 (default) is the paper's rule, where g0 only scores the
   * others; with s > 0 a round in which the clients' scores are all small moves mostly along g0
   * instead of along whichever few updates scored above zero.
   */
  readonly serverTrust?: number;
}

/**
 * The FLTrust aggregate of `updates` given the server's own update on its root data (see the
 * file comment). Zero when no update has a positive cosine with the server's and the server's own
 * trust is 0: the round then moves nothing, as in the paper (the sum of trust scores is zero).
 */
export function flTrust(updates: readonly Float32Array[], serverUpdate: Float32Array, options: FlTrustOptions = {}): Float32Array {
  const scores = flTrustScores(updates, serverUpdate);
  const serverTrust = options.serverTrust ?? 0;
  if (!(serverTrust >= 0 && serverTrust <= 1)) throw new AggregationError('ERR_FL_ARGUMENT', `flTrust: expected serverTrust in [0, 1], got ${serverTrust}`);
  const out = new Float32Array(serverUpdate.length);
  const total = scores.reduce((sum, score) => sum + score, 0) + serverTrust;
  if (!(total > 0)) return out;
  const serverNorm = norms('flTrust', [serverUpdate])[0]!;
  const updateNorms = norms('flTrust', updates);
  // Rescaling to ||g0|| is a per-client factor, so it folds into the weights: one weighted sum.
  const weights = Float64Array.from(scores, (score, i) => (score === 0 ? 0 : (score / total) * (serverNorm / updateNorms[i]!)));
  weightedSumInto('flTrust', [...updates, serverUpdate], Float64Array.of(...weights, serverTrust / total), out);
  return out;
}
