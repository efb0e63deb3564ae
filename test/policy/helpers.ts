import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPolicyError, type PolicyError } from '../../src/policy/errors.js';
import { defaultPolicyDir, nodeRefFromSpiffeId, PolicyEngine, type NodeRef, type PolicyHooks, type PolicySource } from '../../src/policy/index.js';

/** The shipped policy directory and its files, read once. */
export const shippedDir = defaultPolicyDir();
export const shippedSchema: PolicySource = { source: 'schema.cedarschema', text: readFileSync(join(shippedDir, 'schema.cedarschema'), 'utf8') };
export const shippedDefault: PolicySource = { source: 'default.cedar', text: readFileSync(join(shippedDir, 'default.cedar'), 'utf8') };

/** The shipped example `name` (quarantine.cedar, admin-only.cedar). */
export function shippedExample(name: string): PolicySource {
  return { source: name, text: readFileSync(join(shippedDir, 'examples', name), 'utf8') };
}

/** An engine of the shipped schema and the given policy files. */
export function engineOf(policies: readonly PolicySource[], hooks: PolicyHooks = {}): PolicyEngine {
  return PolicyEngine.load({ ...hooks, schema: shippedSchema, policies });
}

/** Node `hex` (8 hex digits) of trust domain `td`. */
export function node(td: string, hex: string): NodeRef {
  return nodeRefFromSpiffeId(`spiffe://${td}/node/${hex}`);
}

/** Runs `action` and returns the PolicyError it throws; fails when it throws nothing or something else. */
export function policyRefusal(action: () => unknown): PolicyError {
  try {
    action();
  } catch (error) {
    if (isPolicyError(error)) return error;
    throw error;
  }
  throw new Error('expected a PolicyError, nothing was thrown');
}

/** Values pushed by callbacks, taken in order by awaiting next() (bounded by `timeoutMs`). */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  /** Hands `item` to the oldest waiter, or keeps it for the next next(). */
  readonly push = (item: T): void => {
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.items.push(item);
    else waiter(item);
  };

  /** How many items arrived and were not taken yet. */
  get pending(): number {
    return this.items.length;
  }

  /** The next item; rejects when none arrives within `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing arrived within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((arrived) => {
        clearTimeout(timer);
        resolve(arrived);
      });
    });
  }
}

/** An engine factory whose schema is the shipped one with `from` replaced by `to` (which must occur). */
export function shippedSchemaWith(from: string, to: string): (policies: readonly PolicySource[]) => PolicyEngine {
  if (!shippedSchema.text.includes(from)) throw new Error(`the shipped schema no longer holds ${JSON.stringify(from)}`);
  const schema = { source: 'schema.cedarschema', text: shippedSchema.text.replace(from, to) };
  return (policies) => PolicyEngine.load({ schema, policies });
}
