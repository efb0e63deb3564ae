/**
 * The telemetry collector of one node: a sans-IO accumulator that the driver (daemon or twin)
 * feeds with what the node sees, and that cuts the stream into windows of features.
 *
 * What it is fed, and when:
 * - `onMeshEvent` with every event of the routing core (route changes, neighbour downs);
 * - `sampleLinks` with `MeshNode.neighbourViews()` a few times per window (RTT, loss, cost and
 *   whether each session is up are read from the samples, so one bad instant does not decide);
 * - `cut` at the end of each window, with the node's cumulative counters (MeshNode stats,
 *   SecureNode stats, policy denies) and what only the driver knows (queue drops, per-link data
 *   counts, the delivery seen by neighbours). Counters are cumulative because that is how the
 *   node keeps them; the collector differences them per window.
 *
 * It reads no clock: every call takes the time, so the twin and tests drive it with virtual time.
 */

import { costValue, linkFeatureNames, logRate, nodeFeature, nodeFeatureNames, rateMaxPerS, rttScaleMs, rttSpreadScaleMs, scaled, share, linkFeature } from './features.js';
import type { HostProbe } from './host.js';

/** Default length of a window. */
export const windowMsDefault = 1000;

/** One neighbour as the routing core shows it (the shape of `MeshNode.neighbourViews()` items). */
export interface LinkView {
  readonly link: number;
  readonly usable: boolean;
  readonly cost: number;
  /** Smoothed RTT; NaN before the first sample. */
  readonly rttMs: number;
  /** Share of the neighbour's recent Hellos that were lost. */
  readonly loss: number;
}

/** The routing core's cumulative counters the features use (a subset of MeshStats). */
export interface MeshCounters {
  readonly dataForwarded: number;
  readonly dataDelivered: number;
  readonly dropNoRoute: number;
  readonly dropHopLimit: number;
  readonly controlBytesSent: number;
  readonly updatesChanged: number;
}

/** The secure layer's cumulative counters the features use (a subset of ChannelStats). */
export interface SecureCounters {
  readonly handshakesRefused: number;
  readonly credentialsRefused: number;
  readonly openFailures: number;
  readonly framesRefused: number;
  readonly droppedNoSession: number;
  readonly droppedTooLarge: number;
}

/** Cumulative counters of a node at one instant; null where the node has no such layer. */
export interface NodeCounters {
  readonly mesh: MeshCounters;
  readonly secure: SecureCounters | null;
  /** Policy denies of every kind so far; null where no policy engine runs (the twin). */
  readonly policyDenies: number | null;
}

/** Data packets on one link during the window, as only a driver that sees both ends knows them. */
export interface LinkTraffic {
  /** Data packets the peer put on the link towards this node. */
  readonly sent: number;
  /** Of those, the ones that arrived here. */
  readonly received: number;
}

import { DeliveryMemory, deliveryMemoryWindows, type DeliveryCounts } from './delivery-memory.js';

export type { DeliveryCounts } from './delivery-memory.js';

/** What the driver adds at the end of a window. */
export interface CutInput {
  readonly counters: NodeCounters;
  /** A last sample of the links, taken at the cut. */
  readonly links: readonly LinkView[];
  /** Packets dropped by full queues on the node's outgoing links in the window; absent: unknown (0). */
  readonly queueDrops?: number;
  /** Data on the link with this id towards the node in the window; absent or null: unknown. */
  readonly linkTraffic?: (link: number) => LinkTraffic | null;
  /** Absent: unknown (neutral 1, deliveryKnown 0). */
  readonly delivery?: DeliveryCounts;
}

/** The features of one inbound link (peer -> this node) in one window. */
export interface InboundLinkRow {
  readonly link: number;
  readonly features: Float32Array;
}

/** One node's window: its feature row and one row per inbound link that was up at some sample. */
export interface NodeWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly features: Float32Array;
  readonly links: readonly InboundLinkRow[];
}

/** Running sums of one link's samples during a window. */
interface LinkSamples {
  samples: number;
  usable: number;
  /** Sessions on the link declared down in the window. */
  downs: number;
  rttCount: number;
  rttSum: number;
  rttSquares: number;
  costSum: number;
  lossSum: number;
}

const zeroMesh: MeshCounters = { dataForwarded: 0, dataDelivered: 0, dropNoRoute: 0, dropHopLimit: 0, controlBytesSent: 0, updatesChanged: 0 };
const zeroSecure: SecureCounters = { handshakesRefused: 0, credentialsRefused: 0, openFailures: 0, framesRefused: 0, droppedNoSession: 0, droppedTooLarge: 0 };

/** Collects one node's telemetry and cuts it into windows (see the module comment). */
export class TelemetryCollector {
  readonly windowMs: number;
  /** Start of the window being collected. */
  startMs: number;
  private readonly host: HostProbe;
  private baseline: NodeCounters = { mesh: zeroMesh, secure: null, policyDenies: null };
  private readonly samples = new Map<number, LinkSamples>();
  private neighbourDowns = 0;
  private probeTimeouts = 0;
  private routeChanges = 0;
  private readonly deliveryMemory = new DeliveryMemory();

  /** A collector whose first window starts at `startMs`. */
  constructor(config: { readonly startMs: number; readonly host: HostProbe; readonly windowMs?: number }) {
    const windowMs = config.windowMs ?? windowMsDefault;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`TelemetryCollector: expected windowMs > 0, got ${windowMs}`);
    this.windowMs = windowMs;
    this.startMs = config.startMs;
    this.host = config.host;
  }

  /** When the current window is due to be cut. */
  get dueAtMs(): number {
    return this.startMs + this.windowMs;
  }

  /** Takes `counters` as the zero of the next window's differences (at the start, or after a restart of the node). */
  setBaseline(counters: NodeCounters): void {
    this.baseline = snapshotCounters(counters.mesh, counters.secure, counters.policyDenies);
  }

  /** The node restarted with fresh counters: differences start from zero again. */
  restart(): void {
    this.baseline = { mesh: zeroMesh, secure: null, policyDenies: null };
  }

  /** Counts the routing core's events that are features (route changes, neighbour downs). */
  onMeshEvent(event: { readonly kind: string; readonly reason?: string; readonly link?: number | null }): void {
    if (event.kind === 'routeChanged') this.routeChanges++;
    else if (event.kind === 'neighbourDown') {
      this.neighbourDowns++;
      if (event.reason === 'probe-timeout') this.probeTimeouts++;
      if (typeof event.link === 'number') this.linkSamples(event.link).downs++;
    }
  }

  private linkSamples(link: number): LinkSamples {
    let s = this.samples.get(link);
    if (s === undefined) {
      s = { samples: 0, usable: 0, downs: 0, rttCount: 0, rttSum: 0, rttSquares: 0, costSum: 0, lossSum: 0 };
      this.samples.set(link, s);
    }
    return s;
  }

  /** Adds one sample of every link's state. */
  sampleLinks(views: readonly LinkView[]): void {
    for (const view of views) {
      const s = this.linkSamples(view.link);
      s.samples++;
      if (!view.usable) continue;
      s.usable++;
      s.costSum += view.cost;
      s.lossSum += view.loss;
      if (Number.isFinite(view.rttMs)) {
        s.rttCount++;
        s.rttSum += view.rttMs;
        s.rttSquares += view.rttMs * view.rttMs;
      }
    }
  }

  /** Ends the window at `nowMs` without features (the node was down at the end): starts the next one. */
  skip(nowMs: number): void {
    this.host.sample(nowMs);
    this.deliveryMemory.push(undefined);
    this.startNext(nowMs);
  }

  private startNext(nowMs: number): void {
    this.startMs = nowMs;
    this.samples.clear();
    this.neighbourDowns = 0;
    this.probeTimeouts = 0;
    this.routeChanges = 0;
  }

  /** Ends the window at `nowMs`: returns its features and starts the next one. */
  cut(nowMs: number, input: CutInput): NodeWindow {
    this.sampleLinks(input.links);
    const spanMs = Math.max(nowMs - this.startMs, 1);
    const features = new Float32Array(nodeFeatureNames.length);
    const links = this.linkRows(spanMs, input);
    this.fillLinkSummary(features, input.links);
    this.fillCounters(features, spanMs, input);
    const host = this.host.sample(nowMs);
    features[nodeFeature.cpu] = share(host.cpu);
    features[nodeFeature.memory] = share(host.memory);
    const window: NodeWindow = { startMs: this.startMs, endMs: nowMs, features, links };
    this.setBaseline(input.counters);
    this.startNext(nowMs);
    return window;
  }

  /**
   * One row per link whose session was up during the window, in link order: up at some sample,
   * or declared down in the window (it was up until then, even if no sample caught it up).
   */
  private linkRows(spanMs: number, input: CutInput): InboundLinkRow[] {
    const rows: InboundLinkRow[] = [];
    const ids = [...this.samples.keys()].sort((a, b) => a - b);
    for (const link of ids) {
      const s = this.samples.get(link)!;
      if (s.usable === 0 && s.downs === 0) continue;
      const row = new Float32Array(linkFeatureNames.length);
      const rtt = s.rttCount === 0 ? Number.NaN : s.rttSum / s.rttCount;
      const variance = s.rttCount === 0 ? 0 : Math.max(0, s.rttSquares / s.rttCount - rtt * rtt);
      row[linkFeature.rtt] = scaled(rtt, rttScaleMs);
      row[linkFeature.rttVar] = scaled(Math.sqrt(variance), rttSpreadScaleMs);
      row[linkFeature.loss] = s.usable === 0 ? 0 : share(s.lossSum / s.usable);
      // A session that went down before any sample has the cost routing gives it: infinite.
      row[linkFeature.cost] = s.usable === 0 ? 1 : costValue(s.costSum / s.usable);
      row[linkFeature.upShare] = s.samples === 0 ? 0 : share(s.usable / s.samples);
      row[linkFeature.downs] = logRate(s.downs, spanMs, rateMaxPerS.neighbourDowns);
      const traffic = input.linkTraffic?.(link) ?? null;
      if (traffic !== null) {
        row[linkFeature.dataSent] = logRate(traffic.sent, spanMs, rateMaxPerS.dataPackets);
        row[linkFeature.dataReceived] = logRate(traffic.received, spanMs, rateMaxPerS.dataPackets);
        row[linkFeature.drops] = traffic.sent === 0 ? 0 : share(1 - traffic.received / traffic.sent);
      }
      rows.push({ link, features: row });
    }
    return rows;
  }

  /** RTT, loss and cost over the node's links, from the per-link means of the window. */
  private fillLinkSummary(features: Float32Array, current: readonly LinkView[]): void {
    const rtts: number[] = [];
    let loss = 0;
    let cost = 0;
    let usableLinks = 0;
    for (const s of this.samples.values()) {
      if (s.usable === 0) continue;
      usableLinks++;
      loss += s.lossSum / s.usable;
      cost += costValue(s.costSum / s.usable);
      if (s.rttCount > 0) rtts.push(s.rttSum / s.rttCount);
    }
    const mean = rtts.length === 0 ? Number.NaN : rtts.reduce((a, b) => a + b, 0) / rtts.length;
    const variance = rtts.length === 0 ? 0 : rtts.reduce((a, r) => a + (r - mean) * (r - mean), 0) / rtts.length;
    features[nodeFeature.rttMean] = scaled(mean, rttScaleMs);
    features[nodeFeature.rttVar] = scaled(Math.sqrt(variance), rttSpreadScaleMs);
    features[nodeFeature.loss] = usableLinks === 0 ? 0 : share(loss / usableLinks);
    features[nodeFeature.etx] = usableLinks === 0 ? 0 : share(cost / usableLinks);
    features[nodeFeature.linksUp] = current.length === 0 ? 0 : current.filter((v) => v.usable).length / current.length;
  }

  /** Event counts and counter differences over the window. */
  private fillCounters(features: Float32Array, spanMs: number, input: CutInput): void {
    const now = input.counters;
    const was = this.baseline;
    const mesh = diff(now.mesh, was.mesh, zeroMesh);
    const secure = now.secure === null ? zeroSecure : diff(now.secure, was.secure ?? zeroSecure, zeroSecure);
    const denies = now.policyDenies === null ? 0 : now.policyDenies - (was.policyDenies ?? 0);
    const rate = (count: number, maxPerS: number): number => logRate(count, spanMs, maxPerS);
    features[nodeFeature.neighbourDowns] = rate(this.neighbourDowns, rateMaxPerS.neighbourDowns);
    features[nodeFeature.probeTimeouts] = rate(this.probeTimeouts, rateMaxPerS.neighbourDowns);
    features[nodeFeature.routeChanges] = rate(this.routeChanges, rateMaxPerS.routeChanges);
    features[nodeFeature.queueDrops] = rate(input.queueDrops ?? 0, rateMaxPerS.queueDrops);
    features[nodeFeature.dataForwarded] = rate(mesh.dataForwarded, rateMaxPerS.dataPackets);
    features[nodeFeature.dataDelivered] = rate(mesh.dataDelivered, rateMaxPerS.dataPackets);
    const handled = mesh.dataForwarded + mesh.dataDelivered + mesh.dropNoRoute + mesh.dropHopLimit;
    const sessionDrops = secure.droppedNoSession + secure.droppedTooLarge;
    features[nodeFeature.dropNoRoute] = handled === 0 ? 0 : share(mesh.dropNoRoute / handled);
    features[nodeFeature.dropHopLimit] = handled === 0 ? 0 : share(mesh.dropHopLimit / handled);
    features[nodeFeature.dropNoSession] = sessionDrops === 0 ? 0 : share(sessionDrops / (handled + sessionDrops));
    this.fillDelivery(features, input.delivery, mesh.dropNoRoute + mesh.dropHopLimit + sessionDrops);
    features[nodeFeature.handshakeFailures] = rate(secure.handshakesRefused + secure.credentialsRefused, rateMaxPerS.handshakeFailures);
    features[nodeFeature.openFailures] = rate(secure.openFailures + secure.framesRefused, rateMaxPerS.openFailures);
    features[nodeFeature.policyDenies] = rate(denies, rateMaxPerS.policyDenies);
    features[nodeFeature.controlRate] = rate(mesh.controlBytesSent, rateMaxPerS.controlBytes);
    features[nodeFeature.updatesChanged] = rate(mesh.updatesChanged, rateMaxPerS.updatesChanged);
  }

  /**
   * The delivery of transit seen by neighbours in this window, and remembered over the last busy
   * windows. Packets addressed to the node itself are left out of both (a grey hole delivers
   * those). The memory keeps only unexplained loss, which is what a grey hole leaves behind: the
   * drops the node explains (no route, hop limit, no session: a neighbour that crashed, a loop)
   * count as handed on there. The window's own ratio counts them as lost.
   */
  private fillDelivery(features: Float32Array, delivery: DeliveryCounts | undefined, explainedDrops: number): void {
    const transit = delivery === undefined ? undefined : transitOnly(delivery, 0);
    const known = transit !== undefined && transit.handedIn > 0;
    features[nodeFeature.neighbourDelivery] = known ? share(transit.handedOn / transit.handedIn) : 1;
    features[nodeFeature.deliveryKnown] = known ? 1 : 0;
    this.deliveryMemory.push(delivery === undefined ? undefined : transitOnly(delivery, explainedDrops));
    const remembered = this.deliveryMemory.recall();
    features[nodeFeature.deliveryRecent] = remembered === null ? 1 : remembered.ratio;
    features[nodeFeature.deliveryAge] = remembered === null ? 1 : remembered.ageWindows / deliveryMemoryWindows;
  }
}

/** The transit part of `delivery`, with the node's explained drops counted as handed on. */
function transitOnly(delivery: DeliveryCounts, explainedDrops: number): DeliveryCounts {
  const here = delivery.deliveredHere ?? 0;
  return { handedIn: delivery.handedIn - here, handedOn: delivery.handedOn - here + explainedDrops };
}

/** Field-wise `now - was` over the fields of `shape` (a counter that went back counts from zero). */
function diff<T extends object>(now: T, was: T, shape: T): T {
  const out: Record<string, number> = {};
  for (const key of Object.keys(shape) as (keyof T & string)[]) {
    const a = now[key] as number;
    const b = was[key] as number;
    out[key] = a >= b ? a - b : a;
  }
  return out as T;
}

/** A copy of the counters the features use, taken from live stats objects (which keep changing). */
export function snapshotCounters(mesh: MeshCounters, secure: SecureCounters | null, policyDenies: number | null): NodeCounters {
  return {
    mesh: {
      dataForwarded: mesh.dataForwarded,
      dataDelivered: mesh.dataDelivered,
      dropNoRoute: mesh.dropNoRoute,
      dropHopLimit: mesh.dropHopLimit,
      controlBytesSent: mesh.controlBytesSent,
      updatesChanged: mesh.updatesChanged,
    },
    secure:
      secure === null
        ? null
        : {
            handshakesRefused: secure.handshakesRefused,
            credentialsRefused: secure.credentialsRefused,
            openFailures: secure.openFailures,
            framesRefused: secure.framesRefused,
            droppedNoSession: secure.droppedNoSession,
            droppedTooLarge: secure.droppedTooLarge,
          },
    policyDenies,
  };
}
