import { AggregationError } from './errors.js';
import { activeKernels } from './kernels-wasm.js';
import { checkShape, requireInteger } from './validate.js';

/**
 * Krum and Multi-Krum (Blanchard et al. 2017, "Machine learning with adversaries: Byzantine
 * tolerant gradient descent"). Each update is scored by the sum of its squared distances to its
 * n - f - 2 nearest other updates; Krum returns the update with the smallest score, Multi-Krum
 * the mean of the m best. With n > 2f + 2 the chosen update is close to the honest ones even if
 * f clients send anything. Distances come from the kernels, which refuse NaN and infinity
 * before any distance is formed (a NaN distance would compare false and could win the argmin).
 */

/** The Krum ranking: every client's score and the clients ordered by score (ties by index). */
export interface KrumRanking {
  readonly scores: Float64Array;
  readonly order: readonly number[];
}

/** Checks f against n for Krum's precondition n > 2f + 2. */
export function requireKrumClients(rule: string, n: number, f: number): void {
  requireInteger(rule, 'f', f, 0, Number.MAX_SAFE_INTEGER);
  if (n <= 2 * f + 2) throw new AggregationError('ERR_FL_PRECONDITION', `${rule}: needs n > 2f + 2 clients, got n = ${n}, f = ${f}`);
}

/** Krum scores of `members` (client indices) using only distances among them, with `closest` neighbours each. */
export function krumScores(distances: Float64Array, n: number, members: readonly number[], closest: number): Float64Array {
  const scores = new Float64Array(members.length);
  const row = new Float64Array(members.length - 1);
  members.forEach((i, position) => {
    let k = 0;
    for (const j of members) if (j !== i) row[k++] = distances[i * n + j]!;
    row.sort();
    let score = 0;
    for (let r = 0; r < closest; r++) score += row[r]!;
    scores[position] = score;
  });
  return scores;
}

/** Positions of `scores` from smallest to largest, ties to the lower position. */
export function orderByScore(scores: Float64Array): number[] {
  return Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]! || a - b);
}

/** Scores and ranks every client as Krum does, tolerating f Byzantine clients (needs n > 2f + 2). */
export function krumRanking(updates: readonly Float32Array[], f: number): KrumRanking {
  const { n } = checkShape('krum', updates);
  requireKrumClients('krum', n, f);
  const distances = activeKernels().pairwiseSquaredDistances('krum', updates);
  const scores = krumScores(distances, n, Array.from({ length: n }, (_, i) => i), n - f - 2);
  return { scores, order: orderByScore(scores) };
}

/** Krum: a copy of the update with the smallest score, tolerating f Byzantine clients (needs n > 2f + 2). */
export function krum(updates: readonly Float32Array[], f: number): Float32Array {
  const { order } = krumRanking(updates, f);
  return updates[order[0]!]!.slice();
}

/** Multi-Krum: the plain mean of the m updates with the smallest Krum scores (1 <= m <= n; needs n > 2f + 2). */
export function multiKrum(updates: readonly Float32Array[], f: number, m: number): Float32Array {
  const { n } = checkShape('multiKrum', updates);
  requireKrumClients('multiKrum', n, f);
  requireInteger('multiKrum', 'm', m, 1, n);
  const distances = activeKernels().pairwiseSquaredDistances('multiKrum', updates);
  const scores = krumScores(distances, n, Array.from({ length: n }, (_, i) => i), n - f - 2);
  const chosen = orderByScore(scores).slice(0, m);
  return activeKernels().weightedSum('multiKrum', chosen.map((i) => updates[i]!), new Float64Array(m).fill(1 / m), { valuesChecked: true }).sum;
}
