import { describe, expect, it } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { MeshNode } from '../../src/mesh/node.js';
import { nodeId } from '../../src/wire/ids.js';
import { Harness, mulberry32, type LinkSpec } from './harness.js';

const A = 0;
const B = 1;
const C = 2;
const D = 3;

/** A square A-B-D / A-C-D; the path via C is longer (A-C has a 60 ms RTT), so A reaches D via B. */
const square: LinkSpec[] = [
  { a: A, b: B, delayMs: 1 },
  { a: A, b: C, delayMs: 30 },
  { a: B, b: D, delayMs: 1 },
  { a: C, b: D, delayMs: 1 },
];
const viaB = 0 as LinkId;
const viaC = 1 as LinkId;

function routeTo(h: Harness, from: number, to: number): ReturnType<MeshNode['routes']>[number] | undefined {
  return h.node(from).routes().find((r) => r.dst === h.id(to));
}

describe('MeshNode: transit decisions (a policy that keeps traffic off a neighbour)', () => {
  it('goes around a neighbour denied transit, keeps the route to the neighbour itself, and comes back when allowed', () => {
    const h = new Harness(4, square, { emitRouteEvents: true });
    h.runUntil(2000);
    expect(routeTo(h, A, D)).toMatchObject({ link: viaB, metric: 512 });

    h.input(A, { kind: 'transit', link: viaB, allowed: false });
    // At once, in the same call: the route via B counts as retracted and C is the alternate.
    expect(routeTo(h, A, D)).toMatchObject({ link: viaC, metric: 580 });
    expect(routeTo(h, A, B)).toMatchObject({ link: viaB, metric: 256 });
    // B's periodic and triggered updates do not bring the route back while transit is denied.
    h.runUntil(40_000);
    expect(routeTo(h, A, D)).toMatchObject({ link: viaC });
    expect(routeTo(h, A, B)).toMatchObject({ link: viaB });
    // Data for D leaves via C.
    expect(h.node(A).nextHopLink(h.id(D))).toBe(viaC);

    h.input(A, { kind: 'transit', link: viaB, allowed: true });
    h.runUntil(41_000);
    expect(routeTo(h, A, D)).toMatchObject({ link: viaB, metric: 512 });
  });

  it('ignores a decision for an unknown link or one that changes nothing', () => {
    const h = new Harness(4, square);
    h.runUntil(2000);
    const before = h.node(A).routes();
    h.input(A, { kind: 'transit', link: 99 as LinkId, allowed: false });
    h.input(A, { kind: 'transit', link: viaB, allowed: true });
    expect(h.node(A).routes()).toEqual(before);
  });
});

describe('MeshNode: drain and shutdown', () => {
  it('a draining node retracts every route but its own: neighbours go around it and still reach it', () => {
    const h = new Harness(4, square);
    h.runUntil(2000);
    expect(h.node(B).isDraining).toBe(false);
    h.input(B, { kind: 'drain' });
    expect(h.node(B).isDraining).toBe(true);
    h.runUntil(2100);
    expect(routeTo(h, A, D)).toMatchObject({ link: viaC });
    expect(routeTo(h, A, B)).toMatchObject({ link: viaB, metric: 256 });
    // B keeps its own routes and still forwards what reaches it.
    expect(routeTo(h, B, D)).toBeDefined();
    h.runUntil(60_000);
    expect(routeTo(h, A, D)).toMatchObject({ link: viaC });
  });

  it('a node shutting down retracts its own route too, before any probe times out', () => {
    const h = new Harness(4, square);
    h.runUntil(2000);
    h.input(B, { kind: 'shutdown' });
    h.runUntil(2010);
    expect(routeTo(h, A, B)?.link).not.toBe(viaB);
    expect(routeTo(h, A, D)).toMatchObject({ link: viaC });
    expect(h.eventsOf(A, 'neighbourDown')).toEqual([]);
  });
});

describe('MeshNode: initial seqno', () => {
  it('starts at the configured seqno (a restarted daemon passes one more than it saved)', () => {
    const node = new MeshNode({ id: nodeId(7), random: mulberry32(1), initialSeqno: 65_535 });
    expect(node.ownSeqno).toBe(65_535);
    const wrapped = new MeshNode({ id: nodeId(7), random: mulberry32(1), initialSeqno: 65_536 });
    expect(wrapped.ownSeqno).toBe(0);
    const random = new MeshNode({ id: nodeId(7), random: mulberry32(1) });
    expect(random.ownSeqno).toBe(Math.floor(mulberry32(1)() * 0x10000));
  });
});

describe('MeshNode: transit probes (an echo request sent through a chosen neighbour)', () => {
  it('picks the nearest destination beyond the neighbour, never the neighbour or the node itself', () => {
    const h = new Harness(4, square);
    h.runUntil(2000);
    // Beyond B (link 0) lies D one hop away; beyond C (link 1) lies D too.
    expect(h.node(A).transitProbeTarget(viaB)).toBe(h.id(D));
    expect(h.node(A).transitProbeTarget(viaC)).toBe(h.id(D));
    // A leaf's only neighbour offers nothing beyond itself but routes back to the leaf.
    const leaf = new Harness(2, [{ a: A, b: B, delayMs: 1 }]);
    leaf.runUntil(2000);
    expect(leaf.node(A).transitProbeTarget(0 as LinkId)).toBeNull();
    expect(h.node(A).transitProbeTarget(9 as LinkId)).toBeNull();
  });

  it('sends the probe on the given link even when the route to the target goes elsewhere, and the target answers', () => {
    const h = new Harness(4, square);
    h.runUntil(2000);
    expect(h.node(A).nextHopLink(h.id(D))).toBe(viaB);
    const out = h.input(A, { kind: 'ping', dst: h.id(D), id: 41, via: viaC });
    expect(out.sends.map((s) => s.link)).toEqual([viaC]);
    h.runFor(200);
    expect(h.eventsOf(A, 'echoReply').map((r) => r.event)).toEqual([{ kind: 'echoReply', from: h.id(D), id: 41, hopLimit: expect.any(Number) }]);
    // C forwarded it: that is what the probe tests.
    expect(h.node(C).stats.dataForwarded).toBeGreaterThanOrEqual(1);
  });

  it('drops a probe through a neighbour that is not usable, or addressed to the node itself, as no route', () => {
    const h = new Harness(4, square);
    h.runUntil(2000);
    h.cut(1);
    h.runUntil(4000);
    expect(h.input(A, { kind: 'ping', dst: h.id(D), id: 1, via: viaC }).sends).toEqual([]);
    expect(h.input(A, { kind: 'ping', dst: h.id(D), id: 2, via: 7 as LinkId }).sends).toEqual([]);
    expect(h.input(A, { kind: 'ping', dst: h.id(A), id: 3, via: viaB }).sends).toEqual([]);
    expect(h.node(A).stats.dropNoRoute).toBe(3);
    expect(h.node(A).transitProbeTarget(viaC)).toBeNull();
  });
});
