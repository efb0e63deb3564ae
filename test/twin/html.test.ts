import { describe, expect, it } from 'vitest';
import type { FaultRecord } from '../../src/twin/faults.js';
import { ReportHtmlError, denseEdgesMin, esc, faultRowsMax, num, renderReportHtml } from '../../src/twin/html.js';
import type { TwinReport } from '../../src/twin/report.js';
import type { Summary } from '../../src/twin/stats.js';

const emptySummary: Summary = { count: 0, p50: null, p95: null, max: null, mean: null };

function summary(p50: number, p95: number, max: number): Summary {
  return { count: 3, p50, p95, max, mean: (p50 + p95 + max) / 3 };
}

/** A fault record as the report carries it: `buildReport` adds the seed it happened under. */
function fault(atMs: number, kind: string, target: string, seed = 1): FaultRecord {
  const record = { atMs, kind, target, affectedFlows: 2, seed };
  return record;
}

/** A small four-node ring run with one link cut and one crash, overridable field by field. */
function report(overrides: Partial<TwinReport> = {}): TwinReport {
  const base: TwinReport = {
    scenario: 'ring-4',
    seed: 1,
    seeds: [1, 2],
    profile: 'fast',
    nodes: 4,
    links: 4,
    recoveryMs: summary(12.5, 40, 41.2),
    recoveryFloorMs: summary(10, 22.5, 30),
    recoveryAboveFloorMs: summary(2.5, 17.5, 18.25),
    outageMs: summary(15, 45, 50),
    detectMs: summary(5, 9, 10),
    healRecoveryMs: summary(20, 30, 31),
    deliveryRatio: { steady: 0.995, duringFault: 0.8125 },
    transientLoops: 0,
    affectedFlows: 6,
    partitionedFlows: 1,
    unrecoveredFlows: 0,
    floorClamped: 3,
    overheadBytesPerNodeS: 123,
    overheadBytesPerLinkS: 61.5,
    alternateCoverage: 0.75,
    oracle: { pairs: 12, missing: 0, mismatched: 0, stretchMean: 1.125 },
    faults: [fault(2000, 'linkCut', '0-1'), fault(3000, 'nodeDown', 'node 2'), fault(2000, 'linkCut', '0-1', 2)],
    recoverySamplesMs: [10, 20],
    timeline: [
      { tS: 1, sent: 100, delivered: 100 },
      { tS: 2, sent: 100, delivered: 95 },
      { tS: 3, sent: 100, delivered: 99 },
    ],
    events: 5000,
    wallMs: 1234,
    eventsPerS: 4052,
    topology: {
      positions: [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
      ],
      edges: [
        [0, 1],
        [1, 2],
        [2, 3],
        [0, 3],
      ],
    },
  };
  return { ...base, ...overrides };
}

/** The text of one `<section id=...>` of the page. */
function sectionOf(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  expect(start).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</section>', start));
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** The `d` attribute of every path with the given class in `text`. */
function paths(text: string, cls: string): string[] {
  return [...text.matchAll(new RegExp(`<path class="${cls}"[^>]* d="([^"]*)"`, 'g'))].map((m) => m[1]!);
}

describe('renderReportHtml: document', () => {
  const html = renderReportHtml(report());

  it('is one self-contained document with an svg per chart', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.endsWith('</html>\n')).toBe(true);
    expect(count(html, '<svg')).toBe(3);
    expect(count(html, '</svg>')).toBe(3);
    for (const id of ['summary', 'cdf', 'delivery', 'topology', 'faults']) expect(count(html, `<section id="${id}">`)).toBe(1);
    expect(html).not.toMatch(/<script|https?:|src=|<link/i);
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('has a header naming scenario, profile, size, seeds, events and wall time', () => {
    expect(html).toContain('<h1>Twin report: ring-4</h1>');
    expect(html).toContain('<dt>Profile</dt><dd>fast</dd>');
    expect(html).toContain('<dt>Nodes</dt><dd>4</dd><dt>Links</dt><dd>4</dd>');
    expect(html).toContain('<dt>Seeds</dt><dd>1, 2</dd>');
    expect(html).toContain('<dt>Events</dt><dd>5000 (4052/s)</dd>');
    expect(html).toContain('<dt>Wall time</dt><dd>1.23 s</dd>');
  });

  it('summarises every metric with fixed number formats', () => {
    const table = sectionOf(html, 'summary');
    for (const row of [
      ['Recovery p50 (ms)', '12.5'],
      ['Recovery max (ms)', '41.2'],
      ['Recovery floor p50 (ms)', '10'],
      ['Recovery floor p95 (ms)', '22.5'],
      ['Recovery above floor max (ms)', '18.3'],
      ['Recovery floors clamped', '3'],
      ['Outage p95 (ms)', '45'],
      ['Detection p50 (ms)', '5'],
      ['Heal recovery p95 (ms)', '30'],
      ['Delivery, steady', '99.5 %'],
      ['Delivery, during faults', '81.25 %'],
      ['Partitioned flows', '1'],
      ['Overhead (bytes per link per s)', '61.5'],
      ['Alternate coverage', '75 %'],
      ['Oracle pairs', '12'],
      ['Oracle stretch (mean)', '1.125'],
    ]) {
      expect(table).toContain(`<th scope="row">${row[0]!}</th><td>${row[1]!}</td>`);
    }
    expect(table).not.toContain('class="bad"');
  });

  it('draws the CDF as a step line over a linear axis ending on a round tick', () => {
    const cdf = sectionOf(html, 'cdf');
    // x: 0..20 ms onto 64..704 px; y: 0..1 onto 272..12 px.
    expect(paths(cdf, 'series')).toEqual(['M64 272H384V142H704V12H704']);
    expect(cdf).toContain('recovery time (ms)</text>');
    expect(cdf).not.toContain('log scale');
    expect(cdf).toContain('fast (2 samples)');
  });

  it('marks faulted links and crashed nodes of the first seed in red on the topology', () => {
    const topology = sectionOf(html, 'topology');
    expect(topology).toContain('node coordinates from the scenario');
    expect(paths(topology, 'cut')).toEqual(['M16 16L544 16']);
    const marked = /<g class="marked">(.*?)<\/g>/.exec(topology)![1]!;
    expect(count(marked, '<circle')).toBe(3);
    expect(marked).toContain('<title>node 2</title>');
    expect(topology).toContain('stroke-opacity="0.6"');
  });

  it('lists faults of every seed in the table and marks only the first seed on the timeline', () => {
    const faults = sectionOf(html, 'faults');
    expect(count(faults, '<tr><td>')).toBe(3);
    expect(faults).toContain('<tr><td>2</td><td>3</td><td class="text">nodeDown</td><td class="text">node 2</td><td>2</td><td>1</td></tr>');
    expect(faults).not.toContain('more not shown');
    const delivery = sectionOf(html, 'delivery');
    expect(count(delivery, '<line class="fault"')).toBe(2);
    expect(delivery).toContain('<title>nodeDown node 2 at 3 s</title>');
    expect(delivery).toContain('fault (seed 1)');
  });
});

describe('renderReportHtml: comparing profiles', () => {
  const slow = report({ profile: 'slow', events: 9000, recoverySamplesMs: [30, 60, 90], unrecoveredFlows: 2 });
  const html = renderReportHtml({ profiles: { fast: report(), slow } });

  it('has one summary column, CDF path and legend entry per profile', () => {
    expect(html).toContain('<dt>Profiles</dt><dd>fast, slow</dd>');
    expect(html).toContain('<dt>Events</dt><dd>fast: 5000 (4052/s); slow: 9000 (4052/s)</dd>');
    expect(html).toContain('<th scope="col">Metric</th><th scope="col">fast</th><th scope="col">slow</th>');
    const cdf = sectionOf(html, 'cdf');
    expect(paths(cdf, 'series')).toHaveLength(2);
    expect(cdf).toContain('fast (2 samples)');
    expect(cdf).toContain('slow (3 samples)');
    expect(paths(sectionOf(html, 'delivery'), 'series')).toHaveLength(2);
    expect(sectionOf(html, 'delivery')).toContain('<li><span class="swatch"');
  });

  it('flags values that need attention', () => {
    expect(html).toContain('<th scope="row">Unrecovered flows</th><td>0</td><td class="bad">2</td>');
    const bad = report({ transientLoops: 3, oracle: { pairs: 4, missing: 1, mismatched: 2, stretchMean: null } });
    const page = renderReportHtml(bad);
    expect(page).toContain('<th scope="row">Transient loops</th><td class="bad">3</td>');
    expect(page).toContain('<th scope="row">Oracle missing routes</th><td class="bad">1</td>');
    expect(page).toContain('<th scope="row">Oracle mismatched routes</th><td class="bad">2</td>');
    expect(page).toContain('<th scope="row">Oracle stretch (mean)</th><td>n/a</td>');
  });

  it('switches the CDF to a log axis only when maxima differ by more than 10x', () => {
    const wide = renderReportHtml({ profiles: { a: report({ recoverySamplesMs: [0, 0.05, 20] }), b: report({ recoverySamplesMs: [300, 5000] }) } });
    const cdf = sectionOf(wide, 'cdf');
    expect(cdf).toContain('recovery time (ms, log scale)');
    for (const tick of ['0.1', '1', '10', '100', '1000', '10000']) expect(cdf).toContain(`text-anchor="middle">${tick}</text>`);
    // Samples below the axis start are drawn at its left edge; the decades 0.1..10000 span 640 px.
    expect(paths(cdf, 'series')[0]).toMatch(/^M64 272H64V185.3H64V98.7H358.5V12H704$/);
    const ten = renderReportHtml({ profiles: { a: report({ recoverySamplesMs: [1, 20] }), b: report({ recoverySamplesMs: [200] }) } });
    expect(sectionOf(ten, 'cdf')).not.toContain('log scale');
    const zero = renderReportHtml({ profiles: { a: report({ recoverySamplesMs: [0] }), b: report({ recoverySamplesMs: [5000] }) } });
    expect(sectionOf(zero, 'cdf')).not.toContain('log scale');
  });

  it('rejects a comparison without profiles', () => {
    expect(() => renderReportHtml({ profiles: {} })).toThrow(ReportHtmlError);
    try {
      renderReportHtml({ profiles: {} });
    } catch (error) {
      expect((error as ReportHtmlError).code).toBe('ERR_REPORT_HTML_NO_PROFILES');
      expect((error as Error).message).toBe('renderReportHtml: expected 1 or more profiles, got 0');
    }
  });
});

describe('renderReportHtml: edge cases', () => {
  it('escapes every text it places into the page', () => {
    const hostile = '<script>alert("x")</script> & \'co\'';
    const html = renderReportHtml({
      profiles: { [hostile]: report({ scenario: hostile, faults: [fault(1000, '<b>kind</b>', '<img src=x>')] }) },
    });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<img');
    expect(html).toContain('<h1>Twin report: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</h1>');
    expect(html).toContain('<td class="text">&lt;img src=x&gt;</td>');
    expect(esc(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('renders empty samples as n/a without NaN', () => {
    const empty = report({
      recoveryMs: emptySummary,
      recoveryFloorMs: emptySummary,
      recoveryAboveFloorMs: emptySummary,
      outageMs: emptySummary,
      detectMs: emptySummary,
      healRecoveryMs: emptySummary,
      deliveryRatio: { steady: null, duringFault: null },
      overheadBytesPerNodeS: null,
      overheadBytesPerLinkS: null,
      alternateCoverage: null,
      oracle: null,
      faults: [],
      recoverySamplesMs: [],
      timeline: [],
      seeds: [1],
      topology: { positions: null, edges: [] },
      nodes: 0,
    });
    const html = renderReportHtml(empty);
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
    expect(html).toContain('<th scope="row">Recovery p50 (ms)</th><td>n/a</td>');
    expect(html).toContain('<th scope="row">Recovery floor p95 (ms)</th><td>n/a</td>');
    expect(html).toContain('<th scope="row">Recovery above floor p95 (ms)</th><td>n/a</td>');
    expect(html).toContain('<th scope="row">Delivery, steady</th><td>n/a</td>');
    expect(html).toContain('<th scope="row">Oracle pairs</th><td>n/a</td>');
    expect(html).toContain('<th scope="row">Oracle missing routes</th><td>n/a</td>');
    expect(html).toContain('<th scope="row">Recovery samples</th><td>0</td>');
    expect(paths(sectionOf(html, 'cdf'), 'series')).toEqual([]);
    expect(html).toContain('no recovery samples');
    expect(html).toContain('no packets sent');
    expect(html).toContain('No faults were injected.');
    expect(count(html, '<svg')).toBe(3);
  });

  it('uses a circular layout when the topology has no positions', () => {
    const html = renderReportHtml(report({ topology: { positions: null, edges: [[0, 2]] } }));
    const topology = sectionOf(html, 'topology');
    expect(topology).toContain('circular layout');
    // Node 0 at the top, node 1 at the right, node 2 at the bottom: 16 + 528 * (0.5 +- 0.45).
    expect(topology).toContain('<circle cx="280" cy="42.4" r="4"><title>node 0</title>');
    expect(topology).toContain('<circle cx="517.6" cy="280" r="4"><title>node 1</title>');
    expect(paths(topology, 'edges')).toEqual(['M280 42.4L280 517.6']);
  });

  it('skips edges and marks naming nodes the topology does not have, and thins dense graphs', () => {
    const faults = [fault(1000, 'linkCut', '1-2,2-3'), fault(1500, 'partition', 'isolate 3'), fault(2000, 'nodeDown', 'node 99'), fault(2500, 'linkCut', '0-99')];
    const html = renderReportHtml(report({ faults, topology: { positions: [[0, 0], [1, 0], [1, 1], [0, 1]], edges: [[0, 1], [0, 9], [9, 0]] } }));
    const topology = sectionOf(html, 'topology');
    expect(paths(topology, 'edges')).toEqual(['M16 16L544 16']);
    expect(paths(topology, 'cut')).toEqual(['M544 16L544 544M544 544L16 544']);
    const marked = /<g class="marked">(.*?)<\/g>/.exec(topology)![1]!;
    expect([...marked.matchAll(/node (\d+)/g)].map((m) => m[1])).toEqual(['0', '1', '2', '3']);
    const dense = Array.from({ length: denseEdgesMin + 1 }, (_, i) => [i % 4, (i + 1) % 4] as const);
    expect(renderReportHtml(report({ topology: { positions: null, edges: dense } }))).toContain('stroke-opacity="0.15"');
  });

  it('breaks the delivery line at silent bins, caps ratios at 1 and widens the y axis for deep dips', () => {
    const timeline = [
      { tS: 10, sent: 10, delivered: 12 },
      { tS: 11, sent: 10, delivered: 5 },
      { tS: 12, sent: 0, delivered: 0 },
      { tS: 13, sent: 10, delivered: 10 },
    ];
    const faults = [fault(9000, 'linkCut', '0-1'), fault(11000, 'linkCut', '0-1'), fault(14500, 'linkCut', '0-1')];
    const delivery = sectionOf(renderReportHtml(report({ timeline, faults })), 'delivery');
    const [line] = paths(delivery, 'series');
    expect(count(line!, 'M')).toBe(2);
    expect(count(line!, 'L')).toBe(1);
    // y runs from 0.5 (the dip) to 1 with ticks every 0.1; x runs 10..14 s.
    expect(line).toBe('M144 12L304 272M624 12');
    expect(delivery).toContain('dominant-baseline="middle">0.5</text>');
    expect(count(delivery, '<line class="fault"')).toBe(1);
    expect(delivery).toContain('x1="224"');
  });

  it('shows at most the first fault rows and counts the rest', () => {
    const faults = Array.from({ length: faultRowsMax + 3 }, (_, i) => fault(i * 1000, 'linkCut', `${i}-${i + 1}`));
    const table = sectionOf(renderReportHtml(report({ faults })), 'faults');
    expect(count(table, '<tr><td>')).toBe(faultRowsMax);
    expect(table).toContain('3 more not shown (53 faults in all).');
  });

  it('abbreviates long seed lists', () => {
    const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
    expect(renderReportHtml(report({ seeds }))).toContain('<dt>Seeds</dt><dd>1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … (12 seeds)</dd>');
  });

  it('treats faults without a seed as the first seed', () => {
    // Asserted rather than annotated so the test keeps compiling once FaultRecord itself carries the seed.
    const legacy = { atMs: 2000, kind: 'linkCut', target: '2-3', affectedFlows: 1 } as FaultRecord;
    const html = renderReportHtml(report({ faults: [legacy] }));
    expect(count(sectionOf(html, 'delivery'), '<line class="fault"')).toBe(1);
    expect(sectionOf(html, 'faults')).toContain('<td>1</td><td>1</td></tr>');
  });

  it('is deterministic', () => {
    const input = { profiles: { fast: report(), slow: report({ profile: 'slow', recoverySamplesMs: [1, 2, 3000] }) } };
    const first = renderReportHtml(input);
    expect(renderReportHtml(input)).toBe(first);
    expect(renderReportHtml(JSON.parse(JSON.stringify(input)) as typeof input)).toBe(first);
  });
});

describe('num', () => {
  it('rounds with fixed rules and never prints NaN or -0', () => {
    expect(num(null)).toBe('n/a');
    expect(num(Number.NaN)).toBe('n/a');
    expect(num(Number.POSITIVE_INFINITY)).toBe('n/a');
    expect(num(-0.04)).toBe('0');
    expect(num(1.25, 1)).toBe('1.3');
    expect(num(0.1 + 0.2, 2)).toBe('0.3');
    expect(num(1234.5678, 0)).toBe('1235');
  });
});
