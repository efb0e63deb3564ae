import { describe, expect, it } from 'vitest';
import { PrivacyLedger } from '../../../src/fl/dp/ledger.js';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { rdpEpsilon } from '../../../src/fl/dp/accountant.js';
import { averageSecondMoment, chooseClients, combineSecondMoments, runFederated, sampleClients, streamSeed, type FederatedOptions } from '../../../src/fl/training/federated.js';
import { shardLoss } from '../../../src/fl/training/local-training.js';
import { isTrainingError } from '../../../src/fl/training/errors.js';
import { GraphSage } from '../../../src/ml/model.js';
import { seededRandom } from '../../../src/ml/random.js';
import { createRootData } from '../../../src/fl/training/setup.js';
import { tinyDataset, tinyLocal, tinySetup } from './helpers.js';

const setup = tinySetup(10);
const base: FederatedOptions = { rounds: 2, sampling: { kind: 'fixed', clients: 10 }, local: tinyLocal, rule: { kind: 'fedAvg' }, byzantineShare: 0.2, seed: 7 };
const pooledLoss = (parameters: Float32Array): number => shardLoss(setup.modelConfig, parameters, setup.corpus, setup.pooled, setup.loss, 8);
const initial = GraphSage.create(setup.modelConfig, seededRandom(7)).parameters;

describe('sampling', () => {
  it('picks a fixed number of distinct clients, or each with probability q', () => {
    const fixed = sampleClients({ kind: 'fixed', clients: 4 }, 10, seededRandom(1));
    expect(new Set(fixed).size).toBe(4);
    expect(fixed).toEqual([...fixed].sort((a, b) => a - b));
    const counts = Array.from({ length: 200 }, (_, i) => sampleClients({ kind: 'poisson', rate: 0.3 }, 50, seededRandom(i)).length);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    expect(mean).toBeGreaterThan(13);
    expect(mean).toBeLessThan(17);
    expect(new Set(counts).size).toBeGreaterThan(3);
  });

  it('chooses malicious clients by seed and mixes stream seeds', () => {
    expect([...chooseClients(50, 10, 3)]).toEqual([...chooseClients(50, 10, 3)]);
    expect(chooseClients(50, 10, 3).size).toBe(10);
    expect(streamSeed(1, 2, 3, 4)).not.toBe(streamSeed(1, 2, 4, 3));
    expect(() => chooseClients(5, 6, 1)).toThrow(/count/);
  });
});

describe('runFederated', () => {
  it('lowers the pooled loss in its first round and is deterministic by seed', () => {
    const one = runFederated(setup, { ...base, rounds: 1 });
    expect(pooledLoss(one.parameters)).toBeLessThan(pooledLoss(initial));
    expect(one.rounds[0]).toMatchObject({ round: 0, participants: 10, malicious: 0 });
    expect(runFederated(setup, { ...base, rounds: 1 }).parameters).toEqual(one.parameters);
    expect(one.epsilon).toBeNull();
  });

  it('starts from given parameters and scales the step by the server learning rate', () => {
    const still = runFederated(setup, { ...base, rounds: 1, initial, serverLearningRate: 0 });
    expect(still.parameters).toEqual(initial);
    const seen: number[] = [];
    runFederated(setup, { ...base, rounds: 2, onRound: (record) => seen.push(record.round) });
    expect(seen).toEqual([0, 1]);
  });

  it('lets a crafted attack wreck FedAvg while the median resists it', () => {
    const malicious = chooseClients(10, 2, 1);
    const attack = { spec: { kind: 'gaussian' as const, gaussianStd: 20 }, malicious };
    const clean = pooledLoss(runFederated(setup, base).parameters);
    const fedAvg = runFederated(setup, { ...base, attack });
    const robust = runFederated(setup, { ...base, attack, rule: { kind: 'median' } });
    expect(fedAvg.rounds[0]!.malicious).toBe(2);
    expect(pooledLoss(fedAvg.parameters)).toBeGreaterThan(3 * clean);
    expect(pooledLoss(robust.parameters)).toBeLessThan(pooledLoss(initial));
  });

  it('runs every attack kind through the loop (training ones train, the others craft)', () => {
    const malicious = chooseClients(10, 2, 2);
    for (const kind of ['labelFlip', 'signFlip', 'alie', 'ipm'] as const) {
      const result = runFederated(setup, { ...base, rounds: 1, attack: { spec: { kind }, malicious }, rule: { kind: 'trimmedMean' } });
      expect(result.rounds[0]!.malicious, kind).toBe(2);
      expect(Number.isFinite(result.rounds[0]!.aggregateNorm)).toBe(true);
    }
  });

  it('charges the ledger once per DP round, adds noise, and stops at the budget', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 1e6, delta: 1e-5 });
    const dp = { clipNorm: 0.5, noiseMultiplier: 1, ledger, noise: seededNoiseSource('fed test') };
    const result = runFederated(setup, { ...base, rounds: 3, sampling: { kind: 'poisson', rate: 0.5 }, dp });
    expect(ledger.entries).toHaveLength(3);
    expect(result.epsilon).toBeCloseTo(rdpEpsilon({ q: 0.5, noiseMultiplier: 1, steps: 3, delta: 1e-5 }).epsilon, 9);
    expect(result.rounds[2]!.epsilon).toBe(result.epsilon);
    const oneRound = rdpEpsilon({ q: 0.5, noiseMultiplier: 1, steps: 1, delta: 1e-5 }).epsilon;
    const tight = new PrivacyLedger({ epsilonBudget: oneRound * 1.01, delta: 1e-5 });
    const stopped = runFederated(setup, { ...base, rounds: 5, sampling: { kind: 'poisson', rate: 0.5 }, dp: { ...dp, ledger: tight } });
    expect(stopped.stoppedByBudget).toBe(true);
    expect(stopped.rounds).toHaveLength(1);
    expect(tight.entries).toHaveLength(1);
  });

  it('still releases noise in a DP round nobody joined', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 1e9, delta: 1e-5 });
    const result = runFederated(setup, { ...base, rounds: 1, initial, sampling: { kind: 'poisson', rate: 1e-9 }, dp: { clipNorm: 1, noiseMultiplier: 1, ledger, noise: seededNoiseSource('empty') } });
    expect(result.rounds[0]!.participants).toBe(0);
    expect(Number.isNaN(result.rounds[0]!.honestLoss)).toBe(true);
    expect(result.parameters).not.toEqual(initial);
    const plain = runFederated(setup, { ...base, rounds: 1, initial, sampling: { kind: 'poisson', rate: 1e-9 } });
    expect(plain.parameters).toEqual(initial);
  });

  it('refuses bad options with ERR_FL_TRAINING_ARGUMENT', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 10, delta: 1e-5 });
    const bad: Partial<FederatedOptions>[] = [
      { rounds: 0 },
      { sampling: { kind: 'fixed', clients: 11 } },
      { sampling: { kind: 'poisson', rate: 0 } },
      { byzantineShare: 0.5 },
      { serverLearningRate: -1 },
      { dp: { clipNorm: 1, noiseMultiplier: 1, ledger, noise: seededNoiseSource('x') } },
      { attack: { spec: { kind: 'ipm' }, malicious: new Set([10]) } },
    ];
    for (const change of bad) {
      try {
        runFederated(setup, { ...base, ...change });
        expect.unreachable(JSON.stringify(change));
      } catch (error) {
        expect(isTrainingError(error, 'ERR_FL_TRAINING_ARGUMENT'), String(error)).toBe(true);
      }
    }
  });

  it('passes on errors of the ledger other than the budget', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 10, delta: 1e-5 });
    const dp = { clipNorm: 1, noiseMultiplier: -1, ledger, noise: seededNoiseSource('x') };
    expect(() => runFederated(setup, { ...base, sampling: { kind: 'poisson', rate: 0.5 }, dp })).toThrow(/noiseMultiplier/);
  });
});

describe('runFederated with FLTrust', () => {
  const root = createRootData(setup, [tinyDataset(13)], 2);

  it('builds root data from labelled windows the server holds, standardised like the clients', () => {
    expect(root.corpus.windows).toHaveLength(10);
    expect(root.shard.examples).toBe(root.corpus.windows.reduce((sum, w) => sum + w.labels.length, 0));
    expect(root.shard.classCounts[0]).toBeLessThan(root.shard.examples);
  });

  it('trains the server on its root data each round and weighs the clients by trust, so a sign flip is ignored', () => {
    const malicious = chooseClients(10, 2, 1);
    const attack = { spec: { kind: 'signFlip' as const, signFlipScale: 100 }, malicious };
    const options: FederatedOptions = { ...base, rule: { kind: 'flTrust' }, root, sharedSecondMoment: true };
    const clean = runFederated(setup, options);
    expect(runFederated(setup, options).parameters).toEqual(clean.parameters);
    expect(pooledLoss(clean.parameters)).toBeLessThan(pooledLoss(initial));
    const attacked = runFederated(setup, { ...options, attack });
    expect(pooledLoss(attacked.parameters)).toBeLessThan(pooledLoss(initial));
    expect(pooledLoss(runFederated(setup, { ...base, attack }).parameters)).toBeGreaterThan(pooledLoss(attacked.parameters));
    // The server's own local settings, when given, change its update and so the trust scores.
    const ownLocal = runFederated(setup, { ...options, root: { ...root, local: { ...tinyLocal, batchWindows: 1 } } });
    expect(ownLocal.parameters).not.toEqual(clean.parameters);
  });

  it('refuses FLTrust without root data, root data with another rule or FLTrust with DP, and root data without faults', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 10, delta: 1e-5 });
    const dp = { clipNorm: 1, noiseMultiplier: 1, ledger, noise: seededNoiseSource('x') };
    const badLocal = { ...root, local: { ...tinyLocal, epochs: 0 } };
    const bad: Partial<FederatedOptions>[] = [{ rule: { kind: 'flTrust' } }, { root }, { rule: { kind: 'flTrust' }, root, sampling: { kind: 'poisson', rate: 0.5 }, dp }, { rule: { kind: 'flTrust' }, root: badLocal }];
    for (const change of bad) expect(() => runFederated(setup, { ...base, ...change }), JSON.stringify(Object.keys(change))).toThrow(expect.objectContaining({ code: 'ERR_FL_TRAINING_ARGUMENT' }));
    expect(() => createRootData(setup, [tinyDataset(13, 0)], 1)).toThrow(expect.objectContaining({ code: 'ERR_FL_TRAINING_DATA' }));
    expect(() => createRootData(setup, [tinyDataset(13)], 0)).toThrow(expect.objectContaining({ code: 'ERR_FL_TRAINING_ARGUMENT' }));
  });
});

describe('runFederated options', () => {
  it('applies a server optimiser to the aggregate', () => {
    const plain = runFederated(setup, { ...base, rounds: 1 });
    const momentum = runFederated(setup, { ...base, rounds: 1, server: { kind: 'fedAvgM', eta: 0.5, momentum: 0.9 } });
    // One round of FedAvgM from m = 0 moves by eta times the aggregate: half the plain step.
    momentum.parameters.forEach((value, j) => expect(value - initial[j]!).toBeCloseTo((plain.parameters[j]! - initial[j]!) / 2, 5));
  });

  it('weighs FedAvg by the loss weight of the clients on request, and records the honest update norms', () => {
    const byExamples = runFederated(setup, { ...base, rounds: 1 });
    const byLoss = runFederated(setup, { ...base, rounds: 1, fedAvgWeights: 'lossWeight' });
    expect(byLoss.parameters).not.toEqual(byExamples.parameters);
    expect(byLoss.rounds[0]!.honestNormMedian).toBeGreaterThan(0);
  });

  it('shares Adam\'s second moment among the clients on request, deterministically', () => {
    const plain = runFederated(setup, { ...base, rounds: 3 });
    const shared = runFederated(setup, { ...base, rounds: 3, sharedSecondMoment: true });
    expect(shared.parameters).not.toEqual(plain.parameters);
    expect(runFederated(setup, { ...base, rounds: 3, sharedSecondMoment: true }).parameters).toEqual(shared.parameters);
    expect(pooledLoss(shared.parameters)).toBeLessThan(pooledLoss(initial));
    // Round 0 has no shared moment yet, so it is plain FedAvg.
    expect(runFederated(setup, { ...base, rounds: 1, sharedSecondMoment: true }).parameters).toEqual(runFederated(setup, { ...base, rounds: 1 }).parameters);
  });

  it('refuses a shared second moment with SGD or DP', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 10, delta: 1e-5 });
    const dp = { clipNorm: 1, noiseMultiplier: 1, ledger, noise: seededNoiseSource('x') };
    expect(() => runFederated(setup, { ...base, sharedSecondMoment: true, local: { ...tinyLocal, optimizer: 'sgd' } })).toThrow(/sharedSecondMoment needs local optimizer 'adam'/);
    expect(() => runFederated(setup, { ...base, sharedSecondMoment: true, sampling: { kind: 'poisson', rate: 0.5 }, dp })).toThrow(/cannot be combined with DP/);
  });

  it('averages the reported moments with the FedAvg weights, skipping clients that report none', () => {
    const mean = averageSecondMoment([Float32Array.of(1, 4), null, Float32Array.of(3, 0)], [1, 5, 3], null);
    expect([...mean!]).toEqual([2.5, 1]);
    const previous = Float32Array.of(7);
    expect(averageSecondMoment([null], [1], previous)).toBe(previous);
    expect(averageSecondMoment([Float32Array.of(2)], [0], previous)).toBe(previous);
    expect(averageSecondMoment([], [], null)).toBeNull();
  });

  it('combines the moments by their weighted mean under FedAvg and by their coordinate-wise median under a robust rule', () => {
    const moments = [Float32Array.of(1, 4), Float32Array.of(2, 5), null, Float32Array.of(1e9, 1e9)];
    const weights = [1, 1, 1, 2];
    expect([...combineSecondMoments({ kind: 'fedAvg' }, moments, weights, null)!]).toEqual([...averageSecondMoment(moments, weights, null)!]);
    // The inflated report cannot move the median beyond the honest ones.
    expect([...combineSecondMoments({ kind: 'multiKrum' }, moments, weights, null)!]).toEqual([2, 5]);
    const previous = Float32Array.of(3);
    expect(combineSecondMoments({ kind: 'median' }, [null], [1], previous)).toBe(previous);
  });

  it('lets malicious participants report an inflated second moment, which freezes FedAvg but not a robust rule', () => {
    const attack = { spec: { kind: 'ipm' as const, ipmEpsilon: 0 }, malicious: chooseClients(10, 3, 1) };
    const shared = { ...base, rounds: 3, sharedSecondMoment: true, attack, initial };
    const moved = (parameters: Float32Array): number => Math.sqrt(parameters.reduce((sum, value, j) => sum + (value - initial[j]!) ** 2, 0));
    const firstRound = moved(runFederated(setup, { ...shared, rounds: 1 }).parameters);
    // After round 0 the mean of the moments is about 3e5 times an honest one: Adam's later steps nearly vanish.
    expect(moved(runFederated(setup, shared).parameters) - firstRound).toBeLessThan(0.01 * firstRound);
    const robust = { ...shared, rule: { kind: 'normBounded' as const } };
    const robustFirst = moved(runFederated(setup, { ...robust, rounds: 1 }).parameters);
    expect(moved(runFederated(setup, robust).parameters) - robustFirst).toBeGreaterThan(0.2 * robustFirst);
  });

  it('clips every update to the median norm before a robust rule with normBoundFirst, and leaves FedAvg alone', () => {
    const attack = { spec: { kind: 'signFlip' as const, signFlipScale: 1000 }, malicious: chooseClients(10, 2, 1) };
    const rule = { kind: 'trimmedMean' as const, beta: 0.1 };
    const plain = runFederated(setup, { ...base, rounds: 1, rule, attack });
    const bounded = runFederated(setup, { ...base, rounds: 1, rule, attack, normBoundFirst: true });
    expect(bounded.parameters).not.toEqual(plain.parameters);
    expect(bounded.rounds[0]!.aggregateNorm).toBeLessThan(plain.rounds[0]!.aggregateNorm);
    expect(bounded.rounds[0]!.aggregateNorm).toBeLessThanOrEqual(bounded.rounds[0]!.honestNormMedian * 1.0001);
    const fedAvg = runFederated(setup, { ...base, rounds: 1, attack });
    expect(runFederated(setup, { ...base, rounds: 1, attack, normBoundFirst: true }).parameters).toEqual(fedAvg.parameters);
  });

  it('drops sign-shifted updates before a robust rule with signFilter, and leaves FedAvg alone', () => {
    const attack = { spec: { kind: 'alie' as const, alieZ: 50 }, malicious: chooseClients(10, 2, 1) };
    const rule = { kind: 'normBounded' as const };
    const plain = runFederated(setup, { ...base, rounds: 1, rule, attack });
    const filtered = runFederated(setup, { ...base, rounds: 1, rule, attack, signFilter: true });
    expect(filtered.parameters).not.toEqual(plain.parameters);
    const fedAvg = runFederated(setup, { ...base, rounds: 1, attack });
    expect(runFederated(setup, { ...base, rounds: 1, attack, signFilter: true }).parameters).toEqual(fedAvg.parameters);
  });

  it('buckets the updates for a robust rule', () => {
    const bucketed = runFederated(setup, { ...base, rounds: 1, rule: { kind: 'median' }, bucketSize: 2 });
    const plain = runFederated(setup, { ...base, rounds: 1, rule: { kind: 'median' } });
    expect(bucketed.parameters).not.toEqual(plain.parameters);
  });

  it('weighs DP clients by capped loss weights with m = q sum w, attackers included', () => {
    const ledger = () => new PrivacyLedger({ epsilonBudget: 1e9, delta: 1e-5 });
    const dp = (weights: 'uniform' | 'lossWeight') => ({ clipNorm: 1, noiseMultiplier: 0.5, ledger: ledger(), noise: seededNoiseSource('w'), weights });
    const sampling = { kind: 'poisson' as const, rate: 0.9 };
    const uniform = runFederated(setup, { ...base, rounds: 1, sampling, dp: dp('uniform') });
    const weighted = runFederated(setup, { ...base, rounds: 1, sampling, dp: dp('lossWeight'), attack: { spec: { kind: 'ipm' }, malicious: chooseClients(10, 2, 5) } });
    expect(weighted.parameters).not.toEqual(uniform.parameters);
    expect(weighted.parameters.every(Number.isFinite)).toBe(true);
    expect(weighted.stoppedByBudget || uniform.stoppedByBudget).toBe(false);
  });
});
