import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (the one holding package.json), found from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('packageRoot: no package.json above the CLI module');
    dir = parent;
  }
  return dir;
}

/** A scenario argument as a path: a file path as given, or a bare name from the package's scenarios/ library. */
export function resolveScenario(argument: string): string {
  if (/[/\\]/.test(argument) || /\.ya?ml$/.test(argument)) return resolve(argument);
  return join(packageRoot(), 'scenarios', `${argument}.yaml`);
}
