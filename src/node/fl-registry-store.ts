/**
 * A registry store on disk: one file per version and one per event,
 *
 *   <dir>/versions/<model id>.x0tm
 *   <dir>/events/<8-digit seq>.json
 *
 * each written to a temporary file, flushed, then renamed into place, so a reader (or a node
 * restarting after a crash) sees a whole file or none. Leftover temporary files of an
 * interrupted write are ignored. A file that cannot be read is reported by its path.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryError, RegistryErrorCode } from '../fl/registry/errors.js';
import { eventBytesMax, metadataBytesMax, modelFileBytesMax, versionSignatureBytes } from '../fl/registry/limits.js';
import type { RegistryStore, StoreCollection } from '../fl/registry/store.js';

const extensions: Record<StoreCollection, string> = { versions: '.x0tm', events: '.json' };
const bytesMax: Record<StoreCollection, number> = { versions: 48 + metadataBytesMax + modelFileBytesMax + versionSignatureBytes, events: eventBytesMax };
const temporaryMarker = '.tmp-';

/** A RegistryStore in a directory (see the module comment for the layout). */
export class DirectoryStore implements RegistryStore {
  private temporaryCount = 0;

  /** A store rooted at `dir`; nothing is created until the first write. */
  constructor(readonly dir: string) {}

  /** Keys of the files of `collection` (none when its folder does not exist yet). */
  keys(collection: StoreCollection): string[] {
    const folder = join(this.dir, collection);
    if (!existsSync(folder)) return [];
    const extension = extensions[collection];
    return readdirSync(folder)
      .filter((name) => name.endsWith(extension) && !name.includes(temporaryMarker))
      .map((name) => name.slice(0, -extension.length));
  }

  /** The file's bytes; ERR_FL_REGISTRY_CORRUPT naming the path when it cannot be read or is too large. */
  read(collection: StoreCollection, key: string): Uint8Array {
    const path = this.locate(collection, key);
    try {
      const size = statSync(path).size;
      if (size > bytesMax[collection]) throw new Error(`${size} bytes, more than any ${collection} file (${bytesMax[collection]})`);
      return new Uint8Array(readFileSync(path));
    } catch (error) {
      throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_CORRUPT, `corrupt registry file ${path}: cannot read it (${(error as Error).message})`);
    }
  }

  /** Writes a new file atomically (temporary file, fsync, rename); refuses to replace an existing one. */
  write(collection: StoreCollection, key: string, bytes: Uint8Array): void {
    const path = this.locate(collection, key);
    const temporary = `${path}${temporaryMarker}${process.pid}-${this.temporaryCount++}`;
    try {
      mkdirSync(join(this.dir, collection), { recursive: true });
      // The registry is the only writer of its directory, so checking first is enough to keep history from being overwritten.
      if (existsSync(path)) throw new Error('the file exists already; the store never overwrites');
      writeDurably(temporary, bytes);
      renameSync(temporary, path);
      syncDirectory(join(this.dir, collection));
    } catch (error) {
      if (existsSync(temporary)) unlinkSync(temporary);
      throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_WRITE, `cannot write ${path} (${(error as Error).message})`);
    }
  }

  /** The file path of `key`. */
  locate(collection: StoreCollection, key: string): string {
    return join(this.dir, collection, `${key}${extensions[collection]}`);
  }
}

/** Writes and flushes a new file, so the rename publishes bytes that are on disk. */
function writeDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'wx');
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a directory entry (the rename) to disk. */
function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
