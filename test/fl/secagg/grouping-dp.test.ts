/** Secure and robust together (groups + a robust rule over group means) and distributed DP under the masks. */
import { describe, expect, test } from 'vitest';
import { ed25519PublicKey } from '../../../src/crypto/curve25519.js';
import { clientNoisedUpdate } from '../../../src/fl/dp/distributed-noise.js';
import { GaussianSampler, seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { secAggClientId, type SecAggClientId } from '../../../src/fl/secagg/config.js';
import { SecAggError, SecAggErrorCode } from '../../../src/fl/secagg/errors.js';
import { aggregateGroups, assignGroups, groupMeans, groupsRequired, type GroupRule } from '../../../src/fl/secagg/grouping.js';
import { signClientMessage, type ClientMessage } from '../../../src/fl/secagg/messages.js';
import { simulateGroupedSecAgg, simulateSecAgg, type SimulatedClient } from '../../../src/fl/secagg/simulate.js';
import { expectCodedError } from '../../coded-error.js';
import { bytes32, fixture, maxAbsDifference, plainSum, randomFor } from './helpers.js';

const d = 6;
/** 25 honest-looking clients whose updates all sit near 0.1 per coordinate. */
function population(): { clients: SimulatedClient[]; roster: Map<SecAggClientId, Uint8Array>; keys: Map<SecAggClientId, Uint8Array> } {
  const ids = Array.from({ length: 25 }, (_, index) => secAggClientId(100 + index));
  const keys = new Map(ids.map((id) => [id, bytes32(`group/${id}`)]));
  const roster = new Map(ids.map((id) => [id, ed25519PublicKey(keys.get(id)!)]));
  const clients = ids.map((id) => ({ id, signingKey: keys.get(id)!, input: Float32Array.from({ length: d }, (_, index) => 0.1 + 0.001 * ((id + index) % 5)) }));
  return { clients, roster, keys };
}

describe('secure and robust together', () => {
  test('groups are random, disjoint, cover everyone and differ in size by at most one', () => {
    const ids = Array.from({ length: 23 }, (_, index) => index);
    const groups = assignGroups(ids, 5, seededNoiseSource('groups'));
    expect(groups.flat().sort((a, b) => a - b)).toEqual(ids);
    expect(groups.map((group) => group.length).sort()).toEqual([4, 4, 5, 5, 5]);
    expect(assignGroups(ids, 5, seededNoiseSource('other'))).not.toEqual(groups);
    expectCodedError(() => assignGroups(ids, 24, seededNoiseSource('x')), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'groupCount an integer in 1..23, got 24');
    expectCodedError(() => assignGroups([1, 1], 1, seededNoiseSource('x')), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'ids distinct');
  });

  test('the groups each rule needs against f malicious clients', () => {
    expect(groupsRequired({ rule: 'median' }, 2)).toBe(5);
    expect(groupsRequired({ rule: 'trimmedMean', beta: 0.2 }, 2)).toBe(10);
    expect(groupsRequired({ rule: 'trimmedMean', beta: 0.45 }, 2)).toBe(5);
    expect(groupsRequired({ rule: 'krum', f: 1 }, 1)).toBe(5);
    expect(groupsRequired({ rule: 'multiKrum', f: 1, m: 2 }, 1)).toBe(5);
    expect(groupsRequired({ rule: 'bulyan', f: 1 }, 1)).toBe(7);
    expect(groupsRequired({ rule: 'flTrust', serverUpdate: Float32Array.of(1) }, 2)).toBe(3);
    expect(groupsRequired({ rule: 'mean' }, 0)).toBe(1);
    expect(groupsRequired({ rule: 'mean' }, 1)).toBe(Number.POSITIVE_INFINITY);
    expectCodedError(() => groupsRequired({ rule: 'median' }, -1), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'malicious an integer >= 0, got -1');
  });

  test('an attacker who spoils its group\'s sum moves the mean of the group means but not the median', () => {
    const { clients, roster, keys } = population();
    const attacker = clients[7]!.id;
    // The attacker signs whatever it likes with its own key: here its masked input plus 2^31 on every word (the group sum wraps to about -8).
    const rewrite = (message: ClientMessage): ClientMessage => {
      if (message.kind !== 'maskedInput' || message.sender !== attacker) return message;
      const { signature: _s, ...unsigned } = message;
      return signClientMessage({ ...unsigned, masked: unsigned.masked.map((word) => word + 2 ** 31) }, keys.get(attacker)!);
    };
    const common = { clients, roster, sessionId: bytes32('grouped'), groupCount: 5, dimension: d, clipRange: 1, thresholdFraction: 0.6, randomFor: randomFor('grouped'), rewrite };
    const robust = simulateGroupedSecAgg({ ...common, rule: { rule: 'median' }, malicious: 1, random: seededNoiseSource('grouping') });
    for (const value of robust.aggregate) expect(Math.abs(value - 0.102)).toBeLessThan(0.003);
    const spoiled = robust.sums.map((sum, index) => ({ index, mean: groupMeans([sum])[0]![0]! })).filter((entry) => Math.abs(entry.mean) > 1);
    expect(spoiled).toHaveLength(1);
    expect(robust.groups[spoiled[0]!.index]).toContain(attacker);
    const naive = simulateGroupedSecAgg({ ...common, rule: { rule: 'mean' }, random: seededNoiseSource('grouping') });
    expect(Math.abs(naive.aggregate[0]! - 0.102)).toBeGreaterThan(0.2);
    for (const rule of [{ rule: 'trimmedMean', beta: 0.2 }, { rule: 'krum', f: 1 }, { rule: 'multiKrum', f: 1, m: 2 }, { rule: 'flTrust', serverUpdate: new Float32Array(d).fill(0.102) }] as GroupRule[]) {
      const result = aggregateGroups(robust.sums, rule);
      expect(Math.abs(result[0]! - 0.102)).toBeLessThan(0.003);
    }
  });

  test('too few groups for the guarantee are refused before anything runs', () => {
    const { clients, roster } = population();
    const options = { clients, roster, sessionId: bytes32('few'), groupCount: 3, dimension: d, clipRange: 1, thresholdFraction: 0.6, randomFor: randomFor('few'), random: seededNoiseSource('few') };
    expectCodedError(() => simulateGroupedSecAgg({ ...options, rule: { rule: 'median' }, malicious: 2 }), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'groupCount for median against 2 malicious clients at least 5, got 3');
    const sums = [{ sum: new Float64Array(1), clients: 1 }];
    expectCodedError(() => aggregateGroups(sums, { rule: 'bulyan', f: 1 }, 1), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'groups for bulyan against 1 malicious clients at least 7, got 1');
    expect(() => aggregateGroups(Array.from({ length: 7 }, () => ({ sum: new Float64Array(2), clients: 2 })), { rule: 'bulyan', f: 1 }, 1)).not.toThrow();
    expectCodedError(() => groupMeans([{ sum: new Float64Array(1), clients: 0 }]), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'clients of a group an integer >= 1, got 0');
  });
});

describe('distributed DP', () => {
  test('each client adds its noise share before masking: the sum carries the noise, and equals the noised inputs\' sum within the bound', () => {
    const { config, clients } = fixture({ n: 20, k: 8, d: 4000, seed: 'dp', clipRange: 4 });
    const options = { noiseMultiplier: 1, clipNorm: 1, minimumClients: 20 };
    const noiseSeed = (id: SecAggClientId): string => `dp-noise/${id}`;
    const report = simulateSecAgg({
      config,
      clients,
      randomFor: randomFor('dp'),
      distributedDpFor: (id) => ({ options, noise: seededNoiseSource(noiseSeed(id)) }),
    });
    // The same noise, drawn again from the same seeds, plus the clipped updates.
    const noised = clients.map((client) => ({ ...client, input: clientNoisedUpdate(client.input as Float32Array, options, new GaussianSampler(seededNoiseSource(noiseSeed(client.id)))) }));
    expect(maxAbsDifference(report.result.sum, plainSum(noised, report.result.survivors))).toBeLessThanOrEqual(report.result.errorBound);
    // Against the un-noised (clipped) sum the difference has std z C = 1 per coordinate.
    const clipped = clients.map((client) => ({ ...client, input: clientNoisedUpdate(client.input as Float32Array, { ...options, noiseMultiplier: 1e-12 }, new GaussianSampler(seededNoiseSource('none'))) }));
    const reference = plainSum(clipped, report.result.survivors);
    let squares = 0;
    for (let index = 0; index < reference.length; index++) squares += (report.result.sum[index]! - reference[index]!) ** 2;
    expect(Math.sqrt(squares / reference.length)).toBeGreaterThan(0.9);
    expect(Math.sqrt(squares / reference.length)).toBeLessThan(1.1);
  });

  test('a Float64Array input is accepted and converted for the DP clip', () => {
    const { config, clients } = fixture({ n: 4, k: 3, threshold: 2, d: 3, seed: 'f64' });
    const as64 = clients.map((client) => ({ ...client, input: Float64Array.from(client.input) }));
    const report = simulateSecAgg({ config, clients: as64, randomFor: randomFor('f64'), distributedDpFor: () => ({ options: { noiseMultiplier: 1e-9, clipNorm: 100, minimumClients: 4 }, noise: seededNoiseSource('n') }) });
    expect(maxAbsDifference(report.result.sum, plainSum(clients, report.result.survivors))).toBeLessThan(1e-5);
  });
});
