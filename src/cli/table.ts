import type { TwinReport } from '../twin/report.js';
import type { Summary } from '../twin/stats.js';

/** Lays out rows under a header, the first column left-aligned and the rest right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`;
}

const show = (value: number | null, digits = 1): string => (value === null ? 'n/a' : value.toFixed(digits));
const percent = (value: number | null, digits = 2): string => (value === null ? 'n/a' : `${(value * 100).toFixed(digits)} %`);
const triple = (s: Summary): string => `${show(s.p50)} / ${show(s.p95)} / ${show(s.max)}`;

/** The rows of the recovery table, one value per report. */
export function reportRows(reports: readonly TwinReport[]): string[][] {
  const row = (label: string, pick: (r: TwinReport) => string): string[] => [label, ...reports.map(pick)];
  return [
    row('recovery ms p50/p95/max', (r) => triple(r.recoveryMs)),
    row('recovery samples', (r) => String(r.recoveryMs.count)),
    row('recovery floor ms p50/p95/max', (r) => triple(r.recoveryFloorMs)),
    row('recovery above floor ms p50/p95/max', (r) => triple(r.recoveryAboveFloorMs)),
    row('recovery floors clamped', (r) => String(r.floorClamped)),
    row('outage ms p50/p95/max', (r) => triple(r.outageMs)),
    row('detection ms p50/p95/max', (r) => triple(r.detectMs)),
    row('heal recovery ms p95', (r) => show(r.healRecoveryMs.p95)),
    row('delivery steady', (r) => percent(r.deliveryRatio.steady, 3)),
    row('delivery during faults', (r) => percent(r.deliveryRatio.duringFault)),
    row('transient loops', (r) => String(r.transientLoops)),
    row('flows affected/partitioned/unrecovered', (r) => `${r.affectedFlows} / ${r.partitionedFlows} / ${r.unrecoveredFlows}`),
    row('control overhead B/node/s', (r) => show(r.overheadBytesPerNodeS, 0)),
    row('control overhead B/link/s', (r) => show(r.overheadBytesPerLinkS, 0)),
    row('alternate coverage', (r) => percent(r.alternateCoverage, 1)),
    row('oracle missing/mismatched', (r) => (r.oracle === null ? 'off' : `${r.oracle.missing} / ${r.oracle.mismatched} of ${r.oracle.pairs}`)),
    row('path stretch (metric)', (r) => show(r.oracle?.stretchMean ?? null, 3)),
    ...securityRows(reports, row),
    ...selfHealingRows(reports, row),
    row('events', (r) => String(r.events)),
    row('wall time s', (r) => show(r.wallMs / 1000)),
    row('events per s', (r) => String(r.eventsPerS)),
  ];
}

/** Rows of the secure link layer, shown only when some report ran with it. */
function securityRows(reports: readonly TwinReport[], row: (label: string, pick: (r: TwinReport) => string) => string[]): string[][] {
  if (reports.every((r) => r.security === undefined)) return [];
  const pick = (show: (s: NonNullable<TwinReport['security']>) => string) => (r: TwinReport): string => (r.security === undefined ? 'off' : show(r.security));
  return [
    row('secured links', pick((s) => `${s.securedLinks} of ${s.links}`)),
    row('handshakes completed/refused', pick((s) => `${s.handshakesCompleted} / ${s.handshakesRefused}`)),
    row('certificates refused', pick((s) => String(s.credentialsRefused))),
    row('nodes without a session', pick((s) => (s.isolatedNodes.length === 0 ? 'none' : s.isolatedNodes.join(', ')))),
  ];
}

/** Rows of the MAPE-K loops, shown only when some report ran with them. */
function selfHealingRows(reports: readonly TwinReport[], row: (label: string, pick: (r: TwinReport) => string) => string[]): string[][] {
  if (reports.every((r) => r.selfHealing === undefined)) return [];
  const pick = (show: (s: NonNullable<TwinReport['selfHealing']>) => string) => (r: TwinReport): string => (r.selfHealing === undefined ? 'off' : show(r.selfHealing));
  return [
    row('MAPE-K incidents opened', pick((s) => String(s.incidentsOpened))),
    row('MAPE-K actions started/succeeded/failed', pick((s) => `${s.actionsStarted} / ${s.actionsSucceeded} / ${s.actionsFailed}`)),
    row('nodes quarantined (seed:node)', pick((s) => (s.quarantinedNodes.length === 0 ? 'none' : s.quarantinedNodes.join(', ')))),
  ];
}

/** The recovery table of one report or of several profiles side by side. */
export function formatReports(reports: readonly TwinReport[]): string {
  const first = reports[0]!;
  const title = `scenario ${first.scenario}: ${first.nodes} nodes, ${first.links} links, seeds ${first.seeds.join(',')}\n`;
  return title + renderTable(['', ...reports.map((r) => r.profile)], reportRows(reports));
}
