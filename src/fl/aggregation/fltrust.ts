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

/**
 * The FLTrust aggregate of `updates` given the server's own update on its root data (see the
 * file comment). Zero when no update has a positive cosine with the server's: the round then
 * moves nothing, as in the paper (the sum of trust scores is zero).
 */
export function flTrust(updates: readonly Float32Array[], serverUpdate: Float32Array): Float32Array {
  const scores = flTrustScores(updates, serverUpdate);
  const d = serverUpdate.length;
  const out = new Float32Array(d);
  const total = scores.reduce((sum, score) => sum + score, 0);
  if (!(total > 0)) return out;
  const serverNorm = norms('flTrust', [serverUpdate])[0]!;
  const updateNorms = norms('flTrust', updates);
  // Rescaling to ||g0|| is a per-client factor, so it folds into the weights: one weighted sum.
  const weights = Float64Array.from(scores, (score, i) => (score === 0 ? 0 : (score / total) * (serverNorm / updateNorms[i]!)));
  weightedSumInto('flTrust', updates, weights, out);
  return out;
}
