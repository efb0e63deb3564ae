import { parseArgs } from 'node:util';
import { isProfileName, type ProfileName } from '../mesh/profiles.js';
import { UsageError } from './errors.js';

/** Options shared by the twin commands, parsed and checked. */
export interface TwinOptions {
  readonly positionals: string[];
  readonly seed?: number;
  readonly seeds?: number;
  readonly nodes?: number;
  readonly profile?: ProfileName;
  readonly profiles: ProfileName[];
  readonly json?: string;
  readonly html?: string;
  readonly deterministic: boolean;
  readonly quiet: boolean;
}

const optionSpec = {
  seed: { type: 'string' },
  seeds: { type: 'string' },
  nodes: { type: 'string' },
  profile: { type: 'string' },
  profiles: { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  deterministic: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

/** Parses twin/demo options strictly: an unknown flag or a bad value is a UsageError naming it. */
export function parseTwinOptions(argv: readonly string[]): TwinOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: optionSpec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const profile = values.profile === undefined ? undefined : profileName('--profile', values.profile);
  const profiles = (values.profiles ?? 'fast,rfc8966').split(',').map((name) => profileName('--profiles', name.trim()));
  return {
    positionals,
    ...optional('seed', integer('--seed', values.seed, 0, 0xffff_ffff)),
    ...optional('seeds', integer('--seeds', values.seeds, 1, 64)),
    ...optional('nodes', integer('--nodes', values.nodes, 2, 20_000)),
    ...optional('profile', profile),
    profiles,
    ...optional('json', values.json),
    ...optional('html', values.html),
    deterministic: values.deterministic ?? false,
    quiet: values.quiet ?? false,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function integer(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${flag}: expected an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function profileName(flag: string, text: string): ProfileName {
  if (!isProfileName(text)) throw new UsageError(`${flag}: expected fast or rfc8966, got ${JSON.stringify(text)}`);
  return text;
}
