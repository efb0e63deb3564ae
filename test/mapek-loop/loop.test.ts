import { describe, expect, it } from 'vitest';
import { actionTable, subjectKey, type ActionKind, type Subject } from '../../src/mapek/actions.js';
import { MemoryKnowledge, rankActions, successScore } from '../../src/mapek/knowledge.js';
import { loopDefaults, MapeK, type Actuator, type AuditEntry, type Finding } from '../../src/mapek/loop.js';
import { FaultClass, type FaultClassValue } from '../../src/telemetry/types.js';

const grey: Subject = { kind: 'node', node: 7 };
const link: Subject = { kind: 'link', from: 1, to: 2 };

/** An actuator that records what it was asked and refuses what it is told to. */
class FakeActuator implements Actuator {
  readonly executed: string[] = [];
  readonly rolledBack: string[] = [];
  onlyPath = false;
  refuse = new Set<ActionKind>();

  isOnlyPath(): boolean {
    return this.onlyPath;
  }

  execute(kind: ActionKind, subject: Subject): { ok: true } | { ok: false; reason: string } {
    if (this.refuse.has(kind)) return { ok: false, reason: `${kind} is not possible here` };
    this.executed.push(`${kind} ${subjectKey(subject)}`);
    return { ok: true };
  }

  rollback(kind: ActionKind, subject: Subject): void {
    this.rolledBack.push(`${kind} ${subjectKey(subject)}`);
  }
}

function finding(subject: Subject, score: number, cause: FaultClassValue = FaultClass.greyHole): Finding {
  return { subject, cause, score, evidence: { deliveryThrough: 1 - score } };
}

function loop(actuator = new FakeActuator(), knowledge = new MemoryKnowledge()): { mapek: MapeK; actuator: FakeActuator; knowledge: MemoryKnowledge; audit: AuditEntry[] } {
  const audit: AuditEntry[] = [];
  return { mapek: new MapeK(actuator, knowledge, (entry) => audit.push(entry)), actuator, knowledge, audit };
}

const events = (audit: readonly AuditEntry[]): string[] => audit.map((entry) => `${entry.event}${entry.action === null ? '' : ` ${entry.action}`}`);

describe('MapeK: a grey hole', () => {
  it('holds an undecided subject where it is: an undecided window neither confirms nor clears its incident', () => {
    const { mapek, actuator, audit } = loop();
    mapek.step(1000, [finding(grey, 0.9)]);
    // Two windows in which the subject could not be judged: the incident stays suspected, not cleared.
    mapek.step(2000, [], [grey]);
    mapek.step(3000, [], [grey]);
    expect(mapek.incidentViews()).toEqual([expect.objectContaining({ subject: 'node:7', state: 'suspected' })]);
    mapek.step(4000, [finding(grey, 0.9)]);
    expect(actuator.executed).toEqual(['quarantineNode node:7']);
    expect(events(audit)).toEqual(['incidentOpened', 'incidentConfirmed', 'actionStarted quarantineNode']);
  });

  it('is confirmed after two windows, quarantined, and the success is learnt with its recovery time', () => {
    const { mapek, actuator, knowledge, audit } = loop();
    mapek.step(1000, [finding(grey, 0.9)]);
    expect(actuator.executed).toEqual([]);
    mapek.step(2000, [finding(grey, 0.9)]);
    expect(actuator.executed).toEqual(['quarantineNode node:7']);
    mapek.step(3000, [finding(grey, 0.1)]);
    mapek.step(4000, []);
    expect(events(audit)).toEqual(['incidentOpened', 'incidentConfirmed', 'actionStarted quarantineNode', 'actionSucceeded quarantineNode', 'incidentCleared quarantineNode']);
    expect(knowledge.record(FaultClass.greyHole, 'quarantineNode')).toEqual({ attempts: 1, successes: 1, meanRecoveryMs: 2000 });
    expect(audit[0]).toMatchObject({ subject: 'node:7', cause: 'greyHole', evidence: { deliveryThrough: expect.closeTo(0.1, 5) as number } });
    // Held for holdMs after clearing, then released.
    mapek.step(4000 + loopDefaults.holdMs - 1, []);
    expect(actuator.rolledBack).toEqual([]);
    mapek.step(4000 + loopDefaults.holdMs, []);
    expect(actuator.rolledBack).toEqual(['quarantineNode node:7']);
    expect(events(audit).at(-1)).toBe('actionReleased quarantineNode');
    expect(mapek.incidentViews()).toEqual([]);
  });

  it('rolls back an action that did not help within verifyMs and tries the next one', () => {
    const { mapek, actuator, knowledge, audit } = loop();
    for (let t = 1000; t <= 2000 + loopDefaults.verifyMs; t += 1000) mapek.step(t, [finding(grey, 0.9)]);
    expect(actuator.executed).toEqual(['quarantineNode node:7', 'avoidLink node:7']);
    expect(actuator.rolledBack).toEqual(['quarantineNode node:7']);
    expect(knowledge.record(FaultClass.greyHole, 'quarantineNode')).toMatchObject({ attempts: 1, successes: 0 });
    expect(events(audit)).toContain('actionFailed quarantineNode');
    expect(mapek.incidentViews()[0]).toMatchObject({ state: 'confirmed', action: 'avoidLink', tried: ['quarantineNode', 'avoidLink'] });
    // A failure makes the cause's threshold a step stricter.
    expect(mapek.threshold(FaultClass.greyHole)).toBeCloseTo(0.52, 10);
  });

  it('never takes away the node\'s only path, and says so', () => {
    const actuator = new FakeActuator();
    actuator.onlyPath = true;
    const { mapek, audit } = loop(actuator);
    for (let t = 1000; t <= 5000; t += 1000) mapek.step(t, [finding(grey, 0.95)]);
    expect(actuator.executed).toEqual([]);
    expect(audit.filter((entry) => entry.event === 'actionRefused').map((entry) => [entry.action, entry.reason])).toEqual([
      ['quarantineNode', 'the only usable path of this node'],
      ['avoidLink', 'the only usable path of this node'],
    ]);
    // Nothing left to try: said once, not every window.
    expect(audit.filter((entry) => entry.event === 'actionSuppressed').map((entry) => entry.reason)).toEqual(['every action for this cause was tried']);
  });

  it('records an actuator refusal and goes on to the next candidate', () => {
    const actuator = new FakeActuator();
    actuator.refuse.add('quarantineNode');
    const { mapek, audit } = loop(actuator);
    mapek.step(1000, [finding(grey, 0.9)]);
    mapek.step(2000, [finding(grey, 0.9)]);
    expect(actuator.executed).toEqual(['avoidLink node:7']);
    expect(audit.find((entry) => entry.event === 'actionRefused')).toMatchObject({ action: 'quarantineNode', reason: 'quarantineNode is not possible here' });
  });
});

describe('MapeK: hysteresis', () => {
  it('one window above the threshold does nothing, and a score hovering inside the band neither clears nor flaps', () => {
    const { mapek, actuator, audit } = loop();
    mapek.step(1000, [finding(link, 0.6, FaultClass.linkDegradation)]);
    mapek.step(2000, [finding(link, 0.3, FaultClass.linkDegradation)]);
    mapek.step(3000, [finding(link, 0.3, FaultClass.linkDegradation)]);
    expect(actuator.executed).toEqual([]);
    expect(events(audit)).toEqual(['incidentOpened', 'incidentCleared']);
    const again = loop();
    again.mapek.step(1000, [finding(link, 0.6, FaultClass.linkDegradation)]);
    again.mapek.step(2000, [finding(link, 0.6, FaultClass.linkDegradation)]);
    // 0.45 is below the threshold 0.5 but inside the band (>= 0.4): the incident stays.
    for (let t = 3000; t < 20_000; t += 1000) again.mapek.step(t, [finding(link, t % 2000 === 0 ? 0.55 : 0.45, FaultClass.linkDegradation)]);
    expect(again.audit.filter((entry) => entry.event === 'incidentOpened' || entry.event === 'incidentCleared')).toHaveLength(1);
    // It never cleared, so each action failed its verification in turn; none was started twice.
    expect(again.actuator.executed).toEqual(['penaliseLink link:1->2', 'avoidLink link:1->2', 'raiseProbeRate link:1->2']);
  });

  it('refuses a score outside 0..1, naming the subject', () => {
    const { mapek } = loop();
    expect(() => mapek.step(0, [finding(grey, 1.5)])).toThrow('MapeK.step: expected a score in 0..1 for node:7, got 1.5');
    expect(() => mapek.step(0, [finding(grey, Number.NaN)])).toThrow(/got NaN/);
  });
});

describe('MapeK: brakes', () => {
  it('opens the circuit breaker after five failed actions in a row, refuses everything for 60 s, then allows one trial', () => {
    const { mapek, audit } = loop();
    const subjects: Subject[] = Array.from({ length: 6 }, (_, i) => ({ kind: 'link', from: 0, to: i + 1 }));
    // Six flapping links that nothing fixes: every action fails its verification.
    for (let t = 0; t <= 150_000; t += 1000) mapek.step(t, subjects.map((subject) => finding(subject, 0.9, FaultClass.flapping)));
    const failedAt = audit.filter((entry) => entry.event === 'actionFailed').map((entry) => entry.atMs);
    const startedAt = audit.filter((entry) => entry.event === 'actionStarted').map((entry) => entry.atMs);
    const openedAt = audit.find((entry) => entry.reason === 'circuit breaker open after repeated failures')!.atMs;
    expect(failedAt.filter((at) => at <= openedAt)).toHaveLength(6); // the fifth opened it; the sixth, in flight, failed too
    // Failures of actions still in flight keep it open 60 s from the last one; nothing starts meanwhile.
    const lastFailureWhileOpen = Math.max(...failedAt.filter((at) => at < openedAt + 60_000));
    expect(startedAt.filter((at) => at > openedAt && at < lastFailureWhileOpen + 60_000)).toEqual([]);
    // Then one trial; it fails too and opens the breaker for another 60 s before the next trial.
    const trial = lastFailureWhileOpen + 60_000;
    expect(startedAt.filter((at) => at >= trial)).toEqual([trial, trial + loopDefaults.verifyMs + 60_000]);
  });

  it('starts at most ten actions per minute', () => {
    const { mapek, actuator, audit } = loop();
    const subjects: Subject[] = Array.from({ length: 12 }, (_, i) => ({ kind: 'node', node: i }));
    mapek.step(0, subjects.map((subject) => finding(subject, 0.9)));
    mapek.step(1000, subjects.map((subject) => finding(subject, 0.9)));
    expect(actuator.executed).toHaveLength(10);
    expect(audit.filter((entry) => entry.event === 'actionSuppressed').map((entry) => entry.reason)).toEqual(['rate limit: 10 actions per minute', 'rate limit: 10 actions per minute']);
  });
});

describe('Knowledge', () => {
  it('ranks by smoothed success rate, then by recovery time, then by the table order', () => {
    const knowledge = new MemoryKnowledge();
    const candidates = actionTable[FaultClass.linkDegradation];
    expect(rankActions(knowledge, FaultClass.linkDegradation, candidates)).toEqual(['penaliseLink', 'avoidLink', 'raiseProbeRate']);
    knowledge.addOutcome(FaultClass.linkDegradation, 'penaliseLink', false, null);
    knowledge.addOutcome(FaultClass.linkDegradation, 'avoidLink', true, 3000);
    knowledge.addOutcome(FaultClass.linkDegradation, 'raiseProbeRate', true, 1000);
    expect(rankActions(knowledge, FaultClass.linkDegradation, candidates)).toEqual(['raiseProbeRate', 'avoidLink', 'penaliseLink']);
    knowledge.addOutcome(FaultClass.linkDegradation, 'avoidLink', true, 1000);
    expect(knowledge.record(FaultClass.linkDegradation, 'avoidLink')).toEqual({ attempts: 2, successes: 2, meanRecoveryMs: 2000 });
    expect(rankActions(knowledge, FaultClass.linkDegradation, candidates)[0]).toBe('avoidLink');
    expect(successScore({ attempts: 0, successes: 0, meanRecoveryMs: null })).toBe(0.5);
  });

  it('adapts a cause\'s threshold within its bounds', () => {
    const { mapek } = loop();
    const knowledge = new MemoryKnowledge();
    const fast = new MapeK(new FakeActuator(), knowledge, () => undefined, { confirmWindows: 1, clearWindows: 1, verifyMs: 1000 });
    // Many quick successes lower the threshold, never below 0.3.
    for (let i = 0; i < 30; i++) {
      const subject: Subject = { kind: 'node', node: i };
      fast.step(i * 10_000, [finding(subject, 0.95)]);
      fast.step(i * 10_000 + 500, [finding(subject, 0)]);
    }
    expect(fast.threshold(FaultClass.greyHole)).toBeCloseTo(0.3, 10);
    expect(mapek.threshold(FaultClass.greyHole)).toBe(0.5);
  });
});
