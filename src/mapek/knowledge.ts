import type { FaultClassValue } from '../telemetry/types.js';
import type { ActionKind } from './actions.js';

/**
 * Knowledge: what the loop learnt about which action helps which kind of incident. Each outcome
 * is stored; actions are ranked by their smoothed success rate, then by how fast they
 * recovered. A store keeps it (in memory in the twin, in SQLite in the daemon).
 */

/** The record of one (cause, action) pair. */
export interface ActionRecord {
  readonly attempts: number;
  readonly successes: number;
  /** Mean time from the action's start to the incident clearing, over successes; null before the first. */
  readonly meanRecoveryMs: number | null;
}

/** Where outcomes are kept. */
export interface KnowledgeStore {
  /** What is known about `action` against `cause`. */
  record(cause: FaultClassValue, action: ActionKind): ActionRecord;
  /** Adds one outcome. */
  addOutcome(cause: FaultClassValue, action: ActionKind, succeeded: boolean, recoveryMs: number | null, atMs: number): void;
}

const none: ActionRecord = { attempts: 0, successes: 0, meanRecoveryMs: null };

/** A KnowledgeStore in memory. */
export class MemoryKnowledge implements KnowledgeStore {
  private readonly records = new Map<string, ActionRecord>();

  /** What is known about `action` against `cause`. */
  record(cause: FaultClassValue, action: ActionKind): ActionRecord {
    return this.records.get(`${cause}/${action}`) ?? none;
  }

  /** Adds one outcome (recoveryMs counts only for successes; memory keeps no times). */
  addOutcome(cause: FaultClassValue, action: ActionKind, succeeded: boolean, recoveryMs: number | null): void {
    this.records.set(`${cause}/${action}`, withOutcome(this.record(cause, action), succeeded, recoveryMs));
  }
}

/** `before` with one more outcome: a success's recovery time enters the running mean. */
export function withOutcome(before: ActionRecord, succeeded: boolean, recoveryMs: number | null): ActionRecord {
  const successes = before.successes + (succeeded ? 1 : 0);
  let meanRecoveryMs = before.meanRecoveryMs;
  if (succeeded && recoveryMs !== null) meanRecoveryMs = meanRecoveryMs === null ? recoveryMs : meanRecoveryMs + (recoveryMs - meanRecoveryMs) / successes;
  return { attempts: before.attempts + 1, successes, meanRecoveryMs };
}

/** Laplace-smoothed success rate: (successes + 1) / (attempts + 2), so an untried action scores 0.5. */
export function successScore(record: ActionRecord): number {
  return (record.successes + 1) / (record.attempts + 2);
}

/**
 * `candidates` ordered best first by what `store` knows for `cause`: higher smoothed success
 * rate, then faster mean recovery (unknown last), then the table's own order.
 */
export function rankActions(store: KnowledgeStore, cause: FaultClassValue, candidates: readonly ActionKind[]): ActionKind[] {
  const scored = candidates.map((action, order) => ({ action, order, record: store.record(cause, action) }));
  scored.sort((a, b) => {
    const bySuccess = successScore(b.record) - successScore(a.record);
    if (bySuccess !== 0) return bySuccess;
    const aMs = a.record.meanRecoveryMs ?? Number.POSITIVE_INFINITY;
    const bMs = b.record.meanRecoveryMs ?? Number.POSITIVE_INFINITY;
    if (aMs !== bMs) return aMs < bMs ? -1 : 1;
    return a.order - b.order;
  });
  return scored.map((entry) => entry.action);
}
