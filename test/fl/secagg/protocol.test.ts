/** SecAgg+ end to end in process: masks cancel, dropouts are recovered, too few survivors abort. */
import { describe, expect, test } from 'vitest';
import { SecAggError, SecAggErrorCode } from '../../../src/fl/secagg/errors.js';
import type { ClientMessage, MaskedInput } from '../../../src/fl/secagg/messages.js';
import { dequantiseSum, quantise } from '../../../src/fl/secagg/quantise.js';
import { simulateSecAgg, type DropoutRound } from '../../../src/fl/secagg/simulate.js';
import type { SecAggClientId } from '../../../src/fl/secagg/config.js';
import { expectCodedError } from '../../coded-error.js';
import { fixture, maxAbsDifference, plainSum, randomFor } from './helpers.js';

/** Every `stride`-th client (from `offset`) drops at `round`. */
function dropEvery(ids: readonly SecAggClientId[], count: number, round: DropoutRound, offset = 0): Map<SecAggClientId, DropoutRound> {
  const stride = Math.floor(ids.length / count);
  return new Map(Array.from({ length: count }, (_, index) => [ids[offset + index * stride]!, round]));
}

describe('masks cancel', () => {
  test('with no dropouts the unmasked ring sum is exactly the sum of the quantised inputs', () => {
    const { config, clients } = fixture({ n: 12, k: 6, d: 257, seed: 'cancel' });
    const masked: MaskedInput[] = [];
    const report = simulateSecAgg({
      config,
      clients,
      randomFor: randomFor('cancel'),
      rewrite: (message: ClientMessage) => {
        if (message.kind === 'maskedInput') masked.push(message);
        return message;
      },
    });
    const exact = new Uint32Array(config.dimension);
    for (const client of clients) {
      const { words } = quantise(client.input, config.quantisation);
      for (let index = 0; index < exact.length; index++) exact[index]! += words[index]!;
    }
    expect(report.result.sum).toEqual(dequantiseSum(exact, config.quantisation, clients.length));
    expect(report.result.survivors).toHaveLength(12);
    expect(report.result.droppedAfterSharing).toEqual([]);
    // No masked input resembles its client's quantised input: each is hidden by its masks.
    for (const message of masked) {
      const { words } = quantise(clients.find((client) => client.id === message.sender)!.input, config.quantisation);
      expect(message.masked.filter((word, index) => word === words[index]).length).toBeLessThan(3);
    }
    expect(maxAbsDifference(report.result.sum, plainSum(clients, report.result.survivors))).toBeLessThanOrEqual(report.result.errorBound);
  });

  test('the complete graph (k = n - 1, Bonawitz et al. 2017) works as well', () => {
    const { config, clients } = fixture({ n: 5, k: 4, d: 9, seed: 'complete' });
    const report = simulateSecAgg({ config, clients, randomFor: randomFor('complete') });
    expect(maxAbsDifference(report.result.sum, plainSum(clients, report.result.survivors))).toBeLessThanOrEqual(report.result.errorBound);
  });
});

describe('dropout recovery', () => {
  for (const fraction of [0.1, 0.3]) {
    test(`${fraction * 100} % of clients drop after sharing their keys (their masks are in their neighbours' inputs)`, () => {
      const n = 40;
      const { config, clients } = fixture({ n, k: 16, tFraction: 0.55, d: 100, seed: `drop-${fraction}` });
      const ids = clients.map((client) => client.id);
      const dropouts = dropEvery(ids, Math.round(fraction * n), 2);
      const report = simulateSecAgg({ config, clients, randomFor: randomFor(`drop-${fraction}`), dropouts });
      expect(report.result.survivors).toHaveLength(n - dropouts.size);
      expect(report.result.droppedAfterSharing).toEqual([...dropouts.keys()].sort((a, b) => a - b));
      const error = maxAbsDifference(report.result.sum, plainSum(clients, report.result.survivors));
      expect(error).toBeLessThanOrEqual(report.result.errorBound);
    });
  }

  test('clients that drop at every round: before advertising, before sharing, before masking, before unmasking', () => {
    const { config, clients } = fixture({ n: 30, k: 14, tFraction: 0.55, d: 50, seed: 'every-round' });
    const ids = clients.map((client) => client.id);
    const dropouts = new Map<SecAggClientId, DropoutRound>([
      [ids[0]!, 0],
      [ids[7]!, 1],
      [ids[14]!, 2],
      [ids[21]!, 3],
    ]);
    const report = simulateSecAgg({ config, clients, randomFor: randomFor('every-round'), dropouts });
    // A client that sent its masked input but not its shares is still in the sum: its self mask comes from its neighbours.
    expect(report.result.survivors).toContain(ids[21]);
    expect(report.result.survivors).not.toContain(ids[14]);
    expect(report.result.droppedAfterSharing).toEqual([ids[14]]);
    expect(maxAbsDifference(report.result.sum, plainSum(clients, report.result.survivors))).toBeLessThanOrEqual(report.result.errorBound);
  });
});

describe('abort below threshold', () => {
  test('the server aborts when fewer than minimumClients masked inputs arrive', () => {
    const { config, clients } = fixture({ n: 10, k: 6, d: 8, seed: 'abort', minimumClients: 8 });
    const dropouts = dropEvery(clients.map((client) => client.id), 3, 2);
    expectCodedError(() => simulateSecAgg({ config, clients, randomFor: randomFor('abort'), dropouts }), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, 'server round 2: 7 clients answered, below minimumClients 8');
  });

  test('the server aborts when a survivor\'s self-mask seed has fewer than t shares (t - 1 shares cannot unmask)', () => {
    // Complete graph of 5, t = 3: if only two clients answer round 3, every secret has two shares.
    const { config, clients } = fixture({ n: 5, k: 4, threshold: 3, d: 8, seed: 'few-shares' });
    const ids = clients.map((client) => client.id);
    const dropouts = new Map<SecAggClientId, DropoutRound>([
      [ids[0]!, 3],
      [ids[1]!, 3],
      [ids[2]!, 3],
    ]);
    expectCodedError(() => simulateSecAgg({ config, clients, randomFor: randomFor('few'), dropouts }), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, `round 3: client ${ids[0]}'s self-mask seed has 2 shares, below the threshold 3`);
  });

  test('a client aborts when fewer than t neighbours advertised keys', () => {
    const { config, clients } = fixture({ n: 7, k: 6, threshold: 5, d: 4, seed: 'client-abort', minimumClients: 5 });
    const ids = clients.map((client) => client.id);
    const dropouts = new Map<SecAggClientId, DropoutRound>([
      [ids[0]!, 0],
      [ids[1]!, 0],
    ]);
    expectCodedError(() => simulateSecAgg({ config, clients, randomFor: randomFor('client-abort'), dropouts }), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, 'round 1: 4 neighbours advertised keys, below the threshold 5');
  });

  test('a client aborts when fewer than t neighbours shared secrets', () => {
    const { config, clients } = fixture({ n: 7, k: 6, threshold: 5, d: 4, seed: 'client-abort-2', minimumClients: 5 });
    const ids = clients.map((client) => client.id);
    const dropouts = new Map<SecAggClientId, DropoutRound>([
      [ids[0]!, 1],
      [ids[1]!, 1],
    ]);
    expectCodedError(() => simulateSecAgg({ config, clients, randomFor: randomFor('client-abort-2'), dropouts }), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, 'round 2: 4 neighbours shared their secrets, below the threshold 5');
  });
});

describe('measurement', () => {
  test('with a clock the driver reports CPU time, and bytes count every message', () => {
    const { config, clients } = fixture({ n: 6, k: 4, d: 16, seed: 'clock' });
    let now = 0;
    const report = simulateSecAgg({ config, clients, randomFor: randomFor('clock'), clockMs: () => (now += 1) });
    expect(report.serverCpuMs).toBeGreaterThan(0);
    for (const traffic of report.clients.values()) {
      expect(traffic.cpuMs).toBeGreaterThan(0);
      // At least the masked input: header 37 + count 4 + 16 words + signature 64.
      expect(traffic.sentBytes).toBeGreaterThan(37 + 4 + 64 + 64);
      expect(traffic.receivedBytes).toBeGreaterThan(0);
    }
  });
});
