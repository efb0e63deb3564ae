/**
 * Prometheus metrics of one node, read from its NodeBackend at scrape time. Each API instance
 * owns a registry (never prom-client's global one), so tests and several nodes in one process
 * do not clash.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NeighbourInfo, NodeBackend, NodeCounters } from './backend.js';

/** Prefix of every series. */
export const metricsPrefix = 'x0t_';

/** Upper bounds of the recovery-time histogram, in seconds (50 ms to 5 s). */
export const recoveryBucketsS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Options of createMetrics. */
export interface MetricsOptions {
  /** Also export prom-client's process metrics (CPU, memory, event loop lag, ...), prefixed x0t_. Default false. */
  readonly processMetrics?: boolean;
}

/** A node's metrics: the registry and a function that renders the text exposition. */
export interface NodeMetrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  /** Reads the backend and renders every series in Prometheus text format. */
  render(): Promise<string>;
}

/** Totals of one counter by label value ('' for a counter without labels). */
type Totals = Readonly<Record<string, number>>;

interface MirroredCounter {
  readonly name: string;
  readonly help: string;
  readonly label?: string;
  readonly read: (counters: NodeCounters) => Totals;
}

const mirroredCounters: readonly MirroredCounter[] = [
  { name: 'handshakes_total', help: 'Secure-channel handshakes by result', label: 'result', read: (c) => ({ completed: c.handshakesCompleted, refused: c.handshakesRefused }) },
  { name: 'credentials_refused_total', help: 'Peer certificates refused', read: (c) => ({ '': c.credentialsRefused }) },
  { name: 'rekeys_total', help: 'Session rekeys', read: (c) => ({ '': c.rekeys }) },
  { name: 'packets_forwarded_total', help: 'Data packets forwarded for other nodes', read: (c) => ({ '': c.packetsForwarded }) },
  { name: 'packets_delivered_total', help: 'Data packets delivered to this node', read: (c) => ({ '': c.packetsDelivered }) },
  { name: 'packets_dropped_total', help: 'Packets dropped, by reason', label: 'reason', read: (c) => c.packetsDropped },
  { name: 'policy_denies_total', help: 'Policy decisions that denied, by action', label: 'action', read: (c) => c.policyDenies },
  { name: 'control_bytes_sent_total', help: 'Bytes of routing and channel control traffic sent', read: (c) => ({ '': c.controlBytesSent }) },
  { name: 'control_packets_sent_total', help: 'Packets of routing control traffic sent (one per link a packet goes out on)', read: (c) => ({ '': c.controlPacketsSent }) },
  { name: 'probes_spared_total', help: 'Probes not sent because a data packet had just gone to that neighbour', read: (c) => ({ '': c.probesSpared }) },
  { name: 'data_bytes_sent_total', help: 'Bytes of data traffic sent', read: (c) => ({ '': c.dataBytesSent }) },
  { name: 'mapek_decisions_total', help: 'Decisions of the self-healing loop, by kind (incidentOpened, actionStarted, actionFailed, ...)', label: 'decision', read: (c) => c.mapekDecisions },
  { name: 'mapek_reports_total', help: 'Transit reports of the self-healing loop, by outcome (published, accepted, relayed, forged, undecided, ...)', label: 'outcome', read: (c) => c.mapekReports },
  { name: 'revocation_gossip_total', help: 'Revocation gossip between neighbours, by outcome (chunksIn, chunksOut, requestsIn, answered, listsCompleted, offersInstalled, offersRefused, malformed, ...)', label: 'outcome', read: (c) => c.revocationGossip },
  { name: 'new_peers_refused_total', help: 'Peers without a session refused because the revocation list was stale', read: (c) => ({ '': c.newPeersRefused }) },
  { name: 'tcp_connections_refused_total', help: 'Accepted TCP connections closed at once without a byte, by reason (perAddress: the address had its share open; total: the listener was full)', label: 'reason', read: (c) => c.tcpConnectionsRefused },
];

/** Builds the registry of one node's metrics, fed from `backend` whenever it is scraped. */
export function createMetrics(backend: NodeBackend, options: MetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: metricsPrefix });
  registerLinkGauges(registry, backend);
  registerRouteGauges(registry, backend);
  new Gauge({
    name: `${metricsPrefix}mapek_incidents`,
    help: 'Incidents the self-healing loop holds now, by state (suspected, confirmed, cleared with an action still held)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, count] of Object.entries(backend.counters().incidents)) this.set({ state }, count);
    },
  });
  new Gauge({
    name: `${metricsPrefix}tcp_connections`,
    help: 'TCP connections open now, by direction (accepted, dialled)',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      for (const [direction, count] of Object.entries(backend.counters().tcpConnections)) this.set({ direction }, count);
    },
  });
  registerRevocationGauges(registry, backend);
  for (const spec of mirroredCounters) registerMirroredCounter(registry, backend, spec);
  new Histogram({
    name: `${metricsPrefix}recovery_seconds`,
    help: 'Time from losing a selected next hop to forwarding again, per observed recovery',
    buckets: [...recoveryBucketsS],
    registers: [registry],
    collect() {
      for (const ms of backend.takeRecoverySamples()) if (Number.isFinite(ms) && ms >= 0) this.observe(ms / 1000);
    },
  });
  return { registry, contentType: registry.contentType, render: () => registry.metrics() };
}

function registerLinkGauges(registry: Registry, backend: NodeBackend): void {
  const isUp = (n: NeighbourInfo): boolean => n.secured && n.usable;
  new Gauge({
    name: `${metricsPrefix}links_up`,
    help: 'Links with a secured session whose neighbour answers probes',
    registers: [registry],
    collect() {
      this.set(backend.neighbours().filter(isUp).length);
    },
  });
  new Gauge({
    name: `${metricsPrefix}links_down`,
    help: 'Links without a secured session or whose neighbour does not answer',
    registers: [registry],
    collect() {
      this.set(backend.neighbours().filter((n) => !isUp(n)).length);
    },
  });
  perLinkGauge(registry, backend, 'link_rtt_seconds', 'Smoothed round-trip time of a link', (n) => n.rttMs / 1000);
  perLinkGauge(registry, backend, 'link_loss_ratio', "Share of the neighbour's last Hellos (up to 16) that were lost", (n) => n.loss);
  perLinkGauge(registry, backend, 'link_cost', 'Routing cost of a link (65535 when unusable)', (n) => n.cost);
}

/** A gauge with one series per link that has an authenticated peer, labelled peer and link. */
function perLinkGauge(registry: Registry, backend: NodeBackend, name: string, help: string, value: (n: NeighbourInfo) => number): void {
  new Gauge({
    name: `${metricsPrefix}${name}`,
    help,
    labelNames: ['peer', 'link'],
    registers: [registry],
    collect() {
      // Links come and go; resetting drops the series of links that no longer exist.
      this.reset();
      for (const n of backend.neighbours()) {
        if (n.peerNodeId !== null) this.set({ peer: n.peerNodeId, link: String(n.link) }, value(n));
      }
    },
  });
}

function registerRevocationGauges(registry: Registry, backend: NodeBackend): void {
  new Gauge({
    name: `${metricsPrefix}revocation_list_age_seconds`,
    help: 'Seconds since the newest verified revocation list was issued (+Inf before the first)',
    registers: [registry],
    collect() {
      this.set(backend.counters().revocationListAgeS);
    },
  });
  new Gauge({
    name: `${metricsPrefix}network_key_epoch`,
    help: 'The network key epoch this node sends under (0 before the first rotation)',
    registers: [registry],
    collect() {
      this.set(backend.counters().networkKeyEpoch);
    },
  });
  new Gauge({
    name: `${metricsPrefix}revocation_list_stale`,
    help: '1 while the revocation list is older than revocations.maxAgeMs (new peer sessions refused, not ready), else 0',
    registers: [registry],
    collect() {
      this.set(backend.counters().revocationListStale ? 1 : 0);
    },
  });
}

function registerRouteGauges(registry: Registry, backend: NodeBackend): void {
  new Gauge({
    name: `${metricsPrefix}routes`,
    help: 'Selected routes',
    registers: [registry],
    collect() {
      this.set(backend.routes().length);
    },
  });
  new Gauge({
    name: `${metricsPrefix}routes_with_alternate`,
    help: 'Selected routes with a feasible alternate next hop ready',
    registers: [registry],
    collect() {
      this.set(backend.routes().filter((r) => r.hasAlternate).length);
    },
  });
}

/**
 * A prom-client counter that mirrors one of the backend's totals. Counters can only be
 * incremented, so each scrape adds the growth since the previous scrape. A total that went
 * down means the backend's counter was reset: the series restarts from the new total, which
 * Prometheus' rate() reads as a counter reset.
 */
function registerMirroredCounter(registry: Registry, backend: NodeBackend, spec: MirroredCounter): void {
  const last = new Map<string, number>();
  const labelNames = spec.label === undefined ? [] : [spec.label];
  const counter: Counter = new Counter({
    name: `${metricsPrefix}${spec.name}`,
    help: spec.help,
    labelNames,
    registers: [registry],
    collect: () => mirror(),
  });
  const mirror = (): void => {
    for (const [key, total] of Object.entries(spec.read(backend.counters()))) {
      if (!Number.isFinite(total) || total < 0) continue;
      const labels = spec.label === undefined ? {} : { [spec.label]: key };
      const previous = last.get(key) ?? 0;
      if (total < previous && spec.label === undefined) counter.reset();
      else if (total < previous) counter.remove(labels);
      counter.inc(labels, total < previous ? total : total - previous);
      last.set(key, total);
    }
  };
}
