import { PrivacyLedger } from '../src/fl/dp/ledger.js';
import { seededNoiseSource } from '../src/fl/dp/noise.js';
import { dataSummary, federatedOptions, federatedRun, flBenchData, flConfig, flSetup, round4 } from './fl-federated.js';

/**
 * Client-level DP-FedAvg of the detector (issue 6, section 5): the federated training of
 * fl-federated with each client sampled independently with probability q (Poisson sampling, as
 * the RDP accountant assumes), every update clipped to L2 norm C, Gaussian noise of std z C on
 * the sum and a fixed denominator (src/fl/dp dpFedAvg), for several noise multipliers z;
 * epsilon at delta = 1e-5 from the PrivacyLedger the loop charges every round. Two weightings:
 * 'uniform' (every client counts 1, m = q N: dpFedAvg's default) and 'lossWeight' (McMahan et
 * al.'s capped weights over the clients' loss weights, m = q sum w: the weighting of the
 * non-private FedAvg). The non-private reference is FedAvg with the same sampling and rounds.
 *
 * Figures: nonPrivateF1, epsAtF1Within005 (= epsilonWithin005F1: the smallest epsilon on either
 * curve whose F1 is at least nonPrivateF1 - 0.05; null when none is), the same per weighting,
 * and the curves' points.
 */

const rounds = 20;
const modelSeed = 1;
const delta = 1e-5;
/** Poisson rate: the same expected 11 clients a round as the fixed sampling of the other benchmarks. */
const rate = flConfig.clientsPerRound / flConfig.clients;
/** Clip norm C: a little below the median norm of an honest update here (about 1.7), so most updates are clipped a little. */
const clipNorm = 1.5;
/** Noise multipliers of the curve, from almost none to the usual z of about 1. */
const noiseMultipliers = [0.01, 0.03, 0.1, 0.3, 1, 2];

type Weighting = 'uniform' | 'lossWeight';
const weightings: readonly Weighting[] = ['uniform', 'lossWeight'];

interface CurvePoint {
  readonly weights: Weighting;
  readonly noiseMultiplier: number;
  readonly epsilon: number;
  readonly order: number;
  readonly f1: number;
  readonly auroc: number | null;
  /** Std of the noise in each coordinate of the aggregate: z C / m. */
  readonly noiseStdPerCoordinate: number;
  readonly trainMs: number;
}

/** One DP run: its epsilon from the ledger and its F1. */
function curvePoint(setup: ReturnType<typeof flSetup>, data: ReturnType<typeof flBenchData>, weights: Weighting, noiseMultiplier: number): CurvePoint {
  const ledger = new PrivacyLedger({ epsilonBudget: Number.MAX_VALUE, delta });
  const dp = { clipNorm, noiseMultiplier, ledger, noise: seededNoiseSource(`fl-dp ${weights} z=${noiseMultiplier}`), weights };
  const result = federatedRun(setup, data, federatedOptions(rounds, modelSeed, { sampling: { kind: 'poisson', rate }, dp }));
  const spent = ledger.spent();
  process.stderr.write(`fl-dp ${weights} z ${noiseMultiplier}: epsilon ${spent.epsilon.toPrecision(4)} F1 ${result.evaluation.nodeF1.toFixed(4)}\n`);
  // The weights do not change epsilon; they change m and so the noise per coordinate of the aggregate.
  const expectedWeight = weights === 'uniform' ? rate * flConfig.clients : rate * cappedWeightSum(setup);
  return { weights, noiseMultiplier, epsilon: spent.epsilon, order: spent.order, f1: result.evaluation.nodeF1, auroc: result.evaluation.nodeAuroc, noiseStdPerCoordinate: (noiseMultiplier * clipNorm) / expectedWeight, trainMs: result.trainMs };
}

/** Sum over clients of W_k / max W (the capped loss weights). */
function cappedWeightSum(setup: ReturnType<typeof flSetup>): number {
  const { weights } = setup.loss;
  const all = setup.shards.map((shard) => shard.classCounts.reduce((sum, count, label) => sum + count * (label === 0 ? weights.healthy : weights.faulty), 0));
  const cap = Math.max(...all);
  return all.reduce((sum, weight) => sum + weight / cap, 0);
}

/** F1 against epsilon for DP-FedAvg, and the non-private reference. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const data = flBenchData();
  const setup = flSetup(data);
  const sampling = { kind: 'poisson' as const, rate };
  const nonPrivate = federatedRun(setup, data, federatedOptions(rounds, modelSeed, { sampling }));
  process.stderr.write(`fl-dp non-private: F1 ${nonPrivate.evaluation.nodeF1.toFixed(4)}\n`);
  const curve: CurvePoint[] = weightings.flatMap((weights) => noiseMultipliers.map((noiseMultiplier) => curvePoint(setup, data, weights, noiseMultiplier)));
  const nonPrivateF1 = nonPrivate.evaluation.nodeF1;
  const smallestWithin = (points: readonly CurvePoint[]): number | null => {
    const within = points.filter((point) => point.f1 >= nonPrivateF1 - 0.05).map((point) => point.epsilon);
    return within.length === 0 ? null : Number(Math.min(...within).toPrecision(4));
  };
  const epsilon = smallestWithin(curve);
  const figures: Record<string, number | null> = { nonPrivateF1: round4(nonPrivateF1), epsAtF1Within005: epsilon, epsilonWithin005F1: epsilon };
  for (const weights of weightings) figures[`epsAtF1Within005_${weights}`] = smallestWithin(curve.filter((point) => point.weights === weights));
  for (const point of curve) figures[`f1_${point.weights}_z${String(point.noiseMultiplier).replace('.', '_')}`] = round4(point.f1);
  return {
    figures,
    details: {
      rounds,
      modelSeed,
      delta,
      samplingRate: rate,
      clipNorm,
      expectedClients: rate * flConfig.clients,
      expectedCappedWeight: rate * cappedWeightSum(setup),
      weightings,
      nonPrivate: { ...nonPrivate.evaluation, trainMs: nonPrivate.trainMs },
      curve,
      config: flConfig,
      data: dataSummary(setup, data),
    },
  };
}
