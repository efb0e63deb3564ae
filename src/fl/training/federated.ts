/**
 * The federated training loop, sans-IO and deterministic given a seed. Each round the server
 * samples clients (a fixed number without replacement, or each independently with probability
 * q: Poisson sampling, which the DP accountant assumes), every sampled client trains locally
 * from the global parameters and sends its update (local minus global), malicious clients send
 * what their attack crafts, and the server aggregates with its rule (or DP-FedAvg) and moves the
 * global parameters by serverLearningRate times the aggregate. Randomness comes from streams
 * derived from the seed per purpose and per (round, client), so a client's training does not
 * depend on the order in which the simulation runs the clients.
 */
import { GraphSage } from '../../ml/model.js';
import { seededRandom, uniform01, uniformBelow, type RandomSource } from '../../ml/random.js';
import { createServerState, serverStep, type ServerOptimizerConfig, type ServerOptimizerState } from '../aggregation/server-optimizers.js';
import { median as coordinateMedian } from '../aggregation/coordinate-wise.js';
import { dpFedAvg } from '../dp/dp-fedavg.js';
import { isDpError, DpErrorCode } from '../dp/errors.js';
import type { PrivacyLedger } from '../dp/ledger.js';
import { GaussianSampler, seededNoiseSource, type NoiseSource } from '../dp/noise.js';
import { attackTraining, craftMalicious, craftSecondMoment, labelFlipMap, type AttackSpec } from './attacks.js';
import { argumentError, requireInteger, requireNumber } from './errors.js';
import { checkLocalOptions, trainLocally, type LocalTrainingOptions } from './local-training.js';
import { roundsMax } from './limits.js';
import { aggregateBucketed, type RuleSpec, type RuleState } from './rules.js';
import type { RootData, TrainingSetup } from './setup.js';

/** How the server picks a round's clients. */
export type Sampling = { readonly kind: 'fixed'; readonly clients: number } | { readonly kind: 'poisson'; readonly rate: number };

/** Client-level DP-FedAvg in place of the rule (src/fl/dp). */
export interface DpSettings {
  readonly clipNorm: number;
  readonly noiseMultiplier: number;
  /** Charged q = the Poisson rate, one step per round; training stops at its budget. */
  readonly ledger: PrivacyLedger;
  /** cryptoNoiseSource() in a deployment; a seeded source in simulations. */
  readonly noise: NoiseSource;
  /**
   * 'uniform' (default): every client counts 1 and m = q N. 'lossWeight': McMahan et al.'s capped
   * weights over the clients' loss weights, w_k = W_k / max W (so every w_k <= 1 and a client's
   * contribution still has norm at most C), and m = q sum_k w_k. The weights are fixed before
   * training from the class counts the clients report for the loss weights.
   */
  readonly weights?: 'uniform' | 'lossWeight';
}

/** Malicious clients and what they do. */
export interface AttackSettings {
  readonly spec: AttackSpec;
  readonly malicious: ReadonlySet<number>;
}

/** Settings of one federated run. */
export interface FederatedOptions {
  readonly rounds: number;
  readonly sampling: Sampling;
  readonly local: LocalTrainingOptions;
  readonly rule: RuleSpec;
  /**
   * What FedAvg weighs a client by: 'examples' (its row count, McMahan et al.) or 'lossWeight'
   * (the sum of its rows' loss weights: with the detector's class-weighted loss, a client's
   * share of the pooled objective). Default 'examples'.
   */
  readonly fedAvgWeights?: 'examples' | 'lossWeight';
  /** Bucket size for the robust rules (rules.ts, Bucketing); absent or 1: no bucketing. */
  readonly bucketSize?: number;
  /** The share of malicious clients the robust rules assume (their f); also without attack. */
  readonly byzantineShare: number;
  /** Server step without a server optimiser: global += serverLearningRate * aggregate (default 1, plain FedAvg). */
  readonly serverLearningRate?: number;
  /**
   * Share Adam's second moment (local Adam only): every participant reports its estimate at the
   * end of its local run, the server combines the reports (combineSecondMoments: under FedAvg
   * their mean with the FedAvg weights, like an update, so secure aggregation can sum them; under
   * a robust rule their coordinate-wise median, since an attacker may report any value) and sends
   * the result with the next global model; clients start Adam's second moment from it instead of
   * from zero (local-training.ts, warmAdam). Malicious participants report an inflated moment
   * (attacks.ts, craftSecondMoment). Default false: every client's Adam starts from zero moments.
   */
  readonly sharedSecondMoment?: boolean;
  /** Norm bounding first: a robust rule (not FedAvg) sees every update clipped to the round's median norm (rules.ts, boundedToMedianNorm). Default false. */
  readonly normBoundFirst?: boolean;
  /** Sign-statistics filter first (rules.ts, signFiltered): a robust rule drops the updates whose share of positive coordinates stands out. Default false. */
  readonly signFilter?: boolean;
  /** A server optimiser (FedAvgM, FedAdam, ...) that turns the aggregate into the step instead. */
  readonly server?: ServerOptimizerConfig;
  readonly attack?: AttackSettings;
  /**
   * The server's root data (setup.ts, createRootData): with rule flTrust the server trains on them
   * each round from the global model, with the clients' local settings and shared second moment,
   * and its update is FLTrust's root of trust. Required by flTrust, refused by any other rule.
   */
  readonly root?: RootData;
  readonly dp?: DpSettings;
  /** Seeds the initial model (unless `initial`), sampling, local training and attack noise. */
  readonly seed: number;
  readonly initial?: Float32Array;
  /** Told about each round as it ends (progress output in benchmarks). */
  readonly onRound?: (record: RoundRecord) => void;
}

/** What one round did. */
export interface RoundRecord {
  readonly round: number;
  readonly participants: number;
  readonly malicious: number;
  /** Mean local training loss of the honest participants (NaN when none). */
  readonly honestLoss: number;
  /** L2 norm of the aggregate applied. */
  readonly aggregateNorm: number;
  /** Median L2 norm of the honest participants' updates (NaN when none): the scale attacks and clipping are set against. */
  readonly honestNormMedian: number;
  /** Epsilon spent after this round (DP runs only). */
  readonly epsilon?: number;
}

/** The outcome of a run. */
export interface FederatedResult {
  readonly parameters: Float32Array;
  readonly rounds: readonly RoundRecord[];
  /** Epsilon spent at the ledger's delta (null without DP). */
  readonly epsilon: number | null;
  /** True when the DP budget stopped training before `rounds`. */
  readonly stoppedByBudget: boolean;
}

/** A seed for the stream of (purpose, a, b), mixed so that nearby inputs give unrelated streams. */
export function streamSeed(seed: number, purpose: number, a = 0, b = 0): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(purpose + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(a + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 13), 0x165667b1) ^ Math.imul(b + 1, 0x9e3779b1);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The clients of one round, ascending. */
export function sampleClients(sampling: Sampling, clients: number, random: RandomSource): number[] {
  if (sampling.kind === 'poisson') return Array.from({ length: clients }, (_, c) => c).filter(() => uniform01(random) < sampling.rate);
  const pool = Array.from({ length: clients }, (_, c) => c);
  for (let i = 0; i < sampling.clients; i++) {
    const j = i + uniformBelow(random, clients - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, sampling.clients).sort((a, b) => a - b);
}

/** `count` distinct clients of `clients` chosen by `seed` (the malicious ones), ascending. */
export function chooseClients(clients: number, count: number, seed: number): Set<number> {
  requireInteger('chooseClients', 'count', count, 0, clients);
  return new Set(sampleClients({ kind: 'fixed', clients: count }, clients, seededRandom(streamSeed(seed, 7))));
}

function checkOptions(setup: TrainingSetup, options: FederatedOptions): void {
  const where = 'runFederated';
  const clients = setup.shards.length;
  requireInteger(where, 'rounds', options.rounds, 1, roundsMax);
  checkLocalOptions(where, options.local);
  requireNumber(where, 'byzantineShare', options.byzantineShare, 0, 0.5, true);
  requireNumber(where, 'serverLearningRate', options.serverLearningRate ?? 1, 0, 100);
  if (options.sampling.kind === 'fixed') requireInteger(where, 'sampling.clients', options.sampling.clients, 1, clients);
  else requireNumber(where, 'sampling.rate', options.sampling.rate, Number.MIN_VALUE, 1);
  if (options.sharedSecondMoment === true && (options.local.optimizer ?? 'adam') !== 'adam') {
    throw argumentError(`${where}: sharedSecondMoment needs local optimizer 'adam', got '${options.local.optimizer}'`);
  }
  if (options.sharedSecondMoment === true && options.dp !== undefined) {
    throw argumentError(`${where}: sharedSecondMoment cannot be combined with DP (the second moments are not privatised)`);
  }
  if (options.dp !== undefined && options.sampling.kind !== 'poisson') {
    throw argumentError(`${where}: DP needs Poisson sampling (the accountant's assumption), got sampling ${options.sampling.kind}`);
  }
  for (const client of options.attack?.malicious ?? []) requireInteger(where, 'a malicious client', client, 0, clients - 1);
  if ((options.rule.kind === 'flTrust') !== (options.root !== undefined)) {
    throw argumentError(`${where}: root data go with rule flTrust and only with it, got rule ${options.rule.kind} ${options.root === undefined ? 'without' : 'with'} root data`);
  }
  if (options.root?.local !== undefined) checkLocalOptions(`${where} root`, options.root.local);
  if (options.rule.kind === 'flTrust' && options.dp !== undefined) throw argumentError(`${where}: flTrust replaces the rule, which DP-FedAvg also replaces; choose one`);
}

/** The server's own update of a round on its root data (FLTrust), trained like a client's from the global model; null without root data. */
function serverRootUpdate(setup: TrainingSetup, options: FederatedOptions, global: Float32Array, moment: Float32Array | null, round: number): Float32Array | null {
  if (options.root === undefined) return null;
  const random = seededRandom(streamSeed(options.seed, 5, round));
  const local = trainLocally(setup.modelConfig, global, options.root.corpus, options.root.shard, setup.loss, options.root.local ?? options.local, random, null, moment);
  return Float32Array.from(local.parameters, (value, j) => value - global[j]!);
}

/** The updates one round's participants send, honest ones first, with their example counts. */
function roundUpdates(setup: TrainingSetup, options: FederatedOptions, global: Float32Array, moment: Float32Array | null, round: number, participants: readonly number[], sampler: GaussianSampler) {
  const train = (client: number, labelMap: Uint8Array | null) => {
    const random = seededRandom(streamSeed(options.seed, 2, round, client));
    const local = trainLocally(setup.modelConfig, global, setup.corpus, setup.shards[client]!, setup.loss, options.local, random, labelMap, moment);
    const delta = Float32Array.from(local.parameters, (value, j) => value - global[j]!);
    return { delta, loss: local.meanLoss, secondMoment: local.secondMoment };
  };
  const malicious = options.attack?.malicious ?? new Set<number>();
  const honestClients = participants.filter((client) => !malicious.has(client));
  const maliciousClients = participants.filter((client) => malicious.has(client));
  const honest = honestClients.map((client) => train(client, null));
  const updates: Float32Array[] = honest.map((h) => h.delta);
  if (options.attack !== undefined && maliciousClients.length > 0) {
    const mode = attackTraining(options.attack.spec.kind);
    const own = maliciousClients.map((client) => (mode === 'none' ? null : train(client, mode === 'flipped' ? labelFlipMap() : null).delta));
    updates.push(...craftMalicious(options.attack.spec, { honest: updates.slice(), own, d: global.length }, sampler));
  }
  const senders = [...honestClients, ...maliciousClients];
  const examples = senders.map((client) => clientWeight(setup, client, options.fedAvgWeights ?? 'examples'));
  const honestLoss = honest.length === 0 ? Number.NaN : honest.reduce((sum, h) => sum + h.loss, 0) / honest.length;
  const norms = honest.map((h) => l2(h.delta)).sort((a, b) => a - b);
  const honestNormMedian = norms.length === 0 ? Number.NaN : norms[(norms.length - 1) >> 1]!;
  const moments: (Float32Array | null)[] = honest.map((h) => h.secondMoment);
  if (options.sharedSecondMoment === true && maliciousClients.length > 0) {
    const reported = craftSecondMoment(moments.filter((m): m is Float32Array => m !== null), global.length);
    moments.push(...maliciousClients.map(() => reported.slice()));
  }
  return { updates, senders, examples, honestLoss, honestNormMedian, malicious: maliciousClients.length, moments };
}

/**
 * The federation's second moment after a round (FederatedOptions.sharedSecondMoment): the mean
 * of the honest participants' reports weighted like FedAvg (`weights[i]` for `moments[i]`), or
 * `previous` when none reported.
 */
export function averageSecondMoment(moments: readonly (Float32Array | null)[], weights: readonly number[], previous: Float32Array | null): Float32Array | null {
  const reported = moments.flatMap((moment, i) => (moment === null ? [] : [{ moment, weight: weights[i]! }]));
  const total = reported.reduce((sum, r) => sum + r.weight, 0);
  if (reported.length === 0 || !(total > 0)) return previous;
  const mean = new Float32Array(reported[0]!.moment.length);
  for (const { moment, weight } of reported) {
    for (let j = 0; j < mean.length; j++) mean[j]! += (weight / total) * moment[j]!;
  }
  return mean;
}

/**
 * The federation's second moment after a round under `rule`: FedAvg takes the weighted mean of
 * the reports (averageSecondMoment), a robust rule their coordinate-wise median, unweighted (each
 * coordinate stays within the range of the honest reports while fewer than half the reports are
 * malicious); `previous` when nobody reported.
 */
export function combineSecondMoments(rule: RuleSpec, moments: readonly (Float32Array | null)[], weights: readonly number[], previous: Float32Array | null): Float32Array | null {
  if (rule.kind === 'fedAvg') return averageSecondMoment(moments, weights, previous);
  const reported = moments.filter((moment): moment is Float32Array => moment !== null);
  return reported.length === 0 ? previous : coordinateMedian(reported);
}

/** A client's FedAvg weight (see FederatedOptions.fedAvgWeights). */
function clientWeight(setup: TrainingSetup, client: number, kind: 'examples' | 'lossWeight'): number {
  const shard = setup.shards[client]!;
  if (kind === 'examples') return shard.examples;
  const { weights } = setup.loss;
  return shard.classCounts.reduce((sum, count, label) => sum + count * (label === 0 ? weights.healthy : weights.faulty), 0);
}

function l2(values: Float32Array): number {
  let squares = 0;
  for (const value of values) squares += value * value;
  return Math.sqrt(squares);
}

/** Runs `options.rounds` rounds (fewer when a DP budget stops it) from the seeded initial model. */
export function runFederated(setup: TrainingSetup, options: FederatedOptions): FederatedResult {
  checkOptions(setup, options);
  const global = options.initial?.slice() ?? GraphSage.create(setup.modelConfig, seededRandom(options.seed)).parameters;
  const sampling = seededRandom(streamSeed(options.seed, 1));
  const attackNoise = new GaussianSampler(seededNoiseSource(`x0tta6bl4 fl attack ${options.seed}`));
  const dpNoise = options.dp === undefined ? null : new GaussianSampler(options.dp.noise);
  const state: RuleState = { previous: null };
  const bucketing = (options.bucketSize ?? 1) > 1 ? { size: options.bucketSize!, random: seededRandom(streamSeed(options.seed, 4)) } : null;
  const records: RoundRecord[] = [];
  const apply = serverUpdate(options, global);
  let moment: Float32Array | null = null;
  for (let round = 0; round < options.rounds; round++) {
    if (options.dp !== undefined && !chargeRound(options.dp, options.sampling)) return { parameters: global, rounds: records, epsilon: options.dp.ledger.spent().epsilon, stoppedByBudget: true };
    const participants = sampleClients(options.sampling, setup.shards.length, sampling);
    const sent: ReturnType<typeof roundUpdates> | null = participants.length === 0 ? null : roundUpdates(setup, options, global, moment, round, participants, attackNoise);
    const serverUpdate = sent === null ? null : serverRootUpdate(setup, options, global, moment, round);
    if (options.sharedSecondMoment === true && sent !== null) moment = combineSecondMoments(options.rule, sent.moments, sent.examples, moment);
    let aggregate: Float32Array;
    if (options.dp !== undefined) {
      aggregate = privateAggregate(setup, options.dp, (options.sampling as { rate: number }).rate, sent?.senders ?? [], sent?.updates ?? [], global.length, dpNoise!);
    } else {
      aggregate = sent === null ? new Float32Array(global.length) : aggregateBucketed(options.rule, sent.updates, sent.examples, options.byzantineShare, state, { bucketing, normBoundFirst: options.normBoundFirst === true, signFilter: options.signFilter === true, serverUpdate });
    }
    apply(aggregate);
    const record: RoundRecord = {
      round,
      participants: participants.length,
      malicious: sent?.malicious ?? 0,
      honestLoss: sent?.honestLoss ?? Number.NaN,
      honestNormMedian: sent?.honestNormMedian ?? Number.NaN,
      aggregateNorm: l2(aggregate),
      ...(options.dp === undefined ? {} : { epsilon: options.dp.ledger.spent().epsilon }),
    };
    records.push(record);
    options.onRound?.(record);
  }
  return { parameters: global, rounds: records, epsilon: options.dp?.ledger.spent().epsilon ?? null, stoppedByBudget: false };
}

/** The server's step from an aggregate: a server optimiser's, or serverLearningRate times the aggregate; moves `global` in place. */
function serverUpdate(options: FederatedOptions, global: Float32Array): (aggregate: Float32Array) => void {
  if (options.server === undefined) {
    const rate = options.serverLearningRate ?? 1;
    return (aggregate) => {
      for (let j = 0; j < global.length; j++) global[j]! += rate * aggregate[j]!;
    };
  }
  const state: ServerOptimizerState = createServerState(options.server, global);
  return (aggregate) => global.set(serverStep(state, aggregate));
}

/** DP-FedAvg of one round's updates; senders[i] is the client of updates[i]. */
function privateAggregate(setup: TrainingSetup, dp: DpSettings, rate: number, senders: readonly number[], updates: readonly Float32Array[], length: number, sampler: GaussianSampler): Float32Array {
  if ((dp.weights ?? 'uniform') === 'uniform') {
    return dpFedAvg(updates, { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, expectedClients: rate * setup.shards.length, updateLength: length }, sampler).aggregate;
  }
  const all = setup.shards.map((_, client) => clientWeight(setup, client, 'lossWeight'));
  const cap = Math.max(...all);
  const capped = all.map((weight) => weight / cap);
  const expectedClients = rate * capped.reduce((sum, weight) => sum + weight, 0);
  return dpFedAvg(updates, { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, expectedClients, updateLength: length, weights: senders.map((client) => capped[client]!) }, sampler).aggregate;
}

/** Charges the ledger for one round before anything is released; false when the budget refuses it. */
function chargeRound(dp: DpSettings, sampling: Sampling): boolean {
  try {
    dp.ledger.record({ q: (sampling as { rate: number }).rate, noiseMultiplier: dp.noiseMultiplier, steps: 1 });
    return true;
  } catch (error) {
    if (isDpError(error, DpErrorCode.ERR_DP_BUDGET_EXCEEDED)) return false;
    throw error;
  }
}
