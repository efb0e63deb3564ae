import type { FaultRecord } from './faults.js';
import type { TwinReport } from './report.js';
import type { Summary } from './stats.js';

/*
 * Renders a twin report (or a comparison of profiles) as one self-contained HTML page:
 * inline CSS and hand-drawn SVG, no scripts and no external resources, so the file can be
 * mailed or archived and still opens offline. Every number goes through `num`, which uses
 * fixed rounding instead of locale formatting, so the same report always yields the same bytes.
 */

/** What `twin run` (one report) or `twin compare` (one report per profile) hands to the renderer. */
export type ReportHtmlInput = TwinReport | { readonly profiles: Readonly<Record<string, TwinReport>> };

/** Stable codes of the errors this module throws. */
export type ReportHtmlErrorCode = 'ERR_REPORT_HTML_NO_PROFILES';

/** An input the renderer cannot draw, with a stable `code`. */
export class ReportHtmlError extends Error {
  override readonly name = 'ReportHtmlError';
  readonly code: ReportHtmlErrorCode;

  /** An error with a stable `code` and a message naming the function and the value. */
  constructor(code: ReportHtmlErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The fault table lists this many rows; a note counts the rest. */
export const faultRowsMax = 50;
/** Above this many edges the topology is drawn fainter, so dense graphs stay readable. */
export const denseEdgesMin = 2000;
/** The CDF switches to a log x axis when the profiles' largest recovery times differ by more than this factor. */
export const logScaleRatioMin = 10;
/** The header lists at most this many seeds by value. */
const seedsShownMax = 10;
/** Log axes start no lower than this (samples are rounded to 0.1 ms, so nothing smaller is meaningful). */
const logAxisMsMin = 0.1;

const palette = ['#1f6fb4', '#e6862a', '#2e9e44', '#8a56c2', '#8c564b', '#d45fb0', '#5f6b73', '#9a9a1f', '#17a2b8'];
const faultColour = '#d62728';
const chart = { width: 720, height: 320, left: 64, right: 16, top: 12, bottom: 48 } as const;
const topo = { size: 560, pad: 16 } as const;

type Named = readonly [name: string, report: TwinReport];
type Point = readonly [number, number];

/** A mapping from data values to pixels, with its tick values and how many decimals their labels need. */
interface Scale {
  readonly lo: number;
  readonly hi: number;
  readonly map: (value: number) => number;
  readonly ticks: readonly number[];
  readonly decimals: number;
}

/** Renders a run report or a `twin compare` result as one self-contained, deterministic HTML document. */
export function renderReportHtml(input: ReportHtmlInput): string {
  const profiles = profilesOf(input);
  const first = profiles[0]!;
  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>Twin report: ${esc(first[1].scenario)}</title>`,
    `<style>${css}</style></head>`,
    '<body>',
    headerHtml(profiles),
    summaryHtml(profiles),
    cdfHtml(profiles),
    deliveryHtml(profiles),
    topologyHtml(first[1]),
    faultsHtml(first),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function profilesOf(input: ReportHtmlInput): readonly Named[] {
  if (!('profiles' in input)) return [[input.profile, input]];
  const named = Object.entries(input.profiles);
  if (named.length === 0) throw new ReportHtmlError('ERR_REPORT_HTML_NO_PROFILES', 'renderReportHtml: expected 1 or more profiles, got 0');
  return named;
}

const css = [
  'body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:980px;padding:0 16px;color:#1d2329}',
  'h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5dbe0;padding-bottom:4px}',
  'dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.meta dt{color:#5f6b73}dl.meta dd{margin:0}',
  'table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{border:1px solid #d5dbe0;padding:3px 8px}',
  'td{text-align:right}th[scope=row]{text-align:left;font-weight:normal;color:#3b444c}thead th{background:#eef2f5}',
  'td.text{text-align:left}td.bad{color:#b00020;font-weight:600}',
  'svg{max-width:100%;height:auto;display:block;font-size:11px}svg text{fill:#3b444c}svg .label{font-size:12px}',
  '.grid{stroke:#e3e8ec;stroke-width:1}.frame{fill:none;stroke:#8a949c}.series{fill:none;stroke-width:1.75}',
  '.fault{stroke:#d62728;stroke-width:1;stroke-dasharray:4 3}.empty{font-size:14px}',
  '.edges{fill:none;stroke:#5f6b73;stroke-width:0.75}.cut{fill:none;stroke:#d62728;stroke-width:1.5}',
  '.nodes circle{fill:#1f6fb4}.marked circle{fill:#d62728}',
  'ul.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 18px}',
  '.swatch{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:6px}',
  '.swatch.dashed{background:repeating-linear-gradient(90deg,#d62728 0 4px,transparent 4px 7px)}',
  'p.note{color:#5f6b73;margin:6px 0}',
].join('\n');

// ---- text and numbers ---------------------------------------------------------------------

const escapes: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use in HTML element content and quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => escapes[ch]!);
}

/** `value` rounded to `decimals` with trailing zeros dropped; "n/a" for null or non-finite values; never "-0". */
export function num(value: number | null, decimals = 1): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  const scale = 10 ** decimals;
  const rounded = Math.round(value * scale) / scale;
  return String(rounded === 0 ? 0 : rounded);
}

/** A ratio (0..1) as a percentage with two decimals, or "n/a". */
function pct(ratio: number | null): string {
  return ratio === null ? 'n/a' : `${num(ratio * 100, 2)} %`;
}

/** A pixel coordinate, rounded to 0.1 px. */
function px(value: number): string {
  return num(value, 1);
}

function colour(index: number): string {
  return palette[index % palette.length]!;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
}

/** The seed a fault happened under; reports built before faults carried seeds count as the first seed. */
function seedOf(fault: FaultRecord, report: TwinReport): number {
  return (fault as FaultRecord & { readonly seed?: number }).seed ?? report.seed;
}

/** The faults of the report's first seed: the ones that happened on the timeline and topology it carries. */
function firstSeedFaults(report: TwinReport): readonly FaultRecord[] {
  return report.faults.filter((fault) => seedOf(fault, report) === report.seed);
}

// ---- header and tables --------------------------------------------------------------------

function headerHtml(profiles: readonly Named[]): string {
  const items: readonly (readonly [string, string])[] = [
    [profiles.length > 1 ? 'Profiles' : 'Profile', profiles.map(([name]) => name).join(', ')],
    ['Nodes', perProfile(profiles, (r) => String(r.nodes))],
    ['Links', perProfile(profiles, (r) => String(r.links))],
    ['Seeds', perProfile(profiles, (r) => seedList(r.seeds))],
    ['Events', perProfile(profiles, (r) => `${r.events} (${r.eventsPerS}/s)`)],
    ['Wall time', perProfile(profiles, (r) => `${num(r.wallMs / 1000, 2)} s`)],
  ];
  const rows = items.map(([term, value]) => `<dt>${term}</dt><dd>${esc(value)}</dd>`).join('');
  return `<header><h1>Twin report: ${esc(profiles[0]![1].scenario)}</h1><dl class="meta">${rows}</dl></header>`;
}

/** One value when every profile agrees, else "name: value" for each profile. */
function perProfile(profiles: readonly Named[], pick: (report: TwinReport) => string): string {
  const values = profiles.map(([, report]) => pick(report));
  if (values.every((value) => value === values[0])) return values[0]!;
  return profiles.map(([name], i) => `${name}: ${values[i]!}`).join('; ');
}

function seedList(seeds: readonly number[]): string {
  if (seeds.length <= seedsShownMax) return seeds.join(', ');
  return `${seeds.slice(0, seedsShownMax).join(', ')}, … (${seeds.length} seeds)`;
}

interface Row {
  readonly label: string;
  readonly cell: (report: TwinReport) => string;
  /** True when the value deserves attention (drawn in red). */
  readonly bad?: (report: TwinReport) => boolean;
}

type Oracle = NonNullable<TwinReport['oracle']>;

function statRows(name: string, pick: (report: TwinReport) => Summary, keys: readonly ('p50' | 'p95' | 'max')[]): Row[] {
  return keys.map((key) => ({ label: `${name} ${key} (ms)`, cell: (r) => num(pick(r)[key]) }));
}

function oracleRow(label: string, pick: (oracle: Oracle) => number | null, decimals: number): Row {
  return { label, cell: (r) => (r.oracle === null ? 'n/a' : num(pick(r.oracle), decimals)) };
}

/** An oracle count that should be zero: drawn in red otherwise. */
function oracleFaultRow(label: string, pick: (oracle: Oracle) => number): Row {
  return { ...oracleRow(label, pick, 0), bad: (r) => r.oracle !== null && pick(r.oracle) > 0 };
}

const summaryRows: readonly Row[] = [
  { label: 'Recovery samples', cell: (r) => String(r.recoveryMs.count) },
  ...statRows('Recovery', (r) => r.recoveryMs, ['p50', 'p95', 'max']),
  ...statRows('Recovery floor', (r) => r.recoveryFloorMs, ['p50', 'p95', 'max']),
  ...statRows('Recovery above floor', (r) => r.recoveryAboveFloorMs, ['p50', 'p95', 'max']),
  { label: 'Recovery floors clamped', cell: (r) => String(r.floorClamped) },
  ...statRows('Outage', (r) => r.outageMs, ['p50', 'p95', 'max']),
  ...statRows('Detection', (r) => r.detectMs, ['p50', 'p95', 'max']),
  ...statRows('Heal recovery', (r) => r.healRecoveryMs, ['p95']),
  { label: 'Delivery, steady', cell: (r) => pct(r.deliveryRatio.steady) },
  { label: 'Delivery, during faults', cell: (r) => pct(r.deliveryRatio.duringFault) },
  { label: 'Transient loops', cell: (r) => String(r.transientLoops), bad: (r) => r.transientLoops > 0 },
  { label: 'Affected flows', cell: (r) => String(r.affectedFlows) },
  { label: 'Partitioned flows', cell: (r) => String(r.partitionedFlows) },
  { label: 'Unrecovered flows', cell: (r) => String(r.unrecoveredFlows), bad: (r) => r.unrecoveredFlows > 0 },
  { label: 'Overhead (bytes per node per s)', cell: (r) => num(r.overheadBytesPerNodeS) },
  { label: 'Overhead (bytes per link per s)', cell: (r) => num(r.overheadBytesPerLinkS) },
  { label: 'Alternate coverage', cell: (r) => pct(r.alternateCoverage) },
  oracleRow('Oracle pairs', (o) => o.pairs, 0),
  oracleFaultRow('Oracle missing routes', (o) => o.missing),
  oracleFaultRow('Oracle mismatched routes', (o) => o.mismatched),
  oracleRow('Oracle stretch (mean)', (o) => o.stretchMean, 3),
];

function summaryHtml(profiles: readonly Named[]): string {
  const head = `<tr><th scope="col">Metric</th>${profiles.map(([name]) => `<th scope="col">${esc(name)}</th>`).join('')}</tr>`;
  const body = summaryRows.map((row) => {
    const cells = profiles.map(([, report]) => `<td${row.bad?.(report) === true ? ' class="bad"' : ''}>${esc(row.cell(report))}</td>`);
    return `<tr><th scope="row">${esc(row.label)}</th>${cells.join('')}</tr>`;
  });
  return section('summary', 'Summary', `<table class="summary"><thead>${head}</thead><tbody>${body.join('\n')}</tbody></table>`);
}

function faultsHtml([name, report]: Named): string {
  const title = `Faults (profile ${name}, all seeds)`;
  if (report.faults.length === 0) return section('faults', title, '<p class="note">No faults were injected.</p>');
  const head = ['#', 'At (s)', 'Kind', 'Target', 'Affected flows', 'Seed'].map((h) => `<th scope="col">${h}</th>`).join('');
  const rows = report.faults.slice(0, faultRowsMax).map((fault, i) => {
    const numbers = (...values: readonly string[]): string => values.map((v) => `<td>${v}</td>`).join('');
    const texts = `<td class="text">${esc(fault.kind)}</td><td class="text">${esc(fault.target)}</td>`;
    return `<tr>${numbers(String(i + 1), num(fault.atMs / 1000, 3))}${texts}${numbers(String(fault.affectedFlows), String(seedOf(fault, report)))}</tr>`;
  });
  const more = report.faults.length - faultRowsMax;
  const note = more > 0 ? `\n<p class="note">${more} more not shown (${report.faults.length} faults in all).</p>` : '';
  return section('faults', title, `<table class="faults"><thead><tr>${head}</tr></thead><tbody>${rows.join('\n')}</tbody></table>${note}`);
}

// ---- scales and axes ----------------------------------------------------------------------

/** The step of 1, 2 or 5 times a power of ten nearest above `raw`. */
function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].find((factor) => raw / magnitude <= factor * (1 + 1e-9))! * magnitude;
}

/** A linear scale from [lo, hi] (lo < hi) onto pixels [from, to], with about five round ticks. */
function linearScale(lo: number, hi: number, from: number, to: number): Scale {
  const step = niceStep((hi - lo) / 5);
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) ticks.push(i * step);
  const map = (value: number): number => from + ((value - lo) / (hi - lo)) * (to - from);
  return { lo, hi, map, ticks, decimals: Math.max(0, -Math.floor(Math.log10(step))) };
}

/** A log scale over whole decades [lo, hi] onto pixels [from, to]; values below lo are drawn at lo. */
function logScale(lo: number, hi: number, from: number, to: number): Scale {
  const [a, b] = [Math.round(Math.log10(lo)), Math.round(Math.log10(hi))];
  const ticks = Array.from({ length: b - a + 1 }, (_, i) => 10 ** (a + i));
  const map = (value: number): number => from + ((Math.log10(Math.max(value, lo)) - a) / (b - a)) * (to - from);
  return { lo, hi, map, ticks, decimals: Math.max(0, -a) };
}

function xRange(): readonly [number, number] {
  return [chart.left, chart.width - chart.right];
}

function yRange(): readonly [number, number] {
  return [chart.height - chart.bottom, chart.top];
}

function axesSvg(x: Scale, y: Scale, xLabel: string, yLabel: string): string {
  const [left, right] = xRange();
  const [bottom, top] = yRange();
  const xTicks = x.ticks.map((tick) => {
    const at = px(x.map(tick));
    return `<line class="grid" x1="${at}" y1="${top}" x2="${at}" y2="${bottom}"/><text x="${at}" y="${bottom + 16}" text-anchor="middle">${num(tick, x.decimals)}</text>`;
  });
  const yTicks = y.ticks.map((tick) => {
    const at = px(y.map(tick));
    return `<line class="grid" x1="${left}" y1="${at}" x2="${right}" y2="${at}"/><text x="${left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle">${num(tick, y.decimals)}</text>`;
  });
  const frame = `<rect class="frame" x="${left}" y="${top}" width="${right - left}" height="${bottom - top}"/>`;
  const xText = `<text class="label" x="${px((left + right) / 2)}" y="${chart.height - 8}" text-anchor="middle">${esc(xLabel)}</text>`;
  const yText = `<text class="label" transform="translate(14 ${px((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`;
  return [...xTicks, ...yTicks, frame, xText, yText].join('\n');
}

function chartSvg(label: string, content: readonly string[]): string {
  const open = `<svg viewBox="0 0 ${chart.width} ${chart.height}" width="${chart.width}" height="${chart.height}" role="img" aria-label="${esc(label)}">`;
  return [open, ...content, '</svg>'].join('\n');
}

function emptyText(text: string): string {
  const [left, right] = xRange();
  const [bottom, top] = yRange();
  return `<text class="empty" x="${px((left + right) / 2)}" y="${px((top + bottom) / 2)}" text-anchor="middle">${esc(text)}</text>`;
}

interface LegendEntry {
  readonly name: string;
  readonly colour: string;
  readonly dashed?: true;
}

function legendHtml(entries: readonly LegendEntry[]): string {
  const items = entries.map((entry) => {
    const swatch = entry.dashed === true ? '<span class="swatch dashed"></span>' : `<span class="swatch" style="background:${entry.colour}"></span>`;
    return `<li>${swatch}${esc(entry.name)}</li>`;
  });
  return `<ul class="legend">${items.join('')}</ul>`;
}

// ---- recovery-time CDF --------------------------------------------------------------------

/** The x scale of the CDF: linear from 0, or log over whole decades when the profiles' maxima differ by more than 10x. */
function cdfScale(sets: readonly (readonly number[])[]): { readonly scale: Scale; readonly log: boolean } {
  const maxima = sets.map((samples) => samples[samples.length - 1]!).filter((max) => max > 0);
  const hi = Math.max(1, ...maxima);
  const log = maxima.length > 1 && hi / Math.min(...maxima) > logScaleRatioMin;
  if (!log) {
    const step = niceStep(hi / 5);
    return { scale: linearScale(0, Math.ceil(hi / step - 1e-9) * step, ...xRange()), log };
  }
  const lowest = Math.min(...sets.map((samples) => samples.find((v) => v > 0)).filter((v) => v !== undefined));
  const lo = Math.max(logAxisMsMin, 10 ** Math.floor(Math.log10(lowest)));
  return { scale: logScale(lo, 10 ** Math.ceil(Math.log10(hi)), ...xRange()), log };
}

/** An ascending sample as a step line: the fraction of samples at or below each x. */
function cdfPath(samples: readonly number[], x: Scale, y: Scale): string {
  const parts = [`M${px(x.map(x.lo))} ${px(y.map(0))}`];
  samples.forEach((sample, i) => parts.push(`H${px(x.map(sample))}V${px(y.map((i + 1) / samples.length))}`));
  parts.push(`H${px(x.map(x.hi))}`);
  return parts.join('');
}

function cdfHtml(profiles: readonly Named[]): string {
  const series = profiles.map(([name, report], i) => ({ name, colour: colour(i), samples: report.recoverySamplesMs }));
  const drawn = series.filter((s) => s.samples.length > 0);
  const { scale: x, log } = cdfScale(drawn.map((s) => s.samples));
  const y = linearScale(0, 1, ...yRange());
  const paths = drawn.map((s) => `<path class="series" stroke="${s.colour}" d="${cdfPath(s.samples, x, y)}"/>`);
  const empty = drawn.length === 0 ? [emptyText('no recovery samples')] : [];
  const xLabel = log ? 'recovery time (ms, log scale)' : 'recovery time (ms)';
  const svg = chartSvg('Recovery time CDF', [axesSvg(x, y, xLabel, 'fraction of flows recovered'), ...paths, ...empty]);
  const legend = legendHtml(series.map((s) => ({ name: `${s.name} (${s.samples.length} samples)`, colour: s.colour })));
  return section('cdf', 'Recovery time CDF', `${svg}\n${legend}`);
}

// ---- delivery ratio over time -------------------------------------------------------------

type Timeline = TwinReport['timeline'];

/** Delivered / sent of one bin, capped at 1 (packets sent in one bin may arrive in the next). */
function binRatio(bin: Timeline[number]): number {
  return Math.min(1, bin.delivered / bin.sent);
}

/** The virtual seconds the timelines cover: the first bin's start to the last bin's end. */
function timeDomain(timelines: readonly Timeline[]): Point {
  const bins = timelines.flat();
  if (bins.length === 0) return [0, 1];
  return [bins.reduce((lo, bin) => Math.min(lo, bin.tS), Infinity), bins.reduce((hi, bin) => Math.max(hi, bin.tS), -Infinity) + 1];
}

/** One point per bin at its centre; bins that sent nothing break the line. */
function ratioPath(timeline: Timeline, x: Scale, y: Scale): string {
  let d = '';
  let pen = 'M';
  for (const bin of timeline) {
    if (bin.sent === 0) {
      pen = 'M';
      continue;
    }
    d += `${pen}${px(x.map(bin.tS + 0.5))} ${px(y.map(binRatio(bin)))}`;
    pen = 'L';
  }
  return d;
}

function faultMarkers(report: TwinReport, x: Scale): string[] {
  const [bottom, top] = yRange();
  return firstSeedFaults(report)
    .filter((fault) => fault.atMs / 1000 >= x.lo && fault.atMs / 1000 <= x.hi)
    .map((fault) => {
      const at = px(x.map(fault.atMs / 1000));
      const title = `${fault.kind} ${fault.target} at ${num(fault.atMs / 1000, 3)} s`;
      return `<line class="fault" x1="${at}" y1="${top}" x2="${at}" y2="${bottom}"><title>${esc(title)}</title></line>`;
    });
}

function deliveryHtml(profiles: readonly Named[]): string {
  const timelines = profiles.map(([, report]) => report.timeline);
  const sending = timelines.flat().filter((bin) => bin.sent > 0);
  const lowest = sending.reduce((low, bin) => Math.min(low, binRatio(bin)), 1);
  const x = linearScale(...timeDomain(timelines), ...xRange());
  const y = linearScale(Math.min(0.9, lowest), 1, ...yRange());
  const paths = profiles
    .map(([, report], i) => ({ d: ratioPath(report.timeline, x, y), colour: colour(i) }))
    .filter((line) => line.d !== '')
    .map((line) => `<path class="series" stroke="${line.colour}" d="${line.d}"/>`);
  const empty = sending.length === 0 ? [emptyText('no packets sent')] : [];
  const axes = axesSvg(x, y, 'virtual time (s)', 'delivered / sent per 1 s bin');
  const svg = chartSvg('Delivery ratio over time', [axes, ...faultMarkers(profiles[0]![1], x), ...paths, ...empty]);
  const entries: LegendEntry[] = profiles.map(([name], i) => ({ name, colour: colour(i) }));
  const legend = legendHtml([...entries, { name: `fault (seed ${profiles[0]![1].seed})`, colour: faultColour, dashed: true }]);
  return section('delivery', 'Delivery ratio over time', `${svg}\n${legend}`);
}

// ---- topology -----------------------------------------------------------------------------

/** `n` nodes evenly spaced on a circle in the unit square, node 0 at the top, clockwise. */
function circularLayout(n: number): Point[] {
  return Array.from({ length: n }, (_, i) => {
    const angle = (2 * Math.PI * i) / n - Math.PI / 2;
    return [0.5 + 0.45 * Math.cos(angle), 0.5 + 0.45 * Math.sin(angle)] as const;
  });
}

/** The nodes and links a fault target names: "a-b" (comma-separated for several links) or "node N". */
function parseTarget(target: string): { readonly nodes: number[]; readonly links: Point[] } {
  const node = /^node (\d+)$/.exec(target);
  if (node !== null) return { nodes: [Number(node[1]!)], links: [] };
  const links = target
    .split(',')
    .map((part) => /^(\d+)-(\d+)$/.exec(part.trim()))
    .filter((match) => match !== null)
    .map((match) => [Number(match[1]!), Number(match[2]!)] as const);
  return { nodes: links.flat(), links };
}

function topologyPoint(point: Point): string {
  const span = topo.size - 2 * topo.pad;
  return `${px(topo.pad + point[0] * span)} ${px(topo.pad + point[1] * span)}`;
}

/** The edges as one path of "move, line" pairs; edges naming an unknown node are skipped. */
function edgePath(edges: readonly (readonly [number, number])[], points: readonly Point[]): string {
  const parts: string[] = [];
  for (const [a, b] of edges) {
    const [p, q] = [points[a], points[b]];
    if (p !== undefined && q !== undefined) parts.push(`M${topologyPoint(p)}L${topologyPoint(q)}`);
  }
  return parts.join('');
}

function circles(nodes: readonly number[], points: readonly Point[], radius: number): string[] {
  return nodes.flatMap((node) => {
    const point = points[node];
    if (point === undefined) return [];
    const [cx, cy] = topologyPoint(point).split(' ');
    return [`<circle cx="${cx!}" cy="${cy!}" r="${px(radius)}"><title>node ${node}</title></circle>`];
  });
}

function topologyHtml(report: TwinReport): string {
  const { positions, edges } = report.topology;
  const points = positions ?? circularLayout(report.nodes);
  const targets = firstSeedFaults(report).map((fault) => parseTarget(fault.target));
  const marked = [...new Set(targets.flatMap((t) => t.nodes))].sort((a, b) => a - b);
  const radius = Math.min(4, Math.max(1, 60 / Math.sqrt(Math.max(1, points.length))));
  const opacity = edges.length > denseEdgesMin ? 0.15 : 0.6;
  const svg = [
    `<svg viewBox="0 0 ${topo.size} ${topo.size}" width="${topo.size}" height="${topo.size}" role="img" aria-label="Topology">`,
    `<path class="edges" stroke-opacity="${opacity}" d="${edgePath(edges, points)}"/>`,
    `<path class="cut" d="${edgePath(targets.flatMap((t) => t.links), points)}"/>`,
    `<g class="nodes">${circles(points.map((_, i) => i), points, radius).join('')}</g>`,
    `<g class="marked">${circles(marked, points, radius * 1.75).join('')}</g>`,
    '</svg>',
  ].join('\n');
  const layout = positions === null ? 'circular layout (the report has no node coordinates)' : 'node coordinates from the scenario';
  const note = `${report.nodes} nodes, ${edges.length} edges; ${layout}. Red: faulted links and their endpoints, crashed nodes (seed ${report.seed}).`;
  return section('topology', 'Topology', `${svg}\n<p class="note">${esc(note)}</p>`);
}
