/** The communication graph, the threshold rule, the configuration checks, planning and message sizes. */
import { describe, expect, test } from 'vitest';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { SecAggClient } from '../../../src/fl/secagg/client.js';
import { checkSecAggConfig, secAggClientId, type SecAggClientId, type SecAggConfig } from '../../../src/fl/secagg/config.js';
import { SecAggError, SecAggErrorCode, isSecAggError } from '../../../src/fl/secagg/errors.js';
import { randomHararyGraph, suggestedNeighbourCount, thresholdFor } from '../../../src/fl/secagg/graph.js';
import { clientMessageBytes, serverMessageBytes, type ServerMessage } from '../../../src/fl/secagg/messages.js';
import { groupSessionId, planSecAgg } from '../../../src/fl/secagg/plan.js';
import { expandMask } from '../../../src/fl/secagg/prg.js';
import { shuffled, uniformBelow } from '../../../src/fl/secagg/random.js';
import { expectCodedError } from '../../coded-error.js';
import { bytes32, fixture } from './helpers.js';

describe('graph', () => {
  test('a random Harary graph is k-regular, symmetric, loop-free, and differs by seed', () => {
    const ids = Array.from({ length: 100 }, (_, index) => index);
    const graph = randomHararyGraph(ids, 20, seededNoiseSource('harary'));
    for (const [id, neighbours] of graph) {
      expect(neighbours).toHaveLength(20);
      expect(neighbours).not.toContain(id);
      for (const peer of neighbours) expect(graph.get(peer)).toContain(id);
    }
    expect(randomHararyGraph(ids, 20, seededNoiseSource('other')).get(secAggClientId(0))).not.toEqual(graph.get(secAggClientId(0)));
    const complete = randomHararyGraph([1, 2, 3, 4], 3, seededNoiseSource('complete'));
    expect(complete.get(secAggClientId(1))).toEqual([2, 3, 4]);
  });

  test('k and t suggestions', () => {
    expect(suggestedNeighbourCount(100)).toBe(20);
    expect(suggestedNeighbourCount(1000)).toBe(30);
    expect(suggestedNeighbourCount(5)).toBe(4);
    expect(thresholdFor(20, 0.6)).toBe(12);
    expect(thresholdFor(20, 0.3)).toBe(11);
    expectCodedError(() => suggestedNeighbourCount(1), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'clients an integer >= 2, got 1');
    expectCodedError(() => thresholdFor(20, 0), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'fraction in (0, 1], got 0');
  });

  test('bad graphs are refused', () => {
    const random = seededNoiseSource('bad');
    expectCodedError(() => randomHararyGraph([1], 1, random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'clients at least 2, got 1');
    expectCodedError(() => randomHararyGraph([1, 1, 2], 2, random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'ids distinct');
    expectCodedError(() => randomHararyGraph([1, 2, 3, 4, 5, 6], 3, random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'k an even integer in 2..5, or 5, got 3');
    expectCodedError(() => secAggClientId(-1), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'id an integer in 0..4294967294, got -1');
  });
});

describe('configuration', () => {
  const { config, clients } = fixture({ n: 6, k: 4, d: 3, seed: 'config' });
  const ids = clients.map((client) => client.id);
  const withGraph = (edit: (graph: Map<SecAggClientId, SecAggClientId[]>) => void): SecAggConfig => {
    const graph = new Map([...config.graph].map(([id, peers]) => [id, [...peers]]));
    edit(graph);
    return { ...config, graph };
  };
  const cases: [string, SecAggConfig, string][] = [
    ['session', { ...config, sessionId: new Uint8Array(5) }, 'sessionId length 32 bytes, got 5'],
    ['roster size', { ...config, roster: new Map([...config.roster].slice(0, 1)) }, 'roster size in 2..10000, got 1'],
    ['roster key', { ...config, roster: new Map([...config.roster].map(([id, key], index) => [id, index === 0 ? key.slice(1) : key])) }, "Ed25519 key length 32 bytes, got 31"],
    ['missing neighbours', withGraph((graph) => graph.delete(ids[0]!)), 'the neighbours of client'],
    ['irregular', withGraph((graph) => graph.get(ids[1]!)!.pop()), 'a regular graph'],
    ['self loop', withGraph((graph) => graph.set(ids[0]!, [...graph.get(ids[0]!)!.slice(0, 3), ids[0]!].sort((a, b) => a - b))), 'another roster client'],
    ['unsorted', withGraph((graph) => graph.get(ids[0]!)!.reverse()), 'sorted ascending without repeats'],
    ['one-sided', withGraph((graph) => {
      const peers = graph.get(ids[0]!)!;
      const outsider = ids.find((id) => id !== ids[0] && !peers.includes(id))!;
      graph.set(ids[0]!, [...peers.slice(1), outsider].sort((a, b) => a - b));
    }), 'listed at both ends'],
    ['extra graph node', withGraph((graph) => graph.set(secAggClientId(999), [])), 'graph size 6 (the roster size), got 7'],
    ['threshold too low', { ...config, threshold: 2 }, 'threshold t an integer with k/2 < t <= k = 4, got 2'],
    ['threshold too high', { ...config, threshold: 5 }, 'got 5'],
    ['minimum', { ...config, minimumClients: 2 }, 'minimumClients an integer in t..n = 3..6, got 2'],
    ['dimension', { ...config, dimension: 0 }, 'dimension an integer in 1..67108864, got 0'],
  ];
  for (const [name, bad, message] of cases) {
    test(`refuses: ${name}`, () => {
      expectCodedError(() => checkSecAggConfig(bad), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, message);
    });
  }

  test('an empty graph (k = 0) and a wrong client setup are refused', () => {
    const roster = new Map([...config.roster].slice(0, 2));
    const empty: SecAggConfig = { ...config, roster, graph: new Map([...roster.keys()].map((id) => [id, []])), threshold: 1, minimumClients: 1 };
    expectCodedError(() => checkSecAggConfig(empty), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'neighbour count k in 1..1000, got 0');
    const base = { config, random: seededNoiseSource('c'), signingKey: clients[0]!.signingKey, input: clients[0]!.input };
    expectCodedError(() => new SecAggClient({ ...base, id: secAggClientId(5000) }), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'id a roster client, got 5000');
    expectCodedError(() => new SecAggClient({ ...base, id: clients[1]!.id }), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'the private half of its roster key');
    expectCodedError(() => new SecAggClient({ ...base, id: clients[0]!.id, input: new Float32Array(2) }), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'input length 3, got 2');
    expectCodedError(() => new SecAggClient({ ...base, id: clients[0]!.id, input: Float32Array.of(0, Number.POSITIVE_INFINITY, 0) }), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'input coordinate 1 a finite number, got Infinity');
  });

  test('planning builds a checked configuration per group and needs every member\'s key', () => {
    const planned = planSecAgg({ sessionId: bytes32('plan'), roster: config.roster, members: ids, dimension: 10, clipRange: 2, thresholdFraction: 0.6, random: seededNoiseSource('plan') });
    expect(planned.threshold).toBe(thresholdFor(5, 0.6));
    expect(planned.graph.get(ids[0]!)).toHaveLength(5);
    expectCodedError(
      () => planSecAgg({ sessionId: bytes32('plan'), roster: config.roster, members: [...ids, secAggClientId(77)], dimension: 10, clipRange: 2, thresholdFraction: 0.6, random: seededNoiseSource('plan') }),
      SecAggError,
      SecAggErrorCode.ERR_SECAGG_PARAMETER,
      'the roster key of client 77 present, got missing',
    );
    expect(groupSessionId(bytes32('s'), 0)).not.toEqual(groupSessionId(bytes32('s'), 1));
  });
});

describe('primitives', () => {
  test('the PRG is the AES-256-CTR keystream: deterministic per seed, different across seeds, prefix-stable', () => {
    const a = expandMask(bytes32('seed a'), 1000);
    expect(expandMask(bytes32('seed a'), 1000)).toEqual(a);
    expect(expandMask(bytes32('seed a'), 10)).toEqual(a.slice(0, 10));
    expect(expandMask(bytes32('seed b'), 1000)).not.toEqual(a);
    expect(() => expandMask(new Uint8Array(16), 4)).toThrow(RangeError);
  });

  test('uniform draws and shuffles stay in range', () => {
    const random = seededNoiseSource('uniform');
    const counts = new Array<number>(3).fill(0);
    for (let draw = 0; draw < 3000; draw++) counts[uniformBelow(random, 3)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(900);
    expect(shuffled([1, 2, 3, 4, 5], random).sort()).toEqual([1, 2, 3, 4, 5]);
    // A bound that leaves almost half the u32 range unused forces rejections.
    for (let draw = 0; draw < 50; draw++) expect(uniformBelow(random, 2 ** 31 + 1)).toBeLessThan(2 ** 31 + 1);
  });

  test('message sizes follow the encoding', () => {
    const session = bytes32('sizes');
    const request: ServerMessage = { kind: 'unmaskRequest', sessionId: session, round: 3, survivors: [secAggClientId(1), secAggClientId(2)], dropped: [secAggClientId(3)] };
    expect(serverMessageBytes(request)).toBe(33 + 8 + 12);
    const forwarded: ServerMessage = { kind: 'forwardedShares', sessionId: session, round: 2, shares: [{ sender: secAggClientId(1), ciphertext: new Uint8Array(90) }] };
    expect(serverMessageBytes(forwarded)).toBe(33 + 4 + 98);
    const masked = { kind: 'maskedInput' as const, round: 2 as const, sessionId: session, sender: secAggClientId(1), masked: new Uint32Array(10), signature: new Uint8Array(64) };
    expect(clientMessageBytes(masked)).toBe(37 + 4 + 40 + 64);
    expect(isSecAggError(new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, 'x'), SecAggErrorCode.ERR_SECAGG_ROUND)).toBe(true);
    expect(isSecAggError(new Error('x'))).toBe(false);
  });
});
