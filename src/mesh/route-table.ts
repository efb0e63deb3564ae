import type { NodeId } from '../wire/ids.js';
import { metricInfinity } from '../wire/limits.js';
import { isFeasible, type FeasibilityDistance } from './feasibility.js';
import type { Neighbour } from './neighbour.js';

/** A selected route is abandoned for another only when the other is better by more than this. */
export const routeSwitchHysteresis = 32;

/** One route to a source through one neighbour (RFC 8966 3.2.6). */
export interface RouteEntry {
  readonly neighbour: Neighbour;
  seqno: number;
  /** The metric the neighbour advertised (what feasibility is checked on). */
  advMetric: number;
  /** advMetric plus the link cost: what selection compares. */
  metric: number;
  expiresAtMs: number;
}

/** Everything a node knows about one source (destination): feasibility distance, routes, selection. */
export interface SourceEntry {
  readonly source: NodeId;
  fd: FeasibilityDistance | null;
  readonly routes: RouteEntry[];
  selected: RouteEntry | null;
  /** The (seqno, metric) we last advertised; metric is infinity after a retraction or before any. */
  advertisedSeqno: number;
  advertisedMetric: number;
  /** When to resend a seqno request while starved; infinity when not starved. */
  seqnoRetryAtMs: number;
  seqnoRequestsSent: number;
  /** Last time this entry had a selected route, for garbage collection. */
  lastSelectedMs: number;
}

/** A new, empty source entry. */
export function newSourceEntry(source: NodeId, nowMs: number): SourceEntry {
  return {
    source,
    fd: null,
    routes: [],
    selected: null,
    advertisedSeqno: 0,
    advertisedMetric: metricInfinity,
    seqnoRetryAtMs: Number.POSITIVE_INFINITY,
    seqnoRequestsSent: 0,
    lastSelectedMs: nowMs,
  };
}

/** True when `route` may be selected now: finite, through a usable neighbour, and feasible. */
export function isSelectable(entry: SourceEntry, route: RouteEntry): boolean {
  return route.metric < metricInfinity && route.neighbour.usable && isFeasible(entry.fd, route.seqno, route.advMetric);
}

/** True when a finite route exists that feasibility alone keeps us from using (starvation). */
export function hasUnfeasibleRoute(entry: SourceEntry): boolean {
  return entry.routes.some((r) => r.metric < metricInfinity && r.neighbour.usable && !isFeasible(entry.fd, r.seqno, r.advMetric));
}

/** The best selectable route, ties broken by the lower link id so every run picks the same. */
export function bestRoute(entry: SourceEntry, excluded: Neighbour | null): RouteEntry | null {
  let best: RouteEntry | null = null;
  for (const route of entry.routes) {
    if (route.neighbour === excluded || !isSelectable(entry, route)) continue;
    if (best === null || route.metric < best.metric || (route.metric === best.metric && route.neighbour.link < best.neighbour.link)) {
      best = route;
    }
  }
  return best;
}

/**
 * Route selection with hysteresis (RFC 8966 3.6): keep the current route while it stays
 * selectable unless another is better by more than `routeSwitchHysteresis`, so that small
 * metric noise (RTT jitter) does not make routes flap.
 */
export function selectRoute(entry: SourceEntry): RouteEntry | null {
  const best = bestRoute(entry, null);
  const current = entry.selected;
  if (current === null || best === null || best === current) return best;
  if (!entry.routes.includes(current) || !isSelectable(entry, current)) return best;
  return best.metric + routeSwitchHysteresis < current.metric ? best : current;
}

/** The best feasible alternate: a ready next hop if the selected one fails (fast reroute). */
export function bestAlternate(entry: SourceEntry): RouteEntry | null {
  if (entry.selected === null) return null;
  return bestRoute(entry, entry.selected.neighbour);
}

/** Removes and returns the route through `neighbour`, if any. */
export function removeRouteVia(entry: SourceEntry, neighbour: Neighbour): RouteEntry | null {
  const index = entry.routes.findIndex((r) => r.neighbour === neighbour);
  if (index < 0) return null;
  const [removed] = entry.routes.splice(index, 1);
  return removed ?? null;
}

/** The route through `neighbour`, if any. */
export function routeVia(entry: SourceEntry, neighbour: Neighbour): RouteEntry | undefined {
  for (const route of entry.routes) if (route.neighbour === neighbour) return route;
  return undefined;
}
