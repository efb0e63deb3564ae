import { describe, expect, it } from 'vitest';
import type { LinkId, Neighbour } from '../../src/mesh/neighbour.js';
import { RouteTable, routeSwitchHysteresis } from '../../src/mesh/route-table.js';
import { seqnoHalfway } from '../../src/mesh/seqno.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import { metricInfinity } from '../../src/wire/limits.js';

/** The part of a Neighbour the route table reads. */
interface FakeNeighbour {
  link: LinkId;
  usable: boolean;
  cost: number;
  slot: number;
}

const src = (n: number): NodeId => nodeId(n);
const far = 1e12;

/** A table whose neighbour slot k holds a fake neighbour on link `links[k]` with cost 256. */
function tableWith(links: number[]): { table: RouteTable; fakes: FakeNeighbour[] } {
  const table = new RouteTable();
  const fakes = links.map((link, k) => {
    const fake: FakeNeighbour = { link: link as LinkId, usable: true, cost: 256, slot: k };
    table.ensureNeighbourSlot(k);
    table.neighbours[k] = fake as unknown as Neighbour;
    return fake;
  });
  return { table, fakes };
}

describe('RouteTable: source slots', () => {
  it('gives each new source a fresh, empty slot and the same slot on a second call', () => {
    const table = new RouteTable();
    expect(table.size).toBe(0);
    expect(table.slotOf(src(7))).toBe(-1);
    const a = table.ensureSlot(src(7), 123);
    const b = table.ensureSlot(src(9), 456);
    expect([a, b]).toEqual([0, 1]);
    expect(table.ensureSlot(src(7), 999)).toBe(a);
    expect(table.size).toBe(2);
    expect(table.slotOf(src(9))).toBe(b);
    expect(table.sourceAt(b)).toBe(src(9));
    expect([...table.slots()].sort()).toEqual([0, 1]);
    expect(table.fdSeqno[a]).toBe(-1);
    expect(table.fdMetric[a]).toBe(metricInfinity);
    expect(table.selected[a]).toBe(-1);
    expect(table.advertisedSeqno[a]).toBe(0);
    expect(table.advertisedMetric[a]).toBe(metricInfinity);
    expect(table.seqnoRetryAtMs[a]).toBe(Number.POSITIVE_INFINITY);
    expect(table.seqnoRequestsSent[a]).toBe(0);
    expect(table.lastSelectedMs[a]).toBe(123);
    expect(table.lastSelectedMs[b]).toBe(456);
    expect(table.isEmpty(a)).toBe(true);
  });

  it('reuses a freed slot with every column and route reset', () => {
    const { table } = tableWith([1, 2]);
    const a = table.ensureSlot(src(1), 0);
    const b = table.ensureSlot(src(2), 0);
    table.setRoute(b, 0, 10, 100, far);
    table.setRoute(b, 1, 10, 200, far);
    table.selected[b] = 0;
    table.advanceFeasibility(b, 10, 356);
    table.advertisedMetric[b] = 356;
    table.seqnoRequestsSent[b] = 3;
    table.seqnoRetryAtMs[b] = 77;
    table.freeSlot(b);
    expect(table.slotOf(src(2))).toBe(-1);
    expect(table.size).toBe(1);
    expect([...table.slots()]).toEqual([a]);

    const c = table.ensureSlot(src(3), 50);
    expect(c).toBe(b);
    expect(table.sourceAt(c)).toBe(src(3));
    expect(table.isEmpty(c)).toBe(true);
    expect(table.hasRoute(c, 0)).toBe(false);
    expect(table.hasRoute(c, 1)).toBe(false);
    expect(table.fdSeqno[c]).toBe(-1);
    expect(table.fdMetric[c]).toBe(metricInfinity);
    expect(table.selected[c]).toBe(-1);
    expect(table.advertisedMetric[c]).toBe(metricInfinity);
    expect(table.seqnoRequestsSent[c]).toBe(0);
    expect(table.seqnoRetryAtMs[c]).toBe(Number.POSITIVE_INFINITY);
    expect(table.lastSelectedMs[c]).toBe(50);
    // With no free slot left, the next source gets a new one.
    expect(table.ensureSlot(src(4), 0)).toBe(2);
  });

  it('keeps every route and column when the source capacity grows', () => {
    const { table } = tableWith([1, 2]);
    const count = 40; // Capacity grows 16 -> 32 -> 64.
    for (let i = 0; i < count; i++) {
      const slot = table.ensureSlot(src(i + 1), i);
      expect(slot).toBe(i);
      table.setRoute(slot, i % 2, i, 1000 + i, 5000 + i);
      table.advanceFeasibility(slot, i, 2000 + i);
      table.selected[slot] = i % 2;
    }
    for (let i = 0; i < count; i++) {
      expect(table.sourceAt(i)).toBe(src(i + 1));
      expect(table.hasRoute(i, i % 2)).toBe(true);
      expect(table.hasRoute(i, 1 - (i % 2))).toBe(false);
      expect(table.seqnoOf(i, i % 2)).toBe(i);
      expect(table.advMetricOf(i, i % 2)).toBe(1000 + i);
      expect(table.fdSeqno[i]).toBe(i);
      expect(table.fdMetric[i]).toBe(2000 + i);
      expect(table.selected[i]).toBe(i % 2);
      expect(table.lastSelectedMs[i]).toBe(i);
    }
    // Expiry times survived the copy too: each route expires exactly at its own time.
    expect(table.expireRoutes(3, 5002)).toBe(false);
    expect(table.expireRoutes(3, 5003)).toBe(true);
    expect(table.hasRoute(3, 1)).toBe(false);
  });

  it('keeps every route when the neighbour width grows, and new columns start empty', () => {
    const table = new RouteTable();
    table.ensureNeighbourSlot(0);
    table.neighbours[0] = { link: 0 as LinkId, usable: true, cost: 256, slot: 0 } as unknown as Neighbour;
    for (let i = 0; i < 20; i++) table.setRoute(table.ensureSlot(src(i + 1), 0), 0, i, 300 + i, 9000 + i);
    for (const k of [1, 2, 3, 4, 9]) {
      table.ensureNeighbourSlot(k);
      table.neighbours[k] = { link: k as LinkId, usable: true, cost: 256, slot: k } as unknown as Neighbour;
    }
    table.ensureNeighbourSlot(2); // Already room: nothing changes.
    table.setRoute(5, 9, 77, 777, 1);
    for (let i = 0; i < 20; i++) {
      expect(table.hasRoute(i, 0)).toBe(true);
      expect(table.seqnoOf(i, 0)).toBe(i);
      expect(table.advMetricOf(i, 0)).toBe(300 + i);
      for (const k of [1, 2, 3, 4, 9]) expect(table.hasRoute(i, k)).toBe(i === 5 && k === 9);
    }
    expect(table.metricOf(5, 9)).toBe(777 + 256);
    // Expiry of the old column moved with it.
    expect(table.expireRoutes(7, 9006)).toBe(false);
    expect(table.expireRoutes(7, 9007)).toBe(true);
    expect(table.isEmpty(7)).toBe(true);
  });
});

describe('RouteTable: routes', () => {
  it('setRoute reports a change only when seqno or metric changes, but always refreshes the expiry', () => {
    const { table } = tableWith([1]);
    const slot = table.ensureSlot(src(5), 0);
    expect(table.setRoute(slot, 0, 3, 100, 1000)).toBe(true);
    expect(table.setRoute(slot, 0, 3, 100, 2000)).toBe(false);
    expect(table.expireRoutes(slot, 1500)).toBe(false);
    expect(table.hasRoute(slot, 0)).toBe(true);
    expect(table.setRoute(slot, 0, 3, 101, 2000)).toBe(true);
    expect(table.setRoute(slot, 0, 4, 101, 2000)).toBe(true);
    expect(table.seqnoOf(slot, 0)).toBe(4);
    expect(table.advMetricOf(slot, 0)).toBe(101);
    expect(table.expireRoutes(slot, 2000)).toBe(true);
    expect(table.hasRoute(slot, 0)).toBe(false);
  });

  it('clearRoute removes a route once and says whether there was one', () => {
    const { table } = tableWith([1, 2]);
    const slot = table.ensureSlot(src(5), 0);
    table.setRoute(slot, 1, 3, 100, far);
    expect(table.clearRoute(slot, 0)).toBe(false);
    expect(table.clearRoute(slot, 1)).toBe(true);
    expect(table.clearRoute(slot, 1)).toBe(false);
    expect(table.isEmpty(slot)).toBe(true);
  });

  it('expireRoutes removes only the routes due and leaves other sources alone', () => {
    const { table } = tableWith([1, 2, 3]);
    const slot = table.ensureSlot(src(5), 0);
    const other = table.ensureSlot(src(6), 0);
    table.setRoute(slot, 0, 1, 10, 100);
    table.setRoute(slot, 1, 1, 10, 200);
    table.setRoute(other, 0, 1, 10, 50);
    expect(table.expireRoutes(slot, 99)).toBe(false);
    expect(table.expireRoutes(slot, 100)).toBe(true);
    expect([table.hasRoute(slot, 0), table.hasRoute(slot, 1), table.hasRoute(slot, 2)]).toEqual([false, true, false]);
    expect(table.isEmpty(slot)).toBe(false);
    expect(table.hasRoute(other, 0)).toBe(true);
  });

  it('metricOf adds the link cost and saturates at infinity', () => {
    const { table, fakes } = tableWith([1]);
    const slot = table.ensureSlot(src(5), 0);
    table.setRoute(slot, 0, 1, 1000, far);
    expect(table.metricOf(slot, 0)).toBe(1256);
    fakes[0]!.cost = metricInfinity - 100;
    expect(table.metricOf(slot, 0)).toBe(metricInfinity);
  });
});

describe('RouteTable: feasibility (RFC 8966 3.5.1)', () => {
  const slotWithFd = (seqno: number, metric: number): { table: RouteTable; slot: number } => {
    const { table } = tableWith([1]);
    const slot = table.ensureSlot(src(5), 0);
    table.advanceFeasibility(slot, seqno, metric);
    return { table, slot };
  };

  it('accepts anything while no distance is recorded', () => {
    const { table } = tableWith([1]);
    const slot = table.ensureSlot(src(5), 0);
    expect(table.isFeasible(slot, 0, 60000)).toBe(true);
  });

  it('accepts a newer seqno whatever the metric, and an equal seqno only with a strictly smaller metric', () => {
    const { table, slot } = slotWithFd(100, 500);
    expect(table.isFeasible(slot, 101, 60000)).toBe(true);
    expect(table.isFeasible(slot, 100, 499)).toBe(true);
    expect(table.isFeasible(slot, 100, 500)).toBe(false);
    expect(table.isFeasible(slot, 100, 501)).toBe(false);
    expect(table.isFeasible(slot, 99, 0)).toBe(false);
  });

  it('compares seqnos modulo 2^16, and a seqno exactly half-way away is not newer', () => {
    const { table, slot } = slotWithFd(0xffff, 500);
    expect(table.isFeasible(slot, 0, 900)).toBe(true);
    expect(table.isFeasible(slot, 0x7ffe, 900)).toBe(true); // 0x7fff ahead
    expect(table.isFeasible(slot, (0xffff + seqnoHalfway) & 0xffff, 0)).toBe(false);
    expect(table.isFeasible(slot, 0xfffe, 0)).toBe(false);
  });

  it('advanceFeasibility tightens the distance and never loosens it', () => {
    const { table, slot } = slotWithFd(100, 500);
    table.advanceFeasibility(slot, 100, 600); // Same seqno, larger metric: ignored.
    expect([table.fdSeqno[slot], table.fdMetric[slot]]).toEqual([100, 500]);
    table.advanceFeasibility(slot, 99, 10); // Older seqno: ignored even with a smaller metric.
    expect([table.fdSeqno[slot], table.fdMetric[slot]]).toEqual([100, 500]);
    table.advanceFeasibility(slot, 100, metricInfinity); // A retraction never moves it.
    expect([table.fdSeqno[slot], table.fdMetric[slot]]).toEqual([100, 500]);
    table.advanceFeasibility(slot, 100 + seqnoHalfway, 10); // Half-way is not newer.
    expect([table.fdSeqno[slot], table.fdMetric[slot]]).toEqual([100, 500]);
    table.advanceFeasibility(slot, 100, 400);
    expect([table.fdSeqno[slot], table.fdMetric[slot]]).toEqual([100, 400]);
    table.advanceFeasibility(slot, 101, 900); // Newer seqno: any metric.
    expect([table.fdSeqno[slot], table.fdMetric[slot]]).toEqual([101, 900]);
  });
});

describe('RouteTable: selection', () => {
  it('isSelectable needs a route, a usable neighbour, a finite metric and feasibility', () => {
    const { table, fakes } = tableWith([1, 2, 3, 4]);
    const slot = table.ensureSlot(src(5), 0);
    table.advanceFeasibility(slot, 10, 1000);
    table.setRoute(slot, 1, 10, 100, far);
    table.setRoute(slot, 2, 10, metricInfinity - 200, far);
    table.setRoute(slot, 3, 10, 2000, far);
    expect(table.isSelectable(slot, 0)).toBe(false); // No route.
    expect(table.isSelectable(slot, 1)).toBe(true);
    expect(table.isSelectable(slot, 2)).toBe(false); // 65335 + 256 saturates.
    expect(table.isSelectable(slot, 3)).toBe(false); // Unfeasible.
    fakes[1]!.usable = false;
    expect(table.isSelectable(slot, 1)).toBe(false);
  });

  it('best() picks the lowest metric, breaks ties by the lower link id, and honours the exclusion', () => {
    // Slot 0 holds link 9 and slot 1 link 4: the tie must go to slot 1 although it comes later.
    const { table, fakes } = tableWith([9, 4, 6]);
    const slot = table.ensureSlot(src(5), 0);
    expect(table.best(slot, -1)).toBe(-1);
    table.setRoute(slot, 0, 1, 100, far);
    table.setRoute(slot, 1, 1, 100, far);
    table.setRoute(slot, 2, 1, 150, far);
    expect(table.best(slot, -1)).toBe(1);
    expect(table.best(slot, 1)).toBe(0);
    fakes[2]!.cost = 200; // 350 < 356
    expect(table.best(slot, -1)).toBe(2);
    fakes[0]!.usable = false;
    fakes[1]!.usable = false;
    fakes[2]!.usable = false;
    expect(table.best(slot, -1)).toBe(-1);
  });

  it('select() keeps the current route unless another is better by more than the hysteresis', () => {
    expect(routeSwitchHysteresis).toBe(32);
    const { table } = tableWith([1, 2]);
    const slot = table.ensureSlot(src(5), 0);
    table.setRoute(slot, 0, 1, 500, far); // metric 756
    expect(table.select(slot)).toBe(0); // Nothing selected yet: the best.
    table.selected[slot] = 0;
    table.setRoute(slot, 1, 1, 500 - 32, far); // Better by exactly 32: keep.
    expect(table.select(slot)).toBe(0);
    table.setRoute(slot, 1, 1, 500 - 33, far); // Better by 33: switch.
    expect(table.select(slot)).toBe(1);
    table.setRoute(slot, 1, 1, 500, far); // Equal (and tie on link id would favour 0 anyway).
    table.selected[slot] = 1;
    expect(table.select(slot)).toBe(1);
  });

  it('select() leaves the current route at once when it becomes unselectable', () => {
    const { table, fakes } = tableWith([1, 2]);
    const slot = table.ensureSlot(src(5), 0);
    table.setRoute(slot, 0, 1, 500, far);
    table.setRoute(slot, 1, 1, 510, far); // Worse by 10.
    table.selected[slot] = 0;
    expect(table.select(slot)).toBe(0);
    fakes[0]!.usable = false;
    expect(table.select(slot)).toBe(1);
    table.clearRoute(slot, 1);
    expect(table.select(slot)).toBe(-1);
  });

  it('alternate() is the best feasible route other than the selected one', () => {
    const { table } = tableWith([1, 2, 3]);
    const slot = table.ensureSlot(src(5), 0);
    table.setRoute(slot, 0, 1, 100, far);
    table.setRoute(slot, 1, 1, 300, far);
    table.setRoute(slot, 2, 1, 600, far);
    expect(table.alternate(slot)).toBe(-1); // Nothing selected.
    table.selected[slot] = 0;
    table.advanceFeasibility(slot, 1, 356); // As if we advertised the route through slot 0.
    expect(table.alternate(slot)).toBe(1);
    table.advanceFeasibility(slot, 1, 300); // Now 300 is not < 300: no feasible alternate.
    expect(table.alternate(slot)).toBe(-1);
  });

  it('hasUnfeasibleRoute reports only usable finite routes that feasibility rejects', () => {
    const { table, fakes } = tableWith([1, 2]);
    const slot = table.ensureSlot(src(5), 0);
    expect(table.hasUnfeasibleRoute(slot)).toBe(false);
    table.advanceFeasibility(slot, 10, 400);
    table.setRoute(slot, 0, 10, 100, far); // Feasible.
    expect(table.hasUnfeasibleRoute(slot)).toBe(false);
    table.setRoute(slot, 1, 10, 400, far); // Unfeasible.
    expect(table.hasUnfeasibleRoute(slot)).toBe(true);
    fakes[1]!.usable = false;
    expect(table.hasUnfeasibleRoute(slot)).toBe(false);
    fakes[1]!.usable = true;
    fakes[1]!.cost = metricInfinity - 1; // Infinite route: not starvation.
    expect(table.hasUnfeasibleRoute(slot)).toBe(false);
    fakes[1]!.cost = 256;
    table.setRoute(slot, 1, 11, 400, far); // Newer seqno: feasible again.
    expect(table.hasUnfeasibleRoute(slot)).toBe(false);
  });
});
