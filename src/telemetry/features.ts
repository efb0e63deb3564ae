/**
 * The feature lists: which numbers describe a node and a directed link in one window, in which
 * order, and how each raw measurement becomes a value of roughly 0..1. The order of the lists is
 * the column order of TelemetryWindow's feature matrices and of dataset files; a change to
 * either list is a new dataset format version.
 *
 * Three scalings are used, so that no raw counter reaches the model:
 * - a share (loss, CPU, a drop ratio) is used as it is, clipped to [0, 1];
 * - a duration or cost is divided by a named scale and clipped to [0, 1];
 * - a count becomes a rate per second r and then log1p(r) / log1p(rMax), clipped to [0, 1], so
 *   that 1 event and 10 000 events per second both stay visible.
 */

/** RTT that maps to 1 (rtt, rttMean): far beyond a healthy link's 10-40 ms. */
export const rttScaleMs = 200;
/** Standard deviation of RTT that maps to 1 (rttVar). */
export const rttSpreadScaleMs = 50;
/** Link cost of a perfect link (RFC 8966's ETX of 1), the zero of the cost scale. */
export const costNominal = 256;
/** Cost above nominal that maps to 1: 768 more is ETX 4 (or ETX 1 plus a large RTT penalty). */
export const costSpan = 768;
/** Rates (per second) that map to 1 on the log scale, by kind of count. */
export const rateMaxPerS = {
  /** Neighbour sessions going down (any reason, or by probe timeout). */
  neighbourDowns: 16,
  routeChanges: 1024,
  queueDrops: 1024,
  dataPackets: 16_384,
  handshakeFailures: 64,
  openFailures: 1024,
  policyDenies: 64,
  controlBytes: 1_000_000,
  updatesChanged: 1024,
} as const;

/** Per-node features, in column order. Each name's scaling is in `nodeFeatureScaling`. */
export const nodeFeatureNames = [
  'cpu',
  'memory',
  'rttMean',
  'rttVar',
  'loss',
  'etx',
  'linksUp',
  'neighbourDowns',
  'probeTimeouts',
  'routeChanges',
  'queueDrops',
  'dataForwarded',
  'dataDelivered',
  'dropNoRoute',
  'dropHopLimit',
  'dropNoSession',
  'neighbourDelivery',
  'deliveryKnown',
  'deliveryRecent',
  'deliveryAge',
  'handshakeFailures',
  'openFailures',
  'policyDenies',
  'controlRate',
  'updatesChanged',
] as const;

/** Per-directed-link features (link a -> b, as measured where b receives a's packets), in column order. */
export const linkFeatureNames = ['rtt', 'rttVar', 'loss', 'cost', 'upShare', 'downs', 'dataSent', 'dataReceived', 'drops'] as const;

/** A node feature's name. */
export type NodeFeatureName = (typeof nodeFeatureNames)[number];
/** A link feature's name. */
export type LinkFeatureName = (typeof linkFeatureNames)[number];

/** Column of each node feature. */
export const nodeFeature = indexOf(nodeFeatureNames);
/** Column of each link feature. */
export const linkFeature = indexOf(linkFeatureNames);

/** How each node feature is measured and scaled (docs/telemetry.md prints this table). */
export const nodeFeatureScaling: Record<NodeFeatureName, string> = {
  cpu: 'host CPU: share of one core the process used over the window, clipped to [0, 1]',
  memory: 'host memory in use as a share of the total, clipped to [0, 1]',
  rttMean: `mean over usable links of their smoothed RTT (each averaged over the window's samples) / ${rttScaleMs} ms`,
  rttVar: `standard deviation of those link RTTs across the node's links / ${rttSpreadScaleMs} ms`,
  loss: "mean over usable links of the share of the neighbour's recent Hellos that were lost",
  etx: `mean over usable links of (link cost - ${costNominal}) / ${costSpan}: 0 is a perfect link, 1 is ETX 4`,
  linksUp: 'usable links / links the node has (0 when it has none)',
  neighbourDowns: `neighbour sessions that went down (any reason), log rate, max ${rateMaxPerS.neighbourDowns}/s`,
  probeTimeouts: `of those, the ones declared down by missed probes, log rate, max ${rateMaxPerS.neighbourDowns}/s`,
  routeChanges: `changes of a selected route (next hop or metric), log rate, max ${rateMaxPerS.routeChanges}/s`,
  queueDrops: `packets dropped by full queues on the node's outgoing links, log rate, max ${rateMaxPerS.queueDrops}/s (0 where unknown)`,
  dataForwarded: `data packets the node forwarded, log rate, max ${rateMaxPerS.dataPackets}/s`,
  dataDelivered: `data packets delivered to the node itself, log rate, max ${rateMaxPerS.dataPackets}/s`,
  dropNoRoute: 'data packets dropped for lack of a route / data packets handled (forwarded, delivered or dropped)',
  dropHopLimit: 'data packets dropped at the hop limit / data packets handled',
  dropNoSession: 'packets the secure layer dropped (no session, too large) / data packets handled + those drops',
  neighbourDelivery: 'transit (data packets not addressed to the node) the node handed on / transit its neighbours handed to it; 1 when unknown',
  deliveryKnown: '1 when neighbourDelivery was measured in this window (the twin, with transit), 0 when it is the neutral 1',
  deliveryRecent:
    'transit handed on (or dropped for a reason the node explains) / transit handed in, over the newest windows with transit (at most 30) until they hold 40 packets; 1 when none had any',
  deliveryAge: 'age of the newest window with transit that deliveryRecent sums, in windows / 30; 1 when none',
  handshakeFailures: `handshakes and certificates refused, log rate, max ${rateMaxPerS.handshakeFailures}/s`,
  openFailures: `frames that did not open (bad tag, replay, unknown session), log rate, max ${rateMaxPerS.openFailures}/s`,
  policyDenies: `policy denies (peer, transit, api), log rate, max ${rateMaxPerS.policyDenies}/s (0 where no policy runs)`,
  controlRate: `control bytes sent, log rate, max ${rateMaxPerS.controlBytes} B/s`,
  updatesChanged: `received route updates that changed a route, log rate, max ${rateMaxPerS.updatesChanged}/s`,
};

/** How each link feature is measured and scaled. */
export const linkFeatureScaling: Record<LinkFeatureName, string> = {
  rtt: `smoothed RTT the receiving end measured, mean over the window's samples / ${rttScaleMs} ms`,
  rttVar: `standard deviation of those samples / ${rttSpreadScaleMs} ms`,
  loss: "share of the sender's recent Hellos the receiving end did not get (the a -> b direction's loss)",
  cost: `(link cost the receiving end computed - ${costNominal}) / ${costSpan}, mean over usable samples`,
  upShare: "share of the window's samples in which the receiving end had the session up",
  downs: `times the receiving end declared the session down in the window, log rate, max ${rateMaxPerS.neighbourDowns}/s`,
  dataSent: `data packets a put on the link, log rate, max ${rateMaxPerS.dataPackets}/s (0 where unknown)`,
  dataReceived: `data packets b got from a on the link, log rate, max ${rateMaxPerS.dataPackets}/s (0 where unknown)`,
  drops: 'share of the data packets a put on the link that did not arrive (loss, full queue, cut, censor); 0 when none were sent',
};

/** `x` clipped to [0, 1]; NaN (no measurement) becomes 0. */
export function share(x: number): number {
  if (!(x > 0)) return 0;
  return x >= 1 ? 1 : x;
}

/** `x / scale` clipped to [0, 1]. */
export function scaled(x: number, scale: number): number {
  return share(x / scale);
}

/** A count over `spanMs` as log1p(rate per second) / log1p(maxPerS), clipped to [0, 1]. */
export function logRate(count: number, spanMs: number, maxPerS: number): number {
  if (!(count > 0) || !(spanMs > 0)) return 0;
  return share(Math.log1p((count * 1000) / spanMs) / Math.log1p(maxPerS));
}

/** A link cost on the cost scale: 0 for a perfect link, 1 at ETX 4 or more. */
export function costValue(cost: number): number {
  return scaled(cost - costNominal, costSpan);
}

function indexOf<const T extends readonly string[]>(names: T): { readonly [K in T[number]]: number } {
  return Object.fromEntries(names.map((name, i) => [name, i])) as { [K in T[number]]: number };
}
