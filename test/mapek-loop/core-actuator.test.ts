import { describe, expect, it } from 'vitest';
import { avoidPenalty, CoreActuator, linkPenalty, type CoreHandle } from '../../src/mapek/core-actuator.js';
import type { Subject } from '../../src/mapek/actions.js';
import { Harness } from '../mesh/harness.js';

/** The actuator of harness node `index`; subjects name nodes by NodeId. */
function handleOf(h: Harness, index: number): CoreHandle {
  return {
    links: () => h.node(index).neighbourViews().map((view) => ({ link: view.link, peer: view.peer, usable: view.usable })),
    input: (input) => {
      h.input(index, input);
    },
  };
}

function square(): Harness {
  // 0-1-2 and 0-3-2: two ways from 0 to 2.
  const h = new Harness(4, [
    { a: 0, b: 1 },
    { a: 1, b: 2 },
    { a: 0, b: 3 },
    { a: 3, b: 2 },
  ]);
  h.runUntil(2000);
  return h;
}

const nextHopTo = (h: Harness, from: number, to: number): number | null | undefined => h.node(from).routes().find((route) => route.dst === h.id(to))?.nextHop;

describe('CoreActuator', () => {
  it('quarantines a node: no route goes through it (it stays reachable itself); rollback lets it carry transit again', () => {
    const h = square();
    const actuator = new CoreActuator(handleOf(h, 0));
    const via = nextHopTo(h, 0, 2)!;
    const other = via === h.id(1) ? h.id(3) : h.id(1);
    const subject: Subject = { kind: 'node', node: via };
    expect(actuator.isOnlyPath(subject)).toBe(false);
    expect(actuator.execute('quarantineNode', subject)).toEqual({ ok: true });
    h.runFor(500);
    expect(nextHopTo(h, 0, 2)).toBe(other);
    expect(nextHopTo(h, 0, via - 1)).toBe(via);
    actuator.rollback('quarantineNode', subject);
    h.runFor(500);
    expect(h.node(0).neighbourViews().every((view) => view.usable)).toBe(true);
  });

  it('penalises and avoids links; penalties of two actions combine as their maximum and roll back one by one', () => {
    const h = square();
    const actuator = new CoreActuator(handleOf(h, 0));
    const subject: Subject = { kind: 'link', from: h.id(0), to: h.id(1) };
    const costTo1 = (): number => h.node(0).neighbourViews().find((view) => view.peer === h.id(1))!.cost;
    expect(actuator.execute('penaliseLink', subject)).toEqual({ ok: true });
    expect(costTo1()).toBe(256 + linkPenalty);
    expect(actuator.execute('avoidLink', subject)).toEqual({ ok: true });
    expect(costTo1()).toBe(256 + avoidPenalty);
    actuator.rollback('avoidLink', subject);
    expect(costTo1()).toBe(256 + linkPenalty);
    actuator.rollback('penaliseLink', subject);
    expect(costTo1()).toBe(256);
  });

  it('knows a node\'s only path, and refuses a subject it has no link to', () => {
    const line = new Harness(3, [
      { a: 0, b: 1 },
      { a: 1, b: 2 },
    ]);
    line.runUntil(2000);
    const actuator = new CoreActuator(handleOf(line, 0));
    expect(actuator.isOnlyPath({ kind: 'node', node: line.id(1) })).toBe(true);
    expect(actuator.isOnlyPath({ kind: 'node', node: line.id(2) })).toBe(false);
    expect(actuator.execute('quarantineNode', { kind: 'node', node: line.id(2) })).toEqual({ ok: false, reason: `no link of this node leads to node ${line.id(2)}` });
  });

  it('refuses what the core cannot do unless the driver handles it, and hands rollbacks to that handler', () => {
    const h = square();
    const undone: string[] = [];
    const bare = new CoreActuator(handleOf(h, 0));
    const subject: Subject = { kind: 'link', from: h.id(0), to: h.id(1) };
    expect(bare.execute('switchObfuscation', subject)).toEqual({ ok: false, reason: 'switchObfuscation is not available on this node' });
    bare.rollback('rotateKeys', subject); // nothing to undo, no error
    const handled = new CoreActuator(handleOf(h, 0), { rotateKeys: { apply: () => ({ ok: true }), undo: (s) => undone.push(JSON.stringify(s)) } });
    expect(handled.execute('rotateKeys', subject)).toEqual({ ok: true });
    handled.rollback('rotateKeys', subject);
    expect(undone).toEqual([JSON.stringify(subject)]);
  });
});

describe('MapeK with a real routing core', () => {
  it('takes a node that ruins the traffic through it out of transit, sees the symptom clear, and learns that it helped', async () => {
    const { MapeK } = await import('../../src/mapek/loop.js');
    const { MemoryKnowledge } = await import('../../src/mapek/knowledge.js');
    const { FaultClass } = await import('../../src/telemetry/types.js');
    const h = square();
    const bad = nextHopTo(h, 0, 2)!;
    const knowledge = new MemoryKnowledge();
    const mapek = new MapeK(new CoreActuator(handleOf(h, 0)), knowledge, () => undefined);
    // The analyser's view: flows from 0 to 2 suffer while they go through the bad node.
    for (let window = 1; window <= 6; window++) {
      h.runFor(1000);
      const score = nextHopTo(h, 0, 2) === bad ? 0.95 : 0.05;
      mapek.step(h.nowMs, [{ subject: { kind: 'node', node: bad }, cause: FaultClass.greyHole, score, evidence: { score } }]);
    }
    expect(nextHopTo(h, 0, 2)).not.toBe(bad);
    expect(knowledge.record(FaultClass.greyHole, 'quarantineNode')).toMatchObject({ attempts: 1, successes: 1 });
    expect(mapek.incidentViews()[0]).toMatchObject({ state: 'cleared', action: 'quarantineNode' });
  });
});
