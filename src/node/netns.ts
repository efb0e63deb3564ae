import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Linux network namespaces for tests and benchmarks: namespaces named with a prefix unique to
 * the run (so a run removes only what it created, and two runs can share a machine), veth pairs
 * with /30 addresses, links set up or down, and a silent link failure: an nftables table inside
 * one namespace that drops everything in and out of one veth, so no carrier change or any other
 * link event reaches either end. Every function runs `ip` or `nft` and rejects with their
 * stderr; nothing here keeps state.
 */

/** Longest Linux interface name (IFNAMSIZ - 1). */
export const interfaceNameBytesMax = 15;
/** How long one `ip` or `nft` command may take before it counts as failed. */
export const commandTimeoutMs = 10_000;

/** Runs `argv` and resolves with its stdout; rejects naming the command and its stderr. */
export function run(argv: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { timeout: commandTimeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`${argv.join(' ')}: ${stderr.trim() || error.message}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A prefix for this run's names: `x0t` and six hex digits (short: interface names hold 15 bytes). */
export function runPrefix(): string {
  return `x0t${randomBytes(3).toString('hex')}`;
}

/** `argv` run inside namespace `ns` (null: the namespace of this process). */
export function inNamespace(ns: string | null, argv: readonly string[]): string[] {
  return ns === null ? [...argv] : ['ip', 'netns', 'exec', ns, ...argv];
}

/** Creates namespace `name` with its loopback up. */
export async function addNamespace(name: string): Promise<void> {
  await run(['ip', 'netns', 'add', name]);
  await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

/** Every namespace whose name starts with `prefix`. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const listed = await run(['ip', 'netns', 'list']);
  // Lines read `name` or `name (id: 3)`.
  return listed
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(prefix));
}

/**
 * Deletes every namespace whose name starts with `prefix`, with the veths in them (a veth pair
 * goes away with either end, so management veths in this namespace go too). Runs every delete
 * even when one fails, then rejects with the first failure.
 */
export async function deleteNamespacesWithPrefix(prefix: string): Promise<void> {
  if (!/^[a-z0-9-]{4,}$/.test(prefix)) throw new Error(`deleteNamespacesWithPrefix: expected a run prefix of 4+ characters [a-z0-9-], got ${JSON.stringify(prefix)}`);
  const results = await Promise.allSettled((await namespacesWithPrefix(prefix)).map((name) => run(['ip', 'netns', 'del', name])));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** One end of a veth pair: its namespace (null: this process's), its name and its IPv4 address. */
export interface VethEnd {
  readonly ns: string | null;
  readonly name: string;
  readonly address: string;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || Buffer.byteLength(name) > interfaceNameBytesMax) {
    throw new Error(`veth: expected an interface name of 1..${interfaceNameBytesMax} characters [A-Za-z0-9._-], got ${JSON.stringify(name)}`);
  }
}

function ipIn(ns: string | null): string[] {
  return ns === null ? ['ip'] : ['ip', '-n', ns];
}

/** Creates a veth pair between `a` and `b`, gives each end its address/30 and sets both up. */
export async function addVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  checkName(a.name);
  checkName(b.name);
  // Created inside a's namespace with the peer placed straight into b's: the names never meet in a shared namespace.
  await run([...ipIn(a.ns), 'link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns ?? '1']);
  for (const end of [a, b]) {
    await run([...ipIn(end.ns), 'addr', 'add', `${end.address}/30`, 'dev', end.name]);
    await setLinkUp(end.ns, end.name, true);
  }
}

/** Sets interface `name` in namespace `ns` up or down (a down veth end takes its peer's carrier away). */
export async function setLinkUp(ns: string | null, name: string, up: boolean): Promise<void> {
  await run([...ipIn(ns), 'link', 'set', name, up ? 'up' : 'down']);
}

/** The two host addresses of the /30 number `index` of the 10.`second`.0.0/16 block. */
export function subnet30(second: number, index: number): readonly [string, string] {
  if (!Number.isInteger(second) || second < 0 || second > 255 || !Number.isInteger(index) || index < 0 || index >= 16_384) {
    throw new Error(`subnet30: expected second octet 0..255 and index 0..16383, got ${second} and ${index}`);
  }
  const base = index * 4;
  const third = Math.floor(base / 256);
  return [`10.${second}.${third}.${(base % 256) + 1}`, `10.${second}.${third}.${(base % 256) + 2}`];
}

/**
 * A 10.x.0.0/16 block (x in 200..249) with no address of this process's namespace in it, for the
 * root ends of management veths. Picked at random among the free ones, so two runs at once are
 * unlikely to pick the same block; a clash makes `ip addr add` fail, not traffic go astray.
 */
export async function freeManagementBlock(): Promise<number> {
  const used = new Set([...(await run(['ip', '-4', '-o', 'addr', 'show'])).matchAll(/inet 10\.(\d+)\./g)].map((match) => Number(match[1])));
  const free = Array.from({ length: 50 }, (_, i) => 200 + i).filter((second) => !used.has(second));
  if (free.length === 0) throw new Error('netns: no free 10.x.0.0/16 block (x in 200..249) for management veths');
  return free[randomBytes(1)[0]! % free.length]!;
}

/** The nftables table that silences `name` (one per interface, so several can be silent at once). */
function silenceTable(name: string): string {
  return `x0t_silent_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * Silent failure of interface `name` in namespace `ns`: every IPv4 and IPv6 packet in and out of
 * it is dropped (prerouting covers what arrives for this host or to forward, postrouting what
 * leaves, locally sent or forwarded), while the link stays up at both ends.
 */
export async function silenceInterface(ns: string, name: string): Promise<void> {
  checkName(name);
  const table = silenceTable(name);
  const rules = [
    `table inet ${table} {`,
    `  chain in { type filter hook prerouting priority raw; policy accept; iifname "${name}" drop; }`,
    `  chain out { type filter hook postrouting priority raw; policy accept; oifname "${name}" drop; }`,
    '}',
    '',
  ].join('\n');
  await run(inNamespace(ns, ['nft', '-f', '-']), rules);
}

/** Removes the drop of silenceInterface (nothing to do when none is in place). */
export async function restoreInterface(ns: string, name: string): Promise<void> {
  checkName(name);
  const table = silenceTable(name);
  const tables = await run(inNamespace(ns, ['nft', 'list', 'tables']));
  if (tables.split('\n').some((line) => line.trim() === `table inet ${table}`)) await run(inNamespace(ns, ['nft', 'delete', 'table', 'inet', table]));
}

/** Whether namespaces (and nftables in them) can be used here; when not, why. */
export type NamespaceSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Probes for what the namespace tests need: root, `ip netns add` and `nft` working inside a
 * namespace. Creates and removes one throwaway namespace.
 */
export async function canCreateNamespaces(): Promise<NamespaceSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `network namespaces need root, this process runs as uid ${process.getuid?.()}` };
  const probe = `${runPrefix()}-probe`;
  try {
    await addNamespace(probe);
    await run(inNamespace(probe, ['nft', 'list', 'tables']));
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  } finally {
    await run(['ip', 'netns', 'del', probe]).catch(() => undefined);
  }
}
