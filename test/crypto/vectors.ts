import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The shared vectors folder: ../shared/vectors from the repository root. */
export const vectorsDir = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

/** Reads `relativePath` under ../shared/vectors as JSON; throws a message that names the missing folder. */
export function readVectors<T>(relativePath: string): T {
  const path = join(vectorsDir, relativePath);
  if (!existsSync(path)) throw new Error(`test vectors missing: ${path} (expected ../shared/vectors next to the repository root)`);
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Bytes of a hex string. */
export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** One Wycheproof file: groups of tests with a result of valid, invalid or acceptable. */
export interface WycheproofFile<G, T> {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly (G & { readonly tests: readonly (T & WycheproofTest)[] })[];
}

/** Fields every Wycheproof test has. */
export interface WycheproofTest {
  readonly tcId: number;
  readonly comment?: string;
  readonly flags: readonly string[];
  readonly result: 'valid' | 'invalid' | 'acceptable';
}

/** Every test of a file with its group, checking that the count matches the file's header. */
export function allTests<G, T>(file: WycheproofFile<G, T>): { group: G; test: T & WycheproofTest }[] {
  const tests = file.testGroups.flatMap((group) => group.tests.map((test) => ({ group: group as G, test })));
  if (tests.length !== file.numberOfTests) throw new Error(`${file.algorithm}: expected ${file.numberOfTests} tests, found ${tests.length}`);
  return tests;
}
