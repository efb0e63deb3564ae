import { describe, expect, it } from 'vitest';
import { formatReports, renderTable, reportRows } from '../../src/cli/table.js';
import { buildReport } from '../../src/twin/report.js';
import { seedResult } from '../twin/fixtures.js';

/** The value column of the row labelled `label`. */
function cell(rows: readonly (readonly string[])[], label: string): string | undefined {
  return rows.find((row) => row[0] === label)?.[1];
}

describe('reportRows', () => {
  const measured = buildReport(
    'ring',
    'fast',
    [
      seedResult({
        recoveryMs: [300, 100, 200],
        recoveryFloorMs: [150, 100, 120],
        floorClamped: 1,
        steadySent: 10,
        steadyDelivered: 10,
        oracle: { pairs: 12, missing: 1, mismatched: 2, stretchMean: 1.25 },
      }),
    ],
    1000,
  );

  it('shows the recovery floor and what lies above it next to the recovery times', () => {
    const rows = reportRows([measured]);
    expect(cell(rows, 'recovery ms p50/p95/max')).toBe('200.0 / 300.0 / 300.0');
    expect(cell(rows, 'recovery floor ms p50/p95/max')).toBe('120.0 / 150.0 / 150.0');
    // 150, 0 and 80 above their floors.
    expect(cell(rows, 'recovery above floor ms p50/p95/max')).toBe('80.0 / 150.0 / 150.0');
    expect(cell(rows, 'recovery floors clamped')).toBe('1');
    expect(cell(rows, 'oracle missing/mismatched')).toBe('1 / 2 of 12');
    expect(cell(rows, 'path stretch (metric)')).toBe('1.250');
    expect(cell(rows, 'delivery steady')).toBe('100.000 %');
  });

  it('writes n/a for what was not measured and "off" for a skipped oracle', () => {
    const rows = reportRows([buildReport('empty', 'fast', [seedResult({ measuredS: 0 })], 0)]);
    expect(cell(rows, 'recovery floor ms p50/p95/max')).toBe('n/a / n/a / n/a');
    expect(cell(rows, 'recovery above floor ms p50/p95/max')).toBe('n/a / n/a / n/a');
    expect(cell(rows, 'delivery steady')).toBe('n/a');
    expect(cell(rows, 'control overhead B/node/s')).toBe('n/a');
    expect(cell(rows, 'oracle missing/mismatched')).toBe('off');
    expect(cell(rows, 'path stretch (metric)')).toBe('n/a');
  });

  it('puts several profiles side by side under one title', () => {
    const text = formatReports([measured, { ...measured, profile: 'rfc8966' }]);
    expect(text.split('\n')[0]).toBe('scenario ring: 4 nodes, 5 links, seeds 1');
    expect(text).toMatch(/^recovery floors clamped +1 +1$/m);
  });
});

describe('renderTable', () => {
  it('pads a row shorter than the header', () => {
    expect(renderTable(['k', 'v'], [['a']])).toBe('k  v\n-  -\na\n');
  });
});

describe('security rows', () => {
  it('appear only when a report ran with the secure layer', () => {
    const base = buildReport('ring', 'fast', [seedResult({})], 1000);
    expect(reportRows([base]).map((r) => r[0])).not.toContain('secured links');
    const secured = { ...base, security: { securedLinks: 9, links: 10, handshakesCompleted: 20, handshakesRefused: 3, credentialsRefused: 2, framesRefused: 0, peersDropped: 0, svidRenewals: 0, isolatedNodes: [4] } };
    const rows = reportRows([secured, base]);
    expect(rows.find((r) => r[0] === 'secured links')).toEqual(['secured links', '9 of 10', 'off']);
    expect(rows.find((r) => r[0] === 'nodes without a session')).toEqual(['nodes without a session', '4', 'off']);
    expect(reportRows([{ ...secured, security: { ...secured.security, isolatedNodes: [] } }]).find((r) => r[0] === 'nodes without a session')).toEqual(['nodes without a session', 'none']);
  });
});

describe('self-healing rows', () => {
  it('appear only when a report ran with the MAPE-K loops, with the quarantined nodes by seed', () => {
    const base = buildReport('ring', 'fast', [seedResult({})], 1000);
    expect(reportRows([base]).map((r) => r[0])).not.toContain('MAPE-K incidents opened');
    const summary = { windows: 10, incidentsOpened: 4, actionsStarted: 3, actionsSucceeded: 2, actionsFailed: 1, actionsRefused: 0, quarantinedNodes: [7] };
    const healed = buildReport('ring', 'fast', [seedResult({ seed: 5, selfHealing: summary }), seedResult({ seed: 6, selfHealing: { ...summary, quarantinedNodes: [] } })], 1000);
    expect(healed.selfHealing).toEqual({ windows: 20, incidentsOpened: 8, actionsStarted: 6, actionsSucceeded: 4, actionsFailed: 2, actionsRefused: 0, quarantinedNodes: ['5:7'] });
    const rows = reportRows([healed, base]);
    expect(rows.find((r) => r[0] === 'MAPE-K actions started/succeeded/failed')).toEqual(['MAPE-K actions started/succeeded/failed', '6 / 4 / 2', 'off']);
    expect(rows.find((r) => r[0] === 'nodes quarantined (seed:node)')).toEqual(['nodes quarantined (seed:node)', '5:7', 'off']);
    const none = buildReport('ring', 'fast', [seedResult({ selfHealing: { ...summary, quarantinedNodes: [] } })], 1000);
    expect(reportRows([none]).find((r) => r[0] === 'nodes quarantined (seed:node)')).toEqual(['nodes quarantined (seed:node)', 'none']);
  });
});
