import type { NodeId } from '../wire/ids.js';
import { metricInfinity } from '../wire/limits.js';
import { addMetric } from './link-cost.js';
import type { Neighbour } from './neighbour.js';
import { seqnoNewer } from './seqno.js';
import { SourceIndex } from './source-index.js';

/** A selected route is abandoned for another only when the other is better by more than this. */
export const routeSwitchHysteresis = 32;
/** Marks "no route" / "no distance" in the integer columns. */
const none = -1;

/**
 * The routing table of one node (RFC 8966 3.2.5-3.2.6): per source its feasibility
 * distance, what we last advertised, the selected route, and one route per neighbour.
 *
 * Kept as columns of typed arrays indexed by source slot (and by source slot times the
 * neighbour slot width for routes), not as objects: a 1000-node twin holds a million
 * sources and eight million routes, and as objects the garbage collector spent most of
 * the run walking them.
 */
export class RouteTable {
  /** Neighbours by slot; null where a slot is free. Shared with the node, which assigns slots. */
  readonly neighbours: (Neighbour | null)[] = [];
  private readonly slotBySource = new SourceIndex();
  private sourceBySlot: NodeId[] = [];
  private readonly freeSlots: number[] = [];
  private capacity = 0;
  private width = 1;
  fdSeqno = new Int32Array(0);
  fdMetric = new Int32Array(0);
  selected = new Int16Array(0);
  advertisedSeqno = new Int32Array(0);
  advertisedMetric = new Int32Array(0);
  seqnoRetryAtMs = new Float64Array(0);
  seqnoRequestsSent = new Uint8Array(0);
  lastSelectedMs = new Float64Array(0);
  /**
   * Per route (slot * width + k), side by side: the advertised metric (none: no route) at
   * 2i and the seqno at 2i + 1. An Update TLV reads both, and together they take one cache
   * line instead of two.
   */
  private routes = new Int32Array(0);
  private routeExpiresAtMs = new Float64Array(0);

  /** The slot of `source`, or -1. */
  slotOf(source: NodeId): number {
    return this.slotBySource.get(source);
  }

  /** The source held in `slot`. */
  sourceAt(slot: number): NodeId {
    return this.sourceBySlot[slot]!;
  }

  /** Slots of every source known, in the order the sources were first heard; a live view the caller must not modify. */
  slots(): readonly number[] {
    return this.slotBySource.slots();
  }

  /** Number of sources known. */
  get size(): number {
    return this.slotBySource.size;
  }

  /** The slot of `source`, creating an empty entry when it is new. */
  ensureSlot(source: NodeId, nowMs: number): number {
    const existing = this.slotBySource.get(source);
    if (existing !== none) return existing;
    const slot = this.freeSlots.pop() ?? this.slotBySource.size;
    if (slot >= this.capacity) this.grow(Math.max(16, this.capacity * 2), this.width);
    this.slotBySource.add(source, slot);
    this.sourceBySlot[slot] = source;
    this.fdSeqno[slot] = none;
    this.fdMetric[slot] = metricInfinity;
    this.selected[slot] = none;
    this.advertisedSeqno[slot] = 0;
    this.advertisedMetric[slot] = metricInfinity;
    this.seqnoRetryAtMs[slot] = Number.POSITIVE_INFINITY;
    this.seqnoRequestsSent[slot] = 0;
    this.lastSelectedMs[slot] = nowMs;
    for (let i = slot * this.width; i < (slot + 1) * this.width; i++) this.routes[2 * i] = none;
    return slot;
  }

  /** Drops the feasibility distance of `slot`: every route becomes feasible, as at a fresh node. */
  forgetFeasibility(slot: number): void {
    this.fdSeqno[slot] = none;
    this.fdMetric[slot] = metricInfinity;
  }

  /** Forgets the source in `slot` (garbage collection of idle sources). */
  freeSlot(slot: number): void {
    this.slotBySource.delete(this.sourceBySlot[slot]!);
    this.freeSlots.push(slot);
  }

  /** Makes room for neighbour slot `k` in every source's route row. */
  ensureNeighbourSlot(k: number): void {
    // Rows grow to exactly the neighbour count: a 4000-node twin holds 16 million rows.
    if (k >= this.width) this.grow(this.capacity, k + 1);
  }

  /** True when a route through neighbour slot `k` is stored for `slot`. */
  hasRoute(slot: number, k: number): boolean {
    return this.routes[2 * (slot * this.width + k)]! !== none;
  }

  /** The seqno of the route through `k` (only meaningful when hasRoute). */
  seqnoOf(slot: number, k: number): number {
    return this.routes[2 * (slot * this.width + k) + 1]!;
  }

  /** The metric neighbour `k` advertised (only meaningful when hasRoute). */
  advMetricOf(slot: number, k: number): number {
    return this.routes[2 * (slot * this.width + k)]!;
  }

  /** The route's metric: advertised metric plus the current link cost. */
  metricOf(slot: number, k: number): number {
    return addMetric(this.routes[2 * (slot * this.width + k)]!, this.neighbours[k]!.cost);
  }

  /** Stores the route through `k`; returns false when only its expiry changed. */
  setRoute(slot: number, k: number, seqno: number, advMetric: number, expiresAtMs: number): boolean {
    const i = slot * this.width + k;
    this.routeExpiresAtMs[i] = expiresAtMs;
    const routes = this.routes;
    if (routes[2 * i] === advMetric && routes[2 * i + 1] === seqno) return false;
    routes[2 * i + 1] = seqno;
    routes[2 * i] = advMetric;
    return true;
  }

  /** Removes the route through `k`; returns whether there was one. */
  clearRoute(slot: number, k: number): boolean {
    const i = slot * this.width + k;
    if (this.routes[2 * i] === none) return false;
    this.routes[2 * i] = none;
    return true;
  }

  /** Removes expired routes of `slot`; returns whether any was removed. */
  expireRoutes(slot: number, nowMs: number): boolean {
    let removed = false;
    const base = slot * this.width;
    for (let k = 0; k < this.width; k++) {
      if (this.routes[2 * (base + k)] !== none && this.routeExpiresAtMs[base + k]! <= nowMs) {
        this.routes[2 * (base + k)] = none;
        removed = true;
      }
    }
    return removed;
  }

  /** True when `slot` stores no route at all. */
  isEmpty(slot: number): boolean {
    const base = slot * this.width;
    for (let k = 0; k < this.width; k++) if (this.routes[2 * (base + k)] !== none) return false;
    return true;
  }

  /**
   * The feasibility condition of RFC 8966 3.5.1 against this source's distance: a route is
   * feasible when its seqno is newer, or equal with a strictly smaller advertised metric.
   */
  isFeasible(slot: number, seqno: number, advMetric: number): boolean {
    const fdSeqno = this.fdSeqno[slot]!;
    if (fdSeqno === none) return true;
    if (seqnoNewer(seqno, fdSeqno)) return true;
    return seqno === fdSeqno && advMetric < this.fdMetric[slot]!;
  }

  /** True when the route through `k` may be selected: finite, usable neighbour, feasible. */
  isSelectable(slot: number, k: number): boolean {
    const i = slot * this.width + k;
    const adv = this.routes[2 * i]!;
    if (adv === none) return false;
    const neighbour = this.neighbours[k]!;
    if (!neighbour.usable || addMetric(adv, neighbour.cost) >= metricInfinity) return false;
    return this.isFeasible(slot, this.routes[2 * i + 1]!, adv);
  }

  /** True when a usable finite route exists that only feasibility keeps us from (starvation). */
  hasUnfeasibleRoute(slot: number): boolean {
    for (let k = 0; k < this.width; k++) {
      if (!this.hasRoute(slot, k)) continue;
      const neighbour = this.neighbours[k]!;
      if (neighbour.usable && this.metricOf(slot, k) < metricInfinity && !this.isSelectable(slot, k)) return true;
    }
    return false;
  }

  /** The best selectable neighbour slot other than `excluded`, ties to the lower link id; -1 if none. */
  best(slot: number, excluded: number): number {
    let bestK = none;
    let bestMetric = metricInfinity;
    for (let k = 0; k < this.width; k++) {
      if (k === excluded || !this.isSelectable(slot, k)) continue;
      const metric = this.metricOf(slot, k);
      if (metric < bestMetric || (metric === bestMetric && this.neighbours[k]!.link < this.neighbours[bestK]!.link)) {
        bestK = k;
        bestMetric = metric;
      }
    }
    return bestK;
  }

  /**
   * Route selection with hysteresis (RFC 8966 3.6): keep the current route while it stays
   * selectable unless another is better by more than `routeSwitchHysteresis`, so that metric
   * noise (RTT jitter) does not make routes flap.
   */
  select(slot: number): number {
    const bestK = this.best(slot, none);
    const current = this.selected[slot]!;
    if (current === none || bestK === none || bestK === current || !this.isSelectable(slot, current)) return bestK;
    return this.metricOf(slot, bestK) + routeSwitchHysteresis < this.metricOf(slot, current) ? bestK : current;
  }

  /** The best feasible alternate to the selected next hop (fast reroute); -1 if none. */
  alternate(slot: number): number {
    const current = this.selected[slot]!;
    return current === none ? none : this.best(slot, current);
  }

  /** Tightens the feasibility distance after advertising (seqno, metric); it never loosens. */
  advanceFeasibility(slot: number, seqno: number, metric: number): void {
    if (metric >= metricInfinity) return;
    const fdSeqno = this.fdSeqno[slot]!;
    if (fdSeqno === none || seqnoNewer(seqno, fdSeqno) || (seqno === fdSeqno && metric < this.fdMetric[slot]!)) {
      this.fdSeqno[slot] = seqno;
      this.fdMetric[slot] = metric;
    }
  }

  private grow(capacity: number, width: number): void {
    // `stride` numbers per route; each source's row of `width` routes moves to its new place.
    const copyPerSource = <T extends Int32Array | Float64Array>(old: T, next: T, stride: number): T => {
      if (width === this.width) next.set(old);
      else for (let s = 0; s < this.capacity; s++) next.set(old.subarray(s * this.width * stride, (s + 1) * this.width * stride), s * width * stride);
      return next;
    };
    // New cells, including the new neighbour columns of existing rows, start as "no route" (seqno 0).
    const routes = new Int32Array(2 * capacity * width);
    for (let i = 0; i < routes.length; i += 2) routes[i] = none;
    this.routes = copyPerSource(this.routes, routes, 2);
    this.routeExpiresAtMs = copyPerSource(this.routeExpiresAtMs, new Float64Array(capacity * width), 1);
    this.fdSeqno = growColumn(this.fdSeqno, capacity, (n) => new Int32Array(n));
    this.fdMetric = growColumn(this.fdMetric, capacity, (n) => new Int32Array(n));
    this.selected = growColumn(this.selected, capacity, (n) => new Int16Array(n));
    this.advertisedSeqno = growColumn(this.advertisedSeqno, capacity, (n) => new Int32Array(n));
    this.advertisedMetric = growColumn(this.advertisedMetric, capacity, (n) => new Int32Array(n));
    this.seqnoRetryAtMs = growColumn(this.seqnoRetryAtMs, capacity, (n) => new Float64Array(n));
    this.seqnoRequestsSent = growColumn(this.seqnoRequestsSent, capacity, (n) => new Uint8Array(n));
    this.lastSelectedMs = growColumn(this.lastSelectedMs, capacity, (n) => new Float64Array(n));
    this.capacity = capacity;
    this.width = width;
  }
}

function growColumn<T extends Int32Array | Int16Array | Float64Array | Uint8Array>(old: T, capacity: number, make: (n: number) => T): T {
  if (old.length >= capacity) return old;
  const next = make(capacity);
  next.set(old);
  return next;
}
