import { describe, expect, it } from 'vitest';
import type { NodeWindow } from '../../src/telemetry/collector.js';
import { TelemetryError, isTelemetryError } from '../../src/telemetry/errors.js';
import { linkFeatureNames, linkFeatureScaling, nodeFeatureNames, nodeFeatureScaling } from '../../src/telemetry/features.js';
import { FaultClass, faultClassNames, requiredLinkFeatures, requiredNodeFeatures, type TelemetryWindow } from '../../src/telemetry/types.js';
import { assembleWindow, checkWindow } from '../../src/telemetry/window.js';

describe('feature lists', () => {
  it('contain the features rules read by name, once each, each with a documented scaling', () => {
    for (const name of requiredNodeFeatures) expect(nodeFeatureNames).toContain(name);
    for (const name of requiredLinkFeatures) expect(linkFeatureNames).toContain(name);
    expect(new Set(nodeFeatureNames).size).toBe(nodeFeatureNames.length);
    expect(new Set(linkFeatureNames).size).toBe(linkFeatureNames.length);
    expect(Object.keys(nodeFeatureScaling)).toEqual([...nodeFeatureNames]);
    expect(Object.keys(linkFeatureScaling)).toEqual([...linkFeatureNames]);
  });

  it('name the fault classes in value order', () => {
    faultClassNames.forEach((name, value) => expect(FaultClass[name]).toBe(value));
  });
});

const nf = 2;
const lf = 1;

function nodeWindow(features: number[], links: [number, number][]): NodeWindow {
  return { startMs: 0, endMs: 1000, features: Float32Array.from(features), links: links.map(([link, value]) => ({ link, features: Float32Array.of(value) })) };
}

describe('assembleWindow', () => {
  it('puts node rows at their index and inbound link rows as directed links sorted by (from, to)', () => {
    // Links are named by edge: edge 10 joins 0-1, edge 11 joins 1-2, edge 12 an unknown peer.
    const peers: Record<number, Record<number, number | null>> = { 0: { 10: 1 }, 1: { 10: 0, 11: 2 }, 2: { 11: 1, 12: null } };
    const rows = [
      { alive: true, window: nodeWindow([0.1, 0.2], [[10, 0.5]]), peerOf: (l: number) => peers[0]![l] ?? null },
      { alive: false, window: null, peerOf: (l: number) => peers[1]![l] ?? null },
      { alive: true, window: nodeWindow([0.3, 0.4], [[11, 0.7], [12, 0.9]]), peerOf: (l: number) => peers[2]![l] ?? null },
    ];
    const w = assembleWindow(0, 1000, rows, nf, lf);
    expect(w.nodeCount).toBe(3);
    expect(Array.from(w.alive)).toEqual([1, 0, 1]);
    expect(Array.from(w.nodeFeatures)).toEqual([0.1, 0.2, 0, 0, 0.3, 0.4].map((x) => Math.fround(x)));
    // Node 0's inbound row is 1 -> 0; node 2's is 1 -> 2; the row with an unknown peer is left out.
    expect(Array.from(w.linkFrom)).toEqual([1, 1]);
    expect(Array.from(w.linkTo)).toEqual([0, 2]);
    expect(Array.from(w.linkFeatures)).toEqual([0.5, 0.7].map((x) => Math.fround(x)));
    expect(Array.from(w.nodeLabels)).toEqual([0, 0, 0]);
    expect(Array.from(w.linkLabels)).toEqual([0, 0]);
    expect(() => checkWindow(w, nf, lf, 'w')).not.toThrow();
  });
});

function validWindow(): TelemetryWindow {
  return {
    startMs: 0,
    endMs: 1000,
    nodeCount: 2,
    alive: Uint8Array.of(1, 1),
    linkFrom: Int32Array.of(0),
    linkTo: Int32Array.of(1),
    nodeFeatures: new Float32Array(2 * nf),
    linkFeatures: new Float32Array(lf),
    nodeLabels: Uint8Array.of(0, FaultClass.greyHole),
    linkLabels: Uint8Array.of(FaultClass.censorship),
  };
}

function refusal(window: TelemetryWindow): TelemetryError {
  try {
    checkWindow(window, nf, lf, 'window 3');
  } catch (error) {
    expect(isTelemetryError(error)).toBe(true);
    return error as TelemetryError;
  }
  throw new Error('expected a TelemetryError');
}

describe('checkWindow', () => {
  it('names the array whose length is wrong', () => {
    const cases: [Partial<TelemetryWindow>, string][] = [
      [{ alive: Uint8Array.of(1) }, 'window 3: expected alive of length 2, got 1'],
      [{ nodeLabels: new Uint8Array(3) }, 'expected nodeLabels of length 2, got 3'],
      [{ nodeFeatures: new Float32Array(3) }, 'expected nodeFeatures of length 4, got 3'],
      [{ linkTo: new Int32Array(0) }, 'expected linkTo of length 1, got 0'],
      [{ linkLabels: new Uint8Array(2) }, 'expected linkLabels of length 1, got 2'],
      [{ linkFeatures: new Float32Array(2) }, 'expected linkFeatures of length 1, got 2'],
    ];
    for (const [change, message] of cases) {
      const error = refusal({ ...validWindow(), ...change });
      expect(error.code).toBe('ERR_DATASET_SHAPE');
      expect(error.message).toContain(message);
    }
  });

  it('names a value out of range', () => {
    const cases: [Partial<TelemetryWindow>, string][] = [
      [{ endMs: 0 }, 'expected endMs > startMs, got 0..0'],
      [{ alive: Uint8Array.of(1, 2) }, 'alive[1]: expected 0 or 1, got 2'],
      [{ nodeLabels: Uint8Array.of(0, 10) }, 'nodeLabels[1]: expected a fault class 0..9, got 10'],
      [{ linkLabels: Uint8Array.of(200) }, 'linkLabels[0]: expected a fault class 0..9, got 200'],
      [{ nodeFeatures: Float32Array.of(0, Number.NaN, 0, 0) }, 'nodeFeatures[1]: expected a finite number, got NaN'],
      [{ linkFeatures: Float32Array.of(Number.POSITIVE_INFINITY) }, 'linkFeatures[0]: expected a finite number, got Infinity'],
      [{ linkFrom: Int32Array.of(1) }, 'link 0: expected two distinct nodes in 0..1, got 1 -> 1'],
      [{ linkTo: Int32Array.of(2) }, 'link 0: expected two distinct nodes in 0..1, got 0 -> 2'],
      [{ linkFrom: Int32Array.of(-1) }, 'link 0: expected two distinct nodes in 0..1, got -1 -> 1'],
    ];
    for (const [change, message] of cases) {
      const error = refusal({ ...validWindow(), ...change });
      expect(error.code).toBe('ERR_DATASET_VALUE');
      expect(error.message).toContain(message);
    }
  });
});
