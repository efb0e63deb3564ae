import { faultClassNames, type FaultClassValue } from '../telemetry/types.js';
import { actionTable, removesPath, subjectKey, type ActionKind, type Subject } from './actions.js';
import { rankActions, type KnowledgeStore } from './knowledge.js';
import { CircuitBreaker, RateLimit } from './safety.js';

/**
 * The Monitor-Analyze-Plan-Execute loop over Knowledge, for one acting node (sans-IO: time,
 * findings and the node's interfaces are passed in, so the twin and the daemon drive the same
 * code).
 *
 * Monitor: the driver hands one `step` per telemetry window with the analysers' findings
 * (detector scores and rules) about subjects the node can act on. Analyze: a finding at or
 * above its cause's threshold opens an incident; it is confirmed after `confirmWindows` windows
 * in a row, and clears after `clearWindows` windows below the threshold's lower band
 * (hysteresis, so a score hovering at the threshold does not flap decisions). Plan: a confirmed
 * incident without an action in effect gets the best untried action for its cause, ranked by
 * Knowledge; safety rules may refuse it. Execute: through the Actuator; then verify: if the
 * incident clears within `verifyMs` the action worked (Knowledge learns how fast), otherwise it
 * is rolled back and the next candidate is tried. A working action stays in effect for `holdMs`
 * after the incident clears, then is released (a node that still misbehaves is caught again).
 * Every decision goes to the audit sink with its evidence.
 */

/** What an analyser found about one subject in one window. */
export interface Finding {
  readonly subject: Subject;
  readonly cause: FaultClassValue;
  /** Anomaly score in 0..1. */
  readonly score: number;
  /** The feature values and scores behind it, for the audit record. */
  readonly evidence: Readonly<Record<string, number>>;
}

/** How an action went when the actuator tried it. */
export type ActuatorResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The acting node's own interfaces (its core's inputs, its policy, its transports). */
export interface Actuator {
  /** Whether `subject` is the node's only usable path (its only link, or the neighbour behind it). */
  isOnlyPath(subject: Subject): boolean;
  execute(kind: ActionKind, subject: Subject): ActuatorResult;
  rollback(kind: ActionKind, subject: Subject): void;
}

/** One audited decision. */
export interface AuditEntry {
  readonly atMs: number;
  readonly event:
    | 'incidentOpened'
    | 'incidentConfirmed'
    | 'incidentCleared'
    | 'actionStarted'
    | 'actionRefused'
    | 'actionSuppressed'
    | 'actionSucceeded'
    | 'actionFailed'
    | 'actionReleased';
  readonly subject: string;
  readonly cause: string;
  readonly action: ActionKind | null;
  readonly reason: string;
  readonly evidence: Readonly<Record<string, number>>;
}

/** Tunables of the loop; every field has a default (loopDefaults). */
export interface LoopConfig {
  /** Threshold every cause starts at. */
  readonly threshold: number;
  /** A cause's threshold adapts by this much per outcome, within +-thresholdBound of where it started. */
  readonly thresholdStep: number;
  readonly thresholdBound: number;
  /** A score below threshold x this counts as clear (the hysteresis band). */
  readonly clearBand: number;
  readonly confirmWindows: number;
  readonly clearWindows: number;
  readonly verifyMs: number;
  readonly holdMs: number;
}

/** Defaults: act after two windows in a row, give an action 5 s, keep one that worked 5 minutes. */
export const loopDefaults: LoopConfig = {
  threshold: 0.5,
  thresholdStep: 0.02,
  thresholdBound: 0.2,
  clearBand: 0.8,
  confirmWindows: 2,
  clearWindows: 2,
  verifyMs: 5000,
  holdMs: 300_000,
};

type IncidentState = 'suspected' | 'confirmed' | 'cleared';

/** An incident as the API shows it. */
export interface IncidentView {
  readonly id: number;
  readonly subject: string;
  readonly cause: string;
  readonly state: IncidentState;
  readonly openedAtMs: number;
  readonly score: number;
  readonly action: ActionKind | null;
  readonly tried: readonly ActionKind[];
}

interface ActiveAction {
  readonly kind: ActionKind;
  readonly startedAtMs: number;
  /** Set once the incident cleared while it was in effect. */
  succeededAtMs: number | null;
}

interface Incident {
  readonly id: number;
  readonly subject: Subject;
  readonly key: string;
  cause: FaultClassValue;
  state: IncidentState;
  readonly openedAtMs: number;
  clearedAtMs: number | null;
  score: number;
  evidence: Readonly<Record<string, number>>;
  windowsAbove: number;
  windowsBelow: number;
  active: ActiveAction | null;
  readonly tried: ActionKind[];
  lastSuppression: string | null;
}

/** The loop of one acting node. */
export class MapeK {
  private readonly config: LoopConfig;
  private readonly incidents = new Map<string, Incident>();
  private readonly thresholds = new Map<FaultClassValue, number>();
  private readonly breaker = new CircuitBreaker();
  private readonly rate = new RateLimit();
  private nextId = 1;

  constructor(
    private readonly actuator: Actuator,
    private readonly knowledge: KnowledgeStore,
    private readonly audit: (entry: AuditEntry) => void,
    config: Partial<LoopConfig> = {},
  ) {
    this.config = { ...loopDefaults, ...config };
  }

  /**
   * One pass of the loop for the window that ended at `nowMs`, with that window's findings. A
   * subject without a finding counts as below its threshold, unless it is among `undecided`:
   * the analysers could not judge it this window (a report they needed is missing), so its
   * incident neither moves towards confirmation nor towards clearing.
   */
  step(nowMs: number, findings: readonly Finding[], undecided: readonly Subject[] = []): void {
    const seen = new Set<string>(undecided.map(subjectKey));
    for (const finding of findings) {
      if (!(finding.score >= 0 && finding.score <= 1)) throw new RangeError(`MapeK.step: expected a score in 0..1 for ${subjectKey(finding.subject)}, got ${finding.score}`);
      seen.add(subjectKey(finding.subject));
      this.analyze(nowMs, finding);
    }
    for (const incident of this.incidents.values()) if (!seen.has(incident.key)) this.observeBelow(nowMs, incident);
    for (const incident of [...this.incidents.values()]) this.plan(nowMs, incident);
  }

  /** The current threshold of `cause` (it adapts with outcomes). */
  threshold(cause: FaultClassValue): number {
    return this.thresholds.get(cause) ?? this.config.threshold;
  }

  /** Open incidents and those whose action is still held, oldest first. */
  incidentViews(): IncidentView[] {
    return [...this.incidents.values()].map((incident) => ({
      id: incident.id,
      subject: incident.key,
      cause: faultClassNames[incident.cause]!,
      state: incident.state,
      openedAtMs: incident.openedAtMs,
      score: incident.score,
      action: incident.active?.kind ?? null,
      tried: [...incident.tried],
    }));
  }

  private analyze(nowMs: number, finding: Finding): void {
    const key = subjectKey(finding.subject);
    const incident = this.incidents.get(key);
    if (finding.score < this.threshold(finding.cause)) {
      if (incident !== undefined) this.observeBelow(nowMs, incident, finding.score);
      return;
    }
    if (incident === undefined || incident.state === 'cleared') {
      this.open(nowMs, finding, incident);
      return;
    }
    incident.windowsAbove++;
    incident.windowsBelow = 0;
    incident.score = finding.score;
    incident.evidence = finding.evidence;
    if (incident.active === null) incident.cause = finding.cause;
    if (incident.state === 'suspected' && incident.windowsAbove >= this.config.confirmWindows) {
      incident.state = 'confirmed';
      this.record(nowMs, 'incidentConfirmed', incident, null, `above ${this.threshold(incident.cause).toFixed(2)} for ${incident.windowsAbove} windows`);
    }
  }

  private open(nowMs: number, finding: Finding, held: Incident | undefined): void {
    const incident: Incident = {
      id: this.nextId++,
      subject: finding.subject,
      key: subjectKey(finding.subject),
      cause: finding.cause,
      state: this.config.confirmWindows <= 1 ? 'confirmed' : 'suspected',
      openedAtMs: nowMs,
      clearedAtMs: null,
      score: finding.score,
      evidence: finding.evidence,
      windowsAbove: 1,
      windowsBelow: 0,
      // An action still held from a cleared incident of the same subject carries over.
      active: held?.active ?? null,
      tried: held?.active === null || held === undefined ? [] : [held.active.kind],
      lastSuppression: null,
    };
    if (incident.active !== null) incident.active.succeededAtMs = null;
    this.incidents.set(incident.key, incident);
    this.record(nowMs, 'incidentOpened', incident, null, `score ${finding.score.toFixed(3)} >= ${this.threshold(finding.cause).toFixed(2)}`);
  }

  private observeBelow(nowMs: number, incident: Incident, score = 0): void {
    incident.score = score;
    if (score >= this.threshold(incident.cause) * this.config.clearBand) return;
    incident.windowsAbove = 0;
    incident.windowsBelow++;
    if (incident.state === 'cleared' || incident.windowsBelow < this.config.clearWindows) return;
    incident.state = 'cleared';
    incident.clearedAtMs = nowMs;
    if (incident.active !== null && incident.active.succeededAtMs === null) this.succeed(nowMs, incident, incident.active);
    this.record(nowMs, 'incidentCleared', incident, incident.active?.kind ?? null, `below ${(this.threshold(incident.cause) * this.config.clearBand).toFixed(2)} for ${incident.windowsBelow} windows`);
  }

  private plan(nowMs: number, incident: Incident): void {
    if (incident.state === 'cleared') {
      this.releaseIfDue(nowMs, incident);
      return;
    }
    if (incident.active !== null) this.verify(nowMs, incident, incident.active);
    // An action that failed verification is replaced in the same pass.
    if (incident.active === null && incident.state === 'confirmed') this.act(nowMs, incident);
  }

  private act(nowMs: number, incident: Incident): void {
    const candidates = rankActions(this.knowledge, incident.cause, actionTable[incident.cause]).filter((kind) => !incident.tried.includes(kind));
    const suppressed = this.suppression(nowMs, candidates.length);
    if (suppressed !== null) {
      if (incident.lastSuppression !== suppressed) this.record(nowMs, 'actionSuppressed', incident, null, suppressed);
      incident.lastSuppression = suppressed;
      return;
    }
    for (const kind of candidates) {
      incident.tried.push(kind);
      if (removesPath(kind) && this.actuator.isOnlyPath(incident.subject)) {
        this.record(nowMs, 'actionRefused', incident, kind, 'the only usable path of this node');
        continue;
      }
      if (this.start(nowMs, incident, kind)) return;
    }
  }

  /** Why no action may start now, or null. */
  private suppression(nowMs: number, candidates: number): string | null {
    if (candidates === 0) return 'every action for this cause was tried';
    if (!this.breaker.allows(nowMs)) return 'circuit breaker open after repeated failures';
    if (!this.rate.allows(nowMs)) return 'rate limit: 10 actions per minute';
    return null;
  }

  private start(nowMs: number, incident: Incident, kind: ActionKind): boolean {
    const result = this.actuator.execute(kind, incident.subject);
    if (!result.ok) {
      this.record(nowMs, 'actionRefused', incident, kind, result.reason);
      return false;
    }
    this.breaker.started(nowMs);
    this.rate.started(nowMs);
    incident.active = { kind, startedAtMs: nowMs, succeededAtMs: null };
    incident.lastSuppression = null;
    this.record(nowMs, 'actionStarted', incident, kind, `best of ${actionTable[incident.cause].join(', ')} for ${faultClassNames[incident.cause]}`);
    return true;
  }

  private verify(nowMs: number, incident: Incident, active: ActiveAction): void {
    if (active.succeededAtMs !== null || nowMs < active.startedAtMs + this.config.verifyMs) return;
    this.actuator.rollback(active.kind, incident.subject);
    incident.active = null;
    this.breaker.finished(nowMs, false);
    this.knowledge.addOutcome(incident.cause, active.kind, false, null, nowMs);
    this.adapt(incident.cause, +1);
    this.record(nowMs, 'actionFailed', incident, active.kind, `still anomalous ${this.config.verifyMs} ms after it started; rolled back`);
  }

  private succeed(nowMs: number, incident: Incident, active: ActiveAction): void {
    active.succeededAtMs = nowMs;
    this.breaker.finished(nowMs, true);
    this.knowledge.addOutcome(incident.cause, active.kind, true, nowMs - active.startedAtMs, nowMs);
    this.adapt(incident.cause, -1);
    this.record(nowMs, 'actionSucceeded', incident, active.kind, `cleared ${nowMs - active.startedAtMs} ms after it started`);
  }

  private releaseIfDue(nowMs: number, incident: Incident): void {
    const active = incident.active;
    if (active === null) {
      this.incidents.delete(incident.key);
      return;
    }
    if (nowMs < (incident.clearedAtMs ?? nowMs) + this.config.holdMs) return;
    this.actuator.rollback(active.kind, incident.subject);
    incident.active = null;
    this.incidents.delete(incident.key);
    this.record(nowMs, 'actionReleased', incident, active.kind, `held ${this.config.holdMs} ms after the incident cleared`);
  }

  /** Moves `cause`'s threshold one step up (after a failure: act less readily) or down (after a success), within bounds. */
  private adapt(cause: FaultClassValue, direction: 1 | -1): void {
    const { threshold, thresholdStep, thresholdBound } = this.config;
    const next = this.threshold(cause) + direction * thresholdStep;
    this.thresholds.set(cause, Math.min(threshold + thresholdBound, Math.max(threshold - thresholdBound, next)));
  }

  private record(atMs: number, event: AuditEntry['event'], incident: Incident, action: ActionKind | null, reason: string): void {
    this.audit({ atMs, event, subject: incident.key, cause: faultClassNames[incident.cause]!, action, reason, evidence: incident.evidence });
  }
}
