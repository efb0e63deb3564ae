import { describe, expect, it } from 'vitest';
import { buildReport, reportJson } from '../../src/twin/report.js';
import { seedResult } from './fixtures.js';


const first = seedResult({
  seed: 7,
  recoveryMs: [300.04, 100.26],
  recoveryFloorMs: [150.04, 100.26],
  outageMs: [50],
  detectMs: [120, 130],
  healRecoveryMs: [900],
  steadySent: 100,
  steadyDelivered: 100,
  faultSent: 40,
  faultDelivered: 30,
  transientLoops: 1,
  affectedFlows: 2,
  partitionedFlows: 1,
  unrecoveredFlows: 0,
  floorClamped: 1,
  controlBytes: 4000,
  alternates: { withAlternate: 3, reachable: 12 },
  oracle: { pairs: 12, missing: 1, mismatched: 0, stretchMean: 1.25 },
  faults: [{ atMs: 5000, kind: 'linkCut', target: '0-1', affectedFlows: 2 }],
  timeline: [{ tS: 10, sent: 5, delivered: 5 }],
  events: 1500,
  wallMs: 10,
  topology: { positions: [[0, 0], [1, 1], [0, 1], [1, 0]], edges: [[0, 1]] },
});
const second = seedResult({
  seed: 8,
  recoveryMs: [200.05],
  recoveryFloorMs: [120.01],
  outageMs: [70],
  detectMs: [110],
  healRecoveryMs: [],
  steadySent: 100,
  steadyDelivered: 98,
  faultSent: 60,
  faultDelivered: 60,
  transientLoops: 0,
  affectedFlows: 3,
  partitionedFlows: 0,
  unrecoveredFlows: 1,
  floorClamped: 2,
  controlBytes: 2000,
  alternates: { withAlternate: 6, reachable: 12 },
  oracle: { pairs: 12, missing: 0, mismatched: 2, stretchMean: 1.5 },
  faults: [
    { atMs: 6000, kind: 'nodeDown', target: 'node 2', affectedFlows: 1 },
    { atMs: 7000, kind: 'flap', target: '1-2', affectedFlows: 0 },
  ],
  timeline: [{ tS: 10, sent: 6, delivered: 4 }],
  events: 500,
  wallMs: 20,
  topology: { positions: null, edges: [[1, 2]] },
});

describe('buildReport', () => {
  const report = buildReport('two-seeds', 'fast', [first, second], 400);

  it('names the scenario, the first seed and every seed', () => {
    expect(report.scenario).toBe('two-seeds');
    expect(report.profile).toBe('fast');
    expect(report.seed).toBe(7);
    expect(report.seeds).toEqual([7, 8]);
    expect(report.nodes).toBe(4);
    expect(report.links).toBe(5);
  });

  it('pools the samples of both seeds before summarising', () => {
    expect(report.recoveryMs).toEqual({ count: 3, p50: 200.1, p95: 300, max: 300, mean: 200.1 });
    expect(report.recoveryFloorMs).toEqual({ count: 3, p50: 120, p95: 150, max: 150, mean: 123.4 });
    // 300.04 - 150.04, 100.26 - 100.26 and 200.05 - 120.01, pairing each sample with its own floor.
    expect(report.recoveryAboveFloorMs).toEqual({ count: 3, p50: 80, p95: 150, max: 150, mean: 76.7 });
    expect(report.outageMs).toEqual({ count: 2, p50: 50, p95: 70, max: 70, mean: 60 });
    expect(report.detectMs).toEqual({ count: 3, p50: 120, p95: 130, max: 130, mean: 120 });
    expect(report.healRecoveryMs).toEqual({ count: 1, p50: 900, p95: 900, max: 900, mean: 900 });
    expect(report.recoverySamplesMs).toEqual([100.3, 200.1, 300]);
  });

  it('sums counts and computes ratios over the sums', () => {
    expect(report.deliveryRatio).toEqual({ steady: 0.99, duringFault: 0.9 });
    expect(report.transientLoops).toBe(1);
    expect(report.affectedFlows).toBe(5);
    expect(report.partitionedFlows).toBe(1);
    expect(report.unrecoveredFlows).toBe(1);
    expect(report.floorClamped).toBe(3);
    // 6000 control bytes over 2 seeds x 4 nodes x 10 s, and over 2 x 5 links x 10 s.
    expect(report.overheadBytesPerNodeS).toBe(75);
    expect(report.overheadBytesPerLinkS).toBe(60);
    expect(report.alternateCoverage).toBe(0.375);
  });

  it('sums the oracle counts', () => {
    expect(report.oracle).toMatchObject({ pairs: 24, missing: 1, mismatched: 2 });
  });

  it('labels each fault with its seed, in seed order', () => {
    expect(report.faults).toEqual([
      { atMs: 5000, kind: 'linkCut', target: '0-1', affectedFlows: 2, seed: 7 },
      { atMs: 6000, kind: 'nodeDown', target: 'node 2', affectedFlows: 1, seed: 8 },
      { atMs: 7000, kind: 'flap', target: '1-2', affectedFlows: 0, seed: 8 },
    ]);
  });

  it('keeps the first seed timeline and topology, and totals the events', () => {
    expect(report.timeline).toEqual(first.timeline);
    expect(report.topology).toEqual(first.topology);
    expect(report.events).toBe(2000);
    expect(report.wallMs).toBe(400);
    expect(report.eventsPerS).toBe(5000);
  });

  it('rounds the wall time and gives 0 events/s for a zero wall time', () => {
    expect(buildReport('x', 'fast', [first], 12.6).wallMs).toBe(13);
    expect(buildReport('x', 'fast', [first], 0).eventsPerS).toBe(0);
  });

  it('gives nulls where nothing was measured', () => {
    const empty = buildReport('empty', 'rfc8966', [seedResult({ measuredS: 0 })], 1);
    expect(empty.deliveryRatio).toEqual({ steady: null, duringFault: null });
    expect(empty.overheadBytesPerNodeS).toBeNull();
    expect(empty.overheadBytesPerLinkS).toBeNull();
    expect(empty.alternateCoverage).toBeNull();
    expect(empty.oracle).toBeNull();
    expect(empty.recoveryMs).toEqual({ count: 0, p50: null, p95: null, max: null, mean: null });
    expect(empty.recoveryFloorMs).toEqual(empty.recoveryMs);
    expect(empty.recoveryAboveFloorMs).toEqual(empty.recoveryMs);
    expect(empty.recoverySamplesMs).toEqual([]);
  });

  it('refuses a seed whose floors do not pair up with its recovery samples', () => {
    const unpaired = seedResult({ seed: 9, recoveryMs: [100, 200], recoveryFloorMs: [50] });
    expect(() => buildReport('unpaired', 'fast', [first, unpaired], 1)).toThrow('buildReport: seed 9 has 2 recovery samples but 1 floors');
  });

  it('weights the stretch only by seeds that routed some pair, and has none when no seed did', () => {
    const unrouted = seedResult({ seed: 3, oracle: { pairs: 4, missing: 4, mismatched: 0, stretchMean: null } });
    expect(buildReport('some', 'fast', [unrouted, second], 1).oracle).toEqual({ pairs: 16, missing: 4, mismatched: 2, stretchMean: 1.5 });
    expect(buildReport('none', 'fast', [unrouted], 1).oracle).toEqual({ pairs: 4, missing: 4, mismatched: 0, stretchMean: null });
  });

  it('ignores seeds without an oracle check when pooling the oracle', () => {
    const mixed = buildReport('mixed', 'fast', [seedResult({ seed: 1 }), second], 1);
    expect(mixed.oracle).toEqual({ pairs: 12, missing: 0, mismatched: 2, stretchMean: 1.5 });
  });
});

describe('reportJson', () => {
  const report = buildReport('two-seeds', 'fast', [first, second], 400);

  it('keeps the wall-clock fields unless asked to be deterministic', () => {
    const parsed = JSON.parse(reportJson(report, false)) as { wallMs: number; eventsPerS: number };
    expect(parsed.wallMs).toBe(400);
    expect(parsed.eventsPerS).toBe(5000);
  });

  it('zeroes wallMs and eventsPerS when deterministic, and nothing else', () => {
    const text = reportJson(report, true);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(parsed.wallMs).toBe(0);
    expect(parsed.eventsPerS).toBe(0);
    expect(parsed.events).toBe(2000);
    expect({ ...parsed, wallMs: report.wallMs, eventsPerS: report.eventsPerS }).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('makes reports that differ only in wall time byte-identical', () => {
    const slow = buildReport('two-seeds', 'fast', [first, second], 99_999);
    expect(reportJson(slow, true)).toBe(reportJson(report, true));
    expect(reportJson(slow, false)).not.toBe(reportJson(report, false));
  });

  it('is two-space indented JSON ending in a newline', () => {
    const text = reportJson({ a: 1, wallMs: 5 }, true);
    expect(text).toBe('{\n  "a": 1,\n  "wallMs": 0\n}\n');
  });
});
