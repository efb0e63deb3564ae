import { twinInChild, twinInChildWithin } from './common.js';

/** Node counts of the scaling sweep. */
const sweepNodes = [250, 500, 1000, 2000, 4000] as const;
/** A sweep point that takes longer than this is stopped and reported as not finished (null). */
const sweepLimitMs = 8 * 60_000;

/**
 * Twin speed: 1000 nodes for 300 s of virtual time (the bar: <= 60 s of wall time on 2 cores),
 * then a sweep of node counts over a shorter run to show how cost grows with events. Runs one
 * at a time so that timings do not disturb each other.
 */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const main = await twinInChild(['scenarios/speed-rgg.yaml', '--nodes', '1000']);
  const sweep = [];
  for (const nodes of sweepNodes) {
    const report = await twinInChildWithin(['scenarios/speed-sweep.yaml', '--nodes', String(nodes)], sweepLimitMs);
    if (report === null) {
      sweep.push({ nodes, finished: false, limitMs: sweepLimitMs });
      continue;
    }
    sweep.push({ nodes, finished: true, links: report.links, events: report.events, wallMs: report.wallMs, eventsPerS: report.eventsPerS });
  }
  const figures = {
    wallMs1000Nodes300s: main.wallMs,
    eventsPerS: main.eventsPerS,
    events1000Nodes300s: main.events,
    ...Object.fromEntries(sweep.map((s) => [`wallMs${s.nodes}Nodes20s`, s.wallMs ?? null])),
    ...Object.fromEntries(sweep.map((s) => [`eventsPerS${s.nodes}Nodes20s`, s.eventsPerS ?? null])),
  };
  return { figures, details: { main: { events: main.events, wallMs: main.wallMs, deliverySteady: main.deliveryRatio.steady }, sweep } };
}
