/**
 * The model registry of a node or an aggregator: every version it installed, the event log of
 * which one was current when, and the current one. Opening a registry reads and checks every
 * entry of its store (canonical bytes, hashes, parent links, a gap-free event log) and names
 * each damaged file; installing and rolling back also verify signatures and the parent chain
 * against the trusted aggregator keys. Nothing is ever deleted: a rollback is one more event.
 */
import { strict as assert } from 'node:assert';
import { RegistryError, RegistryErrorCode } from './errors.js';
import { decodeEvent, encodeEvent, type RegistryEvent } from './events.js';
import { registryEntriesMax } from './limits.js';
import { isModelId, modelIdPrefixCharsMin, type ModelId } from './model-id.js';
import { checkTrust, type AggregatorTrust } from './signing.js';
import { eventKey, type RegistryStore } from './store.js';
import { checkHashes, checkParent, verifyIntegrity } from './verify.js';
import { decodeVersion, encodeVersion, type ModelVersion } from './version.js';

/** One row of the registry's history. */
export interface RegistryEntry {
  readonly id: ModelId;
  readonly parentId: ModelId | null;
  readonly round: number;
  readonly participantCount: number;
  readonly strategy: string;
  /** Epsilon spent after this version's round; null when the run has no DP. */
  readonly epsilonSpent: number | null;
  readonly delta: number | null;
  readonly createdAtMs: number;
  readonly current: boolean;
}

/** A registry over a store; see the module comment. */
export class ModelRegistry {
  private readonly versions = new Map<ModelId, ModelVersion>();
  private readonly log: RegistryEvent[] = [];
  /** Ids whose whole chain back to a first model has verified in this process (signatures are the costly part). */
  private readonly verified = new Set<ModelId>();

  private constructor(
    private readonly store: RegistryStore,
    private readonly trust: AggregatorTrust | null,
  ) {}

  /**
   * Opens the registry in `store`, reading and checking every entry; throws ERR_FL_REGISTRY_CORRUPT
   * naming every damaged entry. Without `trust` it can be read but not changed.
   */
  static open(store: RegistryStore, trust?: AggregatorTrust): ModelRegistry {
    const registry = new ModelRegistry(store, trust === undefined ? null : checkTrust(trust));
    const problems = [...registry.loadVersions(), ...registry.loadEvents()];
    if (problems.length > 0) throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_CORRUPT, problems.join('; '));
    return registry;
  }

  private loadVersions(): string[] {
    const problems: string[] = [];
    const keys = this.store.keys('versions');
    if (keys.length > registryEntriesMax) return [`${keys.length} versions, more than registryEntriesMax ${registryEntriesMax}`];
    for (const key of keys.sort()) {
      const location = this.store.locate('versions', key);
      try {
        if (!isModelId(key)) throw new Error('the file name is not a model id');
        const version = decodeVersion(this.store.read('versions', key));
        if (version.id !== key) throw new Error(`it holds model ${version.id}`);
        checkHashes(version);
        this.versions.set(key, version);
      } catch (error) {
        problems.push(corruptMessage(location, error));
      }
    }
    for (const version of this.versions.values()) {
      const parentId = version.metadata.parentId;
      if (parentId !== null && !this.versions.has(parentId)) problems.push(`registry entry ${this.store.locate('versions', version.id)}: its parent ${parentId} is missing`);
    }
    return problems;
  }

  private loadEvents(): string[] {
    const keys = this.store.keys('events').sort();
    if (keys.length > registryEntriesMax) return [`${keys.length} events, more than registryEntriesMax ${registryEntriesMax}`];
    for (const key of keys) {
      const location = this.store.locate('events', key);
      try {
        const event = decodeEvent(this.store.read('events', key), location);
        this.checkEvent(event, key);
        this.log.push(event);
      } catch (error) {
        // A gap in the log makes every later event meaningless: report the first broken one only.
        return [corruptMessage(location, error)];
      }
    }
    return [];
  }

  private checkEvent(event: RegistryEvent, key: string): void {
    const expectedSeq = this.log.length + 1;
    if (key !== eventKey(expectedSeq) || event.seq !== expectedSeq) throw new Error(`expected event ${expectedSeq} (file ${eventKey(expectedSeq)}), found seq ${event.seq}`);
    if (!this.versions.has(event.modelId)) throw new Error(`it names model ${event.modelId}, whose version file is missing or damaged`);
    const previous = this.log.at(-1)?.modelId ?? null;
    if (event.previousId !== previous) throw new Error(`previousId ${event.previousId} is not the model current before it (${previous})`);
  }

  /** The current model, or null when nothing was installed. */
  current(): ModelVersion | null {
    const last = this.log.at(-1);
    return last === undefined ? null : this.versions.get(last.modelId)!;
  }

  /** Every change of the current model, oldest first. */
  events(): readonly RegistryEvent[] {
    return this.log;
  }

  /** Every version, by round, then creation time, then id. */
  list(): RegistryEntry[] {
    const currentId = this.current()?.id;
    return [...this.versions.values()]
      .sort((a, b) => a.metadata.round - b.metadata.round || a.metadata.createdAtMs - b.metadata.createdAtMs || (a.id < b.id ? -1 : 1))
      .map((version) => entryOf(version, version.id === currentId));
  }

  /** The version whose id is `idOrPrefix` or starts with it (at least 8 hex digits); ERR_FL_REGISTRY_UNKNOWN otherwise. */
  get(idOrPrefix: string): ModelVersion {
    return this.versions.get(this.resolve(idOrPrefix))!;
  }

  /** The full id of the one version `idOrPrefix` names. */
  resolve(idOrPrefix: string): ModelId {
    if (!new RegExp(`^[0-9a-f]{${modelIdPrefixCharsMin},64}$`).test(idOrPrefix)) {
      throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_UNKNOWN, `model id: expected ${modelIdPrefixCharsMin} to 64 lower-case hex digits, got ${JSON.stringify(idOrPrefix)}`);
    }
    const matches = [...this.versions.keys()].filter((id) => id.startsWith(idOrPrefix));
    if (matches.length !== 1) {
      throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_UNKNOWN, `model id ${idOrPrefix}: ${matches.length} models in the registry match it, expected exactly 1`);
    }
    return matches[0]!;
  }

  /**
   * Verifies `version` (hashes, signature, parent = the current model, round, architecture,
   * privacy) and makes it current; refusals carry the ERR_FL_VERSION_* code of the failed check.
   */
  install(version: ModelVersion, nowMs: number): ModelVersion {
    const trust = this.requireTrust('install');
    if (this.log.some((event) => event.modelId === version.id)) {
      throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_DUPLICATE, `model ${version.id}: already installed (rollback makes an earlier model current)`);
    }
    const parent = this.current();
    if (parent !== null) this.verifyChain(parent, trust);
    verifyIntegrity(version, trust);
    checkParent(version, parent);
    // A version file without an install event is left by a crash between the two writes: it has been checked again above, so only the event is missing.
    if (!this.versions.has(version.id)) this.store.write('versions', version.id, encodeVersion(version));
    this.versions.set(version.id, version);
    this.verified.add(version.id);
    this.append('install', version.id, nowMs);
    return version;
  }

  /** Makes the earlier version `idOrPrefix` current again after verifying its whole chain; records the rollback as an event. */
  rollback(idOrPrefix: string, nowMs: number): ModelVersion {
    const trust = this.requireTrust('rollback');
    const target = this.get(idOrPrefix);
    if (target.id === this.current()?.id) throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_ROLLBACK, `model ${target.id}: it is the current model already`);
    this.verifyChain(target, trust);
    this.append('rollback', target.id, nowMs);
    return target;
  }

  /** Verifies `version` and its ancestors back to a first model, from the oldest down, skipping what verified before. */
  private verifyChain(version: ModelVersion, trust: AggregatorTrust): void {
    const chain: ModelVersion[] = [];
    for (let at: ModelVersion | undefined = version; at !== undefined && !this.verified.has(at.id); ) {
      chain.push(at);
      at = at.metadata.parentId === null ? undefined : this.versions.get(at.metadata.parentId);
    }
    for (const link of chain.reverse()) {
      verifyIntegrity(link, trust);
      checkParent(link, link.metadata.parentId === null ? null : this.versions.get(link.metadata.parentId)!);
      this.verified.add(link.id);
    }
  }

  private requireTrust(what: string): AggregatorTrust {
    if (this.trust === null) throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_NO_TRUST, `${what}: the registry was opened without trusted aggregator keys`);
    return this.trust;
  }

  private append(kind: RegistryEvent['kind'], modelId: ModelId, nowMs: number): void {
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, `ModelRegistry: nowMs must be an integer >= 0, got ${nowMs}`);
    const event: RegistryEvent = { seq: this.log.length + 1, kind, modelId, previousId: this.current()?.id ?? null, atMs: nowMs };
    this.store.write('events', eventKey(event.seq), encodeEvent(event));
    this.log.push(event);
  }
}

function corruptMessage(location: string, error: unknown): string {
  const message = (error as Error).message;
  return message.startsWith('corrupt registry') ? message : `corrupt registry file ${location}: ${message}`;
}

function entryOf(version: ModelVersion, current: boolean): RegistryEntry {
  const { metadata } = version;
  return {
    id: version.id,
    parentId: metadata.parentId,
    round: metadata.round,
    participantCount: metadata.participants.length,
    strategy: metadata.strategy.name,
    epsilonSpent: metadata.privacy?.epsilonSpent ?? null,
    delta: metadata.privacy?.delta ?? null,
    createdAtMs: metadata.createdAtMs,
    current,
  };
}
