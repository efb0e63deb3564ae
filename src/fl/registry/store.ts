/**
 * Where a registry keeps its bytes. A store is a dumb keyed byte store with two collections,
 * versions (keyed by model id) and events (keyed by a zero-padded sequence number); all
 * decoding and checking is the registry's, so every store gets the same strictness. Stores
 * never overwrite or delete: history is append-only.
 */
import { RegistryError, RegistryErrorCode } from './errors.js';

/** The two collections of a store. */
export type StoreCollection = 'versions' | 'events';

/** The storage a ModelRegistry runs on. */
export interface RegistryStore {
  /** Keys present in `collection`, in no particular order. */
  keys(collection: StoreCollection): string[];
  /** The bytes stored under `key`; throws ERR_FL_REGISTRY_CORRUPT naming the location when they cannot be read. */
  read(collection: StoreCollection, key: string): Uint8Array;
  /** Stores `bytes` under a new `key`, all or nothing; ERR_FL_REGISTRY_WRITE when the key exists or the write fails. */
  write(collection: StoreCollection, key: string, bytes: Uint8Array): void;
  /** Where `key` lives, for messages (a file path, or memory:versions/<key>). */
  locate(collection: StoreCollection, key: string): string;
}

/** The key of event number `seq`: 8 digits, so keys sort as numbers. */
export function eventKey(seq: number): string {
  return String(seq).padStart(8, '0');
}

/** A store in memory: for the twin, tests and nodes that keep no files. */
export class MemoryStore implements RegistryStore {
  private readonly collections = { versions: new Map<string, Uint8Array>(), events: new Map<string, Uint8Array>() };

  /** Keys present in `collection`. */
  keys(collection: StoreCollection): string[] {
    return [...this.collections[collection].keys()];
  }

  /** A copy of the bytes under `key`. */
  read(collection: StoreCollection, key: string): Uint8Array {
    const bytes = this.collections[collection].get(key);
    if (bytes === undefined) throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_CORRUPT, `${this.locate(collection, key)}: no such entry`);
    return bytes.slice();
  }

  /** Stores a copy of `bytes` under a new `key`. */
  write(collection: StoreCollection, key: string, bytes: Uint8Array): void {
    const entries = this.collections[collection];
    if (entries.has(key)) throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_WRITE, `${this.locate(collection, key)} exists already; the store never overwrites`);
    entries.set(key, bytes.slice());
  }

  /** memory:<collection>/<key>. */
  locate(collection: StoreCollection, key: string): string {
    return `memory:${collection}/${key}`;
  }
}
