import { describe, expect, it } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { rfc8966Profile } from '../../src/mesh/profiles.js';
import { Harness } from './harness.js';

describe('the linkUnreachable hint', () => {
  it('takes the neighbour down in the same call, routes move to the other path, and probes bring it back', () => {
    // A triangle: 0-1 direct (link 0), and 0-2-1.
    const h = new Harness(3, [
      { a: 0, b: 1 },
      { a: 0, b: 2 },
      { a: 2, b: 1 },
    ]);
    h.runUntil(2000);
    expect(h.node(0).routes().find((route) => route.dst === h.id(1))?.link).toBe(0);
    const result = h.input(0, { kind: 'linkUnreachable', link: 0 as LinkId });
    expect(result.events).toContainEqual({ kind: 'neighbourDown', link: 0, peer: h.id(1), reason: 'link-unreachable' });
    // Not at once: 0-2-1 is not feasible against the direct route's distance, so a route query runs first.
    expect(h.node(0).routes().find((route) => route.dst === h.id(1))?.link).not.toBe(0);
    h.runFor(20);
    expect(h.node(0).routes().find((route) => route.dst === h.id(1))?.link).toBe(1);
    // Again while down, and for a link it does not have: nothing more happens.
    expect(h.input(0, { kind: 'linkUnreachable', link: 0 as LinkId }).events).toEqual([]);
    expect(h.input(0, { kind: 'linkUnreachable', link: 9 as LinkId }).events).toEqual([]);
    h.runFor(1000);
    expect(h.node(0).routes().find((route) => route.dst === h.id(1))?.link).toBe(0);
  });

  it('changes nothing without probes (profile rfc8966): Hellos decide there', () => {
    const h = new Harness(2, [{ a: 0, b: 1 }], { profile: rfc8966Profile });
    h.runUntil(30_000);
    expect(h.input(0, { kind: 'linkUnreachable', link: 0 as LinkId }).events).toEqual([]);
    expect(h.node(0).neighbourViews()[0]!.usable).toBe(true);
  });
});

describe('the linkPenalty input', () => {
  it('adds its cost to the link, so routes move to a cheaper path; removing it moves them back', () => {
    const h = new Harness(3, [
      { a: 0, b: 1 },
      { a: 0, b: 2 },
      { a: 2, b: 1 },
    ]);
    h.runUntil(2000);
    const toOne = (): number | undefined => h.node(0).routes().find((route) => route.dst === h.id(1))?.link;
    expect(toOne()).toBe(0);
    h.input(0, { kind: 'linkPenalty', link: 0 as LinkId, extraCost: 1000 });
    expect(h.node(0).neighbourViews().find((view) => view.link === 0)!.cost).toBe(256 + 1000);
    h.runFor(1000);
    expect(toOne()).toBe(1);
    // A penalty never makes the link unusable: the largest one leaves a route of last resort.
    h.input(0, { kind: 'linkPenalty', link: 0 as LinkId, extraCost: 65534 });
    expect(h.node(0).neighbourViews().find((view) => view.link === 0)).toMatchObject({ usable: true, cost: 65534 });
    h.input(0, { kind: 'linkPenalty', link: 0 as LinkId, extraCost: 0 });
    h.runFor(1000);
    expect(toOne()).toBe(0);
    expect(h.input(0, { kind: 'linkPenalty', link: 7 as LinkId, extraCost: 5 }).events).toEqual([]);
  });

  it('refuses a penalty outside 0..65534, naming it', () => {
    const h = new Harness(2, [{ a: 0, b: 1 }]);
    expect(() => h.input(0, { kind: 'linkPenalty', link: 0 as LinkId, extraCost: 65535 })).toThrow('MeshNode: expected a link penalty in 0..65534, got 65535');
    expect(() => h.input(0, { kind: 'linkPenalty', link: 0 as LinkId, extraCost: -1 })).toThrow(/got -1/);
  });
});
