/**
 * Where the checked-in OpenAPI document lives. It is found from this module's location by
 * walking up to the folder holding package.json, which works from src/api under vitest and
 * from dist/src/api after tsc.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The document's path relative to the package root. */
export const openapiRelativePath = join('openapi', 'openapi.json');

/** The first folder at or above `start` that holds package.json; throws when there is none. */
export function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`findPackageRoot: no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

/** Absolute path of openapi/openapi.json in this package. */
export function openapiPath(): string {
  return join(findPackageRoot(dirname(fileURLToPath(import.meta.url))), openapiRelativePath);
}

/** The document's bytes as checked in (served unchanged at GET /openapi.json). */
export function readOpenapiDocument(path = openapiPath()): string {
  return readFileSync(path, 'utf8');
}
