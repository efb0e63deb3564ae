import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../../src/node/fl-registry-store.js';
import { isRegistryError, type RegistryErrorCodeValue } from '../../../src/fl/registry/errors.js';
import { encodeEvent } from '../../../src/fl/registry/events.js';
import { registryEntriesMax } from '../../../src/fl/registry/limits.js';
import { ModelRegistry } from '../../../src/fl/registry/registry.js';
import { eventKey, MemoryStore, type RegistryStore } from '../../../src/fl/registry/store.js';
import { createVersion, encodeVersion, type ModelVersion } from '../../../src/fl/registry/version.js';
import { aggregator, chain, draft, parametersFor, stranger, trust } from './fixtures.js';

function refusal(action: () => unknown): { code: RegistryErrorCodeValue; message: string } | undefined {
  try {
    action();
  } catch (error) {
    if (isRegistryError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
}

const versions = chain(4) as [ModelVersion, ModelVersion, ModelVersion, ModelVersion];
const [first, second, third, fourth] = versions;
const directory = (): string => join(mkdtempSync(join(tmpdir(), 'x0t-fl-registry-')), 'models');

function filled(store: RegistryStore, count: number): ModelRegistry {
  const registry = ModelRegistry.open(store, trust);
  versions.slice(0, count).forEach((version, index) => registry.install(version, 1000 + index));
  return registry;
}

describe('the model registry', () => {
  it('installs a chain, answers current, list, get and the event log', () => {
    const registry = ModelRegistry.open(new MemoryStore(), trust);
    expect(registry.current()).toBeNull();
    expect(registry.list()).toEqual([]);
    registry.install(first, 10);
    registry.install(second, 20);
    expect(registry.current()?.id).toBe(second.id);
    expect(registry.get(first.id.slice(0, 8))).toBe(first);
    expect(registry.resolve(second.id)).toBe(second.id);
    expect(registry.list().map((entry) => [entry.round, entry.current, entry.participantCount, entry.strategy, entry.epsilonSpent, entry.delta])).toEqual([
      [0, false, 0, 'initial', null, null],
      [1, true, 3, 'trimmedMean', 0.5, 1e-5],
    ]);
    expect(registry.events()).toEqual([
      { seq: 1, kind: 'install', modelId: first.id, previousId: null, atMs: 10 },
      { seq: 2, kind: 'install', modelId: second.id, previousId: first.id, atMs: 20 },
    ]);
  });

  it('refuses a version that does not verify, and changes nothing', () => {
    const store = new MemoryStore();
    const registry = filled(store, 2);
    expect(refusal(() => registry.install(fourth, 30))?.code).toBe('ERR_FL_VERSION_PARENT');
    expect(refusal(() => registry.install(createVersion(draft(2, second.id), stranger), 30))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
    const parameters = third.parameters.slice();
    parameters[0] = 5;
    expect(refusal(() => registry.install({ ...third, parameters }, 30))?.code).toBe('ERR_FL_VERSION_PARAMETERS');
    expect(refusal(() => registry.install(second, 30))).toMatchObject({ code: 'ERR_FL_REGISTRY_DUPLICATE' });
    expect(store.keys('versions')).toHaveLength(2);
    expect(registry.events()).toHaveLength(2);
  });

  it('rolls back to an earlier version as a new event, keeping every version', () => {
    const store = new MemoryStore();
    const registry = filled(store, 3);
    expect(registry.rollback(first.id.slice(0, 12), 50).id).toBe(first.id);
    expect(registry.current()?.id).toBe(first.id);
    expect(registry.list()).toHaveLength(3);
    expect(registry.events().at(-1)).toEqual({ seq: 4, kind: 'rollback', modelId: first.id, previousId: third.id, atMs: 50 });
    expect(refusal(() => registry.rollback(first.id, 60))?.code).toBe('ERR_FL_REGISTRY_ROLLBACK');
    registry.rollback(third.id, 60);
    const reopened = ModelRegistry.open(store, trust);
    expect(reopened.current()?.id).toBe(third.id);
    expect(reopened.events().map((event) => event.kind)).toEqual(['install', 'install', 'install', 'rollback', 'rollback']);
    expect(reopened.rollback(second.id, 70).id).toBe(second.id);
    const branch = createVersion(draft(2, second.id, { parameters: parametersFor(50) }), aggregator);
    reopened.install(branch, 80);
    const listed = reopened.list();
    expect(listed.map((entry) => entry.round)).toEqual([0, 1, 2, 2]);
    expect(listed.slice(2).map((entry) => entry.id)).toEqual([branch.id, third.id].sort());
    expect(listed.filter((entry) => entry.current).map((entry) => entry.id)).toEqual([branch.id]);
  });

  it('refuses unknown or malformed ids', () => {
    const registry = filled(new MemoryStore(), 2);
    expect(refusal(() => registry.get('0123456789abcdef'))).toMatchObject({ code: 'ERR_FL_REGISTRY_UNKNOWN', message: expect.stringMatching(/0 models in the registry match it/) as unknown });
    expect(refusal(() => registry.rollback('abc', 1))?.message).toMatch(/expected 8 to 64 lower-case hex digits, got "abc"/);
    expect(refusal(() => registry.get(first.id.toUpperCase()))?.code).toBe('ERR_FL_REGISTRY_UNKNOWN');
  });

  it('can be read without trust, but not changed', () => {
    const store = new MemoryStore();
    filled(store, 2);
    const readOnly = ModelRegistry.open(store);
    expect(readOnly.current()?.id).toBe(second.id);
    expect(refusal(() => readOnly.install(third, 1))?.code).toBe('ERR_FL_REGISTRY_NO_TRUST');
    expect(refusal(() => readOnly.rollback(first.id, 1))).toMatchObject({ code: 'ERR_FL_REGISTRY_NO_TRUST', message: expect.stringMatching(/^rollback:/) as unknown });
    expect(refusal(() => ModelRegistry.open(store, []))?.code).toBe('ERR_FL_TRUST');
  });

  it('verifies the whole chain before a rollback: a forged file with consistent hashes is refused', () => {
    const store = new MemoryStore();
    filled(store, 1);
    const forged = createVersion(draft(1, first.id), stranger);
    store.write('versions', forged.id, encodeVersion(forged));
    const registry = ModelRegistry.open(store, trust);
    expect(registry.list()).toHaveLength(2);
    expect(refusal(() => registry.rollback(forged.id, 5))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
    expect(registry.current()?.id).toBe(first.id);
    const untrusting = ModelRegistry.open(store, [stranger.publicKeys]);
    expect(refusal(() => untrusting.install(second, 5))?.code).toBe('ERR_FL_VERSION_SIGNATURE');
  });

  it('finishes an install interrupted between the version file and its event', () => {
    const store = new MemoryStore();
    filled(store, 1);
    store.write('versions', second.id, encodeVersion(second));
    const registry = ModelRegistry.open(store, trust);
    expect(registry.current()?.id).toBe(first.id);
    registry.install(second, 9);
    expect(registry.current()?.id).toBe(second.id);
    expect(ModelRegistry.open(store, trust).events()).toHaveLength(2);
  });

  it('keeps its history in a directory, one file per version and per event', () => {
    const dir = directory();
    filled(new DirectoryStore(dir), 3);
    const reopened = ModelRegistry.open(new DirectoryStore(dir), trust);
    expect(reopened.current()?.id).toBe(third.id);
    expect(reopened.get(second.id).parameters).toEqual(second.parameters);
    reopened.rollback(first.id, 99);
    expect(ModelRegistry.open(new DirectoryStore(dir)).current()?.id).toBe(first.id);
  });
});

describe('opening a damaged registry', () => {
  function damagedDirectory(): { dir: string; store: DirectoryStore } {
    const dir = directory();
    const store = new DirectoryStore(dir);
    filled(store, 3);
    return { dir, store };
  }

  function openError(store: RegistryStore): string {
    const found = refusal(() => ModelRegistry.open(store, trust));
    expect(found?.code).toBe('ERR_FL_REGISTRY_CORRUPT');
    return found!.message;
  }

  it('names a corrupt version file', () => {
    const { dir, store } = damagedDirectory();
    const path = store.locate('versions', second.id);
    writeFileSync(path, 'garbage');
    expect(openError(store)).toContain(`corrupt registry file ${path}: decodeVersion: not a model version`);
    expect(openError(store)).toContain(`its parent ${second.id} is missing`);
    expect(dir).toBeTruthy();
  });

  it('names a version file whose bytes were altered', () => {
    const { store } = damagedDirectory();
    const path = store.locate('versions', third.id);
    const bytes = encodeVersion(third);
    bytes[bytes.indexOf(0x7b) + 30]! ^= 0x01;
    writeFileSync(path, bytes);
    expect(openError(store)).toMatch(new RegExp(`corrupt registry file ${path}: `));
  });

  it('names a file under the wrong name, and a file name that is not an id', () => {
    const { store } = damagedDirectory();
    copyFileSync(store.locate('versions', first.id), store.locate('versions', 'f'.repeat(64)));
    expect(openError(store)).toMatch(/ffff\.x0tm: it holds model/);
    renameSync(store.locate('versions', 'f'.repeat(64)), store.locate('versions', 'nonsense'));
    expect(openError(store)).toMatch(/nonsense.x0tm: the file name is not a model id/);
  });

  it('names a corrupt or inconsistent event file', () => {
    const cases: [(store: DirectoryStore) => void, RegExp][] = [
      [(store) => writeFileSync(store.locate('events', eventKey(2)), '{'), /events\/00000002.json: not UTF-8 JSON/],
      [(store) => renameSync(store.locate('events', eventKey(2)), store.locate('events', eventKey(7))), /00000003.json: expected event 2 \(file 00000002\), found seq 3/],
      [(store) => writeFileSync(store.locate('events', eventKey(4)), encodeEvent({ seq: 4, kind: 'install', modelId: fourth.id, previousId: third.id, atMs: 1 })), /it names model .*, whose version file is missing or damaged/],
      [(store) => writeFileSync(store.locate('events', eventKey(4)), encodeEvent({ seq: 4, kind: 'rollback', modelId: first.id, previousId: second.id, atMs: 1 })), /previousId .* is not the model current before it/],
    ];
    for (const [damage, message] of cases) {
      const { store } = damagedDirectory();
      damage(store);
      expect(openError(store)).toMatch(message);
    }
  });

  it('refuses a store with more entries than it may read', () => {
    const many = Array.from({ length: registryEntriesMax + 1 }, (_, index) => String(index));
    const store = (collection: 'versions' | 'events'): RegistryStore => ({
      keys: (asked) => (asked === collection ? many : []),
      read: () => new Uint8Array(0),
      write: () => undefined,
      locate: (asked, key) => `${asked}/${key}`,
    });
    expect(openError(store('versions'))).toMatch(/100001 versions, more than registryEntriesMax/);
    expect(openError(store('events'))).toMatch(/100001 events, more than registryEntriesMax/);
  });
});
