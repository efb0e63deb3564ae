import { FaultClass, type FaultClassValue } from '../telemetry/types.js';

/**
 * What the self-healing loop can do, and what it tries for each kind of incident. Every action
 * is carried out through the acting node's own interfaces (the driver's Actuator), never by
 * reporting success it did not see.
 */

/** The actions, in no particular order. */
export const actionKinds = ['raiseProbeRate', 'penaliseLink', 'avoidLink', 'quarantineNode', 'rotateKeys', 'restartTransport', 'switchObfuscation'] as const;
/** One of actionKinds. */
export type ActionKind = (typeof actionKinds)[number];

/** What an incident is about: a node (by twin index or node id, the driver's choice) or a directed link. */
export type Subject = { readonly kind: 'node'; readonly node: number } | { readonly kind: 'link'; readonly from: number; readonly to: number };

/** A stable text key of a subject, for maps and audit records. */
export function subjectKey(subject: Subject): string {
  return subject.kind === 'node' ? `node:${subject.node}` : `link:${subject.from}->${subject.to}`;
}

/**
 * Candidate actions per suspected cause, in the order to try them when Knowledge has nothing to
 * say yet. Node faults of a neighbour (grey and black holes, bogus metrics, an exhausted host)
 * are routed around by taking it out of transit; link faults by making the link dear or
 * avoiding it; censorship of one traffic shape by changing the shape, then the transport.
 */
export const actionTable: Readonly<Record<FaultClassValue, readonly ActionKind[]>> = {
  [FaultClass.healthy]: [],
  [FaultClass.greyHole]: ['quarantineNode', 'avoidLink'],
  [FaultClass.blackHole]: ['quarantineNode', 'avoidLink'],
  [FaultClass.linkDegradation]: ['penaliseLink', 'avoidLink', 'raiseProbeRate'],
  [FaultClass.flapping]: ['penaliseLink', 'avoidLink'],
  [FaultClass.congestion]: ['penaliseLink', 'avoidLink'],
  [FaultClass.cpuExhaustion]: ['quarantineNode', 'penaliseLink'],
  [FaultClass.memoryExhaustion]: ['quarantineNode', 'penaliseLink'],
  [FaultClass.bogusMetrics]: ['quarantineNode', 'avoidLink'],
  [FaultClass.censorship]: ['switchObfuscation', 'restartTransport', 'rotateKeys'],
};

/** Actions that take a link or a node out of use for the acting node: never on its only link (see the loop's safety rules). */
export function removesPath(kind: ActionKind): boolean {
  return kind === 'avoidLink' || kind === 'quarantineNode';
}
