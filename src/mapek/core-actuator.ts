import type { LinkId } from '../mesh/neighbour.js';
import type { MeshInput } from '../mesh/types.js';
import type { ActionKind, Subject } from './actions.js';
import type { Actuator, ActuatorResult } from './loop.js';

/**
 * Carries out the loop's actions through a node's routing core inputs, the same in the twin
 * (inputs injected into a simulated node) and in the daemon (NodeRuntime.step). Subjects name
 * nodes by their NodeId; a link subject is `from` this node `to` a neighbour.
 *
 *   quarantineNode  transit denied on every link to the node: no route through it, except to it
 *   avoidLink       a penalty of avoidPenalty on the link(s) to the subject: a last resort only
 *   penaliseLink    a penalty of linkPenalty: other paths win unless much longer
 *
 * Actions a core cannot carry out (probe rate, keys, transports, obfuscation) go to the optional
 * handlers the driver gives; without one the action is refused with the reason, never faked.
 * Penalties of several incidents on one link combine as their maximum, and each rollback removes
 * only its own.
 */

/** What the actuator needs of the node. */
export interface CoreHandle {
  /** The node's links now, with the neighbour on each (null when unknown) and whether it is usable. */
  links(): readonly { readonly link: LinkId; readonly peer: number | null; readonly usable: boolean }[];
  /** Hands one input to the node's core. */
  input(input: MeshInput): void;
}

/**
 * Handlers the driver gives for actions outside the routing core, or in place of the core's own
 * (the daemon quarantines through its policy, so that a policy reload or a returning neighbour
 * does not undo it); each returns what happened.
 */
export type ExtraHandlers = Partial<Record<ActionKind, { apply(subject: Subject): ActuatorResult; undo(subject: Subject): void }>>;

/** Extra cost of a penalised link: four perfect hops' worth, so a detour of up to four hops wins. */
export const linkPenalty = 1024;
/** Extra cost of an avoided link: it stays usable, as the last way out. */
export const avoidPenalty = 60_000;

/** An Actuator over a node's core inputs. */
export class CoreActuator implements Actuator {
  /** Penalties in force per link, by the action and subject that put them there. */
  private readonly penalties = new Map<LinkId, Map<string, number>>();

  constructor(
    private readonly node: CoreHandle,
    private readonly extras: ExtraHandlers = {},
  ) {}

  /** Whether the subject's links are all of this node's usable links. */
  isOnlyPath(subject: Subject): boolean {
    const usable = this.node.links().filter((entry) => entry.usable);
    const toSubject = new Set(this.linksTo(subject));
    return usable.length > 0 && usable.every((entry) => toSubject.has(entry.link));
  }

  /** Carries `kind` out against `subject`, or says why not. */
  execute(kind: ActionKind, subject: Subject): ActuatorResult {
    const handler = this.extras[kind];
    if (handler !== undefined) return handler.apply(subject);
    if (kind === 'quarantineNode' || kind === 'avoidLink' || kind === 'penaliseLink') return this.onLinks(kind, subject, true);
    return { ok: false, reason: `${kind} is not available on this node` };
  }

  /** Undoes `kind` against `subject`. */
  rollback(kind: ActionKind, subject: Subject): void {
    const handler = this.extras[kind];
    if (handler !== undefined) handler.undo(subject);
    else if (kind === 'quarantineNode' || kind === 'avoidLink' || kind === 'penaliseLink') this.onLinks(kind, subject, false);
  }

  private onLinks(kind: 'quarantineNode' | 'avoidLink' | 'penaliseLink', subject: Subject, apply: boolean): ActuatorResult {
    const links = this.linksTo(subject);
    if (links.length === 0) return { ok: false, reason: `no link of this node leads to ${describe(subject)}` };
    for (const link of links) {
      if (kind === 'quarantineNode') this.node.input({ kind: 'transit', link, allowed: !apply });
      else this.setPenalty(link, `${kind}/${describe(subject)}`, apply ? (kind === 'avoidLink' ? avoidPenalty : linkPenalty) : null);
    }
    return { ok: true };
  }

  private setPenalty(link: LinkId, owner: string, extraCost: number | null): void {
    const owners = this.penalties.get(link) ?? new Map<string, number>();
    if (extraCost === null) owners.delete(owner);
    else owners.set(owner, extraCost);
    if (owners.size === 0) this.penalties.delete(link);
    else this.penalties.set(link, owners);
    this.node.input({ kind: 'linkPenalty', link, extraCost: Math.max(0, ...owners.values()) });
  }

  /** The links of this node that lead to the subject: those to the node, or the link to the link's far end. */
  private linksTo(subject: Subject): LinkId[] {
    const peer = subject.kind === 'node' ? subject.node : subject.to;
    return this.node
      .links()
      .filter((entry) => entry.peer === peer)
      .map((entry) => entry.link);
  }
}

function describe(subject: Subject): string {
  return subject.kind === 'node' ? `node ${subject.node}` : `link ${subject.from}->${subject.to}`;
}
